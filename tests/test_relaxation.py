"""The certified upper bound on max L over the set (``relaxation``): sound at random points
and at PGA's endpoints for every smooth activation and built-in loss, both sets and three
input scales; exact on a linear network; an unsound relaxation is caught by the same
check."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adv_landscape import relaxation
from adv_landscape.ascent import pga
from adv_landscape.losses import get_loss
from adv_landscape.network import Network, forward
from adv_landscape.problem import Problem
from tests.helpers import SCALAR_LOSSES, SMOOTH_ACTIVATIONS, K, set_points, small_instance

U = np.finfo(np.float64).eps


def _values(net, loss, x, y, pts):
  f = jax.vmap(lambda z: forward(net, z))(x[None] + pts)
  return np.asarray(f), np.asarray(jax.vmap(lambda u: loss.value(u, y))(f))


DEFAULT_ACTIVATIONS = ("tanh",)  # the rest: -m slow


@pytest.mark.parametrize("norm", ["2", "inf"])
@pytest.mark.parametrize("activation", [
    a if a in DEFAULT_ACTIVATIONS else pytest.param(a, marks=pytest.mark.slow)
    for a in SMOOTH_ACTIVATIONS])
def test_the_bound_holds_at_random_points_and_at_pga_endpoints(activation, norm):
  """For every built-in scalar loss and s in {1/4, 1, 4}: f_lo <= f <= f_hi and L <= the
  bound at 4000 points of the set (half inside, half on the sphere or at vertices) and at
  the endpoints of 16 armijo restarts (which climb towards the maxima). tanh by default;
  sigmoid, softplus, gelu, swish, quadratic and linear with -m slow (the suite's time)."""
  with jax.enable_x64(True):
    for s in (0.25, 1.0, 4.0):
      net, x, _, eps = small_instance(activation, "quadratic", d=6, m=10, scale=s, seed=1)
      eps = eps / np.sqrt(6) if norm == "inf" else eps
      pts = set_points(jax.random.key(3), 4000, 6, eps, norm)
      for name in SCALAR_LOSSES:
        loss = get_loss(name)
        y = 0.3 if name in ("quadratic", "huber") else 1.0
        b = relaxation.loss_upper_bound(net, loss, x, y, eps, norm)
        res = pga(Problem.two_layer(net, loss, x, y, eps=eps, norm=norm,
                                            dtype=jnp.float64),
                  key=jax.random.key(4), n_restarts=16, step_rule="armijo", step=1.0,
                  init="ball" if norm == "2" else "box", max_steps=300, progress=False)
        f, L = _values(net, loss, x, y, jnp.concatenate([pts, jnp.asarray(res.deltas)]))
        assert np.all(f >= b.f_lo) and np.all(f <= b.f_hi), (s, name)
        assert np.all(L <= b.upper), (s, name, float(L.max()), b.upper)


@settings(max_examples=50, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(activation=st.sampled_from(SMOOTH_ACTIVATIONS), loss=st.sampled_from(SCALAR_LOSSES),
       scale=st.floats(0.2, 5.0), norm=st.sampled_from(["2", "inf"]),
       seed=st.integers(0, 10_000), y=st.floats(-2.0, 2.0))
def test_the_bound_holds_at_1e5_points_over_random_instances(activation, loss, scale, norm,
                                                              seed, y):
  """Soundness over drawn instances: 50 examples (activation, loss, label, input scale,
  set, network), 2000 points of the set each (10^5 in all, half on the boundary), f within
  [f_lo, f_hi] and L below the bound at every one. Derandomised, so every run draws the
  same examples."""
  with jax.enable_x64(True):
    net, x, _, eps = small_instance(activation, "quadratic", d=4, m=6, scale=scale,
                                    seed=seed)
    eps = eps / 2.0 if norm == "inf" else eps
    lo = get_loss(loss)
    b = relaxation.loss_upper_bound(net, lo, x, y, eps, norm)
    pts = set_points(jax.random.key(seed), 2000, 4, eps, norm)
    f, L = _values(net, lo, x, y, pts)
  assert np.all(f >= b.f_lo) and np.all(f <= b.f_hi)
  assert np.all(L <= b.upper), (float(L.max()), b.upper)


def test_the_bound_holds_for_softmax_cross_entropy():
  """K = 3 logits: every logit within its range, and L below the bound (the 8 vertices of
  the logit box)."""
  with jax.enable_x64(True):
    net, x, y, eps = small_instance("tanh", "softmax_ce", d=5, m=8, scale=1.0)
    loss = get_loss("softmax_ce")
    for norm in ("2", "inf"):
      e = eps / np.sqrt(5) if norm == "inf" else eps
      b = relaxation.loss_upper_bound(net, loss, x, y, e, norm)
      pts = set_points(jax.random.key(1), 4000, 5, e, norm)
      f, L = _values(net, loss, x, y, pts)
      assert b.f_lo.shape == (K,) and np.all(f >= b.f_lo) and np.all(f <= b.f_hi)
      assert np.all(L <= b.upper) and "8 vertices" in b.method


@pytest.mark.parametrize("norm", ["2", "inf"])
def test_exact_on_a_linear_network(norm):
  """f = a . W (x + delta) + a . b: max of the quadratic loss over the set is
  (|f(x) - y| + eps ||W^T a||_*)^2 / 2, and the relaxation attains it (to 1e-9)."""
  with jax.enable_x64(True):
    net, x, _, eps = small_instance("linear", "quadratic", d=7, m=5, scale=1.0, seed=4)
    y = 0.2
    v = np.asarray(net.W).T @ np.asarray(net.a)
    dual = np.linalg.norm(v) if norm == "2" else np.sum(np.abs(v))
    fx = float(forward(net, x))
    want = (abs(fx - y) + eps * dual) ** 2 / 2
    b = relaxation.loss_upper_bound(net, get_loss("quadratic"), x, y, eps, norm)
    assert b.upper >= want and b.upper == pytest.approx(want, rel=1e-9)


def test_an_unsound_relaxation_is_caught(monkeypatch):
  """With the extremes of sigma - alpha z read at the interval's two ends only and no
  curvature margin, the chord itself passes for tanh's upper and lower line (phi is 0 at
  both ends): the same soundness check finds points above the "bound"."""
  with jax.enable_x64(True):
    net, x, _, eps = small_instance("tanh", "quadratic", d=6, m=10, scale=4.0, seed=1)
    loss, y = get_loss("linear"), 1.0
    sound = relaxation.loss_upper_bound(net, loss, x, y, eps, "2")

    def ends_only(act, lo, hi, alpha, grid=relaxation.GRID):
      z = np.stack([lo, hi], 1)
      phi = np.asarray(act.fn(z)) - alpha[:, None] * z
      return phi.min(1), phi.max(1)

    monkeypatch.setattr(relaxation, "_extremes", ends_only)
    unsound = relaxation.loss_upper_bound(net, loss, x, y, eps, "2")
    res = pga(Problem.two_layer(net, loss, x, y, eps=eps, dtype=jnp.float64),
              key=jax.random.key(4), n_restarts=64, step_rule="armijo", step=1.0,
              max_steps=500, progress=False)
    best = float(np.max(res.values))
    assert best <= sound.upper
    assert best > unsound.upper, (best, unsound.upper)


def test_refuses_what_it_cannot_bound():
  net, x, y, eps = small_instance("tanh", "quadratic", d=4, m=5)
  relu = Network(net.W, net.a, net.b, "relu")
  assert "not smooth" in relaxation.loss_upper_bound(relu, get_loss("quadratic"), x, y,
                                                     eps).method
  from adv_landscape.losses import loss_from_callable
  user = loss_from_callable(lambda u, y: (u - y) ** 4)
  b = relaxation.loss_upper_bound(net, user, x, y, eps)
  assert np.isnan(b.upper) and "convex" in b.method


def test_a_user_loss_declared_monotone_gets_a_bound_where_it_says_so():
  """A user's cubic (u - y)^3 / 3 declared increasing on [-50, 50]: the bound is l at f's
  upper end, above L at 4000 points; declared on an interval f's range leaves, or with a
  malformed declaration, there is none (with the reason) or a one-line error."""
  from adv_landscape.errors import InvalidInput
  from adv_landscape.losses import loss_from_callable

  def cubic(u, y):
    return (u - y) ** 3 / 3

  with jax.enable_x64(True):
    net, x, y, eps = small_instance("tanh", "quadratic", d=4, m=5)
    cubic.monotone = ("increasing", -50.0, 50.0)
    b = relaxation.loss_upper_bound(net, loss_from_callable(cubic), x, y, eps)
    pts = set_points(jax.random.key(2), 4000, 4, eps, "2")
    f, L = _values(net, loss_from_callable(cubic), x, y, pts)
    assert np.all(L <= b.upper) and b.upper == pytest.approx((b.f_hi - y) ** 3 / 3, rel=1e-12)
    cubic.monotone = ("increasing", 0.9 * b.f_hi, 50.0)  # f's range leaves it
    b = relaxation.loss_upper_bound(net, loss_from_callable(cubic), x, y, eps)
    assert np.isnan(b.upper) and "leaves" in b.method
    cubic.monotone = ("up", 0.0, 1.0)
    with pytest.raises(InvalidInput, match="monotone"):
      loss_from_callable(cubic)


def test_optimised_slopes_tighten_the_chord_bound_and_stay_sound(monkeypatch):
  """alpha-CROWN's step: slopes optimised per end of f's range never loosen the bound (the
  chord's stays a candidate) and, on the paper's network at s = 1, tighten it; the
  optimised bound still holds at random points and PGA endpoints (the test above runs with
  them too)."""
  with jax.enable_x64(True):
    net, x, _, eps = small_instance("tanh", "quadratic", d=8, m=32, scale=1.0, seed=2)
    loss = get_loss("quadratic")
    tight = relaxation.loss_upper_bound(net, loss, x, 0.3, eps, "2")
    monkeypatch.setattr(relaxation, "SLOPE_STEPS", 0)
    chord = relaxation.loss_upper_bound(net, loss, x, 0.3, eps, "2")
    assert tight.upper < chord.upper * (1 - 1e-3), (tight.upper, chord.upper)
    assert tight.f_lo >= chord.f_lo and tight.f_hi <= chord.f_hi
    pts = set_points(jax.random.key(9), 4000, 8, eps, "2")
    f, L = _values(net, loss, x, 0.3, pts)
  assert np.all(L <= tight.upper) and np.all(f <= tight.f_hi) and np.all(f >= tight.f_lo)


def test_the_second_order_bound_is_exact_on_a_quadratic_network():
  """Quadratic activation (sigma''' = 0, so T_f = 0) with the linear loss and y = -1: L = f is
  a quadratic form and the Taylor bound is the trust-region maximum itself (to 1e-8), where
  the relaxation alone is looser."""
  from tests.helpers import quadratic_net, trust_region_max
  net, x, A, g, c = quadratic_net(5, 7, 11, convex=False)
  exact = trust_region_max(A, g, c, 0.4)
  with jax.enable_x64(True):
    b = relaxation.loss_upper_bound(net, get_loss("linear"), x, -1.0, 0.4, "2")
  assert exact <= b.upper <= exact + 1e-8 * abs(exact) + 1e-12, (b.upper, exact)


def test_the_second_order_bound_tightens_at_small_eps_and_stays_sound(monkeypatch):
  """At eps = 0.05 ||x|| the Taylor bound beats the relaxation's on the paper-like network
  and still holds at 4000 points of the ball and at armijo's endpoints."""
  with jax.enable_x64(True):
    net, x, _, eps = small_instance("tanh", "quadratic", d=8, m=32, scale=1.0, seed=2)
    eps = eps / 10
    loss = get_loss("linear")
    taylor = relaxation.loss_upper_bound(net, loss, x, -1.0, eps, "2")
    monkeypatch.setattr(relaxation, "TAYLOR", False)
    plain = relaxation.loss_upper_bound(net, loss, x, -1.0, eps, "2")
    assert taylor.upper < plain.upper - 1e-3 * abs(plain.upper), (taylor.upper, plain.upper)
    pts = set_points(jax.random.key(9), 4000, 8, eps, "2")
    res = pga(Problem.two_layer(net, loss, x, -1.0, eps=eps, dtype=jnp.float64),
              key=jax.random.key(4), n_restarts=32, step_rule="armijo", step=1.0,
              max_steps=500, progress=False)
    f, L = _values(net, loss, x, -1.0, jnp.concatenate([pts, jnp.asarray(res.deltas)]))
  assert np.all(L <= taylor.upper) and np.all(f <= taylor.f_hi) and np.all(f >= taylor.f_lo)


def test_a_taylor_bound_without_its_remainder_is_caught():
  """The same end without the third-derivative remainder T_f r^3 / 6 (a planted error) lies
  below the best of 64 armijo restarts on this instance; with it, above."""
  with jax.enable_x64(True):
    net, x, _, eps = small_instance("tanh", "linear", d=3, m=8, scale=2.0, seed=2)
    lines = relaxation.unit_lines(net, x, eps, "2")
    a = np.asarray(net.a, np.float64)
    sound = relaxation._taylor_end(net, x, eps, "2", a, lines, 1)
    planted = relaxation._taylor_end(net, x, eps, "2", a, lines, 1, remainder=False)
    res = pga(Problem.two_layer(net, get_loss("linear"), x, -1.0, eps=eps, dtype=jnp.float64),
              key=jax.random.key(0), n_restarts=64, step_rule="armijo", step=1.0,
              max_steps=2000, progress=False)
  best = float(np.max(res.values))
  assert planted < best <= sound, (planted, best, sound)


@pytest.mark.parametrize("activation", ["tanh", "quadratic"])
@pytest.mark.parametrize("norm", ["2", "inf"])
def test_deep_networks_get_a_sound_interval_bound(activation, norm):
  """A 3-hidden-layer MLP: f within [f_lo, f_hi] and L below the bound at 4000 points of the
  set and at armijo's endpoints (quadratic loss and softmax cross-entropy's K = 3 head)."""
  from adv_landscape.deep import init_mlp, mlp_forward
  from adv_landscape.instances import problem
  from adv_landscape.network import synthetic_input
  with jax.enable_x64(True):
    for name, k in (("quadratic", None), ("softmax_ce", 3)):
      net = init_mlp(jax.random.key(1), 6, (10, 10, 8), activation=activation, n_outputs=k,
                     dtype=jnp.float64)
      x = synthetic_input(jax.random.key(2), 6, 1.0, dtype=jnp.float64)
      eps = 0.3 * float(jnp.linalg.norm(x)) / (np.sqrt(6) if norm == "inf" else 1)
      loss, y = get_loss(name), (1 if k else 0.3)
      b = relaxation.mlp_loss_upper_bound(net, loss, x, y, eps, norm)
      res = pga(problem(net, loss, x, y, eps=eps, norm=norm), key=jax.random.key(4),
                n_restarts=16, step_rule="armijo", step=1.0,
                init="ball" if norm == "2" else "box", max_steps=300, progress=False)
      pts = jnp.concatenate([set_points(jax.random.key(3), 4000, 6, eps, norm),
                             jnp.asarray(res.deltas)])
      f = np.asarray(jax.vmap(lambda z, n=net: mlp_forward(n, z))(x[None] + pts))
      L = np.asarray(jax.vmap(lambda u, lo=loss, t=y: lo.value(u, t))(jnp.asarray(f)))
      assert np.all(f >= b.f_lo) and np.all(f <= b.f_hi), name
      assert np.all(L <= b.upper), (name, float(L.max()), b.upper)


def test_a_deep_bound_that_reads_sigma_at_the_ends_only_is_caught(monkeypatch):
  """Quadratic activation, zero biases, x = 0 and positive output weights: every unit's
  interval is symmetric about 0, where sigma = z^2 has its minimum. Read at the two ends
  only, sigma's lower extreme is (eps ||w_r||)^2 instead of 0, and f near delta = 0 falls
  below the "range"; with the certified extremes every point is inside."""
  from adv_landscape.deep import MLP, mlp_forward

  def ends_only(act, lo, hi, alpha, grid=relaxation.GRID):
    z = np.stack([lo, hi], 1)
    phi = np.asarray(act.fn(z)) - alpha[:, None] * z
    return phi.min(1), phi.max(1)

  with jax.enable_x64(True):
    rng = np.random.default_rng(5)
    W1, W2 = rng.standard_normal((10, 6)), rng.standard_normal((8, 10)) / 3
    net = MLP((jnp.asarray(W1), jnp.asarray(W2)), (jnp.zeros(10), jnp.zeros(8)),
              jnp.asarray(np.abs(rng.standard_normal(8))), "quadratic")
    x, eps = jnp.zeros(6), 0.5
    pts = set_points(jax.random.key(3), 4000, 6, eps, "2")
    f = np.asarray(jax.vmap(lambda z: mlp_forward(net, z))(x[None] + pts))
    lo, hi = relaxation.mlp_f_range(net, x, eps, "2")
    assert np.all(f >= lo) and np.all(f <= hi)
    monkeypatch.setattr(relaxation, "_extremes", ends_only)
    lo, hi = relaxation.mlp_f_range(net, x, eps, "2")
  assert not (np.all(f >= lo) and np.all(f <= hi))
