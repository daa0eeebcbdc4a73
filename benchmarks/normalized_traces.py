"""At s = 8 the normalized rule stops converging under a stop relative to the endpoint's
gradient (the full verify's ``C-endpoint-stop`` reading): slow decay, a floor, or a cycle?

Traces ||G_t|| / g_end over the verify grid's whole budget (20,000 steps) of normalized-step
PGA (step 0.05 eps along g / ||g||, projected; G_t measured at eta = 0.05 eps / ||g||, as in
``ascent``) at (d, m) = (128, 32), s = 4, 5.6, 8, on the verify grid's networks
(``sweep.point_problem``) and its sphere starts, 8 restarts a network (``ascent.pga_trace``);
g_end is the scale of the verify grid's stop relative to the endpoint
(``sweep.endpoint_scale``, the same pilot run), so ||G_t|| / g_end <= rtol_g is that stop.
Per network (seed, the unit) and s: the median over restarts of ||G_t|| / g_end at a few t,
and of its smallest value over the last 1000 steps.
A steady decay reaches the rounding floor (about 1e-13 relative) well inside the budget; a
plateau far above it is the fixed-length step cycling around a maximum.

Run:  python -m benchmarks.normalized_traces --json benchmarks/results/normalized_traces.json
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

from adv_landscape import ascent, bounds, io
from adv_landscape.sweep import GridPoint, endpoint_scale, point_problem

SCALES = (4.0, 5.6, 8.0)
AT = (10, 100, 300, 1000, 3000, 10_000, 19_999)  # steps at which the ratio is reported


def run(seeds: int, n: int, steps: int = 20_000, d: int = 128, m: int = 32) -> dict:
  rows = []
  with jax.enable_x64(True):
    for seed in range(seeds):
      for s in SCALES:
        p = GridPoint(d=d, m=m, s=s, step_rule="normalized", step=0.05, seed=seed,
                      n_restarts=64, max_steps=20_000, rtol_g=1e-5, stop="endpoint")
        prob, key = point_problem(p)
        eps = float(prob.constraint.eps)
        starts = ascent.initial_deltas(prob, jax.random.fold_in(key, 0), "sphere", n)
        g_end = endpoint_scale(prob, p, key=jax.random.fold_in(key, 3), ell=float("nan"),
                               grad0=bounds.rigorous_constants(prob).grad0)
        _, G = ascent.pga_trace(prob, starts, jnp.full(n, 0.05 * eps), jnp.zeros(steps),
                                normalized=True)
        rel = np.asarray(G).T / g_end
        rows.append({"seed": seed, "s": s, "g_end": g_end,
                     "median_ratio_at": {str(t): float(np.median(rel[:, t])) for t in AT
                                         if t < steps},
                     "median_min_ratio_last_1000": float(np.median(rel[:, -1000:].min(1)))})
  return {"d": d, "m": m, "seeds": seeds, "restarts": n, "steps": steps, "rows": rows,
          "versions": io.versions()}


def table(res) -> str:
  at = [t for t in AT if t < res["steps"]]
  out = ["| seed | s | g_end | " + " | ".join(f"t = {t}" for t in at)
         + " | min over the last 1000 |", "|---" * (len(at) + 4) + "|"]
  for r in res["rows"]:
    out.append(f"| {r['seed']} | {r['s']:g} | {r['g_end']:.2g} | "
               + " | ".join(f"{r['median_ratio_at'][str(t)]:.1e}" for t in at)
               + f" | {r['median_min_ratio_last_1000']:.1e} |")
  return "\n".join(out)


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--seeds", type=int, default=4)
  ap.add_argument("--restarts", type=int, default=8)
  ap.add_argument("--steps", type=int, default=20_000)
  ap.add_argument("--json", default=None)
  a = ap.parse_args(argv)
  res = run(a.seeds, a.restarts, a.steps)
  if a.json:
    io.write_json_atomic(a.json, res)
  print(table(res))


if __name__ == "__main__":
  main()
