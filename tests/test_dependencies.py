"""What the kit declares about its environment is what it uses and what was tested.

- every package that `mmsent` imports is a declared dependency (pyproject.toml), with a lower bound;
- the Pythons the kit says it is tested on are one list (`mmsent.course.doctor.TESTED_PYTHONS`), and the
  classifiers, environment.yml and the README say the same.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata

from packaging.requirements import Requirement

from mmsent.course.doctor import TESTED_PYTHONS
from mmsent.paths import REPO_DIR

PYPROJECT = tomllib.loads((REPO_DIR / "pyproject.toml").read_text(encoding="utf-8"))["project"]


# Modules of an optional extra whose distribution has another name, for where the extra is not installed.
UNINSTALLED = {"mlflow": ["mlflow-skinny"]}


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> dict[str, Requirement]:
    """{normalised distribution name: requirement} of the dependencies and every extra."""
    lines = PYPROJECT["dependencies"] + [line for extra in PYPROJECT["optional-dependencies"].values()
                                         for line in extra]
    return {_normalised(Requirement(line).name): Requirement(line) for line in lines}


def _imported_modules() -> set[str]:
    """Top-level names of the modules that mmsent's code imports (at the top or in a function)."""
    names = set()
    for path in (REPO_DIR / "mmsent").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"mmsent"}


def test_every_imported_package_is_declared_with_a_lower_bound():
    owners = metadata.packages_distributions()  # module -> the installed distributions providing it
    declared = _declared()
    undeclared, unbounded = [], []
    for module in sorted(_imported_modules()):
        # Not installed here: the distribution of the same name, or the one an extra names for it.
        distributions = {_normalised(name) for name in owners.get(module, UNINSTALLED.get(module, [module]))}
        found = distributions & set(declared)
        if not found:
            undeclared.append(f"{module} (from {', '.join(sorted(distributions))})")
        elif not any(spec.operator == ">=" for name in found for spec in declared[name].specifier):
            unbounded.append(module)
    assert undeclared == [], "imported by mmsent but not declared in pyproject.toml"
    assert unbounded == [], "declared without a tested lower bound"


def test_the_tested_pythons_are_one_list_said_everywhere():
    classifiers = [line.rsplit(":: ", 1)[1] for line in PYPROJECT["classifiers"]
                   if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", line)]
    assert tuple(classifiers) == TESTED_PYTHONS
    assert PYPROJECT["requires-python"] == f">={TESTED_PYTHONS[0]}"
    newest = TESTED_PYTHONS[-1].split(".")
    environment = (REPO_DIR / "environment.yml").read_text(encoding="utf-8")
    assert f"- python>={TESTED_PYTHONS[0]},<3.{int(newest[1]) + 1} " in environment
    readme = (REPO_DIR / "README.md").read_text(encoding="utf-8")
    assert f"Python {', '.join(TESTED_PYTHONS[:-1])} or {TESTED_PYTHONS[-1]}" in readme


def test_environment_yml_asks_for_the_same_bounds_as_pyproject():
    """conda's file builds what `pip install -e ".[test]"` does: every bound the same."""
    conda_names = {"torch": "pytorch-cpu", "huggingface-hub": "huggingface_hub"}
    environment = (REPO_DIR / "environment.yml").read_text(encoding="utf-8")
    lines = {line.strip().split("#")[0].strip() for line in environment.splitlines()}
    for line in PYPROJECT["dependencies"] + PYPROJECT["optional-dependencies"]["test"]:
        requirement = Requirement(line)
        name = conda_names.get(requirement.name, requirement.name)
        wanted = f"- {name}{requirement.specifier}"
        assert wanted in lines or f"- {wanted}" in lines, f"environment.yml lacks {wanted}"
