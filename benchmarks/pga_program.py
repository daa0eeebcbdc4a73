"""The compiled PGA loop, as a fingerprint: a refactoring that leaves it byte-identical
cannot change PGA's speed (issue 23's benchmark requirement, checked without timing).

Lowers ``ascent.run_pga`` (float32, d = 64, m = 256, 128 restarts) for each of
the four moves (normalized, gradient, armijo on the l2 ball; sign on the box) and prints
a SHA-256 prefix of each StableHLO text. Run it on two commits and compare the lines:

  python -m benchmarks.pga_program

Measured: identical on the tree before the redesign (abbccd2) and after its step-rule
registry (the four fingerprints 921fc1c50a262f5a, e4947ea0011f476c, 05ebf19ae5275e9f,
e2c6f642ece513fc with jax 0.10.2; they depend on the JAX version). The armijo
fingerprint then changed on purpose, with the cap on its move (c06ad19773fb4fba): the
three other moves are unchanged.
"""

from __future__ import annotations

import hashlib

import jax
import jax.numpy as jnp

from adv_landscape import ascent
from adv_landscape.network import init_network, synthetic_input
from adv_landscape.problem import Problem

CASES = (("2", "normalized"), ("2", "grad0"), ("2", "armijo"), ("inf", "sign"))


def fingerprints() -> dict:
  net = init_network(jax.random.key(0), 64, 256)
  x = synthetic_input(jax.random.key(1), 64, 1.0)
  out = {}
  for norm, rule in CASES:
    p = Problem.two_layer(net, "quadratic", x, 1.0, eps=4.0, norm=norm)
    lowered = ascent.run_pga.lower(
        p, jnp.zeros((128, 64)), jnp.full((128,), 0.1), jnp.float32(1e-4), jnp.int32(100),
        normalized=rule == "normalized", sign=rule == "sign", armijo=rule == "armijo")
    out[f"{norm}/{rule}"] = hashlib.sha256(lowered.as_text().encode()).hexdigest()[:16]
  return out


if __name__ == "__main__":
  for case, h in fingerprints().items():
    print(f"{case:14s} {h}")
