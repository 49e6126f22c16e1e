"""The names a user picks from, defined once and cheap to import (no torch): the command line
checks its flags against them before anything heavy is loaded.

- `MODES`: the three models of every ablation, `MultimodalSentimentModel(mode=...)`;
- `PROFILES`: the encoder sets of `mmsent.encoders.load_encoders` (the README's "Profiles" table);
- `SPLITS`: the parts of a review table (`mmsent.data.split_table`).
"""

MODES: tuple[str, ...] = ("fusion", "text_only", "image_only")
PROFILES: tuple[str, ...] = ("full", "offline", "tiny")
SPLITS: tuple[str, ...] = ("train", "val", "test")
