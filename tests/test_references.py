"""mmsent.course.references.reference: prose numbers checked exactly where measured, claims everywhere."""

from __future__ import annotations

import pytest

from mmsent.course.references import MEASURED_ON, is_measured_path, reference
from mmsent.runtime import BUDGET_ENV


@pytest.fixture(params=["cpu", "gpu"])
def on_budget(request, monkeypatch):
    monkeypatch.setenv(BUDGET_ENV, request.param)
    return request.param


def test_the_number_is_checked_only_on_the_measured_path(on_budget, capsys):
    measured = on_budget == MEASURED_ON[0]
    assert is_measured_path("offline") is measured
    reference("fusion", 0.95, 0.956, tol=0.01, claim=True, profile="offline")
    out = capsys.readouterr().out
    assert "yours 0.95" in out and "the text's 0.956" in out and "cpu budget, offline profile" in out
    far = lambda: reference("fusion", 0.70, 0.956, tol=0.01, claim=True, profile="offline")  # noqa: E731
    if measured:
        with pytest.raises(AssertionError, match="the text says fusion = 0.956, this run gives 0.7"):
            far()
    else:
        far()  # another budget: other numbers are expected, the claim still holds
    reference("fusion", 0.70, 0.956, tol=0.01, claim=True, profile="full")  # another profile: likewise


def test_the_claim_is_checked_on_every_path(on_budget):
    for profile in ("offline", "full", "tiny"):
        with pytest.raises(AssertionError, match="the claim behind the text's numbers does not hold"):
            reference("fusion", 0.956, 0.956, tol=0.01, claim=False, profile=profile)


def test_a_table_of_numbers_is_checked_row_by_row(monkeypatch, capsys):
    monkeypatch.setenv(BUDGET_ENV, "cpu")
    said = {"0%": 0.922, "100%": 0.822}
    close = {"0%": 0.93, "100%": 0.81}
    reference("photos removed", close, said, tol=0.03, claim=True, profile="offline")
    assert capsys.readouterr().out.count("yours") == 2
    with pytest.raises(AssertionError, match=r"photos removed, 100% = 0.822, this run gives 0.7"):
        reference("photos removed", {"0%": 0.93, "100%": 0.7}, said, tol=0.03, claim=True, profile="offline")
    with pytest.raises(ValueError, match="must have the keys"):
        reference("photos removed", {"0%": 0.93}, said, tol=0.03, claim=True, profile="offline")
    with pytest.raises(ValueError, match="is a mapping"):
        reference("photos removed", said, 0.9, tol=0.03, claim=True, profile="offline")


def test_the_path_follows_budget_and_profile(monkeypatch):
    monkeypatch.setenv(BUDGET_ENV, "gpu")
    assert not is_measured_path("offline") and is_measured_path("offline", measured_on=("gpu", "offline"))
    monkeypatch.setenv(BUDGET_ENV, "cpu")
    assert is_measured_path("offline") and not is_measured_path("full")
