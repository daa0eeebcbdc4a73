"""RQ3: how do the adversarial loss landscape and the PGA trajectories change
with the input scale? (Deng et al., ICML 2020, section 5)

For one digits input and the network at initialisation, at s in {1/4, 1, 4}
with gamma fixed: L on the disk spanned by g = grad L(0)/||grad L(0)|| and a
random orthogonal direction, PGA trajectories from starts on that circle
(projected onto the plane), and L along a great circle through each certified
maximum found by a census.
How far PGA is from the worst case along s (the l2 ball only): on networks with
m = 4 hidden units (so the branch and bound runs in k = 4 coordinates and closes),
8 per scale (4 with --quick), the same input, armijo steps from 128 uniform starts in
the ball (32 with --quick): the certified global maximum, the bounds p_lower <=
p_global <= p_upper on the share of restarts that reach it (``globalmax.p_global_bounds``),
and two relative gaps: the branch and bound's interval and the relaxation bound's
(``census --bound``) above the best certified maximum.
Figures: rq3_slices, rq3_great_circles, rq3_global.

Command: python experiments/rq3_landscape.py [--quick]
Run time (2 CPU cores): full 2 min 29 s (measured 2026-12-07 beside a verify run; 23 s
before rq3_global); --quick and --smoke less.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from adv_landscape import api, ascent, instances, objective, plots
from adv_landscape.data import load_dataset
from adv_landscape.globalmax import global_maximum, p_global_bounds
from adv_landscape.losses import get_loss
from adv_landscape.network import init_network
from adv_landscape.pipeline import PGAConfig, run_census
from adv_landscape.problem import Problem

try:
  from experiments import common
except ImportError:  # run as a script
  import common  # type: ignore[no-redef]

import matplotlib.pyplot as plt  # noqa: E402

SCALES = (0.25, 1.0, 4.0)


def trajectories(net, loss, x, y, eps, starts, eta, steps, norm="2"):
  """PGA paths (steps + 1, n, d) from the given starts, by the suite's update."""
  state = ascent.pga_init(starts, jnp.full((starts.shape[0],), eta))
  problem = Problem.two_layer(net, loss, x, y, eps=eps, norm=norm)

  def step(s, _):
    s, _ = ascent.pga_update(s, problem, 0.0, steps)
    return s, s.delta

  _, path = jax.lax.scan(step, state, None, length=steps)
  return jnp.concatenate([starts[None], path])


def run(args):
  grid, n_census, steps = (25, 32, 200) if args.smoke else (61, 256, 1500) if args.quick \
      else (121, 1024, 3000)
  gamma = args.gamma
  loss = get_loss("quadratic")
  results = {}
  for s in SCALES:
    ds = load_dataset(args.data, scale=s, data_dir=args.data_dir, n=64)
    x, y = jnp.asarray(ds.X[args.index]), float(ds.y[args.index])
    net = init_network(jax.random.key(args.seed), x.shape[0], 64, dtype=jnp.float64)
    eps = common.radius(x, gamma, args.norm)
    box = args.norm == "inf"
    g0 = objective.grad(net, loss, x, y, jnp.zeros_like(x))
    u1 = g0 / jnp.linalg.norm(g0)
    r = jax.random.normal(jax.random.key(args.seed + 1), x.shape)
    u2 = r - jnp.dot(r, u1) * u1
    u2 = u2 / jnp.linalg.norm(u2)
    # the plane meets the box out to eps / ||u||_inf along u: draw that far (masked outside)
    reach = eps / float(min(jnp.max(jnp.abs(u1)), jnp.max(jnp.abs(u2)))) if box else eps
    c = jnp.linspace(-reach, reach, grid)
    A, B = jnp.meshgrid(c, c)
    pts = A.reshape(-1, 1) * u1[None] + B.reshape(-1, 1) * u2[None]
    vals, _ = objective.value_and_grad_batch(net, loss, x, y, pts)
    inside = (np.max(np.abs(np.asarray(pts)), axis=1) <= eps if box
              else (A ** 2 + B ** 2).reshape(-1) <= eps ** 2)
    vals = np.where(inside, np.asarray(vals), np.nan)
    th = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    starts = eps * (np.cos(th)[:, None] * np.asarray(u1)[None] + np.sin(th)[:, None]
                    * np.asarray(u2)[None])
    eta = 0.1 * eps / float(jnp.linalg.norm(g0))
    if box:  # the plane's circle of radius eps may leave the box: start where it is inside
      starts = np.clip(starts, -eps, eps)
    path = np.asarray(trajectories(net, loss, x, y, eps, jnp.asarray(starts), eta, steps,
                                   args.norm))
    proj = np.stack([path @ np.asarray(u1), path @ np.asarray(u2)], -1)
    # --seed reaches the key; seed 0 draws the key of the committed figures.
    run = run_census(instances.problem(net, loss, x, y, eps=eps, norm=args.norm),
                     key=jax.random.key(args.seed * 100_003 + 7), n_restarts=n_census,
                     config=PGAConfig(step_rule="grad0", step=0.1, max_steps=20_000,
                                      tol_g=1e-6 * float(jnp.linalg.norm(g0)),
                                      init="vertex" if box else "sphere"))
    res, cert, cs = run.result, run.certificate, run.census
    circles = []
    t = np.linspace(-np.pi, np.pi, 361)
    for k, rep in enumerate(cs.reps[:6]):
      dstar = jnp.asarray(res.deltas[rep])
      v = jax.random.normal(jax.random.key(100 + k), x.shape)
      if box:  # a random line through the maximum, clipped to the box (t in [-pi, pi] eps)
        v = v / jnp.linalg.norm(v)
        curve = jnp.clip(dstar[None] + (t / np.pi)[:, None] * eps * v[None], -eps, eps)
      else:
        v = v - jnp.dot(v, dstar) / jnp.dot(dstar, dstar) * dstar
        v = v / jnp.linalg.norm(v)
        curve = jnp.cos(t)[:, None] * dstar[None] + jnp.sin(t)[:, None] * eps * v[None]
      cv, _ = objective.value_and_grad_batch(net, loss, x, y, curve)
      circles.append(np.asarray(cv))
    results[str(s)] = dict(A=np.asarray(A) / eps, B=np.asarray(B) / eps,
                           L=vals.reshape(grid, grid), proj=proj / eps, t=t, circles=circles,
                           distinct=cs.distinct, certified=cs.certified_fraction,
                           p_best=cs.p_best, values=cert.values[cs.reps].tolist())
  return results


GLOBAL_SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)
GLOBAL_M = 4  # hidden units: k = 4 coordinates, where the branch and bound closes


def global_scan(args) -> dict:
  """Per scale and network (seed; the unit): the certified global maximum, p_global's bounds
  and the two relative gaps (module docstring). The l2 ball only."""
  nets, n, scales = ((2, 16, (0.25, 4.0)) if args.smoke else (4, 32, (0.25, 1.0, 4.0))
                     if args.quick else (8, 128, GLOBAL_SCALES))
  loss = get_loss("quadratic")
  out = {}
  for s in scales:
    ds = load_dataset(args.data, scale=s, data_dir=args.data_dir, n=64)
    x, y = jnp.asarray(ds.X[args.index]), float(ds.y[args.index])
    eps = common.radius(x, args.gamma, "2")
    rows = []
    for seed in range(nets):
      net = init_network(jax.random.key(args.seed * 1000 + 17 + seed), x.shape[0], GLOBAL_M,
                         dtype=jnp.float64)
      r = api.census(net, loss, x, y, eps=eps, n_restarts=n, step_rule="armijo", step=1.0,
                     init="ball", max_steps=5000, seed=seed, bound=True)
      g = global_maximum(net, loss, x, y, eps, "2",
                         points=np.asarray([mx.delta for mx in r.maxima]) if r.maxima else None)
      b = p_global_bounds([mx.value for mx in r.maxima], [mx.count for mx in r.maxima],
                          r.run.result.values, g)
      best = r.summary["best_value"]
      rows.append({"seed": seed, "closed": g.status == "certified", "lower": g.lower,
                   "upper": g.upper, "regions": g.regions, "best": best,
                   "interval_gap": (g.upper - g.lower) / abs(g.upper),
                   "relaxation_gap": r.summary.get("relative_gap"),
                   "distinct": r.summary["distinct_maxima"], **b})
    out[str(s)] = rows
  return out


def global_figure(scan, args) -> list[str]:
  fig, (a1, a2) = plt.subplots(1, 2, figsize=(10.5, 4.2), constrained_layout=True)
  xs = [float(s) for s in scan]
  for i, (s, rows) in enumerate(scan.items()):
    lo = [r["p_lower"] for r in rows]
    hi = [r["p_upper"] for r in rows]
    jit = float(s) * 2 ** (0.12 * (np.arange(len(rows)) - (len(rows) - 1) / 2) / len(rows))
    a1.vlines(jit, lo, hi, color="C0", lw=1)
    a1.plot(jit, lo, "v", color="C0", ms=4, label="a network: p_global in [lower, upper]"
            if i == 0 else None)
    a1.plot(jit, hi, "^", color="C0", ms=4)
    a2.plot([float(s)] * len(rows), [r["interval_gap"] for r in rows], "o", color="C1",
            ms=4, label="branch and bound: (upper - lower) / upper" if i == 0 else None)
    a2.plot([float(s)] * len(rows), [r["relaxation_gap"] for r in rows], "s", color="C2",
            ms=4, mfc="none",
            label="relaxation bound (census --bound): (U - best) / U" if i == 0 else None)
  lo_mean = [np.mean([r["p_lower"] for r in rows]) for rows in scan.values()]
  hi_mean = [np.mean([r["p_upper"] for r in rows]) for rows in scan.values()]
  a1.fill_between(xs, lo_mean, hi_mean, color="0.8", zorder=0,
                  label="mean over networks, between the bounds\n(wide where the branch "
                        "and bound did not close)")
  a1.set_xscale("log", base=2)
  a1.set_ylim(-0.03, 1.03)
  a1.set_xlabel("input scale s")
  a1.set_ylabel("p_global: share of restarts at the global maximum")
  a1.set_title(f"restarts that reach the certified global maximum\n"
               f"(m = {GLOBAL_M}, armijo from uniform starts in the ball)")
  a1.legend(fontsize=7, loc="lower left")
  a2.set_xscale("log", base=2)
  a2.set_yscale("log")
  a2.set_xlabel("input scale s")
  a2.set_ylabel("relative gap")
  a2.set_title("how far the certified upper bounds sit above PGA's best")
  a2.legend(fontsize=7)
  fig.suptitle("RQ3: how far PGA is from the worst case along s (each mark a network)")
  return plots.save(fig, args.out, "rq3_global")


def figures(results, args):
  paths = []
  fig, axes = plt.subplots(1, len(results), figsize=(4.6 * len(results), 4.4),
                           constrained_layout=True)
  for ax, (s, r) in zip(np.atleast_1d(axes), results.items()):
    cs = ax.contourf(r["A"], r["B"], r["L"], levels=30, cmap="viridis")
    fig.colorbar(cs, ax=ax, shrink=0.8, label="L(delta)")
    for k in range(r["proj"].shape[1]):
      ax.plot(r["proj"][:, k, 0], r["proj"][:, k, 1], "-", color="w", lw=1)
      ax.plot(r["proj"][0, k, 0], r["proj"][0, k, 1], "o", color="w", ms=3)
      ax.plot(r["proj"][-1, k, 0], r["proj"][-1, k, 1], "*", color="r", ms=7)
    if args.norm != "inf":  # the ball's boundary in the plane (the box's is where L is drawn)
      circ = np.linspace(0, 2 * np.pi, 200)
      ax.plot(np.cos(circ), np.sin(circ), "k-", lw=0.8)
    ax.set_aspect("equal")
    ax.set_title(f"s = {s}: {r['distinct']} distinct maxima")
    ax.set_xlabel("delta . g / eps  (g = grad L(0) / ||grad L(0)||)")
    ax.set_ylabel("delta . v / eps  (v random, orthogonal)")
  fig.suptitle(("RQ3: L on a 2-D slice of the l_inf ball" if args.norm == "inf" else
                "RQ3: L on a 2-D disk of the ball")
               + ", with PGA paths (white, end = red star; paths leave the plane and are "
                 "projected)")
  paths += plots.save(fig, args.out, "rq3_slices")

  fig, axes = plt.subplots(1, len(results), figsize=(4.6 * len(results), 3.8),
                           constrained_layout=True)
  for ax, (s, r) in zip(np.atleast_1d(axes), results.items()):
    for k, cv in enumerate(r["circles"]):
      ax.plot(r["t"], cv, color=f"C{k}", label=f"max #{k + 1}: L = {r['values'][k]:.3g}")
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel("distance along a random line through the maximum, clipped to the box "
                  "(pi = eps)" if args.norm == "inf" else
                  "angle along a great circle through the maximum (rad)")
    ax.set_ylabel("L")
    ax.set_title(f"s = {s}")
    ax.legend(fontsize=7)
  fig.suptitle("RQ3: slices through each certified maximum (up to 6)"
               + (", l_inf ball" if args.norm == "inf" else ", along great circles"))
  paths += plots.save(fig, args.out, "rq3_great_circles")
  return paths


def main(argv=None):
  p = common.parser(__doc__)
  p.add_argument("--gamma", type=float, default=0.5)
  p.add_argument("--index", type=int, default=0, help="which example of the data set")
  args = p.parse_args(argv)
  common.setup(args)
  t0 = time.perf_counter()
  results = run(args)
  paths = figures(results, args)
  summary = {s: {k: r[k] for k in ("distinct", "certified", "p_best", "values")}
             for s, r in results.items()}
  for s, r in summary.items():
    print(f"RQ3 s={s}: {r['distinct']} distinct maxima, certified {r['certified']:.1%}, "
          f"best basin {r['p_best']:.1%}")
  scan = None
  if args.norm == "2":  # the branch and bound's p_global figure: the ball only
    scan = global_scan(args)
    paths += global_figure(scan, args)
    for s, rows in scan.items():
      print(f"RQ3 global s={s}: closed {sum(r['closed'] for r in rows)}/{len(rows)}, "
            f"p_global lower bound mean {np.mean([r['p_lower'] for r in rows]):.3f}, "
            f"min {min(r['p_lower'] for r in rows):.3f}")
  common.write_summary(args, "rq3_summary", {"by_scale": summary, "global": scan,
                                             "seconds": time.perf_counter() - t0})
  return paths


if __name__ == "__main__":
  main()
