"""CGAN: Mirza & Osindero 2014, "Conditional Generative Adversarial Nets".

Recipe: both networks see the class label y: G(z, y) draws a sample of class y and D(x, y)
judges whether x is a real sample *of class y*; otherwise the GAN game of Goodfellow et al.
with the non-saturating generator loss, one D step per G step. Fakes of a batch are drawn
for the labels of that batch's real images (the data's class frequencies).

Defaults: the paper's MNIST networks were MLPs (maxout D) trained with SGD + momentum and
a decaying rate; we use DCGAN-style convolutional networks (``gan_lightning.nets.conditional``)
with the DCGAN optimiser (Adam lr 2e-4, betas (0.5, 0.999)), as the common
reimplementations do. The label reaches G as a learned embedding (a linear map of the paper's
one-hot y) concatenated to z, and D as one-hot maps stacked on the image channels (the
paper's input concatenation; ``conditioning="projection"`` selects the projection
discriminator of Miyato & Koyama 2018). ``num_classes`` = 10 (MNIST).

``sample()`` without labels draws classes 0, 1, ..., K-1, 0, 1, ... in turn.
"""

from __future__ import annotations

from typing import Literal, Sequence

from gan_lightning.losses import nonsaturating_d, nonsaturating_g
from gan_lightning.models.registry import register_model
from gan_lightning.models.shared import LabelConditioned
from gan_lightning.nets import ConditionalDCGANDiscriminator, ConditionalDCGANGenerator, network_kind


@register_model
class CGAN(LabelConditioned):
    smooths_real_labels = True  # D's loss is binary cross-entropy: label_smoothing applies
    top_k_applies = True  # G's adversarial loss is a mean over samples drawn from noise: top_k applies
    mode_seeking_applies = True  # G(z, y) draws from noise in the default step (MSGAN's own DCGAN is conditional)
    paper = "Mirza & Osindero 2014, Conditional Generative Adversarial Nets"
    data_kinds = ("image",)

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 100,
        num_classes: int = 10,
        g_width: int = 64,
        d_width: int = 64,
        d_norm: Literal["batch", "none", "layer"] = "batch",
        embed_dim: int | None = None,
        conditioning: Literal["concat", "projection"] = "concat",
        **kwargs,
    ) -> None:
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, **kwargs)
        if num_classes < 1:
            raise ValueError(f"model.num_classes must be >= 1, got {num_classes}")
        network_kind(self.data_shape, "dcgan")
        channels, size = self.data_shape[0], self.data_shape[1]
        self.num_classes = num_classes
        self.generator = ConditionalDCGANGenerator(latent_dim, num_classes, channels, size, g_width, embed_dim)
        self.discriminator = ConditionalDCGANDiscriminator(channels, size, d_width, num_classes, conditioning, d_norm)

    def discriminate(self, x, labels=None):
        return self.run_discriminator(x, self.resolve_labels(self.batch_labels(labels), x.size(0), x.device))

    def discriminator_loss(self, real, fake, labels=None):
        labels = self.batch_labels(labels)
        real_logits, fake_logits = self.discriminate(real, labels), self.discriminate(fake, labels)
        return {"d_loss": nonsaturating_d(real_logits, fake_logits, self.real_target(real_logits)),
                "d_real": real_logits.mean(), "d_fake": fake_logits.mean()}

    def generator_loss(self, real, fake, labels=None):
        return {"g_loss": nonsaturating_g(self.top_k_samples(self.discriminate(fake, labels)))}
