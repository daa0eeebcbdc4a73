"""l_inf PGD (the sign step) against torchattacks' PGD and the GEMM bound, in one run.

Rates in restarts x steps per second of T sign steps, delta + alpha sign(g)
clipped to the box |delta_i| <= eps, at (d, m, B) = (784, 1024, 1024) by
default. Every variant starts from delta = 0 (torchattacks' PGD with
random_start=False projects around the images it is given) and the harness
checks that their final losses agree before it reports a rate. The bound is
the two GEMMs of one step at the fastest matmul here, timed in the same
rounds (``benchmarks.pga.gemm_pairs``).

Instance: ``benchmarks.pga.instance`` (tanh, quadratic loss, y = 0), with the
box of half-width eps = 0.5 ||x|| / sqrt(d) = 0.5 and alpha = 0.05 eps.

Run:  python -m benchmarks.linf --json benchmarks/results/linf_cpu.json
      (torchattacks from the extra ``bench``; about 2 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from adv_landscape import ascent, io
from adv_landscape.losses import get_loss
from adv_landscape.network import Network
from adv_landscape.problem import LinfBall, Problem, TwoLayerObjective
from benchmarks.common import median_time
from benchmarks.pga import _quad_loss_np, _torch_model, cpu_model, gemm_pairs, instance


def linf_instance(d, m, B, seed=0):
  inst = instance(d, m, B, seed)
  eps = float(0.5 * np.linalg.norm(inst["x"]) / np.sqrt(d))
  return dict(inst, eps=eps, alpha=0.05 * eps, delta0=np.zeros_like(inst["delta0"]))


def suite_sign(inst, T):
  """The suite's engine: ``run_pga`` on a ``LinfBall`` with the sign step."""
  net = Network(jnp.asarray(inst["W"]), jnp.asarray(inst["a"]),
                jnp.zeros(len(inst["a"]), jnp.float32), "tanh")
  x = jnp.asarray(inst["x"])
  problem = Problem(TwoLayerObjective(net, x, jnp.float32(inst["y"]), get_loss("quadratic")),
                    LinfBall(jnp.float32(inst["eps"])))
  d0 = jnp.asarray(inst["delta0"])
  eta = jnp.full((d0.shape[0],), inst["alpha"], jnp.float32)

  def run():
    state, *_ = ascent.run_pga(problem, d0, eta, jnp.float32(0.0), jnp.int32(T),
                               sign=True)
    return np.asarray(state.delta)
  return run


def torch_eager_sign(inst, T):
  """Batched torch in eager mode, the same closed-form sign step."""
  import torch
  W, a, x = (torch.from_numpy(inst[k]) for k in ("W", "a", "x"))
  eps, alpha, y = inst["eps"], inst["alpha"], inst["y"]
  d0 = torch.from_numpy(inst["delta0"])

  @torch.no_grad()
  def run():
    d = d0.clone()
    for _ in range(T):
      t = torch.tanh((x + d) @ W.T)
      g = ((1 - t * t) * (((t @ a) - y)[:, None] * a)) @ W
      d = torch.clamp(d + alpha * torch.sign(g), -eps, eps)
    return d.numpy()
  return run


def torchattacks_pgd(inst, T):
  """torchattacks.PGD (l_inf) on ``benchmarks.pga._torch_model``, from delta = 0."""
  import torch
  import torchattacks
  model, to_u, from_u, c = _torch_model(inst)
  atk = torchattacks.PGD(model, eps=inst["eps"] / c, alpha=inst["alpha"] / c, steps=T,
                         random_start=False)
  B = inst["delta0"].shape[0]
  base = to_u(np.repeat(inst["x"][None], B, 0))
  labels = torch.zeros(B, dtype=torch.long)
  return lambda: from_u(atk(base, labels)) - inst["x"][None]


VARIANTS = {"suite_sign": suite_sign, "torch_eager_sign": torch_eager_sign,
            "torchattacks_pgd": torchattacks_pgd}


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--size", default="784:1024:1024", help="d:m:B (default 784:1024:1024)")
  p.add_argument("--steps", type=int, default=100, help="sign steps per timed run")
  p.add_argument("--reps", type=int, default=5, help="timed rounds (medians are reported)")
  p.add_argument("--json", help="write results here (atomically)")
  args = p.parse_args(argv)
  d, m, B = (int(v) for v in args.size.split(":"))
  inst = linf_instance(d, m, B)
  runs = {k: f(inst, args.steps) for k, f in VARIANTS.items()}
  finals = {k: float(np.mean(_quad_loss_np(inst, run()))) for k, run in runs.items()}
  ref = finals["suite_sign"]
  for k, f in finals.items():  # float32 sign steps: a tie in sign(g) can flip one coordinate
    if not abs(f - ref) <= 1e-3 * max(abs(ref), 1e-6):
      raise RuntimeError(f"final losses disagree: {k} {f} vs suite {ref}")
  gemm = {("gemm", k): (lambda f=f: median_time(f, 5)[0]) for k, f in
          gemm_pairs(d, m, B).items()}
  timed = {**runs, **gemm}
  times = {k: [] for k in timed}
  order = list(timed)
  rng = random.Random(0)
  for _ in range(args.reps):
    rng.shuffle(order)
    for k in order:
      time.sleep(0.3)  # let the previous library's worker threads go idle
      t0 = time.perf_counter()
      inner = timed[k]()
      times[k].append(inner if isinstance(k, tuple) else time.perf_counter() - t0)
  bounds = {k[1]: B / statistics.median(ts) for k, ts in times.items() if isinstance(k, tuple)}
  bound = max(bounds.values())
  rates = {k: B * args.steps / statistics.median(ts) for k, ts in times.items()
           if not isinstance(k, tuple)}
  print(f"(d, m, B) = {(d, m, B)}, {args.steps} sign steps: GEMM bound {bound:,.0f}/s")
  for k, r in rates.items():
    print(f"  {k:18s} {r:>12,.0f}/s  ({r / bound:.2f} of bound, "
          f"{r / rates['suite_sign']:.2f} of the suite)")
  out = {"size": [d, m, B], "steps": args.steps, "reps": args.reps, "gemm_bound": bound,
         "gemm_bound_by_backend": bounds, "rates": rates,
         "ratios_to_bound": {k: r / bound for k, r in rates.items()},
         "final_mean_loss": finals,
         "meta": {"cpu_model": cpu_model(), "versions": io.versions(),
                  "backend": jax.default_backend()}}
  if args.json:
    io.write_json_atomic(args.json, out)
  return out


if __name__ == "__main__":
  main()
