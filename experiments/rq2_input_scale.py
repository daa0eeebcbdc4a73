"""RQ2: at a fixed perturbation ratio, does a smaller input scale speed up
adversarial training? (Deng et al., ICML 2020, section 5)

Why one learning rate cannot answer it: with V = s W the adversarial problem in
V is the same at every s, so an input scale s is a first-layer initialisation
scaled by s plus an effective first-layer learning rate lr s^2. The protocols
separate the two (quadratic loss, SGD, 10-step PGA inner loop, digits or
Fashion-MNIST, s in {1/4, ..., 4}, paired seeds: seed k draws the same initial
W at every s):

- fixed: one lr for every s (the old protocol, kept for comparison);
- rescaled: first-layer lr = lr / s^2, the others lr: only the landscape
  (the initialisation's scale) differs between scales;
- tuned: per s, the best lr of a log grid, chosen on a validation split by
  the primary measure; best against best, reported on the test split;
- clean: standard training at the fixed lr (the adversarial / clean ratio).

Speed is measured on the test split's robust loss under a strong attack
(projected gradient steps eta = 0.1 eps / ||grad L(start)|| run to ||G|| <=
1e-4 ||grad L(0)|| or the step budget, one start at 0 and three on the
sphere, the worst of them; its converged fraction each epoch and the
certified fraction of its endpoints at the last epoch are reported), never
the training attack. Measures (each
reported): the primary, AUC = mean over epochs 1..K of R_t / R_0 (lower is
faster; defined for every run, so nothing is censored, and normalised by the
epoch-0 loss so that scales with different starting losses compare);
epochs to halve the excess over a common floor (the protocol's lowest final
R), censored at K when never reached; the initial slope (R_0 - R_3) / (3 R_0).
The trend across s is Page's L within seeds (blocks) with a cluster bootstrap
over seeds of the log-log slope of AUC on s. Verdict per protocol:
``supports`` (AUC increases with s: p < 0.05 and the slope's interval above
0), ``contradicts`` (decreases: p < 0.05 the other way and the interval
below 0), else ``inconclusive``.

Figures: rq2_protocols (robust test loss per epoch, every protocol and
scale), rq2_speed (AUC against s per protocol, seeds joined). Summary:
rq2_summary.json.

Command: python experiments/rq2_input_scale.py [--quick]
Run time (2 CPU cores): full 876 s, --quick 297 s (measured); --smoke about 30 s.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from adv_landscape import plots, stats
from adv_landscape.data import load_dataset
from adv_landscape.losses import get_loss
from adv_landscape.problem import Problem
from adv_landscape.training import TrainConfig, adversarial_examples, batch_loss, train

try:
  from experiments import common
except ImportError:  # run as a script
  import common  # type: ignore[no-redef]

import matplotlib.pyplot as plt  # noqa: E402

SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)
PROTOCOLS = ("fixed", "rescaled", "tuned", "clean")
LR_GRID = (0.25, 0.5, 1.0, 2.0, 4.0)  # multiples of --lr for the tuned protocol
ALPHA = 0.1  # the strong attack's grad0 step, eta = ALPHA eps / ||grad L(start)|| (as RQ1)


def sizes(args):
  """(train n, eval n per split, epochs K, seeds, attack steps, certify n)."""
  if args.smoke:
    return 192, 32, 3, 2, 20, 2
  if args.quick:
    return 512, 128, 8, 5, 150, 4
  return 1024, 256, 12, 5, 200, 8


def strong_attack(net, X, Y, eps, key, *, steps, norm):
  """Worst of 4 PGA runs to tolerance per example (start at 0 and three on the boundary):
  per-example losses, endpoints and whether each converged."""
  runs = []
  for r in range(4):
    D, _, conv = adversarial_examples(net, "quadratic", X, Y, eps, jax.random.fold_in(key, r),
                                      steps=steps, alpha_c=ALPHA, rtol_g=1e-4,
                                      init="zero" if r == 0 else "sphere", norm=norm,
                                      rule="grad0")
    vals = jax.vmap(lambda x, y, d: get_loss("quadratic").value(
        net.act.fn(net.W @ (x + d) + net.b) @ net.a, y))(X, Y, D)
    runs.append((np.asarray(vals), np.asarray(D), np.asarray(conv)))
  vals = np.stack([v for v, _, _ in runs])
  best = np.argmax(vals, axis=0)
  pick = np.arange(X.shape[0])
  D = np.stack([d for _, d, _ in runs])[best, pick]
  conv = np.stack([c for _, _, c in runs])[best, pick]
  return vals.max(axis=0), D, conv


def evaluator(splits, eps_of, args, steps, n_cert, seed, last):
  """evaluate(net, epoch) for ``train``: strong-attack robust loss and accuracy on each split,
  the clean loss, and (at the last epoch) the certified fraction of a few of the test split's
  worst endpoints."""
  def evaluate(net, epoch):
    out = {}
    key = jax.random.fold_in(jax.random.key(seed), 7 + epoch)
    for j, (name, (X, Y)) in enumerate(splits.items()):
      eps = eps_of(X)
      vals, D, conv = strong_attack(net, X, Y, eps, jax.random.fold_in(key, j),
                                    steps=steps, norm=args.norm)
      F = jax.vmap(lambda x, d: net.act.fn(net.W @ (x + d) + net.b) @ net.a)(X, jnp.asarray(D))
      out[f"{name}_robust_loss"] = float(np.mean(vals))
      out[f"{name}_robust_acc"] = float(np.mean(np.sign(np.asarray(F)) == np.sign(Y)))
      out[f"{name}_clean_loss"] = float(batch_loss(net, "quadratic", X, Y, jnp.zeros_like(X)))
      out[f"{name}_attack_converged"] = float(np.mean(conv))
      if name == "test" and n_cert and epoch == last:
        ok = 0
        for i in range(n_cert):
          problem = Problem.two_layer(net, "quadratic", X[i], float(Y[i]), eps=float(eps[i]),
                                      norm=args.norm)
          c = problem.constraint.certify(problem, D[i][None], tol_g=1e-3 * max(float(
              jnp.linalg.norm(problem.objective.grad(jnp.zeros_like(X[i])))), 1e-300))
          ok += int(c.classes[0] in ("boundary_local_max", "interior_local_max"))
        out["test_attack_certified"] = ok / n_cert
    return out
  return evaluate


def speed(curve, floor):
  """The three speed measures of one robust-loss curve R_0..R_K (epoch 0 = initialisation)."""
  R = np.asarray(curve, np.float64)
  K = R.size - 1
  auc = float(np.mean(R[1:] / R[0]))
  target = floor + 0.5 * (R[0] - floor)
  hit = np.flatnonzero(R[1:] <= target)
  k0 = min(3, K)
  return {"auc": auc, "half_epochs": int(hit[0] + 1) if hit.size else K,
          "half_censored": not hit.size, "initial_slope": float((R[0] - R[k0]) / (k0 * R[0]))}


def trend_verdict(table, scales, seeds):
  """Page's L both ways within seeds, and the cluster-bootstrap slope of log AUC on log s."""
  up = stats.page_trend(table)
  down = stats.page_trend(np.asarray(table)[:, ::-1])
  xs = np.tile(scales, len(seeds))
  fit = stats.cluster_fit(xs, np.asarray(table).reshape(-1), np.repeat(seeds, len(scales)))
  lo, hi = fit.ci
  if up.pvalue < 0.05 and lo > 0:
    verdict = "supports"
  elif down.pvalue < 0.05 and hi < 0:
    verdict = "contradicts"
  else:
    verdict = "inconclusive"
  return {"page_p_increasing": up.pvalue, "page_p_decreasing": down.pvalue,
          "loglog_slope": fit.slope, "slope_ci": [lo, hi], "verdict": verdict}


def _train(ds_tr, splits, eps_of, cfg, args, steps, n_cert):
  ev = evaluator(splits, eps_of, args, steps, n_cert, cfg.seed, cfg.epochs)
  _, log = train(ds_tr[0], ds_tr[1], cfg, progress=False, evaluate=ev)
  return log


def run(args):
  n_tr, n_ev, K, n_seeds, steps, n_cert = sizes(args)
  base = dict(m=64, epochs=K, gamma=args.gamma, pga_steps=10, certify_n=0, norm=args.norm)
  logs = {p: {} for p in PROTOCOLS}
  tuned_choice = {}
  from tqdm.auto import tqdm
  total = len(SCALES) * n_seeds * (3 + len(LR_GRID))
  bar = tqdm(total=total, desc="RQ2 runs", disable=args.no_progress)
  for s in SCALES:
    ds = load_dataset(args.data, scale=s, data_dir=args.data_dir, n=n_tr + 2 * n_ev)
    X, Y = np.asarray(ds.X), np.asarray(ds.y)  # one fixed split, the same at every s
    tr, va, te = (X[:n_tr], Y[:n_tr]), (X[n_tr:n_tr + n_ev], Y[n_tr:n_tr + n_ev]), \
        (X[n_tr + n_ev:], Y[n_tr + n_ev:])
    d = X.shape[1]
    lr = args.lr * 64 / d
    scale = np.sqrt(d) if args.norm == "inf" else 1.0

    def eps_of(Xs, scale=scale):
      return jnp.asarray(args.gamma * np.linalg.norm(np.asarray(Xs), axis=1) / scale)

    splits = {"valid": va, "test": te}
    for seed in range(n_seeds):
      sd = args.seed + seed
      for proto, extra in (("fixed", {}), ("rescaled", {"lr_first": lr / s**2}),
                           ("clean", {"adversarial": False})):
        cfg = TrainConfig(lr=lr, seed=sd, **base, **extra)
        logs[proto].setdefault(str(s), []).append(_train(tr, splits, eps_of, cfg, args, steps,
                                                         n_cert if proto != "clean" else 0))
        bar.update()
      for mult in LR_GRID:
        cfg = TrainConfig(lr=lr * mult, seed=sd, **base)
        logs.setdefault(f"tuned x{mult}", {}).setdefault(str(s), []).append(
            logs["fixed"][str(s)][-1] if mult == 1.0 else
            _train(tr, splits, eps_of, cfg, args, steps, n_cert))
        bar.update()
    # tuned: the lr whose mean validation AUC over seeds is best (diverged runs excluded)
    best, best_auc = None, np.inf
    for mult in LR_GRID:
      aucs = [_curve_auc(log, "valid_robust_loss") for log in logs[f"tuned x{mult}"][str(s)]]
      if all(np.isfinite(aucs)) and np.mean(aucs) < best_auc:
        best, best_auc = mult, float(np.mean(aucs))
    tuned_choice[str(s)] = {"lr_multiple": best, "validation_auc": best_auc,
                            "grid": list(LR_GRID)}
    logs["tuned"][str(s)] = logs[f"tuned x{best}"][str(s)] if best is not None else []
  bar.close()
  return logs, tuned_choice, dict(n_train=n_tr, n_eval=n_ev, epochs=K, seeds=n_seeds,
                                  attack_steps=steps, certify_n=n_cert, lr=args.lr,
                                  lr_grid=list(LR_GRID), gamma=args.gamma, norm=args.norm)


def _curve(log, key):
  if not log or any(r.get("diverged") for r in log):
    return None
  return [r[key] for r in log]


def _curve_auc(log, key):
  c = _curve(log, key)
  return float(np.mean(np.asarray(c[1:]) / c[0])) if c else np.inf


def summarise(logs, tuned_choice, settings, seed):
  out = {}
  seeds = np.arange(settings["seeds"])
  scales = np.asarray(SCALES)
  for proto in PROTOCOLS:
    key = "test_clean_loss" if proto == "clean" else "test_robust_loss"
    curves = {s: [_curve(log, key) for log in logs[proto].get(str(s), [])] for s in SCALES}
    finals = [c[-1] for cs in curves.values() for c in cs if c]
    floor = float(min(finals)) if finals else 0.0
    per_scale, table = {}, np.full((len(seeds), len(scales)), np.nan)
    for j, s in enumerate(SCALES):
      rows = [speed(c, floor) if c else None for c in curves[s]]
      for i, r in enumerate(rows):
        if r is not None:
          table[i, j] = r["auc"]
      ok = [r for r in rows if r is not None]
      per_scale[str(s)] = {
          "auc": [r["auc"] if r else None for r in rows],
          "auc_median": float(np.median([r["auc"] for r in ok])) if ok else None,
          "auc_spread": [float(min(r["auc"] for r in ok)), float(max(r["auc"] for r in ok))]
          if ok else None,
          "half_epochs": [r["half_epochs"] if r else None for r in rows],
          "half_censored": [r["half_censored"] if r else None for r in rows],
          "initial_slope": [r["initial_slope"] if r else None for r in rows],
          "diverged_seeds": sum(r is None for r in rows),
          "attack_certified": _mean_of(logs[proto].get(str(s), []), "test_attack_certified"),
          "attack_converged": _mean_of(logs[proto].get(str(s), []), "test_attack_converged"),
      }
    full = table[np.all(np.isfinite(table), axis=1)]
    trend = (trend_verdict(full, scales, seeds[:full.shape[0]]) if full.shape[0] >= 2 else
             {"verdict": "inconclusive", "reason": "fewer than 2 seeds without divergence"})
    out[proto] = {"per_scale": per_scale, "trend": trend, "floor": floor,
                  "measure": "auc (primary), half_epochs, initial_slope",
                  "curve": key}
    if proto == "tuned":
      out[proto]["chosen_lr"] = tuned_choice
  # the adversarial / clean speed ratio per scale (paired by seed)
  ratio = {}
  for s in SCALES:
    a, c = out["fixed"]["per_scale"][str(s)]["auc"], out["clean"]["per_scale"][str(s)]["auc"]
    pairs = [x / y for x, y in zip(a, c) if x is not None and y is not None and y > 0]
    ratio[str(s)] = float(np.median(pairs)) if pairs else None
  out["clean"]["adv_over_clean_auc_ratio"] = ratio
  return out


def _mean_of(logs, key):
  v = [r[key] for log in logs for r in log if r.get(key) is not None]
  return float(np.mean(v)) if v else None


def figures(logs, summary, settings, args):
  paths = []
  K = settings["epochs"]
  fig, axes = plt.subplots(1, 4, figsize=(18, 4.2), constrained_layout=True, sharey=False)
  for ax, proto in zip(axes, PROTOCOLS):
    key = summary[proto]["curve"]
    for k, s in enumerate(SCALES):
      cs = [c for c in (_curve(log, key) for log in logs[proto].get(str(s), [])) if c]
      if not cs:
        continue
      v = np.asarray(cs) / np.asarray(cs)[:, :1]
      e = np.arange(K + 1)
      ax.plot(e, np.median(v, 0), "o-", ms=3, color=f"C{k}", label=f"s = {s}")
      ax.fill_between(e, v.min(0), v.max(0), color=f"C{k}", alpha=0.15)
    t = summary[proto]["trend"]
    ax.set_title(f"{proto}: {t['verdict']}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(("clean" if proto == "clean" else "robust (strong attack)")
                  + " test loss / epoch 0")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
  fig.suptitle(f"RQ2: adversarial training at gamma = {args.gamma}, {settings['seeds']} "
               f"paired seeds (median, band = min-max)")
  paths += plots.save(fig, args.out, "rq2_protocols")

  fig, ax = plt.subplots(figsize=(6.5, 4.2), constrained_layout=True)
  for k, proto in enumerate(PROTOCOLS):
    ps = summary[proto]["per_scale"]
    med = [ps[str(s)]["auc_median"] for s in SCALES]
    lo = [ps[str(s)]["auc_spread"][0] if ps[str(s)]["auc_spread"] else np.nan for s in SCALES]
    hi = [ps[str(s)]["auc_spread"][1] if ps[str(s)]["auc_spread"] else np.nan for s in SCALES]
    med = [np.nan if v is None else v for v in med]
    ax.plot(SCALES, med, "o-", color=f"C{k}",
            label=f"{proto} ({summary[proto]['trend']['verdict']})")
    ax.fill_between(SCALES, lo, hi, color=f"C{k}", alpha=0.15)
  ax.set_xscale("log", base=2)
  ax.set_xlabel("input scale s")
  ax.set_ylabel("AUC of the test loss / epoch 0 (lower = faster)")
  ax.set_title("RQ2: speed against input scale, per protocol (median, band = seeds)")
  ax.grid(True, alpha=0.3)
  ax.legend(fontsize=8)
  paths += plots.save(fig, args.out, "rq2_speed")
  return paths


def main(argv=None):
  p = common.parser(__doc__)
  p.add_argument("--gamma", type=float, default=0.1)
  p.add_argument("--lr", type=float, default=0.02, help="SGD step at d = 64 (scaled by 64/d)")
  args = p.parse_args(argv)
  common.setup(args)
  t0 = time.perf_counter()
  logs, tuned_choice, settings = run(args)
  summary = summarise(logs, tuned_choice, settings, args.seed)
  paths = figures(logs, summary, settings, args)
  for proto in PROTOCOLS:
    t = summary[proto]["trend"]
    meds = {s: summary[proto]["per_scale"][str(s)]["auc_median"] for s in SCALES}
    print(f"RQ2 {proto}: AUC median by s {meds}; Page p (increasing) "
          f"{t.get('page_p_increasing')}; verdict {t['verdict']}")
  seconds = time.perf_counter() - t0
  common.write_summary(args, "rq2_summary", {"protocols": summary, "settings": settings,
                                             "logs": logs, "seconds": seconds})
  return paths


if __name__ == "__main__":
  main()
