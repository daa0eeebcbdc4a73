"""Claim checks: verdicts just inside and just outside every threshold, and every
planted control family run through the same checks must say "fails"."""

import numpy as np
import pytest

from adv_landscape import claims
from adv_landscape.sweep import GridPoint, run_point
from adv_landscape.verify import CLAIM_SPECS, all_controls


def _rec(*, seed=0, d=8, m=16, s=1.0, loss="quadratic", rule="grad0", init="sphere",
         iterations=None, converged=None, certified_fraction=1.0, interior_max=0,
         hunt=None, studies=(), rtol_g=1e-4, distinct=1, eta=0.1, t1_violations=0):
  n = 100
  its = np.full(n, 50) if iterations is None else np.asarray(iterations)
  conv = np.ones(its.size, bool) if converged is None else np.asarray(converged)
  return {"point": {"d": d, "m": m, "s": s, "loss": loss, "step_rule": rule, "init": init,
                    "seed": seed, "family": "paper", "rtol_g": rtol_g, "gamma": 0.5},
          "iterations": its, "converged": conv, "certified_fraction": certified_fraction,
          "interior_endpoints": interior_max, "interior_maxima_at_endpoints": interior_max,
          "on_sphere_fraction": 1.0, "hunt": hunt, "studies": list(studies),
          "distinct_maxima": distinct, "p_best": 1.0, "kappa": 1.0, "kappa_sampled": 1.0,
          "eta_max": eta, "eta_median": eta, "t1_violations": t1_violations,
          "theorem_applies": False, "t1": np.full(its.size, np.nan),
          "t2": np.full(its.size, 1e9), "seconds": 0.1}


# --- A ---------------------------------------------------------------------------------------

def test_a_thresholds():
  clean = [_rec(seed=i) for i in range(20)]
  assert claims.claim_a(clean)["verdict"] == "holds"
  one = clean[:19] + [_rec(seed=19, interior_max=1)]  # 1 of 20 = 5%: at the threshold
  assert claims.claim_a(one)["verdict"] == "mixed"
  two = clean[:18] + [_rec(seed=i, interior_max=1) for i in (18, 19)]  # 10%
  assert claims.claim_a(two)["verdict"] == "fails"


def test_a_counts_hunted_maxima_but_not_trivial_minima():
  hunt_max = {"found": 1, "trivial_minima": 0, "interior_max": 1, "min_lambda_max": -1.0}
  trivial = {"found": 0, "trivial_minima": 40, "interior_max": 0, "min_lambda_max": None}
  assert claims.claim_a([_rec(hunt=hunt_max)])["verdict"] == "fails"
  res = claims.claim_a([_rec(hunt=trivial)])
  assert res["verdict"] == "holds"
  assert res["statistic"]["hunt_trivial_minima"] == 40
  assert res["statistic"]["hunt_nontrivial_critical"] == 0


# --- B ---------------------------------------------------------------------------------------

def _b_group(conv_share, cert_share, *, rule="curvature", seed=0):
  n_conv = int(round(conv_share * 100))
  conv = np.arange(100) < n_conv
  return _rec(seed=seed, rule=rule, converged=conv, certified_fraction=cert_share,
              iterations=np.where(conv, 50, 4000))


@pytest.mark.parametrize("conv, cert, want", [
    (0.95, 0.95, "holds"),   # exactly at both thresholds
    (0.94, 0.95, "fails"),   # converged just below
    (0.95, 0.94, "fails"),   # certified (of all restarts) just below
])
def test_b_group_thresholds(conv, cert, want):
  assert claims.claim_b([_b_group(conv, cert)])["verdict"] == want


def test_b_some_groups_failing_is_mixed_and_t1_violation_fails():
  recs = [_b_group(1.0, 1.0), _b_group(0.5, 0.5, rule="grad0")]
  res = claims.claim_b(recs)
  assert res["verdict"] == "mixed" and res["statistic"]["groups_failing"] == [
      "quadratic/grad0"]
  assert claims.claim_b([_rec(rule="lipschitz", t1_violations=1)])["verdict"] == "fails"


def _growth(counts_of, axis_values, study, field):
  recs = []
  for seed in range(3):
    for v in axis_values:
      base = counts_of(v) * (1 + 0.02 * seed)
      r = _rec(seed=seed, rule="curvature", iterations=np.full(100, int(round(base))),
               studies=(study,))
      r["point"][field] = v
      recs.append(r)
  return recs


def test_b_polynomial_growth_holds_and_exponential_growth_fails():
  poly = _growth(lambda d: 10 * d**0.5, (8, 16, 32, 64, 128), "B-d", "d")
  res = claims.claim_b(poly)
  assert res["verdict"] == "holds"
  fit = res["statistic"]["exponents"]["d"]
  assert abs(fit["slope"] - 0.5) < 0.02 and fit["seeds"] == 3 and fit["polynomial"]
  expo = _growth(lambda k: 10 * 2.0**k, (1, 2, 3, 4, 5), "B-halvings", "step_halvings")
  res = claims.claim_b(expo)
  assert res["verdict"] == "fails"
  assert res["statistic"]["not_polynomial"] == ["step_halvings"]


def test_b_units_are_the_seeds_of_a_growth_axis_not_its_networks():
  """Along d every (seed, d) is its own network, but the exponent's t interval is over the 3
  per-seed slopes: 3 units, not 15; without a growth axis the networks are the units."""
  poly = _growth(lambda d: 10 * d**0.5, (8, 16, 32, 64, 128), "B-d", "d")
  assert claims.units(poly) == 15 and claims.claim_b(poly)["units"] == 3
  flat = [_b_group(1.0, 1.0, seed=i) for i in range(5)]
  assert claims.claim_b(flat)["units"] == 5


def test_studies_sharing_an_axis_label_make_one_fit():
  """B's d axis under armijo and D's per-loss one share the label d/armijo: one fit over both
  (6 seeds), never one silently overwriting the other (3)."""
  b = _growth(lambda d: 10 * d**0.5, (8, 16, 32, 64), "B-d-armijo", "d")
  d = _growth(lambda d: 10 * d**0.5, (8, 16, 32, 64), "D-d-armijo", "d")
  for r in d:
    r["point"]["seed"] += 3
  fits = claims.claim_b(b + d)["statistic"]["exponents"]
  assert list(fits) == ["d/armijo"] and fits["d/armijo"]["seeds"] == 6


def test_b_growth_within_noise_is_mixed_not_fails():
  per_seed = [[37, 37, 41, 54, 68], [97, 39, 52, 106, 280], [26, 34, 104, 55, 123],
              [65, 33, 62, 61, 143]]
  recs = []
  for seed, row in enumerate(per_seed):
    for d, t in zip((16, 32, 64, 128, 256), row):
      r = _rec(seed=seed, rule="curvature", iterations=np.full(100, t), studies=("B-d",))
      r["point"]["d"] = d
      recs.append(r)
  res = claims.claim_b(recs)
  assert res["verdict"] == "mixed" and res["statistic"]["growth_inconclusive"] == ["d"]


def test_b_interval_is_over_seeds_not_restarts():
  # Two seeds with opposite slopes: restarts agree within a seed, so a bootstrap over
  # restarts would give a narrow interval; resampling seeds must span both slopes.
  recs = []
  for seed, p in ((0, 0.2), (1, 0.8)):
    for d in (8, 16, 32, 64):
      r = _rec(seed=seed, rule="curvature", iterations=np.full(100, int(10 * d**p)),
               studies=("B-d",))
      r["point"]["d"] = d
      recs.append(r)
  ci = claims.claim_b(recs)["statistic"]["exponents"]["d"]["ci"]
  assert ci[0] < 0.3 and ci[1] > 0.7


# --- C ---------------------------------------------------------------------------------------

def _c_records(iter_of, maxima_of, seeds=3):
  recs = []
  for seed in range(seeds):
    for j, s in enumerate((0.25, 0.5, 1.0, 2.0, 4.0)):
      k = maxima_of(j, seed)
      recs.append(dict(_rec(seed=seed, s=s, iterations=np.full(100, iter_of(j, seed)),
                            distinct=k), basin_fractions=[1.0 / k] * k))
  return recs


def test_c_trend_verdicts():
  up = _c_records(lambda j, s: 100 + 10 * j + s, lambda j, s: 1 + j)
  assert claims.claim_c(up)["verdict"] == "holds"
  flat = _c_records(lambda j, s: 100, lambda j, s: 1)
  assert claims.claim_c(flat)["verdict"] == "fails"
  down = _c_records(lambda j, s: 200 - 10 * j, lambda j, s: 6 - j)
  assert claims.claim_c(down)["verdict"] == "fails"
  half = _c_records(lambda j, s: 100 + 10 * j, lambda j, s: 1)
  assert claims.claim_c(half)["verdict"] == "mixed"


def test_c_alpha_boundary(monkeypatch):
  ranks = [[1, 2, 3, 4, 5], [1, 3, 2, 4, 5], [2, 1, 3, 5, 4]]  # rising medians, noisy seeds
  recs = _c_records(lambda j, s: 100 + 10 * ranks[s][j], lambda j, s: 1 + j)
  grad0 = claims.claim_c(recs)["details"]["per_step_rule"]["grad0"]["measures"]["iterations"]
  p = grad0["holm_p_increasing"]
  assert p >= grad0["page_p_increasing"]  # Holm never lowers a p-value
  monkeypatch.setattr(claims, "TREND_ALPHA", p * (1 + 1e-9))  # p just below alpha
  assert claims.claim_c(recs)["details"]["per_step_rule"]["grad0"]["verdict_iterations"] == \
      "supports"
  monkeypatch.setattr(claims, "TREND_ALPHA", p)  # p == alpha: not below it
  assert claims.claim_c(recs)["details"]["per_step_rule"]["grad0"]["verdict_iterations"] == \
      "no trend"


def test_c_a_significant_opposite_group_fails_the_claim_and_a_peak_does_not_support_it():
  # Two rules: grad0 supports on every measure, normalized's iterations fall with s.
  up = _c_records(lambda j, s: 100 + 10 * j + s, lambda j, s: 1 + j, seeds=6)
  down = [dict(r, point=dict(r["point"], step_rule="normalized"),
               iterations=np.full(100, 300 - 10 * [0.25, 0.5, 1.0, 2.0, 4.0].index(
                   r["point"]["s"]) - r["point"]["seed"])) for r in up]
  res = claims.claim_c(up + down)
  assert res["verdict"] == "fails" and res["details"]["contradicting_groups"] == [
      "normalized/iterations"]
  assert claims.claim_c(up)["verdict"] == "holds"
  # rising to s = 1 and falling after it, in every seed: significant by Page, not support
  peak = _c_records(lambda j, s: 100 + 10 * [0, 1, 2, 3, 1.5][j] + s, lambda j, s: 1 + j,
                    seeds=6)
  res = claims.claim_c(peak)
  g = res["details"]["per_step_rule"]["grad0"]["measures"]["iterations"]
  assert g["page_p_increasing"] < 0.05 and g["verdict"] == "peak" and g["peak_scale"] == 2.0
  assert res["verdict"] == "mixed" and res["details"]["peaks"]


def test_c_a_second_cell_is_its_own_group():
  # The same seeds at a second (d, m) cell are other networks: mixed into one table, a seed's
  # two networks would collide and the falling trend at the second cell would be averaged
  # into the rising one. As their own group, the fall is seen and fails the claim.
  main = _c_records(lambda j, s: 100 + 10 * j + s, lambda j, s: 1 + j, seeds=6)
  other = [dict(r, point=dict(r["point"], d=128, m=32),
                iterations=np.full(100, 300 - 40 * [0.25, 0.5, 1.0, 2.0, 4.0].index(
                    r["point"]["s"]) - r["point"]["seed"]))
           for r in _c_records(lambda j, s: 0, lambda j, s: 1 + j, seeds=6)]
  res = claims.claim_c(main + other)
  second = "grad0 at (d, m) = (128, 32)"
  assert set(res["details"]["per_step_rule"]) == {"grad0", second}
  assert res["details"]["per_step_rule"][second]["cell"] == [128, 32]
  assert res["details"]["per_step_rule"]["grad0"]["verdict_iterations"] == "supports"
  assert res["details"]["contradicting_groups"] == [f"{second}/iterations"]
  assert res["verdict"] == "fails"


def test_c_rules_set_by_the_rigorous_ell_are_not_counted():
  up = [dict(r, point=dict(r["point"], step_rule="lipschitz"))
        for r in _c_records(lambda j, s: 100 + 10 * j + s, lambda j, s: 1 + j)]
  flat = _c_records(lambda j, s: 100, lambda j, s: 1)
  res = claims.claim_c(up + flat)
  assert res["verdict"] == "fails" and res["details"]["not_counted_rules"] == ["lipschitz"]


def test_c_censored_median_ranks_above_every_count():
  # The largest scale never converges (censored at the 4000-step budget): it must count as
  # the slowest, so an otherwise increasing trend still holds.
  recs = _c_records(lambda j, s: 100 + 10 * j, lambda j, s: 1 + j)
  for r in recs:
    if r["point"]["s"] == 4.0:
      r["iterations"] = np.full(100, 4000)
      r["converged"] = np.zeros(100, bool)
  res = claims.claim_c(recs)
  assert res["verdict"] == "holds"
  assert res["details"]["per_step_rule"]["grad0"]["by_scale"]["4.0"]["censored_instances"] == 3


def test_d_verdicts():
  good = _c_records(lambda j, s: 100 + 10 * j + s, lambda j, s: 1 + j)
  bad = [dict(r, point=dict(r["point"], loss="logistic"), interior_maxima_at_endpoints=1)
         for r in good]
  assert claims.claim_d(good)["verdict"] == "holds"
  assert claims.claim_d(bad)["verdict"] == "fails"
  # one loss failing is not absorbed by another that holds (the old rule said "mixed")
  both = claims.claim_d(good + bad)
  assert both["verdict"] == "fails"
  assert both["details"]["loss_verdicts"] == {"logistic": "fails", "quadratic": "holds"}


def test_d_units_are_the_fewest_seeds_of_any_loss():
  """"For every loss" is as well supported as its weakest loss: 3 seeds on the quadratic loss
  and 2 on the logistic one are 2 units, not 5 (nor the 3 distinct seeds)."""
  good = _c_records(lambda j, s: 100 + 10 * j + s, lambda j, s: 1 + j)
  other = [dict(r, point=dict(r["point"], loss="logistic")) for r in good
           if r["point"]["seed"] < 2]
  res = claims.claim_d(good + other)
  assert res["details"]["units_per_loss"] == {"logistic": 2, "quadratic": 3}
  assert res["units"] == 2


# --- planted controls: each family, through the same checks, must fail ---------------------

SMALL = dict(d=8, m=16, n_restarts=16, max_steps=3000, rtol_g=1e-4)


def _run(points):
  return [run_point(p) for p in points]


def test_control_a_concave_fails():
  recs = _run([GridPoint(s=1.0, gamma=1.5, family="concave", loss="linear", init="ball",
                         step_rule="grad0", step=0.05, hunt=True, **SMALL)])
  res = claims.claim_a(recs)
  assert res["verdict"] == "fails"
  assert recs[0]["maxima_kinds"] and set(recs[0]["maxima_kinds"]) == {"interior"}
  assert res["statistic"]["hunt_interior_maxima"] == 1


def test_control_a_bump_fails():
  recs = _run([GridPoint(s=1.0, family="bump", init="ball", step_rule="grad0", step=0.05,
                         hunt=True, **SMALL)])
  assert claims.claim_a(recs)["verdict"] == "fails"
  assert recs[0]["interior_maxima_at_endpoints"] > 0


def test_control_b_halving_fails():
  recs = _run([GridPoint(s=1.0, step_rule="curvature", step_halvings=k,
                         **{**SMALL, "rtol_g": 1e-3}) for k in range(1, 6)])
  for r in recs:
    r["studies"] = ["B-halvings"]
  res = claims.claim_b(recs)
  assert res["verdict"] == "fails" and res["statistic"]["not_polynomial"] == ["step_halvings"]


def test_control_b_oscillation_fails_and_the_stable_step_does_not():
  kw = dict(s=1.0, gamma=0.8, family="concave", loss="linear", step_rule="curvature", **SMALL)
  assert claims.claim_b(_run([GridPoint(step=4.0, **kw)]))["verdict"] == "fails"
  assert claims.claim_b(_run([GridPoint(step=1.0, **kw)]))["verdict"] == "holds"


@pytest.mark.parametrize("family", ["w_over_s2", "linear_y0"])
def test_control_c_fails(family):
  recs = _run([GridPoint(s=s, seed=seed, family=family, step_rule="grad0", step=0.05,
                         **SMALL) for seed in (0, 1) for s in (0.25, 0.5, 1.0, 2.0, 4.0)])
  assert claims.claim_c(recs)["verdict"] == "fails"


def test_control_c_invariant_fails_under_every_counted_rule():
  """The same problem at every scale (W / s): no counted rule finds a trend."""
  recs = _run([GridPoint(s=s, seed=seed, family="w_over_s", step_rule=rule, step=step,
                         **SMALL) for seed in (0, 1) for s in (0.25, 0.5, 1.0, 2.0, 4.0)
               for rule, step in (("grad0", 0.05), ("normalized", 0.05), ("armijo", 1.0))])
  res = claims.claim_c(recs)
  assert res["verdict"] == "fails"
  assert not res["details"]["contradicting_groups"]


def test_control_d_concave_fails():
  recs = _run([GridPoint(s=0.5, gamma=1.5, family="concave", loss=loss, init="ball",
                         step_rule="grad0", step=0.05, hunt=True, **SMALL)
               for loss in ("logistic", "exponential")])
  res = claims.claim_d(recs)
  assert res["verdict"] == "fails"
  assert all(v["A"] == "fails" for v in res["statistic"].values())


def test_every_claim_has_a_control_and_some_control_is_a_planted_positive():
  assert {claim for claim, _, _, _ in all_controls().values()} == set(CLAIM_SPECS)
  assert {expected for *_, expected in all_controls().values()} == {"fails", "holds"}


def test_b_fails_on_a_step_below_the_sufficient_increase_only_where_the_theorem_applies():
  """The check that replaced the vacuous 'count <= T1': one violating step where
  eta <= 1/ell fails B; the same step where no bound is claimed (eta > 1/ell) does not."""
  ok = [_b_group(1.0, 1.0, seed=i) for i in range(4)]
  for r in ok:
    r["theorem_applies"] = True
    r["sufficient_increase"] = {"steps": 400, "violations": 0, "min_ratio": 1.7}
  assert claims.claim_b(ok)["statistic"]["increase_violations"] == 0
  assert claims.claim_b(ok)["verdict"] == "holds"
  bad = [dict(r) for r in ok]
  bad[0]["sufficient_increase"] = {"steps": 400, "violations": 1, "min_ratio": 0.4}
  res = claims.claim_b(bad)
  assert res["verdict"] == "fails" and res["statistic"]["increase_violations"] == 1
  assert res["statistic"]["increase_min_ratio"] == 0.4
  bad[0]["theorem_applies"] = False  # no bound claimed there: not a violation of anything
  assert claims.claim_b(bad)["statistic"]["increase_violations"] == 0


def test_c_a_table_too_small_to_reach_significance_is_untestable_not_failed():
  # 3 scales: Page's L can give at best (1/3!)^n; with 3 measures, Holm multiplies by 3.
  def three(seeds):
    return [r for r in _c_records(lambda j, s: 100 + 10 * j + s, lambda j, s: 1 + j,
                                  seeds=seeds) if r["point"]["s"] in (0.25, 1.0, 4.0)]
  small = claims.claim_c(three(2))  # 3 / 36 = 0.083 >= 0.05: cannot be significant
  g = small["details"]["per_step_rule"]["grad0"]["measures"]["iterations"]
  assert g["verdict"] == "untestable" and g["min_attainable_p"] == pytest.approx(3 / 36)
  assert small["verdict"] == "untested"
  assert claims.claim_c(three(3))["verdict"] == "holds"  # 3 / 216 < 0.05: it can, and does


def test_c_maxima_are_not_read_where_the_rule_did_not_converge():
  # Maxima rise with s, but at s = 4 no restart converges, so few are certified there: read
  # as a count, that is a peak at s = 2; it is non-convergence, and the scale is left out.
  recs = _c_records(lambda j, s: 100 + 10 * j + s, lambda j, s: [1, 2, 3, 4, 1][j], seeds=6)
  for r in recs:
    if r["point"]["s"] == 4.0:
      r["converged"] = np.zeros(100, bool)
  info = claims.claim_c(recs)["details"]["per_step_rule"]["grad0"]
  g = info["measures"]["distinct_maxima"]
  assert info["unconverged_scales"] == [4.0] and 4.0 not in g["scales"]
  assert g["verdict"] == "supports"
  for r in recs:
    r["converged"] = np.ones(100, bool)  # the same counts, converged: a real peak
  g = claims.claim_c(recs)["details"]["per_step_rule"]["grad0"]["measures"]["distinct_maxima"]
  assert g["verdict"] != "supports" and g["shape"].startswith("peak") and g["peak_scale"] == 2.0


# --- A proved per instance ------------------------------------------------------------------

def _proved(status, s=1.0, seed=0):
  r = _rec(seed=seed, s=s)
  r["point"]["prove"] = 100
  r["proof_a"] = {"status": status, "regions": 1, "live": 0, "dimension": 8, "seconds": 0.1}
  return r


def test_a_proof_counts_by_status_and_scale():
  recs = [_proved("proved", 0.25, 0), _proved("proved", 4.0, 1), _proved("budget", 4.0, 2),
          _proved("not available: a multi-output head", 1.0, 3), _rec(seed=4)]
  res = claims.claim_a(recs)
  pf = res["details"]["proof"]
  assert (pf["instances"], pf["proved"], pf["undecided"], pf["not_available"]) == (4, 2, 1, 1)
  assert pf["by_scale"] == {"0.25": {"proved": 1, "instances": 1},
                            "1": {"proved": 0, "instances": 1},
                            "4": {"proved": 1, "instances": 2}}
  assert res["statistic"]["proved_instances"] == 2
  assert res["verdict"] == "holds"  # undecided is not evidence against A


def test_a_control_with_a_proof_of_its_planted_maximum_is_not_detected():
  """A planted interior maximum (found by PGA) that the proof calls absent flags the control
  even though the verdict is the expected "fails"; without the proof it is detected."""
  from adv_landscape.verify import control_detected
  planted = _rec(interior_max=3)
  res = claims.claim_a([planted])
  ok = {"verdict": res["verdict"], "expected": "fails",
        "proved_absent": res["details"]["proof"]["proved"]}
  assert res["verdict"] == "fails" and control_detected(ok)
  bad = _proved("proved")
  bad["interior_endpoints"] = bad["interior_maxima_at_endpoints"] = 3
  res = claims.claim_a([bad])
  flagged = {"verdict": res["verdict"], "expected": "fails",
             "proved_absent": res["details"]["proof"]["proved"]}
  assert res["verdict"] == "fails" and not control_detected(flagged)


def test_a_proof_on_the_grid_proves_the_paper_and_not_the_planted_maximum():
  """The sweep's proof on PROVE_CELL: the paper's network at s = 1/4 is proved (within a
  budget of one region), the planted small-basin maximum is not (its regions stay)."""
  from adv_landscape.verify import PROVE_CELL
  d, m = PROVE_CELL
  base = dict(d=d, m=m, step_rule="grad0", step=0.05, init="ball", n_restarts=4,
              max_steps=500, rtol_g=1e-3)
  paper = run_point(GridPoint(s=0.25, prove=50, **base))
  assert paper["proof_a"]["status"] == "proved", paper["proof_a"]
  planted = run_point(GridPoint(s=1.0, family="paper_bump", bump_width=0.4, prove=300,
                                **base))
  assert planted["proof_a"]["status"] == "budget", planted["proof_a"]
  assert planted["interior_maxima_at_endpoints"] > 0  # the maximum is there


# --- G ---------------------------------------------------------------------------------------

def _g(seed, s, p_lower, p_upper=None, n=32, closed=True):
  r = _rec(seed=seed, s=s, studies=("G",))
  r["global"] = {"lower": 1.0, "upper": 1.001, "closed": closed, "regions": 10,
                 "p_lower": p_lower, "p_upper": p_lower if p_upper is None else p_upper,
                 "restarts": n, "best_is_global": True if closed else None}
  return r


def test_g_thresholds_at_the_smallest_scale():
  """Holds when every network at the smallest s has p_global > 1/2 by the binomial test on
  its certain count; fails when one has p_global < 1/2 by the test on its possible count
  (Holm over the networks); mixed in between; larger scales do not enter."""
  sure = [_g(i, 0.25, 1.0) for i in range(8)] + [_g(i, 4.0, 0.0) for i in range(8)]
  assert claims.claim_g(sure)["verdict"] == "holds"
  assert claims.claim_g(sure)["units"] == 8
  # 22 of 32 (p 0.025 one-sided) supports; 21 of 32 (p 0.055) does not: mixed
  assert claims.claim_g(sure[:7] + [_g(7, 0.25, 22 / 32)])["verdict"] == "holds"
  assert claims.claim_g(sure[:7] + [_g(7, 0.25, 21 / 32)])["verdict"] == "mixed"
  # one network whose restarts can reach the global maximum on 4 of 32 at most: fails;
  # the same lower count with an upper count of 16 (unresolved) is only mixed
  assert claims.claim_g(sure[:7] + [_g(7, 0.25, 0.0, 4 / 32)])["verdict"] == "fails"
  assert claims.claim_g(sure[:7] + [_g(7, 0.25, 0.0, 16 / 32)])["verdict"] == "mixed"
  assert claims.claim_g([])["verdict"] == "untested"


def test_g_on_the_grid_holds_on_the_paper_and_fails_on_the_planted_ridge():
  """sweep's certified global maximum and p_global bounds: on the paper's network at
  (32, 4), s = 1/4, every restart ends at the global maximum; on the planted ridge
  (the same network plus a thin slab holding the global maximum) none does, and the
  branch and bound's lower end, above PGA's best, proves the miss without closing."""
  from adv_landscape.verify import GLOBAL_CELL, RIDGE_WIDTH
  d, m = GLOBAL_CELL
  base = dict(d=d, m=m, s=0.25, init="ball", step_rule="armijo", step=1.0, n_restarts=16,
              max_steps=2000, rtol_g=1e-4, global_max=True)
  recs = []
  for seed in range(2):
    paper = run_point(GridPoint(seed=seed, **base))
    ridge = run_point(GridPoint(seed=seed, family="paper_ridge", bump_width=RIDGE_WIDTH,
                                **base))
    g, gr = paper["global"], ridge["global"]
    assert g["closed"] and g["best_is_global"] and g["p_lower"] == 1.0, g
    assert gr["best_is_global"] is False and gr["p_upper"] == 0.0, gr
    assert gr["lower"] > ridge["best_value"] + gr["count_tol"]
    recs.append((paper, ridge))
  assert claims.claim_g([p for p, _ in recs])["verdict"] == "holds"
  assert claims.claim_g([r for _, r in recs])["verdict"] == "fails"
