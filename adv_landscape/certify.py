"""Second-order certificates of PGA endpoints on the sphere ||delta|| = eps (docs/theory.md section 3).

  mu        = <delta, grad L> / eps^2                   (KKT multiplier)
  rgrad     = P grad L,  P = I - u u^T,  u = delta / ||delta||
  Hess_S[v] = P hess L v - mu v  for v orthogonal to u
  lambda_T  = the largest eigenvalue of Hess_S on the (d-1)-dim tangent space

lambda_T is computed exactly in float64: ``eigvalsh`` of
P (hess L - mu I) P - C u u^T with C > ||hess L|| + |mu| + 1, which sends the
normal direction to the bottom of the spectrum ("shift"), or of the tangent
block of the Householder-rotated matrix ("householder").

>>> import jax, numpy as np
>>> from adv_landscape.instances import problem
>>> from adv_landscape.network import init_network, synthetic_input
>>> net = init_network(jax.random.key(0), d=2, m=1, activation="linear")
>>> x = synthetic_input(jax.random.key(1), 2, 1.0)
>>> g = np.asarray(net.W.T @ net.a)                  # the gradient of f
>>> cert = certify(problem(net, "linear", x, -1.0, eps=1.0), (g / np.linalg.norm(g))[None])
>>> str(cert.classes[0])  # linear L: its Hess_S = -mu I, a strict maximum
'boundary_local_max'
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from adv_landscape.config import DENSE_MAX_D, HESSIAN_BLOCK_BYTES, Tolerances
from adv_landscape.errors import InvalidInput
from adv_landscape.geometry import householder, multiplier
from adv_landscape.hunt import Hunt, hunt_interior_critical  # noqa: F401  (re-exported)
from adv_landscape.lanczos import (  # noqa: F401
  LanczosResult,
  lambda_tangent_lanczos,
)
from adv_landscape.problem import Problem

__all__ = ["CLASSES", "Certificate", "ConcaveBall", "covering_ball", "certify", "require_smooth",
           "lambda_tangent_shift", "lambda_tangent_householder", "classify", "Hunt",
           "hunt_interior_critical", "lambda_tangent_lanczos", "LanczosResult"]

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
    n_active: on the l_inf ball, the number of coordinates on a face
      (``box.certify_box``); None on the l2 ball.
    inherited: where the endpoint was certified by a proof's ``ConcaveBall``
      instead of an eigenvalue (``certified_by`` "proof"); there
      ``lambda_tangent`` is NaN (not computed) and ``lambda_bound`` holds the
      ball's bound lambda_T <= -kappa, which the classification used.
    proof_radius: for those endpoints, a bound on the distance to the strict
      local maximum the ball holds (``certify``); NaN elsewhere.
    lambda_bound: the proof's upper bound on lambda_T where inherited, NaN elsewhere.
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
  n_active: np.ndarray | None = None
  inherited: np.ndarray | None = None
  proof_radius: np.ndarray | None = None
  lambda_bound: np.ndarray | None = None

  @property
  def certified_by(self) -> np.ndarray:
    """Per endpoint: "proof" where a proof's concave ball certified it, else "eigenvalue"."""
    inh = np.zeros(self.classes.shape, bool) if self.inherited is None else self.inherited
    return np.where(inh, "proof", "eigenvalue")


class ConcaveBall(NamedTuple):
  """A geodesic ball of the sphere on which Hess_S L <= -kappa, from a proof.

  ``proof.prove_maximum`` shows, for its centre p and radius r
  (``Proof.unique_ball``, ``unique_kappa``, ``unique_ell``), that every unit
  tangent vector v at every point delta of the sphere within geodesic
  distance r of p has Hess_S L(delta)[v, v] <= -kappa, and ||hess L(delta)||
  <= ell. So lambda_T(delta) <= -kappa at all those points: a certificate
  needs no eigenvalue there.
  """

  centre: np.ndarray
  radius: float
  kappa: float
  ell: float
  grad_rounding: float = 0.0  # bounds the rounding of ||rgrad L|| computed in the ball


def covering_ball(deltas, balls, eps: float) -> np.ndarray:
  """For each endpoint, the index of the first ball holding its projection eps delta /
  ||delta|| on the sphere (geodesic distance 2 eps asin(||a - b|| / 2eps), stable for
  small distances), or -1."""
  deltas = np.asarray(deltas, np.float64)
  out = np.full(deltas.shape[0], -1)
  if not balls or not deltas.size:
    return out
  e = eps * deltas / np.maximum(np.linalg.norm(deltas, axis=1, keepdims=True), 1e-300)
  dist = {}  # nested balls share a centre: one pass over the endpoints per centre
  for n in reversed(range(len(balls))):  # the first ball wins
    c = np.asarray(balls[n].centre, np.float64)
    key = c.tobytes()
    if key not in dist:
      chord = np.linalg.norm(e - c, axis=1)
      dist[key] = 2.0 * eps * np.arcsin(np.minimum(chord / (2.0 * eps), 1.0))
    out[dist[key] <= balls[n].radius] = n
  return out


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


def _one(obj, eps, delta, method):
  val = obj.value(delta)
  g = obj.grad(delta)
  nrm = jnp.linalg.norm(delta)
  safe = jnp.where(nrm > 0, delta, jnp.ones_like(delta))  # lambda_T is unused at 0
  u = safe / jnp.linalg.norm(safe)
  out = dict(values=val, norm=nrm, grad_norm=jnp.linalg.norm(g),
             rgrad_norm=jnp.linalg.norm(g - jnp.dot(u, g) * u),
             multiplier=jnp.dot(delta, g) / eps**2)
  if method == "first_order":  # no Hessian: lambda_T is computed separately, if needed
    return out
  H = obj.hess(delta)
  M = (tangent_matrix_shift if method == "shift" else tangent_matrix_householder)(
      safe, g, H, eps)
  # The eigenvalues are taken on the host (NumPy's LAPACK): eigvalsh inside
  # this batched executable hung the XLA CPU runtime (jaxlib 0.10.2) on some
  # inputs, and a certificate that never returns is worse than a copy.
  return dict(out, tangent_matrix=M, hess_fro=jnp.linalg.norm(H))


def classify(norm_ratio, grad_norm, rgrad_norm, mu, lambda_t, lambda_hess, *, eps, tol_b,
             tol_g, tol_h, lambda_hess_min=None, verified=None) -> np.ndarray:
  """The classes of docs/theory.md section 3, elementwise over NumPy arrays.

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


def require_smooth(problem: Problem) -> None:
  """Refuses a two-layer network with ReLU: certificates need a second derivative."""
  net = getattr(problem.objective, "net", None)
  if net is not None and not net.act.smooth:
    raise InvalidInput(
        f"activation={net.activation!r}: certificates need a second derivative, and ReLU's "
        f"curvature is a distribution (zero almost everywhere); use a smooth activation")


def prepare_endpoints(problem: Problem, deltas, tol_b):
  """(B, d) float64 endpoints, checked against the problem, and tol_b (by default the one of
  the endpoints' own dtype: the rounding of their norms)."""
  if tol_b is None:
    tol_b = Tolerances.for_dtype(np.asarray(deltas).dtype).tol_b
  deltas = np.asarray(deltas, np.float64)
  if deltas.ndim != 2 or deltas.shape[1] != problem.d:
    raise InvalidInput(f"deltas has shape {deltas.shape}; expected (B, {problem.d})")
  return deltas, tol_b


def default_certificate_tol_g(obj, d: int) -> float:
  """1e-5 ||grad L(0)||: the first-order tolerance of a certificate told none (float64 obj)."""
  return 1e-5 * max(float(jnp.linalg.norm(obj.grad(jnp.zeros(d, jnp.float64)))), 1e-300)


def certify(problem: Problem, deltas, *, tol_g=None, tol_b: float | None = None,
            rtol_h: float = Tolerances.rtol_h, method: str = "auto", block: int = 256,
            lanczos_k_max: int = 512, progress: bool = False,
            covered=(), first: dict | None = None) -> Certificate:
  """Certifies B endpoints (B, d) of a ``Problem`` on the l2 ball, in float64.

  Args:
    problem: the instance (``instances.problem``). deltas: (B, d) endpoints.
    tol_g: first-order tolerance on ||P grad L|| (and ||grad L|| inside), a
      float or one per endpoint (see ``ascent.certificate_tolerance``);
      default 1e-5 ||grad L(0)||.
    tol_b: relative distance to the sphere that counts as on it; default
      ``Tolerances.for_dtype(deltas.dtype).tol_b``.
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


  The objective's ``value``, ``grad``, ``hess`` and ``hvp`` are all it uses, so
  an ``AutodiffObjective`` is certified exactly as the closed form is.

  ``covered``: ``ConcaveBall``s from proofs. An endpoint that meets the
  first-order conditions and whose projection on the sphere lies in one of
  them inherits lambda_T <= -kappa from the proof instead of an eigenvalue
  computation (``Certificate.inherited``; its ``lambda_bound`` is then that
  bound, its ``lambda_tangent`` NaN, and tol_h uses the ball's bound ell on
  ||hess L||). The certificate
  is then about the projected point, which is within tol_b eps of the endpoint.
  Endpoints outside every ball are certified on their own. ``first``: the third
  output of ``kkt_points`` for these endpoints (rows alike), not computed again.

  Such an endpoint also gets a proof-grade radius at the cost of one gradient:
  the ball is geodesically convex and holds the proof's maximiser delta*; along
  the geodesic from the projection p to delta*, phi = L o gamma has
  phi'(0) <= ||rgrad L(p)|| and phi'' <= -kappa, and phi'(t*) = 0, so
  t* <= ||rgrad L(p)|| / kappa. ``proof_radius`` = ||rgrad L(p)|| / kappa +
  ||delta - p|| bounds ||delta - delta*|| (chord <= arc).
  """
  require_smooth(problem)
  if method not in ("auto", "shift", "householder", "lanczos"):
    raise InvalidInput(f"method={method!r} is unknown; choose auto, shift, householder or lanczos")
  deltas, tol_b = prepare_endpoints(problem, deltas, tol_b)
  d = problem.d
  if method == "auto":
    # Measured (benchmarks/certify.py): Lanczos 6x faster than dense at d = 784.
    method = "shift" if d <= DENSE_MAX_D else "lanczos"
  with jax.enable_x64(True):
    problem = problem.astype(jnp.float64)
    obj = problem.objective
    eps = float(problem.constraint.eps)
    if tol_g is None:
      tol_g = default_certificate_tol_g(obj, d)
    e = problem.constraint.eps
    # First order for every endpoint (cheap), then lambda_T only where the
    # first-order KKT conditions hold: elsewhere the class is "not_stationary"
    # whatever lambda_T is, and it is left NaN.
    out, tg, need = _first_order(obj, e, deltas, tol_g, tol_b, block, progress, first)
    norm_ratio = out["norm"] / eps
    out["lambda_tangent"] = np.full(deltas.shape[0], np.nan)
    out["hess_scale"] = np.full(deltas.shape[0], np.nan)
    verified = np.ones(deltas.shape[0], bool)
    inherited = np.zeros(deltas.shape[0], bool)
    radius = np.full(deltas.shape[0], np.nan)
    bound = np.full(deltas.shape[0], np.nan)
    if len(covered) and need.any():
      idx = np.flatnonzero(need)
      ball = covering_ball(deltas[idx], covered, eps)
      hit = ball >= 0
      idx, ball = idx[hit], ball[hit]
      kappa = np.asarray([covered[b].kappa for b in ball], np.float64)
      bound[idx] = -kappa  # lambda_tangent stays NaN there: no eigenvalue was computed
      out["hess_scale"][idx] = [covered[b].ell for b in ball]
      inherited[idx] = True
      need = need & ~inherited
      if idx.size:
        p = eps * deltas[idx] / np.linalg.norm(deltas[idx], axis=1, keepdims=True)
        at_p, _, _ = _first_order(obj, e, p, 0.0, tol_b, block, False)
        e_g = np.asarray([covered[b].grad_rounding for b in ball], np.float64)
        u, dd = np.finfo(np.float64).eps / 2, deltas.shape[1]
        # rounding: of the gradient (the ball's bound), and of p and the distance
        gap = np.linalg.norm(deltas[idx] - p, axis=1)
        radius[idx] = ((at_p["rgrad_norm"] + e_g) / kappa + gap * (1 + (dd + 8) * u * 2)
                       + 3 * (dd + 2) * u * eps) * (1 + 16 * u)
    if need.any():
      if method == "lanczos":
        def second(b):  # float32 iterations, float64 where the decision needs it
          lz = lambda_tangent_lanczos(obj, b, eps=eps, k_max=lanczos_k_max,
                                      precision="mixed", rtol_h=rtol_h)
          return {"lambda_tangent": lz.lambda_tangent, "hess_scale": lz.scale,
                  "verified": lz.verified}
        size = 65536  # the Lanczos blocks are formed inside
      else:
        def second(b):
          res = _certify_batch(obj, e, jnp.asarray(b), method=method)
          return {"lambda_tangent": np.linalg.eigvalsh(np.asarray(res["tangent_matrix"]))[:, -1],
                  "hess_scale": np.asarray(res["hess_fro"]),  # Frobenius >= spectral
                  "verified": np.ones(b.shape[0], bool)}  # dense eigvalsh is exact
        size = max(1, min(block, int(HESSIAN_BLOCK_BYTES // (8 * d * d))))  # Hessians per block
      sec = _blocks(second, deltas[need], size, progress, pad=method != "lanczos")
      out["lambda_tangent"][need] = sec["lambda_tangent"]
      out["hess_scale"][need] = sec["hess_scale"]
      verified[need] = sec["verified"]
      if method == "lanczos":  # Lanczos' scale is max |Ritz value| + |mu|
        out["hess_scale"][need] -= np.abs(out["multiplier"][need])
    inside = (norm_ratio < 1.0 - tol_b) & (out["grad_norm"] <= tg)
    lam_h = np.full(deltas.shape[0], np.nan)
    lam_hmin = np.full(deltas.shape[0], np.nan)
    if inside.any():  # the spectrum of hess L where it matters: interior critical points
      Hs = jax.vmap(obj.hess)(jnp.asarray(deltas[inside]))
      eigs = np.linalg.eigvalsh(np.asarray(Hs))
      lam_h[inside], lam_hmin[inside] = eigs[:, -1], eigs[:, 0]
      out["hess_scale"][inside] = np.abs(eigs).max(axis=1)  # ||hess L||_2, for tol_h
  tol_h = rtol_h * (out["hess_scale"] + np.abs(out["multiplier"]))
  decisive = np.where(inherited, bound, out["lambda_tangent"])  # the eigenvalue or the bound
  classes = classify(norm_ratio, out["grad_norm"], out["rgrad_norm"], out["multiplier"],
                     decisive, lam_h, eps=eps, tol_b=tol_b, tol_g=tol_g,
                     tol_h=tol_h, lambda_hess_min=lam_hmin, verified=verified)
  interior_max = classes == "interior_local_max"
  return Certificate(classes, out["values"], norm_ratio, out["grad_norm"], out["rgrad_norm"],
                     out["multiplier"], out["lambda_tangent"], lam_h, interior_max,
                     float(tol_b), np.broadcast_to(np.asarray(tol_g, np.float64),
                                                   deltas.shape[:1]), tol_h,
                     "lanczos" if method == "lanczos" else f"dense-{method}", lam_hmin,
                     inherited=inherited, proof_radius=radius, lambda_bound=bound)


def _first_order(obj, e, deltas, tol_g, tol_b, block, progress, first=None):
  """The first-order quantities of every endpoint (``first`` where already computed for
  these endpoints), tol_g per endpoint, and where the KKT conditions on the sphere hold
  (float64 ``obj``)."""
  out = dict(first) if first is not None else _blocks(
      lambda b: _certify_batch(obj, e, jnp.asarray(b), method="first_order"),
      deltas, min(block * 16, 8192), progress)
  eps = float(e)
  tg = np.broadcast_to(np.asarray(tol_g, np.float64), deltas.shape[:1])
  need = (np.abs(out["norm"] / eps - 1.0) <= tol_b) & (out["rgrad_norm"] <= tg) & (
      out["multiplier"] * eps >= -tg)
  return out, tg, need


def kkt_points(problem: Problem, deltas, *, tol_g, tol_b: float | None = None,
               block: int = 256) -> tuple[np.ndarray, np.ndarray, dict]:
  """(values, mask, first): L at each endpoint, where the first-order KKT conditions of
  the sphere hold (the endpoints a second-order certificate would look at), and the
  first-order arrays, which ``certify(first=...)`` takes instead of computing
  them again."""
  deltas, tol_b = prepare_endpoints(problem, deltas, tol_b)
  with jax.enable_x64(True):
    problem = problem.astype(jnp.float64)
    out, _, need = _first_order(problem.objective, problem.constraint.eps, deltas, tol_g,
                                tol_b, block, False)
  return out["values"], need, out


def _blocks(fn, deltas, size, progress, pad=True):
  """fn over blocks of `size` rows (the last padded, so one trace, unless not ``pad``),
  concatenated. Padded blocks hold a power of two rows when there are fewer than ``size``:
  the count of endpoints to certify differs from one run to the next, and each new count
  was a new compilation (104 of them in 120 points of the quick verify grid, a quarter of
  its compile time)."""
  n = deltas.shape[0]
  size = max(1, min(size, 1 << max(n - 1, 0).bit_length() if pad else n))
  parts = []
  for i in tqdm(range(0, n, size), desc="certify", unit="block", leave=False,
                disable=not progress or n <= size):
    chunk = deltas[i:i + size]
    if pad:
      chunk = np.concatenate([chunk, np.repeat(chunk[-1:], size - chunk.shape[0], 0)])
    parts.append({k: np.asarray(v)[:min(size, n - i)] for k, v in fn(chunk).items()})
  return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


@partial(jax.jit, static_argnames=("method",))
def _certify_batch(obj, eps, deltas, *, method):
  # A plain vmap: eigvalsh inside lax.map's loop hung the XLA CPU runtime
  # (jaxlib 0.10.2, d = 32, 256 endpoints, under jax.enable_x64).
  return jax.vmap(lambda dl: _one(obj, eps, dl, method))(deltas)
