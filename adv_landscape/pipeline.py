"""One pipeline from an instance to a certified census: PGA, certificates, census, proofs.

``run_census`` is the only place where these steps are wired together; the
command line, the sweeps, the experiments and the benchmarks call it. The
first-order tolerance of each certificate is the one PGA's stopping rule
implies (``ascent.certificate_tolerance``, read from the result's own
``PGAConfig``); the tolerances come from one ``Tolerances`` object chosen from
the endpoints' dtype; the distinct maxima are clustered by one rule and then
merged where proofs show two clusters hold the same maximum.

>>> import jax
>>> from adv_landscape.instances import problem
>>> from adv_landscape.network import init_network, synthetic_input
>>> net = init_network(jax.random.key(0), d=4, m=8)
>>> x = synthetic_input(jax.random.key(1), 4, 1.0)
>>> run = run_census(problem(net, "quadratic", x, 1.0, eps=1.0), key=jax.random.key(2),
...                  n_restarts=8, config=PGAConfig(step_rule="grad0", step=0.1))
>>> run.summary["n_inits"], run.summary["distinct_maxima"] >= 1
(8, True)
"""

from __future__ import annotations

import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from adv_landscape import ascent
from adv_landscape import distributed as dist
from adv_landscape.census import Census, StreamingCensus, census_summary, merge_proved
from adv_landscape.certificates import certify_endpoints, endpoint_tolerance, fosc
from adv_landscape.certify import (
  CLASSES,
  Certificate,
  ConcaveBall,
  certify,
  covering_ball,
  kkt_points,
  require_smooth,
)
from adv_landscape.config import PGAConfig, Tolerances
from adv_landscape.errors import InvalidInput
from adv_landscape.network import forward
from adv_landscape.problem import Problem
from adv_landscape.proof import Proof, prove_endpoint

__all__ = ["PGAConfig", "Tolerances", "CensusRun", "run_census"]


class CensusRun(NamedTuple):
  """What ``run_census`` found.

  Attributes:
    result: the ``PGAResult`` (None when streamed: nothing is kept).
    certificate: the endpoints' ``Certificate`` (None when streamed).
    census: the merged ``Census`` (None when streamed).
    proofs: one ``proof.Proof`` per distinct maximum, in ``maxima`` order
      (empty when streamed or ``prove=False``).
    maxima: the distinct maxima, best first, as dicts (delta, value, kind,
      count, basin_fraction, lambda_tangent, lambda_hess, multiplier and, with
      proofs, proof_radius and proof_note).
    summary: the numbers a person reads first (see the README's census JSON).
    tolerances: the ``Tolerances`` used. config: the ``PGAConfig`` used.
    tol_certificate_max: the largest per-endpoint certificate tolerance.
    iteration_histogram: counts per iteration number (streamed runs only).
    fosc: the FOSC of every endpoint (``certificates.fosc``; None when streamed).
  """

  result: ascent.PGAResult | None
  certificate: Certificate | None
  census: Census | None
  proofs: list
  maxima: list
  summary: dict
  tolerances: Tolerances
  config: PGAConfig
  tol_certificate_max: float
  iteration_histogram: np.ndarray | None = None
  fosc: np.ndarray | None = None  # per endpoint (``certificates.fosc``); None when streamed


def run_census(problem: Problem, *, key: jax.Array, n_restarts: int,
               config: PGAConfig | None = None, ell: float | None = None,
               tolerances: Tolerances | None = None, prove: bool = True,
               stream: bool = False, history: bool = False,
               progress: bool = False) -> CensusRun:
  """PGA from ``n_restarts`` starts, certificates, census and proofs, in one call.

  Args:
    problem: the instance (``instances.problem``: an objective on a constraint set, the l2
      ball or the box); key: PRNG key.
    config: how PGA runs (default ``PGAConfig()``). ell: the curvature constant for the ``lipschitz``
      and ``curvature`` rules (computed when None).
    tolerances: default ``Tolerances.for_dtype(x.dtype)`` (tol_c included).
    prove: try to prove each distinct maximum and merge clusters that hold the
      same one (``census.merge_proved``); endpoints in a proof's concave ball
      inherit its certificate (``_certify``; on the l2 ball of a two-layer network).
    stream: reduce chunk by chunk (``census.StreamingCensus``), keeping no
      endpoints; proofs then serve the certificates only and are not reported.
    history: keep PGA's value history (runs every step; not with stream).
    progress: progress bars.

  Proofs need the closed-form constants of a two-layer network; for other objectives each
  maximum's ``proof_note`` says so.
  """
  require_smooth(problem)  # before any PGA: the certificates would refuse it afterwards
  config = config or PGAConfig()
  tols = tolerances or Tolerances.for_dtype(problem.dtype)
  kw = dict(key=key, n_restarts=n_restarts, init=config.init,
            step_rule=config.step_rule, step=config.step, max_steps=config.max_steps,
            tol_g=config.tol_g, chunk=config.chunk, check_every=config.check_every, ell=ell)
  eps = float(problem.constraint.eps)
  t0 = time.perf_counter()
  _preflight(problem, config)
  if stream:
    return _streamed(problem, eps, kw, config, tols, t0, progress, prove)
  if dist.size() > 1:
    if history:
      raise InvalidInput("history is kept by a single process only; run without many processes")
    res = _pga_everywhere(problem, kw)
  else:
    res = ascent.pga(problem, history=history, progress=progress, **kw)
  t_pga = time.perf_counter() - t0
  con = problem.constraint
  check_endpoints(problem, res)
  tol = endpoint_tolerance(res, problem, slack=tols.slack)
  proved: dict = {}
  cert = _certify(problem, res.deltas, tol, tols, [], proved, prove=prove, progress=progress)
  cs = census_summary(res.deltas, cert, eps=eps, tol_c=tols.tol_c)
  by_distance, proofs = cs.distinct, []
  if prove:
    obj = problem.objective
    if con.NORM == "inf":  # the box proofs; the sphere ones need the closed forms
      proofs = _box_proofs(cert, res.deltas, cs)
      cs, proofs = merge_proved(cs, res.deltas, proofs, eps=eps)
    elif obj.RIGOROUS:
      proofs = [proved[int(i)] if int(i) in proved else prove_endpoint(
          problem, res.deltas[i], tol_b=tols.tol_b) for i in cs.reps]
      cs, proofs = merge_proved(cs, res.deltas, proofs, eps=eps)
    else:
      proofs = [Proof(np.nan, np.nan, np.nan, np.nan, np.nan, str(k),
                      "no rigorous derivative bounds for this model") for k in cs.kinds]
      cs = cs._replace(proved_distinct=0)
  c_fosc = fosc(problem, res.deltas)
  maxima = []
  for n, (i, c) in enumerate(zip(cs.reps, cs.counts)):
    mx = {"delta": res.deltas[i], "value": float(cert.values[i]), "kind": str(cs.kinds[n]),
          "count": int(c), "basin_fraction": float(c) / cs.n,
          "lambda_tangent": float(cert.lambda_tangent[i]),
          "lambda_tangent_bound": _bound_at(cert, i), "certified_by": str(cert.certified_by[i]),
          "lambda_hess": float(cert.lambda_hess[i]), "multiplier": float(cert.multiplier[i]),
          "fosc": float(c_fosc[i])}
    if cert.n_active is not None:
      mx["n_active"] = int(cert.n_active[i])
    if prove:
      mx.update(proof_radius=proofs[n].radius, proof_note=proofs[n].reason,
                **_endpoint_radii(cert.proof_radius, cs.labels == n))
    maxima.append(mx)
  proved = np.array([np.isfinite(p.radius) for p in proofs], bool)
  summary = {
      "n_inits": cs.n, "certified_fraction": cs.certified_fraction,
      "distinct_maxima": cs.distinct, "distinct_maxima_by_distance": by_distance,
      "best_value": cs.best_value, "p_best": cs.p_best,
      "median_iterations": float(np.median(res.iterations)),
      "max_iterations": int(res.iterations.max()),
      "converged_fraction": float(res.converged.mean()), "class_counts": cs.class_counts,
      "fosc_median": float(np.median(c_fosc)), "fosc_max": float(np.max(c_fosc)),
      "stalled_inside": int(np.sum(~res.converged & (cert.norm_ratio < 1 - tols.tol_b))),
      "seconds_pga": t_pga, "seconds_total": time.perf_counter() - t0,
      "certified_by_proof": int(cert.inherited.sum()) if cert.inherited is not None else 0,
      **_endpoint_radii(cert.proof_radius, np.ones(cs.n, bool)),
  }
  if prove:
    summary.update(proved_fraction=float(cs.counts[proved].sum() / cs.n) if proved.size else 0.0,
                   proved_distinct_maxima=cs.proved_distinct)
  return CensusRun(res, cert, cs, proofs, maxima, summary, tols, res.config, float(tol.max()),
                   fosc=c_fosc)


def _bound_at(cert: Certificate, i: int) -> float:
  """The proof's bound on lambda_T at endpoint i where it was inherited, else NaN."""
  return float(cert.lambda_bound[i]) if cert.lambda_bound is not None else float("nan")


def _output_at(problem, delta) -> str:
  """' (network output u = ...)' at x + delta, where the model says, for messages."""
  obj = problem.objective
  try:
    with jax.enable_x64(True):
      z = jnp.asarray(obj.x, jnp.float64) + jnp.asarray(delta, jnp.float64)
      u = np.asarray(obj.apply(obj.params, z) if hasattr(obj, "apply") else
                     forward(obj.net.astype(jnp.float64), z))
    return f" (network output u = {np.array2string(u, precision=6)})"
  except Exception:  # a message helper: the report of the bad value matters, not this part
    return ""


def _preflight(problem: Problem, config: PGAConfig) -> None:
  """Checks, before any PGA, that L and grad L are finite at delta = 0 and that the
  stopping rule is not met there already (``InvalidInput`` naming the option)."""
  obj = problem.objective
  zero = jnp.zeros((problem.d,), problem.dtype)
  value, g = obj.value(zero), obj.grad(zero)
  g0 = float(jnp.linalg.norm(g))
  loss = getattr(obj.loss, "name", "the loss")
  if not (np.isfinite(float(value)) and np.isfinite(g0)):
    raise InvalidInput(f"loss={loss!r} is {float(value)} with gradient norm {g0} at x itself "
                       f"(delta = 0){_output_at(problem, np.zeros(problem.d))}; it must be "
                       f"finite on the outputs the network reaches")
  if config.tol_g is None and g0 == 0:
    raise InvalidInput("grad L(0) = 0, so the default tol_g (relative to ||grad L(0)||) is 0; "
                       "give --tol-g")
  if config.tol_g is not None and config.tol_g >= g0:
    raise InvalidInput(f"--tol-g {config.tol_g:g} is at least ||grad L(0)|| = {g0:.4g}: every "
                       f"restart would count as converged before its first step; give a "
                       f"smaller --tol-g (None means {Tolerances.for_dtype(problem.dtype).rtol_g:g}"
                       f" ||grad L(0)||)")


def check_endpoints(problem: Problem, res) -> None:
  """After PGA: no NaN carried on (a loss that is NaN on part of the range), and no
  stopping rule that held everywhere before a step (an eta so large that ||G|| <= D / eta
  <= tol_g on the whole set, D its diameter). ``InvalidInput`` naming the cause."""
  bad_delta = ~np.all(np.isfinite(res.deltas), axis=1)
  bad_value = ~np.isfinite(res.values) & ~bad_delta
  bad = bad_value | bad_delta
  if bad.any():
    i = int(np.flatnonzero(bad)[0])
    loss = getattr(problem.objective.loss, "name", "the loss")
    where = (f"at {int(bad.sum())} of {bad.size} restarts (the first at ||delta|| = "
             f"{float(np.linalg.norm(np.nan_to_num(res.deltas[i]))):.4g})"
             f"{_output_at(problem, np.nan_to_num(res.deltas[i]))}")
    if not bad_delta.any():
      raise InvalidInput(f"loss={loss!r} became NaN or inf during PGA {where}; it must be "
                         f"finite on every output the network reaches from the ball")
    raise InvalidInput(f"PGA's step became NaN {where}: the gradient vanished there (every "
                       f"unit saturated, ||grad L|| = 0 in {np.dtype(problem.dtype).name}), "
                       f"so a step scaled by 1 / ||grad L|| (normalized, grad0) is undefined; "
                       f"give a smaller --eps or --gamma, or --x64")
  eta = np.asarray(res.eta, np.float64)
  rule = res.config.step_rule if res.config is not None else ""
  diameter = problem.constraint.diameter(problem.d)
  fixed_length = res.config is not None and (res.config.normalized or res.config.sign)
  if (not fixed_length and eta.size and np.all(res.iterations == 0)
          and diameter / float(eta.min()) <= res.tol_g):
    raise InvalidInput(f"--step-rule {rule} gives eta = {float(eta.min()):.4g}, so large that "
                       f"||G(delta)|| <= diameter / eta = {diameter / float(eta.min()):.3g} <= "
                       f"tol_g = {res.tol_g:.3g} everywhere: every restart stopped before its "
                       f"first step; lower --step (or --tol-g)")


_MAX_CANDIDATES = 32  # maxima proved ahead of the certificates, per batch of endpoints


def _certify(problem, deltas, tol, tols, balls, proved, *, prove, progress,
             split: bool = True) -> Certificate:
  """Certificates of a batch of endpoints, each distinct maximum certified once where a
  proof allows it.

  On the sphere of a two-layer network with proofs on: the first-order KKT points
  outside the known balls are clustered (tol_c eps, best value first, at most
  _MAX_CANDIDATES clusters); each cluster's best endpoint is certified, and where it is
  a maximum, proved (``proof.prove_endpoint``). A proof's nested balls, from the smallest
  holding the maximiser to the unique ball (``Proof.concave``), are
  ``certify.ConcaveBall``s: Hess_S L <= -kappa at every point of each, so every endpoint
  that meets the first-order conditions there inherits lambda_T <= -kappa without an
  eigenvalue computation of its own; every other endpoint is certified on its own.
  That is a rigorous argument, not proximity: an endpoint within tol_c eps of a
  maximum but outside its ball gets its own Lanczos run. ``balls`` (a list) gathers the
  balls, so that later chunks of a stream inherit from earlier ones; ``proved`` (a dict)
  maps endpoint indices to their proofs. With many processes and ``split``, each
  process certifies its share of the endpoints (the candidates and proofs are made
  on every process, alike) and the shares are gathered.
  """
  con, obj = problem.constraint, problem.objective
  kw = dict(tol_b=tols.tol_b, rtol_h=tols.rtol_h)
  if not (prove and con.NORM == "2" and obj.RIGOROUS):
    return _by_rows(lambda r: certify_endpoints(problem, deltas[r], tol_g=np.asarray(tol)[r],
                                          progress=progress, **kw), deltas.shape[0], split)
  eps = float(con.eps)
  values, kkt, first = kkt_points(problem, deltas, tol_g=tol, tol_b=tols.tol_b)
  concave = [b for b in balls if b.kappa > 0]  # the others only mark a proof tried
  cand = np.flatnonzero(kkt & (covering_ball(deltas, concave, eps) < 0))
  reps: list[int] = []
  left = cand[np.argsort(-values[cand], kind="stable")]
  centres = {np.asarray(b.centre, np.float64).tobytes(): b.centre for b in balls}
  for c in centres.values():  # a proof was tried near these already
    left = left[_geodesic(deltas[left], c, eps) > tols.tol_c * eps]
  while left.size and len(reps) < _MAX_CANDIDATES:  # the best, then the best beyond tol_c
    reps.append(int(left[0]))
    left = left[_geodesic(deltas[left], deltas[left[0]], eps) > tols.tol_c * eps]
  if reps:
    rc = certify(problem, deltas[reps], tol_g=np.asarray(tol)[reps], **kw)
    for i, c in zip(reps, rc.classes):
      if c != "boundary_local_max":
        continue
      pr = prove_endpoint(problem, deltas[i], tol_b=tols.tol_b)
      proved[i] = pr
      if np.isfinite(pr.radius) and pr.concave:  # nested, smallest (tightest) first
        balls.extend(ConcaveBall(pr.centre, r, k, e, g) for r, k, e, g in pr.concave)
      else:  # tried: a later chunk does not try again near it (kappa 0: covers nothing)
        balls.append(ConcaveBall(np.asarray(deltas[i], np.float64), 0.0, 0.0, np.inf))
  concave = [b for b in balls if b.kappa > 0]
  return _by_rows(lambda r: certify(
      problem, deltas[r], tol_g=np.asarray(tol)[r], progress=progress, covered=concave,
      first={k: v[r] for k, v in first.items()}, **kw), deltas.shape[0], split)


def _endpoint_radii(radius, where) -> dict:
  """How many of the endpoints ``where`` have a proof-grade radius
  (``Certificate.proof_radius``), and the largest: each lies within it of a proved
  strict local maximum."""
  r = np.zeros(0) if radius is None else np.asarray(radius)[where]
  r = r[np.isfinite(r)]
  return {"endpoints_with_radius": int(r.size),
          "endpoint_radius_max": float(r.max()) if r.size else float("nan")}


def _geodesic(points, centre, eps) -> np.ndarray:
  """Geodesic distances on the sphere of radius eps between the projections of points
  (n, d) and of centre (``proof.distance``, vectorised)."""
  p = eps * points / np.maximum(np.linalg.norm(points, axis=1, keepdims=True), 1e-300)
  c = eps * centre / max(float(np.linalg.norm(centre)), 1e-300)
  return 2.0 * eps * np.arcsin(np.minimum(np.linalg.norm(p - c, axis=1) / (2.0 * eps), 1.0))


def _by_rows(fn, n, split) -> Certificate:
  """fn(rows) for all rows, or, with ``split`` and many processes, for this process's share
  of the rows, the shares gathered into one certificate on every process."""
  if not split or dist.size() == 1:
    return fn(np.arange(n))
  rows = np.array_split(np.arange(n), dist.size())[dist.rank()]
  cert = fn(rows)
  arrays = dict(_cert_arrays(cert), _rows=rows)
  full = {}
  for part in dist.gather(arrays):
    for k, v in part.items():
      if k not in full:
        full[k] = np.empty((n,) + v.shape[1:], v.dtype)
      full[k][part["_rows"]] = v
  full.pop("_rows")
  return _cert_from(full, cert)


def _cert_arrays(cert: Certificate) -> dict:
  """The per-endpoint arrays of a certificate, classes as codes (for ``dist.gather``)."""
  out = {k: np.asarray(v) for k, v in cert._asdict().items()
         if isinstance(v, np.ndarray) and k != "classes"}
  out["classes"] = np.searchsorted(np.asarray(_SORTED), cert.classes)
  return out


def _cert_from(arrays: dict, like: Certificate) -> Certificate:
  """A certificate from ``_cert_arrays``' arrays, its scalars from ``like``."""
  arrays = dict(arrays, classes=np.asarray(_SORTED)[arrays["classes"]].astype(str))
  return like._replace(**arrays)


_SORTED = sorted(CLASSES)


def _pga_everywhere(problem, kw) -> ascent.PGAResult:
  """PGA with the chunks split across processes (chunk i on process i mod N), gathered in
  chunk order on every process: the single process's result."""
  n_chunks = _chunks_for_everyone(kw)
  parts = list(ascent.pga_chunks(problem, progress=False, chunks=dist.mine(n_chunks),
                                 **kw))
  names = ("deltas", "values", "iterations", "converged", "grad_mapping_norm", "eta")
  if parts[0].evaluations is not None:
    names += ("evaluations",)
  local = {k: np.concatenate([np.asarray(getattr(p, k)) for p in parts]) for k in names}
  local["chunk"] = np.concatenate([np.full(len(p.deltas), i) for p, i in
                                   zip(parts, dist.mine(n_chunks))])
  every = dist.gather(local)
  ids = np.concatenate([e["chunk"] for e in every])
  order = np.argsort(ids, kind="stable")  # each chunk's rows stay in their order
  cat = {k: np.concatenate([e[k] for e in every])[order] for k in names}
  return ascent.PGAResult(*(cat[k] for k in names[:6]), history=None, tol_g=parts[0].tol_g,
                          config=parts[0].config, evaluations=cat.get("evaluations"))


def _chunks_for_everyone(kw) -> int:
  """The number of chunks, checked to give every process at least one."""
  n_chunks = -(-kw["n_restarts"] // min(kw["chunk"], kw["n_restarts"]))
  if n_chunks < dist.size():
    raise InvalidInput(f"{kw['n_restarts']} restarts in chunks of {kw['chunk']} make "
                       f"{n_chunks} chunks for {dist.size()} processes; lower --chunk to at "
                       f"most {max(1, kw['n_restarts'] // dist.size())}")
  return n_chunks


def _box_proofs(cert, deltas, cs) -> list:
  """Proofs on the box: a certified vertex is itself a strict local maximum.

  At a vertex every coordinate is active and the certificate checked every
  multiplier lambda_i = sign(delta_i) d_i L > tol_g > 0, so for each feasible
  direction v (sign(delta_i) v_i <= 0), grad L . v <= -tol_g ||v||_1 < 0: L
  decreases to first order, and the vertex, which PGA's clipping reaches
  exactly, is a strict local maximum (radius 0). On a face with free
  coordinates, or inside, no proof is attempted (the reason says so).
  """
  out = []
  for n, i in enumerate(cs.reps):
    if cert.n_active[i] == deltas.shape[1] and str(cs.kinds[n]) == "boundary":
      out.append(Proof(0.0, 0.0, float(cert.multiplier[i]), np.nan, 0.0, "boundary",
                       "a vertex with every multiplier above tol_g (first-order sufficient)",
                       np.asarray(deltas[i], np.float64), 0.0))
    else:
      out.append(Proof(np.nan, np.nan, np.nan, np.nan, np.nan, str(cs.kinds[n]),
                       "proofs on the box's faces and inside it are not implemented"))
  return out


def _streamed(problem, eps, kw, config, tols, t0, progress, prove) -> CensusRun:
  """Chunk by chunk; with many processes in rounds: in round r process p runs chunk
  r N + p (PGA and certificates), every process receives the round's chunks and
  reduces them in chunk order, so each holds the single process's census (the proof
  balls found in a round serve from the next round on)."""
  from tqdm.auto import tqdm

  stream = StreamingCensus(eps=eps, tol_c=tols.tol_c, max_steps=config.max_steps)
  n_chunks = _chunks_for_everyone(kw) if dist.size() > 1 else \
      -(-kw["n_restarts"] // min(config.chunk, kw["n_restarts"]))
  stalled, tol_max, used, t_pga, balls, inherited = 0, 0.0, config, 0.0, [], 0
  like = empty = None
  bar = tqdm(total=n_chunks, desc="chunks", disable=not progress or n_chunks == 1)
  for first in range(0, n_chunks, dist.size()):
    mine = first + dist.rank()
    if mine < n_chunks:
      t = time.perf_counter()
      part = next(iter(ascent.pga_chunks(problem, progress=False, chunks=[mine],
                                         **kw)))
      t_pga += time.perf_counter() - t
      check_endpoints(problem, part)
      tol = endpoint_tolerance(part, problem, slack=tols.slack)
      known = len(balls)
      cert = _certify(problem, part.deltas, tol, tols, balls, {}, prove=prove, progress=False,
                      split=False)
      local = dict(_cert_arrays(cert), deltas=part.deltas, iterations=part.iterations,
                   converged=part.converged, tol=np.asarray(tol, np.float64),
                   **_ball_arrays(balls[known:], problem.d))
      del balls[known:]  # every process adds the round's balls below, in chunk order
      like, used = like or cert, part.config
      empty = empty or {k: v[:0] for k, v in local.items()}
    else:  # past the last chunk (never in round 0): send nothing, in the right shapes
      local = empty
    for arrays in dist.gather(local):
      if not len(arrays["deltas"]):
        continue
      c = _cert_from({k: v for k, v in arrays.items() if k in Certificate._fields}, like)
      stream.update(arrays["deltas"], c, arrays["iterations"], arrays["converged"])
      if c.inherited is not None:
        inherited += int(c.inherited.sum())
      stalled += int(np.sum(~arrays["converged"] & (c.norm_ratio < 1 - tols.tol_b)))
      tol_max = max(tol_max, float(arrays["tol"].max()))
      balls.extend(_balls_from(arrays))
      bar.update()
  bar.close()
  summary = stream.summary()
  summary.update(seconds_pga=t_pga, seconds_total=time.perf_counter() - t0,
                 stalled_inside=stalled, certified_by_proof=inherited)
  hist = stream.iteration_histogram[:summary["max_iterations"] + 1]
  return CensusRun(None, None, None, [], stream.maxima(), summary, tols, used, tol_max, hist)


def _ball_arrays(balls, d) -> dict:
  return {"ball_centre": np.asarray([b.centre for b in balls], np.float64).reshape(-1, d),
          "ball_radius": np.asarray([b.radius for b in balls], np.float64),
          "ball_kappa": np.asarray([b.kappa for b in balls], np.float64),
          "ball_ell": np.asarray([b.ell for b in balls], np.float64),
          "ball_rounding": np.asarray([b.grad_rounding for b in balls], np.float64)}


def _balls_from(arrays) -> list:
  return [ConcaveBall(c, float(r), float(k), float(e), float(g)) for c, r, k, e, g in zip(
      arrays["ball_centre"], arrays["ball_radius"], arrays["ball_kappa"], arrays["ball_ell"],
      arrays["ball_rounding"])]
