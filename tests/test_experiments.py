"""Every experiment script runs end to end in smoke mode and writes real figures."""

import json
import os

import matplotlib.image as mpimg
import numpy as np
import pytest

from adv_landscape.cli import main
from experiments import one_step, rq1_local_max, rq2_compare_stores, rq2_input_scale, rq3_landscape


def check_figure(path):
  assert os.path.getsize(path) > 5000
  if path.endswith(".png"):
    img = mpimg.imread(path)
    assert img.shape[0] >= 400 and img.shape[1] >= 600  # 150 dpi, at least 4 x 2.7 inches
    assert float(np.std(img[..., :3])) > 0.01  # something is drawn


FIGURES = {"rq1": ["rq1_value_vs_iteration", "rq1_lambda_hist", "rq1_certified"],
           "rq2": ["rq2_protocols", "rq2_speed"],
           "rq3": ["rq3_slices", "rq3_great_circles", "rq3_global"],
           "one_step": ["one_step_threshold", "one_step_flips", "one_step_maxima"]}


MODULES = {"rq1": rq1_local_max, "rq2": rq2_input_scale, "rq3": rq3_landscape,
           "one_step": one_step}


def test_reproduce_drives_every_experiment_with_the_run_flags(tmp_path, monkeypatch, capsys):
  """adv-landscape reproduce calls each registered script's main() with its flags, in order,
  and records every figure they return (the scripts stubbed; each runs for real below)."""
  import importlib

  from adv_landscape.commands import EXPERIMENTS

  assert sorted(EXPERIMENTS) == sorted(f"{m.__name__.rsplit('.', 1)[-1]}"
                                       for m in MODULES.values())
  calls = []

  def stub(name):
    def run(flags):
      calls.append((name, flags))
      return [os.path.join(flags[flags.index("--out") + 1], f"{name}.png")]
    return type("Script", (), {"main": staticmethod(run)})

  real = importlib.import_module
  monkeypatch.setattr(importlib, "import_module",
                      lambda name, *a: stub(name.removeprefix("experiments."))
                      if name.removeprefix("experiments.") in EXPERIMENTS else real(name, *a))
  assert main(["reproduce", "--smoke", "--out", str(tmp_path), "--no-progress", "--seed", "3",
               "--json", str(tmp_path / "run.json")]) == 0
  assert [n for n, _ in calls] == list(EXPERIMENTS)
  for _, flags in calls:
    assert flags[flags.index("--out") + 1] == str(tmp_path)
    assert flags[flags.index("--seed") + 1] == "3" and "--smoke" in flags
    assert "--no-progress" in flags and flags[flags.index("--data") + 1] == "digits"
  made = json.loads((tmp_path / "run.json").read_text())["figures"]
  assert made == [str(tmp_path / f"{n}.png") for n in EXPERIMENTS]
  capsys.readouterr()


@pytest.mark.parametrize("rq", list(FIGURES))
def test_each_experiment_runs_in_smoke_mode(rq, tmp_path, capsys):
  """Each script's main() in smoke mode (one test per script, so that they run in parallel):
  its figures, its summary, and what the summary must hold."""
  made = MODULES[rq].main(["--smoke", "--out", str(tmp_path), "--no-progress"])
  want = sorted(f"{n}.{e}" for n in FIGURES[rq] for e in ("png", "pdf"))
  assert sorted(os.path.basename(p) for p in made) == want
  for p in made:
    check_figure(p)
  summary = json.loads((tmp_path / f"{rq}_summary.json").read_text())
  assert summary["summary"] and summary["config"]["smoke"] is True
  out = capsys.readouterr().out
  assert {"rq1": "RQ1", "rq2": "RQ2", "rq3": "RQ3", "one_step": "one step"}[rq] in out
  if rq == "one_step":
    for rec in summary["summary"]["instances"]:  # no budget below the first flip flips
      assert np.isfinite(rec["c_one_step"]) and rec["c_one_step"] > 0
      assert not any(b["one_step_flips"] for b in rec["budgets"] if b["c"] < rec["c_one_step"])
  if rq == "rq2":
    check_rq2_summary(summary["summary"])
    check_rq2_report((tmp_path / "rq2_summary.md").read_text(), summary["summary"])
  if rq == "rq3":  # p_global's bounds bracket it, and the interval holds the best maximum
    for rows in summary["summary"]["global"].values():
      for r in rows:
        assert 0 <= r["p_lower"] <= r["p_upper"] <= 1
        assert r["lower"] >= r["best"] - 1e-9 * abs(r["best"]) and r["upper"] >= r["lower"]


def check_rq2_summary(summary):
  rq2 = summary["protocols"]
  assert set(rq2) == {"fixed", "rescaled", "tuned", "clean"}
  for proto in rq2.values():
    assert proto["verdict"] in ("supports", "contradicts", "inconclusive", "mixed")
    assert set(rq2_input_scale.MEASURES) <= set(proto["measures"])
    for name, m in proto["measures"].items():
      assert m["verdict"] in ("supports", "contradicts", "inconclusive")
      for scale, v in m["per_scale"].items():  # a number per seed, or a reason for none
        assert len(v["per_seed"]) == 2
        # the aligned measure has none where a curve never came down to its level, or
        # where the latest to do so left no epochs after it
        unaligned = name in rq2_input_scale.ALIGNED and (
            v["level_never_reached"] > 0 or m["statistic"]["window"] < 1)
        assert (all(a is not None for a in v["per_seed"]) or unaligned
                or proto["diverged_seeds"][scale] > 0)
  assert [c["name"] for c in summary["controls"]] == list(rq2_input_scale.CONTROLS)
  assert all({"name", "expected", "verdict"} <= set(c) for c in summary["controls"])
  # the invariance control trains the same network at every scale: every measure ties
  inv = summary["control_runs"]["invariant"]["measures"]["mean_loss"]["per_scale"]
  vals = [v["per_seed"][0] for v in inv.values()]
  np.testing.assert_allclose(vals, vals[0], rtol=1e-9)


def check_rq2_report(md, summary):
  """rq2_summary.md says what the JSON says: each protocol's verdict, each measure's row of
  medians (censored epochs as '>K', the censored seeds counted) and verdict, the
  controls."""
  K = summary["settings"]["epochs"]
  sections = md.split("\n## ")
  for proto, p in summary["protocols"].items():
    sec = next(x for x in sections if x.startswith(f"{proto}: "))
    assert sec.startswith(f"{proto}: {p['verdict']}\n")
    for name, m in p["measures"].items():
      row = next(r for r in sec.splitlines() if r.startswith(f"| {name}"))
      cells = row.split(" | ")
      want = []
      for v in (m["per_scale"][str(s)] for s in rq2_input_scale.SCALES):
        c = v.get("censored_seeds", 0)
        want.append("-" if v["median"] is None else
                    (f">{K}" if name.startswith("epochs_to") and v["median"] > K
                     else format(v["median"], ".3g"))
                    + (f" ({c}/{len(v['per_seed'])} >{K})" if c else ""))
      assert cells[1:1 + len(want)] == want, (proto, name, cells, want)
      assert cells[-1].rstrip(" |").split(":")[0].split(" (")[0] == m["verdict"]
  for c in summary["controls"]:
    assert f"| {c['name']} | {c['expected']} | {c['verdict']} |" in md


@pytest.mark.slow
def test_reproduce_runs_every_experiment_in_smoke_mode(tmp_path, capsys):
  """The whole chain once, unstubbed: adv-landscape reproduce --smoke writes every figure."""
  assert main(["reproduce", "--smoke", "--out", str(tmp_path), "--no-progress",
               "--json", str(tmp_path / "run.json")]) == 0
  made = json.loads((tmp_path / "run.json").read_text())["figures"]
  want = sorted(f"{n}.{e}" for names in FIGURES.values() for n in names for e in ("png", "pdf"))
  assert sorted(os.path.basename(p) for p in made) == want
  check_rq2_summary(json.loads((tmp_path / "rq2_summary.json").read_text())["summary"])
  capsys.readouterr()


def test_scripts_have_a_main_with_argparse():
  for module in (rq1_local_max, rq2_input_scale, rq3_landscape, one_step):
    assert callable(module.main) and "Command:" in module.__doc__ and "Run time" in module.__doc__


def test_reproduce_refuses_unknown_data(capsys):
  assert main(["reproduce", "--data", "mnist-that-is-not-here"]) == 2
  err = capsys.readouterr().err
  assert "data='mnist-that-is-not-here'" in err and len(err.strip().splitlines()) == 1


def test_reproduce_refuses_synthetic(capsys):
  assert main(["reproduce", "--data", "synthetic"]) == 2
  assert "reproduce needs a real data set" in capsys.readouterr().err


def test_quick_reproduce_writes_to_its_own_folder(tmp_path, monkeypatch, capsys):
  """--quick (and --smoke) without --out never write into figures/, the full run's folder;
  every default folder is in the current folder, so a run from elsewhere leaves the
  checkout alone."""
  import importlib

  seen = []
  monkeypatch.chdir(tmp_path)
  idx = tmp_path / "elsewhere" / "idx"  # a folder of IDX files (the script is stubbed)
  idx.mkdir(parents=True)

  class Script:
    @staticmethod
    def main(flags):
      seen.append(flags[flags.index("--out") + 1])
      return []

  from adv_landscape.commands import EXPERIMENTS

  real = importlib.import_module  # every experiment stubbed (a real one would run in full)
  monkeypatch.setattr(importlib, "import_module",
                      lambda name, *a: Script if name.removeprefix("experiments.") in EXPERIMENTS
                      else real(name, *a))
  for flags, folder in ((["--quick"], "figures-quick"), (["--smoke"], "figures-quick"),
                        ([], "figures"), (["--norm", "inf"], "figures-inf"),
                        (["--quick", "--norm", "inf"], "figures-quick-inf"),
                        # another data set never writes over the digits figures
                        (["--data", "fashion-mnist"], os.path.join("figures", "fashion-mnist")),
                        (["--quick", "--data", str(idx)], os.path.join("figures-quick", "idx"))):
    seen.clear()
    assert main(["reproduce", "--no-progress"] + flags) == 0
    assert {os.path.relpath(p, tmp_path) for p in seen} == {folder}, (flags, seen)
  capsys.readouterr()


def test_rq2_trend_verdict_can_support_contradict_or_abstain():
  """Planted tables (seeds x scales of AUC): increasing in s supports the paper's claim,
  decreasing contradicts it, noise without a trend is inconclusive."""
  rng = np.random.default_rng(0)
  scales = np.asarray(rq2_input_scale.SCALES)
  seeds = np.arange(5)
  up = 0.5 * scales[None] ** 0.3 * np.exp(0.01 * rng.standard_normal((5, 5)))
  assert rq2_input_scale.trend_verdict(up, scales, seeds)["verdict"] == "supports"
  down = 0.5 * scales[None] ** -0.3 * np.exp(0.01 * rng.standard_normal((5, 5)))
  assert rq2_input_scale.trend_verdict(down, scales, seeds)["verdict"] == "contradicts"
  flat = 0.5 * np.exp(0.2 * rng.standard_normal((5, 5)))
  assert rq2_input_scale.trend_verdict(flat, scales, seeds)["verdict"] == "inconclusive"


def test_rq2_slope_is_the_least_squares_one_and_exactly_zero_on_a_censored_measure():
  """Per seed, the slope of the cost on log2 s: a planted line's slope (as np.polyfit finds
  it), and exactly 0 with a [0, 0] interval where every run is censored (13 everywhere)."""
  scales = np.asarray(rq2_input_scale.SCALES)
  rng = np.random.default_rng(1)
  table = 0.3 + 0.07 * np.log2(scales)[None] + 0.01 * rng.standard_normal((5, 5))
  r = rq2_input_scale.trend_verdict(table, scales, np.arange(5))
  ref = np.mean([np.polyfit(np.log2(scales), row, 1)[0] for row in table])
  assert abs(r["slope_per_doubling"] - ref) <= 1e-12
  censored = rq2_input_scale.trend_verdict(np.full((5, 5), 13.0), scales, np.arange(5))
  assert censored["slope_per_doubling"] == 0.0 and censored["slope_ci"] == [0.0, 0.0]
  assert censored["verdict"] == "inconclusive"
  odd = np.full((5, 5), 0.1 + 0.2)  # a value with no exact binary form, still constant
  assert rq2_input_scale.trend_verdict(odd, scales, np.arange(5))["slope_per_doubling"] == 0.0


def test_rq2_relative_auc_on_a_known_curve():
  """The secondary, relative measure: mean of R_t / R_0 over epochs 1..K."""
  log = [{"epoch": e, "test_robust_loss": r, "test_robust_acc": 0.5}
         for e, r in enumerate([1.0, 0.8, 0.5, 0.4])]
  assert abs(rq2_input_scale.measures(log, 3)["auc_relative"] - (0.8 + 0.5 + 0.4) / 3) < 1e-12


def test_rq2_aligned_loss_removes_a_head_start_and_keeps_a_slower_descent():
  """Planted negatives for the starting-loss confound: each larger scale starts higher and
  then follows the same curve as the smallest one, d j epochs later, for whole and for
  fractional delays d. mean_loss reads the head start as "slower" (supports); the aligned
  measure must not (inconclusive), its values equal for whole delays and, for fractional
  ones, within the linear interpolation's error of one another. Planted positives: from
  the same level the larger scales descend more slowly, with and without a head start:
  supports. A starting loss that differs by rounding alone changes nothing. One value is
  checked against a closed form."""
  K, scales, seeds = 12, np.asarray(rq2_input_scale.SCALES), np.arange(5)
  t = np.arange(K + 1, dtype=np.float64)

  def base(t, rate=0.5, seed=0):
    return 0.4 + (0.6 + 0.01 * seed) * np.exp(-rate * t)

  def verdict(table):
    return rq2_input_scale.trend_verdict(table, scales, seeds)["verdict"]

  def mean_loss(curves):
    return np.asarray([[np.mean(c[1:]) for c in col] for col in curves]).T

  # the interpolation's error, for f = 0.4 + A exp(-t / 2) (convex, falling) and the level
  # 1.0: the linear interpolant g lies above f, by at most M_k / 8 on epoch segment k and
  # by M_k / 12 on its average, M_k = max f'' there; the segment holding the crossing starts
  # at most an epoch before it, where f'' = (f - 0.4) / 4 <= 0.6 e^0.5 / 4 = 0.247, and each
  # later segment's M_k is e^-0.5 times the one before. So g's window mean exceeds f's over
  # the same window by e1 <= 0.247 / (1 - e^-0.5) / 12 / W. g crosses the level late, by
  # delta <= (0.247 / 8) / (|f'| >= 0.3 e^-0.5 within that epoch), and a window slid later
  # by delta has a mean lower by at most delta (1.0 - 0.4) / W. Every value is the common
  # true one + e1 - e2 with 0 <= e1, e2 below those bounds: the spread is at most their sum
  M1 = 0.6 * np.exp(0.5) / 4

  def spread_bound(W):
    return (M1 / (1 - np.exp(-0.5)) / 12 + M1 / 8 / (0.3 * np.exp(-0.5)) * 0.6) / W

  for d in (1.0, 2.0, 0.3, 0.7, 1.5):
    delayed = [[list(base(t - d * j, seed=i)) for i in seeds] for j in range(5)]
    a = rq2_input_scale.aligned_mean_loss(delayed, K)
    table = np.asarray(a["values"])
    assert verdict(mean_loss(delayed)) == "supports"
    assert verdict(table) == "inconclusive", d
    assert a["level"] == base(0.0) and np.all(np.isfinite(table))
    spread = np.ptp(table, axis=1).max()
    if d == int(d):  # the same samples, shifted: the same value up to rounding
      assert spread <= 1e-12
    else:
      assert spread <= spread_bound(a["window"])
  # closed form: seed 0 at scale 0 starts at the level (t* = 0), so its value is the mean of
  # the piecewise-linear curve over [0, W], W = K - (the latest crossing)
  a = rq2_input_scale.aligned_mean_loss(
      [[list(base(t - 1.0 * j, seed=i)) for i in seeds] for j in range(5)], K)
  c = base(t)
  W = a["window"]
  n = int(np.floor(W))
  c_end = c[n] + (W - n) * (c[n + 1] - c[n])
  trapezoid = (c[0] / 2 + c[1:n].sum() + c[n] / 2 + (W - n) * (c[n] + c_end) / 2) / W
  assert a["values"][0][0] == pytest.approx(trapezoid, rel=1e-13)
  assert a["epochs_to_level"][0][0] == 0.0 and a["epochs_to_level"][4][0] == 4.0
  # slower from the same level; and slower with a head start besides
  slower = [[list(base(t, rate=0.5 / (1 + j), seed=i)) for i in seeds] for j in range(5)]
  both = [[list(base(t - 0.7 * j, rate=0.5 / (1 + 0.3 * j), seed=i)) for i in seeds]
          for j in range(5)]
  for curves in (slower, both):
    assert verdict(np.asarray(rq2_input_scale.aligned_mean_loss(curves, K)["values"])) == \
        "supports"
  # the invariance control's starting losses may differ in the last bit: no order read
  same = [[list(base(t, seed=i) * (1 + 1e-15 * (j % 2))) for i in seeds] for j in range(5)]
  assert verdict(np.asarray(rq2_input_scale.aligned_mean_loss(same, K)["values"])) == \
      "inconclusive"
  # the level after one epoch; a curve that never comes down to the level has no value
  a1 = rq2_input_scale.aligned_mean_loss(slower, K, level_epoch=1)
  assert a1["level"] == min(c[1] for col in slower for c in col)
  assert verdict(np.asarray(a1["values"])) == "supports"
  stuck = [[list(base(t, seed=i)) for i in seeds]] + [[[2.0] * (K + 1)] * 5]
  assert np.isnan(rq2_input_scale.aligned_mean_loss(stuck, K)["values"][0][1])


def test_rq2_primary_measures_on_a_known_log():
  """Absolute targets: robust loss <= 0.5, robust accuracy >= 0.6; never reached is K + 1."""
  log = [{"epoch": e, "test_robust_loss": r, "test_robust_acc": a}
         for e, (r, a) in enumerate([(1.0, 0.2), (0.7, 0.5), (0.45, 0.55), (0.4, 0.65)])]
  m = rq2_input_scale.measures(log, 3)
  assert m["epochs_to_loss"] == 2 and m["epochs_to_acc"] == 3
  assert abs(m["mean_loss"] - (0.7 + 0.45 + 0.4) / 3) < 1e-12
  assert m["final_loss"] == 0.4 and abs(m["final_error"] - 0.35) < 1e-12
  never = [{**r, "test_robust_acc": 0.1} for r in log]
  assert rq2_input_scale.measures(never, 3)["epochs_to_acc"] == 4  # censored
  assert rq2_input_scale.measures(log + [{"diverged": True}], 3) is None


def test_rq2_protocol_verdict_needs_agreement_and_says_mixed():
  v = rq2_input_scale.protocol_verdict
  assert v(dict(a="supports", b="supports", c="supports", d="inconclusive")) == "supports"
  assert v(dict(a="supports", b="supports", c="inconclusive")) == "inconclusive"
  assert v(dict(a="supports", b="supports", c="supports", d="contradicts")) == "mixed"
  assert v(dict(a="contradicts", b="contradicts", c="contradicts")) == "contradicts"


def test_rq2_ties_within_rounding_are_not_a_trend():
  """The invariance control's measures differ by rounding only: Page's L must not read an
  order into them (it would, 1 time in 2, without the ties); a real trend still shows."""
  scales = np.asarray(rq2_input_scale.SCALES)
  same = 0.7 * (1 + 1e-13 * np.arange(5))[None, :].repeat(5, 0)  # rising by rounding only
  assert rq2_input_scale.trend_verdict(same, scales, np.arange(5))["verdict"] == "inconclusive"
  rising = 0.7 * (1 + 1e-3 * np.arange(5))[None, :].repeat(5, 0)
  assert rq2_input_scale.trend_verdict(rising, scales, np.arange(5))["verdict"] == "supports"


def test_rq1_learned_fails_on_a_collapsed_network_and_holds_on_one_that_learned():
  """The committed run's last epochs before the fix (a constant-sign predictor: clean =
  robust accuracy = 0.5) must fail the check; a network that learned passes it."""
  collapsed = [{"epoch": e, "clean_acc": c, "robust_acc": r} for e, c, r in
               ((12, 0.504, 0.503), (13, 0.504, 0.504), (14, 0.658, 0.277), (15, 0.496, 0.496))]
  assert not rq1_local_max.learned(collapsed)["learned"]
  good = [{"epoch": e, "clean_acc": 0.9, "robust_acc": 0.7} for e in range(1, 21)]
  assert rq1_local_max.learned(good)["learned"]
  assert not rq1_local_max.learned(good[:2])["learned"]  # too few epochs to say


def test_rq2_holm_adjusts_over_the_primary_measures():
  """A measure at p = 0.02 supports alone but not among five (Holm: 5 x 0.02 > 0.05 when
  it is the smallest); one at 1e-4 still supports; the secondary AUC is not adjusted."""
  def meas(p_up):
    out = {m: {"statistic": {"page_p_increasing": p, "page_p_decreasing": 1 - p,
                             "verdict": "supports" if p < 0.05 else "inconclusive"},
               "verdict": "supports" if p < 0.05 else "inconclusive"}
           for m, p in zip(rq2_input_scale.MEASURES, p_up)}
    out["auc_relative"] = {"statistic": {"page_p_increasing": 0.02, "page_p_decreasing": 0.98,
                                         "verdict": "supports"}, "verdict": "supports"}
    return out
  weak = meas([0.02, 0.5, 0.6, 0.7, 0.8])
  rq2_input_scale.holm_adjust(weak)
  first = weak[rq2_input_scale.MEASURES[0]]
  assert first["verdict"] == "inconclusive"
  assert first["statistic"]["verdict_unadjusted"] == "supports"
  assert first["statistic"]["page_p_increasing_holm"] == pytest.approx(0.1)
  assert weak["auc_relative"]["verdict"] == "supports"
  strong = meas([1e-4, 0.5, 0.6, 0.7, 0.8])
  rq2_input_scale.holm_adjust(strong)
  assert strong[rq2_input_scale.MEASURES[0]]["verdict"] == "supports"


def _rq2_args(out, **kw):
  import argparse
  base = dict(smoke=True, quick=False, data="digits", data_dir=None, out=str(out), norm="2",
              seed=0, gamma=0.1, lr=0.02, no_progress=True)
  return argparse.Namespace(**{**base, **kw})


def _fake_train(calls):
  """A stand-in for RQ2's training run: a log that depends on the run's configuration."""
  def fake(ds_tr, splits, eps_of, cfg, args, steps, n_cert):
    calls.append(cfg)
    r = 0.4 + cfg.lr + 0.01 * cfg.seed + 0.001 * cfg.w_scale + 0.1 * float(ds_tr[0][0, 0])
    return [{"epoch": e, "test_robust_loss": r / (1 + e), "valid_robust_loss": r / (1 + e),
             "test_robust_acc": 0.5, "test_clean_loss": r, "test_attack_converged": 1.0}
            for e in range(cfg.epochs + 1)]
  return fake


def test_rq2_resumes_a_killed_run_and_refuses_another_configuration(tmp_path, monkeypatch):
  """Killed after 7 training runs, the rerun trains only the rest, and its logs (hence its
  summary) equal an uninterrupted run's; a store written under another configuration is
  refused with one line naming the file."""
  from adv_landscape.errors import InvalidInput
  calls = []
  monkeypatch.setattr(rq2_input_scale, "_train", _fake_train(calls))
  whole = rq2_input_scale.run(_rq2_args(tmp_path / "whole"))
  total = len(calls)
  assert total == 60  # 5 scales x 2 seeds x (5 runs + the other smoke lr)

  real = rq2_input_scale._train
  calls.clear()

  def dying(*a):
    if len(calls) == 7:
      raise KeyboardInterrupt
    return real(*a)
  monkeypatch.setattr(rq2_input_scale, "_train", dying)
  with pytest.raises(KeyboardInterrupt):
    rq2_input_scale.run(_rq2_args(tmp_path / "killed"))
  assert len(calls) == 7
  with open(tmp_path / "killed" / rq2_input_scale.RUNS_FILE, "a") as f:
    f.write('{"key": "cut sh')  # a write the kill cut short
  monkeypatch.setattr(rq2_input_scale, "_train", real)
  calls.clear()
  resumed = rq2_input_scale.run(_rq2_args(tmp_path / "killed"))
  assert len(calls) == total - 7
  assert json.dumps(resumed, sort_keys=True) == json.dumps(whole, sort_keys=True)
  with pytest.raises(InvalidInput, match="another configuration.*delete the file"):
    rq2_input_scale.run(_rq2_args(tmp_path / "killed", gamma=0.2))


def test_rq2_strong_attack_polish_converges_where_the_ladder_does_not():
  """On saturated networks (first layer x8, as at a large input scale) the grad0 ladder
  leaves examples unconverged; the polish converges every one (its flag checked against
  ||G|| at the zero start's step, computed here by autodiff and NumPy), from the ladder's
  worst points, so no loss goes down; without unconverged examples it changes nothing."""
  import jax
  import jax.numpy as jnp

  from adv_landscape import objective
  from adv_landscape.network import Network, init_network
  net = init_network(jax.random.key(2), 16, 8, activation="tanh", dtype=jnp.float64)
  net = Network(net.W * 8.0, net.a, net.b, net.activation)
  X = np.asarray(jax.random.normal(jax.random.key(102), (16, 16)))
  Y = np.sign(np.asarray(jax.random.normal(jax.random.key(202), (16,))))
  eps = np.asarray(0.5 * np.linalg.norm(X, axis=1))
  kw = dict(steps=20, norm="2", retries=1)
  v0, D0, c0, p0 = rq2_input_scale.strong_attack(net, X, Y, jnp.asarray(eps),
                                                 jax.random.key(1), polish=False, **kw)
  v1, D1, c1, p1 = rq2_input_scale.strong_attack(net, X, Y, jnp.asarray(eps),
                                                 jax.random.key(1), **kw)
  assert c0.mean() < 0.5 and c1.all()
  assert np.all(p0 == -1) and np.all((p1 >= 0) == ~c0)
  u = np.finfo(float).eps
  for i in np.flatnonzero(~c0):  # the polish's flag, recomputed independently
    def value(z, i=i):
      return objective.value(net, "quadratic", X[i], Y[i], z)
    g0 = np.linalg.norm(np.asarray(jax.grad(value)(jnp.zeros(16))))
    eta = rq2_input_scale.ALPHA * eps[i] / g0
    v = D1[i] + eta * np.asarray(jax.grad(value)(jnp.asarray(D1[i])))
    G = np.linalg.norm(v * min(1.0, eps[i] / np.linalg.norm(v)) - D1[i]) / eta
    terms = float(jnp.linalg.norm(jnp.abs(net.W.T) @ jnp.abs(net.a)))
    assert G <= rq2_input_scale.RTOL_G * g0 + 64 * u * (eps[i] / eta + terms)
  assert np.all(v1 >= v0 - 1e-12 * np.abs(v0))  # strong_attack's own acceptance rule
  assert np.array_equal(D1[c0], D0[c0])  # the converged ones untouched
  small = Network(net.W / 8.0, net.a, net.b, net.activation)  # the same, unsaturated
  kw["steps"] = 400
  va, Da, ca, _ = rq2_input_scale.strong_attack(small, X, Y, jnp.asarray(eps),
                                                jax.random.key(1), polish=False, **kw)
  vb, Db, cb, pb = rq2_input_scale.strong_attack(small, X, Y, jnp.asarray(eps),
                                                 jax.random.key(1), **kw)
  assert ca.all() and np.array_equal(va, vb) and np.array_equal(Da, Db) and np.all(pb == -1)


def test_rq2_carry_over_takes_exactly_the_runs_the_attack_reproduces(tmp_path, monkeypatch):
  """A store written before the polish (no ``attack`` in its configuration): --carry-over
  copies in the runs whose attack converged everywhere on both splits (a diverged run's
  last, unevaluated record does not stop it) and trains only the others, and the result
  equals a run from scratch; a store with an attack, of another configuration, or no store
  is refused with one line naming the argument."""
  from adv_landscape.errors import InvalidInput
  calls = []

  def fake(*a):
    log = _fake_train(calls)(*a)
    for e in log:  # the real evaluator's keys (the polish never runs in a fake)
      e.update({f"{split}_attack_{what}": 0.0 for split in ("valid", "test")
                for what in ("polished", "relabelled")}, valid_attack_converged=1.0)
    cfg = a[3]
    if cfg.seed == 1 and cfg.lr > 0.001:  # some runs with an unconverged test attack
      log[2]["test_attack_converged"] = 0.96
    if cfg.seed == 0 and cfg.w_scale != 1.0:  # ... or an unconverged validation attack
      log[1]["valid_attack_converged"] = 0.99
    if cfg.seed == 0 and cfg.lr_first is not None and cfg.w_scale == 1.0:  # diverged
      log[-1] = {"epoch": log[-1]["epoch"], "diverged": True, "reason": "planted"}
    return log
  monkeypatch.setattr(rq2_input_scale, "_train", fake)
  whole = rq2_input_scale.run(_rq2_args(tmp_path / "whole"))
  total = len(calls)
  unconverged = sum((c.seed == 1 and c.lr > 0.001) or (c.seed == 0 and c.w_scale != 1.0)
                    for c in calls)
  assert 0 < unconverged < total
  calls.clear()
  store_config = rq2_input_scale._store_config
  monkeypatch.setattr(rq2_input_scale, "_store_config",  # a store from before the polish
                      lambda args: {k: v for k, v in store_config(args).items()
                                    if k != "attack"})
  rq2_input_scale.run(_rq2_args(tmp_path / "old"))
  old = str(tmp_path / "old" / rq2_input_scale.RUNS_FILE)
  monkeypatch.setattr(rq2_input_scale, "_store_config", store_config)
  calls.clear()
  with pytest.raises(InvalidInput, match="only the attack differs"):
    rq2_input_scale.run(_rq2_args(tmp_path / "old"))  # the old store, as --out
  new = rq2_input_scale.run(_rq2_args(tmp_path / "new", carry_over=old))
  assert len(calls) == unconverged
  assert json.dumps(new, sort_keys=True) == json.dumps(whole, sort_keys=True)
  newer = str(tmp_path / "new" / rq2_input_scale.RUNS_FILE)
  with pytest.raises(InvalidInput, match="--carry-over.*only a store from before"):
    rq2_input_scale.run(_rq2_args(tmp_path / "again", carry_over=newer))
  with pytest.raises(InvalidInput, match="--carry-over.*only the attack may differ"):
    rq2_input_scale.run(_rq2_args(tmp_path / "other", gamma=0.2, carry_over=old))
  with pytest.raises(InvalidInput, match="--carry-over.*does not exist"):
    rq2_input_scale.run(_rq2_args(tmp_path / "none", carry_over=str(tmp_path / "nope")))


def test_rq2_compare_stores_reports_what_the_polish_changed(tmp_path, capsys):
  """Two small stores written by hand: a carried run is counted apart; a retrained one's
  training equality, convergence, loss change and accuracy fall are the planted ones; a
  training record that differs is seen; a store that is not one, and a new run the old
  store lacks, are refused with one line and exit code 2."""
  def rec(e, loss, acc, conv, adv=0.7, **kw):
    return {"epoch": e, "adv_loss": adv, "clean_loss": 0.3, "test_robust_loss": loss,
            "test_robust_acc": acc, "test_attack_converged": conv, **kw}
  old = [{"config": {"data": "x"}},
         {"key": "fixed|4.0|0", "log": [rec(0, 1.0, 0.5, 0.9), rec(1, 0.8, 0.6, 0.7)]},
         {"key": "fixed|4.0|1", "log": [rec(0, 1.0, 0.5, 1.0), rec(1, 0.8, 0.6, 1.0)]}]
  new = [{"config": {"data": "x", "attack": "a"}},
         {"key": "fixed|4.0|1", "log": old[2]["log"], "carried_from": "old"},
         {"key": "fixed|4.0|0", "log": [rec(0, 1.01, 0.5, 1.0, test_attack_polished=0.1),
                                        rec(1, 0.8, 0.5, 1.0, test_attack_polished=0.3,
                                            test_attack_relabelled=0.01)]}]
  paths = {}
  for name, recs in (("old", old), ("new", new)):
    paths[name] = tmp_path / f"{name}.jsonl"
    paths[name].write_text("".join(json.dumps(r) + "\n" for r in recs))
  r = rq2_compare_stores.compare(str(paths["old"]), str(paths["new"]))["4.0"]
  assert (r["runs"], r["carried"], r["retrained"], r["training_identical"]) == (2, 1, 1, 1)
  assert r["old_converged_mean"] == pytest.approx(0.8) and r["old_converged_worst"] == 0.7
  assert r["new_converged_worst"] == 1.0
  assert r["loss_change_max"] == pytest.approx(0.01) and r["loss_change_median"] == \
      pytest.approx(0.005)
  assert r["acc_drop_max"] == pytest.approx(0.1)
  assert r["polished"] == pytest.approx(0.2) and r["relabelled"] == pytest.approx(0.005)
  moved = rq2_compare_stores.compare_run(old[1]["log"], [
      {**e, "adv_loss": e["adv_loss"] * (1 + 1e-12)} for e in old[1]["log"]])
  assert not moved["training_identical"]
  assert moved["training_max_rel_diff"] == pytest.approx(1e-12, rel=1e-3)
  out = tmp_path / "cmp.json"
  assert rq2_compare_stores.main([str(paths["old"]), str(paths["new"]), "--json", str(out)]) == 0
  assert json.loads(out.read_text())["by_scale"]["4.0"]["retrained"] == 1
  capsys.readouterr()
  assert rq2_compare_stores.main([str(paths["new"]), str(tmp_path / "none.jsonl")]) == 2
  assert rq2_compare_stores.main([str(paths["new"]), str(paths["old"])]) == 2  # swapped
  (tmp_path / "bare.jsonl").write_text(json.dumps({"key": "a", "log": []}) + "\n")
  assert rq2_compare_stores.main([str(tmp_path / "bare.jsonl"), str(paths["new"])]) == 2
  lacking = tmp_path / "lacking.jsonl"
  lacking.write_text(json.dumps(old[0]) + "\n")
  assert rq2_compare_stores.main([str(lacking), str(paths["new"])]) == 2
  other = tmp_path / "other.jsonl"
  other.write_text("".join(json.dumps(r) + "\n" for r in [{"config": {"data": "y"}}] + old[1:]))
  assert rq2_compare_stores.main([str(other), str(paths["new"])]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 5 and all(e.startswith("rq2_compare_stores.py: error:") for e in err)
  # runs of different length weigh by their epochs: the pooled mean over epoch records
  short = [{"config": {"data": "x", "attack": "a"}},
           {"key": "fixed|4.0|0", "log": [rec(0, 1.0, 0.5, 1.0)]},
           {"key": "fixed|4.0|1", "log": [rec(0, 1.0, 0.5, 1.0), rec(1, 0.8, 0.6, 1.0)]}]
  paths["short"] = tmp_path / "short.jsonl"
  paths["short"].write_text("".join(json.dumps(r) + "\n" for r in short))
  r = rq2_compare_stores.compare(str(paths["old"]), str(paths["short"]))["4.0"]
  assert r["epochs_compared"] == 3 and r["old_converged_mean"] == pytest.approx(
      (0.9 + 1.0 + 1.0) / 3)
