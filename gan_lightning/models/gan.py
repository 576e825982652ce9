"""GAN: Goodfellow et al. 2014, "Generative Adversarial Nets".

Recipe: fully connected G and D, the non-saturating generator loss
(-log D(G(z)), section 3 of the paper), one D step per G step.

Defaults: the paper trained maxout networks with SGD + momentum; we default to
Adam (lr 2e-4, betas (0.5, 0.999)) and ReLU / LeakyReLU MLPs, the set-up of the
common reimplementations, because it trains reliably at small budgets. The
paper's optimiser is one flag away: ``--model.optimizer sgd --model.momentum 0.5
--model.lr_g 0.1 --model.lr_d 0.1``. Works on images and on 2-D toy data.
"""

from __future__ import annotations

from typing import Literal, Sequence

from gan_lightning.losses import minimax_g, nonsaturating_d, nonsaturating_g
from gan_lightning.models.base import GANModule
from gan_lightning.models.registry import register_model
from gan_lightning.nets import MLPDiscriminator, MLPGenerator


@register_model
class GAN(GANModule):
    smooths_real_labels = True  # D's loss is binary cross-entropy: label_smoothing applies
    top_k_applies = True  # G's adversarial loss is a mean over samples drawn from noise: top_k applies
    minibatch_discrimination_applies = True  # D is the shared MLP discriminator
    mode_seeking_applies = True  # G draws its samples from noise in the default step
    paper = "Goodfellow et al. 2014, Generative Adversarial Nets"
    data_kinds = ("image", "toy2d")

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 100,
        g_hidden: Sequence[int] = (256, 512, 1024),
        d_hidden: Sequence[int] = (512, 256),
        generator_loss_kind: Literal["nonsaturating", "minimax"] = "nonsaturating",
        g_norm: Literal["batch", "virtual", "none"] = "batch",
        **kwargs,
    ) -> None:
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, **kwargs)
        self.generator = MLPGenerator(latent_dim, self.data_shape, g_hidden, norm=g_norm)
        self.discriminator = MLPDiscriminator(self.data_shape, d_hidden, **self.minibatch_options())
        self.generator_loss_fn = nonsaturating_g if generator_loss_kind == "nonsaturating" else minimax_g

    def discriminator_loss(self, real, fake, labels=None):
        real_logits, fake_logits = self.discriminate(real), self.discriminate(fake)
        return {"d_loss": nonsaturating_d(real_logits, fake_logits, self.real_target(real_logits)),
                "d_real": real_logits.mean(), "d_fake": fake_logits.mean()}

    def generator_loss(self, real, fake, labels=None):
        return {"g_loss": self.generator_loss_fn(self.top_k_samples(self.discriminate(fake)))}
