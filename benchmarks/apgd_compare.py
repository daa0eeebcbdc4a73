"""PGA's step rules against auto-PGD (APGD, Croce and Hein 2020) at one budget of gradient
evaluations, on the paper's instances along the input scale s, with the suite's certificates.

Per norm (the l2 ball; the l_inf box), scale s and network (seed): a census per rule from
the same N uniform starts in the set (``ball`` / ``box``), each with the same budget of
``--budget`` steps, which is one gradient per step for every rule: equal gradient
evaluations (armijo also spends a value per trial, reported as its evaluations; a rule
given its own step budget in ``--rules``, e.g. armijo at a third of the steps, compares at
equal total evaluations). Reported per rule,
as the mean over the networks (the units) with the smallest and largest network:

  p_best     the fraction of restarts that end at a certified maximum with the best value
             any rule certified on that network (values equal to 1e-9 relative)
  maxima     distinct certified maxima
  certified  the certified fraction of restarts; converged: the converged fraction
  gap        (best value any rule certified - the rule's best certified) / |best|
  p_value    the fraction of restarts whose endpoint, certified or not, has L within 1e-6
             relative of the best value any rule reached (what an attack is judged by: an
             unconverged endpoint near a maximum with ||G|| ~ 1e-4 is within ~1e-8 of it)
  value_gap  (best value reached by any rule - the rule's best endpoint value) / |best|
  median iterations (steps), and median evaluations

The best "known" maximum is only the best that any of these rules found: p_best and
p_value are relative to it, not to the global maximum (a later issue).

Run:  python -m benchmarks.apgd_compare --json benchmarks/results/apgd_compare.json
      (about 20 minutes on 2 cores); the table again: --table PATH
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
from adv_landscape.instances import synthetic_instance

# per norm: (label, step rule, step c)
RULES = {"2": (("grad0", "grad0", 0.05), ("normalized", "normalized", 0.05),
               ("armijo", "armijo", 1.0), ("apgd", "apgd", 2.0)),
         "inf": (("sign", "sign", 0.05), ("grad0", "grad0", 0.05), ("armijo", "armijo", 1.0),
                 ("apgd", "apgd", 2.0))}
SCALES = (0.25, 1.0, 4.0)
SAME = 1e-9  # two certified values within this relative distance are one best value
REACH = 1e-6  # an endpoint within this relative distance of the best value reached it


def run_instance(norm: str, s: float, seed: int, *, d: int, m: int, n: int, budget: int,
                 rules=None):
  """The census of every rule on one network; per rule its measures (p_best from the best
  value certified by any rule on this network)."""
  net, x = synthetic_instance(seed=seed, d=d, m=m, scale=s, dtype=jax.numpy.float64)
  out = {}
  for label, rule, step, *steps in rules or RULES[norm]:
    t0 = time.perf_counter()
    r = api.census(net, "quadratic", x, 1.0, gamma=0.5, n_restarts=n, step_rule=rule,
                   step=step, init="ball" if norm == "2" else "box",
                   max_steps=int(steps[0]) if steps else budget,
                   seed=seed, norm=norm)
    res = r.run.result
    ev = res.evaluations if res.evaluations is not None else res.iterations
    out[label] = {"values": [mx.value for mx in r.maxima], "counts": [mx.count for mx in r.maxima],
                 "maxima": len(r.maxima), "certified": r.summary["certified_fraction"],
                 "converged": r.summary["converged_fraction"],
                 "median_iterations": float(np.median(res.iterations)),
                 "median_evaluations": float(np.median(ev)),
                 "endpoint_values": np.asarray(res.values, np.float64),
                 "seconds": time.perf_counter() - t0}
  best = max((v for o in out.values() for v in o["values"]), default=float("nan"))
  reached = max(float(np.max(o["endpoint_values"])) for o in out.values())
  for o in out.values():
    near = [c for v, c in zip(o["values"], o["counts"]) if v >= best - SAME * abs(best)]
    o["p_best"] = sum(near) / n
    o["gap"] = ((best - max(o["values"])) / abs(best)) if o["values"] else float("nan")
    ends = o.pop("endpoint_values")
    o["p_value"] = float(np.mean(ends >= reached - REACH * abs(reached)))
    o["value_gap"] = (reached - float(np.max(ends))) / abs(reached)
  return {"norm": norm, "s": s, "seed": seed, "best": best, "best_reached": reached,
          "rules": out}


MEASURES = ("p_best", "maxima", "certified", "converged", "gap", "p_value", "value_gap",
            "median_iterations", "median_evaluations")


def summarise(records: list[dict], rules=None) -> list[dict]:
  """Per (norm, s, rule): the mean over networks of each measure, and its range."""
  rows = []
  keys = sorted({(r["norm"], r["s"]) for r in records}, key=lambda k: (k[0] != "2", k[1]))
  for norm, s in keys:
    recs = [r for r in records if r["norm"] == norm and r["s"] == s]
    for rule, *_ in rules or RULES[norm]:
      row = {"norm": norm, "s": s, "rule": rule, "networks": len(recs)}
      for k in MEASURES:
        vals = [v for r in recs if (v := r["rules"][rule][k]) is not None and np.isfinite(v)]
        row[k] = statistics.fmean(vals) if vals else float("nan")
        row[k + "_range"] = [min(vals), max(vals)] if vals else None
      rows.append(row)
  return rows


def table(rows: list[dict]) -> str:
  head = ("| set | s | rule | p_best | distinct maxima | certified | converged | p_value | "
          "value gap | median steps | median evaluations |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|")
  lines = [head]
  def rng(r, k, f):
    lo, hi = r[k + "_range"] or (float("nan"),) * 2
    return f"{r[k]:{f}} [{lo:{f}}, {hi:{f}}]"

  for r in rows:
    lines.append(f"| {'l2' if r['norm'] == '2' else 'l_inf'} | {r['s']:g} | {r['rule']} | "
                 f"{rng(r, 'p_best', '.2f')} | {rng(r, 'maxima', '.1f')} | {rng(r, 'certified', '.2f')} | "
                 f"{rng(r, 'converged', '.2f')} | {rng(r, 'p_value', '.2f')} | {r['value_gap']:.1e} | "
                 f"{r['median_iterations']:.0f} | "
                 f"{r['median_evaluations']:.0f} |")
  return "\n".join(lines)


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--json", help="write the records, the summary and the configuration here")
  p.add_argument("--table", help="print the table of a saved --json and stop")
  p.add_argument("--seeds", type=int, default=8, help="networks per (set, scale)")
  p.add_argument("--restarts", type=int, default=256)
  p.add_argument("--budget", type=int, default=2000, help="steps per restart, every rule")
  p.add_argument("--d", type=int, default=32)
  p.add_argument("--m", type=int, default=128)
  p.add_argument("--norms", default="2,inf", help="comma-separated: 2, inf")
  p.add_argument("--scales", default=",".join(str(x) for x in SCALES))
  p.add_argument("--rules", default=None,
                 help="label=rule:step[:steps],... in place of the built-in rules (one list for "
                      "every norm; e.g. apgd-small=apgd:0.05 for APGD from a short first step, "
                      "armijo-third=armijo:1:667 for armijo with its own step budget)")
  args = p.parse_args(argv)
  rules = None
  if args.rules:
    rules = tuple((lab, *spec.split(":")) for lab, spec in
                  (item.split("=") for item in args.rules.split(",")))
    rules = tuple((lab, rule, float(c), *(int(n) for n in steps))
                  for lab, rule, c, *steps in rules)
  if args.table:
    with open(args.table) as f:
      saved = json.load(f)
    rs = saved["config"].get("custom_rules")
    print(table(summarise(saved["records"], tuple(tuple(r) for r in rs) if rs else None)))
    return 0
  if args.json:
    io.check_output_file(args.json, "json")
  jax.config.update("jax_enable_x64", True)
  norms = args.norms.split(",")
  scales = tuple(float(x) for x in args.scales.split(","))
  cells = [(norm, s, seed) for norm in norms for s in scales for seed in range(args.seeds)]
  records, t0 = [], time.perf_counter()
  for norm, s, seed in tqdm(cells, desc="instances"):
    records.append(run_instance(norm, s, seed, d=args.d, m=args.m, n=args.restarts,
                                budget=args.budget, rules=rules))
  rows = summarise(records, rules)
  print(table(rows))
  if args.json:
    io.write_json_atomic(args.json, {
        "records": records, "summary": rows, "seconds": time.perf_counter() - t0,
        "config": {"d": args.d, "m": args.m, "activation": "tanh", "loss": "quadratic",
                   "y": 1.0, "gamma": 0.5, "restarts": args.restarts, "budget": args.budget,
                   "seeds": args.seeds, "scales": scales, "rules": RULES, "same": SAME,
                   "custom_rules": rules,
                   "reach": REACH},
        "versions": io.versions()})
  return 0


if __name__ == "__main__":
  raise SystemExit(main())
