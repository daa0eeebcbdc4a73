"""p_global and the certified gap along the input scale s, on networks small enough for the
branch and bound to close (the ball, k = rank W = m coordinates).

Per scale s and network (seed; the unit): the paper's tanh network at (d, m) with input
scale s, the quadratic loss with y = 1, gamma = 0.5; a census per step rule (normalized,
armijo, grad0 and auto-PGD, each with the same budget of steps, which is one gradient per
step for every rule: armijo's trial values are reported as its evaluations) from the same
N uniform starts in the ball, then ``globalmax.global_maximum`` seeded with every rule's
maxima (one certified interval per network, shared by the rules). Reported per rule and s
(mean over the networks, with the smallest and largest): p_global (the share of restarts
ending at a certified maximum within 2 tol of the global maximum, tol = 1e-3 relative
the certified interval's width at most; unconverged restarts count as misses),
whether PGA's best is the global one, distinct maxima, median evaluations; per s
the branch and bound's closed share and regions, and the relaxation bound's relative
gap (``census --bound``). Page's L within networks for "p_global falls as s grows" (and the reverse), per rule.

Run:  python -m benchmarks.p_global --json benchmarks/results/p_global.json
      (about 5 minutes on 2 cores); the table again: --table PATH
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import jax
import numpy as np
from tqdm.auto import tqdm

from adv_landscape import api, io
from adv_landscape.globalmax import COUNT, global_maximum, p_global
from adv_landscape.instances import synthetic_instance
from adv_landscape.losses import get_loss
from adv_landscape.stats import page_trend

SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)
RULES = (("normalized", "normalized", 0.05), ("armijo", "armijo", 1.0),
         ("grad0", "grad0", 0.05), ("apgd", "apgd", 2.0))  # (label, rule, step c)


def run_instance(s: float, seed: int, *, d: int, m: int, n: int, budget: int,
                 rules=RULES) -> dict:
  net, x = synthetic_instance(seed=seed, d=d, m=m, scale=s, dtype=jax.numpy.float64)
  eps = 0.5 * float(np.linalg.norm(np.asarray(x)))
  runs, pts = {}, []
  for label, rule, step in rules:
    r = api.census(net, "quadratic", x, 1.0, eps=eps, n_restarts=n, step_rule=rule,
                   step=step, init="ball", max_steps=budget, seed=seed,
                   bound=label == rules[0][0])
    runs[label] = r
    pts += [mx.delta for mx in r.maxima]
  t0 = time.perf_counter()
  g = global_maximum(net, get_loss("quadratic"), x, 1.0, eps, "2",
                     points=np.asarray(pts) if pts else None)
  rec = {"s": s, "seed": seed, "closed": g.status == "certified", "lower": g.lower,
         "upper": g.upper, "tol": g.tol, "regions": g.regions, "dimension": g.dimension,
         "global_seconds": time.perf_counter() - t0,
         "bound_relative_gap": runs[rules[0][0]].summary.get("relative_gap"), "rules": {}}
  for rule, r in runs.items():
    best = r.summary["best_value"]
    res = r.run.result
    ev = res.evaluations if res.evaluations is not None else res.iterations
    rec["rules"][rule] = {
        "p_global": p_global([mx.value for mx in r.maxima], [mx.count for mx in r.maxima],
                             n, g),
        "best_is_global": bool(best >= g.upper - COUNT * g.tol) if rec["closed"] else None,
        "maxima": r.summary["distinct_maxima"],
        "certified": r.summary["certified_fraction"],
        "converged": r.summary["converged_fraction"],
        "median_evaluations": float(np.median(ev)),
        "values": [mx.value for mx in r.maxima], "counts": [mx.count for mx in r.maxima]}
  return rec


def summarise(records, rules=RULES) -> dict:
  labels = [label for label, *_ in rules]
  out = {"per_scale": {}, "trend": {}, "rules": labels}
  scales = sorted({r["s"] for r in records})
  seeds = sorted({r["seed"] for r in records})
  for s in scales:
    rs = [r for r in records if r["s"] == s]
    row = {"networks": len(rs), "closed": sum(r["closed"] for r in rs),
           "median_regions": statistics.median(r["regions"] for r in rs),
           "bound_relative_gap": statistics.mean(r["bound_relative_gap"] for r in rs
                                                 if r["bound_relative_gap"] is not None)}
    for rule in labels:
      vals = [r["rules"][rule]["p_global"] for r in rs if r["rules"][rule]["p_global"]
              is not None]
      row[rule] = {"p_global_mean": statistics.mean(vals) if vals else None,
                   "p_global_min": min(vals) if vals else None,
                   "p_global_max": max(vals) if vals else None,
                   # over the closed networks: is the rule's best certified maximum the global
                   # one (no certified maximum counts as no)
                   "best_is_global": sum(bool(r["rules"][rule]["best_is_global"]) for r in rs
                                         if r["closed"]),
                   "certified_mean": statistics.mean(r["rules"][rule]["certified"] for r in rs),
                   "converged_mean": statistics.mean(r["rules"][rule]["converged"] for r in rs),
                   "maxima_mean": statistics.mean(r["rules"][rule]["maxima"] for r in rs),
                   "evaluations_median": statistics.median(
                       r["rules"][rule].get("median_evaluations", np.nan) for r in rs)}
    # APGD against each other rule, paired within networks: higher / lower / tied p_global
    for rule in (lab for lab in labels if lab != "apgd" and "apgd" in labels):
      pairs = [(r["rules"]["apgd"]["p_global"], r["rules"][rule]["p_global"]) for r in rs
               if "apgd" in r["rules"] and r["rules"]["apgd"]["p_global"] is not None
               and r["rules"][rule]["p_global"] is not None]
      row[rule]["apgd_higher_lower_tied"] = [sum(a > b for a, b in pairs),
                                             sum(a < b for a, b in pairs),
                                             sum(a == b for a, b in pairs)]
    out["per_scale"][str(s)] = row
  for rule in labels:
    table = []
    for seed in seeds:
      row = [next((r["rules"][rule]["p_global"] for r in records
                   if r["seed"] == seed and r["s"] == s), None) for s in scales]
      if all(v is not None for v in row):
        table.append(row)
    down = page_trend([[-v for v in row] for row in table])
    up = page_trend(table)
    out["trend"][rule] = {"networks": len(table), "page_p_falls_with_s": down.pvalue,
                          "page_p_rises_with_s": up.pvalue}
  return out


def table(summary) -> str:
  lines = ["| s | closed | regions (median) | bound's relative gap | rule | p_global mean "
           "[min, max] | best certified is global (of closed) | distinct maxima | converged | "
           "certified | median of the networks' median evaluations | "
           "APGD higher / lower / tied |", "|---" * 12 + "|"]
  for s, row in summary["per_scale"].items():
    for k, rule in enumerate(summary.get("rules") or [lab for lab, *_ in RULES]):
      c = row.get(rule)
      if c is None:
        continue
      head = (f"| {s} | {row['closed']}/{row['networks']} | {row['median_regions']:.0f} | "
              f"{row['bound_relative_gap']:.3f} |" if k == 0 else "| | | | |")
      p = ("-" if c["p_global_mean"] is None else
           f"{c['p_global_mean']:.3f} [{c['p_global_min']:.3f}, {c['p_global_max']:.3f}]")
      ev = c.get("evaluations_median")
      cert = c.get("certified_mean")
      lines.append(f"{head} {rule} | {p} | {c['best_is_global']}/{row['closed']} | "
                   f"{c['maxima_mean']:.1f} | {c['converged_mean']:.3f} | "
                   f"{'-' if cert is None else f'{cert:.3f}'} | "
                   f"{'-' if ev is None or not np.isfinite(ev) else f'{ev:.0f}'} | "
                   f"{'/'.join(map(str, c.get('apgd_higher_lower_tied') or [])) or '-'} |")
  def p3(v):  # None: no trend test (a single scale)
    return "-" if v is None or not np.isfinite(v) else f"{v:.3g}"

  for rule, t in summary["trend"].items():
    lines.append(f"\n{rule}: Page's L over {t['networks']} networks, p_global falls with s: "
                 f"p = {p3(t['page_p_falls_with_s'])}; rises: p = {p3(t['page_p_rises_with_s'])}")
  return "\n".join(lines)


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--json", help="write the records, the summary and the configuration here")
  p.add_argument("--table", help="print the table of a saved --json and stop")
  p.add_argument("--seeds", type=int, default=8, help="networks per scale")
  p.add_argument("--restarts", type=int, default=128)
  p.add_argument("--budget", type=int, default=5000, help="steps per restart")
  p.add_argument("--d", type=int, default=32)
  p.add_argument("--m", type=int, default=4)
  p.add_argument("--scales", default=",".join(str(x) for x in SCALES))
  p.add_argument("--rules", default=None,
                 help="label=rule:step,... in place of the built-in rules (the first also "
                      "gets the relaxation bound; e.g. apgd-small=apgd:0.05)")
  args = p.parse_args(argv)
  rules = RULES
  if args.rules:
    rules = tuple((lab, spec.split(":")[0], float(spec.split(":")[1]))
                  for lab, spec in (item.split("=") for item in args.rules.split(",")))
  if args.table:
    with open(args.table) as f:
      saved = json.load(f)
    labels = saved["summary"].get("rules") or [lab for lab, *_ in RULES]
    print(table(summarise(saved["records"], tuple((lab, None, None) for lab in labels))))
    return 0
  if args.json:
    io.check_output_file(args.json, "json")
  jax.config.update("jax_enable_x64", True)
  scales = tuple(float(v) for v in args.scales.split(","))
  t0 = time.perf_counter()
  records = [run_instance(s, seed, d=args.d, m=args.m, n=args.restarts, budget=args.budget,
                          rules=rules)
             for s in tqdm(scales, desc="scales") for seed in range(args.seeds)]
  summary = summarise(records, rules)
  print(table(summary))
  if args.json:
    io.write_json_atomic(args.json, {"config": vars(args), "records": records,
                                     "summary": summary, "seconds": time.perf_counter() - t0,
                                     "versions": io.versions()})
  return 0


if __name__ == "__main__":
  raise SystemExit(main())
