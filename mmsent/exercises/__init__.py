"""Feedback for the learner: exercise self-checks (`check`, `hint`, `solution`) and quizzes, per notebook.

    from mmsent.exercises import nb05
    nb05.ex2.check(my_layer)    # what is right, or what is wrong
    nb05.ex2.hint()
    nb05.ex2.solution()
    nb05.quiz                   # the notebook's quiz, with explained answers

One module per notebook (`nb03`, `nb05`, ...) holds its exercises (`ex1`, `ex2`, ...) and its `quiz`;
`NOTEBOOKS` lists them. The framework is `mmsent.exercises.framework`, the quiz component
`mmsent.exercises.quiz`.

May import: paths, data, models, train.
"""

from mmsent.exercises.framework import Exercise, Feedback, Mistake
from mmsent.exercises.quiz import Quiz

# the modules with checks and a quiz, one per notebook
NOTEBOOKS = tuple(f"nb{number:02d}" for number in range(13))

__all__ = ["NOTEBOOKS", "Exercise", "Feedback", "Mistake", "Quiz"]
