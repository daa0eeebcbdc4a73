"""Results on disk: partial lines repaired, locks that refuse, outputs that never replace inputs."""

import json
import os

import pytest

from adv_landscape import io
from adv_landscape.errors import InvalidInput


def test_a_killed_write_is_cut_and_the_next_record_starts_its_own_line(tmp_path):
  path = tmp_path / "sweep.jsonl"
  io.append_jsonl(path, {"key": "a"})
  io.append_jsonl(path, {"key": "b"})
  with open(path, "a") as f:
    f.write('{"key": "c", "val')  # a kill mid-write
  assert [r["key"] for r in io.read_jsonl(path)] == ["a", "b"]  # read drops it
  assert io.repair_jsonl(path) == len('{"key": "c", "val')
  assert io.repair_jsonl(path) == 0  # nothing left to cut
  io.append_jsonl(path, {"key": "d"})
  with open(path) as f:
    assert [json.loads(ln)["key"] for ln in f] == ["a", "b", "d"]


def test_append_after_a_partial_line_keeps_every_good_record(tmp_path):
  """Without the repair the new record would be glued onto the fragment and the next
  read would stop at a line that is not JSON."""
  path = tmp_path / "s.jsonl"
  path.write_text('{"key": "a"}\n{"key": "b", "x": 1')
  io.append_jsonl(path, {"key": "c"})
  assert [r["key"] for r in io.read_jsonl(path)] == ["a", "c"]
  path.write_text('no newline at all')
  io.append_jsonl(path, {"key": "z"})
  assert [r["key"] for r in io.read_jsonl(path)] == ["z"]


def test_a_second_run_on_a_locked_folder_is_refused_and_the_lock_goes_with_the_run(tmp_path):
  with io.FolderLock(tmp_path / "out"):
    with pytest.raises(InvalidInput, match="another run is writing there"):
      with io.FolderLock(tmp_path / "out"):
        pass
  assert not os.path.exists(tmp_path / "out" / ".lock")
  with io.FolderLock(tmp_path / "out"):  # free again
    pass


def test_outputs_never_replace_an_input_a_link_or_a_device(tmp_path):
  inp = tmp_path / "x.npy"
  inp.write_bytes(b"input")
  with pytest.raises(InvalidInput, match="the input --x"):
    io.check_output_file(str(tmp_path / "." / "x.npy"), inputs={"x": str(inp)})
  os.symlink(tmp_path / "target.json", tmp_path / "link.json")
  with pytest.raises(InvalidInput, match="symbolic link"):
    io.check_output_file(tmp_path / "link.json")
  with pytest.raises(InvalidInput, match="not a regular file"):
    io.check_output_file("/dev/null")
  with pytest.raises(InvalidInput):
    io.write_json_atomic(tmp_path / "link.json", {"a": 1})
  assert os.path.islink(tmp_path / "link.json") and inp.read_bytes() == b"input"
  io.check_output_file(tmp_path / "new.json", inputs={"x": str(inp)})  # a new path is fine


def test_a_failed_atomic_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
  path = tmp_path / "report.md"
  io.write_text_atomic(path, "old\n", suffix=".md")

  def boom(fd):
    raise OSError("disk full")

  monkeypatch.setattr(os, "fsync", boom)
  with pytest.raises(OSError, match="disk full"):
    io.write_text_atomic(path, "new\n", suffix=".md")
  with pytest.raises(OSError, match="disk full"):
    io.write_json_atomic(tmp_path / "r.json", {"x": 1.0})
  monkeypatch.undo()
  assert path.read_text() == "old\n" and sorted(os.listdir(tmp_path)) == ["report.md"]
  io.write_text_atomic(path, "new\n", suffix=".md")
  assert path.read_text() == "new\n" and oct(path.stat().st_mode & 0o777) == "0o644"
