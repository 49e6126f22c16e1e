"""Notebook 12 (ship it): checks for its exercises, and its quiz.

    from mmsent.exercises import nb12
    nb12.ex1.check(sizes)                       # rows 0, 2, "all": model.safetensors (MB), numbers (M)
    nb12.ex2.check(message)                     # what from_pretrained said about the changed encoders
    nb12.ex3.check(asked, classes=classes)      # one row per text: label, p(negative), gate
    nb12.ex4.check(predictions, new=new)        # predict_csv's output table for the 20 reviews
    nb12.quiz

The checks read the learner's tables and messages; they load and train nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from mmsent.exercises.framework import Exercise, expect
from mmsent.exercises.quiz import quiz

TEXTS = ("This phone is 🔥🔥🔥", "Great phone, love it", "Terrible, it broke")


def _check_sizes(sizes: pd.DataFrame) -> str:
    expect(isinstance(sizes, pd.DataFrame), "give a table: one row per train_text_layers (0, 2, 'all')")
    columns = ["model.safetensors (MB)", "text encoder numbers (M)", "heads numbers (M)"]
    missing = [c for c in columns if c not in sizes]
    expect(not missing, f"your table has no column {missing}")
    rows = [0, 2, "all"]
    absent = [r for r in rows if r not in sizes.index]
    expect(not absent, f"no row {absent}: one per train_text_layers, 0, 2 and None (labelled 'all')")
    mb, text, heads = (sizes.loc[rows, column].astype(float) for column in columns)
    expect(
        text[0] == 0,
        f"with train_text_layers=0 you count {text[0]} M text encoder numbers: nothing of the "
        "frozen encoder is stored; count only trained_weights(model)",
    )
    expect(
        heads.nunique() == 1,
        f"your heads differ ({heads.tolist()}): the heads are the same in the three "
        "models; only the text encoder's share changes",
    )
    expect(
        mb[0] < mb[2] < mb["all"],
        f"your sizes {mb.tolist()} MB should grow with the fine-tuned layers: "
        "read (folder / 'model.safetensors').stat().st_size of each folder",
    )
    return f"{mb[0]:.2f} MB -> {mb['all']:.2f} MB: the text encoder's trained share makes the difference"


def _check_message(message: object) -> str:
    expect(
        message != "",
        "from_pretrained accepted the changed encoders (message is empty): change a weight of the encoders "
        "you pass (encoders=changed), and catch CheckpointError into `message`",
    )
    expect(isinstance(message, str), f"give the error's message, str(error), not a {type(message).__name__}")
    expect(
        "encoder_fingerprint" in message,
        "that message does not speak of the encoders' fingerprint: is it "
        "the CheckpointError of from_pretrained(model_folder, encoders=changed)?",
    )
    return "the folder is refused: the fingerprint of the frozen encoders does not match"


def _check_asked(asked: pd.DataFrame, classes: Sequence[str]) -> str:
    expect(isinstance(asked, pd.DataFrame), "give a table: one row per text, columns label and gate")
    missing = [t for t in TEXTS if t not in asked.index]
    expect(not missing, f"no row for {missing}: send the burnt photo with each of the three texts")
    expect({"label", "gate"} <= set(asked.columns), "your table needs the columns `label` and `gate`")
    expect(
        set(asked["label"]) <= set(classes),
        f"your labels {sorted(set(asked['label']))} are not the model's "
        f"classes {list(classes)}: read label['label'] from the demo's answer",
    )
    gates = asked["gate"].astype(float)
    expect(gates.between(0, 1).all(), f"a gate is in [0, 1]; yours are {gates.round(3).tolist()}")
    expect(
        asked.loc["Terrible, it broke", "label"] == "negative",
        "'Terrible, it broke' came back positive: "
        "did each text go with the burnt photo, to the demo you served?",
    )
    return "labels and gates as the demo page shows them, from Python"


def _check_predictions(predictions: pd.DataFrame, new: pd.DataFrame) -> str:
    expect(isinstance(predictions, pd.DataFrame), "give predict_csv's output table (pd.read_csv of it)")
    expect(
        len(predictions) == len(new),
        f"{len(predictions)} output rows for {len(new)} input rows: every "
        "input row gets its output row, a broken one included",
    )
    expect(
        list(predictions["review_id"]) == list(new["review_id"]),
        "your rows are not in the input's order (review_id)",
    )
    blank_text = new.index[new["text"].fillna("").str.strip() == ""]
    no_photo = new.index[new["image_path"].isna()]
    expect(len(blank_text) == 1 and len(no_photo) == 1, "blank one text ('') and one photo (None) of `new`")
    status = predictions["status"]
    expect(
        status[blank_text[0]].startswith("skipped"),
        f"the row with a blank text says {status[blank_text[0]]!r}: it should be skipped, not predicted",
    )
    expect(
        status[no_photo[0]].startswith("text-only"),
        f"the row without a photo says {status[no_photo[0]]!r}: it should be scored on its text alone",
    )
    return "one output row per input row, in order; the broken rows say why in `status`"


ex1 = Exercise(
    "Notebook 12, exercise 1 (what is stored, and why?)",
    _check_sizes,
    hints=(
        "MultimodalSentimentModel(SentimentModelConfig(labels=classes, train_text_layers=layers), "
        "encoders).save_pretrained(folder, ...)",
        "mmsent.hub.pretrained.trained_weights(model) is what is stored: split its numbers into "
        "text_model.* and the rest.",
    ),
    solution_code="""
rows = {}
for layers in (0, 2, None):
    model = MultimodalSentimentModel(SentimentModelConfig(labels=classes, train_text_layers=layers), encoders)
    folder = model.save_pretrained(RUNS / f"layers-{layers}", table.labels)
    stored = trained_weights(model)
    text = sum(t.numel() for name, t in stored.items() if name.startswith("text_model."))
    rows["all" if layers is None else layers] = {
        "model.safetensors (MB)": (folder / "model.safetensors").stat().st_size / 1e6,
        "text encoder numbers (M)": text / 1e6,
        "heads numbers (M)": (sum(t.numel() for t in stored.values()) - text) / 1e6,
    }
sizes = pd.DataFrame(rows).T
""",
)

ex2 = Exercise(
    "Notebook 12, exercise 2 (catch the wrong encoders)",
    _check_message,
    hints=(
        "changed = load_encoders(profile); change one weight under torch.no_grad().",
        "try: MultimodalSentimentModel.from_pretrained(model_folder, encoders=changed) "
        "except CheckpointError as error: message = str(error)",
    ),
    solution_code="""
changed = load_encoders(profile)
with torch.no_grad():
    changed.image_model.visual_projection.weight[0, 0] += 1e-3
try:
    MultimodalSentimentModel.from_pretrained(model_folder, encoders=changed)
    message = ""  # accepted: no error to read
except CheckpointError as error:
    message = str(error)
""",
)

ex3 = Exercise(
    "Notebook 12, exercise 3 (ask the demo from Python)",
    _check_asked,
    hints=(
        "client.predict(text, handle_file(burnt_photo), api_name='/predict') returns (label, gate text, "
        "...).",
        "Collect {text: {'label': ..., 'gate': ...}} and make it a table: pd.DataFrame(asked).T",
    ),
    solution_code="""
asked = {}
for text in ("This phone is 🔥🔥🔥", "Great phone, love it", "Terrible, it broke"):
    label, gate, _ = client.predict(text, handle_file(burnt), api_name="/predict")
    asked[text] = {"label": label["label"], "gate": float(gate.split("**Gate ")[1].split("**")[0])}
asked = pd.DataFrame(asked).T
""",
)

ex4 = Exercise(
    "Notebook 12, exercise 4 (label a whole file)",
    _check_predictions,
    hints=(
        "new = frames['test'].head(20)[['review_id', 'text', 'image_path']]; blank one text and one path.",
        "predict_csv(model, csv, out, labels=..., config=recipe, allow_outside_paths=True); read `out` back.",
    ),
    solution_code="""
new = frames["test"].head(20)[["review_id", "text", "image_path"]].reset_index(drop=True)
new.loc[3, "text"] = ""
new.loc[7, "image_path"] = None
new.to_csv(RUNS / "new_reviews.csv", index=False)
predict_csv(fusion, RUNS / "new_reviews.csv", RUNS / "predictions.csv", labels=table.labels,
            config=recipe, allow_outside_paths=True, progress=False)
predictions = pd.read_csv(RUNS / "predictions.csv")
""",
)

quiz = quiz(
    "12 · Ship it",
    (
        "Why does model.safetensors hold only the weights training changed?",
        [
            (
                "The frozen encoders come back from their own source, so storing them again is waste.",
                True,
                "A frozen CLIP or MiniLM is identical to its published copy; config.json names it and a "
                "fingerprint checks it at load time. The folder keeps what is new: the heads and the "
                "fine-tuned text layers.",
            ),
            (
                "Safetensors cannot store large tensors.",
                False,
                "It stores tensors of any size (whole language models ship as safetensors); the choice is "
                "about "
                "what needs storing.",
            ),
            (
                "The frozen weights are random and need no storing.",
                False,
                "They are pretrained, not random; that is exactly why they can be reloaded from their "
                "source.",
            ),
        ],
    ),
    (
        "What does the encoders' fingerprint protect against?",
        [
            (
                "Loading the heads on top of different encoders, which would silently change the "
                "predictions.",
                True,
                "The heads were trained on the features of particular encoders. With other encoders the "
                "model "
                "still runs and predicts, just differently: a silent error that the fingerprint turns into a "
                "message at load time.",
            ),
            (
                "Someone reading the weights.",
                False,
                "A hash is not encryption: the fingerprint says whether weights match, it hides nothing.",
            ),
            (
                "A corrupted download of model.safetensors.",
                False,
                "The manifest's checksums cover the folder's files; the fingerprint is about the frozen "
                "encoders, "
                "which are not in the folder.",
            ),
        ],
    ),
    (
        "What is the model card for?",
        [
            (
                "To say, for people and machines, what the model is, how good it is, and what it must not be "
                "used for.",
                True,
                "The card's YAML metadata feeds the hub's search and leaderboards; its text gives the data, "
                "the "
                "scores with their ablations, the limits and how to load it. A model without one cannot be "
                "used responsibly by anyone but its author.",
            ),
            (
                "To store the weights in a readable format.",
                False,
                "The weights are in model.safetensors; the card is documentation.",
            ),
            (
                "To make the model load faster.",
                False,
                "Loading reads config.json and the weights; the card plays no part in it.",
            ),
        ],
    ),
)
