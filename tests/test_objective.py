"""The objective: closed-form gradient and Hessian, two independent ways, for
every activation x loss pair, inside, on and outside the ball."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from adv_landscape import objective
from adv_landscape.network import forward
from tests.helpers import ALL_LOSSES, SMOOTH_ACTIVATIONS, probe_points, small_instance


@pytest.mark.parametrize("activation", SMOOTH_ACTIVATIONS)
@pytest.mark.parametrize("loss", ALL_LOSSES)
def test_closed_forms_match_autodiff(activation, loss):
  net, x, y, eps = small_instance(activation, loss)
  fn = lambda dl: objective.value(net, loss, x, y, dl)  # noqa: E731
  for where, dl in probe_points(x.shape[0], eps).items():
    g = objective.grad(net, loss, x, y, dl)
    H = objective.hess(net, loss, x, y, dl)
    np.testing.assert_allclose(g, jax.grad(fn)(dl), rtol=1e-10, atol=1e-10, err_msg=where)
    np.testing.assert_allclose(H, jax.hessian(fn)(dl), rtol=1e-10, atol=1e-10, err_msg=where)
    np.testing.assert_allclose(H, H.T, rtol=1e-13, atol=1e-13, err_msg=where)
    v = jnp.linspace(-1.0, 2.0, x.shape[0])
    np.testing.assert_allclose(objective.hvp(net, loss, x, y, dl, v), H @ v, rtol=1e-10,
                               atol=1e-10, err_msg=where)


@pytest.mark.parametrize("activation", SMOOTH_ACTIVATIONS)
@pytest.mark.parametrize("loss", ALL_LOSSES)
def test_closed_forms_match_finite_differences(activation, loss):
  net, x, y, eps = small_instance(activation, loss)
  dl = probe_points(x.shape[0], eps)["inside"]
  # The closed-form gradient is differentiated numerically: its Jacobian must
  # be the closed-form Hessian (central differences, float64).
  h = 1e-6
  g = lambda z: objective.grad(net, loss, x, y, z)  # noqa: E731
  H_fd = jnp.stack([(g(dl + h * e) - g(dl - h * e)) / (2 * h) for e in jnp.eye(x.shape[0])])
  np.testing.assert_allclose(objective.hess(net, loss, x, y, dl), H_fd, rtol=1e-6, atol=1e-7)
  check_grads(lambda z: objective.value(net, loss, x, y, z), (dl,), order=2, atol=1e-6,
              rtol=1e-6)


@pytest.mark.parametrize("loss", ["quadratic", "softmax_ce"])
def test_batch_equals_loop(loss):
  net, x, y, eps = small_instance("gelu", loss)
  deltas = jnp.stack(list(probe_points(x.shape[0], eps).values()))
  vals, grads = jax.jit(objective.value_and_grad_batch, static_argnums=1)(net, objective.get_loss(loss), x, y, deltas)
  for i, dl in enumerate(deltas):
    np.testing.assert_allclose(vals[i], objective.value(net, loss, x, y, dl), rtol=1e-13)
    np.testing.assert_allclose(grads[i], objective.grad(net, loss, x, y, dl), rtol=1e-12,
                               atol=1e-14)


def test_autodiff_fallback_matches_closed_form():
  net, x, y, eps = small_instance("swish", "logistic")
  obj = objective.objective_autodiff(lambda z: forward(net, z), "logistic", x, y)
  dl = probe_points(x.shape[0], eps)["on"]
  np.testing.assert_allclose(obj.value(dl), objective.value(net, "logistic", x, y, dl),
                             rtol=1e-13)
  np.testing.assert_allclose(obj.grad(dl), objective.grad(net, "logistic", x, y, dl),
                             rtol=1e-12, atol=1e-14)
  np.testing.assert_allclose(obj.hess(dl), objective.hess(net, "logistic", x, y, dl),
                             rtol=1e-10, atol=1e-12)
