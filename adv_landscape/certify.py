"""Second-order certificates of PGA endpoints on the sphere ||delta|| = eps (SPEC 5).

  mu        = <delta, grad L> / eps^2                   (KKT multiplier)
  rgrad     = P grad L,  P = I - u u^T,  u = delta / ||delta||
  Hess_S[v] = P hess L v - mu v  for v orthogonal to u
  lambda_T  = the largest eigenvalue of Hess_S on the (d-1)-dim tangent space

lambda_T is computed exactly in float64: ``eigvalsh`` of
P (hess L - mu I) P - C u u^T with C > ||hess L|| + |mu| + 1, which sends the
normal direction to the bottom of the spectrum ("shift"), or of the tangent
block of the Householder-rotated matrix ("householder").

>>> import jax, numpy as np
>>> from adv_landscape.network import init_network, synthetic_input
>>> net = init_network(jax.random.key(0), d=2, m=1, activation="linear")
>>> x = synthetic_input(jax.random.key(1), 2, 1.0)
>>> g = np.asarray(net.W.T @ net.a)                  # the gradient of f
>>> cert = certify(net, "linear", x, -1.0, (g / np.linalg.norm(g))[None], eps=1.0)
>>> str(cert.classes[0])  # linear L: its Hess_S = -mu I, a strict maximum
'boundary_local_max'
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from adv_landscape import objective
from adv_landscape.geometry import householder, multiplier, project_ball
from adv_landscape.losses import Loss, get_loss
from adv_landscape.network import Network, validate_problem

__all__ = ["CLASSES", "Certificate", "certify", "lambda_tangent_shift",
           "lambda_tangent_householder", "classify", "Hunt", "hunt_interior_critical",
           "lambda_tangent_lanczos", "LanczosResult"]

CLASSES = ("boundary_local_max", "boundary_saddle", "degenerate", "interior_local_max",
           "interior_saddle", "interior_local_min", "unverified", "not_stationary")
MAXIMUM_CLASSES = ("boundary_local_max", "interior_local_max")  # what the census counts


class Certificate(NamedTuple):
  """Certificates of B endpoints (NumPy arrays of shape (B,)).

  Attributes:
    classes: one of ``CLASSES`` each.
    values: L(delta). norm_ratio: ||delta|| / eps. grad_norm: ||grad L||.
    rgrad_norm: ||P grad L||. multiplier: mu. lambda_tangent: lambda_T (NaN
      where the first-order conditions on the sphere fail: not computed).
    lambda_hess, lambda_hess_min: the largest and smallest eigenvalues of
      hess L, computed at interior first-order points only (NaN elsewhere).
      interior_max: interior critical points that are local maxima.
    tol_b, tol_g, tol_h: the tolerances used (tol_g and tol_h per endpoint).
    method: how lambda_T was computed.
  """

  classes: np.ndarray
  values: np.ndarray
  norm_ratio: np.ndarray
  grad_norm: np.ndarray
  rgrad_norm: np.ndarray
  multiplier: np.ndarray
  lambda_tangent: np.ndarray
  lambda_hess: np.ndarray
  interior_max: np.ndarray
  tol_b: float
  tol_g: np.ndarray
  tol_h: np.ndarray
  method: str
  lambda_hess_min: np.ndarray | None = None


def tangent_matrix_shift(delta, g, H, eps) -> jax.Array:
  """P (H - mu I) P - C u u^T, C = ||H||_F + |mu| + 1: its top eigenvalue is lambda_T."""
  d = delta.shape[0]
  u = delta / jnp.linalg.norm(delta)
  mu = multiplier(delta, g, eps)
  P = jnp.eye(d, dtype=H.dtype) - jnp.outer(u, u)
  C = jnp.linalg.norm(H) + jnp.abs(mu) + 1.0  # Frobenius >= spectral norm
  M = P @ (H - mu * jnp.eye(d, dtype=H.dtype)) @ P - C * jnp.outer(u, u)
  return 0.5 * (M + M.T)


def tangent_matrix_householder(delta, g, H, eps) -> jax.Array:
  """The (d-1, d-1) tangent block of Q (H - mu I) Q, Q the Householder reflector of u."""
  d = delta.shape[0]
  Q = householder(delta / jnp.linalg.norm(delta))
  mu = multiplier(delta, g, eps)
  M = (Q @ (H - mu * jnp.eye(d, dtype=H.dtype)) @ Q)[1:, 1:]
  return 0.5 * (M + M.T)


def lambda_tangent_shift(delta, g, H, eps) -> jax.Array:
  """lambda_T as the top eigenvalue of P (H - mu I) P - C u u^T."""
  return jnp.linalg.eigvalsh(tangent_matrix_shift(delta, g, H, eps))[-1]


def lambda_tangent_householder(delta, g, H, eps) -> jax.Array:
  """lambda_T as the top eigenvalue of the tangent block of Q (H - mu I) Q."""
  return jnp.linalg.eigvalsh(tangent_matrix_householder(delta, g, H, eps))[-1]


def _one(net, loss, x, y, eps, delta, method):
  val = objective.value(net, loss, x, y, delta)
  g = objective.grad(net, loss, x, y, delta)
  nrm = jnp.linalg.norm(delta)
  safe = jnp.where(nrm > 0, delta, jnp.ones_like(delta))  # lambda_T is unused at 0
  u = safe / jnp.linalg.norm(safe)
  out = dict(values=val, norm=nrm, grad_norm=jnp.linalg.norm(g),
             rgrad_norm=jnp.linalg.norm(g - jnp.dot(u, g) * u),
             multiplier=jnp.dot(delta, g) / eps**2)
  if method == "first_order":  # no Hessian: lambda_T is computed separately, if needed
    return out
  H = objective.hess(net, loss, x, y, delta)
  M = (tangent_matrix_shift if method == "shift" else tangent_matrix_householder)(
      safe, g, H, eps)
  # The eigenvalues are taken on the host (NumPy's LAPACK): eigvalsh inside
  # this batched executable hung the XLA CPU runtime (jaxlib 0.10.2) on some
  # inputs, and a certificate that never returns is worse than a copy.
  return dict(out, tangent_matrix=M, hess_fro=jnp.linalg.norm(H))


def classify(norm_ratio, grad_norm, rgrad_norm, mu, lambda_t, lambda_hess, *, eps, tol_b,
             tol_g, tol_h, lambda_hess_min=None, verified=None) -> np.ndarray:
  """The classes of SPEC 5 and 10, elementwise over NumPy arrays.

  On the sphere: first order (||P grad L|| <= tol_g, mu eps >= -tol_g), then
  lambda_T decides max / saddle / degenerate. The multiplier is compared
  through the normal gradient mu eps = <u, grad L>, so that tol_g, a
  gradient norm, applies to it with the right units. Inside the ball
  (||grad L|| <= tol_g) the spectrum of hess L decides: local max
  (lambda_max < -tol_h), local min (lambda_min > tol_h), saddle (both signs
  beyond tol_h), degenerate otherwise. ``verified`` (default all True) is
  False where the eigenvalue computation did not converge (Lanczos): such a
  first-order point is ``unverified``, never a maximum, because an
  unconverged top Ritz value lies below the true top eigenvalue.
  """
  on = np.abs(norm_ratio - 1.0) <= tol_b
  inside = norm_ratio < 1.0 - tol_b
  fo = on & (rgrad_norm <= tol_g)
  normal = mu * eps
  lam_min = np.full(norm_ratio.shape, np.nan) if lambda_hess_min is None else lambda_hess_min
  cls = np.full(norm_ratio.shape, "not_stationary", dtype=object)
  kkt = fo & (normal >= -tol_g)  # mu < 0: the gradient points inwards, not a KKT point
  cls[kkt & (lambda_t > tol_h)] = "boundary_saddle"
  cls[kkt & (np.abs(lambda_t) <= tol_h)] = "degenerate"
  cls[kkt & (normal > tol_g) & (lambda_t < -tol_h)] = "boundary_local_max"
  cls[kkt & (np.abs(normal) <= tol_g)] = "degenerate"
  crit = inside & (grad_norm <= tol_g)
  cls[crit] = "degenerate"  # unless the spectrum says otherwise
  cls[crit & (lambda_hess < -tol_h)] = "interior_local_max"
  cls[crit & (lam_min > tol_h)] = "interior_local_min"
  cls[crit & (lambda_hess > tol_h) & (lam_min < -tol_h)] = "interior_saddle"
  if verified is not None:
    cls[(kkt | crit) & ~np.asarray(verified, bool)] = "unverified"
  return cls.astype(str)


def certify(net: Network, loss: Loss | str, x, y, deltas, *, eps: float,
            tol_g=None, tol_b: float = 1e-6, rtol_h: float = 1e-7,
            method: str = "auto", block: int = 256, lanczos_k_max: int = 512,
            progress: bool = False) -> Certificate:
  """Certifies B endpoints (B, d) in float64.

  Args:
    net, loss, x, y: the instance. deltas: (B, d) endpoints. eps: radius.
    tol_g: first-order tolerance on ||P grad L|| (and ||grad L|| inside), a
      float or one per endpoint (see ``ascent.certificate_tolerance``);
      default 1e-5 ||grad L(0)||.
    tol_b: relative distance to the sphere that counts as on it.
    rtol_h: tol_h = rtol_h (||hess L|| + |mu|) per endpoint (Frobenius norm
      for the dense methods, the largest Ritz value for Lanczos).
    method: "shift" or "householder" (dense eigvalsh, exact), "lanczos"
      (matrix-free, residual-checked), or "auto": dense up to d = 256, Lanczos
      above. ``Certificate.method`` says which ran. An endpoint whose Lanczos
      residual misses its tolerance within ``lanczos_k_max`` steps is
      ``unverified``: the top Ritz value is a lower bound of lambda_T, so
      trusting it would err towards calling a saddle a maximum.
    block: endpoints per compiled (vmapped) second-order call, capped so that
      a block's Hessians take at most about 200 MB; the last block is padded,
      so one trace. lambda_T is computed only for endpoints that meet the
      first-order conditions on the sphere (NaN elsewhere: not_stationary).
    progress: show a progress bar over blocks.

  Returns:
    a ``Certificate``.
  """
  loss = get_loss(loss)
  if not net.act.smooth:
    raise ValueError(
        f"activation={net.activation!r}: certificates need a second derivative, and ReLU's "
        f"curvature is a distribution (zero almost everywhere); use a smooth activation")
  if method not in ("auto", "shift", "householder", "lanczos"):
    raise ValueError(f"method={method!r} is unknown; choose auto, shift, householder or lanczos")
  validate_problem(net, x, eps, y, loss=loss)
  deltas = np.asarray(deltas, np.float64)
  if deltas.ndim != 2 or deltas.shape[1] != np.shape(x)[0]:
    raise ValueError(f"deltas has shape {deltas.shape}; expected (B, {np.shape(x)[0]})")
  if method == "auto":
    # Measured (benchmarks/certify.py): Lanczos 6x faster than dense at d = 784.
    method = "shift" if deltas.shape[1] <= 256 else "lanczos"
  with jax.enable_x64(True):
    netx = net.astype(jnp.float64)
    xx = jnp.asarray(x, jnp.float64)
    if tol_g is None:
      tol_g = 1e-5 * max(float(jnp.linalg.norm(
          objective.grad(netx, loss, xx, y, jnp.zeros_like(xx)))), 1e-300)
    e = jnp.asarray(eps, jnp.float64)
    # First order for every endpoint (cheap), then lambda_T only where the
    # first-order KKT conditions hold: elsewhere the class is "not_stationary"
    # whatever lambda_T is, and it is left NaN.
    out = _blocks(lambda b: _certify_batch(netx, loss, xx, y, e, jnp.asarray(b),
                                           method="first_order"),
                  deltas, min(block * 16, 8192), progress)
    norm_ratio = out["norm"] / eps
    tg = np.broadcast_to(np.asarray(tol_g, np.float64), deltas.shape[:1])
    need = (np.abs(norm_ratio - 1.0) <= tol_b) & (out["rgrad_norm"] <= tg) & (
        out["multiplier"] * eps >= -tg)
    out["lambda_tangent"] = np.full(deltas.shape[0], np.nan)
    out["hess_scale"] = np.full(deltas.shape[0], np.nan)
    verified = np.ones(deltas.shape[0], bool)
    if need.any():
      d = deltas.shape[1]
      if method == "lanczos":
        def second(b):
          lz = lambda_tangent_lanczos(netx, loss, xx, y, b, eps=eps, k_max=lanczos_k_max)
          return {"lambda_tangent": lz.lambda_tangent, "hess_scale": lz.scale,
                  "verified": lz.residual <= lz.tol * lz.scale}
        size = block
      else:
        def second(b):
          res = _certify_batch(netx, loss, xx, y, e, jnp.asarray(b), method=method)
          return {"lambda_tangent": np.linalg.eigvalsh(np.asarray(res["tangent_matrix"]))[:, -1],
                  "hess_scale": np.asarray(res["hess_fro"]),  # Frobenius >= spectral
                  "verified": np.ones(b.shape[0], bool)}  # dense eigvalsh is exact
        size = max(1, min(block, int(2e8 // (8 * d * d))))  # B (d, d) Hessians per block
      sec = _blocks(second, deltas[need], size, progress)
      out["lambda_tangent"][need] = sec["lambda_tangent"]
      out["hess_scale"][need] = sec["hess_scale"]
      verified[need] = sec["verified"]
      if method == "lanczos":  # Lanczos' scale is max |Ritz value| + |mu|
        out["hess_scale"][need] -= np.abs(out["multiplier"][need])
    inside = (norm_ratio < 1.0 - tol_b) & (out["grad_norm"] <= tg)
    lam_h = np.full(deltas.shape[0], np.nan)
    lam_hmin = np.full(deltas.shape[0], np.nan)
    if inside.any():  # the spectrum of hess L where it matters: interior critical points
      Hs = jax.vmap(lambda dl: objective.hess(netx, loss, xx, y, dl))(jnp.asarray(deltas[inside]))
      eigs = np.linalg.eigvalsh(np.asarray(Hs))
      lam_h[inside], lam_hmin[inside] = eigs[:, -1], eigs[:, 0]
      out["hess_scale"][inside] = np.abs(eigs).max(axis=1)  # ||hess L||_2, for tol_h
  tol_h = rtol_h * (out["hess_scale"] + np.abs(out["multiplier"]))
  classes = classify(norm_ratio, out["grad_norm"], out["rgrad_norm"], out["multiplier"],
                     out["lambda_tangent"], lam_h, eps=eps, tol_b=tol_b, tol_g=tol_g,
                     tol_h=tol_h, lambda_hess_min=lam_hmin, verified=verified)
  interior_max = classes == "interior_local_max"
  return Certificate(classes, out["values"], norm_ratio, out["grad_norm"], out["rgrad_norm"],
                     out["multiplier"], out["lambda_tangent"], lam_h, interior_max,
                     float(tol_b), np.broadcast_to(np.asarray(tol_g, np.float64),
                                                   deltas.shape[:1]), tol_h,
                     "lanczos" if method == "lanczos" else f"dense-{method}", lam_hmin)


def _blocks(fn, deltas, size, progress):
  """fn over blocks of `size` rows (the last padded, so one trace), concatenated."""
  n = deltas.shape[0]
  size = max(1, min(size, n))
  parts = []
  for i in tqdm(range(0, n, size), desc="certify", unit="block", leave=False,
                disable=not progress or n <= size):
    chunk = deltas[i:i + size]
    pad = np.concatenate([chunk, np.repeat(chunk[-1:], size - chunk.shape[0], 0)])
    parts.append({k: np.asarray(v)[:chunk.shape[0]] for k, v in fn(pad).items()})
  return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


@partial(jax.jit, static_argnames=("loss", "method"))
def _certify_batch(net, loss, x, y, eps, deltas, *, method):
  # A plain vmap: eigvalsh inside lax.map's loop hung the XLA CPU runtime
  # (jaxlib 0.10.2, d = 32, 256 endpoints, under jax.enable_x64).
  return jax.vmap(lambda dl: _one(net, loss, x, y, eps, dl, method))(deltas)


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
                           newton_steps: int = 30, tol_b: float = 1e-6,
                           rtol_g: float = 1e-8, rtol_h: float = 1e-7) -> Hunt:
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
  ``zero`` starts) complements this search in the sweep.
  """
  from adv_landscape.geometry import sample_ball

  loss = get_loss(loss)
  with jax.enable_x64(True):
    netx = net.astype(jnp.float64)
    xx = jnp.asarray(x, jnp.float64)
    zero = jnp.zeros_like(xx)
    multi = loss.multi_output
    # grad f = grad of the linear loss -y u at y = -1, so one code path serves both.
    f_loss, f_y = (loss, y) if multi else (get_loss("linear"), -1.0)
    gf0 = float(jnp.linalg.norm(objective.grad(netx, f_loss, xx, f_y, zero)))
    gL0 = float(jnp.linalg.norm(objective.grad(netx, loss, xx, y, zero)))
    tol_f = rtol_g * max(gf0, 1e-300)
    starts = sample_ball(key, n_starts, xx.shape[0], 0.95 * eps, dtype=jnp.float64)
    half = n_starts if multi else n_starts // 2
    d_f = _hunt(netx, f_loss, xx, f_y, starts[:half], eps, descent_steps, newton_steps)
    parts = [d_f]
    if not multi:
      parts.append(_hunt(netx, loss, xx, y, starts[half:], eps, descent_steps, newton_steps))
    d_end = np.concatenate(parts)
    gf, _ = (np.asarray(v) for v in _grad_hess(netx, f_loss, xx, f_y, jnp.asarray(d_end)))
    gL, HL = (np.asarray(v) for v in _grad_hess(netx, loss, xx, y, jnp.asarray(d_end)))
    vals = np.asarray(jax.vmap(lambda dl: objective.value(netx, loss, xx, y, dl))(
        jnp.asarray(d_end)))
    if multi:
      lp = np.zeros(d_end.shape[0])
    else:
      fz = jax.vmap(lambda dl: objective.value(netx, f_loss, xx, f_y, dl))(jnp.asarray(d_end))
      lp = np.asarray(jax.vmap(lambda u: loss.grad(u, y))(fz))
  gfn, gLn = np.linalg.norm(gf, axis=1), np.linalg.norm(gL, axis=1)
  eig = np.linalg.eigvalsh(HL)
  strictly_in = np.linalg.norm(d_end, axis=1) < eps * (1 - tol_b)
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


@partial(jax.jit, static_argnames=("loss", "descent_steps"))
def _descend(net, loss, x, y, starts, eps, descent_steps):
  """Adam on ||grad L||^2 from each start (pure JAX, no LAPACK calls)."""

  def phi(delta):
    g = objective.grad(net, loss, x, y, delta)
    return jnp.dot(g, g)

  def one(delta):
    opt = optax.adam(0.01 * eps)

    def descend(carry, _):  # projected: the search stays strictly inside the ball
      dl, st = carry
      upd, st = opt.update(jax.grad(phi)(dl), st)
      return (project_ball(optax.apply_updates(dl, upd), 0.999 * eps), st), None

    (dl, _), _ = jax.lax.scan(descend, (delta, opt.init(delta)), None, length=descent_steps)
    return dl

  return jax.vmap(one)(starts)


@partial(jax.jit, static_argnames=("loss",))
def _grad_hess(net, loss, x, y, deltas):
  return (jax.vmap(lambda d: objective.grad(net, loss, x, y, d))(deltas),
          jax.vmap(lambda d: objective.hess(net, loss, x, y, d))(deltas))


def _hunt(net, loss, x, y, starts, eps, descent_steps, newton_steps):
  """Descent on ||grad L||^2, then least-squares Newton steps on grad L = 0 (host pinv)."""
  if starts.shape[0] == 0:
    return np.zeros((0, x.shape[0]))
  dl = np.asarray(_descend(net, loss, x, y, starts, eps, descent_steps))
  for _ in range(newton_steps):
    g, H = (np.asarray(v) for v in _grad_hess(net, loss, x, y, jnp.asarray(dl)))
    dl = dl - np.einsum("bij,bj->bi", np.linalg.pinv(H, rcond=1e-13, hermitian=True), g)
  return dl


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
  this is the shifted operator of SPEC 5 restricted to the complement of u,
  which has the same top eigenvalue. Each product costs O(m d). The Krylov
  dimension starts at k0 and doubles until every Ritz residual
  beta_k |s_k| <= tol (||hess L|| + |mu|), or k_max.

  References:
    Golub, Van Loan. Matrix Computations, 4th ed., 2013, section 10.1
    (Lanczos; the residual of a Ritz pair is beta_k |s_k|).
  """
  loss = get_loss(loss)
  with jax.enable_x64(True):
    netx = net.astype(jnp.float64)
    xx = jnp.asarray(x, jnp.float64)
    D = jnp.asarray(deltas, jnp.float64)
    d = D.shape[1]
    k = min(k0, k_max, d - 1)
    while True:
      alpha, beta, mu = (np.asarray(v) for v in _lanczos_batch(
          netx, loss, xx, y, jnp.asarray(eps, jnp.float64), D, jax.random.key(seed), k=k))
      lam, res, scale = _ritz(alpha, beta, mu)
      ok = bool(np.all(res <= tol * scale))
      if ok or k >= min(k_max, d - 1):
        return LanczosResult(lam, res, scale, k, ok, tol)
      k = min(2 * k, k_max, d - 1)


@partial(jax.jit, static_argnames=("loss", "k"))
def _lanczos_batch(net, loss, x, y, eps, deltas, key, *, k):
  keys = jax.random.split(key, deltas.shape[0])
  return jax.vmap(lambda dl, kk: _lanczos_one(net, loss, x, y, eps, dl, kk, k))(deltas, keys)


def _lanczos_one(net, loss, x, y, eps, delta, key, k):
  d = delta.shape[0]
  u = delta / jnp.linalg.norm(delta)
  g = objective.grad(net, loss, x, y, delta)
  mu = jnp.dot(delta, g) / eps**2

  def proj(v):
    return v - jnp.dot(u, v) * u

  def op(v):
    v = proj(v)
    return proj(objective.hvp(net, loss, x, y, delta, v) - mu * v)

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
  return alpha, beta, mu


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
