"""Certificate costs (issues 5 and 12): block Lanczos against dense eigvalsh for lambda_T,
the batched rate against one endpoint at a time, and the closed-form Hessian against
jax.hessian. All in one process.

lambda_T at PGA endpoints (float32 PGA, normalized steps, as a census runs it):
dense: ``certify(method="shift")``, the float64 Hessian and LAPACK's eigvalsh.
batched: ``lambda_tangent_lanczos(precision="mixed")``, the certificates'
own call (blocks of 256 endpoints on a CPU, float32 refined in float64 near zero).
single: the same call with block=1, one endpoint after the other.

Run:  python -m benchmarks.certify --json benchmarks/results/certify.json   (about 6 min)
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from adv_landscape import ascent, instances, io, objective
from adv_landscape.certify import certify
from adv_landscape.lanczos import lambda_tangent_lanczos
from adv_landscape.network import init_network, synthetic_input
from adv_landscape.problem import Problem
from benchmarks.common import median_time


def endpoints(d, m, n, seed=0):
  net = init_network(jax.random.key(seed), d, m)
  x = synthetic_input(jax.random.key(seed + 1), d, 1.0)
  eps = 0.5 * float(jnp.linalg.norm(x))
  res = ascent.pga(instances.problem(net, "quadratic", x, 0.0, eps=eps),
                   key=jax.random.key(seed + 2), n_restarts=n, step_rule="normalized",
                   step=0.05, max_steps=3000,
                   progress=False)
  return net, x, eps, res.deltas


def lanczos_vs_dense(d, m, n, n_dense, n_single):
  net, x, eps, deltas = endpoints(d, m, n)
  with jax.enable_x64(True):
    obj = Problem.two_layer(net, "quadratic", x, 0.0, eps=eps, dtype=jnp.float64).objective

    def batched(D, block=None):
      return lambda_tangent_lanczos(obj, D, eps=eps, precision="mixed", rtol_h=1e-7,
                                    block=block)
    batched(deltas[:8])  # compile
    t0 = time.perf_counter()
    lz = batched(deltas)
    t_batch = time.perf_counter() - t0
    batched(deltas[:1], block=1)  # compile the one-row block
    t0 = time.perf_counter()
    one = [batched(deltas[i:i + 1], block=1) for i in range(n_single)]
    t_single = time.perf_counter() - t0
  t0 = time.perf_counter()
  with jax.enable_x64(True):
    dense = certify(instances.problem(net, "quadratic", x, 0.0, eps=eps, dtype=jnp.float64),
                    deltas[:n_dense], method="shift", tol_g=np.inf)  # every endpoint: lambda_T
  t_dense = time.perf_counter() - t0
  diff = np.abs(dense.lambda_tangent - lz.lambda_tangent[:n_dense])
  single_diff = np.abs(np.array([o.lambda_tangent[0] for o in one]) - lz.lambda_tangent[:n_single])
  return {"d": d, "m": m, "endpoints": n, "dense_endpoints": n_dense,
          "single_endpoints": n_single, "max_abs_diff_dense": float(diff.max()),
          "max_rel_diff_dense": float((diff / lz.scale[:n_dense]).max()),
          "max_abs_diff_single": float(single_diff.max()),
          "krylov_median": float(np.median(lz.steps)), "krylov_max": int(lz.steps.max()),
          "refined": int(lz.refined.sum()), "verified": bool(lz.verified.all()),
          "rate_batched": n / t_batch, "rate_single": n_single / t_single,
          "rate_dense": n_dense / t_dense,
          "batched_over_single": (n / t_batch) / (n_single / t_single),
          "batched_over_dense": (n / t_batch) / (n_dense / t_dense)}


def hessian_speed(d, m, reps):
  net, x, eps, deltas = endpoints(d, m, 4)
  with jax.enable_x64(True):
    net, x = net.astype(jnp.float64), jnp.asarray(x, jnp.float64)
    dl = jnp.asarray(deltas[0], jnp.float64)
    closed = jax.jit(lambda z: objective.hess(net, "quadratic", x, 0.0, z))
    auto = jax.jit(jax.hessian(lambda z: objective.value(net, "quadratic", x, 0.0, z)))
    err = float(jnp.max(jnp.abs(closed(dl) - auto(dl))))
    tc = median_time(lambda: closed(dl).block_until_ready(), reps)[0]
    ta = median_time(lambda: auto(dl).block_until_ready(), reps)[0]
  return {"d": d, "m": m, "max_abs_diff": err, "seconds_closed_form": tc,
          "seconds_jax_hessian": ta, "speedup": ta / tc}


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--json")
  p.add_argument("--sizes", default="784:1024:256:16:16,3072:1024:256:4:8",
                 help="d:m:endpoints:dense endpoints:single endpoints,...")
  args = p.parse_args(argv)
  rows = [lanczos_vs_dense(*map(int, s.split(":"))) for s in args.sizes.split(",")]
  for r in rows:
    print(f"d={r['d']}: batched {r['rate_batched']:.1f}/s, single {r['rate_single']:.2f}/s "
          f"({r['batched_over_single']:.1f}x), dense {r['rate_dense']:.2f}/s "
          f"({r['batched_over_dense']:.0f}x); |Lanczos - dense| <= {r['max_abs_diff_dense']:.1e}, "
          f"Krylov median {r['krylov_median']:.0f}, refined {r['refined']}")
  h = hessian_speed(784, 1024, 5)
  print(f"Hessian d=784 m=1024: closed form {h['seconds_closed_form'] * 1e3:.1f} ms, jax.hessian "
        f"{h['seconds_jax_hessian'] * 1e3:.1f} ms ({h['speedup']:.1f}x), diff {h['max_abs_diff']:.1e}")
  out = {"lanczos_vs_dense": rows, "hessian": h, "versions": io.versions(),
         "date": time.strftime("%Y-%m-%d")}
  if args.json:
    io.write_json_atomic(args.json, out)
  return out


if __name__ == "__main__":
  main()
