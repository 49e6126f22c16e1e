"""`python -m mmsent doctor` (the report a learner pastes) and tools/retarget_course.py (host a fork)."""

from __future__ import annotations

import json
import shutil
from importlib import metadata

import pytest
from conftest import load_script

from mmsent.cli import main as cli
from mmsent.course import conventions as course
from mmsent.course import doctor
from mmsent.paths import REPO_DIR

retarget_course = load_script("tools/retarget_course.py")
CONVENTIONS = retarget_course.CONVENTIONS

# --- doctor ----------------------------------------------------------------------------------------


def test_doctor_reports_versions_profile_models_and_cache(tmp_path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    (cache / "clip").mkdir(parents=True)
    (cache / "clip" / "entry.safetensors").write_bytes(b"\0" * 2**20)
    monkeypatch.setenv("MMSENT_CACHE_DIR", str(cache))
    monkeypatch.setenv("MMSENT_PROFILE", "tiny")
    assert cli.main(["doctor"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split("  ")[0]: line.split("  ", 1)[1].strip() for line in lines if "  " in line}
    expected = ["python", "platform", "torch", "CUDA", "MPS", "CPU threads", "transformers", "mmsent",
                "device", "profile", "offline models", "demo extra", "logging extra", "browser extra",
                "chromium", "data folder", "feature cache"]  # fmt: skip
    assert list(rows) == expected
    assert rows["transformers"] == metadata.version("transformers")
    assert rows["profile"] == "tiny (set by the environment variable MMSENT_PROFILE)"
    assert rows["offline models"].startswith("load (text 22.7 M parameters")  # all-MiniLM-L6-v2
    assert rows["feature cache"] == f"{cache} (1.0 MiB in 1 files)"
    assert lines[-1] == "no known problem"
    chromium = doctor.chromium_path()
    expected = str(chromium) if chromium.is_file() else f"none at {chromium} (the browser test: apt-get"
    assert rows["chromium"].startswith(expected)


def test_doctor_says_how_to_install_a_missing_extra(monkeypatch, tmp_path):
    real = doctor.metadata.version

    def version(name: str) -> str:
        if name == "gradio":
            raise doctor.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(doctor.metadata, "version", version)
    monkeypatch.setenv("MMSENT_CHROMIUM", str(tmp_path / "no-chromium"))
    rows = dict(doctor._optional_lines())
    assert rows["demo extra"] == 'not installed (python -m mmsent demo: pip install -e ".[demo]")'
    assert rows["chromium"].startswith(f"none at {tmp_path / 'no-chromium'}")


def test_doctor_names_each_problem_with_its_fix(monkeypatch):
    real_version = metadata.version
    monkeypatch.setattr(metadata, "version",
                        lambda name: "4.39.0" if name == "transformers" else real_version(name))
    monkeypatch.setattr(doctor.platform, "python_version_tuple", lambda: ("3", "9", "18"))
    found = doctor.problems()
    tested = ", ".join(doctor.TESTED_PYTHONS)
    assert found[0].startswith(f"Python 3.9 is not one the kit is tested on ({tested})")
    declared = next(req for req in metadata.requires("mmsent") if req.startswith("transformers"))
    bound = declared.removeprefix("transformers")  # the declared floor, e.g. ">=4.57.1"
    fix = f'pip install "transformers{bound}"'
    assert found[1:] == [f"transformers 4.39.0 is outside the tested range {bound}: {fix}"]


def test_doctor_exits_1_and_says_why_when_the_offline_models_do_not_load(monkeypatch, capsys):
    from mmsent import encoders

    def missing(*args, **kwargs):
        raise FileNotFoundError("The offline CLIP checkpoint is missing: build it with pretrain-clip")

    monkeypatch.setattr(encoders, "_load_offline", missing)
    monkeypatch.setenv("MMSENT_CACHE_DIR", "off")
    assert cli.main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "offline models  do not load" in out and "feature cache   off" in out
    assert "problem: the offline models do not load: FileNotFoundError: The offline CLIP checkpoint" in out


def test_doctor_reports_a_bad_environment_variable_instead_of_failing(monkeypatch, capsys):
    monkeypatch.setenv("MMSENT_DEVICE", "tpu")
    monkeypatch.setenv("MMSENT_PROFILE", "huge")
    monkeypatch.setattr(doctor, "_offline_models", lambda: ("load", None))
    assert cli.main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "device          cannot tell: Unknown device 'tpu'" in out
    assert "profile         cannot tell: Unknown encoder profile 'huge'" in out
    assert "problem: MMSENT_PROFILE='huge' is not a profile" in out


# --- course: point the course at a fork ------------------------------------------------------------


@pytest.fixture
def checkout(tmp_path):
    """A copy of the files the course command rewrites."""
    root = tmp_path / "checkout"
    shutil.copytree(REPO_DIR / "notebooks", root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_*"))
    (root / "mmsent" / "course").mkdir(parents=True)
    shutil.copy2(REPO_DIR / CONVENTIONS, root / CONVENTIONS)
    shutil.copy2(REPO_DIR / "README.md", root / "README.md")
    return root


def _load_course(path):
    return load_script(path, "forked_course")


def test_retarget_course_points_badges_and_setup_cells_at_a_fork_and_back(checkout, capsys):
    files = sorted(path for path in checkout.rglob("*") if path.is_file())
    originals = {path: path.read_bytes() for path in files}
    slug = course.REPO_URL.removeprefix("https://github.com/").encode()  # in URLs and in badges
    addressed = [path for path in files if slug in originals[path]]
    notebooks = sorted((checkout / "notebooks").rglob("*.ipynb"))
    assert len(addressed) == 2 + len(notebooks)  # conventions.py, README.md and every notebook
    fork = "https://github.com/someone/mmsent-spring"
    assert retarget_course.main(["--repo-url", fork, "--branch", "spring", "--root", str(checkout)]) == 0
    assert f"{len(addressed)} files now point at {fork}" in capsys.readouterr().out

    forked = _load_course(checkout / CONVENTIONS)
    assert (forked.REPO_URL, forked.REPO_BRANCH) == (fork, "spring")
    for path in notebooks:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code = ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]
        assert code[0] == forked.SETUP_CELL and "--branch=spring" in code[0], path.name
        assert "".join(cells[1]["source"]) == forked.colab_badge(path.relative_to(checkout).as_posix())
    readme = (checkout / "README.md").read_text(encoding="utf-8").splitlines()
    assert set(forked.toc_markdown(checkout / "notebooks").splitlines()) <= set(readme)
    assert not [path for path in files if slug in path.read_bytes()]  # nothing left over

    assert retarget_course.main(["--repo-url", course.REPO_URL, "--root", str(checkout)]) == 0
    assert {path: path.read_bytes() for path in files} == originals  # and back, byte for byte


@pytest.mark.parametrize("argv, message", [
    (["--repo-url", "git@github.com:me/fork.git"], "give it as https://github.com/OWNER/NAME"),
    (["--repo-url", "https://github.com/me/fork", "--branch", "a b"], "branch 'a b'"),
    (["--repo-url", "https://github.com/../.."], "give it as https://github.com/OWNER/NAME"),
    (["--repo-url", "https://github.com/me/.."], "give it as https://github.com/OWNER/NAME"),
    (["--repo-url", "https://github.com/-me/fork"], "give it as https://github.com/OWNER/NAME"),
    (["--repo-url", "https://github.com/me/fork/tree/x"], "give it as https://github.com/OWNER/NAME"),
    (["--repo-url", "https://github.com/me/fork", "--branch", "../main"], "branch '../main'"),
])
def test_retarget_course_refuses_addresses_colab_cannot_open(checkout, capsys, argv, message):
    assert retarget_course.main([*argv, "--root", str(checkout)]) == 2
    assert message in capsys.readouterr().err
