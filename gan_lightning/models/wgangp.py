"""WGAN-GP: Gulrajani et al. 2017, "Improved Training of Wasserstein GANs" (NeurIPS).

Recipe (Algorithm 1 of the paper; every default below is from it): the WGAN critic loss
E C(G(z)) - E C(x) plus lambda * E(||grad C(x_hat)||_2 - 1)^2 on points x_hat drawn
uniformly on lines between real and fake samples (one factor per sample), lambda = 10;
no weight clipping; Adam lr 1e-4, betas (0, 0.9) for both networks; n_critic = 5.
The critic has no BatchNorm, which would make each sample's gradient depend on the
batch: ``d_norm="none"`` by default (the paper's recommended drop-in, layer norm, is
``d_norm="layer"``). DCGAN networks for images, MLPs for vectors.
The 2-D toy configs (``experiments/wgangp/{ring8,grid25}.yaml``) take the authors' toy script's
settings instead (igul222/improved_wgan_training ``gan_toy.py``: lambda 0.1, Adam betas (0.5, 0.9)).

Logged: ``wasserstein`` (E C(x) - E C(G(z))) and ``gp`` (the unweighted penalty).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from gan_lightning.losses import gradient_penalty, wasserstein_d, wasserstein_g
from gan_lightning.models.registry import register_model
from gan_lightning.models.shared import ShapedGAN


@register_model
class WGANGP(ShapedGAN):
    paper = "Gulrajani et al. 2017, Improved Training of Wasserstein GANs"
    data_kinds = ("image", "toy2d")
    recipe = {"lr_g": 0.0001, "lr_d": 0.0001, "betas": (0.0, 0.9), "critic_steps": 5}
    #: WGAN-LP's one-sided penalty (``losses.gradient_penalty(one_sided=True)``) instead of the two-sided one.
    one_sided_penalty: ClassVar[bool] = False

    def __init__(
        self,
        d_norm: Literal["batch", "none", "layer"] = "none",
        gp_weight: float = 10.0,
        **kwargs,
    ) -> None:
        super().__init__(d_norm=d_norm, **kwargs)
        self.gp_weight = gp_weight
        self.generator, self.discriminator = self.shaped_networks()

    def discriminator_loss(self, real, fake, labels=None):
        real_out, fake_out = self.discriminate(real), self.discriminate(fake)
        penalty = gradient_penalty(self.discriminate, real, fake, one_sided=self.one_sided_penalty)
        return {"d_loss": wasserstein_d(real_out, fake_out) + self.gp_weight * penalty,
                "wasserstein": real_out.mean() - fake_out.mean(), "gp": penalty}

    def generator_loss(self, real, fake, labels=None):
        return {"g_loss": wasserstein_g(self.discriminate(fake))}
