"""`python -m mmsent demo`: the Gradio app driven from a real headless Chromium, from `gradio_client`, and
as an exported Space started with `python app.py`. One small model (tiny profile) and one server for the
module. Needs the demo extra (`pip install -e ".[demo,browser]"`) and Debian's `chromium` (README, tests)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import load_script

from mmsent.cli import main as cli
from mmsent.course.doctor import chromium_path
from mmsent.encoders import load_encoders
from mmsent.models import MultimodalSentimentModel, SentimentModelConfig

gradio = pytest.importorskip("gradio", reason='the demo extra is not installed: pip install -e ".[demo]"')
from gradio_client import Client, handle_file  # noqa: E402  (comes with gradio)

from mmsent.apply import demo  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = chromium_path()
LABELS = ["negative", "positive"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


TEST_UPLOAD_LIMIT = 200_000  # the served app's cap, sized for a test (the demo's own: demo.UPLOAD_LIMIT)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A module folder with model/ (a tiny-profile fusion model, seeded) and examples/."""
    folder = tmp_path_factory.mktemp("demo")
    torch.manual_seed(0)
    model_config = SentimentModelConfig(labels=LABELS)
    MultimodalSentimentModel(model_config, load_encoders("tiny")).save_pretrained(folder / "model", LABELS)
    demo.write_examples(folder / "examples")
    return folder


@pytest.fixture(scope="module")
def server(folder):
    """The demo served on a free local port for the whole module -> its URL."""
    app = demo.build_demo(folder / "model", demo.read_examples(folder / "examples"))
    port = free_port()
    app.launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        allowed_paths=[str(folder / "examples")],
        max_file_size=TEST_UPLOAD_LIMIT,
    )
    yield f"http://127.0.0.1:{port}/"
    app.close()


def ask(url: str, text: str, photo: Path | None):
    """(label dict, gate text, heat map file or None) from the app's /predict endpoint."""
    client = Client(url, verbose=False)
    return client.predict(text, handle_file(str(photo)) if photo else None, api_name="/predict")


def test_gradio_client_gets_label_probabilities_gate_and_heat_map(server, folder):
    burnt = folder / "examples" / "phone_burnt.png"
    label, gate, heat = ask(server, demo.EXAMPLE_TEXT, burnt)
    confidences = {c["label"]: c["confidence"] for c in label["confidences"]}
    assert set(confidences) == set(LABELS) and label["label"] == max(confidences, key=confidences.get)
    assert sum(confidences.values()) == pytest.approx(1.0, abs=1e-4)
    assert gate.startswith("**Gate 0.") and Path(heat).stat().st_size > 1000
    from PIL import Image

    assert Image.open(heat).size == (440, 380)  # the heat map figure, drawn
    label, gate, heat = ask(server, "Love it, works perfectly.", None)
    assert heat is None and "No photo" in gate and label["label"] in LABELS


def test_an_upload_that_is_no_usable_image_gets_the_kits_message(server, tmp_path):
    """The kit opens the upload itself: a text file named .png, a decompression bomb and a cut-off PNG each
    get the kit's message (what is wrong and what to do), not Gradio's bare "Error"."""
    photo_server = load_script("bench/photo_server.py")
    cases = {
        "notes.png": (b"this is a text file, not a PNG", "not an image"),
        "bomb.png": (photo_server.bomb_png(), "decompression bomb"),
        "cut.png": (photo_server.noise_png(64)[:300], "truncated"),
    }
    for name, (data, problem) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(Exception, match=problem):
            ask(server, "Great phone", tmp_path / name)


def test_uploads_over_the_cap_are_refused_and_launch_sets_the_cap(server, tmp_path, monkeypatch):
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG" + b"\x00" * (TEST_UPLOAD_LIMIT + 1000))
    with pytest.raises(Exception, match="(?i)too large|max.*size|exceed"):
        ask(server, "Great phone", big)
    import gradio

    launched = {}
    monkeypatch.setattr(gradio.Blocks, "launch", lambda self, **options: launched.update(options))
    monkeypatch.setattr(demo, "build_demo", lambda *a, **k: gradio.Blocks())
    demo.launch(Path("model"), examples_dir=tmp_path / "examples")
    assert launched["max_file_size"] == demo.UPLOAD_LIMIT
    assert "max_file_size=UPLOAD_LIMIT" in demo.SPACE_APP  # the exported Space caps uploads the same way


def test_the_api_lists_the_photo_as_optional(folder):
    info = demo.build_demo(folder / "model").get_api_info()["named_endpoints"]["/predict"]
    optional = {p["parameter_name"]: p["parameter_has_default"] for p in info["parameters"]}
    assert optional == {"text": False, "photo": True}


def test_a_blank_review_gets_an_error_on_the_page(server):
    with pytest.raises(Exception, match="Type the review's text first"):
        ask(server, "   ", None)


def test_the_page_in_a_real_browser_shows_label_and_heat_map(server, folder, tmp_path):
    """Headless Chromium types a text, uploads a photo, clicks Predict; the label and the heat map appear."""
    if not CHROMIUM.is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set MMSENT_CHROMIUM)")
    sync_playwright = pytest.importorskip(
        "playwright.sync_api", reason="pip install -e '.[browser]'"
    ).sync_playwright
    photo = folder / "examples" / "phone_burnt.png"
    expected = ask(server, demo.EXAMPLE_TEXT, photo)[0]["label"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(server)
        page.locator("#review-text textarea").fill(demo.EXAMPLE_TEXT)
        page.locator("#photo input[type=file]").set_input_files(str(photo))
        page.locator("#photo img").first.wait_for(timeout=20_000)  # the upload is shown
        page.locator("#predict").click()
        heat = page.locator("#heatmap img").first
        heat.wait_for(timeout=30_000)
        width, height, loaded = heat.evaluate("i => [i.naturalWidth, i.naturalHeight, i.complete]")
        shown = page.locator("#label").inner_text()
        gate = page.locator("#gate").inner_text()
        page.screenshot(path=tmp_path / "demo.png", full_page=True)
        browser.close()
    assert loaded and (width, height) == (440, 380)
    assert shown.splitlines()[1] == expected  # "Sentiment", then the predicted label, then the bars
    assert "%" in shown and gate.startswith("Gate 0.")
    assert (tmp_path / "demo.png").stat().st_size > 10_000
    print(f"screenshot: {tmp_path / 'demo.png'}")


def test_the_exported_space_runs_with_python_app_py(folder, tmp_path, capsys):
    space = tmp_path / "space"
    assert cli.main(["demo", "--model", str(folder / "model"), "--export-space", str(space)]) == 0
    assert {p.name for p in space.iterdir()} == {
        "app.py",
        "requirements.txt",
        "README.md",
        "model",
        "examples",
    }
    assert "sdk: gradio" in (space / "README.md").read_text()
    requirements = (space / "requirements.txt").read_text().splitlines()
    assert re.fullmatch(r"mmsent\[demo\] @ git\+\S+@[0-9a-f]{40}", requirements[0])  # a commit, not a branch
    pins = dict(line.split("==") for line in requirements[1:])
    assert {"torch", "transformers", "gradio"} <= set(pins) and pins["gradio"] == gradio.__version__
    port = free_port()
    env = {
        **os.environ,
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    process = subprocess.Popen(
        [sys.executable, "app.py"],
        cwd=space,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                label, gate, heat = ask(url, demo.EXAMPLE_TEXT, space / "examples" / "phone_intact_twin.png")
                break
            except Exception:  # not listening yet
                time.sleep(1)
        else:
            pytest.fail(f"the Space did not answer: {process.poll()=}\n{process.communicate(timeout=5)[0]}")
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert label["label"] in LABELS and Path(heat).is_file() and gate.startswith("**Gate")


def test_demo_says_what_to_do_without_a_model_or_without_gradio(tmp_path, monkeypatch, capsys):
    assert cli.main(["demo", "--model", str(tmp_path / "none" / "model")]) == 2
    assert "python -m mmsent train" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio now raises ImportError
    assert cli.main(["demo", "--model", str(tmp_path)]) == 2
    assert 'pip install -e ".[demo]"' in capsys.readouterr().err


def test_export_space_refuses_a_folder_that_is_not_empty(folder, tmp_path, capsys):
    (tmp_path / "space").mkdir()
    (tmp_path / "space" / "mine.txt").write_text("x")
    assert (
        cli.main(["demo", "--model", str(folder / "model"), "--export-space", str(tmp_path / "space")]) == 2
    )
    assert "exists already" in capsys.readouterr().err
    assert (tmp_path / "space" / "mine.txt").read_text() == "x"


def test_export_space_copies_only_the_listed_files_as_regular_files(folder, tmp_path, capsys):
    """A file the manifest does not list (a link to a secret) stays behind; a listed file that links out of
    the folder is refused; --overwrite replaces an earlier export only once the new one is complete."""
    model = Path(shutil.copytree(folder / "model", tmp_path / "model"))
    (tmp_path / "token").write_text("hf_secret")
    (model / "notes.txt").symlink_to(tmp_path / "token")
    space = tmp_path / "space"
    space.mkdir()
    (space / "old.txt").write_text("an earlier export")
    assert cli.main(["demo", "--model", str(model), "--export-space", str(space), "--overwrite"]) == 0
    copied = sorted(p.name for p in (space / "model").iterdir())
    assert copied == ["README.md", "config.json", "manifest.json", "model.safetensors"]
    assert not any(p.is_symlink() for p in space.rglob("*")) and not (space / "old.txt").exists()
    assert "hf_secret" not in "".join(p.read_text(errors="replace") for p in space.rglob("*") if p.is_file())
    (model / "config.json").rename(tmp_path / "config.json")
    (model / "config.json").symlink_to(tmp_path / "config.json")
    assert cli.main(["demo", "--model", str(model), "--export-space", str(tmp_path / "two")]) == 2
    assert "outside the model folder" in capsys.readouterr().err and not (tmp_path / "two").exists()


def test_bad_port_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["demo", "--port", "70000"])
    assert exit_.value.code == 2 and "1..65535" in capsys.readouterr().err


def test_examples_are_the_burnt_phone_and_its_intact_twin(folder):
    import numpy as np
    from PIL import Image

    examples = demo.read_examples(folder / "examples")
    assert [e[0] for e in examples[:2]] == [demo.EXAMPLE_TEXT] * 2 and examples[2][1] is None
    burnt, intact = (np.asarray(Image.open(e[1]), dtype=int) for e in examples[:2])
    differs = np.abs(burnt - intact).sum(-1) > 30
    assert 0.005 < differs.mean() < 0.5  # the same photo but for the burn


def test_the_explain_endpoint_draws_a_chosen_method_beside_the_attention(server, folder):
    client = Client(server, verbose=False)
    burnt = handle_file(str(folder / "examples" / "phone_burnt.png"))
    picture = client.predict(demo.EXAMPLE_TEXT, burnt, "occlusion", api_name="/explain")
    from PIL import Image

    assert Image.open(picture).size == (800, 390)  # two panels, drawn
    with pytest.raises(Exception, match="add its photo"):
        client.predict(demo.EXAMPLE_TEXT, None, "occlusion", api_name="/explain")


# -- "Ask about the photo": notebook 09's LLaVA-style model on the uploaded photo ---------------------

def test_gradio_client_asks_about_the_photo(server, folder):
    client = Client(server, verbose=False)
    burnt = handle_file(str(folder / "examples" / "phone_burnt.png"))
    assert client.predict(burnt, "is it damaged ?", api_name="/ask") == "**yes**"
    assert client.predict(burnt, "what is the damage ?", api_name="/ask") == "**burn**"
    with pytest.raises(Exception, match="outside the vocabulary"):
        client.predict(burnt, "is it broken ?", api_name="/ask")
    with pytest.raises(Exception, match="Add a photo first"):
        client.predict(None, "is it damaged ?", api_name="/ask")


def test_the_page_in_a_real_browser_answers_a_question_about_the_photo(server, folder):
    if not CHROMIUM.is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set MMSENT_CHROMIUM)")
    browser_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[browser]'")
    with browser_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.goto(server)
        page.locator("#photo input[type=file]").set_input_files(str(folder / "examples" / "phone_burnt.png"))
        page.locator("#photo img").first.wait_for(timeout=20_000)
        page.locator("#ask").click()  # the default question: "is it damaged ?"
        answer = page.locator("#vlm-answer")
        answer.get_by_text("yes").wait_for(timeout=30_000)
        shown = answer.inner_text()
        browser.close()
    assert shown.strip() == "yes"


@pytest.mark.parametrize(
    "content",
    ['{"text": "x"}', '[["a text", 5]]', '[["a text"]]', "[" + " " * (1 << 20) + "]", "not json"],
    ids=["object", "photo not a name", "not a pair", "oversize", "not json"],
)
def test_the_examples_of_a_space_are_capped_and_type_checked(content, tmp_path):
    from mmsent.errors import CheckpointError

    (tmp_path / demo.EXAMPLES_FILE).write_text(content)
    with pytest.raises(CheckpointError, match=demo.EXAMPLES_FILE):
        demo.read_examples(tmp_path)
