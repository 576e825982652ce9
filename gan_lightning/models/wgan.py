"""WGAN: Arjovsky, Chintala & Bottou 2017, "Wasserstein Generative Adversarial Networks" (ICML).

Recipe (Algorithm 1 of the paper; every default below is from it): a critic C with an
unbounded output estimates W1(P_r, P_g) as E C(x) - E C(G(z)); C minimises
E C(G(z)) - E C(x), G minimises -E C(G(z)). C is kept K-Lipschitz by clipping every
critic parameter to [-c, c] after each critic update, c = 0.01. RMSProp, lr 5e-5 for both
networks (the paper avoids momentum-based optimisers here), n_critic = 5 critic steps per
generator step, batch 64. The DCGAN networks (BatchNorm included, as in the paper's DCGAN
critic) for images, MLPs for vectors. Not reproduced: the reference code's extra warm-up
(100 critic steps for the first 25 generator steps and every 500th), which is not part of
Algorithm 1.

Logged: ``wasserstein`` = E C(x) - E C(G(z)), the critic's W1 estimate.
"""

from __future__ import annotations

from gan_lightning.losses import wasserstein_d, wasserstein_g, weight_clip_
from gan_lightning.models.registry import register_model
from gan_lightning.models.shared import ShapedGAN


@register_model
class WGAN(ShapedGAN):
    paper = "Arjovsky, Chintala & Bottou 2017, Wasserstein GAN"
    data_kinds = ("image", "toy2d")
    recipe = {"optimizer": 'rmsprop', "lr_g": 5e-05, "lr_d": 5e-05, "critic_steps": 5}

    def __init__(
        self,
        clip_value: float = 0.01,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if clip_value <= 0:
            raise ValueError(f"model.clip_value must be > 0, got {clip_value}")
        self.clip_value = clip_value
        self.generator, self.discriminator = self.shaped_networks()
        weight_clip_(self.discriminator, clip_value)  # the critic starts inside the clipping box

    def discriminator_loss(self, real, fake, labels=None):
        real_out, fake_out = self.discriminate(real), self.discriminate(fake)
        return {"d_loss": wasserstein_d(real_out, fake_out), "wasserstein": real_out.mean() - fake_out.mean()}

    def generator_loss(self, real, fake, labels=None):
        return {"g_loss": wasserstein_g(self.discriminate(fake))}

    def after_discriminator_step(self) -> None:
        weight_clip_(self.discriminator, self.clip_value)
