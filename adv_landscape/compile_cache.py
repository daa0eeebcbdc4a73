"""JAX's persistent compilation cache, on by default for the command line.

Every run of ``adv-landscape`` compiles the same PGA, certificate and Lanczos
programs again; with the cache a repeated run loads them from disk
(BENCHMARKS.md: the repeated ``census --d 784 --m 1024 --inits 256``). The
folder is ``$ADV_LANDSCAPE_CACHE_DIR``, else ``$XDG_CACHE_HOME/adv_landscape/jax``
(``~/.cache/adv_landscape/jax``); ``ADV_LANDSCAPE_CACHE_DIR=off`` turns it off.
A folder that cannot be created or written (read-only, full) never fails a run:
the cache is then off for that run, and errors while reading or writing an
entry (a full disk mid-run) are JAX's warnings, silenced here, not failures.

>>> folder_from({"ADV_LANDSCAPE_CACHE_DIR": "off"}) is None
True
>>> folder_from({"XDG_CACHE_HOME": "/c"})
'/c/adv_landscape/jax'
"""

from __future__ import annotations

import os
import tempfile
import warnings

__all__ = ["folder_from", "enable"]

OFF = ("off", "0", "no", "none", "false")


def folder_from(environ) -> str | None:
  """The cache folder named by the environment, or None when turned off."""
  where = environ.get("ADV_LANDSCAPE_CACHE_DIR")
  if where is not None:
    return None if where.strip().lower() in OFF or not where.strip() else where
  base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  return os.path.join(base, "adv_landscape", "jax")


def enable(environ=None) -> str | None:
  """Turns the persistent cache on (every compiled program is kept: minimum compile time
  0); returns the folder, or None where it is off or unusable."""
  folder = folder_from(os.environ if environ is None else environ)
  if folder is None:
    return None
  try:  # the only test of writability that also holds for root
    os.makedirs(folder, exist_ok=True)
    fd, probe = tempfile.mkstemp(dir=folder, prefix=".probe-")
    os.close(fd)
    os.unlink(probe)
  except OSError:
    return None
  import jax

  jax.config.update("jax_compilation_cache_dir", folder)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  warnings.filterwarnings("ignore", message="Error (reading|writing) persistent compilation cache")
  return folder
