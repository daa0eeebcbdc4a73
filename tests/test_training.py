"""Adversarial training: a step decreases the adversarial loss; a killed run
resumes to the same weights; divergence is reported, not carried."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from adv_landscape.data import load_dataset
from adv_landscape.losses import get_loss
from adv_landscape.training import TrainConfig, adversarial_examples, batch_loss, train


def toy():
  ds = load_dataset("synthetic", n=96, d=6, scale=1.0, seed=3)
  return ds.X, ds.y


def test_a_training_step_decreases_the_adversarial_loss():
  X, y = toy()
  cfg = TrainConfig(m=16, epochs=1, batch_size=96, lr=0.05, gamma=0.1, pga_steps=10,
                    certify_n=0)
  net0, _ = train(X, y, TrainConfig(**{**cfg.__dict__, "epochs": 0}), progress=False)
  net1, _ = train(X, y, cfg, progress=False)
  loss = get_loss("quadratic")
  eps = cfg.gamma * jnp.linalg.norm(X, axis=1)
  D0, _, _ = adversarial_examples(net0, loss, jnp.asarray(X), jnp.asarray(y), eps,
                                  jax.random.key(0), steps=30, alpha_c=0.1, rtol_g=1e-6)
  D1, _, _ = adversarial_examples(net1, loss, jnp.asarray(X), jnp.asarray(y), eps,
                                  jax.random.key(0), steps=30, alpha_c=0.1, rtol_g=1e-6)
  before = float(batch_loss(net0, loss, X, y, D0))
  after = float(batch_loss(net1, loss, X, y, D1))
  assert after < before
  # The inner maximisation does raise the loss above the clean one.
  assert before > float(batch_loss(net0, loss, X, y, jnp.zeros_like(D0)))


class Killed(Exception):
  pass


def test_resume_after_a_kill_gives_the_same_weights(tmp_path):
  X, y = toy()
  cfg = TrainConfig(m=8, epochs=4, batch_size=32, lr=0.05, gamma=0.1, pga_steps=5,
                    optimizer="adam", certify_n=4)
  ref, ref_log = train(X, y, cfg, progress=False)
  ckpt = str(tmp_path / "ckpt.npz")

  def kill(epoch):
    if epoch == 1:
      raise Killed

  with pytest.raises(Killed):
    train(X, y, cfg, checkpoint=ckpt, progress=False, after_epoch=kill)
  seen = []
  net, log = train(X, y, cfg, checkpoint=ckpt, progress=False, after_epoch=seen.append)
  assert seen == [2, 3]  # only the unfinished epochs ran
  chex.assert_trees_all_equal(net, ref)
  assert log == ref_log
  with pytest.raises(ValueError, match="another configuration"):
    train(X, y, TrainConfig(**{**cfg.__dict__, "lr": 0.1}), checkpoint=ckpt, progress=False)


def test_divergence_is_logged_and_stops_training():
  X, y = toy()
  _, log = train(10.0 * X, y, TrainConfig(m=8, epochs=5, lr=10.0, activation="quadratic",
                                          certify_n=0), progress=False)
  assert log[-1]["diverged"] is True and set(log[-1]) == {"epoch", "diverged", "reason"}
  assert all(np.isfinite(r["adv_loss"]) for r in log[:-1])


def test_a_finite_blow_up_is_divergence_too(monkeypatch):
  """A loss BLOWUP times its initial value stops the run as diverged (a planted threshold
  below the first epoch's loss trips it; the default does not on the same run)."""
  from adv_landscape import training

  X, y = toy()
  cfg = TrainConfig(m=8, epochs=2, lr=0.05, certify_n=0)
  _, log = train(X, y, cfg, progress=False)
  assert not any(r.get("diverged") for r in log)
  monkeypatch.setattr(training, "BLOWUP", 1e-9)
  _, log = train(X, y, cfg, progress=False)
  assert log == [{"epoch": 1, "diverged": True, "reason": log[0]["reason"]}]
  assert log[0]["reason"].startswith("training loss")


def test_inner_sign_attack_reaches_the_vertex_of_a_linear_network():
  """On the box, the training attack is l_inf PGD: for L = f linear (linear activation and
  loss, y = -1) every example's maximiser is the vertex eps sign(g), reached and converged."""
  import jax
  import jax.numpy as jnp
  import numpy as np

  from adv_landscape.network import Network
  from adv_landscape.training import adversarial_examples

  rng = np.random.default_rng(0)
  W, a = rng.standard_normal((5, 4)), rng.standard_normal(5)
  net = Network(jnp.asarray(W), jnp.asarray(a), jnp.zeros(5), "linear")
  X = jnp.asarray(rng.standard_normal((3, 4)))
  eps = jnp.full((3,), 0.3)
  D, its, conv = adversarial_examples(net, "linear", X, -jnp.ones(3), eps, jax.random.key(0),
                                      steps=20, alpha_c=0.25, rtol_g=1e-6, norm="inf")
  np.testing.assert_allclose(D, np.broadcast_to(0.3 * np.sign(W.T @ a), (3, 4)), atol=1e-12)
  assert bool(np.all(conv)) and int(np.max(its)) <= 4  # 0 -> eps in ceil(1 / 0.25) steps
