"""The paper's claims as batch checks over sweep records (SPEC 7).

Each check returns ``{claim, grid, statistic, threshold, verdict, ci, seconds,
details}`` with ``verdict`` in holds / fails / mixed.

>>> point = {"d": 8, "m": 16, "s": 1.0, "loss": "quadratic", "step_rule": "lipschitz"}
>>> rec = {"point": point, "on_sphere_fraction": 1.0, "interior_endpoints": 0,
...        "interior_maxima_at_endpoints": 0, "hunt": None, "seconds": 1.0}
>>> claim_a([rec])["verdict"]
'holds'
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from adv_landscape.bounds import fit_exponent

__all__ = ["claim_a", "claim_b", "claim_c", "claim_d", "bootstrap_trend", "CERTIFIED_THRESHOLD"]

CERTIFIED_THRESHOLD = 0.95  # claim B: share of converged runs certified as local maxima


def _grid(records, keys) -> dict:
  return {k: sorted({r["point"][k] for r in records}) for k in keys}


def _seconds(records) -> float:
  return float(sum(r["seconds"] for r in records))


def claim_a(records: list[dict]) -> dict:
  """A: no local maximum inside the ball.

  Statistics: the share of PGA endpoints on the sphere, the interior
  endpoints certified as local maxima, and, over the hunted instances, the
  interior critical points found and the smallest lambda_max(hess L) there.
  Holds when no interior local maximum is seen anywhere.
  """
  on = np.array([r["on_sphere_fraction"] for r in records])
  endpoint_max = sum(r["interior_maxima_at_endpoints"] for r in records)
  hunts = [r for r in records if r.get("hunt")]
  found = sum(r["hunt"]["found"] for r in hunts)
  hunt_max = sum(r["hunt"]["interior_max"] for r in hunts)
  lam = [r["hunt"]["min_lambda_max"] for r in hunts if r["hunt"]["min_lambda_max"] is not None]
  closest = [r["hunt"].get("closest_relative_grad_norm") for r in hunts]
  closest = [c for c in closest if c is not None]
  where = [_where(r) for r in records if r["interior_maxima_at_endpoints"]] + [
      _where(r) for r in hunts if r["hunt"]["interior_max"]]
  bad = endpoint_max + hunt_max
  verdict = "holds" if bad == 0 else ("fails" if bad > 0.5 * max(len(records), 1) else "mixed")
  return {
      "claim": "A", "grid": _grid(records, ("d", "m", "s", "loss", "step_rule")),
      "statistic": {"min_on_sphere_fraction": float(on.min()) if on.size else None,
                    "interior_local_maxima": bad, "interior_critical_found": found,
                    "min_lambda_max_at_interior_critical": min(lam) if lam else None},
      "threshold": "no interior local maximum (lambda_max(hess L) < -tol_h at a point with "
                   "||grad L|| <= tol_g strictly inside the ball)",
      "verdict": verdict, "ci": None, "seconds": _seconds(records),
      "details": {"instances": len(records), "hunted_instances": len(hunts),
                  "median_closest_relative_grad_norm": (float(np.median(closest))
                                                        if closest else None),
                  "interior_endpoints": int(sum(r["interior_endpoints"] for r in records)),
                  "where_interior_maxima": where},
  }


def _where(r) -> str:
  p = r["point"]
  return f"d={p['d']} m={p['m']} s={p['s']} loss={p['loss']} seed={p['seed']}"


def _counts(records, converged_only=True):
  its, conv = [], []
  for r in records:
    its.append(np.asarray(r["iterations"], np.float64))
    conv.append(np.asarray(r["converged"], bool))
  its, conv = np.concatenate(its), np.concatenate(conv)
  return its[conv] if converged_only else its


def claim_b(records: list[dict], *, seed: int = 0) -> dict:
  """B: PGA reaches a certified local maximum in polynomially many iterations.

  Statistics: the certified fraction over all endpoints, iteration-count
  quantiles, T1 violations where eta <= 1/ell (must be 0), the counts' ratios
  to T1 and T2, and log-log exponents of the counts in d, m and 1/tol_g from
  the ``B-d``, ``B-m`` and ``B-tol`` sub-grids, with bootstrap intervals.
  """
  n = sum(len(r["iterations"]) for r in records)
  n_conv = sum(int(np.sum(r["converged"])) for r in records)
  conv = n_conv / max(n, 1)
  # Claim B is about where PGA stops: the certified share of converged endpoints.
  cert = sum(int(np.sum(np.asarray(r["certified"]) & np.asarray(r["converged"])))
             for r in records) / max(n_conv, 1)
  cert_all = sum(r["certified_fraction"] * len(r["iterations"]) for r in records) / max(n, 1)
  its = _counts(records)
  viol = int(sum(r["t1_violations"] for r in records))
  theorem = [r for r in records if r["theorem_applies"]]
  r1 = np.concatenate([np.asarray(r["iterations"], float)[np.asarray(r["converged"])]
                       / np.asarray(r["t1"], float)[np.asarray(r["converged"])]
                       for r in theorem]) if theorem else np.array([])
  r2 = np.concatenate([np.asarray(r["iterations"], float)[np.asarray(r["converged"])]
                       / np.asarray(r["t2"], float)[np.asarray(r["converged"])]
                       for r in records])
  fits = {}
  for axis, sub in (("d", "B-d"), ("m", "B-m"), ("inv_tol_g", "B-tol")):
    rs = [r for r in records if sub in r.get("studies", [])]
    if len(rs) < 2:
      continue
    xs, ys = [], []
    for r in rs:
      c = np.asarray(r["iterations"], float)[np.asarray(r["converged"])]
      v = 1.0 / r["point"]["rtol_g"] if axis == "inv_tol_g" else r["point"][axis]
      xs += [v] * c.size
      ys += list(np.maximum(c, 1.0))
    fit = fit_exponent(xs, ys, seed=seed, n_boot=300)
    fits[axis] = {"slope": fit.slope, "ci": list(fit.ci), "points": fit.n}
  finite = all(math.isfinite(f["slope"]) and all(map(math.isfinite, f["ci"]))
               for f in fits.values())
  ok = viol == 0 and cert >= CERTIFIED_THRESHOLD and finite
  verdict = "holds" if ok else ("fails" if viol > 0 or cert < 0.5 else "mixed")
  by_rule = defaultdict(list)
  for r in records:
    by_rule[r["point"]["step_rule"]].append(r)
  per_rule = {k: {"certified_fraction": float(np.mean([r["certified_fraction"] for r in v])),
                  "converged_fraction": float(np.mean([np.mean(r["converged"]) for r in v])),
                  "median_iterations": float(np.median(_counts(v))) if _counts(v).size else None}
              for k, v in by_rule.items()}
  fail_where = [_where(r) + f" rule={r['point']['step_rule']}: certified "
                f"{r['certified_fraction']:.2f}, converged {np.mean(r['converged']):.2f}"
                for r in records if r["certified_fraction"] < CERTIFIED_THRESHOLD]
  return {
      "claim": "B", "grid": _grid(records, ("d", "m", "s", "rtol_g", "step_rule")),
      "statistic": {"certified_fraction_of_converged": cert, "converged_fraction": conv,
                    "certified_fraction_of_all": cert_all,
                    "t1_violations": viol, "exponents": fits,
                    "iterations_quantiles": dict(zip(
                        ("q10", "median", "q90", "max"),
                        (np.quantile(its, [0.1, 0.5, 0.9, 1.0]).tolist() if its.size
                         else [None] * 4))),
                    "max_ratio_to_t1": float(r1.max()) if r1.size else None,
                    "median_ratio_to_t2": float(np.median(r2)) if r2.size else None},
      "threshold": f"certified share of converged endpoints >= {CERTIFIED_THRESHOLD}, "
                   f"0 T1 violations where "
                   f"eta <= 1/ell, finite exponents",
      "verdict": verdict, "ci": fits.get("d", {}).get("ci"), "seconds": _seconds(records),
      "details": {"instances": len(records), "endpoints": n, "per_step_rule": per_rule,
                  "theorem_instances": len(theorem),
                  "no_bound_claimed_instances": len(records) - len(theorem),
                  "below_threshold": fail_where[:20]},
  }


def bootstrap_trend(s_values, y_values, *, seed: int = 0, n_boot: int = 1000):
  """Slope of log y against log s with a percentile bootstrap interval over points.

  >>> slope, ci = bootstrap_trend([1, 2, 4, 8], [1, 2, 4, 8])
  >>> round(slope, 6)
  1.0
  """
  fit = fit_exponent(s_values, y_values, seed=seed, n_boot=n_boot)
  return fit.slope, list(fit.ci)


def _trend_verdict(ci):
  if not all(map(math.isfinite, ci)):
    return "mixed"
  if ci[0] > 0:
    return "holds"
  if ci[1] < 0:
    return "fails"
  return "mixed"


def claim_c(records: list[dict], *, seed: int = 0) -> dict:
  """C: at fixed gamma, a smaller input scale gives faster convergence and a
  more regular landscape.

  For each step rule: per s, the median iteration count, distinct maxima,
  best-basin fraction and kappa; the trend is the log-log slope of the
  per-restart counts (and of distinct maxima per instance) against s, with a
  bootstrap interval. Holds when both slopes are positive with intervals
  above 0 for every step rule; fails when an interval lies below 0.
  """
  by_rule = defaultdict(list)
  for r in records:
    by_rule[r["point"]["step_rule"]].append(r)
  rules, verdicts = {}, []
  for rule, rs in sorted(by_rule.items()):
    table = {}
    xs, ys, xs_m, ys_m = [], [], [], []
    for s in sorted({r["point"]["s"] for r in rs}):
      at = [r for r in rs if r["point"]["s"] == s]
      c = _counts(at, converged_only=False)  # unconverged count as the budget: a lower bound
      table[str(s)] = {
          "median_iterations": float(np.median(c)),
          "converged_fraction": float(np.mean(np.concatenate([r["converged"] for r in at]))),
          "distinct_maxima": float(np.mean([r["distinct_maxima"] for r in at])),
          "best_basin_fraction": float(np.mean([r["p_best"] for r in at])),
          "kappa": float(np.median([r["kappa"] for r in at])),
          "kappa_sampled": float(np.median([r["kappa_sampled"] for r in at])),
      }
      xs += [s] * c.size
      ys += list(np.maximum(c, 1.0))
      for r in at:
        xs_m.append(s)
        ys_m.append(max(r["distinct_maxima"], 1))
    slope, ci = bootstrap_trend(xs, ys, seed=seed)
    slope_m, ci_m = bootstrap_trend(xs_m, ys_m, seed=seed)
    v = _trend_verdict(ci)
    vm = _trend_verdict(ci_m) if np.ptp(ys_m) > 0 else "mixed"
    rules[rule] = {"by_scale": table, "iterations_slope": slope, "iterations_ci": ci,
                   "distinct_maxima_slope": slope_m, "distinct_maxima_ci": ci_m,
                   "verdict_iterations": v, "verdict_maxima": vm}
    verdicts += [v, vm]
  verdict = ("holds" if all(v == "holds" for v in verdicts) else
             "fails" if all(v == "fails" for v in verdicts) else "mixed")
  first = next(iter(rules.values()), {})
  return {
      "claim": "C", "grid": _grid(records, ("d", "m", "s", "gamma", "step_rule")),
      "statistic": {rule: {"iterations_slope": v["iterations_slope"],
                           "distinct_maxima_slope": v["distinct_maxima_slope"]}
                    for rule, v in rules.items()},
      "threshold": "log-log slope of iterations and of distinct maxima against s > 0, "
                   "95% bootstrap interval above 0, for every step rule",
      "verdict": verdict, "ci": first.get("iterations_ci"), "seconds": _seconds(records),
      "details": {"instances": len(records), "per_step_rule": rules},
  }


def claim_d(records: list[dict], *, seed: int = 0) -> dict:
  """D: claims A-C repeated for every loss; holds when each holds for every loss."""
  by_loss = defaultdict(list)
  for r in records:
    by_loss[r["point"]["loss"]].append(r)
  per = {}
  for loss, rs in sorted(by_loss.items()):
    per[loss] = {c["claim"]: {"verdict": c["verdict"], "statistic": c["statistic"]}
                 for c in (claim_a(rs), claim_b(rs, seed=seed), claim_c(rs, seed=seed))}
  verdicts = [v["verdict"] for p in per.values() for v in p.values()]
  verdict = ("holds" if all(v == "holds" for v in verdicts) else
             "fails" if all(v == "fails" for v in verdicts) else "mixed")
  table = {loss: {k: v["verdict"] for k, v in p.items()} for loss, p in per.items()}
  return {
      "claim": "D", "grid": _grid(records, ("loss", "s", "step_rule")),
      "statistic": table, "threshold": "A, B and C hold for every loss",
      "verdict": verdict, "ci": None, "seconds": _seconds(records),
      "details": {"instances": len(records), "per_loss": per},
  }
