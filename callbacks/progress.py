"""A progress bar that redraws at most every ``min_interval_s`` seconds.

Lightning's ``TQDMProgressBar`` redraws after every ``refresh_rate`` batches (default 1):
on a small network that is a visible share of each iteration (formatting the bar and the
metrics, writing the terminal line). This bar redraws on time instead, like tqdm itself,
and always on the last batch, so it looks the same to a person and costs almost nothing.
"""

from __future__ import annotations

import time

from lightning.pytorch.callbacks import TQDMProgressBar


class ProgressBar(TQDMProgressBar):
    def __init__(self, min_interval_s: float = 0.25, leave: bool = False) -> None:
        super().__init__(refresh_rate=1, leave=leave)
        if min_interval_s < 0:
            raise ValueError(f"ProgressBar.min_interval_s must be >= 0, got {min_interval_s}")
        self.min_interval_s = min_interval_s
        self._last_draw = float("-inf")

    def _should_update(self, current: int, total: int) -> bool:  # TQDMProgressBar's redraw test
        if not self.is_enabled:
            return False
        now = time.monotonic()
        if current == total or now - self._last_draw >= self.min_interval_s:
            self._last_draw = now
            return True
        return False
