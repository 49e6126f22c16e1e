"""Nothing the user owns is replaced by accident (mmsent.files.replace), and a run that stops (a full disk, a
file-size limit, SIGTERM) leaves everything as it was, with one error line (mmsent.files.interrupts)."""

from __future__ import annotations

import errno
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from mmsent.cli import main as cli
from mmsent.files.interrupts import resource_message

ROOT = Path(__file__).resolve().parent.parent
REVIEWS = ROOT / "tests" / "fixtures" / "amazon_reviews.jsonl"

# Each command that writes where the user's files may be, and the existing file it must not replace.
WRITERS = {
    "make-data": (["make-data", "--n", "100", "--no-baselines", "--out", "{out}"], "reviews.csv"),
    "make-data photos": (["make-data", "--n", "100", "--no-baselines", "--out", "{out}"], "images/mine.png"),
    "make-calls": (["make-calls", "--n", "100", "--out", "{out}"], "calls.csv"),
    "import-amazon": (["import-amazon", str(REVIEWS), "--out", "{out}"], "reviews.csv"),
    "pretrain-clip": (["pretrain-clip", "--epochs", "1", "--out", "{out}/clip"], "clip/model.safetensors"),
    "pretrain-audio": (["pretrain-audio", "--epochs", "1", "--out", "{out}/audio"], "audio/config.json"),
    "pretrain-generator": (["pretrain-generator", "--steps", "1", "--out", "{out}/gen"], "gen/config.json"),
    "pretrain-vlm": (
        ["pretrain-vlm", "--photos", "4", "--heldout", "4", "--steps", "1", "--out", "{out}/vlm"],
        "vlm/metrics.json",
    ),
}


def _argv(template: list[str], out: Path) -> list[str]:
    return [part.replace("{out}", str(out)) for part in template]


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", list(WRITERS))
def test_every_writing_command_refuses_an_existing_target_without_overwrite(name, tmp_path, capsys):
    template, owned = WRITERS[name]
    (tmp_path / owned).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / owned).write_bytes(b"the user's own file")
    before = _files(tmp_path)
    assert cli.main(_argv(template, tmp_path)) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "exists already" in error and "--overwrite" in error
    assert _files(tmp_path) == before and not list(tmp_path.glob(".*"))  # nothing written, nothing hidden


def test_overwrite_replaces_the_outputs_whole_and_leaves_other_files_alone(tmp_path):
    out = tmp_path / "data"
    (out / "images").mkdir(parents=True)
    (out / "images" / "stale.png").write_bytes(b"old photo")
    (out / "reviews.csv").write_text("old table\n")
    (out / "notes.txt").write_text("mine")
    assert cli.main(["make-data", "--n", "100", "--no-baselines", "--out", str(out), "--overwrite"]) == 0
    assert sorted(p.name for p in (out / "images").iterdir()) == [f"r{i:05d}.png" for i in range(1, 101)]
    assert (out / "reviews.csv").read_text().startswith("review_id")
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in out.iterdir()) == ["images", "notes.txt", "reviews.csv"]  # no work folder


def _limited(bytes_: int):
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (bytes_, bytes_))


def _run(argv: list[str], **options) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MMSENT_CACHE_DIR": "off"}
    return subprocess.run([sys.executable, "-m", "mmsent", *argv], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=300, **options)  # fmt: skip


def test_a_file_size_limit_while_writing_is_one_error_line_and_nothing_is_replaced(tmp_path):
    """`ulimit -f` as a stand-in for a full disk: the write fails (EFBIG) half-way through make-data."""
    out = tmp_path / "data"
    out.mkdir()
    (out / "reviews.csv").write_text("the user's table\n")
    done = _run(["make-data", "--n", "100", "--no-baselines", "--out", str(out), "--overwrite"],
                preexec_fn=_limited(1000))  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "file-size limit" in errors[0] and "nothing was replaced" in errors[0]
    assert _files(out) == {"reviews.csv": b"the user's table\n"} and not list(out.glob(".*"))


def test_a_model_save_that_hits_the_limit_is_one_error_line(tmp_path):
    """safetensors reports a full disk as its own error (no OSError): still one line, exit 2, no report."""
    from conftest import write_tiny_csv

    csv = write_tiny_csv(tmp_path / "data", n=24)
    report = tmp_path / "report"
    done = _run(["train", "--data", str(csv), "--profile", "tiny", "--epochs", "1", "--models", "fusion",
                 "--batch-size", "8", "--report-dir", str(report), "--no-progress"],
                preexec_fn=_limited(20_000))  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "error: a file-size limit was reached" in done.stderr
    assert not report.exists() and not list(tmp_path.glob(".report*"))


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "out/model.safetensors"), "the disk is full while"),
        (OSError(errno.EROFS, "Read-only file system", "out/reviews.csv"), "the folder is read-only"),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), "the disk quota is used up"),
        (RuntimeError('Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No space '
                      'left on device" })'), "the disk is full"),  # fmt: skip
        (sqlite3.OperationalError("disk I/O error"), "a write failed (the disk is full, a file-size limit"),
        (sqlite3.OperationalError("attempt to write a readonly database"), "the folder is read-only"),
    ],
)
def test_every_kind_of_full_or_read_only_target_has_one_message(error, words):
    message = resource_message(error)
    assert message.startswith(words) and "\n" not in message and "nothing was replaced" in message
    assert resource_message(ValueError("something else")) is None


def test_sigterm_cleans_up_like_ctrl_c_and_exits_143(tmp_path):
    out = tmp_path / "data"
    out.mkdir()
    (out / "reviews.csv").write_text("the user's table\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "mmsent", "make-data", "--n", "2400", "--no-baselines", "--out", str(out),
            "--overwrite"]  # fmt: skip
    child = subprocess.Popen(argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=ROOT,
                             env=env)  # fmt: skip
    while not list(out.glob(".*/images/*.png")):  # it is writing its photos aside
        assert child.poll() is None, child.stderr.read()
        time.sleep(0.05)
    child.send_signal(signal.SIGTERM)
    error = child.communicate(timeout=60)[1]
    assert child.returncode == 143 and "error: terminated (SIGTERM)" in error and "Traceback" not in error
    assert _files(out) == {"reviews.csv": b"the user's table\n"} and not list(out.glob(".*"))


@contextmanager
def _file_size_limit(limit: int) -> Iterator[None]:
    """A real file-size limit (RLIMIT_FSIZE, as `ulimit -f` sets) on this process for the block: a write
    past `limit` bytes fails with EFBIG from the kernel (Python ignores SIGXFSZ)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


# Each pretrain command's training, replaced by a stand-in that saves as the real one does (safetensors and
# JSON) into the folder the command gives it: what is tested is the command's writing, not the training.
TRAINERS = {
    "pretrain-clip": ("mmsent.models.clip_pretrain", "pretrain_clip"),
    "pretrain-audio": ("mmsent.audio.pretrain", "pretrain_audio_encoder"),
    "pretrain-generator": ("mmsent.generation.pretrain", "pretrain_generator"),
    "pretrain-vlm": ("mmsent.vlm.pretrain", "pretrain_vlm"),
}
LIMIT = 4_000  # bytes: under each writer's largest output file, over the files it reads


def _stand_in_trainer(*args, out_dir=None, **_) -> dict:
    import torch
    from safetensors.torch import save_file

    folder = Path(out_dir or args[0])
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"dim": 64}')
    save_file({"weight": torch.zeros(64, 64)}, folder / "model.safetensors")  # 16 KiB: past the limit
    return {}


@pytest.mark.parametrize("name", [name for name in WRITERS if name != "make-calls"] + ["export-space"])
def test_a_file_size_limit_stops_every_writer_with_one_line_and_the_old_output_intact(
    name, tmp_path, capsys, monkeypatch
):
    """Each writing command meets a real EFBIG (RLIMIT_FSIZE) half-way through writing with --overwrite:
    exit 2, one `error:` line naming the limit, the user's files as they were, no hidden work folder."""
    import importlib

    if name in TRAINERS:
        module, function = TRAINERS[name]
        monkeypatch.setattr(importlib.import_module(module), function, _stand_in_trainer)
    if name == "export-space":
        pytest.importorskip("gradio", reason='the demo extra is not installed: pip install -e ".[demo]"')
        from mmsent.encoders import load_encoders
        from mmsent.models import MultimodalSentimentModel, SentimentModelConfig

        config = SentimentModelConfig(labels=["negative", "positive"])
        model = MultimodalSentimentModel(config, load_encoders("tiny"))
        model.save_pretrained(tmp_path / "model", ["negative", "positive"])
        argv = ["demo", "--model", str(tmp_path / "model"), "--export-space", str(tmp_path / "space")]
        owned = "space/app.py"
    else:
        template, owned = WRITERS[name]
        argv = _argv(template, tmp_path)
    (tmp_path / owned).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / owned).write_bytes(b"the user's own file")
    before = _files(tmp_path)
    with _file_size_limit(LIMIT):
        status = cli.main([*argv, "--overwrite"])
    error = capsys.readouterr().err
    lines = [line for line in error.splitlines() if line.startswith("error:")]
    assert status == 2 and "Traceback" not in error, error[-2000:]
    assert len(lines) == 1 and "file-size limit" in lines[0] and "nothing was replaced" in lines[0], lines
    assert _files(tmp_path) == before and not list(tmp_path.rglob(".*"))


def test_a_read_only_target_at_the_swap_puts_the_old_output_back(tmp_path, capsys, monkeypatch):
    """The rename that moves the new output into place fails as on a read-only folder (EROFS raised by
    os.replace, the OS boundary): the user's file is moved back, one error line, nothing left aside."""
    out = tmp_path / "data"
    out.mkdir()
    (out / "reviews.csv").write_text("the user's table\n")
    replace = os.replace

    def read_only_target(source, target, *args, **kwargs):
        if ".partial-" in str(source) and ".replaced" not in str(source) and Path(target).parent == out:
            raise OSError(errno.EROFS, "Read-only file system", str(target))
        return replace(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "replace", read_only_target)
    assert cli.main(["import-amazon", str(REVIEWS), "--out", str(out), "--overwrite"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: the folder is read-only while writing") and error.count("\n") == 1
    assert _files(out) == {"reviews.csv": b"the user's table\n"} and not list(out.glob(".*"))
