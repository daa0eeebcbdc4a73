"""Proof radii: a rigorous local argument that a true strict local maximum lies near
a certified endpoint (issue 9, item 6).

A certificate says that an endpoint is an *approximate* second-order point:
the gradient is small, not zero. ``prove_maximum`` turns that into a statement
about an exact maximiser, by strong concavity on a small ball.

On the sphere S of radius eps, let B_r be the geodesic ball of radius r
(r <= eps < pi eps / 2, so B_r is geodesically convex) around the endpoint
delta0. If the Riemannian Hessian satisfies Hess_S L <= -kappa' < 0 on all of
B_r, then L is kappa'-strongly geodesically concave there, and if
||rgrad L(delta0)|| < kappa' r, L has a unique maximiser delta* on B_r, in its
interior, at geodesic distance at most ||rgrad L(delta0)|| / kappa' from
delta0. Proof: along the unit-speed geodesic gamma from delta0 to any point of
B_r, phi = L o gamma has phi'' <= -kappa', so phi'(t) <= ||rgrad|| - kappa' t;
a maximiser on the boundary (t = r) would need phi'(r) >= 0, which fails when
||rgrad|| < kappa' r; at the interior maximiser phi'(t*) = 0 gives
t* <= ||rgrad|| / kappa'. delta* has rgrad = 0 and a negative definite Hess_S,
and with mu(delta*) > 0 it satisfies the second-order sufficient conditions of
the ball problem, so it is a strict local maximum of L on the ball.

The Hessian bound on B_r (derived here; docs/theory.md section 4). For v
a unit tangent vector at delta in B_r, t = ||delta - delta0|| <= r (chord <=
arc), c = <u0, v> with |c| <= t / eps, and the constants below taken on the
Euclidean r-ball around x + delta0 (``bounds.instance_constants`` with that
centre and radius: per-neuron reachable ranges, rigorous):
  Hess_S L(delta)[v, v] <= lambda_T(delta0)
      + t (rho_r + (G_r + eps ell_r) / eps^2 + 2 ell_r / eps)
      + (t / eps)^2 (|lambda_T + mu0| + ell_r),
with rho_r the Lipschitz constant of hess L, ell_r a bound on ||hess L|| and
G_r on ||grad L|| there (|mu(delta) - mu0| <= t (G_r + eps ell_r) / eps^2).
kappa'(r) is minus the right-hand side at t = r; r is chosen on a geometric
grid as the smallest value for which ||rgrad|| < kappa'(r) r.

Interior maxima use the Euclidean version: hess L <= lambda_max(hess L(delta0))
+ rho_r r on the ball of radius r around delta0, which must lie inside the
perturbation ball (||delta0|| + r < eps).

Polish: before the argument, up to ``polish`` Riemannian Newton steps (dense,
float64) move the endpoint to a point p with a far smaller gradient; the
argument is made at p, and the radius reported for the endpoint is
radius(p) + dist(endpoint, p) (triangle inequality; geodesic distance on the
sphere, Euclidean inside). The polish is kept only where it lowers the
gradient norm and stays on the same side (sphere or interior).

Floating point (``rounding_bounds``; docs/theory.md section 4). Every
float64 quantity the argument uses carries a stated error bound, so the radius
is an upper bound on the true distance, rounding included:
- the gradient at p: ||fl(grad L) - grad L|| <= E_g, from the standard model
  |fl(x . y) - x . y| <= gamma_n |x| . |y| (Higham, Accuracy and Stability of
  Numerical Algorithms, 2nd ed., Theorem 3.1; any summation order, blocked BLAS
  and FMA included) applied to each product of the closed form, with the
  activation's and the loss's library functions assumed accurate to
  ``ULPS`` units in the last place; the projection onto the tangent space adds
  gamma_{d+4} 2 ||g||;
- p itself is only within gamma_{d+2} eps of the sphere: the argument is made
  at its exact projection p*, which moves the gradient by at most ell_r times
  that distance and the radius by that distance;
- the Hessian's assembly ||fl(hess L) - hess L||_2 <= E_H (the same model,
  summed over the rank-one terms), the Householder rotation
  (8 (d + 2) u ||H||_F, Higham section 19.3) and eigvalsh (10 d u ||M||_F;
  Golub and Van Loan, 4th ed., section 8.4) are added to lambda;
- the rigorous constants (norms from an SVD or eigvalsh) are inflated by
  1 + 16 (m + d) u, kappa' is lowered by 16 u times the sum of its terms'
  magnitudes, and the final sum is rounded up by a factor 1 + 16 u.
This is a floating-point argument with stated margins, not interval arithmetic.

References:
  Absil, Mahony, Sepulchre. Optimization Algorithms on Matrix Manifolds, 2008,
  eq. (5.38) (the Riemannian Hessian of the sphere). Boumal. An Introduction
  to Optimization on Smooth Manifolds, 2023, section 11.6 (geodesic strong
  convexity) and Proposition 11.8 (second-order characterisation).
  Nocedal, Wright. Numerical Optimization, 2nd ed., 2006, Theorem 12.6
  (second-order sufficient conditions).

>>> import jax, numpy as np
>>> from adv_landscape.network import init_network, synthetic_input
>>> net = init_network(jax.random.key(0), d=3, m=1, activation="linear")
>>> x = synthetic_input(jax.random.key(1), 3, 1.0)
>>> g = np.asarray(net.W, np.float64).T @ np.asarray(net.a, np.float64)
>>> top = g / np.linalg.norm(g)  # the exact maximum of the linear objective g . delta
>>> p = top + 1e-7 * np.array([1.0, -1.0, 0.5]); p /= np.linalg.norm(p)  # near it, on S
>>> pr = prove_maximum(net, "linear", x, -1.0, p, eps=1.0)
>>> bool(np.linalg.norm(p - top) <= pr.radius < 1e-6)
True
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from adv_landscape import objective as closed_form
from adv_landscape.bounds import instance_constants
from adv_landscape.geometry import householder
from adv_landscape.losses import Loss, get_loss
from adv_landscape.network import Network, validate_problem

__all__ = ["Proof", "Rounding", "prove_endpoint", "prove_maximum", "prove_maxima", "distance",
           "rounding_bounds"]

_U = np.finfo(np.float64).eps / 2  # unit roundoff
ULPS = 64  # assumed accuracy of the library's tanh, exp, log, erf, ... (a few ulps in practice)


def _gamma(n: int) -> float:
  """gamma_n = n u / (1 - n u), the relative error bound of an n-term inner product."""
  return n * _U / (1.0 - n * _U)


class Rounding(NamedTuple):
  """Bounds on the float64 rounding of the closed-form derivatives at one point.

  Attributes:
    grad: a bound on ||fl(grad L) - grad L||_2.
    hess: a bound on ||fl(hess L) - hess L||_2 (through the Frobenius norm).
  """

  grad: float
  hess: float


def rounding_bounds(net: Network, loss: Loss | str, x, y, delta, *,
                    radius: float = 0.0) -> Rounding:
  """Bounds on the rounding errors of the closed-form gradient and Hessian of L at delta
  (or, with ``radius`` > 0, at every point within that Euclidean distance of delta).

  First-order propagation of the standard model through each product of
  grad L = W^T (alpha * sigma'(pre)), alpha = a l'(f), and hess L = l'' grad f
  grad f^T + W^T diag(alpha * sigma''(pre)) W, pre = W (x + delta) + b, with
  elementwise magnitudes (docs/theory.md section 4); the result is doubled to
  cover the second-order terms and the order in which the code multiplies. Every
  term grows with |z|, |sigma^(k)(pre)|, |l'|, |l''|, so over a ball each is replaced
  by its bound there (|z_i| + radius, |sigma^(k)| + c_{k+1} radius ||w_r||, ...).

  >>> import jax, numpy as np
  >>> from adv_landscape.network import init_network
  >>> net = init_network(jax.random.key(0), d=5, m=7)
  >>> r = rounding_bounds(net, "quadratic", np.ones(5), 1.0, np.zeros(5))
  >>> bool(0 < r.grad < 1e-12 and 0 < r.hess < 1e-12)
  True
  """
  loss = get_loss(loss)
  W, b = np.asarray(net.W, np.float64), np.asarray(net.b, np.float64)
  a = np.asarray(net.a, np.float64)
  m, d = W.shape
  z = np.asarray(x, np.float64) + np.asarray(delta, np.float64)
  Wa = np.abs(W)
  pre = W @ z + b
  wr = radius * np.sqrt(np.sum(W * W, axis=1))  # how far each pre-activation moves
  e_pre = _gamma(d + 2) * (Wa @ (np.abs(z) + radius) + np.abs(b))
  reach = np.abs(pre) + wr + e_pre
  act = net.act
  c1, c2, c3 = (act.sup_abs(k, reach) for k in (1, 2, 3))
  a2 = a.reshape(m, -1)
  aa = np.abs(a2)
  with jax.enable_x64(True):
    s0, s1, s2 = (np.abs(np.asarray(fn(jnp.asarray(pre)), np.float64)) + c * wr
                  for fn, c in ((act.fn, c1), (act.d1, c2), (act.d2, c3)))
    u = np.asarray(np.asarray(act.fn(jnp.asarray(pre)), np.float64) @ a)  # the output(s)
    du = aa.T @ (c1 * wr)  # how far each output moves over the ball
    yy = jnp.asarray(y, jnp.int32 if loss.multi_output else jnp.float64)
    lp = np.abs(np.atleast_1d(np.asarray(loss.grad(jnp.asarray(u), yy), np.float64)))
    lpp = np.abs(np.asarray(loss.hess(jnp.asarray(u), yy), np.float64))
  lo, hi = ((None, None) if loss.multi_output else
            (float(u) - float(du[0]) - 1.0, float(u) + float(du[0]) + 1.0))
  l1s, l2s, l3s = loss.sups(lo, hi, y)  # over the outputs the ball reaches, and then some
  if radius > 0:  # |l'| and |l''| there
    lp = np.minimum(lp + l2s * du, l1s) if math.isfinite(l2s) else np.full_like(lp, l1s)
    lpp = np.maximum(lpp, l2s)
    u = np.abs(u) + du
  e1 = c2 * e_pre + ULPS * _U * c1  # |error of sigma'(pre)|, per unit
  e2 = c3 * e_pre + ULPS * _U * c2
  e_f = _gamma(m) * (aa.T @ np.abs(s0)) + aa.T @ (c1 * e_pre + ULPS * _U * np.abs(s0))
  l2 = float(np.max(np.abs(lpp)))  # |l''| (scalar), or a bound on the K x K block's entries
  k = lp.shape[0]
  e_lp = k * l2 * e_f + ULPS * _U * (np.abs(lp) + np.abs(u) + abs(float(np.max(np.abs(y)))))
  alpha = aa @ lp  # (m,): a bound on |a l'|, the output weights times l'
  e_alpha = _gamma(k + 1) * (aa @ np.abs(lp)) + aa @ e_lp
  v = np.abs(alpha * s1)
  E_g = (_gamma(m + 2) * (Wa.T @ v) + Wa.T @ (e_alpha * np.abs(s1) + np.abs(alpha) * e1))
  # Hessian: the Gauss-Newton part l'' J^T J (J: K x d, |J| <= |W|^T (|a| |s1|)) ...
  J = Wa.T @ (aa * np.abs(s1)[:, None])  # (d, K)
  E_J = _gamma(m + 2) * J + Wa.T @ (aa * e1[:, None])
  nJ, nEJ = float(np.linalg.norm(J)), float(np.linalg.norm(E_J))
  # An infinite |l'''| (Huber) has no Lipschitz Hessian: its proof fails on rho = inf
  # before this bound is used.
  e_lpp = ULPS * _U * l2 + float(np.max(e_f)) * (l3s if math.isfinite(l3s) else 0.0)
  E_gn = k * (l2 * (2 * nJ * nEJ + _gamma(k + 2) * nJ**2) + e_lpp * nJ**2)
  # ... and W^T diag(alpha sigma'') W, by ||B^T diag(c) B||_F <= sum_r c_r ||b_r||^2.
  wn2 = np.sum(W * W, axis=1)
  E_c = float(np.sum((_gamma(m + 4) * np.abs(alpha * s2) + e_alpha * np.abs(s2)
                      + np.abs(alpha) * e2) * wn2))
  return Rounding(2.0 * float(np.linalg.norm(E_g)), 2.0 * (E_gn + E_c))


class Proof(NamedTuple):
  """The outcome of one proof attempt.

  Attributes:
    radius: a true strict local maximum lies within this distance of the
      endpoint (geodesic on the sphere, Euclidean inside); NaN where the
      argument does not go through (then ``reason`` says why).
    ball: the radius r of the ball on which strong concavity was shown.
    kappa: the concavity modulus kappa' on that ball.
    lambda_top: lambda_T (sphere) or lambda_max(hess L) (interior) at the
      endpoint, with the eigenvalue margin added.
    grad_norm: ||rgrad L|| (sphere) or ||grad L|| (interior) at the endpoint.
    kind: "boundary" or "interior".
    reason: "" when proved, else a short sentence.
    centre: (d,) the polished point p the argument was made at.
    unique_ball: the largest radius on the grid for which the conditions
      still hold around p: L has exactly one critical point (its maximiser)
      in that ball, so any other proved maximum inside it is this one.
    unique_kappa: the concavity modulus on the unique ball: there,
      Hess_S L <= -unique_kappa (sphere; hess L inside), a bound that any
      point of the ball inherits (``certify.ConcaveBall``).
    unique_ell: a bound on ||hess L|| over the unique ball.
    concave: (sphere) ``ball``, then doublings from the first at or above
      1e-6 eps up to ``unique_ball``, each as (r, kappa'(r), ell_r, e_r), e_r a bound
      on the rounding of ||rgrad L|| computed at any point of the ball:
      Hess_S L <= -kappa'(r) on the geodesic ball of radius r around p, which
      holds the maximiser. Smaller balls carry larger kappa', so an endpoint
      near p inherits a tighter bound and radius (``certify.ConcaveBall``).
  """

  radius: float
  ball: float
  kappa: float
  lambda_top: float
  grad_norm: float
  kind: str
  reason: str
  centre: np.ndarray | None = None
  unique_ball: float = math.nan
  unique_kappa: float = math.nan
  unique_ell: float = math.nan
  concave: tuple = ()


def _constants(net, loss, x, delta0, y, r):
  """(G_r, ell_r, rho_r) on the Euclidean r-ball around x + delta0 (rigorous), inflated by
  1 + 16 (m + d) u for the rounding of the norms they are made of."""
  with jax.enable_x64(True):  # the constants are float64 whatever the caller's setting
    c = instance_constants(net, loss, np.asarray(x, np.float64) + delta0, y, r)
  up = 1.0 + 16 * (net.W.shape[0] + net.W.shape[1]) * _U
  return up * c.F * c.G_f, up * c.ell, up * c.rho  # ||grad L|| <= sup|l'| ||grad f||


def _fail(kind, lam, gn, reason):
  return Proof(math.nan, math.nan, math.nan, float(lam), float(gn), kind, reason)


def prove_maximum(net: Network, loss: Loss | str, x, y, delta0, *, eps: float,
                  tol_b: float = 1e-6, grid: int = 60, polish: int = 6) -> Proof:
  """Tries to prove that a strict local maximum of L on the ball lies near delta0.

  Args:
    net, loss, x, y: the instance. delta0: (d,) an endpoint.
    eps: the ball's radius. tol_b: relative distance to the sphere below
      which delta0 is treated as on it (it is then scaled onto it exactly;
      the shift, below tol_b eps, is added to the radius).
    grid: how many ball radii r to try (a geometric grid, ratio 2).
    polish: Riemannian (or, inside, Euclidean) Newton steps before the proof.

  Returns:
    a ``Proof``; ``radius`` is NaN where the argument fails.
  """
  loss = get_loss(loss)
  if loss.sups is None:
    return _fail("boundary", math.nan, math.nan,
                 "a user loss has no derivative bounds, so no Lipschitz constant")
  if not net.act.smooth:
    return _fail("boundary", math.nan, math.nan, "ReLU has no Hessian")
  d0 = np.asarray(delta0, np.float64)
  nrm = float(np.linalg.norm(d0))
  on = abs(nrm / eps - 1.0) <= tol_b
  shift = abs(nrm - eps) if on else 0.0
  if on:
    d0 = d0 * (eps / nrm)  # the proof is about the sphere
  with jax.enable_x64(True):
    validate_problem(net, x, eps, y, loss=loss)
    n64, x64 = net.astype(jnp.float64), jnp.asarray(x, jnp.float64)
    y64 = jnp.asarray(y, jnp.int32 if loss.multi_output else jnp.float64)

    def local(dl):
      g = np.asarray(closed_form.grad(n64, loss, x64, y64, jnp.asarray(dl)))
      H = np.asarray(closed_form.hess(n64, loss, x64, y64, jnp.asarray(dl)))
      return g, 0.5 * (H + H.T)

    p, g, H = d0, *local(d0)
    gn = _grad_norm(p, g, eps, on)
    for _ in range(polish):
      step = _newton(p, g, H, eps, on)
      if step is None:
        break
      q = p + step
      q = q * (eps / np.linalg.norm(q)) if on else q
      if not on and np.linalg.norm(q) >= eps * (1 - tol_b):
        break
      gq, Hq = local(q)
      gnq = _grad_norm(q, gq, eps, on)
      if not gnq < gn:
        break
      p, g, H, gn = q, gq, Hq, gnq
  d = d0.shape[0]
  moved = _distance(d0, p, eps, on) + shift
  rb = rounding_bounds(net, loss, x, y, p)
  # p is on the sphere to rounding only: the argument is about its exact projection p*,
  # within off = gamma_{d+2} eps of p; the distances carry gamma_{d+8} and the scaling of
  # both points onto the sphere.
  off = _gamma(d + 2) * eps if on else 0.0
  slack = Rounding(rb.grad + _gamma(d + 4) * 2.0 * float(np.linalg.norm(g)),
                   rb.hess + 8 * (d + 2) * _U * (float(np.linalg.norm(H))
                                                  + math.sqrt(d) * abs(float(p @ g)) / eps**2))
  pr = (_prove_sphere if on else _prove_interior)(net, loss, x, y, p, g, H, eps, grid, slack,
                                                  off)
  if math.isfinite(pr.radius):
    e_moved = _gamma(d + 8) * moved + 2.0 * off + off
    pr = pr._replace(radius=(pr.radius + moved + e_moved) * (1.0 + 16 * _U), centre=p)
  return pr


def _grad_norm(p, g, eps, on) -> float:
  if not on:
    return float(np.linalg.norm(g))
  u = p / eps
  return float(np.linalg.norm(g - (u @ g) * u))


def _newton(p, g, H, eps, on):
  """A Newton step in the tangent space (sphere) or in R^d (interior); None if singular."""
  d = p.shape[0]
  try:
    if not on:
      return -np.linalg.solve(H, g)
    u = p / eps
    Q = np.asarray(householder(jnp.asarray(u)))[:, 1:]  # an orthonormal tangent basis
    mu = float(p @ g) / eps**2
    M = Q.T @ (H - mu * np.eye(d)) @ Q
    return Q @ np.linalg.solve(M, -(Q.T @ g))
  except np.linalg.LinAlgError:
    return None


def distance(a, b, eps, on_sphere: bool) -> float:
  """Geodesic distance on the sphere of radius eps, or Euclidean distance."""
  return _distance(np.asarray(a, np.float64), np.asarray(b, np.float64), eps, on_sphere)


def _distance(a, b, eps, on) -> float:
  if not on:
    return float(np.linalg.norm(a - b))
  # Geodesic between the points scaled onto the sphere (endpoints sit within tol_b eps
  # of it; a proof's radius is about the scaled endpoint, with that shift added).
  a, b = a * (eps / np.linalg.norm(a)), b * (eps / np.linalg.norm(b))
  chord = float(np.linalg.norm(a - b))
  return 2.0 * eps * math.asin(min(1.0, chord / (2.0 * eps)))


def _prove_sphere(net, loss, x, y, d0, g, H, eps, grid, slack, off) -> Proof:
  d = d0.shape[0]
  u = d0 / eps
  mu0 = float(d0 @ g) / eps**2
  gn = float(np.linalg.norm(g - (u @ g) * u)) + slack.grad  # rounding included
  mu0 -= (slack.grad * eps + _gamma(d + 2) * eps * float(np.linalg.norm(g))) / eps**2
  Q = np.asarray(householder(jnp.asarray(u)))
  M = (Q @ (H - mu0 * np.eye(d)) @ Q)[1:, 1:]
  M = 0.5 * (M + M.T)
  lam = (float(np.linalg.eigvalsh(M)[-1]) + 10 * d * _U * float(np.linalg.norm(M))
         + slack.hess)
  if mu0 <= 0:
    return _fail("boundary", lam, gn, "mu <= 0: not a KKT point of the ball problem")
  if not lam < 0:
    return _fail("boundary", lam, gn, "lambda_T is not negative")

  def holds(r):
    """(kappa', mu margin) when the conditions hold on the geodesic ball of radius r."""
    G_r, ell_r, rho_r = _constants(net, loss, x, d0, y, r)
    if not math.isfinite(rho_r):
      return None
    slope = rho_r + (G_r + eps * ell_r) / eps**2 + 2.0 * ell_r / eps
    terms = (lam, r * slope, (r / eps) ** 2 * (abs(lam + mu0) + ell_r))
    kappa = -sum(terms) - 16 * _U * sum(abs(t) for t in terms)
    gr = gn + ell_r * off  # the gradient at p*, the exact point of the sphere near p
    if kappa > 0 and gr < kappa * r:
      radius = gr / kappa
      if mu0 - radius * (G_r + eps * ell_r) / eps**2 > 0:  # mu > 0 at the true maximum
        # The rounding of ||rgrad L|| computed anywhere in the ball (for the endpoints that
        # inherit this ball's bound: certify.ConcaveBall.grad_rounding).
        e_ball = (rounding_bounds(net, loss, x, y, d0, radius=r).grad
                  + _gamma(d + 4) * 2.0 * G_r + ell_r * off)
        return kappa, radius, ell_r, e_ball
    return False

  r = max(2.0 * gn / -lam, 1e-14 * eps)
  for _ in range(grid):
    if r > eps:
      break
    ok = holds(r)
    if ok is None:
      return _fail("boundary", lam, gn, "hess L is not Lipschitz (rho = inf)")
    if ok:
      big, at_big = r, ok
      concave = [(r, ok[0], ok[2], ok[3])]
      # Upwards in doublings from the first of them at or above 1e-6 eps: below it
      # kappa'(r) is lambda_T's to many digits, and every ball on which the conditions
      # hold is a valid unique ball, so the radii skipped cost nothing but evaluations.
      jump = r * 2.0 ** max(0, math.ceil(math.log2(1e-6 * eps / r)))
      step = max(jump, 2.0 * r)
      while step <= eps and (wider := holds(step)):
        big, at_big = step, wider
        concave.append((big, wider[0], wider[2], wider[3]))
        step = 2.0 * big
      return Proof(ok[1], r, ok[0], lam, gn, "boundary", "", unique_ball=big,
                   unique_kappa=at_big[0], unique_ell=at_big[2], concave=tuple(concave))
    r *= 2.0
  return _fail("boundary", lam, gn, "no ball radius r <= eps with ||rgrad|| < kappa'(r) r")


def _prove_interior(net, loss, x, y, d0, g, H, eps, grid, slack, off) -> Proof:
  d = d0.shape[0]
  nrm = float(np.linalg.norm(d0)) * (1.0 + _gamma(d + 1))
  gn = float(np.linalg.norm(g)) + slack.grad
  lam = (float(np.linalg.eigvalsh(H)[-1]) + 10 * d * _U * float(np.linalg.norm(H))
         + slack.hess)
  if not lam < 0:
    return _fail("interior", lam, gn, "lambda_max(hess L) is not negative")

  def holds(r):
    _, _, rho_r = _constants(net, loss, x, d0, y, r)
    if not math.isfinite(rho_r):
      return None
    kappa = -(lam + rho_r * r) - 16 * _U * (abs(lam) + rho_r * r)
    return (kappa, gn / kappa) if kappa > 0 and gn < kappa * r else False

  r = max(2.0 * gn / -lam, 1e-14 * eps)
  for _ in range(grid):
    if nrm + r >= eps:
      break
    ok = holds(r)
    if ok is None:
      return _fail("interior", lam, gn, "hess L is not Lipschitz (rho = inf)")
    if ok:
      big = r
      while nrm + 2.0 * big < eps and holds(2.0 * big):
        big *= 2.0
      return Proof(ok[1], r, ok[0], lam, gn, "interior", "", unique_ball=big)
    r *= 2.0
  return _fail("interior", lam, gn, "no ball inside the perturbation ball with "
               "||grad L|| < kappa(r) r")


def prove_endpoint(problem, delta0, *, tol_b: float = 1e-6) -> Proof:
  """``prove_maximum`` on a ``Problem``: its objective's arrays and its ball's radius. The
  proof reads the two-layer closed forms and rigorous constants, so it exists where the
  objective is ``RIGOROUS`` and the set is the l2 ball; elsewhere the ``Proof`` says why
  not (``reason``) with a NaN radius."""
  obj = problem.objective
  if not obj.RIGOROUS or problem.constraint.NORM != "2":
    return _fail("boundary", math.nan, math.nan,
                 "the sphere's proof needs a two-layer network's closed forms on the l2 ball")
  return prove_maximum(obj.net, obj.loss, obj.x, obj.y, delta0,
                       eps=float(problem.constraint.eps), tol_b=tol_b)


def prove_maxima(net: Network, loss: Loss | str, x, y, deltas, *, eps: float,
                 tol_b: float = 1e-6) -> list[Proof]:
  """``prove_maximum`` for each row of deltas (one per distinct maximum)."""
  return [prove_maximum(net, loss, x, y, dl, eps=eps, tol_b=tol_b)
          for dl in np.asarray(deltas, np.float64)]
