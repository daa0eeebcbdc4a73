"""Time to a certified census (issue 5, item 3): N restarts at (d, m) from the network
to certified endpoints and distinct maxima.

suite: ``ascent.pga`` in float32 with per-restart early stopping, in chunks of
``--chunk`` restarts (a chunk stops when its slowest restart converges), then
certificates (``certify``, Lanczos above d = 256) and the census.
torch: eager batched PGA from the same starts for the fixed number of steps that
the slowest restart needed, then the same certificates and census.

Run:  python -m benchmarks.census_time --json benchmarks/results/census_time.json
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from adv_landscape import ascent, io
from adv_landscape.census import census_summary
from adv_landscape.certify import certify
from adv_landscape.network import Network
from adv_landscape.pipeline import PGAConfig, Tolerances, run_census
from benchmarks.pga import instance, torch_eager


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--d", type=int, default=784)
  p.add_argument("--m", type=int, default=1024)
  p.add_argument("--n", type=int, default=4096)
  p.add_argument("--chunk", type=int, default=512)
  p.add_argument("--json")
  args = p.parse_args(argv)
  inst = instance(args.d, args.m, args.n)
  net = Network(jnp.asarray(inst["W"]), jnp.asarray(inst["a"]),
                jnp.zeros(args.m, jnp.float32), "tanh")
  x = jnp.asarray(inst["x"])
  eps, y = inst["eps"], inst["y"]
  tol_g = ascent.default_tol_g(net, "quadratic", x, y)

  def certified_census(deltas):  # for torch's endpoints: no PGA result to read a rule from
    cert = certify(net, "quadratic", x, y, deltas, eps=eps, tol_g=2 * tol_g * 1.1, tol_b=1e-5)
    return cert, census_summary(deltas, cert, eps=eps)

  # Warm-up: compile on a small batch so neither side pays compilation below.
  ascent.pga(net, "quadratic", x, y, key=jax.random.key(0), eps=eps, n_restarts=args.chunk,
             chunk=args.chunk, step_rule="normalized", step=0.05, max_steps=5, tol_g=tol_g,
             progress=False)
  t0 = time.perf_counter()
  # The suite's own pipeline; proofs are left out so the timing is of the certified
  # census alone, as the torch side computes.
  run = run_census(net, "quadratic", x, y, eps=eps, key=jax.random.key(1), n_restarts=args.n,
                   config=PGAConfig(step_rule="normalized", step=0.05, max_steps=20_000,
                                    tol_g=tol_g, chunk=args.chunk), prove=False,
                   tolerances=Tolerances.for_dtype(np.float32))
  t_suite = time.perf_counter() - t0
  res, cert, cs, t_pga = run.result, run.certificate, run.census, run.summary["seconds_pga"]
  steps = int(res.iterations.max()) + 1
  starts = np.concatenate([np.asarray(ascent.initial_deltas(
      jax.random.fold_in(jax.random.key(1), i), "sphere", args.chunk, net, None, x, y, eps))
      for i in range(-(-args.n // args.chunk))])[:args.n]
  tinst = dict(inst, delta0=starts.astype(np.float32))
  run = torch_eager(tinst, steps)
  t0 = time.perf_counter()
  tdeltas = run()
  t_tpga = time.perf_counter() - t0
  tcert, tcs = certified_census(tdeltas)
  t_torch = time.perf_counter() - t0
  out = {"d": args.d, "m": args.m, "n": args.n, "chunk": args.chunk, "steps_torch": steps,
         "suite": {"seconds": t_suite, "seconds_pga": t_pga, "median_iterations":
                   float(np.median(res.iterations)), "converged": float(res.converged.mean()),
                   "certified_fraction": cs.certified_fraction, "distinct": cs.distinct,
                   "certificate_method": cert.method},
         "torch": {"seconds": t_torch, "seconds_pga": t_tpga,
                   "certified_fraction": tcs.certified_fraction, "distinct": tcs.distinct},
         "ratio_torch_over_suite": t_torch / t_suite, "versions": io.versions()}
  print(f"suite: {t_suite:.1f} s (PGA {t_pga:.1f} s, median {np.median(res.iterations):.0f} "
        f"iterations, certified {cs.certified_fraction:.1%}, {cs.distinct} maxima); torch "
        f"{steps} fixed steps: {t_torch:.1f} s (PGA {t_tpga:.1f} s, certified "
        f"{tcs.certified_fraction:.1%}, {tcs.distinct} maxima); torch/suite "
        f"{t_torch / t_suite:.2f}")
  if args.json:
    io.write_json_atomic(args.json, out)
  return out


if __name__ == "__main__":
  main()
