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

Floating point: lambda_T and lambda_max come from LAPACK's eigvalsh in
float64, whose computed eigenvalues are exact for a matrix within
||E||_2 <= p(d) u ||M||_2 of M (Golub and Van Loan, 4th ed., section 8.4); the
check adds 10 d u ||M||_F to them. This is a floating-point argument with a
stated margin, not interval arithmetic.

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

from adv_landscape.bounds import instance_constants
from adv_landscape.geometry import householder
from adv_landscape.losses import Loss, get_loss
from adv_landscape.network import Network
from adv_landscape.problem import Problem

__all__ = ["Proof", "prove_maximum", "prove_maxima", "distance"]

_U = np.finfo(np.float64).eps / 2  # unit roundoff


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
      1e-6 eps up to ``unique_ball``, each as (r, kappa'(r), ell_r):
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
  """(G_r, ell_r, rho_r) on the Euclidean r-ball around x + delta0 (rigorous)."""
  with jax.enable_x64(True):  # the constants are float64 whatever the caller's setting
    c = instance_constants(net, loss, np.asarray(x, np.float64) + delta0, y, r)
  return c.F * c.G_f, c.ell, c.rho  # ||grad L|| <= sup|l'| ||grad f||


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
    obj = Problem.two_layer(net, loss, x, y, eps=eps, dtype=jnp.float64).objective

    def local(dl):
      g = np.asarray(obj.grad(jnp.asarray(dl)))
      H = np.asarray(obj.hess(jnp.asarray(dl)))
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
  moved = _distance(d0, p, eps, on) + shift
  pr = (_prove_sphere if on else _prove_interior)(net, loss, x, y, p, g, H, eps, grid)
  if math.isfinite(pr.radius):
    pr = pr._replace(radius=pr.radius + moved, centre=p)
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


def _prove_sphere(net, loss, x, y, d0, g, H, eps, grid) -> Proof:
  d = d0.shape[0]
  u = d0 / eps
  mu0 = float(d0 @ g) / eps**2
  gn = float(np.linalg.norm(g - (u @ g) * u))
  Q = np.asarray(householder(jnp.asarray(u)))
  M = (Q @ (H - mu0 * np.eye(d)) @ Q)[1:, 1:]
  M = 0.5 * (M + M.T)
  lam = float(np.linalg.eigvalsh(M)[-1]) + 10 * d * _U * float(np.linalg.norm(M))
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
    kappa = -(lam + r * slope + (r / eps) ** 2 * (abs(lam + mu0) + ell_r))
    if kappa > 0 and gn < kappa * r:
      radius = gn / kappa
      if mu0 - radius * (G_r + eps * ell_r) / eps**2 > 0:  # mu > 0 at the true maximum
        return kappa, radius, ell_r
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
      concave = [(r, ok[0], ok[2])]
      # Upwards in doublings from the first of them at or above 1e-6 eps: below it
      # kappa'(r) is lambda_T's to many digits, and every ball on which the conditions
      # hold is a valid unique ball, so the radii skipped cost nothing but evaluations.
      jump = r * 2.0 ** max(0, math.ceil(math.log2(1e-6 * eps / r)))
      step = max(jump, 2.0 * r)
      while step <= eps and (wider := holds(step)):
        big, at_big = step, wider
        concave.append((big, wider[0], wider[2]))
        step = 2.0 * big
      return Proof(ok[1], r, ok[0], lam, gn, "boundary", "", unique_ball=big,
                   unique_kappa=at_big[0], unique_ell=at_big[2], concave=tuple(concave))
    r *= 2.0
  return _fail("boundary", lam, gn, "no ball radius r <= eps with ||rgrad|| < kappa'(r) r")


def _prove_interior(net, loss, x, y, d0, g, H, eps, grid) -> Proof:
  d = d0.shape[0]
  nrm = float(np.linalg.norm(d0))
  gn = float(np.linalg.norm(g))
  lam = float(np.linalg.eigvalsh(H)[-1]) + 10 * d * _U * float(np.linalg.norm(H))
  if not lam < 0:
    return _fail("interior", lam, gn, "lambda_max(hess L) is not negative")

  def holds(r):
    _, _, rho_r = _constants(net, loss, x, d0, y, r)
    if not math.isfinite(rho_r):
      return None
    kappa = -(lam + rho_r * r)
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


def prove_maxima(net: Network, loss: Loss | str, x, y, deltas, *, eps: float,
                 tol_b: float = 1e-6) -> list[Proof]:
  """``prove_maximum`` for each row of deltas (one per distinct maximum)."""
  return [prove_maximum(net, loss, x, y, dl, eps=eps, tol_b=tol_b)
          for dl in np.asarray(deltas, np.float64)]
