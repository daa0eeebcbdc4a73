"""The ``adv-landscape`` command line.

Every command takes --seed, --json PATH (written atomically), --x64 and shows
progress bars on long work. Invalid input (an ``InvalidInput`` from the
library, or an argparse error) exits with code 2 and one line naming the
argument, the file and what to do; output paths are checked before any
computation and nothing is written then. Any other exception is a bug and
keeps its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time

import numpy as np

__all__ = ["main"]


from adv_landscape.errors import InvalidInput


class _Help(argparse.ArgumentDefaultsHelpFormatter):
  """Shows "(default: X)" after each option's help, except for flags and unset values.

  An option whose default is None says in its own help what None means.
  """

  def _get_help_string(self, action):
    if action.default is None or action.default is False:
      return action.help
    return super()._get_help_string(action)

  def _fill_text(self, text, width, indent):
    if "\n" in text:  # the examples: kept line by line as written
      return "".join(indent + line for line in text.splitlines(keepends=True))
    return super()._fill_text(text, width, indent)


class _Parser(argparse.ArgumentParser):
  """argparse, but a usage error is one line, exit code 2, and help shows every default."""

  def __init__(self, *args, **kwargs):
    kwargs.setdefault("formatter_class", _Help)
    super().__init__(*args, **kwargs)

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


SEED_MAX = 2**31 - 1  # seeds travel as int32 when x64 is off


def _seed(text):
  try:
    v = int(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f"seed={text!r} is not an integer") from None
  if not 0 <= v <= SEED_MAX:
    raise argparse.ArgumentTypeError(f"seed={text} is out of range; give an integer in "
                                     f"[0, {SEED_MAX}]")
  return v


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


def _common(p: argparse.ArgumentParser, *, x64: bool = True) -> None:
  g = p.add_argument_group("common")
  g.add_argument("--seed", type=_seed, default=0, help="PRNG seed (a non-negative integer)")
  g.add_argument("--json", metavar="PATH", default=None,
                 help="also write the results here as JSON, atomically (checked before any "
                      "computation; not written by default)")
  if x64:  # verify's grid points choose their own precision: the flag would change nothing
    g.add_argument("--x64", action="store_true",
                   help="run PGA in float64 (certificates are always float64)")
  g.add_argument("--no-progress", action="store_true",
                 help="hide progress bars (notices such as 'resuming' still go to stderr)")


def _instance_args(p: argparse.ArgumentParser, *, ascent: bool = True) -> None:
  from adv_landscape.activations import ACTIVATIONS
  from adv_landscape.ascent import INITS
  from adv_landscape.losses import LOSSES
  from adv_landscape.problem import NORMS, LinfBall
  from adv_landscape.step_rules import STEP_RULES

  g = p.add_argument_group(
      "instance", "a user's network (--weights with --x) or a synthetic one (--d, --m, "
      "--activation, --scale, --outputs)")
  g.add_argument("--weights", metavar="NET", default=None,
                 help="network file: .npz (W (m,d), a (m,) or (m,K), optional b (m,), c, "
                      "activation; a deep one W1, b1, W2, b2, ..., a), or a PyTorch "
                      "state_dict in .pt/.pth (extra 'torch') or .safetensors (extra "
                      "'safetensors') with two or more Linear layers (None: a synthetic "
                      "instance)")
  g.add_argument("--x", metavar="X.npy", default=None,
                 help="input x of shape (d,), with --weights (None: a synthetic instance)")
  g.add_argument("--y", type=_finite("y"), default=None,
                 help="label: the target (quadratic, huber), the sign +-1 (logistic, "
                      "exponential, linear) or the class index (softmax_ce); required with "
                      "--weights (None, for a synthetic instance, means 1.0, or class 0)")
  g.add_argument("--d", type=_positive_int("d"), default=None,
                 help="synthetic input dimension (None means 20; with --weights it must match "
                      "the file)")
  g.add_argument("--m", type=_positive_int("m"), default=None,
                 help="synthetic width (None means 200; with --weights it must match the file)")
  g.add_argument("--depth", type=_positive_int("depth"), default=None,
                 help="synthetic hidden layers (None means 1, the paper's two-layer network); "
                      "deeper networks are differentiated by autodiff, without rigorous bounds")
  g.add_argument("--widths", default=None, metavar="M1,M2,...",
                 help="synthetic hidden widths, comma-separated (None means --m repeated "
                      "--depth times)")
  g.add_argument("--outputs", type=_positive_int("outputs"), default=None,
                 help="synthetic K-output head for softmax_ce (None: one output)")
  g.add_argument("--activation", default=None, choices=sorted(ACTIVATIONS),
                 help="activation (None means tanh for a synthetic network; with --weights it "
                      "supplies one the file lacks, or overrides the file's with a warning)")
  g.add_argument("--scale", type=_positive("scale"), default=None,
                 help="input scale s of the synthetic x (None means 1.0)")
  g.add_argument("--loss", default="quadratic", metavar="LOSS",
                 help=f"one of {', '.join(sorted(LOSSES))}, or package.module:function, a JAX "
                      f"function l(u, y) (derivatives by autodiff; no rigorous bounds, proofs "
                      f"or lipschitz step rule then)")
  g.add_argument("--norm", default="2", choices=NORMS,
                 help="threat model (problem.CONSTRAINTS): the l2 ball (the paper's) or the "
                      "l_inf ball (the box |delta_i| <= eps of l_inf PGD)")
  r = g.add_mutually_exclusive_group()
  r.add_argument("--eps", type=_positive("eps"), default=None,
                 help="radius of the ball (None: set by --gamma)")
  r.add_argument("--gamma", type=_positive("gamma"), default=None,
                 help="perturbation ratio (None means 0.5 unless --eps): eps = gamma ||x|| for "
                      "l2, eps = gamma ||x|| / sqrt(d) for l_inf (the box whose vertices lie "
                      "on the l2 sphere of the same gamma)")
  if not ascent:
    return
  a = p.add_argument_group("ascent")
  a.add_argument("--inits", type=_positive_int("inits"), default=1000, help="restarts N")
  a.add_argument("--init", default=None, choices=sorted(set(INITS) | set(LinfBall.INITS)),
                 help="where the restarts start (None means sphere for l2, vertex for l_inf). "
                      "l2: uniform on the sphere, uniform in the ball, 0, or eps g/||g||; "
                      "l_inf: random vertices, uniform in the box, 0, or eps sign(g)")
  a.add_argument("--step-rule", default="normalized", choices=list(STEP_RULES),
                 help="; ".join(f"{r.name}: {r.help}" for r in STEP_RULES.values())
                 .replace("%", "%%") + " (STEP is c)")
  a.add_argument("--step", type=_positive("step"), default=None,
                 help="the constant c of the step rule (see --step-rule; None means each "
                      "rule's default: 2 for apgd, 0.05 for the others)")
  a.add_argument("--max-steps", type=_positive_int("max-steps"), default=10_000,
                 help="iteration budget per restart; a restart still moving then is "
                      "'not converged'")
  a.add_argument("--tol-g", type=_positive("tol-g"), default=None,
                 help="first-order tolerance on ||G(delta)|| (None means 1e-6 ||grad L(0)|| "
                      "with --x64, else 1e-4 ||grad L(0)||)")
  a.add_argument("--tol-c", type=_positive("tol-c"), default=1e-3,
                 help="maxima closer than tol-c * eps are one maximum")
  a.add_argument("--chunk", type=_positive_int("chunk"), default=None,
                 help="restarts per compiled batch (None means 8192, or fewer so that every "
                      "process of a many-process run gets a chunk)")


def _join(args) -> bool:
  """Joins the run's processes (``distributed.initialize``); True on process 0, which alone
  prints the results and writes files."""
  from adv_landscape import distributed as dist

  dist.initialize(args.coordinator, args.num_processes, args.process_id, cluster=args.cluster)
  return dist.rank() == 0


def cmd_census(args) -> int:
  from adv_landscape import instances, io, reports
  from adv_landscape.pipeline import PGAConfig, Tolerances, run_census
  from adv_landscape.step_rules import get_rule, resolve_step

  args.step = resolve_step(args.step_rule, args.step)
  if args.stream and args.save_endpoints:
    raise InvalidInput("--stream keeps no endpoints, so it cannot --save-endpoints; drop one")
  if args.json:
    io.check_output_file(args.json, "json", inputs={"x": args.x, "weights": args.weights})
  writer = _join(args)
  net, loss, x, y, eps, key, source = instances.build_instance(args)
  args.init = args.init or ("vertex" if args.norm == "inf" else "sphere")
  instances.check_norm_args(args)
  if source["depth"] > 1 and get_rule(args.step_rule).ell == "rigorous":
    raise InvalidInput("--step-rule lipschitz needs the rigorous ell, which exists for "
                       "two-layer networks only; use curvature (ell estimated over the ball), "
                       "grad0 or normalized")
  if args.chunk is None:  # every process needs a chunk of its own
    args.chunk = min(8192, -(-args.inits // _processes()))
  config = PGAConfig(step_rule=args.step_rule, step=args.step, init=args.init, tol_g=args.tol_g,
                     max_steps=args.max_steps, chunk=args.chunk)
  tols = Tolerances.for_dtype(x.dtype, tol_c=args.tol_c)
  if loss.sups is None:
    print(f"note       loss {loss.name} is a user loss without derivative bounds: no rigorous "
          f"ell or proof radii (the certificates and the census are unaffected)")
  if source["depth"] > 1:
    from adv_landscape.pipeline import run_census_problem
    print(f"note       a {source['depth']}-hidden-layer network: derivatives by autodiff; no "
          f"rigorous bounds, T1 or proof radii (they exist for two-layer networks)")
    run = run_census_problem(instances.problem(net, loss, x, y, eps=eps, norm=args.norm),
                             key=key, n_restarts=args.inits, config=config, tolerances=tols,
                             stream=args.stream, progress=not args.no_progress)
  else:
    run = run_census(net, loss, x, y, eps=eps, key=key, n_restarts=args.inits, config=config,
                     tolerances=tols, stream=args.stream, progress=not args.no_progress,
                     norm=args.norm)
  summary, maxima = dict(run.summary), run.maxima
  if args.stream:
    summary["iteration_histogram"] = run.iteration_histogram
  if not writer:
    return 0
  print("\n".join(reports.census_lines(source, args, run.config, summary, maxima)))
  if args.json:
    out = reports.census_json(source, args, run, tols, summary, maxima,
                              pga_dtype=str(np.asarray(x).dtype), processes=_processes(),
                              versions=io.versions())
    io.write_json_atomic(args.json, out)
    print(f"wrote {args.json}")
  return 0


def cmd_hunt(args) -> int:
  """``adv-landscape hunt``: the interior critical-point hunt of claim A on one instance."""
  import jax
  import jax.numpy as jnp

  from adv_landscape import instances, io
  from adv_landscape.hunt import hunt_interior_critical_problem

  if args.json:
    io.check_output_file(args.json, "json", inputs={"x": args.x, "weights": args.weights})
  net, loss, x, y, eps, key, source = instances.build_instance(args)
  d = int(source["d"])
  need = 8.0 * 6 * args.inits * d * d  # the starts' Hessians and their eigendecompositions
  if need > 0.5 * instances.available_bytes():
    raise InvalidInput(f"--inits {args.inits} at d = {d} needs about {need / 2**30:.3g} GiB "
                       f"of Hessians; use fewer --inits")
  with jax.enable_x64(True):
    problem = instances.problem(net, loss, x, y, eps=eps, dtype=jnp.float64, norm=args.norm)
    h = hunt_interior_critical_problem(problem, key=jax.random.fold_in(key, 2),
                                       n_starts=args.inits)
  out = h.to_json()
  lim = out["detection_limit"]
  print(f"instance   {source.get('d')} inputs, eps={eps:.4g}, loss {source['loss']}, "
        f"norm {args.norm}")
  print(f"hunt       {h.f_starts} starts for zeros of grad f, {h.n_starts - h.f_starts} for "
        f"zeros of grad L, uniform in the ball")
  closest = (f"closest ||grad f|| / ||grad f(x)|| {h.closest:.3g}" if h.candidates_inside
             else "none to classify")
  print(f"inside     {h.candidates_inside} of the grad f searches ended strictly inside "
        f"(the rest were pushed onto the surface); {closest}")
  print(f"found      {h.found} non-trivial interior critical points, {h.interior_max} of them "
        f"local maxima; {h.trivial} trivial minima (l'(f) = 0) apart")
  print(f"limit      a basin of at least {lim:.3g} of the ball's volume would have been hit "
        f"with probability 0.95")
  if args.json:
    io.write_json_atomic(args.json, {"config": {**source, "command": "hunt", "seed": args.seed,
                                                "inits": args.inits,
                                                "versions": io.versions()},
                                     **out})
    print(f"wrote {args.json}")
  return 0


def cmd_verify(args) -> int:
  from adv_landscape import io
  from adv_landscape.verify import run_verify

  io.check_output_folder(args.out, "out")
  if args.json:
    if os.path.abspath(args.json) == os.path.abspath(os.path.join(args.out, "report.json")):
      raise InvalidInput(f"json={args.json!r} is the report itself; give another path")
    io.check_output_file(args.json, "json")
  from adv_landscape.sweep import read_records

  read_records(os.path.join(args.out, "sweep.jsonl"))  # a damaged file is named now, not later
  writer = _join(args)
  with io.FolderLock(args.out) if writer else contextlib.nullcontext():
    report = run_verify(args.out, quick=args.quick, seed=args.seed, seeds=args.seeds,
                        progress=not args.no_progress and writer, norm=args.norm,
                        depth=args.depth)
  if not writer:
    return 0
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
    print("CONTROL NOT DETECTED: a planted control did not come out as planted (see the "
          "report)")
  print(f"sufficient-increase violations where eta <= 1/ell: {report['increase_violations']}; "
        f"T1 violations: {report['t1_violations']}; {report['seconds']:.0f} s in this run "
        f"({report['points_reused']} of {report['config']['grid_points']} grid points reused); "
        f"report in {os.path.join(args.out, 'report.md')}")
  if args.json:
    io.write_json_atomic(args.json, report)
  return 0


def _processes() -> int:
  from adv_landscape import distributed as dist

  return dist.size()


def _processes_args(p) -> None:
  g = p.add_argument_group(
      "many processes", "one run over several processes or hosts (jax.distributed); all "
      "three on every process, or --cluster, or none for one process")
  g.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                 help="process 0's address and a free port, the same on every process")
  g.add_argument("--num-processes", type=_positive_int("num-processes"), default=None,
                 help="how many processes take part")
  g.add_argument("--process-id", type=int, default=None, help="this process's index, 0..N-1")
  g.add_argument("--cluster", action="store_true",
                 help="take the three from the cluster's environment (SLURM, Open MPI, TPU "
                      "pods: jax.distributed.initialize() with no arguments)")


EXPERIMENTS = ("rq1_local_max", "rq2_input_scale", "rq3_landscape", "one_step")


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

  from adv_landscape import io
  from adv_landscape.data import DATASETS

  folder = _experiments_dir()
  if not os.path.isdir(folder):
    raise InvalidInput(f"experiments folder {folder!r} not found: reproduce runs from a source "
                       f"checkout (pip install -e .)")
  if args.data not in DATASETS and not os.path.isdir(args.data):
    raise InvalidInput(f"data={args.data!r} is neither one of {list(DATASETS)} nor a folder")
  if args.data == "synthetic":
    raise InvalidInput("data='synthetic': reproduce needs a real data set (digits, "
                       "fashion-mnist, or a folder of IDX files)")
  out = args.out
  if out is None:  # the experiments' own default (experiments.common.default_out)
    _source_package("experiments", folder)
    out = importlib.import_module("experiments.common").default_out(args.quick or args.smoke,
                                                                     args.norm)
  io.check_output_folder(out, "out")
  if args.json:
    io.check_output_file(args.json, "json")
  flags = ["--data", args.data, "--out", out, "--seed", str(args.seed), "--norm", args.norm]
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
    io.write_json_atomic(args.json, {"figures": paths, "flags": flags,
                                     "seconds": time.perf_counter() - t0})
  return 0


def cmd_bench(args) -> int:
  import importlib

  from adv_landscape import io

  folder = os.path.join(os.path.dirname(_experiments_dir()), "benchmarks")
  if not os.path.isdir(folder):
    raise InvalidInput("benchmarks/ not found: bench runs from a source checkout")
  if args.json:
    io.check_output_file(args.json, "json")
  _source_package("benchmarks", folder)
  pga = importlib.import_module("benchmarks.pga")
  argv = ["--steps", str(args.steps), "--reps", str(args.reps)]
  argv += ["--json", args.json] if args.json else []
  argv += ["--sizes", args.sizes] if args.sizes else []
  pga.main(argv)
  return 0


_EXAMPLES = {
    "census": """examples:
  adv-landscape census --d 20 --m 200 --gamma 0.5 --inits 2000 --x64
  adv-landscape census --weights NET.npz --x X.npy --y 1 --eps 0.5 --json out.json
  adv-landscape census --weights model.pt --activation tanh --x X.npy --y 3 --loss softmax_ce
  adv-landscape census --norm inf --d 20 --m 200 --step-rule grad0 --step 0.1 --x64
  adv-landscape census --d 784 --m 1024 --inits 1000000 --stream --json big.json
loss formulas: docs/theory.md section 9; output fields: docs/output.md""",
    "hunt": """examples:
  adv-landscape hunt --d 32 --m 128 --inits 256 --json hunt.json
  adv-landscape hunt --weights NET.npz --x X.npy --y 1 --eps 0.5 --norm inf
output fields: docs/output.md""",
    "verify": """examples:
  adv-landscape verify --quick --out verify-report   # rerun the same command to resume
  adv-landscape verify --quick --norm inf
  adv-landscape verify --out verify-full             # the full grid""",
    "reproduce": """examples:
  adv-landscape reproduce --quick                    # into ./figures-quick/
  adv-landscape reproduce --data fashion-mnist --out figures-fmnist""",
}


def build_parser() -> argparse.ArgumentParser:
  from adv_landscape._version import __version__

  p = _Parser(
      prog="adv-landscape",
      description="Certify and count the local maxima that projected gradient ascent finds "
                  "on the inputs of two-layer networks (Deng, He, Huang, Su, ICML 2020).")
  p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
  sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
  c = sub.add_parser("census", help="PGA from many starts, certificates, distinct maxima",
                     description="PGA from many starts on one instance, a certificate for every "
                                 "endpoint, the distinct maxima and their proofs.",
                     epilog=_EXAMPLES["census"])
  _instance_args(c)
  c.add_argument("--save-endpoints", action="store_true",
                 help="also write every endpoint to the JSON")
  c.add_argument("--stream", action="store_true",
                 help="reduce each chunk into the census and drop it (memory independent of "
                      "--inits; greedy clustering in chunk order; proofs serve the "
                      "certificates only)")
  _processes_args(c)
  _common(c)
  c.set_defaults(func=cmd_census)
  h = sub.add_parser("hunt", help="search for interior critical points (claim A) on one instance",
                     description="Searches for zeros of grad f strictly inside the ball (the "
                                 "only candidates for an interior local maximum), from --inits "
                                 "uniform starts, and classifies what it finds; says the "
                                 "smallest basin it would have hit with probability 0.95.",
                     epilog=_EXAMPLES["hunt"])
  _instance_args(h, ascent=False)
  h.add_argument("--inits", type=_positive_int("inits"), default=64,
                 help="starts N (half search zeros of grad f, half zeros of grad L)")
  h.set_defaults(stream=False, chunk=None)
  _common(h, x64=False)
  h.set_defaults(func=cmd_hunt)
  v = sub.add_parser("verify", help="claims A-D on the built-in grid; writes a report",
                     description="Claims A-D of the paper, and their planted controls, on the "
                                 "built-in synthetic grid; writes report.md, report.json, "
                                 "figures and the resumable sweep.jsonl into --out.",
                     epilog=_EXAMPLES["verify"])
  v.add_argument("--quick", action="store_true", help="the small grid (minutes on 2 cores)")
  v.add_argument("--out", default="verify-report",
                 help="report folder; a killed run resumes from its sweep.jsonl")
  v.add_argument("--seeds", type=_positive_int("seeds"), default=None,
                 help="seeds per grid point (None means 2 with --quick, 4 for the full grid)")
  v.add_argument("--norm", default="2", choices=("2", "inf"),
                 help="threat model of every grid point: the l2 ball, or the l_inf ball with "
                      "vertex/box starts and sign steps in place of the normalized ones")
  v.add_argument("--depth", type=_positive_int("depth"), default=1,
                 help="hidden layers of the paper's grid points (the planted controls stay "
                      "two-layer); > 1 runs by autodiff, with curvature steps for lipschitz ones")
  _processes_args(v)
  _common(v, x64=False)
  v.set_defaults(func=cmd_verify)
  r = sub.add_parser("reproduce", help="regenerate every figure of the paper's experiments",
                     description="Runs experiments/rq1..rq3 and one_step and writes their figures and "
                                 "*_summary.json files.", epilog=_EXAMPLES["reproduce"])
  r.add_argument("--quick", action="store_true", help="small versions (minutes on 2 cores)")
  r.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)
  r.add_argument("--data", default="digits",
                 help="digits, fashion-mnist, or a folder of MNIST-format IDX files")
  r.add_argument("--data-dir", default=None,
                 help="where the fashion-mnist IDX files are (None: Debian's "
                      "dataset-fashion-mnist location)")
  r.add_argument("--out", default=None,
                 help="figure folder (None means figures/, or figures-quick/ with --quick, with "
                      "-inf appended for --norm inf, in the current folder, so that no run "
                      "overwrites another's)")
  r.add_argument("--norm", default="2", choices=("2", "inf"),
                 help="threat model of every experiment: the l2 ball, or the l_inf box of "
                      "half-width gamma ||x|| / sqrt(d) (sign steps in adversarial training)")
  _common(r)
  r.set_defaults(func=cmd_reproduce)
  b = sub.add_parser("bench", help="PGA throughput against the GEMM bound (benchmarks/pga.py)",
                     description="Times batched PGA steps against the GEMM roofline of this "
                                 "machine (and the attack libraries, with the extra 'bench').")
  b.add_argument("--steps", type=_positive_int("steps"), default=200,
                 help="PGA steps per timed run")
  b.add_argument("--reps", type=_positive_int("reps"), default=5,
                 help="timed repetitions per size (the median is reported)")
  b.add_argument("--sizes", default=None,
                 help="d:m:B triples, comma-separated (None: the built-in sizes)")
  _common(b)
  b.set_defaults(func=cmd_bench)
  return p


def main(argv: list[str] | None = None) -> int:
  parser = build_parser()
  args = parser.parse_args(argv)
  from adv_landscape import compile_cache

  compile_cache.enable()  # ADV_LANDSCAPE_CACHE_DIR=off turns it off
  if getattr(args, "x64", False):
    import jax
    jax.config.update("jax_enable_x64", True)
  try:
    return args.func(args)
  except InvalidInput as e:  # bad input found after parsing: one line, exit 2
    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
    print(f"adv-landscape {args.command}: error: {msg}", file=sys.stderr)
    return 2
  except KeyboardInterrupt:  # Ctrl-C: one line, not a traceback (128 + SIGINT)
    what = {"verify": "rerun the same command to resume (finished grid points are kept)",
            "reproduce": "rerun the same command (figures already written are kept)"}
    print(f"\nadv-landscape {args.command}: interrupted; "
          + what.get(args.command, "nothing was written (results are written at the end)"),
          file=sys.stderr)
    return 130


if __name__ == "__main__":
  sys.exit(main())
