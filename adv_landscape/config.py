"""Configuration in one place: how PGA runs (``PGAConfig``) and every tolerance the
certificates and the census use (``Tolerances``), with the reason for each.

A ``PGAConfig`` travels inside ``PGAResult``, so nothing downstream is told the
step rule again; ``Tolerances`` is chosen once from the endpoints' dtype and
reported from the object itself.

>>> Tolerances.for_dtype("float32").tol_b, Tolerances.for_dtype("float64").tol_b
(1e-05, 1e-06)
>>> PGAConfig(step_rule="normalized").normalized
True
"""

from __future__ import annotations

import dataclasses

import numpy as np

from adv_landscape.step_rules import STEP_RULES

__all__ = ["PGAConfig", "Tolerances", "DENSE_MAX_D", "HESSIAN_BLOCK_BYTES"]

# Method thresholds: they choose an algorithm or a batch size, never a verdict's margin.
DENSE_MAX_D = 256  # the certificates' "auto": dense eigensolvers up to this d, Lanczos above
HESSIAN_BLOCK_BYTES = 2e8  # (d, d) float64 Hessians held at once by a dense certificate


@dataclasses.dataclass(frozen=True)
class PGAConfig:
  """How PGA runs.

  Attributes:
    step_rule: fixed, lipschitz, curvature, grad0, normalized, sign, armijo or apgd (see
      ``ascent.pga``).
    step: the rule's constant c.
    init: sphere, ball, zero or gradient (l2); vertex, box, zero or gradient (l_inf).
    tol_g: first-order tolerance on ||G||; None for ``ascent.default_tol_g``.
    max_steps: step budget per restart.
    chunk: restarts per compiled batch.
    check_every: steps between the all-converged checks.
  """

  step_rule: str = "grad0"
  step: float = 0.1
  init: str = "sphere"
  tol_g: float | None = None
  max_steps: int = 10_000
  chunk: int = 8192
  check_every: int = 8

  @property
  def normalized(self) -> bool:
    """Whether steps have a fixed length eta along g / ||g|| (the attack libraries'
    convention; apgd's too, whose eta halves at checkpoints: on the box its steps are
    eta sign(g), and the box's certificate tolerance does not read this)."""
    return self._move() in ("normalized", "apgd")

  @property
  def sign(self) -> bool:
    """Whether steps are alpha sign(g) (l_inf PGD)."""
    return self._move() == "sign"

  def _move(self):
    rule = STEP_RULES.get(self.step_rule)
    return rule.move if rule is not None else None


@dataclasses.dataclass(frozen=True)
class Tolerances:
  """Every tolerance of the certificates and the census.

  Attributes:
    tol_b: relative distance to the sphere that counts as on it: 1e-6 for
      float64 endpoints, 1e-5 for float32 (the rounding of their norms).
    rtol_h: tol_h = rtol_h (||hess L|| + |mu|) per endpoint: well above the
      float64 eigenvalue error (~1e-15 relative), well below any curvature
      a certificate should trust.
    tol_c: two maxima are the same when ||delta_i - delta_j|| <= tol_c eps.
    slack: the certificate's first-order tolerance is slack times the one
      PGA's stopping rule implies (absorbs float32 rounding).
    rtol_g: the default first-order tolerance of PGA relative to
      ||grad L(0)||: 1e-6 in float64, 1e-4 in float32 (above the rounding
      noise of ||G|| = ||delta_{t+1} - delta_t|| / eta).
    hunt_rtol_g: the interior hunt's tolerance on ||grad f|| relative to
      ||grad f(x)||: its points are Newton-polished in float64, so 1e-8 is
      far above their rounding and far below any point that is not critical.
    training_slack: adversarial training certifies an inner endpoint with
      training_slack * rtol_g ||grad L(x_i, 0)||: the inner loop keeps no
      per-example step, so the exact tolerance of ``certificate_tolerance``
      is not available there.
  """

  tol_b: float = 1e-6
  rtol_h: float = 1e-7
  tol_c: float = 1e-3
  slack: float = 2.0
  rtol_g: float = 1e-6
  hunt_rtol_g: float = 1e-8
  training_slack: float = 10.0

  @classmethod
  def for_dtype(cls, dtype, **overrides) -> "Tolerances":
    """The tolerances for endpoints of this dtype."""
    if np.dtype(dtype) == np.float64:
      return cls(**overrides)
    return dataclasses.replace(cls(tol_b=1e-5, rtol_g=1e-4), **overrides)

  def describe(self) -> dict:
    """The tolerances as a report lists them (from this object, never copied)."""
    return {
        "tol_b (relative distance to the sphere)": self.tol_b,
        "tol_h": f"{self.rtol_h:g} (||hess L||_2 + |mu|) per endpoint",
        "tol_c (same maximum)": self.tol_c,
        "certificate tol_g": f"per endpoint, tol_g ||delta + eta grad L|| / eps, times "
                             f"{self.slack:g}",
        "default rtol_g of PGA (tol_g = rtol_g ||grad L(0)||)": self.rtol_g,
    }
