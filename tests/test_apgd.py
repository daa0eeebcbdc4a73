"""Auto-PGD (Croce and Hein 2020) as the step rule ``apgd``: its checkpoints, its halvings
and restarts against a plain transcription of the reference implementation's loop, the
best point as the endpoint, and the linear objective's maximiser on both sets."""

from fractions import Fraction
from math import ceil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from adv_landscape import ascent
from adv_landscape.ascent import apgd_checkpoints, pga
from adv_landscape.network import Network, init_network, synthetic_input
from adv_landscape.problem import Problem
from tests.helpers import small_instance

U = np.finfo(np.float64).eps


def _paper_checkpoints(n):
  """w_j = ceil(p_j n), p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06),
  in exact rationals."""
  p = [Fraction(0), Fraction(22, 100)]
  while p[-1] < 1:
    p.append(p[-1] + max(p[-1] - p[-2] - Fraction(3, 100), Fraction(6, 100)))
  return sorted({ceil(q * n) for q in p if ceil(q * n) <= n})


def _reference_windows(n):
  """The reference implementation's checkpoints: windows of int(0.22 n), shrinking by
  int(0.03 n) to int(0.06 n) (each at least 1)."""
  k, k_min, dec = max(int(0.22 * n), 1), max(int(0.06 * n), 1), max(int(0.03 * n), 1)
  out, w = [0], 0
  while w + k <= n:
    w += k
    out.append(w)
    k = max(k - dec, k_min)
  return out


def test_checkpoints_equal_the_formula():
  """Every budget 1..3000 against the exact rational formula; at budgets that are
  multiples of 100 the reference implementation's integer windows give the same
  checkpoints. The formula summed in floating point gives 58 for w_3 at n = 100 (57
  exactly), so the comparison can fail."""
  for n in range(1, 3001):
    assert apgd_checkpoints(n) == _paper_checkpoints(n), n
  for n in (100, 1000, 10_000):
    assert apgd_checkpoints(n) == _reference_windows(n), n
  assert apgd_checkpoints(100) == [0, 22, 41, 57, 70, 80, 87, 93, 99]
  p = [0.0, 0.22]
  while p[-1] < 1:
    p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
  assert [ceil(q * 100) for q in p if q <= 1] != apgd_checkpoints(100)


def test_halving_rule():
  """The checkpoint test on planted windows: 12 rises in 16 steps halves (the reference's
  <=; the paper's < would not), 13 does not; a stalled best halves only where the last
  checkpoint did not."""
  rises = np.array([12, 13, 13, 13, 4, 5])
  window = np.array([16, 16, 16, 16, 6, 6])
  reduced = np.array([True, True, False, False, True, True])
  before = np.array([0.0, 0.0, 1.0, 0.5, 0.0, 0.0])
  best = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
  got = np.asarray(ascent.apgd_halves(rises, window, reduced, before, best))
  want = [r <= 0.75 * w or (not red and b0 >= b)
          for r, w, red, b0, b in zip(rises, window, reduced, before, best)]
  assert got.tolist() == want == [True, False, True, False, True, False]


# the problem's own value, gradient and projection, compiled (called op by op, 1200 times
# a case, they were most of this file's time)
_value_and_grad = jax.jit(lambda problem, z: problem.objective.value_and_grad_batch(z))
_project = jax.jit(lambda problem, z: problem.constraint.project(z))


def _reference_apgd(problem, x0, eta0, n):
  """One restart of autopgd_base.py's ``attack_single_run`` loop (L2 / Linf), transcribed
  in NumPy with the problem's value, gradient and projection: the momentum
  x + a (z - x) + (1 - a)(x - x_old), the best point under a strict increase, and at each
  checkpoint (windows of ``_reference_windows``) the halving and restart from the best point
  when L rose at <= 0.75 of the window's steps, or when eta was not halved at the last
  checkpoint and the best did not improve. The window's first comparison is
  L(x_1) > L(x_0) (the reference compares L(x_1) with an unfilled 0 there).
  Returns the best point, its value, the final eta and the halving iterations."""
  box = problem.constraint.NORM == "inf"

  def vg(z):
    v, g = _value_and_grad(problem, jnp.asarray(z)[None])
    return float(v[0]), np.asarray(g[0])

  def proj(z):
    return np.asarray(_project(problem, jnp.asarray(z)[None])[0])

  n_iter_2, n_min, dec = max(int(0.22 * n), 1), max(int(0.06 * n), 1), max(int(0.03 * n), 1)
  x = np.array(x0, np.float64)
  f, g = vg(x)
  x_best, g_best, f_best = x.copy(), g.copy(), f
  losses = [f]  # L(x_0), L(x_1), ...
  step, x_old, k, counter = eta0, x.copy(), n_iter_2, 0
  best_last, reduced_last, halvings = f_best, True, []
  for i in range(n):
    grad2 = x - x_old
    x_old = x.copy()
    a = 0.75 if i > 0 else 1.0
    s = np.sign(g) if box else g / (np.linalg.norm(g) + 1e-300)
    x1 = proj(x + step * s)
    x = proj(x + (x1 - x) * a + grad2 * (1 - a))
    f, g = vg(x)
    losses.append(f)
    if f > f_best:
      x_best, g_best, f_best = x.copy(), g.copy(), f
    counter += 1
    if counter == k:
      t = sum(losses[i + 1 - c] > losses[i - c] for c in range(k))
      fl = t <= k * 0.75 or ((not reduced_last) and best_last >= f_best)
      reduced_last, best_last = fl, f_best
      if fl:
        step /= 2
        x, g = x_best.copy(), g_best.copy()
        halvings.append(i + 1)
      k = max(k - dec, n_min)
      counter = 0
  return x_best, f_best, step, halvings


def _concave(norm, d=6, m=10, seed=0):
  """L concave with its maximiser inside the set (quadratic activation, a_r < 0, linear
  loss, y = -1, eps = 1.5 ||z* - x||): fixed-length steps oscillate about it, so APGD
  must halve its step."""
  k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
  net = init_network(k1, d, m, activation="quadratic", dtype=jnp.float64)
  b = jax.random.normal(k3, (m,), jnp.float64)
  net = Network(net.W, -jnp.abs(net.a), b, "quadratic")
  x = synthetic_input(k2, d, 1.0, dtype=jnp.float64)
  W, A = np.asarray(net.W), np.abs(np.asarray(net.a))
  z = -np.linalg.solve(W.T @ (A[:, None] * W), W.T @ (A * np.asarray(b)))
  r = np.linalg.norm(z - np.asarray(x)) if norm == "2" else np.max(np.abs(z - np.asarray(x)))
  return Problem.two_layer(net, "linear", x, -1.0, eps=1.5 * float(r), dtype=jnp.float64,
                           norm=norm)


def _paper(norm):
  net, x, y, _ = small_instance("tanh", "quadratic", d=8, m=16, scale=1.0, seed=3)
  eps = 0.5 * float(jnp.linalg.norm(x)) / (np.sqrt(8) if norm == "inf" else 1.0)
  return Problem.two_layer(net, "quadratic", x, y, eps=eps, dtype=jnp.float64, norm=norm)


@pytest.mark.parametrize("case", ["concave-2", "concave-inf",
                                  pytest.param("paper-2", marks=pytest.mark.slow),
                                  pytest.param("paper-inf", marks=pytest.mark.slow)])
def test_apgd_follows_the_reference_loop(case):
  """Per restart, over 100 steps (the stopping test off: tol_g = 1e-300): the same halvings
  (eta_final = eta_0 2^-h exactly), the same best value (to 1e3 d u: the two loops round
  differently) and best point: to sqrt(64 u) eps, since near a maximum the late iterates'
  values tie within rounding, and points whose values differ by r lie up to
  sqrt(2 r / kappa) apart (kappa the curvature there), so which of them is "best" is
  decided by rounding. On the concave objective every
  restart halves (so the halving logic is exercised); an implementation that never
  restarts from the best point differs there (seen to fail). The equality case of the
  count (<= against the paper's <) is never met here: ``test_halving_rule``."""
  family, norm = case.split("-")
  with jax.enable_x64(True):
    problem = _concave(norm) if family == "concave" else _paper(norm)
    eps = float(problem.constraint.eps)
    res = pga(problem, key=jax.random.key(5), n_restarts=6, init="ball" if norm == "2"
              else "box", step_rule="apgd", step=2.0, max_steps=100, tol_g=1e-300,
              progress=False)
    starts = np.asarray(ascent.initial_deltas(problem, jax.random.fold_in(
        jax.random.key(5), 0), "ball" if norm == "2" else "box", 6))
    total = 0
    for i in range(6):
      xb, fb, eta, halvings = _reference_apgd(problem, starts[i], 2.0 * eps, 100)
      total += len(halvings)
      if not res.converged[i]:  # a restart stopped at an exact KKT point keeps its eta
        assert res.eta[i] == eta, (i, res.eta[i], eta, halvings)
      assert np.linalg.norm(res.deltas[i] - xb) <= np.sqrt(64 * U) * eps, i
      assert res.values[i] == pytest.approx(fb, rel=1e3 * 8 * U, abs=1e3 * 8 * U)
    if family == "concave":
      assert total >= 6 * 3


@pytest.mark.parametrize("norm", ["2", "inf"])
def test_apgd_ends_at_its_best_point(norm):
  """With the value history (every step run), each restart's endpoint has the largest
  value it visited (to rounding): the best point, not the last iterate."""
  with jax.enable_x64(True):
    problem = _concave(norm, seed=1)
    res = pga(problem, key=jax.random.key(2), n_restarts=8, init="ball" if norm == "2"
              else "box", step_rule="apgd", step=2.0, max_steps=150, tol_g=1e-300,
              history=True, progress=False)
    top = res.history.max(axis=0)
    assert np.all(res.values >= top - 16 * U * np.abs(top))
    # the last iterate is not the best on most restarts: the check can fail
    assert np.sum(res.history[-1] < top - 1e-9 * np.abs(top)) >= 1


@pytest.mark.parametrize("norm", ["2", "inf"])
def test_apgd_reaches_the_linear_objectives_maximiser(norm):
  """L = <g, delta> + c: the maximiser is eps g / ||g|| on the ball and eps sign(g) on the
  box; every restart stops there (converged) within half its budget of 200 steps. On the
  box exactly (to rounding); on the ball to what the stopping rule allows: the tangential
  gradient ||g|| sin(theta) <= 3 tol_g there (||G|| is it times eps / ||delta + eta g / ||g|| ||
  >= 1/3 with eta <= 2 eps), so the distance eps theta <= 3 eps tol_g / ||g|| to first order."""
  with jax.enable_x64(True):
    net, x, _, eps = small_instance("linear", "linear", d=6, m=4)
    p = Problem.two_layer(net, "linear", x, -1.0, eps=eps, dtype=jnp.float64, norm=norm)
    g = np.asarray(p.objective.grad(jnp.zeros(6)))
    eps = float(p.constraint.eps)
    best = eps * (g / np.linalg.norm(g) if norm == "2" else np.sign(g))
    res = pga(p, key=jax.random.key(0), n_restarts=16, init="ball" if norm == "2"
              else "box", step_rule="apgd", step=None, max_steps=200, tol_g=1e-9,
              progress=False)
    assert res.converged.all() and res.iterations.max() <= 100
    gap = 3 * 1.01 * eps * 1e-9 / np.linalg.norm(g) if norm == "2" else 0.0
    assert np.max(np.linalg.norm(res.deltas - best, axis=1)) <= gap + 64 * U * eps


def test_census_with_apgd_certifies_on_the_ball():
  """Through the census: the paper's instance on the l2 ball, every endpoint certified with
  the tolerance of a fixed-length step (eta / ||g||)."""
  import adv_landscape as al

  with jax.enable_x64(True):
    net, x, y, _ = small_instance("tanh", "quadratic", d=8, m=16, scale=1.0, seed=3)
    r = al.census(net, "quadratic", x, y, gamma=0.5, n_restarts=32, step_rule="apgd")
    assert r.summary["converged_fraction"] == 1.0
    assert r.summary["certified_fraction"] == 1.0
