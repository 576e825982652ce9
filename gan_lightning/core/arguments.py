"""Where ``save_hyperparameters`` starts: the arguments an object was built with, every class level.

``save_hyperparameters(frame=...)`` collects the arguments of the ``__init__`` at ``frame`` and of
every subclass ``__init__`` that called it (Lightning's ``collect_init_args``), with their
defaults, a subclass's value winning. Starting from the class right above the one calling it
(``GANModule`` for models, a data module's own ``__init__`` for data), a shared base's arguments (the
network sizes of ``ShapedGAN``) are saved beside a family's own, while values a subclass computes
and passes to ``GANModule`` (``latent_dim=1``) are not; under the CLI Lightning saves the parsed
arguments instead (with the class path).
"""

from __future__ import annotations

import inspect
from types import FrameType


def caller_frame(depth: int = 1) -> FrameType | None:
    """The frame ``depth`` calls above the caller of this function (1: the caller's caller)."""
    frame = inspect.currentframe()
    for _ in range(depth + 1):
        frame = frame.f_back if frame is not None else None
    return frame
