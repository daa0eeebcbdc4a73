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
import sys

from adv_landscape.arguments import Parser, finite, positive, positive_int, seed
from adv_landscape.errors import InvalidInput

__all__ = ["main"]


def _common(p: argparse.ArgumentParser, *, x64: bool = True) -> None:
  g = p.add_argument_group("common")
  g.add_argument("--seed", type=seed, default=0, help="PRNG seed (a non-negative integer)")
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
  from adv_landscape.config import Tolerances
  from adv_landscape.losses import LOSSES
  from adv_landscape.problem import ALL_INITS, NORMS
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
  g.add_argument("--y", type=finite("y"), default=None,
                 help="label: the target (quadratic, huber), the sign +-1 (logistic, "
                      "exponential, linear) or the class index (softmax_ce); required with "
                      "--weights (None, for a synthetic instance, means 1.0, or class 0)")
  g.add_argument("--d", type=positive_int("d"), default=None,
                 help="synthetic input dimension (None means 20; with --weights it must match "
                      "the file)")
  g.add_argument("--m", type=positive_int("m"), default=None,
                 help="synthetic width (None means 200; with --weights it must match the file)")
  g.add_argument("--depth", type=positive_int("depth"), default=None,
                 help="synthetic hidden layers (None means 1, the paper's two-layer network); "
                      "deeper networks are differentiated by autodiff, without rigorous bounds")
  g.add_argument("--widths", default=None, metavar="M1,M2,...",
                 help="synthetic hidden widths, comma-separated (None means --m repeated "
                      "--depth times)")
  g.add_argument("--outputs", type=positive_int("outputs"), default=None,
                 help="synthetic K-output head for softmax_ce (None: one output)")
  g.add_argument("--activation", default=None, choices=sorted(ACTIVATIONS),
                 help="activation (None means tanh for a synthetic network; with --weights it "
                      "supplies one the file lacks, or overrides the file's with a warning)")
  g.add_argument("--scale", type=positive("scale"), default=None,
                 help="input scale s of the synthetic x (None means 1.0)")
  g.add_argument("--loss", default="quadratic", metavar="LOSS",
                 help=f"one of {', '.join(sorted(LOSSES))}, or package.module:function, a JAX "
                      f"function l(u, y) (derivatives by autodiff; no rigorous bounds, proofs "
                      f"or lipschitz step rule then)")
  g.add_argument("--norm", default="2", choices=NORMS,
                 help="threat model (problem.CONSTRAINTS): the l2 ball (the paper's) or the "
                      "l_inf ball (the box |delta_i| <= eps of l_inf PGD)")
  r = g.add_mutually_exclusive_group()
  r.add_argument("--eps", type=positive("eps"), default=None,
                 help="radius of the ball (None: set by --gamma)")
  r.add_argument("--gamma", type=positive("gamma"), default=None,
                 help="perturbation ratio (None means 0.5 unless --eps): eps = gamma ||x|| for "
                      "l2, eps = gamma ||x|| / sqrt(d) for l_inf (the box whose vertices lie "
                      "on the l2 sphere of the same gamma)")
  if not ascent:
    return
  a = p.add_argument_group("ascent")
  a.add_argument("--inits", type=positive_int("inits"), default=1000, help="restarts N")
  a.add_argument("--init", default=None, choices=ALL_INITS,
                 help="where the restarts start (None means sphere for l2, vertex for l_inf). "
                      "l2: uniform on the sphere, uniform in the ball, 0, or eps g/||g||; "
                      "l_inf: random vertices, uniform in the box, 0, or eps sign(g)")
  a.add_argument("--step-rule", default="normalized", choices=list(STEP_RULES),
                 help="; ".join(f"{r.name}: {r.help}" for r in STEP_RULES.values())
                 .replace("%", "%%") + " (STEP is c)")
  a.add_argument("--step", type=positive("step"), default=None,
                 help="the constant c of the step rule (see --step-rule; None means each "
                      "rule's default: 2 for apgd, 0.05 for the others)")
  a.add_argument("--max-steps", type=positive_int("max-steps"), default=10_000,
                 help="iteration budget per restart; a restart still moving then is "
                      "'not converged'")
  a.add_argument("--tol-g", type=positive("tol-g"), default=None,
                 help="first-order tolerance on ||G(delta)|| (None means 1e-6 ||grad L(0)|| "
                      "with --x64, else 1e-4 ||grad L(0)||)")
  a.add_argument("--tol-c", type=positive("tol-c"), default=Tolerances.tol_c,
                 help="maxima closer than tol-c * eps are one maximum")
  a.add_argument("--chunk", type=positive_int("chunk"), default=None,
                 help="restarts per compiled batch (None means 8192, or fewer so that every "
                      "process of a many-process run gets a chunk)")


def _processes_args(p) -> None:
  g = p.add_argument_group(
      "many processes", "one run over several processes or hosts (jax.distributed); all "
      "three on every process, or --cluster, or none for one process")
  g.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                 help="process 0's address and a free port, the same on every process")
  g.add_argument("--num-processes", type=positive_int("num-processes"), default=None,
                 help="how many processes take part")
  g.add_argument("--process-id", type=int, default=None, help="this process's index, 0..N-1")
  g.add_argument("--cluster", action="store_true",
                 help="take the three from the cluster's environment (SLURM, Open MPI, TPU "
                      "pods: jax.distributed.initialize() with no arguments)")


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
  from adv_landscape import commands
  from adv_landscape._version import __version__

  p = Parser(
      prog="adv-landscape",
      description="Certify and count the local maxima that projected gradient ascent finds "
                  "on the inputs of two-layer networks (Deng, He, Huang, Su, ICML 2020).")
  p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
  sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
  c = sub.add_parser("census", help="PGA from many starts, certificates, distinct maxima",
                     description="PGA from many starts on one instance, a certificate for every "
                                 "endpoint, the distinct maxima and their proofs.",
                     epilog=_EXAMPLES["census"])
  _instance_args(c)
  c.add_argument("--save-endpoints", action="store_true",
                 help="also write every endpoint to the JSON")
  c.add_argument("--bound", action="store_true",
                 help="also a certified upper bound on max L over the set (two-layer "
                      "networks: linear relaxation and interval bounds of f) and PGA's gap to "
                      "it")
  c.add_argument("--global", dest="global_max", action="store_true",
                 help="also the global maximum, certified by branch and bound on the same "
                      "bounds (two-layer networks with a scalar output; practical for d up "
                      "to about 4), and p_global, the share of restarts that reached it")
  c.add_argument("--stream", action="store_true",
                 help="reduce each chunk into the census and drop it (memory independent of "
                      "--inits; greedy clustering in chunk order; proofs serve the "
                      "certificates only)")
  _processes_args(c)
  _common(c)
  c.set_defaults(func=commands.cmd_census)
  h = sub.add_parser("hunt", help="search for interior critical points (claim A) on one instance",
                     description="Searches for zeros of grad f strictly inside the ball (the "
                                 "only candidates for an interior local maximum), from --inits "
                                 "uniform starts, and classifies what it finds; says the "
                                 "smallest basin it would have hit with probability 0.95.",
                     epilog=_EXAMPLES["hunt"])
  _instance_args(h, ascent=False)
  h.add_argument("--inits", type=positive_int("inits"), default=64,
                 help="starts N (half search zeros of grad f, half zeros of grad L)")
  h.add_argument("--prove", action="store_true",
                 help="also prove that L has no local maximum inside the ball, by branch and "
                      "bound (two-layer networks on the l2 ball, built-in scalar losses; "
                      "practical where rank W is at most about 10)")
  h.add_argument("--prove-budget", type=positive_int("prove-budget"), default=200_000,
                 help="regions the proof may bound before it stops undecided")
  h.set_defaults(stream=False, chunk=None)
  _common(h, x64=False)
  h.set_defaults(func=commands.cmd_hunt)
  v = sub.add_parser("verify", help="claims A-D on the built-in grid; writes a report",
                     description="Claims A-D of the paper, and their planted controls, on the "
                                 "built-in synthetic grid; writes report.md, report.json, "
                                 "figures and the resumable sweep.jsonl into --out.",
                     epilog=_EXAMPLES["verify"])
  v.add_argument("--quick", action="store_true", help="the small grid (minutes on 2 cores)")
  v.add_argument("--out", default="verify-report",
                 help="report folder; a killed run resumes from its sweep.jsonl")
  v.add_argument("--seeds", type=positive_int("seeds"), default=None,
                 help="seeds per grid point (None means 2 with --quick, 4 for the full grid)")
  v.add_argument("--norm", default="2", choices=("2", "inf"),
                 help="threat model of every grid point: the l2 ball, or the l_inf ball with "
                      "vertex/box starts and sign steps in place of the normalized ones")
  v.add_argument("--depth", type=positive_int("depth"), default=1,
                 help="hidden layers of the paper's grid points (the planted controls stay "
                      "two-layer); > 1 runs by autodiff, with curvature steps for lipschitz ones")
  _processes_args(v)
  _common(v, x64=False)
  v.set_defaults(func=commands.cmd_verify)
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
                      "-inf appended for --norm inf, and a subfolder named after the data set "
                      "unless it is digits, in the current folder, so that no run overwrites "
                      "another's)")
  r.add_argument("--norm", default="2", choices=("2", "inf"),
                 help="threat model of every experiment: the l2 ball, or the l_inf box of "
                      "half-width gamma ||x|| / sqrt(d) (sign steps in adversarial training)")
  _common(r)
  r.set_defaults(func=commands.cmd_reproduce)
  b = sub.add_parser("bench", help="PGA throughput against the GEMM bound (benchmarks/pga.py)",
                     description="Times batched PGA steps against the GEMM roofline of this "
                                 "machine (and the attack libraries, with the extra 'bench').")
  b.add_argument("--steps", type=positive_int("steps"), default=200,
                 help="PGA steps per timed run")
  b.add_argument("--reps", type=positive_int("reps"), default=5,
                 help="timed repetitions per size (the median is reported)")
  b.add_argument("--sizes", default=None,
                 help="d:m:B triples, comma-separated (None: the built-in sizes)")
  _common(b)
  b.set_defaults(func=commands.cmd_bench)
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
            "reproduce": "rerun the same command to resume (RQ2 keeps its finished training "
                         "runs; the other experiments start again)"}
    print(f"\nadv-landscape {args.command}: interrupted; "
          + what.get(args.command, "nothing was written (results are written at the end)"),
          file=sys.stderr)
    return 130


if __name__ == "__main__":
  sys.exit(main())
