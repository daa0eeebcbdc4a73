"""Many processes, one result: ``jax.distributed`` across hosts (docs/theory.md section 12).

Every process runs the same command with the same seed. Work is split by a
fixed rule (the PGA chunks of a census, the points of a verify grid: item i
goes to process i mod N), every process computes its items, and the results
are gathered in item order, so that each process holds what a single process
would have computed; process 0 alone writes files. On CPU the collectives are
gloo's (``jax_cpu_collectives_implementation``); on GPUs, NCCL's.

>>> initialize()  # none of the three: a plain single process
>>> rank(), size()
(0, 1)
"""

from __future__ import annotations

import contextlib

import jax
import numpy as np

from adv_landscape.errors import InvalidInput

__all__ = ["initialize", "rank", "size", "mine", "gather", "gather_bytes", "alone"]


def initialize(coordinator: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, *, cluster: bool = False,
               timeout_s: int = 120) -> None:
  """Joins the processes of one run; with no argument, does nothing (one process).

  Args:
    coordinator: "HOST:PORT" of process 0 (every process gives the same).
    num_processes: how many processes take part. process_id: this one's, 0..N-1.
    cluster: let ``jax.distributed.initialize()`` detect all three from the
      environment (SLURM, Open MPI, TPU pods) instead.
    timeout_s: how long to wait for the others before failing.
  """
  given = [v is not None for v in (coordinator, num_processes, process_id)]
  if not any(given) and not cluster:
    return
  if any(given) and not all(given):
    raise InvalidInput("--coordinator, --num-processes and --process-id go together: give all "
                       "three on every process (or none: one process)")
  if all(given):
    host, _, port = str(coordinator).rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
      raise InvalidInput(f"coordinator={coordinator!r} must be HOST:PORT, for example "
                         f"10.0.0.1:12345 (process 0's address)")
    if not (isinstance(num_processes, int) and num_processes >= 1):
      raise InvalidInput(f"num_processes={num_processes!r} must be a positive integer")
    if not (isinstance(process_id, int) and 0 <= process_id < num_processes):
      raise InvalidInput(f"process_id={process_id!r} must be in 0..{num_processes - 1}")
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  try:
    if cluster:
      jax.distributed.initialize(initialization_timeout=timeout_s)
    else:
      jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes,
                                 process_id=process_id, initialization_timeout=timeout_s)
  except (RuntimeError, ValueError) as e:
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    where = "from the cluster's environment" if cluster else f"at {coordinator}"
    raise InvalidInput(f"could not join the processes {where} within {timeout_s} s ({first}); "
                       f"start every process with the same --coordinator and --num-processes, "
                       f"and process 0 first") from None


_ALONE = [0]  # > 0 inside ``alone()``


@contextlib.contextmanager
def alone():
  """Within this block the library's splitting sees one process (rank 0 of 1): for work
  that each process does on its own item (a verify grid point)."""
  _ALONE[0] += 1
  try:
    yield
  finally:
    _ALONE[0] -= 1


def rank() -> int:
  """This process's index (0 writes the files)."""
  return 0 if _ALONE[0] else jax.process_index()


def size() -> int:
  """How many processes take part."""
  return 1 if _ALONE[0] else jax.process_count()


def mine(n: int) -> list[int]:
  """The items of 0..n-1 this process computes: i with i mod size() == rank()."""
  return list(range(rank(), n, size()))


def gather(arrays: dict) -> list[dict]:
  """Every process's dict of NumPy arrays (the same keys, dtypes and trailing shapes; any
  leading length), in process order, on every process."""
  if size() == 1:
    return [arrays]
  from jax.experimental import multihost_utils

  keys = sorted(arrays)
  with jax.enable_x64(True):  # float64 stays float64 on the way
    lens = np.asarray(multihost_utils.process_allgather(
        np.asarray([len(arrays[k]) for k in keys], np.int64)))
    out = [dict() for _ in range(size())]
    for j, k in enumerate(keys):
      a = np.asarray(arrays[k])
      top = int(lens[:, j].max())
      pad = np.zeros((top - a.shape[0],) + a.shape[1:], a.dtype)
      every = np.asarray(multihost_utils.process_allgather(np.concatenate([a, pad])))
      for p in range(size()):
        out[p][k] = every[p, :lens[p, j]]
  return out


def gather_bytes(items: list[bytes]) -> list[list[bytes]]:
  """Every process's list of byte strings, in process order, on every process."""
  if size() == 1:
    return [items]
  flat = np.frombuffer(b"".join(items), np.uint8)
  lens = np.asarray([len(b) for b in items], np.int64)
  parts = gather({"flat": flat, "lens": lens})
  out = []
  for part in parts:
    ends = np.cumsum(part["lens"])
    out.append([part["flat"][e - n:e].tobytes() for e, n in zip(ends, part["lens"])])
  return out
