"""The ball B = {||delta|| <= eps}, its sphere and tangent spaces (docs/theory.md sections 2-3).

>>> import jax.numpy as jnp
>>> [round(v, 6) for v in project_ball(jnp.array([3.0, 4.0]), 1.0).tolist()]
[0.6, 0.8]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from optax import projections

__all__ = [
    "project_ball", "project_ball_batch", "sample_sphere", "sample_ball",
    "tangent_projector", "multiplier", "riemannian_grad", "riemannian_hess",
    "householder",
]


def project_ball(delta: jax.Array, eps) -> jax.Array:
  """Pi(v) = v min(1, eps / ||v||), finite (and differentiable) at v = 0.

  Uses ``optax.projections.projection_l2_ball``, which takes one norm over its
  whole argument: batch with ``project_ball_batch``.
  """
  return projections.projection_l2_ball(delta, eps)


def project_ball_batch(deltas: jax.Array, eps) -> jax.Array:
  """Projects each row of a (B, d) batch onto the ball of radius eps."""
  return jax.vmap(project_ball, in_axes=(0, None))(deltas, eps)


def sample_sphere(key: jax.Array, n: int, d: int, eps, *, dtype=None) -> jax.Array:
  """n points uniform on the sphere of radius eps, shape (n, d)."""
  z = jax.random.normal(key, (n, d), dtype or jnp.zeros(()).dtype)
  return eps * z / jnp.linalg.norm(z, axis=1, keepdims=True)


def sample_ball(key: jax.Array, n: int, d: int, eps, *, dtype=None) -> jax.Array:
  """n points uniform in the ball of radius eps: direction times eps u^(1/d)."""
  kd, kr = jax.random.split(key)
  dirs = sample_sphere(kd, n, d, 1.0, dtype=dtype)
  r = jax.random.uniform(kr, (n, 1), dirs.dtype) ** (1.0 / d)
  return eps * r * dirs


def tangent_projector(delta: jax.Array) -> jax.Array:
  """P = I - u u^T with u = delta / ||delta||, shape (d, d)."""
  u = delta / jnp.linalg.norm(delta)
  return jnp.eye(delta.shape[0], dtype=delta.dtype) - jnp.outer(u, u)


def multiplier(delta: jax.Array, g: jax.Array, eps) -> jax.Array:
  """KKT multiplier mu = <delta, grad L> / eps^2."""
  return jnp.dot(delta, g) / eps**2


def riemannian_grad(delta: jax.Array, g: jax.Array) -> jax.Array:
  """rgrad = P grad L, the tangential part of the gradient."""
  u = delta / jnp.linalg.norm(delta)
  return g - jnp.dot(u, g) * u


def riemannian_hess(delta: jax.Array, g: jax.Array, H: jax.Array, eps) -> jax.Array:
  """Hess_S = P (hess L - mu I) P as a (d, d) matrix acting on the tangent space.

  References:
    Absil, Mahony, Sepulchre. Optimization Algorithms on Matrix Manifolds,
    2008, eq. (5.38) (Riemannian Hessian of a submanifold, the sphere case).
  """
  P = tangent_projector(delta)
  mu = multiplier(delta, g, eps)
  return P @ (H - mu * jnp.eye(H.shape[0], dtype=H.dtype)) @ P


def householder(u: jax.Array) -> jax.Array:
  """Orthogonal symmetric Q with Q u = -sign(u_0) e_0 for a unit vector u.

  Its columns 1..d-1 span the tangent space at u. The sign choice avoids
  cancellation in v = u + sign(u_0) e_0.
  """
  sign = jnp.where(u[0] >= 0, 1.0, -1.0).astype(u.dtype)
  v = u.at[0].add(sign)
  v = v / jnp.linalg.norm(v)
  return jnp.eye(u.shape[0], dtype=u.dtype) - 2.0 * jnp.outer(v, v)
