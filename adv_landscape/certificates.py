"""Each constraint set's certificate and first-order tolerance, by the set's name.

The constraint classes (``problem.L2Ball``, ``problem.LinfBall``) own the geometry:
projection, starts, radius. The algorithms that certify an endpoint on them sit
above ``problem`` (``certify``, ``box``, ``ascent``), so the choice between them is
made here, one layer higher, and ``problem`` imports none of them. A new threat
model adds its certificate and its tolerance to the two registries: one line each.

>>> sorted(CERTIFICATES) == sorted(TOLERANCES) == ["inf", "l2"]
True
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from adv_landscape.ascent import certificate_tolerance
from adv_landscape.box import certify_box
from adv_landscape.certify import certify
from adv_landscape.errors import InvalidInput

__all__ = ["CERTIFICATES", "TOLERANCES", "certify_endpoints", "endpoint_tolerance", "fosc"]


def _box_tolerance(res, problem, *, slack: float, **kw) -> np.ndarray:
  """slack tol_g at every endpoint: on the box the gradient mapping is the gradient on
  the free coordinates (docs/theory.md section 10)."""
  return np.full(np.asarray(res.deltas).shape[0], slack * res.tol_g)


# constraint.name -> certify(problem, deltas, *, tol_g, ...) -> Certificate
CERTIFICATES = {"l2": certify, "inf": certify_box}
# constraint.name -> tolerance(res, problem, *, slack) -> (B,) first-order tolerance
TOLERANCES = {"l2": certificate_tolerance, "inf": _box_tolerance}


def _entry(registry: dict, problem, what: str):
  name = problem.constraint.name
  if name not in registry:
    raise InvalidInput(f"the constraint set {name!r} has no {what}; register one in "
                       f"adv_landscape.certificates")
  return registry[name]


def certify_endpoints(problem, deltas, **kw):
  """The certificate of the problem's constraint set (the sphere's second-order one on
  the l2 ball, the active-set one on the box) for every row of ``deltas``."""
  return _entry(CERTIFICATES, problem, "certificate")(problem, deltas, **kw)


def endpoint_tolerance(res, problem, **kw) -> np.ndarray:
  """The first-order tolerance PGA's stopping rule implies at each endpoint of ``res``."""
  return _entry(TOLERANCES, problem, "certificate tolerance")(res, problem, **kw)


def fosc(problem, deltas) -> np.ndarray:
  """The first-order stationarity condition of Wang et al. (ICML 2019) at each row of
  ``deltas``, in float64: c(delta) = sup_{z in S} <z, g> - <delta, g>, g = grad L(delta),
  which is eps ||g||_1 - <delta, g> on the box (their definition) and eps ||g||_2 -
  <delta, g> on the l2 ball. It is >= 0 on the set and 0 exactly where delta maximises
  the linearisation of L over the set (the first-order KKT points); docs/theory.md
  section 13 relates it to ||G||."""
  with jax.enable_x64(True):
    prob = problem.astype(jnp.float64)
    d = jnp.asarray(deltas, jnp.float64)
    _, g = prob.objective.value_and_grad_batch(d)
    return np.asarray(prob.constraint.support(g) - jnp.sum(d * g, axis=1))
