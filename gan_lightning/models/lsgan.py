"""LSGAN: Mao et al. 2017, "Least Squares Generative Adversarial Networks" (ICCV).

Recipe: D outputs an unbounded score and is trained to regress real samples to ``b`` and
fakes to ``a``; G regresses its samples' scores to ``c``:
D: 0.5 E(D(x) - b)^2 + 0.5 E(D(G(z)) - a)^2,  G: 0.5 E(D(G(z)) - c)^2.

Defaults from the paper: the 0-1 coding a = 0, b = 1, c = 1 (the one used in its
experiments; a = -1, b = 1, c = 0 is the Pearson-chi^2 choice of its theory, one flag away);
Adam with beta1 = 0.5 "following DCGAN" and lr 2e-4 (the paper's rate for its
Chinese-characters runs; its LSUN scene runs used 1e-3); DCGAN-style networks with
BatchNorm, one D step per G step. Vectors (the 2-D mixtures) get MLPs, images the DCGAN
networks (``gan_lightning.nets.build_networks``).
"""

from __future__ import annotations

from gan_lightning.losses import lsgan_d, lsgan_g
from gan_lightning.models.registry import register_model
from gan_lightning.models.shared import ShapedGAN


@register_model
class LSGAN(ShapedGAN):
    paper = "Mao et al. 2017, Least Squares Generative Adversarial Networks"
    data_kinds = ("image", "toy2d")

    def __init__(
        self,
        a: float = 0.0,
        b: float = 1.0,
        c: float = 1.0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.a, self.b, self.c = a, b, c
        self.generator, self.discriminator = self.shaped_networks()

    def discriminator_loss(self, real, fake, labels=None):
        real_out, fake_out = self.discriminate(real), self.discriminate(fake)
        return {"d_loss": lsgan_d(real_out, fake_out, self.a, self.b),
                "d_real": real_out.mean(), "d_fake": fake_out.mean()}

    def generator_loss(self, real, fake, labels=None):
        return {"g_loss": lsgan_g(self.discriminate(fake), self.c)}
