"""Rounding-bounded linear algebra (``linalg``): the trust-region bound against the problem's
known global solution and against points of the ball, and a planted wrong bound caught by
the same checks."""

import numpy as np
import pytest

from adv_landscape import linalg
from tests.helpers import trust_region_max


def _check(bound_fn, g, H, r, rng) -> bool:
  """The bound sits above the exact maximum (secular equation, to 1e-12) and above every
  sampled value, and within 1e-8 relative of the exact maximum."""
  exact = trust_region_max(H / 2, g, 0.0, r)  # it maximises delta^T A delta + g . delta
  b = bound_fn(g, H, r)
  pts = rng.standard_normal((4000, g.size))
  pts *= (r * rng.random(4000) ** (1 / g.size) / np.linalg.norm(pts, axis=1))[:, None]
  vals = pts @ g + 0.5 * np.einsum("ni,ij,nj->n", pts, H, pts)
  return bool(b >= exact - 1e-12 * abs(exact) and b >= vals.max()
              and b <= exact + 1e-8 * max(abs(exact), 1e-300) + 1e-300)


@pytest.mark.parametrize("kind", ["indefinite", "concave_inside", "concave_boundary", "convex"])
def test_trust_region_bound_meets_the_known_solution(kind):
  rng = np.random.default_rng({"indefinite": 0, "concave_inside": 1, "concave_boundary": 2,
                               "convex": 3}[kind])
  n = 12
  Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
  lam = {"indefinite": rng.standard_normal(n), "concave_inside": -1 - rng.random(n),
         "concave_boundary": -0.1 - rng.random(n), "convex": 0.1 + rng.random(n)}[kind]
  H = (Q * lam) @ Q.T
  H = (H + H.T) / 2
  g = rng.standard_normal(n) * (0.1 if kind == "concave_inside" else 1.0)
  assert _check(lambda g_, H_, r: linalg.trust_region_bound(g_, H_, r), g, H, 1.5, rng)


def test_a_wrong_trust_region_bound_is_caught():
  """Dropping mu r^2 / 2 (the multiplier's share) undercuts the maximum on the boundary."""
  rng = np.random.default_rng(4)
  n = 6
  H = np.diag(rng.standard_normal(n))
  g = rng.standard_normal(n)

  def wrong(g_, H_, r):
    return linalg.trust_region_bound(g_, H_, r) - 0.5 * r * r * max(np.linalg.eigvalsh(H_)[-1],
                                                                    0.5)

  assert _check(lambda g_, H_, r: linalg.trust_region_bound(g_, H_, r), g, H, 1.0, rng)
  assert not _check(wrong, g, H, 1.0, rng)
