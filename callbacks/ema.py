"""Exponential moving average of the generator's weights."""

from __future__ import annotations

import lightning as L


class EMACallback(L.Callback):
    """Keep an EMA copy of G (``pl_module.generator_ema``), updated after every iteration.

    ``decay`` is the per-iteration decay; with ``warmup`` the decay ramps up as
    min(decay, (1 + t) / (10 + t)) so early EMA weights are not dominated by the
    random initialisation. The EMA weights live in the module's ``state_dict`` and
    therefore in every checkpoint; sampling and evaluation use them by default.

    Image-to-image models (``sampling == "translation"``) get no EMA unless ``translation``
    is true: their papers' recipes keep none, and translation uses the trained generator(s).
    """

    def __init__(self, decay: float = 0.999, warmup: bool = True, translation: bool = False) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMACallback.decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.warmup = warmup
        self.translation = translation
        self.active = True

    def setup(self, trainer, pl_module, stage: str) -> None:
        self.active = self.translation or getattr(pl_module, "sampling", "noise") != "translation"
        if self.active:
            pl_module.enable_ema()

    def current_decay(self, iteration: int) -> float:
        if not self.warmup:
            return self.decay
        return min(self.decay, (1.0 + iteration) / (10.0 + iteration))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.active:
            pl_module.update_ema(self.current_decay(trainer.global_step))
