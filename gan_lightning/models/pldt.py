"""PLDT: Yoo, Kim, Park, Paek & Kweon 2016, "Pixel-Level Domain Transfer" (ECCV).

Recipe: a converter C (encoder-decoder) maps a source image I_S to a target image; it needs
PAIRED data (each source with its associated target, "a" and "b"). Two discriminators:

- a real/fake discriminator R: real target images are 1 (associated ones and unassociated
  ones alike), converted images are 0;
- a domain (pair) discriminator A on the channel-wise concatenation (I_S, I): associated pairs
  (I_S, its own target) are 1, unassociated pairs (I_S, the target of another source) are 0,
  generated pairs (I_S, C(I_S)) are 0.

Binary cross-entropy everywhere; each discriminator's loss is the mean of its three terms; the
converter's loss is the mean of BCE(R(C(I_S)), 1) and BCE(A(I_S, C(I_S)), 1). Per iteration: R,
then A, then C. The unassociated target of sample i is the target of sample i + 1 of the batch
(a real target of another source, with no random draw). ``pair_discriminator=False`` is the
baseline without A (the converter then learns only from R).

Defaults, from the paper and the Torch code that reproduces it (fxia22/PixelDTGAN ``main.lua``):
- converter: stride-2 4x4 convs with leaky ReLU 0.2 (BatchNorm but on the first) down to 4x4,
  then stride-2 4x4 transposed convs with BatchNorm and ReLU back, tanh; R and A: DCGAN
  discriminators (stride-2 4x4 convs, leaky ReLU 0.2, BatchNorm but on the first, a 4x4 valid
  conv to one logit), A on 2C input channels; N(0, 0.02) initialisation; width 96 (ngf, ndf);
- the labels above and the 1/3, 1/2 averages; Adam lr 2e-4, beta1 0.5; batch 128 (64 px in the paper).

``translate(images, "AtoB")`` = C(images); BtoA raises (the converter goes one way).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch.nn import functional as F

from gan_lightning.core import Phase, StepContext
from gan_lightning.models.base import GANModule
from gan_lightning.models.registry import register_model
from gan_lightning.nets.digits import Converter, DCGANCritic
from gan_lightning.models.shared import MapsAToB
from gan_lightning.nets.layers import power_of_two_depth
from gan_lightning.nets.layers import eval_mode

ASSOCIATED, UNASSOCIATED, GENERATED = 1.0, 0.0, 0.0  # the domain discriminator's targets


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def unassociated_targets(targets: torch.Tensor) -> torch.Tensor:
    """For sample i, the target of sample i + 1 (mod batch): a real target of another source."""
    if targets.size(0) < 2:
        raise ValueError("PLDT needs batches of at least 2 pairs (an unassociated target comes from another pair)")
    return targets.roll(-1, dims=0)


@register_model
class PLDT(MapsAToB, GANModule):
    paper = "Yoo, Kim, Park, Paek & Kweon 2016, Pixel-Level Domain Transfer"
    data_kinds = ("paired",)
    recipe = {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999)}

    def __init__(
        self,
        data_shape: Sequence[int] = (3, 64, 64),
        pair_discriminator: bool = True,
        g_width: int = 96,
        d_width: int = 96,
        **kwargs,
    ) -> None:
        """
        Args:
            data_shape: (C, H, W) of source and target; H = W a power of two >= 8.
            pair_discriminator: train with the domain discriminator A (False: the baseline with R only).
            g_width, d_width: first-layer channels of the converter and of both discriminators.
        """
        super().__init__(data_shape=data_shape, latent_dim=1, **kwargs)
        channels, size = self.data_shape[0], self.data_shape[1]
        power_of_two_depth("PLDT", size)
        self.pair_discriminator = bool(pair_discriminator)
        self.generator = Converter(channels, channels, size, g_width)
        self.discriminator = DCGANCritic(channels, size, d_width)
        self.discriminator_pair = DCGANCritic(2 * channels, size, d_width) if self.pair_discriminator else None

    def optimizer_groups(self):
        groups = {"generator": self.generator.parameters(), "discriminator": self.discriminator.parameters()}
        if self.discriminator_pair is not None:
            groups["discriminator_pair"] = self.discriminator_pair.parameters()
        return groups

    # ------------------------------------------------------------------ training
    def prepare_step(self, ctx: StepContext) -> None:
        ctx.unassociated = unassociated_targets(ctx.b)
        with torch.set_grad_enabled(ctx.runs("G")):
            ctx.fake_b = self.generator(ctx.a)

    def phases(self) -> list[Phase]:
        phases = [Phase("D", "discriminator", self.discriminator_terms)]
        if self.pair_discriminator:
            phases.append(Phase("A", "discriminator_pair", self.pair_terms, loss_key="a_loss"))
        return [*phases, Phase("G", "generator", self.generator_terms, interval=self.critic_steps)]

    def pair_logits(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """A's logit for (source, target) pairs: associated (1) or not (0)."""
        return self.run_discriminator(torch.cat([source, target], dim=1), net="discriminator_pair")

    def discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        associated = _bce(self.run_discriminator(ctx.b), 1.0)
        unassociated = _bce(self.run_discriminator(ctx.unassociated), 1.0)
        fake = _bce(self.run_discriminator(ctx.fake_b.detach()), 0.0)
        return {"d_loss": (associated + unassociated + fake) / 3}

    def pair_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        associated = _bce(self.pair_logits(ctx.a, ctx.b), ASSOCIATED)
        unassociated = _bce(self.pair_logits(ctx.a, ctx.unassociated), UNASSOCIATED)
        generated = _bce(self.pair_logits(ctx.a, ctx.fake_b.detach()), GENERATED)
        return {"a_loss": (associated + unassociated + generated) / 3, "a_associated": associated,
                "a_unassociated": unassociated, "a_generated": generated}

    def generator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        real_fake = _bce(self.run_discriminator(ctx.fake_b), 1.0)
        if not self.pair_discriminator:
            return {"g_loss": real_fake, "g_real_fake": real_fake}
        pair = _bce(self.pair_logits(ctx.a, ctx.fake_b), ASSOCIATED)
        return {"g_loss": (real_fake + pair) / 2, "g_real_fake": real_fake, "g_pair": pair}

    def heldout_step(self, batch, batch_idx: int, stage: str) -> None:
        ctx = StepContext(batch)
        fake = self.generator(ctx.a)
        self.log_dict({f"{stage}/l1": F.l1_loss(fake, ctx.b), f"{stage}/d_fake": self.run_discriminator(fake).mean()},
                      on_epoch=True, batch_size=ctx.a.size(0))

    def discriminate(self, x, labels=None):
        return self.run_discriminator(x)

    # ------------------------------------------------------------------ translation
    @torch.no_grad()
    def translate(self, images: torch.Tensor, direction: str = "AtoB", use_ema: bool = True) -> torch.Tensor:
        """C(images) in eval mode (BatchNorm's running statistics), the EMA copy when there is one."""
        if direction != "AtoB":
            raise ValueError(f"PLDT's converter maps source (A) to target (B) only, not {direction!r}")
        net = self.sampling_generator if use_ema else self.generator
        with eval_mode(net):
            return net(images.to(self.device))
