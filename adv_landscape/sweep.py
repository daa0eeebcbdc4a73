"""Resumable sweeps: one JSON-lines record per grid point (docs/theory.md section 6).

A grid point fixes (d, m, s, gamma, loss, activation, step rule, tolerance,
seed, instance family). ``run_point`` builds the instance, runs PGA,
certifies every endpoint, takes the census, tries to prove each distinct
maximum (``proof``), compares the iteration counts with T1 and T2, and
(optionally) hunts interior critical points. ``run_sweep`` appends each
finished record to a JSON-lines file, flushed and synced, and skips points
whose key is already there, so a killed sweep resumes where it stopped and
gives the records an uninterrupted run would.

Many hosts: call ``jax.distributed.initialize()`` in each process first; PGA
shards its restarts over the global device mesh, and only process 0 writes.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import shutil
import sys
import time
from typing import Callable, Iterable

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from adv_landscape import ascent, bounds, instances, io
from adv_landscape import distributed as dist
from adv_landscape.census import nonlinearity
from adv_landscape.config import PGAConfig, Tolerances
from adv_landscape.critical import CriticalProof, no_interior_maximum
from adv_landscape.deep import MLP, init_mlp
from adv_landscape.errors import InvalidInput
from adv_landscape.globalmax import p_global_bounds
from adv_landscape.hunt import hunt_interior_critical
from adv_landscape.losses import get_loss
from adv_landscape.models import family_of
from adv_landscape.network import Network, init_network, synthetic_input
from adv_landscape.pipeline import run_census
from adv_landscape.stats import km_median
from adv_landscape.step_rules import get_rule

__all__ = ["GridPoint", "FAMILIES", "instance", "run_point", "run_sweep"]


@dataclasses.dataclass(frozen=True)
class GridPoint:
  """One instance and one PGA configuration of a sweep.

  ``family`` names the instance builder in ``FAMILIES`` ("paper" is the
  paper's random initial-phase network; the others are planted controls on
  which a claim is known to be false). ``step_halvings`` k multiplies the
  step by 2^-k (the exponential-growth control of claim B). ``ell_scale`` multiplies the
  rigorous ell (1: sound; below 1 a planted unsound bound, the sufficient-increase
  control of claim B, for which the theorem then wrongly "applies"). ``prove`` > 0 also
  proves claim A for the instance (no local maximum of L in the open ball) by branch and
  bound over at most that many regions (``critical.no_interior_maximum``; two-layer
  networks on the l2 ball). ``global_max`` also certifies the global maximum by branch and
  bound (``globalmax.global_maximum``, seeded with the census's maxima) and bounds p_global,
  the share of restarts that end at it (claim G). ``stop`` names what the stopping
  tolerance tol_g = rtol_g * scale is relative to: "grad0" (||grad L(0)||, the grid's rule)
  or "endpoint" (the median ||grad L|| at the ends of a pilot run, ``endpoint_scale``: a stop
  that does not get easier or harder as the gradient at the maxima shrinks or grows with s,
  d or the loss).
  """

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
  family: str = "paper"
  step_halvings: int = 0
  norm: str = "2"
  depth: int = 1
  ell_scale: float = 1.0
  bump_width: float = 0.0
  prove: int = 0
  global_max: bool = False
  stop: str = "grad0"

  @property
  def key(self) -> str:
    """A canonical string naming the point (the resume key). ``norm``, ``depth`` and
    ``ell_scale`` enter it only when they differ from the paper's setting, so that records
    written before they existed stay valid."""
    fields = dataclasses.asdict(self)
    for name, paper in (("norm", "2"), ("depth", 1), ("ell_scale", 1.0), ("bump_width", 0.0),
                        ("prove", 0), ("global_max", False), ("stop", "grad0")):
      if fields[name] == paper:
        del fields[name]
    return json.dumps(fields, sort_keys=True)


def _keys(p: GridPoint):
  base = jax.random.fold_in(jax.random.key(p.seed), p.d * 100_003 + p.m)
  return jax.random.split(base)


def _paper(p: GridPoint):
  """The paper's setting: the network and xbar depend on (seed, d, m) only, so
  points that differ in s rescale the same input. With ``depth`` > 1, a
  ``deep.MLP`` of ``depth`` hidden layers of width m, initialised layer by layer."""
  loss = get_loss(p.loss)
  k_net, k_x = _keys(p)
  if p.depth > 1:
    net = init_mlp(k_net, p.d, (p.m,) * p.depth, activation=p.activation,
                   n_outputs=3 if loss.multi_output else None, dtype=jnp.float64)
  else:
    net = init_network(k_net, p.d, p.m, activation=p.activation,
                       n_outputs=3 if loss.multi_output else None, dtype=jnp.float64)
  x = synthetic_input(k_x, p.d, p.s, dtype=jnp.float64)
  y = 0 if loss.multi_output else 1.0
  return net, loss, x, y, p.gamma * float(jnp.linalg.norm(x))


def _concave(p: GridPoint):
  """Planted interior maximum (claims A, D): quadratic activation, every a_r < 0,
  a loss increasing in f (linear, logistic or exponential with y = -1), so L
  is maximised where f is: at z* = argmin sum |a_r| (w_r . z + b_r)^2, a
  strict maximum (hess f = 2 W^T diag(a) W is negative definite). The radius
  is eps = gamma ||z* - x||: with gamma > 1 (claim A's control, 1.5) delta* =
  z* - x lies inside the ball; with gamma < 1 (claim B's oscillation
  control, 0.8) the maximum is on the sphere with a small multiplier and
  tangential curvature beyond it, where a step of 4 / ell_est oscillates."""
  loss = get_loss(p.loss)
  k_net, k_x = _keys(p)
  net = init_network(k_net, p.d, p.m, activation="quadratic", dtype=jnp.float64)
  b = p.s * jax.random.normal(jax.random.fold_in(k_net, 7), (p.m,), jnp.float64)
  net = Network(net.W, -jnp.abs(net.a), b, "quadratic")
  x = synthetic_input(k_x, p.d, p.s, dtype=jnp.float64)
  W, A = np.asarray(net.W), np.abs(np.asarray(net.a))
  z_star = -np.linalg.solve(W.T @ (A[:, None] * W), W.T @ (A * np.asarray(b)))
  eps = p.gamma * float(np.linalg.norm(z_star - np.asarray(x)))
  return net, loss, x, -1.0, eps


def _bump(p: GridPoint):
  """Planted interior maximum with a tanh network (claim A): in rotated
  coordinates t = k R (z - z*), f(z) = sum_i [tanh(t_i + 1) - tanh(t_i - 1)]
  / sqrt(m), each term unimodal with a strict maximum at t_i = 0, so z* is
  f's unique critical point and a strict maximum. ||z* - x|| = eps / 2,
  k = 1 / eps; with the quadratic loss and y = -1 < 0 < f, L increases with f."""
  k_net, k_x = _keys(p)
  x = synthetic_input(k_x, p.d, p.s, dtype=jnp.float64)
  eps = p.gamma * float(jnp.linalg.norm(x))
  R, _ = np.linalg.qr(np.asarray(jax.random.normal(k_net, (p.d, p.d), jnp.float64)))
  u = np.asarray(jax.random.normal(jax.random.fold_in(k_net, 1), (p.d,), jnp.float64))
  z_star = np.asarray(x) + 0.5 * eps * u / np.linalg.norm(u)
  W = np.repeat(R / eps, 2, axis=0)  # (2d, d): each direction twice
  shift = np.tile([1.0, -1.0], p.d)
  b = -W @ z_star + shift
  a = np.tile([1.0, -1.0], p.d) / np.sqrt(2 * p.d)
  net = Network(jnp.asarray(W), jnp.asarray(a), jnp.asarray(b), "tanh")
  return net, get_loss(p.loss), x, -1.0, eps


BUMP_HEIGHT = 4.0  # the planted bump's slope, in units of the network's own ||grad f(x)||


def _paper_bump(p: GridPoint):
  """A small-basin interior maximum inside the paper's network (claim A's detection check).

  The paper's network of (seed, d, m, s) (``depth`` hidden layers) plus a
  block of 2d tanh units forming, in rotated coordinates t = R (z - z*) /
  (w eps), the bump sum_i A [tanh(t_i + 1) - tanh(t_i - 1)] / sqrt(2): its
  slope A / (w eps) is ``BUMP_HEIGHT`` times the network's ||grad f(x)||, so
  the sum has a strict interior maximum near z* = x + (eps / 2) u. The width
  w = ``bump_width`` sets the basin: the fraction of uniform starts the hunt
  leads there (docs/theory.md section 6 gives the measured basins). Deeper
  networks carry the block through near-linear layers (weights c I with
  c = 0.1, output weights divided by c^2), so the control runs through the
  autodiff objective like the depth grid."""
  net, loss, x, y, eps = _paper(p)
  w = p.bump_width
  if not w > 0:
    raise InvalidInput(f"family='paper_bump' needs bump_width > 0, got {w}")
  kb = jax.random.fold_in(jax.random.key(p.seed), 99)
  R, _ = np.linalg.qr(np.asarray(jax.random.normal(kb, (p.d, p.d), jnp.float64)))
  u = np.asarray(jax.random.normal(jax.random.fold_in(kb, 1), (p.d,), jnp.float64))
  z_star = np.asarray(x) + 0.5 * eps * u / np.linalg.norm(u)
  Wb = np.repeat(R / (w * eps), 2, axis=0)  # (2d, d): each direction twice
  bb = -Wb @ z_star + np.tile([1.0, -1.0], p.d)
  family = family_of(net)
  gf = float(jnp.linalg.norm(jax.grad(lambda z: family.forward(net, z))(x)))
  ab = BUMP_HEIGHT * gf * w * eps * np.tile([1.0, -1.0], p.d) / np.sqrt(2.0)
  if family.name == "two_layer":  # the bump's units beside the paper's
    return (Network(jnp.concatenate([net.W, jnp.asarray(Wb)]),
                    jnp.concatenate([net.a, jnp.asarray(ab)]),
                    jnp.concatenate([net.b, jnp.asarray(bb)]), net.activation),
            loss, x, y, eps)
  c, k = 0.1, 2 * p.d
  Ws, bs = [jnp.concatenate([net.Ws[0], jnp.asarray(Wb)])], [jnp.concatenate([net.bs[0],
                                                                               jnp.asarray(bb)])]
  for W, b in zip(net.Ws[1:], net.bs[1:]):
    blk = jnp.zeros((W.shape[0] + k, W.shape[1] + k), jnp.float64)
    Ws.append(blk.at[:W.shape[0], :W.shape[1]].set(W).at[W.shape[0]:, W.shape[1]:].set(
        c * jnp.eye(k)))
    bs.append(jnp.concatenate([b, jnp.zeros(k)]))
  a = jnp.concatenate([net.a, jnp.asarray(ab) / c ** (len(net.Ws) - 1)])
  return MLP(tuple(Ws), tuple(bs), a, net.activation), loss, x, y, eps


RIDGE_HEIGHT, RIDGE_OFFSET = 3.0, 0.7  # the planted ridge's amplitude and its plane's offset


def _paper_ridge(p: GridPoint):
  """A global maximum with a tiny basin (claim G's control): the paper's network plus two
  tanh units forming the ridge A [tanh(t + 1) - tanh(t - 1)], t = v . (z - x - c eps v) /
  (w eps), along v = -grad L(0) / ||grad L(0)|| (so PGA's first steps lead away from it and,
  v lying in W's row space, the rank of W, the branch and bound's dimension, is unchanged),
  with A = ``RIDGE_HEIGHT``, c = ``RIDGE_OFFSET`` and w = ``bump_width``. On the slab
  |v . delta - c eps| <~ w eps f rises by about 2 tanh(1) A = 4.6, above anything the
  paper's small network reaches near s = 1/4, so the global maximum of L is in the slab,
  whose share of the ball is about 1e-4 at d = 32 (v . delta has SD about eps / sqrt(d) for
  uniform starts): p_global near 0."""
  net, loss, x, y, eps = _paper(p)
  w = p.bump_width
  if not w > 0 or family_of(net).name != "two_layer":
    raise InvalidInput(f"family='paper_ridge' needs bump_width > 0 and depth 1, got "
                       f"{w} and {p.depth}")
  g0 = np.asarray(jax.grad(lambda d: loss.value(family_of(net).forward(net, x + d), y))(
      jnp.zeros_like(x)))
  v = -g0 / np.linalg.norm(g0)
  Wr = np.stack([v, v]) / (w * eps)
  br = -Wr @ (np.asarray(x) + RIDGE_OFFSET * eps * v) + np.array([1.0, -1.0])
  ar = RIDGE_HEIGHT * np.array([1.0, -1.0])
  return (Network(jnp.concatenate([net.W, jnp.asarray(Wr)]),
                  jnp.concatenate([net.a, jnp.asarray(ar)]),
                  jnp.concatenate([net.b, jnp.asarray(br)]), net.activation), loss, x, y, eps)


def _linear_y0(p: GridPoint):
  """No dependence on s (claim C control): linear activation, b = 0, y = 0, so
  L(delta) = s^2 L_1(delta / s) and PGA from scaled starts is the same run
  at every scale (grad0 steps and tolerances relative to ||grad L(0)||)."""
  net, loss, x, _, eps = _paper(dataclasses.replace(p, activation="linear"))
  return net, loss, x, 0 if loss.multi_output else 0.0, eps


def _ell_inflated(p: GridPoint):
  """The same landscape at every s, a rigorous ell that grows with s (claim C's step-rule
  control): ``linear_y0``'s instance plus two units with one weight vector w, ||w|| = 3 s,
  and output weights +-1/sqrt(m). They cancel in f, so f, every derivative and every run
  whose step does not read the rigorous bound are ``linear_y0``'s (to rounding); but they
  enter the bound G_f = ||W||_2 ||a|| (docs/theory.md section 5), so ell grows like s^2
  and the lipschitz step eta = 1/ell shrinks: its counts grow with s though nothing else
  does."""
  net, loss, x, y, eps = _linear_y0(p)
  u = np.asarray(jax.random.normal(jax.random.fold_in(jax.random.key(p.seed), 77), (p.d,),
                                   jnp.float64))
  w = jnp.asarray(3.0 * p.s * u / np.linalg.norm(u))
  alpha = 1.0 / np.sqrt(p.m)
  return (Network(jnp.concatenate([net.W, w[None], w[None]]),
                  jnp.concatenate([net.a, jnp.asarray([alpha, -alpha])]),
                  jnp.concatenate([net.b, jnp.zeros(2)]), net.activation), loss, x, y, eps)


def _first_layer_over(p: GridPoint, c: float):
  """The paper's network (two-layer or deep) with its first layer divided by c."""
  net, loss, x, y, eps = _paper(p)
  return family_of(net).over_first_layer(net, c), loss, x, y, eps


def _w_over_s2(p: GridPoint):
  """The larger scale is the smoother (claim C control): the paper's network with
  first-layer weights W / s^2, so the pre-activations have scale 1 / s."""
  return _first_layer_over(p, p.s**2)


def _w_over_s(p: GridPoint):
  """The same problem at every scale (claim C control): the paper's network with W / s, so
  (W / s)(s xbar + delta) = W (xbar + delta / s) and, with eps = gamma s sqrt(d), the
  problem in delta / s is the one at s = 1. Every step rule is scale-free on it (grad0,
  normalized and armijo set their steps in eps units), so no rule can find a trend."""
  return _first_layer_over(p, p.s)


def _separable(p: GridPoint):
  """A count exactly constant in d on the box (claim B's positive control there): f(z) =
  sum_r tanh(z_r) / sqrt(d) (W = I, so m = d; b = 0), x = v 1 with v = 2 + U(-1/4, 1/4)
  drawn per seed, the linear loss with y = -1 (L = f) and the box of half-width 1. PGA
  on the box splits into d identical one-dimensional ascents, each coordinate rising
  monotonically to +1 (the vertex x + 1 is the unique maximum, a strict one: every
  partial derivative is positive there). |tanh''| decreases on [v - 1, v + 1] (its peak
  is at 0.66), so ell_est = |tanh''(v - 1)| / sqrt(d) exactly (a vertex sample with a
  coordinate at -1 attains it), the per-step displacement eta dL/dz_r = c sech^2(.) /
  |tanh''(v - 1)| does not depend on d (eta = c / ell_est itself grows like sqrt(d)), and
  a restart's count is the one-dimensional one, the same at every d for a fixed c, from
  vertex starts (each coordinate at +-1; v is drawn per seed, not per d; the all-(+1)
  vertex takes 0 steps). With c = d_0 / d it is (d / d_0) times the count at d_0 up to the
  discrete ascent's O(c) relative error: 32, 67, 135, 272, 545 steps at d = 8..128 for
  seed 0 (545 against 512 for exact proportionality, the measured exponent 1.017).
  On the l2 ball (not used there) its radius is 1 too."""
  u = jax.random.uniform(jax.random.fold_in(jax.random.key(p.seed), 5), (), jnp.float64)
  v = 2.0 + 0.5 * (float(u) - 0.5)
  net = Network(jnp.eye(p.d, dtype=jnp.float64), jnp.full((p.d,), 1.0 / np.sqrt(p.d)),
                jnp.zeros(p.d, jnp.float64), "tanh")
  return net, get_loss("linear"), jnp.full((p.d,), v, jnp.float64), -1.0, 1.0


FAMILIES = {
    "paper": _paper,
    "concave": _concave,
    "bump": _bump,
    "paper_bump": _paper_bump,
    "paper_ridge": _paper_ridge,
    "linear_y0": _linear_y0,
    "w_over_s2": _w_over_s2,
    "w_over_s": _w_over_s,
    "ell_inflated": _ell_inflated,
    "separable": _separable,
}


def instance(p: GridPoint):
  """The instance (net, loss, x, y, eps) of a grid point, from its family."""
  if p.family not in FAMILIES:
    raise InvalidInput(f"family={p.family!r} is unknown; choose one of {sorted(FAMILIES)}")
  if p.depth > 1 and p.family not in DEEP_FAMILIES:
    raise InvalidInput(f"family={p.family!r} is a planted two-layer instance; depth > 1 "
                       f"applies to {list(DEEP_FAMILIES)}")
  net, loss, x, y, eps = FAMILIES[p.family](p)
  if p.norm == "inf" and p.family in SCALED_FAMILIES:
    eps = eps / np.sqrt(p.d)  # the box whose vertices lie on the l2 sphere of the same gamma
  return net, loss, x, y, eps


def point_problem(p: GridPoint, inst=None):
  """(problem, key) of a grid point: its instance (``instance(p)`` unless given) as a Problem
  on its threat model, and the key every random draw of the point folds from (starts
  fold_in(key, 0), sampled constants 1, hunt 2, the endpoint stop's pilot 3)."""
  net, loss, x, y, eps = instance(p) if inst is None else inst
  return (instances.problem(net, loss, x, y, eps=eps, norm=p.norm),
          jax.random.fold_in(jax.random.key(p.seed), 1))


# Families whose eps is gamma ||x||: on the l_inf ball it becomes gamma ||x|| / sqrt(d). The
# planted families keep their eps: the box contains the l2 ball of the same radius, so a
# maximum planted inside the ball stays inside the box.
SCALED_FAMILIES = ("paper", "linear_y0", "w_over_s2", "w_over_s")
DEEP_FAMILIES = SCALED_FAMILIES + ("paper_bump",)  # families that take depth > 1


INCREASE_RESTARTS, INCREASE_STEPS = 8, 400  # the sufficient-increase check's runs
CLEAR_EVERY = 100  # at least this many points between clearing JAX's programs (``run_sweep``)
PILOT_RESTARTS = 16  # restarts of the pilot run that sets an "endpoint" stop's scale
STOPS = ("grad0", "endpoint")


def endpoint_scale(problem, p: GridPoint, *, key, ell: float, grad0: float) -> float:
  """The gradient's scale where PGA ends: the median ||grad L|| over the endpoints of a pilot
  run (``PILOT_RESTARTS`` restarts of the point's own rule and kind of starts, drawn apart
  from the main run's, stopped at rtol_g ||grad L(0)||; a pilot that stops early or not at
  all still ends where the gradient has its endpoints' order of magnitude, which is all a
  scale needs)."""
  pilot = ascent.pga(problem, key=key, n_restarts=min(PILOT_RESTARTS, p.n_restarts),
                     init=p.init, step_rule=p.step_rule,
                     step=p.step * 2.0**-p.step_halvings, max_steps=p.max_steps,
                     tol_g=p.rtol_g * grad0, ell=ell, progress=False)
  _, g = problem.objective.value_and_grad_batch(jnp.asarray(pilot.deltas))
  scale = float(np.median(np.linalg.norm(np.asarray(g), axis=1)))
  if not (np.isfinite(scale) and scale > 0):
    raise InvalidInput(f"stop='endpoint': the pilot run's endpoint gradient scale is {scale!r}; "
                       f"use stop='grad0'")
  return scale


def run_point(p: GridPoint) -> dict:
  """Runs one grid point in float64 and returns its record."""
  if p.stop not in STOPS:
    raise InvalidInput(f"stop={p.stop!r} is unknown; choose one of {list(STOPS)}")
  t0 = time.perf_counter()
  with jax.enable_x64(True):
    net, loss, x, y, eps = inst = instance(p)
    problem, key = point_problem(p, inst)
    const = bounds.rigorous_constants(problem)  # NaN (reported as null) for autodiff models
    sampled = bounds.sampled_constants(problem, key=jax.random.fold_in(key, 1), n=128)
    ell_rig = const.ell * p.ell_scale  # the rigorous ell (planted unsound when ell_scale < 1)
    ell = sampled.ell if p.step_rule == "curvature" else ell_rig  # ell_est: the sampled estimate
    scale = const.grad0 if p.stop == "grad0" else endpoint_scale(
        problem, p, key=jax.random.fold_in(key, 3), ell=ell, grad0=const.grad0)
    tol_g = p.rtol_g * scale
    config = PGAConfig(step_rule=p.step_rule, step=p.step * 2.0**-p.step_halvings, init=p.init,
                       tol_g=tol_g, max_steps=p.max_steps, chunk=p.n_restarts)
    run = run_census(problem, key=key, n_restarts=p.n_restarts, config=config, ell=ell,
                     tolerances=Tolerances.for_dtype(jnp.float64))
    res, cert, cs, proofs = run.result, run.certificate, run.census, run.proofs
    # T1 needs L(delta_0) of each restart: redraw the starts exactly as pga did
    # (one chunk, so fold_in(key, 0)).
    starts = ascent.initial_deltas(problem, jax.random.fold_in(key, 0), p.init,
                                   p.n_restarts)
    L0 = np.asarray(jax.vmap(problem.objective.value)(starts))
    fixed_step = get_rule(p.step_rule).fixed_eta
    theorem = fixed_step and bool(np.all(res.eta <= 1.0 / ell_rig * (1 + 1e-12)))
    # The inequality T1 rests on, checked at every step of the first restarts' runs.
    increase = None
    if fixed_step:
      k, steps = min(INCREASE_RESTARTS, p.n_restarts), min(p.max_steps, INCREASE_STEPS)
      vals, gn = ascent.pga_trace(problem, starts[:k], jnp.asarray(res.eta[:k]),
                                  jnp.zeros(steps))
      size = p.d + sum(family_of(net).widths(net))
      increase = ascent.sufficient_increase(vals, gn, res.eta[:k], size=size)
    t1 = bounds.t1_bound(const.L_max, L0, res.eta, tol_g) if fixed_step else np.full(
        p.n_restarts, np.nan)
    t2 = bounds.t2_bound(const.ell, const.L_max, L0, tol_g, p.d)
    viol = 0
    if theorem:  # a count above T1 (or no convergence by a budget above T1) is a bug
      over = (res.converged & (res.iterations > t1)) | (~res.converged & (p.max_steps > t1))
      viol = int(over.sum())
    hunt = None
    if p.hunt:
      hunt = hunt_interior_critical(problem, key=jax.random.fold_in(key, 2)).to_json()
      for mx in hunt["interior_maxima"]:  # the deltas are in the instance, not needed here
        mx.pop("delta")
    proof_a = _prove_a(p, net, loss, x, y, eps) if p.prove else None
    glob = _global(net, loss, x, y, eps, p.norm, run) if p.global_max else None
  med = km_median(res.iterations, res.converged)
  with np.errstate(over="ignore"):  # an infinite rigorous ell (exponential loss) stays inf
    eta_ell = float(np.max(res.eta) * const.ell)
  return {
      "key": p.key, "point": dataclasses.asdict(p), "eps": eps,
      "constants": const._asdict(), "sampled": sampled._asdict(),
      "kappa": nonlinearity(eps, const.ell, const.grad0),
      "kappa_sampled": nonlinearity(eps, sampled.ell, const.grad0),
      "tol_g": tol_g, "tol_scale": scale, "tol_b": cert.tol_b,
      "eta_max": float(np.max(res.eta)),
      "eta_median": float(np.median(res.eta)),
      "eta_times_ell_max": eta_ell, "theorem_applies": theorem,
      "iterations": res.iterations, "converged": res.converged,
      "evaluations": res.evaluations,  # armijo: gradients plus trial values (else null)
      "median_evaluations": (float(np.median(res.evaluations)) if res.evaluations is not None
                             else None),
      "km_median_iterations": med.value, "km_median_censored": med.censored,
      "t1": t1, "t2": t2, "t1_violations": viol,
      "sufficient_increase": increase,
      "increase_violations": (increase["violations"] if increase is not None and theorem
                              else 0),
      "class_counts": cs.class_counts,
      "certified_fraction": float(np.mean(cert.classes == "boundary_local_max")),
      "maximum_fraction": cs.certified_fraction,
      "certified": cert.classes == "boundary_local_max",
      "on_sphere_fraction": float(np.mean(np.abs(cert.norm_ratio - 1) <= cert.tol_b)),
      "interior_endpoints": int(np.sum(cert.norm_ratio < 1 - cert.tol_b)),
      "interior_maxima_at_endpoints": int(np.sum(cert.interior_max)),
      "lambda_tangent": cert.lambda_tangent, "multiplier": cert.multiplier,
      "lambda_tangent_bound": cert.lambda_bound,
      "distinct_maxima": cs.distinct,
      "distinct_maxima_by_distance": run.summary["distinct_maxima_by_distance"],
      "proved_distinct_maxima": cs.proved_distinct, "best_value": cs.best_value, "p_best": cs.p_best,
      "basin_fractions": cs.basin_fractions, "maxima_kinds": cs.kinds.tolist(),
      "proof_radius": [pr.radius for pr in proofs],
      "proof_reason": [pr.reason for pr in proofs],
      "proved_fraction": run.summary["proved_fraction"], "hunt": hunt, "proof_a": proof_a,
      "global": glob,
      "seconds": time.perf_counter() - t0,
  }


def _prove_a(p: GridPoint, net, loss, x, y, eps) -> dict:
  """Claim A proved for the instance (``critical.no_interior_maximum``, at most ``p.prove``
  regions): two-layer networks on the l2 ball only."""
  if p.norm != "2" or family_of(net).name != "two_layer":
    proof = CriticalProof("not available: the proof covers two-layer networks on the l2 "
                          "ball", 0, 0, 0, 0.0)
  else:
    proof = no_interior_maximum(net, loss, x, y, eps, max_regions=p.prove)
  return {"status": proof.status, "regions": proof.regions, "live": proof.live,
          "dimension": proof.dimension, "seconds": proof.seconds}


def _global(net, loss, x, y, eps, norm, run) -> dict:
  """The certified global maximum [lower, upper] of the grid point's instance and the bounds
  p_lower <= p_global <= p_upper on the share of restarts that end within tau = ``COUNT`` tol
  of it, with ``best_is_global`` (``globalmax.p_global_bounds``: they hold whether or not the
  branch and bound closed)."""
  family = family_of(net)
  if family.global_max is None:
    return {"status": f"not available: no branch and bound for the {family.name} family"}
  pts = np.asarray([mx["delta"] for mx in run.maxima]) if run.maxima else None
  g = family.global_max(net, loss, x, y, eps, norm, points=pts)
  if not np.isfinite(g.lower):
    return {"status": g.status}
  vals = [mx["value"] for mx in run.maxima]
  bounds_ = p_global_bounds(vals, [mx["count"] for mx in run.maxima], run.result.values, g)
  return {"status": g.status, "closed": g.status == "certified", "lower": float(g.lower),
          "upper": float(g.upper), "tol": float(g.tol), "regions": int(g.regions),
          "dimension": int(g.dimension), "seconds": g.seconds,
          "restarts": len(run.result.values),
          "best_value": float(max(vals)) if vals else None, **bounds_}


def read_records(path) -> list[dict]:
  """The finished grid-point records of a sweep file (``InvalidInput`` naming a damaged line)."""
  records = io.read_jsonl(path)
  bad = next((n for n, r in enumerate(records, start=1) if "key" not in r), None)
  if bad is not None:
    raise InvalidInput(f"{os.fspath(path)!r} line {bad} is not a grid-point record (no 'key'); "
                       f"delete that line, or the file to start again")
  return records


def _unpack(path) -> None:
  """A gzipped copy of the records (``PATH.gz``, how a long grid's partial records travel
  in git) seeds ``path`` when ``path`` itself is missing, so a fresh clone resumes."""
  packed = os.fspath(path) + ".gz"
  if os.path.exists(path) or not os.path.exists(packed):
    return
  tmp = os.fspath(path) + ".unpacking"
  try:
    with gzip.open(packed, "rb") as src, open(tmp, "wb") as dst:
      shutil.copyfileobj(src, dst)
  except (OSError, EOFError) as e:
    raise InvalidInput(f"{packed!r} could not be read as gzip ({e}); delete it to start the "
                       f"grid afresh") from None
  os.replace(tmp, path)
  print(f"unpacked {packed} into {os.fspath(path)}: its records are resumed", file=sys.stderr)


def structure(p: GridPoint) -> tuple:
  """What decides which programs a point compiles: its shapes, functions and code paths
  (not its seed, scale, radius or step, which are values inside the same programs)."""
  return (p.family, p.activation, p.loss, p.norm, p.depth, p.d, p.m, p.n_restarts,
          p.max_steps, p.step_rule, p.init, p.hunt, p.prove > 0, p.global_max, p.stop)


def run_sweep(points: Iterable[GridPoint], path, *, progress: bool = True,
              after_point: Callable[[int], None] | None = None) -> list[dict]:
  """Runs every point whose record is not yet in ``path``; returns all records in order.

  Args:
    points: the grid (duplicates are run once).
    path: the JSON-lines file of records; created if missing.
    progress: a progress bar over grid points. When records already in
      ``path`` are reused, a line on stderr says so whatever ``progress`` is.
    after_point: called with the count of points run so far in this call
      (tests use it to kill a sweep mid-way).
  """
  points = list(dict.fromkeys(points))
  if dist.rank() == 0:
    _unpack(path)
    cut = io.repair_jsonl(path)
    if cut:
      print(f"repaired {path}: cut its unfinished last line ({cut} bytes, a record a killed "
            f"run was writing); every complete record is kept", file=sys.stderr)
  records = read_records(path)
  done = {r["key"]: r for r in records}
  # Points that compile the same programs run one after another (a stable sort: seeds stay
  # in order within a structure), so each program is compiled once and reused from memory
  # instead of being compiled again for every seed: on a fresh machine (no compilation
  # cache on disk) compiling was most of the quick verify grid's time.
  todo = sorted((p for p in points if p.key not in done), key=structure)
  if len(todo) < len(points):  # say so: they may come from an older run
    print(f"resuming {path}: {len(points) - len(todo)} of {len(points)} grid points are "
          "already recorded there and are reused (delete the file to recompute them)",
          file=sys.stderr)
  # Many processes: in round r process q runs point r N + q; the round's records are
  # gathered on every process and process 0 appends them in grid order.
  writer, n_proc, me = dist.rank() == 0, dist.size(), dist.rank()
  since_clear = 0
  bar = tqdm(total=len(todo), desc="grid points", unit="pt", disable=not progress, leave=False)
  for first in range(0, len(todo), n_proc):
    mine = todo[first + me] if first + me < len(todo) else None
    if mine is not None:
      bar.set_postfix_str(f"d={mine.d} m={mine.m} s={mine.s} {mine.loss} {mine.step_rule}")
      with dist.alone():
        rec = json.dumps(io.to_jsonable(run_point(mine)))  # exactly what is stored
      since_clear += 1
      after = first + n_proc
      if (since_clear >= CLEAR_EVERY and after < len(todo)
          and structure(todo[after]) != structure(mine)):
        # Each compiled program keeps its code mapped; after about 1300 varied points one
        # process reached the kernel's 65,530 memory maps and LLVM stopped with "Cannot
        # allocate memory" (with 21 GB free). Dropping the compiled programs now and then
        # keeps the count bounded; the points recompile what they need. Only between two
        # structures, so that no structure's programs are compiled twice.
        jax.clear_caches()
        since_clear = 0
    got = dist.gather_bytes([rec.encode()] if mine is not None else [])
    for n, recs in enumerate(got):
      for raw in recs:
        p, rec_n = todo[first + n], json.loads(raw)
        if writer:
          io.append_jsonl(path, rec_n)
        done[p.key] = rec_n
        bar.update()
        if after_point is not None:
          after_point(first + n + 1)
  bar.close()
  return [done[p.key] for p in points]
