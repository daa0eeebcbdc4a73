"""The adversarial objective L(delta) = l(f(x + delta), y) and its derivatives (docs/theory.md section 1).

Closed forms, with h = W z + b and c = a l'(f) (a @ l'(f) for K outputs):
  grad L = W^T (sigma'(h) * c)
  hess L = J^T l''(f) J + W^T diag(sigma''(h) * c) W,   J = (a * sigma'(h))^T W
For one output J^T l'' J is l''(f) grad f grad f^T, the formula of docs/theory.md section 1.
``objective_autodiff`` is the general fallback for any model given as a function.

>>> import jax, jax.numpy as jnp
>>> from adv_landscape.network import init_network
>>> net = init_network(jax.random.key(0), d=3, m=5)
>>> hess(net, "quadratic", jnp.ones(3), 1.0, jnp.zeros(3)).shape
(3, 3)
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from adv_landscape.losses import Loss, get_loss
from adv_landscape.network import Network

__all__ = ["value", "grad", "hess", "hvp", "value_and_grad_batch", "objective_autodiff",
           "Objective"]


def _pre(net: Network, x, delta):
  return net.W @ (x + delta) + net.b


def value(net: Network, loss: Loss | str, x, y, delta) -> jax.Array:
  """L(delta) for one perturbation delta of shape (d,)."""
  loss = get_loss(loss)
  return loss.value(net.act.fn(_pre(net, x, delta)) @ net.a, y)


def _output_and_c(net, loss, h, y):
  f = net.act.fn(h) @ net.a
  g = loss.grad(f, y)
  c = net.a @ g if net.a.ndim == 2 else net.a * g
  return f, c


def grad(net: Network, loss: Loss | str, x, y, delta) -> jax.Array:
  """grad L(delta) = W^T (sigma'(h) * c), shape (d,)."""
  loss = get_loss(loss)
  h = _pre(net, x, delta)
  _, c = _output_and_c(net, loss, h, y)
  return net.W.T @ (net.act.d1(h) * c)


def hess(net: Network, loss: Loss | str, x, y, delta) -> jax.Array:
  """Closed-form Hessian of L at delta, shape (d, d); O(m d^2) through one product."""
  loss = get_loss(loss)
  h = _pre(net, x, delta)
  f, c = _output_and_c(net, loss, h, y)
  s1 = net.act.d1(h)
  if net.a.ndim == 2:
    J = (net.a * s1[:, None]).T @ net.W  # (K, d)
    outer = J.T @ loss.hess(f, y) @ J
  else:
    gf = net.W.T @ (net.a * s1)
    outer = loss.hess(f, y) * jnp.outer(gf, gf)
  return outer + (net.W.T * (net.act.d2(h) * c)[None, :]) @ net.W


def hvp(net: Network, loss: Loss | str, x, y, delta, v) -> jax.Array:
  """Hessian-vector product hess L(delta) v in O(m d), without forming the Hessian."""
  loss = get_loss(loss)
  h = _pre(net, x, delta)
  f, c = _output_and_c(net, loss, h, y)
  s1 = net.act.d1(h)
  Wv = net.W @ v
  if net.a.ndim == 2:
    Jv = (net.a * s1[:, None]).T @ Wv
    first = net.W.T @ (s1 * (net.a @ (loss.hess(f, y) @ Jv)))
  else:
    first = loss.hess(f, y) * (net.a * s1 @ Wv) * (net.W.T @ (net.a * s1))
  return first + net.W.T @ (net.act.d2(h) * c * Wv)


def value_and_grad_batch(net: Network, loss: Loss, x, y, deltas):
  """L and grad L for a batch of perturbations, as two matrix products.

  Hand-batched (the hidden layer is a (B, m) matrix), which beats
  ``vmap(grad)`` on CPU (issue 5's prototype).

  Args:
    net: the network; x: (d,); y: the label; deltas: (B, d).

  Returns:
    values (B,), gradients (B, d).
  """
  # W x + b is the same for every row (and hoisted out of PGA's loop by XLA),
  # so the (B, d) sum x + delta is never formed.
  H = deltas @ net.W.T + (net.W @ x + net.b)[None, :]  # (B, m)
  F = net.act.fn(H) @ net.a  # (B,) or (B, K)
  vals = jax.vmap(loss.value, in_axes=(0, None))(F, y)
  G = jax.vmap(loss.grad, in_axes=(0, None))(F, y)
  C = G @ net.a.T if net.a.ndim == 2 else G[:, None] * net.a[None, :]
  return vals, (net.act.d1(H) * C) @ net.W


class Objective(NamedTuple):
  """An objective given by functions of one delta (the autodiff fallback)."""

  value: Callable
  grad: Callable
  hess: Callable


def objective_autodiff(model: Callable, loss: Loss | str | Callable, x, y) -> Objective:
  """L(delta) = l(model(x + delta), y) for any model, differentiated by JAX.

  >>> import jax.numpy as jnp
  >>> obj = objective_autodiff(lambda z: jnp.sum(z**2), "linear", jnp.ones(2), -1.0)
  >>> obj.grad(jnp.zeros(2)).tolist()
  [2.0, 2.0]
  """
  loss = get_loss(loss)

  def fn(delta):
    return loss.value(model(x + delta), y)

  return Objective(fn, jax.grad(fn), jax.hessian(fn))
