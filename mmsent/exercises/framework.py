"""Self-checks for the exercises: `check()` says what is wrong, `hint()` nudges, `solution()` answers.

An `Exercise` holds a checker: a function that runs the learner's answer (a number, a table, a network, a
function) on cases with known results and raises `Mistake` with a message that names the mistake ("your
weights sum to 1 over the batch, not over the patches"), never just "wrong":

    from mmsent.exercises import nb05
    nb05.ex2.check(layer)      # prints "Correct: ..." or what is wrong
    nb05.ex2.hint()            # the next hint, one more per call
    nb05.ex2.solution()        # a worked answer (the solution notebook has the full one)

`evaluate()` is `check()` without the printing, for tests and graders: it returns a `Feedback`.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


class Mistake(Exception):
    """What is wrong with an answer, in words a learner can act on."""


def expect(condition: bool, message: str) -> None:
    """Raise `Mistake(message)` unless `condition` holds."""
    if not condition:
        raise Mistake(message)


# The least test accuracy of a trained course model: they score ~0.9 once trained, a coin 0.5
TRAINED = 0.7

UNFILLED = "no answer yet: replace the placeholder (None or ...) with your answer, then run this cell again"


def returned(value: Any, call: str) -> Any:
    """`value`, which the learner's function returned from `call`; a Mistake if it returned nothing."""
    expect(
        value is not None and value is not Ellipsis,
        f"{call} returned {value!r}: fill in the body of your function (replace `...`) to return a result",
    )
    return value


@contextmanager
def evaluation_mode(model: Any) -> Iterator[Any]:
    """The learner's model in eval mode, without gradients, on its own device; its mode is restored after.

    Yields the device of its first parameter (CPU for a model without parameters)."""
    import torch

    training = model.training
    device = next(iter(model.parameters()), torch.empty(0)).device
    model.eval()
    try:
        with torch.no_grad():
            yield device
    finally:
        model.train(training)


def network_logits(model: Any, inputs: dict[str, Any]) -> Any:
    """Call the learner's network the way it accepts: a features dictionary, or the tensors in order."""
    try:
        return model(inputs)
    except (TypeError, KeyError, AttributeError):
        return model(*inputs.values())


def expect_trained(accuracy: float, model: str, how: str) -> None:
    """A Mistake unless `accuracy` (0-1, the learner's `model` on the test split) is that of a trained model;
    `how` says how to train it."""
    expect(accuracy >= TRAINED, f"your {model} gets {accuracy:.2f} of the test reviews right, about what a "
           f"coin gets: train it ({how}) before checking")


def accuracy_of(model: Any, inputs: dict[str, Any], labels: Any) -> float:
    """The share (0-1) of rows where `model`'s top logit is the label: inputs {name: [rows, dim]},
    labels [rows]; in eval mode, without gradients, on the model's device."""
    with evaluation_mode(model) as device:
        logits = network_logits(model, {name: x.to(device) for name, x in inputs.items()})
    return (logits.argmax(dim=-1).cpu() == labels.cpu()).float().mean().item()


@dataclass(frozen=True)
class Feedback:
    """The verdict on one answer: `passed` and the message that explains it."""

    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return ("Correct: " if self.passed else "Not yet: ") + self.message


@dataclass
class Exercise:
    """One exercise of a notebook: its checker, its hints (in order) and a worked solution (code)."""

    title: str
    checker: Callable[..., str]  # (answer, **context) -> what was right; raises Mistake
    hints: tuple[str, ...]
    solution_code: str
    _hints_given: int = field(default=0, repr=False)

    def evaluate(self, answer: Any, **context: Any) -> Feedback:
        """Run the checker on `answer` -> Feedback (no printing). A crash in the answer is a mistake too;
        an unfilled placeholder (None or ...) is reported as such, without running the checker."""
        if answer is None or answer is Ellipsis:
            return Feedback(False, UNFILLED)
        try:
            return Feedback(True, self.checker(answer, **context))
        except Mistake as mistake:
            return Feedback(False, str(mistake))
        except Exception as error:  # the learner's code raised: show where, briefly
            where = traceback.extract_tb(error.__traceback__)[-1]
            return Feedback(
                False,
                f"your answer raised {type(error).__name__}: {error} (in {where.name}, line {where.lineno}); "
                "run it on a small input first, then check again",
            )

    def check(self, answer: Any, **context: Any) -> None:
        """Print whether `answer` is right and, if not, what is wrong."""
        print(f"{self.title}. {self.evaluate(answer, **context)}")

    def hint(self) -> None:
        """Print the next hint (each call gives one more, then repeats the last)."""
        index = min(self._hints_given, len(self.hints) - 1)
        self._hints_given += 1
        print(f"Hint {index + 1} of {len(self.hints)}: {self.hints[index]}")

    def solution(self) -> None:
        """Print a worked solution (code)."""
        print(f"{self.title}, one solution:\n\n{self.solution_code.strip()}")
