"""Results on disk: atomic JSON and JSON-lines, and the run's configuration.

>>> to_jsonable({"a": np.float32(1.5), "b": float("nan"), "c": np.arange(2)})
{'a': 1.5, 'b': None, 'c': [0, 1]}
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import tempfile

import numpy as np

__all__ = ["to_jsonable", "write_json_atomic", "append_jsonl", "read_jsonl", "versions"]


def to_jsonable(obj):
  """NumPy and JAX values to plain Python; NaN and inf to None (strict JSON)."""
  if isinstance(obj, dict):
    return {str(k): to_jsonable(v) for k, v in obj.items()}
  if isinstance(obj, (list, tuple)):
    return [to_jsonable(v) for v in obj]
  if hasattr(obj, "__array__") and not isinstance(obj, (str, bytes)):
    arr = np.asarray(obj)
    return to_jsonable(arr.tolist()) if arr.ndim else to_jsonable(arr.item())
  if isinstance(obj, float):
    return obj if math.isfinite(obj) else None
  if isinstance(obj, (np.generic,)):
    return to_jsonable(obj.item())
  return obj


def write_json_atomic(path: str | os.PathLike, obj, *, indent: int | None = 1) -> None:
  """Writes JSON to a temporary file in the same folder, then renames it over path."""
  path = os.fspath(path)
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
  try:
    with os.fdopen(fd, "w") as f:
      json.dump(to_jsonable(obj), f, indent=indent, allow_nan=False)
      f.write("\n")
      f.flush()
      os.fsync(f.fileno())
    os.chmod(tmp, 0o644)  # mkstemp makes it private; results are for reading
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.unlink(tmp)
    raise


def append_jsonl(path: str | os.PathLike, record: dict) -> None:
  """Appends one record as one line, flushed and synced.

  A run killed mid-write can leave at most one truncated last line, which
  ``read_jsonl`` drops, so every complete line is a finished record.
  """
  line = json.dumps(to_jsonable(record), allow_nan=False) + "\n"
  with open(path, "a") as f:
    f.write(line)
    f.flush()
    os.fsync(f.fileno())


def read_jsonl(path: str | os.PathLike) -> list[dict]:
  """Complete records of a JSON-lines file (a truncated last line is dropped)."""
  if not os.path.exists(path):
    return []
  out = []
  with open(path) as f:
    for line in f:
      if not line.endswith("\n"):
        break  # a write cut short by a kill
      out.append(json.loads(line))
  return out


def versions() -> dict:
  """Versions of the software and the machine that produced a result."""
  import jax
  import jaxlib

  from adv_landscape import __version__

  return {
      "adv_landscape": __version__, "jax": jax.__version__, "jaxlib": jaxlib.__version__,
      "numpy": np.__version__, "python": sys.version.split()[0],
      "platform": platform.platform(), "devices": [str(d) for d in jax.devices()],
      "x64": bool(jax.config.jax_enable_x64),
  }
