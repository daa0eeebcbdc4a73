"""docs/output.md lists every key the suite writes: produced files are checked against it."""

import json
import os
import re

import pytest

from adv_landscape.cli import main

DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs",
                   "output.md")

# Values whose keys are data (class names, tolerance descriptions, a claim's
# own statistic) rather than fields: described in the doc as a whole.
OPAQUE = {"class_counts", "tolerances", "statistic", "per_group", "per_step_rule", "per_loss",
          "loss_verdicts", "by_init", "where_interior_maxima", "constants", "sampled", "grid",
          "point", "versions", "endpoints_detail", "exponents", "axes", "power",
          "heldout_errors"}


def documented(section: str) -> set:
  """Every `backticked` word in the doc's section whose heading starts with ``section``."""
  with open(DOC) as f:
    text = f.read()
  parts = re.split(r"^## ", text, flags=re.M)
  body = next(p for p in parts if p.startswith(section))
  return set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", body))


def keys(obj, depth=3) -> set:
  """Keys of obj, of its dict values and of the dicts in its lists, to ``depth`` levels."""
  out = set()
  if depth == 0:
    return out
  if isinstance(obj, dict):
    for k, v in obj.items():
      out.add(k)
      if k not in OPAQUE:
        out |= keys(v, depth - 1)
  elif isinstance(obj, list):
    for v in obj[:3]:
      out |= keys(v, depth)
  return out


def test_the_check_can_fail():
  """An undocumented key is caught (the check is not vacuous)."""
  assert "surprise_field" not in documented("census JSON")
  assert "surprise_field" in keys({"summary": {"surprise_field": 1}})


def test_census_json_fields_are_documented(tmp_path, capsys):
  doc = documented("census JSON")
  base = ["census", "--d", "5", "--m", "12", "--scale", "2", "--inits", "24", "--chunk", "8",
          "--x64", "--no-progress"]
  for extra, name in ((["--save-endpoints", "--bound"], "a.json"), (["--stream"], "b.json"),
                      (["--norm", "inf", "--step-rule", "grad0"], "c.json")):
    assert main(base + extra + ["--json", str(tmp_path / name)]) == 0
    res = json.loads((tmp_path / name).read_text())
    missing = keys(res) - doc
    assert not missing, f"{name}: undocumented keys {sorted(missing)}"
    assert res["summary"]["seconds_pga"] is not None  # streamed runs time PGA too
  capsys.readouterr()


def test_hunt_json_fields_are_documented(tmp_path, capsys):
  assert main(["hunt", "--d", "5", "--m", "12", "--inits", "8", "--prove", "--prove-budget",
               "500", "--json", str(tmp_path / "h.json")]) == 0
  missing = keys(json.loads((tmp_path / "h.json").read_text())) - documented("hunt JSON")
  assert not missing, sorted(missing)
  capsys.readouterr()


def test_user_network_census_fields_are_documented(tmp_path, capsys):
  import numpy as np

  rng = np.random.default_rng(0)
  np.savez(tmp_path / "net.npz", W=rng.standard_normal((6, 4)), a=np.ones(6) / 6,
           c=np.array(0.25), activation=np.array("tanh"))
  np.save(tmp_path / "x.npy", rng.standard_normal(4))
  assert main(["census", "--weights", str(tmp_path / "net.npz"), "--x", str(tmp_path / "x.npy"),
               "--y", "1", "--inits", "8", "--no-progress", "--json", str(tmp_path / "c.json")]) == 0
  res = json.loads((tmp_path / "c.json").read_text())
  assert res["config"]["output_bias"] == 0.25
  assert not keys(res) - documented("census JSON")
  capsys.readouterr()


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
  from adv_landscape import verify
  from adv_landscape.sweep import GridPoint

  folder = tmp_path_factory.mktemp("verify")
  tiny = [(GridPoint(d=3, m=8, s=s, n_restarts=4, max_steps=400, rtol_g=1e-3, hunt=True), "C")
          for s in (0.5, 2.0)]
  original = verify.grid
  verify.grid = lambda quick, seeds=None: tiny
  try:
    verify.run_verify(str(folder), quick=True, progress=False)
  finally:
    verify.grid = original
  return folder


def test_report_and_sweep_fields_are_documented(tiny_report):
  report = json.loads((tiny_report / "report.json").read_text())
  missing = keys(report) - documented("verify: report.json")
  assert not missing, sorted(missing)
  with open(tiny_report / "sweep.jsonl") as f:
    record = json.loads(f.readline())
  missing = keys(record, depth=2) - documented("verify: sweep.jsonl")
  assert not missing, sorted(missing)
  for k in record["point"]:
    assert k in documented("verify: sweep.jsonl"), k
