"""The kit's expected failures: bad input that the user can fix, each with a message saying
what is wrong, where (file, row, line, flag) and what to do.

- `DataError`: a review table, a photo or another data file the kit cannot use;
- `CheckpointError`: a checkpoint folder that is incomplete, damaged, or whose files do not
  belong together;
- `UsageError`: a flag or environment variable with a value the kit cannot use.

All three derive from `MmsentError`; the command line prints their message as ``error: ...`` and
exits with status 2 (a traceback only with ``--debug``). `DataError` is also a `ValueError`, as it
always was, so existing ``except ValueError`` code keeps working.
"""

from __future__ import annotations


class MmsentError(Exception):
    """Base class of the kit's expected failures (bad input the user can fix)."""


class DataError(MmsentError, ValueError):
    """An input the kit cannot use; the message says what is wrong, where, and what to do."""


class CheckpointError(MmsentError):
    """A checkpoint folder that is incomplete, damaged, or mixes files of different runs."""


class UsageError(MmsentError, ValueError):
    """A command-line flag or environment variable with an unusable value."""
