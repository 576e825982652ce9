"""WGAN-div: Wu et al. 2018, "Wasserstein Divergence for GANs" (ECCV).

Recipe: the Wasserstein critic loss E C(G(z)) - E C(x) plus the W-div term
k * E||grad C(x_hat)||^p, which needs no 1-Lipschitz constraint and no interpolation
with a target norm of 1; ``losses.wgan_div_penalty`` evaluates it at the real and the
fake points, as the authors' code does. G minimises -E C(G(z)).

Defaults from the paper: k = 2, p = 6 (its best pair), Adam lr 2e-4, betas (0.5, 0.999),
n_critic = 5. The critic has no BatchNorm by default (``d_norm="none"``): the penalty is
on per-sample input gradients, which BatchNorm would couple across the batch. DCGAN
networks for images, MLPs for vectors.

Logged: ``wasserstein`` (E C(x) - E C(G(z))) and ``div_penalty`` (with k, unweighted otherwise).
"""

from __future__ import annotations

from typing import Literal

from gan_lightning.losses import wasserstein_d, wasserstein_g, wgan_div_penalty
from gan_lightning.models.registry import register_model
from gan_lightning.models.shared import ShapedGAN


@register_model
class WGANDiv(ShapedGAN):
    paper = "Wu et al. 2018, Wasserstein Divergence for GANs"
    data_kinds = ("image", "toy2d")
    recipe = {"critic_steps": 5}

    def __init__(
        self,
        d_norm: Literal["batch", "none", "layer"] = "none",
        k: float = 2.0,
        p: float = 6.0,
        **kwargs,
    ) -> None:
        super().__init__(d_norm=d_norm, **kwargs)
        self.k, self.p = k, p
        self.generator, self.discriminator = self.shaped_networks()

    def discriminator_loss(self, real, fake, labels=None):
        real_out, fake_out = self.discriminate(real), self.discriminate(fake)
        penalty = wgan_div_penalty(self.discriminate, real, fake, self.k, self.p)
        return {"d_loss": wasserstein_d(real_out, fake_out) + penalty,
                "wasserstein": real_out.mean() - fake_out.mean(), "div_penalty": penalty}

    def generator_loss(self, real, fake, labels=None):
        return {"g_loss": wasserstein_g(self.discriminate(fake))}
