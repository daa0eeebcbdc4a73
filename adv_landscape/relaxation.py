"""Certified upper bounds on max L over the constraint set for two-layer networks
(docs/theory.md section 15): how far the best maximum PGA found can be from the worst case.

Per hidden unit r, the pre-activation z_r = w_r . (x + delta) + b_r lies in
[c_r - eps ||w_r||_*, c_r + eps ||w_r||_*] (||.||_* the dual norm: 2 on the ball, 1 on the
box). On that interval sigma is sandwiched between two parallel lines of the chord's slope
alpha_r, alpha_r z + beta^-_r <= sigma(z) <= alpha_r z + beta^+_r, with beta^-+ the
extremes of phi = sigma - alpha_r z, taken on a grid of G cells and widened by
M h^2 / 8 (M >= sup |sigma''| on the interval, h the cell width: the most a C^2 function
rises above the larger end of a cell) and by the rounding of the evaluations. Summing
a_r times the right line (the upper one where a_r >= 0) bounds f by a linear function of
delta, whose extremes over the set are exact (+- eps ||W^T (a alpha)||_*): the linear
relaxation (CROWN's construction with chord slopes; then, per end of f's range, slopes
optimised by Adam on the relaxation's value as in alpha-CROWN, their intercepts certified
the same way, so that any slope is sound and the optimisation only tightens: the tighter
of the two is kept). A second-order bound (the Taylor model with the rigorous third-
derivative bound, its quadratic maximised over the ball by ``linalg.trust_region_bound``)
is taken too. The interval bound (sum of a_r times
sigma's extremes per unit) is taken too, and each end of f's range is the tighter of the
two, widened by the rounding of the sums. L's bound follows from the range of f where the
loss says it is convex in u (its maximum over an interval of u, or a box of logits, is at
an end or a vertex).

>>> import jax, jax.numpy as jnp
>>> from adv_landscape.network import Network
>>> net = Network(jnp.eye(2), jnp.array([1.0, 1.0]), jnp.zeros(2), "linear")
>>> lo, hi = f_range(net, jnp.array([1.0, 0.0]), 1.0, "2")
>>> round(lo, 9), round(hi, 9)   # f = 1 + delta_1 + delta_2 on the unit disk: 1 -+ sqrt(2)
(-0.414213562, 2.414213562)
"""

from __future__ import annotations

import functools
import itertools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from adv_landscape.activations import get_activation
from adv_landscape.linalg import psd_norm, trust_region_bound
from adv_landscape.losses import Loss
from adv_landscape.network import Network

__all__ = ["GRID", "LossBound", "f_range", "loss_upper_bound", "mlp_f_range",
           "mlp_loss_upper_bound", "unit_lines"]

U = np.finfo(np.float64).eps
GRID = 64  # cells per unit's interval for the extremes of sigma - alpha z
MAX_VERTICES = 4096  # a multi-output loss's box of logits is enumerated up to 2^12 vertices


class LossBound(NamedTuple):
  """A certified bound on max L over the set, or why there is none.

  Attributes:
    upper: the bound (NaN when none); f_lo, f_hi: f's certified range over the set (per
    output for a multi-output head); method: how the bound was made, or the reason there
    is none.
  """

  upper: float
  f_lo: np.ndarray
  f_hi: np.ndarray
  method: str


def _extremes(act, lo, hi, alpha, grid: int = GRID):
  """Certified (min, max) of phi = sigma - alpha z over [lo, hi], elementwise."""
  t = np.linspace(0.0, 1.0, grid + 1)
  z = lo[:, None] + (hi - lo)[:, None] * t[None]
  z[:, 0], z[:, -1] = lo, hi  # the cells cover [lo, hi] exactly
  s = np.asarray(act.fn(z), np.float64)
  phi = s - alpha[:, None] * z
  h = (hi - lo) / grid * (1 + 8 * U)  # the widest cell, its rounding included
  M = act.sup_abs(2, np.maximum(np.abs(lo), np.abs(hi)))  # phi'' = sigma''
  # rounding per grid value: sigma's own (measured against libm in float64: tanh 6 ulp,
  # sigmoid 2, softplus 3, swish 2; gelu's t (1 + tanh) cancels for t < 0, an absolute
  # error of a few u |t|), alpha z and the difference: 32 u (|sigma| + (|alpha| + 1) |z|)
  zmax = np.maximum(np.abs(lo), np.abs(hi))
  rnd = 32 * U * (np.max(np.abs(s), axis=1) + (np.abs(alpha) + 1) * zmax)
  pad = M * h ** 2 / 8 + rnd
  return phi.min(axis=1) - pad, phi.max(axis=1) + pad


def unit_lines(net: Network, x, eps: float, norm: str, *, grid: int = GRID):
  """Per hidden unit: its interval [lo, hi], the chord slope alpha and the intercepts
  beta^- <= sigma(z) - alpha z <= beta^+ on it, and sigma's own extremes there (float64)."""
  with jax.enable_x64(True):
    return _unit_lines(net, x, eps, norm, grid)


def _first_layer(W, b, x, eps, norm):
  """The first layer's pre-activations over the set: c = W x + b with its rounding c_err,
  and [lo, hi] = c -+ (eps ||w_r||_* + c_err), the norm's rounding included (float64)."""
  W, b, x = (np.asarray(v, np.float64) for v in (W, b, x))
  d = W.shape[1]
  c = W @ x + b
  c_err = 1.01 * (d + 2) * U * (np.abs(W) @ np.abs(x) + np.abs(b))
  wn = np.linalg.norm(W, axis=1) if norm == "2" else np.sum(np.abs(W), axis=1)
  r = eps * wn * (1 + (d + 4) * U) + c_err
  return c, c_err, c - r, c + r


def _unit_lines(net, x, eps, norm, grid):
  c, c_err, lo, hi = _first_layer(net.W, net.b, x, eps, norm)
  act = net.act
  width = hi - lo
  s_lo, s_hi = np.asarray(act.fn(lo), np.float64), np.asarray(act.fn(hi), np.float64)
  flat = width <= 1e-12 * np.maximum(1.0, np.abs(c))
  alpha = np.where(flat, np.asarray(act.d1(c), np.float64),
                   (s_hi - s_lo) / np.where(flat, 1.0, width))
  beta_lo, beta_hi = _extremes(act, lo, hi, alpha, grid)
  sig_lo, sig_hi = _extremes(act, lo, hi, np.zeros_like(alpha), grid)
  return dict(c=c, c_err=c_err, lo=lo, hi=hi, alpha=alpha, beta_lo=beta_lo, beta_hi=beta_hi,
              sigma_lo=sig_lo, sigma_hi=sig_hi)


def f_range(net: Network, x, eps: float, norm: str, *, grid: int = GRID, lines=None):
  """Certified [f_lo, f_hi] containing f(x + delta) for every delta of the set (the ball of
  radius eps, or the box of half-width eps); per output (arrays) for a (m, K) head."""
  if not net.act.smooth:
    raise ValueError(f"activation {net.act.name!r} is not smooth: no curvature bound")
  with jax.enable_x64(True):
    return _f_range(net, x, eps, norm, grid, lines)


SLOPE_STEPS = 200  # Adam steps on the slopes (alpha-CROWN style); 0: chord slopes only


def _slopes(net, x, eps, norm, L, a, sign, grid, steps):
  """Slopes that tighten one end of f's linear relaxation (sign +1: the upper end,
  minimised; -1: the lower end, maximised), by Adam on the relaxation's value at grid
  extremes, from the chord slopes; the best iterate. Any slope gives a sound line pair once
  its intercepts are certified (``_extremes``), so the optimisation can only tighten."""
  lo, hi, c = (jnp.asarray(L[k]) for k in ("lo", "hi", "c"))
  z = lo[:, None] + (hi - lo)[:, None] * jnp.linspace(0.0, 1.0, grid + 1)[None]
  al0 = jnp.asarray(L["alpha"])
  lr = 0.05 * float(jnp.max(jnp.abs(al0))) + 1e-3
  return np.asarray(_adam_slopes(al0, net.act.fn(z), z, jnp.asarray(np.asarray(net.W,
                                                                                 np.float64)),
                                 jnp.asarray(a), c, float(sign), float(eps), lr,
                                 norm=norm, steps=int(steps)), np.float64)


def _slope_value(al, sig, z, W, a, c, sign, eps, norm):
  phi = sig - al[:, None] * z
  beta = jnp.where(sign * a >= 0, phi.max(axis=1), phi.min(axis=1))
  v = W.T @ (a * al)
  dual = jnp.linalg.norm(v) if norm == "2" else jnp.sum(jnp.abs(v))
  return sign * jnp.sum(a * al * c + a * beta) + eps * dual


@functools.partial(jax.jit, static_argnames=("norm", "steps"))
def _adam_slopes(al0, sig, z, W, a, c, sign, eps, lr, *, norm, steps):
  """``steps`` Adam steps on ``_slope_value`` in one compiled loop; the best iterate."""
  opt = optax.adam(lr)
  grad = jax.value_and_grad(_slope_value)

  def body(_, carry):
    al, state, best, best_al = carry
    v, g = grad(al, sig, z, W, a, c, sign, eps, norm)
    better = jnp.isfinite(v) & (v < best)
    best, best_al = jnp.where(better, v, best), jnp.where(better, al, best_al)
    upd, state = opt.update(g, state)
    return optax.apply_updates(al, upd), state, best, best_al

  init = (al0, opt.init(al0), jnp.asarray(jnp.inf, al0.dtype), al0)
  return jax.lax.fori_loop(0, steps, body, init)[3]


def _linear_end(a, W, L, alpha, beta_lo, beta_hi, eps, norm, sign):
  """One end of f's linear relaxation at the given slopes and certified intercepts, and
  the rounding of its sums (m + d terms), with that of c, which the lines use."""
  m, d = W.shape
  pos = sign * a >= 0
  v = W.T @ (a * alpha)
  dual = np.linalg.norm(v) if norm == "2" else np.sum(np.abs(v))
  base = a * alpha * L["c"]
  val = np.sum(base) + np.sum(np.where(pos, a * beta_hi, a * beta_lo)) + sign * eps * dual
  mag = (np.sum(np.abs(base)) + np.sum(np.abs(a) * np.maximum(np.abs(beta_lo),
                                                              np.abs(beta_hi)))
         + eps * (np.abs(W.T) @ np.abs(a * alpha)).sum())
  return val, 1.01 * (m + d + 8) * U * mag + np.sum(np.abs(a * alpha) * L["c_err"])


TAYLOR_MAX_D = 2048  # the second-order bound's d x d eigensolves: up to this d
TAYLOR = True  # the second-order bound is taken beside the others (tests switch it off)


def _taylor_end(net, x, eps, norm, a, L, sign, remainder: bool = True):
  """One end of f's range from its second-order Taylor model (docs/theory.md section 15):
  sign f(x + delta) <= sign f(x) + max over ||delta||_2 <= r of (sign g . delta + delta^T
  sign H delta / 2) + T_f r^3 / 6, with g, H the gradient and Hessian of f at x, T_f =
  ||W^T diag(c3 |a| ||w||) W||_2 the third-derivative bound over the set (c3 = sup |sigma'| over each unit's interval) and r = eps on the ball, sqrt(d) eps on the box (which
  that ball holds). The quadratic's maximum is the trust-region problem's, bounded with its
  rounding (``linalg.trust_region_bound``); the errors of f(x), g and H from the rounding
  of c and of sigma's values enter as an absolute term, a gradient error times r and a
  shift of H's diagonal."""
  W = np.asarray(net.W, np.float64)
  m, d = W.shape
  act = net.act
  c, c_err = L["c"], L["c_err"]
  r = eps if norm == "2" else eps * np.sqrt(d) * (1 + 2 * U)
  zmax = np.maximum(np.abs(L["lo"]), np.abs(L["hi"]))
  s0, s1, s2 = (np.asarray(fn(c), np.float64) for fn in (act.fn, act.d1, act.d2))
  c1, c2, c3 = (act.sup_abs(k, zmax) for k in (1, 2, 3))
  wn2 = np.sum(W * W, axis=1)
  gam = 1.01 * (m + d + 4) * U
  # sigma^(k)(c) for the true c (within c_err of the computed one): evaluation error
  # (32 u relative, as in _extremes) plus the next derivative's sup times c_err
  e0 = c1 * c_err + 32 * U * np.abs(s0)
  e1 = c2 * c_err + 32 * U * np.abs(s1)
  e2 = c3 * c_err + 32 * U * np.abs(s2)
  f0 = float(a @ s0)
  g = W.T @ (a * s1)
  H = W.T @ ((a * s2)[:, None] * W)
  f0_err = float(np.abs(a) @ e0) + gam * float(np.abs(a) @ np.abs(s0))
  g_err = float(np.abs(a) @ ((e1 + gam * np.abs(s1)) * np.sqrt(wn2)))
  H_err = float(np.abs(a) @ ((e2 + gam * np.abs(s2)) * wn2))
  c3w = c3 * np.abs(a) * np.sqrt(wn2)
  T_f = psd_norm(W, c3w) if np.all(np.isfinite(c3w)) else np.inf
  quad = trust_region_bound(sign * g, sign * H + H_err * np.eye(d), r)
  cubic = T_f * r ** 3 / 6 * (1 + 4 * U) if remainder else 0.0  # False: a planted error
  return sign * f0 + f0_err + quad + g_err * r + cubic


def _f_range(net, x, eps, norm, grid, lines, steps=None):
  steps = SLOPE_STEPS if steps is None else steps
  L = _unit_lines(net, x, eps, norm, grid) if lines is None else lines
  W = np.asarray(net.W, np.float64)
  A = np.asarray(net.a, np.float64)
  single = A.ndim == 1
  A = A[:, None] if single else A
  m, d = W.shape
  out_lo, out_hi = [], []
  for k in range(A.shape[1]):
    a = A[:, k]
    ends = {}
    for sign in (1, -1):
      # the chord slopes, and (steps > 0) slopes optimised for this end, each with its
      # intercepts certified: the tighter of the two
      cands = [(L["alpha"], L["beta_lo"], L["beta_hi"])]
      if steps and np.all(np.isfinite(L["lo"])) and np.all(np.isfinite(L["hi"])):
        al = _slopes(net, x, eps, norm, L, a, sign, grid, steps)
        cands.append((al, *_extremes(net.act, L["lo"], L["hi"], al, grid)))
      vals = [_linear_end(a, W, L, *cand, eps, norm, sign) for cand in cands]
      ends[sign] = min(vals, key=lambda ve: sign * ve[0] + ve[1])
    pos = a >= 0
    ibp_up = np.sum(np.where(pos, a * L["sigma_hi"], a * L["sigma_lo"]))
    ibp_dn = np.sum(np.where(pos, a * L["sigma_lo"], a * L["sigma_hi"]))
    ibp_err = 1.01 * (m + 8) * U * np.sum(np.abs(a) * np.maximum(np.abs(L["sigma_lo"]),
                                                                 np.abs(L["sigma_hi"])))
    (up, up_err), (dn, dn_err) = ends[1], ends[-1]
    taylor_up = taylor_dn = np.inf
    if d <= TAYLOR_MAX_D and TAYLOR:
      taylor_up, taylor_dn = (_taylor_end(net, x, eps, norm, a, L, sign) for sign in (1, -1))
    out_hi.append(min(up + up_err, ibp_up + ibp_err, taylor_up))
    out_lo.append(max(dn - dn_err, ibp_dn - ibp_err, -taylor_dn))
  if single:
    return float(out_lo[0]), float(out_hi[0])
  return np.asarray(out_lo), np.asarray(out_hi)


def loss_upper_bound(net: Network, loss: Loss, x, y, eps: float, norm: str = "2", *,
                     grid: int = GRID) -> LossBound:
  """A certified upper bound on max L(delta) over the set, from f's range (``f_range``):
  L's maximum over an interval of u is at an end where the loss is convex in u (every
  built-in scalar loss), over a box of logits at a vertex (softmax cross-entropy, up to
  ``MAX_VERTICES`` vertices). Any other loss, or a non-smooth activation, gets NaN and
  the reason."""
  refused = _refusal(net.activation, loss)
  if refused is not None:
    return refused
  with jax.enable_x64(True):
    return _loss_bound(net, loss, x, y, eps, norm, grid)


def _refusal(activation: str, loss) -> LossBound | None:
  """Why no bound can be given (a non-smooth activation; a loss neither convex in the
  output nor declared monotone somewhere), as a NaN bound; None when one can."""
  if not get_activation(activation).smooth:
    return LossBound(float("nan"), np.nan, np.nan,
                     f"not available: activation {activation!r} is not smooth")
  if not getattr(loss, "convex", False) and getattr(loss, "monotone", None) is None:
    return LossBound(float("nan"), np.nan, np.nan,
                     f"not available: loss {loss.name!r} says neither that it is convex in the "
                     f"output nor where it is monotone (a 'monotone' attribute on the "
                     f"function), so its maximum over f's range is not known to be at an end")
  return None


def _loss_bound(net, loss, x, y, eps, norm, grid):
  lo, hi = _f_range(net, x, eps, norm, grid, None)
  return _loss_from_range(loss, y, lo, hi, "linear relaxation (chord and optimised slopes), "
                          "interval and second-order Taylor bounds of f")


def _loss_from_range(loss, y, lo, hi, what: str) -> LossBound:
  """L's maximum over f's certified range: at an end (a loss convex in u, or a user loss
  monotone on an interval holding the range, as it declares), or at a vertex of the logit
  box (softmax cross-entropy)."""
  mono = getattr(loss, "monotone", None)
  if mono is not None and not getattr(loss, "convex", False):
    kind, m_lo, m_hi = mono
    if not (m_lo <= lo and hi <= m_hi):
      return LossBound(float("nan"), lo, hi, f"not available: f's range [{lo:.6g}, {hi:.6g}] "
                       f"leaves [{m_lo:g}, {m_hi:g}], where loss {loss.name!r} says it is "
                       f"{kind}")
    end = hi if kind == "increasing" else lo
    top = float(loss.value(np.float64(end), y))
    return LossBound(top + 16 * U * abs(top) + np.finfo(np.float64).tiny, lo, hi,
                     f"{what}, the loss at the {('upper' if end == hi else 'lower')} end of "
                     f"f's range (the loss declares itself {kind} there; not checked)")
  if loss.multi_output:
    lo, hi = np.atleast_1d(lo), np.atleast_1d(hi)
    if 2 ** lo.size > MAX_VERTICES:
      return LossBound(float("nan"), lo, hi, f"not available: {lo.size} outputs give "
                       f"2^{lo.size} vertices of the logit box (at most {MAX_VERTICES})")
    vals = [float(loss.value(np.where(np.array(bits), hi, lo), y))
            for bits in itertools.product((False, True), repeat=lo.size)]
    how = f"the {len(vals)} vertices of the logit box"
  else:
    vals = [float(loss.value(np.float64(lo), y)), float(loss.value(np.float64(hi), y))]
    how = "the ends of f's range"
  top = max(vals)
  return LossBound(top + 16 * U * abs(top) + np.finfo(np.float64).tiny, lo, hi,
                   f"{what}, the loss at {how}")


def mlp_f_range(net, x, eps: float, norm: str = "2", *, grid: int = GRID):
  """Certified [f_lo, f_hi] of a deep ``MLP`` over the set, by interval bounds layer by
  layer: the first layer's pre-activations exactly (c +- eps ||w_r||_*), each activation's
  certified extremes on its interval (``_extremes`` with slope 0), each later layer and the
  head by interval matrix products in centre-radius form, every rounding bounded. Sound and
  loose (it forgets that one delta serves every unit); per output for a (m, K) head."""
  with jax.enable_x64(True):
    act = get_activation(net.activation)
    _, _, lo, hi = _first_layer(net.Ws[0], net.bs[0], x, eps, norm)
    for W, b in list(zip(net.Ws[1:], net.bs[1:])) + [(None, None)]:
      h_lo, h_hi = _extremes(act, lo, hi, np.zeros_like(lo), grid)
      M = np.asarray(net.a, np.float64).T if W is None else np.asarray(W, np.float64)
      M = M[None] if M.ndim == 1 else M
      b = np.zeros(M.shape[0]) if b is None else np.asarray(b, np.float64)
      hc, hr = (h_lo + h_hi) / 2, (h_hi - h_lo) / 2 * (1 + 4 * U)
      hr = hr + 2 * U * np.maximum(np.abs(h_lo), np.abs(h_hi))  # [hc - hr, hc + hr] holds h
      zc = M @ hc + b
      zr = np.abs(M) @ hr
      k = M.shape[1]
      zr = zr * (1 + 2 * U) + 1.01 * (k + 3) * U * (np.abs(M) @ (np.abs(hc) + hr) + np.abs(b))
      lo, hi = zc - zr, zc + zr
  if np.ndim(net.a) == 1:
    return float(lo[0]), float(hi[0])
  return lo, hi


def mlp_loss_upper_bound(net, loss: Loss, x, y, eps: float, norm: str = "2", *,
                         grid: int = GRID) -> LossBound:
  """``loss_upper_bound`` for a deep ``MLP``: L over f's range from ``mlp_f_range``."""
  refused = _refusal(net.activation, loss)
  if refused is not None:
    return refused
  lo, hi = mlp_f_range(net, x, eps, norm, grid=grid)
  return _loss_from_range(loss, y, lo, hi, f"interval bounds of f through {net.depth} "
                          f"hidden layers")
