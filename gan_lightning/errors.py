"""Exceptions that the ``gan-lightning`` command reports as one line (exit status 2), without a traceback,
and the command's other exit statuses."""

import signal

#: Exit status of bad input (a :class:`UsageError`), as argparse's.
USAGE_STATUS = 2
#: Exit status of a command stopped by Ctrl-C (the shell's 128 + SIGINT), so that ``fit ... && sample ...``
#: does not go on; a training run has saved its checkpoint first (``PreemptionCheckpoint``).
INTERRUPTED_STATUS = 128 + int(signal.SIGINT)


class UsageError(Exception):
    """Bad command-line input; reported as one line, exit status 2."""


class SettingError(UsageError, ValueError):
    """A setting that can only be checked once a run starts (an optimizer table naming a network the model
    does not have, lr_decay_iters without max_steps): one line and exit status 2 on the command line, a
    ValueError for Python callers."""
