"""Helpers shared by the experiment scripts (never imported by the library)."""

from __future__ import annotations

import argparse
import json
import os

import jax
import numpy as np

from adv_landscape import io


def parser(doc: str) -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
  p.add_argument("--quick", action="store_true", help="the small version (minutes)")
  p.add_argument("--smoke", action="store_true", help="tiny sizes, for the test suite")
  p.add_argument("--data", default="digits",
                 help="digits (default), fashion-mnist, or a folder of IDX files")
  p.add_argument("--data-dir", default=None, help="folder of the fashion-mnist IDX files")
  p.add_argument("--out", default=None,
                 help="figure folder (default figures/, or figures-quick/ with --quick or "
                      "--smoke, so that a small run never overwrites the committed figures; "
                      "a subfolder named after the data set unless it is digits)")
  p.add_argument("--norm", default="2", choices=("2", "inf"),
                 help="threat model: the l2 ball (the paper's) or the l_inf box of half-width "
                      "gamma ||x|| / sqrt(d), with vertex starts and sign steps")
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--no-progress", action="store_true")
  return p


def default_out(quick: bool, norm: str = "2", data: str = "digits") -> str:
  """figures/ for the full run, figures-quick/ for the small ones, with -inf on the l_inf ball,
  in the current folder (from the checkout's root: its committed figures/), so that no run
  overwrites another's figures and a run from elsewhere leaves the checkout alone; a data set
  other than digits gets its own subfolder (figures/fashion-mnist/, or the IDX folder's
  name), so that it never overwrites the digits figures."""
  base = os.path.join(os.getcwd(), ("figures-quick" if quick else "figures")
                      + ("-inf" if norm == "inf" else ""))
  if data == "digits":
    return base
  return os.path.join(base, os.path.basename(os.path.normpath(data)) or "data")


def radius(x, gamma: float, norm: str) -> float:
  """eps = gamma ||x|| (l2), or gamma ||x|| / sqrt(d) (the box whose vertices lie on that
  l2 sphere)."""
  r = gamma * float(np.linalg.norm(np.asarray(x, np.float64)))
  return r / float(np.sqrt(np.size(x))) if norm == "inf" else r


def setup(args):
  jax.config.update("jax_enable_x64", True)
  if args.out is None:
    args.out = default_out(args.quick or args.smoke, args.norm, args.data)
  os.makedirs(args.out, exist_ok=True)


def write_summary(args, name: str, summary: dict) -> str:
  path = os.path.join(args.out, f"{name}.json")
  io.write_json_atomic(path, {"config": vars(args), "summary": summary,
                              "versions": io.versions()})
  return path


def load_json(path):
  with open(path) as f:
    return json.load(f)
