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
- tuned: per s, the best lr of a log grid, chosen on a validation split by the
  primary criterion (the mean robust validation loss over the epochs); the grid
  starts at 1/4 .. 4 times --lr and is widened, one factor of 2 at a time up to
  1/64 .. 64, while a scale's choice sits on its edge; best against best,
  reported on the test split;
- clean: standard training at the fixed lr, for comparison (its loss measures are clean
  losses; no adversarial / clean ratio is computed).

Measures, fixed before the results were looked at, in absolute units (with V = s W the
problem is the same at every s, so absolute losses compare across scales and nothing is
normalised away). Primary, each a cost (higher = slower), per seed and scale:
  mean_loss       mean robust test loss over epochs 1..K;
  epochs_to_loss  first epoch with robust test loss <= 0.5 (the quadratic loss of the
                  zero predictor on labels +-1), K + 1 when never (censored);
  epochs_to_acc   first epoch with robust test accuracy >= 0.6 (ten points above
                  chance), K + 1 when never;
  final_loss      robust test loss at epoch K;
  final_error     1 - robust test accuracy at epoch K.
Gradient evaluations to each target are the epochs times n_train (1 + inner PGA steps)
(reported beside them: the same order). Secondary, relative: auc_relative = mean over
epochs of R_t / R_0 (the old measure; R_0 itself grows with s, so it is not read for the
verdict). Secondary, added after the primary results were seen (post hoc), to separate
the starting loss from the speed: aligned_mean_loss, each curve's mean (read as the
piecewise-linear curve through its epochs) over [t*, t* + W], t* the time it comes down to
the protocol's lowest starting loss (interpolated, so every window starts at that loss),
W = K - the latest t*; aligned_mean_loss_epoch1 the same at the lowest loss after one epoch
(``aligned_mean_loss``). Robust loss is measured by a strong attack that must converge:
projected gradient steps eta = 0.1 eps / ||grad L(start)||, one start at 0 and three on the
sphere, to ||G|| <= 1e-4 ||grad L(0)||; examples it leaves unconverged are attacked
again with 4x the steps, then with a 4x smaller step and 16x the steps; the worst loss
found is kept; an example still unconverged is then polished from that worst point by
backtracking (armijo) steps until the same test holds at the zero start's step
(``ascent.polish``: at s = 4 on Fashion-MNIST the fixed step crawls across the flat,
saturated regions of trained tanh networks, and where ||grad L(start)|| is small it
oscillates: on two networks trained at s = 4, tuned 16x seed 1 after 10 epochs and fixed
seed 0 after 12, the ladder left 57% and 9% of the test examples unconverged, the polish
none, raising the mean robust loss by 0.6% and 0.08%). The converged fraction per scale
is reported (a scale below 99% is flagged), with the fractions polished and left where
they were by the polish (no step: the point already passed the zero start's test).
(--smoke, for the test suite, retries once only.)

Per measure, Page's L test within seeds (blocks) both ways, ties (within 1e-9
relative) as ties: supports (the cost increases with s, smaller s faster: p < 0.05),
contradicts (decreases, p < 0.05), else inconclusive, the p-values Holm-adjusted over the
protocol's five primary measures (each direction its own family; the unadjusted verdict
is kept beside it); beside it the per-seed slope of
the cost on log2 s with a t interval over seeds (G - 1 degrees of freedom). Verdict per
protocol: supports (contradicts) when at least 3 of the 5 primary measures do and none
says the opposite; mixed when the measures disagree in direction; else inconclusive.
Controls (each must come out as expected): invariant (inputs at scale s, first layer
initialised at W0 / s with lr / s^2: the training is the same at every s) must be
inconclusive on every measure; faster_large_s (the same, with every lr times s / 4: the
smaller s trains with the smaller step, so larger s is made faster, and no lr exceeds
the base one) must contradict.

Figures: rq2_protocols (robust test loss per epoch, every protocol and scale),
rq2_speed (the mean robust test loss against s per protocol, seeds joined). Summary:
rq2_summary.json (per-epoch logs, per protocol and measure the per-scale values, the
statistic and the verdict, the controls) and rq2_summary.md (its tables, for reading).

Resumes: every finished training run's log is appended (synced) to <out>/rq2_runs.jsonl as
it finishes, so that a killed run, rerun with the same command, trains only what is left;
a store written by another configuration is refused. --carry-over PATH copies in, from
a store written before the polish, the runs whose attack converged everywhere (the polish
never runs on them, so their logs are this configuration's): only the others are trained.

Command: python experiments/rq2_input_scale.py [--quick]
Run time (2 CPU cores): full 1472 s (measured 2026-12-01); --quick on digits 355 s
(5 epochs, 3 seeds, 174 runs; the whole `reproduce --quick` 520 s, cold compilation
cache, 2026-12-08, on a machine 1.45x slower than the README's reference); --quick on
Fashion-MNIST 6570 s (the earlier quick sizes: 8 epochs, 5 seeds, 305 runs, 2026-12-07);
the full one on Fashion-MNIST 305 runs, from about 20 s each at s = 1/4 to 100-200 s at
s = 4 under the old attack and 5-8 min each at s >= 2 under the polished one (2026-12-08,
not timed as a whole); --smoke 52 s (115 s before the polish was compiled, 2026-12-08,
the same machine).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import scipy.stats

from adv_landscape import ascent, io, plots, stats
from adv_landscape.certificates import certify_endpoints
from adv_landscape.data import load_dataset
from adv_landscape.errors import InvalidInput
from adv_landscape.losses import get_loss
from adv_landscape.problem import Problem
from adv_landscape.training import TrainConfig, adversarial_examples, train

try:
  from experiments import common
except ImportError:  # run as a script
  import common  # type: ignore[no-redef]

import matplotlib.pyplot as plt  # noqa: E402

SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)
PROTOCOLS = ("fixed", "rescaled", "tuned", "clean")
CONTROLS = {"invariant": "inconclusive", "faster_large_s": "contradicts"}
LR_GRID = (0.25, 0.5, 1.0, 2.0, 4.0)  # multiples of --lr for the tuned protocol, at first
LR_LIMITS = (1 / 64, 64.0)  # how far the tuned grid may be widened
SMOKE_GRID = (1.0, 2.0)  # the smoke test's (not widened)
ALPHA = 0.1  # the strong attack's grad0 step, eta = ALPHA eps / ||grad L(start)|| (as RQ1)
RTOL_G = 1e-4  # its stopping test, ||G|| <= RTOL_G ||grad L(0)||
ATTACK = "grad0 ladder + armijo polish"  # in the run store's configuration (docstring)
LOSS_TARGET, ACC_TARGET = 0.5, 0.6  # the primary measures' absolute targets (docstring)
MEASURES = ("mean_loss", "epochs_to_loss", "epochs_to_acc", "final_loss", "final_error")
SECONDARY = ("auc_relative", "aligned_mean_loss", "aligned_mean_loss_epoch1")  # not verdicts


def sizes(args):
  """(train n, eval n per split, epochs K, seeds, attack steps, certify n)."""
  if args.smoke:
    return 192, 32, 3, 2, 20, 2
  if args.quick:  # 5 epochs and 3 seeds since 2026-12-08 (8 and 5 before: reproduce
    return 512, 128, 5, 3, 150, 4  # --quick took 18 min on 2 cores, RQ2 896 s of it)
  return 1024, 256, 12, 5, 200, 8


@jax.jit
def _outputs_and_losses(net, X, Y, D):
  """f(x_i + delta_i) and the quadratic loss per example, as one compiled program (evaluated
  op by op under vmap they were most of the smoke run's time)."""
  F = jax.vmap(lambda x, d: net.act.fn(net.W @ (x + d) + net.b) @ net.a)(X, D)
  return F, jax.vmap(get_loss("quadratic").value)(F, Y)


def _attack_once(net, X, Y, eps, key, *, steps, alpha, norm):
  """Worst of 4 PGA runs to tolerance per example (start at 0 and three on the boundary):
  per-example losses, endpoints and whether the worst one converged."""
  runs = []
  for r in range(4):
    D, _, conv = adversarial_examples(net, "quadratic", X, Y, eps, jax.random.fold_in(key, r),
                                      steps=steps, alpha_c=alpha, rtol_g=RTOL_G,
                                      init="zero" if r == 0 else "sphere", norm=norm,
                                      rule="grad0")
    _, vals = _outputs_and_losses(net, X, Y, D)
    runs.append((np.asarray(vals), np.asarray(D), np.asarray(conv)))
  vals = np.stack([v for v, _, _ in runs])
  best = np.argmax(vals, axis=0)
  pick = np.arange(X.shape[0])
  D = np.stack([d for _, d, _ in runs])[best, pick]
  conv = np.stack([c for _, _, c in runs])[best, pick]
  return vals.max(axis=0), D, conv


def strong_attack(net, X, Y, eps, key, *, steps, norm, retries: int = 2, polish: bool = True):
  """``_attack_once``, then the examples it left unconverged again with a 4x larger budget,
  then with a 4x smaller step and 16x the budget, then (``polish``) each example still
  unconverged polished from its worst point by ``ascent.polish`` to the first rung's test
  at its zero start (||G|| <= 1e-4 ||grad L(0)|| at eta = ALPHA eps / ||grad L(0)||): the
  worst loss found per example (any point of the ball is a valid lower bound on the
  maximum), its endpoint, whether that worst point is a converged one, and the polish's
  steps per example (-1: not polished; 0: no step, as a rule because the ladder's point
  already passed the zero start's test, having failed its own start's: relabelled).

  "Converged" is the test of the run that found the point: ||G|| <= 1e-4 ||grad L(0)|| at
  that start's step (ALPHA eps / ||grad L(start)||, / 4 on the second retry), and for a
  polished point at the zero start's.

  The polish comes last so that wherever the ladder converged on every example the result
  is the ladder's alone (``RunStore.carry_over`` relies on it)."""
  vals, D, conv = _attack_once(net, X, Y, eps, key, steps=steps, alpha=ALPHA, norm=norm)
  for k in range(1, retries + 1):
    todo = np.flatnonzero(~conv)
    if not todo.size:
      break
    # first more steps at the same step (slow convergence), then a smaller step with more
    # still (oscillation at large s)
    # padded to a power of two by repeating the last example: one compiled program per
    # bucket, not per count of unconverged examples
    pad = np.concatenate([todo, np.full((1 << max(3, (todo.size - 1).bit_length()))
                                        - todo.size, todo[-1])])
    v2, D2, c2 = _attack_once(net, X[pad], Y[pad], eps[pad], jax.random.fold_in(key, 100 + k),
                              steps=steps * 4**k, alpha=ALPHA / 4 ** (k - 1), norm=norm)
    v2, D2, c2 = v2[:todo.size], D2[:todo.size], c2[:todo.size]
    better = (c2 & (v2 >= vals[todo] - 1e-12 * np.abs(vals[todo]))) | (v2 > vals[todo])
    idx = todo[better]
    vals, D, conv = vals.copy(), D.copy(), conv.copy()
    vals[idx], D[idx], conv[idx] = v2[better], D2[better], c2[better]
  steps_polished = np.full(conv.shape, -1)
  if polish and not conv.all():
    vals, D, conv = vals.copy(), D.copy(), conv.copy()
    for i in np.flatnonzero(~conv):
      problem = Problem.two_layer(net, "quadratic", X[i], float(Y[i]), eps=float(eps[i]),
                                  norm=norm)
      g0 = max(float(ascent.grad_norm(problem, jnp.zeros_like(X[i]))),
               float(np.finfo(np.asarray(X).dtype).tiny))
      d, v, _, ok, steps_polished[i] = ascent.polish(
          problem, D[i], tol_g=RTOL_G * g0, eta_ref=ALPHA * float(eps[i]) / g0, move=ALPHA)
      if (ok and v >= vals[i] - 1e-12 * abs(vals[i])) or v > vals[i]:
        vals[i], D[i], conv[i] = v, d, ok
  return vals, D, conv, steps_polished


def evaluator(splits, eps_of, args, steps, n_cert, seed, last):
  """evaluate(net, epoch) for ``train``: strong-attack robust loss and accuracy on each split,
  the clean loss, and (at the last epoch) the fraction of the first ``n_cert`` test examples
  whose attack endpoint is certified a local maximum (at 1e-3 ||grad L(0)||)."""
  def evaluate(net, epoch):
    out = {}
    key = jax.random.fold_in(jax.random.key(seed), 7 + epoch)
    for j, (name, (X, Y)) in enumerate(splits.items()):
      eps = eps_of(X)
      vals, D, conv, polished = strong_attack(net, X, Y, eps, jax.random.fold_in(key, j),
                                              steps=steps, norm=args.norm,
                                              retries=1 if args.smoke else 2)
      F, _ = _outputs_and_losses(net, X, Y, jnp.asarray(D))
      out[f"{name}_robust_loss"] = float(np.mean(vals))
      out[f"{name}_robust_acc"] = float(np.mean(np.sign(np.asarray(F)) == np.sign(Y)))
      out[f"{name}_clean_loss"] = float(np.mean(_outputs_and_losses(net, X, Y,
                                                                    jnp.zeros_like(X))[1]))
      out[f"{name}_attack_converged"] = float(np.mean(conv))
      out[f"{name}_attack_polished"] = float(np.mean(polished >= 0))
      out[f"{name}_attack_relabelled"] = float(np.mean(polished == 0))
      if name == "test" and n_cert and epoch == last:
        ok = 0
        for i in range(n_cert):
          problem = Problem.two_layer(net, "quadratic", X[i], float(Y[i]), eps=float(eps[i]),
                                      norm=args.norm)
          c = certify_endpoints(problem, D[i][None], tol_g=1e-3 * max(float(
              ascent.grad_norm(problem, jnp.zeros_like(X[i]))), 1e-300))
          ok += int(c.classes[0] in ("boundary_local_max", "interior_local_max"))
        out["test_attack_certified"] = ok / n_cert
    return out
  return evaluate


def measures(log, K, *, loss_key="test_robust_loss", acc_key="test_robust_acc"):
  """The primary measures (costs: higher = slower) and the secondary relative AUC of one
  run's log (epoch 0 = initialisation, then 1..K); None for a diverged run."""
  R = _curve(log, loss_key)
  A = _curve(log, acc_key)
  if R is None or len(R) < K + 1:
    return None
  R, A = np.asarray(R, np.float64), np.asarray(A, np.float64)
  hit_l, hit_a = np.flatnonzero(R[1:] <= LOSS_TARGET), np.flatnonzero(A[1:] >= ACC_TARGET)
  return {"mean_loss": float(np.mean(R[1:])),
          "epochs_to_loss": int(hit_l[0] + 1) if hit_l.size else K + 1,
          "epochs_to_acc": int(hit_a[0] + 1) if hit_a.size else K + 1,
          "final_loss": float(R[-1]), "final_error": float(1.0 - A[-1]),
          "auc_relative": float(np.mean(R[1:] / R[0]))}


def _crossing(c, level):
  """The first time t in [0, K] at which the piecewise-linear curve through (t, c[t]) comes
  down to ``level`` (linear between epochs), or None when it never does."""
  c = np.asarray(c, np.float64)
  if c[0] <= level:
    return 0.0
  hit = np.flatnonzero(c[1:] <= level)
  if not hit.size:
    return None
  i = int(hit[0]) + 1  # c[i - 1] > level >= c[i]
  return (i - 1) + float((c[i - 1] - level) / (c[i - 1] - c[i]))


def _window_mean(c, a, w):
  """The mean over [a, a + w] of the piecewise-linear curve through (t, c[t]): trapezoids
  on the epochs inside and the window's two ends, exact for a piecewise-linear curve."""
  c = np.asarray(c, np.float64)
  t = np.concatenate([[a], np.arange(np.floor(a) + 1, a + w), [a + w]])
  y = np.interp(t, np.arange(c.size, dtype=np.float64), c)
  return float(np.sum((y[1:] + y[:-1]) * np.diff(t)) / (2 * w))


ALIGNED = {"aligned_mean_loss": 0, "aligned_mean_loss_epoch1": 1}  # measure: level's epoch


def _complete(c, K) -> bool:
  """A curve that ran to epoch K (not diverged)."""
  return c is not None and len(c) >= K + 1


def aligned_mean_loss(curves, K, level_epoch: int = 0):
  """The secondary measures aligned_mean_loss* (post hoc: added after the primary results,
  to separate the starting loss R_0, which grows with s, from the speed that follows).

  ``curves[j][i]``: scale j's seed i's loss curve R_0..R_K (None: diverged), read as the
  piecewise-linear curve through its epochs. The level is the lowest loss of all the curves
  at epoch ``level_epoch`` (0: the lowest starting loss; 1: the lowest after one epoch, below
  the first epoch's steep drop). Each curve's clock starts at t*, the time it comes down to
  the level (interpolated between epochs, so that every window starts at the level itself),
  and the measure is its mean over [t*, t* + W], W = K - (the largest t*): the same window
  and the same starting loss for every curve. A curve that starts higher and then follows a
  lower one's path, only later, scores what the lower one does (up to the interpolation's
  error, of the order of the curve's second difference). None where a curve is None or
  never comes down to the level; no values at all when W < 1 epoch."""
  ok = [c for col in curves for c in col if _complete(c, K)]
  if not ok:
    return {"level": None, "window": 0.0, "values": [], "epochs_to_level": [[] for _ in curves]}
  level = min(float(c[level_epoch]) for c in ok)
  ts = [[_crossing(c[:K + 1], level) if _complete(c, K) else None for c in col]
        for col in curves]
  window = K - max(t for col in ts for t in col if t is not None)
  values = [[None if t is None or window < 1 else _window_mean(c[:K + 1], t, window)
             for c, t in zip(col, tcol)] for col, tcol in zip(curves, ts)]
  n = max(len(col) for col in curves)  # seeds, columns padded with None
  values = [[col[i] if i < len(col) else None for col in values] for i in range(n)]
  return {"level": level, "window": float(window),
          "values": [[np.nan if v is None else v for v in row] for row in values],
          "epochs_to_level": ts}


def _ties(table, rtol=1e-9):
  """Values within rtol (relative) of a row's smaller neighbour are set equal to it, so that
  rounding does not order what is the same (the invariance control)."""
  out = np.array(table, np.float64)
  for row in out:
    order = np.argsort(row, kind="stable")
    for a, b in zip(order, order[1:]):
      if abs(row[b] - row[a]) <= rtol * max(abs(row[a]), abs(row[b]), 1e-300):
        row[b] = row[a]
  return out


def trend_verdict(table, scales, seeds):
  """Page's L both ways within seeds (ties as ties), and the per-seed least-squares slope
  of the cost on log2 s with a t interval over seeds (G - 1 degrees of freedom)."""
  table = _ties(table)
  up = stats.page_trend(table)
  down = stats.page_trend(table[:, ::-1])
  xs = np.log2(np.asarray(scales, np.float64))
  xc = xs - xs.mean()
  # least squares in closed form on y - y_0 (a shift leaves the slope as it is): a constant
  # row, such as a fully censored measure, has slope exactly 0 (np.polyfit gave -5.6e-16)
  slopes = (table - table[:, :1]) @ xc / (xc @ xc)
  G = slopes.size
  mean = float(slopes.mean())
  half = (float(scipy.stats.t.ppf(0.975, G - 1) * slopes.std(ddof=1) / np.sqrt(G))
          if G > 1 else float("inf"))
  return {"page_p_increasing": up.pvalue, "page_p_decreasing": down.pvalue,
          "slope_per_doubling": mean, "slope_ci": [mean - half, mean + half], "units": G,
          "verdict": _direction(up.pvalue, down.pvalue)}


def _direction(p_up: float, p_down: float, alpha: float = 0.05) -> str:
  """supports (the cost rises with s), contradicts (it falls) or inconclusive."""
  return "supports" if p_up < alpha else "contradicts" if p_down < alpha else "inconclusive"


def holm_adjust(meas: dict) -> None:
  """Holm over a protocol's primary measures, each direction its own family: every tested
  measure's statistic gains ``page_p_increasing_holm`` / ``page_p_decreasing_holm`` and
  its verdict is read from them (the unadjusted one kept as ``verdict_unadjusted``). The
  secondary relative AUC is outside the family and keeps its unadjusted verdict."""
  tested = [m for m in MEASURES if "page_p_increasing" in meas[m]["statistic"]]
  for way in ("increasing", "decreasing"):
    adj = stats.holm([meas[m]["statistic"][f"page_p_{way}"] for m in tested])
    for m, a in zip(tested, adj):
      meas[m]["statistic"][f"page_p_{way}_holm"] = float(a)
  for m in tested:
    st = meas[m]["statistic"]
    st["verdict_unadjusted"] = st["verdict"]
    st["verdict"] = _direction(st["page_p_increasing_holm"], st["page_p_decreasing_holm"])
    meas[m]["verdict"] = st["verdict"]


def protocol_verdict(verdicts: dict) -> str:
  """supports / contradicts when at least 3 of the primary measures say so and none the
  opposite; mixed when they disagree in direction; else inconclusive."""
  v = list(verdicts.values())
  sup, con = v.count("supports"), v.count("contradicts")
  if sup and con:
    return "mixed"
  if sup >= 3:
    return "supports"
  if con >= 3:
    return "contradicts"
  return "inconclusive"


RUNS_FILE = "rq2_runs.jsonl"


def _config_diff(there: dict, here: dict) -> str:
  """The keys on which two run-store configurations differ, with both values."""
  return ", ".join(f"{k} {there.get(k)!r} there, {here.get(k)!r} here"
                   for k in sorted(set(there) | set(here)) if there.get(k) != here.get(k))


def read_store(path: str, arg: str) -> tuple[dict, list]:
  """The configuration and the run records ({key, log, ...}) of the run store at ``path``;
  InvalidInput, naming the argument ``arg``, where it is missing or not a run store."""
  if not os.path.isfile(path):
    raise InvalidInput(f"{arg} {path!r} does not exist; name the {RUNS_FILE} of an earlier run")
  recs = io.read_jsonl(path)  # a damaged line: InvalidInput naming the file and the line
  if not recs or "config" not in recs[0]:
    raise InvalidInput(f"{arg} {path!r} is not an RQ2 run store (no configuration line); "
                       f"name a {RUNS_FILE} written by rq2_input_scale.py")
  return recs[0]["config"], [r for r in recs[1:] if "key" in r and "log" in r]


def not_carried_over(old: dict, new: dict) -> str | None:
  """Why the runs of a store with configuration ``old`` are not carried over into one with
  ``new`` (nor compared with it by rq2_compare_stores), or None: ``old`` must be from before
  the polish (no attack in it), ``new`` from after it, and otherwise the two equal."""
  if "attack" in old:
    return (f"was written with the attack {old['attack']!r}; only a store from before the "
            f"polish (no attack in its configuration) can be carried over")
  if "attack" not in new:
    return "is from before the polish, and so is the store it would be carried into"
  here = {k: v for k, v in new.items() if k != "attack"}
  if old != here:
    return (f"holds the runs of another configuration ({_config_diff(old, here)}); only "
            f"the attack may differ")
  return None


class RunStore:
  """The finished training runs' logs, one JSON line per run in ``<out>/rq2_runs.jsonl``
  (appended and synced as each finishes), keyed by (protocol or lr multiple, scale, seed);
  the first line holds the configuration that the runs belong to. Every log passes through
  JSON before it is used, so a resumed run summarises exactly what an uninterrupted one
  would."""

  def __init__(self, path: str, config: dict):
    self.path = path
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    config = json.loads(json.dumps(io.to_jsonable(config)))
    recs = io.read_jsonl(path)
    if recs and recs[0].get("config") != config:
      diff = _config_diff(recs[0].get("config") or {}, config)
      raise InvalidInput(f"{path!r} holds the runs of another configuration ({diff}); rerun "
                         f"with that one to resume it, or delete the file (or choose another "
                         f"--out) to start again (where only the attack differs, --carry-over "
                         f"this file with another --out copies in the runs it reproduces)")
    if not recs:
      io.append_jsonl(path, {"config": config})
    self.done = {r["key"]: r["log"] for r in recs[1:] if "key" in r and "log" in r}
    self.resumed = len(self.done)

  def carry_over(self, path: str, config: dict) -> int:
    """Copies in, from the store at ``path``, the runs that this configuration would
    reproduce exactly: the store must be from before the polish (no ``attack`` entry in its
    configuration) and its configuration otherwise equal ``config``; a run is taken only when
    the attack converged on every example of both splits at every epoch. The polish then
    never runs, and the evaluation only reads the network (the training is the same
    whatever the attack does), so this configuration's log of that run is the stored one
    (checked by retraining carried runs: identical logs). Returns how many were copied."""
    there, runs = read_store(path, "--carry-over")
    why = not_carried_over(there, json.loads(json.dumps(io.to_jsonable(config))))
    if why:
      raise InvalidInput(f"--carry-over {path!r} {why}")
    n = 0
    for r in runs:
      if r["key"] in self.done:
        continue
      # a diverged run's last record has no evaluation (training stopped before it)
      if all(e.get("diverged") or e.get(f"{split}_attack_converged") == 1.0
             for e in r["log"] for split in ("valid", "test")):
        # with the polish's counts this attack logs (0: it never ran), so that the log is
        # the one this configuration writes, key for key
        log = [e if e.get("diverged") else
               {**e, **{f"{split}_attack_{what}": 0.0 for split in ("valid", "test")
                        for what in ("polished", "relabelled")}} for e in r["log"]]
        io.append_jsonl(self.path, {"key": r["key"], "log": log, "carried_from": path})
        self.done[r["key"]] = log
        n += 1
    return n

  def get(self, key: str, compute):
    """The stored log of run ``key``, or ``compute()``'s, stored before it is returned."""
    if key not in self.done:
      log = json.loads(json.dumps(io.to_jsonable(compute()), allow_nan=False))
      io.append_jsonl(self.path, {"key": key, "log": log})
      self.done[key] = log
    return self.done[key]


def _store_config(args) -> dict:
  """What determines the training runs (the data's folder is not: it may move)."""
  return {"data": args.data, "gamma": args.gamma, "lr": args.lr, "norm": args.norm,
          "seed": args.seed, "sizes": list(sizes(args)), "smoke": bool(args.smoke),
          "scales": list(SCALES), "lr_grid": list(SMOKE_GRID if args.smoke else LR_GRID),
          "attack": ATTACK}


def _train(ds_tr, splits, eps_of, cfg, args, steps, n_cert):
  ev = evaluator(splits, eps_of, args, steps, n_cert, cfg.seed, cfg.epochs)
  _, log = train(ds_tr[0], ds_tr[1], cfg, progress=False, evaluate=ev)
  return log


def run(args):
  n_tr, n_ev, K, n_seeds, steps, n_cert = sizes(args)
  base = dict(m=64, epochs=K, gamma=args.gamma, pga_steps=10, certify_n=0, norm=args.norm)
  logs = {p: {} for p in (*PROTOCOLS, *CONTROLS)}
  tuned_choice = {}
  store = RunStore(os.path.join(args.out, RUNS_FILE), _store_config(args))
  if getattr(args, "carry_over", None):
    n = store.carry_over(args.carry_over, _store_config(args))
    print(f"RQ2: {n} runs carried over from {args.carry_over} (their attack converged on "
          f"every example: this attack's logs of them are the same)")
  if store.resumed:
    print(f"RQ2: resuming, {store.resumed} finished runs read from "
          f"{os.path.join(args.out, RUNS_FILE)}")
  from tqdm.auto import tqdm
  total = len(SCALES) * n_seeds * (3 + len(CONTROLS)
                                   + len(SMOKE_GRID if args.smoke else LR_GRID) - 1)
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
    runs = {"fixed": {}, "rescaled": {"lr_first": lr / s**2},
            "clean": {"adversarial": False},
            # the controls: the same training at every s, and that training made faster at
            # larger s by a learning rate growing with s
            "invariant": {"w_scale": 1.0 / s, "lr_first": lr / s**2},
            "faster_large_s": {"w_scale": 1.0 / s, "lr_first": lr / 4 / s, "lr": lr * s / 4}}

    def one(mult, sd, lr=lr, tr=tr, splits=splits, eps_of=eps_of, s=s):  # bound now
      cfg = TrainConfig(lr=lr * mult, seed=sd, **base)
      return store.get(f"tuned x{mult!r}|{s!r}|{sd}",
                       functools.partial(_train, tr, splits, eps_of, cfg, args, steps, n_cert))

    grid = {}
    for seed in range(n_seeds):
      sd = args.seed + seed
      for proto, extra in runs.items():
        cfg = TrainConfig(**{"lr": lr, "seed": sd, **base, **extra})
        logs[proto].setdefault(str(s), []).append(store.get(
            f"{proto}|{s!r}|{sd}", functools.partial(
                _train, tr, splits, eps_of, cfg, args, steps,
                n_cert if proto in ("fixed", "rescaled") else 0)))
        bar.update()
      for mult in (SMOKE_GRID if args.smoke else LR_GRID):
        grid.setdefault(mult, []).append(logs["fixed"][str(s)][-1] if mult == 1.0 else
                                         one(mult, sd))
        if mult != 1.0:
          bar.update()
    # tuned: the lr whose mean validation robust loss over epochs (the primary criterion)
    # is lowest over seeds (diverged runs excluded); widened while the choice is an edge
    while True:
      crit = {m: _mean_valid(grid[m], K) for m in grid}
      best = min(crit, key=lambda m: crit[m])
      lo, hi = min(grid), max(grid)
      edge = lo if best == lo else hi if best == hi else None
      nxt = None if edge is None else edge / 2 if edge == lo else edge * 2
      if (nxt is None or not LR_LIMITS[0] <= nxt <= LR_LIMITS[1] or args.smoke
          or not np.isfinite(crit[best])):  # (the smoke test keeps the first grid)
        break
      bar.total += n_seeds
      grid[nxt] = [one(nxt, args.seed + seed) for seed in range(n_seeds)]
      bar.update(n_seeds)
    for mult in sorted(grid):
      logs.setdefault(f"tuned x{mult:g}", {})[str(s)] = grid[mult]
    tuned_choice[str(s)] = {"lr_multiple": best, "validation_mean_robust_loss": crit[best],
                            "grid": sorted(grid), "interior": best not in (min(grid),
                                                                           max(grid))}
    logs["tuned"][str(s)] = grid[best] if np.isfinite(crit[best]) else []
  bar.close()
  return logs, tuned_choice, dict(n_train=n_tr, n_eval=n_ev, epochs=K, seeds=n_seeds,
                                  attack_steps=steps, certify_n=n_cert, lr=args.lr,
                                  lr_grid=list(LR_GRID), lr_limits=list(LR_LIMITS),
                                  gamma=args.gamma, norm=args.norm, pga_steps=base["pga_steps"],
                                  loss_target=LOSS_TARGET, acc_target=ACC_TARGET)


def _mean_valid(logs, K) -> float:
  vals = []
  for log in logs:
    c = _curve(log, "valid_robust_loss")
    if c is None or len(c) < K + 1:
      return np.inf
    vals.append(float(np.mean(c[1:])))
  return float(np.mean(vals)) if vals else np.inf


def _curve(log, key):
  if not log or any(r.get("diverged") for r in log):
    return None
  return [r[key] for r in log]


def summarise(logs, tuned_choice, settings, seed):
  """Per protocol and control: each measure's per-scale values, statistic and verdict, and
  the protocol's verdict from the primary ones (docstring); the attack's convergence."""
  out = {}
  seeds = np.arange(settings["seeds"])
  scales = np.asarray(SCALES)
  K = settings["epochs"]
  evals_per_epoch = settings["n_train"] * (1 + settings["pga_steps"])
  for proto in (*PROTOCOLS, *CONTROLS):
    clean = proto == "clean"
    keys = (("test_clean_loss", "test_clean_acc_unused") if clean else
            ("test_robust_loss", "test_robust_acc"))
    rows = {s: [measures(log, K, loss_key=keys[0], acc_key="test_robust_acc")
                for log in logs[proto].get(str(s), [])] for s in SCALES}
    table = {m: np.full((len(seeds), len(scales)), np.nan) for m in (*MEASURES, *SECONDARY)}
    for j, s in enumerate(SCALES):
      for i, r in enumerate(rows[s]):
        if r is not None:
          for m in MEASURES + ("auc_relative",):
            table[m][i, j] = r[m]
    curves = [[_curve(log, keys[0]) for log in logs[proto].get(str(s), [])] for s in SCALES]
    aligned = {m: aligned_mean_loss(curves, K, e) for m, e in ALIGNED.items()}
    for m, a in aligned.items():
      if a["values"]:  # rows: seeds, columns: scales
        table[m][:len(a["values"])] = a["values"]
    meas = {}
    for m in (*MEASURES, *SECONDARY):
      full = table[m][np.all(np.isfinite(table[m]), axis=1)]
      stat = (trend_verdict(full, scales, seeds[:full.shape[0]]) if full.shape[0] >= 2 else
              {"verdict": "inconclusive", "reason": "fewer than 2 seeds without divergence"})
      per_scale = {str(s): {"per_seed": [None if not np.isfinite(v) else float(v)
                                         for v in table[m][:, j]],
                            "median": (float(np.nanmedian(table[m][:, j]))
                                       if np.isfinite(table[m][:, j]).any() else None)}
                   for j, s in enumerate(SCALES)}
      if m.startswith("epochs_to"):
        for j, s in enumerate(SCALES):
          col = table[m][:, j]
          per_scale[str(s)]["censored_seeds"] = int(np.sum(col > K))
          per_scale[str(s)]["gradient_evaluations_median"] = (
              float(np.nanmedian(col)) * evals_per_epoch if np.isfinite(col).any() else None)
      if m in ALIGNED:
        a = aligned[m]
        stat = {**stat, "level": a["level"], "level_epoch": ALIGNED[m], "window": a["window"],
                "seeds_left_out": len(table[m]) - full.shape[0]}
        if a["window"] < 1:
          stat = {**stat, "verdict": "inconclusive",
                  "reason": "the last curve came down to the level less than an epoch "
                            "before the end: no common window"}
        elif full.shape[0] < 2:
          stat["reason"] = ("fewer than 2 seeds whose curves all came down to the level "
                            "(or did not diverge)")
        for j, s in enumerate(SCALES):
          t = [v for v in a["epochs_to_level"][j] if v is not None]
          per_scale[str(s)]["epochs_to_level_median"] = float(np.median(t)) if t else None
          # curves that ran to the end and stayed above the level (diverged ones apart)
          per_scale[str(s)]["level_never_reached"] = sum(
              t is None and _complete(c, K) for t, c in zip(a["epochs_to_level"][j], curves[j]))
      meas[m] = {"per_scale": per_scale, "statistic": stat, "verdict": stat["verdict"],
                 "primary": m in MEASURES}
    holm_adjust(meas)
    verdict = protocol_verdict({m: meas[m]["verdict"] for m in MEASURES})
    def per_scale(key, reduce=_mean_of, proto=proto):
      return {str(s): reduce(logs[proto].get(str(s), []), key) for s in SCALES}
    conv = per_scale("test_attack_converged")
    out[proto] = {"verdict": verdict, "measures": meas,
                  "attack_converged": conv,
                  "attack_below_99": [s for s, c in conv.items() if c is not None and c < 0.99],
                  "attack_converged_min": per_scale("test_attack_converged",
                                                    functools.partial(_evaluated, reduce=min)),
                  # fractions of test examples polished, and relabelled without a step;
                  # a record from before the polish has neither (none was polished)
                  "attack_polished": per_scale("test_attack_polished", _evaluated),
                  "attack_relabelled": per_scale("test_attack_relabelled", _evaluated),
                  "attack_certified": per_scale("test_attack_certified"),
                  "diverged_seeds": {str(s): sum(r is None for r in rows[s]) for s in SCALES},
                  "curve": keys[0]}
    if proto == "tuned":
      out[proto]["chosen_lr"] = tuned_choice
    if clean:
      out[proto]["note"] = ("standard training: the loss measures are the clean test loss; "
                            "the accuracy measures the robust accuracy of the clean network")
  controls = [{"name": name, "expected": want, "verdict": out[name]["verdict"],
               "measures": {m: out[name]["measures"][m]["verdict"] for m in MEASURES},
               # what the secondary measures say on the same planted runs
               "secondary": {m: out[name]["measures"][m]["verdict"] for m in SECONDARY}}
              for name, want in CONTROLS.items()]
  return {"protocols": {p: out[p] for p in PROTOCOLS},
          "controls": controls,
          "control_runs": {c: out[c] for c in CONTROLS}}


def _evaluated(logs, key, reduce=np.mean):
  """``reduce`` of ``key`` over the evaluated records (0 where a record lacks it), or None."""
  v = [r.get(key, 0.0) for log in logs for r in log if "test_attack_converged" in r]
  return float(reduce(v)) if v else None


def _mean_of(logs, key):
  v = [r[key] for log in logs for r in log if r.get(key) is not None]
  return float(np.mean(v)) if v else None


def figures(logs, summary, settings, args):
  paths = []
  K = settings["epochs"]
  protos = summary["protocols"]
  fig, axes = plt.subplots(1, 4, figsize=(18, 4.2), constrained_layout=True, sharey=False)
  for ax, proto in zip(axes, PROTOCOLS):
    key = protos[proto]["curve"]
    for k, s in enumerate(SCALES):
      cs = [c for c in (_curve(log, key) for log in logs[proto].get(str(s), [])) if c]
      if not cs:
        continue
      v = np.asarray(cs)
      e = np.arange(K + 1)
      ax.plot(e, np.median(v, 0), "o-", ms=3, color=f"C{k}", label=f"s = {s}")
      ax.fill_between(e, v.min(0), v.max(0), color=f"C{k}", alpha=0.15)
    if proto != "clean":
      ax.axhline(LOSS_TARGET, color="k", lw=0.8, ls=":", label=f"target {LOSS_TARGET}")
    ax.set_title(f"{proto}: {protos[proto]['verdict']}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(("clean" if proto == "clean" else "robust (strong attack)") + " test loss")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
  fig.suptitle(f"RQ2: adversarial training at gamma = {args.gamma}, {settings['seeds']} "
               f"paired seeds (median, band = min-max), absolute losses")
  paths += plots.save(fig, args.out, "rq2_protocols")

  fig, ax = plt.subplots(figsize=(6.5, 4.2), constrained_layout=True)
  for k, proto in enumerate(PROTOCOLS):
    ps = protos[proto]["measures"]["mean_loss"]["per_scale"]
    med = [np.nan if ps[str(s)]["median"] is None else ps[str(s)]["median"] for s in SCALES]
    per = np.array([[np.nan if v is None else v for v in ps[str(s)]["per_seed"]]
                    for s in SCALES])
    what = "clean loss" if proto == "clean" else "robust loss"  # clean training: its clean loss
    ax.plot(SCALES, med, "o-", color=f"C{k}",
            label=f"{proto}, {what} ({protos[proto]['verdict']})")
    ax.fill_between(SCALES, np.nanmin(per, 1), np.nanmax(per, 1), color=f"C{k}", alpha=0.15)
  ax.set_xscale("log", base=2)
  ax.set_xlabel("input scale s")
  ax.set_ylabel("mean test loss over epochs 1..K (lower = faster)")
  ax.set_title("RQ2: the primary measure against input scale (median, band = seeds)")
  ax.grid(True, alpha=0.3)
  ax.legend(fontsize=8)
  paths += plots.save(fig, args.out, "rq2_speed")
  return paths


def _g(x, fmt=".3g") -> str:
  return "-" if x is None else format(x, fmt)


CLEAN_LABELS = {"mean_loss": "clean loss", "epochs_to_loss": "clean loss",
                "final_loss": "clean loss", "epochs_to_acc": "robust, of the clean network",
                "final_error": "robust, of the clean network"}


def _last_converged(logs: list) -> float | None:
  """The attack's converged fraction at each run's last evaluated epoch, mean over runs."""
  v = [[r for r in log if "test_attack_converged" in r][-1]["test_attack_converged"]
       for log in logs if any("test_attack_converged" in r for r in log)]
  return float(np.mean(v)) if v else None


def report_markdown(stored: dict, data: str, run: str = "full") -> str:
  """The summary (as written to rq2_summary.json: with ``settings`` and ``logs``) as tables a
  person reads: per protocol, each measure's median per scale with its censored seeds,
  Page's p both ways, the slope per doubling of s with its t interval, and the verdict; the
  attack per scale; tuned's chosen rates; the controls. Every number is the JSON's or, for
  the attack at the last epoch and whether the polish ran, read from its logs."""
  settings, logs = stored["settings"], stored["logs"]
  K, n_seeds = settings["epochs"], settings["seeds"]
  polish = any("test_attack_polished" in r for runs in logs.values() for rs in runs.values()
               for log in rs for r in log)
  cols = " | ".join(f"s = {sc:g}" for sc in SCALES)
  rule = "|---|" + "---|" * len(SCALES)

  def row(label, values, fmt=".3g"):
    return f"| {label} | " + " | ".join(_g(values.get(str(sc)), fmt) for sc in SCALES) + " |"

  def cell(name, v):
    if v.get("median") is None:
      return "-"
    c = v.get("censored_seeds", 0)
    med = f">{K}" if name.startswith("epochs_to") and v["median"] > K else f"{v['median']:.3g}"
    return med + (f" ({c}/{len(v['per_seed'])} >{K})" if c else "")

  lines = [f"# RQ2 on {data} ({run} run): does a smaller input scale speed up adversarial "
           f"training?", "",
           f"{n_seeds} seeds (the units), {K} epochs, {settings['n_train']} training and "
           f"{settings['n_eval']} test examples, gamma = {settings['gamma']:g} "
           f"(l{settings['norm']} ball), SGD at multiples of the base rate (--lr "
           f"{settings['lr']:g} at d = 64, scaled by 64 / d). Attack: "
           + ("the fixed-step ladder, then the armijo polish." if polish else
              "the fixed-step ladder only (these runs predate the polish)."),
           "",
           f"Each measure is a cost (higher = slower): its median over seeds per scale; "
           f"'>{K}' where the median seed never reached the target within the epochs, and "
           f"(c/n >{K}) how many seeds never did (censored: counted as {K + 1} in the "
           f"slope, so a slope there understates the effect). Page's L test within seeds: "
           f"'supports' when the cost rises with s (smaller s faster, the paper's claim) at "
           f"p < 0.05, 'contradicts' when it falls; for the five primary measures both p are "
           f"Holm-adjusted over them (the unadjusted verdict is given where it differs). A "
           f"protocol supports (contradicts) when at least 3 of its 5 primary measures do and "
           f"none says the opposite, is mixed when they disagree in direction, else "
           f"inconclusive. Secondary measures are not in the verdict: auc_relative divides by "
           f"the starting loss, which grows with s; the aligned ones were added after the "
           f"primary results were seen. Slopes are in the measure's units (loss, epochs, "
           f"error fraction) per doubling of s, with a 95% t interval over seeds.", ""]
  for proto in PROTOCOLS:
    p = stored["protocols"][proto]
    clean = "note" in p
    lines += [f"## {proto}: {p['verdict']}", ""] + ([p["note"] + ".", ""] if clean else [])
    lines += [f"| measure | {cols} | p up | p down | slope per doubling [95% t CI] | verdict |",
              rule + "---|" * 4]
    notes = []
    for name in (*MEASURES, *SECONDARY):
      m = p["measures"].get(name)
      if m is None:
        continue
      st = m["statistic"]
      holm = "_holm" if "page_p_increasing_holm" in st else ""
      vals = [v for v in m["per_scale"].values() if v.get("per_seed")]
      every_censored = name.startswith("epochs_to") and vals and all(
          v.get("censored_seeds", 0) == len(v["per_seed"]) for v in vals)
      ci = st.get("slope_ci")
      slope = ("n/a (every run censored)" if every_censored else
               _g(st.get("slope_per_doubling")) + (f" [{_g(ci[0])}, {_g(ci[1])}]" if ci else ""))
      verdict = m["verdict"] + (f" (unadjusted: {st['verdict_unadjusted']})" if
                                st.get("verdict_unadjusted", m["verdict"]) != m["verdict"]
                                else "") + (f": {st['reason']}" if "reason" in st else "")
      label = (f"{name} ({CLEAN_LABELS[name]})" if clean and name in CLEAN_LABELS else name
               if name in MEASURES else f"{name} (secondary)")
      cells = " | ".join(cell(name, m["per_scale"].get(str(sc), {})) for sc in SCALES)
      lines.append(f"| {label} | {cells} | {_g(st.get('page_p_increasing' + holm))} | "
                   f"{_g(st.get('page_p_decreasing' + holm))} | {slope} | {verdict} |")
      if "window" in st:
        notes.append(f"{name}: level {_g(st.get('level'))} (the lowest loss at epoch "
                     f"{st['level_epoch']}), window {st['window']:.2f} epochs, "
                     f"{st.get('units', 0)} of {n_seeds} seeds tested")
    if notes:
      lines += [""] + [f"- {x}." for x in notes]
    last = {str(sc): _last_converged(logs[proto].get(str(sc), [])) for sc in SCALES}
    lines += ["", f"| attack, test split | {cols} |", rule,
              row("converged, mean over seeds and epochs 0..K", p["attack_converged"], ".4f"),
              row("converged, worst seed and epoch", p["attack_converged_min"], ".4f"),
              row("converged at the last epoch, mean over seeds", last, ".4f"),
              row("polished, mean over seeds and epochs",
                  p["attack_polished"] if polish else {}, ".4f"),
              row(f"local maxima certified at the last epoch (first {settings['certify_n']} "
                  f"test examples, mean over seeds)", p["attack_certified"], ".3f"),
              row("diverged seeds", p["diverged_seeds"], "d")]
    if not clean:
      lines.append("")
      lines.append("Robust loss is the worst point the attack found, a lower bound on the "
                   "maximum" + (f"; where it converged on fewer than 99% of the test examples "
                                f"(mean over epochs: s = "
                                f"{', '.join(f'{float(x):g}' for x in p['attack_below_99'])}) "
                                f"a looser one, which favours the larger scales"
                                if p["attack_below_99"] else "") + ".")
    if p.get("chosen_lr"):
      lines += ["", "Chosen learning rate, a multiple of the base rate, by the mean robust "
                "validation loss over the epochs (the grid it was chosen from; EDGE where it "
                "sits on the grid's edge, at the widening limit where the grid could not "
                "widen further): " +
                "; ".join(f"s = {float(sc):g}: {c['lr_multiple']:g} ({min(c['grid']):g} .. "
                          f"{max(c['grid']):g}" + ("" if c["interior"] else ", EDGE" + (
                              ", at the widening limit" if c["lr_multiple"] in LR_LIMITS
                              else "")) + f"; validation loss "
                          f"{_g(c.get('validation_mean_robust_loss'))})"
                          for sc, c in p["chosen_lr"].items()) + "."]
    lines.append("")
  lines += ["## Controls", "",
            "| control | expected | verdict | primary measures | secondary measures |",
            "|---|---|---|---|---|"]
  for c in stored["controls"]:
    lines.append(f"| {c['name']} | {c['expected']} | {c['verdict']} | " +
                 ", ".join(f"{k} {v}" for k, v in c["measures"].items()) + " | " +
                 ", ".join(f"{k} {v}" for k, v in c.get("secondary", {}).items()) + " |")
  return "\n".join(lines) + "\n"


def main(argv=None):
  p = common.parser(__doc__)
  p.add_argument("--gamma", type=float, default=0.1)
  p.add_argument("--lr", type=float, default=0.02, help="SGD step at d = 64 (scaled by 64/d)")
  p.add_argument("--from-summary", default=None, metavar="PATH",
                 help="recompute the verdicts and figures from the per-epoch logs of an "
                      "earlier rq2_summary.json (no training)")
  p.add_argument("--carry-over", default=None, metavar="PATH",
                 help="copy in the runs of an earlier rq2_runs.jsonl (written before the "
                      "attack's polish) that this attack reproduces exactly: those whose "
                      "attack converged on every example")
  args = p.parse_args(argv)
  common.setup(args)
  t0 = time.perf_counter()
  extra = {}
  if args.from_summary:
    stored = common.load_json(args.from_summary)
    old = stored["summary"]
    logs, settings = old["logs"], old["settings"]
    # the training run's own configuration and versions, beside this one's (kept through
    # a summary that was itself recomputed)
    extra = {"resummarised_from": old.get("resummarised_from") or {
        "config": stored.get("config"), "versions": stored.get("versions")}}
    tuned_choice = old["protocols"]["tuned"].get("chosen_lr", {})
  else:
    logs, tuned_choice, settings = run(args)
  summary = summarise(logs, tuned_choice, settings, args.seed)
  paths = figures(logs, summary, settings, args)
  for proto in PROTOCOLS:
    p = summary["protocols"][proto]
    meds = {s: p["measures"]["mean_loss"]["per_scale"][str(s)]["median"] for s in SCALES}
    print(f"RQ2 {proto}: mean robust loss median by s {meds}; measures "
          f"{ {m: p['measures'][m]['verdict'] for m in MEASURES} }; verdict {p['verdict']}")
  for c in summary["controls"]:
    print(f"RQ2 control {c['name']}: {c['verdict']} (expected {c['expected']})")
  # the training's own time: a recomputed summary keeps it (adding the recomputation's
  # seconds made it creep up by a few seconds per recomputation)
  seconds = old["seconds"] if args.from_summary else time.perf_counter() - t0
  stored = {**summary, "settings": settings, "logs": logs, "seconds": seconds, **extra}
  common.write_summary(args, "rq2_summary", stored)
  # what the runs were trained on (a recomputed summary: the training's own configuration)
  trained = (extra.get("resummarised_from") or {}).get("config") or vars(args)
  io.write_text_atomic(os.path.join(args.out, "rq2_summary.md"), report_markdown(
      stored, trained.get("data", args.data),
      "smoke" if trained.get("smoke") else "quick" if trained.get("quick") else "full"),
      suffix=".md")
  return paths


if __name__ == "__main__":
  try:
    main()
  except InvalidInput as e:  # a store of another configuration: one line, exit 2
    print(f"rq2_input_scale.py: error: {e}", file=sys.stderr)
    sys.exit(2)
