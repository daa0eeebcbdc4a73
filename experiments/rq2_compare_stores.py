"""RQ2: what the polished attack changed, run by run: an RQ2 run store written before the
polish against one written after it (``rq2_runs.jsonl`` of ``rq2_input_scale.py``).

For every run of the new store that was trained again (not carried over), per scale: whether
its training records (adv_loss, clean_loss per epoch) equal the old run's (exactly, and the
largest relative difference: the same code on another CPU may differ in the last bits), the
old and the new attack's converged fraction of test examples (the mean over every evaluated
epoch of every retrained run, pooled, so that a diverged run's few epochs weigh what they
are; and the worst epoch), the robust test loss's relative change new / old - 1 per epoch
(pooled: the largest, signed, and the median), the largest fall in robust test accuracy
(signed: negative if it only rose), and the fractions of test examples polished and
relabelled (pooled). OLD must be from before the polish and NEW from after it, otherwise of
one configuration.
Carried-over runs are counted apart (their logs are the old ones by construction).

Command: python experiments/rq2_compare_stores.py OLD/rq2_runs.jsonl NEW/rq2_runs.jsonl
         [--json PATH]
Reads only; seconds.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from adv_landscape import io
from adv_landscape.errors import InvalidInput

try:
  from experiments import rq2_input_scale
except ImportError:  # run as a script
  import rq2_input_scale  # type: ignore[no-redef]

TRAINING = ("adv_loss", "clean_loss")


def _runs(path: str, arg: str) -> tuple[dict, dict]:
  config, runs = rq2_input_scale.read_store(path, arg)
  return config, {r["key"]: r for r in runs}


def _rel(a: float, b: float) -> float:
  return abs(b - a) / max(abs(a), abs(b), 1e-300)


def _loss_change(a, b):
  """new / old - 1 of one epoch's robust test loss (None where the old one is not > 0)."""
  return b["test_robust_loss"] / a["test_robust_loss"] - 1 if a["test_robust_loss"] > 0 else None


def _conv(rec):
  return rec.get("test_attack_converged", 1.0)


# each per-epoch quantity of an (old, new) pair of records and how it is reduced over epochs,
# for one run and, pooled over the runs' epochs, for a scale
QUANTITIES = {
    "old_converged_mean": (np.mean, lambda a, b: _conv(a)),
    "old_converged_worst": (min, lambda a, b: _conv(a)),
    "new_converged_mean": (np.mean, lambda a, b: _conv(b)),
    "new_converged_worst": (min, lambda a, b: _conv(b)),
    "loss_change_max": (max, _loss_change),
    "loss_change_median": (np.median, _loss_change),
    "acc_drop_max": (max, lambda a, b: a["test_robust_acc"] - b["test_robust_acc"]),
    "polished": (np.mean, lambda a, b: b.get("test_attack_polished", 0.0)),
    "relabelled": (np.mean, lambda a, b: b.get("test_attack_relabelled", 0.0)),
}


def _evaluated_pairs(old: list, new: list) -> list:
  """The (old, new) records of the epochs evaluated in both logs."""
  return [(a, b) for a, b in zip(old, new) if "test_robust_loss" in a and "test_robust_loss" in b]


def _reduce(pairs: list) -> dict:
  """Every quantity of ``QUANTITIES`` over ``pairs`` (None where it has no value)."""
  out = {}
  for name, (reduce, of) in QUANTITIES.items():
    v = [x for x in (of(a, b) for a, b in pairs) if x is not None]
    out[name] = float(reduce(v)) if v else None
  return out


def compare_run(old: list, new: list) -> dict:
  """One run's old and new per-epoch logs compared (module docstring)."""
  tr = [(a.get(k), b.get(k)) for a, b in zip(old, new) for k in TRAINING
        if a.get(k) is not None or b.get(k) is not None]
  same = len(old) == len(new) and all(x == y for x, y in tr)
  diff = max((_rel(x, y) for x, y in tr if x is not None and y is not None), default=0.0)
  pairs = _evaluated_pairs(old, new)
  return {"training_identical": bool(same), "training_max_rel_diff": float(diff),
          "epochs_compared": len(pairs), **_reduce(pairs)}


def compare(old_path: str, new_path: str) -> dict:
  """Per scale: the retrained runs' comparison (``compare_run``), their epochs pooled, and
  counts."""
  (c_old, old), (c_new, new) = _runs(old_path, "OLD"), _runs(new_path, "NEW")
  why = rq2_input_scale.not_carried_over(c_old, c_new)
  if why:
    raise InvalidInput(f"OLD {old_path!r} {why} (NEW {new_path!r}): give the store from before "
                       f"the polish first, then the one carried over from it")
  missing = sorted(k for k in new if k not in old)
  if missing:
    raise InvalidInput(f"NEW {new_path!r} has runs that OLD {old_path!r} lacks ({missing[0]}, "
                       f"...): name the store the new one was carried over from")
  by_scale: dict = {}
  for key, rec in new.items():
    row = by_scale.setdefault(key.split("|")[1], {"runs": 0, "carried": 0, "retrained": [],
                                                  "pairs": []})
    row["runs"] += 1
    if rec.get("carried_from"):
      row["carried"] += 1
    else:
      row["retrained"].append({"key": key, **compare_run(old[key]["log"], rec["log"])})
      row["pairs"] += _evaluated_pairs(old[key]["log"], rec["log"])
  out = {}
  for scale in sorted(by_scale, key=float):
    row = by_scale[scale]
    rs = row["retrained"]
    diffs = [r["training_max_rel_diff"] for r in rs]
    out[scale] = {"runs": row["runs"], "carried": row["carried"], "retrained": len(rs),
                  "epochs_compared": len(row["pairs"]),
                  "training_identical": sum(r["training_identical"] for r in rs),
                  "training_max_rel_diff": float(max(diffs)) if diffs else None,
                  **_reduce(row["pairs"]), "runs_detail": rs}
  return out


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
  p.add_argument("old", help="the store written before the polish")
  p.add_argument("new", help="the store written after it (--carry-over from OLD)")
  p.add_argument("--json", default=None, help="write the comparison here (atomically)")
  args = p.parse_args(argv)
  try:
    if args.json:
      io.check_output_file(args.json, "json")
    res = compare(args.old, args.new)
  except InvalidInput as e:
    print(f"rq2_compare_stores.py: error: {e}", file=sys.stderr)
    return 2
  fmt = lambda x, f: "-" if x is None else format(x, f)  # noqa: E731
  for s, r in res.items():
    print(f"s = {s}: {r['runs']} runs, {r['carried']} carried, {r['retrained']} retrained "
          f"(training identical {r['training_identical']}, largest relative difference "
          f"{fmt(r['training_max_rel_diff'], '.1e')}); attack converged old "
          f"{fmt(r['old_converged_mean'], '.4f')} (worst epoch "
          f"{fmt(r['old_converged_worst'], '.3f')}) -> new {fmt(r['new_converged_mean'], '.4f')}"
          f" (worst {fmt(r['new_converged_worst'], '.4f')}) over {r['epochs_compared']} "
          f"epochs; robust loss change largest "
          f"{fmt(r['loss_change_max'], '.2e')}, median {fmt(r['loss_change_median'], '.1e')}; "
          f"robust accuracy fell by at most {fmt(r['acc_drop_max'], '.4f')}; polished "
          f"{fmt(r['polished'], '.4f')}, relabelled {fmt(r['relabelled'], '.5f')}")
  if args.json:
    io.write_json_atomic(args.json, {"old": args.old, "new": args.new, "by_scale": res})
  return 0


if __name__ == "__main__":
  sys.exit(main())
