"""`predict --data`: one output row per input row, in input order, each with a status; streamed in chunks."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from conftest import write_tiny_csv

from mmsent.apply.batch import predict_csv
from mmsent.cli import main as cli
from mmsent.models import MultimodalSentimentModel
from mmsent.train import TrainConfig, predict_reviews


def _new_reviews(folder):
    """11 unlabelled reviews: row 3's text is blank, row 5's photo is broken, row 7 has no photo."""

    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.drop(columns="label")
        frame.loc[3, "text"] = "   "
        frame.loc[7, "image_path"] = ""
        return frame

    csv = write_tiny_csv(folder, n=11, edit=edit)
    (csv.parent / "images" / "r005.png").write_bytes(b"not a png")
    return csv


def test_one_row_out_per_row_in_with_a_status(tiny_model_dir, tmp_path):
    csv = _new_reviews(tmp_path / "new")
    model = MultimodalSentimentModel.from_pretrained(tiny_model_dir)
    labels, config = model.config.label_vocab(), TrainConfig.from_dict(model.config.recipe)
    out = tmp_path / "predictions.csv"
    # chunks of 4 rows: the file is read in three pieces, each row keeps its CSV row number
    summary = predict_csv(model, csv, out, labels=labels, config=config, chunk_rows=4, progress=False)
    table = pd.read_csv(out, keep_default_na=False, na_values=[""])
    assert list(table["review_id"]) == [f"r{i:03d}" for i in range(11)]
    assert list(table["csv_row"]) == list(range(2, 13))
    assert table.loc[3, "status"] == "skipped: empty text" and pd.isna(table.loc[3, "predicted_label"])
    assert table.loc[5, "status"].startswith("text-only: ") and table.loc[5, "gate"] == 0.0
    assert table.loc[7, "status"] == "text-only: no image path"
    ok = table.drop(index=[3, 5, 7])
    assert (ok["status"] == "ok").all() and (ok["gate"] > 0).all()
    probabilities = table[[f"p_{name}" for name in labels.classes]].drop(index=3).to_numpy()
    np.testing.assert_allclose(probabilities.sum(1), 1.0, atol=1e-4)
    assert summary.rows == 11 and summary.skipped == 1 and summary.text_only == 2 and summary.scored == 10

    # the same numbers as predicting the reviews one call at a time
    rows = [0, 1, 2, 4, 6]
    source = pd.read_csv(csv)
    photos = [csv.parent / source.loc[i, "image_path"] for i in rows]
    alone = predict_reviews(model, list(source.loc[rows, "text"]), photos, labels, config)
    np.testing.assert_allclose(probabilities[[0, 1, 2, 3, 5]], alone.probabilities, atol=1e-4)
    assert list(table.loc[rows, "predicted_label"]) == labels.decode(alone.labels)


def test_cli_writes_the_file_and_refuses_bad_flags(tiny_model_dir, tmp_path, capsys):
    csv = write_tiny_csv(tmp_path / "labelled", n=6, classes=("good", "bad"))
    out = tmp_path / "out.csv"
    argv = ["predict", "--model", str(tiny_model_dir), "--data", str(csv), "--out", str(out), "--no-progress"]
    assert cli.main(argv) == 0
    table = pd.read_csv(out)
    assert list(table["label"]) == ["good", "bad"] * 3  # the input's labels, carried through
    assert set(table["predicted_label"]) <= {"good", "meh", "bad"}
    assert "6 rows: 6 predicted" in capsys.readouterr().err
    for bad in (argv, argv[:5], [*argv[:5], "--out", str(csv)], [*argv, "--overwrite", "--image", "x.png"]):
        assert cli.main(bad) == 2
        error = capsys.readouterr().err
        assert error.startswith("error: ") and "Traceback" not in error
    # the table is checked before any model is loaded
    assert cli.main(["predict", "--model", str(tmp_path / "none"), "--data", str(tmp_path / "none.csv"),
                     "--out", str(tmp_path / "p.csv")]) == 2  # fmt: skip
    assert "No review table at" in capsys.readouterr().err
    assert cli.main([*argv, "--overwrite"]) == 0 and len(pd.read_csv(out)) == 6
    assert not list(tmp_path.glob(".*.part"))  # no half-written file left behind


def test_photos_shared_and_cached_give_the_pixel_predictions(tiny_model_dir, tmp_path, monkeypatch):
    def repeat_photos(frame: pd.DataFrame) -> pd.DataFrame:  # 9 rows over 3 photos, one row without
        frame["image_path"] = [f"images/r{i % 3:03d}.png" for i in range(9)]
        frame.loc[4, "image_path"] = ""
        return frame

    csv = write_tiny_csv(tmp_path / "new", n=9, edit=repeat_photos)
    cache = tmp_path / "features"
    monkeypatch.setenv("MMSENT_CACHE_DIR", str(cache))
    model = MultimodalSentimentModel.from_pretrained(tiny_model_dir)
    labels, config = model.config.label_vocab(), TrainConfig.from_dict(model.config.recipe)
    columns = [*(f"p_{name}" for name in labels.classes), "gate"]

    def run(name: str, config: TrainConfig) -> pd.DataFrame:
        predict_csv(model, csv, tmp_path / name, labels=labels, config=config, chunk_rows=5, progress=False)
        return pd.read_csv(tmp_path / name)

    pixels = run("pixels.csv", replace(config, cache_image_features=False))
    assert not cache.exists()  # the pixel path neither reads nor writes the cache
    cold = run("cold.csv", config)  # 3 photos encoded, in the first chunk of 5 rows
    assert len(list(cache.rglob("*.safetensors"))) == 3
    warm = run("warm.csv", config)  # every photo read back from the disk cache
    for shared in (cold, warm):
        assert list(shared["status"]) == list(pixels["status"])
        np.testing.assert_allclose(shared[columns].to_numpy(), pixels[columns].to_numpy(), atol=1e-5)
    assert warm.loc[4, "gate"] == 0.0 and (warm.drop(index=4)["gate"] > 0).all()


def test_csv_row_is_the_file_line_as_train_and_evaluate_number_it(tiny_model_dir, tmp_path):
    """Blank lines and a two-line cell: each output row's csv_row (and its status) names the file line its
    review starts on, the loader's numbers, across chunks."""
    from mmsent.data import load_reviews

    csv = tmp_path / "blank.csv"
    csv.write_text('review_id,text,image_path\n\nr0,first,\n\nr1,"two\nlines",\nr2,   ,\n\nr3,last,\n')
    model = MultimodalSentimentModel.from_pretrained(tiny_model_dir)
    labels, config = model.config.label_vocab(), TrainConfig.from_dict(model.config.recipe)
    predict_csv(model, csv, tmp_path / "out.csv", labels=labels, config=config, chunk_rows=2, progress=False)
    table = pd.read_csv(tmp_path / "out.csv", keep_default_na=False, na_values=[""])
    assert list(table["review_id"]) == ["r0", "r1", "r2", "r3"] and list(table["csv_row"]) == [3, 5, 7, 9]
    loaded = load_reviews(csv, require_labels=False, check_images=False)
    assert list(loaded.frame["csv_row"]) == [3, 5, 9] and list(loaded.problems["row"]) == [3, 5, 7, 9]
    assert table.loc[2, "status"] == "skipped: empty text" and pd.isna(table.loc[2, "predicted_label"])
    assert table.drop(index=2)["predicted_label"].notna().all()  # each prediction on its own row
