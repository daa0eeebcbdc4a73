"""Matrix-free top eigenvalues by Lanczos on blocks of endpoints (docs/theory.md section 3).

Two operators, one per constraint: the tangent operator of the sphere,
v -> P (hess L - mu I) P v with P = I - u u^T (its top eigenvalue on the
complement of u is lambda_T), and the free block of the box,
v -> f * hess L (f * v) with f the free indicator (its top eigenvalue is that
of H_FF). Both are run on a block of B endpoints at once: each step is one
batched Hessian-vector product (for the two-layer closed form, two GEMMs
(B, d) x (d, m) and back; a vmapped jvp-of-grad for autodiff objectives)
followed by full reorthogonalisation against the block's Krylov bases.

Per-endpoint stopping: every few steps the host takes each endpoint's top
Ritz pair from its tridiagonal matrix (``scipy.linalg.eigh_tridiagonal``) and
retires the endpoints whose residual beta_k |s_k| <= tol * scale, scale =
max |Ritz value| + |mu|; when half of a block has retired, the rest is
compacted into a smaller block. The Krylov basis grows in place: nothing is
restarted (full reorthogonalisation keeps every Lanczos vector, so a larger
Krylov space is the old one extended, never recomputed).

Mixed precision (``precision="mixed"``): the iteration runs in float32 and
only the endpoints whose decision it cannot settle are refined in float64:
those not converged, and those with |theta| <= tol_h + margin, tol_h =
rtol_h * scale the classifier's threshold and margin = residual +
``MIXED_MARGIN`` * scale. Why the margin covers float32: with full
reorthogonalisation the computed Ritz values are those of a matrix within
about n u32 ||A|| of the operator, n the longest inner product of one
Hessian-vector product (d or m; for d, m <= 4096 that is below 5e-4 ||A||;
Paige, as summarised in Golub and Van Loan, section 10.3); MIXED_MARGIN =
1e-3 is twice that, and the measured differences from float64 are about 1e-7
of the scale (benchmarks/certify.py: 3.3e-8 at d = 784 and 3.4e-7 at d = 3072
against dense eigvalsh). A floating-point argument with a stated
margin, not interval arithmetic, like the rest of the certificates; the proof
radii (``proof``) are the rigorous statements.

Start vectors depend on the endpoint only (one random vector, projected), so
a result does not depend on how endpoints are grouped into blocks or split
across processes.

References:
  Golub, Van Loan. Matrix Computations, 4th ed., 2013, sections 10.1-10.3
  (Lanczos; the residual of a Ritz pair is beta_k |s_k|; full
  reorthogonalisation and its rounding behaviour).
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy.linalg import eigh_tridiagonal

from adv_landscape.config import Tolerances
from adv_landscape.errors import InvalidInput

__all__ = ["LanczosResult", "lambda_tangent_lanczos", "lambda_free_lanczos_objective",
           "MIXED_MARGIN"]

MIXED_MARGIN = 1e-3  # relative to the scale: see the module docstring
# The Krylov bases of one block, (B, k_max + 1, d), take at most this many bytes.
_Q_BYTES = {"cpu": 384e6}
_Q_BYTES_ACCELERATOR = 16e9
_CHECK = 8  # Lanczos steps between two convergence checks
_ROWS = 32  # rows per panel of the reorthogonalisation
# Ritz values on the host (NumPy) on a CPU, on the device elsewhere; None: by the backend.
# Tests set False to run the accelerators' path on a CPU.
RITZ_ON_HOST: bool | None = None


class LanczosResult(NamedTuple):
  """Top eigenvalues by Lanczos: values (B,), residuals (B,) ||A y - theta y||, the
  scale (B,) max |Ritz value| + |mu| the tolerance is relative to, the largest Krylov
  dimension used, whether every residual met the tolerance, the relative
  tolerance (an endpoint converged where residual <= tol * scale), the Krylov
  dimension per endpoint, which endpoints were refined in float64 (all of
  them for ``precision="float64"``), and which are verified: converged to tol
  in float64, or settled in float32 with the margin."""

  lambda_tangent: np.ndarray
  residual: np.ndarray
  scale: np.ndarray
  krylov_dim: int
  converged: bool
  tol: float = 1e-9
  steps: np.ndarray | None = None
  refined: np.ndarray | None = None
  verified: np.ndarray | None = None


def lambda_tangent_lanczos(obj, deltas, *, eps: float, tol: float = 1e-9,
                           k0: int = 16, k_max: int = 512, seed: int = 0,
                           precision: str = "float64",
                           rtol_h: float = Tolerances.rtol_h,
                           block: int | None = None) -> LanczosResult:
  """Top tangent eigenvalue of Hess_S by Lanczos on the objective's Hessian-vector products.

  The operator is v -> P (hess L - mu I) P v on the tangent space at each
  endpoint; every Lanczos vector is projected onto that space (and fully
  reorthogonalised), so the normal direction never enters the Krylov space:
  this is the shifted operator of docs/theory.md section 3 restricted to the
  complement of u, which has the same top eigenvalue. Each product costs
  O(m d). An endpoint stops once its Ritz residual beta_k |s_k| <= tol
  (max |Ritz value| + |mu|), or at k_max steps (then not converged).

  Args:
    obj: the objective (``Problem.objective``: closed form or autodiff; anything with
      ``grad`` and ``hvp``). deltas: (B, d) points. eps: the radius.
    tol: relative residual tolerance. k0: steps before the first check.
    k_max: the largest Krylov dimension. seed: the start vector's seed.
    precision: "float64", or "mixed" (float32 iterations, float64 where the
      decision against +-rtol_h * scale needs it; see the module docstring).
    rtol_h: the classifier's relative threshold (for "mixed" only).
    block: caps the endpoints iterated together (default ``default_block()``; lowered
      further so that their Krylov bases fit in 384 MB on a CPU, 16 GB on an accelerator).
  """
  with jax.enable_x64(True):
    D = np.asarray(deltas, np.float64)
    if D.ndim != 2 or D.shape[1] < 2:
      raise InvalidInput(f"deltas has shape {D.shape}; expected (B, d) with d >= 2")
    obj64 = obj.astype(jnp.float64)
    pad = np.concatenate([D, np.repeat(D[:1], _bucket(D.shape[0]) - D.shape[0], 0)])
    g = np.asarray(_grads(obj64, jnp.asarray(pad)))[:D.shape[0]]  # few compiled shapes
    mu = np.einsum("bd,bd->b", D, g) / eps**2
    u = D / np.linalg.norm(D, axis=1, keepdims=True)
    data = {"delta": D, "u": u, "mu": mu}
    cap = np.full(D.shape[0], D.shape[1] - 1)  # the tangent space's dimension
    return _solve("tangent", obj64, data, cap, np.abs(mu), tol=tol, k0=k0, k_max=k_max,
                  seed=seed, precision=precision, rtol_h=rtol_h, block=block)


@jax.jit
def _grads(obj, deltas):
  """grad L of every row (one compiled program per objective type and shape; a
  ``jax.jit`` made inside a call would compile again on every call)."""
  return jax.vmap(obj.grad)(deltas)


def lambda_free_lanczos_objective(obj, deltas, free, *, tol: float = 1e-9, k0: int = 16,
                                  k_max: int = 512, seed: int = 0, precision: str = "float64",
                                  rtol_h: float = Tolerances.rtol_h,
                                  block: int | None = None) -> LanczosResult:
  """Top eigenvalue of the free block H_FF of hess L (the box certificate) by Lanczos.

  The operator is v -> f * hess L (f * v), f the free indicator of each
  endpoint; every Lanczos vector is kept in the free coordinates, so the
  Krylov space never leaves them. An endpoint stops once its residual
  beta_k |s_k| <= tol max |Ritz value|, or at k = |F| (the Krylov space is then
  all of the free space and its Ritz values are the eigenvalues), or k_max.
  """
  with jax.enable_x64(True):
    D = np.asarray(deltas, np.float64)
    F = np.asarray(free, bool)
    cap = F.sum(axis=1)
    if cap.size and cap.min() < 1:
      raise InvalidInput("lambda_free_lanczos_objective needs a free coordinate per endpoint")
    data = {"delta": D, "f": F.astype(np.float64)}
    return _solve("free", obj.astype(jnp.float64), data, cap, np.zeros(D.shape[0]), tol=tol,
                  k0=k0, k_max=k_max, seed=seed, precision=precision, rtol_h=rtol_h,
                  block=block)


def _solve(kind, obj64, data, cap, shift, *, tol, k0, k_max, seed, precision, rtol_h, block):
  """Lanczos for every endpoint in ``precision``; the mixed refinement."""
  if precision not in ("float64", "mixed"):
    raise InvalidInput(f"precision={precision!r} is unknown; choose float64 or mixed")
  if precision == "float64":
    lam, res, scale, steps = _run(kind, obj64, data, cap, shift, dtype=jnp.float64, tol=tol,
                                  k0=k0, k_max=k_max, seed=seed, block=block)
    refined = np.ones(cap.shape[0], bool)
  else:
    # float32 cannot resolve residuals much below its rounding (about 1e-7 of the scale).
    tol32 = max(tol, 1e-6)
    lam, res, scale, steps = _run(kind, obj64.astype(jnp.float32), data, cap, shift,
                                  dtype=jnp.float32, tol=tol32, k0=k0, k_max=k_max, seed=seed,
                                  block=block)
    margin = res + MIXED_MARGIN * scale
    refined = ~(res <= tol32 * scale) | (np.abs(lam) <= rtol_h * scale + margin)
    if refined.any():
      sub = {k: v[refined] for k, v in data.items()}
      out = _run(kind, obj64, sub, cap[refined], shift[refined], dtype=jnp.float64, tol=tol,
                 k0=k0, k_max=k_max, seed=seed, block=block)
      for arr, new in zip((lam, res, scale, steps), out):
        arr[refined] = new
  ok = res <= tol * scale
  # an endpoint left in float32 met tol32 and its decision holds with the margin
  ok = np.where(refined, ok, True)
  return LanczosResult(lam, res, scale, int(steps.max()) if steps.size else 0,
                       bool(ok.all()), tol, steps, refined, ok)


def _run(kind, obj, data, cap, shift, *, dtype, tol, k0, k_max, seed, block):
  """Lanczos on every endpoint, in blocks; returns (theta, residual, scale, steps) (n,)."""
  n, d = data["delta"].shape
  lam, res, scale = np.full(n, np.nan), np.full(n, np.inf), np.full(n, np.nan)
  steps = np.zeros(n, np.int64)
  if n == 0:
    return lam, res, scale, steps
  kcap = int(min(k_max, cap.max()))
  itemsize = jnp.dtype(dtype).itemsize
  budget = _Q_BYTES.get(jax.default_backend(), _Q_BYTES_ACCELERATOR)
  size = max(1, min(block or default_block(), n,
                   int(budget // ((kcap + _ROWS) * d * itemsize))))
  key = jax.random.key(seed)
  # True float32 products: an accelerator's default (TF32, about 3 decimal digits) would
  # void the margin of the mixed precision (module docstring).
  with jax.default_matmul_precision("highest"):
    for start in range(0, n, size):
      rows = np.arange(start, min(n, start + size))
      _block(kind, obj, data, rows, cap, shift, lam, res, scale, steps, dtype=dtype, tol=tol,
             k0=k0, kcap=kcap, key=key)
  return lam, res, scale, steps


def default_block() -> int:
  """Endpoints per Lanczos block: 256 on a CPU, 4096 on an accelerator (whose GEMMs need
  many rows to be efficient)."""
  return 256 if jax.default_backend() == "cpu" else 4096


def _min_rows() -> int:
  """Compaction stops at this many rows: 1 on a CPU; 256 on an accelerator, where fewer
  rows cost as much time (latency, not arithmetic) and each new row count compiles the
  Lanczos step again."""
  return 1 if jax.default_backend() == "cpu" else 256


def _bucket(n: int) -> int:
  """The smallest power of two >= n: few distinct compiled shapes."""
  return 1 << max(0, n - 1).bit_length()


def _block(kind, obj, data, rows, cap, shift, lam, res, scale, steps, *, dtype, tol, k0, kcap,
           key):
  """Runs one block of endpoints to convergence, writing into the output arrays."""
  size = _bucket(rows.size)
  who = np.concatenate([rows, np.full(size - rows.size, -1)])  # -1: padding

  def gather(pos):
    src = np.where(who[pos] >= 0, who[pos], rows[0])
    return {k: jnp.asarray(v[src], dtype) for k, v in data.items()}

  pos = np.arange(size)
  dat = gather(pos)
  Q, alpha, beta = _start(obj, dat, key, kind=kind, kcap=kcap)
  j, nxt = 0, min(max(k0, 1), kcap)
  while True:
    while j < nxt:
      s = nxt - j
      Q, alpha, beta = _steps(obj, dat, Q, alpha, beta, jnp.asarray(j, jnp.int32),
                              jnp.asarray(s, jnp.int32), key, kind=kind)
      j = nxt
    live = np.flatnonzero(who >= 0)
    full = live[cap[who[live]] >= j]  # Krylov dimension j: one batched eigensolve
    on_host = jax.default_backend() == "cpu" if RITZ_ON_HOST is None else RITZ_ON_HOST
    if on_host:
      a = np.asarray(alpha, np.float64)[:, :j]  # on the host: no compiled slice per j
      b = np.asarray(beta, np.float64)[:, :j]
      theta, r, sc = _ritz_many(a[full], b[full], shift[who[full]])
    else:  # on the device: only three numbers per endpoint travel
      top, r, low = (np.asarray(v, np.float64)[full] for v in _ritz_device(
          alpha, beta, jnp.asarray(j, jnp.int32), size=min(_bucket(j), alpha.shape[1])))
      theta, sc = top, np.maximum(np.abs(top), np.abs(low)) + shift[who[full]] + 1e-300
      if np.any(cap[who[live]] < j):
        a = np.asarray(alpha, np.float64)[:, :j]
        b = np.asarray(beta, np.float64)[:, :j]
    k = np.full(full.size, j)
    for p in live[cap[who[live]] < j]:  # a free space smaller than j: its own size
      i, kp = who[p], int(cap[who[p]])
      t1, r1, s1 = _ritz(a[p, :kp], b[p, :kp], shift[i])
      full, theta, r, sc, k = (np.append(full, p), np.append(theta, t1), np.append(r, r1),
                               np.append(sc, s1), np.append(k, kp))
    i = who[full]
    stop = (r <= tol * sc) | (k >= cap[i]) | (j >= kcap)
    lam[i[stop]], res[i[stop]], scale[i[stop]], steps[i[stop]] = (
        theta[stop], r[stop], sc[stop], k[stop])
    who[full[stop]] = -1
    alive = np.flatnonzero(who >= 0)
    if alive.size == 0:
      return
    nxt = min(j + _CHECK * (1 + j // 64), kcap)
    if alive.size <= who.size // 2 and who.size > _min_rows():
      new = max(_bucket(alive.size), _min_rows())  # compact: retired endpoints stop costing
      pick = np.concatenate([alive, np.repeat(alive[:1], new - alive.size)])
      who = np.concatenate([who[alive], np.full(new - alive.size, -1)])
      idx = jnp.asarray(pick)
      Q, alpha, beta = Q[idx], alpha[idx], beta[idx]
      dat = {k: v[idx] for k, v in dat.items()}


def _ritz_many(a, b, shift):
  """``_ritz`` for n endpoints with the same Krylov dimension k, (n, k) coefficients: dense
  eigh of the n tridiagonal matrices at once, by NumPy's LAPACK on the host (outside any
  compiled XLA program, see certify._one; ``_ritz_device`` is the accelerators' path)."""
  n, k = a.shape
  if n == 0:
    return np.zeros(0), np.zeros(0), np.zeros(0)
  T = np.zeros((n, k, k))
  i = np.arange(k)
  T[:, i, i] = a
  T[:, i[:-1], i[1:]] = b[:, :-1]
  T[:, i[1:], i[:-1]] = b[:, :-1]
  theta, S = np.linalg.eigh(T)
  resid = np.abs(b[:, -1] * S[:, -1, -1])
  scale = np.maximum(np.abs(theta[:, 0]), np.abs(theta[:, -1])) + shift + 1e-300
  return theta[:, -1], resid, scale


@partial(jax.jit, static_argnames=("size",))
def _ritz_device(alpha, beta, j, *, size):
  """Top Ritz value, its residual and the bottom Ritz value of every row's j x j
  tridiagonal matrix, on the accelerator (float64), so that only (B,) arrays reach the
  host. Not used on a CPU (see ``_ritz_many``).

  One compiled program per ``size`` (a power of two >= j), not per j: each matrix is
  padded to size x size with a decoupled diagonal block at -big, big = 2 (max |alpha| +
  2 max |beta|) + 1 of its first j rows, below every eigenvalue of the j x j matrix
  (Gershgorin), so the padding's eigenvalues come first and the rest are the j Ritz
  values, with eigenvectors zero on the padding."""
  a, b = alpha[:, :size].astype(jnp.float64), beta[:, :size].astype(jnp.float64)  # x64
  idx = jnp.arange(size)
  real = idx < j
  big = 2.0 * (jnp.max(jnp.abs(jnp.where(real, a, 0.0)), axis=1)
               + 2.0 * jnp.max(jnp.abs(jnp.where(real, b, 0.0)), axis=1)) + 1.0
  a = jnp.where(real, a, -big[:, None])
  off = jnp.where(idx[:-1] < j - 1, b[:, :-1], 0.0)  # couplings inside the first j rows
  T = jax.vmap(lambda x, y: jnp.diag(x) + jnp.diag(y, 1) + jnp.diag(y, -1))(a, off)
  theta, S = jnp.linalg.eigh(T)
  resid = jnp.abs(b[:, j - 1] * S[:, j - 1, -1])
  return theta[:, -1], resid, theta[:, size - j]


def _ritz(a, b, shift):
  """Top Ritz value, its residual beta_k |s_k| and the scale max |theta| + shift, from one
  endpoint's tridiagonal coefficients (alpha (k,), beta (k,))."""
  k = a.size
  if k == 1:
    return float(a[0]), abs(float(b[0])), abs(float(a[0])) + shift + 1e-300
  w, v = eigh_tridiagonal(a, b[:-1], select="i", select_range=(k - 1, k - 1))
  low = eigh_tridiagonal(a, b[:-1], eigvals_only=True, select="i", select_range=(0, 0))
  resid = abs(float(b[-1]) * float(v[-1, 0]))
  return float(w[0]), resid, max(abs(float(w[0])), abs(float(low[0]))) + shift + 1e-300


def _operator(kind, obj, dat):
  """(project, apply) for a block: (B, d) -> (B, d)."""
  hvp = jax.vmap(obj.hvp)
  if kind == "tangent":
    u, mu, delta = dat["u"], dat["mu"], dat["delta"]

    def proj(v):
      return v - jnp.sum(u * v, axis=1, keepdims=True) * u

    def op(v):
      v = proj(v)
      return proj(hvp(delta, v) - mu[:, None] * v)
  else:
    f, delta = dat["f"], dat["delta"]

    def proj(v):
      return f * v

    def op(v):
      return f * hvp(delta, f * v)
  return proj, op


@partial(jax.jit, static_argnames=("kind", "kcap"))
def _start(obj, dat, key, *, kind, kcap):
  proj, _ = _operator(kind, obj, dat)
  B, d = dat["delta"].shape
  dtype = dat["delta"].dtype
  # One random vector for every endpoint, projected on each one's subspace: the start
  # depends on the endpoint only, never on its block.
  z = jax.random.normal(jax.random.fold_in(key, 0x4C7A), (2, d), dtype)
  q0, q1 = proj(jnp.broadcast_to(z[0], (B, d))), proj(jnp.broadcast_to(z[1], (B, d)))
  # Where the first vector lies almost along an endpoint's normal (a start without the
  # top eigenvector would converge to another eigenvalue), the second one is taken.
  poor = jnp.linalg.norm(q0, axis=1) < 0.5 * jnp.linalg.norm(z[0])
  q0 = jnp.where(poor[:, None], q1, q0)
  q0 = q0 / jnp.linalg.norm(q0, axis=1, keepdims=True)
  rows = -(-(kcap + 1) // _ROWS) * _ROWS  # whole panels of the reorthogonalisation
  Q = jnp.zeros((B, rows, d), dtype).at[:, 0].set(q0)
  return Q, jnp.zeros((B, kcap), dtype), jnp.zeros((B, kcap), dtype)


@partial(jax.jit, static_argnames=("kind",), donate_argnames=("Q", "alpha", "beta"))
def _steps(obj, dat, Q, alpha, beta, j0, steps, key, *, kind):
  """``steps`` Lanczos steps from step j0 for the whole block. One compiled shape serves
  every j: the reorthogonalisation loops over the panels of _ROWS rows filled so far, so
  its cost grows with j and not with the bases' capacity."""
  proj, op = _operator(kind, obj, dat)
  B, d = dat["delta"].shape
  dtype = Q.dtype
  floor = max(1e-10, 1e3 * float(jnp.finfo(dtype).eps))

  def orth(w, Q, j, passes):  # full reorthogonalisation, kept in the subspace
    def panel(c, w):
      Qc = jax.lax.dynamic_slice_in_dim(Q, c * _ROWS, _ROWS, axis=1)
      return w - jnp.einsum("bkd,bk->bd", Qc, jnp.einsum("bkd,bd->bk", Qc, w))

    n = j // _ROWS + 1
    for _ in range(passes):
      w = jax.lax.fori_loop(0, n, panel, w)
    return proj(w)

  def body(i, carry):
    Q, alpha, beta = carry
    j = j0 + i
    q = jax.lax.dynamic_index_in_dim(Q, j, axis=1, keepdims=False)
    w = op(q)
    a = jnp.sum(w * q, axis=1)
    # The three-term recurrence first, then one full reorthogonalisation pass: the
    # recurrence removes the large components, so one pass leaves w orthogonal to the
    # basis to working precision (Golub and Van Loan, section 10.3.1); the reading of Q,
    # which bounds a step's cost, is halved against two passes on the raw product.
    prev = jax.lax.dynamic_index_in_dim(Q, jnp.maximum(j - 1, 0), axis=1, keepdims=False)
    b_prev = jnp.where(j > 0, jax.lax.dynamic_index_in_dim(beta, jnp.maximum(j - 1, 0), axis=1,
                                                           keepdims=False), 0.0)
    w = w - a[:, None] * q - b_prev[:, None] * prev
    w = orth(w, Q, j, 1)
    b = jnp.linalg.norm(w, axis=1)
    alpha = jax.lax.dynamic_update_index_in_dim(alpha, a, j, axis=1)
    seen = jnp.arange(alpha.shape[1]) <= j
    scale = jnp.max(jnp.where(seen, jnp.abs(alpha) + jnp.abs(beta), 0.0), axis=1)
    # Breakdown (an invariant subspace is exhausted): w is rounding noise, and
    # normalising it would lose orthogonality and create spurious Ritz values.
    # Continue from a fresh random vector with beta_j = 0 (T decouples).
    broke = b <= floor * jnp.maximum(scale, b)

    def fresh(w):
      z = jax.random.normal(jax.random.fold_in(key, j + 1), (d,), dtype)
      z = orth(jnp.broadcast_to(z, (B, d)), Q, j, 2)
      z = z / jnp.maximum(jnp.linalg.norm(z, axis=1, keepdims=True), jnp.finfo(dtype).tiny)
      return jnp.where(broke[:, None], z, w)

    w = w / jnp.maximum(b, jnp.finfo(dtype).tiny)[:, None]
    w = jax.lax.cond(jnp.any(broke), fresh, lambda w: w, w)
    Q = jax.lax.dynamic_update_index_in_dim(Q, w, j + 1, axis=1)
    beta = jax.lax.dynamic_update_index_in_dim(beta, jnp.where(broke, 0.0, b), j, axis=1)
    return Q, alpha, beta

  return jax.lax.fori_loop(0, steps, body, (Q, alpha, beta))
