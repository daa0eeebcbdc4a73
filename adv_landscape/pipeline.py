"""One pipeline from an instance to a certified census: PGA, certificates, census, proofs.

``run_census`` is the only place where these steps are wired together; the
command line, the sweeps, the experiments and the benchmarks call it. The
first-order tolerance of each certificate is the one PGA's stopping rule
implies (``ascent.certificate_tolerance``, read from the result's own
``PGAConfig``); the tolerances come from one ``Tolerances`` object chosen from
the endpoints' dtype; the distinct maxima are clustered by one rule and then
merged where proofs show two clusters hold the same maximum.

>>> import jax
>>> from adv_landscape.network import init_network, synthetic_input
>>> net = init_network(jax.random.key(0), d=4, m=8)
>>> x = synthetic_input(jax.random.key(1), 4, 1.0)
>>> run = run_census(net, "quadratic", x, 1.0, eps=1.0, key=jax.random.key(2), n_restarts=8,
...                  config=PGAConfig(step_rule="grad0", step=0.1))
>>> run.summary["n_inits"], run.summary["distinct_maxima"] >= 1
(8, True)
"""

from __future__ import annotations

import time
from typing import NamedTuple

import jax
import numpy as np

from adv_landscape import ascent
from adv_landscape.census import Census, StreamingCensus, census_summary, merge_proved
from adv_landscape.certify import Certificate, require_smooth
from adv_landscape.config import PGAConfig, Tolerances
from adv_landscape.losses import Loss
from adv_landscape.network import Network
from adv_landscape.problem import LinfBall, Problem, TwoLayerObjective
from adv_landscape.proof import Proof, prove_maxima

__all__ = ["PGAConfig", "Tolerances", "CensusRun", "run_census", "run_census_problem"]


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


def run_census(net: Network, loss: Loss | str, x, y, *, eps: float, key: jax.Array,
               n_restarts: int, config: PGAConfig | None = None, ell: float | None = None,
               tolerances: Tolerances | None = None, prove: bool = True, stream: bool = False,
               history: bool = False, progress: bool = False, norm: str = "2") -> CensusRun:
  """PGA from ``n_restarts`` starts, certificates, census and proofs, in one call.

  Args:
    net, loss, x, y: the instance; eps: the ball's radius; key: PRNG key.
    config: how PGA runs (default ``PGAConfig()``). ell: the curvature constant for the ``lipschitz``
      and ``curvature`` rules (computed when None).
    tolerances: default ``Tolerances.for_dtype(x.dtype)`` (tol_c included).
    prove: try to prove each distinct maximum and merge clusters that hold the
      same one (``census.merge_proved``).
    stream: reduce chunk by chunk (``census.StreamingCensus``), keeping no
      endpoints; no proofs then.
    history: keep PGA's value history (runs every step; not with stream).
    progress: progress bars.
    norm: "2" (the l2 ball, the paper's) or "inf" (the box, l_inf PGD).
  """
  return run_census_problem(Problem.two_layer(net, loss, x, y, eps=eps, norm=norm), key=key,
                            n_restarts=n_restarts, config=config, ell=ell,
                            tolerances=tolerances, prove=prove, stream=stream, history=history,
                            progress=progress)


def run_census_problem(problem: Problem, *, key: jax.Array, n_restarts: int,
                       config: PGAConfig | None = None, ell: float | None = None,
                       tolerances: Tolerances | None = None, prove: bool = True,
                       stream: bool = False, history: bool = False,
                       progress: bool = False) -> CensusRun:
  """``run_census`` for any ``Problem``. Proofs need the closed-form constants of a
  two-layer network; for other objectives each maximum's ``proof_note`` says so."""
  require_smooth(problem)  # before any PGA: the certificates would refuse it afterwards
  config = config or PGAConfig()
  tols = tolerances or Tolerances.for_dtype(problem.dtype)
  kw = dict(key=key, n_restarts=n_restarts, init=config.init,
            step_rule=config.step_rule, step=config.step, max_steps=config.max_steps,
            tol_g=config.tol_g, chunk=config.chunk, check_every=config.check_every, ell=ell)
  eps = float(problem.constraint.eps)
  t0 = time.perf_counter()
  if stream:
    return _streamed(problem, eps, kw, config, tols, t0, progress)
  res = ascent.pga_problem(problem, history=history, progress=progress, **kw)
  t_pga = time.perf_counter() - t0
  con = problem.constraint
  tol = con.certificate_tolerance(res, problem, slack=tols.slack)
  cert = con.certify(problem, res.deltas, tol_g=tol, tol_b=tols.tol_b, rtol_h=tols.rtol_h,
                     progress=progress)
  cs = census_summary(res.deltas, cert, eps=eps, tol_c=tols.tol_c)
  by_distance, proofs = cs.distinct, []
  if prove:
    obj = problem.objective
    if isinstance(con, LinfBall):
      proofs = _box_proofs(cert, res.deltas, cs)
      cs, proofs = merge_proved(cs, res.deltas, proofs, eps=eps)
    elif isinstance(obj, TwoLayerObjective):
      proofs = prove_maxima(obj.net, obj.loss, obj.x, obj.y, res.deltas[cs.reps], eps=eps,
                            tol_b=tols.tol_b)
      cs, proofs = merge_proved(cs, res.deltas, proofs, eps=eps)
    else:
      proofs = [Proof(np.nan, np.nan, np.nan, np.nan, np.nan, str(k),
                      "no rigorous derivative bounds for this model") for k in cs.kinds]
      cs = cs._replace(proved_distinct=0)
  maxima = []
  for n, (i, c) in enumerate(zip(cs.reps, cs.counts)):
    mx = {"delta": res.deltas[i], "value": float(cert.values[i]), "kind": str(cs.kinds[n]),
          "count": int(c), "basin_fraction": float(c) / cs.n,
          "lambda_tangent": float(cert.lambda_tangent[i]),
          "lambda_hess": float(cert.lambda_hess[i]), "multiplier": float(cert.multiplier[i])}
    if cert.n_active is not None:
      mx["n_active"] = int(cert.n_active[i])
    if prove:
      mx.update(proof_radius=proofs[n].radius, proof_note=proofs[n].reason)
    maxima.append(mx)
  proved = np.array([np.isfinite(p.radius) for p in proofs], bool)
  summary = {
      "n_inits": cs.n, "certified_fraction": cs.certified_fraction,
      "distinct_maxima": cs.distinct, "distinct_maxima_by_distance": by_distance,
      "best_value": cs.best_value, "p_best": cs.p_best,
      "median_iterations": float(np.median(res.iterations)),
      "max_iterations": int(res.iterations.max()),
      "converged_fraction": float(res.converged.mean()), "class_counts": cs.class_counts,
      "stalled_inside": int(np.sum(~res.converged & (cert.norm_ratio < 1 - tols.tol_b))),
      "seconds_pga": t_pga, "seconds_total": time.perf_counter() - t0,
  }
  if prove:
    summary.update(proved_fraction=float(cs.counts[proved].sum() / cs.n) if proved.size else 0.0,
                   proved_distinct_maxima=cs.proved_distinct)
  return CensusRun(res, cert, cs, proofs, maxima, summary, tols, res.config, float(tol.max()))


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


def _streamed(problem, eps, kw, config, tols, t0, progress) -> CensusRun:
  from tqdm.auto import tqdm

  stream = StreamingCensus(eps=eps, tol_c=tols.tol_c, max_steps=config.max_steps)
  n_chunks = -(-kw["n_restarts"] // min(config.chunk, kw["n_restarts"]))
  stalled, tol_max, used, t_pga = 0, 0.0, config, 0.0
  chunks = iter(ascent.pga_problem_chunks(problem, progress=False, **kw))
  bar = tqdm(total=n_chunks, desc="chunks", disable=not progress or n_chunks == 1)
  while True:
    t = time.perf_counter()  # the generator runs a chunk's PGA when asked for it
    part = next(chunks, None)
    t_pga += time.perf_counter() - t
    if part is None:
      break
    bar.update()
    con = problem.constraint
    tol = con.certificate_tolerance(part, problem, slack=tols.slack)
    cert = con.certify(problem, part.deltas, tol_g=tol, tol_b=tols.tol_b, rtol_h=tols.rtol_h)
    stream.update(part.deltas, cert, part.iterations, part.converged)
    stalled += int(np.sum(~part.converged & (cert.norm_ratio < 1 - tols.tol_b)))
    tol_max = max(tol_max, float(tol.max()))
    used = part.config
  bar.close()
  summary = stream.summary()
  summary.update(seconds_pga=t_pga, seconds_total=time.perf_counter() - t0,
                 stalled_inside=stalled)
  hist = stream.iteration_histogram[:summary["max_iterations"] + 1]
  return CensusRun(None, None, None, [], stream.maxima(), summary, tols, used, tol_max, hist)
