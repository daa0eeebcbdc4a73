"""Activations: closed-form derivatives two ways, and their sup bounds."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from adv_landscape.activations import ACTIVATIONS, get_activation

T = jnp.linspace(-6.0, 6.0, 121)


@pytest.mark.parametrize("name", sorted(n for n, a in ACTIVATIONS.items() if a.smooth))
def test_derivatives_match_autodiff(name):
  act = get_activation(name)
  d1 = jax.vmap(jax.grad(act.fn))
  d2 = jax.vmap(jax.grad(jax.grad(act.fn)))
  d3 = jax.vmap(jax.grad(jax.grad(jax.grad(act.fn))))
  np.testing.assert_allclose(act.d1(T), d1(T), rtol=1e-12, atol=1e-12)
  np.testing.assert_allclose(act.d2(T), d2(T), rtol=1e-11, atol=1e-12)
  np.testing.assert_allclose(act.d3(T), d3(T), rtol=1e-10, atol=1e-11)


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "softplus", "gelu", "swish", "quadratic"])
def test_derivatives_match_finite_differences(name):
  act = get_activation(name)
  for fn in (act.fn, act.d1, act.d2):
    check_grads(fn, (T,), order=1, modes=["fwd", "rev"], atol=1e-6, rtol=1e-6)


def test_relu_first_derivative():
  act = get_activation("relu")
  t = jnp.array([-2.0, -0.5, 0.5, 2.0])
  np.testing.assert_array_equal(act.d1(t), jax.vmap(jax.grad(act.fn))(t))
  assert not act.smooth


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "softplus", "gelu", "swish", "linear"])
def test_global_sups_bound_dense_samples_and_are_nearly_attained(name):
  act = get_activation(name)
  t = jnp.linspace(-30.0, 30.0, 600_001)
  for k, fn in enumerate((act.d1, act.d2, act.d3), start=1):
    seen = float(jnp.max(jnp.abs(fn(t))))
    bound = float(act.sup_abs(k, np.inf))
    assert seen <= bound, (k, seen, bound)
    assert bound <= seen * (1 + 1e-4) + 1e-5, (k, seen, bound)  # tight, not just valid


def test_quadratic_sup_grows_with_the_range():
  act = get_activation("quadratic")
  np.testing.assert_allclose(act.sup_abs(1, np.array([0.5, 3.0])), [1.0, 6.0], rtol=0)
  np.testing.assert_allclose(act.sup_abs(2, np.array([0.5])), [2.0], rtol=0)


def test_unknown_activation_names_itself():
  with pytest.raises(ValueError, match="activation='cosh'"):
    get_activation("cosh")
