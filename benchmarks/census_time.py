"""Time to a certified census against the code a user writes without the suite (issue 12).

N restarts at (d, m) from the network to certified endpoints and distinct maxima.

suite: ``pipeline.run_census`` (PGA in float32 with per-restart early stopping, in chunks;
certificates by block Lanczos in float32 refined in float64 near the threshold; the
census), without proofs (the user's code has none), and again with them.
user: what one writes with torch alone: eager batched PGA from the same starts for the
number of steps the slowest restart needed; then in float64, per endpoint, the Hessian by
``torch.func.hessian``, vmapped over blocks of endpoints (the faster of the variants
tried: blocks of 32, against one endpoint at a time), the tangent projection with the
multiplier term, ``torch.linalg.eigvalsh``; the maxima clustered greedily (tol_c eps).
Both must find the same distinct maxima (count and values to 1e-5 relative).

Run:  python -m benchmarks.census_time --n 256 --json benchmarks/results/census_time_256.json
      (about 3 minutes at N = 256 on 2 CPU cores; N = 4096 ran over 40 minutes, unfinished)
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from adv_landscape import ascent, instances, io
from adv_landscape.network import Network
from adv_landscape.pipeline import PGAConfig, Tolerances, run_census
from benchmarks.pga import instance, torch_eager


def torch_user(inst, starts, steps, tol_g, *, block=32, tol_c=1e-3):
  """The user's certified census with torch: PGA, Hessians, eigvalsh, clustering."""
  import torch
  from torch.func import grad, hessian, vmap

  t0 = time.perf_counter()
  deltas = torch_eager(dict(inst, delta0=starts), steps)()
  t_pga = time.perf_counter() - t0
  W, a, x = (torch.from_numpy(np.asarray(inst[k], np.float64)) for k in ("W", "a", "x"))
  y, eps = float(inst["y"]), float(inst["eps"])

  def loss(d):
    f = torch.tanh((x + d) @ W.T) @ a
    return 0.5 * (f - y) ** 2

  g_fn, h_fn = vmap(grad(loss)), vmap(hessian(loss))
  D = torch.from_numpy(np.asarray(deltas, np.float64))
  lam, rg, mu, vals = [], [], [], []
  eye = torch.eye(D.shape[1], dtype=torch.float64)
  for i in range(0, D.shape[0], block):
    b = D[i:i + block]
    g, H = g_fn(b), h_fn(b)
    u = b / b.norm(dim=1, keepdim=True)
    m = (b * g).sum(1) / eps**2
    P = eye - u[:, :, None] * u[:, None, :]
    C = (torch.linalg.matrix_norm(H) + m.abs() + 1.0)[:, None, None]
    M = P @ (H - m[:, None, None] * eye) @ P - C * u[:, :, None] * u[:, None, :]
    lam.append(torch.linalg.eigvalsh(M)[:, -1])
    rg.append((g - (u * g).sum(1, keepdim=True) * u).norm(dim=1))
    mu.append(m)
    vals.append(torch.vmap(loss)(b))
  lam, rg, mu, vals = (torch.cat(v).numpy() for v in (lam, rg, mu, vals))
  on = np.abs(np.linalg.norm(deltas, axis=1) / eps - 1.0) <= 1e-5
  scale = np.abs(lam).max() + np.abs(mu)
  is_max = on & (rg <= tol_g) & (mu * eps > tol_g) & (lam < -1e-7 * scale)
  reps = []  # greedy: best first, a new maximum beyond tol_c eps of every one kept
  for i in np.flatnonzero(is_max)[np.argsort(-vals[is_max], kind="stable")]:
    if all(np.linalg.norm(deltas[i] - deltas[r]) > tol_c * eps for r in reps):
      reps.append(i)
  return {"seconds": time.perf_counter() - t0, "seconds_pga": t_pga,
          "certified_fraction": float(is_max.mean()), "distinct": len(reps),
          "values": sorted((float(vals[r]) for r in reps), reverse=True)}


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--d", type=int, default=784)
  p.add_argument("--m", type=int, default=1024)
  p.add_argument("--n", type=int, default=256)
  p.add_argument("--chunk", type=int, default=512)
  p.add_argument("--block", type=int, default=32, help="endpoints per vmapped torch Hessian")
  p.add_argument("--json")
  args = p.parse_args(argv)
  inst = instance(args.d, args.m, args.n)
  net = Network(jnp.asarray(inst["W"]), jnp.asarray(inst["a"]),
                jnp.zeros(args.m, jnp.float32), "tanh")
  x = jnp.asarray(inst["x"])
  eps, y = inst["eps"], inst["y"]
  problem = instances.problem(net, "quadratic", x, y, eps=eps)
  tol_g = ascent.default_tol_g(problem)
  cfg = PGAConfig(step_rule="normalized", step=0.05, max_steps=20_000, tol_g=tol_g,
                  chunk=args.chunk)
  tols = Tolerances.for_dtype(np.float32)

  def suite(prove, n):
    t0 = time.perf_counter()
    run = run_census(problem, key=jax.random.key(1), n_restarts=n,
                     config=cfg, prove=prove, tolerances=tols)
    return run, time.perf_counter() - t0

  suite(False, min(args.n, args.chunk))  # compile once: neither side pays compilation below
  run, t_suite = suite(False, args.n)
  _, t_proved = suite(True, args.n)
  res, s = run.result, run.summary
  steps = int(res.iterations.max()) + 1
  starts = np.concatenate([np.asarray(ascent.initial_deltas(
      problem, jax.random.fold_in(jax.random.key(1), i), "sphere", args.chunk))
      for i in range(-(-args.n // args.chunk))])[:args.n].astype(np.float32)
  tol_cert = float(run.tol_certificate_max)
  user = torch_user(inst, starts, steps, tol_cert, block=args.block)
  suite_vals = [m["value"] for m in run.maxima]
  agree = (user["distinct"] == s["distinct_maxima"] and np.allclose(
      user["values"], suite_vals, rtol=1e-5, atol=0))
  out = {"d": args.d, "m": args.m, "n": args.n, "chunk": args.chunk, "steps_torch": steps,
         "suite": {"seconds": t_suite, "seconds_with_proofs": t_proved,
                   "seconds_pga": s["seconds_pga"], "seconds_certificates_and_census":
                   t_suite - s["seconds_pga"], "median_iterations": s["median_iterations"],
                   "certified_fraction": s["certified_fraction"],
                   "distinct": s["distinct_maxima"], "values": suite_vals,
                   "certified_by_proof": s["certified_by_proof"]},
         "user_torch": dict(user, block=args.block),
         "ratio_user_over_suite": user["seconds"] / t_suite,
         "ratio_certificates_over_pga": (t_suite - s["seconds_pga"]) / s["seconds_pga"],
         "same_maxima": bool(agree), "versions": io.versions(),
         "date": time.strftime("%Y-%m-%d")}
  print(f"N={args.n}: suite {t_suite:.1f} s (PGA {s['seconds_pga']:.1f} s, certificates and "
        f"census {t_suite - s['seconds_pga']:.1f} s; {t_proved:.1f} s with proofs), "
        f"{s['distinct_maxima']} maxima; user torch {user['seconds']:.1f} s (PGA "
        f"{user['seconds_pga']:.1f} s), {user['distinct']} maxima; user/suite "
        f"{user['seconds'] / t_suite:.1f}x; same maxima: {agree}")
  if not agree:
    print("DISAGREE: suite", suite_vals, "user", user["values"])
  if args.json:
    io.write_json_atomic(args.json, out)
  return out


if __name__ == "__main__":
  main()
