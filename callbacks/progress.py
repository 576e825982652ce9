"""Progress: a bar that redraws on time in a terminal, one plain line every N seconds in a log file.

Lightning's ``TQDMProgressBar`` redraws after every ``refresh_rate`` batches (default 1): on a
small network that is a visible share of each iteration (formatting the bar and the metrics,
writing the terminal line), and its loss values are turned into numbers after every batch, which
makes the host wait for the GPU once per iteration. This bar

- redraws on time (every ``min_interval_s``), like tqdm itself, and always on the last batch;
- shows the loss terms named in ``shown`` as read on the iterations a logger writes
  (``log_every_n_steps``), where the host reads them anyway, from the module's ``latest_terms``;
- when standard output is not a terminal (a SLURM log, ``| tee``), draws no bar at all but prints
  one plain line every ``plain_interval_s`` seconds (and at the start and the end of training):
  ``iteration 1,200/5,000 (24 %) | 35.2 it/s | d_loss 0.693 | g_loss 1.23 | ETA 1:48``.
"""

from __future__ import annotations

import sys
import time
from typing import Sequence

import torch
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.utilities import rank_zero_only

from gan_lightning.core import compat


def format_duration(seconds: float) -> str:
    """``3725`` -> ``1:02:05``; ``108`` -> ``1:48``."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class ProgressBar(TQDMProgressBar):
    """Args:
        min_interval_s: the bar redraws at most this often (seconds).
        leave: keep one finished bar per epoch on the screen.
        shown: the loss terms shown beside the bar and in the plain lines.
        plain_interval_s: seconds between two plain lines (when output is not a terminal).
        plain: ``true``: plain lines even in a terminal; ``false``: a bar even into a file;
            ``null`` (default): plain lines exactly when standard output is not a terminal.
    """

    def __init__(self, min_interval_s: float = 0.25, leave: bool = False, shown: Sequence[str] = ("d_loss", "g_loss"),
                 plain_interval_s: float = 30.0, plain: bool | None = None) -> None:
        super().__init__(refresh_rate=1, leave=leave)
        if min_interval_s < 0:
            raise ValueError(f"ProgressBar.min_interval_s must be >= 0, got {min_interval_s}")
        if not plain_interval_s > 0:
            raise ValueError(f"ProgressBar.plain_interval_s must be > 0, got {plain_interval_s}")
        self.min_interval_s = min_interval_s
        self.shown = tuple(shown)
        self.plain_interval_s = plain_interval_s
        self.plain = plain
        self._last_draw = float("-inf")
        self._values: dict[str, float] = {}  # the shown terms as of the last logging iteration
        self._plain_mode = False
        self._line_time, self._line_step = 0.0, 0

    # ------------------------------------------------------------------ what is shown
    def read_values(self, pl_module) -> None:
        """The shown terms of the module's ``latest_terms``, read as numbers (one wait for the device)."""
        latest = getattr(pl_module, "latest_terms", {})
        names = [name for name in self.shown if name in latest]
        if names:
            numbers = torch.stack([latest[name].float().reshape(()) for name in names]).tolist()
            self._values = dict(zip(names, numbers))

    def get_metrics(self, trainer, pl_module):
        items = super().get_metrics(trainer, pl_module)
        items.update({name: f"{value:.3g}" for name, value in self._values.items()})
        return items

    def _should_update(self, current: int, total: int) -> bool:  # TQDMProgressBar's redraw test
        if not self.is_enabled:
            return False
        now = time.monotonic()
        if current == total or now - self._last_draw >= self.min_interval_s:
            self._last_draw = now
            return True
        return False

    # ------------------------------------------------------------------ hooks
    def on_train_start(self, trainer, pl_module) -> None:
        self._plain_mode = self.plain if self.plain is not None else not sys.stdout.isatty()
        self._values = {}
        if self._plain_mode:
            self.disable()
            self._line_time, self._line_step = time.monotonic(), trainer.global_step
            self.plain_line(trainer, "start")
        super().on_train_start(trainer, pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if compat.logging_due(pl_module) and (self._plain_mode or self.is_enabled):
            self.read_values(pl_module)
        if self._plain_mode:
            if time.monotonic() - self._line_time >= self.plain_interval_s:
                self.plain_line(trainer)
            return
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def on_train_end(self, trainer, pl_module) -> None:
        if self._plain_mode:
            self.read_values(pl_module)
            self.plain_line(trainer, "end")
        super().on_train_end(trainer, pl_module)

    # ------------------------------------------------------------------ plain lines
    def line(self, trainer, now: float | None = None, label: str | None = None) -> str:
        """The plain progress line of this moment."""
        now = time.monotonic() if now is None else now
        step, total = trainer.global_step, trainer.max_steps
        planned = f"/{total:,} ({100 * step // max(total, 1)} %)" if total and total > 0 else ""
        parts = [f"iteration {step:,}{planned}"]
        elapsed = now - self._line_time
        rate = (step - self._line_step) / elapsed if elapsed > 0 else 0.0
        if label is None:
            parts.append(f"{rate:.1f} it/s")
        parts += [f"{name} {value:.4g}" for name, value in self._values.items()]
        if label is None and total and total > 0 and rate > 0:
            parts.append(f"ETA {format_duration((total - step) / rate)}")
        if label is not None:
            parts.append(f"training {label}s")
        return " | ".join(parts)

    @rank_zero_only
    def plain_line(self, trainer, label: str | None = None) -> None:
        now = time.monotonic()
        print(self.line(trainer, now, label), flush=True)
        self._line_time, self._line_step = now, trainer.global_step
