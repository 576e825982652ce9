"""ProGAN: Karras, Aila, Laine & Lehtinen 2018, "Progressive Growing of GANs for Improved Quality,
Stability, and Variation" (ICLR).

Recipe (the paper, sections 3-4 and appendix A, checked against the authors' code,
tkarras/progressive_growing_of_gans: ``networks.py``, ``loss.py``, ``train.py``, ``config.py``):

- **Progressive growing** from 4 px to the data's resolution (a power of 2). Training alternates
  a *stable* phase (``stable_images`` real images at one resolution) and a *fade-in* phase
  (``fade_images``) in which the next resolution's layers come in with weight alpha rising
  linearly from 0 to 1 with the images seen; the last resolution then trains on (``progressive=False``:
  no growing, every level at alpha 1 from the first iteration, the paper's baseline). Defaults 800k
  and 800k: the paper's (CelebA-HQ, LSUN); the authors' code defaults to 600k each and uses 400k
  for CIFAR-10. Growth stage ``phase``: 0 = stable at 4 px, 1 = fade-in of 8 px, 2 = stable at 8 px, ...
- **Reals at the current resolution**: 2x2 box-filter downsampling to the current resolution;
  during a fade-in they are blended as G's output is, ``lerp(upsample(downsample(x)), x, alpha)``
  (the authors' ``process_reals``).
- **Networks** (:mod:`gan_lightning.nets.progan`): equalized learning rate on every layer, pixel
  norm after every conv of G and on z, leaky ReLU 0.2, minibatch stddev (group 4) in D's last block;
  ``fmap_base`` 8192 and ``fmap_max`` 512 (the paper's 512 channels up to 64 px), z in R^512.
- **Loss**: WGAN-GP, lambda 10 (one interpolation factor per sample), plus the drift term
  0.001 * E[D(x)^2] on reals; one D step per G step (n_critic 1).
- **Optimiser**: Adam lr 1e-3 for both, betas (0, 0.99), eps 1e-8. The authors reset Adam's
  moments whenever a fade-in starts or ends; so does this model (``reset_optimizers=True``: the
  state of both optimizers is cleared on the first iteration of every new growth stage;
  ``False`` keeps it).
- **EMA** of G with decay 0.999: the ``EMACallback``'s job (``decay: 0.999`` in a config).

Not reproduced: the per-resolution minibatch sizes (16 at low resolutions, fewer above 128 px:
one batch size here), the authors' learning-rate ramp-up (40k images in the Theano code, 0 in
the TensorFlow one), the fused upsample/downsample convolutions (separate nearest upsampling and
box-filter downsampling, as the paper's Table 2) and the conditional (AC-GAN) term.

Training state (``resolution``, ``alpha``, ``phase``, ``images_seen``) is declared, so it is in
every checkpoint and a resume in the middle of a fade-in is bitwise. ``images_seen`` counts the
images of all processes (batch size x world size), as the paper's schedule counts the global
minibatch. Logged: ``resolution`` and ``alpha`` with the losses, ``wasserstein``, ``gp``, ``drift``.

``sample()`` returns images at the data's resolution at every stage: while G is still growing its
output is upsampled (nearest), so grids, FID and ``gan-lightning sample`` work throughout.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import torch
from torch.nn import functional as F

from gan_lightning.core.phases import StepContext
from gan_lightning.losses import gradient_penalty, wasserstein_d, wasserstein_g
from gan_lightning.models.base import GANModule
from gan_lightning.models.registry import register_model
from gan_lightning.nets.progan import ProGANDiscriminator, ProGANGenerator, num_levels


class GrowthStage(NamedTuple):
    """Where progressive growing stands: ``phase`` (0 = stable at 4 px, odd = a fade-in), the current
    ``resolution`` and the new level's fade-in weight ``alpha`` (1 in stable phases)."""

    phase: int
    resolution: int
    alpha: float


def growth_stage(images_seen: int, final_resolution: int, stable_images: int, fade_images: int,
                 start_resolution: int = 4) -> GrowthStage:
    """The stage after ``images_seen`` real images: ``stable_images`` at ``start_resolution``, then for
    every doubling ``fade_images`` of fade-in (alpha = images into the fade-in / fade_images) and
    ``stable_images`` stable; at ``final_resolution`` training stays stable."""
    doublings = int(math.log2(final_resolution // start_resolution))
    cycle = stable_images + fade_images
    step, within = divmod(int(images_seen), cycle)
    if step >= doublings:
        return GrowthStage(2 * doublings, final_resolution, 1.0)
    if within < stable_images:
        return GrowthStage(2 * step, start_resolution * 2 ** step, 1.0)
    return GrowthStage(2 * step + 1, start_resolution * 2 ** (step + 1), (within - stable_images) / fade_images)


def to_resolution(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """``images`` box-filtered (average pooled) down to ``resolution`` px (unchanged if already there)."""
    size = images.size(-1)
    if size == resolution:
        return images
    if size < resolution or size % resolution:
        raise ValueError(f"cannot downsample {size} px images to {resolution} px")
    return F.avg_pool2d(images, size // resolution)


def faded_reals(images: torch.Tensor, resolution: int, alpha: float) -> torch.Tensor:
    """Reals as D sees them at ``resolution`` with fade-in weight ``alpha`` (the authors' ``process_reals``):
    ``lerp(upsample(downsample_2x(x_r)), x_r, alpha)`` with ``x_r`` the images at ``resolution``."""
    x = to_resolution(images, resolution)
    if alpha >= 1.0 or resolution <= 4:
        return x
    coarse = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest")
    return coarse + (x - coarse) * alpha


@register_model
class ProGAN(GANModule):
    paper = "Karras, Aila, Laine & Lehtinen 2018, Progressive Growing of GANs for Improved Quality, Stability, " \
            "and Variation"
    data_kinds = ("image",)
    recipe = {"lr_g": 1e-3, "lr_d": 1e-3, "betas": (0.0, 0.99), "critic_steps": 1}

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 32, 32),
        latent_dim: int = 512,
        fmap_base: int = 8192,
        fmap_max: int = 512,
        stable_images: int = 800_000,
        fade_images: int = 800_000,
        gp_weight: float = 10.0,
        drift_weight: float = 0.001,
        mbstd_group_size: int = 4,
        reset_optimizers: bool = True,
        progressive: bool = True,
        **kwargs,
    ) -> None:
        """``stable_images`` / ``fade_images``: real images per stable / fade-in phase (>= 1 / >= 0; 0: no
        fade-in, a new level comes in at once). ``mbstd_group_size``: 0 turns the minibatch stddev off.
        ``reset_optimizers``: clear Adam's state at every new growth stage (the authors' code).
        ``progressive``: False trains the same networks and losses at the data's resolution from the first
        iteration (all levels, alpha 1; the schedule options are then unused): the paper's baseline without
        growing (section 3, Figure 4; Table 1's rows before "+ progressive growing")."""
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, **kwargs)
        shape = self.data_shape
        if len(shape) != 3 or shape[1] != shape[2] or shape[1] < 4 or shape[1] & (shape[1] - 1):
            raise ValueError(f"model.data_shape must be (C, S, S) with S a power of 2 >= 4 (ProGAN doubles from "
                             f"4 px), got {shape}; for 28 px MNIST use data.image_size: 32")
        checks = {"stable_images": (stable_images, 1), "fade_images": (fade_images, 0), "fmap_base": (fmap_base, 1),
                  "fmap_max": (fmap_max, 1), "mbstd_group_size": (mbstd_group_size, 0), "latent_dim": (latent_dim, 1)}
        for key, (value, least) in checks.items():
            if int(value) != value or value < least:
                raise ValueError(f"model.{key} must be an integer >= {least}, got {value!r}")
        for key, value in {"gp_weight": gp_weight, "drift_weight": drift_weight}.items():
            if value < 0:
                raise ValueError(f"model.{key} must be >= 0, got {value!r}")
        channels, size = shape[0], shape[1]
        self.stable_images, self.fade_images = int(stable_images), int(fade_images)
        self.gp_weight, self.drift_weight = float(gp_weight), float(drift_weight)
        self.reset_optimizers = bool(reset_optimizers)
        self.progressive = bool(progressive)
        self.generator = ProGANGenerator(latent_dim, channels, size, fmap_base, fmap_max)
        self.discriminator = ProGANDiscriminator(channels, size, fmap_base, fmap_max, mbstd_group_size)
        start = self.stage_at(0)
        self.training_state.declare("images_seen", 0)
        self.training_state.declare("phase", start.phase)
        self.training_state.declare("resolution", start.resolution)
        self.training_state.declare("alpha", start.alpha)

    # ------------------------------------------------------------------ growth
    @property
    def level(self) -> int:
        """The current level of G and D (0 at 4 px)."""
        return num_levels(self.training_state.resolution) - 1

    def stage_at(self, images_seen: int) -> GrowthStage:
        """The growth stage after ``images_seen`` images; without ``progressive``, the last one from the start."""
        size = self.data_shape[1]
        if not self.progressive:
            return GrowthStage(2 * (num_levels(size) - 1), size, 1.0)
        return growth_stage(images_seen, size, self.stable_images, self.fade_images)

    def advance_growth(self, batch_size: int) -> GrowthStage:
        """Set resolution, alpha and phase for the next batch from the images seen so far, reset the
        optimizers on a new stage (``reset_optimizers``), then count this batch's images."""
        state = self.training_state
        stage = self.stage_at(state.images_seen)
        if stage.phase != state.phase:
            if self.reset_optimizers and self.attached_trainer is not None:
                for name in self._optimizer_index:
                    self.named_optimizer(name).state.clear()
            state.phase = stage.phase
        state.resolution, state.alpha = stage.resolution, stage.alpha
        world = self.trainer.world_size if self.attached_trainer is not None else 1
        state.images_seen = state.images_seen + batch_size * world
        return stage

    # ------------------------------------------------------------------ networks at the current stage
    def generate(self, z, labels=None, net=None, conditions=None):
        """G(z) at the data's resolution: the current level's output, upsampled (nearest) while growing."""
        images = (net or self.generator)(z, self.level, self.training_state.alpha)
        factor = self.data_shape[1] // images.size(-1)
        return F.interpolate(images, scale_factor=factor, mode="nearest") if factor > 1 else images

    def discriminate(self, x, labels=None):
        """D's score of ``x``, box-filtered down to the current resolution, with the current fade-in."""
        x = to_resolution(x, self.training_state.resolution)
        return self.run_discriminator(x, self.level, self.training_state.alpha)

    def prepare_step(self, ctx: StepContext) -> None:
        stage = self.advance_growth(ctx.batch_size)
        ctx.real = faded_reals(ctx.real, stage.resolution, stage.alpha)
        ctx.z = self.sample_noise(ctx.batch_size)
        with torch.set_grad_enabled(ctx.runs("G")):
            ctx.fake = self.generator(ctx.z, self.level, stage.alpha)  # at the current resolution

    # ------------------------------------------------------------------ losses
    def discriminator_loss(self, real, fake, labels=None):
        real_out, fake_out = self.discriminate(real), self.discriminate(fake)
        penalty = gradient_penalty(self.discriminate, real, fake)
        drift = real_out.pow(2).mean()
        state = self.training_state
        return {"d_loss": wasserstein_d(real_out, fake_out) + self.gp_weight * penalty + self.drift_weight * drift,
                "wasserstein": real_out.mean() - fake_out.mean(), "gp": penalty, "drift": drift,
                "resolution": real_out.new_full((), float(state.resolution)),
                "alpha": real_out.new_full((), float(state.alpha))}

    def generator_loss(self, real, fake, labels=None):
        return {"g_loss": wasserstein_g(self.discriminate(fake))}
