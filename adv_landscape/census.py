"""Landscape census: distinct certified maxima, their basins and values (docs/theory.md section 8).

A certified maximum is an endpoint of class ``boundary_local_max`` (on the
sphere) or ``interior_local_max`` (inside the ball, where hess L is negative
definite); each distinct maximum carries its kind, "boundary" or "interior".

Two certified maxima are the same when ||delta_i - delta_j|| <= tol_c eps.
One clustering rule serves the batch census and the streamed one: in order of
decreasing value, each maximum joins the nearest representative within
reach, else starts a new one. In a batch every representative is thus the
best point of its cluster; a stream sorts within each chunk only. The batch
census then merges clusters that touch (``link_touching``), so that a cloud of
endpoints wider than tol_c eps around one maximum is not split at the
threshold; the stream, which keeps no members, does not.

>>> import numpy as np
>>> d = np.array([[1.0, 0.0], [0.999, 0.0447], [-1.0, 0.0]])
>>> cl = cluster_maxima(d, np.array([2.0, 1.9, 1.0]), eps=1.0, tol_c=0.1)
>>> cl.labels.tolist(), cl.counts.tolist()
([0, 0, 1], [2, 1])
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.sparse.csgraph import connected_components

from adv_landscape.certify import MAXIMUM_CLASSES, Certificate
from adv_landscape.config import Tolerances

__all__ = ["Clusters", "cluster_maxima", "link_touching", "Census", "census_summary", "merge_proved",
           "nonlinearity", "StreamingCensus"]


class Clusters(NamedTuple):
  """labels (N,) cluster of each point; reps (k,) index of each cluster's best
  point; counts (k,) sizes. Clusters are numbered by decreasing value."""

  labels: np.ndarray
  reps: np.ndarray
  counts: np.ndarray


def cluster_maxima(deltas, values, *, eps: float, tol_c: float = Tolerances.tol_c) -> Clusters:
  """Leader clustering of points (N, d) in order of decreasing value, radius tol_c eps:
  each point joins the nearest representative within reach, or leads a new cluster."""
  deltas = np.asarray(deltas, np.float64)
  values = np.asarray(values, np.float64)
  order = np.argsort(-values, kind="stable")
  labels = np.full(deltas.shape[0], -1, np.int64)
  reps: list[int] = []
  radius2 = (tol_c * eps) ** 2
  for i in order:
    if reps:
      dist2 = np.sum((deltas[reps] - deltas[i]) ** 2, axis=1)
      j = int(np.argmin(dist2)) if dist2.min() <= radius2 else -1
    else:
      j = -1
    if j < 0:
      reps.append(int(i))
      j = len(reps) - 1
    labels[i] = j
  counts = np.bincount(labels, minlength=len(reps)) if reps else np.zeros(0, np.int64)
  return Clusters(labels, np.asarray(reps, np.int64), counts)


def link_touching(deltas, values, cl: Clusters, *, eps: float,
                  tol_c: float = Tolerances.tol_c) -> Clusters:
  """Merges leader clusters that touch: some member of one within tol_c eps of a member of
  the other (single linkage between clusters).

  Leader clustering splits one maximum into several clusters when its endpoints spread
  wider than tol_c eps (a loose tolerance, a flat direction): the points beyond the
  leader's reach start clusters of their own a hair further on, with the same value and
  curvature. After the merge two clusters are separate only when no pair of their
  members comes within tol_c eps, so a split needs an empty gap of tol_c eps between
  them. Members lie within tol_c eps of their leader, so only clusters whose leaders are
  within 3 tol_c eps can touch; just those pairs are compared, member by member.

  >>> import numpy as np
  >>> pts = np.array([[0.0, 0.0], [0.08, 0.0], [0.16, 0.0], [1.0, 0.0]])  # a chain, and a far point
  >>> vals = np.array([3.0, 2.9, 2.8, 1.0])
  >>> cl = cluster_maxima(pts, vals, eps=1.0, tol_c=0.1)
  >>> cl.counts.tolist(), link_touching(pts, vals, cl, eps=1.0, tol_c=0.1).counts.tolist()
  ([2, 1, 1], [3, 1])
  """
  deltas = np.asarray(deltas, np.float64)
  k = cl.reps.size
  if k < 2:
    return cl
  r = tol_c * eps
  R = deltas[cl.reps]
  near = np.sum((R[:, None, :] - R[None, :, :]) ** 2, axis=2) <= (3 * r) ** 2
  members = [np.flatnonzero(cl.labels == j) for j in range(k)]
  touch = np.zeros((k, k), bool)
  for a, b in zip(*np.nonzero(np.triu(near, 1))):
    A, B = deltas[members[a]], deltas[members[b]]
    d2 = (np.sum(A * A, 1)[:, None] + np.sum(B * B, 1)[None, :] - 2 * A @ B.T)
    touch[a, b] = d2.min() <= r * r * (1 + 1e-12)
  n_groups, roots = connected_components(touch, directed=False)
  if n_groups == k:
    return cl
  values = np.asarray(values, np.float64)
  groups = {}
  for j in range(k):  # each merged cluster is led by its best leader, renumbered by value
    groups.setdefault(roots[j], []).append(j)
  leads = sorted(groups, key=lambda g: -values[cl.reps[groups[g]]].max())
  new_of = np.empty(k, np.int64)
  reps = []
  for n, g in enumerate(leads):
    js = groups[g]
    new_of[js] = n
    reps.append(int(cl.reps[js][np.argmax(values[cl.reps[js]])]))
  labels = np.where(cl.labels >= 0, new_of[np.maximum(cl.labels, 0)], -1)
  return Clusters(labels, np.asarray(reps, np.int64), np.bincount(labels, minlength=len(reps)))


class Census(NamedTuple):
  """Summary of N endpoints.

  Attributes:
    n: endpoints. class_counts: {class: count}. certified_fraction: share
    certified as a maximum of either kind. distinct: distinct maxima. reps: index of
    each maximum's representative endpoint (best first). counts: its basin
    size. basin_fractions: counts / n. best_value: value of the best maximum
    (NaN if none). p_best: probability that one random start finds the best.
    labels: (N,) cluster of each endpoint, -1 where not a certified maximum.
    kinds: (distinct,) "boundary" or "interior" for each maximum.
    proved_distinct: after ``merge_proved``, how many maxima are proved and
      provably pairwise different (a lower bound on the number of distinct
      strict local maxima); None before.
    values: (distinct,) L at each maximum's representative, best first.
  """

  n: int
  class_counts: dict
  certified_fraction: float
  distinct: int
  reps: np.ndarray
  counts: np.ndarray
  basin_fractions: np.ndarray
  best_value: float
  p_best: float
  labels: np.ndarray
  kinds: np.ndarray | None = None
  proved_distinct: int | None = None
  values: np.ndarray | None = None


def _kind(cls) -> str:
  return "interior" if cls == "interior_local_max" else "boundary"


def census_summary(deltas, cert: Certificate, *, eps: float,
                   tol_c: float = Tolerances.tol_c) -> Census:
  """Clusters the certified maxima among endpoints (N, d) and summarises them."""
  deltas = np.asarray(deltas)
  n = deltas.shape[0]
  is_max = np.isin(cert.classes, MAXIMUM_CLASSES)
  idx = np.flatnonzero(is_max)
  cl = cluster_maxima(deltas[idx], cert.values[idx], eps=eps, tol_c=tol_c)
  cl = link_touching(deltas[idx], cert.values[idx], cl, eps=eps, tol_c=tol_c)
  labels = np.full(n, -1, np.int64)
  labels[idx] = cl.labels
  reps = idx[cl.reps]
  best = float(cert.values[reps[0]]) if reps.size else float("nan")
  counts = cl.counts
  classes, ccounts = np.unique(cert.classes, return_counts=True)
  return Census(n, {str(c): int(k) for c, k in zip(classes, ccounts)},
                float(is_max.mean()), int(reps.size), reps, counts, counts / n, best,
                float(counts[0] / n) if reps.size else 0.0, labels,
                np.asarray([_kind(cert.classes[i]) for i in reps], dtype=str),
                values=np.asarray(cert.values, np.float64)[reps])


def merge_proved(census: Census, deltas, proofs, *, eps: float) -> tuple[Census, list]:
  """Merges clusters that proofs show to hold the same maximum; counts the provably distinct.

  Clustering by distance (tol_c eps) splits one maximum into several clusters
  when its basin's endpoints spread wider than tol_c eps (a flat direction, a
  loose tolerance). A proof for maximum i (``proof.prove_maximum``) gives a
  ball of radius ``unique_ball`` around its centre in which L has exactly one
  critical point. If maximum j's true maximiser (within ``radius_j`` of its
  representative) lies in that ball, dist(centre_i, rep_j) + radius_j <
  unique_ball_i, the two are the same point, and the clusters merge.
  Conversely two proved maxima whose representatives are farther apart than
  radius_i + radius_j are different points: ``proved_distinct`` counts a
  greedy set of such pairwise-separated maxima, a lower bound on the number of
  distinct strict local maxima.

  Args:
    census: from ``census_summary``. deltas: (N, d) the endpoints it
      summarised. proofs: one ``Proof`` per representative, in its order.
    eps: the radius.

  Returns:
    the merged ``Census`` (representatives best first, as before) and the
    proofs of its representatives.
  """
  from adv_landscape.proof import distance

  deltas = np.asarray(deltas, np.float64)
  k = census.reps.size
  if k == 0:
    return census._replace(proved_distinct=0), []
  parent = list(range(k))

  def root(i):
    while parent[i] != i:
      parent[i] = parent[parent[i]]
      i = parent[i]
    return i

  ok = [np.isfinite(p.radius) for p in proofs]
  for i in range(k):  # i is better than j: j joins i
    if not ok[i]:
      continue
    on = proofs[i].kind == "boundary"
    for j in range(i + 1, k):
      if ok[j] and proofs[j].kind == proofs[i].kind and root(j) == j and (
          distance(proofs[i].centre, deltas[census.reps[j]], eps, on) + proofs[j].radius
          < proofs[i].unique_ball):
        parent[j] = root(i)
  roots = sorted({root(i) for i in range(k)})
  new_index = {r: n for n, r in enumerate(roots)}
  to_new = np.array([new_index[root(i)] for i in range(k)], np.int64)
  labels = np.where(census.labels >= 0, to_new[np.maximum(census.labels, 0)], -1)
  counts = np.bincount(to_new, weights=census.counts, minlength=len(roots)).astype(np.int64)
  kept: list[int] = []
  for r in roots:  # best first: greedy pairwise-separated proved maxima
    if ok[r] and all(distance(deltas[census.reps[r]], deltas[census.reps[q]], eps,
                              proofs[r].kind == "boundary")
                     > proofs[r].radius + proofs[q].radius for q in kept):
      kept.append(r)
  merged = census._replace(
      distinct=len(roots), reps=census.reps[roots], counts=counts,
      basin_fractions=counts / census.n,
      p_best=float(counts[0] / census.n) if roots else 0.0, labels=labels,
      kinds=census.kinds[roots] if census.kinds is not None else None,
      values=census.values[roots] if census.values is not None else None,
      proved_distinct=len(kept))
  return merged, [proofs[r] for r in roots]


def nonlinearity(eps: float, ell: float, grad0_norm: float) -> float:
  """kappa = eps ell / ||grad L(0)||: small kappa means a near-linear objective on
  the ball and a near-unique maximum (docs/theory.md section 8)."""
  return float(eps * ell / max(grad0_norm, np.finfo(np.float64).tiny))


class StreamingCensus:
  """A census reduced chunk by chunk, so that endpoints are never all held at once.

  The clustering rule is ``cluster_maxima``'s (nearest representative within
  tol_c eps, in decreasing value within each chunk); a representative keeps
  its first point (its leader). The
  iteration counts go into a histogram. Memory is O(distinct maxima x d +
  max_steps), whatever the number of restarts. With well-separated maxima the
  result equals ``census_summary`` on the concatenated chunks (tested); in
  general greedy clustering depends on the order of the points.
  """

  def __init__(self, *, eps: float, tol_c: float = Tolerances.tol_c, max_steps: int):
    self.eps, self.tol_c = float(eps), float(tol_c)
    self.n = 0
    self.converged = 0
    self.class_counts: dict[str, int] = {}
    self.iteration_histogram = np.zeros(max_steps + 1, np.int64)
    self.reps: np.ndarray | None = None
    self.values: list[float] = []
    self.counts: list[int] = []
    self.lambda_tangent: list[float] = []
    self.lambda_bound: list[float] = []  # the proof's bound where the representative inherited
    self.multiplier: list[float] = []
    self.kinds: list[str] = []
    self.n_active: list[int] = []  # on the l_inf ball: coordinates on a face
    self.radius_count: list[int] = []  # endpoints with a proof-grade radius, per maximum
    self.radius_max: list[float] = []  # and the largest of their radii

  def update(self, deltas, cert: Certificate, iterations, converged) -> None:
    """Adds one chunk: endpoints (B, d), their certificate, counts and flags."""
    deltas = np.asarray(deltas, np.float64)
    self.n += deltas.shape[0]
    self.converged += int(np.sum(converged))
    self.iteration_histogram += np.bincount(np.asarray(iterations),
                                            minlength=self.iteration_histogram.size)
    for c, k in zip(*np.unique(cert.classes, return_counts=True)):
      self.class_counts[str(c)] = self.class_counts.get(str(c), 0) + int(k)
    if self.reps is None:
      self.reps = np.zeros((0, deltas.shape[1]))
    idx = np.flatnonzero(np.isin(cert.classes, MAXIMUM_CLASSES))
    radius2 = (self.tol_c * self.eps) ** 2
    pr = np.full(deltas.shape[0], np.nan) if cert.proof_radius is None else cert.proof_radius
    for i in idx[np.argsort(-cert.values[idx], kind="stable")]:
      dist2 = np.sum((self.reps - deltas[i]) ** 2, axis=1)
      if dist2.size and dist2.min() <= radius2:
        j = int(np.argmin(dist2))
        self.counts[j] += 1
        self._radius(j, pr[i])
        continue
      self.reps = np.vstack([self.reps, deltas[i]])
      self.values.append(float(cert.values[i]))
      self.counts.append(1)
      self.radius_count.append(0)
      self.radius_max.append(float("nan"))
      self._radius(len(self.counts) - 1, pr[i])
      self.lambda_tangent.append(float(cert.lambda_tangent[i]))
      self.lambda_bound.append(float(cert.lambda_bound[i]) if cert.lambda_bound is not None
                               else float("nan"))
      self.multiplier.append(float(cert.multiplier[i]))
      self.kinds.append(_kind(cert.classes[i]))
      if cert.n_active is not None:
        self.n_active.append(int(cert.n_active[i]))

  def _radius(self, j: int, r: float) -> None:
    if np.isfinite(r):
      self.radius_count[j] += 1
      self.radius_max[j] = float(np.fmax(self.radius_max[j], r))

  def median_iterations(self) -> float:
    """The lower median of the iteration counts, from the histogram."""
    cum = np.cumsum(self.iteration_histogram)
    return float(np.searchsorted(cum, 0.5 * cum[-1])) if cum[-1] else float("nan")

  def maxima(self) -> list[dict]:
    """The distinct maxima, best first: delta, value, kind, count, basin fraction,
    lambda_T, mu."""
    order = np.argsort(-np.asarray(self.values), kind="stable")
    out = [{"delta": self.reps[j], "value": self.values[j], "kind": self.kinds[j],
            "count": self.counts[j],
            "basin_fraction": self.counts[j] / self.n, "lambda_tangent": self.lambda_tangent[j],
            "lambda_tangent_bound": self.lambda_bound[j],
            "certified_by": "proof" if np.isfinite(self.lambda_bound[j]) else "eigenvalue",
            "multiplier": self.multiplier[j], "endpoints_with_radius": self.radius_count[j],
            "endpoint_radius_max": self.radius_max[j]} for j in order]
    if self.n_active:  # the l_inf ball's certificate, as the batch census reports it
      for mx, j in zip(out, order):
        mx["n_active"] = self.n_active[j]
    return out

  def summary(self) -> dict:
    mx = self.maxima()
    certified = sum(self.class_counts.get(c, 0) for c in MAXIMUM_CLASSES)
    return {"n_inits": self.n, "certified_fraction": certified / max(self.n, 1),
            "distinct_maxima": len(mx), "best_value": mx[0]["value"] if mx else float("nan"),
            "p_best": mx[0]["basin_fraction"] if mx else 0.0,
            "median_iterations": self.median_iterations(),
            "max_iterations": int(np.flatnonzero(self.iteration_histogram).max())
            if self.n else 0,
            "converged_fraction": self.converged / max(self.n, 1),
            "class_counts": dict(self.class_counts),
            "endpoints_with_radius": int(sum(self.radius_count)),
            "endpoint_radius_max": max((r for r in self.radius_max if np.isfinite(r)),
                                       default=float("nan"))}
