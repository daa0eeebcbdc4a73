"""Certificate costs (issue 5, item 4): Lanczos vs dense eigvalsh for lambda_T, and
the closed-form Hessian vs jax.hessian. float64, all in one process.

Run:  python -m benchmarks.certify --json benchmarks/results/certify.json   (about 3 min)
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from adv_landscape import ascent, io, objective
from adv_landscape.certify import certify, lambda_tangent_lanczos
from adv_landscape.network import init_network, synthetic_input
from benchmarks.common import median_time


def _median_time(fn, reps):
  return median_time(fn, reps)[0]


def endpoints(d, m, n, seed=0):
  net = init_network(jax.random.key(seed), d, m, dtype=jnp.float64)
  x = synthetic_input(jax.random.key(seed + 1), d, 1.0, dtype=jnp.float64)
  eps = 0.5 * float(jnp.linalg.norm(x))
  res = ascent.pga(net, "quadratic", x, 0.0, key=jax.random.key(seed + 2), eps=eps,
                   n_restarts=n, step_rule="normalized", step=0.05, max_steps=2000,
                   progress=False)
  return net, x, eps, res.deltas


def lanczos_vs_dense(d, m, n, reps):
  net, x, eps, deltas = endpoints(d, m, n)
  dense = certify(net, "quadratic", x, 0.0, deltas, eps=eps, method="shift")
  lz = lambda_tangent_lanczos(net, "quadratic", x, 0.0, deltas, eps=eps)
  t_dense = _median_time(lambda: certify(net, "quadratic", x, 0.0, deltas, eps=eps,
                                         method="shift"), reps)
  t_lz = _median_time(lambda: lambda_tangent_lanczos(net, "quadratic", x, 0.0, deltas,
                                                     eps=eps), reps)
  return {"d": d, "m": m, "endpoints": n,
          "max_abs_diff": float(np.max(np.abs(dense.lambda_tangent - lz.lambda_tangent))),
          "max_residual": float(lz.residual.max()), "krylov_dim": lz.krylov_dim,
          "seconds_dense": t_dense, "seconds_lanczos": t_lz, "speedup": t_dense / t_lz}


def hessian_speed(d, m, reps):
  net, x, eps, deltas = endpoints(d, m, 4)
  dl = jnp.asarray(deltas[0])
  closed = jax.jit(lambda z: objective.hess(net, "quadratic", x, 0.0, z))
  auto = jax.jit(jax.hessian(lambda z: objective.value(net, "quadratic", x, 0.0, z)))
  err = float(jnp.max(jnp.abs(closed(dl) - auto(dl))))
  tc = _median_time(lambda: closed(dl).block_until_ready(), reps)
  ta = _median_time(lambda: auto(dl).block_until_ready(), reps)
  return {"d": d, "m": m, "max_abs_diff": err, "seconds_closed_form": tc,
          "seconds_jax_hessian": ta, "speedup": ta / tc}


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--json")
  p.add_argument("--reps", type=int, default=3)
  p.add_argument("--sizes", default="784:1024:16,3072:1024:4", help="d:m:endpoints,...")
  args = p.parse_args(argv)
  jax.config.update("jax_enable_x64", True)
  rows = [lanczos_vs_dense(*map(int, s.split(":")), args.reps) for s in args.sizes.split(",")]
  for r in rows:
    print(f"lambda_T d={r['d']}: dense {r['seconds_dense']:.2f}s, Lanczos "
          f"{r['seconds_lanczos']:.2f}s ({r['speedup']:.1f}x), max diff {r['max_abs_diff']:.1e}, "
          f"Krylov {r['krylov_dim']}")
  h = hessian_speed(784, 1024, max(args.reps, 5))
  print(f"Hessian d=784 m=1024: closed form {h['seconds_closed_form'] * 1e3:.1f} ms, jax.hessian "
        f"{h['seconds_jax_hessian'] * 1e3:.1f} ms ({h['speedup']:.1f}x), diff {h['max_abs_diff']:.1e}")
  out = {"lanczos_vs_dense": rows, "hessian": h, "versions": io.versions(),
         "date": time.strftime("%Y-%m-%d")}
  if args.json:
    io.write_json_atomic(args.json, out)
  return out


if __name__ == "__main__":
  main()
