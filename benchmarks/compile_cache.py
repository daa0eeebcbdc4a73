"""A repeated command line run with and without JAX's persistent compilation cache.

Each run is a fresh process (``adv-landscape census``), as a user repeats a command:
``off`` (ADV_LANDSCAPE_CACHE_DIR=off), ``cold`` (an empty cache folder: compiling and
writing every program) and ``warm`` (the same folder again: reading them), alternating
so that drift of the machine affects all three alike. Wall time per run, medians per
kind, and the ratios warm / off and cold / off within the one run.

Run:  python -m benchmarks.compile_cache --reps 2 --json benchmarks/results/compile_cache.json
      (about 2 minutes on 2 CPU cores)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

from adv_landscape import io

ARGV = ["census", "--d", "784", "--m", "1024", "--inits", "256", "--no-progress"]


def _run(cache: str) -> float:
  env = dict(os.environ, ADV_LANDSCAPE_CACHE_DIR=cache)
  t = time.perf_counter()
  out = subprocess.run([sys.executable, "-m", "adv_landscape.cli", *ARGV], env=env,
                       capture_output=True, text=True)
  if out.returncode:
    raise SystemExit(out.stderr)
  return time.perf_counter() - t


def main(argv=None) -> dict:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--reps", type=int, default=2)
  p.add_argument("--json", default=None)
  args = p.parse_args(argv)
  times = {"off": [], "cold": [], "warm": []}
  for _ in range(args.reps):
    folder = tempfile.mkdtemp(prefix="jaxcache-")
    try:
      times["off"].append(_run("off"))
      times["cold"].append(_run(folder))
      times["warm"].append(_run(folder))
    finally:
      shutil.rmtree(folder, ignore_errors=True)
  med = {k: float(np.median(v)) for k, v in times.items()}
  out = {"argv": ARGV, "seconds": times, "median": med,
         "warm_over_off": med["warm"] / med["off"], "cold_over_off": med["cold"] / med["off"],
         "versions": io.versions()}
  for k in times:
    print(f"{k:5s} " + "  ".join(f"{t:6.2f} s" for t in times[k]) + f"   median {med[k]:.2f} s")
  print(f"warm / off {out['warm_over_off']:.2f}, cold / off {out['cold_over_off']:.2f}")
  if args.json:
    io.write_json_atomic(args.json, out)
  return out


if __name__ == "__main__":
  main()
