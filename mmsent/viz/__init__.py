"""Pictures of training and of attention; nothing here trains. Every figure has a title and labelled axes.

`from mmsent import viz` gives one namespace for the notebooks: `plots` (learning curves, confusion,
metric tables, robustness), `attention` (heat maps over the photo), `explorer` (one review explained,
and the ipywidgets explorers).

May import: data, models, train.
"""

from mmsent.viz.attention import (
    ATTENTION_LABEL,
    attention_grid,
    attention_in_flat_units,
    attention_map,
    show_attention,
)
from mmsent.viz.explorer import (
    ReviewExplanation,
    explain_review,
    plain_text,
    plot_explanation,
    review_explorer,
    try_your_own,
)
from mmsent.viz.plots import plot_confusion, plot_history, plot_metric_table, plot_robustness

__all__ = [
    "ATTENTION_LABEL",
    "ReviewExplanation",
    "attention_grid",
    "attention_in_flat_units",
    "attention_map",
    "explain_review",
    "plain_text",
    "plot_confusion",
    "plot_explanation",
    "plot_history",
    "plot_metric_table",
    "plot_robustness",
    "review_explorer",
    "show_attention",
    "try_your_own",
]
