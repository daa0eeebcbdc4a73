"""Second-order certificates on the l_inf ball (the box |delta_i| <= eps) (docs/theory.md section 10).

At an endpoint delta with g = grad L(delta):

  A = {i : |delta_i| >= eps (1 - tol_b)}  (active: on a face),   F = the rest (free)
  lambda_i = sign(delta_i) g_i, i in A      (KKT multipliers of the active bounds)
  first order: ||g_F|| <= tol_g and lambda_i >= -tol_g on A

With strict complementarity (every lambda_i > tol_g) the critical cone is
{v : v_A = 0}, so the second-order conditions live on the free block H_FF of
hess L: ``boundary_local_max`` when lambda_max(H_FF) < -tol_h or F is empty
(a vertex: every feasible direction decreases L to first order),
``boundary_saddle`` when lambda_max(H_FF) > tol_h, ``degenerate`` when a
multiplier lies within tol_g of 0 or lambda_max(H_FF) within tol_h of 0. With
A empty the point is interior and the classes are those of the l2 ball
(the spectrum of hess L).

lambda_max(H_FF) is the top eigenvalue of diag(f) H diag(f) - C diag(1 - f)
(f the free indicator, C > ||H||): the active coordinates are sent below the
spectrum, as the sphere's normal direction is in ``certify``; eigenvalues on the
host. Above d = 256 the free block's top eigenvalue comes from Lanczos on
Hessian-vector products restricted to F (``lanczos.lambda_free_lanczos_objective``).

>>> import jax, jax.numpy as jnp, numpy as np
>>> from adv_landscape.network import Network
>>> from adv_landscape.problem import Problem
>>> net = Network(jnp.array([[1.0, 2.0]]), jnp.array([1.0]), jnp.zeros(1), "linear")
>>> p = Problem.two_layer(net, "linear", jnp.zeros(2), -1.0, eps=0.5, norm="inf")
>>> cert = certify_box(p, np.array([[0.5, 0.5], [0.5, -0.5], [0.0, 0.0]]))
>>> cert.classes.tolist()   # L = delta_1 + 2 delta_2: its maximum is the vertex (eps, eps)
['boundary_local_max', 'not_stationary', 'not_stationary']
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from adv_landscape.config import DENSE_MAX_D, HESSIAN_BLOCK_BYTES, Tolerances
from adv_landscape.errors import InvalidInput
from adv_landscape.lanczos import lambda_free_lanczos_objective

__all__ = ["certify_box", "classify_box", "free_block_matrix"]


def free_block_matrix(H, free) -> jax.Array:
  """diag(f) H diag(f) - C diag(1 - f): its top eigenvalue is lambda_max(H_FF) when F is
  not empty (C = ||H||_F + 1 exceeds every eigenvalue of H_FF)."""
  f = free.astype(H.dtype)
  C = jnp.linalg.norm(H) + 1.0
  M = f[:, None] * H * f[None, :] - C * jnp.diag(1.0 - f)
  return 0.5 * (M + M.T)


def classify_box(n_active, n_free, grad_norm, free_grad_norm, mult_min, lambda_free,
                 lambda_hess, lambda_hess_min, *, tol_g, tol_h, verified=None) -> np.ndarray:
  """The classes of docs/theory.md section 10, elementwise over NumPy arrays.

  Args:
    n_active, n_free: sizes of A and F per endpoint.
    grad_norm: ||grad L||; free_grad_norm: ||g_F||; mult_min: min over A of
      the multipliers (NaN where A is empty).
    lambda_free: lambda_max(H_FF) (NaN where not computed).
    lambda_hess, lambda_hess_min: extreme eigenvalues of hess L at interior
      first-order points (NaN elsewhere).
    tol_g, tol_h: per endpoint.
  """
  tol_g = np.broadcast_to(np.asarray(tol_g, np.float64), np.shape(n_active))
  cls = np.full(np.shape(n_active), "not_stationary", dtype=object)
  on = n_active > 0
  with np.errstate(invalid="ignore"):
    kkt = on & (free_grad_norm <= tol_g) & (mult_min >= -tol_g)
    strict = kkt & (mult_min > tol_g)
    face = strict & (n_free > 0)
    cls[kkt] = "degenerate"  # a multiplier within tol_g of 0, unless strict below
    cls[strict & (n_free == 0)] = "boundary_local_max"  # a vertex
    cls[face & (np.abs(lambda_free) <= tol_h)] = "degenerate"
    cls[face & (lambda_free < -tol_h)] = "boundary_local_max"
    cls[face & (lambda_free > tol_h)] = "boundary_saddle"
    crit = ~on & (grad_norm <= tol_g)
    cls[crit] = "degenerate"
    cls[crit & (lambda_hess < -tol_h)] = "interior_local_max"
    cls[crit & (lambda_hess_min > tol_h)] = "interior_local_min"
    cls[crit & (lambda_hess > tol_h) & (lambda_hess_min < -tol_h)] = "interior_saddle"
  if verified is not None:  # an unconverged top Ritz value is a lower bound: never a maximum
    cls[(kkt | crit) & ~np.asarray(verified, bool)] = "unverified"
  return cls.astype(str)


@jax.jit
def _first_order(obj, deltas):
  return jax.vmap(jax.value_and_grad(obj.value))(deltas)


@jax.jit
def _hessians(obj, deltas):
  return jax.vmap(obj.hess)(deltas)


def certify_box(problem, deltas, *, tol_g=None, tol_b: float | None = None,
                rtol_h: float = Tolerances.rtol_h, method: str = "auto", block: int = 256,
                lanczos_k_max: int = 512, lanczos_min_free: int = 64,
                progress: bool = False):
  """Certifies B endpoints (B, d) on the box ||delta||_inf <= eps, in float64.

  Args:
    problem: a ``Problem`` whose constraint is a ``LinfBall``.
    deltas: (B, d) endpoints.
    tol_g: first-order tolerance (float or per endpoint); default
      1e-5 ||grad L(0)||.
    tol_b: relative distance to a face that counts as on it; default
      ``Tolerances.for_dtype(deltas.dtype).tol_b``.
    rtol_h: tol_h = rtol_h ||hess L||_F per endpoint (max |Ritz value| for Lanczos).
    method: "dense" (eigvalsh of the masked Hessian), "lanczos" (matrix-free on
      the free block, ``lanczos.lambda_free_lanczos_objective``, for endpoints
      with more than ``lanczos_min_free`` free coordinates; the others dense),
      or "auto": dense up to d = 256, Lanczos above. An endpoint whose Lanczos
      residual misses its tolerance within ``lanczos_k_max`` steps is
      ``unverified`` (a top Ritz value lies below the true top eigenvalue).
    block: endpoints per batch of Hessians (capped at about 200 MB).
    progress: unused (accepted as the l2 certificate accepts it).

  Returns:
    a ``certify.Certificate``: ``norm_ratio`` is ||delta||_inf / eps,
    ``rgrad_norm`` is ||g_F||, ``multiplier`` the smallest multiplier on A,
    ``lambda_tangent`` lambda_max(H_FF), ``n_active`` |A|.
  """
  from adv_landscape.certify import (
    Certificate,
    default_certificate_tol_g,
    prepare_endpoints,
    require_smooth,
  )

  require_smooth(problem)
  if problem.constraint.name != "inf":
    raise InvalidInput("certify_box needs a problem on the l_inf ball (norm='inf')")
  deltas, tol_b = prepare_endpoints(problem, deltas, tol_b)
  d, B = problem.d, deltas.shape[0]
  with jax.enable_x64(True):
    problem = problem.astype(jnp.float64)
    obj = problem.objective
    eps = float(problem.constraint.eps)
    if tol_g is None:
      tol_g = default_certificate_tol_g(obj, d)
    tg = np.broadcast_to(np.asarray(tol_g, np.float64), (B,))
    vals, G = (np.asarray(v) for v in _first_order(obj, jnp.asarray(deltas)))
    ratio = np.abs(deltas) / eps
    active = ratio >= 1.0 - tol_b
    free = ~active
    n_active, n_free = active.sum(1), free.sum(1)
    lam = np.where(active, np.sign(deltas) * G, np.inf)
    mult_min = np.where(n_active > 0, lam.min(axis=1), np.nan)
    free_grad = np.linalg.norm(np.where(free, G, 0.0), axis=1)
    grad_norm = np.linalg.norm(G, axis=1)
    with np.errstate(invalid="ignore"):
      face = (n_active > 0) & (n_free > 0) & (free_grad <= tg) & (mult_min > tg)
    inside = (n_active == 0) & (grad_norm <= tg)
    lam_h, lam_hmin = np.full(B, np.nan), np.full(B, np.nan)
    if method not in ("auto", "dense", "lanczos"):
      raise InvalidInput(f"method={method!r} is unknown; choose auto, dense or lanczos")
    lanczos = method == "lanczos" or (method == "auto" and d > DENSE_MAX_D)
    by_lanczos = face & (n_free > lanczos_min_free) if lanczos else np.zeros(B, bool)
    verified = np.ones(B, bool)
    scale = np.full(B, np.nan)
    lam_free = np.full(B, np.nan)
    todo = np.flatnonzero(by_lanczos)
    if todo.size:  # each endpoint stops on its own, at the latest when k = |F| (exact)
      todo = todo[np.argsort(n_free[todo], kind="stable")]  # similar free sets share blocks
      lz = lambda_free_lanczos_objective(obj, deltas[todo], free[todo], k_max=lanczos_k_max,
                                         precision="mixed", rtol_h=rtol_h)
      lam_free[todo], scale[todo], verified[todo] = lz.lambda_tangent, lz.scale, lz.verified
    need = np.flatnonzero((face & ~by_lanczos) | inside)
    size = max(1, min(block, int(HESSIAN_BLOCK_BYTES // (8 * d * d))))
    for i in range(0, need.size, size):
      idx = need[i:i + size]
      Hs = np.asarray(_hessians(obj, jnp.asarray(deltas[idx])))
      scale[idx] = np.linalg.norm(Hs, axis=(1, 2))  # Frobenius >= spectral
      for j, k in enumerate(idx):
        if face[k]:
          M = np.asarray(free_block_matrix(jnp.asarray(Hs[j]), jnp.asarray(free[k])))
          lam_free[k] = np.linalg.eigvalsh(M)[-1]
        else:
          e = np.linalg.eigvalsh(Hs[j])
          lam_h[k], lam_hmin[k] = e[-1], e[0]
  tol_h = rtol_h * scale
  classes = classify_box(n_active, n_free, grad_norm, free_grad, mult_min, lam_free, lam_h,
                         lam_hmin, tol_g=tg, tol_h=tol_h, verified=verified)
  return Certificate(classes, vals, ratio.max(axis=1), grad_norm, free_grad, mult_min, lam_free,
                     lam_h, classes == "interior_local_max", float(tol_b), tg, tol_h,
                     "lanczos-free-block" if by_lanczos.any() else "dense-free-block", lam_hmin,
                     n_active=n_active)
