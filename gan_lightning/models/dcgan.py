"""DCGAN: Radford, Metz & Chintala 2015, "Unsupervised Representation Learning with
Deep Convolutional Generative Adversarial Networks".

Recipe (all defaults from the paper, section 4): G of transposed convolutions with
BatchNorm + ReLU and a tanh output; D of strided convolutions with LeakyReLU 0.2
and BatchNorm (not on D's input layer); weights N(0, 0.02); Adam lr 2e-4,
betas (0.5, 0.999); batch 128; z in R^100; non-saturating loss, one D step per G step.
Networks are sized for 28, 32 and 64 px (1 or 3 channels) by ``data_shape``.
"""

from __future__ import annotations

from typing import Literal, Sequence

from gan_lightning.losses import nonsaturating_d, nonsaturating_g
from gan_lightning.models.base import GANModule
from gan_lightning.models.registry import register_model
from gan_lightning.nets import DCGANDiscriminator, DCGANGenerator


@register_model
class DCGAN(GANModule):
    smooths_real_labels = True  # D's loss is binary cross-entropy: label_smoothing applies
    top_k_applies = True  # G's adversarial loss is a mean over samples drawn from noise: top_k applies
    minibatch_discrimination_applies = True  # D is the shared DCGAN discriminator
    mode_seeking_applies = True  # G draws its samples from noise in the default step
    paper = "Radford, Metz & Chintala 2015, Unsupervised Representation Learning with DCGANs"
    data_kinds = ("image",)

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 64, 64),
        latent_dim: int = 100,
        g_width: int = 64,
        d_width: int = 64,
        real_label: float = 1.0,
        g_norm: Literal["batch", "virtual", "none"] = "batch",
        **kwargs,
    ) -> None:
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, **kwargs)
        if len(self.data_shape) != 3 or self.data_shape[1] != self.data_shape[2]:
            raise ValueError(f"DCGAN needs square images (C, H, H); data_shape is {self.data_shape}")
        channels, size = self.data_shape[0], self.data_shape[1]
        if real_label != 1.0:  # the old spelling of a fixed label_smoothing
            if self.label_smoothing is not None:
                raise ValueError("model.real_label is label_smoothing's old spelling; give one of the two")
            self.label_smoothing = self.checked_label_smoothing(real_label)
        self.generator = DCGANGenerator(latent_dim, channels, size, g_width, norm=g_norm)
        self.discriminator = DCGANDiscriminator(channels, size, d_width, **self.minibatch_options())

    def discriminator_loss(self, real, fake, labels=None):
        real_logits, fake_logits = self.discriminate(real), self.discriminate(fake)
        return {"d_loss": nonsaturating_d(real_logits, fake_logits, self.real_target(real_logits)),
                "d_real": real_logits.mean(), "d_fake": fake_logits.mean()}

    def generator_loss(self, real, fake, labels=None):
        return {"g_loss": nonsaturating_g(self.top_k_samples(self.discriminate(fake)))}
