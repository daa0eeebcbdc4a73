"""Every experiment script runs end to end in smoke mode and writes real figures."""

import json
import os

import matplotlib.image as mpimg
import numpy as np

from adv_landscape.cli import main
from experiments import rq1_local_max, rq2_input_scale, rq3_landscape


def check_figure(path):
  assert os.path.getsize(path) > 5000
  if path.endswith(".png"):
    img = mpimg.imread(path)
    assert img.shape[0] >= 400 and img.shape[1] >= 600  # 150 dpi, at least 4 x 2.7 inches
    assert float(np.std(img[..., :3])) > 0.01  # something is drawn


FIGURES = {"rq1": ["rq1_value_vs_iteration", "rq1_lambda_hist", "rq1_certified"],
           "rq2": ["rq2_adv_loss", "rq2_robust_acc"],
           "rq3": ["rq3_slices", "rq3_great_circles"]}


def test_reproduce_runs_every_experiment_in_smoke_mode(tmp_path, capsys):
  """adv-landscape reproduce drives the three scripts (each script's main())."""
  assert main(["reproduce", "--smoke", "--out", str(tmp_path), "--no-progress",
               "--json", str(tmp_path / "run.json")]) == 0
  made = json.loads((tmp_path / "run.json").read_text())["figures"]
  want = sorted(f"{n}.{e}" for names in FIGURES.values() for n in names for e in ("png", "pdf"))
  assert sorted(os.path.basename(p) for p in made) == want
  for p in made:
    check_figure(p)
  for rq in FIGURES:
    summary = json.loads((tmp_path / f"{rq}_summary.json").read_text())
    assert summary["summary"] and summary["config"]["smoke"] is True
  out = capsys.readouterr().out
  assert "RQ1" in out and "RQ2" in out and "RQ3" in out


def test_scripts_have_a_main_with_argparse():
  for module in (rq1_local_max, rq2_input_scale, rq3_landscape):
    assert callable(module.main) and "Command:" in module.__doc__ and "Run time" in module.__doc__


def test_reproduce_refuses_unknown_data(capsys):
  assert main(["reproduce", "--data", "mnist-that-is-not-here"]) == 2
  err = capsys.readouterr().err
  assert "data='mnist-that-is-not-here'" in err and len(err.strip().splitlines()) == 1


def test_reproduce_refuses_synthetic(capsys):
  assert main(["reproduce", "--data", "synthetic"]) == 2
  assert "reproduce needs a real data set" in capsys.readouterr().err


def test_quick_reproduce_writes_to_its_own_folder(monkeypatch, capsys):
  """--quick (and --smoke) without --out never write into figures/, the full run's folder."""
  import importlib

  from adv_landscape import cli

  seen = []

  class Script:
    @staticmethod
    def main(flags):
      seen.append(flags[flags.index("--out") + 1])
      return []

  real = importlib.import_module
  monkeypatch.setattr(importlib, "import_module",
                      lambda name, *a: Script if name.startswith("experiments.") else real(name, *a))
  for flags, folder in ((["--quick"], "figures-quick"), (["--smoke"], "figures-quick"),
                        ([], "figures"), (["--norm", "inf"], "figures-inf"),
                        (["--quick", "--norm", "inf"], "figures-quick-inf")):
    seen.clear()
    assert main(["reproduce", "--no-progress"] + flags) == 0
    assert {os.path.basename(p) for p in seen} == {folder}, (flags, seen)
    assert os.path.dirname(seen[0]) == os.path.dirname(cli._experiments_dir())
  capsys.readouterr()
