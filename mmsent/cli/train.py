"""`python -m mmsent train` and `evaluate`: fit the three models and write a report; score a saved model.

python -m mmsent train                      # bundled data, offline profile, report in reports/latest
python -m mmsent train --data my.csv --epochs 3 --report-dir reports/mine
python -m mmsent evaluate --model reports/latest/model --data my.csv
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from mmsent.choices import PROFILES, SPLITS
from mmsent.cli import arguments, common
from mmsent.cli.run_config import CONFIG_FILE
from mmsent.config import RunOptions, TrainConfig, flag_fields
from mmsent.errors import UsageError
from mmsent.train.run_log import LOG_TARGETS, MLFLOW_DIR, TENSORBOARD_DIR

# The argparse type of each `TrainConfig` flag (its default and help come from the field).
CONFIG_FLAG_TYPES = {
    "epochs": arguments.positive_int,
    "batch_size": arguments.positive_int,
    "lr": arguments.positive_float,
    "head_lr": arguments.positive_float,
    "max_length": arguments.positive_int,
    "seed": arguments.seed,
}
# The `train` flags that are `RunOptions` fields of the same name.
RUN_OPTION_FLAGS = ("data", "columns", "profile", "models", "train_text_layers", "train_image_encoder",
                    "global_embedding", "allow_outside_paths", "device")


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add `train` and `evaluate` to the command line's sub-commands."""
    _add_train(commands)
    _add_evaluate(commands)


def train_parser() -> argparse.ArgumentParser:
    """`train`'s parser on its own: the settings a run saves in its report (`run_config.yaml`)."""
    return _add_train(argparse.ArgumentParser(prog="python -m mmsent").add_subparsers())


def _shown(value) -> str:
    """A default as --help shows it: 4, 5e-5, 0.001, on."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}".replace("e-0", "e-") if isinstance(value, float) else str(value)


def _add_train(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """`train`: the `TrainConfig` flags generated from its fields, the others defaulting to `RunOptions`'."""
    run = RunOptions()
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
        default=run.data,
        help="CSV with columns text, image_path, label (default: the bundled data set)",
    )
    common.add_columns(train, default=run.columns)
    train.add_argument(
        "--profile",
        choices=PROFILES,
        default=run.profile,
        help="encoders: full = bert-base + CLIP ViT-B/32 from the hub, offline = packaged "
        "MiniLM + the course's CLIP (default: MMSENT_PROFILE, else offline unless a GPU "
        "and the hub are at hand)",
    )
    for option in flag_fields(TrainConfig):
        default = option.default
        # A switch is --name / --no-name; any other setting takes a value of its type.
        kind = {"action": argparse.BooleanOptionalAction} if isinstance(default, bool) else {
            "type": CONFIG_FLAG_TYPES[option.name]
        }
        train.add_argument(
            "--" + option.name.replace("_", "-"),
            **kind,
            default=default,
            help=f"{option.metadata['help']} (default {_shown(default)})",
        )
    train.add_argument(
        "--train-text-layers",
        type=arguments.text_layers,
        default=run.train_text_layers,
        help=f"top text-encoder layers to fine-tune; -1 = all, 0 = frozen (default {run.train_text_layers})",
    )
    train.add_argument(
        "--train-image-encoder",
        action="store_true",
        default=run.train_image_encoder,
        help="fine-tune CLIP's vision tower too (default: frozen, its features computed once and cached)",
    )
    train.add_argument(
        "--global-embedding",
        action=argparse.BooleanOptionalAction,
        default=run.global_embedding,
        help="give the fusion classifier CLIP's pooled image embedding beside the attended patches "
        "(a shortcut around the attention); --no-global-embedding: the patches only (default: on)",
    )
    train.add_argument(
        "--attention-loss-weight",
        type=arguments.non_negative_float,
        default=None,
        help="weight of the extra loss that teaches the fusion model's attention to look at the damage "
        "in the training photos (masks from the bundled data's generator; never used to predict); 0 = off "
        "(default: the recipe's, TrainConfig.attention_loss_weight)",
    )
    train.add_argument(
        "--models",
        type=arguments.model_list,
        default=list(run.models),
        help=f"comma-separated models to train (default {','.join(run.models)})",
    )
    train.add_argument(
        "--report-dir",
        type=Path,
        default=Path("reports/latest"),
        help="where metrics.json, plots, the skipped-rows report and the model folder go "
        "(default reports/latest); written whole when the run ends, never mixed with an older run",
    )
    common.add_overwrite(train, "replace an existing --report-dir whole (default: refuse)")
    common.add_photo_source(train)
    common.add_device(train)
    common.add_no_progress(train)
    train.add_argument(
        "--config",
        type=Path,
        default=None,
        help="a .yaml or .toml file of flag: value pairs (any flag of train; flags given here win); "
        f"the run's effective settings are saved in the report as {CONFIG_FILE}",
    )
    train.add_argument(
        "--log-to",
        choices=LOG_TARGETS,
        default="none",
        help="also write each model's per-epoch metrics where other tools read them: tensorboard = "
        f"event files under the report's {TENSORBOARD_DIR}/ (tensorboard --logdir ...), mlflow = a run per "
        f"model in a local MLflow file store, the report's {MLFLOW_DIR}/ (default none)",
    )
    train.add_argument(
        "--log-dir",
        type=Path,
        default=None,
        help="with --log-to: the folder it writes instead of the report's (e.g. one mlruns/ for every run)",
    )
    return train


def _add_evaluate(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser(
        "evaluate",
        help="metrics of a saved model on a CSV",
        description="Score a model folder written by `train` on a review table.",
    )
    common.add_model(evaluate)
    evaluate.add_argument(
        "--data",
        type=Path,
        default=None,
        help="CSV to score (default: the file the model was trained on, as recorded in its split.json; "
        "the bundled data for a model without that record)",
    )
    common.add_columns(evaluate)
    evaluate.add_argument(
        "--split",
        choices=(*SPLITS, "all"),
        default="test",
        help="rows to score: those of this split (from the CSV's 'split' column, else the rows train held "
        "out, as recorded with the model), or 'all' for every row (default test)",
    )
    common.add_photo_source(evaluate)
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
    evaluate.add_argument(
        "--explanations",
        action="store_true",
        help="also explain the model's predictions over the photo's patches with six methods and score them "
        "(on the damage masks where the bundled data has them, faithfulness and a sanity check everywhere); "
        "writes the table and a gallery to explanations/ beside the --model folder",
    )
    evaluate.add_argument(
        "--explain-reviews",
        type=arguments.positive_int,
        default=64,
        help="how many reviews --explanations explains and scores (default 64)",
    )
    common.add_device(evaluate)


def _is_report_writer() -> bool:
    """Under torchrun only rank 0 writes the report; a plain run is rank 0."""
    return int(os.environ.get("RANK", "0")) == 0


def cmd_train(args: argparse.Namespace) -> int:
    """Train into a fresh folder beside --report-dir, renamed into place when the run has finished."""
    from mmsent.files.report_dir import check_target, staged_folder
    from mmsent.train import run_log

    check_target(args.report_dir, args.overwrite)
    if args.log_dir is not None and args.log_to == "none":
        raise UsageError("--log-dir says where --log-to writes: add --log-to tensorboard or --log-to mlflow.")
    run_log.check_target(args.log_to)  # before any model is built
    if not _is_report_writer():
        return _train(args, args.report_dir.parent / f".{args.report_dir.name}.rank-unused")
    with staged_folder(args.report_dir, args.overwrite) as work:
        status = _train(args, work)
    print(f"report in {args.report_dir}/")
    if (logs := run_log.write(args.log_to, args.report_dir, args.log_dir)) is not None:
        print(f"{args.log_to} log in {logs}/")
    return status


def _train(args: argparse.Namespace, report: Path) -> int:
    from mmsent.analysis.ablation import train_and_report
    from mmsent.cli import run_config

    values = {option.name: getattr(args, option.name) for option in flag_fields(TrainConfig)}
    if args.attention_loss_weight is not None:  # else the recipe's default
        values["attention_loss_weight"] = args.attention_loss_weight
    config = TrainConfig(**values)
    options = RunOptions(
        **{name: getattr(args, name) for name in RUN_OPTION_FLAGS},
        teach_attention=config.attention_loss_weight > 0,
        progress=not args.no_progress,
    )
    train_and_report(config, options, report, photos=common.photo_store(args))
    if _is_report_writer():
        run_config.save(args, train_parser(), report / CONFIG_FILE)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from mmsent import train as training
    from mmsent.data import ReviewDataset, load_reviews
    from mmsent.hub.split_record import load_split_record, rows_to_score, scored_file

    if args.robustness_dir is not None:  # before any scoring: a folder path that can be made
        there = next(p for p in (args.robustness_dir, *args.robustness_dir.parents) if p.exists())
        if not there.is_dir():
            raise UsageError(f"--robustness-dir {args.robustness_dir}: {there} is a file; pass a folder.")
    model, labels, config = common.load_model(args)
    record = load_split_record(args.model)
    data, note = scored_file(args.data, record)
    if note:
        print(note, file=sys.stderr)
    table = load_reviews(
        data,
        labels=labels,
        columns=args.columns,
        allow_outside_paths=args.allow_outside_paths,
        photos=common.photo_store(args),
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
        from mmsent.analysis.robustness_report import write_robustness

        out = args.robustness_dir or args.model.parent / "robustness"
        write_robustness(args.model, model, config, frame, out)
    if args.explanations:
        from mmsent.explain.report import write_explanations

        out = args.model.parent / "explanations"
        write_explanations(model, dataset.frame, dataset.image_paths, out, limit=args.explain_reviews)
    return 0


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate}
