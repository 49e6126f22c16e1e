"""The data edge: label normalisation, CSV header checks and photo checks (no training here)."""

from __future__ import annotations

import logging
import os

import pytest
from PIL import Image

from mmsent.data import DataError, ImageProblem, check_image, load_reviews
from mmsent.data.csvfile import pandas_engine
from mmsent.data.labels import label_name, merge_case_variants
from mmsent.data.photo_store import PhotoStore

# ----------------------------------------------------------------------------- labels


@pytest.mark.parametrize(
    ("cell", "name"),
    [(1, "1"), (1.0, "1"), ("1.0", "1"), (" +1 ", "1"), ("01", "1"), ("１", "1"), ("-2.00", "-2"),
     (" very\u00a0 good ", "very good"), ("ﬁne", "fine"), ("1.5", "1.5"), ("positive", "positive")],
)  # fmt: skip
def test_label_names_are_normalised(cell, name):
    assert label_name(cell) == name


@pytest.mark.parametrize(
    "cell", [None, float("nan"), "", "  ", "NaN", "nan", "None", "N/A", "n/a", "NA", "null"]
)
def test_missing_label_spellings_are_missing(cell):
    assert label_name(cell) is None


def test_integer_labels_written_as_floats_are_one_class(tiny_csv):
    """A pandas export of an int column with a gap writes 1.0: still 2 classes, not 4."""
    csv = tiny_csv(n=8, edit=lambda f: f.assign(label=["0", "1", "0.0", "1.0", "0", "1.0", "0", "1"]))
    table = load_reviews(csv)
    assert table.classes == ["0", "1"]
    assert table.frame["label_id"].tolist() == [0, 1] * 4


def test_missing_label_cells_are_skipped_and_reported_by_row(tiny_csv):
    cells = ["positive", "NaN", "negative", "None", "positive", "N/A", "negative", "null"]
    table = load_reviews(tiny_csv(n=8, edit=lambda f: f.assign(label=cells)))
    assert table.classes == ["negative", "positive"]
    assert len(table) == 4
    missing = table.problems[table.problems["problem"] == "missing label"]
    assert missing["row"].tolist() == [3, 5, 7, 9]  # the header is row 1
    assert "'N/A'" in missing["detail"].iloc[2]


def test_case_variants_merge_into_one_class_and_are_reported(tiny_csv, caplog):
    cells = ["Positive", "negative", "positive", "negative", "positive", "negative", "Positive", "negative"]
    with caplog.at_level(logging.WARNING):
        table = load_reviews(tiny_csv(n=8, edit=lambda f: f.assign(label=cells)))
    assert table.classes == ["negative", "positive"]
    assert "differ only in case" in caplog.text and "differ only in case" in table.report()


def test_case_folding_follows_a_saved_encoder_unless_it_separates_case():
    assert merge_case_variants(["POS", "neg"], known=["neg", "pos"])[0] == {"POS": "pos"}
    assert merge_case_variants(["POS"], known=["Pos", "pos"]) == ({}, [])  # ambiguous: exact only


# ----------------------------------------------------------------------------- columns


def test_a_columns_pair_naming_an_absent_column_names_the_file_columns(tiny_csv):
    with pytest.raises(DataError, match=r"--columns names \['reviewText'\].*'review_id', 'text'"):
        load_reviews(tiny_csv(), columns={"reviewText": "text"})


def test_renaming_onto_an_existing_column_is_refused(tiny_csv):
    csv = tiny_csv(edit=lambda f: f.assign(review=f["text"]))
    with pytest.raises(DataError, match=r"two columns named \['text'\]"):
        load_reviews(csv, columns={"review": "text"})


def test_two_columns_with_one_name_are_refused(tiny_csv):
    csv = tiny_csv()
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join([lines[0] + ",label"] + [line + ",x" for line in lines[1:]]) + "\n")
    with pytest.raises(DataError, match=r"more than one column named \['label'\]"):
        load_reviews(csv)


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_separated_files_are_read(tiny_csv, delimiter):
    csv = tiny_csv()
    plain = load_reviews(csv)
    csv.write_text(csv.read_text().replace(",", delimiter))
    table = load_reviews(csv)
    assert table.frame["text"].tolist() == plain.frame["text"].tolist()
    assert table.frame["image_path"].tolist() == plain.frame["image_path"].tolist()


def test_a_csv_that_is_a_pipe_is_refused_without_reading(tmp_path):
    fifo = tmp_path / "reviews.csv"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="not a regular file"):
        load_reviews(fifo)


# ----------------------------------------------------------------------------- photos


def test_a_long_thin_photo_is_refused_before_resizing(tmp_path):
    """4,000,000 x 10 px: under the pixel budget, a few KB, but the resize would need gigabytes."""
    strip = tmp_path / "strip.png"
    Image.new("L", (4_000_000, 10)).save(strip)
    assert strip.stat().st_size < 100_000
    with pytest.raises(ImageProblem, match="too long, too wide or too narrow.*4000000x10") as caught:
        check_image(strip)
    assert caught.value.problem == "image too long, too wide or too narrow"


def test_a_pipe_named_as_a_photo_is_refused_without_hanging(tiny_csv):
    csv = tiny_csv()
    photo = csv.parent / "images" / "r002.png"
    photo.unlink()
    os.mkfifo(photo)
    table = load_reviews(csv)
    (record,) = table.problems.to_dict("records")
    assert record["problem"] == "not a regular file" and record["action"] == "kept text-only"


def test_a_photo_url_of_another_scheme_is_refused_and_offline_downloads_nothing(tiny_csv, tmp_path):
    urls = ["ftp://example.com/p/1.png", "https://example.com/p/2.png"]
    table = load_reviews(
        tiny_csv(edit=lambda f: f.assign(image_path=urls + list(f["image_path"][2:]))),
        photos=PhotoStore(tmp_path / "photos", offline=True),  # no request leaves the machine
    )
    ftp, https = table.problems.to_dict("records")
    assert ftp["problem"] == "unsupported photo URL"
    assert "only http:// and https:// photo URLs are downloaded" in ftp["detail"]
    assert https["problem"] == "photo download: not allowed (offline)" and urls[1] in https["detail"]


def test_a_symlink_inside_the_data_folder_that_leads_outside_is_refused(tiny_csv, tmp_path):
    outside = tmp_path / "secret.png"
    Image.new("RGB", (8, 8)).save(outside)
    csv = tiny_csv()
    (csv.parent / "images" / "link.png").symlink_to(outside)
    table = load_reviews(csv_with(csv, "images/link.png"))
    (record,) = table.problems.to_dict("records")
    assert record["problem"] == "path escapes the data folder"
    assert "symbolic link" in record["detail"] and str(outside) in record["detail"]
    assert load_reviews(csv, allow_outside_paths=True).problems.empty


def csv_with(csv, first_path: str):
    """Rewrite `csv` with `first_path` as the first row's image_path; returns the path."""
    lines = csv.read_text().splitlines()
    lines[1] = lines[1].replace("images/r000.png", first_path)
    csv.write_text("\n".join(lines) + "\n")
    return csv


def test_a_nul_character_in_a_photo_path_is_reported(tiny_csv):
    table = load_reviews(csv_with(tiny_csv(), "images/r0\x0000.png"))
    (record,) = table.problems.to_dict("records")
    assert record["problem"] == "unreadable image file" and "NUL" in record["detail"]


def test_a_file_with_a_nul_is_read_by_the_engine_that_keeps_it(tiny_csv):
    """pandas 2.0's C engine ends a cell at a NUL; its Python engine keeps the whole cell."""
    csv = tiny_csv()
    assert pandas_engine(csv) == "c"
    assert pandas_engine(csv_with(csv, "images/r0\x0000.png"), chunk_bytes=7) == "python"


def test_blank_lines_before_the_header_are_skipped(tiny_csv):
    csv = tiny_csv()
    csv.write_text("\n\n" + csv.read_text().replace(",", ";"))
    assert len(load_reviews(csv)) == 8
