"""`python -m mmsent`: train, evaluate and predict from a terminal, with the same code the notebooks use.

python -m mmsent train                      # bundled data, offline profile, report in reports/latest
python -m mmsent train --data my.csv --epochs 3 --report-dir reports/mine
python -m mmsent evaluate --model reports/latest/model --data my.csv
python -m mmsent predict --model reports/latest/model --text "Well. It arrived." --image box.png
python -m mmsent pretrain-clip              # rebuild data/clip-offline
python -m mmsent pretrain-generator         # rebuild data/generator-offline (notebook 11's model)
python -m mmsent pretrain-vlm               # rebuild data/vlm-offline (notebook 09's models)
python -m mmsent make-data                  # regenerate the bundled review set
python -m mmsent demo --model reports/latest/model   # a web demo (Gradio, the .[demo] extra)
python -m mmsent make-calls                 # regenerate the call-centre table (notebook 10)
python -m mmsent pretrain-audio             # rebuild data/audio-encoder (notebook 10)
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
from pathlib import Path

from mmsent import book, demo_cli, import_cli, kit_cli, predict_cli, validate
from mmsent.audio import cli as audio_cli
from mmsent.choices import PROFILES, SPLITS
from mmsent.cli_common import (
    COLUMNS_HELP,
    DEVICE_ARG,
    MODEL_ARG,
    OFFLINE_ARG,
    OUTSIDE_PATHS_ARG,
    PHOTO_DEADLINE_ARG,
    PHOTO_DIR_ARG,
    command_parser,
    load_model,
    parse_command_line,
    photo_store,
)
from mmsent.config import RunOptions, TrainConfig, flag_fields
from mmsent.errors import UsageError
from mmsent.generation import commands as generation_commands
from mmsent.paths import OFFLINE_CLIP_DIR, REVIEWS_CSV
from mmsent.replace import OVERWRITE_HELP, replacing
from mmsent.run_config import CONFIG_FILE
from mmsent.run_log import LOG_TARGETS, TENSORBOARD_DIR
from mmsent.vlm import commands as vlm_commands

# Commands that write where the user's files may be: they refuse an existing output unless --overwrite.
WRITES_OUTPUT = (
    "make-data", "pretrain-clip", "make-calls", "pretrain-audio", "pretrain-generator", "pretrain-vlm", "demo"
)

# The argparse type of each `TrainConfig` flag (its default and help come from the field).
CONFIG_FLAG_TYPES = {
    "epochs": validate.positive_int,
    "batch_size": validate.positive_int,
    "lr": validate.positive_float,
    "head_lr": validate.positive_float,
    "max_length": validate.positive_int,
    "seed": validate.seed,
}


def _shown(value) -> str:
    """A default as --help shows it: 4, 5e-5, 0.001, on."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}".replace("e-0", "e-") if isinstance(value, float) else str(value)


def _add_train_parser(commands) -> None:
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
    train.add_argument("--columns", type=validate.column_renames, default=run.columns, help=COLUMNS_HELP)
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
        type=validate.text_layers,
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
        type=validate.non_negative_float,
        default=None,
        help="weight of the extra loss that teaches the fusion model's attention to look at the damage "
        "in the training photos (masks from the bundled data's generator; never used to predict); 0 = off "
        "(default: the recipe's, TrainConfig.attention_loss_weight)",
    )
    train.add_argument(
        "--models",
        type=validate.model_list,
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
    train.add_argument(
        "--overwrite", action="store_true", help="replace an existing --report-dir whole (default: refuse)"
    )
    train.add_argument("--allow-outside-paths", **OUTSIDE_PATHS_ARG)
    train.add_argument("--photo-dir", **PHOTO_DIR_ARG)
    train.add_argument("--photo-deadline", **PHOTO_DEADLINE_ARG)
    train.add_argument("--offline", **OFFLINE_ARG)
    train.add_argument("--device", **DEVICE_ARG)
    train.add_argument("--no-progress", action="store_true", help="hide the progress bars")
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
        f"event files under the report's {TENSORBOARD_DIR}/ (tensorboard --logdir ...) (default none)",
    )



def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mmsent",
        allow_abbrev=False,
        description="Multimodal (text + photo) review sentiment: train, evaluate, predict.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _add_train_parser(commands)

    evaluate = commands.add_parser(
        "evaluate",
        help="metrics of a saved model on a CSV",
        description="Score a model folder written by `train` on a review table.",
    )
    evaluate.add_argument("--model", "--checkpoint", **MODEL_ARG)
    evaluate.add_argument(
        "--data",
        type=Path,
        default=None,
        help="CSV to score (default: the file the model was trained on, as recorded in its split.json; "
        "the bundled data for a model without that record)",
    )
    evaluate.add_argument("--columns", type=validate.column_renames, default=None, help=COLUMNS_HELP)
    evaluate.add_argument(
        "--split",
        choices=(*SPLITS, "all"),
        default="test",
        help="rows to score: those of this split (from the CSV's 'split' column, else the rows train held "
        "out, as recorded with the model), or 'all' for every row (default test)",
    )
    evaluate.add_argument("--allow-outside-paths", **OUTSIDE_PATHS_ARG)
    evaluate.add_argument("--photo-dir", **PHOTO_DIR_ARG)
    evaluate.add_argument("--photo-deadline", **PHOTO_DEADLINE_ARG)
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
    evaluate.add_argument(
        "--explanations",
        action="store_true",
        help="also explain the model's predictions over the photo's patches with six methods and score them "
        "(on the damage masks where the bundled data has them, faithfulness and a sanity check everywhere); "
        "writes the table and a gallery to explanations/ beside the --model folder",
    )
    evaluate.add_argument(
        "--explain-reviews",
        type=validate.positive_int,
        default=64,
        help="how many reviews --explanations explains and scores (default 64)",
    )
    evaluate.add_argument("--device", **DEVICE_ARG)

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
    predict_cli.add_parsers(commands)
    import_cli.add_parsers(commands)
    kit_cli.add_parsers(commands)
    book.add_parsers(commands)
    generation_commands.add_parsers(commands)
    vlm_commands.add_parsers(commands)
    demo_cli.add_parsers(commands)
    audio_cli.add_parsers(commands)
    for name in WRITES_OUTPUT:  # import-amazon and train have their own --overwrite
        commands.choices[name].add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    for command in commands.choices.values():
        command.add_argument(
            "--debug", action="store_true", help="on an error, show the Python traceback"
        )
        command.allow_abbrev = False  # a typo such as --epoch is an error, not another flag
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
    from mmsent import run_config, run_log
    from mmsent.pipeline import train_and_report

    values = {option.name: getattr(args, option.name) for option in flag_fields(TrainConfig)}
    if args.attention_loss_weight is not None:  # else the recipe's default
        values["attention_loss_weight"] = args.attention_loss_weight
    config = TrainConfig(**values)
    same_names = {"data", "columns", "profile", "models", "train_text_layers", "train_image_encoder",
                  "global_embedding", "allow_outside_paths", "device"}
    options = RunOptions(
        **{name: getattr(args, name) for name in same_names},
        teach_attention=config.attention_loss_weight > 0,
        progress=not args.no_progress,
    )
    run_log.check_target(args.log_to)  # before any model is built
    train_and_report(config, options, report, photos=photo_store(args))
    if int(os.environ.get("RANK", "0")) == 0:  # the process that writes the report
        run_config.save(args, command_parser(_parser(), "train"), report / CONFIG_FILE)
        run_log.write(args.log_to, report)
    return 0


# --------------------------------------------------------------------------------------
# evaluate / predict
# --------------------------------------------------------------------------------------


def cmd_evaluate(args: argparse.Namespace) -> int:
    from mmsent.data import ReviewDataset, load_reviews
    from mmsent.heldout import load_split_record, rows_to_score, scored_file

    if args.robustness_dir is not None:  # before any scoring: a folder path that can be made
        there = next(p for p in (args.robustness_dir, *args.robustness_dir.parents) if p.exists())
        if not there.is_dir():
            raise UsageError(f"--robustness-dir {args.robustness_dir}: {there} is a file; pass a folder.")
    training, model, labels, config = load_model(args)
    record = load_split_record(args.model)
    data, note = scored_file(args.data, record)
    if note:
        print(note, file=sys.stderr)
    table = load_reviews(
        data,
        label_encoder=labels,
        columns=args.columns,
        allow_outside_paths=args.allow_outside_paths,
        photos=photo_store(args),
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
    if args.explanations:
        from mmsent.explain.report import write_explanations

        out = args.model.parent / "explanations"
        write_explanations(model, dataset.frame, dataset.image_paths, out, limit=args.explain_reviews)
    return 0


def cmd_pretrain_clip(args: argparse.Namespace) -> int:
    from mmsent.clip_pretrain import pretrain_clip

    options = {k: v for k, v in {"epochs": args.epochs, "seed": args.seed}.items() if v is not None}
    with replacing([args.out], args.overwrite) as work:
        result = pretrain_clip(out_dir=work / args.out.name, **options)
    print(json.dumps(result, indent=2))
    return 0


def cmd_make_data(args: argparse.Namespace) -> int:
    from mmsent.data.synth import make_data

    with replacing([args.out / "reviews.csv", args.out / "images"], args.overwrite) as work:
        make_data(work, n=args.n, seed=args.seed, baselines=not args.no_baselines)
    print(f"moved them into {args.out}")
    return 0


COMMANDS = {
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    **predict_cli.COMMANDS,
    "pretrain-clip": cmd_pretrain_clip,
    "make-data": cmd_make_data,
    **import_cli.COMMANDS,
    **kit_cli.COMMANDS,
    **book.COMMANDS,
    **generation_commands.COMMANDS,
    **vlm_commands.COMMANDS,
    **demo_cli.COMMANDS,
    **audio_cli.COMMANDS,
}


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parse_command_line(parser, argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    from mmsent.errors import MmsentError
    from mmsent.interrupts import TERMINATED_STATUS, Terminated, resource_message, sigterm_as_interrupt

    try:
        with sigterm_as_interrupt():  # SIGTERM cleans up like Ctrl-C
            if args.command not in kit_cli.COMMANDS:  # doctor reports a bad MMSENT_* variable itself
                validate.check_environment(getattr(args, "device", None))
            return COMMANDS[args.command](args)
    except (MmsentError, OSError) as error:  # bad input: say what and where, no traceback
        if args.debug:
            raise
        print(f"error: {resource_message(error) or validate.error_message(error)}", file=sys.stderr)
        return 2
    except Exception as error:  # a full disk reported by a library that drops the OSError (safetensors)
        if args.debug or resource_message(error) is None:
            raise
        print(f"error: {resource_message(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:
        if args.debug:
            raise
        what = "terminated (SIGTERM)" if isinstance(interrupt, Terminated) else "interrupted"
        print(f"error: {what}; output is only moved into place when a run finishes", file=sys.stderr)
        return TERMINATED_STATUS if isinstance(interrupt, Terminated) else 130
