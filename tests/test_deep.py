"""Deep networks: autodiff derivatives checked two ways, the deep linear answer, files."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from adv_landscape.deep import MLP, from_network, init_mlp, mlp_forward
from adv_landscape.network import init_network
from adv_landscape.pipeline import PGAConfig, run_census
from adv_landscape.problem import Problem
from adv_landscape.weights import read_network, save_mlp


@pytest.fixture
def deep_problem():
  net = init_mlp(jax.random.key(0), 6, (9, 7, 5), activation="tanh", dtype=jnp.float64)
  x = jax.random.normal(jax.random.key(1), (6,), jnp.float64)
  return Problem.autodiff(mlp_forward, net, "logistic", x, 1.0, eps=0.7)


def test_gradient_and_hessian_against_central_differences(deep_problem):
  obj = deep_problem.objective
  delta = 0.2 * jax.random.normal(jax.random.key(2), (6,), jnp.float64)
  h = 1e-5
  E = np.eye(6)
  fd_grad = np.array([(obj.value(delta + h * e) - obj.value(delta - h * e)) / (2 * h) for e in E])
  fd_hess = np.array([(obj.grad(delta + h * e) - obj.grad(delta - h * e)) / (2 * h) for e in E])
  # central differences: error O(h^2 |L'''|) ~ 1e-10, plus rounding eps_64 |L| / h ~ 1e-11
  np.testing.assert_allclose(obj.grad(delta), fd_grad, atol=1e-8)
  np.testing.assert_allclose(obj.hess(delta), fd_hess, atol=1e-8)
  v = jax.random.normal(jax.random.key(3), (6,), jnp.float64)
  np.testing.assert_allclose(obj.hvp(delta, v), obj.hess(delta) @ v, rtol=1e-12, atol=1e-14)


def test_depth_one_autodiff_equals_the_closed_form():
  net = init_network(jax.random.key(4), 5, 11, activation="softplus", dtype=jnp.float64)
  x = jax.random.normal(jax.random.key(5), (5,), jnp.float64)
  closed = Problem.two_layer(net, "quadratic", x, 0.3, eps=1.0).objective
  auto = Problem.autodiff(mlp_forward, from_network(net), "quadratic", x, 0.3, eps=1.0).objective
  delta = 0.4 * jnp.ones(5)
  np.testing.assert_allclose(auto.grad(delta), closed.grad(delta), rtol=1e-12)
  np.testing.assert_allclose(auto.hess(delta), closed.hess(delta), rtol=1e-10, atol=1e-14)


def test_deep_linear_network_has_the_two_layer_linear_answer():
  """f(z) = a . W3 W2 W1 z = g . z with g = W1^T W2^T W3^T a; with the quadratic loss and
  y = 0, L = (g . (x + delta))^2 / 2 is a convex function of t = g . delta / ||g||, so on a
  sphere with eps > |g . x| / ||g|| it has exactly two maxima, +-eps g / ||g||."""
  net = init_mlp(jax.random.key(6), 8, (10, 9, 7), activation="linear", dtype=jnp.float64)
  g = np.asarray(net.Ws[0]).T @ np.asarray(net.Ws[1]).T @ np.asarray(net.Ws[2]).T @ np.asarray(
      net.a)
  x = np.asarray(jax.random.normal(jax.random.key(7), (8,), jnp.float64))
  eps = np.linalg.norm(x)  # > |g . x| / ||g||: then both ends of the parabola are maxima
  problem = Problem.autodiff(mlp_forward, net, "quadratic", x, 0.0, eps=eps)
  run = run_census(problem, key=jax.random.key(8), n_restarts=128,
                   config=PGAConfig(step_rule="grad0", step=0.1, max_steps=5000))
  assert run.summary["distinct_maxima"] == 2 and run.summary["certified_fraction"] == 1.0
  want = np.array([eps * g / np.linalg.norm(g), -eps * g / np.linalg.norm(g)])
  got = np.array([mx["delta"] for mx in run.maxima])
  dist = np.linalg.norm(got[:, None] - want[None], axis=2)
  assert np.all(dist.min(axis=1) < 1e-5 * eps) and np.all(dist.min(axis=0) < 1e-5 * eps)
  assert all(mx["proof_radius"] != mx["proof_radius"] for mx in run.maxima)  # NaN: no proof


def test_api_census_takes_a_deep_network():
  """``al.census`` finds the model family of its network (``models.family_of``): the deep
  linear network's two maxima, as through ``run_census``, and the widths in its config."""
  import adv_landscape as al

  net = init_mlp(jax.random.key(6), 8, (10, 9, 7), activation="linear", dtype=jnp.float64)
  g = np.asarray(net.Ws[0]).T @ np.asarray(net.Ws[1]).T @ np.asarray(net.Ws[2]).T @ np.asarray(
      net.a)
  x = np.asarray(jax.random.normal(jax.random.key(7), (8,), jnp.float64))
  with jax.enable_x64(True):
    r = al.census(net, "quadratic", x, 0.0, eps=float(np.linalg.norm(x)), n_restarts=64,
                  step_rule="grad0", step=0.1, max_steps=5000)
  assert r.summary["distinct_maxima"] == 2 and r.config["widths"] == [10, 9, 7]
  assert r.config["m"] == 7 and r.config["d"] == 8 and r.config["dtype"] == "float64"
  top = np.abs([mx.delta @ g / (np.linalg.norm(mx.delta) * np.linalg.norm(g))
                for mx in r.maxima])
  assert np.all(top > 1 - 1e-8)  # both at +-eps g / ||g||


def test_deep_files_round_trip(tmp_path):
  from safetensors.numpy import save_file

  net = init_mlp(jax.random.key(9), 4, (6, 5, 3), activation="sigmoid", dtype=jnp.float64)
  save_mlp(tmp_path / "deep.npz", net)
  loaded = read_network(tmp_path / "deep.npz")
  assert isinstance(loaded.net, MLP) and loaded.net.widths == (6, 5, 3)
  z = jnp.linspace(-1.0, 1.0, 4)
  np.testing.assert_allclose(mlp_forward(loaded.net, z), mlp_forward(net, z), rtol=1e-14)
  # the same network as a PyTorch-named state_dict of four Linear layers, with an output bias
  sd = {}
  for i, (W, b) in enumerate(zip(net.Ws, net.bs)):
    sd[f"{2 * i}.weight"], sd[f"{2 * i}.bias"] = np.asarray(W), np.asarray(b)
  sd["6.weight"], sd["6.bias"] = np.asarray(net.a)[None], np.array([0.25])
  save_file(sd, str(tmp_path / "deep.safetensors"))
  loaded = read_network(tmp_path / "deep.safetensors", activation="sigmoid")
  assert loaded.output_bias == 0.25
  np.testing.assert_allclose(mlp_forward(loaded.net, z), mlp_forward(net, z), rtol=1e-14)


def test_cli_deep_census_and_refusals(tmp_path, capsys):
  import json

  from adv_landscape.cli import main

  out = tmp_path / "c.json"
  assert main(["census", "--depth", "2", "--d", "5", "--m", "8", "--inits", "16", "--x64",
               "--step-rule", "curvature", "--step", "1.0", "--no-progress", "--json",
               str(out)]) == 0
  cfg = json.loads(out.read_text())["config"]
  assert cfg["depth"] == 2 and cfg["widths"] == [8, 8]
  capsys.readouterr()
  assert main(["census", "--depth", "2", "--step-rule", "lipschitz", "--no-progress"]) == 2
  assert "two-layer networks only" in capsys.readouterr().err
  assert main(["census", "--depth", "3", "--widths", "4,4", "--no-progress"]) == 2
  assert "disagrees" in capsys.readouterr().err


def test_cli_census_of_a_deep_network_file(tmp_path, capsys):
  import json

  from adv_landscape.cli import main

  net = init_mlp(jax.random.key(10), 4, (6, 5, 3), activation="tanh", dtype=jnp.float64)
  save_mlp(tmp_path / "deep.npz", net)
  np.save(tmp_path / "x.npy", np.linspace(-1.0, 1.0, 4))
  out = tmp_path / "c.json"
  assert main(["census", "--weights", str(tmp_path / "deep.npz"), "--x", str(tmp_path / "x.npy"),
               "--y", "1", "--eps", "0.5", "--inits", "16", "--x64", "--step-rule", "grad0", "--step",
               "0.1", "--no-progress", "--json", str(out)]) == 0
  res = json.loads(out.read_text())
  assert res["config"]["depth"] == 3 and res["config"]["widths"] == [6, 5, 3]
  assert res["summary"]["certified_fraction"] > 0
  assert "3-hidden-layer" in capsys.readouterr().out
