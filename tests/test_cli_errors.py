"""Every bad input the command line can meet: exit 2, one line naming it, nothing computed or written.

One table (``CASES``) holds every case the README lists and every case a new
user met (a truncated or renamed file, an unusable output path, a damaged
sweep, arguments that cannot apply to a user's network, ...). Each case runs
with PGA, the sweep and the experiments replaced by a function that fails the
test, so an error found only after computing fails too.
"""

import os

import numpy as np
import pytest

from adv_landscape import cli, commands


def make_files(folder) -> None:
  """The good and bad files the cases point at."""
  folder = str(folder)
  j = lambda name: os.path.join(folder, name)  # noqa: E731
  rng = np.random.default_rng(0)
  W, a = rng.standard_normal((6, 4)) / 2.0, rng.choice([-1.0, 1.0], 6) / np.sqrt(6)
  tanh = np.array("tanh")
  np.savez(j("net.npz"), W=W, a=a, b=np.zeros(6), activation=tanh)
  np.save(j("x.npy"), rng.standard_normal(4))
  np.savez(j("nan.npz"), W=np.where(np.eye(6, 4) > 0, np.nan, W), a=a, activation=tanh)
  np.savez(j("shape.npz"), W=W, a=a[:5], activation=tanh)
  np.savez(j("cosh.npz"), W=W, a=a, activation=np.array("cosh"))
  np.savez(j("relu.npz"), W=W, a=a, activation=np.array("relu"))
  np.savez(j("noact.npz"), W=W, a=a)
  np.savez(j("noW.npz"), a=a, activation=tanh)
  np.savez(j("w1d.npz"), W=W[0], a=a, activation=tanh)
  np.savez(j("strings.npz"), W=np.full((6, 4), "x"), a=a, activation=tanh)
  np.savez(j("multi.npz"), W=W, a=np.ones((6, 3)), activation=tanh)
  np.save(j("x5.npy"), rng.standard_normal(5))
  np.save(j("x0.npy"), np.zeros(4))
  np.save(j("xinf.npy"), np.array([1.0, np.inf, 0.0, 0.0]))
  with open(j("net.npz"), "rb") as f:
    whole = f.read()
  with open(j("truncated.npz"), "wb") as f:
    f.write(whole[: len(whole) // 2])
  for name in ("text.npz", "text.npy", "text.pt", "text.h5"):
    with open(j(name), "w") as f:
      f.write("W = [[1, 2], [3, 4]]\n")
  with open(j("afile"), "w") as f:
    f.write("not a folder\n")
  with open(j("broken_loss.py"), "w") as f:
    f.write("def l(u, y):\n  return (u - y\n")
  np.savez(j("extra.npz"), W=W, a=a, W2=np.ones(3), foo=np.ones(2), activation=tanh)
  np.savez(j("empty.npz"), W=np.zeros((0, 4)), a=np.zeros(0), activation=tanh)
  os.symlink(j("target.json"), j("link.json"))
  os.makedirs(j("afolder"))
  os.makedirs(j("corrupt"))
  with open(j("corrupt/sweep.jsonl"), "w") as f:
    f.write("{not json\n")
  os.makedirs(j("nokey"))
  with open(j("nokey/sweep.jsonl"), "w") as f:
    f.write('{"point": 1}\n')
  try:
    from safetensors.numpy import save_file
  except ImportError:
    return
  save_file({"0.weight": W, "2.weight": a[None], "4.weight": np.ones((1, 3))}, j("deep.safetensors"))


def _torch_message() -> str:
  try:
    import torch  # noqa: F401
  except ImportError:
    return "adv_landscape[torch]"
  return "torch.save(model.state_dict(), path)"


NET = ["--weights", "{f}/net.npz", "--x", "{f}/x.npy"]
OUT = ["--json", "{f}/out.json"]

# (id, argv, substrings that must all be in the one line)
CASES = [
    # what the README lists
    ("eps negative", ["census", *NET, "--eps", "-1"], ["eps=-1"]),
    ("eps zero", ["census", *NET, "--eps", "0"], ["eps=0"]),
    ("eps nan", ["census", "--eps", "nan"], ["eps=nan"]),
    ("gamma zero", ["census", *NET, "--gamma", "0"], ["gamma=0"]),
    ("NaN weights", ["census", "--weights", "{f}/nan.npz", "--x", "{f}/x.npy", *OUT],
     ["nan.npz", "W contains NaN"]),
    ("inf in x", ["census", "--weights", "{f}/net.npz", "--x", "{f}/xinf.npy", *OUT],
     ["xinf.npy", "NaN or inf"]),
    ("shape of a", ["census", "--weights", "{f}/shape.npz", "--x", "{f}/x.npy", *OUT],
     ["shape.npz", "a has shape (5,)"]),
    ("shape of x", ["census", "--weights", "{f}/net.npz", "--x", "{f}/x5.npy", *OUT],
     ["x5.npy", "(5,)", "(4,)"]),
    ("unknown activation in the file", ["census", "--weights", "{f}/cosh.npz", "--x",
                                        "{f}/x.npy", *OUT], ["cosh.npz", "'cosh'"]),
    ("unknown activation", ["census", "--activation", "cosh"], ["cosh"]),
    ("unknown loss", ["census", *NET, "--loss", "hinge", *OUT], ["loss='hinge'"]),
    ("missing file", ["census", "--weights", "{f}/missing.npz", "--x", "{f}/x.npy", *OUT],
     ["missing.npz", "no such file"]),
    ("certificates on ReLU", ["census", "--weights", "{f}/relu.npz", "--x", "{f}/x.npy", *OUT],
     ["relu"]),
    ("zero restarts", ["census", "--inits", "0", *OUT], ["inits=0"]),
    # what a new user met
    ("truncated .npz", ["census", "--weights", "{f}/truncated.npz", "--x", "{f}/x.npy", *OUT],
     ["truncated.npz", "damaged .npz"]),
    ("--json under a file", ["census", "--inits", "4", "--json", "{f}/afile/out.json"],
     ["json=", "is a file, not a folder"]),
    ("--json is a folder", ["census", "--inits", "4", "--json", "{f}/afolder"],
     ["json=", "afolder", "is a folder"]),
    ("--json unwritable", ["census", "--inits", "4", "--json", "/proc/adv_landscape/out.json"],
     ["json=", "cannot write"]),
    ("verify --out is a file", ["verify", "--quick", "--out", "{f}/afile"],
     ["out=", "afile", "is a file"]),
    ("text renamed .npz", ["census", "--weights", "{f}/text.npz", "--x", "{f}/x.npy", *OUT],
     ["text.npz", "not an .npz archive"]),
    ("text renamed .npy", ["census", "--weights", "{f}/net.npz", "--x", "{f}/text.npy", *OUT],
     ["text.npy", "not an .npy file"]),
    ("W as strings", ["census", "--weights", "{f}/strings.npz", "--x", "{f}/x.npy", *OUT],
     ["strings.npz", "'W'", "not numbers"]),
    ("x = 0 without --eps", ["census", "--weights", "{f}/net.npz", "--x", "{f}/x0.npy", *OUT],
     ["x0.npy", "x is zero", "give --eps"]),
    ("corrupt sweep.jsonl", ["verify", "--quick", "--out", "{f}/corrupt"],
     ["sweep.jsonl", "line 1", "delete"]),
    ("sweep record without key", ["verify", "--quick", "--out", "{f}/nokey"],
     ["sweep.jsonl", "line 1", "key"]),
    ("--d beside --weights", ["census", *NET, "--d", "7", *OUT], ["--d 7", "net.npz", "d = 4"]),
    ("--m beside --weights", ["census", *NET, "--m", "9", *OUT], ["--m 9", "net.npz", "m = 6"]),
    ("--scale beside --weights", ["census", *NET, "--scale", "2", *OUT], ["--scale", "net.npz"]),
    ("no activation anywhere", ["census", "--weights", "{f}/noact.npz", "--x", "{f}/x.npy", *OUT],
     ["noact.npz", "give --activation"]),
    ("an .npz without W", ["census", "--weights", "{f}/noW.npz", "--x", "{f}/x.npy", *OUT],
     ["noW.npz", "lacks ['W']"]),
    ("W not a matrix", ["census", "--weights", "{f}/w1d.npz", "--x", "{f}/x.npy", *OUT],
     ["w1d.npz", "W has shape (4,)"]),
    ("unknown extension", ["census", "--weights", "{f}/text.h5", "--x", "{f}/x.npy", *OUT],
     ["text.h5", "unknown extension"]),
    ("PyTorch file", ["census", "--weights", "{f}/text.pt", "--x", "{f}/x.npy", "--activation",
                      "tanh", *OUT], ["text.pt", _torch_message()]),
    ("Linear layers that do not chain", ["census", "--weights", "{f}/deep.safetensors", "--x",
                                         "{f}/x.npy", "--activation", "tanh", *OUT],
     ["deep.safetensors", "'4.weight' has shape (1, 3)"]),
    ("--weights without --x", ["census", "--weights", "{f}/net.npz", *OUT], ["go together"]),
    ("--loss module missing", ["census", *NET, "--loss", "no_such_module:fn", *OUT],
     ["no_such_module", "cannot import"]),
    ("--loss module broken", ["census", *NET, "--loss", "broken_loss:l", *OUT],
     ["broken_loss", "SyntaxError"]),
    ("--loss not a function", ["census", *NET, "--loss", "math:pi", *OUT], ["math:pi", "float"]),
    ("user loss with lipschitz", ["census", *NET, "--loss", "jax.numpy:hypot", "--step-rule",
                                  "lipschitz", *OUT], ["lipschitz", "derivative bounds"]),
    ("softmax_ce on one output", ["census", *NET, "--loss", "softmax_ce", *OUT],
     ["softmax_ce", "(m, K)"]),
    ("class out of range", ["census", "--weights", "{f}/multi.npz", "--x", "{f}/x.npy", "--loss",
                            "softmax_ce", "--y", "5", *OUT], ["y=5", "[0, 3)"]),
    ("sign step on the l2 ball", ["census", "--step-rule", "sign", *OUT], ["sign", "--norm inf"]),
    ("an l2 start on the box", ["census", "--norm", "inf", "--init", "sphere", *OUT],
     ["--init sphere", "inf"]),
    ("--stream with --save-endpoints", ["census", "--stream", "--save-endpoints", *OUT],
     ["--stream"]),
    ("verify --json is the report", ["verify", "--quick", "--out", "{f}/rep", "--json",
                                     "{f}/rep/report.json"], ["report itself"]),
    ("reproduce --out is a file", ["reproduce", "--quick", "--out", "{f}/afile"],
     ["out=", "is a file"]),
    ("bench --json is a folder", ["bench", "--json", "{f}/afolder"], ["json=", "is a folder"]),
    # a newcomer's second hour
    ("seed out of range", ["census", "--seed", "99999999999999999999999"],
     ["seed=", "out of range"]),
    ("negative seed", ["census", "--seed", "-1"], ["seed=-1", "out of range"]),
    ("a network too large for memory", ["census", "--d", "100000000"], ["GiB", "--d or --m"]),
    ("restarts too many to hold", ["census", "--inits", "1000000000"], ["GiB", "--stream"]),
    ("a chunk too large to hold", ["census", "--inits", "1000000000", "--stream", "--chunk",
                                   "1000000000"], ["GiB", "--chunk"]),
    ("--json is the input --x", ["census", *NET, "--y", "1", "--json", "{f}/x.npy"],
     ["json=", "the input --x"]),
    ("--json is the input --weights", ["census", *NET, "--y", "1", "--json", "{f}/net.npz"],
     ["json=", "the input --weights"]),
    ("--json is a device", ["census", "--inits", "4", "--json", "/dev/null"],
     ["json=", "not a regular file"]),
    ("--json is a link", ["census", "--inits", "4", "--json", "{f}/link.json"],
     ["json=", "symbolic link"]),
    ("a user's network without --y", ["census", *NET, *OUT], ["net.npz", "give the label --y"]),
    ("a K-output head with a scalar loss", ["census", "--weights", "{f}/multi.npz", "--x",
                                            "{f}/x.npy", "--y", "1", *OUT],
     ["multi.npz", "needs a of shape (m,)"]),
    ("a class label that is not an integer", ["census", "--weights", "{f}/multi.npz", "--x",
                                              "{f}/x.npy", "--loss", "softmax_ce", "--y", "1.5",
                                              *OUT], ["y=1.5", "class index"]),
    ("arrays beyond the network", ["census", "--weights", "{f}/extra.npz", "--x", "{f}/x.npy",
                                   "--y", "1", *OUT], ["extra.npz", "['W2', 'foo']"]),
    ("a layer with no units", ["census", "--weights", "{f}/empty.npz", "--x", "{f}/x.npy",
                               "--y", "1", *OUT], ["empty.npz", "(0, 4)"]),
    ("a vacuous --tol-g", ["census", "--tol-g", "1e9", *OUT], ["--tol-g", "||grad L(0)||"]),
    ("hunt: no label for a user's network", ["hunt", *NET, "--eps", "1", *OUT], ["--y"]),
    ("hunt: zero starts", ["hunt", "--inits", "0"], ["inits=0"]),
    ("hunt: json onto its own input", ["hunt", *NET, "--y", "1", "--json", "{f}/x.npy"],
     ["x.npy"]),
]


def _listing(folder) -> set:
  return {os.path.join(r, n) for r, ds, fs in os.walk(folder) for n in ds + fs}


@pytest.fixture
def no_computation(monkeypatch):
  """PGA, grid points and experiments fail the test if reached."""
  import adv_landscape.ascent as ascent_mod
  import adv_landscape.sweep as sweep_mod

  def forbidden(*a, **k):
    raise AssertionError("computation started before the input was checked")

  monkeypatch.setattr(ascent_mod, "pga", forbidden)
  monkeypatch.setattr(ascent_mod, "pga_chunks", forbidden)
  monkeypatch.setattr(sweep_mod, "run_point", forbidden)
  monkeypatch.setattr(commands, "_source_package", forbidden)


@pytest.mark.parametrize("argv, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_exits_2_with_one_line_before_any_work(tmp_path, monkeypatch, capsys,
                                                        no_computation, argv, expected):
  make_files(tmp_path)
  monkeypatch.chdir(tmp_path)
  before = _listing(tmp_path)
  argv = [a.format(f=tmp_path) for a in argv] + ["--no-progress"]
  try:
    rc = cli.main(argv)
  except SystemExit as e:  # argparse's own refusals
    rc = e.code
  err = capsys.readouterr().err.strip()
  assert rc == 2, err
  assert len(err.splitlines()) == 1, err
  for text in expected:
    assert text in err, (text, err)
  assert _listing(tmp_path) == before  # nothing written, not even a folder


def test_an_internal_error_is_a_bug_with_its_traceback(monkeypatch):
  """Only InvalidInput means exit 2; a ValueError from inside the code is not a usage error."""
  def broken(args):
    raise ValueError("an internal bug")

  monkeypatch.setattr(commands, "cmd_census", broken)
  with pytest.raises(ValueError, match="an internal bug"):
    cli.main(["census"])


def test_every_option_has_help_and_shows_its_default(capsys):
  """--help documents every option; a non-None default is printed beside it."""
  import argparse

  parser = cli.build_parser()
  subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
  for name, sub in subs.choices.items():
    text = sub.format_help()
    for action in sub._actions:
      if isinstance(action, (argparse._HelpAction,)) or action.help == argparse.SUPPRESS:
        continue
      assert action.help, (name, action.option_strings)
      if action.default not in (None, False):
        assert f"(default: {action.default})" in " ".join(text.split()), (name, action.dest)
  with pytest.raises(SystemExit) as e:
    cli.main(["--version"])
  assert e.value.code == 0 and "adv-landscape 0." in capsys.readouterr().out
