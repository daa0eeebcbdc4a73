"""Users' networks and losses: file formats, output bias, --loss package.module:function, al.census."""

import json
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import adv_landscape as al
from adv_landscape import objective
from adv_landscape.cli import main
from adv_landscape.errors import InvalidInput
from adv_landscape.losses import get_loss, with_output_bias
from adv_landscape.network import forward
from adv_landscape.weights import read_network


def _mlp(rng, d=4, m=6, k=1):
  return (rng.standard_normal((m, d)), rng.standard_normal(m), rng.standard_normal((k, m)),
          rng.standard_normal(k))


def _torch_forward(W1, b1, W2, b2, z):
  """What PyTorch's Linear-Tanh-Linear computes, written out in NumPy."""
  return W2 @ np.tanh(W1 @ z + b1) + b2


@pytest.mark.parametrize("names", [("fc1", "fc2"), ("0", "2"), ("net.hidden", "net.out")])
@pytest.mark.parametrize("k", [1, 3])
def test_safetensors_state_dict_gives_the_same_outputs(tmp_path, names, k):
  from safetensors.numpy import save_file

  rng = np.random.default_rng(k)
  W1, b1, W2, b2 = _mlp(rng, k=k)
  path = tmp_path / "model.safetensors"
  save_file({f"{names[0]}.weight": W1, f"{names[0]}.bias": b1, f"{names[1]}.weight": W2,
             f"{names[1]}.bias": b2}, str(path))
  loaded = read_network(path, activation="tanh")
  assert loaded.activation_source == "argument" and loaded.file_activation is None
  z = rng.standard_normal(4)
  ours = np.asarray(forward(loaded.net, jnp.asarray(z))) + np.asarray(loaded.output_bias)
  np.testing.assert_allclose(ours, _torch_forward(W1, b1, W2, b2, z).reshape(ours.shape),
                             rtol=1e-12)  # same float64 arithmetic up to summation order


def test_pytorch_file_gives_the_same_outputs(tmp_path):
  torch = pytest.importorskip("torch")
  torch.manual_seed(0)
  model = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 1))
  model = model.double()
  torch.save(model.state_dict(), tmp_path / "model.pt")
  loaded = read_network(tmp_path / "model.pt", activation="tanh")
  z = np.random.default_rng(0).standard_normal(4)
  with torch.no_grad():
    want = model(torch.from_numpy(z)).numpy()
  got = float(forward(loaded.net, jnp.asarray(z))) + loaded.output_bias
  np.testing.assert_allclose(got, want[0], rtol=1e-12)
  torch.save(model, tmp_path / "whole.pt")  # a pickled module, not a state_dict
  with pytest.raises(InvalidInput, match="state_dict"):
    read_network(tmp_path / "whole.pt", activation="tanh")


def test_missing_optional_package_names_the_extra(tmp_path, monkeypatch):
  from safetensors.numpy import save_file

  save_file({"fc1.weight": np.ones((2, 2)), "fc2.weight": np.ones((1, 2))},
            str(tmp_path / "m.safetensors"))
  monkeypatch.setitem(sys.modules, "safetensors.numpy", None)  # import now raises ImportError
  with pytest.raises(InvalidInput, match=r"adv_landscape\[safetensors\]"):
    read_network(tmp_path / "m.safetensors", activation="tanh")


def test_output_bias_folds_into_the_loss_exactly(net_instance):
  """Value, gradient and Hessian of l(f + c) two ways: closed form with the shifted loss, and
  jax autodiff of the network written out with its bias."""
  net, x, y, eps = net_instance
  c = 0.7
  for name in ("quadratic", "logistic"):
    base = get_loss(name)
    shifted = with_output_bias(base, c)
    direct = lambda dl, base=base: base.value(forward(net, x + dl) + c, y)  # noqa: E731
    delta = 0.3 * eps * jnp.ones_like(x) / jnp.sqrt(x.size)
    assert abs(float(objective.value(net, shifted, x, y, delta)) - float(direct(delta))) < 1e-13
    np.testing.assert_allclose(objective.grad(net, shifted, x, y, delta),
                               jax.grad(direct)(delta), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(objective.hess(net, shifted, x, y, delta),
                               jax.hessian(direct)(delta), rtol=1e-10, atol=1e-12)
    # derivative bounds move with the outputs: sup over [lo, hi] of the shifted loss
    assert shifted.sups(-1.0, 2.0, y) == base.sups(-1.0 + c, 2.0 + c, y)
  assert with_output_bias(get_loss("quadratic"), 0.0) is get_loss("quadratic")


@pytest.fixture
def net_instance():
  jax.config.update("jax_enable_x64", True)
  net, x = al.synthetic_instance(seed=3, d=5, m=9, dtype=jnp.float64)
  return net, x, 1.0, float(0.5 * jnp.linalg.norm(x))


def test_activation_argument_supplies_or_overrides_with_a_warning(tmp_path, capsys):
  rng = np.random.default_rng(0)
  W, a = rng.standard_normal((6, 4)), rng.standard_normal(6) / 6
  np.savez(tmp_path / "noact.npz", W=W, a=a)
  np.savez(tmp_path / "tanh.npz", W=W, a=a, activation=np.array("tanh"))
  np.save(tmp_path / "x.npy", rng.standard_normal(4))
  common = ["--x", str(tmp_path / "x.npy"), "--y", "1", "--inits", "8", "--no-progress"]
  out = tmp_path / "a.json"
  assert main(["census", "--weights", str(tmp_path / "noact.npz"), "--activation", "sigmoid",
               "--json", str(out), *common]) == 0
  cfg = json.loads(out.read_text())["config"]
  assert cfg["activation"] == "sigmoid" and cfg["activation_source"] == "argument"
  assert "warning" not in capsys.readouterr().err
  assert main(["census", "--weights", str(tmp_path / "tanh.npz"), "--activation", "sigmoid",
               "--json", str(out), *common]) == 0
  err = capsys.readouterr().err
  assert "warning: --activation sigmoid overrides 'tanh'" in err
  assert json.loads(out.read_text())["config"]["activation_source"] == "override"


def test_command_line_user_loss_equals_the_builtin(tmp_path, monkeypatch, capsys):
  """--loss myloss:half_square (the quadratic loss written by a user) gives the quadratic census."""
  (tmp_path / "myloss.py").write_text(
      "def half_square(u, y):\n  return 0.5 * (u - y) ** 2\n")
  monkeypatch.chdir(tmp_path)
  monkeypatch.delitem(sys.modules, "myloss", raising=False)
  base = ["census", "--d", "5", "--m", "12", "--scale", "2", "--inits", "32", "--x64",
          "--no-progress", "--step-rule", "grad0", "--step", "0.1"]
  assert main(base + ["--json", "builtin.json"]) == 0
  capsys.readouterr()
  assert main(base + ["--loss", "myloss:half_square", "--json", "user.json"]) == 0
  assert "no rigorous ell or proof radii" in capsys.readouterr().out
  a, b = (json.loads((tmp_path / f).read_text()) for f in ("builtin.json", "user.json"))
  assert b["config"]["loss"] == "myloss:half_square"
  assert [m["count"] for m in a["maxima"]] == [m["count"] for m in b["maxima"]]
  np.testing.assert_allclose([m["value"] for m in a["maxima"]],
                             [m["value"] for m in b["maxima"]], rtol=1e-10)
  assert all(m["proof_radius"] is None for m in b["maxima"])  # no derivative bounds, no proof


def test_one_call_census_equals_the_command_line(tmp_path, capsys):
  """The README's claim: al.census on synthetic_instance(seed) is the CLI's census."""
  jax.config.update("jax_enable_x64", True)
  argv = ["census", "--d", "6", "--m", "20", "--scale", "2", "--gamma", "0.5", "--inits", "64",
          "--x64", "--no-progress", "--seed", "4", "--json", str(tmp_path / "c.json")]
  assert main(argv) == 0
  capsys.readouterr()
  cli = json.loads((tmp_path / "c.json").read_text())
  net, x = al.synthetic_instance(seed=4, d=6, m=20, scale=2.0)
  res = al.census(net, "quadratic", x, 1.0, gamma=0.5, n_restarts=64, seed=4)
  assert res.n_restarts == 64 and len(res.maxima) == cli["summary"]["distinct_maxima"]
  np.testing.assert_allclose(res.values, [m["value"] for m in cli["maxima"]], rtol=1e-12)
  assert res.counts.tolist() == [m["count"] for m in cli["maxima"]]
  np.testing.assert_allclose(res.deltas, [m["delta"] for m in cli["maxima"]], atol=1e-12)
  assert {mx.cls for mx in res.maxima} <= {"boundary_local_max", "interior_local_max"}
  assert res.config["eps"] == pytest.approx(cli["config"]["eps"], rel=1e-15)
  assert res.class_counts == cli["summary"]["class_counts"]
  with pytest.raises(InvalidInput, match="eps or gamma"):
    al.census(net, "quadratic", x, 1.0, eps=1.0, gamma=0.5)


def test_printed_fractions_never_round_up_to_all():
  """0.9995 certified prints as 99.95%, not 100.0%."""
  from adv_landscape import reports

  s = {"n_inits": 2000, "seconds_pga": 1.0, "seconds_total": 2.0, "converged_fraction": 1.0,
       "median_iterations": 10, "max_iterations": 20, "class_counts": {"degenerate": 1,
       "boundary_local_max": 1999}, "distinct_maxima": 1, "certified_fraction": 0.9995}
  args = type("A", (), {"init": "sphere", "step_rule": "normalized", "step": 0.05,
                        "stream": False})()
  source = {"activation": "tanh", "d": 2, "m": 3, "loss": "quadratic", "y": 1.0, "eps": 1.0}
  out = "\n".join(reports.census_lines(source, args, type("C", (), {"tol_g": 1e-6})(), s, []))
  assert "certified fraction 99.95%" in out and "100.0%" not in out.split("certified")[1]
