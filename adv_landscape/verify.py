"""``adv-landscape verify``: claims A-D on a built-in grid, with a report (SPEC 7).

The grid (``grid(quick=...)``) has five studies over the paper's synthetic
setting (tanh network, gamma = 0.5):
  B-d, B-m, B-tol   iteration counts against d, m and 1/tol_g at s = 1, eta = 1/ell;
  C                 s in {1/4, ..., 4} for each step rule (lipschitz, grad0, normalized);
  D                 every other loss at s in {1/4, 1, 4}, step rules lipschitz and grad0.
Claims A, B and C use the quadratic-loss points (the paper's loss); D all of them.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections import defaultdict

from adv_landscape import claims, io, plots
from adv_landscape.sweep import GridPoint, run_sweep

__all__ = ["grid", "run_verify", "write_report"]

OTHER_LOSSES = ("logistic", "exponential", "huber", "linear", "softmax_ce")


def grid(*, quick: bool, seeds: int | None = None) -> list[tuple[GridPoint, str]]:
  """The built-in grid as (point, study) pairs."""
  if quick:
    seeds = seeds or 2
    base = dict(n_restarts=64, max_steps=4000, rtol_g=1e-4)
    ds, ms, tols, d0, m0 = (8, 16, 32, 64), (16, 32, 64, 128), (1e-2, 1e-3, 1e-4, 1e-5), 16, 32
  else:
    seeds = seeds or 4
    base = dict(n_restarts=256, max_steps=20_000, rtol_g=1e-5)
    ds, ms = (16, 32, 64, 128, 256), (32, 64, 128, 256, 512)
    tols, d0, m0 = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6), 32, 128
  scales = (0.25, 0.5, 1.0, 2.0, 4.0)
  out = []
  for seed in range(seeds):
    b = dict(base, seed=seed)
    for d in ds:
      out.append((GridPoint(d=d, m=m0, s=1.0, **b), "B-d"))
    for m in ms:
      out.append((GridPoint(d=d0, m=m, s=1.0, **b), "B-m"))
    for t in tols:
      out.append((GridPoint(d=d0, m=m0, s=1.0, **{**b, "rtol_g": t}), "B-tol"))
    for rule, step in (("lipschitz", 1.0), ("grad0", 0.05), ("normalized", 0.05)):
      for s in scales:
        out.append((GridPoint(d=d0, m=m0, s=s, step_rule=rule, step=step,
                              hunt=rule == "lipschitz", **b), "C"))
    for loss in OTHER_LOSSES:
      for rule, step in (("lipschitz", 1.0), ("grad0", 0.05)):
        for s in (0.25, 1.0, 4.0):
          out.append((GridPoint(d=d0, m=m0, s=s, loss=loss, step_rule=rule, step=step,
                                hunt=rule == "lipschitz", **b), "D"))
  return out


def run_verify(out_dir: str, *, quick: bool, seed: int = 0, seeds: int | None = None,
               progress: bool = True, after_point=None) -> dict:
  """Runs (or resumes) the grid, evaluates the claims, writes the report and figures."""
  t0 = time.perf_counter()
  os.makedirs(out_dir, exist_ok=True)
  pairs = grid(quick=quick, seeds=seeds)
  studies = defaultdict(list)
  for p, study in pairs:
    if study not in studies[p.key]:
      studies[p.key].append(study)
  records = run_sweep([p for p, _ in pairs], os.path.join(out_dir, "sweep.jsonl"),
                      progress=progress, after_point=after_point)
  for r in records:
    r["studies"] = studies[r["key"]]
  quad = [r for r in records if r["point"]["loss"] == "quadratic"]
  b_recs = [r for r in quad if any(s.startswith("B") for s in r["studies"])]
  c_recs = [r for r in quad if "C" in r["studies"]]
  results = [claims.claim_a(quad), claims.claim_b(b_recs + [r for r in c_recs
                                                             if r not in b_recs], seed=seed),
             claims.claim_c(c_recs, seed=seed), claims.claim_d(records, seed=seed)]
  figures = []
  figures += plots.plot_iterations(b_recs, results[1]["statistic"]["exponents"], out_dir)
  figures += plots.plot_scale(results[2], out_dir)
  figures += plots.plot_lambda(records, out_dir)
  report = {
      "claims": results,
      "t1_violations": int(sum(r["t1_violations"] for r in records)),
      "config": {"quick": quick, "seed": seed, "grid_points": len(records),
                 "grid": [dataclasses.asdict(p) | {"study": s} for p, s in pairs],
                 "tolerances": _tolerances(records), "versions": io.versions()},
      "figures": [os.path.basename(f) for f in figures],
      "seconds": time.perf_counter() - t0,
  }
  io.write_json_atomic(os.path.join(out_dir, "report.json"), report)
  write_report(report, os.path.join(out_dir, "report.md"))
  return report


def _tolerances(records) -> dict:
  return {
      "rtol_g (tol_g = rtol_g ||grad L(0)||)": sorted({r["point"]["rtol_g"] for r in records}),
      "tol_b (relative distance to the sphere)": sorted({r["tol_b"] for r in records}),
      "certificate tol_g": "per endpoint, tol_g ||delta + eta grad L|| / eps, times 2",
      "tol_h": "1e-7 (||hess L||_2 + |mu|) per endpoint",
      "tol_c (same maximum)": 1e-3,
  }


def _fmt(v) -> str:
  if v is None:
    return "-"
  if isinstance(v, float):
    return f"{v:.3g}"
  return str(v)


def _headline(c) -> str:
  s = c["statistic"]
  if c["claim"] == "A":
    return (f"interior local maxima {s['interior_local_maxima']}; min on-sphere share "
            f"{_fmt(s['min_on_sphere_fraction'])}")
  if c["claim"] == "B":
    ex = ", ".join(f"{k} {v['slope']:.2f}" for k, v in s["exponents"].items())
    return (f"certified {s['certified_fraction_of_converged']:.1%} of converged; "
            f"T1 violations {s['t1_violations']}; exponents {ex or '-'}")
  if c["claim"] == "C":
    return "; ".join(f"{rule}: iter slope {v['iterations_slope']:.2f}, maxima slope "
                     f"{v['distinct_maxima_slope']:.2f}" for rule, v in s.items())
  return "; ".join(f"{loss}: " + "/".join(f"{k} {v}" for k, v in p.items())
                   for loss, p in s.items())


def write_report(report: dict, path: str) -> None:
  """The Markdown report: a summary table, then one paragraph per claim."""
  lines = ["# adv_landscape verify report", "",
           f"Grid: {'quick' if report['config']['quick'] else 'full'}, "
           f"{report['config']['grid_points']} grid points, "
           f"{report['seconds']:.0f} s. T1 violations: **{report['t1_violations']}**.", "",
           "| claim | verdict | statistic | interval | instances | time (s) |",
           "|---|---|---|---|---|---|"]
  for c in report["claims"]:
    ci = "-" if not c["ci"] else f"[{c['ci'][0]:.2f}, {c['ci'][1]:.2f}]"
    lines.append(f"| {c['claim']} | {c['verdict']} | {_headline(c)} | {ci} | "
                 f"{c['details']['instances']} | {c['seconds']:.0f} |")
  lines += ["", "Intervals: 95% bootstrap; for B the exponent in d, for C the iteration slope "
            "of the first step rule.", ""]
  lines += _paragraphs(report)
  lines += ["", "## Tolerances", ""]
  lines += [f"- {k}: {v}" for k, v in report["config"]["tolerances"].items()]
  lines += ["", "## Figures", ""] + [f"![{f}]({f})" for f in report["figures"]
                                      if f.endswith(".png")]
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    f.write("\n".join(lines) + "\n")
  os.replace(tmp, path)


def _paragraphs(report) -> list[str]:
  a, b, c, d = report["claims"]
  sa, sb = a["statistic"], b["statistic"]
  out = ["## A: no local maximum inside the ball", "",
         f"Every PGA endpoint of {a['details']['instances']} quadratic-loss instances was "
         f"classified; the smallest share on the sphere was {_fmt(sa['min_on_sphere_fraction'])}"
         f" ({a['details']['interior_endpoints']} interior endpoints). Interior critical points"
         f" were hunted on purpose on {a['details']['hunted_instances']} instances (minimise "
         f"||grad L||^2, then Newton): {sa['interior_critical_found']} found, smallest "
         f"lambda_max(hess L) {_fmt(sa['min_lambda_max_at_interior_critical'])}, "
         f"{sa['interior_local_maxima']} local maxima (median over instances of the smallest "
         f"||grad L|| / ||grad L(0)|| reached inside: "
         f"{_fmt(a['details'].get('median_closest_relative_grad_norm'))}). "
         f"Verdict: {a['verdict']}."]
  if a["details"]["where_interior_maxima"]:
    out.append("Interior maxima at: " + "; ".join(a["details"]["where_interior_maxima"]) + ".")
  ex = sb["exponents"]
  exs = ", ".join(f"{k}: {v['slope']:.2f} [{v['ci'][0]:.2f}, {v['ci'][1]:.2f}]"
                  for k, v in ex.items())
  out += ["", "## B: convergence in polynomially many iterations", "",
          f"{b['details']['endpoints']} runs; {sb['converged_fraction']:.1%} reached "
          f"||G|| <= tol_g within the step budget, and {sb['certified_fraction_of_converged']:.1%}"
          f" of those were certified strict local maxima on the sphere. Where eta <= 1/ell "
          f"({b['details']['theorem_instances']} instances) T1 is a theorem: "
          f"{sb['t1_violations']} violations; the largest count/T1 ratio was "
          f"{_fmt(sb['max_ratio_to_t1'])} (the rigorous ell is pessimistic, so T1 is loose). "
          f"On {b['details']['no_bound_claimed_instances']} instances eta > 1/ell "
          f"(grad0, normalized): no bound is claimed there. Median count/T2 "
          f"{_fmt(sb['median_ratio_to_t2'])} (T2 has its absolute constants set to 1: a "
          f"reference scale, not a guarantee). Log-log exponents of the counts: {exs}. "
          f"Per step rule: " + "; ".join(
              f"{k} converged {v['converged_fraction']:.0%}, certified {v['certified_fraction']:.0%}"
              f", median {_fmt(v['median_iterations'])}"
              for k, v in b["details"]["per_step_rule"].items()) + f". Verdict: {b['verdict']}."]
  if b["details"]["below_threshold"]:
    out.append("Below the certified threshold: " + "; ".join(b["details"]["below_threshold"])
               + ".")
  out += ["", "## C: smaller input scale, faster and more regular", ""]
  for rule, v in c["details"]["per_step_rule"].items():
    rows = ", ".join(f"s={s}: {t['median_iterations']:.0f} it, {t['distinct_maxima']:.1f} "
                     f"maxima, kappa {t['kappa_sampled']:.2g}"
                     for s, t in v["by_scale"].items())
    out.append(f"- {rule}: {rows}. Iteration slope {v['iterations_slope']:.2f} "
               f"[{v['iterations_ci'][0]:.2f}, {v['iterations_ci'][1]:.2f}] "
               f"({v['verdict_iterations']}); distinct-maxima slope "
               f"{v['distinct_maxima_slope']:.2f} [{v['distinct_maxima_ci'][0]:.2f}, "
               f"{v['distinct_maxima_ci'][1]:.2f}] ({v['verdict_maxima']}).")
  out += ["", f"Verdict: {c['verdict']}. kappa here is eps ell / ||grad L(0)|| with the "
          "sampled ell (the rigorous one is in report.json).",
          "", "## D: other losses", ""]
  for loss, p in d["details"]["per_loss"].items():
    out.append(f"- {loss}: " + ", ".join(f"{k} {v['verdict']}" for k, v in p.items()))
  out += ["", f"Verdict: {d['verdict']}."]
  return out
