"""No bad input ends in a traceback from `python -m mmsent`, run as a script as a user runs it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import write_tiny_csv
from PIL import Image

from mmsent.hub.manifest import write_manifest

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "model_folders"

# Runs `python -m mmsent` once per case inside one interpreter (imports are paid once): each case's
# output ends with a line "@@exit <status>"; an exception escaping the command prints its traceback.
RUNNER = """
import json, os, runpy, sys, traceback
for argv, env in json.loads(sys.argv[1]):
    os.environ.update(env)
    sys.argv = ["mmsent", *argv]
    try:
        runpy.run_module("mmsent", run_name="__main__", alter_sys=True)
        status = 0
    except SystemExit as exit_:
        status = exit_.code
    except BaseException:
        traceback.print_exc()
        status = 1
    for name in env:
        del os.environ[name]
    sys.stdout.flush()
    sys.stderr.flush()
    print("@@exit", status, flush=True)
"""


def test_no_bad_input_ends_in_a_traceback_from_python_m_mmsent(run, tmp_path):
    """Each bad input through `python -m mmsent`: exit 2, an `error:` line, no traceback."""
    csv, report = run
    damaged = Path(shutil.copytree(report / "model", tmp_path / "damaged"))
    (damaged / "config.json").write_text("{")
    truncated = Path(shutil.copytree(report / "model", tmp_path / "truncated"))
    (truncated / "model.safetensors").write_bytes(b"\x00" * 100)
    renamed = write_tiny_csv(
        tmp_path / "renamed", n=8, edit=lambda f: f.rename(columns={"label": "sentiment"})
    )
    semicolons = tmp_path / "semicolons.csv"
    semicolons.write_text(csv.read_text().replace(",", ";").replace("label", "sentiment"))
    doubled = tmp_path / "doubled.csv"
    doubled.write_text(
        "".join(line + ",x\n" for line in csv.read_text().replace(",rating", ",label").splitlines())
    )
    strip = tmp_path / "strip.png"
    Image.new("L", (4_000_000, 10)).save(strip)
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    crafted = Path(shutil.copytree(report / "model", tmp_path / "crafted"))  # header right, 4 bytes of data
    weights = crafted / "model.safetensors"
    header = json.loads(weights.read_bytes()[8 : 8 + int.from_bytes(weights.read_bytes()[:8], "little")])
    header = {name: {**entry, "data_offsets": [0, 4]} for name, entry in header.items() if "shape" in entry}
    text = json.dumps(header).encode()
    weights.write_bytes(len(text).to_bytes(8, "little") + text + bytes(4))
    write_manifest(crafted, exclude=("README.md",))
    legacy = Path(shutil.copytree(FIXTURES / "checkpoint-v0", tmp_path / "legacy"))  # recipe batch_size 0
    old = json.loads((legacy / "config.json").read_text())
    old["train"]["batch_size"] = 0
    (legacy / "config.json").write_text(json.dumps(old))
    write_manifest(legacy)
    surrogate = tmp_path / "surrogate.jsonl"
    surrogate.write_text('{"rating": 5, "text": "\\ud800", "user_id": "U", "asin": "A", "timestamp": 1}\n')
    r, predict = str(tmp_path / "r"), ["predict", "--model", str(report / "model"), "--text", "hi"]
    train = ["train", "--profile", "tiny", "--epochs", "1", "--batch-size", "4", "--report-dir", r]
    cases = [
        (["train", "--batch-size", "0"], {}),
        (["train", "--batch-size", "-4"], {}),
        (["train", "--epochs", "0"], {}),
        (["train", "--lr", "-1"], {}),
        (["train", "--max-length", "0"], {}),
        (["train", "--models", "bogus"], {}),
        (["train", "--device", "gpu"], {}),
        (["predict", "--text", ""], {}),
        ([*predict, "--image", "https://example.com/p.png"], {}),
        ([*train, "--data", str(csv)], {"MMSENT_PROFILE": "bogus"}),
        ([*train, "--data", str(csv)], {"MMSENT_DEVICE": "gpu"}),
        ([*train, "--data", str(csv)], {"MMSENT_BUDGET": "lots"}),
        ([*train, "--data", str(csv)], {"MMSENT_CACHE_DIR": str(a_file)}),
        ([*train, "--data", str(tmp_path / "nope.csv")], {}),
        ([*train, "--data", str(tmp_path)], {}),
        ([*train, "--data", str(renamed)], {}),
        ([*train, "--data", str(semicolons)], {}),
        ([*train, "--data", str(doubled)], {}),
        ([*train, "--data", str(csv), "--columns", "review=text"], {}),
        ([*train, "--data", str(csv), "--columns", "text=label"], {}),
        ([*train, "--data", str(csv), "--train-text-layers", "9"], {}),
        (["train", "--data", str(csv), "--profile", "tiny", "--report-dir", str(report)], {}),
        (
            [
                "train",
                "--data",
                str(csv),
                "--profile",
                "tiny",
                "--report-dir",
                str(csv.parent),
                "--overwrite",
            ],
            {},
        ),
        (["train", "--data", str(csv), "--profile", "tiny", "--report-dir", str(a_file)], {}),
        (["predict", "--model", str(damaged), "--text", "hi"], {}),
        (["predict", "--model", str(truncated), "--text", "hi"], {}),
        (["predict", "--model", str(tmp_path / "none"), "--text", "hi"], {}),
        (["predict", "--model", str(report), "--text", "hi"], {}),
        ([*predict, "--image", str(strip)], {}),
        ([*predict, "--image", str(fifo)], {}),
        ([*predict, "--image", str(tmp_path)], {}),
        ([*predict, "--image", str(a_file)], {}),
        (["evaluate", "--model", str(report / "model"), "--data", str(renamed)], {}),
        (
            [
                "evaluate",
                "--model",
                str(report / "model"),
                "--data",
                str(csv),
                "--json",
                str(a_file / "m"),
            ],
            {},
        ),
        (["make-data", "--n", "5", "--out", str(tmp_path / "made")], {}),
        (["predict", "--model", str(crafted), "--text", "hi"], {}),
        (["predict", "--model", str(legacy), "--text", "hi"], {}),
        (["import-amazon", str(surrogate), "--out", str(tmp_path / "imported")], {}),
        *((["pretrain-vlm", "--out", str(tmp_path / "vlm"), *flag], {})
          for flag in (["--steps", "0"], ["--photos", "-3"], ["--seed", "x"], ["--steps", "10" * 10])),
    ]
    command = [sys.executable, "-c", RUNNER, json.dumps(cases)]
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    outputs = done.stdout.split("@@exit")
    assert len(outputs) == len(cases) + 1, done.stdout
    for (argv, env), output, tail in zip(cases, outputs, outputs[1:], strict=False):
        status = tail.split()[0]
        assert status == "2" and "error:" in output and "Traceback" not in output, (argv, env, output)
    assert not any(Path(path).exists() for path in (r, tmp_path / "imported", tmp_path / "vlm"))
