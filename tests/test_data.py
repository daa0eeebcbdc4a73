"""Data: the IDX reader on files written here, the digits loader, clear errors."""

import gzip
import struct

import numpy as np
import pytest

from adv_landscape.data import load_dataset, read_idx


def write_idx(path, arr, code=0x08, compress=False):
  head = bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">I", n) for n in arr.shape)
  body = arr.astype(arr.dtype.newbyteorder(">")).tobytes()
  opener = gzip.open if compress else open
  with opener(path, "wb") as f:
    f.write(head + body)


@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, compress):
  rng = np.random.default_rng(0)
  imgs = rng.integers(0, 256, (5, 4, 3), dtype=np.uint8)
  path = tmp_path / ("x.gz" if compress else "x")
  write_idx(path, imgs, compress=compress)
  np.testing.assert_array_equal(read_idx(path), imgs)
  floats = rng.standard_normal((2, 3)).astype(np.float32)
  write_idx(tmp_path / "f", floats, code=0x0D)
  np.testing.assert_array_equal(read_idx(tmp_path / "f"), floats)


def test_idx_rejects_bad_files(tmp_path):
  (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04rest")
  with pytest.raises(ValueError, match="not an IDX file"):
    read_idx(tmp_path / "bad")
  write_idx(tmp_path / "short", np.zeros((3, 2), np.uint8))
  data = (tmp_path / "short").read_bytes()
  (tmp_path / "short").write_bytes(data[:-1])
  with pytest.raises(ValueError, match="header says shape"):
    read_idx(tmp_path / "short")


def test_idx_folder_as_a_data_set(tmp_path):
  rng = np.random.default_rng(1)
  write_idx(tmp_path / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (6, 2, 2),
                                                                   dtype=np.uint8), compress=True)
  write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(6, dtype=np.uint8))
  ds = load_dataset(str(tmp_path), scale=2.0, normalize="pixels")
  assert ds.X.shape == (6, 4) and ds.X.max() <= 2.0
  np.testing.assert_array_equal(ds.y, [1, -1, 1, -1, 1, -1])  # parity labels
  np.testing.assert_array_equal(ds.classes, np.arange(6))


def test_missing_data_says_how_to_get_it(tmp_path):
  with pytest.raises(ValueError, match="apt-get install dataset-fashion-mnist"):
    load_dataset("fashion-mnist", data_dir=str(tmp_path))
  with pytest.raises(ValueError, match="data='nowhere'"):
    load_dataset("nowhere")


@pytest.mark.parametrize("normalize", ["pixels", "norm"])
def test_digits_loader(normalize):
  ds = load_dataset("digits", scale=0.5, normalize=normalize, binary=None)
  assert ds.X.shape == (1797, 64) and set(np.unique(ds.y)) == set(range(10))
  if normalize == "pixels":
    assert ds.X.min() >= 0 and ds.X.max() == 0.5
  else:
    np.testing.assert_allclose(np.linalg.norm(ds.X, axis=1), 0.5 * 8.0, rtol=1e-12)
