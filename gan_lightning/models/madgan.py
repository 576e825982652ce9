"""MAD-GAN: Ghosh, Kulharia, Namboodiri, Torr & Dokania 2018, "Multi-Agent Diverse Generative
Adversarial Networks" (CVPR).

Recipe: K generators and one discriminator with K + 1 outputs. D is a (K + 1)-way softmax
classifier: real data is class K, samples of generator i are class i, trained with cross-entropy;
so D must tell the generators apart, which pushes them towards different modes. Each
generator wants its samples classified as real: the non-saturating form -log D_K(G_i(z)) of
the paper's generator objective (cross-entropy towards the real class).

Choices: the generators share nothing (the paper shares all but the last layers of its
generators to save parameters; independent ones are the simplest faithful variant and need
no generator-specific builder). K = 3 by default; Adam lr 2e-4, betas (0.5, 0.999), one D
step per G step, as in the DCGAN set-up the paper's image experiments build on.

``self.generator`` is a :class:`MultiGenerator` holding the K generators: sample n of a
batch comes from generator n mod K, so sampling, the EMA copy and checkpoints treat it as
one network. ``discriminate`` returns log D_K(x), the log-probability of "real".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gan_lightning.models.registry import register_model
from gan_lightning.models.shared import ShapedGAN
from gan_lightning.nets.builders import MultiGenerator
from gan_lightning.nets import build_discriminator


@register_model
class MADGAN(ShapedGAN):
    paper = "Ghosh et al. 2018, Multi-Agent Diverse Generative Adversarial Networks"
    data_kinds = ("image", "toy2d")

    def __init__(
        self,
        num_generators: int = 3,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if num_generators < 1:
            raise ValueError(f"model.num_generators must be >= 1, got {num_generators}")
        self.num_generators = num_generators
        self.generator = MultiGenerator(
            [self.shaped_generator() for _ in range(num_generators)]
        )
        self.discriminator = build_discriminator(
            self.data_shape, self.d_hidden, self.d_width, d_outputs=num_generators + 1, d_norm=self.d_norm,
            **self.minibatch_options(),
        )

    @property
    def real_class(self) -> int:
        return self.num_generators

    def discriminate(self, x, labels=None):
        """log D_K(x): D's log-probability that each sample is real, (N,)."""
        return F.log_softmax(self.run_discriminator(x), dim=1)[:, self.real_class]

    def discriminator_loss(self, real, fake, labels=None):
        real_logits, fake_logits = self.run_discriminator(real), self.run_discriminator(fake)
        real_target = torch.full((real.size(0),), self.real_class, dtype=torch.long, device=real.device)
        fake_target = self.generator.assignment(fake.size(0), fake.device)
        real_loss = F.cross_entropy(real_logits, real_target)
        fake_loss = F.cross_entropy(fake_logits, fake_target)
        return {"d_loss": real_loss + fake_loss, "d_loss_real": real_loss, "d_loss_fake": fake_loss,
                "d_real": F.softmax(real_logits, dim=1)[:, self.real_class].mean(),
                "d_fake": F.softmax(fake_logits, dim=1)[:, self.real_class].mean()}

    def generator_loss(self, real, fake, labels=None):
        target = torch.full((fake.size(0),), self.real_class, dtype=torch.long, device=fake.device)
        # Equal shares of the batch per generator: the mean is the average of the K generators' losses.
        return {"g_loss": F.cross_entropy(self.run_discriminator(fake), target)}
