"""Data sets, never downloaded: synthetic, scikit-learn's digits, MNIST-format IDX files.

Inputs are rescaled to the input scale s: ``pixels`` maps pixel values to
[0, s]; ``norm`` sets every ||x|| = s sqrt(d), the synthetic convention, so
that pre-activations at initialisation have scale s in both cases.

>>> ds = load_dataset("digits", scale=0.5, normalize="norm")
>>> ds.X.shape, round(float(np.linalg.norm(ds.X[0])), 6)
((1797, 64), 4.0)
"""

from __future__ import annotations

import gzip
import os
from typing import NamedTuple

import numpy as np

from adv_landscape.errors import InvalidInput

__all__ = ["Dataset", "read_idx", "load_dataset", "FASHION_MNIST_DIR", "DATASETS"]

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
DATASETS = ("synthetic", "digits", "fashion-mnist")

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class Dataset(NamedTuple):
  """X (n, d) float64 inputs at scale s; y (n,) labels (+-1 for binary tasks,
  class indices otherwise); classes the original class of each example."""

  X: np.ndarray
  y: np.ndarray
  classes: np.ndarray
  name: str
  scale: float


def read_idx(path: str | os.PathLike) -> np.ndarray:
  """Reads an IDX file (MNIST format), raw or gzip-compressed.

  The header is two zero bytes, a type code, the number of dimensions, then
  one big-endian uint32 per dimension.
  """
  path = os.fspath(path)
  with open(path, "rb") as f:
    head = f.read(2)
  opener = gzip.open if head == b"\x1f\x8b" else open
  with opener(path, "rb") as f:
    data = f.read()
  if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
    raise InvalidInput(f"{path!r} is not an IDX file (bad magic number {data[:4]!r})")
  ndim = data[3]
  shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
  dtype = np.dtype(_IDX_TYPES[data[2]])
  body = data[4 + 4 * ndim:]
  if len(body) != dtype.itemsize * int(np.prod(shape)):
    raise InvalidInput(f"{path!r}: header says shape {shape} but the body has {len(body)} bytes")
  return np.frombuffer(body, dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _find(folder, stem):
  for name in (stem, stem + ".gz"):
    p = os.path.join(folder, name)
    if os.path.exists(p):
      return p
  return None


def _idx_pair(folder: str, split: str):
  prefix = "train" if split == "train" else "t10k"
  imgs = _find(folder, f"{prefix}-images-idx3-ubyte")
  labs = _find(folder, f"{prefix}-labels-idx1-ubyte")
  if imgs is None or labs is None:
    raise InvalidInput(
        f"data={folder!r}: no {prefix}-images-idx3-ubyte(.gz) and {prefix}-labels-idx1-ubyte(.gz)"
        f" there; for Fashion-MNIST run 'apt-get install dataset-fashion-mnist' (Debian) or "
        f"point --data-dir to a folder of MNIST-format IDX files")
  X = read_idx(imgs)
  y = read_idx(labs)
  return X.reshape(X.shape[0], -1).astype(np.float64), y.astype(np.int64), 255.0


def _rescale(X, scale, normalize, pixel_max):
  if normalize == "pixels":
    return X * (scale / pixel_max)
  if normalize == "norm":
    n = np.linalg.norm(X, axis=1, keepdims=True)
    return scale * np.sqrt(X.shape[1]) * X / np.maximum(n, 1e-300)
  raise InvalidInput(f"normalize={normalize!r} is unknown; choose 'pixels' or 'norm'")


def load_dataset(name: str, *, scale: float = 1.0, normalize: str = "norm",
                 binary: str | None = "parity", split: str = "train", n: int | None = None,
                 data_dir: str | None = None, seed: int = 0, d: int = 64) -> Dataset:
  """Loads a data set by name (``digits``, ``fashion-mnist``, ``synthetic``) or IDX folder.

  Args:
    name: a name of ``DATASETS`` or a folder holding MNIST-format IDX files.
    scale: input scale s. normalize: ``norm`` (||x|| = s sqrt(d)) or ``pixels``.
    binary: ``parity`` maps class c to y = +1 if c is even else -1 (a binary
      task for the scalar losses); None keeps class indices (softmax_ce).
    split: ``train`` or ``test`` (IDX data). n: keep the first n examples.
    data_dir: folder for ``fashion-mnist`` (default ``FASHION_MNIST_DIR``).
    seed, d: for ``synthetic`` (labels from a random teacher network's sign).
  """
  if not (np.isfinite(scale) and scale > 0):
    raise InvalidInput(f"scale={scale!r} must be positive")
  if name == "digits":
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no download
    raw = load_digits()
    X, classes, pmax = raw.data.astype(np.float64), raw.target.astype(np.int64), 16.0
  elif name == "fashion-mnist" or (name not in DATASETS and os.path.isdir(name)):
    folder = (data_dir or FASHION_MNIST_DIR) if name == "fashion-mnist" else name
    X, classes, pmax = _idx_pair(folder, split)
  elif name == "synthetic":
    rng = np.random.default_rng(seed)
    count = n or 1024
    X = rng.standard_normal((count, d))
    teacher = rng.standard_normal((16, d)) / np.sqrt(d)
    classes = (np.tanh(X @ teacher.T) @ rng.choice([-1.0, 1.0], 16) > 0).astype(np.int64)
    pmax = float(np.abs(X).max())
  else:
    raise InvalidInput(f"data={name!r} is neither one of {list(DATASETS)} nor a folder")
  if n is not None:
    X, classes = X[:n], classes[:n]
  X = _rescale(X, scale, normalize, pmax)
  y = np.where(classes % 2 == 0, 1.0, -1.0) if binary == "parity" else classes
  return Dataset(X, y, classes, name, float(scale))
