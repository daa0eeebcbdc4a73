"""Losses: closed-form derivatives against autodiff and finite differences."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from adv_landscape.losses import LOSSES, get_loss, loss_from_callable

U = jnp.linspace(-3.0, 3.0, 13) + 0.05  # avoids Huber's kinks at |u - y| = 1


@pytest.mark.parametrize("name", ["quadratic", "logistic", "exponential", "huber", "linear"])
@pytest.mark.parametrize("y", [-1.0, 0.3, 1.0])
def test_scalar_loss_derivatives(name, y):
  loss = get_loss(name)
  g = jax.vmap(jax.grad(loss.value), in_axes=(0, None))(U, y)
  h = jax.vmap(jax.grad(jax.grad(loss.value)), in_axes=(0, None))(U, y)
  np.testing.assert_allclose(jax.vmap(loss.grad, in_axes=(0, None))(U, y), g, rtol=1e-12,
                             atol=1e-12)
  np.testing.assert_allclose(jax.vmap(loss.hess, in_axes=(0, None))(U, y), h, rtol=1e-12,
                             atol=1e-12)
  check_grads(lambda u: loss.value(u, y), (U,), order=2, modes=["fwd", "rev"], atol=1e-6,
              rtol=1e-6)


@pytest.mark.parametrize("y", [0, 2])
def test_softmax_ce_derivatives(y):
  loss = get_loss("softmax_ce")
  u = jnp.array([0.3, -1.2, 2.0])
  np.testing.assert_allclose(loss.grad(u, y), jax.grad(loss.value)(u, y), rtol=1e-12, atol=1e-12)
  H = loss.hess(u, y)
  np.testing.assert_allclose(H, jax.hessian(loss.value)(u, y), rtol=1e-12, atol=1e-12)
  np.testing.assert_allclose(H, H.T, rtol=0, atol=0)
  check_grads(lambda v: loss.value(v, y), (u,), order=2, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("name", ["quadratic", "logistic", "exponential", "huber", "linear"])
def test_sups_bound_samples(name):
  loss = get_loss(name)
  lo, hi, y = -2.0, 1.5, 0.7
  u = jnp.linspace(lo, hi, 2001)
  l1, l2, _ = loss.sups(lo, hi, y)
  assert float(jnp.max(jnp.abs(jax.vmap(loss.grad, in_axes=(0, None))(u, y)))) <= l1 + 1e-12
  assert float(jnp.max(jnp.abs(jax.vmap(loss.hess, in_axes=(0, None))(u, y)))) <= l2 + 1e-12


def test_callable_loss_uses_autodiff():
  loss = loss_from_callable(lambda u, y: jnp.cosh(u - y), name="cosh")
  assert loss.name == "cosh" and loss.sups is None
  np.testing.assert_allclose(loss.grad(jnp.array(0.4), 0.1), np.sinh(0.3), rtol=1e-12)
  np.testing.assert_allclose(loss.hess(jnp.array(0.4), 0.1), np.cosh(0.3), rtol=1e-12)


def test_registry_and_errors():
  assert set(LOSSES) == {"quadratic", "logistic", "exponential", "huber", "linear", "softmax_ce"}
  with pytest.raises(ValueError, match="loss='hinge'"):
    get_loss("hinge")
