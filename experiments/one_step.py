"""One step: does a single gradient step from x already flip the sign of a random two-layer
network, as Bubeck, Cherapanamjeri, Gidel and Tachet des Combes predict ("A single gradient
step finds adversarial examples on random two-layer neural networks", NeurIPS 2021)?

Their setting is the paper's initial phase: f(x) = sum_r a_r tanh(w_r . x), w_r ~ N(0, I/d),
a_r = +-1/sqrt(m), and x on the sphere of radius sqrt(d) (s = 1). Their theorem: a step of
length of the order of ||x|| / sqrt(d) along the gradient flips the sign of f, so the budget
at which one step suffices is gamma = eps / ||x|| ~ 1 / sqrt(d), that is c = gamma sqrt(d)
of order 1 at every d. With the linear margin loss L = -y f(x + delta), y = sign f(x), a flip
is L > 0 (L(0) = -|f(x)| < 0).

Per instance (d, network seed; m = d) and budget c (eps = c ||x|| / sqrt(d) on the ball,
the box of half-width c / sqrt(d) ||x|| / sqrt(d) with --norm inf):
  - the one-step point delta_1 = eps g / ||g|| (eps sign(g) on the box), g = grad L(0), and
    whether it flips the sign;
  - the smallest budget c_1 at which one step flips (bisection along the step's ray, which
    does not depend on eps), beside the linear prediction |f(x)| / ||grad f(x)|| (dual norm);
  - a census (armijo steps, which converge on both sets, from the sphere or the vertices):
    the best certified maximum L*, whether it flips, the distinct maxima, and
    whether PGA started at delta_1 ends at the best maximum (value within 1e-9 relative);
  - the shortfall (L* - L(delta_1)) / (L* - L(0)): the share of the achievable gain that the
    one step misses.
The prediction is tested as the slope of log c_1 against log d (one instance per network,
an OLS slope with a t interval over the instances): 0 if the scaling holds (the slope of
log gamma_1 is that minus 1/2 by definition). Figures: one_step_threshold (gamma_1 against d, with the slope -1/2 drawn
through the smallest d's median), one_step_flips (the fractions that flip against c, per
d: one step and the best maximum), one_step_maxima (distinct maxima and the shortfall
against c). Inputs are synthetic by the theorem's design: --data is not read.

Command: python experiments/one_step.py [--quick]
Run time (2 CPU cores): full 1059 s (measured 2026-12-01, sharing the cores with a grid;
the summary's "seconds"); --quick about a minute; --smoke seconds.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from adv_landscape import instances, plots
from adv_landscape.losses import get_loss
from adv_landscape.network import forward, init_network, synthetic_input
from adv_landscape.pipeline import PGAConfig, run_census
from adv_landscape.problem import Problem

try:
  from experiments import common
except ImportError:  # run as a script
  import common  # type: ignore[no-redef]

import matplotlib.pyplot as plt  # noqa: E402

SAME = 1e-9  # a maximum within this relative distance of L* is the best one
SIZES = {"smoke": ((8, 16), 2, 8, (1.0,)),
         "quick": ((16, 64, 256), 4, 32, (0.25, 1.0, 4.0)),
         "full": ((16, 64, 256, 1024), 8, 64, (0.25, 0.5, 1.0, 2.0, 4.0))}


def _radius(c: float, d: int, x, norm: str) -> float:
  """eps for budget c: gamma = c / sqrt(d), eps = gamma ||x|| (ball) or gamma ||x|| / sqrt(d)
  (the box whose vertices lie on that sphere)."""
  return common.radius(x, c / np.sqrt(d), norm)


def one_step_threshold(net, x, y, direction, d, norm, c_max=64.0, grid=512) -> float:
  """The smallest budget c at which x + eps(c) u flips sign (u the one-step direction, unit
  for the ball, a sign vector for the box): the first sign change on a geometric grid of c
  up to c_max, refined by bisection to 1e-10 relative; inf when none."""
  cs = np.geomspace(1e-4, c_max, grid)

  def margin(c):
    return float(-y * forward(net, x + _radius(c, d, x, norm) * direction))

  vals = np.array([margin(c) for c in cs])
  hit = np.flatnonzero(vals > 0)
  if hit.size == 0:
    return float("inf")
  j = int(hit[0])
  if j == 0:
    return float(cs[0])
  lo, hi = float(cs[j - 1]), float(cs[j])
  while hi - lo > 1e-10 * hi:
    mid = 0.5 * (lo + hi)
    lo, hi = (lo, mid) if margin(mid) > 0 else (mid, hi)
  return hi


def instance(d: int, seed: int, budgets, n: int, norm: str, max_steps: int):
  k_net, k_x = jax.random.split(jax.random.fold_in(jax.random.key(1234), d * 1000 + seed))
  net = init_network(k_net, d, d, dtype=jnp.float64)
  x = synthetic_input(k_x, d, 1.0, dtype=jnp.float64)
  fx = float(forward(net, x))
  y = 1.0 if fx > 0 else -1.0
  loss = get_loss("linear")
  problem = Problem.two_layer(net, loss, x, y, eps=1.0, dtype=jnp.float64, norm=norm)
  g = np.asarray(problem.objective.grad(jnp.zeros(d)))
  box = norm == "inf"
  u = np.sign(g) if box else g / np.linalg.norm(g)
  c1 = one_step_threshold(net, x, y, jnp.asarray(u), d, norm)
  dual = np.sum(np.abs(g)) if box else np.linalg.norm(g)  # ||grad f|| in the dual norm
  eps_lin = abs(fx) / dual  # the linear prediction of the flip radius
  c_lin = eps_lin / _radius(1.0, d, x, norm)
  rows = []
  for c in budgets:
    eps = _radius(c, d, x, norm)
    prob = Problem.two_layer(net, loss, x, y, eps=eps, dtype=jnp.float64, norm=norm)
    l0 = float(prob.objective.value(jnp.zeros(d)))
    l1 = float(prob.objective.value(jnp.asarray(eps * u)))
    rule = "armijo"  # converges on both sets (sign and normalized steps stall off vertices)
    cfg = PGAConfig(step_rule=rule, step=1.0, init="vertex" if box else "sphere",
                    max_steps=max_steps)
    run = run_census(instances.problem(net, loss, x, y, eps=eps, norm=norm),
                     key=jax.random.key(seed), n_restarts=n, config=cfg)
    cs = run.census
    vals = run.certificate.values[cs.reps] if cs.distinct else np.zeros(0)
    best = float(np.max(vals)) if vals.size else float("nan")
    start = run_census(instances.problem(net, loss, x, y, eps=eps, norm=norm),
                       key=jax.random.key(seed), n_restarts=1,
                       config=PGAConfig(step_rule=rule, step=1.0, init="gradient",
                                        max_steps=max_steps))
    from_one = (start.census.distinct > 0 and np.isfinite(best) and
                float(start.certificate.values[start.census.reps[0]])
                >= best - SAME * abs(best))
    rows.append({"c": c, "eps": eps, "one_step_flips": l1 > 0, "best": best,
                 "best_flips": bool(np.isfinite(best) and best > 0),
                 "distinct": int(cs.distinct), "certified": float(cs.certified_fraction),
                 "from_one_step_is_best": bool(from_one),
                 "shortfall": (best - l1) / (best - l0) if np.isfinite(best) else None})
  return {"d": d, "seed": seed, "f": fx, "c_one_step": c1, "c_linear": c_lin,
          "budgets": rows}


def _fit(xs, ys, predicted) -> dict:
  fit = stats.linregress(xs, ys)
  half = stats.t.ppf(0.975, len(xs) - 2) * fit.stderr
  return {"slope": float(fit.slope), "ci": [float(fit.slope - half), float(fit.slope + half)],
          "instances": len(xs), "predicted": predicted,
          "consistent": bool(fit.slope - half <= predicted <= fit.slope + half)}


def slope(records) -> dict:
  """The test of the prediction: the OLS slope of log c_1 on log d over the instances
  (each its own network), predicted 0 (c_1 = gamma_1 sqrt(d) of order 1), with a 95% t
  interval (n - 2 degrees of freedom). Beside it the slope of log gamma_1 (that slope
  minus 1/2 by definition, so its excluding 0 only excludes c_1 ~ sqrt(d)), and of
  log(c_1 / |f(x)|) (the part that does not come from f(x)'s own spread), and the range
  of c_1 / c_lin (how first-order the flip is)."""
  rs = [r for r in records if np.isfinite(r["c_one_step"])]
  if len(rs) < 3:
    return {"slope": None, "ci": None, "instances": len(rs)}
  ld = np.log([r["d"] for r in rs])
  c1 = np.array([r["c_one_step"] for r in rs])
  out = _fit(ld, np.log(c1), 0.0)
  out["gamma"] = _fit(ld, np.log(c1) - 0.5 * ld, -0.5)
  out["over_f"] = _fit(ld, np.log(c1 / np.abs([r["f"] for r in rs])), 0.0)
  ratio = c1 / np.array([r["c_linear"] for r in rs])
  out["c1_over_linear"] = {str(d): [float(ratio[ld == np.log(d)].min()),
                                    float(ratio[ld == np.log(d)].max())]
                           for d in sorted({r["d"] for r in rs})}
  return out


def run(args):
  ds, seeds, n, budgets = SIZES["smoke" if args.smoke else "quick" if args.quick else "full"]
  max_steps = 500 if args.smoke else 5000
  from tqdm.auto import tqdm
  cells = [(d, seed) for d in ds for seed in range(args.seed, args.seed + seeds)]
  return [instance(d, seed, budgets, n, args.norm, max_steps)
          for d, seed in tqdm(cells, desc="one step", disable=args.no_progress)]


def by_d_and_c(records, key):
  ds = sorted({r["d"] for r in records})
  cs = [b["c"] for b in records[0]["budgets"]]
  out = {}
  for d in ds:
    rows = [r for r in records if r["d"] == d]
    out[d] = [np.array([r["budgets"][j][key] for r in rows], dtype=float) for j in range(len(cs))]
  return ds, cs, out


def figures(records, fit, args):
  paths = []
  ds = sorted({r["d"] for r in records})
  fig, ax = plt.subplots(figsize=(6.4, 4.4), constrained_layout=True)
  for r in records:
    ax.plot(r["d"], r["c_one_step"] / np.sqrt(r["d"]), "o", color="C0", alpha=0.5, ms=4)
    ax.plot(r["d"], r["c_linear"] / np.sqrt(r["d"]), "x", color="C1", alpha=0.5, ms=4)
  med = [np.median([r["c_one_step"] for r in records if r["d"] == d]) / np.sqrt(d) for d in ds]
  ax.plot(ds, med, "-", color="C0", label="one-step flip threshold gamma_1 (median)")
  ref = med[0] * (np.array(ds, float) / ds[0]) ** -0.5
  ax.plot(ds, ref, "k--", label="Bubeck et al.: gamma ~ d^(-1/2), through the first median")
  ax.plot([], [], "x", color="C1", label="linear prediction |f| / (||grad f||_* ||x||)")
  ax.set_xscale("log", base=2)
  ax.set_yscale("log")
  ax.set_xlabel("input dimension d (m = d, ||x|| = sqrt(d))")
  ax.set_ylabel("gamma = eps / ||x|| at which one step flips the sign")
  s = fit.get("slope")
  ax.set_title("One gradient step" + (f": slope of log c_1 {s:.2f} [{fit['ci'][0]:.2f}, "
                                      f"{fit['ci'][1]:.2f}] (predicted 0)"
                                      if s is not None else ""), fontsize=10)
  ax.legend(fontsize=8)
  paths += plots.save(fig, args.out, "one_step_threshold")

  dd, cs, one = by_d_and_c(records, "one_step_flips")
  _, _, best = by_d_and_c(records, "best_flips")
  fig, ax = plt.subplots(figsize=(6.4, 4.4), constrained_layout=True)
  for k, d in enumerate(dd):
    ax.plot(cs, [v.mean() for v in one[d]], "-o", color=f"C{k}", label=f"d = {d}: one step")
    ax.plot(cs, [v.mean() for v in best[d]], "--s", color=f"C{k}", alpha=0.7,
            label=f"d = {d}: best certified maximum")
  ax.set_xscale("log", base=2)
  ax.set_xlabel("budget c = gamma sqrt(d) (order 1 is the predicted scale)")
  ax.set_ylabel("fraction of networks whose sign flips")
  ax.set_ylim(-0.05, 1.05)
  ax.set_title("Sign flips against the budget: the curves coincide if gamma ~ d^(-1/2)")
  ax.legend(fontsize=7)
  paths += plots.save(fig, args.out, "one_step_flips")

  _, _, distinct = by_d_and_c(records, "distinct")
  _, _, short = by_d_and_c(records, "shortfall")
  fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.2), constrained_layout=True)
  for k, d in enumerate(dd):
    a1.plot(cs, [np.median(v) for v in distinct[d]], "-o", color=f"C{k}", label=f"d = {d}")
    a2.plot(cs, [_median(v) if _median(v) is not None else np.nan for v in short[d]], "-o",
            color=f"C{k}", label=f"d = {d}")
  for a in (a1, a2):
    a.set_xscale("log", base=2)
    a.set_xlabel("budget c = gamma sqrt(d)")
    a.legend(fontsize=8)
  a1.set_ylabel("distinct certified maxima (median over networks)")
  a2.set_ylabel("(L* - L(delta_1)) / (L* - L(0)) (median)")
  a2.set_yscale("symlog", linthresh=1e-6)
  a1.set_title("How many maxima")
  a2.set_title("What the one step misses of the best maximum's gain")
  paths += plots.save(fig, args.out, "one_step_maxima")
  return paths


def _median(v):
  v = v[np.isfinite(v)]
  return float(np.median(v)) if v.size else None


def summarise(records, fit) -> dict:
  ds, cs, one = by_d_and_c(records, "one_step_flips")
  _, _, best = by_d_and_c(records, "best_flips")
  _, _, frm = by_d_and_c(records, "from_one_step_is_best")
  _, _, distinct = by_d_and_c(records, "distinct")
  _, _, short = by_d_and_c(records, "shortfall")
  table = {str(d): {str(c): {"one_step_flips": float(one[d][j].mean()),
                             "best_flips": float(best[d][j].mean()),
                             "from_one_step_is_best": float(frm[d][j].mean()),
                             "distinct_median": float(np.median(distinct[d][j])),
                             "shortfall_median": _median(short[d][j])}
                    for j, c in enumerate(cs)} for d in ds}
  c1 = {str(d): float(np.median([r["c_one_step"] for r in records if r["d"] == d]))
        for d in ds}
  return {"slope_log_c1_vs_log_d": fit, "median_c_one_step": c1, "by_d_and_c": table,
          "networks_per_d": len(records) // len(ds), "instances": records}


def main(argv=None):
  p = common.parser(__doc__)
  p.add_argument("--from-summary", default=None, metavar="PATH",
                 help="redo the fits, figures and summary from a saved one_step_summary.json "
                      "(its instances), without computing")
  args = p.parse_args(argv)
  common.setup(args)
  t0 = time.perf_counter()
  saved = common.load_json(args.from_summary)["summary"] if args.from_summary else None
  records = saved["instances"] if saved else run(args)
  fit = slope(records)
  paths = figures(records, fit, args)
  summary = summarise(records, fit)
  summary["seconds"] = saved["seconds"] if saved else time.perf_counter() - t0
  if saved:
    summary["resummarised_from"] = args.from_summary
  s = fit.get("slope")
  print("one step: slope of log c_1 on log d " +
        (f"{s:.3f} [{fit['ci'][0]:.3f}, {fit['ci'][1]:.3f}] (predicted 0)" if s is not None
         else "not available") +
        "; median c_1 by d " + ", ".join(f"{d}: {v:.3g}"
                                        for d, v in summary["median_c_one_step"].items()))
  common.write_summary(args, "one_step_summary", summary)
  return paths


if __name__ == "__main__":
  main()
