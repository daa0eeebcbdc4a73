"""Hunting non-trivial interior critical points on purpose (claim A).

Separate from the certificates: it searches, they classify. The search stays
inside the ball: starts uniform in the search ball (radius (1 - SHELL) eps),
projected Adam on ||grad f||^2, then Levenberg-Marquardt steps on grad f = 0,
each projected back and accepted only when it lowers ||grad f||. A point that
ends on the search ball's surface was pushed there (no zero of grad f in its
way) and is not a candidate; a point that ends strictly inside it is one, and
is classified by its gradient and Hessian. ``detection_limit`` says what
"nothing found" means: the smallest basin (as a fraction of the ball's
volume) that N uniform starts would have hit with 95% probability.
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
from adv_landscape.losses import get_loss
from adv_landscape.problem import Problem

__all__ = ["Hunt", "hunt_interior_critical", "detection_limit", "SHELL"]

SHELL = 1e-4  # the search ball has radius (1 - SHELL) eps: its shell holds d * 1e-4 of the volume
PINNED = 1e-7  # a point within PINNED (1 - SHELL) eps of the search ball's surface is pinned there
SAME = 1e-6  # two critical points within SAME eps count as one (and one basin)


class Hunt(NamedTuple):
  """Interior critical points found on purpose (claim A).

  Attributes:
    n_starts: starts in all. found: distinct non-trivial interior critical
      points (zeros of grad f strictly inside the ball; for a K-output head,
      zeros of grad L). trivial: distinct interior points where only the
      loss is stationary (l'(f) = 0 with grad f != 0, e.g. f = y for the
      quadratic loss): global minima of L, reported apart and never counted
      as evidence for claim A. deltas: (found, d). lambda_max, lambda_min:
      (found,) extreme eigenvalues of hess L there. values: (found,) L.
      lprime: (found,) l'(f) (||dl/du|| for a K-output head). interior_max:
      how many of the found points are local maxima (lambda_max < -tol_h).
      tol_g: the tolerance on ||grad f|| used. closest: the smallest
      ||grad f|| / ||grad f(x)|| over the candidates of the grad f search
      (inf when none ended inside). f_starts: starts of the grad f search
      (uniform in the ball; the detection limit is computed from them).
      candidates_inside: how many of them ended strictly inside the search
      ball (the rest were pushed onto its surface). candidate_lambda: (lo, hi),
      the smallest lambda_min and largest lambda_max of hess L over those
      candidates (None when there are none). detection_limit: the smallest
      basin, as a fraction of the ball's volume, that f_starts uniform starts
      hit with probability 0.95. tol_h: (found,) the Hessian tolerance at each
      found point (``rtol_h`` times its eigenvalue scale). basins: (found,) the
      fraction of the grad f search's starts that ended at each found point (an
      estimate of its basin under the hunt, as a fraction of the ball's volume).
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
  f_starts: int = 0
  candidates_inside: int = 0
  candidate_lambda: tuple | None = None
  detection_limit: float = 1.0
  tol_h: np.ndarray | None = None
  basins: np.ndarray | None = None

  def to_json(self) -> dict:
    """The record of a sweep point and of ``adv-landscape hunt --json``."""
    tol_h = self.tol_h if self.tol_h is not None else np.zeros(self.found)
    is_max = self.lambda_max < -tol_h
    return {
        "n_starts": self.n_starts, "f_starts": self.f_starts,
        "candidates_inside": self.candidates_inside,
        "nontrivial_critical": self.found, "found": self.found,
        "trivial_minima": self.trivial, "interior_max": self.interior_max,
        "min_lambda_max": float(self.lambda_max.min()) if self.found else None,
        "candidate_lambda": (list(self.candidate_lambda) if self.candidate_lambda is not None
                             else None),
        "tol_g": self.tol_g, "closest_relative_grad_f_norm": self.closest,
        "detection_limit": self.detection_limit,
        "interior_maxima": [{"delta": self.deltas[i].tolist(), "value": float(self.values[i]),
                             "lambda_max": float(self.lambda_max[i]),
                             "basin": (float(self.basins[i]) if self.basins is not None
                                       else None)}
                            for i in np.flatnonzero(is_max)],
        "points": [{"L": float(v), "lprime": float(lp), "lambda_min": float(lo),
                    "lambda_max": float(hi)} for v, lp, lo, hi in zip(
                        self.values[:20], self.lprime[:20], self.lambda_min[:20],
                        self.lambda_max[:20])],
    }


def detection_limit(n: int, power: float = 0.95) -> float:
  """The smallest basin fraction p that n independent uniform starts hit with probability
  ``power``: 1 - (1 - p)^n = power, p = 1 - (1 - power)^(1/n) (about 3/n)."""
  if n <= 0:
    return 1.0
  return float(-np.expm1(np.log1p(-power) / n))


def hunt_interior_critical(problem: Problem, *, key: jax.Array, n_starts: int = 64,
                           descent_steps: int = 300, newton_steps: int = 40,
                           rtol_g: float = Tolerances.hunt_rtol_g,
                           rtol_h: float = Tolerances.rtol_h) -> Hunt:
  """Hunts non-trivial interior critical points of L: zeros of grad f inside the ball.

  grad L = l'(f) grad f vanishes where grad f = 0 (the network's own critical
  points: the only candidates for an interior maximum, since hess L =
  l'(f) hess f there) or where l'(f) = 0 (the loss's own stationary set: for
  a convex loss these are global minima of L, never maxima). Half the starts
  search for zeros of grad f, the other half for zeros of grad L (each end
  point is sorted by which factor vanished). For a K-output head the target
  is grad L itself (softmax cross-entropy has no stationary outputs). Every
  search stays inside the ball of radius (1 - SHELL) eps (the box of that
  half-width for ``norm="inf"``); only points strictly inside it count.
  Ascent from interior starts (PGA from ``ball`` and ``zero`` starts)
  complements this search in the sweep.

  Any ``Problem`` (deep networks by autodiff, either ball). "Strictly inside" is judged
  against the search ball (``PINNED`` of its radius, itself (1 - ``SHELL``) eps), which
  lies inside the certificates' tol_b shell."""
  box = problem.constraint.NORM == "inf"
  with jax.enable_x64(True):
    problem = problem.astype(jnp.float64)
    obj, eps = problem.objective, float(problem.constraint.eps)
    r = eps * (1 - SHELL)
    loss = obj.loss
    zero = jnp.zeros_like(obj.x)
    multi = loss.multi_output
    # grad f = grad of the linear loss -y u at y = -1, so one code path serves both.
    minus_one = jnp.asarray(-1.0, jnp.float64)
    f_obj = obj if multi else obj.with_loss(get_loss("linear"), minus_one)
    gf0 = float(jnp.linalg.norm(f_obj.grad(zero)))
    gL0 = float(jnp.linalg.norm(obj.grad(zero)))
    tol_f = rtol_g * max(gf0, 1e-300)
    if box:
      starts = jax.random.uniform(key, (n_starts, zero.shape[0]), jnp.float64, -r, r)
    else:
      starts = sample_ball(key, n_starts, zero.shape[0], r, dtype=jnp.float64)
    half = n_starts if multi else n_starts // 2
    parts = [_hunt(f_obj, starts[:half], r, descent_steps, newton_steps, box)]
    if not multi:
      parts.append(_hunt(obj, starts[half:], r, descent_steps, newton_steps, box))
    d_end = np.concatenate(parts)
    D = jnp.asarray(d_end)
    gf = np.asarray(jax.vmap(f_obj.grad)(D))  # (only hess L is needed: of f, the gradient)
    gL, HL = (np.asarray(v) for v in _grad_hess(obj, D))
    vals = np.asarray(jax.vmap(obj.value)(D))
    # l'(f) at each point (f is the value of the linear objective at y = -1)
    lp = (np.zeros(d_end.shape[0]) if multi else
          np.asarray(jax.vmap(lambda u: loss.grad(u, obj.y))(jax.vmap(f_obj.value)(D))))
  gfn, gLn = np.linalg.norm(gf, axis=1), np.linalg.norm(gL, axis=1)
  eig = np.linalg.eigvalsh(HL)
  size = np.abs(d_end).max(axis=1) if box else np.linalg.norm(d_end, axis=1)
  strictly_in = size < r * (1 - PINNED)
  from_f = np.arange(d_end.shape[0]) < half  # the grad f search's own end points
  cand = strictly_in & from_f
  closest = float(np.min(gfn[cand]) / max(gf0, 1e-300)) if cand.any() else np.inf
  cand_lam = ((float(eig[cand, 0].min()), float(eig[cand, -1].max())) if cand.any() else None)
  nontrivial = strictly_in & (gfn <= tol_f)
  trivial = strictly_in & ~nontrivial & (gLn <= rtol_g * max(gL0, 1e-300))
  n_trivial = _distinct(d_end[trivial], eps)
  idx = np.flatnonzero(nontrivial)
  if idx.size:  # the same critical point reached from several starts counts once
    idx = idx[_representatives(d_end[idx], eps)]
  lam_max, lam_min = eig[idx, -1], eig[idx, 0]
  f_crit = d_end[nontrivial & from_f]  # the basin of each point: the f starts that reached it
  basins = np.asarray([np.sum(np.sum((f_crit - d_end[i]) ** 2, axis=1) <= (SAME * eps) ** 2)
                       for i in idx], float) / max(half, 1)
  tol_h = rtol_h * (np.abs(eig[idx]).max(axis=1) + 1.0) if idx.size else np.zeros(0)
  return Hunt(n_starts, int(idx.size), d_end[idx], lam_max, int(np.sum(lam_max < -tol_h)),
              tol_f, closest, n_trivial, lam_min, vals[idx], lp[idx], f_starts=int(half),
              candidates_inside=int(cand.sum()), candidate_lambda=cand_lam,
              detection_limit=detection_limit(int(half)), tol_h=tol_h,
              basins=basins)


def _representatives(pts, eps):
  """Indices of one point per cluster of radius SAME eps (greedy, in order)."""
  reps: list[int] = []
  for i in range(pts.shape[0]):
    if not reps or np.min(np.sum((pts[reps] - pts[i]) ** 2, axis=1)) > (SAME * eps) ** 2:
      reps.append(i)
  return np.asarray(reps, np.int64)


def _distinct(pts, eps) -> int:
  """Distinct points up to SAME eps; trivial minima form manifolds, so this
  counts the points reached, not the components."""
  return int(_representatives(pts, eps).size) if pts.shape[0] else 0


def _project(v, r, box):
  return jnp.clip(v, -r, r) if box else project_ball(v, r)


@partial(jax.jit, static_argnames=("descent_steps", "box"))
def _descend(obj, starts, r, descent_steps, box=False):
  """Projected Adam on ||grad L||^2 from each start, inside the search ball of radius r."""

  def phi(delta):
    g = obj.grad(delta)
    return jnp.dot(g, g)

  def one(delta):
    opt = optax.adam(0.01 * r)

    def descend(carry, _):
      dl, st = carry
      upd, st = opt.update(jax.grad(phi)(dl), st)
      return (_project(optax.apply_updates(dl, upd), r, box), st), None

    (dl, _), _ = jax.lax.scan(descend, (delta, opt.init(delta)), None, length=descent_steps)
    return dl

  return jax.vmap(one)(starts)


@partial(jax.jit, static_argnames=("steps", "box"))
def _newton(obj, starts, r, steps, box=False):
  """Levenberg-Marquardt on grad L = 0, confined to the search ball.

  The step p = -(H^2 + mu I)^-1 H g minimises ||g + H p||^2 + mu ||p||^2 (H
  symmetric: through its eigendecomposition); it is projected onto the search
  ball and accepted only if ||grad L|| falls (mu / 4), else refused (mu x 4).
  Near a nondegenerate zero mu -> 0 and the steps are Newton's (quadratic
  convergence); a point pushed outwards stays on the search ball's surface.
  """

  def one(delta):
    def body(carry, _):
      dl, nu = carry
      g, H = obj.grad(dl), obj.hess(dl)
      lam, Q = jnp.linalg.eigh(H)
      mu = nu * jnp.max(lam**2) + 1e-300
      new = _project(dl - Q @ (lam * (Q.T @ g) / (lam**2 + mu)), r, box)
      ok = jnp.linalg.norm(obj.grad(new)) < jnp.linalg.norm(g)
      return (jnp.where(ok, new, dl), jnp.clip(jnp.where(ok, nu / 4, nu * 4), 1e-14, 1e6)), None

    (dl, _), _ = jax.lax.scan(body, (delta, jnp.asarray(1e-3, delta.dtype)), None, length=steps)
    return dl

  return jax.vmap(one)(starts)


@jax.jit
def _grad_hess(obj, deltas):
  return jax.vmap(obj.grad)(deltas), jax.vmap(obj.hess)(deltas)


def _hunt(obj, starts, r, descent_steps, newton_steps, box=False):
  """Descent on ||grad L||^2, then Levenberg-Marquardt on grad L = 0, all inside radius r."""
  if starts.shape[0] == 0:
    return np.zeros((0, obj.x.shape[0]))
  dl = _descend(obj, starts, r, descent_steps, box)
  return np.asarray(_newton(obj, dl, r, newton_steps, box))
