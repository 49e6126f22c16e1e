"""`import-amazon`: the Amazon Reviews 2023 JSON Lines format in, a CSV that `train` reads out.

The fixture (tests/fixtures/amazon_*.jsonl) is written by hand in the release's exact shape, with a
cut-off line, a 6-star rating, a blank line, reviews without a photo, a product missing from the meta
file, a malformed meta line, unicode and emoji. Photos are served by a server on 127.0.0.1.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import load_script
from huggingface_hub import ModelCard

from mmsent.cli import main as cli
from mmsent.data.amazon import import_amazon
from mmsent.data.summary import AMAZON_HUB_ID

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REVIEWS, META = FIXTURES / "amazon_reviews.jsonl", FIXTURES / "amazon_meta.jsonl"
CDN = "https://m.media-amazon.com"

photo_server = load_script("bench/photo_server.py")


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    out = tmp_path_factory.mktemp("amazon")
    report = import_amazon(REVIEWS, out, META)
    return report, pd.read_csv(out / "reviews.csv", dtype=str, keep_default_na=False)


def test_every_line_is_imported_dropped_or_reported_malformed(imported):
    report, frame = imported
    assert (report.lines, report.imported, report.dropped_neutral) == (14, 10, 1)
    assert [number for number, _ in report.malformed] == [4, 7, 8]
    reasons = dict(report.malformed)
    assert reasons[4] == "not JSON (Invalid control character at column 72)"  # "at" once
    assert reasons[4].startswith("not JSON") and "rating 6.0" in reasons[7] and reasons[8] == "blank line"
    assert report.imported + report.dropped_neutral + len(report.malformed) == report.lines
    assert len(frame) == report.imported and dict(report.labels) == {"negative": 5, "positive": 5}
    assert [number for number, _ in report.meta_malformed] == [3] and report.meta_products == 3
    text = (report.csv_path.parent / "import_report.txt").read_text(encoding="utf-8")
    assert "14 lines: 10 imported, 1 dropped by the rating rule (3 stars), 0 duplicates (kept once), " in text
    assert "    7: rating 6.0 is not a number from 1 to 5" in text


def test_columns_photos_meta_and_unicode(imported):
    report, frame = imported
    first = frame.iloc[0]
    assert first["text"] == "Love it. Sturdy lamp, warm light, arrived well packed."
    assert first["image_path"] == f"{CDN}/images/I/71LampA1._SL800_.jpg"  # the first photo, medium size
    assert first["product_image_path"] == f"{CDN}/images/I/41LampMain.jpg"  # the MAIN variant, not PT01
    assert (first["label"], first["rating"], first["price"], first["store"]) == (
        "positive",
        "5",
        "19.99",
        "Lumière",
    )
    assert frame.loc[1, "text"] == "Arrivé cassé 😡. L'écran était fissuré — très déçu."
    assert frame.loc[1, "price"] == "249.0" and frame.loc[1, "store"] == "Büro & Co"
    assert "🔥🔥🔥" in frame.loc[3, "text"] and frame.loc[4, "text"] == "最高です！ とても良い電話です 👍"
    kettle = frame[frame["parent_asin"] == "B0KETTLE00"]  # no photo, no meta
    assert (
        len(kettle) == 2
        and (kettle[["image_path", "product_image_path", "price", "store"]] == "").all().all()
    )
    assert (frame["image_path"] != "").sum() == report.with_photo == 8 and report.with_meta == 8
    assert frame.loc[frame["parent_asin"] == "B0MUG00000", "price"].eq("").all()  # meta price null


def test_review_ids_are_stable_across_order_and_compression(imported, tmp_path):
    _, frame = imported
    lines = REVIEWS.read_bytes().splitlines(keepends=True)
    shuffled = tmp_path / "reviews.jsonl.gz"
    with gzip.open(shuffled, "wb") as file:
        file.writelines(reversed(lines))
    report = import_amazon(shuffled, tmp_path / "out", META, three_classes=True)
    again = pd.read_csv(tmp_path / "out" / "reviews.csv", dtype=str, keep_default_na=False)
    assert report.imported == 11 and report.labels["neutral"] == 1 and report.dropped_neutral == 0
    assert frame["review_id"].str.fullmatch(r"a[0-9a-f]{16}").all() and frame["review_id"].is_unique
    same = again.set_index("review_id").loc[frame["review_id"], "text"]
    assert same.tolist() == frame["text"].tolist()


def test_import_then_train_works_unchanged(tmp_path, capsys):
    """import-amazon on the fixture, photos served locally, then `train --data OUT/reviews.csv`."""
    with photo_server.PhotoServer() as server:
        local = tmp_path / "reviews.jsonl"
        local.write_text(
            REVIEWS.read_text(encoding="utf-8").replace(CDN, server.url("/photo")), encoding="utf-8"
        )
        out = tmp_path / "amazon"
        assert cli.main(["import-amazon", str(local), "--meta", str(META), "--out", str(out)]) == 0
        assert "next: python -m mmsent train --data" in capsys.readouterr().out
        assert cli.main(["import-amazon", str(local), "--out", str(out)]) == 2  # no silent overwrite
        assert "--overwrite" in capsys.readouterr().err
        report = tmp_path / "report"
        argv = ["train", "--data", str(out / "reviews.csv"), "--profile", "tiny", "--epochs", "1",
                "--batch-size", "2", "--models", "fusion", "--photo-dir", str(tmp_path / "photos"),
                "--report-dir", str(report), "--no-progress"]  # fmt: skip
        assert cli.main(argv) == 0
        # the imported file labelled by the trained model: one row out per review in, in order
        predictions = tmp_path / "predictions.csv"
        argv = ["predict", "--model", str(report / "model"), "--data", str(out / "reviews.csv"), "--out",
                str(predictions), "--photo-dir", str(tmp_path / "photos"), "--no-progress"]  # fmt: skip
        assert cli.main(argv) == 0
    labelled = pd.read_csv(predictions, dtype={"review_id": str})
    imported = pd.read_csv(out / "reviews.csv", dtype={"review_id": str})
    assert list(labelled["review_id"]) == list(imported["review_id"])
    assert list(labelled["label"]) == list(imported["label"])  # the stars' labels, carried through
    assert (labelled["status"] == "ok").sum() == 8  # the two photo-less reviews: scored on their text
    assert set(labelled.loc[labelled["status"] != "ok", "status"]) == {"text-only: no image path"}
    metrics = json.loads((report / "metrics.json").read_text())
    assert sum(metrics["run"]["rows"].values()) == 10
    problems = pd.read_csv(report / "skipped_rows.csv")
    assert set(problems["problem"]) == {"no image path"} and len(problems) == 2  # the two photo-less reviews

    # the model card says what the model was trained on, in its metadata and in its prose
    card_path = report / "model" / "README.md"
    card = ModelCard.load(card_path)
    assert card.data.datasets == [AMAZON_HUB_ID]
    result = card.data.eval_results[0]
    assert result.dataset_type == AMAZON_HUB_ID and result.dataset_name.startswith("Amazon Reviews 2023")
    assert result.metric_value == round(metrics["fusion"]["accuracy"], 4)
    text = card_path.read_text(encoding="utf-8")
    assert "real Amazon Reviews 2023 reviews: `reviews.jsonl`" in text and "never seen real" not in text
    assert "10 rows read: 10 used (5 negative (50%), 5 positive (50%)); 0 skipped" in text
    assert "2 of the used rows kept text-only" in text
    test_rows = metrics["run"]["rows"]["test"]
    one = f"one review is {100 / test_rows:.1f} accuracy points"
    assert f"The test split has {test_rows} reviews: {one}" in text
    assert metrics["run"]["data_summary"]["kind"] == "amazon-reviews-2023"


def test_a_missing_reviews_file_is_an_error_with_exit_2(tmp_path, capsys):
    assert cli.main(["import-amazon", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path)]) == 2
    assert "No Amazon reviews file" in capsys.readouterr().err


def test_a_file_with_no_review_in_it_is_an_error_with_exit_2(tmp_path, capsys):
    notes = tmp_path / "notes.jsonl"
    notes.write_text("not a review\n{\"also\": \"not one\"}\n", encoding="utf-8")
    assert cli.main(["import-amazon", str(notes), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "error: No line of" in err and "2 lines: 2 malformed" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing written, not even the folder or a hidden work folder


# One Amazon review line, valid; each case below breaks one field's JSON type.
VALID = {"rating": 5.0, "title": "Good", "text": "Works well.", "images": [], "asin": "B01",
         "parent_asin": "B01", "user_id": "U1", "timestamp": 1588687728923, "helpful_vote": 2,
         "verified_purchase": True}  # fmt: skip
WRONG_TYPES = [
    ("rating", True), ("rating", [5]), ("asin", {"id": "B01"}), ("user_id", 12), ("timestamp", "yesterday"),
    ("timestamp", True), ("helpful_vote", False), ("verified_purchase", "yes"), ("text", ["Works"]),
    ("images", "https://x/a.jpg"), ("parent_asin", 3.5),
]  # fmt: skip


def _jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


def test_values_of_another_json_type_than_the_format_are_malformed_lines(tmp_path):
    rows = [VALID] + [{**VALID, "user_id": f"U{i + 2}", field: value} for i, (field, value) in
                      enumerate(WRONG_TYPES)]  # fmt: skip
    report = import_amazon(_jsonl(tmp_path / "r.jsonl", rows), tmp_path / "out")
    assert report.imported == 1
    reasons = dict(report.malformed)
    assert sorted(reasons) == list(range(2, 2 + len(WRONG_TYPES)))
    for number, (field, _) in enumerate(WRONG_TYPES, start=2):
        assert field in reasons[number], (field, reasons[number])
    frame = pd.read_csv(tmp_path / "out" / "reviews.csv")
    assert frame["rating"].tolist() == [5] and frame["asin"].tolist() == ["B01"]


def test_text_that_utf8_cannot_hold_is_a_malformed_line(tmp_path, capsys):
    """A lone surrogate escape ("\\ud800") is valid JSON but no text: the line is reported and skipped
    wherever it is; a surrogate pair (an emoji written as two escapes) is text."""
    rows = [VALID, {**VALID, "user_id": "U2", "text": "\ud800 lone"}, {**VALID, "user_id": "\udfff"},
            {**VALID, "user_id": "U4", "title": "\ud83d\ude00"}]  # fmt: skip
    lines = tmp_path / "r.jsonl"
    lines.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="ascii")
    report = import_amazon(lines, tmp_path / "out")
    assert report.imported == 2 and sorted(dict(report.malformed)) == [2, 3]
    assert "'\\ud800', half of a surrogate pair" in dict(report.malformed)[2]
    assert pd.read_csv(tmp_path / "out" / "reviews.csv")["text"].tolist()[1] == "\U0001f600. Works well."
    # only such lines: one error line, exit 2, and no --out folder left behind (nor its new parents)
    lines.write_text(json.dumps(rows[1]) + "\n", encoding="ascii")
    out = tmp_path / "new" / "out"
    assert cli.main(["import-amazon", str(lines), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "error: No line of" in err and "Traceback" not in err and not (tmp_path / "new").exists()


def test_a_failed_import_keeps_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "mine").mkdir()
    with pytest.raises(Exception, match="No line of"):
        import_amazon(_jsonl(tmp_path / "r.jsonl", ["not json"]), tmp_path / "mine")
    assert (tmp_path / "mine").is_dir() and not list((tmp_path / "mine").iterdir())


def test_text_with_nothing_visible_is_no_text(tmp_path):
    """Only zero-width or format characters: empty, as the review table loader says (not imported, then
    skipped by predict as empty)."""
    rows = [VALID, {**VALID, "user_id": "U2", "title": "\u200b", "text": "\u200b\u200c\ufeff"},
            {**VALID, "user_id": "U3", "title": "Fine", "text": "\u2060 \u200b"}]  # fmt: skip
    report = import_amazon(_jsonl(tmp_path / "r.jsonl", rows), tmp_path / "out")
    assert report.imported == 2 and dict(report.malformed) == {2: "no title and no text"}
    assert pd.read_csv(tmp_path / "out" / "reviews.csv")["text"].tolist() == ["Good. Works well.", "Fine"]


def test_a_review_repeated_is_reported_and_kept_once(tmp_path):
    other = {**VALID, "user_id": "U2"}
    clash = {**VALID, "text": "Another text at the same second."}
    lines = _jsonl(tmp_path / "r.jsonl", [VALID, other, VALID, VALID, clash])
    report = import_amazon(lines, tmp_path / "out")
    assert report.imported == 2 and report.duplicates == [(3, 1), (4, 1)]
    assert dict(report.malformed) == {5: "the same user_id, asin and timestamp as line 1 with another text"}
    assert len(pd.read_csv(tmp_path / "out" / "reviews.csv")) == 2
    assert "2 duplicates (kept once)" in (tmp_path / "out" / "import_report.txt").read_text()


@pytest.mark.parametrize("compressed", [False, True])
def test_an_over_long_line_is_reported_without_being_read_whole(tmp_path, monkeypatch, compressed):
    from mmsent.data import amazon

    monkeypatch.setattr(amazon, "MAX_LINE_BYTES", 1000)  # the same rule as 4 MiB, on a test-sized line
    long_line = json.dumps({**VALID, "text": "x" * 5000})
    path = _jsonl(tmp_path / "r.jsonl", [VALID, long_line, {**VALID, "user_id": "U3"}])
    if compressed:
        path = tmp_path / "r.jsonl.gz"
        path.write_bytes(gzip.compress((tmp_path / "r.jsonl").read_bytes()))
    reads = []
    real = gzip.GzipFile.readline
    if compressed:
        monkeypatch.setattr(gzip.GzipFile, "readline", lambda self, size=-1: reads.append(size) or real(
            self, size))
    report = import_amazon(path, tmp_path / "out")
    assert report.imported == 2 and report.lines == 3
    assert dict(report.malformed) == {2: "longer than 1,000 bytes: skipped without reading it whole"}
    assert not compressed or (reads and all(0 < size <= 1001 for size in reads))  # never a whole line


def test_overwrite_replaces_a_good_table_only_with_a_complete_import(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["import-amazon", str(REVIEWS), "--out", str(out)]) == 0
    before = (out / "reviews.csv").read_bytes()
    empty = _jsonl(tmp_path / "empty.jsonl", ["not a review"])
    assert cli.main(["import-amazon", str(empty), "--out", str(out), "--overwrite"]) == 2
    assert (out / "reviews.csv").read_bytes() == before  # the good table is still there
    assert sorted(p.name for p in out.iterdir()) == ["import_report.txt", "reviews.csv"]
