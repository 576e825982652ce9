"""Exponential moving average of the generator's weights."""

from __future__ import annotations

import lightning as L

from gan_lightning.core.phases import StepContext


class EMACallback(L.Callback):
    """Keep an EMA copy of G (``pl_module.generator_ema``), updated after every iteration.

    ``decay`` is the per-iteration decay; with ``warmup`` the decay ramps up as
    min(decay, (1 + t) / (10 + t)) so early EMA weights are not dominated by the
    random initialisation. The EMA weights live in the module's ``state_dict`` and
    therefore in every checkpoint; sampling and evaluation use them by default.

    ``half_life_images`` (StyleGAN2-ADA's ``ema_kimg`` * 1000): the EMA forgets half of its
    weight over that many training images, whatever the batch: decay = 0.5 ** (B / half_life)
    for a global batch of B images (``decay`` and ``warmup`` are then unused). ``rampup`` (the
    authors' ``ema_rampup``, 0.05 in their ``auto`` and ``cifar`` configs): the half-life is at
    most ``rampup`` * images seen before the batch, so the first EMA is G itself. The authors'
    values: 10k images at batch 32 (``stylegan2``/``paper1024`` configs, and ``auto``'s
    batch * 10 / 32 kimg), 20k at batch 64 (paper256/512), 500k for cifar (with rampup 0.05).
    Images seen count from ``trainer.global_step``, so a resumed run continues the same schedule.

    Models that map inputs (``translates``: image-to-image, super-resolution, SPADE) get no EMA
    unless ``translation`` is true: their papers' recipes keep none, and translation uses the
    trained generator(s).
    """

    def __init__(self, decay: float = 0.999, warmup: bool = True, translation: bool = False,
                 half_life_images: float | None = None, rampup: float | None = None) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMACallback.decay must be in (0, 1), got {decay}")
        if half_life_images is not None and not half_life_images > 0:
            raise ValueError(f"EMACallback.half_life_images must be > 0, got {half_life_images}")
        if rampup is not None and not rampup > 0:
            raise ValueError(f"EMACallback.rampup must be > 0 or None, got {rampup}")
        if rampup is not None and half_life_images is None:
            raise ValueError("EMACallback.rampup needs half_life_images")
        self.decay = decay
        self.warmup = warmup
        self.translation = translation
        self.half_life_images = half_life_images
        self.rampup = rampup
        self.active = True

    def setup(self, trainer, pl_module, stage: str) -> None:
        self.active = self.translation or not pl_module.translates
        if self.active:
            pl_module.enable_ema()

    def current_decay(self, iteration: int, batch_size: int | None = None) -> float:
        """The decay of the update after iteration ``iteration`` (0-based) with a global batch of ``batch_size``."""
        if self.half_life_images is not None:
            if batch_size is None:
                raise ValueError("EMACallback with half_life_images needs the batch size")
            half_life = self.half_life_images
            if self.rampup is not None:
                half_life = min(half_life, iteration * batch_size * self.rampup)
            return 0.5 ** (batch_size / half_life) if half_life > 0 else 0.0
        if not self.warmup:
            return self.decay
        return min(self.decay, (1.0 + iteration) / (10.0 + iteration))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if not self.active:
            return
        if self.half_life_images is None:
            pl_module.update_ema(self.current_decay(trainer.global_step))
            return
        # global_step already counts this batch: the images seen before it are (global_step - 1) batches
        batch_size = StepContext(batch).batch_size * trainer.world_size
        pl_module.update_ema(self.current_decay(trainer.global_step - 1, batch_size))
