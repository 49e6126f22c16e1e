"""The model card: the README.md a model folder carries, with Hugging Face metadata on top.

`model_card(config, metrics, data)` writes what the Hub shows on a model's page: YAML metadata
(licence, tags, base models, the training data set, the test metrics as a ``model-index``), built with
`huggingface_hub.ModelCardData` / `EvalResult` (so `huggingface_hub.ModelCard.load` reads it back), then
the data it was trained on, the metrics table with the text-only and image-only ablations and the
accuracy's 95 % interval, the profile and encoders, intended use and limits, how to load it, and the
training recipe. With `data` a `TrainingData` (what `train` passes) the data section, the metadata and
the limits follow what the run actually read; `read_card_metadata` parses the metadata back (a test,
and notebook 12, read it).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from huggingface_hub import EvalResult, ModelCardData

from mmsent.course.conventions import REPO_URL
from mmsent.data.summary import AMAZON_HUB_ID, BUNDLED, BUNDLED_NAME, TrainingData, accuracy_interval

if TYPE_CHECKING:
    from mmsent.hub.config import SentimentModelConfig

CARD_FILE = "README.md"
METRICS = ("accuracy", "precision", "recall", "f1")
ABLATIONS = {
    "fusion": "fusion (text + photo, cross-modal attention)",
    "text_only": "text only (ablation)",
    "image_only": "photo only (ablation)",
}
TAGS = ["mmsent", "multimodal", "sentiment-analysis", "cross-modal-attention", "clip", "bert"]
LIMITS = (
    "Trained on the course's synthetic product reviews (generated text and drawn photos, `data/README.md`), "
    "built so that each modality alone is insufficient. It has never seen real reviews or real photos: "
    "expect it to be wrong on them until it is retrained on real data (`python -m mmsent train --data "
    "your.csv`). English only; photos are resized to the image encoder's input. A teaching model, not "
    "one to make decisions about people or products."
)


def model_card(
    config: SentimentModelConfig,
    metrics: dict[str, dict[str, float]] | None = None,
    data: TrainingData | str | None = None,
) -> str:
    """The README.md text for a model folder. `metrics`: {model mode: {metric: value}} on the test
    split (modes absent from it are left out); `data`: what the model was trained on (a `TrainingData`,
    or a sentence)."""
    metrics = metrics or {}
    facts = data if isinstance(data, TrainingData) else None
    title = f"mmsent review sentiment: {config.mode} model ({config.profile} profile)"
    metadata = _metadata(config, metrics, title, facts).to_yaml()
    lines = ["---", metadata, "---", "", f"# {title}", ""]
    lines += [
        "Review sentiment from the review's text and its product photo: a BERT-family text encoder, "
        "a CLIP image encoder and a cross-modal attention layer in which the text attends over the "
        "photo's patches, with a learned gate for how much the photo is used. Built with "
        f"[mmsent]({REPO_URL}), the course kit that trains it "
        "(`python -m mmsent train`).",
        "",
        "## Data",
        "",
        facts.paragraph() if facts else data or "Not recorded (saved outside `python -m mmsent train`).",
        "",
        f"Labels (in logit order): {', '.join(f'`{name}`' for name in config.labels)}.",
        "",
        "## Results on the test split",
        "",
    ]
    lines += _metrics_table(metrics)
    lines += _interval(metrics.get(config.mode), facts)
    lines += [
        "",
        "## Encoders",
        "",
        f"- profile: `{config.profile}`",
        f"- text: `{config.text_encoder}`: {config.text_source}",
        f"- image: `{config.image_encoder}`: {config.image_source}",
        f"- encoder weights' SHA-256 (checked when loading): `{config.encoder_fingerprint}`",
        "",
        "Only the weights training changed are stored in `model.safetensors` (the heads, the attention and "
        f"the fine-tuned text layers: {_text_layers(config.train_text_layers)}); the frozen encoders are "
        "loaded from their own source.",
        "",
        "## Intended use and limits",
        "",
        _limits(facts),
        "",
        "## How to load it",
        "",
        "```python",
        "from mmsent.models import MultimodalSentimentModel",
        "from mmsent.train import predict_reviews",
        "",
        'model = MultimodalSentimentModel.from_pretrained("THIS_FOLDER_OR_HUB_ID")',
        "labels = model.config.label_vocab()",
        'result = predict_reviews(model, ["This phone is 🔥🔥🔥"], ["photo.png"], labels)',
        "print(model.config.labels[result.labels[0]], result.probabilities[0], result.gate[0])",
        "```",
        "",
        'or from a terminal: `python -m mmsent predict --model THIS_FOLDER --text "..." --image x.png`,',
        "and `python -m mmsent demo --model THIS_FOLDER` for a web demo.",
        "",
        "## Training recipe",
        "",
        "```json",
        json.dumps(config.recipe, indent=2),
        "```",
        "",
    ]
    return "\n".join(lines)


def _metadata(
    config: SentimentModelConfig, metrics: dict[str, dict[str, float]], title: str, data: TrainingData | None
) -> ModelCardData:
    """The card's metadata: licence, tags, base models, the data set and the test metrics."""
    bases = [
        name
        for name in (config.text_encoder, config.image_encoder)
        if config.profile == "full" or (config.profile == "offline" and name == config.text_encoder)
    ]
    dataset_name, dataset_type = (data.name, data.hub_id) if data else (BUNDLED_NAME, "mmsent-reviews")
    scores = metrics.get(config.mode, {})
    results = [
        EvalResult(
            task_type="text-classification",
            task_name="Review sentiment from text and photo",
            dataset_type=dataset_type,
            dataset_name=dataset_name,
            dataset_split="test",
            metric_type=m,
            metric_value=round(float(scores[m]), 4),
            metric_name=f"Test {m}",
        )
        for m in METRICS
        if m in scores
    ]
    return ModelCardData(
        language="en",
        license="mit",
        library_name="pytorch",
        tags=TAGS,
        pipeline_tag="text-classification",
        base_model=bases or None,
        datasets=[AMAZON_HUB_ID] if data and data.hub_id == AMAZON_HUB_ID else None,
        model_name=title if results else None,
        eval_results=results or None,
    )


def _interval(scores: dict[str, float] | None, data: TrainingData | None) -> list[str]:
    """How sure the test accuracy is: its 95 % interval and what one review is worth."""
    n = data.splits.get("test", 0) if data else 0
    if not scores or "accuracy" not in scores or n == 0:
        return []
    low, high = accuracy_interval(float(scores["accuracy"]), n)
    return [
        "",
        f"The test split has {n} reviews: one review is {100 / n:.1f} accuracy points, and the 95 % "
        f"(Wilson) interval of this model's test accuracy is {low:.3f} to {high:.3f}.",
    ]


def _limits(data: TrainingData | None) -> str:
    """Intended use and limits, for what the model was actually trained on."""
    if data is None or data.kind == BUNDLED:
        return LIMITS
    return (
        f"Trained on {data.usable} reviews of {data.name} ({', '.join(data.classes)}). It knows only reviews "
        "like these: expect it to do worse on other products, other shops, other languages or other kinds "
        f"of photo. {data.text_only} of its training reviews had no usable photo, so its use of the photo "
        "rests on the others. Check it on your own held-out reviews before relying on it "
        "(`python -m mmsent evaluate`). Not for decisions about people."
    )


def _metrics_table(metrics: dict[str, dict[str, float]]) -> list[str]:
    if not metrics:
        return ["Not measured (this model was saved without test metrics)."]
    rows = [
        "| model | accuracy | precision (macro) | recall (macro) | F1 (macro) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for mode, name in ABLATIONS.items():
        if mode in metrics:
            rows.append(f"| {name} | " + " | ".join(f"{metrics[mode][m]:.3f}" for m in METRICS) + " |")
    return rows


def _text_layers(train_text_layers: int | None) -> str:
    if train_text_layers is None:
        return "the whole text encoder"
    return "none" if train_text_layers == 0 else f"the top {train_text_layers}"


def read_card_metadata(text: str) -> dict[str, Any]:
    """The YAML metadata of a model card's text (between the first two ``---`` lines), as a dict."""
    import yaml

    if not text.startswith("---\n"):
        raise ValueError("A model card starts with a '---' line opening its metadata.")
    block = text[4:].split("\n---\n", 1)[0]
    return yaml.safe_load(block)
