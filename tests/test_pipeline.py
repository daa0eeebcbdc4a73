"""The one pipeline equals the steps wired by hand; the config travels with the result."""

import jax
import numpy as np

from adv_landscape.census import census_summary, cluster_maxima
from adv_landscape.certify import certify
from adv_landscape.config import PGAConfig, Tolerances
from tests.helpers import (
  raw_certificate_tolerance,
  raw_certify,
  raw_pga,
  raw_run_census,
  small_instance,
)


def test_run_census_equals_the_steps_by_hand():
  net, x, y, eps = small_instance("tanh", "quadratic", d=5, m=9, scale=3.0)
  cfg = PGAConfig(step_rule="normalized", step=0.05, max_steps=5000, tol_g=1e-7)
  run = raw_run_census(net, "quadratic", x, y, eps=eps, key=jax.random.key(4), n_restarts=32,
                   config=cfg, prove=False)
  res = raw_pga(net, "quadratic", x, y, key=jax.random.key(4), eps=eps, n_restarts=32,
                   step_rule="normalized", step=0.05, max_steps=5000, tol_g=1e-7,
                   progress=False)
  assert run.result.config.step_rule == "normalized" and run.config == run.result.config
  np.testing.assert_array_equal(run.result.deltas, res.deltas)
  # The rule is read from the result: no need to say normalized=True again.
  tol = raw_certificate_tolerance(res, net, "quadratic", x, y, eps)
  np.testing.assert_array_equal(
      tol, raw_certificate_tolerance(res, net, "quadratic", x, y, eps, normalized=True))
  assert not np.array_equal(
      tol, raw_certificate_tolerance(res, net, "quadratic", x, y, eps, normalized=False))
  cert = raw_certify(net, "quadratic", x, y, res.deltas, eps=eps, tol_g=tol)
  cs = census_summary(res.deltas, cert, eps=eps)
  np.testing.assert_array_equal(run.certificate.classes, cert.classes)
  assert run.summary["distinct_maxima"] == cs.distinct
  assert [m["count"] for m in run.maxima] == cs.counts.tolist()
  assert run.tolerances == Tolerances.for_dtype(np.asarray(x).dtype)


def test_streamed_pipeline_agrees_with_the_batch_one():
  net, x, y, eps = small_instance("tanh", "quadratic", d=5, m=9, scale=3.0)
  cfg = PGAConfig(step_rule="grad0", step=0.1, max_steps=5000, tol_g=1e-7, chunk=8)
  kw = dict(eps=eps, key=jax.random.key(5), n_restarts=32, config=cfg, prove=False)
  batch = raw_run_census(net, "quadratic", x, y, **kw)
  stream = raw_run_census(net, "quadratic", x, y, stream=True, **kw)
  assert stream.result is None and stream.iteration_histogram.sum() == 32
  assert stream.summary["distinct_maxima"] == batch.summary["distinct_maxima"]
  assert stream.summary["class_counts"] == batch.summary["class_counts"]
  np.testing.assert_allclose([m["value"] for m in stream.maxima],
                             [m["value"] for m in batch.maxima], rtol=1e-9)


def test_one_clustering_rule_joins_the_nearest_representative():
  # Point 2 is within reach of both representatives; it joins the nearer one (1), not the
  # better one (0), in the batch census as in the streamed one.
  d = np.array([[1.0, 0.0], [0.0, 1.0], [0.3, 0.75]])
  cl = cluster_maxima(d, np.array([3.0, 2.0, 1.0]), eps=1.0, tol_c=1.1)  # 2 is 1.03 from 0
  assert cl.labels.tolist() == [0, 1, 1]


def test_certified_by_proof_only_inside_the_concave_balls():
  """Endpoints inside a proved maximum's concave ball inherit lambda_T <= -kappa (a true
  upper bound: the dense eigenvalue lies below it) and the dense class; streamed chunks
  inherit from balls proved in earlier chunks; the classes equal a run without proofs."""
  from adv_landscape.problem import Problem
  net, x, y, eps = small_instance("tanh", "quadratic", d=5, m=9, scale=3.0)
  cfg = PGAConfig(step_rule="grad0", step=0.1, max_steps=5000, tol_g=1e-9, chunk=16)
  kw = dict(eps=eps, key=jax.random.key(5), n_restarts=48, config=cfg)
  run = raw_run_census(net, "quadratic", x, y, **kw)
  plain = raw_run_census(net, "quadratic", x, y, prove=False, **kw)
  got = run.certificate
  assert run.summary["certified_by_proof"] == int(got.inherited.sum()) >= 24
  np.testing.assert_array_equal(got.classes, plain.certificate.classes)
  inh = got.inherited
  assert (got.lambda_bound[inh] >= plain.certificate.lambda_tangent[inh]).all()
  # the bound lives in its own field: where inherited no eigenvalue is reported, and every
  # endpoint says which certified it
  assert np.isnan(got.lambda_tangent[inh]).all() and np.isnan(got.lambda_bound[~inh]).all()
  assert (got.certified_by[inh] == "proof").all()
  assert (got.certified_by[~inh] == "eigenvalue").all()
  for mx in run.maxima:  # a maximum reports the eigenvalue or the bound, never one as the other
    assert np.isfinite(mx["lambda_tangent"]) != np.isfinite(mx["lambda_tangent_bound"])
    assert mx["certified_by"] == ("proof" if np.isfinite(mx["lambda_tangent_bound"])
                                  else "eigenvalue")
  stream = raw_run_census(net, "quadratic", x, y, stream=True, **kw)
  assert stream.summary["certified_by_proof"] >= 24
  assert stream.summary["endpoints_with_radius"] == stream.summary["certified_by_proof"]
  assert sum(m["endpoints_with_radius"] for m in stream.maxima) == \
      stream.summary["certified_by_proof"]
  assert 0 < stream.summary["endpoint_radius_max"] < 1e-3 * eps
  assert stream.summary["class_counts"] == plain.summary["class_counts"]
  # The argument is the ball, not proximity: the same endpoints with each ball shrunk
  # below their distance to its centre are all certified on their own.
  from adv_landscape.certify import ConcaveBall
  problem = Problem.two_layer(net, "quadratic", x, y, eps=eps)
  tol = run.result.tol_g * 2.0 * np.ones(48)
  pr = [p for p in run.proofs if np.isfinite(p.radius)][0]
  dist = np.linalg.norm(run.result.deltas * eps / np.linalg.norm(
      run.result.deltas, axis=1, keepdims=True) - pr.centre, axis=1)
  for radius, want in ((pr.unique_ball, True), (0.5 * dist.min(), False)):
    ball = ConcaveBall(pr.centre, radius, pr.unique_kappa, pr.unique_ell)
    cert = certify(problem, run.result.deltas, tol_g=tol, covered=[ball])
    assert cert.inherited.any() == want


def test_endpoint_radii_hold_the_maximiser_and_are_nearly_tight():
  """An endpoint that inherits from a proof's concave ball gets ||rgrad L(p)|| / kappa
  + ||delta - p|| (plus rounding margins) as its radius: the maximiser (polished by
  Newton in float64 to a radius of 1e-12, its rounding margin) lies within it, and 0.99 of it misses some endpoint, so the comparison can
  fail and the bound is within 1% of the truth somewhere."""
  from adv_landscape.proof import prove_maximum
  net, x, y, eps = small_instance("tanh", "quadratic", d=5, m=9, scale=3.0)
  cfg = PGAConfig(step_rule="grad0", step=0.1, max_steps=5000, tol_g=1e-9, chunk=16)
  run = raw_run_census(net, "quadratic", x, y, eps=eps, key=jax.random.key(5), n_restarts=48,
                   config=cfg)
  cert, deltas = run.certificate, run.result.deltas
  has = np.isfinite(cert.proof_radius)
  np.testing.assert_array_equal(has, cert.inherited)
  assert run.summary["endpoints_with_radius"] == int(has.sum()) >= 24
  assert run.summary["endpoint_radius_max"] == cert.proof_radius[has].max()
  assert sum(m["endpoints_with_radius"] for m in run.maxima) == int(has.sum())
  missed = 0
  for n, pr in enumerate(run.proofs):
    if not np.isfinite(pr.radius):
      continue
    star = prove_maximum(net, "quadratic", x, y, pr.centre, eps=eps, polish=20)
    mine = has & (run.census.labels == n)
    # The maximiser, to that distance: the polish leaves only the radius's own rounding
    # margin (about E_g / kappa, 1e-12 here), far below the endpoints' radii.
    assert star.radius < 1e-2 * cert.proof_radius[mine].min()
    dist = np.linalg.norm(deltas[mine] - star.centre, axis=1)
    assert (dist <= cert.proof_radius[mine] + star.radius).all()
    missed += int((dist > 0.99 * cert.proof_radius[mine] + star.radius).sum())
  assert missed > 0
