"""Installing the kit into a running Colab runtime without replacing what the runtime already has.

Colab comes with its own torch (a CUDA build), transformers, pillow, numpy, ipywidgets, gradio, ...
The set-up cell (`mmsent.course.conventions.SETUP_CELL`) calls `install_on_colab`, which runs
``pip install -e CLONE[EXTRAS] --constraint PINS``. The pins (`pins`) hold, at its installed
version, every package the kit requires that the runtime already has in the kit's range, and every
package this Python process has already imported: pip may add what is missing but may not replace
those. A package the kit's range rules out is the only thing pip replaces (`outside_bounds` says which
and why); if the process had already imported it, `restart_notice` says that a restart is needed and why.

`install_extra("demo")` is how a notebook asks for an optional extra (notebook 11's Gradio): installed
the same way on Colab, and named with its pip command elsewhere.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from mmsent.paths import REPO_DIR

COLAB_CLONE_DIR = "/content/mmsent"  # where the set-up cell clones the repository on Colab
INSTALLED_MARKER = ".mmsent-installed"  # written into the clone once pip has installed it (one extra a line)
PINS_FILE = ".mmsent-colab-pins.txt"  # the constraints pip installs under, written into the clone
KIT = "mmsent"


def installed_versions() -> dict[str, str]:
    """{distribution name: version} of every installed Python distribution."""
    return {dist.metadata["Name"]: dist.version for dist in metadata.distributions()}


def kit_requirements(extras: Iterable[str] = (), root: str | Path = REPO_DIR) -> list[Requirement]:
    """The kit's requirements (its pyproject.toml under `root`) and those of the optional `extras`."""
    project = tomllib.loads((Path(root) / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = list(project["dependencies"])
    known = project["optional-dependencies"]
    for extra in extras:
        if extra not in known:
            raise ValueError(f"no extra {extra!r}: the kit's extras are {sorted(known)}")
        lines += known[extra]
    return [Requirement(line) for line in lines]


def imported_distributions() -> set[str]:
    """Canonical names of the distributions that provide a module this process has imported."""
    owners = metadata.packages_distributions()  # top-level module -> the distributions providing it
    return {canonicalize_name(dist) for module in list(sys.modules) if "." not in module
            for dist in owners.get(module, ())}


def outside_bounds(requirements: Sequence[Requirement], installed: dict[str, str]) -> dict[str, str]:
    """{name: why} for each installed package whose version the kit's `requirements` rule out."""
    versions = {canonicalize_name(name): version for name, version in installed.items()}
    found = {}
    for requirement in requirements:
        version = versions.get(canonicalize_name(requirement.name))
        if version is not None and not requirement.specifier.contains(version, prereleases=True):
            found[canonicalize_name(requirement.name)] = (
                f"{requirement.name} {version} is outside the kit's range {requirement.specifier}")
    return found


def pins(requirements: Sequence[Requirement], installed: dict[str, str], imported: set[str]) -> list[str]:
    """Constraints ("name==version") that keep what the runtime has: every installed package the kit
    requires (in range), and every installed package already imported, except those out of range."""
    required = {canonicalize_name(requirement.name) for requirement in requirements}
    replace = set(outside_bounds(requirements, installed)) | {KIT}
    kept = []
    for name, version in sorted(installed.items()):
        key = canonicalize_name(name)
        if key in replace or not (key in required or key in imported):
            continue
        try:
            Version(version)
        except InvalidVersion:  # a version pip could not compare: nothing to pin
            continue
        kept.append(f"{key}=={version}")
    return kept


def restart_notice(before: dict[str, str], after: dict[str, str] | None = None) -> str | None:
    """What to tell the learner when an install replaced a package this process has already imported.

    `before` / `after`: `installed_versions()` around the install (`after` defaults to now). Python keeps
    the old version of an imported package until the runtime restarts, so mixing it with new code
    fails in odd ways. Returns None when no imported package changed.
    """
    after = installed_versions() if after is None else after
    imported = imported_distributions()
    replaced = sorted(name for name in before
                      if canonicalize_name(name) in imported and before[name] != after.get(name))
    if not replaced:
        return None
    changes = ", ".join(f"{name} {before[name]} -> {after.get(name, 'removed')}" for name in replaced)
    return (f"Restart needed: pip replaced {changes}, already imported by this runtime. "
            "Choose Runtime > Restart session, then run this cell again (it will not install twice).")


def _installed_extras(clone_dir: Path) -> set[str] | None:
    """The extras the marker says were installed (an empty set: the kit alone), None when never installed."""
    marker = clone_dir / INSTALLED_MARKER
    return set(marker.read_text(encoding="utf-8").split()) if marker.exists() else None


def install_on_colab(clone_dir: str | Path = COLAB_CLONE_DIR, extras: Sequence[str] = ()) -> None:
    """pip-install the kit cloned in `clone_dir` (with `extras`), once per runtime, keeping what it has.

    Runs ``pip install -e CLONE[EXTRAS] --constraint PINS`` (`pins`): pip adds what is missing and
    replaces only the packages whose version is outside the kit's range, and says so (`outside_bounds`).
    Should no set of versions satisfy both the pins and the kit, it says so and lets pip choose. If an
    imported package was replaced, it prints `restart_notice`. A marker file in the clone makes a second
    call with the same extras do nothing.
    """
    clone_dir = Path(clone_dir)
    done = _installed_extras(clone_dir)
    if done is not None and set(extras) <= done:
        return
    before = installed_versions()
    requirements = kit_requirements(extras, clone_dir)
    constraints = clone_dir / PINS_FILE
    constraints.write_text("\n".join(pins(requirements, before, imported_distributions())) + "\n",
                           encoding="utf-8")
    target = f"{clone_dir}[{','.join(extras)}]" if extras else str(clone_dir)
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    if subprocess.run([*pip, "--constraint", str(constraints), "-e", target]).returncode != 0:
        print("pip cannot install the kit and keep every package this runtime has (its message is above): "
              "installing with pip's own choices instead.")
        subprocess.run([*pip, "-e", target], check=True)
    importlib.invalidate_caches()  # so that this process finds what pip just added
    (clone_dir / INSTALLED_MARKER).write_text("\n".join(sorted((done or set()) | set(extras))) + "\n",
                                              encoding="utf-8")
    for why in outside_bounds(requirements, before).values():
        print(f"replaced: {why}")
    notice = restart_notice(before)
    if notice:
        print(notice)


def missing_requirements(extra: str, root: str | Path = REPO_DIR) -> list[str]:
    """The requirements of the kit's `extra` that are not installed, or installed out of range."""
    core = {str(requirement) for requirement in kit_requirements((), root)}
    missing = []
    for requirement in kit_requirements([extra], root):
        if str(requirement) in core:
            continue
        try:
            version = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            missing.append(str(requirement))
            continue
        if not requirement.specifier.contains(version, prereleases=True):
            missing.append(str(requirement))
    return missing


def install_extra(extra: str, clone_dir: str | Path = COLAB_CLONE_DIR) -> None:
    """Make the kit's optional `extra` (e.g. "demo": Gradio) usable in this notebook.

    Nothing to do when it is installed. On Colab it installs it (`install_on_colab`, keeping what the
    runtime has); elsewhere it raises an error that gives the pip command.
    """
    missing = missing_requirements(extra)
    if not missing:
        return
    if "google.colab" in sys.modules:
        install_on_colab(clone_dir, [extra])
        return
    from mmsent.errors import UsageError

    raise UsageError(f"this needs the kit's {extra!r} extra ({', '.join(missing)}): run "
                     f"pip install -e \".[{extra}]\" in the repository folder, then restart the kernel.")
