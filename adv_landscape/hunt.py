"""Hunting non-trivial interior critical points on purpose (claim A).

Separate from the certificates: it searches, they classify.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from adv_landscape.config import Tolerances
from adv_landscape.geometry import project_ball, sample_ball
from adv_landscape.losses import Loss, get_loss
from adv_landscape.network import Network
from adv_landscape.problem import AutodiffObjective, LinfBall, Problem, TwoLayerObjective

__all__ = ["Hunt", "hunt_interior_critical"]


class Hunt(NamedTuple):
  """Interior critical points found on purpose (claim A).

  Attributes:
    n_starts: interior starts. found: distinct non-trivial interior critical
      points (zeros of grad f strictly inside the ball; for a K-output head,
      zeros of grad L). trivial: distinct interior points where only the
      loss is stationary (l'(f) = 0 with grad f != 0, e.g. f = y for the
      quadratic loss): global minima of L, reported apart and never counted
      as evidence for claim A. deltas: (found, d). lambda_max, lambda_min:
      (found,) extreme eigenvalues of hess L there. values: (found,) L.
      lprime: (found,) l'(f) (||dl/du|| for a K-output head). interior_max:
      how many of the found points are local maxima (lambda_max < -tol_h).
      tol_g: the tolerance on ||grad f|| used. closest: the smallest
      ||grad f|| / ||grad f(x)|| reached strictly inside the ball (how near
      the search came, when it found nothing).
  """

  n_starts: int
  found: int
  deltas: np.ndarray
  lambda_max: np.ndarray
  interior_max: int
  tol_g: float
  closest: float
  trivial: int = 0
  lambda_min: np.ndarray | None = None
  values: np.ndarray | None = None
  lprime: np.ndarray | None = None


def hunt_interior_critical(net: Network, loss: Loss | str, x, y, *, eps: float,
                           key: jax.Array, n_starts: int = 32, descent_steps: int = 300,
                           newton_steps: int = 30, tol_b: float = Tolerances.tol_b,
                           rtol_g: float = Tolerances.hunt_rtol_g,
                           rtol_h: float = Tolerances.rtol_h, norm: str = "2") -> Hunt:
  """Hunts non-trivial interior critical points of L: zeros of grad f inside the ball.

  grad L = l'(f) grad f vanishes where grad f = 0 (the network's own critical
  points: the only candidates for an interior maximum, since hess L =
  l'(f) hess f there) or where l'(f) = 0 (the loss's own stationary set: for
  a convex loss these are global minima of L, never maxima). Half the starts
  minimise ||grad f||^2 (projected Adam, step 0.01 eps, inside the ball of
  radius 0.999 eps), then take least-squares Newton steps on grad f = 0;
  the other half do the same on ||grad L||^2, and each end point is sorted by
  which factor vanished. For a K-output head the target is grad L itself
  (softmax cross-entropy has no stationary outputs). Only points strictly
  inside the ball count. Ascent from interior starts (PGA from ``ball`` and
  ``zero`` starts) complements this search in the sweep. ``norm="inf"``: the
  same inside the box ||delta||_inf <= eps (starts uniform in 0.95 times the
  box, the search clipped to 0.999 times it).
  """
  loss = get_loss(loss)
  with jax.enable_x64(True):
    problem = Problem.two_layer(net, loss, x, y, eps=eps, dtype=jnp.float64, norm=norm)
  return hunt_interior_critical_problem(problem, key=key, n_starts=n_starts,
                                        descent_steps=descent_steps, newton_steps=newton_steps,
                                        tol_b=tol_b, rtol_g=rtol_g, rtol_h=rtol_h)


def hunt_interior_critical_problem(problem: Problem, *, key: jax.Array, n_starts: int = 32,
                                   descent_steps: int = 300, newton_steps: int = 30,
                                   tol_b: float = Tolerances.tol_b,
                                   rtol_g: float = Tolerances.hunt_rtol_g,
                                   rtol_h: float = Tolerances.rtol_h) -> Hunt:
  """``hunt_interior_critical`` for any ``Problem`` (deep networks by autodiff, either ball)."""
  norm = "inf" if isinstance(problem.constraint, LinfBall) else "2"
  with jax.enable_x64(True):
    problem = problem.astype(jnp.float64)
    obj, eps = problem.objective, float(problem.constraint.eps)
    loss = obj.loss
    zero = jnp.zeros_like(obj.x)
    multi = loss.multi_output
    # grad f = grad of the linear loss -y u at y = -1, so one code path serves both.
    minus_one = jnp.asarray(-1.0, jnp.float64)
    if multi:
      f_obj = obj
    elif isinstance(obj, TwoLayerObjective):
      f_obj = TwoLayerObjective(obj.net, obj.x, minus_one, get_loss("linear"))
    else:
      f_obj = AutodiffObjective(obj.params, obj.x, minus_one, obj.apply, get_loss("linear"))
    gf0 = float(jnp.linalg.norm(f_obj.grad(zero)))
    gL0 = float(jnp.linalg.norm(obj.grad(zero)))
    tol_f = rtol_g * max(gf0, 1e-300)
    box = norm == "inf"
    if box:
      starts = jax.random.uniform(key, (n_starts, zero.shape[0]), jnp.float64, -0.95 * eps,
                                  0.95 * eps)
    else:
      starts = sample_ball(key, n_starts, zero.shape[0], 0.95 * eps, dtype=jnp.float64)
    half = n_starts if multi else n_starts // 2
    parts = [_hunt(f_obj, starts[:half], eps, descent_steps, newton_steps, box)]
    if not multi:
      parts.append(_hunt(obj, starts[half:], eps, descent_steps, newton_steps, box))
    d_end = np.concatenate(parts)
    D = jnp.asarray(d_end)
    gf, _ = (np.asarray(v) for v in _grad_hess(f_obj, D))
    gL, HL = (np.asarray(v) for v in _grad_hess(obj, D))
    vals = np.asarray(jax.vmap(obj.value)(D))
    # l'(f) at each point (f is the value of the linear objective at y = -1)
    lp = (np.zeros(d_end.shape[0]) if multi else
          np.asarray(jax.vmap(lambda u: loss.grad(u, obj.y))(jax.vmap(f_obj.value)(D))))
  gfn, gLn = np.linalg.norm(gf, axis=1), np.linalg.norm(gL, axis=1)
  eig = np.linalg.eigvalsh(HL)
  size = np.abs(d_end).max(axis=1) if norm == "inf" else np.linalg.norm(d_end, axis=1)
  strictly_in = size < eps * (1 - tol_b)
  closest = float(np.min(gfn[strictly_in]) / max(gf0, 1e-300)) if strictly_in.any() else np.inf
  nontrivial = strictly_in & (gfn <= tol_f)
  trivial = strictly_in & ~nontrivial & (gLn <= rtol_g * max(gL0, 1e-300))
  n_trivial = _distinct(d_end[trivial], eps)
  idx = np.flatnonzero(nontrivial)
  if idx.size:  # the same critical point reached from several starts counts once
    idx = idx[_representatives(d_end[idx], eps)]
  lam_max, lam_min = eig[idx, -1], eig[idx, 0]
  tol_h = rtol_h * (np.abs(eig[idx]).max(axis=1) + 1.0) if idx.size else np.zeros(0)
  return Hunt(n_starts, int(idx.size), d_end[idx], lam_max, int(np.sum(lam_max < -tol_h)),
              tol_f, closest, n_trivial, lam_min, vals[idx], lp[idx])


def _representatives(pts, eps):
  """Indices of one point per cluster of radius 1e-6 eps (greedy, in order)."""
  reps: list[int] = []
  for i in range(pts.shape[0]):
    if not reps or np.min(np.sum((pts[reps] - pts[i]) ** 2, axis=1)) > (1e-6 * eps) ** 2:
      reps.append(i)
  return np.asarray(reps, np.int64)


def _distinct(pts, eps) -> int:
  """Distinct points up to 1e-6 eps; trivial minima form manifolds, so this
  counts the points reached, not the components."""
  return int(_representatives(pts, eps).size) if pts.shape[0] else 0


@partial(jax.jit, static_argnames=("descent_steps", "box"))
def _descend(obj, starts, eps, descent_steps, box=False):
  """Adam on ||grad L||^2 from each start (pure JAX, no LAPACK calls)."""

  def phi(delta):
    g = obj.grad(delta)
    return jnp.dot(g, g)

  def one(delta):
    opt = optax.adam(0.01 * eps)

    def descend(carry, _):  # projected: the search stays strictly inside the ball
      dl, st = carry
      upd, st = opt.update(jax.grad(phi)(dl), st)
      new = optax.apply_updates(dl, upd)
      new = (jnp.clip(new, -0.999 * eps, 0.999 * eps) if box
             else project_ball(new, 0.999 * eps))
      return (new, st), None

    (dl, _), _ = jax.lax.scan(descend, (delta, opt.init(delta)), None, length=descent_steps)
    return dl

  return jax.vmap(one)(starts)


@jax.jit
def _grad_hess(obj, deltas):
  return jax.vmap(obj.grad)(deltas), jax.vmap(obj.hess)(deltas)


def _hunt(obj, starts, eps, descent_steps, newton_steps, box=False):
  """Descent on ||grad L||^2, then least-squares Newton steps on grad L = 0 (host pinv)."""
  if starts.shape[0] == 0:
    return np.zeros((0, obj.x.shape[0]))
  dl = np.asarray(_descend(obj, starts, eps, descent_steps, box))
  for _ in range(newton_steps):
    g, H = (np.asarray(v) for v in _grad_hess(obj, jnp.asarray(dl)))
    dl = dl - np.einsum("bij,bj->bi", np.linalg.pinv(H, rcond=1e-13, hermitian=True), g)
  return dl
