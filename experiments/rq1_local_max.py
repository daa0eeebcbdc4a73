"""RQ1: does PGA find a local maximum fast? (Deng et al., ICML 2020, section 5)

For a two-layer network at initialisation and after adversarial training on
digits, PGA runs from many starts at several data points (gamma = 0.25); every
endpoint is certified. Figures: rq1_value_vs_iteration (normalised value along
the run), rq1_lambda_hist (lambda_T at the endpoints), rq1_certified (certified
fraction and median iterations per network).

The trained network must have learned (``learned``: clean accuracy >= 0.75 and
robust accuracy > 0.55 over the last three epochs of its training log); the
summary says whether it did. Training at gamma = 0.25 collapsed to a
constant-sign predictor (clean = robust accuracy = 0.50 at epochs 12, 13, 15 of
the earlier run); it now trains at gamma = 0.1 (the ratio of RQ2), lr 0.05, 20
epochs, and PGA is analysed at gamma = 0.25 on both networks.

Command: python experiments/rq1_local_max.py [--quick]
Run time (2 CPU cores): full 30 s (measured); --quick and --smoke less.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from adv_landscape import instances, objective, plots
from adv_landscape.data import load_dataset
from adv_landscape.network import init_network
from adv_landscape.pipeline import PGAConfig, run_census
from adv_landscape.training import TrainConfig, train

try:
  from experiments import common
except ImportError:  # run as a script
  import common  # type: ignore[no-redef]

import matplotlib.pyplot as plt  # noqa: E402  (plots set the Agg backend)

TRAIN_GAMMA = 0.1  # adversarial training's ratio (at 0.25 the network collapsed)


def learned(log, *, clean=0.75, robust=0.55, last=3) -> dict:
  """Whether a training log shows a network that learned: clean accuracy >= ``clean`` and
  robust accuracy > ``robust`` at each of the ``last`` epochs (a constant-sign predictor on
  the balanced task sits at 0.5 for both)."""
  recs = [r for r in log if not r.get("diverged")][-last:]
  ok = len(recs) == last and all(r["clean_acc"] >= clean and r["robust_acc"] > robust
                                 for r in recs)
  return {"learned": bool(ok), "clean_acc": [r["clean_acc"] for r in recs],
          "robust_acc": [r["robust_acc"] for r in recs], "criterion":
          f"clean >= {clean} and robust > {robust} over the last {last} epochs"}


def run(args):
  sizes = dict(smoke=(2, 16, 300, 1), quick=(4, 64, 1500, 8), full=(12, 256, 3000, 20))
  n_points, n_starts, max_steps, epochs = sizes["smoke" if args.smoke else
                                               "quick" if args.quick else "full"]
  ds = load_dataset(args.data, scale=1.0, data_dir=args.data_dir, n=None if not args.smoke
                    else 256)
  X, y = ds.X, ds.y
  d = X.shape[1]
  gamma = 0.25
  init = init_network(jax.random.key(args.seed), d, 64, dtype=jnp.float64)
  # The SGD step is scaled by 64 / d (digits have d = 64): with ||x||^2 = d the
  # weight gradient grows with d, and a fixed step diverges on 784-pixel images.
  trained, log = train(X, y, TrainConfig(m=64, epochs=epochs, lr=0.05 * 64 / d,
                                         gamma=TRAIN_GAMMA, seed=args.seed, certify_n=0,
                                         norm=args.norm),
                       progress=not args.no_progress)
  nets = {"initialisation": init}
  if log and log[-1].get("diverged"):
    print(f"RQ1: adversarial training diverged at epoch {log[-1]['epoch']}; only the "
          f"network at initialisation is analysed")
  else:
    nets[f"after {epochs} epochs of adversarial training"] = trained
  rng = np.random.default_rng(args.seed)
  points = rng.choice(X.shape[0], n_points, replace=False)
  out = {}
  for name, net in nets.items():
    hist, lam, cert_cls, iters = [], [], [], []
    for j, i in enumerate(points):
      x, yi = jnp.asarray(X[i]), float(y[i])
      eps = common.radius(x, gamma, args.norm)
      tol_g = 1e-4 * float(jnp.linalg.norm(objective.grad(net, "quadratic", x, yi,
                                                          jnp.zeros_like(x))))
      # --seed reaches the keys; seed 0 draws the keys of the committed figures.
      run = run_census(instances.problem(net, "quadratic", x, yi, eps=eps, norm=args.norm),
                       key=jax.random.key(args.seed * 100_003 + 1000 + j), n_restarts=n_starts,
                       config=PGAConfig(step_rule="grad0", step=0.1, tol_g=tol_g,
                                        max_steps=max_steps,
                                        init="vertex" if args.norm == "inf" else "sphere"),
                       history=True, prove=False)
      res, c = run.result, run.certificate
      h = res.history
      span = np.maximum(h[-1] - h[0], 1e-300)
      hist.append((h - h[0]) / span)
      lam.append(c.lambda_tangent)
      cert_cls.append(c.classes)
      iters.append(np.where(res.converged, res.iterations, np.nan))
    out[name] = dict(hist=np.concatenate(hist, axis=1), lam=np.concatenate(lam),
                     cls=np.concatenate(cert_cls), iters=np.concatenate(iters))
  return out, log, dict(n_points=n_points, n_starts=n_starts, gamma=gamma, max_steps=max_steps,
                        train_gamma=TRAIN_GAMMA, train_epochs=epochs, train_lr=0.05 * 64 / d)


def figures(out, args):
  paths = []
  fig, ax = plt.subplots(figsize=(6.5, 4.2), constrained_layout=True)
  for k, (name, o) in enumerate(out.items()):
    t = np.arange(o["hist"].shape[0])
    q = np.nanquantile(o["hist"], [0.1, 0.5, 0.9], axis=1)
    ax.plot(t, q[1], color=f"C{k}", label=f"{name} (median)")
    ax.fill_between(t, q[0], q[2], color=f"C{k}", alpha=0.25, label="10-90% of runs")
  ax.set_xscale("symlog", linthresh=10)
  ax.set_xlabel("PGA iteration")
  ax.set_ylabel("(L(delta_t) - L(delta_0)) / (L(delta_T) - L(delta_0))")
  ax.set_title("RQ1: value along PGA runs (digits, eta = 0.1 eps / ||grad L(delta_0)||)")
  ax.grid(True, alpha=0.3)
  ax.legend(fontsize=8)
  paths += plots.save(fig, args.out, "rq1_value_vs_iteration")

  fig, ax = plt.subplots(figsize=(6.5, 4.2), constrained_layout=True)
  # lambda_T is NaN at endpoints that are not first-order stationary (none here
  # when every run converged): those are left out of the histogram.
  allv = np.concatenate([o["lam"] for o in out.values()])
  allv = allv[np.isfinite(allv)] if np.isfinite(allv).any() else np.zeros(1)
  bins = np.concatenate([np.linspace(np.quantile(allv, 0.005), 0, 40),
                         np.linspace(0, max(allv.max(), 1e-9), 10)[1:]])
  for k, (name, o) in enumerate(out.items()):
    lam = o["lam"][np.isfinite(o["lam"])]
    ax.hist(np.clip(lam, bins[0], bins[-1]), bins=bins, alpha=0.6, color=f"C{k}", label=name)
  ax.axvline(0, color="k", lw=0.8)
  ax.set_xlabel("lambda_T at the PGA endpoint (< 0: strict local maximum on the sphere)")
  ax.set_ylabel("endpoints")
  ax.set_title("RQ1: second-order certificates")
  ax.legend(fontsize=8)
  paths += plots.save(fig, args.out, "rq1_lambda_hist")

  fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), constrained_layout=True)
  names = list(out)
  frac = [np.mean(out[n]["cls"] == "boundary_local_max") for n in names]
  med = [float(np.nanmedian(out[n]["iters"])) if np.isfinite(out[n]["iters"]).any() else 0.0
         for n in names]
  short = ["init", "trained"][:len(names)]
  axes[0].bar(short, frac, color=["C0", "C1"][:len(names)])
  axes[0].set_ylim(0, 1.05)
  axes[0].set_ylabel("certified local maxima (fraction of endpoints)")
  axes[1].bar(short, med, color=["C0", "C1"][:len(names)])
  axes[1].set_ylabel("median iterations to ||G|| <= tol_g")
  for ax, vals in zip(axes, (frac, med)):
    for i, v in enumerate(vals):
      ax.text(i, v, f"{v:.3g}", ha="center", va="bottom")
  fig.suptitle("RQ1: certified fraction and speed")
  paths += plots.save(fig, args.out, "rq1_certified")
  return paths


def main(argv=None):
  args = common.parser(__doc__).parse_args(argv)
  common.setup(args)
  t0 = time.perf_counter()
  out, log, cfg = run(args)
  paths = figures(out, args)
  summary = {name: {"certified_fraction": float(np.mean(o["cls"] == "boundary_local_max")),
                    "classes": {c: int(np.sum(o["cls"] == c)) for c in np.unique(o["cls"])},
                    "median_iterations": (float(np.nanmedian(o["iters"]))
                                          if np.isfinite(o["iters"]).any() else None),
                    "converged_fraction": float(np.mean(np.isfinite(o["iters"]))),
                    "lambda_tangent_max": (float(np.nanmax(o["lam"]))
                                           if np.isfinite(o["lam"]).any() else None)}
             for name, o in out.items()}
  summary.update(settings=cfg, training_log=log, trained_network=learned(log),
                 seconds=time.perf_counter() - t0)
  common.write_summary(args, "rq1_summary", summary)
  t = summary["trained_network"]
  print(f"RQ1 trained network learned: {t['learned']} (clean {t['clean_acc']}, robust "
        f"{t['robust_acc']}; {t['criterion']})")
  for name, s in summary.items():
    if isinstance(s, dict) and "certified_fraction" in s:
      print(f"RQ1 {name}: certified {s['certified_fraction']:.1%}, median iterations "
            f"{s['median_iterations']}, converged {s['converged_fraction']:.1%}")
  return paths


if __name__ == "__main__":
  main()
