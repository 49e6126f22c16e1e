"""`python -m mmsent evaluate --robustness`: robustness curves of a trained report's models.

`train` saves the fused model in `REPORT/model` and the baselines beside it (`REPORT/model_text_only`,
`REPORT/model_image_only`); the curves score every one of them that is there on the same rows, and
write `robustness.csv` and `robustness.png`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

BASELINES = ("text_only", "image_only")


def baseline_folder(model_folder: Path, mode: str) -> Path:
    """Where `train` saves the `mode` baseline of the model in `model_folder`."""
    return model_folder.parent / f"model_{mode}"


def write_robustness(model_folder: Path, model, config, frame: pd.DataFrame, out_dir: Path) -> pd.DataFrame:
    """Score `model` (from `model_folder`) and its saved baselines on `frame`; write the table and plot."""
    from matplotlib import pyplot  # the figures are saved, never shown: any backend draws them

    from mmsent import viz
    from mmsent.analysis.robustness import REMOVED, fallback_gap, robustness_table
    from mmsent.data import ReviewDataset
    from mmsent.models import MultimodalSentimentModel

    device = next(model.parameters()).device
    models = {model.mode: model}
    for mode in BASELINES:
        folder = baseline_folder(model_folder, mode)
        if mode not in models and folder.is_dir():
            models[mode] = MultimodalSentimentModel.from_pretrained(folder, model.encoders, device)
    dataset = ReviewDataset(
        frame, model.encoders.tokenizer, model.encoders.image_processor, config.max_length
    )
    table = robustness_table(models, dataset, config)
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "robustness.csv", index=False)
    title = f"Test accuracy as the photos go missing or get worse ({len(frame)} reviews)"
    viz.plot_robustness(table, title).savefig(out_dir / "robustness.png", dpi=120)
    pyplot.close("all")
    wide = table.pivot_table(index=["condition", "strength"], columns="model", values="accuracy", sort=False)
    print(wide.round(3).to_string())
    if {"fusion", "text_only"} <= set(models):
        every = table[(table["condition"] == REMOVED) & (table["strength"] == 100.0)]
        left = every["photos"].iloc[0]
        print(f"with every photo removed, {gap_words(fallback_gap(table))} ({left} photos left)")
    print(f"robustness table and plot in {out_dir}/")
    return table


def gap_words(gap: float) -> str:
    """`fallback_gap` in words: 'fusion scores 1.9 points above text-only' for a gap of -1.9."""
    side = "below" if gap > 0 else "above"
    return f"fusion scores {abs(gap):.1f} points {side} text-only"
