"""Claim A proved per instance along the input scale s (``critical.no_interior_maximum``),
beside the hunt's sampled evidence on the same instances.

Per scale s and network (seed; the unit): the paper's tanh network at (d, m) with input
scale s, the quadratic loss with y = 1, gamma = 0.5 (eps = ||x|| / 2), the l2 ball. For each:
the proof of "L has no local maximum in the open ball" within a region budget (status
``proved`` or ``budget``), the first-order test alone (``no_interior_critical``: "grad f has
no zero"), and the hunt (``hunt.hunt_interior_critical``, 32 starts: interior maxima found;
d <= 64 only, its dense Hessians take minutes at d = 784).
m > d is the open case: with m <= d and W of full row rank, tanh's grad f never vanishes and
the first region is cleared at once (docs/theory.md section 17), which the (784, 8) row
shows.

Run:  python -m benchmarks.proved_a --json benchmarks/results/proved_a.json
      (about 10 minutes on 2 cores); the table again: --table PATH
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from adv_landscape import io
from adv_landscape.critical import no_interior_critical, no_interior_maximum
from adv_landscape.hunt import hunt_interior_critical
from adv_landscape.instances import problem, synthetic_instance
from adv_landscape.losses import get_loss

SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)
CELLS = ((8, 16), (4, 16), (784, 8))  # (d, m): m > d twice (k = d), then m <= d (k = m)
HUNT_MAX_D = 64  # the hunt's dense d x d Hessians: minutes per instance at d = 784 (skipped)


def run(cells, seeds: int, budget: int, progress: bool = True) -> dict:
  loss = get_loss("quadratic")
  rows = []
  jobs = [(d, m, s, seed) for d, m in cells for s in SCALES for seed in range(seeds)]
  with jax.enable_x64(True):
    for d, m, s, seed in tqdm(jobs, disable=not progress, desc="instances"):
      net, x = synthetic_instance(seed=seed, d=d, m=m, scale=s, dtype=jnp.float64)
      eps = 0.5 * float(jnp.linalg.norm(x))
      pr = no_interior_maximum(net, loss, x, 1.0, eps, max_regions=budget)
      pc = no_interior_critical(net, x, eps, max_regions=budget)
      t0 = time.perf_counter()
      hunt = (hunt_interior_critical(problem(net, loss, x, 1.0, eps=eps),
                                     key=jax.random.key(seed), n_starts=32)
              if d <= HUNT_MAX_D else None)
      rows.append({"d": d, "m": m, "s": s, "seed": seed, "eps": eps,
                   "status": pr.status, "regions": pr.regions, "live": pr.live,
                   "dimension": pr.dimension, "seconds": pr.seconds,
                   "first_order_status": pc.status, "first_order_regions": pc.regions,
                   "hunt_interior_maxima": None if hunt is None else int(hunt.interior_max),
                   "hunt_critical_points": None if hunt is None else int(hunt.found),
                   "hunt_seconds": time.perf_counter() - t0})
  return {"budget": budget, "seeds": seeds, "scales": list(SCALES),
          "cells": [list(c) for c in cells], "rows": rows, "versions": io.versions()}


def _hunted(rs) -> str:
  found = [r["hunt_interior_maxima"] for r in rs if r["hunt_interior_maxima"] is not None]
  return str(sum(found)) if found else "not run"


def table(res: dict) -> str:
  lines = ["| (d, m) | s | proved | first order alone | hunt: interior maxima | "
           "median regions | median seconds |", "|---|---|---|---|---|---|---|"]
  for d, m in res["cells"]:
    for s in res["scales"]:
      rs = [r for r in res["rows"] if (r["d"], r["m"], r["s"]) == (d, m, s)]
      if not rs:
        continue
      n = len(rs)
      lines.append(
          f"| ({d}, {m}) | {s:g} | {sum(r['status'] == 'proved' for r in rs)}/{n} | "
          f"{sum(r['first_order_status'] == 'proved' for r in rs)}/{n} | "
          f"{_hunted(rs)} | "
          f"{int(np.median([r['regions'] for r in rs]))} | "
          f"{np.median([r['seconds'] for r in rs]):.2g} |")
  return "\n".join(lines)


def main(argv=None) -> None:
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--json", help="write the results here (atomically)")
  p.add_argument("--seeds", type=int, default=8, help="networks per (d, m, s)")
  p.add_argument("--budget", type=int, default=20_000, help="regions per proof")
  p.add_argument("--table", help="print the table of a results file and stop")
  a = p.parse_args(argv)
  if a.table:
    print(table(json.load(open(a.table))))
    return
  res = run(CELLS, a.seeds, a.budget)
  if a.json:
    io.write_json_atomic(a.json, res)
  print(table(res))


if __name__ == "__main__":
  main()
