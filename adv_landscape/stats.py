"""Statistics for the claim checks (issue 9, item 5): honest about what is independent.

The independent units of a sweep are its instances (a network and an input,
drawn from a seed), never the restarts of one instance: 256 restarts that all
reach one maximum are one observation. So

- iteration counts are summarised per instance by a censoring-aware median
  (Kaplan-Meier: a restart that did not converge is right-censored at the
  step budget, not counted as if it had stopped there);
- exponents are fitted to those per-instance medians and their intervals come
  from a cluster bootstrap that resamples seeds (each seed's instances
  together);
- a trend across input scales is tested within seeds (Page's L: the same
  network at every scale is a block) and combined over them;
- "polynomial" is a model comparison, log-log against semi-log, on the
  largest grid value held out, plus the stability of the local slopes over
  successive doublings.

>>> med = km_median([3, 4, 5, 10, 10], [True, True, True, False, False])
>>> med.value, med.censored
(5.0, False)
>>> km_median([7, 10, 10], [True, False, False]).censored  # more than half never stopped
True
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import scipy.stats

__all__ = ["Median", "km_median", "ClusterFit", "cluster_fit", "UnitFit", "unit_slope_fit",
           "Growth", "growth_test", "growth_power", "GROWTH_MODELS", "Trend", "page_trend",
           "holm"]


class Median(NamedTuple):
  """A Kaplan-Meier median: ``value`` is the step budget and ``censored`` True
  when at least half the restarts never converged (the median exceeds it)."""

  value: float
  censored: bool


def km_median(iterations, converged) -> Median:
  """Kaplan-Meier median of iteration counts, unconverged runs right-censored.

  Uses ``scipy.stats.ecdf`` on ``scipy.stats.CensoredData``; the median is the
  smallest count at which the survival function drops to 1/2 or below.
  """
  t = np.asarray(iterations, np.float64)
  c = np.asarray(converged, bool)
  if t.size == 0:
    return Median(math.nan, False)
  if not c.any():
    return Median(float(t.max()), True)
  if c.all():  # ecdf needs no censoring then; the lower median, as KM gives
    data = t
  else:
    data = scipy.stats.CensoredData(uncensored=t[c], right=t[~c])
  sf = scipy.stats.ecdf(data).sf
  below = np.flatnonzero(sf.probabilities <= 0.5)
  if below.size == 0:
    return Median(float(t.max()), True)
  return Median(float(sf.quantiles[below[0]]), False)


class ClusterFit(NamedTuple):
  """log y = slope log x + intercept over per-instance values; the interval is a
  percentile cluster bootstrap over seeds. ``units`` counts the seeds."""

  slope: float
  intercept: float
  ci: tuple[float, float]
  n: int
  units: int


def _polyfit(lx, ly):
  if lx.size < 2 or np.ptp(lx) == 0:
    return math.nan, math.nan
  slope, intercept = np.polyfit(lx, ly, 1)
  return float(slope), float(intercept)


def _log_data(xs, ys, units, log_x: bool):
  """(log x or x, log y, units) with the non-finite rows dropped."""
  x = np.asarray(xs, np.float64)
  lx = np.log(x) if log_x else x
  ly = np.log(np.asarray(ys, np.float64))
  cl = np.asarray(units)
  ok = np.isfinite(lx) & np.isfinite(ly)
  return lx[ok], ly[ok], cl[ok]


def cluster_fit(xs, ys, clusters, *, seed: int = 0, n_boot: int = 2000,
                level: float = 0.95, log_x: bool = True) -> ClusterFit:
  """Least-squares slope of log y on log x (or on x), with a cluster bootstrap.

  Args:
    xs, ys: one value per instance (ys > 0).
    clusters: the independent unit of each instance (its seed); a bootstrap
      sample draws units with replacement and keeps all their instances.
    log_x: False fits log y on x (the semi-log model).

  >>> fit = cluster_fit([1, 2, 4, 1, 2, 4], [1, 2, 4, 1.1, 2.1, 3.9], [0, 0, 0, 1, 1, 1])
  >>> round(fit.slope, 2), fit.units
  (0.96, 2)
  """
  lx, ly, cl = _log_data(xs, ys, clusters, log_x)
  slope, intercept = _polyfit(lx, ly)
  units = np.unique(cl)
  rng = np.random.default_rng(seed)
  boots = []
  members = [np.flatnonzero(cl == u) for u in units]
  for _ in range(n_boot if units.size > 1 else 0):
    pick = np.concatenate([members[i] for i in rng.integers(0, units.size, units.size)])
    s, _ = _polyfit(lx[pick], ly[pick])
    if math.isfinite(s):
      boots.append(s)
  q = (1 - level) / 2
  lo, hi = np.quantile(boots, [q, 1 - q]) if boots else (math.nan, math.nan)
  return ClusterFit(slope, intercept, (float(lo), float(hi)), int(lx.size), int(units.size))


class UnitFit(NamedTuple):
  """log y = slope log x + intercept, the slope the mean of per-unit least-squares slopes
  with a t interval over units (G - 1 degrees of freedom; NaN with one unit)."""

  slope: float
  intercept: float
  ci: tuple[float, float]
  n: int
  units: int
  per_unit: list


def unit_slope_fit(xs, ys, units, *, level: float = 0.95, log_x: bool = True) -> UnitFit:
  """The slope of log y on log x (or on x) per unit, then a t interval over units.

  The percentile cluster bootstrap over 4 units covers a true slope about 76% of the time
  at nominal 95% (55% with 2); the t interval on per-unit slopes with G - 1 degrees of
  freedom covers at its level when the per-unit slopes are roughly normal.

  >>> x = [1, 2, 4, 1, 2, 4, 1, 2, 4]
  >>> fit = unit_slope_fit(x, [1, 2, 4, 1, 2.2, 4, 1, 1.9, 4.1], [0, 0, 0, 1, 1, 1, 2, 2, 2])
  >>> round(fit.slope, 1), fit.units, fit.ci[0] < 1 < fit.ci[1]
  (1.0, 3, True)
  """
  lx, ly, cl = _log_data(xs, ys, units, log_x)
  per = []
  for u in np.unique(cl):
    s_u, _ = _polyfit(lx[cl == u], ly[cl == u])
    if math.isfinite(s_u):
      per.append(s_u)
  _, intercept = _polyfit(lx, ly)
  G = len(per)
  slope = float(np.mean(per)) if per else math.nan
  if G > 1:
    half = float(scipy.stats.t.ppf(0.5 + level / 2, G - 1) * np.std(per, ddof=1) / np.sqrt(G))
    ci = (slope - half, slope + half)
  else:
    ci = (math.nan, math.nan)
  return UnitFit(slope, intercept, ci, int(lx.size), G, [float(v) for v in per])


GROWTH_MODELS = ("polynomial", "exponential", "logarithmic")


class Growth(NamedTuple):
  """Which growth model predicts the held-out largest grid value best.

  Attributes:
    polynomial: verdict == "polynomial".
    loglog_error, semilog_error: |log y - prediction| at the held-out value of the
      polynomial (log y on log x) and exponential (log y on x) models, for the curve of
      per-grid-value medians (reported, not decisive).
    local_slopes: d log y / d log x between successive grid values (medians).
    stable: every local slope within 0.5 + 0.5 |global slope| of the global.
    verdict: a model's name, or "inconclusive".
    exponential: verdict == "exponential".
    advantage, noise: the mean per-unit advantage of the exponential model over the
      polynomial one (log-log misfit minus semi-log misfit) and its standard error.
    errors: mean per-unit RMS misfit (log y) of each model compared (decisive).
  """

  polynomial: bool
  loglog_error: float
  semilog_error: float
  local_slopes: list
  stable: bool
  verdict: str = "polynomial"
  exponential: bool = False
  advantage: float = 0.0
  noise: float = 0.0
  errors: dict | None = None


def _predict_last(model: str, x, ly) -> float:
  """log y at the largest x predicted from the others by one model."""
  lx = np.log(x)
  if model == "polynomial":
    return float(np.polyval(np.polyfit(lx[:-1], ly[:-1], 1), lx[-1]))
  if model == "exponential":
    return float(np.polyval(np.polyfit(x[:-1], ly[:-1], 1), x[-1]))
  y = np.exp(ly)  # logarithmic: y linear in log x (linear convergence: t ~ log(1/tol))
  pred = float(np.polyval(np.polyfit(lx[:-1], y[:-1], 1), lx[-1]))
  return math.log(max(pred, 1e-300))


def _heldout_errors(x, ly, models=("polynomial", "exponential")):
  return tuple(abs(_predict_last(m, x, ly) - ly[-1]) for m in models)


def _line(x, y) -> np.ndarray:
  """The least-squares line through (x, y), evaluated at x (``np.polyfit(x, y, 1)``'s
  fit in closed form: the power simulations call it some 10^5 times)."""
  dx = x - x.mean()
  return y.mean() + (dx @ (y - y.mean())) / (dx @ dx) * dx


def _fit_rms(model: str, x, ly) -> float:
  """RMS residual of log y about one model's least-squares fit on all grid values."""
  if model == "polynomial":
    pred = _line(np.log(x), ly)
  elif model == "exponential":
    pred = _line(x, ly)
  else:  # logarithmic: y linear in log x
    pred = np.log(np.maximum(_line(np.log(x), np.exp(ly)), 1e-300))
  return float(np.sqrt(np.mean((pred - ly) ** 2)))


def growth_test(xs, ys, units=None, *, margin: float = 0.01, level: float = 0.95,
                models=("polynomial", "exponential")) -> Growth:
  """Which of the growth models (polynomial, exponential, and for a tolerance axis
  logarithmic) y follows in x: one symmetric rule.

  Each model (two parameters each: log y on log x, log y on x, y on log x) is fitted by
  least squares to each unit's curve (a unit is a seed); its misfit is the RMS residual
  of log y. The model with the smallest mean misfit wins when its advantage over *every*
  other model exceeds the same threshold for all: max(margin, t_{G-1} SE), a paired t
  test over the G units at the given level (with one unit, the margin alone); otherwise
  inconclusive. No model is favoured: "polynomial" needs the same evidence as
  "exponential". The fits use every grid value: a held-out extrapolation penalises the
  exponential model's larger prediction variance, and at the measured noise called an
  exponential truth "polynomial" about half the time (docs/theory.md section 6). The
  held-out errors of the median curve are still reported.

  >>> k = [1, 2, 4, 8, 16]
  >>> growth_test(k, [2.0**v for v in k]).verdict, growth_test(k, [v**1.5 for v in k]).verdict
  ('exponential', 'polynomial')
  """
  x = np.asarray(xs, np.float64)
  ly_all = np.log(np.asarray(ys, np.float64))
  u = np.zeros(x.size, np.int64) if units is None else np.asarray(units)
  grid = np.unique(x)
  if grid.size < 3:
    return Growth(False, math.nan, math.nan, [], True, "inconclusive")  # too short a grid
  ly = np.array([np.median(ly_all[x == g]) for g in grid])
  err_ll, err_sl = _heldout_errors(grid, ly)
  per = []
  for unit in np.unique(u):
    xu, lyu = x[u == unit], ly_all[u == unit]
    gu = np.unique(xu)
    if gu.size >= 3:
      curve = np.array([np.mean(lyu[xu == g]) for g in gu])
      per.append([_fit_rms(m, gu, curve) for m in models])
  E = np.asarray(per) if per else np.asarray([[_fit_rms(m, grid, ly) for m in models]])
  G = E.shape[0]
  mean_err = E.mean(axis=0)
  best = int(np.argmin(mean_err))
  wins = True
  for j in range(len(models)):
    if j == best:
      continue
    diff = E[:, j] - E[:, best]
    se = float(diff.std(ddof=1) / np.sqrt(G)) if G > 1 else 0.0
    need = max(margin, float(scipy.stats.t.ppf(0.5 + level / 2, G - 1)) * se if G > 1 else 0.0)
    wins = wins and float(diff.mean()) > need
  verdict = models[best] if wins else "inconclusive"
  ip, ie = models.index("polynomial"), models.index("exponential")
  adv = E[:, ip] - E[:, ie]
  noise = float(adv.std(ddof=1) / np.sqrt(G)) if G > 1 else 0.0
  lx = np.log(grid)
  local = np.diff(ly) / np.diff(lx)
  global_slope = float(np.polyfit(lx, ly, 1)[0])
  stable = bool(np.all(np.abs(local - global_slope) <= 0.5 + 0.5 * abs(global_slope)))
  return Growth(verdict == "polynomial", err_ll, err_sl, [float(v) for v in local], stable,
                verdict, verdict == "exponential", float(adv.mean()), noise,
                {m: float(e) for m, e in zip(models, mean_err)})


def growth_power(grid, n_units: int, *, slope: float, sigma: float, models=None,
                 n_sim: int = 400, seed: int = 0, margin: float = 0.01) -> dict:
  """The decision rule's power at the measured noise: P(verdict | truth).

  Each truth draws n_units curves over ``grid`` with log-normal noise of SD ``sigma``
  per grid value: polynomial with exponent ``slope``; exponential with the same total
  growth over the grid (log y rising linearly in x); logarithmic (y linear in log x,
  the same total growth) when it is among ``models``.
  """
  models = tuple(models or ("polynomial", "exponential"))
  x = np.asarray(grid, np.float64)
  lx = np.log(x)
  total = slope * (lx[-1] - lx[0])  # log of the growth over the grid
  truths = {"polynomial": slope * (lx - lx[0]),
            "exponential": total * (x - x[0]) / (x[-1] - x[0])}
  if "logarithmic" in models:
    y = 1.0 + (math.exp(total) - 1.0) * (lx - lx[0]) / (lx[-1] - lx[0])
    truths["logarithmic"] = np.log(y)
  rng = np.random.default_rng(seed)
  out = {}
  xs = np.tile(x, n_units)
  us = np.repeat(np.arange(n_units), x.size)
  for name, curve in truths.items():
    counts = dict.fromkeys((*models, "inconclusive"), 0)
    for _ in range(n_sim):
      ly = np.tile(curve, n_units) + sigma * rng.standard_normal(xs.size)
      counts[growth_test(xs, np.exp(ly + 3.0), us, margin=margin, models=models).verdict] += 1
    out[name] = {k: v / n_sim for k, v in counts.items()}
  return out


class Trend(NamedTuple):
  """Page's L test for an increasing trend across ordered treatments within blocks.

  ``pvalue`` is for "increases along the order"; ``blocks`` counts the rows.
  """

  statistic: float
  pvalue: float
  blocks: int
  method: str


def page_trend(table) -> Trend:
  """Page's L test of an increasing trend along the columns, rows as blocks.

  ``table`` is (blocks, treatments), e.g. seeds x input scales; ties get
  average ranks, and +inf (a censored median) ranks above every finite value.

  >>> t = page_trend([[1, 2, 3, 4, 5], [1, 3, 2, 4, 5], [2, 1, 3, 5, 4]])
  >>> t.pvalue < 0.01
  True
  """
  data = np.asarray(table, np.float64)
  if data.ndim != 2 or data.shape[0] < 2 or data.shape[1] < 3:
    return Trend(math.nan, math.nan, int(data.shape[0]) if data.ndim == 2 else 0, "too small")
  ranks = scipy.stats.rankdata(data, axis=1)
  res = scipy.stats.page_trend_test(ranks, ranked=True)
  return Trend(float(res.statistic), float(res.pvalue), int(data.shape[0]), str(res.method))


def holm(pvalues) -> np.ndarray:
  """Holm's step-down adjustment of a family of p-values (controls the family-wise error).

  The k-th smallest of n p-values is multiplied by (n - k + 1), the running maximum taken
  and capped at 1; NaN (an untested group) stays NaN and is not counted in n.

  >>> holm([0.01, 0.04, 0.03]).tolist()
  [0.03, 0.06, 0.06]
  """
  p = np.asarray(pvalues, np.float64)
  out = np.full(p.shape, np.nan)
  ok = np.flatnonzero(np.isfinite(p))
  order = ok[np.argsort(p[ok], kind="stable")]
  n, running = order.size, 0.0
  for k, i in enumerate(order):
    running = max(running, min(1.0, (n - k) * p[i]))
    out[i] = running
  return out
