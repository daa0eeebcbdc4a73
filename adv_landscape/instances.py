"""Instances: a user's files or the synthetic setting, checked, to arrays and to a ``Problem``.

What the command line (and anything else that starts from options) needs before any
computation: the network and input from files (``load_files``) or drawn from a seed
(``synthetic_instance``), the label, the radius from gamma, every check of shapes,
values and memory (``build_instance``), and the ``Problem`` of a network of either
family (``problem``). The commands parse options and call these; they build nothing.
"""

from __future__ import annotations

import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

from adv_landscape.deep import init_mlp
from adv_landscape.errors import InvalidInput
from adv_landscape.losses import LOSSES, get_loss, load_loss, with_output_bias
from adv_landscape.models import family_of
from adv_landscape.network import init_network, synthetic_input
from adv_landscape.problem import CONSTRAINTS, Problem
from adv_landscape.problem import gamma_scale as constraint_gamma_scale
from adv_landscape.step_rules import get_rule
from adv_landscape.weights import read_input, read_network

__all__ = ["seed_keys", "synthetic_instance", "build_instance", "problem", "check_memory",
           "load_files", "check_loss", "check_norm_args", "available_bytes"]


def warn(command: str, message: str) -> None:
  print(f"adv-landscape {command}: warning: {message}", file=sys.stderr)


def seed_keys(seed: int):
  """(network key, input key, run key): one split of key(seed), as the command line does."""
  return jax.random.split(jax.random.key(seed), 3)


def synthetic_instance(*, seed: int = 0, d: int = 20, m: int = 200, activation: str = "tanh",
                       scale: float = 1.0, n_outputs: int | None = None, widths=None,
                       dtype=None):
  """The paper's random network and an input of scale s, from ``seed`` (as the CLI builds them).

  ``widths`` (a tuple of hidden widths) makes a deep ``deep.MLP`` instead of the two-layer
  ``Network`` of width m.
  """
  k_net, k_x, _ = seed_keys(seed)
  if widths is not None:
    net = init_mlp(k_net, d, widths, activation=activation, n_outputs=n_outputs, dtype=dtype)
  else:
    net = init_network(k_net, d, m, activation=activation, n_outputs=n_outputs, dtype=dtype)
  return net, synthetic_input(k_x, d, scale, dtype=dtype)


def given(args, *names) -> list[str]:
  return [f"--{n.replace('_', '-')}" for n in names if getattr(args, n) is not None]


def check_loss(args):
  """The loss object, from a registry name or package.module:function."""
  loss = get_loss(args.loss) if args.loss in LOSSES else load_loss(args.loss)
  if loss.sups is None and get_rule(args.step_rule).ell == "rigorous":
    raise InvalidInput(f"--step-rule lipschitz needs derivative bounds of the loss, and "
                       f"loss={args.loss!r} (a user loss) has none; use curvature, grad0, fixed "
                       f"or normalized")
  return loss


def widths_of(args, m: int) -> tuple | None:
  """Hidden widths of a synthetic deep network, or None for the two-layer one."""
  if args.widths is not None:
    try:
      widths = tuple(int(w) for w in args.widths.split(","))
    except ValueError:
      raise InvalidInput(f"widths={args.widths!r} is not a comma-separated list of integers"
                         ) from None
    if min(widths) < 1:
      raise InvalidInput(f"widths={args.widths!r} must be positive")
    if args.depth is not None and args.depth != len(widths):
      raise InvalidInput(f"--depth {args.depth} disagrees with --widths {args.widths} "
                         f"({len(widths)} layers); give one of them")
    return widths if len(widths) > 1 else None if widths[0] == m else widths
  if args.depth is None or args.depth == 1:
    return None
  return (m,) * args.depth


def check_norm_args(args) -> None:
  """The starts and the step rule must belong to the threat model."""
  inits = CONSTRAINTS[args.norm].INITS
  if args.init not in inits:
    raise InvalidInput(f"--init {args.init} is not a start of the {args.norm} ball; choose one "
                       f"of {list(inits)}")
  norms = get_rule(args.step_rule).norms
  if norms is not None and args.norm not in norms:
    raise InvalidInput(f"--step-rule {args.step_rule} runs on the {'/'.join(norms)} ball only; "
                       f"give --norm {norms[0]} (on the l2 ball, normalized is the attack "
                       f"libraries' step)")


def load_files(args):
  """The user's network (with its output bias) and x, read and checked; no computation."""
  if not (args.weights and args.x):
    raise InvalidInput("--weights and --x go together: give both, or neither for a synthetic "
                       "instance")
  stray = given(args, "scale", "outputs", "depth", "widths")
  if stray:
    one = len(stray) == 1
    raise InvalidInput(f"{' and '.join(stray)} {'describes' if one else 'describe'} a synthetic "
                       f"instance and cannot apply to weights={args.weights!r}; drop "
                       f"{'it' if one else 'them'}")
  loaded = read_network(args.weights, activation=args.activation)
  net = loaded.net
  m_have = family_of(net).widths(net)[-1]
  for name, have in (("d", net.d), ("m", m_have)):
    want = getattr(args, name)
    if want is not None and want != have:
      raise InvalidInput(f"--{name} {want} disagrees with weights={args.weights!r} ({name} = "
                         f"{have}); drop --{name}: the file sets it")
  if loaded.activation_source == "override":
    warn(args.command, f"--activation {args.activation} overrides {loaded.file_activation!r} "
                        f"from weights={args.weights!r}")
  x = read_input(args.x)
  if x.shape != (net.d,):
    raise InvalidInput(f"x={args.x!r} has shape {x.shape}; weights={args.weights!r} needs "
                       f"({net.d},)")
  if not np.all(np.isfinite(x)):
    raise InvalidInput(f"x={args.x!r} has {int(np.sum(~np.isfinite(x)))} NaN or inf entries")
  return loaded, x


def available_bytes() -> float:
  """Memory this run can still take: MemAvailable from /proc/meminfo, else the physical size."""
  try:
    with open("/proc/meminfo") as f:
      for line in f:
        if line.startswith("MemAvailable:"):
          return float(line.split()[1]) * 1024
  except OSError:
    pass
  try:
    return float(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
  except (ValueError, OSError, AttributeError):
    return float("inf")


def check_memory(args, d: int, widths) -> None:
  """Refuses, before anything is allocated, a run whose arrays cannot fit in memory.

  The estimate (bytes, float64): the network and its float64 copies, 4 sum(m_l fan_in_l)
  x 8; the restarts held at once (all of them, or one chunk with --stream), about 8 arrays
  of (N, d) between PGA, certificates and census; the certificates' own working sets (dense
  Hessians and Lanczos bases, capped at 2e8 and 3.84e8 bytes).
  """
  widths = tuple(widths)
  weights, fan_in = 0, d
  for m in widths:
    weights += m * fan_in
    fan_in = m
  weights += fan_in * max(1, args.outputs or 1)
  held = min(args.inits, args.chunk or 8192) if args.stream else args.inits
  need = 8.0 * (4 * weights + 8 * held * d) + 6e8
  have = available_bytes()
  if need > 0.8 * have:
    fix = ("a smaller --d or --m (the network alone is too large)"
           if 32.0 * weights > 0.4 * have else
           "--stream (memory independent of --inits) or fewer --inits" if not args.stream else
           "a smaller --chunk")
    raise InvalidInput(f"this run needs about {need / 2**30:.3g} GiB (network "
                       f"{32.0 * weights / 2**30:.3g} GiB, {held} restarts x d = {d} held at "
                       f"once) and {have / 2**30:.3g} GiB is available; use {fix}")


def build_instance(args):
  """Network, loss, x, y, eps and a description, from files or the synthetic setting.

  Reads and checks everything (files, shapes, values, eps) without computing.
  """
  loss = check_loss(args)
  k_run = seed_keys(args.seed)[2]
  if args.weights or args.x:
    loaded, x_np = load_files(args)
    net, bias = loaded.net, loaded.output_bias
    check_memory(args, net.d, net.widths if hasattr(net, "widths") else (net.m,))
    x = jnp.asarray(x_np, net.a.dtype)
    source = {"weights": os.path.abspath(args.weights), "x": os.path.abspath(args.x),
              "activation_source": loaded.activation_source,
              "output_bias": np.asarray(bias).tolist()}
    where = f"weights={args.weights!r}, x={args.x!r}: "
  else:
    d, m = args.d or 20, args.m or 200
    activation, scale = args.activation or "tanh", args.scale or 1.0
    widths = widths_of(args, m)
    check_memory(args, d, widths or (m,))
    net, x = synthetic_instance(seed=args.seed, d=d, m=m, activation=activation, scale=scale,
                                n_outputs=args.outputs, widths=widths)
    source = {"synthetic": True, "d": d, "m": m, "activation": activation,
              "scale": scale, "outputs": args.outputs}
    where = ""
  y = args.y if args.y is not None else (0 if loss.multi_output else 1.0)
  if loss.multi_output and net.a.ndim == 2:  # (a one-output head is refused just below)
    k = int(net.a.shape[1])
    if float(y) != int(y) or not 0 <= int(y) < k:
      raise InvalidInput(f"y={y:g} is not a class index: softmax_ce needs an integer in "
                         f"[0, {k})")
  if loss.multi_output:
    y = int(y)
  xnorm = float(np.linalg.norm(np.asarray(x, np.float64)))
  if xnorm == 0 and args.eps is None:
    raise InvalidInput(f"{where}x is zero, so eps cannot come from gamma (eps = gamma ||x||); "
                       f"give --eps")
  g_scale = constraint_gamma_scale(args.norm, xnorm, x.shape[0])
  eps = args.eps if args.eps is not None else (args.gamma or 0.5) * g_scale
  try:
    family_of(net).validate(net, x, eps, y, loss)
  except InvalidInput as e:
    raise InvalidInput(f"{where}{e}") from None
  if args.weights and args.y is None:
    raise InvalidInput(f"weights={args.weights!r}: give the label --y of x (a class index for "
                       f"softmax_ce, the target or sign for a scalar loss); a user's network "
                       f"has no default label")
  if args.weights:  # after the checks: the head and the loss agree, so the bias fits
    loss = with_output_bias(loss, bias)
  widths = family_of(net).widths(net)
  source.update(loss=loss.name, y=y, norm=args.norm, eps=eps,
                gamma=eps / g_scale if xnorm else None, x_norm=xnorm, d=int(net.d),
                m=int(widths[-1]), activation=net.activation, depth=len(widths),
                widths=[int(w) for w in widths])
  return net, loss, x, y, eps, k_run, source


def problem(net, loss, x, y, *, eps: float, norm: str = "2", dtype=None) -> Problem:
  """The ``Problem`` of a network of any registered family (``models.MODEL_FAMILIES``): the
  closed forms for a two-layer ``Network``, autodiff through ``deep.mlp_forward`` for an
  ``MLP``."""
  return family_of(net).problem(net, loss, x, y, eps=eps, norm=norm, dtype=dtype)
