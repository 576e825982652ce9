"""Pix2Pix: Isola, Zhu, Zhou & Efros 2017, "Image-to-Image Translation with Conditional
Adversarial Networks" (CVPR).

Recipe: a U-Net generator G maps an input image a to its partner b; a conditional PatchGAN D
sees the pair concat(a, b) or concat(a, G(a)) and gives one real/fake logit per patch.
G minimises the GAN loss plus ``lambda_l1`` times the L1 distance to the true partner.

Defaults, from the paper and the authors' code (junyanz/pytorch-CycleGAN-and-pix2pix,
``models/pix2pix_model.py``, ``options/train_options.py``, ``models/networks.py``):
- U-Net (``unet_256``: down to 1x1) with BatchNorm, dropout 0.5 in the decoders of the 3 blocks
  next to the innermost one (the generator's only noise); widths 64 (ngf, ndf);
- 70x70 PatchGAN (``n_layers_D`` 3) on the concatenated pair, BatchNorm;
- the vanilla GAN loss (BCE with logits: ``gan_mode='vanilla'`` for pix2pix), ``lambda_L1`` 100,
  D's loss (real + fake) x 0.5, no image pool (``pool_size=0``);
- Adam lr 2e-4, betas (0.5, 0.999) for both; each iteration updates D first, then G
  (``optimize_parameters``), on the same G(a);
- LR: constant for ``n_epochs`` (100) then linear decay to 0 over ``n_epochs_decay`` (100):
  here the core's per-iteration ``lr_decay_iters`` (set it to half of ``trainer.max_steps``).

Baselines of the paper's ablation (its Table 1), by options: ``gan_weight=0`` is the L1-only
U-Net (no discriminator is built), ``lambda_l1=0`` the cGAN-only model.

Direction: pix2pix maps one way; the paired data's ``direction`` option decides which domain is
the input ("a"), so ``translate(..., direction="BtoA")`` is an error.

Train/eval semantics. The authors test with the network in train mode (``test.py`` calls
``model.eval()`` only with ``--eval``): dropout stays on as the noise source and BatchNorm
normalises with the statistics of the batch being translated. ``translate(images)`` follows
them (``dropout=True``; ``seed`` makes its dropout noise reproducible without touching the
global RNG); ``translate(images, dropout=False)`` is the deterministic eval mode (no dropout,
BatchNorm running statistics). Neither changes BatchNorm's running statistics.
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
import torch.nn.functional as F

from gan_lightning.core import StepContext
from gan_lightning.losses import nonsaturating_d, nonsaturating_g
from gan_lightning.models.base import GANModule
from gan_lightning.models.registry import register_model
from gan_lightning.models.shared import seeded
from gan_lightning.models.shared import MapsAToB
from gan_lightning.nets.translation import Norm, PatchDiscriminator, UNetGenerator


@register_model
class Pix2Pix(MapsAToB, GANModule):
    """pix2pix (Isola et al. 2017): U-Net G, conditional PatchGAN D, GAN + 100 x L1.

    Args:
        data_shape: (C, H, W) of both domains; H = W a power of two (the U-Net goes down to 1x1).
        g_width, d_width: base widths of G and D (ngf, ndf: 64).
        norm: normalisation of both networks (the authors' pix2pix: ``batch``).
        dropout: dropout of the U-Net's three inner decoder blocks (0.5; 0 removes the noise).
        patch_size: PatchGAN receptive field, 1 (PixelGAN), 16, 70 (default) or 286.
        lambda_l1: weight of the L1 term (100; 0: the GAN-only baseline).
        gan_weight: weight of G's GAN term (1; 0: the L1-only U-Net baseline, without D).
    """

    smooths_real_labels = True  # D's loss is binary cross-entropy: label_smoothing applies
    paper = "Isola et al. 2017, Image-to-Image Translation with Conditional Adversarial Networks"
    data_kinds = ("paired",)
    recipe = {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999)}

    def __init__(
        self,
        data_shape: Sequence[int] = (3, 256, 256),
        g_width: int = 64,
        d_width: int = 64,
        norm: Norm = "batch",
        dropout: float = 0.5,
        patch_size: Literal[1, 16, 70, 286] = 70,
        lambda_l1: float = 100.0,
        gan_weight: float = 1.0,
        **kwargs,
    ) -> None:
        super().__init__(data_shape=data_shape, latent_dim=1, **kwargs)
        if lambda_l1 < 0 or gan_weight < 0:
            raise ValueError(f"Pix2Pix: lambda_l1 and gan_weight must be >= 0, got {lambda_l1}, {gan_weight}")
        if lambda_l1 == 0 and gan_weight == 0:
            raise ValueError("Pix2Pix: lambda_l1 and gan_weight are both 0, so G has no loss; "
                             "set lambda_l1 > 0 (L1-only baseline) or gan_weight > 0 (GAN-only baseline)")
        if len(self.data_shape) != 3 or self.data_shape[1] != self.data_shape[2]:
            raise ValueError(f"Pix2Pix needs square images (C, H, H), got data_shape {self.data_shape}")
        channels, size = self.data_shape[0], self.data_shape[1]
        self.lambda_l1, self.gan_weight = float(lambda_l1), float(gan_weight)
        self.generator = UNetGenerator(channels, channels, size, g_width, norm, dropout)
        self.discriminator: PatchDiscriminator | None = None
        if self.gan_weight > 0:
            self.discriminator = PatchDiscriminator(2 * channels, d_width, patch_size, norm)
            self.discriminator.check_image_size(size)

    # ------------------------------------------------------------------ training
    def optimizer_groups(self):
        groups = {"generator": self.generator.parameters()}
        if self.discriminator is not None:
            groups["discriminator"] = self.discriminator.parameters()
        return groups

    def phases(self):
        """D then G on the same G(a), as the authors' ``optimize_parameters``; only G without D."""
        phases = self.adversarial_phases(self.discriminator_terms, self.generator_terms)
        return phases if self.discriminator is not None else [p for p in phases if p.optimizer == "generator"]

    def prepare_step(self, ctx: StepContext) -> None:
        with torch.set_grad_enabled(ctx.runs("G")):
            ctx.fake_b = self.generator(ctx.a)

    def discriminate_pair(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """D's patch logits for the pair (a, b): the conditional PatchGAN sees both images."""
        return self.run_discriminator(torch.cat([a, b], dim=1))

    def discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        real, fake = self.discriminate_pair(ctx.a, ctx.b), self.discriminate_pair(ctx.a, ctx.fake_b.detach())
        return {"d_loss": 0.5 * nonsaturating_d(real, fake, self.real_target(real))}

    def generator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        terms: dict[str, torch.Tensor] = {"l1": F.l1_loss(ctx.fake_b, ctx.b)}
        loss = self.lambda_l1 * terms["l1"]
        if self.discriminator is not None:
            terms["g_gan"] = nonsaturating_g(self.discriminate_pair(ctx.a, ctx.fake_b))
            loss = loss + self.gan_weight * terms["g_gan"]
        terms["g_loss"] = loss
        return terms

    def heldout_step(self, batch, batch_idx: int, stage: str) -> None:
        """Paired L1 between G(a) (the authors' test protocol, seeded dropout) and b."""
        ctx = StepContext(batch)
        fake = self.translate(ctx.a, seed=batch_idx)
        self.log(f"{stage}/l1", F.l1_loss(fake, ctx.b.to(fake)), on_epoch=True, batch_size=ctx.a.size(0))

    # ------------------------------------------------------------------ translation
    @torch.no_grad()
    def translate(self, images: torch.Tensor, direction: Literal["AtoB", "BtoA"] = "AtoB", dropout: bool = True,
                  seed: int | None = None) -> torch.Tensor:
        """G(images) in [-1, 1]. ``dropout=True``: the authors' test mode (dropout noise, BatchNorm
        batch statistics); ``False``: eval mode, deterministic. ``seed``: reproducible dropout noise,
        the global RNG left as it was. BatchNorm's running statistics are never changed."""
        if direction != "AtoB":
            raise ValueError(f"Pix2Pix translates one way only (A to B; the paired data's direction option picks A), "
                             f"got direction={direction!r}")
        net = self.generator
        was_training = net.training
        saved = [buffer.clone() for buffer in net.buffers()]
        net.train(dropout)
        try:
            with seeded(seed, self.device):
                return net(images.to(self.device))
        finally:
            net.train(was_training)
            for buffer, value in zip(net.buffers(), saved):
                buffer.copy_(value)
