"""One JAX CPU device per core, so that PGA shards its restarts over the cores.

XLA runs a computation's elementwise work (tanh and friends on the (B, m)
hidden layer) on one thread, and its matrix products on a shared pool. With
one CPU device per core, ``ascent.pga`` splits each chunk's restarts over the
devices (where each gets enough of them, ``ascent.sharding_pays``) and every
core runs its own share of both: measured in one process on 2 cores, 0.87 of
the GEMM bound at (64, 256, 4096) against 0.69 on one device. Unsharded work
(certificates, Hessians) still uses every core through XLA's shared pool.

The number of CPU devices can only be set before JAX's first operation;
``use_cpu_cores`` is called at the top of the command line and the
benchmarks, and does nothing once JAX is running or when the user chose the
count (``JAX_NUM_CPU_DEVICES`` or ``--xla_force_host_platform_device_count``).
"""

from __future__ import annotations

import os

import jax

__all__ = ["cpu_cores", "use_cpu_cores"]


def cpu_cores() -> int:
  """Cores this process may run on."""
  try:
    return len(os.sched_getaffinity(0))
  except AttributeError:  # not Linux
    return os.cpu_count() or 1


def use_cpu_cores(n: int | None = None) -> bool:
  """Asks JAX for ``n`` CPU devices (default: one per core) if it still can.

  Returns:
    whether the setting was made; False when JAX already ran an operation or
    the user set the count.
  """
  from jax._src import xla_bridge

  if n is not None and n < 1:
    raise ValueError(f"n={n} CPU devices: must be at least 1")
  if "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
    return False
  if jax.config.jax_num_cpu_devices != -1 or xla_bridge.backends_are_initialized():
    return False
  jax.config.update("jax_num_cpu_devices", cpu_cores() if n is None else n)
  return True
