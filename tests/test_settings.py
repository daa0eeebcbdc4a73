"""verify on the l_inf ball and on deep networks: the grid mapping, resumption, the report."""

import dataclasses
import json

import numpy as np
import pytest

from adv_landscape import sweep, verify
from adv_landscape.sweep import GridPoint


def test_for_setting_maps_starts_steps_and_depth():
  p = GridPoint(d=4, m=8, s=1.0, init="sphere", step_rule="normalized")
  q = verify.for_setting(p, "inf", 3)
  assert (q.norm, q.init, q.step_rule, q.depth) == ("inf", "vertex", "sign", 3)
  r = verify.for_setting(dataclasses.replace(p, step_rule="lipschitz", init="ball"), "2", 2)
  assert (r.init, r.step_rule, r.depth) == ("ball", "curvature", 2)
  planted = GridPoint(d=4, m=8, s=1.0, family="concave")
  assert verify.for_setting(planted, "2", 3).depth == 1  # controls stay two-layer
  assert verify.for_setting(p) == p
  d_concave = GridPoint(d=4, m=8, s=0.5, gamma=1.5, family="concave", loss="logistic",
                        init="ball", step_rule="grad0")
  assert verify.for_setting(d_concave, "inf", 1, "control:D-concave").norm == "2"
  assert verify.for_setting(d_concave, "inf", 1, "control:A-concave").norm == "inf"
  proved = dataclasses.replace(p, prove=100)  # the proof covers two-layer nets on the ball
  assert verify.for_setting(proved, "inf").prove == 0
  assert verify.for_setting(proved, "2", 3).prove == 0
  assert verify.for_setting(proved).prove == 100


def test_records_written_before_norm_and_depth_existed_are_reused(tmp_path, monkeypatch):
  """The resume key of a paper-setting point is what it was before the fields norm, depth
  ell_scale, bump_width, prove, global_max and stop existed."""
  p = GridPoint(d=3, m=4, s=1.0, n_restarts=2)
  old_fields = {k: v for k, v in dataclasses.asdict(p).items()
                if k not in ("norm", "depth", "ell_scale", "bump_width", "prove", "global_max",
                             "stop")}
  path = tmp_path / "sweep.jsonl"
  path.write_text(json.dumps({"key": json.dumps(old_fields, sort_keys=True), "seconds": 1.0})
                  + "\n")

  def forbidden(point):
    raise AssertionError("an old record was not recognised")

  monkeypatch.setattr(sweep, "run_point", forbidden)
  assert sweep.run_sweep([p], path, progress=False)[0]["seconds"] == 1.0
  with pytest.raises(AssertionError):  # a point on the box is another point
    sweep.run_sweep([dataclasses.replace(p, norm="inf", init="vertex")], path, progress=False)
  with pytest.raises(AssertionError):  # and so is one with a planted unsound ell
    sweep.run_sweep([dataclasses.replace(p, ell_scale=1 / 3)], path, progress=False)
  with pytest.raises(AssertionError):  # and so is one whose instance is also proved
    sweep.run_sweep([dataclasses.replace(p, prove=100)], path, progress=False)
  with pytest.raises(AssertionError):  # and one with its global maximum certified
    sweep.run_sweep([dataclasses.replace(p, global_max=True)], path, progress=False)


@pytest.mark.slow  # (22-36 s: the suite stays under 10 minutes; -m slow runs it)
def test_tiny_verify_on_the_box_and_on_a_deep_network(tmp_path, monkeypatch):
  tiny = [(GridPoint(d=4, m=8, s=s, n_restarts=8, max_steps=600, rtol_g=1e-3, step_rule=r,
                     step=st, hunt=r == "lipschitz"), "C")
          for s in (0.5, 2.0) for r, st in (("lipschitz", 1.0), ("normalized", 0.05))]
  monkeypatch.setattr(verify, "grid", lambda quick, seeds=None: tiny)
  box = verify.run_verify(str(tmp_path / "inf"), quick=True, progress=False, norm="inf")
  deep = verify.run_verify(str(tmp_path / "deep"), quick=True, progress=False, depth=2)
  assert box["config"]["norm"] == "inf" and deep["config"]["depth"] == 2
  with open(tmp_path / "inf" / "sweep.jsonl") as f:
    recs = [json.loads(ln) for ln in f]
  assert {r["point"]["step_rule"] for r in recs} == {"lipschitz", "sign"}
  assert all(r["point"]["init"] == "vertex" for r in recs)
  with open(tmp_path / "deep" / "sweep.jsonl") as f:
    recs = [json.loads(ln) for ln in f]
  assert {r["point"]["step_rule"] for r in recs} == {"curvature", "normalized"}
  # no rigorous bounds for a deep network: T1 and the rigorous ell are null, never guessed
  assert all(r["constants"]["ell"] is None and r["theorem_applies"] is False for r in recs)
  assert all(v is None for r in recs for v in r["t1"])
  assert all(np.isfinite(r["sampled"]["ell"]) for r in recs)
  md = (tmp_path / "deep" / "report.md").read_text()
  assert "2 hidden layers" in md and "T1 is not available" in md


def test_box_b_linear_runs_on_the_separable_network():
  p = GridPoint(d=4, m=32, s=1.0, step_rule="curvature", init="sphere")
  q = verify.for_setting(p, "inf", 1, "control:B-linear")
  assert (q.family, q.m, q.norm, q.init) == ("separable", 4, "inf", "vertex")
  assert verify.for_setting(p, "2", 1, "control:B-linear").family == "paper"
  assert verify.for_setting(p, "inf", 1, "control:B-halving").family == "paper"


@pytest.mark.slow  # three compiled sweeps, 28 s
def test_the_separable_network_s_box_count_is_proportional_to_the_inverse_step():
  """On the box, B-linear's planted count: the separable network's PGA is d identical
  one-dimensional ascents, so with eta = c / ell_est, c = d_0 / d, every restart's count is
  (d / d_0) times the count at d_0 (to the discrete ascent's O(c) relative error), the
  growth rule names it polynomial, and every endpoint is the certified vertex maximum.
  (On the paper's network the box's counts are too erratic for the rule's power; this
  family checks the rule's code on a near-exact d^1.)"""
  p = GridPoint(d=4, m=32, s=1.0, step_rule="curvature", step=1.0, rtol_g=1e-4,
                n_restarts=8, max_steps=4000, init="sphere")
  q = verify.for_setting(p, "inf", 1, "control:B-linear")
  counts = {}
  for d in (4, 8, 16):
    r = sweep.run_point(dataclasses.replace(q, d=d, m=d, step=4 / d))
    assert r["certified_fraction"] == 1.0
    its = np.asarray(r["iterations"])
    counts[d] = int(np.max(its))
    assert np.all((its == counts[d]) | (its == 0))  # 0: a start already at the maximum
  for d in (8, 16):  # within the O(c) relative error of the discrete ascent (5% at d_0)
    assert abs(counts[d] / (2 * counts[d // 2]) - 1) <= 0.1, counts
  from adv_landscape.stats import growth_test
  assert growth_test([4, 8, 16], [counts[d] for d in (4, 8, 16)]).verdict == "polynomial"


def test_claim_g_points_stay_two_layer_on_the_ball_in_every_setting():
  g = [(p, s) for p, s in verify.grid(quick=True) if s in verify.SETTING_FREE_STUDIES]
  assert {s for _, s in g} == {"G", "control:G-tiny-basin"}
  for p, s in g:
    assert verify.for_setting(p, "inf", 3, s) == p
