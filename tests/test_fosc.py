"""FOSC (Wang et al. 2019) per endpoint: zero exactly at first-order KKT points, second order
in the Riemannian gradient on the sphere (docs/theory.md section 13)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from adv_landscape.certificates import fosc
from adv_landscape.problem import Problem
from tests.helpers import small_instance

U = np.finfo(np.float64).eps


def _linear(norm):
  net, x, _, eps = small_instance("linear", "linear", d=6, m=4)
  return Problem.two_layer(net, "linear", x, -1.0, eps=eps, dtype=jnp.float64, norm=norm)


@pytest.mark.parametrize("norm", ["2", "inf"])
def test_fosc_vanishes_at_the_maximiser_of_a_linear_objective(norm):
  """L = <a, delta> + c on the set: its maximiser is eps a / ||a|| (ball) or eps sign(a)
  (box), where FOSC is 0 to rounding (the tolerance: a few d u eps ||g||); any other point
  of the set has FOSC > 0 (seen to fail there)."""
  with jax.enable_x64(True):
    p = _linear(norm)
    g = p.objective.grad(jnp.zeros(6))
    eps = float(p.constraint.eps)
    best = eps * (g / jnp.linalg.norm(g) if norm == "2" else jnp.sign(g))
    other = jnp.roll(best, 1)
    c = fosc(p, jnp.stack([best, other, jnp.zeros(6)]))
    scale = eps * float(jnp.sum(jnp.abs(g)))
    assert abs(c[0]) <= 8 * 6 * U * scale
    assert c[1] > 1e3 * 8 * 6 * U * scale and c[2] == pytest.approx(
        float(p.constraint.support(g[None])[0]), rel=1e-14)


def test_fosc_is_second_order_in_the_riemannian_gradient_on_the_sphere():
  """At sphere points where mu > 0: eps ||t||^2 / (2 ||g||) <= FOSC <=
  eps ||t||^2 / (2 mu) (an identity, so to rounding); where mu < 0, FOSC >= 2 eps |mu|."""
  with jax.enable_x64(True):
    net, x, y, eps = small_instance("tanh", "quadratic", d=7, m=9, scale=1.0, seed=2)
    p = Problem.two_layer(net, "quadratic", x, y, eps=eps, dtype=jnp.float64)
    pts = jax.random.normal(jax.random.key(0), (64, 7), jnp.float64)
    pts = eps * pts / jnp.linalg.norm(pts, axis=1, keepdims=True)
    _, g = p.objective.value_and_grad_batch(pts)
    g, d = np.asarray(g), np.asarray(pts)
    mu = np.sum(d * g, axis=1) / eps
    t = np.linalg.norm(g - mu[:, None] * d / eps, axis=1)
    gn = np.linalg.norm(g, axis=1)
    c = fosc(p, pts)
    tol = 16 * 7 * U * eps * gn
    up = mu > 0
    assert up.any() and (~up).any()
    assert np.all(c[up] >= eps * t[up] ** 2 / (2 * gn[up]) - tol[up])
    assert np.all(c[up] <= eps * t[up] ** 2 / (2 * mu[up]) + tol[up])
    assert np.all(c[~up] >= 2 * eps * np.abs(mu[~up]) - tol[~up])
