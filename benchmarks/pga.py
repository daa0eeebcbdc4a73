"""PGA throughput against the GEMM bound and peer implementations (issue 5).

Measures restarts x steps per second of T plain PGA steps at several
(d, m, B), every variant in one process, rotated, median of ``--reps``. The
bound is the two GEMMs of one step, (B, d) x (d, m) and (B, m) x (m, d), at
the fastest matmul available here (XLA, NumPy's BLAS, or torch), timed in
the same rounds as the variants. Every variant runs the same normalised l2
step from the same starts (the attack libraries from delta = 0), and the
harness checks that their final losses agree before it reports a rate.

Instance: tanh network, W ~ N(0, 1/d), a = +-1/sqrt(m), ||x|| = sqrt(d),
y = 0, quadratic loss, eps = 0.5 ||x||, starts uniform on the sphere, step
alpha = 0.05 eps along g / ||g||.

Run:  python -m benchmarks.pga --json benchmarks/results_cpu.json
      (about 15 minutes on 2 CPU cores with the defaults; the torch,
      torchattacks, ART and Foolbox variants run when the optional extra
      ``bench`` is installed)
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from adv_landscape import ascent, instances, io, objective
from adv_landscape.losses import get_loss
from adv_landscape.network import Network
from benchmarks.common import median_time

SIZES = ((784, 1024, 1024), (64, 256, 4096), (784, 1024, 64))


def instance(d, m, B, seed=0):
  rng = np.random.default_rng(seed)
  W = (rng.standard_normal((m, d)) / np.sqrt(d)).astype(np.float32)
  a = (rng.choice([-1.0, 1.0], m) / np.sqrt(m)).astype(np.float32)
  x = rng.standard_normal(d)
  x = (np.sqrt(d) * x / np.linalg.norm(x)).astype(np.float32)
  eps = float(0.5 * np.linalg.norm(x))
  z = rng.standard_normal((B, d))
  delta0 = (eps * z / np.linalg.norm(z, axis=1, keepdims=True)).astype(np.float32)
  return dict(W=W, a=a, x=x, y=0.0, eps=eps, alpha=0.05 * eps, delta0=delta0)


def cpu_model() -> str:
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or "unknown"


def _quad_loss_np(inst, d):
  H = (inst["x"][None] + d) @ inst["W"].T
  f = np.tanh(H) @ inst["a"]
  return 0.5 * (f - inst["y"]) ** 2


# -- the variants: each returns a zero-argument callable that runs T steps
#    and returns the final perturbations as a NumPy array -------------------
def suite(inst, T):
  """adv_landscape's engine: per-restart bookkeeping, early-stop check every 8 steps."""
  net = Network(jnp.asarray(inst["W"]), jnp.asarray(inst["a"]), jnp.zeros(len(inst["a"]),
                jnp.float32), "tanh")
  loss = get_loss("quadratic")
  x, d0 = jnp.asarray(inst["x"]), jnp.asarray(inst["delta0"])
  eta = jnp.full((d0.shape[0],), inst["alpha"], jnp.float32)
  tol = jnp.float32(0.0)  # tol 0: all T steps run
  problem = instances.problem(net, loss, x, inst["y"], eps=float(inst["eps"]))

  def run():
    state, *_ = ascent.run_pga(problem, d0, eta, tol, jnp.int32(T), normalized=True)
    return np.asarray(state.delta)
  return run


def _scan_normalized(grad, eps, alpha, T):
  """T normalised PGA steps in a jitted scan, for a batched gradient function."""
  @jax.jit
  def go(d0):
    def step(d, _):
      g = grad(d)
      v = d + alpha * g / jnp.linalg.norm(g, axis=1, keepdims=True)
      return v * jnp.minimum(1.0, eps / jnp.linalg.norm(v, axis=1, keepdims=True)), None
    return jax.lax.scan(step, d0, None, length=T)[0]
  return go


def jax_scan(inst, T):
  """Hand-batched JAX scan with no bookkeeping (the prototype's reference)."""
  W, a, x = map(jnp.asarray, (inst["W"], inst["a"], inst["x"]))
  eps, alpha, y = inst["eps"], inst["alpha"], inst["y"]

  def grad(d):
    H = (x[None] + d) @ W.T
    f = jnp.tanh(H) @ a
    return ((1 - jnp.tanh(H) ** 2) * ((f - y)[:, None] * a[None])) @ W

  go = _scan_normalized(grad, eps, alpha, T)

  d0 = jnp.asarray(inst["delta0"])
  return lambda: np.asarray(go(d0))


def jax_vmap_grad(inst, T):
  """vmap(grad) of the one-example objective inside a scan."""
  net = Network(jnp.asarray(inst["W"]), jnp.asarray(inst["a"]), jnp.zeros(len(inst["a"]),
                jnp.float32), "tanh")
  x, eps, alpha, y = jnp.asarray(inst["x"]), inst["eps"], inst["alpha"], inst["y"]
  grad = jax.vmap(jax.grad(lambda d: objective.value(net, "quadratic", x, y, d)))
  go = _scan_normalized(grad, eps, alpha, T)

  d0 = jnp.asarray(inst["delta0"])
  return lambda: np.asarray(go(d0))


def torch_eager(inst, T):
  """Batched torch in eager mode, the same closed-form step."""
  import torch
  W, a, x = (torch.from_numpy(inst[k]) for k in ("W", "a", "x"))
  eps, alpha, y = inst["eps"], inst["alpha"], inst["y"]
  d0 = torch.from_numpy(inst["delta0"])

  @torch.no_grad()
  def run():
    d = d0.clone()
    for _ in range(T):
      t = torch.tanh((x + d) @ W.T)
      f = t @ a
      g = ((1 - t * t) * ((f - y)[:, None] * a)) @ W
      v = d + alpha * g / g.norm(dim=1, keepdim=True)
      d = v * torch.clamp(eps / v.norm(dim=1, keepdim=True), max=1.0)
    return d.numpy()
  return run


def torchattacks_pgdl2(inst, T):
  """torchattacks.PGDL2 on the wrapped model of ``_torch_model``.

  PGDL2 projects around the images it is given and draws its own random
  starts, so it runs from delta = 0 (random_start=False); its final losses
  are checked against the suite's run from delta = 0.
  """
  import torch
  import torchattacks
  model, to_u, from_u, c = _torch_model(inst)
  atk = torchattacks.PGDL2(model, eps=inst["eps"] / c, alpha=inst["alpha"] / c, steps=T,
                           random_start=False)
  B = inst["delta0"].shape[0]
  base = to_u(np.repeat(inst["x"][None], B, 0))
  labels = torch.zeros(B, dtype=torch.long)
  return lambda: from_u(atk(base, labels)) - inst["x"][None]


torchattacks_pgdl2.zero_start = True


def art_pgd(inst, T):
  """ART's ProjectedGradientDescentPyTorch (norm 2) on ``_torch_model``, from delta = 0."""
  import torch
  from art.attacks.evasion import ProjectedGradientDescentPyTorch
  from art.estimators.classification import PyTorchClassifier
  model, to_u, from_u, c = _torch_model(inst)
  B, d = inst["delta0"].shape
  clf = PyTorchClassifier(model, loss=torch.nn.CrossEntropyLoss(), input_shape=(1, 1, d),
                          nb_classes=2, clip_values=(0.0, 1.0), device_type="cpu")
  atk = ProjectedGradientDescentPyTorch(clf, norm=2, eps=inst["eps"] / c,
                                        eps_step=inst["alpha"] / c, max_iter=T,
                                        num_random_init=0, batch_size=B, verbose=False)
  base = to_u(np.repeat(inst["x"][None], B, 0)).numpy()
  labels = np.zeros(B, dtype=np.int64)
  return lambda: from_u(torch.from_numpy(atk.generate(base, y=labels))) - inst["x"][None]


art_pgd.zero_start = True


def foolbox_l2pgd(inst, T):
  """Foolbox's L2PGD on a JAX model (through eagerpy), the logits of
  ``_torch_model`` written in jax.numpy, from delta = 0."""
  import foolbox as fb
  c = _scale(inst)
  W, a = jnp.asarray(inst["W"]), jnp.asarray(inst["a"])

  def model(u):
    f = jnp.tanh(((u.reshape(u.shape[0], -1) - 0.5) * c) @ W.T) @ a
    q = 0.5 * (f - inst["y"]) ** 2
    return jnp.stack([jnp.zeros_like(q), q], 1)

  atk = fb.attacks.L2PGD(abs_stepsize=inst["alpha"] / c, steps=T, random_start=False)
  B = inst["delta0"].shape[0]
  base = jnp.asarray(np.repeat(inst["x"][None], B, 0) / c + 0.5)
  crit = fb.criteria.Misclassification(jnp.zeros(B, jnp.int32))
  fmodel = fb.JAXModel(model, bounds=(0.0, 1.0))

  def run():
    _, adv, _ = atk(fmodel, base, crit, epsilons=inst["eps"] / c)
    return (np.asarray(adv) - 0.5) * c - inst["x"][None]
  return run


foolbox_l2pgd.zero_start = True


def _scale(inst):
  """c with x / c + 1/2 and every point of the ball inside [0, 1]."""
  return 4.0 * float(np.max(np.abs(inst["x"]))) + 4.0 * inst["eps"]


def _torch_model(inst):
  """The network as a torch model of u = x / c + 1/2 (inside [0, 1], so the
  attack's clamp to [0, 1] never binds), with two logits [0, (f - y)^2 / 2]:
  cross-entropy for label 0 is softplus((f - y)^2 / 2), an increasing function
  of the quadratic loss, so its normalised gradient is the same."""
  import torch
  c = _scale(inst)
  W, a = torch.from_numpy(inst["W"]), torch.from_numpy(inst["a"])

  class Net(torch.nn.Module):
    def forward(self, u):
      z = (u.reshape(u.shape[0], -1) - 0.5) * c
      f = torch.tanh(z @ W.T) @ a
      q = 0.5 * (f - inst["y"]) ** 2
      return torch.stack([torch.zeros_like(q), q], 1)

  def to_u(z):
    return torch.from_numpy((z / c + 0.5).astype(np.float32)).reshape(z.shape[0], 1, 1, -1)

  def from_u(u):
    return (u.reshape(u.shape[0], -1).detach().numpy() - 0.5) * c

  return Net().eval(), to_u, from_u, c


# -- the GEMM bound ------------------------------------------------------------
def gemm_pairs(d, m, B):
  """Per backend, a callable running the two GEMMs of one step, (B, d) x (d, m)
  and (B, m) x (m, d), on random float32 operands."""
  rng = np.random.default_rng(1)
  A1 = rng.standard_normal((B, d)).astype(np.float32)
  W = rng.standard_normal((m, d)).astype(np.float32)
  A2 = rng.standard_normal((B, m)).astype(np.float32)
  j1, jw, j2 = map(jnp.asarray, (A1, W, A2))
  mm1, mm2 = jax.jit(lambda p, q: p @ q.T), jax.jit(lambda p, q: p @ q)
  out = {"xla": lambda: (mm1(j1, jw).block_until_ready(), mm2(j2, jw).block_until_ready()),
         "numpy": lambda: (A1 @ W.T, A2 @ W)}
  try:
    import torch
    t1, tw, t2 = map(torch.from_numpy, (A1, W, A2))
    out["torch"] = lambda: (t1 @ tw.T, t2 @ tw)
  except ImportError:
    pass
  return out


VARIANTS = {"suite": suite, "jax_scan": jax_scan,
            "jax_vmap_grad": jax_vmap_grad, "torch_eager": torch_eager,
            "torchattacks_pgdl2": torchattacks_pgdl2, "art_pgd": art_pgd,
            "foolbox_l2pgd": foolbox_l2pgd}
_NEEDS = {"torch_eager": ("torch",), "torchattacks_pgdl2": ("torch", "torchattacks"),
          "art_pgd": ("torch", "art"), "foolbox_l2pgd": ("foolbox",)}


def available_variants():
  """The variants whose libraries are installed (peers need the ``bench`` extra)."""
  import importlib.util
  return [v for v in VARIANTS
          if all(importlib.util.find_spec(mod) is not None for mod in _NEEDS.get(v, ()))]


def bench_size(d, m, B, *, T, reps, variants, seed=0, pause=0.3, gemm_inner=5, log=print):
  """Rates of every variant and of the GEMM bound at one size, measured together.

  Each of ``reps`` rounds times every variant once (T steps) and every GEMM
  backend (median of ``gemm_inner`` step-pairs after one unmeasured pair), in
  a fresh random order,
  with ``pause`` seconds before each timing so that the worker threads of
  the previous library (OpenMP, OpenBLAS and Eigen pools spin for a while
  after their work) have gone idle and do not steal the two cores.
  """
  inst = instance(d, m, B, seed)
  runs = {v: VARIANTS[v](inst, T) for v in variants}
  finals = {}
  for v, run in runs.items():  # warm-up (compilation) and the agreement check
    finals[v] = float(np.mean(_quad_loss_np(inst, run())))
  zero = dict(inst, delta0=np.zeros_like(inst["delta0"]))
  ref_zero = float(np.mean(_quad_loss_np(zero, suite(zero, T)())))
  for v, f in finals.items():
    ref = ref_zero if getattr(VARIANTS[v], "zero_start", False) else finals["suite"]
    if not abs(f - ref) <= 1e-3 * max(abs(ref), 1e-6):
      raise RuntimeError(f"final losses disagree at {(d, m, B)}: {v} {f} vs suite {ref}")
  pairs = gemm_pairs(d, m, B)
  timed = {**runs, **{("gemm", k): (lambda f=f: median_time(f, gemm_inner)[0]) for k, f in
                      pairs.items()}}
  times = {k: [] for k in timed}
  order = list(timed)
  rng = random.Random(seed)
  for _ in range(reps):
    rng.shuffle(order)  # rotate, so drift in the machine's speed hits every variant
    for k in order:
      time.sleep(pause)
      t0 = time.perf_counter()
      inner = timed[k]()
      times[k].append(inner if isinstance(k, tuple) else time.perf_counter() - t0)
  bounds = {k[1]: B / statistics.median(ts) for k, ts in times.items() if isinstance(k, tuple)}
  bound = max(bounds.values())
  rates = {v: {"median": B * T / statistics.median(ts), "min": B * T / max(ts),
               "max": B * T / min(ts)} for v, ts in times.items() if not isinstance(v, tuple)}
  res = {"size": [d, m, B], "steps": T, "reps": reps, "pause_s": pause, "gemm_bound": bound,
         "gemm_bound_by_backend": bounds, "rates": rates,
         "ratios": {v: r["median"] / bound for v, r in rates.items()},
         "final_mean_loss": finals, "final_mean_loss_suite_from_zero": ref_zero}
  log(f"(d, m, B) = {(d, m, B)}: bound {bound:,.0f}/s ("
      + ", ".join(f"{k} {v:,.0f}" for k, v in bounds.items()) + ")")
  for v, r in rates.items():
    log(f"  {v:18s} {r['median']:>12,.0f}/s  ({r['median'] / bound:.2f} of bound)")
  return res


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--json", help="write results here (atomically)")
  p.add_argument("--steps", type=int, default=200)
  p.add_argument("--reps", type=int, default=5)
  p.add_argument("--sizes", default=None,
                 help="comma-separated d:m:B triples (default: the three of issue 5)")
  p.add_argument("--variants", default=None, help="comma-separated subset of variants")
  p.add_argument("--pause", type=float, default=0.3,
                 help="seconds of idle before each timing (default 0.3)")
  args = p.parse_args(argv)
  if not args.pause >= 0:
    p.error(f"--pause {args.pause}: must be a non-negative number of seconds")
  sizes = SIZES if not args.sizes else [tuple(int(v) for v in s.split(":"))
                                        for s in args.sizes.split(",")]
  variants = args.variants.split(",") if args.variants else available_variants()
  for v in variants:
    if v not in VARIANTS:
      p.error(f"variant {v!r} is unknown; choose from {sorted(VARIANTS)}")
  results = [bench_size(*s, T=args.steps, reps=args.reps, variants=variants, pause=args.pause)
             for s in sizes]
  meta = {"cpu_model": cpu_model(), "cpu_count": os.cpu_count(), "date": time.strftime("%Y-%m-%d"),
          "versions": io.versions(), "backend": jax.default_backend(),
          "devices": [str(d) for d in jax.devices()]}
  try:
    import torch
    meta["torch"] = torch.__version__
    meta["torch_threads"] = torch.get_num_threads()
  except ImportError:
    pass
  from importlib import metadata
  for dist in ("torchattacks", "foolbox", "eagerpy", "adversarial-robustness-toolbox"):
    try:
      meta[dist] = metadata.version(dist)
    except metadata.PackageNotFoundError:
      pass
  out = {"meta": meta, "results": results}
  if args.json:
    io.write_json_atomic(args.json, out)
  return out


if __name__ == "__main__":
  main()
  sys.exit(0)
