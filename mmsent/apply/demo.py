"""A web demo of a trained model, with Gradio: type a review, add a photo, see what the model says.

    python -m mmsent demo --model reports/latest/model          # http://127.0.0.1:7860
    demo = build_demo("reports/latest/model"); demo.launch()    # the same, from Python or a notebook

The page shows the label, the class probabilities, the gate (how much the photo was used) and the
attention heat map over the photo (and, on request, the map of another explanation method
beside it: `mmsent.explain`), with examples from the bundled data pre-filled: the burnt
"This phone is 🔥🔥🔥" and its intact twin (the same photo redrawn without the burn), and a review
without a photo. Its one API endpoint, ``/predict`` (text, photo) -> (probabilities, gate, heat map),
also answers `gradio_client`. `export_space` writes a folder that runs as a Hugging Face Space.

Uploads: at most `UPLOAD_LIMIT` bytes (Gradio's ``max_file_size``, refused before they are stored), and
the photo reaches the model as a file path that the kit opens itself (`mmsent.data.open_rgb`'s checks), so
a file that is no image, a truncated one or a decompression bomb gets the kit's own message in the page.

Gradio is an optional extra (``pip install -e ".[demo]"``); without it `require_gradio` says so.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from mmsent.errors import MmsentError, UsageError
from mmsent.paths import offline_clip_dir, reviews_csv, vlm_dir

EXAMPLE_TEXT = "This phone is 🔥🔥🔥"
EXAMPLES_FILE = "examples.json"
INSTALL_HINT = 'pip install -e ".[demo]" in the mmsent checkout (or pip install "mmsent[demo]")'
TITLE = "mmsent: review sentiment from text and photo"
UPLOAD_LIMIT = 20_000_000  # bytes; as a photo URL's cap (mmsent.data.photo_store.MAX_PHOTO_BYTES)


def require_gradio():
    """The `gradio` module, or a `UsageError` saying how to install the demo extra."""
    try:
        import gradio
    except ImportError as error:
        raise UsageError(
            f"The demo needs Gradio, an optional extra that is not installed: {INSTALL_HINT}."
        ) from error
    return gradio


def write_examples(folder: Path, data: Path | None = None) -> list[list[Any]]:
    """Write the demo's example photos into `folder` -> [[text, photo path or None], ...].

    The bundled data's burnt "This phone is 🔥🔥🔥" (a negative review: the text alone cannot say),
    the same photo redrawn intact (what a positive review with that text shows), and a clear text
    without a photo. `data`: the review CSV to take them from (default: the bundled one).
    """
    import pandas as pd

    from mmsent.data.synth import review_photo

    frame = pd.read_csv(data or reviews_csv(), dtype=str, keep_default_na=False)
    burnt = frame[(frame["text"] == EXAMPLE_TEXT) & (frame["photo_detail"] == "burn")].iloc[0]
    twin = burnt.copy()
    twin["photo_state"], twin["photo_detail"] = "intact", ""  # same random stream, no burn drawn
    folder.mkdir(parents=True, exist_ok=True)
    review_photo(burnt).save(folder / "phone_burnt.png")
    review_photo(twin).save(folder / "phone_intact_twin.png")
    examples = [
        [EXAMPLE_TEXT, str(folder / "phone_burnt.png")],
        [EXAMPLE_TEXT, str(folder / "phone_intact_twin.png")],
        ["Love it, works perfectly and looks great.", None],
    ]
    (folder / EXAMPLES_FILE).write_text(json.dumps(examples, ensure_ascii=False, indent=1) + "\n")
    return examples


def read_examples(folder: Path) -> list[list[Any]]:
    """The examples `write_examples` wrote into `folder`, their photo paths inside `folder`."""
    from mmsent.errors import CheckpointError
    from mmsent.hub.folder_check import folder_file, read_small_json

    path = folder_file(folder, EXAMPLES_FILE)
    examples = read_small_json(path, fix="Export the Space again with --export-space.", kind=list)
    pairs = all(isinstance(pair, list) and len(pair) == 2 for pair in examples)
    if not pairs or not all(isinstance(t, str) and (p is None or isinstance(p, str)) for t, p in examples):
        raise CheckpointError(f"{path} must list [text, photo file name or null] pairs. Export the Space "
                              "again with --export-space.")  # fmt: skip
    return [[text, str(folder / Path(photo).name) if photo else None] for text, photo in examples]


def heat_map_image(image, weights: np.ndarray, gate: float) -> np.ndarray:
    """The photo with its attention heat map and a colour bar, as an RGB array [height, width, 3].

    Drawn on a figure of its own (no pyplot, no backend switch): calling it changes nothing else."""
    from matplotlib.figure import Figure

    from mmsent.viz.attention import ATTENTION_LABEL, show_attention

    fig = Figure(figsize=(4.4, 3.8), layout="constrained")
    ax = fig.add_subplot()
    show_attention(image, weights, ax=ax, title=f"Attention over the photo (gate {gate:.2f})")
    ax.set(xlabel="bright = the patches the review looked at", ylabel="photo")
    fig.colorbar(ax.images[-1], ax=ax, label=ATTENTION_LABEL.replace(", in", ",\nin"), shrink=0.9)
    return figure_pixels(fig)


def figure_pixels(fig) -> np.ndarray:
    """A matplotlib figure drawn as an RGB array [height, width, 3] by the Agg renderer, whatever the
    backend; a figure pyplot made is closed (pyplot forgets it)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if getattr(fig.canvas, "manager", None) is not None:  # made by pyplot (which is then imported)
        from matplotlib import pyplot

        pyplot.close(fig)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _upload_path(payload) -> str | None:
    """An upload's file path, undecoded (replaces `gr.Image.preprocess`: the kit opens the photo itself)."""
    return None if payload is None else str(payload.path)


def build_demo(model_dir: str | Path, examples: list[list[Any]] | None = None, encoders=None):
    """The Gradio app (`gr.Blocks`) for the model in `model_dir`; `.launch()` serves it.

    `examples`: [[text, photo path or None], ...] (default: none). `encoders`: the frozen encoders,
    if already loaded (else the model's profile loads them). Raises `UsageError` without Gradio and
    `CheckpointError` when `model_dir` is not a model folder.
    """
    gr = require_gradio()
    from mmsent.data import open_rgb
    from mmsent.explain import METHODS
    from mmsent.explain.report import method_beside_attention
    from mmsent.models import MultimodalSentimentModel
    from mmsent.viz import explain_review

    model = MultimodalSentimentModel.from_pretrained(model_dir, encoders=encoders)
    methods = [name for name in METHODS if name not in ("attention", "random")]  # shown beside the attention
    labels = model.config.label_vocab()

    def predict(text: str, photo: str | None = None):  # the default: the API lists the photo as optional
        if not text or not text.strip():
            raise gr.Error("Type the review's text first (a photo alone is not a review).")
        try:
            explanation = explain_review(model, labels, text, photo)
        except MmsentError as error:  # an unreadable or oversized photo: say what, keep the page
            raise gr.Error(str(error)) from error
        if photo is None or explanation.attention is None:
            return explanation.probabilities, "No photo (or a text-only model): the text decides alone.", None
        gate = f"**Gate {explanation.gate:.2f}**: how much this review used its photo (0 = none, 1 = all)."
        return (
            explanation.probabilities,
            gate,
            heat_map_image(explanation.image, explanation.attention, explanation.gate),
        )

    def explain(text: str, photo: str | None, method: str):
        if not text or not text.strip() or photo is None or not model.uses_image:
            raise gr.Error("Type a review and add its photo: these methods explain what a photo adds.")
        try:
            figure = method_beside_attention(model, text, open_rgb(photo), method, labels.classes)
        except MmsentError as error:
            raise gr.Error(str(error)) from error
        return figure_pixels(figure)

    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(
            f"# {TITLE}\n{model.config.mode} model, {model.config.profile} profile, labels "
            f"{', '.join(model.config.labels)}. Type a review, add a product photo (or not), click "
            "**Predict**."
        )
        with gr.Row():
            with gr.Column():
                text = gr.Textbox(label="Review text", lines=2, elem_id="review-text")
                photo = gr.Image(
                    label="Product photo (optional)",
                    type="filepath",
                    image_mode="RGB",
                    sources=["upload"],
                    elem_id="photo",
                )
                photo.preprocess = _upload_path
                button = gr.Button("Predict", variant="primary", elem_id="predict")
            with gr.Column():
                label = gr.Label(label="Sentiment", elem_id="label")
                gate = gr.Markdown(elem_id="gate")
                heat = gr.Image(
                    label="Attention heat map", type="numpy", interactive=False, elem_id="heatmap"
                )
                method = gr.Dropdown(methods, value="occlusion", label="Explanation method",
                                     elem_id="method")
                explain_button = gr.Button("Explain with this method", elem_id="explain")
                beside = gr.Image(label="The method's map beside the attention", type="numpy",
                                  interactive=False, elem_id="explanation")
        if examples:
            gr.Examples(examples=examples, inputs=[text, photo], label="Examples from the bundled data")
        from mmsent.hub.config import CONFIG_FILE

        if (vlm_dir() / "llava" / CONFIG_FILE).is_file():  # a checkout with notebook 09's models
            from mmsent.vlm.ask import add_question_box

            add_question_box(gr, photo)
        button.click(predict, inputs=[text, photo], outputs=[label, gate, heat], api_name="predict")
        explain_button.click(explain, inputs=[text, photo, method], outputs=[beside], api_name="explain")
    return demo


def launch(
    model_dir: Path,
    host: str = "127.0.0.1",
    port: int = 7860,
    examples_dir: Path | None = None,
    **launch_options,
):
    """Build the demo with the bundled examples and serve it on http://host:port (blocks unless
    ``prevent_thread_lock=True``); returns the app."""
    import tempfile

    folder = Path(examples_dir or tempfile.mkdtemp(prefix="mmsent-demo-"))
    examples = write_examples(folder) if reviews_csv().is_file() else None
    demo = build_demo(model_dir, examples)
    launch_options.setdefault("max_file_size", UPLOAD_LIMIT)
    demo.launch(server_name=host, server_port=port, allowed_paths=[str(folder)], **launch_options)
    return demo


SPACE_APP = '''\
"""A Hugging Face Space serving an mmsent model (written by `python -m mmsent demo --export-space`).

Run it locally with `python app.py` (GRADIO_SERVER_PORT / GRADIO_SERVER_NAME pick the address).
"""
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
if (HERE / "clip-offline").is_dir():  # the offline profile's CLIP travels with the Space
    os.environ.setdefault("MMSENT_DATA_DIR", str(HERE))

from mmsent.apply.demo import UPLOAD_LIMIT, build_demo, read_examples  # noqa: E402

demo = build_demo(HERE / "model", read_examples(HERE / "examples"))

if __name__ == "__main__":
    demo.launch(allowed_paths=[str(HERE / "examples")], max_file_size=UPLOAD_LIMIT)
'''


def export_space(model_dir: Path, out_dir: Path, overwrite: bool = False) -> Path:
    """Write a folder that runs as a Hugging Face Space: app.py, requirements.txt, README.md (the
    Space's metadata), the model folder (only the files its manifest lists, and its card, as regular
    files), the example photos and, for an offline-profile model, the offline CLIP. Refuses a non-empty
    `out_dir` unless `overwrite`, and replaces it only once the new folder is complete. Returns `out_dir`."""
    gr = require_gradio()
    from mmsent.files.replace import refuse_existing, replacing
    from mmsent.hub.source import resolve_model_folder
    from mmsent.models import MultimodalSentimentModel

    refuse_existing([out_dir], overwrite, "--export-space")
    model = MultimodalSentimentModel.from_pretrained(model_dir)  # the trust boundary: checks the folder first
    with replacing([out_dir], overwrite, "--export-space") as work:
        _write_space(model.config.profile, resolve_model_folder(model_dir), work / out_dir.name, gr)
    return out_dir


def _write_space(profile: str, model_dir: Path, out_dir: Path, gr) -> None:
    from huggingface_hub import SpaceCard, SpaceCardData

    from mmsent.course.conventions import REPO_URL
    from mmsent.hub.card import CARD_FILE
    from mmsent.hub.manifest import copy_listed_files
    from mmsent.hub.space_pins import requirements_txt

    copy_listed_files(model_dir, out_dir / "model", extra=(CARD_FILE,))
    if profile == "offline":
        shutil.copytree(offline_clip_dir(), out_dir / "clip-offline")
    write_examples(out_dir / "examples")
    (out_dir / "app.py").write_text(SPACE_APP)
    (out_dir / "requirements.txt").write_text(requirements_txt())  # the kit at this commit, deps pinned
    # The Space's README: its front matter (what the Hub reads to build it) from SpaceCardData.
    front = SpaceCardData(
        title=TITLE, emoji="🔥", colorFrom="blue", colorTo="indigo", sdk="gradio", sdk_version=gr.__version__,
        app_file="app.py", pinned=False, license="mit",
    )
    body = (
        f"# {TITLE}\n\nA demo of an [mmsent]({REPO_URL}) model (`model/`, its card in `model/README.md`). "
        "Run it locally with `pip install -r requirements.txt && python app.py`; publish it with "
        "`hf upload OWNER/NAME . --repo-type space` after `hf auth login`.\n"
    )
    SpaceCard(f"---\n{front.to_yaml()}\n---\n\n{body}").save(out_dir / "README.md")
