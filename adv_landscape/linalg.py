"""Rounding-bounded linear algebra: upper bounds on spectral norms and on the trust-region
problem's maximum, each sitting above the exact value of its float64 arguments (docs/theory.md
sections 5 and 15).

>>> import numpy as np
>>> round(trust_region_bound(np.array([1.0, 0.0]), np.diag([-1.0, -2.0]), 2.0), 9)
0.5
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["psd_norm", "spectral_norm", "trust_region_bound"]

U = np.finfo(np.float64).eps / 2  # the unit roundoff


_SPECTRAL: dict = {}  # ||W||_2 by the weights' digest: proofs ask for it on every radius


def spectral_norm(W) -> float:
  """||W||_2 (an SVD), computed once per weight matrix."""
  key = (W.shape, hashlib.blake2b(np.ascontiguousarray(W).tobytes(), digest_size=16).digest())
  if key not in _SPECTRAL:
    if len(_SPECTRAL) > 64:
      _SPECTRAL.clear()
    # an upper bound: the SVD is backward stable, sigma_computed within about
    # 10 max(m, d) u ||W||_F of sigma (the margin of docs/theory.md section 5)
    _SPECTRAL[key] = float(np.linalg.norm(W, 2)) + 10 * max(W.shape) * U * float(
        np.linalg.norm(W))
  return _SPECTRAL[key]


def psd_norm(W, c) -> float:
  """||W^T diag(c) W||_2 for c >= 0: the top eigenvalue of the smaller of the two Gram
  matrices of diag(sqrt c) W (the same nonzero spectrum), without an SVD."""
  S = np.sqrt(c)[:, None] * W
  G = S @ S.T if S.shape[0] < S.shape[1] else S.T @ S
  # An upper bound with the rounding bounded: forming S (2u relative per entry, sqrt and
  # product) and G (gamma_k |S| |S|^T, k the inner length) moves G by at most
  # (gamma_k + 4u) ||S||_F^2 in norm, and eigvalsh by 10 n u ||G||_F <= 10 n u ||S||_F^2.
  k, n = max(S.shape), min(S.shape)
  fro2 = float(np.sum(S * S))
  margin = (k * U / (1 - k * U) + 4 * U + 10 * n * U) * fro2 * (1 + 4 * U)
  return max(float(np.linalg.eigvalsh(G)[-1]), 0.0) + margin


def trust_region_bound(g, H, r: float) -> float:
  """A rigorous upper bound on max g . delta + delta^T H delta / 2 over ||delta|| <= r (H
  symmetric, both taken as exact: a caller with an error on H adds it to H's diagonal).

  Weak duality: for mu >= 0 with mu I - H positive definite, the maximum is at most
  mu r^2 / 2 + g^T (mu I - H)^-1 g / 2, for every such mu (the trust-region problem's
  global solution attains the minimum over mu). mu is chosen near that minimum from
  H's eigenvalues; the bound is then evaluated at it by a Cholesky solve whose residual
  bounds the solve's error, lambda_min(mu I - H) being at least mu - lambda_max(H) less
  the eigensolver's backward error, so any mu gives a valid number.
  """
  g, H = np.asarray(g, np.float64), np.asarray(H, np.float64)
  n = g.size
  r = float(r)
  lam, Q = np.linalg.eigh(H)
  e = 10 * n * U * float(np.linalg.norm(H)) + np.finfo(np.float64).tiny  # eigvalsh's error
  top = lam[-1] + e
  gq2 = (Q.T @ g) ** 2
  scale = max(abs(top), float(np.linalg.norm(g)) / max(r, 1e-300), 1e-300)
  lo = max(top, 0.0) + 1e-12 * scale  # mu > lambda_max(H) + e: mu I - H is definite
  if gq2.sum() > 0:  # the minimiser: r^2 = sum gq2 / (mu - lam)^2 (secular equation)
    if np.sum(gq2 / (lo - lam) ** 2) > r * r:
      hi = lo + scale
      while np.sum(gq2 / (hi - lam) ** 2) > r * r:
        hi = lo + 2 * (hi - lo)
      for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.sum(gq2 / (mid - lam) ** 2) > r * r else (lo, mid)
      lo = hi
  mu = lo
  A = mu * np.eye(n) - H
  try:
    C = np.linalg.cholesky(A)
  except np.linalg.LinAlgError:
    return float("inf")
  v = np.linalg.solve(C.T, np.linalg.solve(C, g))
  res = g - A @ v  # the solve's residual; A^-1 g = v + A^-1 res
  gam = 1.01 * (n + 2) * U
  res_norm = float(np.linalg.norm(res)) + gam * (float(np.linalg.norm(g))
                                                 + float(np.linalg.norm(A)) * float(
                                                     np.linalg.norm(v)))
  lam_min = mu - top  # lambda_min(mu I - H) >= mu - lambda_max(H), less eigvalsh's error
  if not lam_min > 0:
    return float("inf")
  gv = float(g @ v)
  quad = gv + gam * float(np.abs(g) @ np.abs(v)) + float(np.linalg.norm(g)) * res_norm / lam_min
  return float((mu * r * r + quad) / 2 * (1 + 8 * U))
