"""The l_inf ball: the active-set certificate and the census against brute-force enumeration."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from adv_landscape.box import certify_box
from adv_landscape.network import Network
from adv_landscape.pipeline import PGAConfig
from adv_landscape.problem import Problem
from tests.helpers import raw_run_census


def _quadratic_instance(seed, d, m=12):
  """Quadratic activation, linear loss, y = -1: L(delta) = sum_r a_r (w_r . (x + delta) + b_r)^2,
  a quadratic c . delta + delta^T Q delta / 2 + const with an indefinite Q."""
  rng = np.random.default_rng(seed)
  W = rng.standard_normal((m, d)) / np.sqrt(d)
  a = rng.choice([-1.0, 1.0], m) * rng.uniform(0.5, 1.5, m) / np.sqrt(m)
  b = 0.3 * rng.standard_normal(m)
  x = rng.standard_normal(d)
  net = Network(jnp.asarray(W), jnp.asarray(a), jnp.asarray(b), "quadratic")
  Q = 2.0 * W.T @ (a[:, None] * W)
  c = 2.0 * W.T @ (a * (W @ x + b))
  return net, x, Q, c


def _brute_force(Q, c, eps):
  """Every KKT candidate of max c.delta + delta^T Q delta / 2 on the box, by enumerating the
  3^d patterns (each coordinate at -eps, +eps or free), with its class."""
  d = c.size
  points, classes = [], []
  for pattern in itertools.product((-1, 0, 1), repeat=d):
    p = np.array(pattern)
    A, F = p != 0, p == 0
    delta = eps * p.astype(float)
    if F.any():
      QFF = Q[np.ix_(F, F)]
      delta[F] = np.linalg.solve(QFF, -(c[F] + Q[np.ix_(F, A)] @ delta[A]))
      if np.max(np.abs(delta[F])) >= eps * (1 - 1e-3):  # infeasible, or too close to a face
        continue
    g = c + Q @ delta
    lam = p[A] * g[A]
    if A.any() and np.min(np.abs(lam)) < 1e-6:
      continue  # a non-generic multiplier: no class to compare
    eigs = np.linalg.eigvalsh(Q[np.ix_(F, F)]) if F.any() else np.array([-1.0])
    if not A.any():
      cls = ("interior_local_max" if eigs[-1] < 0 else "interior_local_min" if eigs[0] > 0
             else "interior_saddle")
    elif lam.min() < 0:
      cls = "not_stationary"
    else:
      cls = "boundary_local_max" if eigs[-1] < 0 else "boundary_saddle"
    points.append(delta)
    classes.append(cls)
  return np.array(points), np.array(classes)


@pytest.mark.parametrize("seed, d", [(0, 4), (1, 6), (2, 8)])
def test_certificate_classes_equal_brute_force(seed, d):
  net, x, Q, c = _quadratic_instance(seed, d)
  eps = 2.5
  points, want = _brute_force(Q, c, eps)
  assert {"boundary_local_max", "boundary_saddle", "not_stationary"} <= set(want)
  problem = Problem.two_layer(net, "linear", x, -1.0, eps=eps, norm="inf")
  g = np.asarray(jax.vmap(problem.objective.grad)(jnp.asarray(points)))
  np.testing.assert_allclose(g, c + points @ Q.T, atol=1e-10)  # the closed form is this quadratic
  cert = certify_box(problem, points, tol_g=1e-8)
  assert cert.classes.tolist() == want.tolist()


@pytest.mark.parametrize("seed, d", [(3, 4), (4, 6)])
def test_census_finds_exactly_the_brute_force_maxima(seed, d):
  net, x, Q, c = _quadratic_instance(seed, d)
  eps = 2.5
  points, classes = _brute_force(Q, c, eps)
  maxima = points[classes == "boundary_local_max"]
  run = raw_run_census(net, "linear", x, -1.0, eps=eps, key=jax.random.key(seed), n_restarts=1024,
                   config=PGAConfig(step_rule="grad0", step=0.05, init="box", max_steps=20_000),
                   norm="inf")
  found = np.array([np.asarray(mx["delta"]) for mx in run.maxima])
  dist = np.linalg.norm(found[:, None, :] - maxima[None, :, :], axis=2)
  assert np.all(dist.min(axis=1) < 1e-4 * eps)  # every certified maximum is a true one
  assert np.all(dist.min(axis=0) < 1e-4 * eps)  # and every true maximum was found
  assert len(run.maxima) == len(maxima) >= 2


@pytest.mark.parametrize("rule, init", [("sign", "vertex"), ("grad0", "box"), ("sign", "zero")])
def test_linear_network_has_one_maximum_at_eps_sign_g(rule, init):
  """L = f (linear activation, linear loss, y = -1) is linear: its only maximum on the box is
  the vertex eps sign(g), g = W^T a, and it is proved (a vertex with positive multipliers)."""
  rng = np.random.default_rng(5)
  W, a = rng.standard_normal((7, 5)), rng.standard_normal(7)
  net = Network(jnp.asarray(W), jnp.asarray(a), jnp.zeros(7), "linear")
  run = raw_run_census(net, "linear", rng.standard_normal(5), -1.0, eps=0.3, key=jax.random.key(0),
                   n_restarts=64, config=PGAConfig(step_rule=rule, step=0.1, init=init),
                   norm="inf")
  assert run.summary["distinct_maxima"] == 1 and run.summary["certified_fraction"] == 1.0
  np.testing.assert_allclose(run.maxima[0]["delta"], 0.3 * np.sign(W.T @ a), rtol=0, atol=1e-15)
  assert run.maxima[0]["n_active"] == 5 and run.maxima[0]["proof_radius"] == 0.0


def test_the_box_certificate_says_degenerate_and_not_stationary():
  """Planted negatives: a zero multiplier is degenerate, an inward gradient is not stationary."""
  W = jnp.array([[1.0, 0.0]])
  net = Network(W, jnp.array([1.0]), jnp.zeros(1), "linear")  # L = delta_1 (+ const)
  p = Problem.two_layer(net, "linear", jnp.zeros(2), -1.0, eps=1.0, norm="inf")
  cert = certify_box(p, np.array([[1.0, 1.0], [-1.0, 0.0], [1.0, 0.0]]), tol_g=1e-9)
  # (1, 1): d_2 L = 0 on an active coordinate; (-1, 0): the gradient points inwards;
  # (1, 0): free coordinate with zero gradient and a flat free block.
  assert cert.classes.tolist() == ["degenerate", "not_stationary", "degenerate"]


def test_sign_step_is_refused_on_the_l2_ball():
  from adv_landscape.errors import InvalidInput

  net = Network(jnp.ones((2, 2)), jnp.ones(2), jnp.zeros(2), "tanh")
  with pytest.raises(InvalidInput, match="sign"):
    raw_run_census(net, "quadratic", np.ones(2), 1.0, eps=0.5, key=jax.random.key(0), n_restarts=2,
               config=PGAConfig(step_rule="sign", init="sphere"))


def test_free_block_lanczos_agrees_with_the_dense_certificate():
  """Lanczos on the free block (forced) gives the dense classes on the brute-force points, and
  its top eigenvalue agrees with the dense one to 1e-8 relative at d = 300."""
  net, x, Q, c = _quadratic_instance(2, 8)
  points, want = _brute_force(Q, c, 2.5)
  problem = Problem.two_layer(net, "linear", x, -1.0, eps=2.5, norm="inf")
  cert = certify_box(problem, points, tol_g=1e-8, method="lanczos", lanczos_min_free=2)
  assert cert.method == "lanczos-free-block" and cert.classes.tolist() == want.tolist()
  rng = np.random.default_rng(0)
  big = Network(jnp.asarray(rng.standard_normal((40, 300)) / np.sqrt(300)),
                jnp.asarray(rng.standard_normal(40) / np.sqrt(40)), jnp.zeros(40), "tanh")
  p2 = Problem.two_layer(big, "quadratic", rng.standard_normal(300), 1.0, eps=0.5, norm="inf")
  delta = np.where(rng.random((3, 300)) < 0.5, 0.5, rng.uniform(-0.4, 0.4, (3, 300)))
  delta[1, :] *= -1
  free = np.abs(delta) < 0.5
  from adv_landscape.box import free_block_matrix
  from adv_landscape.lanczos import lambda_free_lanczos_objective
  lz = lambda_free_lanczos_objective(p2.objective, delta, free)
  dense = [np.linalg.eigvalsh(np.asarray(free_block_matrix(p2.objective.hess(jnp.asarray(dl)),
                                                           jnp.asarray(f))))[-1]
           for dl, f in zip(delta, free)]
  assert lz.converged
  np.testing.assert_allclose(lz.lambda_tangent, dense, rtol=1e-8, atol=1e-12)


def test_streamed_box_census_equals_the_batch_one():
  """On the box the streamed census reports the same maxima, counts and active sets."""
  net, x, Q, c = _quadratic_instance(3, 4)
  kw = dict(key=jax.random.key(1), n_restarts=96, norm="inf",
            config=PGAConfig(step_rule="grad0", step=0.05, init="box", max_steps=20_000,
                             chunk=32))
  batch = raw_run_census(net, "linear", x, -1.0, eps=2.5, **kw)
  stream = raw_run_census(net, "linear", x, -1.0, eps=2.5, stream=True, **kw)
  assert [m["count"] for m in stream.maxima] == [m["count"] for m in batch.maxima]
  assert [m["n_active"] for m in stream.maxima] == [m["n_active"] for m in batch.maxima]
  assert stream.summary["certified_fraction"] == batch.summary["certified_fraction"]
