"""The paper's claims as batch checks over sweep records (docs/theory.md section 6), each able to fail.

Each check returns ``{claim, grid, statistic, threshold, verdict, ci, seconds,
details, would_fail}`` with ``verdict`` in holds / fails / mixed (or
``untested`` where the records cannot decide). The one registry of claims is
``verify.CLAIM_SPECS`` (each claim's check, grid points, records and report
text); ``verify`` runs every check on the main grid and on planted controls,
instance families on which the claim is known to be false, through the same
function.

Statistics resample instances (seeds), never the restarts of one instance;
see ``stats``.

>>> point = {"d": 8, "m": 16, "s": 1.0, "loss": "quadratic", "step_rule": "grad0",
...          "init": "ball", "seed": 0, "family": "paper"}
>>> rec = {"point": point, "on_sphere_fraction": 1.0, "interior_endpoints": 0,
...        "interior_maxima_at_endpoints": 0, "hunt": None, "seconds": 1.0}
>>> claim_a([rec])["verdict"]
'holds'
>>> claim_a([dict(rec, interior_maxima_at_endpoints=3)])["verdict"]
'fails'
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
from scipy.stats import binom

from adv_landscape.stats import (
    growth_power,
    growth_test,
    holm,
    km_median,
    page_trend,
    unit_slope_fit,
)

__all__ = ["claim_a", "claim_b", "claim_c", "claim_d", "claim_g", "P_GLOBAL_THRESHOLD",
           "CERTIFIED_THRESHOLD",
           "CONVERGED_THRESHOLD", "TREND_ALPHA", "INTERIOR_MAX_SHARE", "GROWTH_AXES",
           "bound_ratios", "units"]

CERTIFIED_THRESHOLD = 0.95  # B: certified boundary maxima among ALL restarts, per group
CONVERGED_THRESHOLD = 0.95  # B: restarts that met ||G|| <= tol_g within budget, per group
TREND_ALPHA = 0.05  # C: Page's L test of an increasing trend in s, one-sided
INTERIOR_MAX_SHARE = 0.05  # A: instances with an interior maximum tolerated as "mixed"
GROWTH_AXES = {"B-d": "d", "B-m": "m", "B-tol": "inv_tol_g", "B-halvings": "step_halvings",
               "B-d-armijo": "d", "D-d-armijo": "d"}  # D-d-armijo: each other loss's d axis


def _axis_label(study: str, axis: str) -> str:
  """The name of a growth fit: the axis, with the step rule when it is not the curvature one
  ("d/armijo": the same axis under backtracking steps, which follow the landscape)."""
  return f"{axis}/armijo" if study.endswith("-armijo") else axis


def units(records) -> int:
  """The independent units of a set of records: distinct networks. A network is drawn from
  (seed, d, m) (and the family and depth that shape it); restarts of one network, and the
  same network at another input scale or step rule, are not new units."""
  return len({(r["point"]["seed"], r["point"]["d"], r["point"]["m"],
               r["point"].get("family", "paper"), r["point"].get("depth", 1))
              for r in records})


def _grid(records, keys) -> dict:
  return {k: sorted({r["point"].get(k) for r in records}, key=str) for k in keys}


def _seconds(records) -> float:
  return float(sum(r["seconds"] for r in records))


def _where(r) -> str:
  p = r["point"]
  return (f"d={p['d']} m={p['m']} s={p['s']} loss={p['loss']} seed={p['seed']} "
          f"init={p.get('init')} family={p.get('family', 'paper')}")


def _proof_a(records: list[dict]) -> dict:
  """A proved per instance (the records' ``proof_a``): counts by status and by scale. An
  instance not proved within the budget is undecided, not evidence against A."""
  status = [r["proof_a"]["status"] for r in records]
  by_scale = defaultdict(lambda: [0, 0])
  for r, st in zip(records, status):
    by_scale[r["point"]["s"]][0] += st == "proved"
    by_scale[r["point"]["s"]][1] += 1
  return {"instances": len(records), "proved": status.count("proved"),
          "undecided": status.count("budget"),
          "not_available": sum(st.startswith("not available") for st in status),
          "budget": max((r["point"].get("prove", 0) for r in records), default=None),
          "cells": sorted({(r["point"]["d"], r["point"]["m"]) for r in records}),
          "by_scale": {f"{s:g}": {"proved": p, "instances": n}
                       for s, (p, n) in sorted(by_scale.items())},
          "seconds": float(sum(r["proof_a"]["seconds"] for r in records))}


def claim_a(records: list[dict], *, seed: int = 0) -> dict:
  """A: no local maximum inside the ball.

  Evidence: PGA endpoints from sphere, ball and zero starts, classified by
  the spectrum of hess L where they are interior critical points; and the
  hunt's non-trivial interior critical points (zeros of grad f). The loss's
  own stationary points (l'(f) = 0, global minima) are counted apart and are
  not evidence. Holds when no interior local maximum is seen; mixed when one
  is seen on at most ``INTERIOR_MAX_SHARE`` of the instances; fails above.
  """
  by_init = defaultdict(lambda: {"instances": 0, "endpoints_inside": 0, "interior_maxima": 0})
  bad_instances = 0
  for r in records:
    g = by_init[r["point"].get("init", "sphere")]
    g["instances"] += 1
    g["endpoints_inside"] += int(r["interior_endpoints"])
    g["interior_maxima"] += int(r["interior_maxima_at_endpoints"])
  hunts = [r for r in records if r.get("hunt")]
  found = sum(r["hunt"]["found"] for r in hunts)
  trivial = sum(r["hunt"].get("trivial_minima", 0) for r in hunts)
  hunt_max = sum(r["hunt"]["interior_max"] for r in hunts)
  lam = [r["hunt"]["min_lambda_max"] for r in hunts if r["hunt"]["min_lambda_max"] is not None]
  inside = [r["hunt"].get("candidates_inside") for r in hunts]
  limits = [r["hunt"]["detection_limit"] for r in hunts if "detection_limit" in r["hunt"]]
  basins = [mx["basin"] for r in hunts for mx in r["hunt"].get("interior_maxima", [])]
  proof = _proof_a([r for r in records if r.get("proof_a")])
  del seed  # no resampling: A counts
  where = []
  for r in records:
    if r["interior_maxima_at_endpoints"] or (r.get("hunt") and r["hunt"]["interior_max"]):
      bad_instances += 1
      where.append(_where(r))
  share = bad_instances / max(len(records), 1)
  verdict = ("holds" if bad_instances == 0 else
             "mixed" if share <= INTERIOR_MAX_SHARE else "fails")
  on = [r["on_sphere_fraction"] for r in records]
  return {
      "claim": "A", "grid": _grid(records, ("d", "m", "s", "loss", "step_rule", "init")),
      "statistic": {"instances_with_interior_max": bad_instances,
                    "share_with_interior_max": share,
                    "interior_maxima_at_endpoints": sum(g["interior_maxima"]
                                                        for g in by_init.values()),
                    "hunt_interior_maxima": hunt_max, "hunt_nontrivial_critical": found,
                    "hunt_trivial_minima": trivial,
                    "hunt_candidates_inside": (sum(inside) if None not in inside else None),
                    "min_lambda_max_at_nontrivial": min(lam) if lam else None,
                    "min_on_sphere_fraction": float(min(on)) if on else None,
                    "proved_instances": proof["proved"]},
      "threshold": f"no interior local maximum (mixed if on <= {INTERIOR_MAX_SHARE:.0%} of "
                   f"instances)",
      "verdict": verdict, "ci": None, "seconds": _seconds(records),
      "details": {"instances": len(records), "hunted_instances": len(hunts),
                  # the largest (weakest) per-instance limit: a basin at least this large
                  # would have been hit with probability 0.95 on every hunted instance
                  "detection_limit": max(limits) if limits else None,
                  "hunt_starts": sorted({r["hunt"].get("f_starts") for r in hunts}, key=str),
                  "basins_of_found_maxima": basins[:20],
                  "by_init": dict(by_init), "where_interior_maxima": where[:20],
                  "proof": proof},
      "would_fail": "a PGA endpoint or a hunted zero of grad f strictly inside the ball "
                    "where hess L is negative definite, on more than 5% of instances (the hunt "
                    "hits, with probability 0.95, any maximum whose basin is at least "
                    "detection_limit of the ball)",
  }


def _axis_value(r, axis):
  p = r["point"]
  return 1.0 / p["rtol_g"] if axis == "inv_tol_g" else float(p[axis])


def _instance_median(r) -> tuple[float, bool]:
  if "km_median_iterations" in r:
    return float(r["km_median_iterations"]), bool(r["km_median_censored"])
  m = km_median(r["iterations"], r["converged"])
  return m.value, m.censored


def _residual_sd(xs, ys, units) -> float:
  """The per-instance noise of log y around each unit's own log-log line (pooled SD)."""
  lx, ly, u = np.log(np.asarray(xs, float)), np.log(np.asarray(ys, float)), np.asarray(units)
  res, dof = [], 0
  for k in np.unique(u):
    a, b = lx[u == k], ly[u == k]
    if np.unique(a).size >= 3:
      fit = np.polyfit(a, b, 1)
      res.append(b - np.polyval(fit, a))
      dof += a.size - 2
  if not res or dof < 1:
    return float("nan")
  r = np.concatenate(res)
  return float(np.sqrt(np.sum(r * r) / dof))


def _t1_median(r) -> float:
  t1 = np.asarray(r.get("t1", []), np.float64)
  t1 = t1[np.isfinite(t1)] if t1.size else t1
  return float(np.median(t1)) if t1.size else float("nan")


def _exponents(records, seed, *, power_sims: int = 200):
  """Per study axis: the exponent of the per-instance medians of t and of eta * t (a t
  interval on per-seed slopes), the growth model (one symmetric rule; the tolerance axis
  also tries the logarithmic model of linear convergence), the rule's power at the
  measured noise, and T1's own exponent (the growth the theorem allows)."""
  fits = {}
  # one fit per label: studies that share a label (B's and D's d axes under armijo) are one
  # axis, so a record of both counts once and no fit overwrites another
  labels = defaultdict(list)
  for study, axis in GROWTH_AXES.items():
    labels[(_axis_label(study, axis), axis)].append(study)
  for (label, axis), studies in labels.items():
    rs = [r for r in records if any(s in r.get("studies", []) for s in studies)]
    if len({_axis_value(r, axis) for r in rs}) < 2:
      continue
    xs = [_axis_value(r, axis) for r in rs]
    meds = [max(_instance_median(r)[0], 1.0) for r in rs]
    eta_t = [max(_instance_median(r)[0], 1.0) * r.get("eta_median", r["eta_max"]) for r in rs]
    seeds = [r["point"]["seed"] for r in rs]
    fit = unit_slope_fit(xs, meds, seeds)
    fit_eta = unit_slope_fit(xs, eta_t, seeds)
    evals = [r.get("median_evaluations") for r in rs]  # the armijo rule's cost
    fit_ev = (unit_slope_fit(xs, [max(v, 1.0) for v in evals], seeds)
              if None not in evals else None)
    models = (("polynomial", "exponential", "logarithmic") if axis == "inv_tol_g"
              else ("polynomial", "exponential"))
    growth = growth_test(xs, meds, seeds, models=models)
    grid = sorted(set(xs))
    sigma = _residual_sd(xs, meds, seeds)
    power = (growth_power(grid, fit.units, slope=fit.slope, sigma=sigma, models=models,
                          n_sim=power_sims, seed=seed)
             if len(grid) >= 3 and np.isfinite(sigma) and np.isfinite(fit.slope) else None)
    t1s = [_t1_median(r) for r in rs]
    keep = [i for i, t in enumerate(t1s) if np.isfinite(t) and t > 0]
    bound = (unit_slope_fit([xs[i] for i in keep], [t1s[i] for i in keep],
                            [seeds[i] for i in keep]).slope if len(keep) >= 2 else None)
    fits[label] = {"slope": fit.slope, "ci": list(fit.ci), "instances": fit.n,
                   "seeds": fit.units, "eta_t_slope": fit_eta.slope,
                   "eta_t_ci": list(fit_eta.ci), "polynomial": growth.polynomial,
                   "evaluations_slope": fit_ev.slope if fit_ev else None,
                   "evaluations_ci": list(fit_ev.ci) if fit_ev else None,
                   "growth": growth.verdict, "semilog_advantage": growth.advantage,
                   "semilog_advantage_se": growth.noise, "heldout_errors": growth.errors,
                   "loglog_heldout_error": growth.loglog_error,
                   "semilog_heldout_error": growth.semilog_error,
                   "local_slopes": growth.local_slopes, "stable": growth.stable,
                   "censored_instances": int(sum(_instance_median(r)[1] for r in rs)),
                   "values": grid,
                   "units_per_value": [len({s for x, s in zip(xs, seeds) if x == g})
                                       for g in grid],
                   "noise_sd_log": sigma, "power": power,
                   "bound_exponent": bound,
                   "below_bound": (None if bound is None or not np.isfinite(fit.ci[1])
                                   else bool(fit.ci[1] <= bound))}
  return fits


def claim_b(records: list[dict], *, seed: int = 0) -> dict:
  """B: PGA reaches a certified local maximum on the sphere in polynomially many steps.

  Per (loss, step rule) group: the converged fraction and the certified
  (boundary_local_max) fraction of ALL restarts must each be >=
  ``CONVERGED_THRESHOLD`` / ``CERTIFIED_THRESHOLD``. Where eta <= 1/ell
  (rigorous ell) no count may exceed T1. For each growth study present
  (``GROWTH_AXES``) the per-instance Kaplan-Meier medians must not grow
  exponentially (``stats.growth_test``: one symmetric rule, polynomial, exponential,
  for the tolerance axis logarithmic, or inconclusive); exponents carry t intervals
  over seeds and the rule's power at the measured noise (``stats.growth_power``).
  Holds when all of these pass; fails on a T1
  violation, an exponential growth (the semi-log model wins beyond the
  noise), or when every group misses a threshold; mixed when some groups
  do, or when the growth test cannot tell polynomial from exponential.
  """
  groups = defaultdict(list)
  for r in records:
    groups[(r["point"]["loss"], r["point"]["step_rule"])].append(r)
  per_group, failing = {}, []
  for (loss, rule), rs in sorted(groups.items()):
    n = sum(len(r["iterations"]) for r in rs)
    conv = sum(int(np.sum(r["converged"])) for r in rs) / max(n, 1)
    cert = sum(r["certified_fraction"] * len(r["iterations"]) for r in rs) / max(n, 1)
    meds = [_instance_median(r) for r in rs]
    eta_t = [m[0] * r.get("eta_median", r["eta_max"]) for m, r in zip(meds, rs)]
    ok = conv >= CONVERGED_THRESHOLD and cert >= CERTIFIED_THRESHOLD
    per_group[f"{loss}/{rule}"] = {
        "instances": len(rs), "restarts": n, "converged_fraction": conv,
        "certified_fraction": cert, "median_of_instance_medians":
            float(np.median([m[0] for m in meds])),
        "censored_instances": int(sum(m[1] for m in meds)),
        "median_eta_t": float(np.median(eta_t)), "passes": ok}
    if not ok:
      failing.append(f"{loss}/{rule}")
  viol = int(sum(r["t1_violations"] for r in records))
  theorem = [r for r in records if r["theorem_applies"]]
  # the inequality T1 rests on, at every step of the traced runs where eta <= 1/ell
  inc = [r["sufficient_increase"] for r in theorem if r.get("sufficient_increase")]
  inc_viol = int(sum(x["violations"] for x in inc))
  inc_steps = int(sum(x["steps"] for x in inc))
  ratios = [x["min_ratio"] for x in inc if x.get("min_ratio") is not None]
  r1, r2 = bound_ratios(records)
  fits = _exponents(records, seed)
  exponential = [a for a, f in fits.items() if f["growth"] == "exponential"]
  inconclusive = [a for a, f in fits.items() if f["growth"] == "inconclusive"]
  # The units: networks, but a growth exponent's t interval is over per-seed slopes, so an
  # axis rests on its seeds (a seed's networks along d are one curve, one unit).
  n_units = min([units(records)] + [f["seeds"] for f in fits.values()])
  if viol or inc_viol or exponential or (failing and len(failing) == len(per_group)):
    verdict = "fails"
  elif failing or inconclusive:
    verdict = "mixed"
  else:
    verdict = "holds"
  n = sum(len(r["iterations"]) for r in records)
  return {
      "claim": "B", "grid": _grid(records, ("d", "m", "s", "rtol_g", "step_rule", "loss")),
      "statistic": {"converged_fraction": sum(int(np.sum(r["converged"])) for r in records)
                    / max(n, 1),
                    "certified_fraction_of_all": sum(r["certified_fraction"]
                                                     * len(r["iterations"]) for r in records)
                    / max(n, 1),
                    "groups_failing": failing, "t1_violations": viol,
                    "increase_violations": inc_viol, "increase_steps_checked": inc_steps,
                    "increase_min_ratio": min(ratios) if ratios else None, "exponents": fits,
                    "not_polynomial": exponential, "growth_inconclusive": inconclusive,
                    "max_ratio_to_t1": float(r1.max()) if r1.size else None,
                    "median_ratio_to_t1": float(np.median(r1)) if r1.size else None,
                    "median_ratio_to_t2": float(np.median(r2)) if r2.size else None},
      "threshold": f"per (loss, step rule): converged >= {CONVERGED_THRESHOLD} and certified "
                   f">= {CERTIFIED_THRESHOLD} of all restarts; where eta <= 1/ell every traced "
                   f"step increases L by at least (eta/2) ||G||^2 (the inequality T1 rests on) "
                   f"and no count exceeds T1; per growth axis one symmetric rule: the model "
                   f"(polynomial, exponential, and logarithmic on the tolerance axis) with the "
                   f"smaller misfit of log t on each seed's curve wins by max(0.01, t SE) over "
                   f"seeds (exponential fails, inconclusive is mixed)",
      "verdict": verdict, "ci": next(iter(fits.values()), {}).get("ci"),
      "seconds": _seconds(records), "units": n_units,
      "details": {"instances": len(records), "endpoints": n, "per_group": per_group,
                  "axes": {a: {"values": f["values"], "units_per_value": f["units_per_value"],
                               "exponent": f["slope"], "ci": f["ci"],
                               "bound_exponent": f["bound_exponent"],
                               "below_bound": f["below_bound"], "growth": f["growth"],
                               "evaluations_exponent": f["evaluations_slope"],
                               "evaluations_ci": f["evaluations_ci"],
                               "noise_sd_log": f["noise_sd_log"]} for a, f in fits.items()},
                  "power": {a: f["power"] for a, f in fits.items()},
                  "theorem_instances": len(theorem),
                  "no_bound_claimed_instances": len(records) - len(theorem)},
      "would_fail": "a (loss, step rule) group with under 95% of restarts converged or "
                    "certified, a step with eta <= 1/ell that increased L by less than "
                    "(eta/2) ||G||^2, a count above T1, or counts that an exponential model "
                    "fits better than every other by more than the noise across seeds",
  }


def _median_or_nan(values) -> float:
  """Median of the available values (None, a NaN written to JSON, means not available)."""
  got = [v for v in values if v is not None]
  return float(np.median(got)) if got else float("nan")


def bound_ratios(records) -> tuple[np.ndarray, np.ndarray]:
  """Converged counts over T1 (where T1 is a theorem, eta <= 1/ell) and over T2."""
  def ratios(rs, key):
    parts = [np.asarray(r["iterations"], float)[np.asarray(r["converged"])]
             / np.asarray(r[key], float)[np.asarray(r["converged"])] for r in rs
             if r[key] is not None and None not in r[key]]
    return np.concatenate(parts) if parts else np.array([])
  return ratios([r for r in records if r["theorem_applies"]], "t1"), ratios(records, "t2")


def _trend_table(records, value):
  """(seeds x scales) table of value(record) for records sharing a step rule."""
  scales = sorted({r["point"]["s"] for r in records})
  seeds = sorted({(r["point"]["seed"], r["point"]["d"], r["point"]["m"]) for r in records})
  table = np.full((len(seeds), len(scales)), np.nan)
  for r in records:
    p = r["point"]
    table[seeds.index((p["seed"], p["d"], p["m"])), scales.index(p["s"])] = value(r)
  return scales, table[~np.isnan(table).any(axis=1)]


def _km_or_inf(r):
  med, censored = _instance_median(r)
  return math.inf if censored else med


def _basin_entropy(r) -> float:
  """The entropy -sum q log q of the certified maxima's basin shares q (0 for one maximum):
  a continuous regularity measure beside the count (rare maxima weigh little)."""
  got = r.get("basin_fractions")
  f = np.asarray([] if got is None else got, np.float64)
  f = f[f > 0]
  if f.size == 0:
    return 0.0
  q = f / f.sum()
  return float(-np.sum(q * np.log(q)))


# C's measures: name -> the value of a record. C predicts that each grows with s; each is
# tested both ways (an increase supports C, a decrease contradicts it).
C_MEASURES = {
    "iterations": _km_or_inf,
    "distinct_maxima": lambda r: float(r["distinct_maxima"]),
    "basin_entropy": _basin_entropy,
}
# Step rules whose step is set by the rigorous ell: their counts measure the bound (its
# looseness grows with s: rigorous ell / ell_est 11.6 -> 57.3 over s = 1/4 .. 4), not the
# landscape, so they are reported and kept out of C's verdict (control C-ell-inflated).
BOUND_RULES = ("lipschitz",)


def _shape(medians) -> str:
  """The profile of the per-scale medians: 'peak at index k' when they rise to an interior
  maximum and fall after it, 'trough at index k' for the reverse, else 'monotone'."""
  m = np.asarray(medians, np.float64)  # +inf (a censored median) is the largest
  if m.size < 3:
    return "monotone"
  k = int(np.argmax(m))
  if 0 < k < m.size - 1 and m[-1] < m[k] and m[0] < m[k]:
    return f"peak at index {k}"
  k = int(np.argmin(m))
  if 0 < k < m.size - 1 and m[-1] > m[k] and m[0] > m[k]:
    return f"trough at index {k}"
  return "monotone"


def _cell(r: dict) -> tuple[int, int]:
  return int(r["point"]["d"]), int(r["point"]["m"])


def _main_cell(records: list[dict]) -> tuple[int, int] | None:
  """C's main (d, m) cell: the one with the most records, the smallest on a tie."""
  counts = defaultdict(int)
  for r in records:
    counts[_cell(r)] += 1
  return min(counts, key=lambda c: (-counts[c], c)) if counts else None


def _c_group(r: dict, main: tuple[int, int] | None) -> str:
  """C's group of a record: its step rule at the main cell, "rule at (d, m) = (.., ..)" at any
  other, so that each cell's seeds stay blocks of their own (a seed's network differs
  between cells)."""
  rule = r["point"]["step_rule"]
  return rule if _cell(r) == main else f"{rule} at (d, m) = {_cell(r)}"


def claim_c(records: list[dict], *, seed: int = 0) -> dict:
  """C: at fixed gamma, a smaller input scale gives faster convergence and a
  more regular landscape (fewer distinct maxima, a more concentrated basin share).

  For each step rule (at each (d, m) cell: a rule at a cell other than the
  main one is its own group, ``_c_group``) and each measure of ``C_MEASURES`` (the Kaplan-Meier
  median iteration count, a censored median ranking above every finite one;
  the number of distinct maxima; the basin entropy), a table seeds x scales
  (the same network at every scale of a seed, so a seed is a block; the maxima
  measures leave out the scales where the rule converged on fewer than
  ``CONVERGED_THRESHOLD`` of its restarts, since unconverged restarts are not
  counted as maxima), tested
  both ways by Page's L (an increasing trend in s supports C, a decreasing one
  contradicts it), the p-values Holm-adjusted over the (rule, measure) groups
  in each direction. A group *supports* C when its increase is significant
  and its medians do not peak inside the scale range (rise, then fall: named
  in the report), *contradicts* it when its decrease is significant, else
  shows *no trend*; a group whose table cannot reach significance at all
  (the smallest attainable p, (1/k!)^n for n seeds and k scales, times the
  number of groups, is at least alpha) is *untestable* and not counted. The
  claim fails when any group contradicts it or none supports it, holds when
  every group supports it, and is mixed otherwise.
  Rules whose step is set by the rigorous ell (``BOUND_RULES``) are reported
  and not counted. The log-log slope of the per-instance medians against s is
  reported beside it as a size (a t interval on per-seed slopes).
  """
  by_rule, main = defaultdict(list), _main_cell(records)
  for r in records:
    by_rule[_c_group(r, main)].append(r)
  rules, groups = {}, []
  for rule, rs in sorted(by_rule.items()):
    step_rule, cell = rs[0]["point"]["step_rule"], _cell(rs[0])
    info = {"by_scale": {}, "counted": step_rule not in BOUND_RULES, "measures": {},
            "step_rule": step_rule, "cell": list(cell)}
    # The landscape measures count certified maxima, so a scale where this rule's restarts
    # mostly fail to converge undercounts them (a "fall" that is non-convergence): those
    # scales are dropped from the maxima measures (the iterations censor instead).
    conv = {s_: float(np.mean(np.concatenate([r["converged"] for r in rs
                                               if r["point"]["s"] == s_])))
            for s_ in {r["point"]["s"] for r in rs}}
    unconverged = sorted(s_ for s_, c in conv.items() if c < CONVERGED_THRESHOLD)
    info["unconverged_scales"] = unconverged
    for name, value in C_MEASURES.items():
      sub = rs if name == "iterations" else [r for r in rs if r["point"]["s"] not in unconverged]
      scales, table = _trend_table(sub, value)
      up, down = page_trend(table), page_trend(table[:, ::-1] if table.size else table)
      meds = [float(np.median(table[:, j])) for j in range(table.shape[1])] if table.size else []
      shape = _shape(meds)
      info["measures"][name] = {"page_p_increasing": up.pvalue, "page_p_decreasing": down.pvalue,
                                "seeds": up.blocks, "medians": meds, "shape": shape,
                                "peak_scale": (scales[int(shape.split()[-1])]
                                               if shape.startswith("peak") else None),
                                "scales": scales, "table": table.tolist()}
      if info["counted"]:
        groups.append((rule, name))
    scales = sorted({r["point"]["s"] for r in rs})
    fit = unit_slope_fit([r["point"]["s"] for r in rs],
                         [max(_instance_median(r)[0], 1.0) for r in rs],
                         [r["point"]["seed"] for r in rs])
    for s in scales:
      at = [r for r in rs if r["point"]["s"] == s]
      info["by_scale"][str(s)] = {
          "median_iterations": float(np.median([_instance_median(r)[0] for r in at])),
          "censored_instances": int(sum(_instance_median(r)[1] for r in at)),
          "converged_fraction": conv[s],
          "distinct_maxima": float(np.mean([r["distinct_maxima"] for r in at])),
          "best_basin_fraction": float(np.mean([r["p_best"] for r in at])),
          "basin_entropy": float(np.mean([_basin_entropy(r) for r in at])),
          "kappa": _median_or_nan([r["kappa"] for r in at]),
          "kappa_sampled": _median_or_nan([r["kappa_sampled"] for r in at])}
    info.update(iterations_slope=fit.slope, iterations_ci=list(fit.ci), seeds=len(
        {r["point"]["seed"] for r in rs}))
    rules[rule] = info
  # Holm over the counted groups, each direction its own family
  adj_up = holm([rules[r]["measures"][m]["page_p_increasing"] for r, m in groups])
  adj_down = holm([rules[r]["measures"][m]["page_p_decreasing"] for r, m in groups])
  for (rule, name), pu, pd in zip(groups, adj_up, adj_down):
    g = rules[rule]["measures"][name]
    g.update(holm_p_increasing=float(pu), holm_p_decreasing=float(pd))
    # The smallest p Page's L can give (a perfect ordering in every block, (1/k!)^n),
    # times Holm's first multiplier: at or above alpha the group cannot reach
    # significance either way, and "no trend" there would be a verdict without power.
    k, n = len(g["medians"]), g["seeds"]
    g["min_attainable_p"] = (float(len(groups) * math.factorial(k) ** -float(n))
                             if k and n else None)
    g["verdict"] = ("untested" if not np.isfinite(pu) else
                    "untestable" if g["min_attainable_p"] >= TREND_ALPHA else
                    "contradicts" if pd < TREND_ALPHA else
                    "supports" if pu < TREND_ALPHA and g["peak_scale"] is None else
                    "peak" if pu < TREND_ALPHA else "no trend")
  for info in rules.values():
    for g in info["measures"].values():
      if not info["counted"]:
        g["verdict"] = "not counted (step set by the rigorous ell)"
        g["holm_p_increasing"] = g["holm_p_decreasing"] = None
    info["verdict_iterations"] = info["measures"]["iterations"]["verdict"]
    info["verdict_maxima"] = info["measures"]["distinct_maxima"]["verdict"]
    info["iterations_page_p"] = info["measures"]["iterations"]["page_p_increasing"]
    info["distinct_maxima_page_p"] = info["measures"]["distinct_maxima"]["page_p_increasing"]
  tested = [rules[r]["measures"][m]["verdict"] for r, m in groups]
  tested = [v for v in tested if v not in ("untested", "untestable")]
  verdict = ("untested" if not tested else
             "fails" if "contradicts" in tested or "supports" not in tested else
             "holds" if all(v == "supports" for v in tested) else "mixed")
  opposite = [f"{r}/{m}" for r, m in groups if rules[r]["measures"][m]["verdict"] == "contradicts"]
  peaks = [f"{r}/{m} peaks at s={rules[r]['measures'][m]['peak_scale']}" for r, m in groups
           if rules[r]["measures"][m]["verdict"] == "peak"]
  first = rules.get("grad0", next(iter(rules.values()), {}))
  return {
      "claim": "C", "grid": _grid(records, ("d", "m", "s", "gamma", "step_rule")),
      "statistic": {rule: {"iterations_page_p": v["iterations_page_p"],
                           "distinct_maxima_page_p": v["distinct_maxima_page_p"],
                           "iterations_slope": v["iterations_slope"],
                           "counted": v["counted"],
                           "verdicts": {m: g["verdict"] for m, g in v["measures"].items()}}
                    for rule, v in rules.items()},
      "threshold": f"per (step rule, measure), Page's L both ways within seeds, Holm-adjusted "
                   f"over the groups, alpha = {TREND_ALPHA}; supports: a significant increase "
                   f"with no interior peak; contradicts: a significant decrease",
      "verdict": verdict, "ci": first.get("iterations_ci"), "seconds": _seconds(records),
      "details": {"instances": len(records), "per_step_rule": rules,
                  "contradicting_groups": opposite, "peaks": peaks,
                  "groups_counted": len(groups), "not_counted_rules": [
                      r for r in rules if not rules[r]["counted"]]},
      "would_fail": "any (step rule, measure) whose medians fall significantly with s "
                    "(Holm-adjusted), or none that rises significantly",
  }


def claim_d(records: list[dict], *, seed: int = 0) -> dict:
  """D: claims A-C repeated for every loss.

  A loss holds when every tested claim holds for it, fails when any fails,
  and is mixed otherwise. D fails when any loss fails (a contradiction on one
  loss is not absorbed by the others), holds when every loss holds, and is
  mixed otherwise. Its ``units`` are the fewest seeds of any loss: "for every
  loss" is only as well supported as its weakest loss.
  """
  by_loss = defaultdict(list)
  for r in records:
    by_loss[r["point"]["loss"]].append(r)
  per, loss_verdicts, loss_units = {}, {}, {}
  for loss, rs in sorted(by_loss.items()):
    checks = (claim_a(rs, seed=seed), claim_b(rs, seed=seed), claim_c(rs, seed=seed))
    per[loss] = {c["claim"]: {"verdict": c["verdict"], "statistic": c["statistic"]}
                 for c in checks}
    vs = [c["verdict"] for c in checks if c["verdict"] != "untested"]
    loss_verdicts[loss] = ("fails" if "fails" in vs else
                           "holds" if vs and all(v == "holds" for v in vs) else "mixed")
    # a loss's seeds, not its networks: along the loss's d axis a seed's networks make one
    # curve (one slope), and C's trend blocks are seeds
    loss_units[loss] = len({r["point"]["seed"] for r in rs})
  vals = list(loss_verdicts.values())
  verdict = ("fails" if "fails" in vals else
             "holds" if vals and all(v == "holds" for v in vals) else "mixed")
  table = {loss: {k: v["verdict"] for k, v in p.items()} for loss, p in per.items()}
  return {
      "claim": "D", "grid": _grid(records, ("loss", "s", "step_rule", "init")),
      "statistic": table, "threshold": "A, B and C hold for every loss; any loss failing "
                                       "fails D",
      "verdict": verdict, "ci": None, "seconds": _seconds(records),
      "units": min(loss_units.values()) if loss_units else 0,
      "details": {"instances": len(records), "per_loss": per, "loss_verdicts": loss_verdicts,
                  "units_per_loss": loss_units},
      "would_fail": "A, B or C failing for any loss tried (an interior maximum, a step rule "
                    "group that no fair rule makes converge, exponential growth along a "
                    "loss's d axis, or a trend against the claim in s)",
  }



P_GLOBAL_THRESHOLD = 0.5  # G: a restart finds the global maximum with probability above this


def claim_g(records: list[dict], *, seed: int = 0) -> dict:
  """G: at small input scale the best maximum PGA finds is the global one.

  Evidence: per network (the unit) at the smallest input scale of the records, the
  certified global maximum's interval and the bounds p_lower <= p_global <= p_upper on the
  share of restarts that end at it (``sweep._global``; they hold whether or not the branch
  and bound closed). Per network, "supports" when p_global > ``P_GLOBAL_THRESHOLD`` by a
  one-sided binomial test on p_lower's count (then the best of N restarts misses the global
  maximum with probability below 2^-N), "against" when p_global < it by the test on
  p_upper's count. Holds when every network supports (an intersection-union test: each at
  alpha = 0.05), fails when any is against (Holm over the networks), mixed otherwise. The
  other scales are described (closed, p_global bounds, best is global), not tested.
  """
  del seed
  recs = [r for r in records if (r.get("global") or {}).get("lower") is not None]
  by_scale = defaultdict(list)
  for r in recs:
    by_scale[r["point"]["s"]].append(r)
  describe = {}
  for s, rs in sorted(by_scale.items()):
    gl = [r["global"] for r in rs]
    describe[f"{s:g}"] = {
        "networks": len(rs), "closed": sum(g["closed"] for g in gl),
        "p_lower_mean": float(np.mean([g["p_lower"] for g in gl])),
        "p_upper_mean": float(np.mean([g["p_upper"] for g in gl])),
        "p_lower_min": float(min(g["p_lower"] for g in gl)),
        "best_is_global": {str(k): sum(g["best_is_global"] is k for g in gl)
                           for k in (True, False, None)},
        "median_regions": float(np.median([g["regions"] for g in gl])),
        "median_relative_gap": float(np.median([(g["upper"] - g["lower"]) / abs(g["upper"])
                                                for g in gl]))}
  base = {"claim": "G", "grid": _grid(records, ("d", "m", "s", "step_rule")),
          "threshold": f"every network at the smallest scale has p_global > "
                       f"{P_GLOBAL_THRESHOLD:g} (one-sided binomial test on its certain "
                       f"count, alpha {TREND_ALPHA:g} each)",
          "ci": None, "seconds": _seconds(records),
          "would_fail": f"a network at the smallest scale on which p_global < "
                        f"{P_GLOBAL_THRESHOLD:g} (binomial test on the count that can end "
                        f"at the global maximum, Holm over the networks): the global "
                        f"maximum's basin is small and the best of few restarts misses it"}
  if not by_scale:
    return {**base, "verdict": "untested", "statistic": None, "units": 0,
            "details": {"instances": len(records), "by_scale": describe, "networks": []}}
  s0 = min(by_scale)
  nets = []
  for r in by_scale[s0]:
    g = r["global"]
    n = g["restarts"]
    k_lo, k_hi = round(g["p_lower"] * n), round(g["p_upper"] * n)
    nets.append({"seed": r["point"]["seed"], "restarts": n, "p_lower": g["p_lower"],
                 "p_upper": g["p_upper"], "closed": g["closed"],
                 "best_is_global": g["best_is_global"],
                 "p_support": float(binom.sf(k_lo - 1, n, P_GLOBAL_THRESHOLD)),
                 "p_against": float(binom.cdf(k_hi, n, P_GLOBAL_THRESHOLD))})
  against = holm([x["p_against"] for x in nets])
  for x, h in zip(nets, against):
    x["holm_p_against"] = float(h)
  n_against = int(np.sum(against < TREND_ALPHA))
  n_support = sum(x["p_support"] < TREND_ALPHA for x in nets)
  verdict = ("fails" if n_against else "holds" if n_support == len(nets) else "mixed")
  return {**base, "verdict": verdict, "units": units(by_scale[s0]),
          "statistic": {"scale": s0, "networks": len(nets), "supporting": n_support,
                        "against": n_against,
                        "p_lower_min": float(min(x["p_lower"] for x in nets)),
                        "p_upper_max": float(max(x["p_upper"] for x in nets)),
                        "closed": sum(x["closed"] for x in nets)},
          "details": {"instances": len(records), "by_scale": describe, "networks": nets}}
