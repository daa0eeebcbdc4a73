"""Two-layer networks f(z) = sum_r a_r sigma(w_r . z + b_r) (docs/theory.md section 1).

A ``Network`` is a pytree (W, a, b) whose activation name is static, so a
jitted function of a network retraces only when the activation changes.

>>> import jax
>>> net = init_network(jax.random.key(0), d=3, m=4, activation="tanh")
>>> net.W.shape, net.a.shape, net.b.shape
((4, 3), (4,), (4,))
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from adv_landscape.activations import Activation, get_activation
from adv_landscape.errors import InvalidInput

__all__ = [
    "Network", "init_network", "synthetic_input", "forward",
    "validate_problem", "eps_from_gamma",
]


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Network:
  """Weights of a two-layer network.

  Attributes:
    W: (m, d) first-layer weights.
    a: (m,) output weights, or (m, K) for a K-output head.
    b: (m,) biases.
    activation: activation name (static under ``jit``).
  """

  W: jax.Array
  a: jax.Array
  b: jax.Array
  activation: str = dataclasses.field(metadata=dict(static=True), default="tanh")

  @property
  def act(self) -> Activation:
    return get_activation(self.activation)

  @property
  def d(self) -> int:
    return self.W.shape[1]

  @property
  def m(self) -> int:
    return self.W.shape[0]

  @property
  def n_outputs(self) -> int | None:
    """K for a multi-output head, None for a scalar output."""
    return None if self.a.ndim == 1 else self.a.shape[1]

  def astype(self, dtype) -> "Network":
    return Network(jnp.asarray(self.W, dtype), jnp.asarray(self.a, dtype),
                   jnp.asarray(self.b, dtype), self.activation)


def init_network(key: jax.Array, d: int, m: int, *, activation: str = "tanh",
                 n_outputs: int | None = None, dtype=None) -> Network:
  """The paper's random initial-phase network.

  w_r ~ N(0, I_d / d), a_r = +-1/sqrt(m) with equal probability, b = 0, so
  that the pre-activations w_r . x of an input with ||x|| = s sqrt(d) have
  scale s.

  Args:
    key: PRNG key.
    d: input dimension.
    m: width.
    activation: activation name.
    n_outputs: K for a multi-output head (a of shape (m, K)); None for scalar.
    dtype: float dtype (default: JAX's default float).

  References:
    Deng, He, Huang, Su. Towards Understanding the Dynamics of the First-Order
    Adversaries. ICML 2020, section 3 (initial phase of training).
  """
  if d < 1 or m < 1:
    raise InvalidInput(f"d={d} and m={m} must be positive")
  get_activation(activation)
  dtype = dtype or jnp.zeros(()).dtype
  kw, ka = jax.random.split(key)
  with jax.enable_x64(True):  # drawn in float64, then cast: the instance is the same
    f64 = jnp.float64         # whatever the precision it runs in (x64 on or off)
    W = jax.random.normal(kw, (m, d), f64) / jnp.sqrt(jnp.asarray(d, f64))
    shape = (m,) if n_outputs is None else (m, n_outputs)
    a = jax.random.rademacher(ka, shape, f64) / jnp.sqrt(jnp.asarray(m, f64))
    W, a = np.asarray(W), np.asarray(a)
  return Network(jnp.asarray(W, dtype), jnp.asarray(a, dtype), jnp.zeros((m,), dtype),
                 activation)


def synthetic_input(key: jax.Array, d: int, scale: float, *, dtype=None) -> jax.Array:
  """x = s * xbar with xbar uniform on the sphere of radius sqrt(d) (docs/theory.md section 1)."""
  dtype = dtype or jnp.zeros(()).dtype
  with jax.enable_x64(True):  # drawn in float64, then cast (as ``init_network``)
    xbar = jax.random.normal(key, (d,), jnp.float64)
    x = np.asarray(scale * jnp.sqrt(jnp.asarray(d, jnp.float64)) * xbar / jnp.linalg.norm(xbar))
  return jnp.asarray(x, dtype)


def eps_from_gamma(x: jax.Array, gamma: float) -> float:
  """eps = gamma ||x||: the radius at perturbation ratio gamma."""
  if not gamma > 0:
    raise InvalidInput(f"gamma={gamma!r} must be positive")
  return float(gamma * np.linalg.norm(np.asarray(x, np.float64)))


def forward(net: Network, z: jax.Array) -> jax.Array:
  """f(z) for one input z of shape (d,); returns () or (K,)."""
  return net.act.fn(net.W @ z + net.b) @ net.a


def validate_problem(net: Network, x, eps: float, y=None, *, loss=None) -> None:
  """Checks shapes and values before tracing; raises ``ValueError`` naming the argument."""
  W, a, b = (np.asarray(v) for v in (net.W, net.a, net.b))
  get_activation(net.activation)
  if W.ndim != 2:
    raise InvalidInput(f"W has shape {W.shape}; expected (m, d)")
  m, d = W.shape
  if m < 1 or d < 1:
    raise InvalidInput(f"W has shape {W.shape}; a network needs at least one unit and one input")
  if a.ndim not in (1, 2) or a.shape[0] != m:
    raise InvalidInput(f"a has shape {a.shape}; expected ({m},) or ({m}, K) to match W {W.shape}")
  if b.shape != (m,):
    raise InvalidInput(f"b has shape {b.shape}; expected ({m},) to match W {W.shape}")
  x = np.asarray(x)
  if x.shape != (d,):
    raise InvalidInput(f"x has shape {x.shape}; expected ({d},) to match W {W.shape}")
  for name, v in (("W", W), ("a", a), ("b", b), ("x", x)):
    if not np.all(np.isfinite(v)):
      raise InvalidInput(f"{name} contains NaN or inf ({int(np.sum(~np.isfinite(v)))} entries)")
  if not (np.isfinite(eps) and eps > 0):
    raise InvalidInput(f"eps={eps!r} must be positive and finite")
  if y is not None and not np.all(np.isfinite(np.asarray(y, np.float64))):
    raise InvalidInput(f"y={y!r} is not finite")
  if loss is not None:
    multi = a.ndim == 2
    if loss.multi_output != multi:
      raise InvalidInput(
          f"loss={loss.name!r} needs a of shape {'(m, K)' if loss.multi_output else '(m,)'}, "
          f"got {a.shape}")
    if loss.multi_output and y is not None:
      if float(y) != int(float(y)) or not 0 <= int(float(y)) < a.shape[1]:
        raise InvalidInput(f"y={y!r} must be a class index in [0, {a.shape[1]})")
