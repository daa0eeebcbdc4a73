"""The step-rule registry: each rule's size is its documented formula, its move and its sets
are what PGA runs, and the command line offers exactly the registered rules."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from adv_landscape import ascent, cli
from adv_landscape.errors import InvalidInput
from adv_landscape.problem import Problem
from adv_landscape.step_rules import MOVES, STEP_RULES, get_rule
from tests.helpers import small_instance


def test_sizes_are_the_documented_formulas():
  with jax.enable_x64(True):
    net, x, y, eps = small_instance(d=6, m=5)
    problem = Problem.two_layer(net, "quadratic", x, y, eps=eps, dtype=jnp.float64)
    delta0 = jnp.stack([jnp.zeros(6), 0.3 * eps * jnp.ones(6) / jnp.sqrt(6.0)])
    g = jax.vmap(problem.objective.grad)(delta0)
    c, ell = 0.3, 7.0
    want = {"fixed": c, "lipschitz": c / ell, "curvature": c / ell,
            "grad0": c * eps / np.linalg.norm(g, axis=1), "normalized": c * eps,
            "sign": c * eps, "armijo": c * eps / np.linalg.norm(g, axis=1), "apgd": c * eps}
    assert set(want) == set(STEP_RULES)
    for name, rule in STEP_RULES.items():
      eta = np.asarray(rule.size(c, problem, delta0, ell))
      np.testing.assert_allclose(eta, np.broadcast_to(want[name], (2,)), rtol=1e-14)
      assert rule.move in MOVES


def test_rules_refuse_the_sets_they_do_not_run_on():
  net, x, y, eps = small_instance(d=6, m=5)
  problem = Problem.two_layer(net, "quadratic", x, y, eps=eps)
  with pytest.raises(InvalidInput, match="runs on the inf ball only"):
    ascent.pga(problem, key=jax.random.key(0), n_restarts=2, step_rule="sign",
               progress=False)
  with pytest.raises(InvalidInput, match="unknown; choose one of"):
    get_rule("adam")


def test_the_command_line_offers_the_registered_rules():
  parser = cli.build_parser()
  census = parser._subparsers._group_actions[0].choices["census"]
  opt = next(a for a in census._actions if "--step-rule" in a.option_strings)
  assert tuple(opt.choices) == tuple(STEP_RULES)
