"""`python -m mmsent demo`: serve a trained model as a web page (Gradio), or export it as a Space.

python -m mmsent demo --model reports/latest/model                  # http://127.0.0.1:7860
python -m mmsent demo --model reports/latest/model --host 0.0.0.0 --port 8080
python -m mmsent demo --model reports/latest/model --export-space my-space   # then: python my-space/app.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mmsent.cli import arguments, common


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add `demo` to the command line's sub-commands."""
    demo = commands.add_parser(
        "demo",
        help="serve a trained model as a web demo (Gradio; the optional extra .[demo])",
        description="Serve the model as a web page: type a review, add a photo (or none), and see the label, "
        "the class probabilities, the gate and the attention heat map over the photo. Needs the optional "
        'extra: pip install -e ".[demo]". With --export-space, write a Hugging Face Space folder instead.',
    )
    demo.add_argument(
        "--model",
        type=Path,
        default=Path("reports/latest/model"),
        help="model folder written by train (default reports/latest/model), or a hub id owner/name",
    )
    demo.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0: every network)",
    )
    demo.add_argument("--port", type=arguments.port, default=7860, help="port to listen on (default 7860)")
    demo.add_argument(
        "--export-space",
        type=Path,
        default=None,
        metavar="DIR",
        help="write a Hugging Face Space folder (app.py, requirements.txt, the model) to DIR; serve nothing",
    )
    common.add_overwrite(demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from mmsent.apply import demo
    from mmsent.hub.source import is_hub_id, no_such_folder

    demo.require_gradio()  # before loading anything: say at once when the extra is missing
    if not args.model.exists() and not is_hub_id(args.model):
        raise no_such_folder(args.model)
    if args.export_space is not None:
        folder = demo.export_space(args.model, args.export_space, args.overwrite)
        print(f"wrote a Space to {folder}/: run it with `cd {folder} && python app.py`")
        return 0
    print(f"serving {args.model} on http://{args.host}:{args.port} (Ctrl-C stops it)", flush=True)
    demo.launch(args.model, host=args.host, port=args.port)
    return 0


COMMANDS = {"demo": cmd_demo}
