"""Numbers the notebooks' prose states, checked where they were measured; the claims, checked everywhere.

A sentence such as "fusion reaches 0.956 on the test reviews" was measured on one path: the CPU budget
and the offline profile (`MEASURED_ON`), the path every notebook is tested on. On a GPU budget (more
epochs, all the data) or the `full` profile (BERT-base + CLIP ViT-B/32) the learner gets other numbers,
and the sentence is about the claim behind it ("fusion beats each single modality"), not its digits.
`reference` checks both, in one call per prose number:

    reference("fusion test accuracy", accuracy["fusion"], 0.956, tol=0.05, profile=profile,
              claim=accuracy["fusion"] > max(accuracy["text_only"], accuracy["image_only"]))

prints the learner's number beside the prose's, asserts the claim on every path and the number itself
(within `tol`) only on the path that produced it. The prose says which path that is ("on the CPU
budget, offline profile: ...").
"""

from __future__ import annotations

from collections.abc import Mapping

from mmsent.course.conventions import budget

MEASURED_ON = ("cpu", "offline")  # (budget, profile) of every number the notebooks' prose states
Number = float | int
Numbers = Number | Mapping[str, Number]


def _as_rows(name: str, value: Numbers, expected: Numbers) -> list[tuple[str, float, float]]:
    """(row name, learner's number, prose's number) for one number or for each key of a mapping."""
    if isinstance(expected, Mapping):
        if not isinstance(value, Mapping) or set(value) != set(expected):
            raise ValueError(f"{name}: `value` must have the keys of `expected` ({sorted(expected)}), "
                             f"got {value!r}")
        return [(f"{name}, {key}", float(value[key]), float(expected[key])) for key in expected]
    if isinstance(value, Mapping):
        raise ValueError(f"{name}: `value` is a mapping but `expected` is one number")
    return [(name, float(value), float(expected))]


def is_measured_path(profile: str, measured_on: tuple[str, str] = MEASURED_ON, device: object = None) -> bool:
    """Whether this run takes the path (budget, profile) the prose's numbers were measured on."""
    return (budget(device), profile) == tuple(measured_on)


def reference(
    name: str,
    value: Numbers,
    expected: Numbers,
    *,
    tol: float,
    claim: bool,
    profile: str,
    measured_on: tuple[str, str] = MEASURED_ON,
    device: object = None,
) -> None:
    """Check a number the prose states: exactly where it was measured, its claim everywhere.

    `value`: the learner's number (or {row: number}); `expected`: the prose's (the same keys).
    `tol`: how far `value` may be from `expected` on the measured path (0 for an exact match of a
    rounded figure: round `value` first). `claim`: the statement the number supports, evaluated by
    the caller (`accuracy["fusion"] > accuracy["text_only"]`); it must hold on every path.
    `profile`: the profile `setup()` returned; the budget comes from
    `mmsent.course.conventions.budget(device)`.
    Prints both numbers, raises AssertionError when the claim fails, or, on the path `measured_on`
    (budget, profile), when a number is more than `tol` from the prose's. Returns None (a notebook
    shows no stray value); `is_measured_path` says whether the exact check ran.
    """
    rows = _as_rows(name, value, expected)
    measured = is_measured_path(profile, measured_on, device)
    where = f"{measured_on[0]} budget, {measured_on[1]} profile"
    here = "this run" if measured else f"this run: {budget(device)} budget, {profile} profile"
    width = max(len(row) for row, _, _ in rows)
    for row, mine, said in rows:
        print(f"{row:<{width}}  yours {mine:.4g}  the text's {said:.4g} ({where}; {here})")
    assert claim, f"{name}: the claim behind the text's numbers does not hold here: yours {value!r}"
    if measured:
        off = [(row, mine, said) for row, mine, said in rows if abs(mine - said) > tol]
        differences = "; ".join(f"{row} = {said:.4g}, this run gives {mine:.4g}" for row, mine, said in off)
        assert not off, f"{name}: on the {where} the text says {differences} (tolerance {tol})"
