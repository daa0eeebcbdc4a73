"""Smoke test of the benchmark harness at a tiny size (no timing is asserted)."""

import numpy as np
import pytest

from benchmarks import pga, table


def test_benchmark_harness_runs_and_checks_agreement(tmp_path):
  out = pga.main(["--sizes", "8:16:32", "--steps", "5", "--reps", "1", "--pause", "0",
                  "--variants", "suite,jax_scan,jax_vmap_grad", "--json", str(tmp_path / "b.json")])
  (res,) = out["results"]
  assert set(res["rates"]) == {"suite", "jax_scan", "jax_vmap_grad"}
  assert res["gemm_bound"] > 0 and all(r["median"] > 0 for r in res["rates"].values())
  assert (tmp_path / "b.json").stat().st_size > 0
  rows = table.table(out).splitlines()
  assert rows[2].startswith("| (8, 16, 32) |") and rows[2].count("(") == 1 + 3  # size, 3 ratios


def test_harness_refuses_to_time_variants_that_disagree(monkeypatch):
  def wrong(inst, T):  # the suite's endpoints scaled by 1/2: a different final loss
    run = pga.suite(inst, T)
    return lambda: run() * np.float32(0.5)
  monkeypatch.setitem(pga.VARIANTS, "wrong", wrong)
  with pytest.raises(RuntimeError, match="final losses disagree.*wrong"):
    pga.bench_size(8, 16, 32, T=5, reps=1, variants=["suite", "wrong"], pause=0.0,
                   log=lambda *_: None)
