"""Ball, sphere and tangent space: projection, sampling, Riemannian Hessian."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from adv_landscape import geometry, objective
from adv_landscape.certify import lambda_tangent_householder, lambda_tangent_shift
from tests.helpers import small_instance

EPS = 1.5


@pytest.mark.parametrize("scale, expected_norm", [(0.0, 0.0), (0.4, 0.4 * EPS), (1.0, EPS),
                                                  (3.0, EPS)])
def test_projection_inside_on_outside_and_at_zero(scale, expected_norm):
  v = scale * EPS * jnp.array([0.6, -0.8, 0.0])
  p = geometry.project_ball(v, EPS)
  np.testing.assert_allclose(jnp.linalg.norm(p), expected_norm, rtol=1e-14, atol=1e-15)
  if scale <= 1.0:
    np.testing.assert_array_equal(p, v)  # the identity inside the ball
  else:  # the radial point on the sphere
    np.testing.assert_allclose(p, EPS * jnp.array([0.6, -0.8, 0.0]), rtol=1e-14)


def test_projection_is_differentiable_at_zero():
  J = jax.jacobian(lambda v: geometry.project_ball(v, EPS))(jnp.zeros(3))
  np.testing.assert_array_equal(J, np.eye(3))


vectors = hnp.arrays(np.float64, (4,), elements=st.floats(-1e3, 1e3, allow_nan=False))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(vectors, vectors)
def test_projection_idempotent_and_non_expansive(u, v):
  pu, pv = geometry.project_ball(jnp.asarray(u), EPS), geometry.project_ball(jnp.asarray(v), EPS)
  np.testing.assert_allclose(geometry.project_ball(pu, EPS), pu, rtol=1e-13, atol=1e-13)
  assert float(jnp.linalg.norm(pu - pv)) <= float(np.linalg.norm(u - v)) * (1 + 1e-12) + 1e-12
  assert float(jnp.linalg.norm(pu)) <= EPS * (1 + 1e-14)


def test_batch_projection_is_per_row():
  vs = jnp.array([[3.0, 4.0], [0.1, 0.0]])
  np.testing.assert_allclose(geometry.project_ball_batch(vs, 1.0), [[0.6, 0.8], [0.1, 0.0]],
                             rtol=1e-14)


def test_sphere_samples_have_radius_eps(key):
  z = geometry.sample_sphere(key, 100, 7, EPS)
  np.testing.assert_allclose(jnp.linalg.norm(z, axis=1), EPS, rtol=1e-14)


@pytest.mark.parametrize("d", [1, 3, 20])
def test_ball_samples_are_uniform(key, d):
  # Uniform in the ball <=> (||z|| / eps)^d ~ U(0, 1), and direction uniform.
  z = np.asarray(geometry.sample_ball(key, 20_000, d, EPS))
  r = np.linalg.norm(z, axis=1) / EPS
  assert r.max() <= 1.0
  assert scipy.stats.kstest(r**d, "uniform").pvalue > 1e-3
  np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=0.05 * EPS)


@pytest.mark.parametrize("activation", ["tanh", "gelu", "quadratic"])
def test_riemannian_hessian_matches_great_circles(activation):
  """d2/dt2 L(cos t delta + sin t eps v) at t = 0 equals eps^2 <v, Hess_S v>."""
  net, x, y, eps = small_instance(activation, "quadratic")
  d = x.shape[0]
  delta = eps * jnp.linspace(1.0, -0.5, d) / jnp.linalg.norm(jnp.linspace(1.0, -0.5, d))
  g = objective.grad(net, "quadratic", x, y, delta)
  H = objective.hess(net, "quadratic", x, y, delta)
  R = geometry.riemannian_hess(delta, g, H, eps)
  P = geometry.tangent_projector(delta)
  for seed in range(3):
    v = P @ jax.random.normal(jax.random.key(seed), (d,))
    v = v / jnp.linalg.norm(v)
    curve = lambda t, v=v: objective.value(  # noqa: E731
        net, "quadratic", x, y, jnp.cos(t) * delta + jnp.sin(t) * eps * v)
    second = jax.grad(jax.grad(curve))(0.0)
    h = 1e-4
    fd = (curve(h) - 2 * curve(0.0) + curve(-h)) / h**2
    np.testing.assert_allclose(eps**2 * v @ R @ v, second, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(second, fd, rtol=1e-5, atol=1e-7)  # h^2 truncation


@pytest.mark.parametrize("activation, loss", [("tanh", "quadratic"), ("swish", "logistic"),
                                              ("softplus", "softmax_ce")])
def test_shift_householder_and_explicit_basis_agree(activation, loss):
  net, x, y, eps = small_instance(activation, loss, d=6)
  for seed in range(4):
    z = jax.random.normal(jax.random.key(seed), (6,))
    delta = eps * z / jnp.linalg.norm(z)
    g = objective.grad(net, loss, x, y, delta)
    H = objective.hess(net, loss, x, y, delta)
    mu = geometry.multiplier(delta, g, eps)
    B = scipy.linalg.null_space(np.asarray(delta)[None, :])  # orthonormal tangent basis
    ref = np.linalg.eigvalsh(B.T @ (np.asarray(H) - float(mu) * np.eye(6)) @ B)[-1]
    np.testing.assert_allclose(lambda_tangent_shift(delta, g, H, eps), ref, rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_allclose(lambda_tangent_householder(delta, g, H, eps), ref, rtol=1e-10,
                               atol=1e-12)


def test_householder_is_orthogonal_and_maps_u_to_an_axis():
  u = jnp.array([-0.3, 0.4, 0.5])
  u = u / jnp.linalg.norm(u)
  Q = geometry.householder(u)
  np.testing.assert_allclose(Q @ Q.T, np.eye(3), atol=1e-14)
  np.testing.assert_allclose(jnp.abs(Q @ u), [1.0, 0.0, 0.0], atol=1e-14)
