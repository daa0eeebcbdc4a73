"""Instance constants bound the sampled ones; T1 holds step by step; fits recover slopes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from adv_landscape import objective
from adv_landscape.bounds import (
  fit_exponent,
  instance_constants,
  t1_bound,
  t2_bound,
)
from adv_landscape.network import Network, forward
from tests.helpers import (
  ALL_LOSSES,
  SMOOTH_ACTIVATIONS,
  raw_initial_deltas,
  raw_sampled_constants,
  small_instance,
)


@pytest.mark.parametrize("activation", SMOOTH_ACTIVATIONS)
@pytest.mark.parametrize("loss", ALL_LOSSES)
def test_rigorous_constants_bound_sampled_ones(activation, loss):
  for seed, scale in ((0, 0.5), (1, 2.0)):
    net, x, y, eps = small_instance(activation, loss, scale=scale, seed=seed)
    c = instance_constants(net, loss, x, y, eps)
    s = raw_sampled_constants(net, loss, x, y, eps, key=jax.random.key(seed), n=48)
    assert s.G_f <= c.G_f * (1 + 1e-12)
    assert s.H_f <= c.H_f * (1 + 1e-12) + 1e-15
    assert s.ell <= c.ell * (1 + 1e-12) + 1e-15
    assert s.rho <= c.rho * (1 + 1e-9) + 1e-12
    assert s.L_max <= c.L_max * (1 + 1e-12) + 1e-15


def test_quadratic_loss_constants_are_spec_formulas():
  net, x, y, eps = small_instance("tanh", "quadratic")
  c = instance_constants(net, "quadratic", x, y, eps)
  f0 = float(net.act.fn(net.W @ x + net.b) @ net.a)
  np.testing.assert_allclose(c.F, abs(f0 - y) + eps * c.G_f, rtol=1e-12)
  np.testing.assert_allclose(c.ell, c.G_f**2 + c.F * c.H_f, rtol=1e-12)
  np.testing.assert_allclose(c.rho, 3 * c.G_f * c.H_f + c.F * c.T_f, rtol=1e-12)
  np.testing.assert_allclose(c.L_max, c.F**2 / 2, rtol=1e-12)
  # and at most the global-sup version: c1 = 1 for tanh.
  W, a = np.asarray(net.W), np.asarray(net.a)
  assert c.G_f <= np.linalg.norm(W, 2) * np.linalg.norm(a) * (1 + 1e-12)


def test_third_derivative_bound_is_attained_by_aligned_neurons():
  """m copies of one neuron at z = 0, where |tanh'''| = 2 is largest: d^3 f along w / ||w||
  equals T_f; one neuron's share c3 |a| ||w||^3 (a planted underestimate) is exceeded, so
  the comparison can fail."""
  with jax.enable_x64(True):
    m, d = 6, 4
    w = jnp.array([0.6, -0.2, 0.9, 0.3])
    net = Network(jnp.tile(w, (m, 1)), jnp.full(m, 0.7), jnp.zeros(m), "tanh")
    x = jnp.zeros(d)
    c = instance_constants(net, "quadratic", x, 0.1, 0.2)
    v = w / jnp.linalg.norm(w)
    d3f = jax.jacfwd(jax.hessian(lambda z: forward(net, z)))(x)
    d3 = abs(float(jnp.einsum("ijk,i,j,k->", d3f, v, v, v)))
    assert d3 <= c.T_f * (1 + 1e-12)
    np.testing.assert_allclose(d3, c.T_f, rtol=1e-12)  # 2 * 0.7 * m * ||w||^3
    one_neuron = 2.0 * 0.7 * float(jnp.linalg.norm(w)) ** 3
    assert d3 > 5 * one_neuron


def test_third_derivative_bound_is_below_the_sum_over_neurons():
  """T_f (a top eigenvalue) is at most sum_r c3_r |a_r| ||w_r||^3 (the trace)."""
  net, x, y, eps = small_instance("tanh", "quadratic", d=20, m=40)
  c = instance_constants(net, "quadratic", x, y, eps)
  W, a = np.asarray(net.W, np.float64), np.abs(np.asarray(net.a, np.float64))
  trace = float(np.sum(2.0 * a * np.linalg.norm(W, axis=1) ** 3))  # c3 <= sup |tanh'''| = 2
  assert 0 < c.T_f < trace


def test_relu_and_user_losses_are_refused():
  net, x, y, eps = small_instance("tanh", "quadratic")
  relu = type(net)(net.W, net.a, net.b, "relu")
  with pytest.raises(ValueError, match="activation='relu'"):
    instance_constants(relu, "quadratic", x, y, eps)
  with pytest.raises(ValueError, match="user loss"):
    instance_constants(net, lambda u, y: (u - y) ** 4, x, y, eps)


def test_t1_holds_counted_step_by_step():
  """Run PGA one step at a time with eta = 1/ell and count to ||G|| <= tol_g."""
  for seed in range(3):
    net, x, y, eps = small_instance("softplus", "quadratic", scale=1.5, seed=seed)
    c = instance_constants(net, "quadratic", x, y, eps)
    eta, tol_g = 1.0 / c.ell, 1e-3 * c.grad0
    dl = raw_initial_deltas(jax.random.key(seed), "sphere", 1, net,
                               objective.get_loss("quadratic"), x, y, eps)[0]
    L0 = float(objective.value(net, "quadratic", x, y, dl))
    t, prev = 0, L0
    while True:
      g = objective.grad(net, "quadratic", x, y, dl)
      new = dl + eta * g
      new = new * jnp.minimum(1.0, eps / jnp.linalg.norm(new))
      G = float(jnp.linalg.norm(new - dl)) / eta
      if G <= tol_g:
        break
      val = float(objective.value(net, "quadratic", x, y, new))
      assert val >= prev + 0.5 * eta * G**2 * (1 - 1e-9)  # sufficient increase
      dl, prev, t = new, val, t + 1
    assert 0 < t <= t1_bound(c.L_max, L0, eta, tol_g)


def test_t2_reference_scale_is_monotone_in_tolerance():
  a = t2_bound(2.0, 3.0, 1.0, 1e-2, d=10)
  b = t2_bound(2.0, 3.0, 1.0, 1e-3, d=10)
  assert b > a > 0


@pytest.mark.parametrize("slope", [-1.0, 0.5, 2.0])
def test_exponent_fit_recovers_known_slopes(slope):
  rng = np.random.default_rng(0)
  xs = np.repeat([4.0, 8.0, 16.0, 32.0, 64.0], 20)
  ys = 3.0 * xs**slope * np.exp(0.05 * rng.standard_normal(xs.size))
  fit = fit_exponent(xs, ys, seed=1)
  assert abs(fit.slope - slope) < 0.03
  assert fit.ci[0] < slope < fit.ci[1]
  assert fit.ci[1] - fit.ci[0] < 0.1


def test_psd_norm_and_spectral_norm_carry_their_rounding():
  # The bounds must sit above the extended-precision value that a float64 eigensolve
  # approximates, by a margin far below the value itself.
  from adv_landscape import linalg
  rng = np.random.default_rng(3)
  for m, d in ((50, 20), (300, 40), (16, 64)):
    W, c = rng.standard_normal((m, d)), rng.random(m)
    S = np.sqrt(c)[:, None] * W
    G = S.T @ S
    lam, V = np.linalg.eigh(G)
    v = V[:, -1].astype(np.longdouble)
    Sl = np.sqrt(c.astype(np.longdouble))[:, None] * W.astype(np.longdouble)
    rq = float(v @ (Sl.T @ (Sl @ v)) / (v @ v))  # a lower bound on the true top eigenvalue
    bound = linalg.psd_norm(W, c)
    assert bound >= rq and bound >= lam[-1]
    assert bound - lam[-1] <= 1e-11 * lam[-1]
    linalg._SPECTRAL.clear()
    sig = linalg.spectral_norm(W)
    assert sig > np.linalg.norm(W, 2) and sig - np.linalg.norm(W, 2) <= 1e-11 * sig


@pytest.mark.parametrize("loss", ["quadratic", pytest.param("logistic", marks=pytest.mark.slow),
                                  pytest.param("softmax_ce", marks=pytest.mark.slow)])
def test_reduced_hessian_norms_equal_the_dense_ones(loss, monkeypatch):
  """Above REDUCE_ABOVE_D the sampled Hessian norms are taken in W's row space (m x m); they
  equal the dense d x d norms to rounding. Tolerance: both are norms of the same matrix up
  to the backward errors of length-d products and of the QR (each O(d u) relative), so
  rtol = 10 d u (6.7e-13 at d = 300). A basis that misses the row space (Q from a random
  matrix) differs by far more: the comparison can fail."""
  from adv_landscape import bounds

  d, m = bounds.REDUCE_ABOVE_D + 44, 12
  net, x, y, eps = small_instance("tanh", loss, d=d, m=m, scale=1.0, seed=3)
  reduced = raw_sampled_constants(net, loss, x, y, eps, key=jax.random.key(0), n=8)
  monkeypatch.setattr(bounds, "REDUCE_ABOVE_D", 10 ** 9)
  dense = raw_sampled_constants(net, loss, x, y, eps, key=jax.random.key(0), n=8)
  rtol = 10 * d * np.finfo(np.float64).eps
  for name in ("H_f", "ell", "rho"):
    assert getattr(reduced, name) == pytest.approx(getattr(dense, name), rel=rtol, abs=1e-300)
  assert reduced.G_f == dense.G_f and reduced.L_max == dense.L_max
  # the same comparison with a basis of the wrong space
  monkeypatch.setattr(bounds, "REDUCE_ABOVE_D", 0)
  wrong = jax.random.normal(jax.random.key(9), (m, d), jnp.float64)
  monkeypatch.setattr(bounds, "_row_space", lambda W: jnp.linalg.qr(wrong.T)[0])
  jax.clear_caches()  # the sampled constants are one compiled program: trace it anew
  off = raw_sampled_constants(net, loss, x, y, eps, key=jax.random.key(0), n=8)
  assert abs(off.ell - dense.ell) > 1e3 * rtol * dense.ell


def test_reduced_hessian_norms_of_a_deep_network(monkeypatch):
  """The same equality for the autodiff MLP (its input enters through Ws[0] only)."""
  from adv_landscape import bounds
  from adv_landscape.deep import init_mlp, mlp_forward
  from adv_landscape.problem import Problem

  d = bounds.REDUCE_ABOVE_D + 44
  net = init_mlp(jax.random.key(1), d, (10, 6))
  x = jax.random.normal(jax.random.key(2), (d,), jnp.float64)
  problem = Problem.autodiff(mlp_forward, net, "quadratic", x, 0.3, eps=0.5 * float(
    jnp.linalg.norm(x)))
  assert bounds._problem_basis(problem) is not None
  reduced = bounds.sampled_constants(problem, key=jax.random.key(0), n=6)
  monkeypatch.setattr(bounds, "REDUCE_ABOVE_D", 10 ** 9)
  dense = bounds.sampled_constants(problem, key=jax.random.key(0), n=6)
  rtol = 10 * d * np.finfo(np.float64).eps
  assert reduced.ell == pytest.approx(dense.ell, rel=rtol)
  assert reduced.rho == pytest.approx(dense.rho, rel=rtol)


@pytest.mark.parametrize("norm", ["2", "inf"])
def test_rigorous_constants_of_a_problem_are_its_arrays_constants(norm):
  """The Problem's entry reads its own objective and set (no rebuilt instance): equal to the
  array function on the same arrays; NaN (but L(0), ||grad L(0)||) for an autodiff MLP."""
  from adv_landscape.bounds import rigorous_constants
  from adv_landscape.deep import init_mlp
  from adv_landscape.instances import problem
  net, x, y, eps = small_instance("tanh", "logistic")
  with jax.enable_x64(True):
    p = problem(net, "logistic", x, y, eps=eps, norm=norm, dtype=jnp.float64)
    assert rigorous_constants(p) == instance_constants(net, "logistic", x, y, eps, norm=norm)
    mlp = init_mlp(jax.random.key(3), x.shape[0], (6, 4), dtype=jnp.float64)
    c = rigorous_constants(problem(mlp, "logistic", x, y, eps=eps, norm=norm))
  assert np.isnan(c.ell) and np.isnan(c.G_f) and np.isfinite(c.L0) and c.grad0 > 0
