"""mmsent.data: loading, validation, images, labels, splits (Dataset and collate: test_dataset.py)."""

from __future__ import annotations

import logging
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

import mmsent.data.images as images
import mmsent.paths
from mmsent.data import LabelVocab, load_reviews, split_table
from mmsent.data.images import DataError, ImageProblem, check_image, open_rgb

# ----------------------------------------------------------------------------- helpers


def png_with_declared_size(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header declares `width x height` 1-bit pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )
    return path


def only_problem(table, column: str) -> pd.Series:
    """The single problem record of a table, checking there is exactly one."""
    assert len(table.problems) == 1, table.problems
    record = table.problems.iloc[0]
    assert record["column"] == column
    return record


# ----------------------------------------------------------------------------- fatal problems


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(DataError, match=r"No review table at .*nowhere\.csv"):
        load_reviews(tmp_path / "nowhere.csv")


def test_missing_column_lists_found_and_needed(tiny_csv):
    csv = tiny_csv(edit=lambda f: f.rename(columns={"text": "Text"}))
    with pytest.raises(DataError) as error:
        load_reviews(csv)
    message = str(error.value)
    assert "missing column(s) ['text']" in message
    assert "Found columns: ['review_id', 'Text', 'image_path'" in message
    assert "columns={'Text': 'text'}" in message  # the suggested fix
    assert len(load_reviews(csv, columns={"Text": "text"})) == 8  # and the fix works


def test_fewer_than_two_classes(tiny_csv):
    with pytest.raises(
        DataError, match=r"1 class\(es\) in column 'label'.*\['positive'\].*at least 2 classes"
    ):
        load_reviews(tiny_csv(classes=("positive",)))


def test_empty_table(tiny_csv):
    with pytest.raises(DataError, match="has a header but no reviews"):
        load_reviews(tiny_csv(edit=lambda f: f.iloc[:0]))


def test_empty_file(tmp_path):
    (tmp_path / "reviews.csv").write_text("")
    with pytest.raises(DataError, match="is empty"):
        load_reviews(tmp_path / "reviews.csv")


def test_fewer_usable_rows_than_one_batch(tiny_csv):
    csv = tiny_csv(n=8, edit=lambda f: f.assign(text=["ok"] * 6 + ["", " "]))
    with pytest.raises(DataError, match=r"Only 6 usable reviews .* fewer than min_rows=32") as error:
        load_reviews(csv, min_rows=32)
    assert "empty text [skipped], 2 row(s): row 8 (r006), row 9 (r007)" in str(error.value)
    assert len(load_reviews(csv, min_rows=6)) == 6


def test_all_rows_unusable(tiny_csv):
    with pytest.raises(DataError, match="No usable reviews .* all 4 rows were skipped"):
        load_reviews(tiny_csv(n=4, edit=lambda f: f.assign(text="  ")))


def test_unknown_label_with_a_given_encoder(tiny_csv):
    encoder = LabelVocab(["negative", "positive"])
    csv = tiny_csv(n=6, classes=("negative", "positive", "neutral"))
    with pytest.raises(
        DataError, match=r"Unknown label\(s\) \['neutral'\] .* rows 4, 7\. .*knows \['negative', 'positive'\]"
    ):
        load_reviews(csv, labels=encoder)


# ----------------------------------------------------------------------------- row problems


@pytest.mark.parametrize("text", ["", "   ", "\t", None], ids=["blank", "spaces", "tab", "nan"])
def test_empty_text_skips_the_row_and_reports_it(tiny_csv, caplog, text):
    csv = tiny_csv(edit=lambda f: f.assign(text=f["text"].where(f.index != 2, text)))
    with caplog.at_level(logging.WARNING, logger="mmsent.data"):
        table = load_reviews(csv)
    record = only_problem(table, "text")
    assert (record["row"], record["review_id"], record["problem"], record["action"]) == (
        4,
        "r002",
        "empty text",
        "skipped",
    )
    assert "r002" not in set(table.frame["review_id"]) and len(table) == 7
    assert (
        len(caplog.records) == 1
        and "1 problem(s)" in caplog.text
        and "row 4 (r002): empty text" in caplog.text
    )


def test_review_text_na_is_text_not_missing(tiny_csv):
    table = load_reviews(tiny_csv(edit=lambda f: f.assign(text="NA")))
    assert table.problems.empty and set(table.frame["text"]) == {"NA"}


def test_missing_label_skips_the_row(tiny_csv):
    table = load_reviews(tiny_csv(edit=lambda f: f.assign(label=f["label"].where(f.index != 1, None))))
    record = only_problem(table, "label")
    assert (record["row"], record["problem"], record["action"]) == (3, "missing label", "skipped")


def test_blank_image_path_keeps_a_text_only_review(tiny_csv):
    table = load_reviews(
        tiny_csv(edit=lambda f: f.assign(image_path=f["image_path"].where(f.index != 0, None)))
    )
    record = only_problem(table, "image_path")
    assert (record["problem"], record["action"]) == ("no image path", "kept text-only")
    assert table.frame.loc[0, "image_path"] is None and len(table) == 8


def test_missing_image_file(tiny_csv):
    csv = tiny_csv()
    (csv.parent / "images/r003.png").unlink()
    table = load_reviews(csv)
    record = only_problem(table, "image_path")
    assert (record["row"], record["problem"], record["action"]) == (
        5,
        "image file not found",
        "kept text-only",
    )
    assert "r003.png" in record["detail"] and table.frame.loc[3, "image_path"] is None


def test_truncated_image(tiny_csv):
    csv = tiny_csv()
    noisy = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    path = csv.parent / "images/r001.png"
    Image.fromarray(noisy).save(path)
    path.write_bytes(path.read_bytes()[:6000])  # cut off in the middle of the pixel data
    record = only_problem(load_reviews(csv), "image_path")
    assert "truncated" in record["problem"] and record["action"] == "kept text-only"
    with pytest.raises(ImageProblem, match="truncated"):
        open_rgb(path)


def test_non_image_file(tiny_csv):
    csv = tiny_csv()
    (csv.parent / "images/r001.png").write_text("this is not a picture")
    record = only_problem(load_reviews(csv), "image_path")
    assert record["problem"] == "not an image"
    with pytest.raises(ImageProblem, match="not an image"):
        open_rgb(csv.parent / "images/r001.png")


def test_decompression_bomb_is_refused_from_the_header(tiny_csv):
    csv = tiny_csv()
    bomb = png_with_declared_size(csv.parent / "images/r001.png", 8000, 8000)  # 64 M pixels, 90 bytes
    start = time.perf_counter()
    record = only_problem(load_reviews(csv), "image_path")
    assert time.perf_counter() - start < 2  # nothing was decoded
    assert record["problem"] == "decompression bomb" and "64,000,000 pixels" in record["detail"]
    with pytest.raises(ImageProblem, match="decompression bomb"):
        open_rgb(png_with_declared_size(bomb, 30000, 30000))  # over PIL's own limit, too


def test_pixel_budget_is_a_module_constant(tmp_path, monkeypatch):
    path = tmp_path / "photo.png"
    Image.new("RGB", (20, 10)).save(path)
    check_image(path)
    monkeypatch.setattr(images, "MAX_PIXELS", 199)
    with pytest.raises(
        ImageProblem, match=r"decompression bomb \(20x10 = 200 pixels, over the budget of 199\)"
    ):
        check_image(path)


@pytest.mark.parametrize("cell", ["../../etc/passwd", "images/../../outside.png", "..\\..\\outside.png"])
def test_path_escaping_the_data_folder(tiny_csv, cell):
    csv = tiny_csv(edit=lambda f: f.assign(image_path=f["image_path"].where(f.index != 2, cell)))
    (csv.parent.parent / "outside.png").write_bytes((csv.parent / "images/r000.png").read_bytes())
    table = load_reviews(csv)
    record = only_problem(table, "image_path")
    assert (record["problem"], record["action"]) == ("path escapes the data folder", "kept text-only")
    assert table.frame.loc[2, "image_path"] is None


def test_absolute_paths_inside_the_data_folder_work_and_outside_need_a_flag(tiny_csv, tmp_path):
    """An absolute path inside the data folder works; one elsewhere is refused and reported unless
    allow_outside_paths=True (--allow-outside-paths)."""
    elsewhere = tmp_path / "elsewhere.png"
    Image.new("RGB", (8, 8), (255, 0, 0)).save(elsewhere)
    inside = tmp_path / "data/images/r001.png"
    absolute = [str(inside), str(elsewhere)]
    csv = tiny_csv(edit=lambda f: f.assign(image_path=absolute + list(f["image_path"][2:])))
    table = load_reviews(csv)
    assert table.frame["image_path"][:2].tolist() == [str(inside), None]
    (record,) = table.problems.to_dict("records")
    assert record["problem"] == "path escapes the data folder" and str(elsewhere) in record["detail"]
    assert "--allow-outside-paths" in record["detail"]
    trusted = load_reviews(csv, allow_outside_paths=True)
    assert trusted.problems.empty
    assert trusted.frame["image_path"][:2].tolist() == [str(inside), str(elsewhere)]


def test_report_counts_problems_and_names_rows(tiny_csv):
    csv = tiny_csv(edit=lambda f: f.assign(text=["", "ok", "", "ok", "ok", "ok", "ok", "ok"]))
    (csv.parent / "images/r003.png").unlink()
    report = load_reviews(csv).report()
    assert "8 rows read, 6 usable (2 negative, 4 positive)" in report
    assert "empty text [skipped], 2 row(s): row 2 (r000), row 4 (r002)" in report
    assert "image file not found [kept text-only], 1 row(s): row 5 (r003)" in report


# ----------------------------------------------------------------------------- image modes


def _saved(tmp_path: Path, image: Image.Image, name: str) -> Path:
    image.save(tmp_path / name)
    return tmp_path / name


def _palette_with_transparency() -> Image.Image:
    image = Image.new("P", (4, 4), 1)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)  # index 0 black, 1 red
    image.putpixel((0, 0), 0)
    image.info["transparency"] = 0
    return image


@pytest.mark.parametrize(
    ("name", "make", "expected"),
    [
        ("gray.png", lambda: Image.new("L", (4, 4), 100), (100, 100, 100)),
        ("bits.png", lambda: Image.new("1", (4, 4), 1), (255, 255, 255)),
        ("rgba.png", lambda: Image.new("RGBA", (4, 4), (255, 0, 0, 0)), (255, 255, 255)),  # clear -> white
        ("rgba_half.png", lambda: Image.new("RGBA", (4, 4), (255, 0, 0, 128)), (255, 127, 127)),
        ("la.png", lambda: Image.new("LA", (4, 4), (0, 255)), (0, 0, 0)),
        ("palette.png", lambda: Image.new("P", (4, 4), 0), (0, 0, 0)),
        ("palette_clear.png", _palette_with_transparency, (255, 255, 255)),  # pixel (0, 0) is transparent
        ("cmyk.jpg", lambda: Image.new("CMYK", (8, 8), (0, 255, 255, 0)), (254, 0, 0)),
        ("gray16.png", lambda: Image.fromarray(np.full((4, 4), 32896, np.uint16)), (128, 128, 128)),
        ("gray32.tif", lambda: Image.fromarray(np.full((4, 4), 65535, np.int32)), (255, 255, 255)),
    ],
)
def test_open_rgb_converts_every_mode(tmp_path, name, make, expected):
    source = make()
    image = open_rgb(_saved(tmp_path, source, name))
    assert image.mode == "RGB" and image.size == source.size
    assert np.abs(np.subtract(image.getpixel((0, 0)), expected)).max() <= 2, (
        source.mode,
        image.getpixel((0, 0)),
    )


def test_sixteen_bit_keeps_its_gradient(tmp_path):
    ramp = np.linspace(0, 65535, 16).astype(np.uint16).reshape(4, 4)
    path = _saved(tmp_path, Image.fromarray(ramp), "ramp16.png")
    assert Image.open(path).mode == "I;16"
    gray = np.asarray(open_rgb(path))[..., 0]
    assert gray.min() == 0 and gray.max() == 255 and np.all(np.diff(gray.ravel()) > 0)  # not clipped to white


def test_odd_modes_pass_the_load_time_check(tiny_csv):
    csv = tiny_csv()
    Image.fromarray(np.full((8, 8), 1000, np.uint16)).save(csv.parent / "images/r000.png")
    Image.new("CMYK", (8, 8)).save(csv.parent / "images/r001.png", format="JPEG")
    Image.new("LA", (8, 8)).save(csv.parent / "images/r002.png")
    assert load_reviews(csv).problems.empty


# ----------------------------------------------------------------------------- labels and columns


def test_label_vocab_round_trip_with_strings(tmp_path):
    encoder = LabelVocab.fit(["positive", "neutral", "negative", "neutral", None])
    assert encoder.classes == ["negative", "neutral", "positive"] and len(encoder) == 3
    ids = encoder.encode(["positive", "negative"])
    assert ids.dtype == np.int64 and ids.tolist() == [2, 0]
    assert encoder.decode(torch.tensor([2, 0, 1])) == ["positive", "negative", "neutral"]
    encoder.save(tmp_path / "labels.json")
    assert LabelVocab.load(tmp_path / "labels.json") == encoder
    with pytest.raises(DataError, match=r"Unknown label\(s\) \['mixed'\]"):
        encoder.encode(["mixed"])


def test_label_vocab_with_integer_labels_from_a_csv(tiny_csv, tmp_path):
    table = load_reviews(tiny_csv(n=9, classes=(10, 2, 1)))
    assert table.classes == ["1", "2", "10"]  # by value, not "1" < "10" < "2"
    assert table.frame["label_id"].tolist()[:3] == [2, 1, 0]
    assert LabelVocab.from_dict(table.labels.to_dict()).encode([1, 2.0, "10"]).tolist() == [0, 1, 2]


def test_saved_encoder_is_reused(tiny_csv):
    encoder = LabelVocab(["positive", "negative", "neutral"])  # order from training, not sorted
    table = load_reviews(tiny_csv(), labels=encoder)
    assert table.labels is encoder and table.frame["label_id"].tolist()[:2] == [1, 0]


def test_extra_columns_are_kept(tiny_csv):
    frame = load_reviews(tiny_csv()).frame
    assert {"rating", "price", "review_id", "csv_row", "label_id"} <= set(frame.columns)
    assert frame["rating"].dtype.kind == "i" and frame["price"].dtype.kind == "f"
    assert frame["csv_row"].tolist() == list(range(2, 10))


def test_table_without_labels_for_prediction(tiny_csv):
    csv = tiny_csv(edit=lambda f: f.drop(columns="label"))
    with pytest.raises(DataError, match=r"missing column\(s\) \['label'\]"):
        load_reviews(csv)
    table = load_reviews(csv, require_labels=False)
    assert len(table) == 8 and set(table.frame["label_id"]) == {-1}


# ----------------------------------------------------------------------------- splits


def test_stratified_split_keeps_every_class_everywhere(tiny_csv):
    table = load_reviews(tiny_csv(n=30, classes=("a", "b", "c")))
    parts = split_table(table, val_frac=0.2, test_frac=0.2, seed=1)
    assert [len(parts[name]) for name in ("train", "val", "test")] == [18, 6, 6]
    assert all(set(part["label"]) == {"a", "b", "c"} for part in parts.values())
    ids = pd.concat(parts.values())["review_id"]
    assert ids.is_unique and len(ids) == 30
    again = split_table(table, val_frac=0.2, test_frac=0.2, seed=1)
    assert again["val"]["review_id"].tolist() == parts["val"]["review_id"].tolist()
    other = split_table(table, val_frac=0.2, test_frac=0.2, seed=2)
    assert other["val"]["review_id"].tolist() != parts["val"]["review_id"].tolist()


def test_small_classes_still_reach_every_split(tiny_csv):
    table = load_reviews(tiny_csv(n=8))  # 4 per class: 10 % of 4 rounds to 0, but each split gets one
    parts = split_table(table, val_frac=0.1, test_frac=0.1)
    assert [len(parts[name]) for name in ("train", "val", "test")] == [4, 2, 2]
    assert all(set(part["label"]) == {"negative", "positive"} for part in parts.values())


def test_split_column_is_used(tiny_csv):
    csv = tiny_csv(edit=lambda f: f.assign(split=["train"] * 4 + [" Val", "val", "test", "test"]))
    table = load_reviews(csv)
    assert table.frame["split"].tolist()[3:5] == ["train", "val"]  # " Val" normalised at load
    assert split_table(table)["val"]["review_id"].tolist() == ["r004", "r005"]
    assert len(split_table(table)["train"]) == 4


def test_split_column_with_an_unknown_value(tiny_csv):
    table = load_reviews(tiny_csv(edit=lambda f: f.assign(split=["train"] * 6 + ["validation", "test"])))
    with pytest.raises(
        DataError, match=r"value\(s\) \['validation'\] in rows 8; use 'train', 'val' or 'test'"
    ):
        split_table(table)


def test_empty_split_is_an_error(tiny_csv):
    table = load_reviews(tiny_csv(edit=lambda f: f.assign(split="train")))
    with pytest.raises(DataError, match="The 'val' split would be empty"):
        split_table(table)
    tiny = load_reviews(tiny_csv(n=2))  # one review per class: nothing left to validate on
    with pytest.raises(DataError, match="The 'val' split would be empty"):
        split_table(tiny)


# ----------------------------------------------------------------------------- the bundled data


def test_bundled_reviews_load_cleanly():
    assert mmsent.paths.REVIEWS_CSV.is_file(), "data/reviews.csv is missing: python -m mmsent make-data"
    table = load_reviews()
    assert table.problems.empty, table.report()
    assert table.classes == ["negative", "positive"]
    assert all(len(part) for part in split_table(table).values())
