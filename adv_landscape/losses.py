"""Losses l(u, y) with closed-form derivatives in u.

Scalar losses take a network output u of shape () and a label y; softmax
cross-entropy takes u of shape (K,) and an integer class y. Every loss gives
``value``, ``grad`` (dl/du, shape of u) and ``hess`` (d2l/du2: a scalar, or
(K, K)), per example; batch with ``jax.vmap``. ``derivative_sups`` bounds
|l'|, |l''|, |l'''| over an interval of outputs (docs/theory.md section 5).

>>> import jax.numpy as jnp
>>> float(get_loss("quadratic").grad(jnp.array(3.0), 1.0))
2.0
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from adv_landscape.errors import InvalidInput

__all__ = ["Loss", "LOSSES", "get_loss", "loss_from_callable", "load_loss", "with_output_bias"]


@dataclasses.dataclass(frozen=True, eq=False)
class Loss:
  """A loss l(u, y) and its derivatives in u.

  Attributes:
    name: registry name.
    value, grad, hess: l, dl/du, d2l/du2 for one example.
    multi_output: True when u has shape (K,) (softmax cross-entropy).
    sups: ``(lo, hi, y) -> (sup|l'|, sup|l''|, sup|l'''|)`` over u in [lo, hi];
      ``None`` for user losses, whose constants are unknown.
    convex: l(., y) is convex in u (in the logits for a multi-output loss), so its maximum
      over an interval of u (a box of logits) is at an end (a vertex): what the certified
      upper bound on max L reads (``relaxation``). False for user losses.
    monotone: a user loss's own declaration ``("increasing" | "decreasing", lo, hi)``: l(., y)
      is monotone for u in [lo, hi] (read from the function's ``monotone`` attribute), so the
      certified bound can take l at one end of f's range when that range lies in [lo, hi].
  """

  name: str
  value: Callable
  grad: Callable
  hess: Callable
  multi_output: bool = False
  sups: Callable | None = None
  convex: bool = False
  monotone: tuple | None = None

  def __repr__(self) -> str:
    return f"Loss({self.name!r})"


def _absmax(lo, hi):
  return max(abs(lo), abs(hi))


# quadratic 0.5 (u - y)^2, the paper's loss.
_quadratic = Loss(
    "quadratic",
    value=lambda u, y: 0.5 * (u - y) ** 2,
    grad=lambda u, y: u - y,
    hess=lambda u, y: jnp.ones_like(u),
    sups=lambda lo, hi, y: (_absmax(lo - y, hi - y), 1.0, 0.0),
    convex=True,
)


def _logistic_parts(u, y):
  s = jax.nn.sigmoid(-y * u)
  return s, s * (1.0 - s)


# logistic log(1 + exp(-y u)).
_logistic = Loss(
    "logistic",
    value=lambda u, y: jax.nn.softplus(-y * u),
    grad=lambda u, y: -y * _logistic_parts(u, y)[0],
    hess=lambda u, y: y**2 * _logistic_parts(u, y)[1],
    sups=lambda lo, hi, y: (abs(y), y**2 / 4.0, abs(y) ** 3 / (6.0 * math.sqrt(3.0)) + 1e-12),
    convex=True,
)


def _exp_sup(lo, hi, y):
  top = max(-y * lo, -y * hi)  # exp(-y u) is monotone in u
  e = math.exp(top) if top < 709.0 else math.inf  # beyond float64: no finite bound
  return abs(y) * e, y**2 * e, abs(y) ** 3 * e


# exponential exp(-y u).
_exponential = Loss(
    "exponential",
    value=lambda u, y: jnp.exp(-y * u),
    grad=lambda u, y: -y * jnp.exp(-y * u),
    hess=lambda u, y: y**2 * jnp.exp(-y * u),
    sups=_exp_sup,
    convex=True,
)

HUBER_DELTA = 1.0

# Huber with threshold HUBER_DELTA. l'' jumps at |u - y| = delta, so the loss
# has no Lipschitz Hessian: its third-derivative bound is infinite.
_huber = Loss(
    "huber",
    value=lambda u, y: jnp.where(jnp.abs(u - y) <= HUBER_DELTA, 0.5 * (u - y) ** 2,
                                 HUBER_DELTA * (jnp.abs(u - y) - 0.5 * HUBER_DELTA)),
    grad=lambda u, y: jnp.clip(u - y, -HUBER_DELTA, HUBER_DELTA),
    hess=lambda u, y: (jnp.abs(u - y) <= HUBER_DELTA).astype(jnp.result_type(u)),
    sups=lambda lo, hi, y: (min(HUBER_DELTA, _absmax(lo - y, hi - y)), 1.0, math.inf),
    convex=True,
)

# linear margin -y u: the objective is then the network itself.
_linear = Loss(
    "linear",
    value=lambda u, y: -y * u,
    grad=lambda u, y: -y * jnp.ones_like(u),
    hess=lambda u, y: jnp.zeros_like(u),
    sups=lambda lo, hi, y: (abs(y), 0.0, 0.0),
    convex=True,
)


def _ce_value(u, y):
  return jax.nn.logsumexp(u) - u[y]


def _ce_grad(u, y):
  return jax.nn.softmax(u) - jax.nn.one_hot(y, u.shape[-1], dtype=u.dtype)


def _ce_hess(u, y):
  p = jax.nn.softmax(u)
  return jnp.diag(p) - jnp.outer(p, p)


# softmax cross-entropy, K outputs. Bounds in the l2 operator norms:
# ||p - e_y|| <= sqrt(2); the Hessian is a covariance, Var_p(v) <= (max v -
# min v)^2 / 4 <= ||v||^2 / 2; the third derivative is E_p (v - E v)^3, at
# most (max v - min v) Var_p(v) <= ||v||^3 / sqrt(2).
_softmax_ce = Loss(
    "softmax_ce", value=_ce_value, grad=_ce_grad, hess=_ce_hess, multi_output=True,
    sups=lambda lo, hi, y: (math.sqrt(2.0), 0.5, 1.0 / math.sqrt(2.0)),
    convex=True,
)

LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (_quadratic, _logistic, _exponential, _huber, _linear, _softmax_ce)
}


def loss_from_callable(fn: Callable, *, name: str | None = None,
                       multi_output: bool = False) -> Loss:
  """Wraps a user loss ``fn(u, y)``; its derivatives come from autodiff.

  >>> import jax.numpy as jnp
  >>> cubic = loss_from_callable(lambda u, y: (u - y) ** 3 / 3)
  >>> float(cubic.hess(jnp.array(2.0), 0.0))
  4.0
  """
  if multi_output:
    grad, hess = jax.grad(fn), jax.hessian(fn)
  else:
    grad = jax.grad(fn)
    hess = jax.grad(grad)
  mono = getattr(fn, "monotone", None)
  if mono is not None:
    ok = (isinstance(mono, (tuple, list)) and len(mono) == 3
          and mono[0] in ("increasing", "decreasing") and float(mono[1]) < float(mono[2]))
    if not ok or multi_output:
      raise InvalidInput(f"loss {name or fn}: its 'monotone' attribute must be "
                         f"('increasing' or 'decreasing', lo, hi) with lo < hi, for a scalar "
                         f"output; got {mono!r}")
    mono = (mono[0], float(mono[1]), float(mono[2]))
  return Loss(name or getattr(fn, "__name__", "user"), value=fn, grad=grad, hess=hess,
              multi_output=multi_output, sups=None, monotone=mono)


def with_output_bias(loss: Loss, c) -> Loss:
  """The loss of a network with output bias c: u -> l(u + c, y), bounds shifted with it.

  A bias after the last layer moves every output by c, so folding it into the
  loss leaves the network, its derivatives and its bounds unchanged.

  >>> import jax.numpy as jnp
  >>> float(with_output_bias(get_loss("quadratic"), 0.5).value(jnp.array(1.0), 1.0))
  0.125
  """
  if not loss.multi_output and np.size(c) != 1:
    raise InvalidInput(f"loss={loss.name!r} takes one output, but the output bias has shape "
                       f"{np.shape(c)}; a K-output network needs loss softmax_ce")
  c = jnp.asarray(c) if loss.multi_output else float(np.reshape(c, ()))
  if bool(jnp.any(jnp.asarray(c) != 0)):
    # The bounds take the range [lo, hi] of a scalar output; a multi-output loss's bounds
    # hold for every output (lo = hi = None), so the shift leaves them as they are.
    sups = None if loss.sups is None else (
        lambda lo, hi, y: loss.sups(None if lo is None else lo + c,
                                    None if hi is None else hi + c, y))
    return Loss(loss.name, value=lambda u, y: loss.value(u + c, y),
                grad=lambda u, y: loss.grad(u + c, y), hess=lambda u, y: loss.hess(u + c, y),
                multi_output=loss.multi_output, sups=sups, convex=loss.convex)
  return loss


def _import_user_module(module: str):
  """Imports ``module``; a file ``module.py`` in the current folder is found too.

  The console script's ``sys.path`` starts at its own folder, not at the
  user's, so a loss file beside the user's data would otherwise be missed.
  """
  import importlib
  import importlib.util
  import os
  import sys

  try:
    return importlib.import_module(module)
  except ModuleNotFoundError:
    path = os.path.join(os.getcwd(), *module.split(".")) + ".py"
    if not os.path.isfile(path):
      raise
  spec = importlib.util.spec_from_file_location(module, path)
  mod = importlib.util.module_from_spec(spec)
  sys.modules[module] = mod
  try:
    spec.loader.exec_module(mod)
  except BaseException:
    del sys.modules[module]  # no half-imported module left behind
    raise
  return mod


def load_loss(spec: str) -> Loss:
  """A loss named ``package.module:function`` (a JAX callable l(u, y)), via ``loss_from_callable``.

  The module is imported from ``sys.path`` or, failing that, from a file
  ``module.py`` in the current folder. The callable must return a scalar for a scalar u;
  its derivatives come from autodiff and it has no derivative bounds, so the
  rigorous bounds, the ``lipschitz`` step rule and the proofs are unavailable.

  >>> load_loss("math:nope")
  Traceback (most recent call last):
  ...
  adv_landscape.errors.InvalidInput: loss='math:nope': module 'math' has no 'nope'; check the name
  """
  module, sep, attr = spec.partition(":")
  if not sep or not module or not attr:
    raise InvalidInput(f"loss={spec!r} is neither one of {sorted(LOSSES)} nor "
                       f"package.module:function")
  try:
    mod = _import_user_module(module)
  except ImportError as e:
    raise InvalidInput(f"loss={spec!r}: cannot import {module!r} ({e}); put it on PYTHONPATH or "
                       f"run from its folder") from None
  except Exception as e:  # the user's module itself failed (a syntax error, ...): say so
    raise InvalidInput(f"loss={spec!r}: importing {module!r} failed ({type(e).__name__}: "
                       f"{str(e).splitlines()[0] if str(e) else ''}); fix that module") from None
  fn = mod
  for part in attr.split("."):
    if not hasattr(fn, part):
      raise InvalidInput(f"loss={spec!r}: module {module!r} has no {attr!r}; check the name")
    fn = getattr(fn, part)
  if not callable(fn):
    raise InvalidInput(f"loss={spec!r} is a {type(fn).__name__}, not a function l(u, y)")
  loss = loss_from_callable(fn, name=spec)
  try:
    probe = jnp.asarray(loss.value(jnp.asarray(0.5), 1.0))
    dprobe = loss.grad(jnp.asarray(0.5), 1.0)
  except Exception as e:  # a user function can fail in any way; say so in one line
    raise InvalidInput(f"loss={spec!r} failed on u=0.5, y=1.0 ({type(e).__name__}: "
                       f"{str(e).splitlines()[0] if str(e) else ''}); it must be a JAX function "
                       f"l(u, y) of a scalar output u") from None
  if probe.shape != () or not bool(jnp.isfinite(probe)) or not bool(jnp.isfinite(dprobe)):
    raise InvalidInput(f"loss={spec!r} returned {probe!r} at u=0.5, y=1.0; it must return a "
                       f"finite scalar")
  return loss


def get_loss(name: str | Loss | Callable) -> Loss:
  """Looks up a loss by name, or wraps a callable; ``ValueError`` if unknown."""
  if isinstance(name, Loss):
    return name
  if callable(name):
    return loss_from_callable(name)
  try:
    return LOSSES[name]
  except KeyError:
    raise InvalidInput(f"loss={name!r} is unknown; choose one of {sorted(LOSSES)}") from None

