"""The step rules of PGA: one registry, ``STEP_RULES``, name -> ``StepRule``.

A rule is a *move* and a *size*. The move is how one step uses the gradient g
(the jitted loop in ``ascent`` knows five: ``gradient``, delta + eta g;
``normalized``, delta + eta g / ||g||; ``sign``, delta + eta sign(g);
``armijo``, a gradient step backtracked on the sufficient-increase condition;
``apgd``, Croce and Hein's auto-PGD, a fixed-length step with momentum whose length
halves at checkpoints, ``ascent.apgd_checkpoints``);
the size is eta per restart at the start, from the rule's constant c (``--step``).
Beside them the facts the rest of the suite asks of a rule: whether it needs ell
(rigorous, or the sampled estimate), the constraint sets it runs on, whether its
eta stays fixed through a run (T1 is stated for those), and whether it can stop
at an interior critical point.

A new rule with one of the four moves is one entry here; a new move is one more
branch in ``ascent._step``.

>>> STEP_RULES["grad0"].move, STEP_RULES["sign"].norms
('gradient', ('inf',))
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax.numpy as jnp

from adv_landscape.errors import InvalidInput

__all__ = ["StepRule", "STEP_RULES", "MOVES", "get_rule", "resolve_step"]

MOVES = ("gradient", "normalized", "sign", "armijo", "apgd")


class StepRule(NamedTuple):
  """One step rule (module docstring)."""

  name: str
  move: str
  size: Callable  # (c, problem, delta0 (B, d), ell) -> eta (B,)
  help: str
  ell: str | None = None  # "rigorous", "estimate" or None
  norms: tuple | None = None  # the constraint sets (their NORM) it runs on; None: any
  fixed_eta: bool = True  # delta + eta g with eta constant through a run (what T1 is for)
  interior: bool = True  # can stop at an interior critical point
  default_step: float = 0.05  # c when none is given (``--step``)


def _constant(c, problem, delta0, ell):
  return jnp.full((delta0.shape[0],), c, delta0.dtype)


def _over_ell(c, problem, delta0, ell):
  return jnp.full((delta0.shape[0],), c / ell, delta0.dtype)


def _over_grad0(c, problem, delta0, ell):
  _, g = problem.objective.value_and_grad_batch(delta0)
  gn = jnp.maximum(jnp.linalg.norm(g, axis=1), jnp.finfo(delta0.dtype).tiny)
  return c * problem.constraint.eps / gn


def _times_eps(c, problem, delta0, ell):
  return jnp.full((delta0.shape[0],), c * problem.constraint.eps, delta0.dtype)


STEP_RULES = {r.name: r for r in (
    StepRule("fixed", "gradient", _constant, "eta = c"),
    StepRule("lipschitz", "gradient", _over_ell,
             "eta = c / ell, ell the rigorous bound (docs/theory.md section 5)", ell="rigorous"),
    StepRule("curvature", "gradient", _over_ell,
             "eta = c / ell_est, the largest ||hess L|| found over the set", ell="estimate"),
    StepRule("grad0", "gradient", _over_grad0, "eta = c eps / ||grad L(delta_0)||"),
    StepRule("normalized", "normalized", _times_eps,
             "delta + c eps g / ||g|| (the attack libraries' l2 step)", fixed_eta=False,
             interior=False),
    StepRule("sign", "sign", _times_eps, "delta + c eps sign(g) (l_inf PGD)", norms=("inf",),
             fixed_eta=False, interior=False),
    StepRule("armijo", "armijo", _over_grad0,
             "backtracking on the sufficient-increase condition from eta = c eps / "
             "||grad L(delta_0)||, the next trial twice the accepted step, its move eta "
             "||g|| never beyond the first's c eps", fixed_eta=False),
    StepRule("apgd", "apgd", _times_eps,
             "auto-PGD (Croce and Hein 2020): steps of length eta along g / ||g|| (l2) or "
             "eta sign(g) (l_inf) with momentum 0.75, eta_0 = c eps (c = 2 by default, "
             "theirs), halved at checkpoints where the loss rose too rarely or the best "
             "stalled, restarting from the best point", fixed_eta=False, default_step=2.0),
)}
assert all(r.move in MOVES for r in STEP_RULES.values())


def get_rule(name: str) -> StepRule:
  """The registered rule of that name; ``InvalidInput`` naming the choices otherwise."""
  if name not in STEP_RULES:
    raise InvalidInput(f"step_rule={name!r} is unknown; choose one of {list(STEP_RULES)}")
  return STEP_RULES[name]


def resolve_step(step_rule: str, step: float | None) -> float:
  """``step`` as given, or the rule's ``default_step`` when it is None."""
  return get_rule(step_rule).default_step if step is None else step
