"""The package's import graph runs only downward (README, Layout).

Every module of ``adv_landscape`` has a layer (``LAYERS``: lower first); an import,
deferred ones inside functions included, may only name a module of a lower layer, so
modules of one layer never import each other and no import circle can form. A new
module must be given a layer here, which is the point: its author decides where it sits.
"""

import ast
import pathlib

import pytest

import adv_landscape

PACKAGE = pathlib.Path(adv_landscape.__file__).parent

# Lower first. The package root re-exports the public API, so it sits on top.
LAYERS = (
  ("_version", "errors", "compile_cache", "geometry", "stats", "plots", "arguments",
   "linalg"),
  ("step_rules", "activations", "losses", "io", "distributed", "data"),
  ("config", "reports"),
  ("network",),
  ("deep",),
  ("weights", "objective", "relaxation"),
  ("problem", "globalmax"),
  ("models", "lanczos", "bounds", "hunt", "critical"),
  ("certify", "proof", "ascent", "instances"),
  ("box",),
  ("certificates",),
  ("census",),
  ("pipeline", "training"),
  ("api", "sweep"),
  ("claims",),
  ("verify",),
  ("commands",),
  ("cli",),
  ("__init__",),
)


def _rank():
  return {name: k for k, layer in enumerate(LAYERS) for name in layer}


def _modules():
  return {".".join(p.relative_to(PACKAGE).with_suffix("").parts): p
          for p in sorted(PACKAGE.rglob("*.py"))}


def internal_imports(path: pathlib.Path, names) -> dict:
  """{imported module: first line} for every import of a package module in the file,
  wherever it stands (a deferred import inside a function counts)."""
  out = {}
  for node in ast.walk(ast.parse(path.read_text())):
    found = []
    if isinstance(node, ast.Import):
      found = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom):
      if node.level:
        base = node.module or ""
        found = [base] if base else [a.name for a in node.names]
        found = [f"adv_landscape.{f}" for f in found]
      elif node.module:
        found = ([f"{node.module}.{a.name}" for a in node.names]
                 if node.module == "adv_landscape" else [node.module])
    for f in found:
      parts = f.split(".")
      if parts[0] != "adv_landscape":
        continue
      target = parts[1] if len(parts) > 1 and parts[1] in names else "__init__"
      out.setdefault(target, node.lineno)
  return out


def violations(modules=None) -> list[str]:
  """Every import against the layer order, as 'a.py:line imports b (layer i -> j)'."""
  modules = modules or _modules()
  rank = _rank()
  out = []
  for name, path in modules.items():
    for target, line in internal_imports(path, modules).items():
      if target != name and rank[target] >= rank[name]:
        out.append(f"{name}.py:{line} imports {target} (layer {rank[name]} -> {rank[target]})")
  return out


def test_every_module_has_a_layer():
  missing = sorted(set(_modules()) - set(_rank()))
  assert not missing, f"give these modules a layer in tests/test_layers.py: {missing}"
  stale = sorted(set(_rank()) - set(_modules()))
  assert not stale, f"these layered modules no longer exist: {stale}"


def test_imports_only_go_down():
  bad = violations()
  assert not bad, "imports against the layer order:\n" + "\n".join(bad)


def test_the_check_sees_an_upward_and_a_deferred_import(tmp_path):
  """Planted: a low module importing a high one, once at the top and once inside a
  function; both are reported."""
  low = tmp_path / "errors.py"
  low.write_text("from adv_landscape.cli import main\n\ndef f():\n"
                 "  from adv_landscape import verify\n  return verify\n")
  mods = {**_modules(), "errors": low}
  bad = [v for v in violations(mods) if v.startswith("errors.py")]
  rank = _rank()
  assert bad == [f"errors.py:1 imports cli (layer 0 -> {rank['cli']})",
                 f"errors.py:4 imports verify (layer 0 -> {rank['verify']})"]


@pytest.mark.parametrize("layer", LAYERS)
def test_modules_of_one_layer_never_import_each_other(layer):
  modules = _modules()
  for name in layer:
    if name in modules:
      assert not set(internal_imports(modules[name], modules)) & (set(layer) - {name})


# The model and constraint types: code outside the module that defines one asks a capability
# (``constraint.name``, ``objective.RIGOROUS``, ``first_layer()``, ``models.family_of``)
# instead of testing the type, so that a new family or set needs no edit elsewhere.
# ``models.family_of`` is the family registry's own dispatch.
_OWN_TYPES = {"L2Ball": "problem", "LinfBall": "problem", "TwoLayerObjective": "problem",
              "AutodiffObjective": "problem", "Problem": "problem", "Network": "network",
              "MLP": "deep"}


def type_tests(modules=None) -> list[str]:
  """Every isinstance on a model or constraint type outside its own module, as
  'module.py:line isinstance(..., Type)'."""
  modules = modules or _modules()
  out = []
  for name, path in modules.items():
    if name == "models":
      continue
    for node in ast.walk(ast.parse(path.read_text())):
      if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance" \
          and len(node.args) == 2:
        kinds = node.args[1].elts if isinstance(node.args[1], ast.Tuple) else [node.args[1]]
        for k in kinds:
          t = k.id if isinstance(k, ast.Name) else getattr(k, "attr", None)
          if t in _OWN_TYPES and _OWN_TYPES[t] != name:
            out.append(f"{name}.py:{node.lineno} isinstance(..., {t})")
  return out


def test_no_type_tests_on_models_or_constraints_outside_their_module():
  bad = type_tests()
  assert not bad, "ask a capability instead:\n" + "\n".join(bad)


def test_the_type_check_sees_a_planted_isinstance(tmp_path):
  planted = tmp_path / "ascent.py"
  planted.write_text("from adv_landscape import problem\n\ndef f(p):\n"
                     "  return isinstance(p.constraint, (int, problem.LinfBall))\n")
  assert type_tests({**_modules(), "ascent": planted}) == [
      "ascent.py:4 isinstance(..., LinfBall)"]


# Where a Problem is made from arrays: its own module (``Problem.astype``), the family
# registry (``models``) and each family's own module (where its type is defined: a new
# family's builder may live beside its network), and ``instances`` (files or specs to a
# Problem). Every other module receives a Problem and reads it, never takes one apart to
# rebuild it.
def _builders() -> set:
  from adv_landscape.models import MODEL_FAMILIES
  return {"problem", "models", "instances"} | {
      f.type.__module__.split(".")[-1] for f in MODEL_FAMILIES.values()}


def problem_builds(modules=None) -> list[str]:
  """Every call that makes a Problem (``Problem(...)``, ``Problem.two_layer``,
  ``Problem.autodiff``) outside ``_builders()``, as 'module.py:line'."""
  modules = modules or _modules()
  builders, out = _builders(), []
  for name, path in modules.items():
    if name in builders:
      continue
    for node in ast.walk(ast.parse(path.read_text())):
      if not isinstance(node, ast.Call):
        continue
      f = node.func
      if (isinstance(f, ast.Name) and f.id == "Problem") or (
          isinstance(f, ast.Attribute) and f.attr in ("two_layer", "autodiff")
          and getattr(f.value, "id", None) == "Problem"):
        out.append(f"{name}.py:{node.lineno}")
  return out


def test_only_the_builders_make_a_problem_from_arrays():
  bad = problem_builds()
  assert not bad, "build the Problem in instances (or take one as an argument):\n" + \
      "\n".join(bad)


def test_the_build_check_sees_a_planted_build(tmp_path):
  planted = tmp_path / "hunt.py"
  planted.write_text("from adv_landscape.problem import Problem\n\ndef f(net, x):\n"
                     "  return Problem.two_layer(net, 'quadratic', x, 1.0, eps=1.0)\n")
  assert problem_builds({**_modules(), "hunt": planted}) == ["hunt.py:4"]
