"""Why the normalized rule's iteration counts fall with s at (d, m) = (128, 32) (claim C's
contradicting group in the full verify): path length against distance to the maximum.

A normalized step moves c eps along the projected gradient, so from a start on the sphere
to a maximum at geodesic angle theta it needs at least theta / c steps (the arc in units of
the step), plus whatever the final approach costs. If the counts fall with s because the
endpoints lie nearer their starts (more maxima, so a nearer one), then theta falls with s
and iterations / (theta / c) stays put. Per network (seed, the unit) and s: the median over
restarts of iterations, of theta / c, and of their ratio; the same starts, rule, step,
tolerance and budget as the verify grid's points (``sweep.instance``), fewer restarts.

Run:  python -m benchmarks.normalized_paths --json benchmarks/results/normalized_paths.json
"""

from __future__ import annotations

import argparse

import jax
import numpy as np

from adv_landscape import ascent, bounds, io
from adv_landscape.sweep import GridPoint, point_problem

SCALES = (0.25, 0.5, 1.0, 2.0, 4.0, 5.6, 8.0)


def run(seeds: int, n: int, d: int = 128, m: int = 32) -> dict:
  rows = []
  with jax.enable_x64(True):
    for seed in range(seeds):
      for s in SCALES:
        p = GridPoint(d=d, m=m, s=s, step_rule="normalized", step=0.05, seed=seed,
                      n_restarts=n, max_steps=20_000, rtol_g=1e-5)
        prob, key = point_problem(p)
        tol_g = p.rtol_g * bounds.rigorous_constants(prob).grad0
        res = ascent.pga(prob, key=key, n_restarts=n, init="sphere", step_rule="normalized",
                         step=0.05, max_steps=20_000, tol_g=tol_g, progress=False)
        starts = np.asarray(ascent.initial_deltas(prob, jax.random.fold_in(key, 0), "sphere",
                                                  n))
        ends = np.asarray(res.deltas)
        cos = np.sum(starts * ends, 1) / (np.linalg.norm(starts, axis=1)
                                          * np.linalg.norm(ends, axis=1))
        arc_steps = np.arccos(np.clip(cos, -1, 1)) / 0.05
        it = np.asarray(res.iterations, np.float64)
        ok = np.asarray(res.converged) & (arc_steps > 0)
        rows.append({"seed": seed, "s": s, "converged": float(np.mean(res.converged)),
                     "median_iterations": float(np.median(it[ok])) if ok.any() else None,
                     "median_arc_steps": float(np.median(arc_steps[ok])) if ok.any() else None,
                     "median_ratio": float(np.median(it[ok] / arc_steps[ok])) if ok.any()
                     else None})
  return {"d": d, "m": m, "seeds": seeds, "restarts": n, "rows": rows,
          "versions": io.versions()}


def table(res) -> str:
  out = ["| s | converged | median iterations | median arc / step | median iterations / (arc / "
         "step) |", "|---|---|---|---|---|"]
  for s in SCALES:
    rs = [r for r in res["rows"] if r["s"] == s and r["median_iterations"] is not None]
    if rs:
      out.append(f"| {s:g} | {np.mean([r['converged'] for r in rs]):.2f} | "
                 f"{np.median([r['median_iterations'] for r in rs]):.0f} | "
                 f"{np.median([r['median_arc_steps'] for r in rs]):.1f} | "
                 f"{np.median([r['median_ratio'] for r in rs]):.1f} |")
  return "\n".join(out)


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--seeds", type=int, default=4)
  ap.add_argument("--restarts", type=int, default=64)
  ap.add_argument("--json", default=None)
  a = ap.parse_args(argv)
  res = run(a.seeds, a.restarts)
  if a.json:
    io.write_json_atomic(a.json, res)
  print(table(res))


if __name__ == "__main__":
  main()
