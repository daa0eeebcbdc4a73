"""The seam between the mathematics and the algorithms: objectives and constraints.

An *objective* is L(delta) = l(f(x + delta), y) with four methods over one
perturbation, ``value``, ``grad``, ``hess``, ``hvp``, and one over a batch,
``value_and_grad_batch``. Two implementations:

- ``TwoLayerObjective``: the closed forms of ``objective`` for a two-layer
  ``Network`` (the fast path: a PGA step is two matrix products);
- ``AutodiffObjective``: any JAX function ``apply(params, z)``, differentiated
  by JAX (``jax.grad``, ``jax.hessian``, a jvp of the gradient for the HVP).

A *constraint* owns the projection, the starts and the set's name; ``L2Ball``
is the first (the l2 ball of the paper), and another threat model is one
class beside it. A ``Problem`` pairs the two; it is a JAX pytree (the loss
and ``apply`` are static), built and validated once, and ``astype`` converts
it for float64 certificates.

PGA (``ascent.pga``), the pipeline (``pipeline.run_census``) and the certificates
(``certify.certify``) take a ``Problem``; ``instances.problem`` builds one from a
network of any registered family, its input, label and radius.

>>> import jax, jax.numpy as jnp
>>> from adv_landscape.network import init_network, forward
>>> net = init_network(jax.random.key(0), d=3, m=4)
>>> x = jnp.ones(3)
>>> closed = Problem.two_layer(net, "quadratic", x, 1.0, eps=0.5)
>>> auto = Problem.autodiff(lambda p, z: forward(p, z), net, "quadratic", x, 1.0, eps=0.5)
>>> d = jnp.array([0.1, -0.2, 0.3])
>>> bool(jnp.allclose(closed.objective.grad(d), auto.objective.grad(d), atol=1e-6))
True
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from adv_landscape import objective as closed_form
from adv_landscape.deep import mlp_forward
from adv_landscape.errors import InvalidInput
from adv_landscape.geometry import project_ball_batch, sample_ball, sample_sphere
from adv_landscape.losses import Loss, get_loss
from adv_landscape.network import Network, validate_problem

__all__ = ["TwoLayerObjective", "AutodiffObjective", "L2Ball", "LinfBall", "Problem",
           "CONSTRAINTS", "NORMS", "constraint_for"]

_static = dict(metadata=dict(static=True))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class TwoLayerObjective:
  """L(delta) for a two-layer network, by the closed forms of ``objective``.

  Capabilities (what the rest of the suite asks of an objective instead of its type):
  ``RIGOROUS``, whether rigorous derivative bounds and proofs exist (they read ``net``,
  a two-layer ``Network``); ``first_layer()``, the matrix through which alone x enters
  (or None); ``with_loss(loss, y)``, the same model under another loss and label.
  """

  RIGOROUS: ClassVar[bool] = True
  net: Network
  x: jax.Array
  y: jax.Array
  loss: Loss = dataclasses.field(**_static)

  def first_layer(self):
    return self.net.W

  def with_loss(self, loss: Loss, y) -> "TwoLayerObjective":
    return TwoLayerObjective(self.net, self.x, y, loss)

  def value(self, delta):
    return closed_form.value(self.net, self.loss, self.x, self.y, delta)

  def grad(self, delta):
    return closed_form.grad(self.net, self.loss, self.x, self.y, delta)

  def hess(self, delta):
    return closed_form.hess(self.net, self.loss, self.x, self.y, delta)

  def hvp(self, delta, v):
    return closed_form.hvp(self.net, self.loss, self.x, self.y, delta, v)

  def value_and_grad_batch(self, deltas):
    return closed_form.value_and_grad_batch(self.net, self.loss, self.x, self.y, deltas)

  def astype(self, dtype) -> "TwoLayerObjective":
    return TwoLayerObjective(self.net.astype(dtype), jnp.asarray(self.x, dtype),
                             _label(self.y, self.loss, dtype), self.loss)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class AutodiffObjective:
  """L(delta) = loss(apply(params, x + delta), y) for any JAX function, by autodiff.

  The capabilities of ``TwoLayerObjective``: no rigorous bounds; a first layer only for
  ``deep.mlp_forward`` on an ``MLP`` (a user's function may reach x by another path).
  """

  RIGOROUS: ClassVar[bool] = False
  params: Any
  x: jax.Array
  y: jax.Array
  apply: Callable = dataclasses.field(**_static)
  loss: Loss = dataclasses.field(**_static)

  def first_layer(self):
    # mlp_forward takes an MLP, whose x enters through Ws[0] alone
    return self.params.Ws[0] if self.apply is mlp_forward else None

  def with_loss(self, loss: Loss, y) -> "AutodiffObjective":
    return AutodiffObjective(self.params, self.x, y, self.apply, loss)

  def value(self, delta):
    return self.loss.value(self.apply(self.params, self.x + delta), self.y)

  def grad(self, delta):
    return jax.grad(self.value)(delta)

  def hess(self, delta):
    return jax.hessian(self.value)(delta)

  def hvp(self, delta, v):
    return jax.jvp(self.grad, (delta,), (v,))[1]

  def value_and_grad_batch(self, deltas):
    return jax.vmap(jax.value_and_grad(self.value))(deltas)

  def astype(self, dtype) -> "AutodiffObjective":
    params = jax.tree_util.tree_map(
        lambda p: jnp.asarray(p, dtype) if jnp.issubdtype(jnp.asarray(p).dtype, jnp.floating)
        else p, self.params)
    return AutodiffObjective(params, jnp.asarray(self.x, dtype), _label(self.y, self.loss, dtype),
                             self.apply, self.loss)


def _label(y, loss, dtype):
  return jnp.asarray(y, jnp.int32) if loss.multi_output else jnp.asarray(y, dtype)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class L2Ball:
  """The l2 ball {||delta|| <= eps}: its projection, starts and name.

  A constraint set supplies ``project`` (rows of a batch) and ``sample`` (starts
  by name, ``INITS``); its certificate and the first-order tolerance PGA's
  stopping rule implies at each endpoint are registered under its ``name`` in
  ``certificates`` (a layer above: they are algorithms). PGA's gradient mapping
  ||Pi(delta + eta g) - delta|| / eta is the stationarity measure for any
  projection.
  """

  eps: jax.Array
  name: str = dataclasses.field(default="l2", **_static)

  INITS = ("sphere", "ball", "zero", "gradient")
  DEFAULT_INIT = "sphere"  # where PGA starts when no --init is given
  NORM = "2"  # the norm's name in options and records (``CONSTRAINTS``' key)

  @staticmethod
  def gamma_scale(x_norm: float, d: int) -> float:
    """eps per unit of the perturbation ratio gamma: eps = gamma ||x||."""
    return x_norm

  def diameter(self, d: int) -> float:
    """The largest distance between two points of the set: 2 eps."""
    return 2.0 * float(self.eps)

  def support(self, g):
    """sup over the set of <z, g> for each row of g (B, d): eps ||g||_2."""
    return self.eps * jnp.linalg.norm(g, axis=-1)

  def project(self, deltas):
    """Projects each row of (B, d) onto the ball (``optax.projections``)."""
    return project_ball_batch(deltas, self.eps)

  def sample(self, key, init: str, n: int, d: int, dtype, grad0=None):
    """n starts: uniform on the sphere or in the ball, zero, or eps g / ||g|| at 0."""
    if init == "sphere":
      return sample_sphere(key, n, d, self.eps, dtype=dtype)
    if init == "ball":
      return sample_ball(key, n, d, self.eps, dtype=dtype)
    if init == "zero":
      return jnp.zeros((n, d), dtype)
    if init == "gradient":
      g = grad0
      return jnp.broadcast_to(
          self.eps * g / jnp.maximum(jnp.linalg.norm(g), jnp.finfo(dtype).tiny), (n, d))
    raise InvalidInput(f"init={init!r} is unknown; choose one of {list(self.INITS)}")

  def astype(self, dtype) -> "L2Ball":
    return L2Ball(jnp.asarray(self.eps, dtype), self.name)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class LinfBall:
  """The l_inf ball (the box) {||delta||_inf <= eps}: the threat model of l_inf PGD.

  Starts: ``vertex`` (eps times random signs), ``box`` (uniform), ``zero``,
  ``gradient`` (eps sign(grad L(0)), the first step of FGSM). The
  certificate is the active-set one of ``box.certify_box``; the first-order
  tolerance PGA's stopping rule implies is tol_g itself, because on every
  coordinate the projection does not clip, the gradient mapping is the
  gradient (docs/theory.md section 10).
  """

  eps: jax.Array
  name: str = dataclasses.field(default="inf", **_static)

  INITS = ("vertex", "box", "zero", "gradient")
  DEFAULT_INIT = "vertex"
  NORM = "inf"

  @staticmethod
  def gamma_scale(x_norm: float, d: int) -> float:
    """eps per unit of gamma: eps = gamma ||x|| / sqrt(d), the box whose vertices lie on the
    l2 sphere of the same gamma."""
    return x_norm / np.sqrt(d)

  def diameter(self, d: int) -> float:
    """The largest distance between two points of the set (opposite vertices): 2 eps sqrt(d)."""
    return 2.0 * float(self.eps) * float(np.sqrt(d))

  def support(self, g):
    """sup over the box of <z, g> for each row of g (B, d): eps ||g||_1."""
    return self.eps * jnp.sum(jnp.abs(g), axis=-1)

  def project(self, deltas):
    """Clips every coordinate to [-eps, eps]: the Euclidean projection onto the box."""
    return jnp.clip(deltas, -self.eps, self.eps)

  def sample(self, key, init: str, n: int, d: int, dtype, grad0=None):
    """n starts: random vertices, uniform in the box, zero, or eps sign(grad L(0))."""
    if init == "vertex":
      return self.eps * jax.random.rademacher(key, (n, d), dtype)
    if init == "box":
      return jax.random.uniform(key, (n, d), dtype, -self.eps, self.eps)
    if init == "zero":
      return jnp.zeros((n, d), dtype)
    if init == "gradient":
      return jnp.broadcast_to(self.eps * jnp.sign(grad0), (n, d)).astype(dtype)
    raise InvalidInput(f"init={init!r} is unknown for the l_inf ball; choose one of "
                       f"{list(self.INITS)}")

  def astype(self, dtype) -> "LinfBall":
    return LinfBall(jnp.asarray(self.eps, dtype), self.name)


CONSTRAINTS = {"2": L2Ball, "inf": LinfBall}
NORMS = tuple(CONSTRAINTS)


def _constraint_class(norm: str):
  if norm not in CONSTRAINTS:
    raise InvalidInput(f"norm={norm!r} is unknown; choose one of {list(NORMS)}")
  return CONSTRAINTS[norm]


def constraint_for(norm: str, eps, dtype):
  """The constraint set of a norm name ("2" or "inf")."""
  return _constraint_class(norm)(jnp.asarray(eps, dtype))


def default_init(norm: str) -> str:
  """The start PGA uses on that set when none is given (``DEFAULT_INIT``)."""
  return _constraint_class(norm).DEFAULT_INIT


def gamma_scale(norm: str, x_norm: float, d: int) -> float:
  """eps per unit of the perturbation ratio gamma on that set (``gamma_scale`` of its class)."""
  return _constraint_class(norm).gamma_scale(x_norm, d)


ALL_INITS = tuple(sorted({i for c in CONSTRAINTS.values() for i in c.INITS}))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Problem:
  """An objective on a constraint set: everything PGA and the certificates need."""

  objective: TwoLayerObjective | AutodiffObjective
  constraint: L2Ball | LinfBall

  @property
  def x(self):
    return self.objective.x

  @property
  def d(self) -> int:
    return int(self.objective.x.shape[0])

  @property
  def dtype(self):
    return self.objective.x.dtype

  @property
  def loss(self) -> Loss:
    return self.objective.loss

  def astype(self, dtype) -> "Problem":
    """The same problem in another dtype (float64 for certificates)."""
    return Problem(self.objective.astype(dtype), self.constraint.astype(dtype))

  @classmethod
  def two_layer(cls, net: Network, loss, x, y, *, eps: float, dtype=None,
                norm: str = "2") -> "Problem":
    """A two-layer problem, validated (shapes, finiteness, eps > 0, the label), on the
    l2 ball (``norm="2"``) or the l_inf ball (``norm="inf"``) of radius eps."""
    loss = get_loss(loss)
    validate_problem(net, x, eps, y, loss=loss)
    x = jnp.asarray(x) if dtype is None else jnp.asarray(x, dtype)
    return cls(TwoLayerObjective(net.astype(x.dtype), x, _label(y, loss, x.dtype), loss),
               constraint_for(norm, eps, x.dtype))

  @classmethod
  def autodiff(cls, apply: Callable, params, loss, x, y, *, eps: float,
               dtype=None, norm: str = "2") -> "Problem":
    """A problem for any model ``apply(params, z)``, differentiated by JAX."""
    loss = get_loss(loss)
    x = jnp.asarray(x) if dtype is None else jnp.asarray(x, dtype)
    if x.ndim != 1:
      raise InvalidInput(f"x has shape {x.shape}; expected (d,)")
    if not (np.isfinite(eps) and eps > 0):
      raise InvalidInput(f"eps={eps!r} must be positive and finite")
    if not bool(jnp.all(jnp.isfinite(x))):
      raise InvalidInput("x has NaN or inf entries")
    obj = AutodiffObjective(params, x, _label(y, loss, x.dtype), apply, loss)
    return cls(obj, constraint_for(norm, eps, x.dtype)).astype(x.dtype)
