"""RQ2: at a fixed perturbation ratio, does a smaller input scale speed up
adversarial training? (Deng et al., ICML 2020, section 5)

Adversarial training (quadratic loss, SGD, k-step PGA inner loop) on digits
for s in {1/4, 1/2, 1, 2, 4} with gamma = eps / ||x|| fixed, several seeds.
Figures: rq2_adv_loss (adversarial training loss per epoch, mean and min-max
band over seeds), rq2_robust_acc. The summary gives, per s, the first epoch
at which the adversarial loss falls below --threshold.

Command: python experiments/rq2_input_scale.py [--quick]
Run time (2 CPU cores): full 105 s (measured); --quick and --smoke less.
"""

from __future__ import annotations

import time

import numpy as np

from adv_landscape import plots
from adv_landscape.data import load_dataset
from adv_landscape.training import TrainConfig, train

try:
  from experiments import common
except ImportError:  # run as a script
  import common  # type: ignore[no-redef]

import matplotlib.pyplot as plt  # noqa: E402

SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)


def run(args):
  n, epochs, seeds = ((256, 3, 2) if args.smoke else (800, 12, 2) if args.quick
                      else (None, 30, 3))
  curves = {}
  for s in SCALES:
    ds = load_dataset(args.data, scale=s, data_dir=args.data_dir, n=n)
    runs = []
    for seed in range(seeds):
      # lr scaled by 64 / d, as in rq1: digits (d = 64) use --lr itself.
      cfg = TrainConfig(m=64, epochs=epochs, lr=args.lr * 64 / ds.X.shape[1],
                        gamma=args.gamma, pga_steps=10,
                        seed=args.seed + seed, certify_n=8 if args.smoke else 32,
                        norm=args.norm)
      _, log = train(ds.X, ds.y, cfg, progress=not args.no_progress)
      runs.append(log)
    curves[str(s)] = runs
  return curves, dict(n=n, epochs=epochs, seeds=seeds)


def _series(runs, key, epochs):
  out = np.full((len(runs), epochs), np.nan)
  for i, log in enumerate(runs):
    for rec in log:
      if key in rec:
        out[i, rec["epoch"] - 1] = rec[key]
  return out


def figures(curves, cfg, args):
  paths = []
  for key, name, ylabel in (("adv_loss", "rq2_adv_loss", "adversarial training loss"),
                            ("robust_acc", "rq2_robust_acc", "robust accuracy (train)")):
    fig, ax = plt.subplots(figsize=(6.5, 4.2), constrained_layout=True)
    for k, (s, runs) in enumerate(curves.items()):
      v = _series(runs, key, cfg["epochs"])
      e = np.arange(1, cfg["epochs"] + 1)
      ax.plot(e, np.nanmean(v, 0), "o-", ms=3, color=f"C{k}", label=f"s = {s}")
      ax.fill_between(e, np.nanmin(v, 0), np.nanmax(v, 0), color=f"C{k}", alpha=0.2)
    if key == "adv_loss":
      ax.axhline(args.threshold, color="k", ls=":", lw=1, label=f"threshold {args.threshold}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(f"RQ2: adversarial training at gamma = {args.gamma} ({cfg['seeds']} seeds, "
                 "band = min-max)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    paths += plots.save(fig, args.out, name)
  return paths


def first_below(runs, threshold):
  """First epoch with adversarial loss below threshold, per seed (None: never)."""
  out = []
  for log in runs:
    hit = [r["epoch"] for r in log if r.get("adv_loss", np.inf) < threshold]
    out.append(hit[0] if hit else None)
  return out


def main(argv=None):
  p = common.parser(__doc__)
  p.add_argument("--gamma", type=float, default=0.1)
  p.add_argument("--lr", type=float, default=0.02, help="SGD step at d = 64 (scaled by 64/d)")
  p.add_argument("--threshold", type=float, default=0.4)
  args = p.parse_args(argv)
  common.setup(args)
  t0 = time.perf_counter()
  curves, cfg = run(args)
  paths = figures(curves, cfg, args)
  summary = {}
  for s, runs in curves.items():
    hits = first_below(runs, args.threshold)
    cert = [r.get("certified_fraction") for log in runs for r in log
            if r.get("certified_fraction") is not None]
    summary[s] = {"first_epoch_below_threshold": hits,
                  "diverged": [any(r.get("diverged") for r in log) for log in runs],
                  "final_adv_loss": [log[-1].get("adv_loss") for log in runs],
                  "certified_fraction_mean": float(np.mean(cert)) if cert else None}
    print(f"RQ2 s={s}: first epoch adv loss < {args.threshold}: {hits}; certified inner "
          f"endpoints {summary[s]['certified_fraction_mean']}")
  common.write_summary(args, "rq2_summary", {"by_scale": summary, "settings": cfg,
                                             "logs": curves,
                                             "seconds": time.perf_counter() - t0})
  return paths


if __name__ == "__main__":
  main()
