"""Users' files: a network (``.npz``, PyTorch ``.pt``, ``.safetensors``) and an input.

Every failure is an ``InvalidInput`` naming the argument, the file and what to
do, found before any computation.

The ``.npz`` format (what ``save_network`` writes):

| key | shape | meaning |
|---|---|---|
| ``W`` | (m, d) | first-layer weights |
| ``a`` | (m,) or (m, K) | output weights (K outputs for softmax cross-entropy) |
| ``b`` | (m,), optional | first-layer biases (default 0) |
| ``c`` | () or (K,), optional | output bias (default 0) |
| ``activation`` | string, optional | one of ``ACTIVATIONS``; ``--activation`` supplies it |

A deep network's ``.npz`` holds ``W1`` (m_1, d), ``b1``, ``W2`` (m_2, m_1), ``b2``,
..., ``a``, optional ``c`` and ``activation`` (a ``deep.MLP``).

PyTorch files hold a ``state_dict`` of a perceptron: ``fc1.weight``
(m, d), ``fc1.bias``, ``fc2.weight`` (1, m) or (K, m), ``fc2.bias`` (the output
bias), or the same under any other two names (``0.weight`` and ``2.weight`` of
an ``nn.Sequential(Linear, Tanh, Linear)``), taken in the file's order; more
Linear layers make a deep network. They carry no activation, so the caller
names it.

>>> import os, tempfile
>>> folder = tempfile.mkdtemp()
>>> path = os.path.join(folder, "net.npz")
>>> np.savez(path, W=np.eye(2), a=np.ones(2), c=np.array(0.5), activation="tanh")
>>> loaded = read_network(path)
>>> loaded.net.d, loaded.net.m, loaded.output_bias, loaded.activation_source
(2, 2, 0.5, 'file')
"""

from __future__ import annotations

import dataclasses
import os
import zipfile

import jax.numpy as jnp
import numpy as np

from adv_landscape.activations import ACTIVATIONS
from adv_landscape.deep import MLP
from adv_landscape.errors import InvalidInput
from adv_landscape.network import Network

__all__ = ["LoadedNetwork", "read_network", "read_input", "load_network", "save_network",
           "save_mlp", "FORMATS"]

FORMATS = {".npz": "numpy", ".pt": "torch", ".pth": "torch", ".safetensors": "safetensors"}

_NPZ_MAGIC = b"PK\x03\x04"
_NPY_MAGIC = b"\x93NUMPY"


@dataclasses.dataclass(frozen=True)
class LoadedNetwork:
  """A network read from a file.

  Attributes:
    net: the network: a two-layer ``Network``, or a ``deep.MLP`` for more layers.
    output_bias: the output bias c (a float, or a (K,) array), 0.0 when absent.
    activation_source: "file", "argument" (the file had none) or "override"
      (the argument replaced the file's).
    file_activation: the file's activation string, or None.
  """

  net: Network
  output_bias: float | np.ndarray
  activation_source: str
  file_activation: str | None


def _head(path: str, n: int) -> bytes:
  with open(path, "rb") as f:
    return f.read(n)


def _require_file(path: str, arg: str) -> None:
  if not os.path.exists(path):
    raise InvalidInput(f"{arg}={path!r}: no such file; check the path")
  if os.path.isdir(path):
    raise InvalidInput(f"{arg}={path!r} is a folder; give a file")


def _npz_arrays(path: str, arg: str) -> dict:
  if _head(path, 4) != _NPZ_MAGIC:
    raise InvalidInput(f"{arg}={path!r} is not an .npz archive (it does not start like a zip "
                       f"file); write it with numpy.savez")
  try:  # our own handle: np.load leaves its file open when the archive is damaged
    with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
      return {k: z[k] for k in z.files}
  except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
    raise InvalidInput(f"{arg}={path!r} is a damaged .npz archive ({type(e).__name__}: "
                       f"{str(e).splitlines()[0] if str(e) else 'truncated'}); write it again "
                       f"with numpy.savez") from None


def _torch_arrays(path: str, arg: str) -> dict:
  try:
    import torch
  except ImportError:
    raise InvalidInput(f"{arg}={path!r}: reading PyTorch files needs torch; pip install "
                       f"'adv_landscape[torch]' (or save the weights as .npz or .safetensors)"
                       ) from None
  try:
    obj = torch.load(path, map_location="cpu", weights_only=True)
  except Exception as e:  # torch raises many types for a bad file; all mean "unreadable"
    raise InvalidInput(f"{arg}={path!r} is not a readable PyTorch state_dict ({type(e).__name__})"
                       f"; save it with torch.save(model.state_dict(), path)") from None
  if not isinstance(obj, dict):
    raise InvalidInput(f"{arg}={path!r} holds a {type(obj).__name__}, not a state_dict; save it "
                       f"with torch.save(model.state_dict(), path)")
  out = {}
  for k, v in obj.items():
    if not isinstance(v, torch.Tensor):
      raise InvalidInput(f"{arg}={path!r}: entry {k!r} is a {type(v).__name__}, not a tensor")
    out[k] = v.detach().to("cpu", torch.float64).numpy()
  return out


def _safetensors_arrays(path: str, arg: str) -> dict:
  try:
    from safetensors.numpy import load_file
  except ImportError:
    raise InvalidInput(f"{arg}={path!r}: reading .safetensors needs safetensors; pip install "
                       f"'adv_landscape[safetensors]'") from None
  try:
    return dict(load_file(path))
  except Exception as e:  # safetensors raises its own error types for a bad header
    raise InvalidInput(f"{arg}={path!r} is not a readable .safetensors file "
                       f"({type(e).__name__}); write it with safetensors.numpy.save_file or "
                       f"safetensors.torch.save_file") from None


def _numeric(arrays: dict, path: str, arg: str) -> dict:
  out = {}
  for k, v in arrays.items():
    if k == "activation":
      out[k] = v
      continue
    v = np.asarray(v)
    if v.dtype.kind not in "fiu" or v.dtype == np.bool_:
      raise InvalidInput(f"{arg}={path!r}: {k!r} has dtype {v.dtype}, not numbers; store it as "
                         f"a float array")
    out[k] = v.astype(np.float64)
  return out


def _linear_layers(arrays: dict, path: str, arg: str):
  """(Ws, bs, a, c) from a state_dict's Linear layers, in the file's order (>= 2 layers)."""
  weights = [k for k, v in arrays.items() if k.endswith("weight") and np.ndim(v) == 2]
  if len(weights) < 2:
    raise InvalidInput(
        f"{arg}={path!r} holds {len(weights)} two-dimensional weights ({weights}); a network "
        f"has at least two Linear layers (fc1.weight, fc2.weight or 0.weight, 2.weight, ...)")
  mats = [arrays[k] for k in weights]
  for k_prev, k, prev, W in zip(weights, weights[1:], mats, mats[1:]):
    if W.shape[1] != prev.shape[0]:
      raise InvalidInput(f"{arg}={path!r}: {k!r} has shape {W.shape} but {k_prev!r} has "
                         f"{prev.shape}; expected (n, {prev.shape[0]}) after it")
  biases = [arrays.get(k[: -len("weight")] + "bias") for k in weights]
  used = set(weights) | {k[: -len("weight")] + "bias" for k in weights}
  extra = sorted(set(arrays) - used)
  if extra:
    raise InvalidInput(f"{arg}={path!r} holds entries beyond its Linear layers: {extra}")
  Ws = mats[:-1]
  bs = [b if b is not None else np.zeros(W.shape[0]) for W, b in zip(Ws, biases[:-1])]
  A = mats[-1]
  a = A[0] if A.shape[0] == 1 else A.T
  c = biases[-1] if biases[-1] is not None else np.zeros(A.shape[0])
  return Ws, bs, a, c


def _check_shapes(W, a, b, c, path: str, arg: str) -> None:
  where = f"{arg}={path!r}"
  if W.ndim != 2:
    raise InvalidInput(f"{where}: W has shape {W.shape}; expected (m, d)")
  m = W.shape[0]
  if a.ndim not in (1, 2) or a.shape[0] != m:
    raise InvalidInput(f"{where}: a has shape {a.shape}; expected ({m},) or ({m}, K) to match "
                       f"W {W.shape}")
  if np.shape(b) != (m,):
    raise InvalidInput(f"{where}: b has shape {np.shape(b)}; expected ({m},) to match W {W.shape}")
  want = () if a.ndim == 1 else (a.shape[1],)
  if np.shape(c) not in (want, (1,) if a.ndim == 1 else want):
    raise InvalidInput(f"{where}: the output bias c has shape {np.shape(c)}; expected {want}")


def _check_deep_shapes(Ws, bs, a, c, path: str, arg: str) -> None:
  where, fan_in = f"{arg}={path!r}", np.shape(Ws[0])[1] if np.ndim(Ws[0]) == 2 else None
  for i, (W, b) in enumerate(zip(Ws, bs), start=1):
    if np.ndim(W) != 2 or W.shape[1] != fan_in:
      raise InvalidInput(f"{where}: layer {i} has weights of shape {np.shape(W)}; expected "
                         f"(m_{i}, {fan_in})")
    if np.shape(b) != (W.shape[0],):
      raise InvalidInput(f"{where}: layer {i} has biases of shape {np.shape(b)}; expected "
                         f"({W.shape[0]},)")
    fan_in = W.shape[0]
  if a.ndim not in (1, 2) or a.shape[0] != fan_in:
    raise InvalidInput(f"{where}: a has shape {a.shape}; expected ({fan_in},) or ({fan_in}, K)")
  want = () if a.ndim == 1 else (a.shape[1],)
  if np.shape(c) not in (want, (1,) if a.ndim == 1 else want):
    raise InvalidInput(f"{where}: the output bias c has shape {np.shape(c)}; expected {want}")


def read_network(path: str | os.PathLike, *, activation: str | None = None, dtype=None,
                 arg: str = "weights") -> LoadedNetwork:
  """Reads a network (two-layer, or deep) from ``.npz``, ``.pt``/``.pth`` or ``.safetensors``.

  Args:
    path: the file.
    activation: the activation name; supplies one the file lacks, or
      overrides the file's (``activation_source`` says which happened).
    dtype: float dtype of the arrays (default: JAX's default float).
    arg: the argument name used in error messages.

  Raises:
    InvalidInput: a missing, damaged or unrecognised file, non-numeric arrays,
      shapes that do not chain into a network, or no activation.
  """
  path = os.fspath(path)
  _require_file(path, arg)
  ext = os.path.splitext(path)[1].lower()
  if ext not in FORMATS:
    raise InvalidInput(f"{arg}={path!r}: unknown extension {ext!r}; give one of "
                       f"{sorted(FORMATS)}")
  reader = {"numpy": _npz_arrays, "torch": _torch_arrays, "safetensors": _safetensors_arrays}
  arrays = _numeric(reader[FORMATS[ext]](path, arg), path, arg)
  if "W" in arrays or "W1" in arrays or ext == ".npz":
    if "W1" in arrays and "W" not in arrays:  # a deep file: W1, b1, W2, b2, ..., a
      Ws, bs = read_mlp_arrays(arrays, f"{arg}={path!r}")
    else:
      Ws, bs = [arrays.get("W")], [None]
    missing = (["W"] if Ws[0] is None else []) + ([] if "a" in arrays else ["a"])
    if missing:
      raise InvalidInput(f"{arg}={path!r} lacks {missing}; an .npz network holds W (m, d), "
                         f"a (m,) or (m, K), and optionally b, c, activation (a deep one W1, "
                         f"b1, W2, b2, ..., a)")
    known = ({"a", "c", "activation"} | {f"{p}{i}" for i in range(1, len(Ws) + 1) for p in "Wb"}
             if "W1" in arrays and "W" not in arrays else {"W", "a", "b", "c", "activation"})
    extra = sorted(set(arrays) - known)
    if extra:
      raise InvalidInput(f"{arg}={path!r} holds arrays that are not part of a network: {extra} "
                         f"(a two-layer file holds W, a, b, c, activation; a deep one W1, b1, "
                         f"W2, b2, ..., a, c, activation); remove them")
    a = arrays["a"]
    if a.ndim == 2 and a.shape[1] == 1:  # one output stored as a column: a scalar head, as
      a = a[:, 0]                        # a PyTorch (1, m) output layer is read
    if bs[0] is None:
      bs = [arrays.get("b", np.zeros(np.shape(Ws[0])[:1]))]
    c = arrays.get("c", np.zeros(() if a.ndim == 1 else a.shape[1:]))
  else:
    Ws, bs, a, c = _linear_layers(arrays, path, arg)
  if len(Ws) > 1:
    _check_deep_shapes(Ws, bs, a, c, path, arg)
  else:
    _check_shapes(Ws[0], a, bs[0], c, path, arg)
  empty = [i for i, W in enumerate(Ws, start=1) if 0 in np.shape(W)]
  if empty:
    raise InvalidInput(f"{arg}={path!r}: layer {empty[0]} has weights of shape "
                       f"{np.shape(Ws[empty[0] - 1])}; a network needs at least one unit and "
                       f"one input")
  file_act = str(arrays["activation"]) if "activation" in arrays else None
  if activation is None and file_act is None:
    raise InvalidInput(f"{arg}={path!r} names no activation; give --activation (one of "
                       f"{sorted(ACTIVATIONS)})")
  chosen = activation if activation is not None else file_act
  if chosen not in ACTIVATIONS:
    where = "--activation" if activation is not None else f"in {arg}={path!r}"
    raise InvalidInput(f"activation {chosen!r} {where} is unknown; choose one of "
                       f"{sorted(ACTIVATIONS)}")
  source = ("file" if activation is None else "argument" if file_act is None
            else "override" if activation != file_act else "file")
  if a.ndim == 1:
    c = float(np.reshape(c, ()))
  dtype = dtype or jnp.zeros(()).dtype
  if len(Ws) == 1:
    net = Network(jnp.asarray(Ws[0], dtype), jnp.asarray(a, dtype), jnp.asarray(bs[0], dtype),
                  chosen)
  else:
    net = MLP(tuple(jnp.asarray(W, dtype) for W in Ws), tuple(jnp.asarray(b, dtype) for b in bs),
              jnp.asarray(a, dtype), chosen)
  return LoadedNetwork(net, c, source, file_act)


def read_input(path: str | os.PathLike, *, arg: str = "x", dtype=None) -> np.ndarray:
  """Reads the input x from an ``.npy`` file (numbers only; shape checked by the caller)."""
  path = os.fspath(path)
  _require_file(path, arg)
  if _head(path, 6) != _NPY_MAGIC:
    raise InvalidInput(f"{arg}={path!r} is not an .npy file (it does not start with numpy's "
                       f"header); write it with numpy.save")
  try:
    with open(path, "rb") as fh:
      x = np.load(fh, allow_pickle=False)
  except (OSError, EOFError, ValueError) as e:
    raise InvalidInput(f"{arg}={path!r} is a damaged .npy file ({type(e).__name__}); write it "
                       f"again with numpy.save") from None
  if x.dtype.kind not in "fiu" or x.dtype == np.bool_:
    raise InvalidInput(f"{arg}={path!r} has dtype {x.dtype}, not numbers; store a float array")
  return np.asarray(x, dtype or np.float64)


def load_network(path: str | os.PathLike, *, dtype=None) -> Network:
  """Reads a two-layer network file (the formats above) as a ``Network``.

  Files with a nonzero output bias are refused here, since a ``Network`` has
  none: ``read_network`` returns the bias, and
  ``losses.with_output_bias`` folds it into the loss.
  """
  loaded = read_network(path, dtype=dtype)
  if np.any(np.asarray(loaded.output_bias) != 0):
    raise InvalidInput(f"weights={os.fspath(path)!r} has an output bias; read it with "
                       f"adv_landscape.weights.read_network, which returns it")
  return loaded.net


def save_network(path: str | os.PathLike, net: Network) -> None:
  """Writes W, a, b and the activation name to an ``.npz`` file, atomically."""
  path = os.fspath(path)
  tmp = path + ".tmp.npz"
  np.savez(tmp, W=np.asarray(net.W), a=np.asarray(net.a), b=np.asarray(net.b),
           activation=np.array(net.activation))
  os.replace(tmp, path)


def read_mlp_arrays(arrays: dict, where: str):
  """(Ws, bs) from W1, b1, W2, ... of a file's arrays; ``where`` names the file in errors."""
  Ws, bs, i = [], [], 1
  while f"W{i}" in arrays:
    W = np.asarray(arrays[f"W{i}"])
    Ws.append(W)
    bs.append(np.asarray(arrays.get(f"b{i}", np.zeros(W.shape[:1]))))
    i += 1
  extra = sorted(k for k in arrays if k.startswith("W") and k[1:].isdigit() and int(k[1:]) >= i)
  if extra:
    raise InvalidInput(f"{where}: layers must be numbered W1, W2, ... without gaps; found "
                       f"{extra} after W{i - 1}")
  return Ws, bs


def save_mlp(path, net: MLP) -> None:
  """Writes W1, b1, ..., a and the activation to an ``.npz`` file."""
  arrays = {}
  for i, (W, b) in enumerate(zip(net.Ws, net.bs), start=1):
    arrays[f"W{i}"], arrays[f"b{i}"] = np.asarray(W), np.asarray(b)
  np.savez(path, a=np.asarray(net.a), activation=np.array(net.activation), **arrays)
