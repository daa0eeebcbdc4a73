"""One CPU device per core: set before JAX starts, never over the user's choice."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from adv_landscape import runtime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CODE = """
    import json, jax
    from adv_landscape import runtime
    {before}
    made = runtime.use_cpu_cores({n})
    print(json.dumps({{"made": made, "devices": jax.device_count()}}))
"""


def _clean_env():
  return {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAX_NUM_CPU_DEVICES")}


def _fresh(before="", n="3", **env):
  """Runs CODE in a new interpreter, where JAX has not started yet."""
  code = textwrap.dedent(CODE.format(before=before, n=n))
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       check=True, env={**_clean_env(), "PYTHONPATH": ROOT, **env})
  return json.loads(out.stdout.strip().splitlines()[-1])


def test_sets_the_device_count_before_jax_starts():
  assert _fresh() == {"made": True, "devices": 3}


def test_default_is_one_device_per_core():
  assert _fresh(n="") == {"made": True, "devices": runtime.cpu_cores()}


@pytest.mark.parametrize("env", [{"JAX_NUM_CPU_DEVICES": "1"},
                                 {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}])
def test_leaves_the_users_choice_alone(env):
  want = 1 if "JAX_NUM_CPU_DEVICES" in env else 2
  assert _fresh(**env) == {"made": False, "devices": want}


def test_does_nothing_once_jax_has_run():
  assert _fresh(before="jax.numpy.ones(1).block_until_ready()") == {"made": False, "devices": 1}


def test_rejects_a_nonpositive_count():
  with pytest.raises(ValueError, match="n=0"):
    runtime.use_cpu_cores(0)


def test_auto_sharding_needs_enough_restarts_per_device():
  code = """
      import json, jax
      from adv_landscape import ascent, runtime
      runtime.use_cpu_cores(2)
      n = 2 * ascent.SHARD_MIN_PER_DEVICE
      print(json.dumps([ascent.sharding_pays(n), ascent.sharding_pays(n - 1),
                        ascent.sharding_pays(8, True), ascent.sharding_pays(n, False)]))
  """
  out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                       text=True, cwd=ROOT, check=True, env={**_clean_env(), "PYTHONPATH": ROOT})
  assert json.loads(out.stdout.strip().splitlines()[-1]) == [True, False, True, False]


def test_sharding_choice_is_checked_and_one_device_never_shards():
  import jax

  from adv_landscape import ascent
  with pytest.raises(ValueError, match="shard='yes'"):
    ascent.sharding_pays(1024, "yes")
  assert ascent.sharding_pays(10**6, True) == (jax.device_count() > 1)
