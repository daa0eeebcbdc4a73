"""Shared test problems, as plain data."""

import jax
import jax.numpy as jnp
import numpy as np

from adv_landscape.network import Network, init_network, synthetic_input

SMOOTH_ACTIVATIONS = ("tanh", "sigmoid", "softplus", "gelu", "swish", "quadratic", "linear")
SCALAR_LOSSES = ("quadratic", "logistic", "exponential", "huber", "linear")
ALL_LOSSES = SCALAR_LOSSES + ("softmax_ce",)
K = 3  # outputs of the multi-output head


def small_instance(activation="tanh", loss="quadratic", *, d=5, m=7, scale=0.8, seed=0,
                   bias=True):
  """A small network with nonzero biases, an input, a label and a radius."""
  k1, k2 = jax.random.split(jax.random.key(seed))
  multi = loss == "softmax_ce"
  net = init_network(k1, d, m, activation=activation, n_outputs=K if multi else None)
  if bias:
    net = Network(net.W, net.a, 0.1 * jnp.linspace(-1.0, 1.0, m), activation)
  x = synthetic_input(k2, d, scale)
  y = 1 if multi else (0.3 if loss in ("quadratic", "huber") else 1.0)
  eps = 0.5 * float(jnp.linalg.norm(x))
  return net, x, y, eps


def set_points(key, n, d, eps, norm):
  """n points of the set (float64): half uniform inside, half on its boundary (uniform on
  the sphere, or vertices of the box)."""
  k1, k2, k3 = jax.random.split(key, 3)
  if norm == "inf":
    inside = jax.random.uniform(k1, (n // 2, d), jnp.float64, -eps, eps)
    vert = eps * jax.random.rademacher(k2, (n - n // 2, d), jnp.float64)
    return jnp.concatenate([inside, vert])
  g = jax.random.normal(k1, (n, d), jnp.float64)
  g = g / jnp.linalg.norm(g, axis=1, keepdims=True)
  r = jnp.where(jnp.arange(n) < n // 2, eps * jax.random.uniform(k3, (n,)) ** (1.0 / d), eps)
  return g * r[:, None]


def probe_points(d, eps):
  """Perturbations inside, on and outside the ball (deterministic)."""
  base = jnp.linspace(-1.0, 1.0, d) + 0.3
  u = base / jnp.linalg.norm(base)
  return {"zero": jnp.zeros(d), "inside": 0.3 * eps * u, "on": eps * u,
          "outside": 1.7 * eps * u}


# The algorithms take a Problem (``instances.problem`` builds one from a network, its input
# and the set); the tests' instances are arrays, so these spell each call with its problem.
def raw_problem(net, loss, x, y, eps, norm="2"):
  from adv_landscape.instances import problem
  return problem(net, loss, x, y, eps=eps, norm=norm)


def raw_pga(net, loss, x, y, *, eps, norm="2", **kw):
  from adv_landscape import ascent
  return ascent.pga(raw_problem(net, loss, x, y, eps, norm), **kw)


def raw_pga_chunks(net, loss, x, y, *, eps, norm="2", **kw):
  from adv_landscape import ascent
  return ascent.pga_chunks(raw_problem(net, loss, x, y, eps, norm), **kw)


def raw_certificate_tolerance(res, net, loss, x, y, eps, **kw):
  from adv_landscape import ascent
  return ascent.certificate_tolerance(res, raw_problem(net, loss, x, y, eps), **kw)


def raw_initial_deltas(key, init, n, net, loss, x, y, eps, *, norm="2"):
  from adv_landscape import ascent
  return ascent.initial_deltas(raw_problem(net, loss, x, y, eps, norm), key, init, n)


def raw_run_pga(net, loss, x, y, eps, delta0, eta, tol_g, max_steps, **kw):
  from adv_landscape import ascent
  return ascent.run_pga(raw_problem(net, loss, x, y, eps), delta0, eta, tol_g, max_steps, **kw)


def raw_run_census(net, loss, x, y, *, eps, norm="2", **kw):
  from adv_landscape.pipeline import run_census
  return run_census(raw_problem(net, loss, x, y, eps, norm), **kw)


def raw_certify(net, loss, x, y, deltas, *, eps, **kw):
  import jax.numpy as jnp

  from adv_landscape.certify import certify
  from adv_landscape.instances import problem
  with jax.enable_x64(True):
    return certify(problem(net, loss, x, y, eps=eps, dtype=jnp.float64), deltas, **kw)


def raw_sampled_constants(net, loss, x, y, eps, *, norm="2", **kw):
  from adv_landscape.bounds import sampled_constants
  return sampled_constants(raw_problem(net, loss, x, y, eps, norm), **kw)


def quadratic_net(d, m, seed, *, convex):
  """f(z) = sum_r a_r (w_r . z + b_r)^2, a quadratic in z: f(x + delta) = delta^T A delta +
  g . delta + c with A = W^T diag(a) W, g = 2 W^T diag(a) (W x + b)."""
  rng = np.random.default_rng(seed)
  W, b = rng.standard_normal((m, d)), rng.standard_normal(m)
  a = np.abs(rng.standard_normal(m)) if convex else rng.standard_normal(m)
  x = rng.standard_normal(d)
  net = Network(jnp.asarray(W), jnp.asarray(a), jnp.asarray(b), "quadratic")
  A = W.T @ (a[:, None] * W)
  h = W @ x + b
  return net, jnp.asarray(x), A, 2 * W.T @ (a * h), float(a @ h ** 2)


def trust_region_max(A, g, c, eps):
  """max of delta^T A delta + g . delta + c over ||delta|| <= eps, the trust-region problem's
  global solution: delta = (mu I - A)^-1 g / 2 with mu >= max(lambda_max(A), 0), ||delta||
  = eps unless mu = 0 fits inside (bisection on mu; the hard case has probability 0 here)."""
  lam, Q = np.linalg.eigh(A)
  gq = Q.T @ g

  def norm(mu):
    return np.linalg.norm(gq / (2 * (mu - lam)))

  lo = max(lam[-1], 0.0)
  if lam[-1] < 0 and norm(0.0) <= eps:  # concave and the free maximiser inside
    delta = Q @ (gq / (2 * (0.0 - lam)))
  else:
    lo, hi = lo + 1e-15, lo + 1.0
    while norm(hi) > eps:
      hi = lo + 2 * (hi - lo)
    for _ in range(200):
      mid = (lo + hi) / 2
      lo, hi = (mid, hi) if norm(mid) > eps else (lo, mid)
    delta = Q @ (gq / (2 * (hi - lam)))
  return float(delta @ A @ delta + g @ delta + c)
