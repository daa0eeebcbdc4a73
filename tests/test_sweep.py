"""Sweeps resume after a kill with identical records; sharding changes nothing;
verify --quick runs end to end on a tiny grid."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from adv_landscape import sweep, verify
from adv_landscape.sweep import GridPoint, run_sweep

POINTS = [GridPoint(d=4, m=8, s=s, n_restarts=8, max_steps=500, rtol_g=1e-3,
                    hunt=s == 1.0) for s in (0.5, 1.0, 2.0)]


class Killed(Exception):
  pass


def _strip(records):
  return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


def test_killed_sweep_resumes_without_recomputing(tmp_path):
  path = tmp_path / "sweep.jsonl"
  full = run_sweep(POINTS, tmp_path / "full.jsonl", progress=False)

  def kill_after_two(i):
    if i == 2:
      raise Killed

  with pytest.raises(Killed):
    run_sweep(POINTS, path, progress=False, after_point=kill_after_two)
  assert len(path.read_text().splitlines()) == 2
  with open(path, "a") as f:  # a write cut short by the kill
    f.write('{"key": "half a rec')
  ran = []
  resumed = run_sweep(POINTS, path, progress=False, after_point=ran.append)
  assert ran == [1]  # only the unfinished point ran
  assert _strip(resumed) == _strip(full)


def test_a_gzipped_partial_sweep_seeds_a_missing_file_and_resumes(tmp_path, capsys):
  """How a long grid's partial records travel in git: sweep.jsonl.gz beside a missing
  sweep.jsonl is unpacked and resumed (only the missing point runs); a corrupt .gz is one
  clear error naming it."""
  import gzip

  from adv_landscape.errors import InvalidInput

  path = tmp_path / "sweep.jsonl"
  full = run_sweep(POINTS, tmp_path / "full.jsonl", progress=False)
  lines = (tmp_path / "full.jsonl").read_text().splitlines(keepends=True)
  with gzip.open(str(path) + ".gz", "wt") as f:
    f.writelines(lines[:2])
  ran = []
  resumed = run_sweep(POINTS, path, progress=False, after_point=ran.append)
  assert ran == [1] and _strip(resumed) == _strip(full)
  assert "unpacked" in capsys.readouterr().err
  other = tmp_path / "other.jsonl"
  (tmp_path / "other.jsonl.gz").write_bytes(b"not gzip")
  with pytest.raises(InvalidInput, match="other.jsonl.gz"):
    run_sweep(POINTS, other, progress=False)


def test_sharded_results_equal_unsharded():
  code = textwrap.dedent("""
      import os
      os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
      import jax, json
      jax.config.update("jax_enable_x64", True)
      from tests.helpers import raw_pga, small_instance
      assert jax.device_count() == 4
      net, x, y, eps = small_instance("tanh", "quadratic", scale=2.0)
      kw = dict(key=jax.random.key(3), eps=eps, n_restarts=10, chunk=6, max_steps=3000,
                progress=False)
      a = raw_pga(net, "quadratic", x, y, shard=True, **kw)
      b = raw_pga(net, "quadratic", x, y, shard=False, **kw)
      print(json.dumps({"it_a": a.iterations.tolist(), "it_b": b.iterations.tolist(),
                        "diff": float(abs(a.deltas - b.deltas).max())}))
  """)
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
                       check=True, env={**os.environ, "PYTHONPATH": root})
  res = json.loads(out.stdout.strip().splitlines()[-1])
  assert res["it_a"] == res["it_b"]
  assert res["diff"] <= 1e-12  # rows are independent; only GEMM blocking may differ


def test_verify_end_to_end_on_a_tiny_grid(tmp_path, monkeypatch):
  tiny = [(GridPoint(d=d, m=8, s=1.0, n_restarts=8, max_steps=800, rtol_g=1e-3), "B-d")
          for d in (3, 6)]
  tiny += [(GridPoint(d=3, m=8, s=1.0, n_restarts=8, max_steps=800, rtol_g=t), "B-tol")
           for t in (1e-2, 1e-4)]
  tiny += [(GridPoint(d=3, m=8, s=s, n_restarts=8, max_steps=800, rtol_g=1e-3, step_rule=r,
                      step=st, hunt=r == "lipschitz"), "C")
           for s in (0.5, 2.0) for r, st in (("lipschitz", 1.0), ("grad0", 0.05))]
  tiny += [(GridPoint(d=3, m=8, s=s, n_restarts=8, max_steps=800, rtol_g=1e-3, loss="logistic",
                      step_rule="grad0", step=0.05), "D") for s in (0.5, 2.0)]
  monkeypatch.setattr(verify, "grid", lambda quick, seeds=None: tiny)
  report = verify.run_verify(str(tmp_path), quick=True, progress=False)
  saved = json.loads((tmp_path / "report.json").read_text())
  assert [c["claim"] for c in saved["claims"]] == ["A", "B", "C", "D", "G"]
  # Two scales only: Page's L needs three treatments, so C cannot be decided; no point
  # certifies a global maximum, so G is not tested.
  assert saved["claims"][2]["verdict"] == "untested"
  assert saved["claims"][4]["verdict"] == "untested"
  assert all(c["verdict"] in ("holds", "fails", "mixed") for c in saved["claims"][:2])
  # The tiny grid has no control points: the report must not claim they were detected.
  assert saved["controls_detected"] is False
  assert all(c["verdict"] == "not run" for c in saved["controls"])
  assert isinstance(saved["t1_violations"], int) and saved["t1_violations"] == 0
  for c in saved["claims"]:
    assert {"claim", "grid", "statistic", "threshold", "verdict", "ci", "seconds",
            "details", "would_fail"} <= set(c)
  md = (tmp_path / "report.md").read_text()
  assert "| A |" in md and "| D |" in md and "Would have failed on" in md
  assert md.count("CONTROL NOT DETECTED") == 1 and "## Controls" in md
  for f in report["figures"]:
    assert (tmp_path / f).stat().st_size > 1000
  b = saved["claims"][1]["statistic"]
  assert np.isfinite(b["exponents"]["d"]["slope"])


def test_verify_says_when_it_reuses_recorded_points(tmp_path, monkeypatch, capsys):
  tiny = [(GridPoint(d=3, m=8, s=s, n_restarts=4, max_steps=400, rtol_g=1e-3), "C")
          for s in (0.5, 2.0)]
  monkeypatch.setattr(verify, "grid", lambda quick, seeds=None: tiny[:1])
  first = verify.run_verify(str(tmp_path), quick=True, progress=False)
  assert "resuming" not in capsys.readouterr().err and first["points_reused"] == 0
  monkeypatch.setattr(verify, "grid", lambda quick, seeds=None: tiny)
  second = verify.run_verify(str(tmp_path), quick=True, progress=False)  # still says so
  assert "1 of 2 grid points are already recorded" in capsys.readouterr().err
  # The header's times: the reused point's own computing time, and this run's wall time.
  records = [json.loads(ln) for ln in (tmp_path / "sweep.jsonl").read_text().splitlines()]
  assert second["points_reused"] == 1
  assert second["seconds_reused"] == records[0]["seconds"]
  assert second["seconds_computed"] == records[0]["seconds"] + records[1]["seconds"]
  header = (tmp_path / "report.md").read_text().splitlines()[2]
  assert (f"1 of 2 points, {records[0]['seconds']:.0f} s, reused from an earlier run; this run "
          f"took {second['seconds']:.0f} s") in header


def test_the_invariant_family_is_the_same_problem_at_every_scale():
  """w_over_s (control C-invariant): L at s xbar + s delta0 with W / s equals L at s = 1 and
  delta0, to rounding (a few u |L|), and so do eps / s and grad L times s; the paper's
  family, the same network with W, is not invariant (seen to differ)."""
  import jax
  import jax.numpy as jnp

  from adv_landscape.problem import Problem
  from adv_landscape.sweep import GridPoint, instance

  with jax.enable_x64(True):
    out = {}
    for fam in ("w_over_s", "paper"):
      for s in (0.25, 1.0, 4.0):
        net, loss, x, y, eps = instance(GridPoint(d=8, m=16, s=s, family=fam, seed=1))
        pr = Problem.two_layer(net, loss, x, y, eps=eps)
        d0 = 0.3 * jnp.linspace(-1.0, 1.0, 8)
        out[fam, s] = (float(pr.objective.value(s * d0)), eps / s,
                       np.asarray(s * pr.objective.grad(s * d0)))
    for s in (0.25, 4.0):
      v, e, g = out["w_over_s", s]
      v1, e1, g1 = out["w_over_s", 1.0]
      assert v == pytest.approx(v1, rel=64 * np.finfo(float).eps)
      assert e == pytest.approx(e1, rel=8 * np.finfo(float).eps)
      np.testing.assert_allclose(g, g1, rtol=1e-12, atol=1e-14)
    assert abs(out["paper", 4.0][0] - out["paper", 1.0][0]) > 1e-3


def test_a_long_sweep_drops_compiled_programs_now_and_then(tmp_path, monkeypatch):
  """After at least CLEAR_EVERY points run_sweep clears JAX's caches, so that one long
  process does not accumulate compiled programs (and their memory maps) without bound;
  only between two structures, and the points of one structure run together, so that no
  program is compiled twice."""
  calls, ran = [], []
  monkeypatch.setattr(sweep, "CLEAR_EVERY", 2)
  monkeypatch.setattr(sweep.jax, "clear_caches", lambda: calls.append(len(ran)))

  def fake_run(p):
    ran.append((p.d, p.s))
    return {"key": p.key, "seconds": 0.0}

  monkeypatch.setattr(sweep, "run_point", fake_run)
  # seed-major, as the grids are: d = 3 and d = 5 alternate
  pts = [GridPoint(d=d, m=4, s=s, n_restarts=2) for s in (0.5, 1.0, 2.0) for d in (3, 5)]
  pts.append(GridPoint(d=7, m=4, s=1.0, n_restarts=2))
  records = sweep.run_sweep(pts, tmp_path / "sweep.jsonl", progress=False)
  assert ran == [(3, 0.5), (3, 1.0), (3, 2.0), (5, 0.5), (5, 1.0), (5, 2.0), (7, 1.0)]
  assert calls == [3, 6]  # at the two changes of structure, not after the 2nd point
  assert [r["key"] for r in records] == [p.key for p in pts]  # returned in grid order


def test_an_endpoint_stop_is_relative_to_the_gradient_where_pga_ends():
  """stop="endpoint": tol_g = rtol_g times the gradient's norm at PGA's maxima (checked
  against the run's own certified maxima, where ||grad L|| = mu eps), not ||grad L(0)||;
  the default stop keeps ||grad L(0)|| and leaves the resume key as it was."""
  base = dict(d=4, m=8, s=1.0, n_restarts=16, max_steps=2000, rtol_g=1e-6, step_rule="grad0",
              step=0.05)
  assert "stop" not in json.loads(GridPoint(**base).key)
  assert json.loads(GridPoint(**base, stop="endpoint").key)["stop"] == "endpoint"
  paper = sweep.run_point(GridPoint(**base))
  assert paper["tol_scale"] == paper["constants"]["grad0"]
  rec = sweep.run_point(GridPoint(**base, stop="endpoint"))
  assert rec["certified_fraction"] == 1.0
  grad_at_maxima = np.median(rec["multiplier"]) * rec["eps"]
  # pilot and main run stop within rtol_g = 1e-6 of the same maxima: 1e-4 leaves a factor
  # 100 for the landscape's conditioning; ||grad L(0)|| differs from it by 5%
  assert rec["tol_scale"] == pytest.approx(grad_at_maxima, rel=1e-4)
  assert abs(paper["tol_scale"] / grad_at_maxima - 1) > 1e-2
  assert rec["tol_g"] == pytest.approx(1e-6 * rec["tol_scale"], rel=1e-12)
  with pytest.raises(sweep.InvalidInput, match="stop='sideways' is unknown"):
    sweep.run_point(GridPoint(**base, stop="sideways"))
