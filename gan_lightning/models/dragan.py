"""DRAGAN: Kodali et al. 2017, "On Convergence and Stability of GANs".

Recipe: the non-saturating GAN loss plus a gradient penalty on D around the real data,
lambda * E(||grad D(x_hat)||_2 - 1)^2 with x_hat = x + alpha * (x_p - x), x_p a noisy
copy of the real batch (``losses.dragan_penalty``: x_p = x + 0.5 * std(x) * u, u ~ U[0, 1),
as in the authors' code). This penalises sharp D gradients near the data, the local
equilibria the paper links to mode collapse.

Defaults: lambda = 10 and noise scale 0.5 (paper and reference code); Adam lr 1e-4,
betas (0.5, 0.9), one D step per G step (the authors' reference code, to the best of our
knowledge; the paper gives no optimiser table). D has no BatchNorm by default
(``d_norm="none"``) because the penalty is on per-sample input gradients. DCGAN networks
for images, MLPs for vectors.

Logged: ``dragan_gp`` (the unweighted penalty).
"""

from __future__ import annotations

from typing import Literal

from gan_lightning.losses import dragan_penalty, nonsaturating_d, nonsaturating_g
from gan_lightning.models.registry import register_model
from gan_lightning.models.shared import ShapedGAN


@register_model
class DRAGAN(ShapedGAN):
    smooths_real_labels = True  # D's loss is binary cross-entropy: label_smoothing applies
    top_k_applies = True  # G's adversarial loss is a mean over samples drawn from noise: top_k applies
    paper = "Kodali et al. 2017, On Convergence and Stability of GANs"
    data_kinds = ("image", "toy2d")
    recipe = {"lr_g": 0.0001, "lr_d": 0.0001, "betas": (0.5, 0.9)}

    def __init__(
        self,
        d_norm: Literal["batch", "none", "layer"] = "none",
        gp_weight: float = 10.0,
        noise_scale: float = 0.5,
        **kwargs,
    ) -> None:
        super().__init__(d_norm=d_norm, **kwargs)
        self.gp_weight, self.noise_scale = gp_weight, noise_scale
        self.generator, self.discriminator = self.shaped_networks()

    def discriminator_loss(self, real, fake, labels=None):
        real_logits, fake_logits = self.discriminate(real), self.discriminate(fake)
        penalty = dragan_penalty(self.discriminate, real, self.noise_scale)
        return {"d_loss": nonsaturating_d(real_logits, fake_logits, self.real_target(real_logits)) + self.gp_weight * penalty,
                "d_real": real_logits.mean(), "d_fake": fake_logits.mean(), "dragan_gp": penalty}

    def generator_loss(self, real, fake, labels=None):
        return {"g_loss": nonsaturating_g(self.top_k_samples(self.discriminate(fake)))}
