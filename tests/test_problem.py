"""The objective/constraint seam: the autodiff objective is the closed form computed
another way, so PGA, certificates and the census agree through either."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from adv_landscape import ascent
from adv_landscape.certify import certify
from adv_landscape.network import forward
from adv_landscape.pipeline import PGAConfig, run_census
from adv_landscape.problem import L2Ball, Problem
from tests.helpers import (
  ALL_LOSSES,
  probe_points,
  raw_certify,
  raw_pga,
  raw_run_census,
  small_instance,
)


def _pair(activation, loss, **kw):
  net, x, y, eps = small_instance(activation, loss, **kw)
  closed = Problem.two_layer(net, loss, x, y, eps=eps)
  auto = Problem.autodiff(forward, net, loss, x, y, eps=eps)
  return net, x, y, eps, closed, auto


@pytest.mark.parametrize("loss", ALL_LOSSES)
@pytest.mark.parametrize("activation", ["tanh", "gelu", "quadratic"])
def test_autodiff_objective_equals_the_closed_form(activation, loss):
  _, _, _, eps, closed, auto = _pair(activation, loss)
  v = jnp.linspace(-1.0, 1.0, 5)
  for name, dl in probe_points(5, eps).items():
    a, c = auto.objective, closed.objective
    np.testing.assert_allclose(a.value(dl), c.value(dl), rtol=1e-12, err_msg=name)
    np.testing.assert_allclose(a.grad(dl), c.grad(dl), rtol=1e-10, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(a.hess(dl), c.hess(dl), rtol=1e-10, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(a.hvp(dl, v), c.hvp(dl, v), rtol=1e-10, atol=1e-12, err_msg=name)
  D = jnp.stack(list(probe_points(5, eps).values()))
  for x_a, x_c in zip(auto.objective.value_and_grad_batch(D),
                      closed.objective.value_and_grad_batch(D)):
    np.testing.assert_allclose(x_a, x_c, rtol=1e-10, atol=1e-12)


def test_pga_and_certificates_agree_through_either_objective():
  net, x, y, eps, closed, auto = _pair("tanh", "quadratic", d=6, m=10, scale=2.0)
  kw = dict(key=jax.random.key(0), n_restarts=12, step_rule="grad0", step=0.1,
            max_steps=20_000, tol_g=1e-8, progress=False)
  rc = ascent.pga(closed, **kw)
  ra = ascent.pga(auto, **kw)
  np.testing.assert_array_equal(ra.iterations, rc.iterations)
  np.testing.assert_allclose(ra.deltas, rc.deltas, atol=1e-10)  # rounding of two routes
  old = raw_pga(net, "quadratic", x, y, eps=eps, **kw)  # the problem instances.problem builds
  np.testing.assert_array_equal(old.deltas, rc.deltas)
  tol = ascent.certificate_tolerance(rc, closed)
  ca = certify(auto, rc.deltas, tol_g=tol)
  cc = raw_certify(net, "quadratic", x, y, rc.deltas, eps=eps, tol_g=tol)
  np.testing.assert_array_equal(ca.classes, cc.classes)
  np.testing.assert_allclose(ca.lambda_tangent, cc.lambda_tangent, atol=1e-9)
  cl = certify(auto, rc.deltas, tol_g=tol, method="lanczos")  # autodiff HVPs
  np.testing.assert_array_equal(cl.classes, cc.classes)
  # Lanczos agrees with the dense eigenvalue to its own accuracy, never to a fixed atol:
  # a Ritz value with residual r lies within r of an eigenvalue (Golub and Van Loan,
  # Theorem 8.1.13), and an endpoint left in float32 (precision "mixed") carries the
  # mixed margin (lanczos.MIXED_MARGIN, scale-relative) besides. The same endpoints in
  # float64 Lanczos must agree to their residual, which fails if Lanczos settled on an
  # eigenvalue below the top one.
  from adv_landscape.lanczos import MIXED_MARGIN, lambda_tangent_lanczos
  need = np.isfinite(cc.lambda_tangent)
  obj = auto.astype(jnp.float64).objective
  u = np.finfo(np.float64).eps / 2
  dense_err = 10 * 6 * u * np.abs(cc.lambda_tangent[need]).max()  # eigvalsh, d = 6
  for precision in ("mixed", "float64"):
    lz = lambda_tangent_lanczos(obj, rc.deltas[need], eps=eps, precision=precision,
                                rtol_h=1e-7)
    bound = lz.residual + np.where(lz.refined, 0.0, MIXED_MARGIN * lz.scale) + dense_err
    assert lz.verified.all()
    assert (np.abs(lz.lambda_tangent - cc.lambda_tangent[need]) <= bound).all()
    if precision == "mixed":  # the certificate's own values, within the same bound
      assert (np.abs(cl.lambda_tangent[need] - cc.lambda_tangent[need]) <= bound).all()


def test_a_deep_network_through_the_seam():
  """Known answer: a deep linear network f(z) = a . W3 W2 W1 z with the linear loss at
  y = -1 has L = g . (x + delta), g = W1^T W2^T W3^T a: its one maximum on the ball is
  eps g / ||g||, a strict maximum (Hess_S = -mu I)."""
  k = jax.random.split(jax.random.key(3), 4)
  params = [jax.random.normal(k[0], (7, 5)) / 3, jax.random.normal(k[1], (6, 7)) / 3,
            jax.random.normal(k[2], (4, 6)) / 3, jax.random.normal(k[3], (4,))]

  def apply(p, z):
    for W in p[:-1]:
      z = W @ z
    return p[-1] @ z

  x = jnp.linspace(-1.0, 1.0, 5)
  problem = Problem.autodiff(apply, params, "linear", x, -1.0, eps=0.7)
  run = run_census(problem, key=jax.random.key(1), n_restarts=16,
                   config=PGAConfig(step_rule="grad0", step=0.1, tol_g=1e-10))
  g = params[0].T @ params[1].T @ params[2].T @ params[3]
  assert run.summary["distinct_maxima"] == 1 and run.maxima[0]["kind"] == "boundary"
  np.testing.assert_allclose(run.maxima[0]["delta"], 0.7 * g / jnp.linalg.norm(g), atol=1e-8)
  assert run.summary["certified_fraction"] == 1.0
  assert np.isnan(run.maxima[0]["proof_radius"]) and "bounds" in run.maxima[0]["proof_note"]


def test_rules_that_need_constants_say_so_for_other_models():
  problem = Problem.autodiff(lambda p, z: jnp.sum(p * z**2), jnp.ones(3), "linear",
                             jnp.ones(3), -1.0, eps=0.5)
  with pytest.raises(ValueError, match="needs the rigorous ell"):
    ascent.pga(problem, key=jax.random.key(0), n_restarts=2, step_rule="lipschitz",
               progress=False)
  res = ascent.pga(problem, key=jax.random.key(0), n_restarts=2, step_rule="lipschitz",
                   ell=2.0, progress=False)
  assert res.converged.all()
  # the curvature rule estimates ell_est from the model's own Hessians (here 2 diag(p) = 2 I)
  res = ascent.pga(problem, key=jax.random.key(0), n_restarts=2, step_rule="curvature",
                   step=1.0, progress=False)
  np.testing.assert_allclose(res.eta, 0.5, rtol=1e-12)


def test_the_constraint_owns_projection_and_starts():
  ball = L2Ball(jnp.asarray(2.0))
  D = jnp.array([[3.0, 4.0], [0.3, 0.4]])
  np.testing.assert_allclose(ball.project(D), [[1.2, 1.6], [0.3, 0.4]], rtol=1e-12)
  s = ball.sample(jax.random.key(0), "sphere", 8, 3, jnp.float64)
  np.testing.assert_allclose(jnp.linalg.norm(s, axis=1), 2.0, rtol=1e-12)
  with pytest.raises(ValueError, match="init='box'"):
    ball.sample(jax.random.key(0), "box", 2, 3, jnp.float64)


def test_run_census_refuses_relu_in_one_line():
  net, x, y, eps = small_instance("tanh", "quadratic")
  from adv_landscape.network import Network
  relu = Network(net.W, net.a, net.b, "relu")
  with pytest.raises(ValueError, match="activation='relu'"):
    raw_run_census(relu, "quadratic", x, y, eps=eps, key=jax.random.key(0), n_restarts=2)


def test_certify_problem_itself_refuses_relu():
  net, x, y, eps = small_instance("tanh", "quadratic")
  from adv_landscape.network import Network
  relu = Problem.two_layer(Network(net.W, net.a, net.b, "relu"), "quadratic", x, y, eps=eps)
  with pytest.raises(ValueError, match="activation='relu'"):
    certify(relu, np.zeros((1, x.shape[0])))


def test_each_constraint_names_its_norm_and_diameter():
  """NORM is the constraint's key in CONSTRAINTS; the diameter is the largest distance
  between two points of the set, checked at two opposite points (a planted wrong diameter,
  the l2 one for the box, is too small by sqrt(d))."""
  from adv_landscape.problem import CONSTRAINTS

  d, eps = 9, 0.7
  for norm, cls in CONSTRAINTS.items():
    con = cls(jnp.asarray(eps))
    assert con.NORM == norm
    u = jnp.ones(d) / (3.0 if norm == "2" else 1.0)  # a unit vector (l2) / the all-ones vertex
    far = float(jnp.linalg.norm(con.project(10 * eps * u[None])[0] -
                                con.project(-10 * eps * u[None])[0]))
    assert con.diameter(d) == pytest.approx(far, rel=1e-6)
  assert CONSTRAINTS["2"](jnp.asarray(eps)).diameter(d) < 0.5 * far
