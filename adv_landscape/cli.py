"""The ``adv-landscape`` command line (SPEC 9).

Every command takes --seed, --json PATH (written atomically), --x64 and shows
progress bars on long work. Invalid input exits with code 2 and one line
naming the argument and value; nothing is written then.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

__all__ = ["main"]


class UsageError(ValueError):
  """Bad input found after parsing (a missing file, a NaN in the weights)."""


class _Parser(argparse.ArgumentParser):
  """argparse, but a usage error is one line (SPEC 9), exit code 2."""

  def error(self, message):
    self.exit(2, f"{self.prog}: error: {message}\n")


def _positive(name):
  def parse(text):
    try:
      v = float(text)
    except ValueError:
      raise argparse.ArgumentTypeError(f"{name}={text!r} is not a number") from None
    if not (np.isfinite(v) and v > 0):
      raise argparse.ArgumentTypeError(f"{name}={text} must be positive and finite")
    return v
  return parse


def _positive_int(name):
  def parse(text):
    try:
      v = int(text)
    except ValueError:
      raise argparse.ArgumentTypeError(f"{name}={text!r} is not an integer") from None
    if v < 1:
      raise argparse.ArgumentTypeError(f"{name}={text} must be a positive integer")
    return v
  return parse


def _finite(name):
  def parse(text):
    try:
      v = float(text)
    except ValueError:
      raise argparse.ArgumentTypeError(f"{name}={text!r} is not a number") from None
    if not np.isfinite(v):
      raise argparse.ArgumentTypeError(f"{name}={text} must be finite")
    return v
  return parse


def _common(p: argparse.ArgumentParser) -> None:
  g = p.add_argument_group("common")
  g.add_argument("--seed", type=int, default=0, help="PRNG seed (default 0)")
  g.add_argument("--json", metavar="PATH", help="write results here, atomically")
  g.add_argument("--x64", action="store_true",
                 help="run PGA in float64 (certificates are always float64)")
  g.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _instance_args(p: argparse.ArgumentParser) -> None:
  from adv_landscape.activations import ACTIVATIONS
  from adv_landscape.ascent import INITS, STEP_RULES
  from adv_landscape.losses import LOSSES

  g = p.add_argument_group("instance: a user's network, or a synthetic one")
  g.add_argument("--weights", metavar="NET.npz", help="W (m,d), a (m,) or (m,K), b, activation")
  g.add_argument("--x", metavar="X.npy", help="input x of shape (d,)")
  g.add_argument("--y", type=_finite("y"), default=None,
                 help="label (default 1.0; class 0 for softmax_ce)")
  g.add_argument("--d", type=_positive_int("d"), default=20, help="synthetic input dimension")
  g.add_argument("--m", type=_positive_int("m"), default=200, help="synthetic width")
  g.add_argument("--outputs", type=_positive_int("outputs"), default=None,
                 help="synthetic K-output head (for softmax_ce)")
  g.add_argument("--activation", default="tanh", choices=sorted(ACTIVATIONS))
  g.add_argument("--scale", type=_positive("scale"), default=1.0, help="input scale s")
  g.add_argument("--loss", default="quadratic", choices=sorted(LOSSES))
  r = g.add_mutually_exclusive_group()
  r.add_argument("--eps", type=_positive("eps"), help="radius of the ball")
  r.add_argument("--gamma", type=_positive("gamma"),
                 help="perturbation ratio, eps = gamma ||x|| (default 0.5)")
  a = p.add_argument_group("ascent")
  a.add_argument("--inits", type=_positive_int("inits"), default=1000, help="restarts N")
  a.add_argument("--init", default="sphere", choices=INITS)
  a.add_argument("--step-rule", default="normalized", choices=STEP_RULES,
                 help="fixed: eta=STEP; lipschitz: eta=STEP/ell (rigorous ell); curvature: "
                      "eta=STEP/ell_est (largest ||hess L|| found over the ball); grad0: "
                      "eta=STEP*eps/||grad L(delta0)||; normalized: step STEP*eps along g/||g|| "
                      "(default; cannot converge at an interior point)")
  a.add_argument("--step", type=_positive("step"), default=0.05)
  a.add_argument("--max-steps", type=_positive_int("max-steps"), default=10_000)
  a.add_argument("--tol-g", type=_positive("tol-g"), default=None,
                 help="first-order tolerance (default 1e-6 ||grad L(0)|| with --x64, else 1e-4)")
  a.add_argument("--tol-c", type=_positive("tol-c"), default=1e-3,
                 help="maxima closer than tol-c * eps are one maximum")
  a.add_argument("--chunk", type=_positive_int("chunk"), default=8192,
                 help="restarts per compiled batch")


def _build_instance(args):
  """Network, x, y, eps and a description, from files or the synthetic setting."""
  import jax
  import jax.numpy as jnp

  from adv_landscape import network
  from adv_landscape.losses import get_loss

  loss = get_loss(args.loss)
  key = jax.random.key(args.seed)
  k_net, k_x, k_run = jax.random.split(key, 3)
  if args.weights or args.x:
    if not (args.weights and args.x):
      raise UsageError("--weights and --x go together: give both, or neither for a synthetic "
                       "instance")
    net = network.load_network(args.weights)
    if not os.path.exists(args.x):
      raise UsageError(f"x={args.x!r}: no such file")
    try:
      x = jnp.asarray(np.load(args.x, allow_pickle=False), net.W.dtype)
    except (OSError, ValueError) as e:
      raise UsageError(f"x={args.x!r} is not a readable .npy file ({e})") from None
    source = {"weights": os.path.abspath(args.weights), "x": os.path.abspath(args.x)}
  else:
    net = network.init_network(k_net, args.d, args.m, activation=args.activation,
                               n_outputs=args.outputs)
    x = network.synthetic_input(k_x, args.d, args.scale)
    source = {"synthetic": True, "d": args.d, "m": args.m, "activation": args.activation,
              "scale": args.scale, "outputs": args.outputs}
  y = args.y if args.y is not None else (0 if loss.multi_output else 1.0)
  if loss.multi_output:
    y = int(y)
  if np.all(np.isfinite(np.asarray(x))):
    xnorm = float(np.linalg.norm(np.asarray(x, np.float64)))
  else:
    xnorm = float("nan")
  eps = args.eps if args.eps is not None else (args.gamma or 0.5) * xnorm
  network.validate_problem(net, x, eps, y, loss=loss)
  if xnorm == 0 and args.eps is None:
    raise UsageError("x is zero, so gamma cannot set eps; give --eps")
  source.update(loss=loss.name, y=y, eps=eps, gamma=eps / xnorm if xnorm else None,
                x_norm=xnorm, d=int(net.d), m=int(net.m), activation=net.activation)
  return net, loss, x, y, eps, k_run, source


def cmd_census(args) -> int:
  from adv_landscape import io
  from adv_landscape.pipeline import PGAConfig, Tolerances, run_census

  net, loss, x, y, eps, key, source = _build_instance(args)
  if args.stream and args.save_endpoints:
    raise UsageError("--stream keeps no endpoints, so it cannot --save-endpoints")
  config = PGAConfig(step_rule=args.step_rule, step=args.step, init=args.init, tol_g=args.tol_g,
                     max_steps=args.max_steps, chunk=args.chunk)
  tols = Tolerances.for_dtype(x.dtype, tol_c=args.tol_c)
  run = run_census(net, loss, x, y, eps=eps, key=key, n_restarts=args.inits, config=config,
                   tolerances=tols, stream=args.stream, progress=not args.no_progress)
  summary, maxima = dict(run.summary), run.maxima
  if args.stream:
    summary["iteration_histogram"] = run.iteration_histogram
  _print_census(source, args, run.config, summary, maxima)
  if args.json:
    config_out = {**source, "command": "census", "seed": args.seed, "inits": args.inits,
                  "init": args.init, "step_rule": args.step_rule, "step": args.step,
                  "max_steps": args.max_steps, "tol_g": run.config.tol_g,
                  "tol_b": tols.tol_b, "tol_g_certificate_max": run.tol_certificate_max,
                  "tol_c": args.tol_c, "tolerances": tols.describe(), "chunk": args.chunk,
                  "stream": args.stream, "pga_dtype": str(np.asarray(x).dtype),
                  "versions": io.versions()}
    out = {"config": config_out, "summary": summary, "maxima": maxima}
    if args.save_endpoints:
      res, cert, cs = run.result, run.certificate, run.census
      out["endpoints"] = [
          {"delta": res.deltas[i], "value": cert.values[i], "iterations": int(res.iterations[i]),
           "converged": bool(res.converged[i]), "class": str(cert.classes[i]),
           "grad_norm": cert.grad_norm[i], "rgrad_norm": cert.rgrad_norm[i],
           "multiplier": cert.multiplier[i], "lambda_tangent": cert.lambda_tangent[i],
           "cluster": int(cs.labels[i])} for i in range(cs.n)]
    io.write_json_atomic(args.json, out)
    print(f"wrote {args.json}")
  return 0


def _print_census(source, args, config, s, maxima) -> None:
  inst = (f"{source['activation']} network d={source['d']} m={source['m']}"
          + (f" s={source['scale']}" if source.get("synthetic") else "")
          + f", loss={source['loss']}, y={source['y']}, eps={source['eps']:.4g}"
          + (f" (gamma={source['gamma']:.3g})" if source.get("gamma") else ""))
  print(f"instance   {inst}")
  print(f"ascent     {s['n_inits']} restarts from {args.init}, {args.step_rule} step {args.step}, "
        f"tol_g={config.tol_g:.3g}, "
        + (f"{s['seconds_pga']:.1f}s" if s["seconds_pga"] is not None else
           f"streamed, {s['seconds_total']:.1f}s in all"))
  print(f"converged  {s['converged_fraction']:.1%}, iterations median {s['median_iterations']:.0f}"
        f", max {s['max_iterations']}")
  print("classes    " + ", ".join(f"{k} {v}" for k, v in sorted(s["class_counts"].items())))
  kinds = [mx.get("kind", "boundary") for mx in maxima]
  print(f"maxima     {s['distinct_maxima']} distinct certified ({kinds.count('boundary')} on the "
        f"sphere, {kinds.count('interior')} interior); certified fraction "
        f"{s['certified_fraction']:.2%}"
        + (f"; proved {s['proved_fraction']:.2%}, {s['proved_distinct_maxima']} provably "
           f"distinct" if "proved_fraction" in s else ""))
  for rank, mx in enumerate(maxima[:5]):
    curv = (f"lambda_T={mx['lambda_tangent']:.3g}  mu={mx['multiplier']:.3g}"
            if mx.get("kind", "boundary") == "boundary" else
            f"lambda_max(hess L)={mx.get('lambda_hess', float('nan')):.3g}")
    radius = mx.get("proof_radius")
    proof = ("" if "proof_radius" not in mx else
             f"  proof radius {radius:.2g}" if radius is not None and np.isfinite(radius) else
             "  not proved")
    print(f"  #{rank + 1}  {mx.get('kind', 'boundary'):8s} L={mx['value']:.6g}  basin "
          f"{mx['basin_fraction']:.1%}  {curv}{proof}")
  if len(maxima) > 5:
    print(f"  ... {len(maxima) - 5} more")
  if s.get("stalled_inside") and args.step_rule == "normalized":
    print(f"note       {s['stalled_inside']} restarts stalled inside the ball: a normalized step "
          f"has a fixed length and cannot converge at an interior critical point; rerun with "
          f"--step-rule grad0 (or lipschitz)")


def cmd_verify(args) -> int:
  from adv_landscape import io
  from adv_landscape.verify import run_verify

  if args.json and os.path.abspath(args.json) == os.path.abspath(
      os.path.join(args.out, "report.json")):
    raise UsageError(f"json={args.json!r} is the report itself; give another path")
  report = run_verify(args.out, quick=args.quick, seed=args.seed, seeds=args.seeds,
                      progress=not args.no_progress)
  with open(os.path.join(args.out, "report.md")) as f:
    lines = f.read().splitlines()
  tables, current = [], []
  for ln in lines + [""]:  # the summary table and the controls table, as on screen
    if ln.startswith("|"):
      current.append(ln)
    elif current:
      tables.append(current)
      current = []
  for block in tables[:2]:
    print("\n".join(block) + "\n")
  if not report["controls_detected"]:
    print("CONTROL NOT DETECTED: a planted control did not say 'fails' (see the report)")
  print(f"T1 violations: {report['t1_violations']}; {report['seconds']:.0f} s; "
        f"report in {os.path.join(args.out, 'report.md')}")
  if args.json:
    io.write_json_atomic(args.json, report)
  return 0


EXPERIMENTS = ("rq1_local_max", "rq2_input_scale", "rq3_landscape")


def _experiments_dir() -> str:
  here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  return os.path.join(here, "experiments")


def _source_package(name: str, folder: str) -> None:
  """Registers the checkout's folder as the package ``name`` (no sys.path change).

  ``experiments`` and ``benchmarks`` live beside the library in a source
  checkout and are not installed; loading the package from its own
  ``__init__.py`` lets ``import_module(f"{name}.script")`` find the scripts
  and their ``from {name} import common``.
  """
  import importlib.util

  have = sys.modules.get(name)
  if have is not None and os.path.dirname(os.path.abspath(have.__file__ or "")) == folder:
    return
  spec = importlib.util.spec_from_file_location(
      name, os.path.join(folder, "__init__.py"), submodule_search_locations=[folder])
  mod = importlib.util.module_from_spec(spec)
  sys.modules[name] = mod
  spec.loader.exec_module(mod)


def cmd_reproduce(args) -> int:
  import importlib

  from tqdm.auto import tqdm

  from adv_landscape.data import DATASETS

  folder = _experiments_dir()
  if not os.path.isdir(folder):
    raise UsageError(f"experiments folder {folder!r} not found: reproduce runs from a source "
                     f"checkout (pip install -e .)")
  if args.data not in DATASETS and not os.path.isdir(args.data):
    raise UsageError(f"data={args.data!r} is neither one of {list(DATASETS)} nor a folder")
  if args.data == "synthetic":
    raise UsageError("data='synthetic': reproduce needs a real data set (digits, "
                     "fashion-mnist, or a folder of IDX files)")
  out = args.out or os.path.join(os.path.dirname(folder), "figures")
  flags = ["--data", args.data, "--out", out, "--seed", str(args.seed)]
  flags += ["--quick"] if args.quick else []
  flags += ["--smoke"] if args.smoke else []
  flags += ["--no-progress"] if args.no_progress else []
  flags += ["--data-dir", args.data_dir] if args.data_dir else []
  paths = []
  t0 = time.perf_counter()
  _source_package("experiments", folder)  # the scripts import experiments.common
  for name in tqdm(EXPERIMENTS, desc="experiments", disable=args.no_progress):
    paths += importlib.import_module(f"experiments.{name}").main(flags)
  print(f"wrote {len(paths)} figure files to {out} in {time.perf_counter() - t0:.0f} s")
  if args.json:
    from adv_landscape import io
    io.write_json_atomic(args.json, {"figures": paths, "flags": flags,
                                     "seconds": time.perf_counter() - t0})
  return 0


def cmd_bench(args) -> int:
  import importlib

  folder = os.path.join(os.path.dirname(_experiments_dir()), "benchmarks")
  if not os.path.isdir(folder):
    raise UsageError("benchmarks/ not found: bench runs from a source checkout")
  _source_package("benchmarks", folder)
  pga = importlib.import_module("benchmarks.pga")
  argv = ["--steps", str(args.steps), "--reps", str(args.reps)]
  argv += ["--json", args.json] if args.json else []
  argv += ["--sizes", args.sizes] if args.sizes else []
  pga.main(argv)
  return 0


def build_parser() -> argparse.ArgumentParser:
  p = _Parser(
      prog="adv-landscape",
      description="Certify and count the local maxima that projected gradient ascent finds "
                  "on the inputs of two-layer networks (Deng, He, Huang, Su, ICML 2020).")
  sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
  c = sub.add_parser("census", help="PGA from many starts, certificates, distinct maxima")
  _instance_args(c)
  c.add_argument("--save-endpoints", action="store_true",
                 help="also write every endpoint to the JSON")
  c.add_argument("--stream", action="store_true",
                 help="reduce each chunk into the census and drop it (memory independent of "
                      "--inits; greedy clustering in chunk order)")
  _common(c)
  c.set_defaults(func=cmd_census)
  v = sub.add_parser("verify", help="claims A-D on the built-in grid; writes a report")
  v.add_argument("--quick", action="store_true", help="the small grid (minutes on 2 cores)")
  v.add_argument("--out", default="verify-report", help="report folder (default verify-report)"
                 "; a killed run resumes from its sweep.jsonl")
  v.add_argument("--seeds", type=_positive_int("seeds"), default=None,
                 help="seeds per grid point (default 2 quick, 4 full)")
  _common(v)
  v.set_defaults(func=cmd_verify)
  r = sub.add_parser("reproduce", help="regenerate every figure of the paper's experiments")
  r.add_argument("--quick", action="store_true", help="small versions (minutes on 2 cores)")
  r.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)
  r.add_argument("--data", default="digits",
                 help="digits (default), fashion-mnist, or a folder of MNIST-format IDX files")
  r.add_argument("--data-dir", default=None, help="where the fashion-mnist IDX files are")
  r.add_argument("--out", default=None, help="figure folder (default figures/)")
  _common(r)
  r.set_defaults(func=cmd_reproduce)
  b = sub.add_parser("bench", help="PGA throughput against the GEMM bound (benchmarks/pga.py)")
  b.add_argument("--steps", type=_positive_int("steps"), default=200)
  b.add_argument("--reps", type=_positive_int("reps"), default=5)
  b.add_argument("--sizes", default=None, help="d:m:B triples, comma-separated")
  _common(b)
  b.set_defaults(func=cmd_bench)
  return p


def main(argv: list[str] | None = None) -> int:
  parser = build_parser()
  args = parser.parse_args(argv)
  if args.x64:
    import jax
    jax.config.update("jax_enable_x64", True)
  try:
    return args.func(args)
  except ValueError as e:  # bad input found after parsing: one line, exit 2
    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
    print(f"adv-landscape {args.command}: error: {msg}", file=sys.stderr)
    return 2


if __name__ == "__main__":
  sys.exit(main())
