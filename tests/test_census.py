"""Census: clustering, and the trust-region subproblem as a known answer."""

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize

from adv_landscape.census import census_summary, cluster_maxima, nonlinearity
from adv_landscape.network import init_network, synthetic_input
from tests.helpers import (
  raw_certificate_tolerance,
  raw_certify,
  raw_pga,
  raw_pga_chunks,
  raw_run_census,
)


def test_clusters_are_within_radius_and_representatives_are_best():
  rng = np.random.default_rng(0)
  centres = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
  pts = np.repeat(centres, 20, 0) + 1e-4 * rng.standard_normal((60, 2))
  vals = np.repeat([3.0, 2.0, 1.0], 20) + 1e-6 * rng.standard_normal(60)
  cl = cluster_maxima(pts, vals, eps=1.0, tol_c=1e-2)
  assert cl.counts.tolist() == [20, 20, 20]
  for k, rep in enumerate(cl.reps):
    members = np.flatnonzero(cl.labels == k)
    assert vals[rep] == vals[members].max()
    assert np.linalg.norm(pts[members] - pts[rep], axis=1).max() <= 1e-2


def trust_region_max(A, b, c, eps):
  """max delta^T A delta + 2 b^T delta + c over ||delta|| <= eps, by the secular equation."""
  lam, Q = np.linalg.eigh(A)
  beta = Q.T @ b
  phi = lambda t: np.sum(beta**2 / (t - lam) ** 2) - eps**2  # noqa: E731
  hi = lam[-1] + np.linalg.norm(b) / eps + 1.0
  lo = lam[-1] + 1e-12 * (1 + abs(lam[-1]))
  t = scipy.optimize.brentq(phi, lo, hi, xtol=1e-15, rtol=1e-15, maxiter=500)
  delta = Q @ (beta / (t - lam))
  return delta @ A @ delta + 2 * b @ delta + c, delta


def test_best_value_solves_the_trust_region_subproblem():
  """Quadratic activation, linear loss, y = -1: L = (x + delta)^T A (x + delta)."""
  d, m = 6, 10
  net = init_network(jax.random.key(5), d, m, activation="quadratic")
  x = synthetic_input(jax.random.key(6), d, 1.0)
  A = np.asarray(net.W.T @ (net.a[:, None] * net.W))
  assert np.linalg.eigvalsh(A)[0] < 0 < np.linalg.eigvalsh(A)[-1]  # indefinite
  eps = 0.7 * float(jnp.linalg.norm(x))
  want, delta_star = trust_region_max(A, A @ np.asarray(x), float(x @ A @ x), eps)
  res = raw_pga(net, "linear", x, -1.0, key=jax.random.key(0), eps=eps, n_restarts=256,
                   max_steps=20_000, progress=False)
  tol = raw_certificate_tolerance(res, net, "linear", x, -1.0, eps)
  cert = raw_certify(net, "linear", x, -1.0, res.deltas, eps=eps, tol_g=tol)
  cs = census_summary(res.deltas, cert, eps=eps)
  assert cs.certified_fraction == 1.0
  np.testing.assert_allclose(cs.best_value, want, rtol=1e-10)
  np.testing.assert_allclose(res.deltas[cs.reps[0]], delta_star, atol=1e-6 * eps)
  assert cs.counts.sum() == 256 and np.all(np.diff(cert.values[cs.reps]) <= 0)
  np.testing.assert_allclose(cs.p_best, cs.counts[0] / 256)


def test_nonlinearity():
  assert nonlinearity(2.0, 3.0, 4.0) == 1.5


def test_streaming_census_equals_the_batch_census_on_separated_maxima():
  from adv_landscape.census import StreamingCensus
  from tests.test_certify import circle_instance
  net, x, y, eps = circle_instance()
  kw = dict(key=jax.random.key(0), eps=eps, n_restarts=200, step_rule="grad0", step=0.05,
            max_steps=20_000, chunk=48, progress=False)
  res = raw_pga(net, "quadratic", x, y, **kw)
  cert = raw_certify(net, "quadratic", x, y, res.deltas, eps=eps,
                 tol_g=raw_certificate_tolerance(res, net, "quadratic", x, y, eps))
  batch = census_summary(res.deltas, cert, eps=eps)
  stream = StreamingCensus(eps=eps, max_steps=20_000)
  n_chunks = 0
  for part in raw_pga_chunks(net, "quadratic", x, y, **kw):
    c = raw_certify(net, "quadratic", x, y, part.deltas, eps=eps,
                tol_g=raw_certificate_tolerance(part, net, "quadratic", x, y, eps))
    stream.update(part.deltas, c, part.iterations, part.converged)
    n_chunks += 1
  assert n_chunks == 5  # 200 restarts in chunks of 48
  s = stream.summary()
  assert s["n_inits"] == 200 and s["distinct_maxima"] == batch.distinct == 3
  assert sorted(m["count"] for m in stream.maxima()) == sorted(batch.counts.tolist())
  np.testing.assert_allclose(s["best_value"], batch.best_value, rtol=1e-9)
  assert s["median_iterations"] == np.sort(res.iterations)[(200 - 1) // 2]  # lower median
  assert s["max_iterations"] == res.iterations.max()
  assert s["certified_fraction"] == batch.certified_fraction


def test_proofs_merge_a_split_maximum_and_keep_different_ones_apart():
  """Known answers: the linear objective L = 0.5 (g . (x + delta))^2 (y = 0) has exactly two
  maxima on the sphere, +-eps g/||g||; the concave planted objective exactly one (inside).
  With a loose tolerance, distance clustering splits them; proofs must merge them back to
  the true counts, and prove the two linear maxima different."""
  from adv_landscape.sweep import GridPoint, run_point
  b = dict(d=16, m=32, n_restarts=64, max_steps=4000, rtol_g=1e-4, step_rule="grad0", step=0.05)
  lin = run_point(GridPoint(s=1.0, family="linear_y0", **b))
  assert lin["distinct_maxima_by_distance"] > 2  # the split this test is about
  assert lin["distinct_maxima"] == 2 and lin["proved_distinct_maxima"] == 2
  cav = run_point(GridPoint(s=1.0, gamma=1.5, family="concave", loss="linear", init="ball", **b))
  # Its endpoints form one connected cloud, which linking (census.link_touching) keeps as
  # one maximum even before the proofs; leader clustering alone split it.
  assert cav["distinct_maxima_by_distance"] == 1
  assert cav["distinct_maxima"] == 1 and cav["maxima_kinds"] == ["interior"]


def test_census_carries_each_maximums_value_in_order():
  """Census.values[k] is L at maximum k's representative, after merging too (best first)."""
  import jax

  from adv_landscape.pipeline import PGAConfig
  from adv_landscape.sweep import FAMILIES, GridPoint

  p = GridPoint(d=8, m=32, s=4.0, n_restarts=64, max_steps=3000, rtol_g=1e-5, step_rule="grad0",
                step=0.05)
  net, loss, x, y, eps = FAMILIES[p.family](p)
  run = raw_run_census(net, loss, x, y, eps=eps, key=jax.random.key(0), n_restarts=64,
                   config=PGAConfig(step_rule="grad0", step=0.05, max_steps=3000))
  cs = run.census
  assert cs.values.shape == (cs.distinct,) and cs.distinct >= 2
  np.testing.assert_array_equal(cs.values, run.certificate.values[cs.reps])
  np.testing.assert_array_equal(cs.values, [mx["value"] for mx in run.maxima])
  assert np.all(np.diff(cs.values) <= 0)


def test_a_cloud_wider_than_tol_c_stays_one_maximum_and_a_gap_still_splits():
  """Endpoints of one maximum spread 3 tol_c eps wide (a loose tolerance): leader
  clustering alone splits them at its threshold; linked, they are one. Two such clouds
  with an empty gap of 5 tol_c eps between them stay two (the merge can fail)."""
  from adv_landscape.census import link_touching
  rng = np.random.default_rng(3)
  tol_c, eps = 1e-3, 2.0
  ang, rad = rng.uniform(0, 2 * np.pi, 400), 1.5 * tol_c * eps * np.sqrt(rng.uniform(0, 1, 400))
  cloud = np.stack([rad * np.cos(ang), rad * np.sin(ang)], axis=1)  # a disk, densely filled
  vals = -np.linalg.norm(cloud, axis=1)  # best at the centre
  cl = cluster_maxima(cloud, vals, eps=eps, tol_c=tol_c)
  assert cl.counts.size > 1  # the split the merge repairs
  linked = link_touching(cloud, vals, cl, eps=eps, tol_c=tol_c)
  assert linked.counts.tolist() == [400] and linked.reps[0] == int(np.argmax(vals))
  small = 0.3 * tol_c * eps * rng.standard_normal((100, 2)) / np.sqrt(2)
  two = np.concatenate([small, small + [8 * tol_c * eps, 0]])
  v2 = np.concatenate([-np.linalg.norm(small, axis=1), -1 - np.linalg.norm(small, axis=1)])
  linked = link_touching(two, v2, cluster_maxima(two, v2, eps=eps, tol_c=tol_c), eps=eps,
                         tol_c=tol_c)
  assert linked.counts.tolist() == [100, 100]
  assert (linked.labels[:100] == 0).all() and (linked.labels[100:] == 1).all()
