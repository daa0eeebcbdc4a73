"""Test configuration: float64, no silent rank promotion, a fixed key."""

import os

import jax
import pytest

# The command line turns on JAX's persistent compilation cache in the user's cache folder;
# tests run it in-process and must not write there (tests/test_compile_cache.py turns it on
# in a temporary folder).
os.environ["ADV_LANDSCAPE_CACHE_DIR"] = "off"

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def key():
  return jax.random.key(20200712)
