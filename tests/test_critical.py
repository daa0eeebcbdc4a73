"""Claim A proved per instance (critical.py): it clears what has no critical point, never what
has one, and sigma's derivative range is sound."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from adv_landscape.activations import get_activation
from adv_landscape.critical import d1_range, no_interior_critical
from adv_landscape.network import Network
from adv_landscape.sweep import GridPoint, instance

ACTS = ["tanh", "sigmoid", "softplus", "gelu", "swish", "quadratic"]


def _true_d1(name, z):
  """sigma' in 80-bit extended precision where sigma' has tails far below u (tanh:
  1 / cosh^2; sigmoid: e^-|t| / (1 + e^-|t|)^2), so the reference keeps their sign and size;
  the library's float64 sigma' otherwise."""
  t = np.asarray(z, np.longdouble)
  if name == "tanh":
    return 1 / np.cosh(t) ** 2
  if name == "sigmoid":
    e = np.exp(-np.abs(t))
    return e / (1 + e) ** 2
  return np.asarray(get_activation(name).d1(z), np.float64)


@pytest.mark.parametrize("name", ACTS)
def test_d1_range_holds_every_value_of_sigma_prime(name):
  act = get_activation(name)
  rng = np.random.default_rng(0)
  lo = rng.uniform(-6, 4, 200)
  hi = lo + rng.uniform(0, 5, 200) ** 2
  s_lo, s_hi = d1_range(act, lo, hi)
  z = lo[:, None] + (hi - lo)[:, None] * np.linspace(0, 1, 4001)
  s = _true_d1(name, z)
  assert np.all(s.min(axis=1) >= s_lo) and np.all(s.max(axis=1) <= s_hi)
  # and it is tight to its pad: the range is within sup|sigma'''| h^2 / 8 + rounding
  assert np.all(s_hi - s.max(axis=1) <= act.sup_abs(3, np.maximum(abs(lo), abs(hi)))
                * ((hi - lo) / 8) ** 2 / 8 * 1.01 + 1e-12)


def test_the_dense_check_catches_a_range_without_its_pad():
  """Planted: the grid values alone (no pad) miss gelu's largest slope (about 1.13 near
  t = 1.4) inside [-1, 3], whose grid of 3 points is -1, 1, 3; the dense check of the test
  above sees it, so that test can fail; the gridded branch's pad covers it."""
  act = get_activation("gelu")
  unsound_hi = np.asarray(act.d1(np.linspace(-1.0, 3.0, 3))).max()
  dense = np.asarray(act.d1(np.linspace(-1.0, 3.0, 4001))).max()
  assert dense > unsound_hi + 0.01
  assert d1_range(act, np.array([-1.0]), np.array([3.0]), grid=2)[1][0] >= dense


def test_tails_below_the_normal_range_keep_a_sound_range():
  """exp(-2|t|) is subnormal past |t| of about 354: its relative error is unbounded there, so
  the range must fall back to [0, an absolute bound] (the referee's t = 365..373)."""
  act = get_activation("tanh")
  lo, hi = np.array([360.0, 371.0, 372.6, 5.0]), np.array([365.0, 380.0, 400.0, 372.0])
  s_lo, s_hi = d1_range(act, lo, hi)
  true_hi = np.asarray(_true_d1("tanh", lo), np.float64)
  assert np.all(s_lo <= np.asarray(_true_d1("tanh", hi), np.float64))
  assert np.all(s_hi >= true_hi) and np.all(s_lo[:3] == 0.0)


def _even_network(key, d, m):
  """f(z) = sum_r a_r [tanh(w_r . z + b_r) + tanh(-w_r . z + b_r)]: even, so grad f(0) = 0
  (a critical point at delta = 0 when x = 0)."""
  k1, k2, k3 = jax.random.split(key, 3)
  W = jax.random.normal(k1, (m, d), jnp.float64) / np.sqrt(d)
  b = jax.random.normal(k2, (m,), jnp.float64)
  a = jax.random.normal(k3, (m,), jnp.float64)
  return Network(jnp.concatenate([W, -W]), jnp.concatenate([a, a]), jnp.concatenate([b, b]),
                 "tanh")


@pytest.mark.parametrize("seed", range(6))
def test_a_network_with_an_interior_critical_point_is_never_proved(seed):
  with jax.enable_x64(True):
    net = _even_network(jax.random.key(seed), d=6, m=2)  # rank 2: a 2-d search
    pr = no_interior_critical(net, jnp.zeros(6), 1.0, max_regions=20_000)
  assert pr.status == "budget" and pr.live > 0
  # the critical point at 0 lies in a region left: some unresolved centre is near 0
  assert np.min(np.linalg.norm(pr.unresolved, axis=1)) < 0.05


def test_the_planted_bump_is_not_proved_and_is_found_where_it_was_planted():
  with jax.enable_x64(True):
    net, _, x, _, eps = instance(GridPoint(d=3, m=6, s=1.0, family="bump", seed=0))
    pr = no_interior_critical(net, x, eps, max_regions=50_000)
    # its maximiser z* = x + delta*, ||delta*|| = eps / 2: where grad f = 0
    W, b = np.asarray(net.W), np.asarray(net.b)
    delta_star = np.linalg.lstsq(W[::2], np.tile(1.0, 3) - b[::2], rcond=None)[0] - np.asarray(x)
  assert pr.status == "budget"
  assert np.min(np.linalg.norm(pr.unresolved - delta_star, axis=1)) < 0.1 * eps


def test_a_monotone_network_is_proved():
  """All a_r > 0 and every w_r in the half-space w . e > 0: e . grad f > 0 everywhere, so
  grad f has no zero; the proof must say so (a planted positive)."""
  k1, k2, k3 = jax.random.split(jax.random.key(3), 3)
  with jax.enable_x64(True):
    W = jax.random.normal(k1, (5, 8), jnp.float64)
    W = W.at[:, 0].set(jnp.abs(W[:, 0]) + 0.5)
    net = Network(W, jnp.abs(jax.random.normal(k2, (5,), jnp.float64)) + 0.1,
                  jax.random.normal(k3, (5,), jnp.float64), "tanh")
    x = jnp.ones(8) * 0.1
    pr = no_interior_critical(net, x, 1.5)
  assert pr.status == "proved" and pr.live == 0 and pr.dimension == 5


def test_not_available_where_the_argument_does_not_apply():
  from adv_landscape.critical import no_interior_maximum
  from adv_landscape.losses import loss_from_callable

  for act in ("relu", "gelu", "swish"):  # not smooth; third-derivative sups only sampled
    net = Network(jnp.eye(2), jnp.ones(2), jnp.zeros(2), act)
    assert no_interior_critical(net, jnp.zeros(2), 1.0).status.startswith("not available")
  net = Network(jnp.eye(2), jnp.ones(2), jnp.zeros(2), "tanh")
  user = loss_from_callable(lambda u, y: (u - y) ** 4)
  assert no_interior_maximum(net, user, jnp.zeros(2), 1.0, 1.0).status.startswith("not avail")


@pytest.mark.parametrize("loss", ["linear", "logistic", "exponential"])
def test_a_margin_loss_at_y_zero_is_constant_and_never_proved(loss):
  """y = 0 makes a margin loss's l' vanish everywhere: L is constant, every point a
  (non-strict) local maximum, so "no interior maximum" is false and must not be proved
  (the referee's counterexample: all three returned 'proved' before)."""
  from adv_landscape.critical import no_interior_maximum
  from adv_landscape.losses import get_loss

  net = Network(jnp.array([[1.0, 0.0], [1.0, 0.0]]), jnp.array([1.0, 1.0]),
                jnp.array([-1.0, 1.0]), "tanh")
  with jax.enable_x64(True):
    pr = no_interior_maximum(net, get_loss(loss), jnp.zeros(2), 0.0, 2.0)
  assert pr.status.startswith("not available") and "constant" in pr.status


def test_an_underflowing_unit_does_not_prove_a_false_claim():
  """The referee's counterexample: a unit at pre-activation about 373, where tanh' underflows,
  carries a weight of 1.5e307, so that f has a strict local minimum at delta = 0 (its slope
  changes sign there); with the linear loss at y = 1 that is a strict interior maximum of
  L. Neither proof may say 'proved'."""
  from adv_landscape.critical import no_interior_maximum
  from adv_landscape.losses import get_loss

  net = Network(jnp.array([[1.0], [2.0]]), jnp.array([1.0, -1.51e307]), jnp.array([19.0, 373.0]),
                "tanh")
  with jax.enable_x64(True):
    assert no_interior_critical(net, jnp.zeros(1), 0.1, max_regions=2000).status != "proved"
    assert no_interior_maximum(net, get_loss("linear"), jnp.zeros(1), 1.0, 0.1,
                               max_regions=2000).status != "proved"


def test_the_negative_check_catches_a_planted_unsound_range(monkeypatch):
  """Planted: sigma' taken at each interval's midpoint only (no range). Then every region
  whose centre has a nonzero gradient is 'cleared', and the even network, whose critical
  point at 0 is real, is wrongly 'proved': the check above would fail."""
  import adv_landscape.critical as critical

  def midpoint_only(act, lo, hi, grid=8):
    s = np.asarray(act.d1((np.asarray(lo) + np.asarray(hi)) / 2), np.float64)
    return s, s

  monkeypatch.setattr(critical, "d1_range", midpoint_only)
  with jax.enable_x64(True):
    net = _even_network(jax.random.key(0), d=6, m=2)
    assert no_interior_critical(net, jnp.zeros(6), 1.0, max_regions=20_000).status == "proved"


def test_a_saddle_of_f_is_cleared_by_the_second_order_test_and_only_by_it(monkeypatch):
  """The even network's critical point at 0 is a saddle of f (hess f indefinite there), so
  with y = 5 (l'(f) < 0) hess L has a positive direction around it: "no interior maximum
  of L" is proved, though "no critical point of f" is not. With the second-order test
  planted away (it never clears), the same call runs out of budget: that test is what
  proves it. The hunt, an independent search, finds no interior maximum either."""
  import adv_landscape.critical as critical
  from adv_landscape.critical import no_interior_maximum
  from adv_landscape.hunt import hunt_interior_critical
  from adv_landscape.instances import problem
  from adv_landscape.losses import get_loss

  loss = get_loss("quadratic")
  with jax.enable_x64(True):
    net = _even_network(jax.random.key(0), d=6, m=2)
    x = jnp.zeros(6)
    assert no_interior_critical(net, x, 1.0, max_regions=5000).status == "budget"
    assert no_interior_maximum(net, loss, x, 5.0, 1.0, max_regions=5000).status == "proved"
    hunt = hunt_interior_critical(problem(net, loss, x, 5.0, eps=1.0),
                                  key=jax.random.key(1), n_starts=32)
    assert hunt.interior_max == 0
    monkeypatch.setattr(critical, "_curved", lambda *a: np.zeros(critical.BATCH, bool))
    assert no_interior_maximum(net, loss, x, 5.0, 1.0, max_regions=5000).status == "budget"


def test_a_planted_interior_maximum_of_l_is_not_proved():
  """The bump's strict maximum of f at delta* with y = -1 < f is a strict local maximum of
  L inside the ball (claim A's planted negative): never proved, and it sits in a region
  left."""
  from adv_landscape.critical import no_interior_maximum
  with jax.enable_x64(True):
    net, loss, x, y, eps = instance(GridPoint(d=3, m=6, s=1.0, family="bump", seed=0))
    pr = no_interior_maximum(net, loss, x, y, eps, max_regions=4000)
    W, b = np.asarray(net.W), np.asarray(net.b)
    delta_star = np.linalg.lstsq(W[::2], np.tile(1.0, 3) - b[::2], rcond=None)[0] - np.asarray(x)
  assert pr.status == "budget"
  assert np.min(np.linalg.norm(pr.unresolved - delta_star, axis=1)) < 0.1 * eps
