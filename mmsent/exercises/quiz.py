"""Multiple-choice quizzes with explained answers, stored as data, shown the same everywhere.

A quiz renders as plain HTML with `<details>` elements: the learner picks a choice and clicks it open to
read whether it is right and why. No JavaScript and no widget state, so it looks and works the same in
JupyterLab, Colab, VS Code, GitHub's notebook preview and the static book (`python -m mmsent book`),
executed or not; `to_markdown()` gives the same quiz as a book page.

    from mmsent.exercises import nb05
    nb05.quiz                  # as the last expression of a cell: the quiz, rendered
"""

from __future__ import annotations

import html
from dataclasses import dataclass


@dataclass(frozen=True)
class Choice:
    """One answer to a question: its text, whether it is right, and why (one paragraph)."""

    text: str
    correct: bool
    explanation: str


@dataclass(frozen=True)
class Question:
    """A question with its choices; exactly one is right."""

    text: str
    choices: tuple[Choice, ...]


@dataclass(frozen=True)
class Quiz:
    """The quiz at the end of one notebook."""

    title: str
    questions: tuple[Question, ...]

    def problems(self) -> list[str]:
        """What makes this quiz malformed (empty list: well formed)."""
        found = [] if 3 <= len(self.questions) <= 5 else [f"{len(self.questions)} questions, not 3 to 5"]
        for number, question in enumerate(self.questions, 1):
            right = sum(choice.correct for choice in question.choices)
            if right != 1:
                found.append(f"question {number} has {right} right answers, not 1")
            if len(question.choices) < 3:
                found.append(f"question {number} has {len(question.choices)} choices, fewer than 3")
            found += [
                f"question {number}, choice {letter(index)} has no explanation"
                for index, choice in enumerate(question.choices)
                if len(choice.explanation.split()) < 8
            ]
        return found

    def _repr_html_(self) -> str:
        parts = [f"<div class='mmsent-quiz'><h3>Quiz: {html.escape(self.title)}</h3>"]
        for number, question in enumerate(self.questions, 1):
            parts.append(f"<p><b>{number}. {html.escape(question.text)}</b></p>")
            for index, choice in enumerate(question.choices):
                verdict = "Right." if choice.correct else "Not quite."
                parts.append(
                    f"<details><summary>{letter(index)}) {html.escape(choice.text)}</summary>"
                    f"<p><b>{verdict}</b> {html.escape(choice.explanation)}</p></details>"
                )
        return "\n".join(parts) + "</div>"

    def to_markdown(self) -> str:
        """The quiz as a MyST/Markdown section (the book's quiz pages); the same `<details>` blocks."""
        lines = [f"## {self.title}", ""]
        for number, question in enumerate(self.questions, 1):
            lines += [f"**{number}. {question.text}**", ""]
            for index, choice in enumerate(question.choices):
                verdict = "Right." if choice.correct else "Not quite."
                lines += [
                    f"<details><summary>{letter(index)}) {html.escape(choice.text)}</summary>",
                    f"<p><b>{verdict}</b> {html.escape(choice.explanation)}</p></details>",
                    "",
                ]
        return "\n".join(lines)

    def show(self) -> None:
        """Display the quiz in a notebook (or print its Markdown outside one)."""
        try:
            from IPython.display import HTML, display
        except ImportError:  # not in IPython
            print(self.to_markdown())
            return
        display(HTML(self._repr_html_()))


def letter(index: int) -> str:
    """0 -> 'a', 1 -> 'b', ..."""
    return "abcdefgh"[index]


def quiz(title: str, *questions: tuple[str, list[tuple[str, bool, str]]]) -> Quiz:
    """Build a Quiz from plain tuples: (question, [(choice, is_right, explanation), ...]), ...

    Question n's choices are rotated left by n places, so that the right answer, which authors tend to
    write first, moves from question to question (a, c, b, a, ... for three choices)."""
    built = []
    for number, (text, choices) in enumerate(questions):
        turn = number % len(choices) if choices else 0
        built.append(Question(text, tuple(Choice(*choice) for choice in choices[turn:] + choices[:turn])))
    return Quiz(title, tuple(built))
