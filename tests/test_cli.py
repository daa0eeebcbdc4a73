"""The command line: the census contract, and one-line refusals of bad input."""

import json
import subprocess
import sys

import numpy as np
import pytest

from adv_landscape.cli import main


def run(argv, capsys):
  try:
    rc = main(argv)
  except SystemExit as e:  # argparse's own refusals
    rc = e.code
  out = capsys.readouterr()
  return rc, out.out, out.err


@pytest.fixture
def user_net(tmp_path):
  rng = np.random.default_rng(0)
  W, a = rng.standard_normal((6, 4)) / 2.0, rng.choice([-1.0, 1.0], 6) / np.sqrt(6)
  np.savez(tmp_path / "net.npz", W=W, a=a, b=np.zeros(6), activation=np.array("tanh"))
  np.save(tmp_path / "x.npy", rng.standard_normal(4))
  return tmp_path, W, a


def test_synthetic_census_writes_the_documented_json(tmp_path, capsys):
  out = tmp_path / "c.json"
  rc, stdout, _ = run(["census", "--d", "6", "--m", "20", "--scale", "2", "--inits", "64",
                       "--x64", "--json", str(out), "--save-endpoints", "--no-progress"], capsys)
  assert rc == 0
  assert "distinct certified" in stdout
  res = json.loads(out.read_text())
  assert {"config", "summary", "maxima", "endpoints"} <= set(res)
  s = res["summary"]
  for k in ("n_inits", "certified_fraction", "distinct_maxima", "best_value",
            "median_iterations", "converged_fraction"):
    assert k in s
  assert s["n_inits"] == 64 and len(res["endpoints"]) == 64
  values = [mx["value"] for mx in res["maxima"]]
  assert values == sorted(values, reverse=True) and len(values) == s["distinct_maxima"]
  assert sum(mx["count"] for mx in res["maxima"]) == round(s["certified_fraction"] * 64)
  assert res["config"]["seed"] == 0 and "jax" in res["config"]["versions"]
  e = res["endpoints"][0]
  assert {"delta", "value", "iterations", "converged", "class", "grad_norm", "multiplier",
          "lambda_tangent"} <= set(e)
  assert len(e["delta"]) == 6


def test_user_network_census(user_net, capsys):
  folder, _, _ = user_net
  out = folder / "c.json"
  rc, _, err = run(["census", "--weights", str(folder / "net.npz"), "--x", str(folder / "x.npy"),
                    "--y", "0.5", "--eps", "1.0", "--inits", "32", "--json", str(out),
                    "--no-progress"], capsys)
  assert rc == 0, err
  res = json.loads(out.read_text())
  assert res["config"]["eps"] == 1.0 and res["config"]["d"] == 4
  assert "endpoints" not in res


def test_hunt_writes_the_documented_json_and_finds_a_planted_maximum(tmp_path, capsys):
  # Planted: quadratic activation with every a_r < 0 and the linear loss at y = -1 (L = f,
  # concave), its maximiser well inside the ball; the synthetic network has none.
  rng = np.random.default_rng(1)
  W = rng.standard_normal((8, 3))
  np.savez(tmp_path / "c.npz", W=W, a=-np.abs(rng.standard_normal(8)), b=np.zeros(8),
           activation=np.array("quadratic"))
  np.save(tmp_path / "x.npy", 0.1 * rng.standard_normal(3))
  out = tmp_path / "h.json"
  rc, stdout, err = run(["hunt", "--weights", str(tmp_path / "c.npz"), "--x",
                         str(tmp_path / "x.npy"), "--loss", "linear", "--y", "-1", "--eps", "2",
                         "--inits", "16", "--json", str(out)], capsys)
  assert rc == 0, err
  res = json.loads(out.read_text())
  for k in ("candidates_inside", "nontrivial_critical", "trivial_minima", "interior_maxima",
            "detection_limit"):
    assert k in res
  assert len(res["interior_maxima"]) == 1 and "1 of them local maxima" in stdout
  mx = res["interior_maxima"][0]
  np.testing.assert_allclose(mx["delta"], -np.load(tmp_path / "x.npy"), atol=1e-9)  # z* = 0
  assert mx["lambda_max"] < 0 and res["detection_limit"] == pytest.approx(1 - 0.05 ** (1 / 8))
  rc, stdout, _ = run(["hunt", "--d", "6", "--m", "12", "--inits", "16"], capsys)
  assert rc == 0 and "0 non-trivial interior critical points" in stdout


def test_hunt_prove_never_proves_a_planted_maximum_and_proves_a_clear_instance(tmp_path, capsys):
  rng = np.random.default_rng(1)  # the planted concave instance of the test above
  np.savez(tmp_path / "c.npz", W=rng.standard_normal((8, 3)), a=-np.abs(rng.standard_normal(8)),
           b=np.zeros(8), activation=np.array("quadratic"))
  np.save(tmp_path / "x.npy", 0.1 * rng.standard_normal(3))
  out = tmp_path / "h.json"
  rc, stdout, err = run(["hunt", "--weights", str(tmp_path / "c.npz"), "--x",
                         str(tmp_path / "x.npy"), "--loss", "linear", "--y", "-1", "--eps", "2",
                         "--inits", "8", "--prove", "--prove-budget", "2000", "--json",
                         str(out)], capsys)
  assert rc == 0, err
  proof = json.loads(out.read_text())["proof"]
  assert proof["status"] == "budget" and proof["live"] > 0 and "proof      undecided" in stdout
  # m <= d with tanh: grad f never vanishes, proved on the first region
  rc, stdout, _ = run(["hunt", "--d", "6", "--m", "4", "--inits", "8", "--prove"], capsys)
  assert rc == 0 and "proof      proved" in stdout


def test_console_entry_point_exit_code(tmp_path):
  proc = subprocess.run([sys.executable, "-m", "adv_landscape.cli", "census", "--eps", "nan"],
                        capture_output=True, text=True, check=False)
  assert proc.returncode == 2 and "eps=nan" in proc.stderr


def test_streamed_census_matches_the_batch_census(tmp_path, capsys):
  base = ["census", "--d", "5", "--m", "12", "--scale", "3", "--inits", "40", "--chunk", "16",
          "--x64", "--no-progress"]
  assert run(base + ["--json", str(tmp_path / "a.json")], capsys)[0] == 0
  assert run(base + ["--stream", "--json", str(tmp_path / "b.json")], capsys)[0] == 0
  a, b = (json.loads((tmp_path / f).read_text()) for f in ("a.json", "b.json"))
  assert b["config"]["stream"] is True and sum(b["summary"]["iteration_histogram"]) == 40
  for k in ("n_inits", "certified_fraction", "distinct_maxima", "converged_fraction",
            "class_counts", "max_iterations"):
    assert a["summary"][k] == b["summary"][k], k
  assert [m["count"] for m in a["maxima"]] == [m["count"] for m in b["maxima"]]
  rc, _, err = run(base + ["--stream", "--save-endpoints"], capsys)
  assert rc == 2 and "--stream" in err


@pytest.fixture
def concave_net(tmp_path):
  """The issue's planted instance: quadratic activation, every a_r < 0, linear loss, y = -1.
  L = f is concave; its maximiser delta* = z* - x (z* = 0 with b = 0) lies inside the ball
  when eps = 1.5 ||x||."""
  rng = np.random.default_rng(1)
  W = rng.standard_normal((8, 4)) / 2.0
  a = -np.abs(rng.standard_normal(8)) / np.sqrt(8)
  np.savez(tmp_path / "concave.npz", W=W, a=a, b=np.zeros(8), activation=np.array("quadratic"))
  x = rng.standard_normal(4)
  np.save(tmp_path / "cx.npy", x)
  return tmp_path, x


def test_interior_maxima_are_counted_and_a_stalling_step_rule_is_named(concave_net, capsys):
  folder, x = concave_net
  eps = 1.5 * float(np.linalg.norm(x))
  common = ["census", "--weights", str(folder / "concave.npz"), "--x", str(folder / "cx.npy"),
            "--loss", "linear", "--y", "-1", "--eps", str(eps), "--inits", "32", "--x64",
            "--no-progress"]
  out = folder / "g.json"
  rc, stdout, _ = run(common + ["--step-rule", "grad0", "--json", str(out)], capsys)
  assert rc == 0
  res = json.loads(out.read_text())
  assert res["summary"]["distinct_maxima"] >= 1 and res["summary"]["best_value"] is not None
  assert {m["kind"] for m in res["maxima"]} == {"interior"}
  best = np.asarray(res["maxima"][0]["delta"])
  radius = res["maxima"][0]["proof_radius"]
  assert radius is not None and np.linalg.norm(best + x) <= radius  # delta* = -x is within it
  assert res["summary"]["class_counts"].get("interior_local_max", 0) >= 30
  assert "note" not in stdout
  rc, stdout, _ = run(common + ["--step-rule", "normalized", "--max-steps", "300"], capsys)
  assert rc == 0
  note = [ln for ln in stdout.splitlines() if ln.startswith("note")]
  assert len(note) == 1 and "grad0" in note[0] and "stalled inside the ball" in note[0]


def test_verify_prints_the_summary_and_controls_and_flags_missing_controls(tmp_path, monkeypatch,
                                                                            capsys):
  from adv_landscape import verify
  from adv_landscape.sweep import GridPoint
  tiny = [(GridPoint(d=3, m=8, s=s, n_restarts=4, max_steps=400, rtol_g=1e-3), "C")
          for s in (0.5, 1.0, 2.0)]
  monkeypatch.setattr(verify, "grid", lambda quick, seeds=None: tiny)  # no control points
  rc, out, _ = run(["verify", "--quick", "--out", str(tmp_path / "rep"), "--no-progress"], capsys)
  assert rc == 0
  assert "| claim | verdict |" in out and "| claim | control |" in out
  assert "| loss / step rule |" not in out  # the per-claim tables stay in report.md
  assert "CONTROL NOT DETECTED" in out


def test_a_k_output_network_with_an_output_bias_runs_to_its_proofs(tmp_path, capsys):
  """A K = 10 classifier with an output bias c (what a PyTorch head has) through the whole
  census, batch and streamed: the bias is folded into softmax cross-entropy, whose bounds
  do not depend on the range of the outputs."""
  rng = np.random.default_rng(1)
  np.savez(tmp_path / "k10.npz", W=rng.standard_normal((6, 8)) / 3,
           a=rng.standard_normal((6, 10)) / 3, c=rng.standard_normal(10),
           activation=np.array("tanh"))
  np.save(tmp_path / "x.npy", rng.standard_normal(8))
  for extra in ([], ["--stream"]):
    rc, stdout, err = run(["census", "--weights", str(tmp_path / "k10.npz"), "--x",
                           str(tmp_path / "x.npy"), "--loss", "softmax_ce", "--y", "3",
                           "--inits", "16", "--no-progress", *extra], capsys)
    assert rc == 0, err
    assert "distinct certified" in stdout


def test_a_stopping_rule_met_before_any_step_is_refused(capsys):
  """eta so large that ||G|| <= 2 eps / eta <= tol_g on the whole ball: every restart would
  'converge' at 0 iterations; refused after the (0-step) PGA with one line. A step that
  is merely large (converging in a few steps) is not refused."""
  rc, _, err = run(["census", "--d", "6", "--m", "12", "--inits", "8", "--step-rule", "fixed",
                    "--step", "1e9", "--no-progress"], capsys)
  assert rc == 2 and len(err.strip().splitlines()) == 1 and "lower --step" in err
  rc, _, err = run(["census", "--d", "6", "--m", "12", "--inits", "8", "--step-rule", "fixed",
                    "--step", "1", "--no-progress"], capsys)
  assert rc == 0, err


def test_a_loss_that_is_nan_on_part_of_the_range_is_named_not_carried(tmp_path, monkeypatch,
                                                                       capsys):
  """log(u + 0.3) is finite where the one-point probe looks (u = 0.5) and NaN below
  u = -0.3, which PGA reaches: one line naming the loss and the output, exit 2, no result."""
  (tmp_path / "halflog.py").write_text(
      "import jax.numpy as jnp\ndef l(u, y):\n  return jnp.log(u + 0.3) * y\n")
  monkeypatch.chdir(tmp_path)
  out = tmp_path / "r.json"
  rc, _, err = run(["census", "--d", "8", "--m", "16", "--inits", "64", "--loss", "halflog:l",
                    "--step-rule", "grad0", "--json", str(out), "--no-progress"], capsys)
  assert rc == 2 and "halflog:l" in err and "network output u" in err, err
  assert not out.exists()


def test_synthetic_instances_do_not_depend_on_the_precision():
  """The network and x are drawn in float64 and cast: the float32 instance is the float64
  one rounded (to float32's relative 6e-8), not another draw (which differs by O(1))."""
  import jax.numpy as jnp

  from adv_landscape.api import synthetic_instance
  for widths in (None, (7, 5)):
    n32, x32 = synthetic_instance(seed=3, d=6, m=9, widths=widths, dtype=jnp.float32)
    n64, x64 = synthetic_instance(seed=3, d=6, m=9, widths=widths, dtype=jnp.float64)
    np.testing.assert_allclose(np.asarray(x32), np.asarray(x64), rtol=1.2e-7, atol=0)
    for p32, p64 in zip(jax_leaves(n32), jax_leaves(n64)):
      np.testing.assert_allclose(np.asarray(p32), np.asarray(p64), rtol=1.2e-7, atol=0)


def jax_leaves(tree):
  import jax
  return jax.tree_util.tree_leaves(tree)


def test_the_api_runs_a_float32_input_at_the_network_s_precision():
  """np.load of an array saved from torch gives float32; beside a float64 network the census
  runs in float64 (its dtype and tolerances), as the command line does."""
  import jax.numpy as jnp

  from adv_landscape.api import census, synthetic_instance
  net, x = synthetic_instance(seed=0, d=5, m=8, dtype=jnp.float64)
  res = census(net, "quadratic", np.asarray(x, np.float32), 1.0, n_restarts=8,
               step_rule="grad0", step=0.1)
  assert res.config["dtype"] == "float64"


def test_the_default_chunk_gives_every_process_a_chunk(monkeypatch, capsys):
  """512 restarts on 2 processes: chunks of 256 (the old fixed default of 8192 left the second
  process without one and refused the run); one process keeps a single chunk."""
  import adv_landscape.commands as commands_mod
  import adv_landscape.pipeline as pipeline_mod

  seen = []

  def stop(*a, config=None, **k):
    seen.append(config.chunk)
    raise KeyboardInterrupt  # enough: the configuration is what this test reads

  monkeypatch.setattr(pipeline_mod, "run_census", stop)
  for procs, want in ((2, 256), (1, 512)):
    monkeypatch.setattr(commands_mod, "_processes", lambda procs=procs: procs)
    rc, _, err = run(["census", "--d", "4", "--m", "6", "--inits", "512", "--no-progress"],
                     capsys)
    assert rc == 130 and seen[-1] == want
    assert err.strip().splitlines() == ["adv-landscape census: interrupted; nothing was "
                                        "written (results are written at the end)"]


def test_ctrl_c_during_verify_is_one_line_that_says_how_to_resume(tmp_path, monkeypatch, capsys):
  import adv_landscape.verify as verify_mod

  def interrupted(*a, **k):
    raise KeyboardInterrupt

  monkeypatch.setattr(verify_mod, "run_verify", interrupted)
  rc, _, err = run(["verify", "--quick", "--out", str(tmp_path / "rep"), "--no-progress"],
                   capsys)
  assert rc == 130 and len(err.strip().splitlines()) == 1 and "to resume" in err
  assert not (tmp_path / "rep" / ".lock").exists()  # the lock went with the run
