"""A census as text lines and as JSON: what ``adv-landscape census`` prints and writes.

The command line calls these and prints or writes what they return; every field is
documented in docs/output.md.
"""

from __future__ import annotations

import numpy as np

from adv_landscape.io import percent

__all__ = ["census_lines", "census_notes", "census_json"]


def census_lines(source, args, config, s, maxima) -> list[str]:
  """The census's human summary: instance, ascent, convergence, classes, the maxima (the
  five best) and notes on what did not converge."""
  shape = (f"m={source['m']}" if source.get("depth", 1) == 1 else
           f"widths={','.join(str(w) for w in source['widths'])}")
  inst = (f"{source['activation']} network d={source['d']} {shape}"
          + (f" s={source['scale']}" if source.get("synthetic") else "")
          + f", loss={source['loss']}, y={source['y']}, "
          + ("l_inf ball " if source.get("norm") == "inf" else "")
          + f"eps={source['eps']:.4g}"
          + (f" (gamma={source['gamma']:.3g})" if source.get("gamma") else ""))
  kinds = [mx.get("kind", "boundary") for mx in maxima]
  where = "on a face" if source.get("norm") == "inf" else "on the sphere"
  lines = [
      f"instance   {inst}",
      f"ascent     {s['n_inits']} restarts from {args.init}, {args.step_rule} step {args.step}, "
      f"tol_g={config.tol_g:.3g}, {s['seconds_pga']:.1f}s of PGA, "
      f"{s['seconds_total']:.1f}s in all" + (" (streamed)" if args.stream else ""),
      f"converged  {percent(s['converged_fraction'])}, iterations median "
      f"{s['median_iterations']:.0f}, max {s['max_iterations']}"
      + (f"; FOSC median {s['fosc_median']:.2g}, max {s['fosc_max']:.2g}"
         if "fosc_max" in s else ""),
      "classes    " + ", ".join(f"{k} {v}" for k, v in sorted(s["class_counts"].items())),
      f"maxima     {s['distinct_maxima']} distinct certified ({kinds.count('boundary')} "
      f"{where}, {kinds.count('interior')} interior); certified fraction "
      f"{percent(s['certified_fraction'])}"
      + (f"; proved {percent(s['proved_fraction'])}, {s['proved_distinct_maxima']} provably "
         f"distinct" if "proved_fraction" in s else "")
      + (f"; {s['certified_by_proof']} endpoints certified by a proof's concave ball, "
         f"each within {s['endpoint_radius_max']:.2g} of a proved maximum"
         if s.get("certified_by_proof") else "")]
  for rank, mx in enumerate(maxima[:5]):
    if "n_active" in mx:  # the box: active coordinates, smallest multiplier, free curvature
      curv = (f"{mx['n_active']}/{source['d']} active  min multiplier {mx['multiplier']:.3g}"
              + (f"  lambda_max(H_FF)={mx['lambda_tangent']:.3g}"
                 if np.isfinite(mx["lambda_tangent"]) else ""))
    elif mx.get("kind", "boundary") == "boundary":
      lam = mx["lambda_tangent"]
      curv = (f"lambda_T={lam:.3g}" if np.isfinite(lam) else
              f"lambda_T<={mx.get('lambda_tangent_bound', np.nan):.3g} (proof)")
      curv += f"  mu={mx['multiplier']:.3g}"
    else:
      curv = f"lambda_max(hess L)={mx.get('lambda_hess', float('nan')):.3g}"
    radius = mx.get("proof_radius")
    proof = ("" if "proof_radius" not in mx else
             f"  proof radius {radius:.2g}" if radius is not None and np.isfinite(radius) else
             "  not proved")
    lines.append(f"  #{rank + 1}  {mx.get('kind', 'boundary'):8s} L={mx['value']:.6g}  basin "
                 f"{percent(mx['basin_fraction'], 1)}  {curv}{proof}")
  if len(maxima) > 5:
    lines.append(f"  ... {len(maxima) - 5} more")
  if "upper_bound" in s:
    lines.append(bound_line(s))
  if "global_max" in s:
    lines.append(global_line(s))
  return lines + [f"note       {line}" for line in census_notes(source, args, s)]


def bound_line(s) -> str:
  """One line: the certified upper bound on max L and how far PGA's best may be from it."""
  if s["upper_bound"] is None:
    return f"bound      {s['bound_method']}"
  if s["gap"] is None:
    return (f"bound      max L <= {s['upper_bound']:.6g} ({s['bound_seconds']:.2g}s); no "
            f"certified maximum to compare")
  return (f"bound      max L <= {s['upper_bound']:.6g}: PGA's best certified maximum "
          f"{s['best_value']:.6g} is within {s['gap']:.3g} ({s['relative_gap']:.2%} of the "
          f"bound) of the worst case; the gap is the bound's looseness plus what PGA missed "
          f"({s['bound_seconds']:.2g}s)")


def global_line(s) -> str:
  """One line: the certified global maximum, whether PGA's best is it, and p_global."""
  g = s["global_max"]
  if g["lower"] is None:
    return f"global     {g['status']}"
  head = (f"global     {g['lower']:.6g} <= max L <= {g['upper']:.6g} ({g['nodes']} regions, "
          f"{g['seconds']:.2g}s)")
  best = s.get("best_value")
  if best is None or not np.isfinite(best):
    return head + "; no certified maximum to compare"
  if not g["closed"]:
    return head + (f"; not closed to {g['tol']:.2g} (the region budget ran out): PGA's best "
                   f"certified maximum may miss the global one by up to "
                   f"{g['upper'] - best:.3g}")
  if best >= g["upper"] - g["tol"]:
    verdict = "PGA's best certified maximum is the global one"
  else:
    verdict = (f"PGA's best certified maximum misses it by {g['lower'] - best:.3g} to "
               f"{g['upper'] - best:.3g}")
  return head + (f": {verdict} (to {g['tol']:.2g}); p_global {s['p_global']:.3g} of the "
                 f"restarts ended at it")


def census_notes(source, args, s) -> list[str]:
  """Why restarts did not converge, in the terms of the options that would change it."""
  if s["converged_fraction"] >= 1:
    return []
  out = []
  unconverged = round((1 - s["converged_fraction"]) * s["n_inits"])
  box = source.get("norm") == "inf"
  if args.step_rule == "sign":
    out.append("a sign step moves every coordinate by STEP*eps, so it converges only at a "
               "vertex; maxima with free coordinates need --step-rule grad0 (or lipschitz)")
  elif args.step_rule == "normalized" and box:
    out.append("a normalized step has a fixed l2 length, so on the box it converges only "
               "where the projection stops it; use --step-rule sign (l_inf PGD) or grad0")
  elif s.get("stalled_inside") and args.step_rule == "normalized":
    out.append(f"{s['stalled_inside']} restarts stalled inside the ball: a normalized step has "
               f"a fixed length and cannot converge at an interior critical point; rerun with "
               f"--step-rule grad0 (or lipschitz) to tell that from too small a budget")
  if not out and s["max_iterations"] >= args.max_steps:
    out.append(f"{unconverged} of {s['n_inits']} restarts did not converge within --max-steps "
               f"{args.max_steps}; raise it, or take a larger --step")
  return out


def census_json(source, args, run, tols, summary, maxima, *, pga_dtype: str, processes: int,
                versions: dict) -> dict:
  """The census JSON (docs/output.md): the configuration that determines the result, the
  summary, the maxima, and with --save-endpoints every endpoint."""
  config = {**source, "command": "census", "seed": args.seed, "inits": args.inits,
            "init": args.init, "step_rule": args.step_rule, "step": args.step,
            "max_steps": args.max_steps, "tol_g": run.config.tol_g,
            "tol_b": tols.tol_b, "tol_g_certificate_max": run.tol_certificate_max,
            "tol_c": args.tol_c, "tolerances": tols.describe(), "chunk": args.chunk,
            "stream": args.stream, "pga_dtype": pga_dtype, "processes": processes,
            "versions": versions}
  out = {"config": config, "summary": summary, "maxima": maxima}
  if args.save_endpoints:
    res, cert, cs = run.result, run.certificate, run.census
    out["endpoints"] = [
        {"delta": res.deltas[i], "value": cert.values[i], "iterations": int(res.iterations[i]),
         "converged": bool(res.converged[i]), "class": str(cert.classes[i]),
         "grad_norm": cert.grad_norm[i], "rgrad_norm": cert.rgrad_norm[i],
         "multiplier": cert.multiplier[i], "lambda_tangent": cert.lambda_tangent[i],
         "lambda_tangent_bound": (cert.lambda_bound[i] if cert.lambda_bound is not None
                                  else None),
         "certified_by": str(cert.certified_by[i]), "fosc": float(run.fosc[i]),
         "cluster": int(cs.labels[i])} for i in range(cs.n)]
  return out
