"""A golden float64 record: what the redesign must leave unchanged (issue 23).

Four small censuses through the command line (l2 and l_inf, depth 1 and 2; every endpoint
saved) and one sweep point (``sweep.run_point``), all in float64, written as one JSON;
``--check`` recomputes them and compares every number at rtol 1e-12 (integers and strings
exactly), listing what differs. Timings and versions are left out.

It is a tool for refactoring on one machine, not a test: across CPUs and BLAS the
iterates of hundreds of PGA steps may differ by more than 1e-12, and tests must
pass on any CPU.

Run:  python -m benchmarks.golden --write benchmarks/results/golden.json
      python -m benchmarks.golden --check benchmarks/results/golden.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile

import jax

CENSUSES = {
  "l2-depth1": ["--d", "12", "--m", "24", "--inits", "48"],
  "inf-depth1": ["--d", "12", "--m", "24", "--inits", "48", "--norm", "inf",
                 "--step-rule", "sign"],
  "l2-depth2": ["--d", "10", "--m", "16", "--depth", "2", "--inits", "32"],
  "inf-depth2": ["--d", "10", "--m", "16", "--depth", "2", "--inits", "32", "--norm", "inf",
                 "--step-rule", "sign"],
}
DROP = {"seconds", "versions", "time", "elapsed", "restarts_per_second", "json", "path",
        "wall_seconds"}
RTOL = 1e-12


def _clean(v):
  if isinstance(v, dict):
    return {k: _clean(x) for k, x in v.items() if k not in DROP and "second" not in k}
  if isinstance(v, list):
    return [_clean(x) for x in v]
  return v


def record() -> dict:
  from adv_landscape.cli import main
  from adv_landscape.sweep import GridPoint, run_point

  out = {}
  with tempfile.TemporaryDirectory() as tmp:
    for name, args in CENSUSES.items():
      path = os.path.join(tmp, f"{name}.json")
      rc = main(["census", *args, "--x64", "--save-endpoints", "--no-progress", "--seed", "3",
                 "--json", path])
      if rc:
        raise SystemExit(f"census {name} exited {rc}")
      with open(path) as f:
        out[f"census:{name}"] = _clean(json.load(f))
  jax.config.update("jax_enable_x64", True)
  p = GridPoint(d=16, m=32, s=1.0, step_rule="armijo", step=1.0, seed=1, n_restarts=16,
                max_steps=4000, rtol_g=1e-4, hunt=True)
  out["sweep:point"] = _clean(json.loads(json.dumps(run_point(p), default=_plain)))
  return out


def _plain(v):
  try:
    return v.tolist()
  except AttributeError:
    return str(v)


def compare(a, b, where="") -> list[str]:
  """Every difference between two records: numbers beyond RTOL, anything else unequal."""
  if isinstance(a, dict) and isinstance(b, dict):
    diff = [f"{where}/{k}: only in one record" for k in sorted(set(a) ^ set(b))]
    return diff + [d for k in sorted(set(a) & set(b)) for d in compare(a[k], b[k], f"{where}/{k}")]
  if isinstance(a, list) and isinstance(b, list):
    if len(a) != len(b):
      return [f"{where}: length {len(a)} != {len(b)}"]
    return [d for i, (x, y) in enumerate(zip(a, b)) for d in compare(x, y, f"{where}[{i}]")]
  if isinstance(a, float) and isinstance(b, float):
    if math.isnan(a) and math.isnan(b):
      return []
    ok = a == b or abs(a - b) <= RTOL * max(abs(a), abs(b))
    return [] if ok else [f"{where}: {a!r} != {b!r}"]
  return [] if a == b else [f"{where}: {a!r} != {b!r}"]


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  g = p.add_mutually_exclusive_group(required=True)
  g.add_argument("--write", metavar="PATH")
  g.add_argument("--check", metavar="PATH")
  args = p.parse_args(argv)
  rec = record()
  if args.write:
    with open(args.write, "w") as f:
      json.dump(rec, f, indent=1, sort_keys=True)
    print(f"wrote {args.write}")
    return 0
  with open(args.check) as f:
    diff = compare(json.load(f), json.loads(json.dumps(rec)))
  print("\n".join(diff[:50]) if diff else f"identical to {args.check} at rtol {RTOL}")
  return 1 if diff else 0


if __name__ == "__main__":
  sys.exit(main())
