"""SNGAN: Miyato et al. 2018, "Spectral Normalization for Generative Adversarial Networks" (ICLR).

Recipe: every weight layer of D is divided by its largest singular value (one power
iteration per forward, ``nets.apply_spectral_norm``), which bounds D's Lipschitz constant
without a penalty; D has no BatchNorm. Hinge loss: D minimises
E relu(1 - D(x)) + E relu(1 + D(G(z))), G minimises -E D(G(z)).

Defaults: the paper's setting C of Table 1 (Adam lr 2e-4, betas (0.5, 0.999), n_dis = 1),
the one its standard-CNN results are most robust in and the cheapest on a CPU; the setting
of its ResNet runs (lr 2e-4, betas (0, 0.9), n_dis = 5) is three flags away. DCGAN
networks (with ``d_norm="none"``) for images, MLPs for vectors, spectral norm on all of D.

``spectral_norm=False`` builds the same networks without it: the paper's ablation baseline, the hinge-loss
D with nothing bounding its Lipschitz constant (benchmarks/sngan_settings.py, across Table 1's settings).
"""

from __future__ import annotations

from typing import Literal

from gan_lightning.losses import hinge_d, hinge_g
from gan_lightning.models.registry import register_model
from gan_lightning.models.shared import ShapedGAN


@register_model
class SNGAN(ShapedGAN):
    paper = "Miyato et al. 2018, Spectral Normalization for Generative Adversarial Networks"
    data_kinds = ("image", "toy2d")

    def __init__(
        self,
        d_norm: Literal["batch", "none", "layer"] = "none",
        spectral_norm: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(d_norm=d_norm, **kwargs)
        self.spectral_norm = spectral_norm
        self.generator, self.discriminator = self.shaped_networks(spectral_norm=spectral_norm)

    def discriminator_loss(self, real, fake, labels=None):
        real_out, fake_out = self.discriminate(real), self.discriminate(fake)
        return {"d_loss": hinge_d(real_out, fake_out), "d_real": real_out.mean(), "d_fake": fake_out.mean()}

    def generator_loss(self, real, fake, labels=None):
        return {"g_loss": hinge_g(self.discriminate(fake))}
