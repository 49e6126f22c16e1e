"""The kit's main run: fit fusion, text-only and image-only on one split, score them, write the report.

Three layers, each usable on its own:

    model = build_model(encoders, labels.classes, "fusion", seed=0)  # seeded, same recipe everywhere
    ablation = run_ablation(encoders, SplitDatasets(datasets, labels), config)  # fit + test every mode
    metrics = train_and_report(config, RunOptions(), report_dir)     # `python -m mmsent train`

`run_ablation` encodes the photos once for every model that looks at them (the image encoder is
frozen by default) and the frozen bottom text layers once for every model that reads the texts
(`mmsent.features.text_states`; fusion and text-only share them, for training, validation and the test
predictions), fits each model in `MODES` order from the same seed, predicts the test split and
measures the fusion model's attention lift on the damage (`mmsent.analysis.attention_lift`). Notebook 06
calls it for its baselines, the command line for everything, `bench/` for its models.
`train_and_report` adds what a run from a CSV needs around it: loading and checking the table, the
split record, the model folder (`save_pretrained`), and the report files (metrics.json, curves,
confusion matrix, attention heat maps, the skipped-rows report).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mmsent import viz
from mmsent.analysis.attention_lift import damage_lift, damage_targets
from mmsent.choices import MODES
from mmsent.config import DEFAULT_TEXT_LAYERS, RunOptions
from mmsent.data import ReviewDataset, SplitDatasets, load_reviews, split_table
from mmsent.data.photo_store import PhotoStore
from mmsent.data.summary import TrainingData
from mmsent.encoders import Encoders, load_encoders, resolve_profile
from mmsent.features.cached import CachedFeatures
from mmsent.features.text_states import TextStates, encode_frozen_text, text_encoder_key
from mmsent.features.vectors import encode_dataset_images
from mmsent.hub.config import SentimentModelConfig
from mmsent.hub.split_record import save_split_record
from mmsent.models import MultimodalSentimentModel
from mmsent.models.text_layers import frozen_layer_count
from mmsent.runtime import pick_device, seed_everything
from mmsent.train import (
    Predictions,
    TrainConfig,
    checks,
    classification_metrics,
    confusion,
    distributed,
    fit,
    predict,
)

log = logging.getLogger("mmsent")
MODEL_FOLDER = "model"  # inside the report: weights, config, model card, split.json


def build_model(
    encoders: Encoders,
    labels: Sequence[str],
    mode: str = "fusion",
    *,
    train_text_layers: int | None = DEFAULT_TEXT_LAYERS,
    freeze_image: bool = True,
    global_embedding: bool = True,
    seed: int = 0,
    device=None,
) -> MultimodalSentimentModel:
    """A `MultimodalSentimentModel` for the class names `labels`, initialised from `seed` (the same seed:
    the same initial weights), on `device` when given. `train_text_layers`: -1 or None fine-tunes the
    whole text encoder."""
    seed_everything(seed)
    layers = None if train_text_layers is None or train_text_layers < 0 else train_text_layers
    config = SentimentModelConfig(
        labels=list(labels),
        mode=mode,
        train_text_layers=layers,
        freeze_image=freeze_image,
        global_embedding=global_embedding,
    )
    model = MultimodalSentimentModel(config, encoders)
    return model if device is None else model.to(device)


@dataclass
class Ablation:
    """What `run_ablation` gives, by mode: the trained models, their histories (one row per epoch),
    their test predictions and test metrics (accuracy, macro precision / recall / F1), and the fusion
    model's attention lift on the damage (None without fusion, or without damage masks for the data)."""

    models: dict[str, MultimodalSentimentModel] = field(default_factory=dict)
    histories: dict[str, pd.DataFrame] = field(default_factory=dict)
    predictions: dict[str, Predictions] = field(default_factory=dict)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    attention_lift: float | None = None


def run_ablation(
    encoders: Encoders,
    data: SplitDatasets,
    config: TrainConfig,
    modes: Sequence[str] = MODES,
    *,
    train_text_layers: int | None = DEFAULT_TEXT_LAYERS,
    freeze_image: bool = True,
    global_embedding: bool = True,
    device=None,
    cached: CachedFeatures | None = None,
    trained: Mapping[str, MultimodalSentimentModel] | None = None,
    teach_attention: bool = False,
    progress: bool = True,
    say: Callable[[str], None] = print,
) -> Ablation:
    """Fit each model of `modes` on data.datasets["train"] (validating on "val" when present), test it.

    Args:
        data: the "train" and "test" (and usually "val") `ReviewDataset`s of one split, and the classes.
        config: the training recipe of every model (its seed seeds every model's initial weights).
        train_text_layers, freeze_image, global_embedding: how each model is built (`build_model`).
        cached: photo features and frozen text states per split (`CachedFeatures`); what is missing is
            encoded here, once for every model that can share it (the photo features are added to
            `cached.image`, so the caller can reuse them).
        trained: models already fitted, by mode: only tested (e.g. a fusion model trained by hand).
        teach_attention: train fusion's attention towards the damage masks of the bundled photos,
            weighted by `config.attention_loss_weight` (`mmsent.analysis.attention_lift.damage_targets`).
        say: where progress lines go (rank 0 only under torchrun).
    """
    device = device if device is not None else pick_device()
    say = say if distributed.is_main() else (lambda *_: None)
    trained = dict(trained or {})
    datasets, labels = data.datasets, data.labels
    train_set, test_set = datasets["train"], datasets["test"]
    cached = cached if cached is not None else CachedFeatures()
    texts: dict[str, dict[str, TextStates]] = {}  # frozen text states per split, by frozen text encoder
    result = Ablation()
    for mode in modes:
        say(f"\n== {mode} ==")
        model = trained[mode] if mode in trained else build_model(
            encoders,
            labels.classes,
            mode,
            train_text_layers=train_text_layers,
            freeze_image=freeze_image,
            global_embedding=global_embedding,
            seed=config.seed,
            device=device,
        )
        if mode != "text_only" and not cached.image and model.freeze_image:
            with distributed.main_first():  # rank 0 fills the feature cache, the others read it
                show = progress and distributed.is_main()
                cached.image.update({
                    name: encode_dataset_images(model, dataset, config.batch_size, progress=show)
                    for name, dataset in datasets.items()
                })
        split_features = cached.image if mode != "text_only" else {}
        split_text = _frozen_text(model, datasets, config, texts, progress and distributed.is_main(), cached)
        if mode not in trained:
            targets = None  # where the attention should look in each training photo (bundled data only)
            if mode == "fusion" and teach_attention:
                targets = damage_targets(train_set.frame, train_set.image_paths, encoders.num_patches)
            history = fit(
                model,
                train_set,
                datasets.get("val"),
                config,
                cached=CachedFeatures(split_features, split_text),
                attention_targets=targets,
                progress=progress,
            )
            checks.check_history(history, mode)
            result.histories[mode] = history
        test_inputs = {"features": split_features.get("test"), "text_states": split_text.get("test")}
        predictions = predict(model, test_set, config=config, **test_inputs)
        result.models[mode], result.predictions[mode] = model, predictions
        result.metrics[mode] = classification_metrics(predictions.targets, predictions.labels)
        say(f"test {mode}: " + "  ".join(f"{k} {v:.3f}" for k, v in result.metrics[mode].items()))
        if mode == "fusion":  # does its attention point at the damage? (None: no masks for these photos)
            lift, measured = damage_lift(test_set.frame, predictions.attention, test_set.image_paths)
            result.attention_lift = round(lift, 3) if measured else None
    return result


def _frozen_text(
    model: MultimodalSentimentModel,
    datasets: Mapping[str, ReviewDataset],
    config: TrainConfig,
    known: dict[str, dict[str, TextStates]],
    progress: bool,
    cached: CachedFeatures,
) -> dict[str, TextStates]:
    """The frozen text layers' states of every split (`mmsent.features.text_states`), or {} when `model`
    has none (or `config.cache_text_layers` is off). Encoded once per frozen text encoder, kept in `known`:
    fusion and text-only freeze the same bottom layers of the same encoder, so they share them. The
    caller's `cached.text`, when given, is used as it is."""
    frozen = frozen_layer_count(model)
    if not config.cache_text_layers or frozen is None:
        return {}
    if cached.text:
        return cached.text
    key = text_encoder_key(model.text_model, frozen, "layers")
    if key not in known:  # each split alone, as `fit` would: the same batches, the same states
        known[key] = {
            name: encode_frozen_text(model, data, progress=progress) for name, data in datasets.items()
        }
    return known[key]


def attention_picks(
    predictions: Predictions, frame: pd.DataFrame, highest: int = 8, lowest: int = 4
) -> list[int]:
    """Rows of `frame` to show attention for: the `highest` gates first (the reviews that used their
    photo most), then the `lowest`; rows without a photo are never picked."""
    with_photo = np.flatnonzero(frame["image_path"].notna().to_numpy())
    by_gate = with_photo[np.argsort(-predictions.gate[with_photo], kind="stable")]  # most photo-reliant first
    return [int(i) for i in (*by_gate[:highest], *by_gate[highest:][-lowest:])]


# --------------------------------------------------------------------------------------
# A whole run from a CSV, with its report
# --------------------------------------------------------------------------------------


def train_and_report(
    config: TrainConfig, options: RunOptions, report: Path, photos: PhotoStore | None = None
) -> dict:
    """Load and check `options.data`, split it, run the ablation and write the report into `report`
    (an empty folder; `mmsent.files.report_dir` stages it), with the model folder `report/model` (fusion, else
    the first model: what predict, evaluate and demo load) and `report/model_<mode>` for the others.
    Returns metrics.json's content.
    `photos`: where photo URLs in the table are downloaded to (`mmsent.data.photo_store`).

    Under torchrun every process runs this; rank 0 alone writes files and prints.
    """
    started = time.perf_counter()
    modes = list(options.models)
    device = distributed.setup(options.device)
    main = distributed.is_main()
    profile = resolve_profile(options.profile)
    seed_everything(config.seed)
    log.info("profile %s on %s; data %s", profile, device, options.data)

    table = load_reviews(
        options.data,
        min_rows=config.batch_size,
        columns=options.columns,
        allow_outside_paths=options.allow_outside_paths,
        photos=photos,
    )
    if main:
        (report / "skipped_rows.txt").write_text(table.report() + "\n")
        table.problems.to_csv(report / "skipped_rows.csv", index=False)
        if len(table.problems):
            log.warning("%d row problems; see skipped_rows.txt in the report", len(table.problems))
    checks.check_photos(table.frame, modes)
    splits = split_table(table, seed=config.seed)
    encoders = load_encoders(profile)  # each model fine-tunes its own copy of the text encoder
    checks.check_encoder_limits(options.train_text_layers, config.max_length, encoders.text_model.config)
    if main:
        save_split_record(table, splits, config.seed, report / MODEL_FOLDER)
    datasets = {
        name: ReviewDataset(frame, encoders.tokenizer, encoders.image_processor, config.max_length)
        for name, frame in splits.items()
    }
    ablation = run_ablation(
        encoders,
        SplitDatasets(datasets, table.labels),
        config,
        modes,
        train_text_layers=options.train_text_layers,
        freeze_image=not options.train_image_encoder,
        global_embedding=options.global_embedding,
        device=device,
        teach_attention=options.teach_attention,
        progress=options.progress,
    )
    metrics: dict = {mode: dict(scores) for mode, scores in ablation.metrics.items()}
    if "fusion" in metrics:
        metrics["fusion"]["attention_lift"] = ablation.attention_lift
    metrics["run"] = {
        "profile": profile,
        "device": str(device),
        "data": str(options.data),
        "rows": {name: len(frame) for name, frame in splits.items()},
        "row_problems": len(table.problems),
        "data_summary": TrainingData.from_table(table, splits).to_dict(),
        "epochs": config.epochs,
        "seed": config.seed,
        "processes": distributed.world_size(),
        "seconds": round(time.perf_counter() - started, 1),
    }
    distributed.cleanup()
    if main:
        saved = "fusion" if "fusion" in modes else modes[0]
        about_data = TrainingData.from_table(table, splits)
        for mode, model in ablation.models.items():  # the baselines beside it, for evaluate --robustness
            folder = report / (MODEL_FOLDER if mode == saved else f"{MODEL_FOLDER}_{mode}")
            model.save_pretrained(folder, table.labels, config, metrics, about_data)
        write_report(ablation, datasets["test"], table.labels.classes, metrics, report, profile)
    return metrics


def write_report(
    ablation: Ablation,
    test_set: ReviewDataset,
    classes: Sequence[str],
    metrics: dict,
    report: Path,
    profile: str,
) -> None:
    """metrics.json, history_<mode>.csv, curves_<mode>.png, and with fusion confusion.png and
    attention.png, with several models ablation.png; prints the summary table."""
    from matplotlib import pyplot  # the figures are saved, never shown: any backend draws them

    for mode, history in ablation.histories.items():
        history.to_csv(report / f"history_{mode}.csv", index=False)
        viz.plot_history(history, f"Training curves: {mode} ({profile} profile)").savefig(
            report / f"curves_{mode}.png", dpi=120
        )
    if "fusion" in ablation.predictions:
        _fusion_pictures(ablation.predictions["fusion"], test_set, classes, report, ablation.attention_lift)
    (report / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    modes = list(ablation.metrics)
    if len(modes) > 1:
        viz.plot_metric_table(ablation.metrics, "Test metrics: fusion against each modality alone").savefig(
            report / "ablation.png", dpi=120
        )
    print(_summary(metrics, modes))
    pyplot.close("all")  # the figures are saved; free them (the CLI may run in a longer process)


def _fusion_pictures(
    result: Predictions, test_set: ReviewDataset, classes: Sequence[str], report: Path, lift: float | None
) -> None:
    """Confusion matrix and a grid of attention heat maps over test photos."""
    matrix = confusion(result, len(classes))
    viz.plot_confusion(matrix, classes, "Fusion model on the test split").savefig(
        report / "confusion.png", dpi=120
    )
    if result.attention is None:
        return
    frame = test_set.frame.reset_index(drop=True)
    images, weights, titles = [], [], []
    for i in attention_picks(result, frame):
        images.append(test_set[i]["image"])
        weights.append(result.attention[i])
        titles.append(
            f"{viz.plain_text(frame.loc[i, 'text'], 34)}\ntrue {classes[result.targets[i]]}, "
            f"pred {classes[result.labels[i]]}, gate {result.gate[i]:.2f}"
        )
    pointing = (
        f"attention lift on the damage {lift:.2f} (1 = no preference)"
        if lift is not None
        else "attention lift on the damage: not measured (no damage masks for these photos)"
    )
    suptitle = (
        "Attention over the photo's patches: the test reviews that used their photo most "
        f"(highest gate) first, the 4 that used it least last\n{pointing}"
    )
    viz.attention_grid(images, weights, titles, suptitle=suptitle).savefig(report / "attention.png", dpi=120)


def _summary(metrics: dict, modes: list[str]) -> str:
    lines = ["", "model        accuracy  precision  recall  f1"]
    for mode in modes:
        m = metrics[mode]
        lines.append(
            f"{mode:<12} {m['accuracy']:8.3f} {m['precision']:10.3f} {m['recall']:7.3f} {m['f1']:6.3f}"
        )
    test_rows = metrics["run"]["rows"].get("test", 0)
    if test_rows:  # how much one review moves these numbers: 1.9 points on 54 reviews
        lines.append(f"on {test_rows} test reviews: one review is {100 / test_rows:.1f} accuracy points")
    lift = metrics.get("fusion", {}).get("attention_lift")
    if lift is not None:
        lines.append(f"fusion attention lift on the damage: {lift:.2f} (1 = no preference)")
    lines.append(f"\ntrain took {metrics['run']['seconds']:.0f} s (wall clock: reading, training, testing)")
    return "\n".join(lines)
