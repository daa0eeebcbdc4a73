"""Certificates: known answers, a brute-force search over the circle, refusals."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from adv_landscape import objective
from adv_landscape.certify import CLASSES, classify
from adv_landscape.network import Network, synthetic_input
from tests.helpers import raw_certificate_tolerance, raw_certify, raw_pga, raw_problem


def circle_instance(scale=3.0, m=12, seed=8):
  """d = 2, a tanh network with several maxima on the circle."""
  k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
  W = jax.random.normal(k1, (m, 2)) / jnp.sqrt(2.0)
  a = jax.random.rademacher(k2, (m,), jnp.float64) / jnp.sqrt(m)
  net = Network(W, a, jnp.zeros(m), "tanh")
  x = synthetic_input(k3, 2, scale)
  return net, x, 1.0, 0.8 * float(jnp.linalg.norm(x))


def brute_force_circle(net, x, y, eps, n=200_000):
  """Local maxima and minima of L on the circle, and mu, from a fine grid."""
  th = np.linspace(0, 2 * np.pi, n, endpoint=False)
  pts = eps * np.stack([np.cos(th), np.sin(th)], 1)
  vals, grads = objective.value_and_grad_batch(net, objective.get_loss("quadratic"), x, y,
                                               jnp.asarray(pts))
  vals, grads = np.asarray(vals), np.asarray(grads)
  prev, nxt = np.roll(vals, 1), np.roll(vals, -1)
  mu = np.sum(pts * grads, 1) / eps**2
  return pts, vals, (vals > prev) & (vals > nxt), (vals < prev) & (vals < nxt), mu


def test_census_of_the_circle_matches_brute_force():
  net, x, y, eps = circle_instance()
  pts, vals, is_max, is_min, mu = brute_force_circle(net, x, y, eps)
  want = np.flatnonzero(is_max & (mu > 0))  # circle maxima that are KKT points
  assert want.size == 3 and not (is_max & (mu <= 0)).any()  # all maxima on the circle
  res = raw_pga(net, "quadratic", x, y, key=jax.random.key(0), eps=eps, n_restarts=200,
                   step_rule="grad0", step=0.05, max_steps=20_000, progress=False)
  tol = raw_certificate_tolerance(res, net, "quadratic", x, y, eps)
  cert = raw_certify(net, "quadratic", x, y, res.deltas, eps=eps, tol_g=tol)
  found = res.deltas[cert.classes == "boundary_local_max"]
  assert found.shape[0] == 200
  # Every brute-force maximum is found, and every endpoint is one of them.
  dist = np.linalg.norm(found[:, None, :] - pts[want][None], axis=2)
  grid_step = 2 * np.pi * eps / pts.shape[0]
  assert (dist.min(axis=1) <= 2 * grid_step).all()
  assert (dist.min(axis=0) <= 2 * grid_step).all()
  # Minima of L on the circle with mu > 0 are saddles of the constrained problem.
  mins = pts[is_min & (mu > 0)]
  polished = []
  for p in mins:  # refine each grid minimum by Newton on the angle
    th = np.arctan2(p[1], p[0])
    f = lambda t: objective.value(net, "quadratic", x, y,  # noqa: E731
                                  eps * jnp.array([jnp.cos(t), jnp.sin(t)]))
    for _ in range(30):
      th = th - float(jax.grad(f)(th)) / float(jax.grad(jax.grad(f))(th))
    polished.append(eps * np.array([np.cos(th), np.sin(th)]))
  saddle = raw_certify(net, "quadratic", x, y, np.array(polished), eps=eps, tol_g=1e-9)
  assert (saddle.classes == "boundary_saddle").all()
  assert (saddle.lambda_tangent > 0).all()


def test_linear_network_maxima_are_plus_minus_the_gradient():
  """Linear activation, quadratic loss: L = (r + g.delta)^2 / 2, r = f(x) - y.

  Maxima lie at +-eps g/||g||; there are two exactly when eps ||g|| > |r|.
  """
  k1, k2 = jax.random.split(jax.random.key(11))
  net = Network(jax.random.normal(k1, (8, 5)) / jnp.sqrt(5.0),
                jax.random.rademacher(k2, (8,), jnp.float64) / jnp.sqrt(8.0), jnp.zeros(8),
                "linear")
  x = synthetic_input(jax.random.key(12), 5, 1.0)
  g = np.asarray(net.W.T @ net.a)
  ghat, f0, eps = g / np.linalg.norm(g), float(net.W @ x @ net.a), 0.5
  for margin, n_max in [(0.5, 2), (1.5, 1)]:
    y = f0 - margin * eps * np.linalg.norm(g)  # r = margin * eps ||g||
    res = raw_pga(net, "quadratic", x, y, key=jax.random.key(0), eps=eps, n_restarts=64,
                     max_steps=20_000, progress=False)
    tol = raw_certificate_tolerance(res, net, "quadratic", x, y, eps)
    cert = raw_certify(net, "quadratic", x, y, res.deltas, eps=eps, tol_g=tol)
    maxima = res.deltas[cert.classes == "boundary_local_max"]
    assert maxima.shape[0] == 64
    signs = np.sign(maxima @ ghat)
    np.testing.assert_allclose(maxima, eps * signs[:, None] * ghat[None, :], atol=1e-6)
    assert len(set(signs)) == n_max


def test_interior_critical_point_of_an_indefinite_quadratic():
  """Quadratic activation, linear loss with y = -1: L = (x+delta)^T A (x+delta).

  Its only critical point, delta = -x, lies inside the ball when eps > ||x||,
  and is a saddle (A indefinite): interior_saddle, not a local max; with every
  a_r < 0 it is a strict interior maximum.
  """
  W = jnp.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
  net = Network(W, jnp.array([1.0, -2.0, 0.5]), jnp.zeros(3), "quadratic")
  x = jnp.array([0.3, -0.2, 0.1])
  cert = raw_certify(net, "linear", x, -1.0, -np.asarray(x)[None], eps=1.0, tol_g=1e-12)
  assert cert.classes.tolist() == ["interior_saddle"]
  np.testing.assert_allclose(cert.lambda_hess, [2.0], rtol=1e-12)  # 2 max(a) = 2
  np.testing.assert_allclose(cert.lambda_hess_min, [-4.0], rtol=1e-12)  # 2 min(a) = -4
  assert not cert.interior_max[0]
  net_neg = Network(W, -jnp.array([1.0, 2.0, 0.5]), jnp.zeros(3), "quadratic")
  cert = raw_certify(net_neg, "linear", x, -1.0, -np.asarray(x)[None], eps=1.0, tol_g=1e-12)
  assert cert.interior_max[0]  # negative definite A: a genuine interior maximum
  assert cert.classes.tolist() == ["interior_local_max"]
  net_pos = Network(W, jnp.array([1.0, 2.0, 0.5]), jnp.zeros(3), "quadratic")
  cert = raw_certify(net_pos, "linear", x, -1.0, -np.asarray(x)[None], eps=1.0, tol_g=1e-12)
  assert cert.classes.tolist() == ["interior_local_min"]


def test_classify_covers_every_class():
  eps, tol = 1.0, dict(eps=1.0, tol_b=1e-6, tol_g=1e-8, tol_h=1e-8)
  cases = {  # norm_ratio, grad_norm, rgrad_norm, mu, lambda_t, lambda_max(H), lambda_min(H)
      "boundary_local_max": (1.0, 1.0, 0.0, 1.0, -1.0, np.nan, np.nan),
      "boundary_saddle": (1.0, 1.0, 0.0, 1.0, 1.0, np.nan, np.nan),
      "degenerate": (1.0, 1.0, 0.0, 1.0, 0.0, np.nan, np.nan),
      "interior_local_max": (0.5, 0.0, 0.0, 0.0, np.nan, -1.0, -2.0),
      "interior_saddle": (0.5, 0.0, 0.0, 0.0, np.nan, 1.0, -2.0),
      "interior_local_min": (0.5, 0.0, 0.0, 0.0, np.nan, 2.0, 1.0),
      "not_stationary": (1.0, 1.0, 1e-3, 1.0, -1.0, np.nan, np.nan),
  }
  for want, (r, gn, rg, mu, lam, hmax, hmin) in cases.items():
    got = classify(np.array([r]), np.array([gn]), np.array([rg]), np.array([mu]),
                   np.array([lam]), np.array([hmax]), lambda_hess_min=np.array([hmin]), **tol)
    assert got.tolist() == [want]
  # An interior critical point with a flat direction: degenerate.
  got = classify(np.array([0.5]), np.array([0.0]), np.array([0.0]), np.array([0.0]),
                 np.array([np.nan]), np.array([0.0]), lambda_hess_min=np.array([-1.0]), **tol)
  assert got.tolist() == ["degenerate"]
  # A first-order point whose eigenvalue computation did not converge: unverified.
  got = classify(np.array([1.0]), np.array([1.0]), np.array([0.0]), np.array([1.0]),
                 np.array([-1.0]), np.array([np.nan]), verified=np.array([False]), **tol)
  assert got.tolist() == ["unverified"]
  cases["unverified"] = None
  # mu < 0 on the sphere: the gradient points inwards, not a KKT point.
  got = classify(np.array([1.0]), np.array([1.0]), np.array([0.0]), np.array([-1.0]),
                 np.array([-1.0]), np.array([np.nan]), **tol)
  assert got.tolist() == ["not_stationary"]
  # mu = 0 with first order met: degenerate.
  got = classify(np.array([1.0]), np.array([0.0]), np.array([0.0]), np.array([0.0]),
                 np.array([-1.0]), np.array([np.nan]), **tol)
  assert got.tolist() == ["degenerate"]
  assert set(CLASSES) == set(cases)
  del eps


def test_relu_is_refused():
  net, x, _, eps = circle_instance()
  relu = Network(net.W, net.a, net.b, "relu")
  with pytest.raises(ValueError, match="activation='relu'"):
    raw_certify(relu, "quadratic", x, 1.0, np.zeros((1, 2)), eps=eps)


def test_float32_endpoints_are_certified_in_float64():
  net, x, y, eps = circle_instance()
  with jax.enable_x64(False):
    res = raw_pga(net.astype(jnp.float32), "quadratic", np.asarray(x, np.float32), y,
                     key=jax.random.key(0), eps=eps, n_restarts=16, progress=False)
  assert res.deltas.dtype == np.float32
  tol = raw_certificate_tolerance(res, net, "quadratic", x, y, eps)
  cert = raw_certify(net, "quadratic", x, y, res.deltas, eps=eps, tol_b=1e-5, tol_g=tol)
  assert (cert.classes == "boundary_local_max").all(), cert.classes


@pytest.mark.parametrize("activation, loss", [("tanh", "quadratic"),
                                              pytest.param("gelu", "softmax_ce",
                                                           marks=pytest.mark.slow)])
def test_lanczos_matches_dense_eigvalsh(activation, loss):
  from adv_landscape.certify import lambda_tangent_lanczos
  from tests.helpers import small_instance
  net, x, y, eps = small_instance(activation, loss, d=60, m=40, scale=2.0)
  z = jax.random.normal(jax.random.key(0), (6, 60))
  deltas = eps * z / jnp.linalg.norm(z, axis=1, keepdims=True)
  from adv_landscape import objective
  from adv_landscape.certify import lambda_tangent_shift
  ref = [float(lambda_tangent_shift(dl, objective.grad(net, loss, x, y, dl),
                                    objective.hess(net, loss, x, y, dl), eps)) for dl in deltas]
  lz = lambda_tangent_lanczos(raw_problem(net, loss, x, y, eps).objective, deltas, eps=eps,
                              tol=1e-10)
  assert lz.converged and (lz.residual <= 1e-10 * lz.scale).all()
  np.testing.assert_allclose(lz.lambda_tangent, ref, rtol=0, atol=1e-8)
  # Through certify, at KKT points of the instance (PGA endpoints): both methods agree.
  res = raw_pga(net, loss, x, y, key=jax.random.key(1), eps=eps, n_restarts=6,
                   max_steps=20_000, progress=False)
  tol = raw_certificate_tolerance(res, net, loss, x, y, eps)
  dense = raw_certify(net, loss, x, y, res.deltas, eps=eps, tol_g=tol, method="shift")
  via = raw_certify(net, loss, x, y, res.deltas, eps=eps, tol_g=tol, method="lanczos")
  assert via.method == "lanczos" and dense.method == "dense-shift"
  assert np.isfinite(dense.lambda_tangent).sum() >= 3  # NaN where not first-order stationary
  # certify iterates in float32 where the sign of lambda_T is clear by far (the rounding
  # is about 1e-7 of the scale, here about 1): agreement to 1e-6, classes identical.
  np.testing.assert_allclose(via.lambda_tangent, dense.lambda_tangent, rtol=0, atol=1e-6)
  np.testing.assert_array_equal(via.classes, dense.classes)
  auto = raw_certify(net, loss, x, y, res.deltas, eps=eps, tol_g=tol)
  assert auto.method == "dense-shift"  # auto: dense up to d = 256
  # Random points of the sphere are not stationary: no lambda_T is computed there.
  rand = raw_certify(net, loss, x, y, deltas, eps=eps)
  assert (rand.classes == "not_stationary").all() and np.isnan(rand.lambda_tangent).all()


def test_unconverged_lanczos_is_unverified_never_a_maximum():
  from tests.helpers import small_instance
  net, x, y, eps = small_instance("tanh", "quadratic", d=60, m=40, scale=2.0)
  res = raw_pga(net, "quadratic", x, y, key=jax.random.key(1), eps=eps, n_restarts=4,
                   max_steps=20_000, progress=False)
  tol = raw_certificate_tolerance(res, net, "quadratic", x, y, eps)
  full = raw_certify(net, "quadratic", x, y, res.deltas, eps=eps, tol_g=tol, method="lanczos")
  assert (full.classes == "boundary_local_max").sum() >= 2
  # Four Krylov steps in 59 tangent dimensions cannot meet the residual tolerance.
  short = raw_certify(net, "quadratic", x, y, res.deltas, eps=eps, tol_g=tol, method="lanczos",
                  lanczos_k_max=4)
  assert set(short.classes[full.classes == "boundary_local_max"]) == {"unverified"}


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class _Planted:
  """L(delta) = delta^T A delta / 2 + b . delta: Hess_S is known in closed form."""

  A: jax.Array
  b: jax.Array

  def grad(self, delta):
    return self.A @ delta + self.b

  def hvp(self, delta, v):
    return self.A @ v

  def astype(self, dtype):
    return _Planted(jnp.asarray(self.A, dtype), jnp.asarray(self.b, dtype))


def _planted(target, d=40, seed=0):
  """An objective and an endpoint on the unit sphere with rgrad = 0, mu = 1 and
  lambda_T = target exactly: A = Q diag(0, spectrum) Q^T with top tangent eigenvalue
  1 + target, b = Q e1, delta = Q e1."""
  rng = np.random.default_rng(seed)
  Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
  spec = np.concatenate([[0.0], np.linspace(-1.0, 0.6, d - 2), [1.0 + target]])
  return _Planted(jnp.asarray((Q * spec) @ Q.T), jnp.asarray(Q[:, 0])), Q[:, :1].T


@pytest.mark.parametrize("target", [-0.3, -1e-2, -2e-4, -3e-6, 0.0, 3e-6, 2e-4, 0.05])
def test_mixed_precision_refines_exactly_the_close_calls(target):
  """Planted lambda_T: float32 settles the clear cases (within the float32 rounding) and
  float64 the close ones (to 1e-9); the refined set is what the margin says."""
  from adv_landscape.lanczos import MIXED_MARGIN, lambda_tangent_lanczos
  obj, delta = _planted(target)
  lz = lambda_tangent_lanczos(obj, delta, eps=1.0, precision="mixed", rtol_h=1e-7)
  scale = lz.scale[0]  # max |Ritz| + |mu| = 2 + 1 (the bottom of the spectrum is -2)
  close = abs(target) <= 1e-7 * scale + MIXED_MARGIN * scale
  assert bool(lz.refined[0]) == close and lz.verified[0]
  np.testing.assert_allclose(lz.lambda_tangent[0], target, rtol=0, atol=1e-9 if close else 1e-5)
  exact = lambda_tangent_lanczos(obj, delta, eps=1.0, precision="float64", tol=1e-12)
  np.testing.assert_allclose(exact.lambda_tangent[0], target, rtol=0, atol=1e-10)


def test_float32_alone_would_miss_the_close_calls(monkeypatch):
  """The check above can fail: with the refinement switched off, float32 misses a planted
  lambda_T = 3e-7 (within 3 tol_h of zero) by more than 1e-9."""
  import adv_landscape.lanczos as lz_mod
  monkeypatch.setattr(lz_mod, "MIXED_MARGIN", -1.0)  # nothing is ever close: no refinement
  errors = []
  for seed in range(4):
    obj, delta = _planted(3e-7, seed=seed)
    lz = lz_mod.lambda_tangent_lanczos(obj, delta, eps=1.0, precision="mixed")
    assert not lz.refined[0]
    errors.append(abs(lz.lambda_tangent[0] - 3e-7))
  assert max(errors) > 1e-9, errors


def test_device_ritz_values_equal_the_hosts_with_one_program_per_power_of_two():
  """The accelerators' Ritz solve pads each tridiagonal matrix to a power of two: for every
  Krylov dimension j = 1..40 it gives the host's top Ritz value, residual and bottom Ritz
  value (float64 eigh both; 1e-12 of the scale), and compiles once per padded size (1, 2,
  4, ..., 64: 7 programs), not once per j (40)."""
  from adv_landscape.lanczos import _bucket, _ritz_device, _ritz_many
  rng = np.random.default_rng(3)
  with jax.enable_x64(True):
    alpha, beta = rng.standard_normal((5, 64)), np.abs(rng.standard_normal((5, 64)))
    before = _ritz_device._cache_size()
    for j in range(1, 41):
      top, resid, low = (np.asarray(v) for v in _ritz_device(
          jnp.asarray(alpha), jnp.asarray(beta), jnp.asarray(j, jnp.int32),
          size=_bucket(j)))
      theta, r, scale = _ritz_many(alpha[:, :j], beta[:, :j], np.zeros(5))
      np.testing.assert_allclose(top, theta, rtol=0, atol=1e-12 * scale.max())
      np.testing.assert_allclose(resid, r, rtol=0, atol=1e-12 * scale.max())
      np.testing.assert_allclose(np.maximum(np.abs(top), np.abs(low)), scale, rtol=1e-12)
    assert _ritz_device._cache_size() - before <= 7


def test_lanczos_with_the_device_ritz_path_equals_the_host_path(monkeypatch):
  """The whole block Lanczos with its Ritz values on the device (the accelerators' path,
  forced on this CPU) stops at the same Krylov dimensions with the same lambda_T."""
  import adv_landscape.lanczos as lz_mod
  from tests.helpers import small_instance
  net, x, y, eps = small_instance("tanh", "quadratic", d=60, m=40, scale=2.0)
  z = jax.random.normal(jax.random.key(0), (6, 60))
  deltas = eps * z / jnp.linalg.norm(z, axis=1, keepdims=True)
  runs = []
  for on_host in (True, False):
    monkeypatch.setattr(lz_mod, "RITZ_ON_HOST", on_host)
    runs.append(lz_mod.lambda_tangent_lanczos(raw_problem(net, "quadratic", x, y, eps).objective,
                                              deltas, eps=eps, tol=1e-10))
  host, device = runs
  np.testing.assert_array_equal(host.steps, device.steps)
  np.testing.assert_allclose(device.lambda_tangent, host.lambda_tangent, rtol=0,
                             atol=1e-12 * host.scale.max())
