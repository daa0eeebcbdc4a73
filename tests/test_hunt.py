"""The interior hunt (claim A): it stays inside, it finds what is planted, and its
detection limit means what it says."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from adv_landscape import claims, hunt
from adv_landscape.deep import MLP, mlp_forward
from adv_landscape.geometry import sample_ball
from adv_landscape.losses import get_loss
from adv_landscape.network import Network, init_network, synthetic_input
from adv_landscape.problem import Problem, TwoLayerObjective
from adv_landscape.sweep import GridPoint, instance, run_point
from tests.helpers import raw_problem


def _problem(p: GridPoint):
  with jax.enable_x64(True):
    net, loss, x, y, eps = instance(p)
    if isinstance(net, MLP):
      return Problem.autodiff(mlp_forward, net, loss, x, y, eps=eps, norm=p.norm)
    return Problem.two_layer(net, loss, x, y, eps=eps, norm=p.norm)


@pytest.mark.parametrize("norm", ["2", "inf"])
def test_every_search_ends_inside_the_search_ball(norm):
  # The old Newton steps were not projected and left the ball from 16 of 16 starts.
  with jax.enable_x64(True):
    pr = _problem(GridPoint(d=12, m=24, s=1.0, norm=norm))
    obj, eps = pr.objective, float(pr.constraint.eps)
    f_obj = TwoLayerObjective(obj.net, obj.x, jnp.asarray(-1.0), get_loss("linear"))
    r = eps * (1 - hunt.SHELL)
    starts = (jax.random.uniform(jax.random.key(0), (16, 12), jnp.float64, -r, r) if norm == "inf"
              else sample_ball(jax.random.key(0), 16, 12, r, dtype=jnp.float64))
    ends = hunt._hunt(f_obj, starts, r, 100, 20, norm == "inf")
  size = np.abs(ends).max(axis=1) if norm == "inf" else np.linalg.norm(ends, axis=1)
  assert np.all(size <= r * (1 + 1e-12))


def test_levenberg_marquardt_reaches_the_planted_maximiser_to_rounding():
  # The concave family's maximiser is known in closed form (sweep._concave).
  with jax.enable_x64(True):
    p = GridPoint(d=10, m=20, s=1.0, gamma=1.5, family="concave", loss="linear")
    net, _, x, _, eps = instance(p)
    W, A, b = np.asarray(net.W), np.abs(np.asarray(net.a)), np.asarray(net.b)
    z_star = -np.linalg.solve(W.T @ (A[:, None] * W), W.T @ (A * b))
    h = hunt.hunt_interior_critical(_problem(p), key=jax.random.key(1), n_starts=16)
  assert h.found == 1 and h.interior_max == 1
  np.testing.assert_allclose(h.deltas[0], z_star - np.asarray(x), atol=1e-10 * eps)
  assert h.candidates_inside == h.f_starts and h.basins[0] == 1.0  # concave: one basin


def test_candidates_are_classified_by_where_they_end():
  # A linear network: grad f is constant, so nothing moves; every search is a candidate
  # inside whose ||grad f|| is that of x (closest = 1), and none is critical.
  with jax.enable_x64(True):
    net = init_network(jax.random.key(2), 8, 16, activation="linear", dtype=jnp.float64)
    x = synthetic_input(jax.random.key(3), 8, 1.0, dtype=jnp.float64)
    h = hunt.hunt_interior_critical(raw_problem(net, "quadratic", x, 5.0, 0.5),
                                    key=jax.random.key(4))
    assert h.candidates_inside == h.f_starts and h.found == 0
    assert h.closest == pytest.approx(1.0, rel=1e-12)
    # The paper's network: every grad f search is pushed onto the search ball's surface, so
    # none is left to classify (reported as inf, never as a small number).
    p = hunt.hunt_interior_critical(_problem(GridPoint(d=16, m=32, s=1.0)),
                                    key=jax.random.key(5))
  assert p.candidates_inside == 0 and p.closest == np.inf and p.candidate_lambda is None


def test_detection_limit_has_the_stated_power_and_a_smaller_basin_does_not():
  rng = np.random.default_rng(0)
  n = 32
  p = hunt.detection_limit(n)
  assert p == pytest.approx(1 - 0.05 ** (1 / n), rel=1e-12)
  trials = 40_000
  hit = np.mean((rng.random((trials, n)) < p).any(axis=1))
  se = np.sqrt(0.95 * 0.05 / trials)
  assert abs(hit - 0.95) < 4 * se
  hit_half = np.mean((rng.random((trials, n)) < p / 2).any(axis=1))
  assert hit_half < 0.95 - 4 * se  # a basin of half the limit is missed too often
  assert hunt.detection_limit(0) == 1.0


def _small_basin(depth):
  from adv_landscape.verify import SMALL_BASIN_WIDTH
  return GridPoint(d=16, m=32, s=1.0, family="paper_bump", bump_width=SMALL_BASIN_WIDTH[16],
                   depth=depth, init="sphere", step_rule="grad0", step=0.05, n_restarts=8,
                   max_steps=2000, rtol_g=1e-4, hunt=True)


@pytest.mark.parametrize("depth", [1, pytest.param(3, marks=pytest.mark.slow)])  # 3: 23-28 s
def test_the_small_basin_control_is_caught_and_the_same_network_without_it_is_not(depth):
  net, *_ = instance(_small_basin(depth))
  assert isinstance(net, MLP if depth > 1 else Network)  # depth 3 runs through autodiff
  bump = run_point(_small_basin(depth))
  plain = run_point(GridPoint(**{**_small_basin(depth).__dict__, "family": "paper",
                                 "bump_width": 0.0}))
  res_bump, res_plain = claims.claim_a([bump]), claims.claim_a([plain])
  assert res_bump["verdict"] == "fails" and res_plain["verdict"] == "holds"
  hb = bump["hunt"]
  assert hb["interior_max"] >= 1
  basin = max(mx["basin"] for mx in hb["interior_maxima"])
  # the planted basin is near the detection limit (within a factor of 4 above it)
  assert hb["detection_limit"] <= basin <= 4 * hb["detection_limit"]
  assert res_bump["details"]["detection_limit"] == pytest.approx(hb["detection_limit"])
  assert plain["hunt"]["interior_max"] == 0 and plain["hunt"]["nontrivial_critical"] == 0
