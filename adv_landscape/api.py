"""The common case in one call: ``census(net, loss, x, y, ...)``, and the CLI's synthetic instance.

``census`` runs the same pipeline as ``adv-landscape census`` (``run_census``)
with the same defaults, and splits ``seed`` the same way, so

    net, x = synthetic_instance(seed=0, d=20, m=200)
    census(net, "quadratic", x, 1.0, gamma=0.5, n_restarts=2000, seed=0)

gives what ``adv-landscape census --d 20 --m 200 --gamma 0.5 --inits 2000``
prints (in float64 with ``--x64`` and ``jax_enable_x64``).

>>> import jax
>>> net, x = synthetic_instance(seed=0, d=4, m=8)
>>> res = census(net, "quadratic", x, 1.0, gamma=0.5, n_restarts=16, step_rule="grad0", step=0.1)
>>> res.n_restarts, len(res.maxima) == len(res.values) >= 1
(16, True)
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import jax
import numpy as np

from adv_landscape import instances
from adv_landscape.config import Tolerances
from adv_landscape.errors import InvalidInput
from adv_landscape.instances import seed_keys, synthetic_instance
from adv_landscape.io import percent
from adv_landscape.losses import Loss, get_loss, with_output_bias

__all__ = ["Maximum", "CensusResult", "census", "synthetic_instance", "seed_keys"]
# (seed_keys and synthetic_instance live in ``instances``; re-exported here, the public API)


@dataclasses.dataclass(frozen=True)
class Maximum:
  """One distinct certified maximum.

  Attributes:
    value: L at the representative endpoint.
    delta: the representative perturbation, shape (d,).
    kind: "boundary" (on the sphere) or "interior".
    cls: the certificate class (``boundary_local_max`` or ``interior_local_max``).
    count: restarts that ended there; basin_fraction: count / restarts.
    lambda_tangent: top Riemannian Hessian eigenvalue (boundary; NaN inside, and NaN
      where the representative was certified by a proof: ``lambda_tangent_bound``).
    lambda_hess: top eigenvalue of hess L (interior; NaN on the sphere).
    multiplier: the KKT multiplier mu (boundary).
    proof_radius: a true strict local maximum lies within this distance
      (NaN when the proof failed; ``proof_note`` says why).
    lambda_tangent_bound: the proof's bound lambda_T <= -kappa where the
      representative inherited it (NaN elsewhere); certified_by: "eigenvalue" or "proof".
    is_global: with ``global_max=True``, whether its value is within the branch and
      bound's tolerance of the certified global maximum (None when that did not close).
  """

  value: float
  delta: np.ndarray
  kind: str
  cls: str
  count: int
  basin_fraction: float
  lambda_tangent: float
  lambda_hess: float
  multiplier: float
  proof_radius: float
  proof_note: str
  lambda_tangent_bound: float = float("nan")
  certified_by: str = "eigenvalue"
  is_global: bool | None = None


_CLASS_OF_KIND = {"boundary": "boundary_local_max", "interior": "interior_local_max"}


@dataclasses.dataclass(frozen=True)
class CensusResult:
  """What ``census`` found: a view of the one record, ``run`` (the ``pipeline.CensusRun``:
  every array, endpoints, certificates, clusters), with the inputs that determined it.

  Attributes:
    run: the ``pipeline.CensusRun``.
    config: every input that determines the result (eps, restarts, step rule,
      tolerances, seed, dtype).
    extra: the summary fields the facade adds (``bound``, ``global_max``).
    is_global: with ``global_max``, each maximum's flag (``Maximum.is_global``).
  Views: ``maxima`` (the distinct maxima, best first, as ``Maximum``), ``class_counts``
  (endpoints per certificate class), ``summary`` (the census JSON's ``summary``, see
  docs/output.md).
  """

  run: object
  config: dict
  extra: dict = dataclasses.field(default_factory=dict)
  is_global: tuple | None = None

  @property
  def summary(self) -> dict:
    return {**self.run.summary, **self.extra}

  @property
  def class_counts(self) -> dict:
    return dict(self.run.summary["class_counts"])

  @functools.cached_property
  def maxima(self) -> list[Maximum]:
    flags = self.is_global or (None,) * len(self.run.maxima)
    return [Maximum(value=mx["value"], delta=np.asarray(mx["delta"]), kind=mx["kind"],
                    cls=_CLASS_OF_KIND[mx["kind"]], count=mx["count"],
                    basin_fraction=mx["basin_fraction"], lambda_tangent=mx["lambda_tangent"],
                    lambda_hess=mx["lambda_hess"], multiplier=mx["multiplier"],
                    proof_radius=float(mx["proof_radius"]), proof_note=mx["proof_note"],
                    lambda_tangent_bound=mx.get("lambda_tangent_bound", float("nan")),
                    certified_by=mx.get("certified_by", "eigenvalue"), is_global=flag)
            for mx, flag in zip(self.run.maxima, flags)]

  @property
  def n_restarts(self) -> int:
    return int(self.summary["n_inits"])

  @property
  def values(self) -> np.ndarray:
    return np.array([mx.value for mx in self.maxima])

  @property
  def deltas(self) -> np.ndarray:
    d = self.config["d"]
    return np.array([mx.delta for mx in self.maxima]).reshape(len(self.maxima), d)

  @property
  def counts(self) -> np.ndarray:
    return np.array([mx.count for mx in self.maxima], int)

  def __str__(self) -> str:
    s = self.summary
    lines = [f"{s['n_inits']} restarts: {s['distinct_maxima']} distinct certified maxima, "
             f"certified {percent(s['certified_fraction'])}, converged "
             f"{percent(s['converged_fraction'])}, median {s['median_iterations']:.0f} "
             f"iterations"]
    for i, mx in enumerate(self.maxima[:5]):
      lines.append(f"  #{i + 1} {mx.kind:8s} L={mx.value:.6g} count {mx.count} "
                   f"proof radius {mx.proof_radius:.2g}")
    return "\n".join(lines)


def census(net, loss: str | Loss | Callable, x, y, *, eps: float | None = None,
           gamma: float | None = None, n_restarts: int = 1000, step_rule: str = "normalized",
           step: float | None = None, init: str | None = None, max_steps: int = 10_000,
           tol_g: float | None = None, tol_c: float = Tolerances.tol_c, seed: int = 0,
           output_bias=0.0, norm: str = "2", progress: bool = False,
           bound: bool = False, global_max: bool = False) -> CensusResult:
  """PGA from ``n_restarts`` starts, certificates, the distinct maxima and their proofs.

  The defaults are the command line's. The restarts use the third key of
  ``jax.random.split(jax.random.key(seed), 3)``, as the command line does.

  Args:
    net: a network of any registered family (``models.MODEL_FAMILIES``: a two-layer
      ``Network``, a deep ``MLP``); loss: a name, a ``Loss`` or a callable l(u, y).
    x: the input; PGA runs in the wider of its dtype and the network's (float64 under
      ``jax_enable_x64`` when either is float64); y: the label.
    eps, gamma: the radius, or the perturbation ratio (eps = gamma ||x||; 0.5
      when neither is given).
    n_restarts, step_rule, step, init, max_steps, tol_g, tol_c: as the CLI's (step None:
      the rule's default, 2 for apgd, 0.05 for the others)
      ``--inits``, ``--step-rule``, ``--step``, ``--init``, ``--max-steps``,
      ``--tol-g``, ``--tol-c``.
    seed: the PRNG seed; output_bias: a bias added to the network's output.
    norm: "2" (the l2 ball) or "inf" (the box; then gamma sets eps = gamma ||x|| /
      sqrt(d), the starts default to ``vertex`` and ``step_rule="sign"`` is allowed).
    progress: progress bars.
    bound: also a certified upper bound on max L over the set and the gap to the best
      certified maximum (``summary`` keys ``upper_bound``, ``gap``, ``relative_gap``,
      ``bound_method``, ``bound_seconds``; the CLI's ``--bound``).
    global_max: also the global maximum by branch and bound and p_global (``summary``
      keys ``global_max`` = {lower, upper, closed, nodes, seconds, dimension, tol, status} and
      ``p_global``, and each maximum's ``is_global``; the CLI's ``--global``).

  Raises:
    InvalidInput: bad arguments (both eps and gamma, x = 0 with gamma, ...).
  """
  from adv_landscape.models import family_of
  from adv_landscape.pipeline import PGAConfig, run_census
  from adv_landscape.problem import default_init, gamma_scale

  if eps is not None and gamma is not None:
    raise InvalidInput("give eps or gamma, not both")
  family = family_of(net)  # any registered model family (models.MODEL_FAMILIES)
  # PGA runs in the wider of x's and the network's dtypes: a float32 x (what np.load gives
  # for an array saved from torch) beside a float64 network runs in float64, not float32.
  x = jax.numpy.asarray(x, jax.numpy.result_type(
      jax.numpy.asarray(x).dtype, *(leaf.dtype for leaf in jax.tree_util.tree_leaves(net))))
  xnorm = float(np.linalg.norm(np.asarray(x, np.float64)))
  scale = gamma_scale(norm, xnorm, x.shape[0])
  if eps is None:
    if xnorm == 0:
      raise InvalidInput("x is zero, so gamma cannot set eps (eps = gamma ||x||); give eps")
    eps = (0.5 if gamma is None else gamma) * scale
  init = init or default_init(norm)
  loss = with_output_bias(get_loss(loss), output_bias)
  family.validate(net, x, eps, y, loss)
  from adv_landscape.step_rules import resolve_step

  config = PGAConfig(step_rule=step_rule, step=resolve_step(step_rule, step), init=init,
                     tol_g=tol_g, max_steps=max_steps)
  tols = Tolerances.for_dtype(x.dtype, tol_c=tol_c)
  run = run_census(instances.problem(net, loss, x, y, eps=eps, norm=norm),
                   key=seed_keys(seed)[2], n_restarts=n_restarts, config=config,
                   tolerances=tols, progress=progress)
  extra, flags = {}, None
  if bound:
    from adv_landscape.models import certified_gap
    extra.update(certified_gap(net, loss, x, y, eps, norm, run.summary["best_value"]))
  if global_max:
    from adv_landscape.models import certified_global
    fields, flags = certified_global(net, loss, x, y, eps, norm, run.maxima, n_restarts)
    extra.update(fields)
  widths = [int(w) for w in family.widths(net)]
  out_config = {**dataclasses.asdict(run.config), "norm": norm, "eps": eps,
                "gamma": eps / scale if xnorm else None, "n_restarts": n_restarts, "seed": seed, "loss": loss.name, "y": y,
                "d": int(x.shape[0]), "m": int(widths[-1]) if widths else None,
                "widths": list(widths), "activation": getattr(net, "activation", None),
                "output_bias": np.asarray(output_bias).tolist(), "dtype": str(x.dtype),
                "tolerances": tols.describe()}
  return CensusResult(run, out_config, extra, tuple(flags) if flags is not None else None)
