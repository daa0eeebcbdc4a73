"""Argument types and the parser of the command line: every bad value is one line naming
the option (argparse's exit code 2), and help shows every default."""

from __future__ import annotations

import argparse

import numpy as np

__all__ = ["HelpFormatter", "Parser", "positive", "positive_int", "seed", "finite", "SEED_MAX"]


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
  """Shows "(default: X)" after each option's help, except for flags and unset values.

  An option whose default is None says in its own help what None means.
  """

  def _get_help_string(self, action):
    if action.default is None or action.default is False:
      return action.help
    return super()._get_help_string(action)

  def _fill_text(self, text, width, indent):
    if "\n" in text:  # the examples: kept line by line as written
      return "".join(indent + line for line in text.splitlines(keepends=True))
    return super()._fill_text(text, width, indent)


class Parser(argparse.ArgumentParser):
  """argparse, but a usage error is one line, exit code 2, and help shows every default."""

  def __init__(self, *args, **kwargs):
    kwargs.setdefault("formatter_class", HelpFormatter)
    super().__init__(*args, **kwargs)

  def error(self, message):
    self.exit(2, f"{self.prog}: error: {message}\n")


def positive(name):
  def parse(text):
    try:
      v = float(text)
    except ValueError:
      raise argparse.ArgumentTypeError(f"{name}={text!r} is not a number") from None
    if not (np.isfinite(v) and v > 0):
      raise argparse.ArgumentTypeError(f"{name}={text} must be positive and finite")
    return v
  return parse


def positive_int(name):
  def parse(text):
    try:
      v = int(text)
    except ValueError:
      raise argparse.ArgumentTypeError(f"{name}={text!r} is not an integer") from None
    if v < 1:
      raise argparse.ArgumentTypeError(f"{name}={text} must be a positive integer")
    return v
  return parse


SEED_MAX = 2**31 - 1  # seeds travel as int32 when x64 is off


def seed(text):
  try:
    v = int(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f"seed={text!r} is not an integer") from None
  if not 0 <= v <= SEED_MAX:
    raise argparse.ArgumentTypeError(f"seed={text} is out of range; give an integer in "
                                     f"[0, {SEED_MAX}]")
  return v


def finite(name):
  def parse(text):
    try:
      v = float(text)
    except ValueError:
      raise argparse.ArgumentTypeError(f"{name}={text!r} is not a number") from None
    if not np.isfinite(v):
      raise argparse.ArgumentTypeError(f"{name}={text} must be finite")
    return v
  return parse
