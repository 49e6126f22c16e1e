"""The course's conventions in code: what the notebooks share, and what a learner's set-up needs.

- `conventions`: the first cell of every notebook (`setup`), Colab badges, the budgets (`scale`);
- `colab`: installing the kit into a running Colab runtime without replacing what it has;
- `environment`: the ``MMSENT_*`` variables, checked; `doctor`: the facts to paste when asking for help;
- `syllabus`: the one list of notebooks, and the sentences and links that depend on it;
- `references`: the numbers the notebooks' prose states, checked where they were measured.

The notebooks' face: `from mmsent.course import setup, scale` (the first cell and the budgets),
`reference` (the prose's numbers), `install_extra` (an extra, on Colab too).

May import: mmsent, errors, paths, choices, runtime, data, encoders.
"""

from mmsent.course.colab import install_extra, install_on_colab
from mmsent.course.conventions import budget, scale, setup, show_versions
from mmsent.course.references import reference

__all__ = ["budget", "install_extra", "install_on_colab", "reference", "scale", "setup", "show_versions"]
