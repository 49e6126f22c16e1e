"""Review tables in, model-ready batches out.

`load_reviews` reads and validates a CSV of `text`, `image_path`, `label` (+ any extra columns),
`split_table` gives the train / validation / test frames, `ReviewDataset` tokenizes each review and
prepares its photo, and `collate_fn` pads a batch to its longest review and copes with missing photos.
`mmsent.data.synth` draws the bundled synthetic data set.
"""

from mmsent.data.dataset import LengthGroupedBatchSampler, ReviewDataset, collate_fn, make_loader
from mmsent.data.images import ImageProblem, check_image, open_rgb
from mmsent.data.table import DataError, LabelEncoder, ReviewTable, load_reviews, split_table

__all__ = [
    "DataError",
    "ImageProblem",
    "LabelEncoder",
    "LengthGroupedBatchSampler",
    "ReviewDataset",
    "ReviewTable",
    "check_image",
    "collate_fn",
    "load_reviews",
    "make_loader",
    "open_rgb",
    "split_table",
]
