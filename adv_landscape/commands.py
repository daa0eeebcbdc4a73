"""What each command of ``adv-landscape`` does, once its arguments are parsed (``cli`` builds
the parser and dispatches here): census, hunt, verify, reproduce and bench.

Each ``cmd_*`` takes the parsed arguments and returns the exit code; invalid input raises
``InvalidInput`` (``cli.main`` turns it into one line and exit code 2), found before any
long computation.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

import numpy as np

from adv_landscape.errors import InvalidInput

__all__ = ["cmd_census", "cmd_hunt", "cmd_verify", "cmd_reproduce", "cmd_bench", "EXPERIMENTS"]

def _join(args) -> bool:
  """Joins the run's processes (``distributed.initialize``); True on process 0, which alone
  prints the results and writes files."""
  from adv_landscape import distributed as dist

  dist.initialize(args.coordinator, args.num_processes, args.process_id, cluster=args.cluster)
  return dist.rank() == 0


def cmd_census(args) -> int:
  from adv_landscape import instances, io, reports
  from adv_landscape.pipeline import PGAConfig, Tolerances, run_census
  from adv_landscape.problem import default_init
  from adv_landscape.step_rules import get_rule, resolve_step

  args.step = resolve_step(args.step_rule, args.step)
  if args.stream and args.save_endpoints:
    raise InvalidInput("--stream keeps no endpoints, so it cannot --save-endpoints; drop one")
  if args.json:
    io.check_output_file(args.json, "json", inputs={"x": args.x, "weights": args.weights})
  writer = _join(args)
  net, loss, x, y, eps, key, source = instances.build_instance(args)
  args.init = args.init or default_init(args.norm)
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
    print(f"note       a {source['depth']}-hidden-layer network: derivatives by autodiff; no "
          f"rigorous bounds, T1 or proof radii (they exist for two-layer networks)")
  run = run_census(instances.problem(net, loss, x, y, eps=eps, norm=args.norm), key=key,
                   n_restarts=args.inits, config=config, tolerances=tols, stream=args.stream,
                   progress=not args.no_progress)
  summary, maxima = dict(run.summary), run.maxima
  if args.stream:
    summary["iteration_histogram"] = run.iteration_histogram
  if getattr(args, "bound", False):
    from adv_landscape.models import certified_gap
    summary.update(certified_gap(net, loss, x, y, eps, args.norm, summary["best_value"]))
  if getattr(args, "global_max", False):
    from adv_landscape.models import certified_global
    fields, flags = certified_global(net, loss, x, y, eps, args.norm, maxima, args.inits)
    summary.update(fields)
    maxima = [{**mx, "is_global": f} for mx, f in zip(maxima, flags)]
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


def _prove_a(net, loss, x, y, eps, args) -> dict:
  """``hunt --prove``: critical.no_interior_maximum on the instance, as JSON fields."""
  from adv_landscape.critical import no_interior_maximum
  from adv_landscape.models import family_of

  if not family_of(net).rigorous or args.norm != "2":
    return {"status": "not available: the proof reads a two-layer network on the l2 ball",
            "regions": 0, "live": 0, "dimension": 0, "seconds": 0.0}
  pr = no_interior_maximum(net, loss, x, y, eps, max_regions=args.prove_budget)
  return {"status": pr.status, "regions": pr.regions, "live": pr.live,
          "dimension": pr.dimension, "seconds": pr.seconds,
          "unresolved": None if pr.unresolved is None else pr.unresolved.tolist()}


def cmd_hunt(args) -> int:
  """``adv-landscape hunt``: the interior critical-point hunt of claim A on one instance."""
  import jax
  import jax.numpy as jnp

  from adv_landscape import instances, io
  from adv_landscape.hunt import hunt_interior_critical

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
    h = hunt_interior_critical(problem, key=jax.random.fold_in(key, 2),
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
  if args.prove:
    out["proof"] = _prove_a(net, loss, x, y, eps, args)
    pr = out["proof"]
    if pr["status"] == "proved":
      print(f"proof      proved: L has no local maximum inside the ball ({pr['regions']} "
            f"regions in {pr['dimension']} coordinates, {pr['seconds']:.3g} s)")
    elif pr["status"] == "budget":
      print(f"proof      undecided: {pr['live']} regions left after {pr['regions']} "
            f"(--prove-budget); a maximum may lie in them")
    else:
      print(f"proof      {pr['status']}")
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
                                                                     args.norm, args.data)
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
