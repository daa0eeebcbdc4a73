"""Smoke test of the benchmark harness at a tiny size (no timing is asserted)."""

from benchmarks import pga


def test_benchmark_harness_runs_and_checks_agreement(tmp_path):
  out = pga.main(["--sizes", "8:16:32", "--steps", "5", "--reps", "1",
                  "--variants", "suite,jax_scan,jax_vmap_grad", "--json", str(tmp_path / "b.json")])
  (res,) = out["results"]
  assert set(res["rates"]) == {"suite", "jax_scan", "jax_vmap_grad"}
  assert res["gemm_bound"] > 0 and all(r["median"] > 0 for r in res["rates"].values())
  assert (tmp_path / "b.json").stat().st_size > 0
