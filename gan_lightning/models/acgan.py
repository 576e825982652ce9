"""ACGAN: Odena, Olah & Shlens 2017, "Conditional Image Synthesis with Auxiliary Classifier GANs" (ICML).

Recipe: G(z, c) draws a sample of class c; D sees only the image and has two heads, a
source head P(real | x) and an auxiliary classifier P(class | x). With the source loss
L_S = log P(real | x_real) + log P(fake | x_fake) and the class loss
L_C = log P(c | x_real) + log P(c | x_fake), D maximises L_S + L_C and G maximises
L_C - L_S. Here, as cross-entropies to minimise: D: BCE source (real and fake) + CE class
(real and fake); G: the non-saturating source loss + CE class of its fakes. Both class
terms are weighted by ``class_weight`` (1 in the paper).

Defaults: Adam lr 2e-4, betas (0.5, 0.999) (the paper's); DCGAN-style networks, the class
head a linear map on D's last features sharing D's whole body (the paper's D also used
dropout 0.5, left out here); G's label a learned embedding concatenated to z (the paper
feeds a one-hot class code with the noise). ``num_classes`` = 10 (MNIST).

Logged: ``aux_acc_real``, the auxiliary head's accuracy on the real training batch, and
``val/aux_acc_real`` (``test/aux_acc_real``), its accuracy on the held-out split.
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch.nn.functional as F

from gan_lightning.core import StepContext
from gan_lightning.losses import nonsaturating_d, nonsaturating_g
from gan_lightning.models.shared import LabelConditioned
from gan_lightning.models.registry import register_model
from gan_lightning.nets import AuxiliaryHeadDiscriminator, ConditionalDCGANGenerator, network_kind


@register_model
class ACGAN(LabelConditioned):
    smooths_real_labels = True  # D's loss is binary cross-entropy: label_smoothing applies
    top_k_applies = True  # G's adversarial loss is a mean over samples drawn from noise: top_k applies
    mode_seeking_applies = True  # G(z, y) draws from noise in the default step
    paper = "Odena, Olah & Shlens 2017, Conditional Image Synthesis with Auxiliary Classifier GANs"
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
        class_weight: float = 1.0,
        **kwargs,
    ) -> None:
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, **kwargs)
        if num_classes < 2:
            raise ValueError(f"model.num_classes must be >= 2 for an auxiliary classifier, got {num_classes}")
        network_kind(self.data_shape, "dcgan")
        channels, size = self.data_shape[0], self.data_shape[1]
        self.num_classes = num_classes
        self.class_weight = class_weight
        self.generator = ConditionalDCGANGenerator(latent_dim, num_classes, channels, size, g_width, embed_dim)
        self.discriminator = AuxiliaryHeadDiscriminator(channels, size, d_width, aux_outputs=num_classes, norm=d_norm)

    def discriminate(self, x, labels=None):
        """The source head's logit (real vs fake); D does not see the label."""
        return self.run_discriminator(x)[0]

    def classify(self, x):
        """The auxiliary classifier's class logits, (N, num_classes)."""
        return self.run_discriminator(x)[1]

    def heldout_step(self, batch, batch_idx, stage):
        super().heldout_step(batch, batch_idx, stage)
        ctx = StepContext(batch)
        if ctx.labels is not None:
            accuracy = (self.classify(ctx.real).argmax(dim=1) == ctx.labels).float().mean()
            self.log(f"{stage}/aux_acc_real", accuracy, on_epoch=True, batch_size=ctx.batch_size)

    def discriminator_loss(self, real, fake, labels=None):
        labels = self.batch_labels(labels)
        source_real, class_real = self.run_discriminator(real)
        source_fake, class_fake = self.run_discriminator(fake)
        source_loss = nonsaturating_d(source_real, source_fake, self.real_target(source_real))
        class_loss = F.cross_entropy(class_real, labels) + F.cross_entropy(class_fake, labels)
        return {"d_loss": source_loss + self.class_weight * class_loss,
                "d_source_loss": source_loss, "d_class_loss": class_loss,
                "aux_acc_real": (class_real.argmax(dim=1) == labels).float().mean(),
                "d_real": source_real.mean(), "d_fake": source_fake.mean()}

    def generator_loss(self, real, fake, labels=None):
        labels = self.batch_labels(labels)
        source_fake, class_fake = self.run_discriminator(fake)
        source_loss, class_loss = nonsaturating_g(self.top_k_samples(source_fake)), F.cross_entropy(class_fake, labels)
        return {"g_loss": source_loss + self.class_weight * class_loss,
                "g_source_loss": source_loss, "g_class_loss": class_loss}
