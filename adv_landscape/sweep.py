"""Resumable sweeps: one JSON-lines record per grid point (SPEC 7, 9).

A grid point fixes (d, m, s, gamma, loss, activation, step rule, tolerance,
seed). ``run_point`` builds the synthetic instance, runs PGA, certifies every
endpoint, takes the census, compares the iteration counts with T1 and T2, and
(optionally) hunts interior critical points. ``run_sweep`` appends each
finished record to a JSON-lines file, flushed and synced, and skips points
whose key is already there, so a killed sweep resumes where it stopped and
gives the records an uninterrupted run would.

Many hosts: call ``jax.distributed.initialize()`` in each process first; PGA
shards its restarts over the global device mesh, and only process 0 writes.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from typing import Callable, Iterable

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from adv_landscape import ascent, bounds, io, objective
from adv_landscape.census import census_summary, nonlinearity
from adv_landscape.certify import certify, hunt_interior_critical
from adv_landscape.losses import get_loss
from adv_landscape.network import init_network, synthetic_input

__all__ = ["GridPoint", "instance", "run_point", "run_sweep"]


@dataclasses.dataclass(frozen=True)
class GridPoint:
  """One instance and one PGA configuration of a sweep."""

  d: int
  m: int
  s: float
  gamma: float = 0.5
  loss: str = "quadratic"
  activation: str = "tanh"
  step_rule: str = "lipschitz"
  step: float = 1.0
  rtol_g: float = 1e-5
  seed: int = 0
  n_restarts: int = 128
  max_steps: int = 5000
  init: str = "sphere"
  hunt: bool = False

  @property
  def key(self) -> str:
    """A canonical string naming the point (the resume key)."""
    return json.dumps(dataclasses.asdict(self), sort_keys=True)


def instance(p: GridPoint):
  """The synthetic instance of a grid point: the network and xbar depend on
  (seed, d, m) only, so points that differ in s rescale the same input."""
  loss = get_loss(p.loss)
  base = jax.random.fold_in(jax.random.key(p.seed), p.d * 100_003 + p.m)
  k_net, k_x = jax.random.split(base)
  net = init_network(k_net, p.d, p.m, activation=p.activation,
                     n_outputs=3 if loss.multi_output else None, dtype=jnp.float64)
  x = synthetic_input(k_x, p.d, p.s, dtype=jnp.float64)
  y = 0 if loss.multi_output else 1.0
  eps = p.gamma * float(jnp.linalg.norm(x))
  return net, loss, x, y, eps


def run_point(p: GridPoint) -> dict:
  """Runs one grid point in float64 and returns its record."""
  t0 = time.perf_counter()
  with jax.enable_x64(True):
    net, loss, x, y, eps = instance(p)
    const = bounds.instance_constants(net, loss, x, y, eps)
    key = jax.random.fold_in(jax.random.key(p.seed), 1)
    sampled = bounds.sampled_constants(net, loss, x, y, eps, key=jax.random.fold_in(key, 1))
    tol_g = p.rtol_g * const.grad0
    res = ascent.pga(net, loss, x, y, key=key, eps=eps, n_restarts=p.n_restarts, init=p.init,
                     step_rule=p.step_rule, step=p.step, max_steps=p.max_steps, tol_g=tol_g,
                     ell=const.ell, chunk=p.n_restarts, progress=False)
    normalized = p.step_rule == "normalized"
    tol = ascent.certificate_tolerance(res, net, loss, x, y, eps, normalized=normalized)
    cert = certify(net, loss, x, y, res.deltas, eps=eps, tol_g=tol)
    cs = census_summary(res.deltas, cert, eps=eps)
    # T1 needs L(delta_0) of each restart: redraw the starts exactly as pga did
    # (one chunk, so fold_in(key, 0)).
    starts = ascent.initial_deltas(jax.random.fold_in(key, 0), p.init, p.n_restarts, net, loss,
                                   x, y, eps)
    L0 = np.asarray(jax.vmap(lambda dl: objective.value(net, loss, x, y, dl))(starts))
    fixed_step = p.step_rule in ("fixed", "lipschitz", "grad0")
    theorem = fixed_step and bool(np.all(res.eta <= 1.0 / const.ell * (1 + 1e-12)))
    t1 = bounds.t1_bound(const.L_max, L0, res.eta, tol_g) if fixed_step else np.full(
        p.n_restarts, np.nan)
    t2 = bounds.t2_bound(const.ell, const.L_max, L0, tol_g, p.d)
    viol = 0
    if theorem:  # a count above T1 (or no convergence by a budget above T1) is a bug
      over = (res.converged & (res.iterations > t1)) | (~res.converged & (p.max_steps > t1))
      viol = int(over.sum())
    hunt = None
    if p.hunt:
      h = hunt_interior_critical(net, loss, x, y, eps=eps, key=jax.random.fold_in(key, 2))
      hunt = {"n_starts": h.n_starts, "found": h.found, "interior_max": h.interior_max,
              "min_lambda_max": float(h.lambda_max.min()) if h.found else None,
              "tol_g": h.tol_g, "closest_relative_grad_norm": h.closest}
  return {
      "key": p.key, "point": dataclasses.asdict(p), "eps": eps,
      "constants": const._asdict(), "sampled": sampled._asdict(),
      "kappa": nonlinearity(eps, const.ell, const.grad0),
      "kappa_sampled": nonlinearity(eps, sampled.ell, const.grad0),
      "tol_g": tol_g, "tol_b": cert.tol_b, "eta_max": float(np.max(res.eta)),
      "eta_times_ell_max": float(np.max(res.eta) * const.ell), "theorem_applies": theorem,
      "iterations": res.iterations, "converged": res.converged,
      "t1": t1, "t2": t2, "t1_violations": viol,
      "class_counts": cs.class_counts, "certified_fraction": cs.certified_fraction,
      "certified": cert.classes == "boundary_local_max",
      "on_sphere_fraction": float(np.mean(np.abs(cert.norm_ratio - 1) <= cert.tol_b)),
      "interior_endpoints": int(np.sum(cert.norm_ratio < 1 - cert.tol_b)),
      "interior_maxima_at_endpoints": int(np.sum(cert.interior_max)),
      "lambda_tangent": cert.lambda_tangent, "multiplier": cert.multiplier,
      "distinct_maxima": cs.distinct, "best_value": cs.best_value, "p_best": cs.p_best,
      "basin_fractions": cs.basin_fractions, "hunt": hunt,
      "seconds": time.perf_counter() - t0,
  }


def run_sweep(points: Iterable[GridPoint], path, *, progress: bool = True,
              after_point: Callable[[int], None] | None = None) -> list[dict]:
  """Runs every point whose record is not yet in ``path``; returns all records in order.

  Args:
    points: the grid (duplicates are run once).
    path: the JSON-lines file of records; created if missing.
    progress: a progress bar over grid points, and a line on stderr when
      records already in ``path`` are reused.
    after_point: called with the count of points run so far in this call
      (tests use it to kill a sweep mid-way).
  """
  points = list(dict.fromkeys(points))
  done = {r["key"]: r for r in io.read_jsonl(path)}
  todo = [p for p in points if p.key not in done]
  if progress and len(todo) < len(points):  # say so: they may come from an older run
    print(f"resuming {path}: {len(points) - len(todo)} of {len(points)} grid points are "
          "already recorded there and are reused (delete the file to recompute them)",
          file=sys.stderr)
  writer = jax.process_index() == 0
  bar = tqdm(todo, desc="grid points", unit="pt", disable=not progress, leave=False)
  for i, p in enumerate(bar, start=1):
    bar.set_postfix_str(f"d={p.d} m={p.m} s={p.s} {p.loss} {p.step_rule}")
    rec = json.loads(json.dumps(io.to_jsonable(run_point(p))))  # exactly what is stored
    if writer:
      io.append_jsonl(path, rec)
    done[p.key] = rec
    if after_point is not None:
      after_point(i)
  return [done[p.key] for p in points]
