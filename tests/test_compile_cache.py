"""The persistent compilation cache: on by default, off on request, never a failure."""

import os
import subprocess
import sys

import pytest

from adv_landscape import compile_cache


def test_the_folder_follows_the_environment(tmp_path):
  assert compile_cache.folder_from({"ADV_LANDSCAPE_CACHE_DIR": "off"}) is None
  assert compile_cache.folder_from({"ADV_LANDSCAPE_CACHE_DIR": str(tmp_path)}) == str(tmp_path)
  assert compile_cache.folder_from({"HOME": "/h", "XDG_CACHE_HOME": "/x"}) == \
      os.path.join("/x", "adv_landscape", "jax")


def test_an_unusable_folder_turns_the_cache_off_instead_of_failing(tmp_path):
  (tmp_path / "afile").write_text("not a folder")
  assert compile_cache.enable({"ADV_LANDSCAPE_CACHE_DIR": str(tmp_path / "afile" / "c")}) is None


def _census(env):
  return subprocess.run([sys.executable, "-m", "adv_landscape.cli", "census", "--d", "4", "--m",
                         "6", "--inits", "8", "--no-progress"], env=env, capture_output=True,
                        text=True, timeout=300)


@pytest.mark.slow  # (22-36 s: the suite stays under 10 minutes; -m slow runs it)
def test_a_command_line_run_fills_the_cache_and_a_second_reads_it(tmp_path):
  env = dict(os.environ, ADV_LANDSCAPE_CACHE_DIR=str(tmp_path / "cache"))
  first = _census(env)
  assert first.returncode == 0, first.stderr
  entries = set(os.listdir(tmp_path / "cache"))
  assert entries  # compiled programs were written
  second = _census(env)
  assert second.returncode == 0, second.stderr
  assert second.stdout.splitlines()[2:] == first.stdout.splitlines()[2:]  # same census
  off = dict(os.environ, ADV_LANDSCAPE_CACHE_DIR="off")
  assert _census(off).returncode == 0
