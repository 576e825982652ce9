"""PacGAN: Lin, Khetan, Fanti & Oh 2018, "PacGAN: The power of two samples in generative
adversarial networks" (NeurIPS).

Recipe: "packing": D judges ``pack`` samples at once, all real or all fake, concatenated
along the first (channel / feature) dimension, so a G that collapses modes yields packs
that are easy to tell apart. Nothing else changes: G and the loss are the base GAN's
(non-saturating), D's first layer just takes ``pack`` times the input channels.

Design: one model class with a ``base`` option instead of a wrapper around other models:
``base="gan"`` packs the fully connected networks of Goodfellow et al. 2014 (class ``GAN``),
``base="dcgan"`` the convolutional ones of Radford et al. 2015 (class ``DCGAN``, images only),
``base="auto"`` picks MLPs for vectors and DCGAN for images (``nets.build_networks``). Consecutive
samples of a batch form a pack (samples 0..p-1, p..2p-1, ...); a batch not divisible by
``pack`` drops its remainder, and a batch smaller than one pack is tiled to fill it.

Defaults: pack = 2 (the paper's PacGAN2; its tables also report 3 and 4); Adam lr 2e-4,
betas (0.5, 0.999) as in the base models' recipes. The paper's 2-D experiments (sizes used by
``experiments/pacgan/ring8.yaml`` and ``grid25.yaml``): G with 4 hidden layers of 400 units,
D with 3 hidden layers of 200, z in R^2, batch 100 (their D used maxout units; ours LeakyReLU).
"""

from __future__ import annotations

from typing import Literal

import torch

from gan_lightning.losses import nonsaturating_d, nonsaturating_g
from gan_lightning.models.registry import register_model
from gan_lightning.models.shared import ShapedGAN

BASE_ARCHITECTURES = {"auto": "auto", "gan": "mlp", "dcgan": "dcgan"}


def pack_samples(x: torch.Tensor, pack: int) -> torch.Tensor:
    """(N, C, ...) -> (N // pack, pack * C, ...): consecutive samples concatenated along dim 1.

    The last N mod pack samples are dropped; fewer than ``pack`` samples are tiled to one pack.
    """
    if pack == 1:
        return x
    if x.size(0) < pack:
        x = x.repeat((-(-pack // x.size(0)),) + (1,) * (x.dim() - 1))
    n = x.size(0) // pack * pack
    return x[:n].reshape(n // pack, pack * x.size(1), *x.shape[2:])


@register_model
class PacGAN(ShapedGAN):
    smooths_real_labels = True  # D's loss is binary cross-entropy: label_smoothing applies
    top_k_applies = True  # G's adversarial loss is a mean over samples drawn from noise: top_k applies
    paper = "Lin et al. 2018, PacGAN: The power of two samples in generative adversarial networks"
    data_kinds = ("image", "toy2d")

    def __init__(
        self,
        pack: int = 2,
        base: Literal["auto", "gan", "dcgan"] = "auto",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if pack < 1:
            raise ValueError(f"model.pack must be >= 1, got {pack}")
        if base not in BASE_ARCHITECTURES:
            raise ValueError(f"model.base must be one of {', '.join(BASE_ARCHITECTURES)}; got {base!r}")
        self.pack = pack
        self.generator, self.discriminator = self.shaped_networks(pack=pack,
            architecture=BASE_ARCHITECTURES[base],
        )

    def discriminate(self, x, labels=None):
        """One logit per pack of ``pack`` consecutive samples, (N // pack,)."""
        return self.run_discriminator(pack_samples(x, self.pack))

    def discriminator_loss(self, real, fake, labels=None):
        real_logits, fake_logits = self.discriminate(real), self.discriminate(fake)
        return {"d_loss": nonsaturating_d(real_logits, fake_logits, self.real_target(real_logits)),
                "d_real": real_logits.mean(), "d_fake": fake_logits.mean()}

    def generator_loss(self, real, fake, labels=None):
        return {"g_loss": nonsaturating_g(self.top_k_samples(self.discriminate(fake)))}
