"""Matrix-free lambda_T: Lanczos on closed-form Hessian-vector products (docs/theory.md section 3)."""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from adv_landscape.losses import Loss, get_loss
from adv_landscape.network import Network

__all__ = ["LanczosResult", "lambda_tangent_lanczos", "lambda_tangent_lanczos_objective",
           "lambda_free_lanczos_objective"]


class LanczosResult(NamedTuple):
  """lambda_T by Lanczos: values (B,), residuals (B,) ||A y - theta y||, the
  scale (B,) max |Ritz value| + |mu| the tolerance is relative to, the Krylov
  dimension used, whether every residual met the tolerance, and the relative
  tolerance (an endpoint converged where residual <= tol * scale)."""

  lambda_tangent: np.ndarray
  residual: np.ndarray
  scale: np.ndarray
  krylov_dim: int
  converged: bool
  tol: float = 1e-9


def lambda_tangent_lanczos(net: Network, loss: Loss | str, x, y, deltas, *, eps: float,
                           tol: float = 1e-9, k0: int = 32, k_max: int = 512,
                           seed: int = 0) -> LanczosResult:
  """Top tangent eigenvalue of Hess_S by Lanczos on closed-form Hessian-vector products.

  The operator is v -> P (hess L - mu I) P v on the tangent space at each
  endpoint; every Lanczos vector is projected onto that space (and fully
  reorthogonalised), so the normal direction never enters the Krylov space:
  this is the shifted operator of docs/theory.md section 3 restricted to the complement of u,
  which has the same top eigenvalue. Each product costs O(m d). The Krylov
  dimension starts at k0 and doubles until every Ritz residual
  beta_k |s_k| <= tol (||hess L|| + |mu|), or k_max.

  References:
    Golub, Van Loan. Matrix Computations, 4th ed., 2013, section 10.1
    (Lanczos; the residual of a Ritz pair is beta_k |s_k|).
  """
  from adv_landscape.problem import TwoLayerObjective

  loss = get_loss(loss)
  with jax.enable_x64(True):
    obj = TwoLayerObjective(net.astype(jnp.float64), jnp.asarray(x, jnp.float64),
                            jnp.asarray(y, jnp.int32 if loss.multi_output else jnp.float64), loss)
    return lambda_tangent_lanczos_objective(obj, deltas, eps=eps, tol=tol, k0=k0, k_max=k_max,
                                            seed=seed)


def lambda_tangent_lanczos_objective(obj, deltas, *, eps: float, tol: float = 1e-9,
                                     k0: int = 32, k_max: int = 512,
                                     seed: int = 0) -> LanczosResult:
  """``lambda_tangent_lanczos`` for any objective with ``grad`` and ``hvp`` (float64)."""
  with jax.enable_x64(True):
    D = jnp.asarray(deltas, jnp.float64)
    d = D.shape[1]
    k = min(k0, k_max, d - 1)
    while True:
      alpha, beta, mu = (np.asarray(v) for v in _lanczos_batch(
          obj, jnp.asarray(eps, jnp.float64), D, jax.random.key(seed), k=k))
      lam, res, scale = _ritz(alpha, beta, mu)
      ok = bool(np.all(res <= tol * scale))
      if ok or k >= min(k_max, d - 1):
        return LanczosResult(lam, res, scale, k, ok, tol)
      k = min(2 * k, k_max, d - 1)


@partial(jax.jit, static_argnames=("k",))
def _lanczos_batch(obj, eps, deltas, key, *, k):
  keys = jax.random.split(key, deltas.shape[0])
  return jax.vmap(lambda dl, kk: _lanczos_one(obj, eps, dl, kk, k))(deltas, keys)


def _lanczos_one(obj, eps, delta, key, k):
  u = delta / jnp.linalg.norm(delta)
  g = obj.grad(delta)
  mu = jnp.dot(delta, g) / eps**2

  def proj(v):
    return v - jnp.dot(u, v) * u

  def op(v):
    v = proj(v)
    return proj(obj.hvp(delta, v) - mu * v)

  alpha, beta = _lanczos_core(op, proj, delta, key, k)
  return alpha, beta, mu


def lambda_free_lanczos_objective(obj, deltas, free, *, tol: float = 1e-9, k0: int = 32,
                                  k_max: int = 512, seed: int = 0) -> LanczosResult:
  """Top eigenvalue of the free block H_FF of hess L (the box certificate) by Lanczos.

  The operator is v -> f * hess L (f * v), f the free indicator of each
  endpoint; every Lanczos vector is kept in the free coordinates, so the
  Krylov space never leaves them. The Krylov dimension starts at k0 and
  doubles until every residual beta_k |s_k| <= tol max |Ritz value|, or
  k_max; it never exceeds the smallest free set of the batch (a Krylov space
  cannot be larger than the space it lives in; at k = |F| it is all of it
  and the residual is zero), so batch endpoints with similar free sets
  (``box.certify_box`` sorts them).
  """
  with jax.enable_x64(True):
    D = jnp.asarray(deltas, jnp.float64)
    F = jnp.asarray(free, jnp.float64)
    cap = int(np.min(np.asarray(free).sum(axis=1)))  # k = |F| steps span the free space
    if cap < 1:
      raise ValueError("lambda_free_lanczos_objective needs a free coordinate per endpoint")
    k = min(k0, k_max, cap)
    while True:
      alpha, beta = (np.asarray(v) for v in _lanczos_free_batch(
          obj, D, F, jax.random.key(seed), k=k))
      lam, res, scale = _ritz(alpha, beta, np.zeros(alpha.shape[0]))
      ok = bool(np.all(res <= tol * scale))
      if ok or k >= min(k_max, cap):
        return LanczosResult(lam, res, scale, k, ok, tol)
      k = min(2 * k, k_max, cap)


@partial(jax.jit, static_argnames=("k",))
def _lanczos_free_batch(obj, deltas, free, key, *, k):
  keys = jax.random.split(key, deltas.shape[0])

  def one(delta, f, kk):
    def proj(v):
      return f * v

    def op(v):
      return f * obj.hvp(delta, f * v)

    return _lanczos_core(op, proj, delta, kk, k)

  return jax.vmap(one)(deltas, free, keys)


def _lanczos_core(op, proj, delta, key, k):
  """k Lanczos steps of a symmetric operator on the subspace ``proj`` keeps, from a random
  start; returns the tridiagonal coefficients (alpha, beta)."""
  d = delta.shape[0]
  q0 = proj(jax.random.normal(key, (d,), delta.dtype))
  q0 = q0 / jnp.linalg.norm(q0)
  Q = jnp.zeros((k + 1, d), delta.dtype).at[0].set(q0)

  def orth(w, Qm):  # full reorthogonalisation, twice for stability, kept tangent
    w = w - Qm.T @ (Qm @ w)
    return proj(w - Qm.T @ (Qm @ w))

  def step(j, carry):
    Q, alpha, beta, scale = carry
    w = op(Q[j])
    a = jnp.dot(w, Q[j])
    Qm = jnp.where((jnp.arange(k + 1) <= j)[:, None], Q, 0.0)
    w = orth(w, Qm)
    b = jnp.linalg.norm(w)
    scale = jnp.maximum(scale, jnp.abs(a) + b)
    # Breakdown (an invariant subspace is exhausted): w is rounding noise, and
    # normalising it would lose orthogonality and create spurious Ritz values.
    # Continue from a fresh random tangent vector with beta_j = 0 (T decouples).
    broke = b <= 1e-10 * scale
    fresh = orth(jax.random.normal(jax.random.fold_in(key, j + 1), (d,), delta.dtype), Qm)
    w = jnp.where(broke, fresh / jnp.linalg.norm(fresh), w / jnp.maximum(
        b, jnp.finfo(w.dtype).tiny))
    return Q.at[j + 1].set(w), alpha.at[j].set(a), beta.at[j].set(jnp.where(broke, 0.0, b)), \
        scale

  Q, alpha, beta, _ = jax.lax.fori_loop(
      0, k, step, (Q, jnp.zeros(k, delta.dtype), jnp.zeros(k, delta.dtype),
                   jnp.zeros((), delta.dtype)))
  return alpha, beta


def _ritz(alpha, beta, mu):
  """Top Ritz value, its residual beta_k |s_k| and the scale, from (B, k) coefficients.

  The small tridiagonal eigenproblems are solved on the host (see ``_one``).
  """
  B, k = alpha.shape
  T = np.zeros((B, k, k))
  i = np.arange(k)
  T[:, i, i] = alpha
  T[:, i[:-1], i[1:]] = beta[:, :-1]
  T[:, i[1:], i[:-1]] = beta[:, :-1]
  theta, S = np.linalg.eigh(T)
  resid = np.abs(beta[:, -1] * S[:, -1, -1])
  scale = np.max(np.abs(theta), axis=1) + np.abs(mu) + 1e-300
  return theta[:, -1], resid, scale
