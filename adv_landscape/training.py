"""Adversarial training of a two-layer network at a fixed perturbation ratio.

Inner maximisation: k steps of the suite's PGA per example (normalised l2
step alpha = c eps_i, eps_i = gamma ||x_i||, start at 0 or on the sphere).
Outer minimisation: an optax optimiser (SGD or Adam) on the mean loss at the
inner endpoints (Danskin: the perturbations are held fixed in the gradient).
Each epoch logs clean and adversarial loss, clean and robust accuracy, inner
iteration counts and the certified fraction of inner endpoints (on a
subsample). A checkpoint is written atomically after every epoch, and a run
restarted with the same configuration resumes from it with identical results.

References:
  Madry, Makelov, Schmidt, Tsipras, Vladu. Towards Deep Learning Models
  Resistant to Adversarial Attacks. ICLR 2018 (the min-max training loop).
"""

from __future__ import annotations

import dataclasses
import json
import os
from functools import lru_cache, partial
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from adv_landscape import instances, objective
from adv_landscape.certificates import certify_endpoints
from adv_landscape.config import Tolerances
from adv_landscape.errors import InvalidInput
from adv_landscape.geometry import project_ball
from adv_landscape.losses import get_loss
from adv_landscape.network import Network, init_network

__all__ = ["TrainConfig", "adversarial_examples", "train", "batch_loss"]


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """Adversarial training settings (all explicit; saved with every checkpoint)."""

  m: int = 64
  activation: str = "tanh"
  loss: str = "quadratic"
  optimizer: str = "sgd"
  lr: float = 0.1
  epochs: int = 20
  batch_size: int = 128
  gamma: float = 0.1
  pga_steps: int = 10
  pga_step: float = 0.25  # alpha = pga_step * eps_i
  rtol_g: float = 1e-3  # inner convergence: ||G|| <= rtol_g ||grad L(x_i, 0)||
  init: str = "zero"
  norm: str = "2"  # "inf": the box of half-width gamma ||x_i|| / sqrt(d), sign steps
  lr_first: float | None = None  # the first layer's (W's) learning rate; None: lr
  w_scale: float = 1.0  # the first layer's initial weights times this (1: the paper's init)
  adversarial: bool = True  # False: standard training (no inner maximisation)
  certify_every: int = 1
  certify_n: int = 32
  seed: int = 0


def _inner(net, loss, x, y, eps, key, steps, alpha_c, rtol_g, init, box=False, plain=False):
  """k PGA steps for one example (normalised l2 steps, or l_inf sign steps on the box; with
  ``plain``, gradient steps eta = alpha_c eps / ||grad L(start)||, the grad0 rule, on either
  set); returns delta, first t with small G."""
  g0 = objective.grad(net, loss, x, y, jnp.zeros_like(x))
  tol = rtol_g * jnp.linalg.norm(g0)
  z = jax.random.normal(key, x.shape, x.dtype)
  start = eps * jnp.sign(z) if box else eps * z / jnp.linalg.norm(z)  # a vertex, or the sphere
  delta = jnp.where(init == 1, start, jnp.zeros_like(x))
  alpha = alpha_c * eps
  tiny = jnp.finfo(x.dtype).tiny

  eta0 = alpha / jnp.maximum(jnp.linalg.norm(objective.grad(net, loss, x, y, delta)), tiny)

  def step(carry, t):
    d, first = carry
    g = objective.grad(net, loss, x, y, d)
    if plain:  # projected gradient steps of fixed eta: G is the gradient mapping itself
      new = jnp.clip(d + eta0 * g, -eps, eps) if box else project_ball(d + eta0 * g, eps)
      small = jnp.linalg.norm(new - d) / eta0 <= tol
    elif box:  # sign step; stationarity by the gradient mapping at alpha / ||g||_inf (ascent)
      new = jnp.clip(d + alpha * jnp.sign(g), -eps, eps)
      eta = alpha / jnp.maximum(jnp.max(jnp.abs(g)), tiny)
      small = jnp.linalg.norm(jnp.clip(d + eta * g, -eps, eps) - d) / eta <= tol
    else:
      eta = alpha / jnp.maximum(jnp.linalg.norm(g), tiny)
      new = project_ball(d + eta * g, eps)
      small = jnp.linalg.norm(new - d) / eta <= tol
    first = jnp.where((first < 0) & small, t, first)
    return (jnp.where(first >= 0, d, new), first), None

  (d, first), _ = jax.lax.scan(step, (delta, jnp.asarray(-1)), jnp.arange(steps))
  return d, jnp.where(first < 0, steps, first), first >= 0


@partial(jax.jit, static_argnames=("loss", "steps", "init", "norm", "rule"))
def adversarial_examples(net: Network, loss, X, Y, eps, key, *, steps: int, alpha_c: float,
                         rtol_g: float, init: str = "zero", norm: str = "2",
                         rule: str = "attack"):
  """Inner maximisation for a batch: X (B, d), Y (B,), eps (B,).

  ``rule`` "attack": the attack libraries' step (normalised l2, or sign on the box);
  "grad0": projected gradient steps eta = alpha_c eps / ||grad L(start)|| (a stronger,
  convergent attack for evaluation). Returns deltas (B, d), iteration counts (B,) and
  converged flags (B,).
  """
  keys = jax.random.split(key, X.shape[0])
  return jax.vmap(lambda x, y, e, k: _inner(net, loss, x, y, e, k, steps, alpha_c, rtol_g,
                                            1 if init in ("sphere", "vertex") else 0,
                                            norm == "inf", rule == "grad0"))(X, Y, eps, keys)


def batch_loss(net: Network, loss, X, Y, D) -> jax.Array:
  """Mean of l(f(x_i + delta_i), y_i)."""
  return jnp.mean(jax.vmap(lambda x, y, d: objective.value(net, loss, x, y, d))(X, Y, D))


def _predict(net, X):
  return jax.vmap(lambda x: net.act.fn(net.W @ x + net.b) @ net.a)(X)


def _accuracy(net, loss, X, Y):
  F = _predict(net, X)
  if loss.multi_output:
    return jnp.mean(jnp.argmax(F, axis=1) == Y)
  return jnp.mean(jnp.sign(F) == jnp.sign(Y))


def _optimizer(cfg: TrainConfig):
  return _optimizer_for(cfg.optimizer, cfg.lr, cfg.lr_first)


@lru_cache(maxsize=64)
def _optimizer_for(kind: str, lr: float, lr_first: float | None):
  """One transformation per (kind, rates), so that runs with the same rates share it (and
  ``_update_for`` its compiled step)."""
  make = {"sgd": optax.sgd, "adam": optax.adam}.get(kind)
  if make is None:
    raise InvalidInput(f"optimizer={kind!r} is unknown; choose 'sgd' or 'adam'")
  if lr_first is None:
    return make(lr)
  # W gets its own rate (e.g. lr / s^2: the reparametrisation V = s W of RQ2's protocol)
  return optax.multi_transform({"first": make(lr_first), "rest": make(lr)}, _first_labels)


def _first_labels(net: Network) -> Network:
  return Network("first", jax.tree_util.tree_map(lambda _: "rest", net.a), "rest",
                 net.activation)


@lru_cache(maxsize=64)
def _update_for(loss_name: str, opt):
  """The jitted SGD/Adam step on the adversarial batch, one per (loss, transformation):
  built once, not once per run (each run's own closure was compiled anew)."""
  loss = get_loss(loss_name)

  @jax.jit
  def update(net, opt_state, Xb, Yb, Db):
    val, grads = jax.value_and_grad(lambda p: batch_loss(p, loss, Xb, Yb, Db))(net)
    upd, opt_state = opt.update(grads, opt_state, net)
    return optax.apply_updates(net, upd), opt_state, val
  return update


def _save(path, net, opt_state, epoch, log, cfg):
  leaves = jax.tree_util.tree_leaves((net, opt_state))
  arrays = {f"leaf{i}": np.asarray(v) for i, v in enumerate(leaves)}
  tmp = path + ".tmp.npz"
  np.savez(tmp, epoch=epoch, log=json.dumps(log), config=json.dumps(dataclasses.asdict(cfg)),
           **arrays)
  os.replace(tmp, path)


def _load(path, template, cfg):
  with np.load(path, allow_pickle=False) as z:
    if json.loads(str(z["config"])) != dataclasses.asdict(cfg):
      raise InvalidInput(f"checkpoint={path!r} was written with another configuration")
    treedef = jax.tree_util.tree_structure(template)
    n = len(jax.tree_util.tree_leaves(template))
    leaves = [jnp.asarray(z[f"leaf{i}"]) for i in range(n)]
    return jax.tree_util.tree_unflatten(treedef, leaves), int(z["epoch"]), json.loads(
        str(z["log"]))


BLOWUP = 1e6  # a training loss this many times its initial value: the run diverged


def train(X, Y, cfg: TrainConfig, *, checkpoint: str | None = None, progress: bool = True,
          after_epoch: Callable[[int], None] | None = None,
          evaluate: Callable[[Network, int], dict] | None = None):
  """Adversarial (or, with ``cfg.adversarial`` False, standard) training; returns the
  network and one log record per epoch.

  A run whose weights become non-finite, or whose training loss exceeds ``BLOWUP``
  times its initial value, stops, and its last record says ``{"diverged": True}``
  with the reason.

  Args:
    X: (n, d) inputs at their input scale; Y: (n,) labels.
    cfg: the settings.
    checkpoint: ``.npz`` path; written after each epoch, resumed from if present.
    after_epoch: called with the epoch just finished (tests inject kills here).
    evaluate: ``evaluate(net, epoch) -> dict`` merged into each epoch's record,
      and called once before training for an epoch-0 record (not with a
      checkpoint resume, whose log already holds it).
  """
  loss = get_loss(cfg.loss)
  X = jnp.asarray(X)
  Y = jnp.asarray(Y, jnp.int32 if loss.multi_output else X.dtype)
  n, d = X.shape
  key = jax.random.key(cfg.seed)
  K = int(Y.max()) + 1 if loss.multi_output else None
  net = init_network(jax.random.fold_in(key, 0), d, cfg.m, activation=cfg.activation,
                     n_outputs=K, dtype=X.dtype)
  if cfg.w_scale != 1.0:  # (RQ2's invariance control: W0 / s at input scale s)
    net = Network(net.W * cfg.w_scale, net.a, net.b, net.activation)
  opt = _optimizer(cfg)
  state = (net, opt.init(net))
  start, log = 0, []
  if checkpoint and os.path.exists(checkpoint):
    state, start, log = _load(checkpoint, state, cfg)
  elif evaluate is not None:
    log.append({"epoch": 0, **evaluate(net, 0)})
  if cfg.norm not in ("2", "inf"):
    raise InvalidInput(f"norm={cfg.norm!r} is unknown; choose '2' or 'inf'")
  eps_all = cfg.gamma * jnp.linalg.norm(X, axis=1) / (jnp.sqrt(d) if cfg.norm == "inf" else 1.0)

  update = _update_for(cfg.loss, opt)

  inner = partial(adversarial_examples, loss=loss, steps=cfg.pga_steps, alpha_c=cfg.pga_step,
                  rtol_g=cfg.rtol_g, init=cfg.init, norm=cfg.norm)
  net, opt_state = state
  loss0 = float(batch_loss(net, loss, X, Y, jnp.zeros_like(X)))  # the blow-up's reference
  for epoch in tqdm(range(start, cfg.epochs), desc="epochs", disable=not progress, leave=False,
                    initial=start, total=cfg.epochs):
    ek = jax.random.fold_in(key, 1 + epoch)
    perm = jax.random.permutation(jax.random.fold_in(ek, 0), n)
    bs = min(cfg.batch_size, n)  # the last partial batch is dropped (one trace per epoch)
    for i in range(0, n - bs + 1, bs):
      idx = perm[i:i + bs]
      if cfg.adversarial:
        D, _, _ = inner(net, X=X[idx], Y=Y[idx], eps=eps_all[idx],
                        key=jax.random.fold_in(ek, 1 + i))
      else:
        D = jnp.zeros_like(X[idx])
      net, opt_state, _ = update(net, opt_state, X[idx], Y[idx], D)
    finite = all(bool(jnp.all(jnp.isfinite(v))) for v in jax.tree_util.tree_leaves(net))
    rec = _evaluate(net, loss, X, Y, eps_all, inner, jax.random.fold_in(ek, 10**6), cfg,
                    epoch) if finite else {}
    if finite and evaluate is not None:
      rec.update(evaluate(net, epoch + 1))
    blown = finite and max(rec["clean_loss"], rec["adv_loss"]) > BLOWUP * max(loss0, 1e-12)
    if not finite or blown or not all(np.isfinite(v) for v in rec.values()):
      # Divergence is a result (too large a step for this input scale), not a crash:
      # it is logged, and training stops rather than carry NaN forward (or a finite loss
      # of 1e100, which ranks a run but means nothing).
      log.append({"epoch": epoch + 1, "diverged": True,
                  "reason": (f"training loss {max(rec['clean_loss'], rec['adv_loss']):.3g} > "
                             f"{BLOWUP:.0e} x its initial {loss0:.3g}") if blown else
                  "non-finite weights or loss"})
      if checkpoint:
        _save(checkpoint, net, opt_state, cfg.epochs, log, cfg)
      break
    log.append(rec)
    if checkpoint:
      _save(checkpoint, net, opt_state, epoch + 1, log, cfg)
    if after_epoch is not None:
      after_epoch(epoch)
  return net, log


def _evaluate(net, loss, X, Y, eps_all, inner, key, cfg, epoch):
  D, its, conv = inner(net, X=X, Y=Y, eps=eps_all, key=key)
  rec = {
      "epoch": epoch + 1,
      "clean_loss": float(batch_loss(net, loss, X, Y, jnp.zeros_like(X))),
      "adv_loss": float(batch_loss(net, loss, X, Y, D)),
      "clean_acc": float(_accuracy(net, loss, X, Y)),
      "robust_acc": float(_accuracy(net, loss, X + D, Y)),
      "inner_iterations_median": float(jnp.median(its)),
      "inner_converged_fraction": float(jnp.mean(conv)),
  }
  finite = np.isfinite(rec["adv_loss"]) and np.isfinite(rec["clean_loss"])
  if finite and cfg.certify_n and cfg.certify_every and (epoch + 1) % cfg.certify_every == 0 \
      and net.act.smooth:
    k = min(cfg.certify_n, X.shape[0])
    pick = np.asarray(jax.random.choice(jax.random.fold_in(key, 1), X.shape[0], (k,),
                                        replace=False))
    ok = 0
    for i in pick:  # each endpoint on its own instance (x_i, y_i, eps_i)
      yi = int(Y[i]) if loss.multi_output else float(Y[i])
      g0 = float(jnp.linalg.norm(objective.grad(net, loss, X[i], yi, jnp.zeros_like(X[i]))))
      tols = Tolerances.for_dtype(np.asarray(D).dtype)
      problem = instances.problem(net, loss, X[i], yi, eps=float(eps_all[i]), norm=cfg.norm)
      c = certify_endpoints(problem, np.asarray(D[i])[None],
                            tol_g=tols.training_slack * cfg.rtol_g * g0, tol_b=tols.tol_b)
      ok += int(c.classes[0] == "boundary_local_max")
    rec["certified_fraction"] = ok / k
  return rec
