"""Each bad-input message names the flag or the file line and gives an action that works: row numbers
are file lines, a header cell's spaces are no part of its name, a structure error is not called an
encoding error, invisible-only text is blank, advice fits the case (tiny profile)."""

from __future__ import annotations

import pytest
from conftest import write_tiny_csv

from mmsent.cli import main as cli
from mmsent.data import load_reviews, split_table
from mmsent.errors import DataError


def test_problem_rows_are_the_file_lines_blank_lines_and_multi_line_cells_included(tmp_path):
    csv = write_tiny_csv(tmp_path, n=8)
    lines = csv.read_text().splitlines()
    lines[3] = lines[3].replace("images/r002.png", "images/none.png")  # line 4 of the file
    edited = [lines[0], "", lines[1], lines[2], "   ", lines[3],
              'r900,"two\nlines",images/none.png,negative,1,1.0', *lines[4:]]  # fmt: skip
    csv.write_text("\n".join(edited) + "\n")
    text = csv.read_text().splitlines()
    problems = load_reviews(csv).problems
    assert problems["row"].tolist() == [6, 7]  # where a text editor shows them
    assert "none.png" in text[6 - 1] and text[7 - 1].startswith("r900")


def test_a_header_cell_with_spaces_around_its_name_is_that_column(tmp_path):
    csv = write_tiny_csv(tmp_path, n=8)
    header, *rows = csv.read_text().splitlines()
    csv.write_text("\n".join([header.replace("text", " text ").replace("label", "label "), *rows]) + "\n")
    assert len(load_reviews(csv).frame) == 8
    assert len(load_reviews(csv, columns={"label": "label"}).frame) == 8  # a rename spelled without spaces


def test_a_utf8_file_with_a_broken_row_is_told_how_to_fix_the_row(tmp_path):
    csv = write_tiny_csv(tmp_path, n=8)
    csv.write_text(csv.read_text() + 'r999,"an open quote,images/r000.png,negative,1,1\n', encoding="utf-8")
    with pytest.raises(DataError) as error:
        load_reviews(csv)
    assert "UTF-8" not in str(error.value) and "double quotes" in str(error.value)


@pytest.mark.parametrize("text", ["\u200b", "\u200b\u200d\ufeff", " \u2060 ", "\x00"])
def test_invisible_only_text_is_blank(tmp_path, text, capsys):
    csv = write_tiny_csv(tmp_path, n=8, edit=lambda f: f.assign(text=[text, *f["text"][1:]]))
    problems = load_reviews(csv).problems
    assert problems["problem"].tolist() == ["empty text"] and problems["row"].tolist() == [2]
    with pytest.raises(SystemExit):
        cli.main(["predict", "--text", text])
    assert "blank" in capsys.readouterr().err


def test_split_advice_names_the_split_column_only_when_there_is_one(tmp_path):
    table = load_reviews(write_tiny_csv(tmp_path / "plain", n=4), min_rows=1)
    with pytest.raises(DataError) as error:
        split_table(table)
    assert "split column" not in str(error.value) and "test_frac" in str(error.value)
    marked = write_tiny_csv(tmp_path / "marked", n=8, edit=lambda f: f.assign(split=["train"] * 7 + ["val"]))
    with pytest.raises(DataError, match="drop the split column"):
        split_table(load_reviews(marked))


def test_an_empty_report_folder_is_used_and_a_file_robustness_dir_is_refused_before_scoring(tmp_path, capsys):
    from mmsent.files.report_dir import check_target

    (tmp_path / "empty").mkdir()
    check_target(tmp_path / "empty", overwrite=False)  # nothing to lose: accepted
    (tmp_path / "empty" / "x").write_text("x")
    with pytest.raises(Exception, match="already exists"):
        check_target(tmp_path / "empty", overwrite=False)
    (tmp_path / "file").write_text("x")
    argv = ["evaluate", "--model", str(tmp_path / "no-model"), "--robustness", "--robustness-dir",
            str(tmp_path / "file" / "sub")]  # fmt: skip
    assert cli.main(argv) == 2
    assert "--robustness-dir" in capsys.readouterr().err  # said before the model is even looked at
