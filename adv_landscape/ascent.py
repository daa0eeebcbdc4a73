"""Projected gradient ascent on the perturbation, batched over restarts (docs/theory.md section 2).

  delta_{t+1} = Pi(delta_t + eta_t grad L(delta_t))
  G(delta_t)  = (Pi(delta_t + eta_t grad L(delta_t)) - delta_t) / eta_t

A restart's iteration count is the first t with ||G(delta_t)|| <= tol_g; the
restart is then frozen at delta_t, so its endpoint is the point the count
refers to. The loop is an ``init``/``update`` pair over a ``PGAState`` inside
``lax.while_loop``, which checks every ``check_every`` steps whether all
restarts have converged.

>>> import jax
>>> from adv_landscape.instances import problem
>>> from adv_landscape.network import init_network, synthetic_input
>>> net = init_network(jax.random.key(0), d=4, m=8)
>>> x = synthetic_input(jax.random.key(1), 4, 1.0)
>>> res = pga(problem(net, "quadratic", x, 1.0, eps=1.0), key=jax.random.key(2), n_restarts=3,
...           tol_g=1e-3, progress=False)
>>> res.deltas.shape, bool(res.converged.all())
((3, 4), True)
"""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from adv_landscape.config import PGAConfig, Tolerances
from adv_landscape.errors import InvalidInput
from adv_landscape.problem import Problem
from adv_landscape.step_rules import STEP_RULES as _RULES
from adv_landscape.step_rules import get_rule, resolve_step

__all__ = ["INITS", "STEP_RULES", "PGAState", "APGDState", "PGAResult", "pga_init", "pga_update",
           "apgd_init", "apgd_checkpoints", "apgd_halves", "run_pga", "pga_trace", "pga",
           "pga_chunks", "initial_deltas", "default_tol_g", "certificate_tolerance",
           "sufficient_increase", "polish", "POLISH_ROUNDS"]

INITS = ("sphere", "ball", "zero", "gradient")
STEP_RULES = tuple(_RULES)  # the names (the registry is ``step_rules.STEP_RULES``)
ARMIJO_HALVINGS = 40  # at most this many halvings per step (then the step is taken anyway)
ARMIJO_GROWTH = 2.0  # the next step tries eta x this (capped: ``_armijo_step``)
APGD_MOMENTUM = 0.75  # alpha of auto-PGD (1 at the first step)
APGD_RHO = 0.75  # halve where L rose at no more than this fraction of a window's steps
POLISH_ROUNDS = 4  # ``polish``: at most this many armijo runs, the tolerance tightened between
APGD_CHECKPOINTS = 64  # room for the checkpoints (9, w_0 = 0 included, for any budget >= 100)


class PGAState(NamedTuple):
  """State of a batch of B restarts.

  Attributes:
    t: steps taken (scalar int32).
    delta: (B, d) current perturbations (frozen once converged).
    eta: (B,) fixed step per restart; for the normalised rule, alpha.
    iterations: (B,) int32 first t with ||G|| <= tol_g (steps taken so far
      while not converged).
    converged: (B,) bool.
    evaluations: (B,) int32 objective evaluations (values and gradients) so far, or None
      when the rule spends one per step (every rule but armijo).
    move_max: (B,) armijo only: c, the longest gradient move it tries, eta ||g|| <= c eps
      (c = eta_0 ||grad L(delta_0)|| / eps, the first trial's; None for the other rules).
  """

  t: jax.Array
  delta: jax.Array
  eta: jax.Array
  iterations: jax.Array
  converged: jax.Array
  evaluations: jax.Array | None = None
  move_max: jax.Array | None = None
  apgd: APGDState | None = None


class APGDState(NamedTuple):
  """What auto-PGD carries besides ``PGAState`` (B restarts; ``_apgd_update``).

  Attributes:
    prev: (B, d) x_{k-1}, the point the momentum term x_k - x_{k-1} reads.
    prev_value: (B,) L(x_{k-1}) as evaluated (before a restart replaced x_{k-1}).
    best, best_grad, best_value: the best point so far, its gradient and L there.
    increases: (B,) int32 steps of the current window at which L rose.
    reduced: (B,) bool, whether eta was halved at the last checkpoint.
    best_at_check: (B,) the best value at the last checkpoint.
    checkpoints: (J,) int32 w_0 = 0 < w_1 < ... (``apgd_checkpoints``), padded with -1.
  """

  prev: jax.Array
  prev_value: jax.Array
  best: jax.Array
  best_grad: jax.Array
  best_value: jax.Array
  increases: jax.Array
  reduced: jax.Array
  best_at_check: jax.Array
  checkpoints: jax.Array


class PGAResult(NamedTuple):
  """Endpoints of a PGA run, as NumPy arrays (B restarts).

  Attributes:
    deltas: (B, d) endpoints. values: (B,) L at the endpoints.
    iterations: (B,) first t with ||G(delta_t)|| <= tol_g, or max_steps.
    converged: (B,) whether that happened. grad_mapping_norm: (B,) ||G|| at
    the endpoint. eta: (B,) the step (alpha for the normalised rule).
    history: (T, B) values per step, or None. tol_g: the tolerance used.
    config: the ``PGAConfig`` of the run (tol_g resolved), so that nothing
    downstream needs to be told the step rule again. evaluations: (B,) objective
    evaluations per restart (armijo: one gradient per step plus one value per trial
    step), or None when every step costs one.
  """

  deltas: np.ndarray
  values: np.ndarray
  iterations: np.ndarray
  converged: np.ndarray
  grad_mapping_norm: np.ndarray
  eta: np.ndarray
  history: np.ndarray | None
  tol_g: float
  config: PGAConfig | None = None
  evaluations: np.ndarray | None = None


def _armijo_step(problem: Problem, delta, eta, move_max=None):
  """One projected step with backtracking on the sufficient-increase condition.

  From the trial step eta (per restart), halves it until L(Pi(delta + eta g)) - L(delta)
  >= ||Pi(delta + eta g) - delta||^2 / (2 eta) (that is, >= (eta / 2) ||G_eta||^2, the
  inequality T1 is summed from; Beck 2017, Lemma 10.4 and section 10.4.2), up to
  ``ARMIJO_HALVINGS`` times, a shortfall within the values' rounding counting as met.
  Returns L(delta), the new point, ||G|| at the accepted eta, that eta and the trials.

  ``move_max`` (B,) caps the trial: eta ||g|| <= move_max eps. Without it eta doubled
  without bound (to 1e5 on the paper's network at s = 1), and since ||G_eta|| -> 0 as
  eta -> infinity on the sphere the stopping test then held far from stationarity (the
  certificate tolerance, which scales with ||delta + eta g|| / eps, followed it): one
  network counted 247 "distinct maxima" where grad0 finds one.
  """
  vals, g = problem.objective.value_and_grad_batch(delta)
  u = jnp.finfo(g.dtype).eps
  if move_max is not None:
    gn = jnp.maximum(jnp.linalg.norm(g, axis=1), jnp.finfo(g.dtype).tiny)
    eta = jnp.minimum(eta, move_max * problem.constraint.eps / gn)
  value = jax.vmap(problem.objective.value)

  def trial(eta):
    new = problem.constraint.project(delta + eta[:, None] * g)
    gain = value(new) - vals
    need = jnp.sum((new - delta) ** 2, axis=1) / (2 * eta)
    return new, gain >= need - 64 * u * (jnp.abs(vals) + jnp.abs(gain))

  def cond(c):
    return jnp.any(~c[2]) & (c[3] < ARMIJO_HALVINGS)

  def body(c):
    eta, _, ok, k, tries = c
    eta = jnp.where(ok, eta, eta / 2)
    new, ok_new = trial(eta)
    return eta, new, ok | ok_new, k + 1, tries + (~ok).astype(jnp.int32)

  new, ok = trial(eta)
  eta, new, _, _, tries = jax.lax.while_loop(
      cond, body, (eta, new, ok, jnp.zeros((), jnp.int32), jnp.ones_like(eta, jnp.int32)))
  return vals, new, jnp.linalg.norm(new - delta, axis=1) / eta, eta, tries


def _sign_mapping(problem: Problem, delta, g, eta):
  """||G|| of a step alpha sign(g), measured at eta0 = alpha / ||g||_inf (the gradient step
  whose largest move is alpha): zero exactly at KKT points, in gradient units."""
  eta0 = eta / jnp.maximum(jnp.max(jnp.abs(g), axis=1), jnp.finfo(g.dtype).tiny)
  probe = problem.constraint.project(delta + eta0[:, None] * g)
  return jnp.linalg.norm(probe - delta, axis=1) / eta0


def _step(problem: Problem, delta, eta, normalized, sign=False):
  vals, g = problem.objective.value_and_grad_batch(delta)
  tiny = jnp.finfo(g.dtype).tiny
  if sign:  # l_inf PGD: delta + alpha sign(g), projected (Madry et al. 2018)
    new = problem.constraint.project(delta + eta[:, None] * jnp.sign(g))
    return vals, new, _sign_mapping(problem, delta, g, eta)
  if normalized:  # attack-library convention: a step of length alpha along g / ||g||
    eta = eta / jnp.maximum(jnp.linalg.norm(g, axis=1), tiny)
  new = problem.constraint.project(delta + eta[:, None] * g)
  gnorm = jnp.linalg.norm(new - delta, axis=1) / eta
  return vals, new, gnorm


def apgd_checkpoints(n: int) -> list[int]:
  """Auto-PGD's checkpoints for a budget of n steps: w_j = ceil(p_j n) with p_0 = 0,
  p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06) (Croce and Hein 2020,
  section 3.2), in exact hundredths (summed in floating point, p_3 x 100 is
  57.00000000000001 and its ceiling 58, not 57), those <= n, repeats dropped (small n).

  >>> apgd_checkpoints(100)
  [0, 22, 41, 57, 70, 80, 87, 93, 99]
  """
  p = [0, 22]
  while p[-1] < 100:
    p.append(p[-1] + max(p[-1] - p[-2] - 3, 6))
  return sorted({-(-q * n // 100) for q in p if -(-q * n // 100) <= n})


def apgd_halves(increases, window, reduced, best_at_check, best_value):
  """Auto-PGD's test at a checkpoint, elementwise: halve eta (and restart from the best
  point) when L rose at no more than rho = 0.75 of the window's steps, or when eta was not
  halved at the previous checkpoint (``reduced`` False) and the best value has not
  improved since it (``best_at_check >= best_value``).

  >>> apgd_halves(12, 16, True, 0.0, 1.0), apgd_halves(13, 16, False, 1.0, 1.0)
  (Array(True, dtype=bool), Array(True, dtype=bool))
  """
  return ((jnp.asarray(increases) <= APGD_RHO * jnp.asarray(window))
          | (~jnp.asarray(reduced) & (jnp.asarray(best_at_check) >= best_value)))


def apgd_init(delta0: jax.Array, eta: jax.Array, max_steps: int) -> PGAState:
  """The state of auto-PGD at k = 0 for starts (B, d) and initial steps (B,), with the
  checkpoints of the budget ``max_steps``."""
  cps = apgd_checkpoints(int(max_steps))
  if len(cps) > APGD_CHECKPOINTS:
    raise InvalidInput(f"max_steps={max_steps} gives {len(cps)} apgd checkpoints, more "
                       f"than the {APGD_CHECKPOINTS} it has room for")
  B = delta0.shape[0]
  low = jnp.full((B,), -jnp.inf, delta0.dtype)
  extra = APGDState(delta0, low, delta0, jnp.zeros_like(delta0), low,
                    jnp.zeros((B,), jnp.int32), jnp.ones((B,), bool), low,
                    jnp.asarray(cps + [-1] * (APGD_CHECKPOINTS - len(cps)), jnp.int32))
  return pga_init(delta0, eta)._replace(apgd=extra)


def _apgd_update(state: PGAState, problem: Problem, tol_g, max_steps):
  """One auto-PGD step at k = state.t (Croce and Hein 2020, Algorithm 1; the reference
  implementation's order, fra31/auto-attack autopgd_base.py):

    z = Pi(x_k + eta s_k),  s_k = g / ||g|| (l2) or sign(g) (box)
    x_{k+1} = Pi(x_k + alpha (z - x_k) + (1 - alpha)(x_k - x_{k-1})),  alpha = 0.75 (1 at k = 0)

  At a checkpoint k = w_j (j >= 1), eta halves and x_k is replaced by the best point
  (and its gradient) when L rose at no more than rho (w_j - w_{j-1}) of the window's steps
  (condition 1: the reference's <=; the paper writes <), or when eta was not halved at the
  previous checkpoint and the best value did not improve since (condition 2). The first
  window compares L(x_1) with L(x_0) (the reference compares it with an unfilled 0). A
  restart stops, frozen at x_k, at the first k where x_k is the best point so far and the
  gradient mapping of its fixed-length step (at the current eta: ``_sign_mapping`` on the
  box, eta / ||g|| on the l2 ball) is <= tol_g; one that never stops ends at its best point
  (``_run``).
  """
  a, k, x, eta = state.apgd, state.t, state.delta, state.eta
  vals, g = problem.objective.value_and_grad_batch(x)
  box = problem.constraint.NORM == "inf"
  tiny = jnp.finfo(g.dtype).tiny
  running = ~state.converged & (k < max_steps)
  gn = jnp.maximum(jnp.linalg.norm(g, axis=1), tiny)
  if box:
    gnorm = _sign_mapping(problem, x, g, eta)
  else:
    probe = problem.constraint.project(x + (eta / gn)[:, None] * g)
    gnorm = jnp.linalg.norm(probe - x, axis=1) * gn / eta
  is_best = vals >= a.best_value
  best = jnp.where(is_best[:, None], x, a.best)
  best_grad = jnp.where(is_best[:, None], g, a.best_grad)
  best_value = jnp.where(is_best, vals, a.best_value)
  increases = a.increases + ((k >= 1) & (vals > a.prev_value)).astype(jnp.int32)
  now = running & is_best & (gnorm <= tol_g)
  moving = running & ~now
  at = (a.checkpoints == k) & (k > 0)
  check = moving & jnp.any(at)
  window = k - jnp.max(jnp.where(a.checkpoints < k, a.checkpoints, 0))
  halve = check & apgd_halves(increases, window, a.reduced, a.best_at_check, best_value)
  reduced = jnp.where(check, halve, a.reduced)
  best_at_check = jnp.where(check, best_value, a.best_at_check)
  increases = jnp.where(check, 0, increases)
  eta = jnp.where(halve, eta / 2, eta)
  xs = jnp.where(halve[:, None], best, x)
  gs = jnp.where(halve[:, None], best_grad, g)
  if box:
    direction = jnp.sign(gs)
  else:
    direction = gs / jnp.maximum(jnp.linalg.norm(gs, axis=1), tiny)[:, None]
  z = problem.constraint.project(xs + eta[:, None] * direction)
  alpha = jnp.where(k == 0, 1.0, APGD_MOMENTUM).astype(x.dtype)
  new = problem.constraint.project(xs + alpha * (z - xs) + (1 - alpha) * (xs - a.prev))
  delta = jnp.where(moving[:, None], new, x)
  extra = APGDState(jnp.where(moving[:, None], xs, a.prev),
                    jnp.where(moving, vals, a.prev_value), best, best_grad, best_value,
                    increases, reduced, best_at_check, a.checkpoints)
  return PGAState(k + 1, delta, eta, state.iterations + moving.astype(jnp.int32),
                  state.converged | now, apgd=extra), vals


def pga_init(delta0: jax.Array, eta: jax.Array, *, armijo: bool = False) -> PGAState:
  """State at t = 0 for initial perturbations (B, d) and steps (B,).

  For armijo, ``run_pga`` also sets ``move_max`` (the cap on each trial's move);
  a loop of its own over ``pga_update`` should set it too (``state._replace``),
  or its eta is uncapped (see ``_armijo_step``)."""
  B = delta0.shape[0]
  return PGAState(jnp.zeros((), jnp.int32), delta0, eta, jnp.zeros((B,), jnp.int32),
                  jnp.zeros((B,), bool), jnp.zeros((B,), jnp.int32) if armijo else None)


def pga_update(state: PGAState, problem: Problem, tol_g, max_steps, *,
               normalized: bool = False, sign: bool = False, armijo: bool = False
               ) -> tuple[PGAState, jax.Array]:
  """One PGA step for every restart still running; returns the state and L(delta_t).
  A state from ``apgd_init`` takes auto-PGD's step (``_apgd_update``)."""
  if state.apgd is not None:
    return _apgd_update(state, problem, tol_g, max_steps)
  if armijo:
    return _armijo_update(state, problem, tol_g, max_steps)
  vals, new, gnorm = _step(problem, state.delta, state.eta, normalized, sign)
  running = ~state.converged & (state.t < max_steps)
  now = running & (gnorm <= tol_g)
  moving = running & ~now
  delta = jnp.where(moving[:, None], new, state.delta)
  return PGAState(state.t + 1, delta, state.eta, state.iterations + moving.astype(jnp.int32),
                  state.converged | now), vals


def _armijo_update(state: PGAState, problem: Problem, tol_g, max_steps):
  """The armijo rule's step: backtrack from the trial eta, take the step, and try
  ``ARMIJO_GROWTH`` x the accepted eta next, capped at the first trial's move (a restart
  that converged keeps the eta at which ||G_eta|| <= tol_g, the one its certificate
  tolerance reads)."""
  vals, new, gnorm, eta, tries = _armijo_step(problem, state.delta, state.eta, state.move_max)
  running = ~state.converged & (state.t < max_steps)
  now = running & (gnorm <= tol_g)
  moving = running & ~now
  delta = jnp.where(moving[:, None], new, state.delta)
  eta_next = jnp.where(moving, ARMIJO_GROWTH * eta, jnp.where(now, eta, state.eta))
  evals = state.evaluations + jnp.where(running, tries + 1, 0)
  return PGAState(state.t + 1, delta, eta_next, state.iterations + moving.astype(jnp.int32),
                  state.converged | now, evals, state.move_max), vals


def _run(problem, delta0, eta, tol_g, max_steps, normalized, check_every, history_len,
         sign=False, armijo=False, apgd=None):
  state = pga_init(delta0, eta, armijo=armijo) if apgd is None else apgd
  if armijo:  # the longest move it may try: the first trial's, eta_0 ||g_0|| / eps
    _, g0 = problem.objective.value_and_grad_batch(delta0)
    state = state._replace(move_max=eta * jnp.linalg.norm(g0, axis=1)
                           / problem.constraint.eps)
  update = partial(pga_update, problem=problem, tol_g=tol_g, max_steps=max_steps,
                   normalized=normalized, sign=sign, armijo=armijo)
  if history_len:
    state, hist = jax.lax.scan(lambda s, _: update(s), state, None, length=history_len)
  else:
    hist = None

    def body(s):  # check_every steps between the (all-converged) checks
      return jax.lax.fori_loop(0, check_every, lambda _, s: update(s)[0], s)

    def cond(s):
      return jnp.any(~s.converged) & (s.t < max_steps)

    state = jax.lax.while_loop(cond, body, state)
  if state.apgd is not None:  # the best point of a restart that did not stop
    state = state._replace(delta=jnp.where(state.converged[:, None], state.delta,
                                           state.apgd.best))
    sign, normalized = problem.constraint.NORM == "inf", problem.constraint.NORM != "inf"
  vals, _, gnorm = _step(problem, state.delta, state.eta, normalized, sign)
  return state, vals, gnorm, hist


@partial(jax.jit, static_argnames=("normalized", "check_every", "history_len", "sign",
                                   "armijo"))
def run_pga(problem: Problem, delta0, eta, tol_g, max_steps, *,
            normalized: bool = False, check_every: int = 8, history_len: int = 0,
            sign: bool = False, armijo: bool = False, apgd: PGAState | None = None):
  """Runs PGA on a ``Problem`` from delta0 (B, d) until every restart converged or max_steps.

  Returns the final ``PGAState``, the values and ||G|| at the endpoints, and
  the (history_len, B) value history when ``history_len > 0`` (then exactly
  history_len steps run, with no early stop; pass history_len = max_steps).
  ``apgd``: the state of ``apgd_init`` (same delta0, eta and max_steps) to run auto-PGD.
  """
  return _run(problem, delta0, eta, tol_g, max_steps, normalized, check_every, history_len,
              sign, armijo, apgd)


@partial(jax.jit, static_argnames=("normalized",))
def pga_trace(problem: Problem, delta0, eta, steps_like, *, normalized: bool = False):
  """PGA with a fixed step per restart for ``steps_like.shape[0]`` steps, without early
  stopping: L(delta_t) for t = 0..T and ||G(delta_t)|| for t = 0..T-1, each (T(+1), B).
  ``normalized``: the step is eta (a length) along g / ||g||, as the normalized rule's.

  The record the sufficient-increase check reads (``sufficient_increase``): the
  iterates are PGA's, continued past convergence (still PGA steps, for which the
  inequality holds as well).
  """
  def body(delta, _):
    vals, new, gnorm = _step(problem, delta, eta, normalized)
    return new, (vals, gnorm)

  last, (vals, gnorm) = jax.lax.scan(body, delta0, steps_like)
  final = jax.vmap(problem.objective.value)(last)
  return jnp.concatenate([vals, final[None]]), gnorm


@jax.jit
def _value_and_mapping(problem: Problem, d, eta):
  """L(d) and ||G_eta(d)|| at one point d (d,), eta (1,): ``_step``'s, compiled once per
  shape (op by op, as ``polish`` first evaluated it, they were most of its time)."""
  vals, _, gnorm = _step(problem, d[None], eta, False)
  return vals[0], gnorm[0]


@jax.jit
def grad_norm(problem: Problem, d):
  """||grad L(d)|| at one point d (d,), compiled once per shape."""
  return jnp.linalg.norm(problem.objective.grad(d))


def polish(problem: Problem, delta, *, tol_g: float, eta_ref: float, max_steps: int = 2000,
           move: float = 0.1):
  """Armijo PGA from one point ``delta`` (d,) until ||G_eta_ref(delta)|| <= tol_g, the
  gradient mapping at the fixed step ``eta_ref``: the test a fixed-step run at eta_ref
  would stop on, reached without its steps (which crawl across a flat region and oscillate
  where the curvature exceeds 2 / eta_ref).

  The armijo rule's own stopping test reads ||G_eta|| at its accepted eta, which grows,
  and ||G_eta|| is nonincreasing in eta (Beck 2017, Lemma 10.9; any convex set): passing
  it at eta > eta_ref does not pass the test at eta_ref, but since ||Pi(delta + eta g) -
  delta|| is nondecreasing in eta, ||G_eta_ref|| <= (eta / eta_ref) ||G_eta||. So a first
  armijo run stops at tol_g, and each of up to ``POLISH_ROUNDS - 1`` more at
  tol_g eta_ref / max(eta_ref, eta), eta the step the last one ended at (the tolerance
  that guarantees the test at eta_ref if the run ends at that step again; the test itself
  is what decides, checked after every run). Every run starts with a trial move of at
  most ``move`` eps (the cap ``run_pga`` keeps for the run). The value rises at every
  accepted step (the sufficient-increase condition, up to the values' rounding; a step
  still refused after ``ARMIJO_HALVINGS`` halvings is taken anyway, 2^-40 of the trial).

  Returns (delta, L(delta), ||G_eta_ref(delta)||, converged, steps): steps taken over all
  rounds (0: the point already passed, and nothing moved).
  """
  eps = float(problem.constraint.eps)
  d = jnp.asarray(delta)
  tiny = float(jnp.finfo(d.dtype).tiny)
  ref = jnp.asarray([eta_ref], d.dtype)

  def at(d):  # L(d) and ||G_eta_ref(d)||, by the fixed step's own ``_step``
    value, gnorm = _value_and_mapping(problem, d, ref)
    return float(value), float(gnorm)

  value, gn = at(d)
  steps, tol = 0, tol_g
  for _ in range(POLISH_ROUNDS):
    if gn <= tol_g:
      break
    eta = jnp.asarray([move * eps / max(float(grad_norm(problem, d)), tiny)], d.dtype)
    state, _, _, _ = run_pga(problem, d[None], eta, tol, max_steps, armijo=True)
    d, steps = state.delta[0], steps + int(state.iterations[0])
    value, gn = at(d)
    tol = tol_g * eta_ref / max(eta_ref, float(state.eta[0]))
  return np.asarray(d), value, gn, gn <= tol_g, steps


def sufficient_increase(values, gnorm, eta, *, size: int) -> dict:
  """Checks L(delta_{t+1}) - L(delta_t) >= (eta / 2) ||G(delta_t)||^2 at every step.

  The inequality the proof of T1 rests on: projected gradient ascent with
  eta <= 1/ell increases L by at least (eta - ell eta^2 / 2) ||G||^2 >= (eta / 2) ||G||^2
  (Beck, First-Order Methods in Optimization, 2017, Lemma 10.4, for ascent); summed
  over t it gives T1. A step with a smaller increase is a violation, beyond the
  rounding of the two values: 16 size u (|L_t| + |L_{t+1}|), size the length of the
  sums in L (m + d for a two-layer network), u the unit roundoff of the values' dtype.

  Args:
    values: (T + 1, B) L(delta_t). gnorm: (T, B) ||G(delta_t)||. eta: (B,) the steps.
    size: the length of the sums that make L (for the rounding margin).

  Returns:
    steps checked, violations, and the smallest ratio increase / ((eta / 2) ||G||^2) over
    the steps whose required increase exceeds the margin (1 or more where eta <= 1/ell).
  """
  v = np.asarray(values, np.float64)
  g = np.asarray(gnorm, np.float64)
  eta = np.broadcast_to(np.asarray(eta, np.float64), v.shape[1:])
  u = float(np.finfo(np.asarray(values).dtype).eps) / 2
  gain = v[1:] - v[:-1]
  need = 0.5 * eta[None, :] * g**2
  margin = 16 * size * u * (np.abs(v[1:]) + np.abs(v[:-1]))
  viol = gain < need - margin
  live = need > margin  # steps where the inequality says more than the rounding
  ratio = gain[live] / need[live]
  return {"steps": int(gain.size), "violations": int(viol.sum()),
          "min_ratio": float(ratio.min()) if ratio.size else None}


def default_tol_g(problem: Problem, dtype=None) -> float:
  """Default first-order tolerance: ``Tolerances.rtol_g`` of the dtype (1e-6 in float64,
  1e-4 in float32, above the rounding noise of ||G|| = ||delta_{t+1} - delta_t|| / eta)
  times ||grad L(0)||, so that it scales with the instance."""
  x = problem.x
  dtype = dtype or x.dtype
  g0 = problem.objective.grad(jnp.zeros_like(x))
  return Tolerances.for_dtype(dtype).rtol_g * max(float(jnp.linalg.norm(g0)),
                                                  float(jnp.finfo(x.dtype).tiny))


def initial_deltas(problem: Problem, key, init: str, n: int) -> jax.Array:
  """n initial perturbations of any ``Problem``, as ``pga`` draws a chunk's starts."""
  return _starts(problem, key, init, n)


def _starts(problem: Problem, key, init: str, n: int) -> jax.Array:
  x = problem.x
  grad0 = problem.objective.grad(jnp.zeros_like(x)) if init == "gradient" else None
  return problem.constraint.sample(key, init, n, x.shape[0], x.dtype, grad0=grad0)


def _eta(step_rule, step, problem: Problem, delta0, ell):
  return get_rule(step_rule).size(step, problem, delta0, ell)


def _shard_restarts(delta0, eta):
  """Pads the restart axis to a multiple of the device count and shards it.

  Padding repeats the last restart (it is sliced off afterwards), so the
  draws of the starts never depend on the number of devices.
  """
  devices = jax.devices()
  pad = -delta0.shape[0] % len(devices)
  if pad:
    delta0 = jnp.concatenate([delta0, jnp.repeat(delta0[-1:], pad, 0)])
    eta = jnp.concatenate([eta, jnp.repeat(eta[-1:], pad, 0)])
  mesh = jax.sharding.Mesh(np.array(devices), ("restarts",))
  rows = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("restarts"))
  return jax.device_put(delta0, rows), jax.device_put(eta, rows)


def pga_chunks(problem: Problem, *, key: jax.Array, n_restarts: int,
               init: str = "sphere", step_rule: str = "grad0", step: float | None = 0.1,
               max_steps: int = 10_000, tol_g: float | None = None, chunk: int = 8192,
               check_every: int = 8, history: bool = False, ell: float | None = None,
               shard: bool = True, progress: bool = True, chunks=None):
  """``pga`` one chunk at a time: yields a ``PGAResult`` per chunk of restarts.

  The arguments are ``pga``'s. Chunk i draws its starts from ``fold_in(key, i)``, so
  concatenating the chunks gives exactly ``pga``'s result, while a caller that reduces
  each chunk (``census.StreamingCensus``) never holds them all.
  ``chunks``: run only these chunk indices, in this order (default all): chunk i
  is the same whichever process runs it (its starts come from fold_in(key, i)).
  """
  if n_restarts < 1:
    raise InvalidInput(f"n_restarts={n_restarts} must be positive")
  if max_steps < 1:
    raise InvalidInput(f"max_steps={max_steps} must be positive")
  step = resolve_step(step_rule, step)
  if not (math.isfinite(step) and step > 0):
    raise InvalidInput(f"step={step!r} must be positive and finite")
  inits = getattr(problem.constraint, "INITS", INITS)
  if init not in inits:
    raise InvalidInput(f"init={init!r} is unknown; choose one of {list(inits)}")
  rule = get_rule(step_rule)
  if rule.norms is not None and problem.constraint.NORM not in rule.norms:
    raise InvalidInput(f"step_rule={step_rule!r} runs on the {'/'.join(rule.norms)} ball only "
                       f"(on the l2 ball, 'normalized' is the attack libraries' step)")
  x = problem.x
  if tol_g is None:
    tol_g = default_tol_g(problem, x.dtype)
  if not tol_g > 0:
    raise InvalidInput(f"tol_g={tol_g!r} must be positive")
  if rule.ell == "estimate" and ell is None:  # any objective: its own Hessians
    from adv_landscape.bounds import estimate_ell
    ell = estimate_ell(problem, key=jax.random.fold_in(key, 1_000_003))
  if rule.ell == "rigorous" and ell is None:
    obj = problem.objective
    if not obj.RIGOROUS:
      raise InvalidInput(f"step_rule={step_rule!r} needs the rigorous ell, which exists for "
                         f"two-layer networks only: use curvature (ell estimated over the "
                         f"ball), grad0 or normalized, or pass ell")
    from adv_landscape.bounds import rigorous_constants
    ell = rigorous_constants(problem).ell
  config = PGAConfig(step_rule=step_rule, step=float(step), init=init, tol_g=float(tol_g),
                     max_steps=int(max_steps), chunk=int(chunk), check_every=int(check_every))
  chunk = min(chunk, n_restarts)
  n_chunks = -(-n_restarts // chunk)
  todo = range(n_chunks) if chunks is None else list(chunks)
  for i in tqdm(todo, desc="PGA", unit="chunk", disable=not progress or len(todo) <= 1,
                leave=False):
    delta0 = _starts(problem, jax.random.fold_in(key, i), init, chunk)
    eta = _eta(step_rule, step, problem, delta0, ell)
    if shard and jax.process_count() == 1 and jax.device_count() > 1:  # this host's devices
      delta0, eta = _shard_restarts(delta0, eta)
    state, vals, gnorm, hist = run_pga(
        problem, delta0, eta, jnp.asarray(tol_g, x.dtype), jnp.asarray(max_steps, jnp.int32),
        normalized=rule.move == "normalized", sign=rule.move == "sign", check_every=check_every,
        history_len=max_steps if history else 0, armijo=rule.move == "armijo",
        apgd=apgd_init(delta0, eta, max_steps) if rule.move == "apgd" else None)
    out = jax.device_get((state.delta, vals, state.iterations, state.converged, gnorm,
                          state.eta, hist, state.evaluations))
    keep = min(chunk, n_restarts - i * chunk)  # the last chunk's surplus starts are dropped
    yield PGAResult(*[o[:keep] for o in out[:6]],
                    history=None if hist is None else out[6][:, :keep], tol_g=float(tol_g),
                    config=config, evaluations=None if out[7] is None else out[7][:keep])


def pga(problem: Problem, *, key: jax.Array, n_restarts: int, init: str = "sphere",
        step_rule: str = "grad0", step: float | None = 0.1, max_steps: int = 10_000,
        tol_g: float | None = None, chunk: int = 8192, check_every: int = 8,
        history: bool = False, ell: float | None = None, shard: bool = True,
        progress: bool = True) -> PGAResult:
  """Batched PGA from ``n_restarts`` starts, in chunks of at most ``chunk`` restarts.

  Args:
    problem: the instance (``instances.problem``: an objective on a constraint set).
    key: PRNG key; chunk i draws its starts from ``fold_in(key, i)``.
    init: one of ``INITS``.
    step_rule: ``fixed`` (eta = step), ``lipschitz`` (eta = step / ell, the
      rigorous ell of docs/theory.md section 5 unless given), ``curvature`` (eta = step / ell
      with ell the estimate ``bounds.estimate_ell`` unless given), ``grad0`` (eta = step eps /
      ||grad L(delta_0)||), ``normalized`` (delta + step eps g / ||g||), ``sign``
      (delta + step eps sign(g), on the l_inf ball only), ``armijo`` (backtracking on the
      sufficient-increase condition from eta = step eps / ||grad L(delta_0)||), ``apgd``
      (auto-PGD from eta_0 = step eps; Croce and Hein's is step = 2).
    step: the rule's constant c; None for the rule's default (``step_rules``: 2 for apgd).
    max_steps: step budget per restart.
    tol_g: first-order tolerance on ||G||; default ``default_tol_g``.
    history: also return the value at every step (runs all max_steps).
    shard: split each chunk's restarts over all visible devices (a 1-D
      ``jax.sharding.Mesh`` over the restart axis); results equal the
      single-device ones, up to the rounding of differently blocked products.

  Returns:
    a ``PGAResult``.
  """
  parts = list(pga_chunks(problem, key=key, n_restarts=n_restarts, init=init,
                          step_rule=step_rule, step=step, max_steps=max_steps,
                          tol_g=tol_g, chunk=chunk, check_every=check_every,
                          history=history, ell=ell, shard=shard, progress=progress))
  cat = [np.concatenate([p[k] for p in parts]) for k in range(6)]
  hist = np.concatenate([p.history for p in parts], axis=1) if history else None
  evals = (np.concatenate([p.evaluations for p in parts]) if parts[0].evaluations is not None
           else None)
  return PGAResult(*cat, history=hist, tol_g=parts[0].tol_g, config=parts[0].config,
                   evaluations=evals)


def certificate_tolerance(res: PGAResult, problem: Problem, *,
                          normalized: bool | None = None,
                          slack: float = Tolerances.slack) -> np.ndarray:
  """Per-endpoint first-order tolerance implied by PGA's stopping rule.

  On the sphere, with v = delta + eta grad L, the tangential part of
  G = (Pi(v) - delta) / eta is eps P grad L / ||v||, so ||G|| <= tol_g gives
  ||P grad L|| <= tol_g ||v|| / eps; inside the ball G = grad L. The factor
  ||v|| / eps (>= 1) is computed in float64 at each endpoint; ``slack``
  absorbs the rounding of a float32 run. Whether the steps were normalised
  is read from ``res.config`` unless ``normalized`` is given.

  Returns:
    (B,) tolerances for ``certify(..., tol_g=...)``.
  """
  if normalized is None:
    normalized = res.config is not None and res.config.normalized
  with jax.enable_x64(True):
    problem = problem.astype(jnp.float64)
    eps = float(problem.constraint.eps)
    d = jnp.asarray(res.deltas, jnp.float64)
    _, g = problem.objective.value_and_grad_batch(d)
    eta = jnp.asarray(res.eta, jnp.float64)
    if normalized:
      eta = eta / jnp.maximum(jnp.linalg.norm(g, axis=1), jnp.finfo(jnp.float64).tiny)
    factor = jnp.maximum(1.0, jnp.linalg.norm(d + eta[:, None] * g, axis=1) / eps)
    return slack * res.tol_g * np.asarray(factor)
