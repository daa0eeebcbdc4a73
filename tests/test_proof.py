"""Proof radii: the true maximum lies within them, and they refuse what is not a maximum."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from adv_landscape import objective
from adv_landscape.network import Network
from adv_landscape.proof import prove_maximum
from tests.helpers import raw_certificate_tolerance, raw_certify, raw_pga, small_instance


def _polish_on_sphere(net, loss, x, y, z, eps, steps=40):
  """The true maximum near z: Riemannian Newton to machine precision (an independent
  implementation: the shifted tangent matrix of docs/theory.md section 3, not the Householder block)."""
  d = z.shape[0]
  for _ in range(steps):
    g = np.asarray(objective.grad(net, loss, x, y, z))
    H = np.asarray(objective.hess(net, loss, x, y, z))
    u = z / np.linalg.norm(z)
    P = np.eye(d) - np.outer(u, u)
    mu = z @ g / eps**2
    step = np.linalg.solve(P @ (H - mu * np.eye(d)) @ P - np.outer(u, u), -(P @ g))
    z = z + P @ step
    z = eps * z / np.linalg.norm(z)
  return z


@pytest.mark.parametrize("activation, loss, tol_g", [
    ("tanh", "quadratic", 1e-3), ("tanh", "quadratic", 1e-7), ("sigmoid", "logistic", 1e-5),
    ("gelu", "softmax_ce", 1e-5)])
def test_true_maximum_lies_within_the_proof_radius(activation, loss, tol_g):
  net, x, y, eps = small_instance(activation, loss, d=6, m=12, scale=2.0)
  res = raw_pga(net, loss, x, y, key=jax.random.key(0), eps=eps, n_restarts=6,
                   tol_g=tol_g, max_steps=20_000, progress=False)
  cert = raw_certify(net, loss, x, y, res.deltas, eps=eps,
                 tol_g=raw_certificate_tolerance(res, net, loss, x, y, eps))
  proved = 0
  for dl, cls in zip(res.deltas, cert.classes):
    if cls != "boundary_local_max":
      continue
    pr = prove_maximum(net, loss, x, y, dl, eps=eps)
    assert np.isfinite(pr.radius), pr.reason
    true = _polish_on_sphere(net, loss, x, y, np.asarray(dl), eps)
    geo = 2 * eps * np.arcsin(np.linalg.norm(true - dl) / (2 * eps))
    assert geo <= pr.radius * (1 + 1e-9)  # relative slack: rounding of the polish
    proved += 1
  assert proved >= 3


def test_no_proof_at_a_saddle_or_a_non_stationary_point():
  # Linear objective g . delta on the sphere: the maximum is at +g/||g||, the minimum at -g.
  W = jnp.array([[1.0, 2.0, -1.0]])
  net = Network(W, jnp.array([1.0]), jnp.zeros(1), "linear")
  x = jnp.array([0.1, 0.2, 0.3])
  g = np.array([1.0, 2.0, -1.0]) / np.sqrt(6.0)
  assert np.isfinite(prove_maximum(net, "linear", x, -1.0, g, eps=1.0).radius)
  low = prove_maximum(net, "linear", x, -1.0, -g, eps=1.0)  # mu < 0 there
  assert np.isnan(low.radius) and "mu" in low.reason
  far = np.array([1.0, 0.0, 0.0])  # not stationary: gradient too large for any ball
  assert np.isnan(prove_maximum(net, "linear", x, -1.0, far, eps=1.0, polish=0).radius)


def test_interior_maximum_is_proved_and_huber_is_refused():
  W = jnp.eye(3)
  x = jnp.array([0.3, -0.2, 0.1])
  net = Network(W, -jnp.array([1.0, 2.0, 0.5]), jnp.zeros(3), "quadratic")
  near = -np.asarray(x) + 1e-4 * np.array([1.0, -1.0, 0.5])  # the maximiser is -x
  pr = prove_maximum(net, "linear", x, -1.0, near, eps=1.0)
  assert pr.kind == "interior" and np.linalg.norm(near + np.asarray(x)) <= pr.radius
  saddle = Network(W, jnp.array([1.0, -2.0, 0.5]), jnp.zeros(3), "quadratic")
  assert np.isnan(prove_maximum(saddle, "linear", x, -1.0, near, eps=1.0).radius)
  hnet, hx, hy, heps = small_instance("tanh", "huber", d=4, m=6)
  res = raw_pga(hnet, "huber", hx, hy, key=jax.random.key(0), eps=heps, n_restarts=1,
                   tol_g=1e-8, max_steps=20_000, progress=False)
  pr = prove_maximum(hnet, "huber", hx, hy, res.deltas[0], eps=heps)
  assert np.isnan(pr.radius) and "Lipschitz" in pr.reason


def _extended_derivatives(net, x, y, z):
  """grad L and hess L of a tanh network with the quadratic loss in 80-bit extended
  precision (NumPy's longdouble; u = 2^-64): an independent reference for the float64
  rounding bounds."""
  ld = np.longdouble
  W, a = np.asarray(net.W, np.float64).astype(ld), np.asarray(net.a, np.float64).astype(ld)
  b = np.asarray(net.b, np.float64).astype(ld)
  zz = np.asarray(x, np.float64).astype(ld) + np.asarray(z, np.float64).astype(ld)
  t = np.tanh(W @ zz + b)
  s1, s2 = 1 - t * t, -2 * t * (1 - t * t)
  lp = a @ t - ld(y)
  gf = W.T @ (a * s1)
  return lp * gf, np.outer(gf, gf) + lp * (W.T * (a * s2)) @ W


@pytest.mark.skipif(np.finfo(np.longdouble).eps >= np.finfo(np.float64).eps,
                    reason="longdouble is float64 on this platform: no reference")
@pytest.mark.parametrize("d, m, scale", [(6, 12, 2.0), (40, 300, 1.0), (200, 30, 4.0)])
def test_rounding_bounds_cover_the_measured_float64_error(d, m, scale):
  """E_g and E_H dominate the float64 error of the closed-form gradient and Hessian, as
  measured against 80-bit extended precision, at points in and on the ball; and they stay
  below 1e-9 of the quantities' size, so they move a radius or an eigenvalue by no more
  than that. (Worst-case bounds exceed the typical error by the length of the sums and
  the cancellation that |W| |z| ignores: up to about 1e5 here.) A bound of zero fails
  this test: the measured errors are nonzero."""
  from adv_landscape.proof import rounding_bounds

  net, x, y, eps = small_instance("tanh", "quadratic", d=d, m=m, scale=scale)
  pts = np.asarray(jax.random.normal(jax.random.key(7), (6, d)), np.float64)
  pts = eps * pts / np.linalg.norm(pts, axis=1, keepdims=True) * np.linspace(0.2, 1, 6)[:, None]
  worst = 0.0
  for z in pts:
    g64 = np.asarray(objective.grad(net, "quadratic", x, y, jnp.asarray(z)), np.float64)
    H64 = np.asarray(objective.hess(net, "quadratic", x, y, jnp.asarray(z)), np.float64)
    g_ref, H_ref = _extended_derivatives(net, x, y, z)
    err_g = float(np.linalg.norm((g64 - g_ref).astype(np.float64)))
    err_H = float(np.linalg.norm((H64 - H_ref).astype(np.float64), 2))
    rb = rounding_bounds(net, "quadratic", x, y, z)
    assert err_g <= rb.grad and err_H <= rb.hess
    ball = rounding_bounds(net, "quadratic", x, y, np.zeros(d), radius=eps)  # the whole ball
    assert rb.grad <= ball.grad and rb.hess <= ball.hess
    assert rb.grad <= 1e-9 * max(1.0, np.linalg.norm(g64))
    assert rb.hess <= 1e-9 * max(1.0, np.linalg.norm(H64))
    worst = max(worst, err_g)
  assert worst > 0  # the reference resolves the float64 error, so a zero bound would fail


def test_prove_endpoint_reads_the_problem_and_refuses_where_no_proof_exists():
  from adv_landscape.deep import init_mlp
  from adv_landscape.instances import problem
  net = Network(jnp.eye(3), jnp.array([1.0, -0.5, 0.2]), jnp.zeros(3), "linear")
  x = jnp.array([0.3, -0.2, 0.1])
  g = np.asarray(net.W, np.float64).T @ np.asarray(net.a, np.float64)
  top = g / np.linalg.norm(g)
  near = top + 1e-7 * np.array([1.0, -1.0, 0.5])
  near /= np.linalg.norm(near)
  from adv_landscape.proof import prove_endpoint
  with jax.enable_x64(True):
    p = problem(net, "linear", x, -1.0, eps=1.0, dtype=jnp.float64)
    a, b = prove_endpoint(p, near), prove_maximum(net, "linear", x, -1.0, near, eps=1.0)
    assert np.isfinite(a.radius) and a.radius == b.radius
    np.testing.assert_array_equal(a.centre, b.centre)
    box = problem(net, "linear", x, -1.0, eps=1.0, norm="inf", dtype=jnp.float64)
    mlp = problem(init_mlp(jax.random.key(0), 3, (4, 4), dtype=jnp.float64), "linear", x,
                  -1.0, eps=1.0)
    for other in (box, mlp):
      pr = prove_endpoint(other, near)
      assert np.isnan(pr.radius) and "l2 ball" in pr.reason
