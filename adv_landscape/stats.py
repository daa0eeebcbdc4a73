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

__all__ = ["Median", "km_median", "ClusterFit", "cluster_fit", "Growth", "growth_test",
           "Trend", "page_trend"]


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
  x = np.asarray(xs, np.float64)
  lx = np.log(x) if log_x else x
  ly = np.log(np.asarray(ys, np.float64))
  cl = np.asarray(clusters)
  ok = np.isfinite(lx) & np.isfinite(ly)
  lx, ly, cl = lx[ok], ly[ok], cl[ok]
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


class Growth(NamedTuple):
  """Polynomial against exponential growth of y in x.

  Attributes:
    polynomial: verdict == "polynomial": log-log predicts the held-out
      largest grid value at least as well as semi-log (within ``margin`` in
      log y, on average over units) and the local slopes are stable.
    loglog_error, semilog_error: |log y - prediction| at the held-out value,
      for the curve of per-grid-value medians (reported, not decisive).
    local_slopes: d log y / d log x between successive grid values (medians).
    stable: every local slope within 0.5 + 0.5 |global slope| of the global.
    verdict: "polynomial", "exponential" or "inconclusive".
    exponential: verdict == "exponential": on each unit's own curve the
      semi-log model predicts the held-out value better, by a mean advantage
      above max(margin, 2 SE) with SE its standard error over units.
    advantage, noise: that mean advantage of semi-log (log-log error minus
      semi-log error, per unit) and its standard error.
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


def _heldout_errors(x, ly):
  """(log-log error, semi-log error) predicting the largest x from the others."""
  lx = np.log(x)
  e_ll = abs(np.polyval(np.polyfit(lx[:-1], ly[:-1], 1), lx[-1]) - ly[-1])
  e_sl = abs(np.polyval(np.polyfit(x[:-1], ly[:-1], 1), x[-1]) - ly[-1])
  return float(e_ll), float(e_sl)


def growth_test(xs, ys, units=None, *, margin: float = 0.1) -> Growth:
  """Is y polynomial in x? Held-out comparison of log-log and semi-log models.

  Both models are fitted by least squares to log y at every grid value but
  the largest, and each predicts the largest. A finite log-log slope fits
  exponential growth as well as polynomial growth on a short grid; the
  held-out point and the local slopes tell them apart: for y = 2^x the
  semi-log model is exact and the local log-log slopes grow with x, for
  y = x^p the log-log model is exact and the local slopes are p.

  The comparison is made on each unit's own curve (a unit is a seed: its
  instances share a network across the grid), and the advantage of the
  semi-log model is averaged over units: the level of a curve may differ
  between seeds, its shape is what is tested. Exponential needs a mean
  advantage above max(margin, 2 SE); polynomial needs none (within margin)
  and stable local slopes; anything else is inconclusive.

  >>> g = growth_test([1, 2, 4, 8, 16], [2.0**k for k in (1, 2, 4, 8, 16)])
  >>> g.verdict, g.stable
  ('exponential', False)
  >>> growth_test([1, 2, 4, 8, 16], [k**1.5 for k in (1, 2, 4, 8, 16)]).verdict
  'polynomial'
  """
  x = np.asarray(xs, np.float64)
  ly_all = np.log(np.asarray(ys, np.float64))
  u = np.zeros(x.size, np.int64) if units is None else np.asarray(units)
  grid = np.unique(x)
  if grid.size < 3:
    return Growth(True, math.nan, math.nan, [], True)  # too short a grid to tell
  ly = np.array([np.median(ly_all[x == g]) for g in grid])
  err_ll, err_sl = _heldout_errors(grid, ly)
  adv = []
  for unit in np.unique(u):
    xu, lyu = x[u == unit], ly_all[u == unit]
    gu = np.unique(xu)
    if gu.size >= 3 and gu[-1] == grid[-1]:
      curve = np.array([np.mean(lyu[xu == g]) for g in gu])
      e_ll, e_sl = _heldout_errors(gu, curve)
      adv.append(e_ll - e_sl)
  adv = np.asarray(adv) if adv else np.array([err_ll - err_sl])
  mean = float(adv.mean())
  noise = float(adv.std(ddof=1) / np.sqrt(adv.size)) if adv.size > 1 else 0.0
  lx = np.log(grid)
  local = np.diff(ly) / np.diff(lx)
  global_slope = float(np.polyfit(lx, ly, 1)[0])
  stable = bool(np.all(np.abs(local - global_slope) <= 0.5 + 0.5 * abs(global_slope)))
  if mean > max(margin, 2.0 * noise):
    verdict = "exponential"
  elif mean <= margin and stable:
    verdict = "polynomial"
  else:
    verdict = "inconclusive"
  return Growth(verdict == "polynomial", err_ll, err_sl, [float(v) for v in local], stable,
                verdict, verdict == "exponential", mean, noise)


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
