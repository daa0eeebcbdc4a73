"""Activations with closed-form first, second and third derivatives.

Each activation carries sigma, sigma', sigma'', sigma''' as elementwise JAX
functions and ``sup_abs(order, radius)``: an upper bound on
sup_{|t| <= radius} |sigma^(order)(t)|, the constants c1, c2, c3 of docs/theory.md section 5.

>>> import jax.numpy as jnp
>>> float(get_activation("tanh").d1(jnp.array(0.0)))
1.0
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from adv_landscape.errors import InvalidInput

__all__ = ["Activation", "ACTIVATIONS", "get_activation"]

Fn = Callable[[jax.Array], jax.Array]


@dataclasses.dataclass(frozen=True, eq=False)
class Activation:
  """An elementwise activation and its derivatives.

  Attributes:
    name: registry name.
    fn, d1, d2, d3: sigma and its first three derivatives, elementwise.
    sups: global sup |sigma^(k)| for k = 1, 2, 3 (``inf`` when unbounded), or
      None to compute them once on a fine float64 grid.
    smooth: False for ReLU, whose second derivative is a distribution; such
      activations are accepted by PGA and refused by certificates and bounds.
  """

  name: str
  fn: Fn
  d1: Fn
  d2: Fn
  d3: Fn
  sups: tuple[float, float, float] | None  # None: computed on a grid, on first use
  smooth: bool = True

  def global_sups(self) -> tuple[float, float, float]:
    """Global sup |sigma^(k)|, k = 1, 2, 3 (``inf`` where unbounded)."""
    if self.sups is not None:
      return self.sups
    if self.name not in _GRID_SUPS:
      _GRID_SUPS[self.name] = _grid_sups(self.d1, self.d2, self.d3)
    return _GRID_SUPS[self.name]

  def sup_abs(self, order: int, radius) -> np.ndarray:
    """Upper bound on sup |sigma^(order)(t)| over |t| <= radius (elementwise)."""
    radius = np.asarray(radius, dtype=np.float64)
    if self.name == "quadratic":  # sigma' = 2t grows with the range
      value = {1: 2.0 * radius, 2: np.full_like(radius, 2.0), 3: np.zeros_like(radius)}
      return value[order]
    return np.full_like(radius, self.global_sups()[order - 1])

  def __repr__(self) -> str:
    return f"Activation({self.name!r})"


_GRID_SUPS: dict[str, tuple[float, float, float]] = {}


def _grid_sups(d1: Fn, d2: Fn, d3: Fn) -> tuple[float, float, float]:
  # Global sups of smooth, bounded derivatives that tend to constants in the
  # tails: a float64 grid of spacing 1e-4 over [-40, 40] misses the true sup
  # by O(h^2 sup|sigma^(k+2)|) < 1e-8, so the 1e-6 margin keeps it an upper
  # bound. The tails are monotone beyond |t| = 40.
  t = np.arange(-40.0, 40.0, 1e-4)
  with jax.enable_x64(True):
    vals = [float(jnp.max(jnp.abs(g(jnp.asarray(t, jnp.float64))))) for g in (d1, d2, d3)]
  return tuple(v * (1 + 1e-6) + 1e-6 for v in vals)  # type: ignore[return-value]


# -- closed forms -------------------------------------------------------------
def _tanh_d1(t):
  return 1.0 - jnp.tanh(t) ** 2


def _tanh_d2(t):
  th = jnp.tanh(t)
  return -2.0 * th * (1.0 - th**2)


def _tanh_d3(t):
  th = jnp.tanh(t)
  return -2.0 * (1.0 - th**2) * (1.0 - 3.0 * th**2)


def _sig_p(t):  # s (1 - s), the logistic density
  s = jax.nn.sigmoid(t)
  return s, s * (1.0 - s)


def _sigmoid_d1(t):
  return _sig_p(t)[1]


def _sigmoid_d2(t):
  s, p = _sig_p(t)
  return p * (1.0 - 2.0 * s)


def _sigmoid_d3(t):
  s, p = _sig_p(t)
  return p * (1.0 - 6.0 * s + 6.0 * s**2)


_GELU_K = math.sqrt(2.0 / math.pi)
_GELU_C = 0.044715


def _gelu_parts(t):
  # sigma = t (1 + T) / 2, T = tanh(u), u = k (t + c t^3).
  u1 = _GELU_K * (1.0 + 3.0 * _GELU_C * t**2)
  u2 = 6.0 * _GELU_K * _GELU_C * t
  u3 = 6.0 * _GELU_K * _GELU_C
  th = jnp.tanh(_GELU_K * (t + _GELU_C * t**3))
  sech2 = 1.0 - th**2
  return th, sech2, u1, u2, u3


def _gelu(t):
  return 0.5 * t * (1.0 + jnp.tanh(_GELU_K * (t + _GELU_C * t**3)))


def _gelu_d1(t):
  th, sech2, u1, _, _ = _gelu_parts(t)
  return 0.5 * (1.0 + th) + 0.5 * t * sech2 * u1


def _gelu_d2(t):
  th, sech2, u1, u2, _ = _gelu_parts(t)
  q = u2 - 2.0 * th * u1**2
  return sech2 * u1 + 0.5 * t * sech2 * q


def _gelu_d3(t):
  th, sech2, u1, u2, u3 = _gelu_parts(t)
  q = u2 - 2.0 * th * u1**2
  dq = u3 - 2.0 * sech2 * u1**3 - 4.0 * th * u1 * u2
  return 1.5 * sech2 * q + 0.5 * t * sech2 * (dq - 2.0 * th * u1 * q)


def _swish(t):
  return t * jax.nn.sigmoid(t)


def _swish_d1(t):
  s, p = _sig_p(t)
  return s + t * p


def _swish_d2(t):
  s, p = _sig_p(t)
  return 2.0 * p + t * p * (1.0 - 2.0 * s)


def _swish_d3(t):
  s, p = _sig_p(t)
  return 3.0 * p * (1.0 - 2.0 * s) + t * (p * (1.0 - 2.0 * s) ** 2 - 2.0 * p**2)


def _const(c):
  return lambda t: jnp.full_like(t, c)


_INF = math.inf

ACTIVATIONS: dict[str, Activation] = {
    "tanh": Activation("tanh", jnp.tanh, _tanh_d1, _tanh_d2, _tanh_d3,
                       (1.0, 4.0 / (3.0 * math.sqrt(3.0)) + 1e-12, 2.0)),
    "sigmoid": Activation("sigmoid", jax.nn.sigmoid, _sigmoid_d1, _sigmoid_d2, _sigmoid_d3,
                          (0.25, 1.0 / (6.0 * math.sqrt(3.0)) + 1e-12, 0.125)),
    "softplus": Activation("softplus", jax.nn.softplus, jax.nn.sigmoid, _sigmoid_d1, _sigmoid_d2,
                           (1.0, 0.25, 1.0 / (6.0 * math.sqrt(3.0)) + 1e-12)),
    "gelu": Activation("gelu", _gelu, _gelu_d1, _gelu_d2, _gelu_d3,
                       None),
    "swish": Activation("swish", _swish, _swish_d1, _swish_d2, _swish_d3,
                        None),
    "quadratic": Activation("quadratic", jnp.square, lambda t: 2.0 * t, _const(2.0), _const(0.0),
                            (_INF, 2.0, 0.0)),
    "linear": Activation("linear", lambda t: t, _const(1.0), _const(0.0), _const(0.0),
                         (1.0, 0.0, 0.0)),
    # ReLU: PGA only. Its "second derivative" is zero almost everywhere, which
    # is not the curvature of the network (a sum of Dirac masses).
    "relu": Activation("relu", jax.nn.relu, lambda t: (t > 0).astype(t.dtype), _const(0.0),
                       _const(0.0), (1.0, _INF, _INF), smooth=False),
}


def get_activation(name: str | Activation) -> Activation:
  """Looks up an activation by name; raises ``ValueError`` naming it if unknown."""
  if isinstance(name, Activation):
    return name
  try:
    return ACTIVATIONS[name]
  except KeyError:
    raise InvalidInput(
        f"activation={name!r} is unknown; choose one of {sorted(ACTIVATIONS)}") from None
