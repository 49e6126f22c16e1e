"""Training, evaluation and prediction: one explicit loop, the way the course teaches it.

`fit` runs AdamW + cross-entropy for a few epochs and validates after each one with accuracy
and macro precision / recall / F1. When the image encoder is frozen (the default) its outputs
never change, so they are computed once per dataset and looked up by index afterwards
(`mmsent.features.vectors.ImageFeatures`); likewise the frozen bottom layers of the text encoder run once
per review (`mmsent.features.text_states`): training then costs only the trainable top text layers and the
fusion head. On CUDA the forward pass runs under autocast (`mmsent.runtime.autocast_dtype`: bf16
where supported, else fp16 with a gradient scaler). A checkpoint is a model folder (`save_pretrained`'s
format) plus the resume state, and training resumes from it.

`TrainConfig` lives in `mmsent.config` (cheap to import). One job per module, each importing only
those before it:

    metrics      classification_metrics, confusion_counts
    steps        model_inputs, make_optimizer, warmup_then_decay, attention_loss
    evaluation   Predictions, predict, predict_reviews, evaluate, confusion
    checkpoints  a model folder + the resume state, written every epoch, read to resume
    loop         fit

May import: errors, config, runtime, progress, compat, data, hub, models, features.
"""

from mmsent.config import TrainConfig
from mmsent.train.evaluation import Predictions, confusion, evaluate, predict, predict_reviews
from mmsent.train.loop import fit
from mmsent.train.metrics import classification_metrics, confusion_counts
from mmsent.train.steps import attention_loss, make_optimizer, warmup_then_decay

__all__ = [
    "Predictions",
    "TrainConfig",
    "attention_loss",
    "classification_metrics",
    "confusion",
    "confusion_counts",
    "evaluate",
    "fit",
    "make_optimizer",
    "predict",
    "predict_reviews",
    "warmup_then_decay",
]
