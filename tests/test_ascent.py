"""PGA: batched equals a Python loop, stops at KKT points, is reproducible."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from adv_landscape import ascent, objective
from adv_landscape.bounds import instance_constants, t1_bound
from tests.helpers import (
  raw_certificate_tolerance,
  raw_certify,
  raw_initial_deltas,
  raw_pga,
  raw_run_pga,
  small_instance,
)


def reference_pga(net, loss, x, y, eps, delta0, eta, tol_g, max_steps, normalized=False):
  """Plain NumPy PGA, one restart at a time, one step at a time."""
  out, iters = [], []
  for dl, et in zip(np.asarray(delta0), np.asarray(eta)):
    t = 0
    while t < max_steps:
      g = np.asarray(objective.grad(net, loss, x, y, jnp.asarray(dl)))
      e = et / max(np.linalg.norm(g), 1e-300) if normalized else et
      v = dl + e * g
      new = v * min(1.0, eps / np.linalg.norm(v))
      if np.linalg.norm(new - dl) / e <= tol_g:
        break
      dl, t = new, t + 1
    out.append(dl)
    iters.append(t)
  return np.array(out), np.array(iters)


@pytest.mark.parametrize("rule, normalized", [("fixed", False), ("normalized", True)])
def test_batched_pga_equals_python_loop(rule, normalized):
  net, x, y, eps = small_instance("tanh", "quadratic", d=4, m=6, scale=2.0)
  delta0 = raw_initial_deltas(jax.random.key(3), "ball", 6, net, objective.get_loss(
      "quadratic"), x, y, eps)
  eta = jnp.full((6,), 0.3 if rule == "fixed" else 0.05 * eps)
  tol_g, max_steps = 1e-7, 400
  state, vals, gnorm, _ = raw_run_pga(
      net, objective.get_loss("quadratic"), x, y, eps, delta0, eta, tol_g, max_steps,
      normalized=normalized, check_every=3)
  ref, iters = reference_pga(net, "quadratic", x, y, eps, delta0, eta, tol_g, max_steps,
                             normalized)
  np.testing.assert_array_equal(state.iterations, iters)
  np.testing.assert_allclose(state.delta, ref, rtol=1e-12, atol=1e-12)
  np.testing.assert_array_equal(state.converged, iters < max_steps)


@pytest.mark.parametrize("init", ascent.INITS)
@pytest.mark.parametrize("rule", [r for r in ascent.STEP_RULES if r != "sign"])  # sign: box only
def test_pga_stops_at_kkt_points(init, rule):
  net, x, y, eps = small_instance("softplus", "logistic")
  res = raw_pga(net, "logistic", x, y, key=jax.random.key(1), eps=eps, n_restarts=8,
                   init=init, step_rule=rule, step=0.5 if rule == "lipschitz" else 0.1,
                   max_steps=20_000, progress=False)
  assert res.converged.all(), res.iterations
  assert (res.grad_mapping_norm <= res.tol_g).all()
  # PGA's stopping rule implies the first-order condition, with no slack in float64.
  tol = raw_certificate_tolerance(res, net, "logistic", x, y, eps,  # fixed length or not:
                                     slack=1.0 + 1e-9)  # read from res.config
  cert = raw_certify(net, "logistic", x, y, res.deltas, eps=eps, tol_g=tol)
  assert (cert.rgrad_norm <= tol).all()
  assert (cert.classes == "boundary_local_max").all(), cert.classes
  np.testing.assert_allclose(cert.norm_ratio, 1.0, rtol=1e-12)


def test_reproducible_and_chunked_consistently():
  net, x, y, eps = small_instance("tanh", "quadratic", scale=3.0)
  kw = dict(key=jax.random.key(7), eps=eps, max_steps=5000, progress=False)
  a = raw_pga(net, "quadratic", x, y, n_restarts=10, chunk=4, **kw)
  b = raw_pga(net, "quadratic", x, y, n_restarts=10, chunk=4, **kw)
  np.testing.assert_array_equal(a.iterations, b.iterations)
  np.testing.assert_array_equal(a.deltas, b.deltas)
  first = raw_pga(net, "quadratic", x, y, n_restarts=4, chunk=4, **kw)
  np.testing.assert_array_equal(a.deltas[:4], first.deltas)  # chunk i uses fold_in(key, i)


def test_no_retrace_for_new_values_of_the_same_shapes():
  net, x, y, eps = small_instance("tanh", "quadratic")
  kw = dict(eps=eps, n_restarts=5, max_steps=50, progress=False)
  raw_pga(net, "quadratic", x, y, key=jax.random.key(0), **kw)
  before = ascent.run_pga._cache_size()
  raw_pga(net, "quadratic", 1.1 * x, 0.5, key=jax.random.key(1), **{**kw, "eps": 0.9 * eps})
  assert ascent.run_pga._cache_size() == before


def test_value_history_increases_under_lipschitz_steps_and_counts_respect_t1():
  net, x, y, eps = small_instance("tanh", "quadratic", scale=1.5)
  c = instance_constants(net, "quadratic", x, y, eps)
  res = raw_pga(net, "quadratic", x, y, key=jax.random.key(2), eps=eps, n_restarts=16,
                   step_rule="lipschitz", step=1.0, max_steps=3000, history=True, tol_g=1e-5,
                   progress=False)
  # Sufficient increase: L(delta_{t+1}) >= L(delta_t) for eta <= 1/ell.
  assert (np.diff(res.history, axis=0) >= -1e-13).all()
  L0 = res.history[0]
  T1 = t1_bound(c.L_max, L0, res.eta, res.tol_g)
  assert (res.iterations <= T1).all()


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_restarts=0), "n_restarts=0"), (dict(max_steps=0), "max_steps=0"),
    (dict(step=-1.0), "step=-1.0"), (dict(init="corner"), "init='corner'"),
    (dict(step_rule="adam"), "step_rule='adam'"), (dict(eps=0.0), "eps=0.0"),
])
def test_bad_arguments_are_named(kwargs, match):
  net, x, y, eps = small_instance()
  kw = dict(key=jax.random.key(0), eps=eps, n_restarts=2, progress=False) | kwargs
  with pytest.raises(ValueError, match=match):
    raw_pga(net, "quadratic", x, y, **kw)


def test_nan_input_is_refused():
  net, x, y, eps = small_instance()
  with pytest.raises(ValueError, match="x contains NaN"):
    raw_pga(net, "quadratic", x.at[0].set(jnp.nan), y, key=jax.random.key(0), eps=eps,
               n_restarts=2, progress=False)


def test_sufficient_increase_on_planted_sequences():
  """Exactly the bound passes, a hair below (beyond rounding) fails, a rounding-level
  shortfall does not."""
  import numpy as np

  from adv_landscape.ascent import sufficient_increase
  eta, g = np.array([0.5]), np.array([[2.0], [1.0]])
  need = 0.5 * 0.5 * g[:, 0] ** 2  # 1.0 then 0.25
  exact = np.array([[1.0], [2.0], [2.25]])
  assert sufficient_increase(exact, g, eta, size=10)["violations"] == 0
  assert sufficient_increase(exact, g, eta, size=10)["min_ratio"] == 1.0
  short = exact.copy()
  short[2] -= 1e-3
  out = sufficient_increase(short, g, eta, size=10)
  assert out["violations"] == 1 and out["min_ratio"] < 1
  rounding = exact.copy()
  rounding[2] -= 1e-15  # below 16 size u (|L_t| + |L_t+1|) = 3.4e-13
  assert sufficient_increase(rounding, g, eta, size=10)["violations"] == 0
  assert need.tolist() == [1.0, 0.25]


def test_the_traced_run_keeps_the_inequality_at_one_over_ell_and_breaks_it_at_three():
  """The concave planted objective (hess L constant, so the rigorous ell is its norm): PGA
  at eta = 1/ell increases L by at least (eta/2)||G||^2 at every step; at eta = 3/ell
  (the B-increase control) most steps fall short."""
  from adv_landscape.sweep import GridPoint, run_point
  b = dict(d=8, m=16, s=1.0, gamma=0.8, family="concave", loss="linear",
           step_rule="lipschitz", n_restarts=8, max_steps=400, rtol_g=1e-4)
  sound = run_point(GridPoint(**b))
  assert sound["theorem_applies"] and sound["sufficient_increase"]["violations"] == 0
  assert sound["sufficient_increase"]["min_ratio"] >= 1.0
  planted = run_point(GridPoint(ell_scale=1 / 3, **b))
  assert planted["theorem_applies"]  # wrongly, by the planted ell
  assert planted["increase_violations"] > planted["sufficient_increase"]["steps"] // 2


# --- the armijo rule ---------------------------------------------------------------------------

def _paper_problem(d=12, m=24, s=1.0):
  from adv_landscape.problem import Problem
  from adv_landscape.sweep import GridPoint, instance
  with jax.enable_x64(True):
    net, loss, x, y, eps = instance(GridPoint(d=d, m=m, s=s))
    return Problem.two_layer(net, loss, x, y, eps=eps, dtype=jnp.float64)


def test_armijo_steps_satisfy_the_sufficient_increase_that_a_long_step_violates():
  pr = _paper_problem(s=4.0)  # curved enough for a long step to fall short
  with jax.enable_x64(True):
    obj, eps = pr.objective, float(pr.constraint.eps)
    from adv_landscape.geometry import sample_sphere
    delta = sample_sphere(jax.random.key(0), 64, 12, eps, dtype=jnp.float64)
    eta = jnp.full((64,), 10.0)  # beyond 1/ell
    vals, g = obj.value_and_grad_batch(delta)
    value = jax.vmap(obj.value)
    plain = pr.constraint.project(delta + eta[:, None] * g)  # the step without backtracking
    short = np.asarray(value(plain) - vals) - np.asarray(
        jnp.sum((plain - delta) ** 2, axis=1) / (2 * eta))
    assert np.sum(short < 0) >= 4  # the condition can fail: the long step violates it
    v0, new, gnorm, eta_ok, tries = ascent._armijo_step(pr, delta, eta)
    gain = np.asarray(value(new) - vals)
    need = np.asarray(jnp.sum((new - delta) ** 2, axis=1) / (2 * eta_ok))
    u = np.finfo(np.float64).eps
  assert np.all(gain >= need - 64 * u * (np.abs(np.asarray(vals)) + np.abs(gain)))
  tries = np.asarray(tries)
  assert np.all(tries[short < 0] >= 2)  # every violating step was shortened
  np.testing.assert_allclose(np.asarray(eta_ok), 10.0 * 2.0 ** -(tries - 1.0))


def test_armijo_counts_its_evaluations_and_converges_where_a_fixed_long_step_oscillates():
  # B's oscillation control: eta = 4 / ell_est oscillates on this concave instance.
  from adv_landscape.problem import Problem
  from adv_landscape.sweep import GridPoint, instance
  with jax.enable_x64(True):
    net, loss, x, y, eps = instance(GridPoint(d=8, m=16, s=1.0, gamma=0.8, family="concave",
                                              loss="linear"))
    pr = Problem.two_layer(net, loss, x, y, eps=eps, dtype=jnp.float64)
    tol = 1e-6 * float(jnp.linalg.norm(pr.objective.grad(jnp.zeros(8))))
    kw = dict(key=jax.random.key(1), n_restarts=16, max_steps=3000, tol_g=tol, progress=False)
    arm = ascent.pga(pr, step_rule="armijo", step=4.0, **kw)
    fixed = ascent.pga(pr, step_rule="curvature", step=4.0,
                       ell=float(np.max(np.abs(np.linalg.eigvalsh(
                                   np.asarray(pr.objective.hess(jnp.zeros(8))))))), **kw)
  assert arm.converged.all() and not fixed.converged.any()
  # one gradient per step and at least one value per trial step
  assert np.all(arm.evaluations >= 2 * arm.iterations) and fixed.evaluations is None
  assert np.ptp(arm.values) < 1e-9 * abs(arm.values.max())  # one maximum, reached by all


def test_armijo_on_the_linear_objective_reaches_eps_g_over_norm_g():
  net, x, _, eps = small_instance(d=6, m=8, activation="linear")
  from adv_landscape.problem import Problem
  with jax.enable_x64(True):
    pr = Problem.two_layer(net, "linear", x, 1.0, eps=eps, dtype=jnp.float64)
    g = np.asarray(pr.objective.grad(jnp.zeros(6)))
    res = ascent.pga(pr, key=jax.random.key(2), n_restarts=8, step_rule="armijo",
                     step=0.1, max_steps=500, tol_g=1e-9 * np.linalg.norm(g),
                     progress=False)
  assert res.converged.all()
  np.testing.assert_allclose(res.deltas, np.tile(eps * g / np.linalg.norm(g), (8, 1)),
                             atol=1e-8 * eps)


def test_armijo_never_moves_beyond_its_first_trial_and_stops_only_near_stationarity():
  """Without a cap armijo's eta doubled without bound (to 2e4-3e5 on the paper's network,
  d = 32, m = 128, s = 1, seed 6 of the full grid), and since ||G_eta|| -> 0 as eta grows
  on the sphere, its stop held far from stationarity: that instance counted 247 'distinct
  maxima' where grad0 finds 1 (seen to fail there: eta ||g|| / eps reached 4.9e4). Capped,
  the move eta ||g|| stays within c eps (c = 1 here) and every converged endpoint is
  first-order stationary on the sphere: ||t|| <= tol_g (1 + eta ||g|| / eps) <= 2 tol_g."""
  from adv_landscape.problem import Problem
  from adv_landscape.sweep import GridPoint, instance

  with jax.enable_x64(True):
    p = GridPoint(d=32, m=128, s=1.0, step_rule="armijo", step=1.0, seed=6, n_restarts=32,
                  max_steps=20_000, rtol_g=1e-5)
    net, loss, x, y, eps = instance(p)
    pr = Problem.two_layer(net, loss, x, y, eps=eps)
    res = ascent.pga(pr, key=jax.random.key(0), n_restarts=32, step_rule="armijo",
                     step=1.0, max_steps=20_000, tol_g=1e-5 * float(jnp.linalg.norm(
                                 pr.objective.grad(jnp.zeros_like(x)))), progress=False)
    assert res.converged.all()
    _, g = pr.objective.value_and_grad_batch(jnp.asarray(res.deltas))
    g, dl = np.asarray(g), np.asarray(res.deltas)
    move = res.eta * np.linalg.norm(g, axis=1) / eps
    assert np.max(move) <= 1 + 1e-9
    u = dl / np.linalg.norm(dl, axis=1, keepdims=True)
    t = np.linalg.norm(g - np.sum(g * u, axis=1, keepdims=True) * u, axis=1)
    assert np.all(t <= res.tol_g * (1 + move))


def _saturated_instance(seed, w_scale, d=16, m=8):
  """A tanh network whose first layer is scaled up (saturated units, as at a large input
  scale): fixed-step PGA at the zero start's grad0 step crawls and oscillates there."""
  from adv_landscape.network import Network, init_network
  from adv_landscape.problem import Problem
  net = init_network(jax.random.key(seed), d, m, activation="tanh", dtype=jnp.float64)
  net = Network(net.W * w_scale, net.a, net.b, net.activation)
  x = jax.random.normal(jax.random.key(100 + seed), (d,))
  eps = 0.5 * float(jnp.linalg.norm(x))
  return net, x, Problem.two_layer(net, "quadratic", x, 1.0, eps=eps), eps


def _g_ref_numpy(net, x, eps, d, eta):
  """||G_eta(d)|| from an autodiff gradient of the value and a NumPy projection (neither
  is what ``polish`` computes with)."""
  g = np.asarray(jax.grad(lambda z: objective.value(net, "quadratic", x, 1.0, z))(
      jnp.asarray(d)))
  v = d + eta * g
  return float(np.linalg.norm(v * min(1.0, eps / np.linalg.norm(v)) - d)) / eta


def test_polish_reaches_the_fixed_step_test_that_fixed_steps_do_not(monkeypatch):
  """Where 2000 fixed steps at eta_ref left it (on the sphere), ``polish`` meets
  ||G_eta_ref|| <= tol (checked with an autodiff gradient and a NumPy projection) and never
  lowers the value; one armijo run alone stops at its own, larger step, where the test at
  eta_ref fails (the tightened second run is needed); with one step per run it says it
  has not converged where the independent check says so too."""
  net, x, problem, eps = _saturated_instance(seed=2, w_scale=8.0)
  g0 = float(jnp.linalg.norm(problem.objective.grad(jnp.zeros_like(x))))
  tol, eta_ref = 1e-4 * g0, 0.1 * eps / g0
  state, _, _, _ = ascent.run_pga(problem, jnp.zeros((1, x.shape[0])),
                                  jnp.asarray([eta_ref]), tol, 2000)
  assert not bool(state.converged[0])  # the planted negative: fixed steps do not get there
  start = np.asarray(state.delta[0])
  assert abs(np.linalg.norm(start) / eps - 1) < 1e-12  # on the sphere
  v_start = float(problem.objective.value(jnp.asarray(start)))
  u = np.finfo(float).eps
  # rounding of ||G_eta_ref||: the projection's, a few ulps of the eps-sized coordinates
  # over eta_ref, and the gradient's (two formulas), a few ulps of sum |W_ij s'_j c_j|
  terms = float(jnp.linalg.norm(jnp.abs(net.W.T) @ jnp.abs(net.a)))
  slack = 64 * u * (eps / eta_ref + terms)
  d, v, gref, ok, steps = ascent.polish(problem, start, tol_g=tol, eta_ref=eta_ref)
  assert ok and gref <= tol and steps > 0
  assert _g_ref_numpy(net, x, eps, d, eta_ref) <= tol + slack
  # armijo's slack per accepted step (64 ulps of the value), over every step it took
  assert v >= v_start - 64 * u * abs(v_start) * steps
  assert np.linalg.norm(d) <= eps * (1 + 4 * u)
  monkeypatch.setattr(ascent, "POLISH_ROUNDS", 1)
  d1, _, gref1, ok1, _ = ascent.polish(problem, start, tol_g=tol, eta_ref=eta_ref)
  assert not ok1 and _g_ref_numpy(net, x, eps, d1, eta_ref) > tol + slack
  monkeypatch.undo()
  d2, _, gref2, ok2, _ = ascent.polish(problem, np.zeros(x.shape[0]), tol_g=tol,
                                       eta_ref=eta_ref, max_steps=1)
  assert not ok2 and _g_ref_numpy(net, x, eps, d2, eta_ref) > tol + slack
