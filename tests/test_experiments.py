"""Every experiment script runs end to end in smoke mode and writes real figures."""

import json
import os

import matplotlib.image as mpimg
import numpy as np
import pytest

from adv_landscape.cli import main
from experiments import rq1_local_max, rq2_input_scale, rq3_landscape


def check_figure(path):
  assert os.path.getsize(path) > 5000
  if path.endswith(".png"):
    img = mpimg.imread(path)
    assert img.shape[0] >= 400 and img.shape[1] >= 600  # 150 dpi, at least 4 x 2.7 inches
    assert float(np.std(img[..., :3])) > 0.01  # something is drawn


@pytest.mark.parametrize("module, names", [
    (rq1_local_max, ["rq1_value_vs_iteration", "rq1_lambda_hist", "rq1_certified"]),
    (rq2_input_scale, ["rq2_adv_loss", "rq2_robust_acc"]),
    (rq3_landscape, ["rq3_slices", "rq3_great_circles"]),
])
def test_experiment_smoke(tmp_path, module, names):
  paths = module.main(["--smoke", "--out", str(tmp_path), "--no-progress"])
  assert sorted(os.path.basename(p) for p in paths) == sorted(
      f"{n}.{e}" for n in names for e in ("png", "pdf"))
  for p in paths:
    check_figure(p)
  summaries = [f for f in os.listdir(tmp_path) if f.endswith("_summary.json")]
  assert len(summaries) == 1
  assert "summary" in json.loads((tmp_path / summaries[0]).read_text())


def test_reproduce_refuses_unknown_data(capsys):
  assert main(["reproduce", "--data", "mnist-that-is-not-here"]) == 2
  err = capsys.readouterr().err
  assert "data='mnist-that-is-not-here'" in err and len(err.strip().splitlines()) == 1


def test_reproduce_refuses_synthetic(capsys):
  assert main(["reproduce", "--data", "synthetic"]) == 2
  assert "reproduce needs a real data set" in capsys.readouterr().err
