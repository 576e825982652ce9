"""Augmentation of every discriminator input: DiffAugment and ADA for small data sets, instance noise.

The callbacks install a transform of :mod:`gan_lightning.augment` with
``set_discriminator_augment`` when training is set up; ``GANModule.run_discriminator``, the one
entry point of every D call of every model, then applies it to reals and fakes, in the D and the
G phases, while the module trains (never in evaluation or sampling). From a YAML::

    trainer:
      callbacks:
        - class_path: gan_lightning.callbacks.DiffAugmentCallback
          init_args: {policy: "color,translation,cutout"}   # quoted: a bare comma ends a {...} value
        # or
        - class_path: gan_lightning.callbacks.AdaptiveAugmentation
          init_args: {target: 0.6, interval: 4, kimg: 500}
        # or
        - class_path: gan_lightning.callbacks.InstanceNoise
          init_args: {std: 0.1, anneal_steps: 2000}
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Sequence

import lightning as L
import torch

from gan_lightning.augment import ADA_TRANSFORMS, AdaAugment, DiffAugment
from gan_lightning.core import compat
from gan_lightning.core.phases import StepContext
from gan_lightning.losses import instance_noise


def _install(pl_module, augment, owner: str) -> None:
    current = pl_module.discriminator_augment
    if current is not None and current is not augment:
        raise ValueError(f"{owner}: {type(pl_module).__name__} already has a discriminator augmentation "
                         f"({current!r}); use one augmentation callback")
    pl_module.set_discriminator_augment(augment)


def _uninstall(pl_module, augment) -> None:
    if pl_module.discriminator_augment is augment:
        pl_module.set_discriminator_augment(None)


def _is_image_model(pl_module) -> bool:
    return pl_module.output().is_image


def _what_it_outputs(pl_module) -> str:
    output = pl_module.output()
    return f"{type(pl_module).__name__} outputs {output.kind} of shape {output.shape}"


class DiffAugmentCallback(L.Callback):
    """DiffAugment (Zhao et al. 2020) on every D input in training, for any model.

    Args:
        policy: comma-separated transforms (or a list), applied in this order: ``color`` (brightness,
            saturation, contrast), ``translation`` (1/8 of the size, zero padding), ``cutout``
            (a square of half the size). The paper's default for small data is all three.
    """

    def __init__(self, policy: str | list[str] = "color,translation,cutout") -> None:
        self.augment = DiffAugment(policy)

    def setup(self, trainer, pl_module, stage: str) -> None:
        if not _is_image_model(pl_module):
            warnings.warn(f"DiffAugmentCallback augments images; {_what_it_outputs(pl_module)}: its D inputs pass "
                          "unchanged", stacklevel=2)
        _install(pl_module, self.augment, "DiffAugmentCallback")

    def teardown(self, trainer, pl_module, stage: str) -> None:
        _uninstall(pl_module, self.augment)


class AdaptiveAugmentation(L.Callback):
    """ADA (Karras et al. 2020): the ``bgc`` pipeline with a probability ``p`` that D's overfitting steers.

    After every iteration the callback measures D on the batch's real images, through the model's
    ``discriminate`` (so through ``run_discriminator``, augmented at the current p): the sign of
    each score (``> score_threshold`` counts as "real"). Every ``interval`` iterations the overfitting
    heuristic r_t = E[sign(D(real))] over the iterations since the last adjustment moves p by
    ``sign(r_t - target) * images / (kimg * 1000)``, where ``images`` is the number of real images
    measured (batch * interval, over every process), so p can cross [0, 1] in ``kimg`` thousand
    images; p is kept in [0, 1] (the reference only clamps at 0).

    The measurement is one extra forward of D per iteration, without gradients, with D's buffers
    (BatchNorm statistics, spectral-norm vectors) put back afterwards and its draws taken from a
    fork of the RNG, so training itself is the run it would be at the same p. The reference reads
    the same signs off the D phase's real logits; the core does not know which D calls see reals.

    p, the running sums and the last r_t are this callback's state, saved in every checkpoint
    (``checkpoint["callbacks"]``) and restored on resume, so a resumed run augments exactly as the
    uninterrupted one. ``ada_p`` and ``ada_rt`` are logged when the loggers write.

    Args:
        target: the r_t that p steers to (0.6, the paper's value).
        interval: iterations between adjustments (4, as the reference).
        kimg: thousands of images for p to go from 0 to 1 (500, as the reference).
        initial_p: p at the start.
        adaptive: false keeps p at ``initial_p`` (the reference's fixed-p augmentation).
        score_threshold: D scores above it count as judged real: 0 for logits, e.g. 0.5 for LSGAN's
            0 / 1 targets. r_t assumes a higher score means "real" (not so for BEGAN's or EBGAN's
            reconstruction energies).
        transforms: the pipeline's transforms (default: all of ``bgc``, see :mod:`gan_lightning.augment`).

    Models with image data drawn from noise or labels; image-to-image models have no single real
    batch to measure (use :class:`DiffAugmentCallback` there).
    """

    def __init__(self, target: float = 0.6, interval: int = 4, kimg: float = 500.0, initial_p: float = 0.0,
                 adaptive: bool = True, score_threshold: float = 0.0,
                 transforms: Sequence[str] = ADA_TRANSFORMS) -> None:
        if interval < 1:
            raise ValueError(f"AdaptiveAugmentation.interval must be >= 1, got {interval}")
        if kimg <= 0:
            raise ValueError(f"AdaptiveAugmentation.kimg must be > 0, got {kimg}")
        if not 0.0 <= initial_p <= 1.0:
            raise ValueError(f"AdaptiveAugmentation.initial_p must be in [0, 1], got {initial_p}")
        self.target, self.interval, self.kimg = float(target), int(interval), float(kimg)
        self.adaptive, self.score_threshold = bool(adaptive), float(score_threshold)
        self.augment = AdaAugment(p=float(initial_p), transforms=tuple(transforms))
        self.rt: float | None = None  # the r_t of the last adjustment
        self._sums = torch.zeros(3)  # sums of signs, scores, real images since then (exact integers)

    @property
    def p(self) -> float:
        return float(self.augment.p)

    # ------------------------------------------------------------------ hooks
    def setup(self, trainer, pl_module, stage: str) -> None:
        if not _is_image_model(pl_module):
            raise ValueError(f"AdaptiveAugmentation augments images; {_what_it_outputs(pl_module)}")
        if pl_module.translates:
            raise ValueError(f"AdaptiveAugmentation measures D on a batch of real images; {type(pl_module).__name__} "
                             f"translates between domains: use DiffAugmentCallback")
        _install(pl_module, self.augment, "AdaptiveAugmentation")

    def teardown(self, trainer, pl_module, stage: str) -> None:
        _uninstall(pl_module, self.augment)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.adaptive:
            sums = self.measure(trainer, pl_module, batch)
            if trainer.world_size > 1:
                sums = trainer.strategy.reduce(sums, reduce_op="sum")
            self._sums = self._sums.to(sums.device) + sums
            if trainer.global_step % self.interval == 0:
                self.adjust()
        if compat.logging_due(pl_module):
            pl_module.log("ada_p", self.p, on_step=True, on_epoch=False)
            if self.rt is not None:
                pl_module.log("ada_rt", self.rt, on_step=True, on_epoch=False)

    # ------------------------------------------------------------------ the controller
    @torch.no_grad()
    def measure(self, trainer, pl_module, batch: Any) -> torch.Tensor:
        """(sum of sign(D(real) - threshold), number of scores, number of images) for this batch."""
        ctx = StepContext(batch)
        real = ctx.real
        buffers = [buffer.detach().clone() for buffer in pl_module.buffers()]
        devices = [real.device.index or 0] if real.device.type == "cuda" else []
        try:
            with torch.random.fork_rng(devices=devices), trainer.precision_plugin.forward_context():
                scores = pl_module.discriminate(real, ctx.labels)
        finally:
            for buffer, saved in zip(pl_module.buffers(), buffers):
                buffer.copy_(saved)
        if isinstance(scores, (tuple, list)):
            scores = scores[0]
        signs = torch.sign(scores.detach().float() - self.score_threshold)
        # counts as device constants (new_full: a fill, not a host-to-device copy that waits for the GPU)
        return torch.stack([signs.sum(), signs.new_full((), signs.numel()), signs.new_full((), real.size(0))])

    def adjust(self) -> None:
        """p += sign(r_t - target) * images / (kimg * 1000), clamped to [0, 1]; the sums restart."""
        signs, scores, images = self._sums.tolist()
        if scores > 0:
            self.rt = signs / scores
            step = math.copysign(1.0, self.rt - self.target) if self.rt != self.target else 0.0
            self.augment.p = min(max(self.p + step * images / (self.kimg * 1000.0), 0.0), 1.0)
        self._sums = torch.zeros_like(self._sums)

    # ------------------------------------------------------------------ checkpoint
    def state_dict(self) -> dict[str, Any]:
        return {"p": self.p, "rt": self.rt, "sums": self._sums.detach().cpu().clone()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.augment.p = float(state_dict["p"])
        self.rt = state_dict.get("rt")
        self._sums = state_dict["sums"].clone()


class InstanceNoiseAugment:
    """x + sigma * N(0, I) (``losses.instance_noise``) at the current ``std``; the identity at 0."""

    def __init__(self, std: float) -> None:
        self.std = float(std)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return instance_noise(x, self.std) if self.std > 0 else x

    def __repr__(self) -> str:
        return f"InstanceNoiseAugment(std={self.std:g})"


class InstanceNoise(L.Callback):
    """Instance noise (Sønderby et al. 2016; Arjovsky & Bottou 2017) on every D input in training, any model.

    Gaussian noise of standard deviation sigma is added to the real and the generated inputs of every
    discriminator call (``run_discriminator``, in the D and the G phases), so the two distributions
    overlap and D's gradient stays informative early on. sigma falls linearly from ``std`` at the first
    iteration to 0 at ``anneal_steps`` (Sønderby et al.'s annealing; ``None``: constant). sigma is a
    function of the iteration alone, so a resumed run adds the noise of the uninterrupted one (the
    draws come from the global RNG, which checkpoints hold). ``instance_noise_std`` is logged when the
    loggers write.

    Args:
        std: sigma at the first iteration, in the data's units (images in [-1, 1]).
        anneal_steps: iterations over which sigma falls to 0 (None: no annealing).
    """

    def __init__(self, std: float = 0.1, anneal_steps: int | None = None) -> None:
        if not (math.isfinite(std) and std >= 0):
            raise ValueError(f"InstanceNoise.std must be a finite number >= 0, got {std}")
        if anneal_steps is not None and anneal_steps < 1:
            raise ValueError(f"InstanceNoise.anneal_steps must be >= 1 (or null: no annealing), got {anneal_steps}")
        self.initial_std, self.anneal_steps = float(std), anneal_steps
        self.augment = InstanceNoiseAugment(std)

    def std_at(self, iteration: int) -> float:
        """sigma at ``iteration`` (0-based)."""
        if self.anneal_steps is None:
            return self.initial_std
        return self.initial_std * max(0.0, 1.0 - iteration / self.anneal_steps)

    def setup(self, trainer, pl_module, stage: str) -> None:
        _install(pl_module, self.augment, "InstanceNoise")

    def teardown(self, trainer, pl_module, stage: str) -> None:
        _uninstall(pl_module, self.augment)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.augment.std = self.std_at(trainer.global_step)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if compat.logging_due(pl_module):
            pl_module.log("instance_noise_std", self.augment.std, on_step=True, on_epoch=False)
