"""The model families: one registry, ``MODEL_FAMILIES``, name -> ``ModelFamily``.

A family is a network type and what the rest of the suite asks of it, so that no module
outside this one dispatches on the type of a network: its ``Problem`` (closed forms or
autodiff), f(z), its hidden widths and depth, a copy with the first layer divided by c
(the scaled control families), the checks of an instance, whether rigorous derivative
bounds exist (``rigorous``: the two-layer closed forms; proofs and T1 read them), and a
certified upper bound on max L over the set (``bound``, ``relaxation``; None where the
family has none yet).

A new family is one ``ModelFamily`` entry here (its type, its problem and the rest);
``family_of`` then finds it for the sweep, the instances and the command line.

>>> from adv_landscape.network import init_network
>>> import jax
>>> family_of(init_network(jax.random.key(0), 3, 4)).name
'two_layer'
"""

from __future__ import annotations

import time
from typing import Callable, NamedTuple

import numpy as np

from adv_landscape.deep import MLP, mlp_forward, validate_mlp
from adv_landscape.errors import InvalidInput
from adv_landscape.globalmax import COUNT, global_maximum, p_global
from adv_landscape.network import Network, forward, validate_problem
from adv_landscape.problem import Problem
from adv_landscape.relaxation import loss_upper_bound, mlp_loss_upper_bound

__all__ = ["ModelFamily", "MODEL_FAMILIES", "family_of", "certified_gap"]


class ModelFamily(NamedTuple):
  """One model family (module docstring)."""

  name: str
  type: type
  problem: Callable  # (net, loss, x, y, *, eps, norm, dtype) -> Problem
  forward: Callable  # (net, z) -> f(z)
  widths: Callable  # net -> hidden widths (tuple)
  over_first_layer: Callable  # (net, c) -> the network with its first layer divided by c
  validate: Callable  # (net, x, eps, y, loss) -> None or InvalidInput
  rigorous: bool
  bound: Callable | None = None  # (net, loss, x, y, eps, norm) -> relaxation.LossBound
  global_max: Callable | None = None  # (net, loss, x, y, eps, norm, *, points) -> GlobalMax


def _two_layer_problem(net, loss, x, y, *, eps, norm="2", dtype=None):
  return Problem.two_layer(net, loss, x, y, eps=eps, dtype=dtype, norm=norm)


def _mlp_problem(net, loss, x, y, *, eps, norm="2", dtype=None):
  return Problem.autodiff(mlp_forward, net, loss, x, y, eps=eps, dtype=dtype, norm=norm)


def _mlp_validate(net, x, eps, y, loss):
  validate_mlp(net, x, eps)
  validate_problem(Network(net.Ws[-1], net.a, net.bs[-1], net.activation),
                   np.zeros(net.widths[-2] if net.depth > 1 else net.d), eps, y,
                   loss=loss)  # the head and the label


MODEL_FAMILIES = {f.name: f for f in (
    ModelFamily("two_layer", Network, _two_layer_problem, forward, lambda net: (int(net.m),),
                lambda net, c: Network(net.W / c, net.a, net.b, net.activation),
                lambda net, x, eps, y, loss: validate_problem(net, x, eps, y, loss=loss),
                rigorous=True, bound=loss_upper_bound, global_max=global_maximum),
    ModelFamily("mlp", MLP, _mlp_problem, mlp_forward, lambda net: tuple(net.widths),
                lambda net, c: MLP((net.Ws[0] / c,) + tuple(net.Ws[1:]), net.bs, net.a,
                                   net.activation),
                _mlp_validate, rigorous=False, bound=mlp_loss_upper_bound),
)}


def family_of(net) -> ModelFamily:
  """The registered family of a network; ``InvalidInput`` naming the families otherwise."""
  for family in MODEL_FAMILIES.values():
    if isinstance(net, family.type):
      return family
  raise InvalidInput(f"a {type(net).__name__} is not a registered model family; the families "
                     f"are {list(MODEL_FAMILIES)} (adv_landscape.models)")


def certified_gap(net, loss, x, y, eps, norm, best) -> dict:
  """The census summary's bound fields: a certified upper bound on max L over the set (the
  model family's ``bound``), its gap to the best certified maximum ``best``, the method,
  and its time."""
  t0 = time.perf_counter()
  family = family_of(net)
  if family.bound is None:
    return {"upper_bound": None, "gap": None, "relative_gap": None, "bound_seconds": 0.0,
            "bound_method": f"not available: no certified bound for the {family.name} family "
                            f"yet"}
  b = family.bound(net, loss, x, y, eps, norm)
  ok = np.isfinite(b.upper) and np.isfinite(best)
  gap = b.upper - best if ok else None
  return {"upper_bound": float(b.upper) if np.isfinite(b.upper) else None, "gap": gap,
          "relative_gap": gap / max(abs(b.upper), np.finfo(np.float64).tiny) if ok else None,
          "bound_method": b.method, "bound_seconds": time.perf_counter() - t0}


def certified_global(net, loss, x, y, eps, norm, maxima, n_restarts) -> tuple[dict, list]:
  """The census summary's global fields and each maximum's ``is_global``: a certified
  interval [lower, upper] for max L over the set by branch and bound (the model family's
  ``global_max``, seeded with the census's maxima), whether it closed to its tolerance
  ``tol``, and p_global, the share of restarts that ended at a certified maximum within
  ``count_tol`` = ``COUNT`` tol = 2 tol of the global maximum (docs/output.md)."""
  family = family_of(net)
  if family.global_max is None:
    return ({"global_max": {"lower": None, "upper": None, "closed": False, "nodes": 0,
                            "seconds": 0.0, "dimension": 0, "tol": None, "count_tol": None,
                            "status": f"not available: no branch and bound for the "
                                      f"{family.name} family"}, "p_global": None},
            [None] * len(maxima))
  pts = np.asarray([mx["delta"] for mx in maxima], np.float64) if maxima else None
  g = family.global_max(net, loss, x, y, eps, norm, points=pts)
  fin, closed = bool(np.isfinite(g.lower)), g.status == "certified"
  fields = {"global_max": {"lower": float(g.lower) if fin else None,
                           "upper": float(g.upper) if fin else None, "closed": closed,
                           "nodes": int(g.regions), "seconds": g.seconds,
                           "dimension": int(g.dimension),
                           "tol": float(g.tol) if fin else None,
                           "count_tol": float(COUNT * g.tol) if fin else None,
                           "status": g.status},
            "p_global": p_global([mx["value"] for mx in maxima],
                                 [mx["count"] for mx in maxima], n_restarts, g)}
  flags = [bool(mx["value"] >= g.upper - COUNT * g.tol) if closed else None for mx in maxima]
  return fields, flags
