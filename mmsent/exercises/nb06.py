"""Notebook 06 (the full trainer): checks for its exercises, and its quiz.

    from mmsent.exercises import nb06
    nb06.ex1.check(val_by_kind, val=datasets["val"].frame)  # each model's val accuracy per text_kind
    nb06.ex2.check(stop_after_first_epoch)   # a `log` for fit() that interrupts it after epoch 1
    nb06.ex3.check(difference)               # largest |bf16 logits - fp32 logits| on one batch
    nb06.quiz

Exercise 1's accuracies depend on the run; its check tests that each is an accuracy over the val reviews
of one kind of text (a whole number of them right) and names the kind where the two models differ. The
check of exercise 2 feeds the learner's `log` the lines `fit` writes (`mmsent.train.loop._epoch_line`), so
it needs no training.
"""

from __future__ import annotations

import contextlib
import io
import math
import numbers
from collections.abc import Callable, Mapping

import pandas as pd

from mmsent.exercises.framework import Exercise, Mistake, expect
from mmsent.exercises.quiz import quiz
from mmsent.train.loop import _epoch_line as epoch_line  # the very lines fit logs

TWO_EPOCHS = 2


def _raises(log: Callable[[str], None], line: str) -> BaseException | None:
    """What `log(line)` raises (None if nothing); what it prints is not shown."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            log(line)
    except BaseException as error:  # noqa: BLE001 - KeyboardInterrupt and SystemExit are slips to name
        return error
    return None


def _check_interrupt(log: Callable[[str], None]) -> str:
    expect(callable(log), "pass your function itself (the `log` you give fit), not its result")
    first, second = (epoch_line({"epoch": epoch, "train_loss": 0.5, "seconds": 1.0}, TWO_EPOCHS)
                     for epoch in (1, 2))
    resumed = "resumed from /tmp/run after epoch 1"
    stopped = _raises(log, first)
    expect(stopped is not None, f"fit logged {first!r} and your log let it go on: raise an exception when "
           "the line says epoch 1 is done (fit writes the checkpoint just before it logs)")
    if isinstance(stopped, KeyboardInterrupt | SystemExit):
        raise Mistake(f"your log raises {type(stopped).__name__}: raise an ordinary exception (e.g. class "
                      "Interrupted(Exception)), so that try/except can catch it without swallowing Ctrl-C")
    expect(_raises(log, resumed) is None, f"your log raises on {resumed!r}: the resumed run would stop "
           "before it trains; interrupt only after the first epoch")
    expect(_raises(log, second) is None, f"your log raises on {second!r} too: the resumed run would stop "
           "as well; interrupt only after the first epoch")
    return (f"fit stops with {type(stopped).__name__} after epoch 1, its checkpoint on disk; a resumed run "
            "goes on")


def _check_difference(difference: float) -> str:
    expect(isinstance(difference, numbers.Real), f"you passed a {type(difference).__name__}; pass one "
           "number, the largest absolute difference between the two passes' logits (.abs().max().item())")
    value = float(difference)
    expect(not math.isnan(value), "your difference is nan: are both logits float tensors of the same shape?")
    expect(value >= 0, f"your difference is {value:.3g}, below 0: take the absolute value before the maximum")
    expect(value > 0, "your difference is exactly 0: both passes ran in fp32; run the second one under "
           "torch.autocast('cpu', dtype=torch.bfloat16), and compare its logits with the fp32 ones")
    expect(value < 0.5, f"your difference is {value:.2f}, more than bf16's rounding gives: compare the same "
           "model on the same batch in evaluation mode (dropout off), once in fp32, once under autocast")
    return f"{value:.3f}: bf16 rounds the logits a little, it does not change the answer"


def _check_val_by_kind(answer: Mapping | pd.DataFrame, val: pd.DataFrame) -> str:
    expect(isinstance(answer, Mapping | pd.DataFrame), f"you passed a {type(answer).__name__}; pass each "
           "model's val accuracy per text_kind: {'text encoder frozen': Series, 'top 1 layers trained': ...}")
    table = pd.DataFrame(dict(answer)) if isinstance(answer, Mapping) else answer
    expect(table.shape[1] == 2, f"you passed {table.shape[1]} model(s); the exercise compares two: the text "
           "encoder frozen, and its top TEXT_LAYERS layers trained")
    counts = val["text_kind"].value_counts()
    missing = [kind for kind in counts.index if kind not in table.index]
    expect(not missing, f"no accuracy for {missing}: group the val predictions by the val reviews' text_kind")
    table = table.loc[counts.index].astype(float)
    expect(bool(((table >= 0) & (table <= 1)).all().all()),
           "your accuracies are not all between 0 and 1: give fractions, not percentages or counts")
    for kind, count in counts.items():
        right = table.loc[kind] * count  # reviews right: a whole number on the val split
        off = [model for model in table.columns if abs(right[model] - round(right[model])) > 1e-6]
        if off:
            raise Mistake(
                f"{off[0]}: {table.loc[kind, off[0]]:.4f} of the {count} val reviews with a {kind} text is "
                "not a whole number of reviews; compute it on the val split (predict(model, "
                "datasets['val'], ...)), grouped by the val reviews' text_kind")
    gaps = (table.iloc[:, 0] - table.iloc[:, 1]).abs()
    kind = gaps.idxmax()
    return (f"the two models differ most on the {kind} texts ({table.loc[kind].iloc[0]:.3f} against "
            f"{table.loc[kind].iloc[1]:.3f}, val accuracy); count the mistakes of each kind to see which "
            "reviews the frozen encoder gets wrong")


ex1 = Exercise(
    "Notebook 06, exercise 1 (how much of the text encoder to fine-tune?)",
    _check_val_by_kind,
    hints=(
        "predict(model, datasets['val'], features=features['val']) gives .labels and .targets; their "
        "equality is one True/False per val review.",
        "Group those by datasets['val'].frame['text_kind'] and take the mean, once per model; pass both "
        "Series in a dictionary.",
    ),
    solution_code="""
kinds = datasets["val"].frame["text_kind"].to_numpy()
val_by_kind = {}
for layers in (0, TEXT_LAYERS):
    model = new_model(layers)
    fit(model, datasets["train"], None, TrainConfig(epochs=1, seed=0), cached=CachedFeatures(features))
    result = predict(model, datasets["val"], features=features["val"])
    name = f"top {layers} layers trained" if layers else "text encoder frozen"
    val_by_kind[name] = pd.Series(result.labels == result.targets).groupby(kinds).mean()
nb06.ex1.check(val_by_kind, val=datasets["val"].frame)
""",
)

ex2 = Exercise(
    "Notebook 06, exercise 2 (resume an interrupted run)",
    _check_interrupt,
    hints=(
        "fit calls log(line) after each epoch, once its checkpoint is written; the line starts with "
        "'epoch 1/2' after the first of two epochs.",
        "Define class Interrupted(Exception), raise it in your log when line.startswith('epoch 1/'), and "
        "wrap the first fit in try/except Interrupted.",
    ),
    solution_code="""
class Interrupted(Exception):
    pass

def stop_after_first_epoch(line):
    print(line)
    if line.startswith("epoch 1/"):
        raise Interrupted("the laptop lid closed")

nb06.ex2.check(stop_after_first_epoch)
# then: fit(..., checkpoint_dir=folder, log=stop_after_first_epoch) inside try/except Interrupted,
# and fit(new_model(), ..., checkpoint_dir=folder, resume=True)
""",
)

ex3 = Exercise(
    "Notebook 06, exercise 3 (mixed precision on this CPU)",
    _check_difference,
    hints=(
        "Run the same model (in eval mode) on the same batch twice: once as it is, once inside "
        "`with torch.autocast('cpu', dtype=torch.bfloat16):`.",
        "difference = (bf16_logits.float() - fp32_logits).abs().max().item()",
    ),
    solution_code="""
with torch.no_grad():
    fp32_logits = model(**inputs).logits
    with torch.autocast("cpu", dtype=torch.bfloat16):
        bf16_logits = model(**inputs).logits.float()
difference = (bf16_logits - fp32_logits).abs().max().item()
nb06.ex3.check(difference)
""",
)

quiz = quiz(
    "06 · The full trainer",
    (
        "Why does the optimizer give the pretrained text layers a smaller learning rate than the new "
        "layers?",
        [
            ("Large updates would overwrite what the encoder already knows before the new layers have "
             "learned to use it.", True,
             "The new layers start random and need big steps; the pretrained layers are already good and "
             "need small adjustments. One large rate for both would wreck the pretrained weights early, "
             "when the gradients from random new layers are noisy."),
            ("Because pretrained layers have more parameters.", False,
             "The rate is about how far to move each weight, not how many weights there are."),
            ("Because the pretrained layers are frozen.", False,
             "Frozen layers get no updates at all; the small rate is for the top layers that do train."),
        ],
    ),
    (
        "In the ablation, text-only and image-only models are trained with the same recipe as fusion. "
        "Why the same recipe?",
        [
            ("So that the only difference is the modality removed, and the gap measures what that modality "
             "adds.", True,
             "An ablation changes one thing at a time. With a different learning rate, epoch count or seed, "
             "part of the gap would come from the recipe, and you could not say what the photo or the text "
             "is worth."),
            ("To save time: one recipe is written once.", False,
             "Reusing code is convenient, but the reason is the comparison: a fair ablation needs "
             "identical conditions."),
            ("Because single-modality models cannot use another recipe.", False,
             "They could; any recipe trains them. It would just make the comparison unfair."),
        ],
    ),
    (
        "Every photo is removed at test time. What does a good fused model do?",
        [
            ("Falls back to what the text says, close to the text-only model's accuracy.", True,
             "With image_present False, the gate closes and the model decides from the text; the "
             "robustness curve shows fusion within a couple of points of text-only, while image-only falls "
             "to a coin flip."),
            ("Falls to a coin flip, like the image-only model.", False,
             "That is what a model does that depends on the photo alone; the fused model still has the "
             "text."),
            ("Keeps its full accuracy.", False,
             "It cannot: ambiguous reviews need the photo, so without it those become a coin flip."),
        ],
    ),
    (
        "Why does fit reseed the random number generators at the start of every epoch (seed + epoch)?",
        [
            ("So that a run resumed from a checkpoint shuffles and drops out exactly like an unbroken run.",
             True,
             "A checkpoint holds weights, optimizer and scheduler, but not where the random generators were. "
             "Reseeding per epoch makes epoch 2 the same whether it follows epoch 1 in the same process or "
             "starts fresh, so a resumed run is reproducible."),
            ("To make every epoch see the reviews in the same order.", False,
             "The seed differs per epoch (seed + epoch), so each epoch has its own order; it is the same "
             "order on every run."),
            ("Because PyTorch forgets its seed after each epoch.", False,
             "PyTorch keeps its generator state; the reseeding is for runs that stop and resume."),
        ],
    ),
)
