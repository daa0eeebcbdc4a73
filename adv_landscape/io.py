"""Results on disk: atomic JSON and JSON-lines, and the run's configuration.

>>> to_jsonable({"a": np.float32(1.5), "b": float("nan"), "c": np.arange(2)})
{'a': 1.5, 'b': None, 'c': [0, 1]}
>>> percent(0.9995), percent(1.0), percent(0.99999), percent(2e-6)
('99.95%', '100.00%', '99.999%', '0.0002%')
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import tempfile

import numpy as np

from adv_landscape.errors import InvalidInput

__all__ = ["to_jsonable", "write_text_atomic", "write_json_atomic", "append_jsonl",
           "read_jsonl", "repair_jsonl", "FolderLock", "versions",
           "percent", "check_output_file", "check_output_folder"]


def percent(fraction: float, decimals: int = 2) -> str:
  """A fraction as a percentage that never rounds to 100% or 0% unless it is exactly that.

  0.9995 with one decimal would read 100.0%, hiding the endpoints that were
  not certified; more decimals are shown until the text differs from 100 (or 0).
  """
  f = float(fraction)
  if not math.isfinite(f):
    return "n/a"
  text = f"{100 * f:.{decimals}f}"
  while decimals < 12 and ((f < 1 and float(text) >= 100) or (0 < f and float(text) == 0)):
    decimals += 1
    text = f"{100 * f:.{decimals}f}"
  return text + "%"


def _nearest_existing(path: str) -> str:
  folder = os.path.abspath(path)
  while not os.path.exists(folder):
    parent = os.path.dirname(folder)
    if parent == folder:
      break
    folder = parent
  return folder


def _probe_writable(folder: str, arg: str, path: str) -> None:
  """Creates and removes a file in ``folder``: the only test that also holds for root."""
  try:
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-probe-")
    os.close(fd)
    os.unlink(tmp)
  except OSError as e:
    raise InvalidInput(f"{arg}={path!r}: cannot write in {folder!r} ({e.strerror or e}); give a "
                       f"writable place") from None


def _same_file(a: str, b: str) -> bool:
  try:
    return os.path.samefile(a, b)
  except OSError:
    return os.path.realpath(a) == os.path.realpath(b)


def check_output_file(path: str | os.PathLike, arg: str = "json", *,
                      inputs: dict | None = None) -> None:
  """Fails now, with one line, if ``path`` could not be written later; writes nothing.

  Catches an existing folder at ``path``, a file where a parent folder should
  be, a place where no file can be created, a link or anything but a regular
  file at ``path`` (a result replaces only a regular file, never a device or a
  link), and a path that is one of the run's ``inputs`` (name -> path).
  """
  path = os.fspath(path)
  for name, other in (inputs or {}).items():
    if other and os.path.exists(other) and _same_file(path, os.fspath(other)):
      raise InvalidInput(f"{arg}={path!r} is the input --{name}; writing there would destroy "
                         f"it, so give another path")
  if os.path.islink(path):
    raise InvalidInput(f"{arg}={path!r} is a symbolic link; results are written only to "
                       f"regular files or new paths: give the link's target "
                       f"{os.path.realpath(path)!r} or another path")
  if os.path.isdir(path):
    raise InvalidInput(f"{arg}={path!r} is a folder; give a file name (for example "
                       f"{os.path.join(path, 'out.json')!r})")
  if os.path.exists(path) and not os.path.isfile(path):
    raise InvalidInput(f"{arg}={path!r} is not a regular file (a device, a pipe or a "
                       f"socket); results are written only to regular files or new paths: "
                       f"give another path")
  base = _nearest_existing(os.path.dirname(os.path.abspath(path)))
  if not os.path.isdir(base):
    raise InvalidInput(f"{arg}={path!r}: {base!r} is a file, not a folder; give a path whose "
                       f"parent is a folder")
  _probe_writable(base, arg, path)


def check_output_folder(path: str | os.PathLike, arg: str = "out") -> None:
  """``check_output_file`` for a folder (created later if missing)."""
  path = os.fspath(path)
  if os.path.exists(path) and not os.path.isdir(path):
    raise InvalidInput(f"{arg}={path!r} is a file; give a folder (it is created if missing)")
  base = _nearest_existing(path)
  if not os.path.isdir(base):
    raise InvalidInput(f"{arg}={path!r}: {base!r} is a file, not a folder; give another path")
  _probe_writable(base, arg, path)


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


def write_text_atomic(path: str | os.PathLike, text: str, *, suffix: str = ".txt") -> None:
  """Writes text to a temporary file in the same folder, synced, then renames it over path:
  a reader sees the old file or the new one, never a part."""
  path = os.fspath(path)
  if os.path.islink(path) or (os.path.exists(path) and not os.path.isfile(path)):
    raise InvalidInput(f"{path!r} is a link or not a regular file; it is not replaced")
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=suffix)
  try:
    with os.fdopen(fd, "w") as f:
      f.write(text)
      f.flush()
      os.fsync(f.fileno())
    os.chmod(tmp, 0o644)  # mkstemp makes it private; results are for reading
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.unlink(tmp)
    raise


def write_json_atomic(path: str | os.PathLike, obj, *, indent: int | None = 1) -> None:
  """Writes JSON (no NaN or infinity) atomically (``write_text_atomic``)."""
  write_text_atomic(path, json.dumps(to_jsonable(obj), indent=indent, allow_nan=False) + "\n",
                    suffix=".json")


def repair_jsonl(path: str | os.PathLike) -> int:
  """Cuts a last line that a kill left unfinished (no newline); returns the bytes removed.

  Every complete line before it is kept, so appending afterwards starts on a
  line of its own instead of gluing a record onto the fragment.
  """
  path = os.fspath(path)
  if not os.path.isfile(path):
    return 0
  with open(path, "rb+") as f:
    f.seek(0, os.SEEK_END)
    size = f.tell()
    if size == 0:
      return 0
    pos, keep = size, 0
    while pos > 0:  # back to the last newline, a block at a time
      step = min(65536, pos)
      f.seek(pos - step)
      block = f.read(step)
      cut = block.rfind(b"\n")
      if cut >= 0:
        keep = pos - step + cut + 1
        break
      pos -= step
    if keep == size:
      return 0
    f.truncate(keep)
    f.flush()
    os.fsync(f.fileno())
  return size - keep


def append_jsonl(path: str | os.PathLike, record: dict) -> None:
  """Appends one record as one line, flushed and synced.

  A run killed mid-write can leave at most one truncated last line, which
  ``read_jsonl`` drops and ``repair_jsonl`` (called here first) cuts away, so
  every complete line is a finished record.
  """
  line = json.dumps(to_jsonable(record), allow_nan=False) + "\n"
  repair_jsonl(path)
  with open(path, "a") as f:
    f.write(line)
    f.flush()
    os.fsync(f.fileno())


def read_jsonl(path: str | os.PathLike) -> list[dict]:
  """Complete records of a JSON-lines file (a truncated last line is dropped).

  Raises:
    InvalidInput: a complete line that is not a JSON object (the file was
      edited or damaged); the message names the file and the line.
  """
  if not os.path.exists(path):
    return []
  out = []
  try:
    with open(path) as f:
      for n, line in enumerate(f, start=1):
        if not line.endswith("\n"):
          break  # a write cut short by a kill
        try:
          rec = json.loads(line)
        except json.JSONDecodeError as e:
          raise InvalidInput(f"{os.fspath(path)!r} line {n} is not JSON ({e.msg}); delete that "
                             f"line to keep the other records, or the file to start "
                             f"again") from None
        if not isinstance(rec, dict):
          raise InvalidInput(f"{os.fspath(path)!r} line {n} is not a record (a JSON object); "
                             f"delete that line, or the file to start again")
        out.append(rec)
  except UnicodeDecodeError:
    raise InvalidInput(f"{os.fspath(path)!r} is not a text file; delete it to start "
                       f"again") from None
  return out


class FolderLock:
  """An exclusive lock on a results folder (``.lock`` inside it), held while a run writes.

  A second run on the same folder fails at once with one line instead of
  computing everything again and writing every record twice. The lock is the
  kernel's (``fcntl.flock``): it is released when the process ends, however it
  ends, so a killed run never leaves a stale lock.
  """

  def __init__(self, folder: str | os.PathLike, arg: str = "out"):
    self.folder, self.arg, self._fh = os.fspath(folder), arg, None

  def __enter__(self) -> "FolderLock":
    import fcntl

    os.makedirs(self.folder, exist_ok=True)
    path = os.path.join(self.folder, ".lock")
    fh = open(path, "a+")
    try:
      fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
      fh.seek(0)
      who = fh.read().strip()
      fh.close()
      raise InvalidInput(f"{self.arg}={self.folder!r}: another run is writing there"
                         f"{f' (process {who})' if who else ''}; wait for it to finish, or "
                         f"give another --{self.arg}") from None
    fh.seek(0)
    fh.truncate()
    fh.write(str(os.getpid()))
    fh.flush()
    self._fh = fh
    return self

  def __exit__(self, *exc) -> None:
    if self._fh is not None:
      try:  # remove it while still holding it: a run waiting on it fails at once anyway
        os.unlink(os.path.join(self.folder, ".lock"))
      except OSError:
        pass
      self._fh.close()  # closing releases the lock
      self._fh = None


def versions() -> dict:
  """Versions of the software and the machine that produced a result."""
  import jax
  import jaxlib

  from adv_landscape._version import __version__

  return {
      "adv_landscape": __version__, "jax": jax.__version__, "jaxlib": jaxlib.__version__,
      "numpy": np.__version__, "python": sys.version.split()[0],
      "platform": platform.platform(), "devices": [str(d) for d in jax.devices()],
      "x64": bool(jax.config.jax_enable_x64),
  }
