"""Figures of the theorem checks (``verify``); every figure is written as PNG and PDF."""

from __future__ import annotations

import os

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["save", "plot_iterations", "plot_scale", "plot_lambda"]

RULE_COLORS = {"lipschitz": "C0", "grad0": "C1", "normalized": "C2", "fixed": "C3", "sign": "C4",
               "curvature": "C5"}


def save(fig, out_dir: str, name: str) -> list[str]:
  """Writes ``name``.png (150 dpi) and .pdf into out_dir; returns the paths."""
  os.makedirs(out_dir, exist_ok=True)
  paths = []
  for ext in ("png", "pdf"):
    path = os.path.join(out_dir, f"{name}.{ext}")
    tmp = os.path.join(out_dir, f".tmp-{name}.{ext}")
    fig.savefig(tmp, dpi=150, bbox_inches="tight", format=ext)
    os.replace(tmp, path)
    paths.append(path)
  plt.close(fig)
  return paths


def _conv(r, key):
  return np.asarray(r[key], float)[np.asarray(r["converged"], bool)]


def plot_iterations(records: list[dict], fits: dict, out_dir: str) -> list[str]:
  """Iteration counts against d, m and 1/tol_g (log-log) with T1, T2 and the fit."""
  panels = [("d", "B-d", "input dimension d"), ("m", "B-m", "width m"),
            ("inv_tol_g", "B-tol", "1 / relative tolerance")]
  fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), constrained_layout=True)
  for ax, (axis, study, label) in zip(axes, panels):
    rs = [r for r in records if study in r.get("studies", [])]
    if not rs:
      ax.set_axis_off()
      continue
    val = (lambda r: 1.0 / r["point"]["rtol_g"]) if axis == "inv_tol_g" else (
        lambda r, a=axis: r["point"][a])
    xs = sorted({val(r) for r in rs})
    med, lo, hi, t1, t2 = [], [], [], [], []
    for v in xs:
      at = [r for r in rs if val(r) == v]
      c = np.concatenate([_conv(r, "iterations") for r in at])
      c = np.maximum(c, 1.0) if c.size else np.array([np.nan])
      med.append(np.median(c))
      lo.append(np.quantile(c, 0.1))
      hi.append(np.quantile(c, 0.9))
      t1.append(np.median(np.concatenate([_conv(r, "t1") for r in at])) if at else np.nan)
      t2.append(np.median(np.concatenate([_conv(r, "t2") for r in at])) if at else np.nan)
    med, lo, hi = map(np.asarray, (med, lo, hi))
    ax.errorbar(xs, med, yerr=[med - lo, hi - med], fmt="o", color="k", capsize=3,
                label="PGA iterations (median, 10-90%)")
    if np.isfinite(t1).any():
      ax.plot(xs, t1, "s--", color="C3", label="T1 (median; a theorem only where eta <= 1/ell)")
    ax.plot(xs, t2, "^:", color="C4", label="T2 (reference scale, median)")
    fit = fits.get(axis)
    if fit and np.isfinite(fit["slope"]):
      xx = np.asarray(xs, float)
      c0 = np.exp(np.mean(np.log(med)) - fit["slope"] * np.mean(np.log(xx)))
      ax.plot(xx, c0 * xx ** fit["slope"], "-", color="C0",
              label=f"fit: slope {fit['slope']:.2f} [{fit['ci'][0]:.2f}, {fit['ci'][1]:.2f}]")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # no crowded minor labels
    ax.set_xticks(xs, [f"{v:g}" for v in xs])
    ax.set_xlabel(label)
    ax.set_ylabel("iterations to ||G|| <= tol_g")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="best")
  fig.suptitle("Claim B: PGA iteration counts (curvature step eta = 1/ell_est) against the "
               "theory; fit over per-instance medians, 95% CI over seeds")
  return save(fig, out_dir, "verify_iterations")


def plot_scale(claim_c: dict, out_dir: str) -> list[str]:
  """Median iterations and distinct maxima against the input scale s, per step rule."""
  rules = claim_c["details"]["per_step_rule"]
  fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), constrained_layout=True)
  for rule, info in rules.items():
    ss = [float(s) for s in info["by_scale"]]
    tab = list(info["by_scale"].values())
    col = RULE_COLORS.get(info.get("step_rule", rule), None)
    style = "o-" if info.get("step_rule", rule) == rule else "s--"  # a second (d, m) cell: dashed
    lbl = (f"{rule} (Page p {info['iterations_page_p']:.2g}, slope "
           f"{info['iterations_slope']:.2f})")
    axes[0].plot(ss, [t["median_iterations"] for t in tab], style, color=col, label=lbl)
    axes[1].plot(ss, [t["distinct_maxima"] for t in tab], style, color=col,
                 label=f"{rule} (Page p {info['distinct_maxima_page_p']:.2g})")
    axes[2].plot(ss, [t["best_basin_fraction"] for t in tab], style, color=col, label=rule)
  axes[0].set_yscale("log")
  axes[0].set_ylabel("median over seeds of Kaplan-Meier medians")
  axes[1].set_ylabel("distinct certified maxima (mean over seeds)")
  axes[2].set_ylabel("best-basin fraction (P[one start finds the best])")
  for ax in axes:
    ax.set_xscale("log", base=2)
    ax.set_xlabel("input scale s (gamma fixed)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
  fig.suptitle("Claim C: input scale at a fixed perturbation ratio")
  return save(fig, out_dir, "verify_scale")


def plot_lambda(records: list[dict], out_dir: str) -> list[str]:
  """Histogram of lambda_tangent at PGA endpoints, certified maxima vs the rest."""
  def upper(r):  # the eigenvalue, or the proof's bound where an endpoint inherited one
    lam = np.asarray(r["lambda_tangent"], float)
    bound = np.asarray(r.get("lambda_tangent_bound") or np.full(lam.shape, np.nan), float)
    return np.where(np.isfinite(lam), lam, bound)

  lam = np.concatenate([upper(r) for r in records])
  cert = np.concatenate([np.asarray(r["certified"], bool) for r in records])
  fig, ax = plt.subplots(figsize=(6.5, 4.2), constrained_layout=True)
  finite = np.isfinite(lam)
  lim = np.quantile(np.abs(lam[finite]), 0.99) if finite.any() else 1.0
  top = max(float(lam[finite].max()) if finite.any() else 0.0, 0.05 * lim)
  # 0 is a bin edge, so no bar straddles the sign that the certificate tests.
  bins = np.concatenate([np.linspace(-lim, 0.0, 50), np.linspace(0.0, top, 15)[1:]])
  ax.hist(np.clip(lam[finite & cert], bins[0], bins[-1]), bins=bins, alpha=0.7,
          label=f"certified local maxima ({int((finite & cert).sum())})")
  ax.hist(np.clip(lam[finite & ~cert], bins[0], bins[-1]), bins=bins, alpha=0.7,
          label=f"other endpoints ({int((finite & ~cert).sum())})")
  ax.axvline(0.0, color="k", lw=0.8)
  ax.set_xlabel("lambda_T: top eigenvalue of the Riemannian Hessian on the sphere\n"
                "(or a proof's upper bound on it, where an endpoint inherited one)")
  ax.set_ylabel("endpoints")
  if finite.any():
    ax.set_yscale("log")
  ax.legend(fontsize=8)
  ax.set_title("Second-order certificates at PGA endpoints")
  return save(fig, out_dir, "verify_lambda")
