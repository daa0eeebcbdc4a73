"""Deep perceptrons f(z) = a . sigma(W_L ... sigma(W_1 z + b_1) ... + b_L), by autodiff.

An ``MLP`` is a pytree of L hidden layers (``Ws``, ``bs``) and an output layer
``a`` (m_L,) or (m_L, K); depth L = 1 is the paper's two-layer network
(``network.Network``), which keeps its closed forms. Deeper networks run
through ``problem.AutodiffObjective``: gradients by ``jax.grad``, Hessians by
``jax.hessian``, Hessian-vector products by a jvp of the gradient, checked
against each other and against finite differences (tests/test_deep.py).
Rigorous curvature bounds are implemented for two layers only, so for
L > 1 the rigorous ell, T1 and the proofs are reported as not available,
with that reason.

The network file holds ``W1`` (m_1, d), ``b1``, ``W2`` (m_2, m_1), ``b2``, ...,
``a`` and ``activation``; a file with ``W`` instead of ``W1`` is a two-layer
network (``weights.read_network``).

>>> import jax
>>> net = init_mlp(jax.random.key(0), 5, (8, 8, 8), activation="tanh")
>>> net.depth, net.d, mlp_forward(net, jax.numpy.ones(5)).shape
(3, 5, ())
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from adv_landscape.activations import get_activation
from adv_landscape.errors import InvalidInput
from adv_landscape.network import Network

__all__ = ["MLP", "init_mlp", "mlp_forward", "from_network", "validate_mlp"]


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class MLP:
  """A perceptron with L hidden layers of one activation.

  Attributes:
    Ws: tuple of L weight matrices, Ws[0] (m_1, d), Ws[l] (m_{l+1}, m_l).
    bs: tuple of L bias vectors.
    a: (m_L,) output weights, or (m_L, K).
    activation: activation name (static under ``jit``).
  """

  Ws: tuple
  bs: tuple
  a: jax.Array
  activation: str = dataclasses.field(metadata=dict(static=True), default="tanh")

  @property
  def depth(self) -> int:
    return len(self.Ws)

  @property
  def d(self) -> int:
    return int(self.Ws[0].shape[1])

  @property
  def widths(self) -> tuple:
    return tuple(int(W.shape[0]) for W in self.Ws)

  def astype(self, dtype) -> "MLP":
    return MLP(tuple(jnp.asarray(W, dtype) for W in self.Ws),
               tuple(jnp.asarray(b, dtype) for b in self.bs), jnp.asarray(self.a, dtype),
               self.activation)


def init_mlp(key: jax.Array, d: int, widths, *, activation: str = "tanh",
             n_outputs: int | None = None, dtype=None) -> MLP:
  """The paper's initialisation, layer by layer.

  W_l ~ N(0, I / fan_in) (fan_in = d for the first layer, m_{l-1} after), so
  every layer's pre-activations keep the scale of its input's coordinates;
  b = 0; a_r = +-1 / sqrt(m_L). With one hidden layer this draws the same
  distribution as ``network.init_network``.
  """
  widths = tuple(int(w) for w in widths)
  if d < 1 or not widths or min(widths) < 1:
    raise InvalidInput(f"d={d} and widths={widths} must be positive")
  get_activation(activation)
  dtype = dtype or jnp.zeros(()).dtype
  keys = jax.random.split(key, len(widths) + 1)
  Ws, bs, fan_in = [], [], d
  with jax.enable_x64(True):  # drawn in float64, then cast: the same instance at any precision
    f64 = jnp.float64
    for k, m in zip(keys[:-1], widths):
      W = jax.random.normal(k, (m, fan_in), f64) / jnp.sqrt(jnp.asarray(fan_in, f64))
      Ws.append(np.asarray(W))
      bs.append(jnp.zeros((m,), dtype))
      fan_in = m
    shape = (widths[-1],) if n_outputs is None else (widths[-1], n_outputs)
    a = np.asarray(jax.random.rademacher(keys[-1], shape, f64)
                   / jnp.sqrt(jnp.asarray(widths[-1], f64)))
  return MLP(tuple(jnp.asarray(W, dtype) for W in Ws), tuple(bs), jnp.asarray(a, dtype),
             activation)


def mlp_forward(net: MLP, z: jax.Array) -> jax.Array:
  """f(z) for one input z (d,); returns () or (K,)."""
  act = get_activation(net.activation).fn
  h = z
  for W, b in zip(net.Ws, net.bs):
    h = act(W @ h + b)
  return h @ net.a


def from_network(net: Network) -> MLP:
  """The two-layer ``Network`` as a depth-1 ``MLP`` (the same function)."""
  return MLP((net.W,), (net.b,), net.a, net.activation)


def validate_mlp(net: MLP, x, eps: float) -> None:
  """Shapes chain, values are finite, eps > 0; ``InvalidInput`` names what is wrong."""
  fan_in = net.d
  for i, (W, b) in enumerate(zip(net.Ws, net.bs), start=1):
    if W.ndim != 2 or W.shape[1] != fan_in:
      raise InvalidInput(f"W{i} has shape {tuple(W.shape)}; expected (m_{i}, {fan_in})")
    if tuple(b.shape) != (W.shape[0],):
      raise InvalidInput(f"b{i} has shape {tuple(b.shape)}; expected ({W.shape[0]},)")
    for name, v in ((f"W{i}", W), (f"b{i}", b)):
      if not bool(jnp.all(jnp.isfinite(v))):
        raise InvalidInput(f"{name} contains NaN or inf")
    fan_in = W.shape[0]
  if net.a.ndim not in (1, 2) or net.a.shape[0] != fan_in:
    raise InvalidInput(f"a has shape {tuple(net.a.shape)}; expected ({fan_in},) or ({fan_in}, K)")
  if np.asarray(x).shape != (net.d,):
    raise InvalidInput(f"x has shape {np.asarray(x).shape}; expected ({net.d},)")
  if not (math.isfinite(eps) and eps > 0):
    raise InvalidInput(f"eps={eps!r} must be positive and finite")
