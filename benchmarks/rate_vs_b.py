"""PGA rate against the restart batch B at (d, m) = (784, 1024), beside the GEMM bound.

Run:  python -m benchmarks.rate_vs_b --out benchmarks/results   (about 2 minutes on 2 cores)
Writes rate_vs_b.json and rate_vs_b.png.
"""

from __future__ import annotations

import argparse
import os

from adv_landscape import io, plots
from benchmarks.pga import bench_size


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--out", default="benchmarks/results")
  p.add_argument("--d", type=int, default=784)
  p.add_argument("--m", type=int, default=1024)
  p.add_argument("--batches", default="16,64,256,1024,4096")
  p.add_argument("--steps", type=int, default=64)  # a multiple of the 8-step check
  p.add_argument("--reps", type=int, default=3)
  args = p.parse_args(argv)
  rows = [bench_size(args.d, args.m, int(b), T=args.steps, reps=args.reps,
                     variants=["suite", "jax_scan"]) for b in args.batches.split(",")]
  import matplotlib.pyplot as plt

  fig, ax = plt.subplots(figsize=(6.5, 4.2), constrained_layout=True)
  bs = [r["size"][2] for r in rows]
  ax.plot(bs, [r["gemm_bound"] for r in rows], "k--", marker="s", label="GEMM bound (two GEMMs/step)")
  for v, c in (("suite", "C0"), ("jax_scan", "C1")):
    ax.plot(bs, [r["rates"][v]["median"] for r in rows], "o-", color=c, label=v)
  ax.set_xscale("log", base=2)
  ax.set_yscale("log")
  ax.set_xlabel("restarts per batch B")
  ax.set_ylabel("restarts x steps per second")
  ax.set_title(f"PGA rate vs B, d = {args.d}, m = {args.m}, float32, CPU")
  ax.grid(True, which="both", alpha=0.3)
  ax.legend(fontsize=8)
  os.makedirs(args.out, exist_ok=True)
  plots.save(fig, args.out, "rate_vs_b")
  io.write_json_atomic(os.path.join(args.out, "rate_vs_b.json"), {"rows": rows,
                                                                   "versions": io.versions()})
  return rows


if __name__ == "__main__":
  main()
