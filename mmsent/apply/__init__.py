"""Using a trained model: one review, a whole CSV, a web page.

- `inference`: `sentiment_pipeline`, one object that labels reviews (text, optional photo);
- `batch`: `predict_csv`, every row of a file, streamed in chunks, in input order;
- `demo`: the Gradio demo and its Space export.

May import: errors, paths, config, progress, files, data, course, hub, models, features, train, viz,
explain, vlm.
"""
