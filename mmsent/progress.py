"""Progress bars that suit where the output goes: a terminal, a notebook, or a log file.

`progress_bar(...)` is used wherever mmsent shows progress:

- on a terminal (stderr is a TTY): tqdm's usual bar, redrawn in place;
- in a Jupyter kernel: a tqdm bar drawn into ONE output that is updated in place (a display
  handle), live while the cell runs; when the loop ends the output is emptied (`leave=False`) or
  keeps the bar's last state (`leave=True`). A notebook executed and saved (nbval, nbconvert,
  papermill) therefore never keeps a bar frozen at its first frame ("0%| | 0/53");
- anywhere else (a pipe, a file, a CI log): no bar; a loop that runs longer than `LOG_EVERY_S`
  prints one line `desc: n/total (s)` every `LOG_EVERY_S` seconds, and a short loop prints nothing,
  so the log holds what the program says (e.g. one line per epoch), not thousands of bar frames.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

from tqdm.std import tqdm

LOG_EVERY_S = 30.0  # without a terminal: at most one progress line per this many seconds
NOTEBOOK_REFRESH_S = 0.5  # in a notebook: at most two redraws a second


def in_notebook() -> bool:
    """True inside a Jupyter kernel (a live notebook, or one being executed by nbclient)."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def progress_bar(
    iterable: Iterable | None = None,
    *,
    desc: str,
    total: int | None = None,
    enabled: bool = True,
    leave: bool = False,
) -> Any:
    """`iterable` wrapped in a progress display that suits the output (see the module's docstring).

    Use it like tqdm: iterate over it, or call `update(n)` with `total` and no iterable;
    `set_postfix(loss=...)` adds figures to the line; `close()` ends a manual bar.
    `enabled=False` shows nothing at all.
    """
    if not enabled:
        return tqdm(iterable, total=total, disable=True)
    if in_notebook():
        return tqdm(
            iterable,
            desc=desc,
            total=total,
            leave=leave,
            file=_NotebookLine(),
            mininterval=NOTEBOOK_REFRESH_S,
            ncols=100,
            ascii=False,
        )
    if sys.stderr.isatty():
        return tqdm(iterable, desc=desc, total=total, leave=leave)
    return LogLines(iterable, desc=desc, total=total)


class _NotebookLine:
    """A file for tqdm that shows only the latest frame, in one notebook output updated in place."""

    def __init__(self) -> None:
        from IPython.display import display

        self._handle = display({"text/plain": ""}, raw=True, display_id=True)
        self._shown = ""

    def write(self, text: str) -> None:
        line = text.rsplit("\r", 1)[-1].rstrip()  # tqdm writes "\r" + the bar; closing writes blanks
        if "\r" in text and line != self._shown:
            self._shown = line
            self._handle.update({"text/plain": line}, raw=True)

    def flush(self) -> None:
        pass


class LogLines:
    """Progress for a log: a line `desc: n/total (s)` at most every `every` seconds, none for short loops.

    The same small interface as tqdm's: iterate, or `update(n)`; `set_postfix(...)`; `close()`.
    """

    def __init__(
        self,
        iterable: Iterable | None = None,
        *,
        desc: str,
        total: int | None = None,
        every: float = LOG_EVERY_S,
        file=None,
    ) -> None:
        self.iterable = iterable
        self.desc = desc
        self.total = len(iterable) if total is None and hasattr(iterable, "__len__") else total
        self.every = every
        self.file = file
        self.n = 0
        self.postfix = ""
        self._started = self._last = time.monotonic()

    def __len__(self) -> int:
        return self.total or 0

    def __iter__(self) -> Iterator:
        for item in self.iterable:
            yield item
            self.update()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            of = f"/{self.total}" if self.total is not None else ""
            postfix = f", {self.postfix}" if self.postfix else ""
            line = f"{self.desc}: {self.n}{of} ({now - self._started:.0f} s{postfix})"
            print(line, file=self.file or sys.stderr, flush=True)

    def set_postfix(self, **values: Any) -> None:
        self.postfix = ", ".join(f"{name} {value}" for name, value in values.items())

    def close(self) -> None:
        pass
