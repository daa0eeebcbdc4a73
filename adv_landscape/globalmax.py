"""Certified global maxima of L over the set for small two-layer instances, by branch and
bound on the relaxation's bounds (docs/theory.md section 16).

The set S (the l2 ball of radius eps, or the box of half-width eps) is covered by the box
[-eps, eps]^d, split in halves along its widest side. On a region R (a box) the
pre-activation of unit r lies in the intersection of its interval over S and over R, so
``relaxation``'s chord-slope lines and interval bounds bound f on R n S, and the linear
function's extremes over R n S are at most its extremes over R and over S, whichever is
tighter; a region whose nearest point to 0 is outside the ball is empty and dropped.
Each region's bound on L follows from f's range where the loss is convex in u (every
built-in scalar loss). The lower end is a value attained: L at the projection onto S of
each region's centre (and at any points given, e.g. PGA's maxima), less its rounding.
Regions are split best-first until every live region's bound is within ``tol`` of the best
value found (certified), or the region budget is spent (the interval [lower, upper] is
still certified, only wider).

The relaxation tightens quadratically with a region's width, so the work grows like
(eps / width)^d: this certifies d up to about 4 in seconds to a minute, not the paper's d.

>>> import jax.numpy as jnp
>>> from adv_landscape.losses import get_loss
>>> from adv_landscape.network import Network
>>> net = Network(jnp.eye(2), jnp.array([1.0, 1.0]), jnp.zeros(2), "linear")
>>> g = global_maximum(net, get_loss("linear"), jnp.zeros(2), 1.0, 1.0, rtol=1e-6)
>>> g.status, round(g.lower, 5), g.upper - g.lower <= 1e-6 * abs(g.upper)  # y f, f = d1 + d2
('certified', 1.41421, True)
"""

from __future__ import annotations

import heapq
import time
from functools import lru_cache
from typing import NamedTuple

import jax
import numpy as np

from adv_landscape.losses import Loss
from adv_landscape.network import Network
from adv_landscape.relaxation import GRID, _extremes

__all__ = ["COUNT", "Coordinates", "GlobalMax", "coordinates", "global_maximum",
           "p_global_bounds",
           "region_f_bounds", "region_intervals", "p_global"]

U = np.finfo(np.float64).eps
TINY = np.finfo(np.float64).tiny
BATCH = 256  # regions split per round (their children bounded together)


class GlobalMax(NamedTuple):
  """A certified interval for max L over the set.

  Attributes:
    lower: a value attained (L at a feasible point, less its rounding); upper: a certified
      bound on the maximum; argmax: the feasible point of ``lower``.
    status: ``certified`` (upper - lower <= tol), ``budget`` (the region budget ran out
      first: [lower, upper] still holds), or ``not available: ...`` (with NaNs).
    regions: regions bounded; live: regions left unresolved; tol: the gap asked for
      (rtol times the larger of |lower|, |upper|); seconds: the time; dimension: the
      coordinates branched in (rank(W) on the ball when below d, else d).
  """

  lower: float
  upper: float
  argmax: np.ndarray | None
  status: str
  regions: int
  live: int
  tol: float
  seconds: float
  dimension: int = 0


class Coordinates(NamedTuple):
  """Where the regions live: delta = V z (V = None: z = delta). On the ball, with the thin
  SVD W = U S V^T of rank k, f(x + delta) depends on delta only through V^T delta, so the
  regions are boxes in R^k (k <= min(m, d)) and the set is the k-ball of radius ``eps_z``.

  Attributes:
    Wz: (m, k) the first layer in z (W V, or W); V: (d, k) or None; extra: (m,) a bound on
      |w_r . delta - Wz_r . V^T delta| over the set (the reduction's rounding: 0 without
      it); eps_z: the radius of the set in z (eps, widened by V's departure from
      orthonormality).
  """

  Wz: np.ndarray
  V: np.ndarray | None
  extra: np.ndarray
  eps_z: float


def coordinates(net: Network, eps: float, norm: str, *, reduce: bool = True) -> Coordinates:
  """The region coordinates: the reduced ones on the ball when W's numerical rank k is
  below d, else delta itself. The reduction's error is bounded, not assumed away: with
  R = W - Wz V^T computed in float64, |w_r . delta - Wz_r . z| <= eps (||R_r|| + its
  rounding) for ||delta|| <= eps, and ||V^T delta|| <= eps sqrt(1 + ||V^T V - I||_F + its
  rounding)."""
  W = np.asarray(net.W, np.float64)
  m, d = W.shape
  if norm != "2" or not reduce:
    return Coordinates(W, None, np.zeros(m), float(eps))
  _, S, Vt = np.linalg.svd(W, full_matrices=False)
  k = int(np.sum(S > S[0] * max(m, d) * U)) if S.size and S[0] > 0 else 0
  if k >= d or k == 0:
    return Coordinates(W, None, np.zeros(m), float(eps))
  V = Vt[:k].T
  Wz = W @ V
  R = W - Wz @ V.T
  g = 1.01 * (k + 2) * U
  r_err = g * (np.abs(W) + np.abs(Wz) @ np.abs(V.T))  # the rounding of R itself
  extra = eps * (np.linalg.norm(R, axis=1) + np.linalg.norm(r_err, axis=1)) * (1 + 4 * d * U)
  defect = np.linalg.norm(V.T @ V - np.eye(k)) + g * np.linalg.norm(np.abs(V.T) @ np.abs(V))
  return Coordinates(Wz, V, extra, float(eps * np.sqrt(1 + defect) * (1 + 4 * U)))


def region_f_bounds(net: Network, x, eps: float, norm: str, C, H, *, grid: int = GRID,
                    coords: Coordinates | None = None):
  """Certified [f_lo, f_hi] of f(x + delta) over delta in R n S, per region, for a
  scalar-output two-layer network: R the box of centre C[i] and half-widths H[i]
  (arrays (B, k)) in the coordinates ``coords`` (default: delta itself), S the ball
  (norm "2") or box ("inf") of radius eps. Returns (f_lo, f_hi, empty), ``empty`` true
  where R n S is certainly empty."""
  with jax.enable_x64(True):
    coords = coords or coordinates(net, eps, norm, reduce=False)
    return _region_f_bounds(net, x, eps, norm, np.asarray(C, np.float64),
                            np.asarray(H, np.float64), grid, coords)


def region_intervals(net, x, eps, norm, C, H, coords):
  """Each hidden unit's certified pre-activation interval [lo, hi] over R n S, per region
  (``region_f_bounds``' first half, float64 arrays (B, m)), and ``empty`` (B,), true where
  R n S is certainly empty (there lo > hi for some unit, or R lies outside the ball)."""
  W = np.asarray(net.W, np.float64)
  b = np.asarray(net.b, np.float64)
  x = np.asarray(x, np.float64)
  Wz, extra, eps_z = coords.Wz, coords.extra, coords.eps_z
  d, k = W.shape[1], Wz.shape[1]
  aW, aWz = np.abs(W), np.abs(Wz)
  c0 = W @ x + b
  c0_err = 1.01 * (d + 2) * U * (aW @ np.abs(x) + np.abs(b))
  wn = np.linalg.norm(W, axis=1) if norm == "2" else np.sum(aW, axis=1)
  rS = eps * wn * (1 + (d + 4) * U) + c0_err  # the unit's interval over S: c0 +- rS
  cR = c0[None] + C @ Wz.T  # over the region: cR +- rR (z's reduction error in extra)
  rR = ((H @ aWz.T) * (1 + (k + 4) * U) + (c0_err + extra)[None]
        + 1.01 * (k + 2) * U * (np.abs(C) @ aWz.T))
  lo = np.maximum(c0[None] - rS[None], cR - rR)
  hi = np.minimum(c0[None] + rS[None], cR + rR)
  # R n S empty: some unit's two intervals do not meet, or (the ball) R's nearest point to
  # 0 is beyond the radius, with a margin for the rounding of that distance
  empty = np.any(lo > hi, axis=1)
  if norm == "2":
    near = np.maximum(np.abs(C) - H, 0.0)
    empty |= np.linalg.norm(near, axis=1) > eps_z * (1 + 4 * (k + 2) * U)
  return lo, hi, empty, c0, c0_err


def _region_f_bounds(net, x, eps, norm, C, H, grid, coords):
  W = np.asarray(net.W, np.float64)
  a = np.asarray(net.a, np.float64)
  Wz, extra, eps_z = coords.Wz, coords.extra, coords.eps_z
  m, B, k = W.shape[0], C.shape[0], Wz.shape[1]
  aWz = np.abs(Wz)
  lo, hi, empty, c0, c0_err = region_intervals(net, x, eps, norm, C, H, coords)
  hi = np.maximum(hi, lo)  # (empty regions only: keeps the arithmetic below finite)
  act = net.act
  width = hi - lo
  s_lo, s_hi = np.asarray(act.fn(lo), np.float64), np.asarray(act.fn(hi), np.float64)
  mid = (lo + hi) / 2
  flat = width <= 1e-12 * np.maximum(1.0, np.abs(mid))
  alpha = np.where(flat, np.asarray(act.d1(mid), np.float64),
                   (s_hi - s_lo) / np.where(flat, 1.0, width))
  fl, fh, fa = lo.ravel(), hi.ravel(), alpha.ravel()
  beta_lo, beta_hi = (v.reshape(B, m) for v in _extremes(act, fl, fh, fa, grid))
  sig_lo, sig_hi = (v.reshape(B, m) for v in _extremes(act, fl, fh, np.zeros_like(fa), grid))
  pos = a[None] >= 0
  aal = a[None] * alpha  # (B, m)
  # f's lines are K + v . z + sum_r a_r alpha_r e_r, z_r = c0_r + Wz_r . z + e_r and
  # |e_r| <= extra_r (0 without a reduction)
  v = aal @ Wz  # (B, k)
  base = aal @ c0
  slack = np.abs(aal) @ (extra + c0_err)  # the lines use the computed c0 (and z's reduction)
  k_up = base + np.sum(np.where(pos, a * beta_hi, a * beta_lo), axis=1) + slack
  k_dn = base + np.sum(np.where(pos, a * beta_lo, a * beta_hi), axis=1) - slack
  dual = np.linalg.norm(v, axis=1) if norm == "2" else np.sum(np.abs(v), axis=1)
  vc, vh = np.sum(v * C, axis=1), np.sum(np.abs(v) * H, axis=1)
  lin_max = np.minimum(vc + vh, eps_z * dual)
  lin_min = np.maximum(vc - vh, -eps_z * dual)
  ibp_up = np.sum(np.where(pos, a * sig_hi, a * sig_lo), axis=1)
  ibp_dn = np.sum(np.where(pos, a * sig_lo, a * sig_hi), axis=1)
  # rounding of the sums (m + 2k + 8 terms of at most these magnitudes), gamma_n style
  mag = (np.abs(aal) @ np.abs(c0)
         + np.sum(np.abs(a) * np.maximum(np.abs(beta_lo), np.abs(beta_hi)), axis=1)
         + np.sum(np.abs(v) * (np.abs(C) + H), axis=1) + eps_z * (np.abs(aal) @ aWz).sum(axis=1)
         + slack + np.sum(np.abs(a) * np.maximum(np.abs(sig_lo), np.abs(sig_hi)), axis=1))
  err = 1.01 * (m + 2 * k + 8) * U * mag
  f_hi = np.minimum(k_up + lin_max, ibp_up) + err
  f_lo = np.maximum(k_dn + lin_min, ibp_dn) - err
  return f_lo, f_hi, empty


def _project(norm, eps, P):
  if norm == "2":
    n = np.linalg.norm(P, axis=1, keepdims=True)
    # (a hair inside, so that the rounding of the scaling cannot leave the ball)
    r = eps * (1 - (P.shape[1] + 4) * U)
    return P * np.where(n > r, r / np.where(n > r, n, 1.0), 1.0)
  return np.clip(P, -eps, eps)


def _padded(fn):
  """fn on a vector padded to a multiple of 2 BATCH (the children of one round): one
  compiled program in the common case."""
  def run(u):
    u = np.asarray(u, np.float64)
    n = 2 * BATCH * max(1, -(-u.size // (2 * BATCH)))
    return np.asarray(fn(np.concatenate([u, np.zeros(n - u.size)])), np.float64)[:u.size]
  return run


@lru_cache(maxsize=32)
def _loss_fns(loss, y: float):
  """l(u, y) and |l'(u, y)| over a vector of u, compiled once per (loss, y)."""
  val = _padded(jax.jit(jax.vmap(lambda u: loss.value(u, y))))
  der = _padded(jax.jit(jax.vmap(jax.grad(lambda u: loss.value(u, y)))))
  return val, lambda u: np.abs(der(u))


def _values(net, loss, x, y, D):
  """L(x + delta) at the rows of D (float64), each less a bound on its rounding: values
  attained by feasible points, so lower bounds on the maximum."""
  W, a, b = (np.asarray(v, np.float64) for v in (net.W, net.a, net.b))
  m, d = W.shape
  xD = np.asarray(x, np.float64)[None] + D
  Z = xD @ W.T + b[None]
  S = np.asarray(net.act.fn(Z), np.float64)
  f = S @ a
  # z's rounding (d + 2 terms), carried through sigma (|sigma'| at most its sup on |t| <=
  # |z| + the error), sigma's own (32 u (|sigma| + |z|), as in relaxation: gelu's
  # t (1 + tanh(.)) cancels for t < 0, an absolute error of a few u |t|), then the sum
  z_err = 1.01 * (d + 2) * U * (np.abs(xD) @ np.abs(W).T + np.abs(b)[None])
  s_err = net.act.sup_abs(1, np.abs(Z) + z_err) * z_err + 32 * U * (np.abs(S) + np.abs(Z))
  f_err = s_err @ np.abs(a) + 1.01 * (m + 2) * U * (np.abs(S) @ np.abs(a))
  lv, dl = _loss_fns(loss, float(y))
  L = lv(f)
  slope = np.maximum(dl(f - f_err), dl(f + f_err))  # l convex: |l'| largest at an end
  return L - slope * f_err * (1 + 4 * U) - 16 * U * np.abs(L) - TINY


def _loss_upper(loss, y, f_lo, f_hi):
  lv, _ = _loss_fns(loss, float(y))
  vals = np.maximum(lv(f_lo), lv(f_hi))  # l convex in u: its maximum is at an end
  return vals + 16 * U * np.abs(vals) + TINY


def global_maximum(net: Network, loss: Loss, x, y, eps: float, norm: str = "2", *,
                   rtol: float = 1e-3, max_regions: int = 200_000, points=None,
                   grid: int = GRID, reduce: bool = True) -> GlobalMax:
  """Branch and bound for max L(x + delta) over the set (module docstring).

  Args:
    net: a scalar-output two-layer network with a smooth activation; loss: convex in u.
    rtol: stop when upper - lower <= rtol max(|upper|, |lower|) (``tol``).
    max_regions: the budget (regions bounded); points: deltas (n, d) (projected onto the
      set) whose values seed the lower end, e.g. PGA's maxima.
    reduce: on the ball, branch in the k = rank(W) coordinates V^T delta (``coordinates``)
      when k < d: exact up to a bounded rounding, and what makes m << d tractable.
  """
  nan = float("nan")

  def none(why):
    return GlobalMax(nan, nan, None, f"not available: {why}", 0, 0, nan, 0.0)

  if np.ndim(net.a) != 1:
    return none("a multi-output head (scalar outputs only)")
  if not net.act.smooth:
    return none(f"activation {net.act.name!r} is not smooth")
  if not getattr(loss, "convex", False):
    return none(f"loss {loss.name!r} does not say it is convex in the output")
  with jax.enable_x64(True):
    coords = coordinates(net, float(eps), norm, reduce=reduce)
    return _branch_and_bound(net, loss, x, y, float(eps), norm, rtol, max_regions, points,
                             grid, coords)


def _branch_and_bound(net, loss, x, y, eps, norm, rtol, max_regions, points, grid, coords):
  t0 = time.perf_counter()
  d, k = int(np.shape(net.W)[1]), coords.Wz.shape[1]
  best, arg = -np.inf, None
  if points is not None and len(points):
    P = _project(norm, eps, np.asarray(points, np.float64).reshape(-1, d))
    vals = _values(net, loss, x, y, P)
    vals = np.where(np.isnan(vals), -np.inf, vals)
    i = int(np.argmax(vals))
    best, arg = float(vals[i]), P[i]
  heap = []  # (-upper, tie, lo, hi), the largest bound first; every region not split stays
  # here, so the top is the bound on the maximum at every moment
  count, tie = 0, 0

  def add(LO, HI):
    nonlocal best, arg, count, tie
    n = LO.shape[0]
    # centre and half-widths rounded outward, so that [C - H, C + H] covers [lo, hi]
    C = (LO + HI) / 2
    H = (HI - LO) / 2 * (1 + 4 * U) + 2 * U * np.maximum(np.abs(LO), np.abs(HI))
    # padded to 2 BATCH rows (copies of the last), so that the activation's and the loss's
    # array programs see one shape (each new shape would be compiled anew)
    pad = np.r_[np.arange(n), np.full(2 * BATCH * max(1, -(-n // (2 * BATCH))) - n, n - 1)]
    f_lo, f_hi, empty = (v[:n] for v in _region_f_bounds(net, x, eps, norm, C[pad], H[pad],
                                                         grid, coords))
    up = _loss_upper(loss, y, f_lo, f_hi)
    up = np.where(np.isnan(up), np.inf, up)  # (a NaN bound would break the queue's order)
    P = _project(norm, eps, C if coords.V is None else C @ coords.V.T)  # centres as deltas
    vals = np.where(empty, -np.inf, _values(net, loss, x, y, P[pad])[:n])
    vals = np.where(np.isnan(vals), -np.inf, vals)
    count += n
    i = int(np.argmax(vals))
    if vals[i] > best:
      best, arg = float(vals[i]), P[i]
    for j in np.flatnonzero(~empty):
      heapq.heappush(heap, (-float(up[j]), tie, LO[j], HI[j]))
      tie += 1

  def resolved(up):  # the stopping rule, and the status below: one formula
    return up - best <= rtol * max(abs(best), abs(up), TINY)

  r0 = coords.eps_z * (1 + 4 * U)
  add(np.full((1, k), -r0), np.full((1, k), r0))
  while not resolved(-heap[0][0]) and count < max_regions:
    kids_lo, kids_hi = [], []
    while heap and len(kids_lo) < 2 * BATCH and not resolved(-heap[0][0]):
      _, _, lo, hi = heapq.heappop(heap)
      axis = int(np.argmax(hi - lo))
      mid = (lo[axis] + hi[axis]) / 2  # one float: the two halves share it, so they tile
      left_hi, right_lo = hi.copy(), lo.copy()
      left_hi[axis], right_lo[axis] = mid, mid
      kids_lo += [lo, right_lo]
      kids_hi += [left_hi, hi]
    add(np.asarray(kids_lo), np.asarray(kids_hi))
  upper = max(-heap[0][0], best)
  live = sum(1 for neg_up, *_ in heap if not resolved(-neg_up))
  return GlobalMax(best, float(upper), arg, "certified" if resolved(upper) else "budget",
                   count, live, float(rtol * max(abs(best), abs(upper), TINY)),
                   time.perf_counter() - t0, k)


COUNT = 2  # p_global counts restarts within COUNT x the closure tolerance (docs section 16)


def p_global(values, counts, n_restarts: int, g: GlobalMax, tau: float | None = None
             ) -> float | None:
  """The share of ``n_restarts`` restarts that ended at a maximum within tau of the global
  one: ``counts[i]`` restarts ended at a maximum of value ``values[i]``, counted when
  values[i] >= upper - tau. Since the maximum lies in [lower, upper] and upper - lower <=
  tol, a counted maximum is within tau of it, and one within tau - tol of it is counted:
  with tau = COUNT tol = 2 tol (the default), every maximum within tol of the global one
  is counted and none farther than 2 tol. None when the maximum is not certified."""
  if g.status != "certified" or not n_restarts:
    return None
  tau = COUNT * g.tol if tau is None else tau
  v, c = np.asarray(values, np.float64), np.asarray(counts, np.float64)
  return float(np.sum(c[v >= g.upper - tau]) / n_restarts) if v.size else 0.0


def p_global_bounds(values, counts, endpoint_values, g: GlobalMax) -> dict:
  """Bounds on p_global that hold whether or not ``g`` closed (docs/theory.md section 18).

  The global value lies in [lower, upper]; with tau = ``COUNT`` tol, a restart at a
  certified maximum (``values``, ``counts``: the census's distinct maxima) of value
  >= upper - tau is within tau of it (``p_lower``), and a restart whose endpoint value
  (``endpoint_values``, one per restart, certified or not) is below lower - tau is not
  (``p_upper`` counts the others). ``best_is_global``: true when closed and the best
  certified maximum is within tau of upper, false when it is more than tau below lower,
  None otherwise. Empty dict when ``g`` has no finite interval."""
  if not np.isfinite(g.lower):
    return {}
  tau = COUNT * g.tol
  v, c = np.asarray(values, np.float64), np.asarray(counts, np.float64)
  ends = np.asarray(endpoint_values, np.float64)
  best = float(v.max()) if v.size else -np.inf
  closed = g.status == "certified"
  return {"count_tol": float(tau),
          "p_lower": float(c[v >= g.upper - tau].sum() / ends.size) if ends.size else None,
          "p_upper": float(np.mean(ends >= g.lower - tau)) if ends.size else None,
          "best_is_global": (True if closed and best >= g.upper - tau else
                             False if best < g.lower - tau else None)}
