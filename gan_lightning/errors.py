"""Exceptions that the ``gan-lightning`` command reports as one line (exit status 2), without a traceback."""


class UsageError(Exception):
    """Bad command-line input; reported as one line, exit status 2."""
