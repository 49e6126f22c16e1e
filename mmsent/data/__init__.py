"""Review tables in, model-ready batches out.

`load_reviews` reads and validates a CSV of `text`, `image_path`, `label` (+ any extra columns),
`split_table` gives the train / validation / test frames, `ReviewDataset` tokenizes each review and
prepares its photo, and `collate_fn` pads a batch to its longest review and copes with missing photos.

One job per module, imported in this order (each only imports those before it):

- `csvfile` the header (delimiter, duplicate columns, renames); `images` opening and checking a
  photo; `photo_paths` a photo cell -> a safe absolute path; `labels` a label cell -> a class name,
  and `LabelVocab` (class names <-> ids); `problems` the per-row problem log and its report;
- `table` `load_reviews` -> `ReviewTable`; `splits` `split_table` (the names: `mmsent.choices.SPLITS`);
- `dataset` `ReviewDataset`, `collate_fn`, `make_loader`, `SplitDatasets` (a split's datasets + classes);
- `synth` (a package) draws the bundled synthetic data set: vocabulary, canvas, products, damage,
  photos, captions, texts, reviews, ceilings.

May import: errors, paths, choices, progress, files.
"""

from mmsent.choices import SPLITS
from mmsent.data.dataset import (
    LengthGroupedBatchSampler,
    ReviewDataset,
    SplitDatasets,
    collate_fn,
    make_loader,
)
from mmsent.data.images import ImageProblem, check_image, open_rgb
from mmsent.data.labels import LabelVocab
from mmsent.data.splits import split_table
from mmsent.data.table import DataError, ReviewTable, load_reviews

__all__ = [
    "SPLITS",
    "DataError",
    "ImageProblem",
    "LabelVocab",
    "LengthGroupedBatchSampler",
    "ReviewDataset",
    "ReviewTable",
    "SplitDatasets",
    "check_image",
    "collate_fn",
    "load_reviews",
    "make_loader",
    "open_rgb",
    "split_table",
]
