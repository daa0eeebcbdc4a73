"""Two processes on localhost (jax.distributed, gloo CPU collectives) give one process's
census and sweep records. Every process is a subprocess with a hard timeout, so a hang
fails the test instead of the suite."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from adv_landscape import distributed as dist
from adv_landscape.errors import InvalidInput

TIMEOUT_S = 150  # each group of processes; the whole file runs in about a minute


def _port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _run_group(argv_for, n: int, tmp_path) -> list[subprocess.CompletedProcess]:
  """Starts n processes (argv_for(i)), waits at most TIMEOUT_S, kills them all on a hang."""
  env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_force_host_platform_device_count=1")
  procs = [subprocess.Popen(argv_for(i), cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True) for i in range(n)]
  out = []
  try:
    for p in procs:
      so, se = p.communicate(timeout=TIMEOUT_S)
      out.append(subprocess.CompletedProcess(p.args, p.returncode, so, se))
  except subprocess.TimeoutExpired:
    for p in procs:
      p.kill()
    pytest.fail(f"processes did not finish within {TIMEOUT_S} s")
  for r in out:
    assert r.returncode == 0, r.stderr[-3000:]
  return out


# 40 restarts in chunks of 8: five chunks, so in the last round process 1 has none.
CENSUS = ["census", "--d", "6", "--m", "10", "--inits", "40", "--chunk", "8", "--x64",
          "--no-progress", "--step-rule", "grad0"]


def _census(tmp_path, extra, name, n, seed="3"):
  port = _port()
  many = ["--coordinator", f"127.0.0.1:{port}", "--num-processes", str(n)] if n > 1 else []

  def argv(i):
    return ([sys.executable, "-m", "adv_landscape.cli"] + CENSUS + extra + many
            + (["--process-id", str(i)] if n > 1 else []) + ["--json", f"{name}.json"])
  out = _run_group(argv, n, tmp_path)
  # only process 0 prints results (gloo itself says "[Gloo] Rank 1 is connected ...")
  assert all("instance" not in r.stdout and "maxima" not in r.stdout for r in out[1:])
  with open(tmp_path / f"{name}.json") as f:
    return json.load(f)


def _same_census(one, two):
  for k in ("n_inits", "distinct_maxima", "class_counts", "certified_fraction",
            "median_iterations", "max_iterations", "converged_fraction", "p_best",
            "certified_by_proof", "endpoints_with_radius"):
    assert one["summary"][k] == two["summary"][k], k
  assert len(one["maxima"]) == len(two["maxima"]) >= 1
  for a, b in zip(one["maxima"], two["maxima"]):
    assert a["count"] == b["count"] and a["kind"] == b["kind"]
    np.testing.assert_allclose(a["value"], b["value"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(a["delta"], b["delta"], rtol=0, atol=1e-12)
    # lambda_T: float32 Lanczos in blocks of another size (rounding), or a proof's bound
    assert a["certified_by"] == b["certified_by"]
    key = "lambda_tangent" if a["certified_by"] == "eigenvalue" else "lambda_tangent_bound"
    np.testing.assert_allclose(a[key], b[key], rtol=0, atol=1e-5)
  assert two["config"]["processes"] == 2 and one["config"]["processes"] == 1


@pytest.mark.parametrize("extra", [[], pytest.param(["--stream"], marks=pytest.mark.slow)],
                         ids=["batch", "stream"])
def test_two_processes_give_the_single_process_census(tmp_path, extra):
  one = _census(tmp_path, extra, "one", 1)
  two = _census(tmp_path, extra, "two", 2)
  _same_census(one, two)
  off = json.loads(json.dumps(two))  # the comparison can fail: a value off by 1e-11
  off["maxima"][0]["value"] += 1e-11
  with pytest.raises(AssertionError):
    _same_census(one, off)


SWEEP = """
import sys
from adv_landscape import distributed as dist
from adv_landscape.sweep import GridPoint, run_sweep
if len(sys.argv) > 2:
  dist.initialize(sys.argv[2], 2, int(sys.argv[3]))
pts = [GridPoint(d=3, m=8, s=s, n_restarts=8, max_steps=800, rtol_g=1e-3)
       for s in (0.5, 2.0)] + [GridPoint(d=4, m=6, s=1.0, n_restarts=8, max_steps=800,
                                         rtol_g=1e-3)]  # 3 points: process 1 idles last
run_sweep(pts, sys.argv[1], progress=False)
"""


@pytest.mark.slow  # 58 s: the census tests above cover two processes by default
def test_two_processes_give_the_single_process_sweep(tmp_path):
  (tmp_path / "sweep_script.py").write_text(SWEEP)
  _run_group(lambda i: [sys.executable, "sweep_script.py", "one.jsonl"], 1, tmp_path)
  port = _port()
  _run_group(lambda i: [sys.executable, "sweep_script.py", "two.jsonl", f"127.0.0.1:{port}",
                        str(i)], 2, tmp_path)
  assert not (tmp_path / "two.jsonl.1").exists()

  def records(name):
    with open(tmp_path / name) as f:
      return [json.loads(line) for line in f]
  one, two = records("one.jsonl"), records("two.jsonl")
  assert [r["key"] for r in one] == [r["key"] for r in two] and len(one) == 3
  for a, b in zip(one, two):
    for k in a:
      if k.startswith("seconds"):
        continue  # wall times differ
      assert k in b
      if k in ("lambda_tangent", "lambda_tangent_bound", "lambda_max", "maxima"):
        continue  # float32 Lanczos rounding
      assert a[k] == b[k], k


def test_process_arguments_go_together():
  with pytest.raises(InvalidInput, match="go together"):
    dist.initialize("127.0.0.1:1234", None, None)
  with pytest.raises(InvalidInput, match="HOST:PORT"):
    dist.initialize("localhost", 2, 0)
  with pytest.raises(InvalidInput, match="process_id"):
    dist.initialize("127.0.0.1:1234", 2, 2)
  dist.initialize()  # nothing given: one process
  assert (dist.rank(), dist.size(), dist.mine(5)) == (0, 1, [0, 1, 2, 3, 4])
