"""PGA throughput on a GPU against the card's own GEMM rate (issue 5, item 7).

d = 784, m = 1024, B in {4096, 65536}, T = 200 normalised PGA steps in
float32, for the suite's engine (``ascent.run_pga``, with per-restart
bookkeeping) and a plain hand-batched scan, each at JAX's default matmul
precision (TF32 on Hopper) and at "highest" (true FP32). The bound is the two
GEMMs of one step at the same precision: JAX's and torch's matmul, the faster.

Run:  bash benchmarks/gpu.sh   (python3 -m benchmarks.gpu from the checkout's root; writes
      $OUT/gpu.json or benchmarks/gpu.json)
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.common import median_time as timed
from benchmarks.pga import instance, jax_scan, suite


def gemm_rate(d, m, B, precision, reps=30):
  k = jax.random.split(jax.random.key(0), 3)
  A1 = jax.random.normal(k[0], (B, d), jnp.float32)
  W = jax.random.normal(k[1], (m, d), jnp.float32)
  A2 = jax.random.normal(k[2], (B, m), jnp.float32)
  mm1 = jax.jit(lambda p, q: jnp.matmul(p, q.T, precision=precision))
  mm2 = jax.jit(lambda p, q: jnp.matmul(p, q, precision=precision))
  t1, _ = timed(lambda: mm1(A1, W).block_until_ready(), reps)
  t2, _ = timed(lambda: mm2(A2, W).block_until_ready(), reps)
  out = {"jax": B / (t1 + t2), "jax_tflops": 4 * B * d * m / (t1 + t2) / 1e12}
  try:
    import torch
    torch.backends.cuda.matmul.allow_tf32 = precision != "highest"
    dev = "cuda"
    a1, w, a2 = (torch.randn(s, device=dev) for s in ((B, d), (m, d), (B, m)))

    def tt(f):  # the CPU harness's timer around a call that waits for the card
      return timed(lambda: (f(), torch.cuda.synchronize()), reps)[0]
    t = tt(lambda: a1 @ w.T) + tt(lambda: a2 @ w)
    out["torch"] = B / t
    out["torch_tflops"] = 4 * B * d * m / t / 1e12
  except Exception as e:  # noqa: BLE001  (no torch or no CUDA for it: JAX alone)
    out["torch_error"] = repr(e)
  return out


def main():
  T, reps = 200, 5
  d, m = 784, 1024
  rows = []
  for B in (4096, 65536):
    inst = instance(d, m, B)
    for precision in ("default", "highest"):
      with jax.default_matmul_precision(precision):
        bound = gemm_rate(d, m, B, precision)
        best = max(v for k, v in bound.items() if k in ("jax", "torch"))
        res = {}
        finals = {}
        for name, make in (("suite", suite), ("jax_scan", jax_scan)):
          run = make(inst, T)
          final = run()
          finals[name] = float(np.mean(np.asarray(final)))
          med, ts = timed(run, reps)
          res[name] = B * T / med
      rows.append({"B": B, "precision": precision, "gemm_bound": best, "gemm": bound,
                   "rates": res, "ratios": {k: v / best for k, v in res.items()},
                   "final_mean_delta": finals})
      print(f"B={B:6d} {precision:8s} bound {best:,.0f}/s  "
            + "  ".join(f"{k} {v:,.0f}/s ({v / best:.2f})" for k, v in res.items()), flush=True)
  smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                        "--format=csv,noheader"], capture_output=True, text=True, check=False)
  out = {"card": smi.stdout.strip(), "jax": jax.__version__, "devices": [str(x) for x in
         jax.devices()], "steps": T, "reps": reps, "d": d, "m": m, "rows": rows,
         "date": time.strftime("%Y-%m-%d")}
  path = os.path.join(os.environ.get("OUT", "benchmarks"), "gpu.json")
  with open(path, "w") as f:
    json.dump(out, f, indent=1)
  print(json.dumps({"card": out["card"], "summary": [
      (r["B"], r["precision"], round(r["ratios"]["suite"], 3), round(r["ratios"]["jax_scan"], 3))
      for r in rows]}))


if __name__ == "__main__":
  main()
