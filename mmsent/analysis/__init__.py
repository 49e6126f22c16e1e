"""The kit's main run and what it measures: fusion against each single modality, and more.

- `ablation`: fit fusion, text-only and image-only on one split, score them, write the report;
- `attention_lift`: does the attention point at the damage? (the lift test of notebook 07);
- `robustness`: test accuracy as photos go missing or get worse; `robustness_report`: its CSV and plot.

May import: paths, choices, config, runtime, data, encoders, hub, models, features, train, viz.
"""
