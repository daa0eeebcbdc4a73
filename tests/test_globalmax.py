"""The certified global maximum by branch and bound (``globalmax``): its interval holds the
closed-form maximum of a linear network and every sampled value of tanh networks, on both
sets, certified or out of budget; its region bounds hold inside their regions; a relaxation
made unsound is caught by the same checks; p_global counts what reached the maximum."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from adv_landscape import api, globalmax, reports
from adv_landscape.cli import main
from adv_landscape.deep import init_mlp
from adv_landscape.globalmax import GlobalMax, global_maximum, p_global, region_f_bounds
from adv_landscape.losses import get_loss
from adv_landscape.models import certified_global
from adv_landscape.network import Network, forward
from tests.helpers import quadratic_net, set_points, small_instance, trust_region_max


def _loss_values(net, loss, x, y, pts):
  f = jax.vmap(lambda z: forward(net, z))(x[None] + pts)
  return np.asarray(jax.vmap(lambda u: loss.value(u, y))(f))


def _holds(g: GlobalMax, value) -> bool:
  """What every test checks: the true maximum (or a value attained) lies below upper, and
  lower is at most upper."""
  return bool(g.lower <= g.upper and value <= g.upper)


def _linear_instance(norm, d=3):
  rng = np.random.default_rng(7)
  W, a, b = rng.standard_normal((5, d)), rng.standard_normal(5), rng.standard_normal(5)
  net = Network(jnp.asarray(W), jnp.asarray(a), jnp.asarray(b), "linear")
  x, y, eps = jnp.asarray(rng.standard_normal(d)), 0.3, 0.7
  v = W.T @ a
  c = a @ (W @ np.asarray(x) + b)
  dual = np.linalg.norm(v) if norm == "2" else np.sum(np.abs(v))
  return net, x, y, eps, 0.5 * (abs(c - y) + eps * dual) ** 2  # max of 0.5 (f - y)^2


@pytest.mark.parametrize("norm", ["2", "inf"])
def test_a_linear_network_gets_its_closed_form_maximum(norm):
  net, x, y, eps, exact = _linear_instance(norm)
  g = global_maximum(net, get_loss("quadratic"), x, y, eps, norm, rtol=1e-6)
  assert g.status == "certified" and _holds(g, exact)
  assert exact - g.lower <= g.tol  # lower is a value attained, within tol of the maximum
  assert g.upper - g.lower <= g.tol


def test_an_unsound_relaxation_is_caught(monkeypatch):
  """The check above fails on a relaxation that cuts 0.05 off every unit's upper line."""
  net, x, y, eps, exact = _linear_instance("2")
  real = globalmax._extremes
  monkeypatch.setattr(globalmax, "_extremes",
                      lambda *a, **k: (lambda lo, hi: (lo + 0.05, hi - 0.05))(*real(*a, **k)))
  g = global_maximum(net, get_loss("quadratic"), x, y, eps, "2", rtol=1e-6)
  assert not _holds(g, exact)


@pytest.mark.parametrize("norm", ["2", "inf"])
@pytest.mark.parametrize("scale,act", [(1.0, "tanh"), (3.0, "tanh"), (1.0, "gelu")])
def test_the_interval_holds_every_sampled_value_of_a_tanh_network(norm, scale, act):
  net, x, y, _ = small_instance(act, "quadratic", d=2, m=12, scale=scale, seed=3)
  net = Network(net.W * scale, net.a, net.b, act)
  eps = 0.6 * float(jnp.linalg.norm(x))
  loss = get_loss("quadratic")
  g = global_maximum(net, loss, x, y, eps, norm, rtol=1e-4)
  sampled = _loss_values(net, loss, x, y, set_points(jax.random.key(1), 40_000, 2, eps, norm))
  assert g.status == "certified" and _holds(g, sampled.max())
  # the argmax is in the set and its value, recomputed independently, is at least lower
  size = np.linalg.norm(g.argmax) if norm == "2" else np.max(np.abs(g.argmax))
  assert size <= eps
  assert _loss_values(net, loss, x, y, jnp.asarray(g.argmax)[None])[0] >= g.lower
  # and the dense sample is not far below it: the maximum is found, not only bounded
  assert sampled.max() >= g.lower - 1e-2 * abs(g.lower)


def test_out_of_budget_the_interval_still_holds():
  net, x, y, eps = small_instance("tanh", "logistic", d=4, m=8, seed=1)
  loss = get_loss("logistic")
  g = global_maximum(net, loss, x, y, eps, "2", rtol=1e-9, max_regions=600)
  sampled = _loss_values(net, loss, x, y, set_points(jax.random.key(2), 20_000, 4, eps, "2"))
  assert g.status == "budget" and g.live > 0 and _holds(g, sampled.max())


@pytest.mark.parametrize("norm", ["2", "inf"])
def test_region_bounds_hold_inside_their_regions_and_fail_outside(norm):
  net, x, _, eps = small_instance("tanh", "quadratic", d=3, m=9, seed=2)
  rng = np.random.default_rng(0)
  C = rng.uniform(-eps, eps, (40, 3))
  H = rng.uniform(0.02, 0.3, (40, 3)) * eps
  lo, hi, empty = region_f_bounds(net, x, eps, norm, C, H)
  pts, owner, wide = [], [], []
  for i in range(40):
    for spread in (1.0, 3.0):  # within the region, then 3x wider
      P = C[i] + spread * H[i] * rng.uniform(-1, 1, (400, 3))
      size = np.linalg.norm(P, axis=1) if norm == "2" else np.max(np.abs(P), axis=1)
      P = P[size <= eps]
      pts.append(P)
      owner += [i] * len(P)
      wide += [spread > 1] * len(P)
  owner, wide = np.asarray(owner), np.asarray(wide)
  f = np.asarray(jax.vmap(lambda z: forward(net, z))(x[None] + jnp.asarray(np.concatenate(pts))))
  bad = (f < lo[owner]) | (f > hi[owner])
  assert np.sum(~wide) > 1000 and not np.any(bad[~wide])  # feasible points: always bounded
  assert not np.any(empty[owner[~wide]])  # and their regions never called empty
  assert np.any(bad[wide])  # the wider sample escapes: the check can fail


def test_a_region_outside_the_ball_is_empty():
  net, x, _, eps = small_instance("tanh", "quadratic", d=2, m=5)
  C = np.array([[0.9 * eps, 0.9 * eps], [0.6 * eps, 0.6 * eps]])
  H = np.full((2, 2), 0.05 * eps)
  _, _, empty = region_f_bounds(net, x, eps, "2", C, H)
  assert empty.tolist() == [True, False]  # nearest points at 1.2 eps and 0.78 eps


def test_p_global_counts_restarts_at_the_certified_maximum():
  g = GlobalMax(1.0, 1.0005, None, "certified", 10, 0, 5e-4, 0.0)
  assert p_global([1.0, 0.9996, 0.5], [3, 1, 5], 10, g) == pytest.approx(0.4)  # tau 1e-3
  assert p_global([0.998], [4], 10, g) == 0.0  # below upper - 2 tol
  assert p_global([0.9996], [4], 10, g, tau=1e-4) == 0.0  # below upper - tau
  assert p_global([1.0], [4], 10, g._replace(status="budget")) is None


def test_p_global_bounds_hold_closed_or_not():
  """tau = 2 tol = 1e-3. Closed on [1.0, 1.0005]: maxima at >= 0.9995 count for certain;
  endpoints at >= 0.999 can count. Open on [1.0, 1.5]: nothing counts for certain, and the
  best maximum 0.9 lies more than tau below lower, so PGA's best is certainly not global."""
  g = GlobalMax(1.0, 1.0005, None, "certified", 10, 0, 5e-4, 0.0)
  ends = [1.0, 1.0, 1.0, 0.9996, 0.9992, 0.5, 0.5, 0.5, 0.5, 0.5]
  b = globalmax.p_global_bounds([1.0, 0.9996, 0.5], [3, 1, 5], ends, g)
  assert b["p_lower"] == pytest.approx(0.4) and b["p_upper"] == pytest.approx(0.5)
  assert b["best_is_global"] is True
  assert b["p_lower"] == p_global([1.0, 0.9996, 0.5], [3, 1, 5], 10, g)  # closed: equal
  wide = g._replace(upper=1.5, status="budget")
  b = globalmax.p_global_bounds([1.0, 0.9996, 0.5], [3, 1, 5], ends, wide)
  assert b["p_lower"] == 0.0 and b["p_upper"] == pytest.approx(0.5)
  assert b["best_is_global"] is None  # 1.0 >= lower - tau: it may be global
  miss = globalmax.p_global_bounds([0.9], [10], [0.9] * 10, wide)
  assert miss["best_is_global"] is False and miss["p_upper"] == 0.0
  assert globalmax.p_global_bounds([1.0], [1], [1.0], g._replace(lower=float("nan"))) == {}


def test_the_lower_end_is_seeded_by_the_points_given():
  net, x, y, eps = small_instance("tanh", "quadratic", d=3, m=9, seed=4)
  loss = get_loss("quadratic")
  pts = set_points(jax.random.key(5), 2000, 3, eps, "2")
  best = _loss_values(net, loss, x, y, pts).max()
  g = global_maximum(net, loss, x, y, eps, "2", points=np.asarray(pts), max_regions=1)
  assert g.lower >= best - 1e-12 * abs(best) and g.status == "budget"


def test_where_there_is_no_branch_and_bound_it_says_why():
  net, x, y, eps = small_instance("tanh", "softmax_ce", d=3, m=5)
  assert "multi-output" in global_maximum(net, get_loss("softmax_ce"), x, y, eps).status
  net, x, y, eps = small_instance("tanh", "quadratic", d=3, m=5)
  user = get_loss(lambda u, y: jnp.sin(u * y))
  g = global_maximum(net, user, x, y, eps)
  assert g.status.startswith("not available: loss") and np.isnan(g.upper)


def test_census_global_p_global_is_the_basin_of_the_best_maximum():
  """On a d = 3 instance with several maxima: the census's best maximum is the certified
  global one, is_global marks it, and p_global is the share of restarts that ended there."""
  net, x, y, _ = small_instance("tanh", "quadratic", d=3, m=16, scale=2.0, seed=1)
  net = Network(net.W * 2.0, net.a, net.b, "tanh")
  res = api.census(net, "quadratic", x, y, gamma=0.8, n_restarts=128, global_max=True)
  s, g = res.summary, res.summary["global_max"]
  assert g["closed"] and g["status"] == "certified" and g["lower"] <= g["upper"]
  assert s["best_value"] <= g["upper"]
  top = [m for m in res.maxima if m.value >= g["upper"] - g["count_tol"]]
  assert len(res.maxima) > 1 and res.maxima[0] in top  # the best is the global maximum
  assert [m.is_global for m in res.maxima] == [m in top for m in res.maxima]
  assert s["p_global"] == pytest.approx(sum(m.count for m in top) / 128) and s["p_global"] < 1


def test_census_global_on_the_command_line_and_where_it_is_not_available(tmp_path, capsys):
  out_json = tmp_path / "c.json"
  assert main(["census", "--d", "2", "--m", "8", "--inits", "32", "--x64", "--global",
               "--no-progress", "--json", str(out_json)]) == 0
  out = capsys.readouterr().out
  assert "global     " in out and "<= max L <=" in out
  rec = json.loads(out_json.read_text())
  assert set(rec["summary"]["global_max"]) == {"lower", "upper", "closed", "nodes", "seconds",
                                               "dimension", "tol", "count_tol", "status"}
  assert all("is_global" in mx for mx in rec["maxima"])
  mlp = init_mlp(jax.random.key(0), 2, (4, 4))
  fields, flags = certified_global(mlp, get_loss("quadratic"), jnp.ones(2), 1.0, 0.5, "2",
                                   [], 8)
  assert fields["global_max"]["status"] == "not available: no branch and bound for the mlp " \
      "family" and fields["p_global"] is None and flags == []
  assert "global     not available" in reports.global_line({**fields, "best_value": 1.0})


def _wide_linear(d=40, m=3, seed=4):
  rng = np.random.default_rng(seed)
  W, a = rng.standard_normal((m, d)) / np.sqrt(d), rng.standard_normal(m)
  net = Network(jnp.asarray(W), jnp.asarray(a), jnp.zeros(m), "linear")
  x, y, eps = jnp.asarray(rng.standard_normal(d)), 0.2, 1.5
  c, v = a @ (W @ np.asarray(x)), W.T @ a
  return net, x, y, eps, 0.5 * (abs(c - y) + eps * np.linalg.norm(v)) ** 2


def test_the_ball_is_branched_in_rank_w_coordinates_and_keeps_the_closed_form():
  """m = 3 units at d = 40: the branch and bound runs in 3 coordinates, and its interval
  holds the closed-form maximum to 1e-6."""
  net, x, y, eps, exact = _wide_linear()
  g = global_maximum(net, get_loss("quadratic"), x, y, eps, "2", rtol=1e-6)
  assert g.dimension == 3 and g.status == "certified" and _holds(g, exact)
  assert exact - g.lower <= g.tol and np.linalg.norm(g.argmax) <= eps


def test_a_reduction_to_the_wrong_subspace_is_caught(monkeypatch):
  """The same check fails when the coordinates miss part of W's row space and the
  reduction's error bound is dropped."""
  net, x, y, eps, exact = _wide_linear()
  real = globalmax.coordinates

  def wrong(net, eps, norm, reduce=True):
    c = real(net, eps, norm, reduce=reduce)
    V = np.linalg.qr(c.V + 0.5 * np.random.default_rng(0).standard_normal(c.V.shape))[0]
    return c._replace(Wz=np.asarray(net.W) @ V, V=V, extra=np.zeros_like(c.extra))
  monkeypatch.setattr(globalmax, "coordinates", wrong)
  g = global_maximum(net, get_loss("quadratic"), x, y, eps, "2", rtol=1e-6)
  assert not _holds(g, exact)


def test_reduced_and_full_coordinates_agree_and_hold_pga_best():
  net, x, y, _ = small_instance("tanh", "quadratic", d=6, m=2, scale=2.0, seed=5)
  net = Network(net.W * 2.0, net.a, net.b, "tanh")
  eps = 0.7 * float(jnp.linalg.norm(x))
  loss = get_loss("quadratic")
  red = global_maximum(net, loss, x, y, eps, "2", rtol=1e-5)
  full = global_maximum(net, loss, x, y, eps, "2", rtol=1e-5, reduce=False, max_regions=1000)
  assert red.dimension == 2 and full.dimension == 6 and red.status == "certified"
  assert max(red.lower, full.lower) <= min(red.upper, full.upper)  # both hold the maximum
  res = api.census(net, "quadratic", x, y, eps=eps, n_restarts=16, step_rule="armijo")
  assert res.summary["best_value"] <= red.upper


# --- known answers (issue 24's list) -----------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_quadratic_activation_with_the_linear_loss_is_the_trust_region_problem(seed):
  """On the ball, f is a quadratic form and L = f (linear loss, y = -1): the global maximum
  is the trust-region problem's, known to 1e-12; the certified interval must hold it and
  close on it (lower within tol of it; rtol 1e-4: at 1e-6 the 200,000-region budget runs
  out first at d = 3)."""
  net, x, A, g, c = quadratic_net(3, 5, seed, convex=False)
  exact = trust_region_max(A, g, c, 0.8)
  with jax.enable_x64(True):
    res = global_maximum(net, get_loss("linear"), x, -1.0, 0.8, "2", rtol=1e-4)
  assert res.status == "certified", res
  assert res.lower - 1e-9 * abs(exact) <= exact <= res.upper + 1e-9 * abs(exact)
  assert exact - res.lower <= res.tol + 1e-9 * abs(exact)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_convex_quadratic_on_the_box_peaks_at_an_enumerated_vertex(seed):
  """a_r > 0 makes f convex, so its maximum over the box is at one of the 2^d vertices,
  enumerated exactly."""
  d = 4
  net, x, A, g, c = quadratic_net(d, 6, seed, convex=True)
  eps = 0.6
  verts = eps * np.array(np.meshgrid(*[[-1.0, 1.0]] * d)).reshape(d, -1).T
  exact = float(max(v @ A @ v + g @ v + c for v in verts))
  with jax.enable_x64(True):
    res = global_maximum(net, get_loss("linear"), x, -1.0, eps, "inf", rtol=1e-6)
  assert res.status == "certified", res
  assert res.lower - 1e-9 * abs(exact) <= exact <= res.upper + 1e-9 * abs(exact)
  assert exact - res.lower <= res.tol + 1e-9 * abs(exact)


@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_a_d2_tanh_network_against_a_dense_grid_with_a_lipschitz_margin(scale):
  """d = 2: L on a polar grid over the disk (every point of the disk within h of a grid
  point), so max L lies in [grid max, grid max + Lip h], Lip = sup |l'| sup ||grad f|| <=
  (sup |f| + |y|) sum |a_r| ||w_r||. The certified interval must meet that bracket."""
  net, x, y, eps = small_instance("tanh", "quadratic", d=2, m=12, scale=scale, seed=3)
  loss = get_loss("quadratic")
  n_r, n_t = 400, 2400
  r = eps * np.linspace(0, 1, n_r)
  t = np.linspace(0, 2 * np.pi, n_t, endpoint=False)
  pts = (r[:, None, None] * np.stack([np.cos(t), np.sin(t)], -1)[None]).reshape(-1, 2)
  with jax.enable_x64(True):
    grid_max = float(_loss_values(net, loss, x, y, jnp.asarray(pts)).max())
    res = global_maximum(net, loss, x, y, eps, "2", rtol=1e-6)
  W, a = np.asarray(net.W), np.asarray(net.a)
  h = max(eps / (n_r - 1), eps * np.pi / n_t)  # radial step and half the outer arc step
  lip = (np.abs(a).sum() + abs(y)) * float(np.sum(np.abs(a) * np.linalg.norm(W, axis=1)))
  assert res.status == "certified", res
  assert res.upper >= grid_max  # the bound holds at every grid point
  assert res.lower <= grid_max + lip * h  # and nothing above the grid's bracket is claimed
  assert res.upper - grid_max <= res.tol + lip * h


@pytest.mark.parametrize("seed,scale", [(3, 0.5), (3, 2.0), (5, 1.0)])
def test_an_independent_global_solver_agrees(seed, scale):
  """SCIP (pyscipopt: spatial branch and bound, tanh written through exp) as an oracle on
  d = 2 instances. Its solution, projected onto the ball (SCIP's feasibility tolerance lets
  it stand up to about 1e-6 outside) and evaluated here in float64, is a value attained, so
  it must lie below our upper end; our lower end, also attained, must lie below SCIP's dual
  bound (up to SCIP's own relative gap and tolerances, 1e-5); both must find the same
  maximum to 1e-5 relative."""
  scip = pytest.importorskip("pyscipopt")
  net, x, y, eps = small_instance("tanh", "quadratic", d=2, m=6, scale=scale, seed=seed)
  W, a, b, xn = (np.asarray(v, np.float64) for v in (net.W, net.a, net.b, x))
  model = scip.Model()
  model.hideOutput()
  dv = [model.addVar(lb=-eps, ub=eps, name=f"d{i}") for i in range(W.shape[1])]
  model.addCons(scip.quicksum(v * v for v in dv) <= eps ** 2)
  f = model.addVar(lb=-1e3, ub=1e3, name="f")
  h = [scip.quicksum(W[r, i] * dv[i] for i in range(len(dv))) + float(W[r] @ xn + b[r])
       for r in range(len(a))]
  model.addCons(f == scip.quicksum(float(a[r]) * (1 - scip.exp(-2 * h[r]))
                                   / (1 + scip.exp(-2 * h[r])) for r in range(len(a))))
  t = model.addVar(lb=-1e6, ub=1e6, name="t")
  model.addCons(t <= 0.5 * (f - y) * (f - y))
  model.setObjective(t, "maximize")
  model.setParam("limits/gap", 1e-6)
  model.setParam("limits/time", 60)
  model.optimize()
  assert model.getStatus() == "optimal"
  sol = np.array([model.getVal(v) for v in dv])
  sol = sol * min(1.0, eps / np.linalg.norm(sol))
  attained = 0.5 * (float(a @ np.tanh(W @ (xn + sol) + b)) - y) ** 2
  with jax.enable_x64(True):
    g = global_maximum(net, get_loss("quadratic"), x, y, eps, "2", rtol=1e-6)
  assert g.status == "certified"
  assert attained <= g.upper
  assert g.lower <= model.getDualbound() * (1 + 1e-5)
  assert abs(g.lower - attained) <= 1e-5 * abs(attained)
