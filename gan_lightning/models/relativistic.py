"""Relativistic GANs: Jolicoeur-Martineau 2018, "The relativistic discriminator: a key element
missing from standard GAN" (ICLR 2019).

Recipe: D estimates how much more realistic real data is than fake data. ``kind`` picks
the variant (``losses.relativistic_d`` / ``relativistic_g``):

- ``rsgan``: paired, -log sigmoid(C(x_r) - C(x_f)) for D and the mirror image for G;
- ``rasgan``: relativistic average with the sigmoid cross-entropy,
  C(x_r) against the mean of C(x_f) and C(x_f) against the mean of C(x_r), both terms;
- ``ralsgan``: relativistic average least squares, (d - 1)^2 and (d + 1)^2;
- ``rahinge``: relativistic average hinge, relu(1 - d) and relu(1 + d).

Unlike the other GANs, G's loss depends on D's scores of real data too. Defaults from the
paper's main CIFAR-10 set-up: Adam lr 2e-4, betas (0.5, 0.999), one D step per G step,
DCGAN networks with BatchNorm; ``rasgan`` as the default variant. MLPs for vectors.
"""

from __future__ import annotations

from typing import Literal

from gan_lightning.losses import relativistic_d, relativistic_g
from gan_lightning.models.registry import register_model
from gan_lightning.models.shared import ShapedGAN

RELATIVISTIC_KINDS: dict[str, tuple[str, bool]] = {
    # name: (loss kind of losses.relativistic_*, relativistic average?)
    "rsgan": ("bce", False),
    "rasgan": ("bce", True),
    "ralsgan": ("ls", True),
    "rahinge": ("hinge", True),
}


@register_model
class RelativisticGAN(ShapedGAN):
    paper = "Jolicoeur-Martineau 2018, The relativistic discriminator: a key element missing from standard GAN"
    data_kinds = ("image", "toy2d")

    def __init__(
        self,
        kind: Literal["rsgan", "rasgan", "ralsgan", "rahinge"] = "rasgan",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if kind not in RELATIVISTIC_KINDS:
            raise ValueError(f"model.kind must be one of {', '.join(RELATIVISTIC_KINDS)}; got {kind!r}")
        self.kind = kind
        self.loss_kind, self.average = RELATIVISTIC_KINDS[kind]
        self.generator, self.discriminator = self.shaped_networks()

    def discriminator_loss(self, real, fake, labels=None):
        real_out, fake_out = self.discriminate(real), self.discriminate(fake)
        return {"d_loss": relativistic_d(real_out, fake_out, self.loss_kind, self.average),
                "d_real": real_out.mean(), "d_fake": fake_out.mean()}

    def generator_loss(self, real, fake, labels=None):
        # D is frozen during G's step; its scores of real data enter G's loss as constants.
        real_out, fake_out = self.discriminate(real), self.discriminate(fake)
        return {"g_loss": relativistic_g(real_out, fake_out, self.loss_kind, self.average)}
