"""Training, evaluation and prediction: one explicit loop, the way the course teaches it.

`fit` runs AdamW + cross-entropy for a few epochs and validates after each one with accuracy
and macro precision / recall / F1. When the image encoder is frozen (the default) its outputs
never change, so they are computed once per dataset and looked up by index afterwards
(`mmsent.features.ImageFeatures`); likewise the frozen bottom layers of the text encoder run once
per review (`mmsent.text_cache`): training then costs only the trainable top text layers and the
fusion head. On CUDA the forward pass runs under autocast (`mmsent.runtime.autocast_dtype`: bf16
where supported, else fp16 with a gradient scaler). Checkpoints are safetensors + JSON, and
training resumes from them.

`TrainConfig` lives in `mmsent.config` (cheap to import). One job per module, each importing only
those before it:

    metrics      classification_metrics, confusion_counts
    steps        model_inputs, make_optimizer, warmup_then_decay, attention_loss
    evaluation   Predictions, predict, predict_reviews, evaluate, confusion
    checkpoints  save_checkpoint, load_checkpoint, the resume state
    loop         fit
"""

from mmsent.config import TrainConfig
from mmsent.train.checkpoints import load_checkpoint, save_checkpoint
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
    "load_checkpoint",
    "make_optimizer",
    "predict",
    "predict_reviews",
    "save_checkpoint",
    "warmup_then_decay",
]
