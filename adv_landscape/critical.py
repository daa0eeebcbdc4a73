"""Claim A proved for one instance: no critical point of f inside the ball, by branch and
bound (docs/theory.md section 17).

An interior local maximum of L = l(f) needs grad L = l'(f) grad f = 0. Where l' vanishes
only at l's minimum (the quadratic loss at f = y, Huber; the monotone losses nowhere), such
a point has grad f = 0, so if grad f has no zero in the open ball there is no interior
local maximum of L at all: claim A holds for that instance, proved rather than sampled.

A region R (a box in the coordinates of ``globalmax.coordinates``: z = V^T delta on the ball,
k = rank(W) of them) is cleared when some direction u has u . grad f > 0 on all of R n S.
With u = V w (any w), u . grad f(x + delta) = sum_r (W u)_r a_r sigma'(h_r), and over
R n S each h_r lies in the certified interval of ``globalmax.region_intervals``, where
sigma' lies in [s_lo, s_hi] (``d1_range``: exact for tanh and sigmoid, else a grid with a
second-order pad, rounding included); each term is then at least its smallest value at a
corner of the intervals of a_r (W u)_r (W u's rounding included) and of sigma'_r, and the
sum of those, less its rounding, bounds u . grad f below. w is the gradient at the region's centre, or W^+ a
(then W u = a when m <= d: every term positive). A region not
cleared is halved along its widest side, until every region is cleared ("proved") or the
budget is spent ("budget": the centres of the regions left are where a critical point may
lie). Regions outside the ball are dropped.

f may have interior critical points that are no maxima of L (saddles, or minima of L where
f crosses y), and then no budget clears their regions. ``no_interior_maximum`` adds a
second test, on L itself: an interior local maximum needs hess L <= 0 there, so a region
where some u has u^T hess L u > 0 throughout holds none. For a loss convex in u,
u^T hess L u = l''(f) (u . grad f)^2 + l'(f) u^T hess f u >= l'(f) sum_r a_r sigma''(h_r)
(w_r . u)^2, bounded below from certified intervals of f (``globalmax.region_f_bounds``,
so of l'(f), l' being nondecreasing), of sigma'' (its value at the interval's midpoint
+- sup |sigma^(3)| times the half-width) and of (w_r . u)^2; u is the top eigenvector of
hess L at the region's centre. A region passing either test holds no interior local
maximum of L (the first test needs, besides, that l' vanishes only at l's unique
minimiser, where L is at its global minimum: every built-in scalar loss at a label where
l' is not identically zero; a margin loss at y = 0, whose L is constant, is refused).
Activations whose third-derivative bound is only sampled (gelu, swish) are refused too.

>>> import jax.numpy as jnp
>>> from adv_landscape.network import Network
>>> net = Network(jnp.array([[1.0, 0.0], [1.0, 0.0]]), jnp.array([1.0, 1.0]),
...               jnp.array([-1.0, 1.0]), "tanh")  # f = tanh(z1 - 1) + tanh(z1 + 1)
>>> no_interior_critical(net, jnp.zeros(2), 2.0).status  # f' > 0 everywhere
'proved'
>>> bump = Network(net.W, jnp.array([-1.0, 1.0]), net.b, "tanh")  # f' = 0 at z1 = 0
>>> no_interior_critical(bump, jnp.zeros(2), 2.0, max_regions=2000).status
'budget'
"""

from __future__ import annotations

import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from adv_landscape.globalmax import coordinates, region_f_bounds, region_intervals
from adv_landscape.losses import Loss
from adv_landscape.network import Network

__all__ = ["CriticalProof", "no_interior_critical", "no_interior_maximum", "d1_range"]

U = np.finfo(np.float64).eps
GRID = 8  # grid cells per interval in d1_range (the gridded branch)
BATCH = 4096  # regions bounded together


class CriticalProof(NamedTuple):
  """Whether grad f has no zero in the open ball.

  Attributes:
    status: ``proved`` (every region cleared), ``budget`` (``max_regions`` spent first),
      or ``not available: ...``.
    regions: regions bounded; live: regions left uncleared; dimension: k, the
      coordinates branched in; seconds: the time; unresolved: (n, d) the centres (as
      perturbations) of up to 64 regions left, where a critical point may lie.
  """

  status: str
  regions: int
  live: int
  dimension: int
  seconds: float
  unresolved: np.ndarray | None = None


def _tanh_d1_accurate(t):
  e = np.exp(-2.0 * np.abs(t))  # 1 / cosh^2, without 1 - tanh^2's cancellation
  return 4.0 * e / (1.0 + e) ** 2


def _sigmoid_d1_accurate(t):
  e = np.exp(-np.abs(t))
  return e / (1.0 + e) ** 2


# Activations whose sigma' is even and decreasing in |t|, with a formula accurate to a few
# ulps relative to sigma' itself (so its tails keep their sign and size): their range on
# an interval is exact, at its ends (or at 0 inside it).
_MONOTONE_D1 = {"tanh": _tanh_d1_accurate, "sigmoid": _sigmoid_d1_accurate}
_REL = 32 * U  # the accurate formulas' relative error (exp, a few operations), generous
_NORMAL = 1e-300  # above the subnormals (2.2e-308) with room for the formulas' few operations
_ABS = 64 * 2.0 ** -1074  # a sum's absolute rounding per term where products may be subnormal
# Activations whose sup |sigma^(3)| is analytic (the others' is sampled on a grid, not proved)
_PROVED_SUPS = ("tanh", "sigmoid", "softplus", "quadratic", "linear")


def d1_range(act, lo, hi, grid: int = GRID):
  """Certified (min, max) of sigma' over [lo, hi], elementwise. For tanh and sigmoid
  (``_MONOTONE_D1``) the exact range from the ends; otherwise sigma' on grid + 1 points,
  padded by sup |sigma'''| h^2 / 8 (h the widest cell: the error of the piecewise-linear
  interpolant, which bounds how far sigma' may go beyond its grid values between two of
  them) plus its rounding, 64 u (1 + |sigma'|) per value (sigma' of the built-in
  activations is a few operations on library functions accurate to a few ulps)."""
  lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
  if act.name in _MONOTONE_D1:
    fn = _MONOTONE_D1[act.name]
    near = np.where((lo <= 0) & (hi >= 0), 0.0, np.minimum(np.abs(lo), np.abs(hi)))
    far = np.maximum(np.abs(lo), np.abs(hi))
    # below _NORMAL the formula's exp is subnormal and its relative error unbounded: there
    # the range is [0, an absolute bound] instead
    s_far, s_near = fn(far), fn(near)
    return (np.where(s_far >= _NORMAL, s_far * (1 - _REL), 0.0),
            np.maximum(s_near * (1 + _REL), 0.0) + _NORMAL)
  t = np.linspace(0.0, 1.0, grid + 1)
  z = lo[..., None] + (hi - lo)[..., None] * t
  z[..., 0], z[..., -1] = lo, hi
  s = np.asarray(act.d1(z), np.float64)
  h = (hi - lo) / grid * (1 + 8 * U)
  M = act.sup_abs(3, np.maximum(np.abs(lo), np.abs(hi)))
  pad = M * h ** 2 / 8 + 64 * U * (1 + np.max(np.abs(s), axis=-1))
  return s.min(axis=-1) - pad, s.max(axis=-1) + pad


def _clear(net, x, eps, C, H, coords, loss=None, y=None):
  """Per region: whether u . grad f > 0 is certified on R n S (u = V w, w the gradient at
  the centre), or (with a loss) u^T hess L u > 0 (``_curved``), and whether R n S is
  empty."""
  W = np.asarray(net.W, np.float64)
  a = np.asarray(net.a, np.float64)
  lo, hi, empty, c0, _ = region_intervals(net, x, eps, "2", C, H, coords)
  hi = np.maximum(hi, lo)
  s_lo, s_hi = d1_range(net.act, lo, hi)
  ok = _sloped(net, W, a, c0, lo, hi, s_lo, s_hi, C, coords) | empty
  if loss is not None and not ok.all():
    ok |= _curved(net, loss, x, y, eps, W, a, c0, lo, hi, C, H, coords)
  return ok, empty


def _sloped(net, W, a, c0, lo, hi, s_lo, s_hi, C, coords):
  """The first-order test (module docstring), per region, in two directions: grad f at
  the region's centre, and u = W^+ a (least squares in z), for which W u = a exactly when W
  has full row rank (m <= d), so that every term a_r (W u)_r sigma'(h_r) = a_r^2 sigma'(h_r)
  is positive wherever sigma' is (any w would do: it only has to make the bound
  positive)."""
  h_c = c0[None] + C @ coords.Wz.T
  w = (a[None] * np.asarray(net.act.d1(h_c), np.float64)) @ coords.Wz  # (B, k)
  w_pinv = np.linalg.lstsq(coords.Wz, a, rcond=None)[0]  # (k,)
  ok = np.zeros(C.shape[0], bool)
  for ws in (w, np.broadcast_to(w_pinv, w.shape)):
    u = ws if coords.V is None else ws @ coords.V.T  # (B, d): the direction, as a perturbation
    ok |= _positive(W, a, u, s_lo, s_hi)
  return ok


def _positive(W, a, u, s_lo, s_hi):
  """Whether u . grad f = sum_r (W u)_r a_r sigma'_r > 0 is certified for sigma'_r in
  [s_lo, s_hi], the rounding of W u and of the sum included."""
  m, d = W.shape
  v = u @ W.T  # (B, m), W u, within v_err of the exact product
  v_err = 1.01 * (d + 2) * U * (np.abs(u) @ np.abs(W).T)
  # a_r (W u)_r lies in [av_lo, av_hi] (a's product rounded outward); each term
  # a_r (W u)_r sigma'_r is smallest at a corner of the two intervals, so a term whose sign is
  # certain keeps it however small sigma' is (a saturated unit), and only a term of
  # uncertain sign pays for sigma''s largest value
  av, e = a[None] * v, np.abs(a)[None] * v_err * (1 + 2 * U)
  av_lo, av_hi = av - e - U * np.abs(av), av + e + U * np.abs(av)
  corners = np.stack([av_lo * s_lo, av_lo * s_hi, av_hi * s_lo, av_hi * s_hi])
  low = corners.min(axis=0)  # each product rounded by at most u |low|, the sum by gamma_m
  rnd = 1.01 * (m + 4) * U * np.abs(low).sum(axis=1) + (m + 4) * _ABS
  total = low.sum(axis=1)
  return np.isfinite(total) & np.isfinite(rnd) & (total - rnd > 0)  # an overflow clears nothing


def _curved(net, loss, x, y, eps, W, a, c0, lo, hi, C, H, coords):
  """The second-order test (module docstring), per region: u^T hess L u > 0 certified."""
  m, d = W.shape
  act = net.act
  # u: hess L's top eigenvector at the centre, in z (k x k: Wz^T diag(.) Wz + l'' g g^T)
  h_c = c0[None] + C @ coords.Wz.T
  f_c = np.asarray(act.fn(h_c), np.float64) @ a
  lp_c = np.asarray(jax.vmap(loss.grad, (0, None))(f_c, y), np.float64)
  lpp_c = np.asarray(jax.vmap(loss.hess, (0, None))(f_c, y), np.float64)
  g = (a[None] * np.asarray(act.d1(h_c), np.float64)) @ coords.Wz
  S2 = lp_c[:, None] * a[None] * np.asarray(act.d2(h_c), np.float64)
  Hz = (np.einsum("bm,mi,mj->bij", S2, coords.Wz, coords.Wz)
        + lpp_c[:, None, None] * g[:, :, None] * g[:, None, :])
  w = np.linalg.eigh(Hz)[1][:, :, -1]
  u = w if coords.V is None else w @ coords.V.T
  v = u @ W.T
  v_err = 1.01 * (d + 2) * U * (np.abs(u) @ np.abs(W).T)
  v2_lo = np.maximum(np.abs(v) - v_err, 0.0) ** 2
  v2_hi = (np.abs(v) + v_err) ** 2 * (1 + 4 * U)
  # sigma'' on [lo, hi]: its midpoint value +- sup|sigma^(3)| times the half-width, rounded
  mid, half = (lo + hi) / 2, (hi - lo) / 2 * (1 + 4 * U)
  s2 = np.asarray(act.d2(mid), np.float64)
  pad = act.sup_abs(3, np.maximum(np.abs(lo), np.abs(hi))) * half + 64 * U * (1 + np.abs(s2))
  A_lo = np.minimum(a * (s2 - pad), a * (s2 + pad))  # a_r sigma''_r, its interval
  A_hi = np.maximum(a * (s2 - pad), a * (s2 + pad))
  # each term a_r sigma''_r v_r^2, v_r^2 >= 0: its extremes at the corners
  q_lo = np.minimum(A_lo * v2_lo, A_lo * v2_hi)
  q_hi = np.maximum(A_hi * v2_lo, A_hi * v2_hi)
  mag = np.abs(q_lo).sum(axis=1) + np.abs(q_hi).sum(axis=1)
  Q_lo = q_lo.sum(axis=1) - 1.01 * (m + 4) * U * mag - (m + 4) * _ABS
  Q_hi = q_hi.sum(axis=1) + 1.01 * (m + 4) * U * mag + (m + 4) * _ABS
  # l'(f) over the region: l' is nondecreasing (l convex), so between its values at f's ends
  f_lo, f_hi, _ = region_f_bounds(net, x, eps, "2", C, H, coords=coords)
  lp = np.asarray(jax.vmap(loss.grad, (0, None))(np.concatenate([f_lo, f_hi]), y), np.float64)
  B = C.shape[0]
  lp_lo, lp_hi = lp[:B], lp[B:]
  lp_pad = 16 * U * np.maximum(np.abs(lp_lo), np.abs(lp_hi)) + np.finfo(np.float64).tiny
  lp_lo, lp_hi = lp_lo - lp_pad, lp_hi + lp_pad
  corners = np.stack([lp_lo * Q_lo, lp_lo * Q_hi, lp_hi * Q_lo, lp_hi * Q_hi])
  low = corners.min(axis=0)
  margin = 8 * U * np.abs(corners).max(axis=0) + (m + 4) * _ABS
  return np.isfinite(low) & np.isfinite(margin) & (low - margin > 0)


def no_interior_critical(net: Network, x, eps: float, *, max_regions: int = 200_000,
                         reduce: bool = True) -> CriticalProof:
  """Branch and bound for "grad f(x + delta) != 0 for every ||delta|| < eps" (module
  docstring), for a scalar-output two-layer network with a smooth activation on the l2
  ball. ``reduce``: branch in the k = rank(W) coordinates (``globalmax.coordinates``)."""
  return _branch(net, x, eps, max_regions, reduce, None, None)


def no_interior_maximum(net: Network, loss: Loss, x, y, eps: float, *,
                        max_regions: int = 200_000, reduce: bool = True) -> CriticalProof:
  """Branch and bound for "L has no local maximum in the open ball" (claim A for this
  instance): each region cleared by the first-order test or by the second-order one
  (module docstring). ``loss`` must be a built-in scalar loss convex in u."""
  if getattr(loss, "multi_output", False) or not getattr(loss, "convex", False) \
      or getattr(loss, "sups", None) is None:
    return CriticalProof(f"not available: loss {getattr(loss, 'name', loss)!r} is not a "
                         f"built-in scalar loss convex in the output", 0, 0, 0, 0.0)
  # l' = 0 everywhere (a margin loss at y = 0): L is constant, every point a (non-strict)
  # local maximum, and the first-order test's premise (l' = 0 only at l's minimiser) fails
  probe = np.asarray(jax.vmap(loss.grad, (0, None))(jnp.asarray([-2.0, -0.5, 0.5, 2.0]),
                                                    float(y)))
  if not np.any(probe != 0):
    return CriticalProof(f"not available: loss {loss.name!r} at y = {float(y):g} has l' = 0 "
                         f"everywhere, so L is constant and every point is a local maximum",
                         0, 0, 0, 0.0)
  return _branch(net, x, eps, max_regions, reduce, loss, float(y))


def _branch(net, x, eps, max_regions, reduce, loss, y) -> CriticalProof:
  t0 = time.perf_counter()
  if np.ndim(net.a) != 1:
    return CriticalProof("not available: a multi-output head (scalar outputs only)", 0, 0, 0,
                         0.0)
  if net.act.name not in _PROVED_SUPS:
    return CriticalProof(f"not available: activation {net.act.name!r} has no proved bound on "
                         f"its third derivative (its sups are sampled on a grid, or it is not "
                         f"smooth)", 0, 0, 0, 0.0)
  with jax.enable_x64(True):
    coords = coordinates(net, float(eps), "2", reduce=reduce)
    k = coords.Wz.shape[1]
    r0 = coords.eps_z * (1 + 4 * U)
    LO, HI = np.full((1, k), -r0), np.full((1, k), r0)
    count = 0
    while LO.shape[0] and count < max_regions:
      n = min(BATCH, LO.shape[0], max_regions - count)
      lo, hi, LO, HI = LO[:n], HI[:n], LO[n:], HI[n:]
      # centre and half-widths rounded outward, so that [C - H, C + H] covers [lo, hi]
      C = (lo + hi) / 2
      H = (hi - lo) / 2 * (1 + 4 * U) + 2 * U * np.maximum(np.abs(lo), np.abs(hi))
      # padded to BATCH rows (copies of the last), so that the activation's array programs
      # see one shape (each new shape would be compiled anew)
      pad = np.r_[np.arange(n), np.full(BATCH - n, n - 1)]
      with np.errstate(over="ignore", invalid="ignore"):  # non-finite bounds clear nothing
        ok = _clear(net, x, float(eps), C[pad], H[pad], coords, loss, y)[0][:n]
      count += n
      lo, hi = lo[~ok], hi[~ok]
      if lo.shape[0]:  # halve the others along their widest side
        axis = np.argmax(hi - lo, axis=1)
        rows = np.arange(lo.shape[0])
        mid = (lo[rows, axis] + hi[rows, axis]) / 2
        left_hi, right_lo = hi.copy(), lo.copy()
        left_hi[rows, axis], right_lo[rows, axis] = mid, mid
        LO = np.concatenate([LO, lo, right_lo])
        HI = np.concatenate([HI, left_hi, hi])
    live = LO.shape[0]
    cent = None
    if live:
      Cz = (LO[:64] + HI[:64]) / 2
      cent = Cz if coords.V is None else Cz @ coords.V.T
  return CriticalProof("proved" if not live else "budget", count, live, k,
                       time.perf_counter() - t0, cent)
