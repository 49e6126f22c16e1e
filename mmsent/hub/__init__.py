"""A model folder, the Hugging Face way: what it holds, what is checked before it is trusted, how it
is saved, loaded and shared.

- `folder_check`: the trust boundary (sizes, regular files, config values, weight shapes);
- `manifest`: each file's size and SHA-256; `legacy`: the one reader of the older checkpoint format;
- `config`: `SentimentModelConfig`, THE model's config (built from, saved as config.json, loaded into), and
  the folder's file names; `source`: a local folder or a hub id;
- `card`: the model card; `split_record`: which rows trained and which tested the model;
- `pretrained`: `save_pretrained`, `from_pretrained`, `push_to_hub` on `PyTorchModelHubMixin`'s hooks;
  `space_pins`: a Space's pins.

May import: mmsent, errors, paths, choices, config, runtime, files, data, encoders, course.
"""
