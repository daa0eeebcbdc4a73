"""Instance constants and the iteration bounds of docs/theory.md section 5.

Rigorous upper bounds over z in x + B, with c_k the sup of |sigma^(k)| over
each neuron's reachable pre-activation range |w_r . x + b_r| + eps ||w_r||,
and |a_r| the row norm ||a_r|| for a K-output head:
  G_f = ||W||_2 ||c1 * |a| ||_2,   H_f = ||W^T diag(c2 |a|) W||_2,
  T_f = ||W^T diag(c3 |a| ||w||) W||_2   (||w|| the row norms ||w_r||),
  ell <= l2 G_f^2 + l1 H_f,        rho <= l3 G_f^3 + 3 l2 G_f H_f + l1 T_f,
with l_k = sup |l^(k)| over the reachable outputs |u - f(x)| <= eps G_f. For
the quadratic loss l1 = F = |f(x) - y| + eps G_f, l2 = 1, l3 = 0, which gives
The global-sup bounds are ell <= G_f^2 + F H_f and rho <= 3 G_f H_f + F T_f. The per-neuron
c_k are at most the global sups, so these bounds are at most the global-sup ones.

>>> import jax
>>> from adv_landscape.network import init_network, synthetic_input
>>> net = init_network(jax.random.key(0), d=5, m=10)
>>> x = synthetic_input(jax.random.key(1), 5, 1.0)
>>> c = instance_constants(net, "quadratic", x, 1.0, eps=0.5)
>>> bool(c.ell > 0 and c.rho > 0)
True
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from adv_landscape import objective as closed_form
from adv_landscape.errors import InvalidInput
from adv_landscape.geometry import sample_ball
from adv_landscape.linalg import psd_norm, spectral_norm
from adv_landscape.losses import Loss, get_loss
from adv_landscape.network import Network, forward, validate_problem

__all__ = ["Constants", "instance_constants", "rigorous_constants", "sampled_constants",
           "estimate_ell", "t1_bound", "t2_bound", "fit_exponent", "Fit"]


class Constants(NamedTuple):
  """Constants of one instance (floats). ``rho`` is inf where the loss or
  activation has no Lipschitz Hessian (Huber)."""

  G_f: float
  H_f: float
  T_f: float
  F: float
  ell: float
  rho: float
  L_max: float
  L0: float  # L(0)
  grad0: float  # ||grad L(0)||


def _require_smooth(net: Network, what: str) -> None:
  if not net.act.smooth:
    raise InvalidInput(
        f"activation={net.activation!r} has no second derivative (its curvature is a "
        f"distribution), so {what} are undefined; use a smooth activation")


def instance_constants(net: Network, loss: Loss | str, x, y, eps: float, *,
                       norm: str = "2") -> Constants:
  """Rigorous constants of docs/theory.md section 5 for one instance, computed in float64 NumPy.

  ``norm="inf"``: over the box ||delta||_inf <= eps, where |w_r . delta| <=
  eps ||w_r||_1 bounds each pre-activation's range and ||delta||_2 <= eps
  sqrt(d) the output's (the box lies in that l2 ball).
  """
  loss = get_loss(loss)
  _require_smooth(net, "curvature bounds")
  if loss.sups is None:
    raise InvalidInput(f"loss={loss.name!r} is a user loss with unknown derivative bounds")
  W, b = np.asarray(net.W, np.float64), np.asarray(net.b, np.float64)
  a = np.asarray(net.a, np.float64)
  x = np.asarray(x, np.float64)
  a_abs = np.abs(a) if a.ndim == 1 else np.linalg.norm(a, axis=1)
  wn = np.linalg.norm(W, axis=1)
  if norm not in ("2", "inf"):
    raise InvalidInput(f"norm={norm!r} is unknown; choose '2' or 'inf'")
  reach = eps * (np.abs(W).sum(axis=1) if norm == "inf" else wn)  # sup of |w_r . delta|
  radius = np.abs(W @ x + b) + reach
  eps2 = eps * np.sqrt(W.shape[1]) if norm == "inf" else eps  # sup of ||delta||_2
  c1, c2, c3 = (net.act.sup_abs(k, radius) for k in (1, 2, 3))
  G_f = spectral_norm(W) * np.linalg.norm(c1 * a_abs)
  H_f = psd_norm(W, c2 * a_abs)
  c3w = np.where(c3 == 0, 0.0, c3 * a_abs * wn)
  T_f = psd_norm(W, c3w) if np.all(np.isfinite(c3w)) else math.inf
  with jax.enable_x64(True):
    validate_problem(net, x, eps, y, loss=loss)
    n64, x64 = net.astype(jnp.float64), jnp.asarray(x, jnp.float64)
    y64 = jnp.asarray(y, jnp.int32 if loss.multi_output else jnp.float64)
    zero = jnp.zeros_like(x64)
    f0 = np.asarray(forward(n64, x64))
    L0 = float(closed_form.value(n64, loss, x64, y64, zero))
    grad0 = float(np.linalg.norm(closed_form.grad(n64, loss, x64, y64, zero)))
    if loss.multi_output:
      l1, l2, l3 = loss.sups(None, None, y)
      L_max = L0 + l1 * eps2 * G_f  # mean value theorem, ||grad l|| <= l1
    else:
      lo, hi = float(f0) - eps2 * G_f, float(f0) + eps2 * G_f
      l1, l2, l3 = loss.sups(lo, hi, y)
      # Every built-in scalar loss is convex in u: its max on [lo, hi] is at an end.
      L_max = float(max(loss.value(jnp.asarray(lo), y), loss.value(jnp.asarray(hi), y)))
  F = l1  # sup |l'| on the reachable outputs; |f(x) - y| + eps G_f for the quadratic loss
  ell = l2 * G_f**2 + l1 * H_f
  rho = _mul(l3, G_f**3) + 3.0 * l2 * G_f * H_f + _mul(l1, T_f)
  return Constants(float(G_f), float(H_f), T_f, float(F), float(ell), float(rho),
                   float(L_max), L0, grad0)


def rigorous_constants(problem) -> Constants:
  """``instance_constants`` of a ``Problem`` (its objective's arrays, its set's radius and
  norm) where its objective has rigorous bounds (``RIGOROUS``), else
  ``unavailable_constants`` (NaN but L(0) and ||grad L(0)||)."""
  obj = problem.objective
  if not obj.RIGOROUS:
    return unavailable_constants(problem)
  return instance_constants(obj.net, obj.loss, obj.x, obj.y, float(problem.constraint.eps),
                            norm=problem.constraint.NORM)


def _mul(a, b):  # 0 * inf = 0: a zero third derivative makes an infinite factor moot
  return 0.0 if a == 0 or b == 0 else a * b


class Sampled(NamedTuple):
  """Largest values seen at sampled points of the ball (lower estimates)."""

  G_f: float
  H_f: float
  ell: float
  rho: float
  L_max: float


# Above this d (and with fewer hidden units than inputs) the sampled Hessians are taken in
# the row space of W: exact, and m x m instead of d x d (``_reduced``).
REDUCE_ABOVE_D = 256


def _sampled_two_layer(obj, eps: float, norm: str, key: jax.Array, n: int) -> Sampled:
  """``sampled_constants`` of the closed-form two-layer objective (float64), with G_f, H_f."""
  with jax.enable_x64(True):
    d, m = obj.x.shape[0], obj.net.W.shape[0]
    pts = sample_points(key, n, d, eps, norm)
    out = _sampled_two_layer_maxima(obj, pts, reduce=d > REDUCE_ABOVE_D and m < d)
    return Sampled(*(float(v) for v in np.asarray(out)))


@functools.partial(jax.jit, static_argnames=("reduce",))
def _sampled_two_layer_maxima(obj, pts, *, reduce: bool) -> jax.Array:
  """(G_f, H_f, ell, rho, L_max) as maxima over the points, in one compiled program (run
  op by op it cost about 0.06 s a grid point, a sixth of the quick verify grid's time)."""
  netx, x = obj.net, obj.x
  n, m = pts.shape[0], netx.W.shape[0]
  fn = (lambda z: forward(netx, z)) if not obj.loss.multi_output else None
  Q = _row_space(netx.W) if reduce else None
  H = _reduced(obj.hess, obj.hvp, Q)(pts)
  Hn = jnp.linalg.norm(H, ord=2, axis=(1, 2))
  vals = jax.vmap(obj.value)(pts)
  if fn is not None:
    gf = jax.vmap(jax.grad(fn))(x[None, :] + pts)
    if Q is None:
      hf = jax.vmap(jax.hessian(fn))(x[None, :] + pts)
    else:
      hf = jax.vmap(lambda p: jax.hessian(lambda c: fn(x + p + Q @ c))(jnp.zeros(m)))(pts)
  else:
    gf = jax.vmap(jax.jacfwd(lambda z: forward(netx, z)))(x[None, :] + pts)
    hf = jnp.zeros_like(H)  # the vector-valued Hessian's norm is not estimated
  Gf = jnp.max(jnp.linalg.norm(gf.reshape(n, -1, x.shape[0]), ord=2, axis=(1, 2)))
  Hf = jnp.max(jnp.linalg.norm(hf, ord=2, axis=(1, 2)))
  dH = jnp.linalg.norm(H[1:] - H[:-1], ord=2, axis=(1, 2))
  dp = jnp.linalg.norm(pts[1:] - pts[:-1], axis=1)
  return jnp.stack([Gf, Hf, jnp.max(Hn), jnp.max(dH / dp), jnp.max(vals)])


def _row_space(W: jax.Array) -> jax.Array:
  """An orthonormal (d, m) basis Q of a space holding the row space of W (m, d), m < d."""
  return jnp.linalg.qr(W.T, mode="reduced")[0]


def _reduced(hess, hvp, Q):
  """points (n, d) -> Hessians (n, d, d), or (n, m, m) Q^T H Q when a basis Q is given."""
  if Q is None:
    return jax.vmap(hess)
  return jax.vmap(lambda p: Q.T @ jax.vmap(lambda v: hvp(p, v), in_axes=1, out_axes=1)(Q))


def sample_points(key: jax.Array, n: int, d: int, eps: float, norm: str = "2") -> jax.Array:
  """n float64 points of the ball: half uniform inside, half on its boundary (for the box:
  uniform in it, and random vertices)."""
  k1, k2 = jax.random.split(key)
  if norm == "inf":
    return jnp.concatenate([jax.random.uniform(k1, (n // 2, d), jnp.float64, -eps, eps),
                            eps * jax.random.rademacher(k2, (n - n // 2, d), jnp.float64)])
  pts = jnp.concatenate([sample_ball(k1, n // 2, d, eps, dtype=jnp.float64),
                         jax.random.normal(k2, (n - n // 2, d), jnp.float64)])
  nrm = jnp.linalg.norm(pts[n // 2:], axis=1, keepdims=True)
  return pts.at[n // 2:].set(eps * pts[n // 2:] / nrm)


def unavailable_constants(problem) -> Constants:
  """Constants of a model without rigorous bounds (a deep network): NaN but L(0), ||grad L(0)||.

  NaN travels as null in JSON: T1, the rigorous ell and kappa are then
  reported as not available rather than guessed.
  """
  with jax.enable_x64(True):
    obj = problem.astype(jnp.float64).objective
    zero = jnp.zeros_like(obj.x)
    nan = float("nan")
    return Constants(nan, nan, nan, nan, nan, nan, nan, float(obj.value(zero)),
                     float(jnp.linalg.norm(obj.grad(zero))))


def sampled_constants(problem, *, key: jax.Array, n: int = 64) -> Sampled:
  """Estimates of the constants at n random points of a ``Problem``'s set (``sample_points``:
  half inside the ball, half on its sphere; on the box, half uniform in it, half at random
  vertices).

  Each is a maximum over points of a quantity its rigorous bound dominates:
  ||grad f||, ||hess f||, ||hess L||, ||hess L(p) - hess L(q)|| / ||p - q||, L.

  A two-layer f depends on z only through W z, so every Hessian here is
  W^T S W for some m x m matrix S: its range lies in the row space of W.
  With Q (d x m) an orthonormal basis of that space, ||H||_2 = ||Q^T H Q||_2
  exactly, so for d > ``REDUCE_ABOVE_D`` and m < d the norms are taken of the
  m x m matrices Q^T H Q (m Hessian-vector products per point) instead of
  forming d x d Hessians (tests/test_bounds.py: equal to the dense norms to
  rounding).

  Any other objective (a deep network by autodiff): ell, rho and L_max from its own
  Hessians, reduced to its first layer's row space the same way; G_f and H_f (properties
  of a two-layer f) are NaN.
  """
  norm = problem.constraint.NORM
  with jax.enable_x64(True):
    prob = problem.astype(jnp.float64)
    obj = prob.objective
    if getattr(obj, "RIGOROUS", False):
      return _sampled_two_layer(obj, float(prob.constraint.eps), norm, key, n)
    pts = sample_points(key, n, prob.d, float(prob.constraint.eps), norm)
    H = jax.jit(_reduced(obj.hess, obj.hvp, _problem_basis(prob)))(pts)
    Hn = jnp.linalg.norm(H, ord=2, axis=(1, 2))
    dH = jnp.linalg.norm(H[1:] - H[:-1], ord=2, axis=(1, 2))
    dp = jnp.linalg.norm(pts[1:] - pts[:-1], axis=1)
    vals = jax.vmap(obj.value)(pts)
    nan = float("nan")
    return Sampled(nan, nan, float(jnp.max(Hn)), float(jnp.max(dH / dp)), float(jnp.max(vals)))


def estimate_ell(problem, *, key: jax.Array, n: int = 128) -> float:
  """ell_est: the largest ||hess L||_2 found over the ball, for the ``curvature`` step.

  Searched at n random points, half uniform in the ball and half uniform on
  its sphere (where PGA's endpoints lie), exactly as ``sampled_constants``.
  It is a lower estimate of the true sup: eta = 1/ell_est may exceed
  1/ell, so T1 is not claimed for this rule (the rigorous ell stays for T1),
  but PGA still ascends while eta < 2/ell, and the rule measures the
  landscape rather than the pessimism of the rigorous bound.
  Any ``Problem`` (deep networks included): Hessians by the objective's own ``hess``
  (in W_1's row space above ``REDUCE_ABOVE_D``, as ``sampled_constants``).
  """
  norm = problem.constraint.NORM
  with jax.enable_x64(True):
    prob = problem.astype(jnp.float64)
    pts = sample_points(key, n, prob.d, float(prob.constraint.eps), norm)
    obj = prob.objective
    H = np.asarray(jax.jit(_reduced(obj.hess, obj.hvp, _problem_basis(prob)))(pts))
  return float(np.max(np.linalg.norm(H, ord=2, axis=(1, 2))))


def _problem_basis(problem):
  """``_row_space`` of the first layer where the reduction applies, else None: the
  closed-form two-layer objective (W) and the autodiff MLP (``deep.mlp_forward``, Ws[0]),
  whose inputs enter only through that layer; any other model is left dense (a user's
  function may reach x by another path)."""
  W = problem.objective.first_layer()
  if W is None:
    return None
  return _row_space(W) if problem.d > REDUCE_ABOVE_D and W.shape[0] < problem.d else None


def t1_bound(L_max: float, L0: float, eta, tol_g: float):
  """T1 = 2 (L_max - L(delta_0)) / (eta tol_g^2): a theorem when eta <= 1/ell.

  References:
    Beck. First-Order Methods in Optimization, 2017, Theorem 10.15
    (sufficient increase of the projected gradient step, eta <= 1/L).
  """
  with np.errstate(over="ignore"):  # a bound beyond float64 is reported as inf (null in JSON)
    return 2.0 * (L_max - np.asarray(L0)) / (np.asarray(eta) * tol_g**2)


def t2_bound(ell: float, L_max: float, L0, tol_g: float, d: int, p_fail: float = 0.1):
  """T2 = (ell dL / tol_g^2) chi^4, chi = max(1, log(d ell dL / (tol_g^2 p_fail))).

  A reference scale, not a guarantee: Jin et al.'s absolute constants are set to 1.

  References:
    Jin, Ge, Netrapalli, Kakade, Jordan. How to Escape Saddle Points
    Efficiently. ICML 2017, Theorem 3.
  """
  dL = np.maximum(L_max - np.asarray(L0), np.finfo(np.float64).tiny)
  with np.errstate(over="ignore"):  # a bound beyond float64 is reported as inf (null in JSON)
    chi = np.maximum(1.0, np.log(d * ell * dL / (tol_g**2 * p_fail)))
    return ell * dL / tol_g**2 * chi**4


class Fit(NamedTuple):
  """Least-squares fit log y = slope log x + intercept, with a bootstrap interval."""

  slope: float
  intercept: float
  ci: tuple[float, float]
  n: int


def fit_exponent(xs, ys, *, seed: int = 0, n_boot: int = 1000, level: float = 0.95) -> Fit:
  """Log-log least-squares exponent with a percentile bootstrap interval over points.

  >>> import numpy as np
  >>> xs = np.array([1.0, 2.0, 4.0, 8.0]); fit = fit_exponent(xs, 3 * xs**2)
  >>> round(fit.slope, 6)
  2.0
  """
  lx = np.log(np.asarray(xs, np.float64))
  ly = np.log(np.asarray(ys, np.float64))
  ok = np.isfinite(lx) & np.isfinite(ly)
  lx, ly = lx[ok], ly[ok]
  if lx.size < 2 or np.ptp(lx) == 0:
    return Fit(math.nan, math.nan, (math.nan, math.nan), int(lx.size))
  slope, intercept = np.polyfit(lx, ly, 1)
  rng = np.random.default_rng(seed)
  boots = []
  for _ in range(n_boot):
    i = rng.integers(0, lx.size, lx.size)
    if np.ptp(lx[i]) > 0:
      boots.append(np.polyfit(lx[i], ly[i], 1)[0])
  q = (1 - level) / 2
  lo, hi = np.quantile(boots, [q, 1 - q]) if boots else (math.nan, math.nan)
  return Fit(float(slope), float(intercept), (float(lo), float(hi)), int(lx.size))
