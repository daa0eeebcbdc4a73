"""census --bound: the certified upper bound and PGA's gap to it, in the summary, the JSON and
the human line; deep networks get the layer-by-layer interval bound."""

import json

import jax
import numpy as np

import adv_landscape as al
from adv_landscape.cli import main
from adv_landscape.instances import synthetic_instance


def test_census_bound_is_above_the_best_maximum(tmp_path, capsys):
  path = tmp_path / "c.json"
  assert main(["census", "--d", "6", "--m", "10", "--scale", "0.5", "--inits", "32", "--x64",
               "--bound", "--no-progress", "--json", str(path)]) == 0
  out = capsys.readouterr().out
  s = json.loads(path.read_text())["summary"]
  assert s["upper_bound"] >= s["best_value"] and s["gap"] == s["upper_bound"] - s["best_value"]
  assert 0 <= s["relative_gap"] < 1 and "linear relaxation" in s["bound_method"]
  assert "bound      max L <=" in out


def test_census_bound_on_a_deep_network_is_the_interval_bound(tmp_path, capsys):
  path = tmp_path / "c.json"
  assert main(["census", "--d", "5", "--depth", "2", "--m", "6", "--inits", "8", "--x64",
               "--bound", "--no-progress", "--step-rule", "grad0", "--json", str(path)]) == 0
  s = json.loads(path.read_text())["summary"]
  assert s["upper_bound"] >= s["best_value"]
  assert s["bound_method"].startswith("interval bounds of f through 2 hidden layers")
  assert "bound      max L <=" in capsys.readouterr().out


def test_api_census_bound_at_small_scale_is_nearly_tight():
  """At s = 1/8 the unit intervals are narrow and L nearly linear in delta over the ball, so
  the relaxation's bound sits within a few percent of the maximum PGA certifies (a
  tightness check: a bound that ignored the linear term would be off by far more)."""
  with jax.enable_x64(True):
    net, x = synthetic_instance(seed=2, d=8, m=16, scale=0.125, dtype=np.float64)
    r = al.census(net, "quadratic", x, 1.0, gamma=0.5, n_restarts=32, bound=True)
    s = r.summary
    assert s["best_value"] <= s["upper_bound"] <= s["best_value"] * 1.05, s
