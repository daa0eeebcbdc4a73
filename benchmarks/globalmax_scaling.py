"""How the branch and bound's certified gap falls with its region budget (``census --global``).

Two cases (``globalmax.global_maximum``, the paper's tanh network from ``synthetic_instance``,
the quadratic loss with y = 1, gamma = 0.5, rtol = 1e-6):
  - k = 8 coordinates: the l2 ball at d = 784, m = 8 (rank W = 8) and at d = 8, m = 16;
    budgets of 5,000, 20,000 and 80,000 regions, the exponent p of gap ~ regions^-p fitted
    on them and extrapolated to a 1e-6 gap;
  - the box at d = 8 (half-width 0.5 ||x|| / sqrt(d)), m = 16, 64, 200, s = 1/4, 1, 4,
    with a budget of 200,000 regions: regions and seconds to 1e-6.

Run:  python -m benchmarks.globalmax_scaling --json benchmarks/results/globalmax_scaling.json
      (about 4 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

from adv_landscape import io
from adv_landscape.globalmax import global_maximum
from adv_landscape.instances import synthetic_instance
from adv_landscape.losses import get_loss


def one(d, m, s, seed, norm, budget):
  net, x = synthetic_instance(seed=seed, d=d, m=m, scale=s, dtype=jax.numpy.float64)
  eps = 0.5 * float(np.linalg.norm(np.asarray(x))) / (np.sqrt(d) if norm == "inf" else 1.0)
  t0 = time.perf_counter()
  g = global_maximum(net, get_loss("quadratic"), x, 1.0, eps, norm, rtol=1e-6,
                     max_regions=budget)
  return {"d": d, "m": m, "s": s, "seed": seed, "norm": norm, "budget": budget,
          "regions": g.regions, "gap": (g.upper - g.lower) / max(abs(g.upper), abs(g.lower)),
          "status": g.status, "dimension": g.dimension, "seconds": time.perf_counter() - t0}


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--json", help="write the rows and the fits here")
  args = p.parse_args(argv)
  if args.json:
    io.check_output_file(args.json, "json")
  jax.config.update("jax_enable_x64", True)
  out, t0 = {"ball_k8": {}, "box_d8": []}, time.perf_counter()
  for d, m in ((784, 8), (8, 16)):
    rows = [one(d, m, 1.0, 0, "2", b) for b in (5_000, 20_000, 80_000)]
    slope = -np.polyfit(np.log([r["regions"] for r in rows]),
                        np.log([r["gap"] for r in rows]), 1)[0]
    need = rows[-1]["regions"] * (rows[-1]["gap"] / 1e-6) ** (1 / slope)
    out["ball_k8"][f"d={d},m={m}"] = {"rows": rows, "exponent": slope,
                                      "regions_for_1e-6": need}
    gaps = ", ".join(f"{r['gap']:.2g}" for r in rows)
    print(f"ball d = {d}, m = {m}: gaps {gaps}; "
          f"gap ~ regions^-{slope:.2f}; 1e-6 needs about {need:.2g} regions", flush=True)
  for m, s, seed in ((16, 0.25, 0), (16, 1.0, 0), (16, 1.0, 1), (16, 1.0, 2), (16, 4.0, 0),
                     (64, 1.0, 0), (200, 1.0, 0)):
    r = one(8, m, s, seed, "inf", 200_000)
    out["box_d8"].append(r)
    print(f"box d = 8, m = {m}, s = {s}, seed {seed}: {r['status']} in {r['regions']} "
          f"regions, gap {r['gap']:.2g}, {r['seconds']:.1f} s", flush=True)
  if args.json:
    io.write_json_atomic(args.json, {**out, "seconds": time.perf_counter() - t0,
                                     "versions": io.versions()})
  return 0


if __name__ == "__main__":
  raise SystemExit(main())
