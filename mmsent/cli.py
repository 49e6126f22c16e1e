"""`python -m mmsent`: train, evaluate and predict from a terminal, with the same code the notebooks use.

python -m mmsent train                      # bundled data, offline profile, report in reports/latest
python -m mmsent train --data my.csv --epochs 3 --report-dir reports/mine
python -m mmsent evaluate --model reports/latest/model --data my.csv
python -m mmsent predict --model reports/latest/model --text "Well. It arrived." --image box.png
python -m mmsent pretrain-clip              # rebuild data/clip-offline
python -m mmsent pretrain-generator         # rebuild data/generator-offline (notebook 10's model)
python -m mmsent make-data                  # regenerate the bundled review set
python -m mmsent demo --model reports/latest/model   # a web demo (Gradio, the .[demo] extra)
python -m mmsent make-calls                 # regenerate the call-centre table (notebook 09)
python -m mmsent pretrain-audio             # rebuild data/audio-encoder (notebook 09)
python -m mmsent import-amazon Electronics.jsonl.gz --meta meta_Electronics.jsonl.gz --out data/amazon
python -m mmsent doctor                     # versions, device, profile and known problems, to paste
python -m mmsent course --repo-url https://github.com/me/mmsent   # point badges and set-up cells at a fork

Bad input (a broken table, photo, model folder, flag or MMSENT_* variable) prints `error: ...` saying
what, where and what to do, and exits with status 2; `--debug` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from mmsent import demo_cli, import_cli, kit_cli, validate
from mmsent.audio import cli as audio_cli
from mmsent.generation import commands as generation_commands
from mmsent.paths import OFFLINE_CLIP_DIR, REVIEWS_CSV
from mmsent.validate import MODES

log = logging.getLogger("mmsent")


MODEL_ARG = dict(
    type=Path,
    dest="model",
    default=Path("reports/latest/model"),
    help="model folder written by train (its report's model/; default reports/latest/model), or a "
    "Hugging Face hub id owner/name; --checkpoint is the older name of this flag",
)
DEVICE_ARG = dict(
    type=validate.device,
    default=None,
    help="cpu, cuda, cuda:1, mps (default: MMSENT_DEVICE, else the best available)",
)
OUTSIDE_PATHS_ARG = dict(
    action="store_true",
    help="accept photos whose real path (symlinks resolved) is outside the CSV's folder "
    "(default: refuse them)",
)
PHOTO_DIR_ARG = dict(
    type=Path,
    default=None,
    help="folder where photo URLs (http:// and https:// in image_path) are downloaded to, once "
    "(default: the photos/ folder of the feature cache, MMSENT_CACHE_DIR)",
)
OFFLINE_ARG = dict(
    action="store_true",
    help="download no photo URL: use the photos already in the photo folder and report the rows whose "
    "photo would need a download (they are kept text-only)",
)
COLUMNS_HELP = (
    "rename your CSV's columns as it is read, YOUR_NAME=OUR_NAME separated by commas, e.g. "
    "reviewText=text,photo=image_path,sentiment=label,asin=review_id (the file is not changed)"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mmsent",
        description="Multimodal (text + photo) review sentiment: train, evaluate, predict.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser(
        "train",
        help="fit the fusion model and the text-only / image-only baselines, write a report",
        description="Fit the BERT + CLIP cross-attention model and both unimodal baselines on the same "
        "split, evaluate them on the test split and write metrics, plots and the model folder (model/: "
        "weights, config and model card, loadable with from_pretrained).",
    )
    train.add_argument(
        "--data",
        type=Path,
        default=REVIEWS_CSV,
        help="CSV with columns text, image_path, label (default: the bundled data set)",
    )
    train.add_argument("--columns", type=validate.column_renames, default=None, help=COLUMNS_HELP)
    train.add_argument(
        "--profile",
        choices=("full", "offline", "tiny"),
        default=None,
        help="encoders: full = bert-base + CLIP ViT-B/32 from the hub, offline = packaged "
        "MiniLM + the course's CLIP (default: MMSENT_PROFILE, else offline unless a GPU "
        "and the hub are at hand)",
    )
    train.add_argument(
        "--epochs", type=validate.positive_int, default=4, help="passes over the training split (default 4)"
    )
    train.add_argument(
        "--batch-size", type=validate.positive_int, default=32, help="reviews per step (default 32)"
    )
    train.add_argument(
        "--lr",
        type=validate.positive_float,
        default=5e-5,
        help="learning rate of the text encoder (default 5e-5)",
    )
    train.add_argument(
        "--head-lr",
        type=validate.positive_float,
        default=1e-3,
        help="learning rate of the new layers: attention, gate, classifier (default 1e-3)",
    )
    train.add_argument(
        "--train-text-layers",
        type=validate.text_layers,
        default=2,
        help="top text-encoder layers to fine-tune; -1 = all, 0 = frozen (default 2)",
    )
    train.add_argument(
        "--train-image-encoder",
        action="store_true",
        help="fine-tune CLIP's vision tower too (default: frozen, its features computed once and cached)",
    )
    train.add_argument(
        "--global-embedding",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="give the fusion classifier CLIP's pooled image embedding beside the attended patches "
        "(a shortcut around the attention); --no-global-embedding: the patches only (default: on)",
    )
    train.add_argument(
        "--attention-loss-weight",
        type=validate.non_negative_float,
        default=0.0,
        help="weight of the extra loss that teaches the fusion model's attention to look at the damage "
        "in the training photos (masks from the bundled data's generator; never used to predict); 0 = off "
        "(default 0)",
    )
    train.add_argument(
        "--max-length", type=validate.positive_int, default=128, help="longest review in tokens (default 128)"
    )
    train.add_argument(
        "--models",
        type=validate.model_list,
        default=list(MODES),
        help=f"comma-separated models to train (default {','.join(MODES)})",
    )
    train.add_argument(
        "--report-dir",
        type=Path,
        default=Path("reports/latest"),
        help="where metrics.json, plots, the skipped-rows report and the model folder go "
        "(default reports/latest); written whole when the run ends, never mixed with an older run",
    )
    train.add_argument(
        "--overwrite", action="store_true", help="replace an existing --report-dir whole (default: refuse)"
    )
    train.add_argument("--allow-outside-paths", **OUTSIDE_PATHS_ARG)
    train.add_argument("--photo-dir", **PHOTO_DIR_ARG)
    train.add_argument("--offline", **OFFLINE_ARG)
    train.add_argument(
        "--seed", type=validate.seed, default=0, help="seed for splits, initialisation and shuffling"
    )
    train.add_argument("--device", **DEVICE_ARG)
    train.add_argument("--no-progress", action="store_true", help="hide the progress bars")

    evaluate = commands.add_parser(
        "evaluate",
        help="metrics of a saved model on a CSV",
        description="Score a model folder written by `train` on a review table.",
    )
    evaluate.add_argument("--model", "--checkpoint", **MODEL_ARG)
    evaluate.add_argument(
        "--data", type=Path, default=REVIEWS_CSV, help="CSV to score (default: bundled data)"
    )
    evaluate.add_argument("--columns", type=validate.column_renames, default=None, help=COLUMNS_HELP)
    evaluate.add_argument(
        "--split",
        choices=("train", "val", "test", "all"),
        default="test",
        help="rows to score: those of this split (from the CSV's 'split' column, else the rows train held "
        "out, as recorded with the model), or 'all' for every row (default test)",
    )
    evaluate.add_argument("--allow-outside-paths", **OUTSIDE_PATHS_ARG)
    evaluate.add_argument("--photo-dir", **PHOTO_DIR_ARG)
    evaluate.add_argument("--offline", **OFFLINE_ARG)
    evaluate.add_argument("--json", type=Path, default=None, help="also write the metrics to this file")
    evaluate.add_argument(
        "--robustness",
        action="store_true",
        help="also score the model and the baselines train saved beside it (model_text_only, "
        "model_image_only) with 0-100 %% of the photos removed and with blurred or JPEG-compressed photos; "
        "writes robustness.csv and robustness.png",
    )
    evaluate.add_argument(
        "--robustness-dir",
        type=Path,
        default=None,
        help="where the robustness table and plot go (default: robustness/ beside the --model folder)",
    )
    evaluate.add_argument("--device", **DEVICE_ARG)

    predict = commands.add_parser(
        "predict",
        help="label one review (text + optional photo)",
        description="Print the label, class probabilities and image gate for one review.",
    )
    predict.add_argument("--model", "--checkpoint", **MODEL_ARG)
    predict.add_argument("--text", type=validate.review_text, required=True, help="the review's text")
    predict.add_argument(
        "--image", type=validate.photo, default=None, help="path of the product photo (optional)"
    )
    predict.add_argument("--device", **DEVICE_ARG)

    clip = commands.add_parser(
        "pretrain-clip",
        help="train the offline profile's small CLIP model",
        description="Contrastively pretrain the small CLIPModel of the offline profile on "
        "generated image-caption pairs and save it with save_pretrained.",
    )
    clip.add_argument(
        "--out", type=Path, default=OFFLINE_CLIP_DIR, help=f"output folder (default {OFFLINE_CLIP_DIR})"
    )
    clip.add_argument(
        "--epochs",
        type=validate.positive_int,
        default=None,
        help="passes over the pairs (default: the recipe's)",
    )
    clip.add_argument(
        "--seed", type=validate.seed, help="seed of the pairs and the run (default: the recipe's)"
    )

    data = commands.add_parser(
        "make-data",
        help="regenerate the bundled review data set",
        description="Draw the synthetic review set (CSV + photos) from a seed.",
    )
    data.add_argument("--out", type=Path, default=REVIEWS_CSV.parent, help="output folder (default data/)")
    data.add_argument(
        "--n", type=validate.positive_int, default=2400, help="number of reviews (default 2400)"
    )
    data.add_argument("--seed", type=validate.seed, default=0, help="seed (default 0)")
    data.add_argument(
        "--no-baselines", action="store_true", help="skip the scikit-learn leak checks printed at the end"
    )
    import_cli.add_parsers(commands)
    kit_cli.add_parsers(commands)
    generation_commands.add_parsers(commands)
    demo_cli.add_parsers(commands)
    audio_cli.add_parsers(commands)
    for command in commands.choices.values():
        command.add_argument(
            "--debug", action="store_true", help="on an error, show the Python traceback"
        )
    return parser


# --------------------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> int:
    """Train into a fresh folder beside --report-dir, renamed into place when the run has finished."""
    from mmsent.report_dir import check_target, staged_folder

    check_target(args.report_dir, args.overwrite)
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun rank 0 alone writes the report
        return _train(args, args.report_dir.parent / f".{args.report_dir.name}.rank-unused")
    with staged_folder(args.report_dir, args.overwrite) as work:
        status = _train(args, work)
    print(f"report in {args.report_dir}/")
    return status


def _train(args: argparse.Namespace, report: Path) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    from mmsent import distributed, viz
    from mmsent import train as training
    from mmsent.attention_check import damage_lift, damage_targets
    from mmsent.data import ReviewDataset, load_reviews, split_table
    from mmsent.encoders import load_encoders, resolve_profile
    from mmsent.heldout import save_split_record
    from mmsent.models import MultimodalSentimentModel

    started = time.perf_counter()
    modes = args.models
    saved_mode = "fusion" if "fusion" in modes else modes[0]  # the model saved for predict / evaluate / demo
    # Under torchrun every process runs this; rank 0 alone writes the report and prints.
    device = distributed.setup(args.device)
    main = distributed.is_main()
    say = print if main else lambda *_: None
    profile = resolve_profile(args.profile)
    training.seed_everything(args.seed)
    log.info("profile %s on %s; data %s", profile, device, args.data)

    table = load_reviews(
        args.data,
        min_rows=args.batch_size,
        columns=args.columns,
        allow_outside_paths=args.allow_outside_paths,
        photos=_photo_store(args),
    )
    if main:
        (report / "skipped_rows.txt").write_text(table.report() + "\n")
        table.problems.to_csv(report / "skipped_rows.csv", index=False)
        if len(table.problems):
            log.warning("%d row problems; see %s", len(table.problems), args.report_dir / "skipped_rows.txt")
    validate.check_photos(table.frame, modes)
    splits = split_table(table, seed=args.seed)
    classes = table.label_encoder.classes
    config = training.TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        head_lr=args.head_lr,
        max_length=args.max_length,
        seed=args.seed,
        attention_loss_weight=args.attention_loss_weight,
    )
    text_layers = None if args.train_text_layers < 0 else args.train_text_layers

    encoders = load_encoders(profile)  # each model fine-tunes its own copy of the text encoder
    validate.check_encoder_limits(args, encoders.text_model.config)
    if main:
        save_split_record(table, splits, args.seed, report / "model")
    datasets = {
        name: ReviewDataset(frame, encoders.tokenizer, encoders.image_processor, args.max_length)
        for name, frame in splits.items()
    }
    features = None  # the frozen image encoder's outputs, shared by fusion and image-only
    metrics: dict = {}
    baselines = {}  # the models other than the one saved in model/
    for mode in modes:
        say(f"\n== {mode} ==")
        training.seed_everything(args.seed)
        model = MultimodalSentimentModel(
            encoders,
            len(classes),
            mode=mode,
            train_text_layers=text_layers,
            freeze_image=not args.train_image_encoder,
            global_embedding=args.global_embedding,
        )
        model.to(device)
        if mode != "text_only" and features is None and model.freeze_image:
            with distributed.main_first():  # rank 0 fills the feature cache, the others read it
                features = {
                    name: training.encode_dataset_images(model, ds, progress=not args.no_progress and main)
                    for name, ds in datasets.items()
                }
        split_features = features if mode != "text_only" and features is not None else {}
        train_set, test_set = datasets["train"], datasets["test"]
        targets = None  # where the attention should look in each training photo (bundled data only)
        if mode == "fusion" and args.attention_loss_weight > 0:
            targets = damage_targets(train_set.frame, train_set.image_paths, encoders.num_patches)
        history = training.fit(
            model,
            datasets["train"],
            datasets.get("val"),
            config,
            label_encoder=table.label_encoder,
            train_features=split_features.get("train"),
            val_features=split_features.get("val"),
            attention_targets=targets,
            progress=not args.no_progress,
        )
        validate.check_history(history, mode)
        if mode == saved_mode:
            saved_model = model
        else:
            baselines[mode] = model  # saved beside it, for evaluate --robustness
        result = training.predict(model, datasets["test"], features=split_features.get("test"), config=config)
        metrics[mode] = training.classification_metrics(result.targets, result.labels)
        say(f"test {mode}: " + "  ".join(f"{k} {v:.3f}" for k, v in metrics[mode].items()))
        if mode == "fusion":  # does its attention point at the damage? (None: no masks for these photos)
            lift, measured = damage_lift(test_set.frame, result.attention, test_set.image_paths)
            metrics[mode]["attention_lift"] = round(lift, 3) if measured else None
        if main:
            history.to_csv(report / f"history_{mode}.csv", index=False)
            viz.plot_history(history, f"Training curves: {mode} ({profile} profile)").savefig(
                report / f"curves_{mode}.png", dpi=120
            )
            if mode == "fusion":
                _fusion_pictures(
                    viz, training, result, datasets["test"], classes, report, metrics[mode]["attention_lift"]
                )

    seconds = time.perf_counter() - started
    metrics["run"] = {
        "profile": profile,
        "device": str(device),
        "data": str(args.data),
        "rows": {name: len(frame) for name, frame in splits.items()},
        "row_problems": len(table.problems),
        "epochs": args.epochs,
        "seed": args.seed,
        "processes": distributed.world_size(),
        "seconds": round(seconds, 1),
    }
    distributed.cleanup()
    if not main:
        return 0
    (report / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    data_sentence = _data_sentence(args.data, table, splits)
    saved_model.save_pretrained(report / "model", table.label_encoder, config, metrics, data_sentence)
    for mode, baseline in baselines.items():
        baseline.save_pretrained(
            report / f"model_{mode}", table.label_encoder, config, metrics, data_sentence
        )
    if len(modes) > 1:
        scores = {m: {k: v for k, v in metrics[m].items() if k != "attention_lift"} for m in modes}
        viz.plot_metric_table(scores, "Test metrics: fusion against each modality alone").savefig(
            report / "ablation.png", dpi=120
        )
    _summary(metrics, modes)
    pyplot.close("all")  # the figures are saved; free them (the CLI may run in a longer process)
    return 0


def _data_sentence(csv: Path, table, splits: dict) -> str:
    """What the model card says about the training data."""
    bundled = "the course's bundled synthetic review set, " if csv.resolve() == REVIEWS_CSV.resolve() else ""
    parts = " / ".join(f"{name} {len(frame)}" for name, frame in splits.items())
    return (f"Trained on {bundled}`{csv.name}`: {len(table.frame)} usable reviews ({len(table.problems)} "
            f"rows skipped), split {parts}; the rows of each split are in split.json.")


def _fusion_pictures(viz, training, result, test_set, classes, report: Path, lift: float | None) -> None:
    """Confusion matrix and a grid of attention heat maps over test photos."""
    import numpy as np

    matrix = training.confusion(result, len(classes))
    viz.plot_confusion(matrix, classes, "Fusion model on the test split").savefig(
        report / "confusion.png", dpi=120
    )
    if result.attention is None:
        return
    frame = test_set.frame.reset_index(drop=True)
    with_photo = np.flatnonzero(frame["image_path"].notna().to_numpy())
    by_gate = with_photo[np.argsort(-result.gate[with_photo], kind="stable")]  # most photo-reliant first
    picked = [*by_gate[:8], *by_gate[8:][-4:]]  # 8 highest gates, then the 4 lowest
    images, weights, titles = [], [], []
    for i in picked:
        item = test_set[int(i)]
        images.append(item["image"])
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


def _summary(metrics: dict, modes: list[str]) -> None:
    lines = ["", "model        accuracy  precision  recall  f1"]
    for mode in modes:
        m = metrics[mode]
        lines.append(
            f"{mode:<12} {m['accuracy']:8.3f} {m['precision']:10.3f} {m['recall']:7.3f} {m['f1']:6.3f}"
        )
    lift = metrics.get("fusion", {}).get("attention_lift")
    if lift is not None:
        lines.append(f"fusion attention lift on the damage: {lift:.2f} (1 = no preference)")
    lines.append(f"\n{metrics['run']['seconds']:.0f} s")
    print("\n".join(lines))


# --------------------------------------------------------------------------------------
# evaluate / predict
# --------------------------------------------------------------------------------------


def cmd_evaluate(args: argparse.Namespace) -> int:
    from mmsent.data import ReviewDataset, load_reviews
    from mmsent.heldout import load_split_record, rows_to_score

    training, model, labels, config = _load_model(args)
    record = load_split_record(args.model)
    table = load_reviews(
        args.data,
        label_encoder=labels,
        columns=args.columns,
        allow_outside_paths=args.allow_outside_paths,
        photos=_photo_store(args),
    )
    frame, which = rows_to_score(table, args.split, record)
    print(f"scoring {which}", file=sys.stderr)
    dataset = ReviewDataset(
        frame, model.encoders.tokenizer, model.encoders.image_processor, config.max_length
    )
    metrics = training.evaluate(model, dataset, config=config)
    scored = {"split": args.split, "rows": len(frame)}
    print(json.dumps({**scored, **{k: round(v, 4) for k, v in metrics.items()}}, indent=2))
    if args.json:
        args.json.write_text(json.dumps({**scored, **metrics}, indent=2) + "\n")
    if args.robustness:
        from mmsent.robustness_cli import write_robustness

        out = args.robustness_dir or args.model.parent / "robustness"
        write_robustness(args.model, model, config, frame, out)
    return 0


def _photo_store(args: argparse.Namespace):
    """The photo store that --photo-dir, --offline and --no-progress describe."""
    from mmsent.data.photo_store import PhotoStore

    return PhotoStore(args.photo_dir, offline=args.offline, progress=not getattr(args, "no_progress", False))


def cmd_predict(args: argparse.Namespace) -> int:
    training, model, labels, config = _load_model(args)
    result = training.predict_reviews(model, [args.text], [args.image], labels, config)
    probabilities = {
        name: round(float(p), 4) for name, p in zip(labels.classes, result.probabilities[0], strict=True)
    }
    answer = {"label": labels.classes[result.labels[0]], "probabilities": probabilities}
    if result.gate is not None:
        answer["gate"] = round(float(result.gate[0]), 4)
    print(json.dumps(answer, indent=2, ensure_ascii=False))
    return 0


def _load_model(args: argparse.Namespace):
    """(the train module, the model of --model, its labels, its training recipe) for evaluate / predict."""
    from mmsent import train as training
    from mmsent.models import MultimodalSentimentModel

    model = MultimodalSentimentModel.from_pretrained(args.model, device=args.device)
    return training, model, model.config.label_encoder(), training.TrainConfig.from_dict(model.config.recipe)


def cmd_pretrain_clip(args: argparse.Namespace) -> int:
    from mmsent.clip_pretrain import pretrain_clip

    options = {k: v for k, v in {"epochs": args.epochs, "seed": args.seed}.items() if v is not None}
    result = pretrain_clip(out_dir=args.out, **options)
    print(json.dumps(result, indent=2))
    return 0


def cmd_make_data(args: argparse.Namespace) -> int:
    from mmsent.data.synth import make_data

    make_data(args.out, n=args.n, seed=args.seed, baselines=not args.no_baselines)
    return 0


COMMANDS = {
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "pretrain-clip": cmd_pretrain_clip,
    "make-data": cmd_make_data,
    **import_cli.COMMANDS,
    **kit_cli.COMMANDS,
    **generation_commands.COMMANDS,
    **demo_cli.COMMANDS,
    **audio_cli.COMMANDS,
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    from mmsent.errors import MmsentError

    try:
        if args.command not in kit_cli.COMMANDS:  # doctor reports a bad MMSENT_* variable itself
            validate.check_environment(getattr(args, "device", None))
        return COMMANDS[args.command](args)
    except (MmsentError, OSError) as error:  # bad input: say what and where, no traceback
        if args.debug:
            raise
        print(f"error: {validate.error_message(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("error: interrupted; a report folder is only written when a run finishes", file=sys.stderr)
        return 130
