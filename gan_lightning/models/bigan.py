"""BiGAN / ALI: Donahue, Krähenbühl & Darrell 2016, "Adversarial Feature Learning" (ICLR 2017), and
Dumoulin, Belghazi, Poole, Mastropietro, Lamb, Arjovsky & Courville 2016, "Adversarially
Learned Inference" (ICLR 2017).

Recipe: besides G: z -> x, an encoder E: x -> z; the discriminator sees joint pairs and tells
(x, E(x)), x from the data, from (G(z), z), z from the prior. D minimises the BCE with targets
1 for data pairs and 0 for generated pairs; G and E are trained together, with one optimiser,
against D, with the non-saturating form of the game (labels swapped: data pairs to 0,
generated pairs to 1). At the optimum E inverts G, so ``encode(x)`` gives a learned
representation and ``reconstruct(x)`` = G(E(x)).

Defaults: latent 50 (BiGAN's MNIST), Adam lr 2e-4, betas (0.5, 0.999) (both papers' beta1 =
0.5), the Gaussian prior of ALI (BiGAN's MNIST prior was uniform on [-1, 1]); a deterministic
encoder (BiGAN's; ``stochastic_encoder=True`` gives ALI's Gaussian one, z = mu + sigma * eps,
whose mean ``encode`` returns); DCGAN-style convolutional G and E, and a joint D whose
x path is DCGAN-style and whose z path and joint layers are MLPs (BiGAN's MNIST networks were
MLPs; its weight decay is left out). ``d_dropout`` drops the inputs and hidden units of every
path of D (ALI's discriminators use 0.2; the MNIST5k recipe does too, default 0).
"""

from __future__ import annotations

import itertools
from typing import Literal, Sequence

import torch
import torch.nn.functional as F

from gan_lightning.losses import nonsaturating_d
from gan_lightning.core import Phase, StepContext
from gan_lightning.models.base import GANModule
from gan_lightning.models.registry import register_model
from gan_lightning.nets import ConvEncoder, DCGANGenerator, JointDiscriminator, network_kind


@register_model
class BiGAN(GANModule):
    smooths_real_labels = True  # D's loss is binary cross-entropy: label_smoothing applies
    paper = "Donahue et al. 2016, Adversarial Feature Learning; Dumoulin et al. 2016, Adversarially Learned Inference"
    data_kinds = ("image",)

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 50,
        g_width: int = 64,
        d_width: int = 64,
        e_width: int = 64,
        d_norm: Literal["batch", "none", "layer"] = "batch",
        joint_hidden: int = 512,
        d_dropout: float = 0.0,
        stochastic_encoder: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, **kwargs)
        network_kind(self.data_shape, "dcgan")
        channels, size = self.data_shape[0], self.data_shape[1]
        self.stochastic_encoder = stochastic_encoder
        self.encoder = ConvEncoder(channels, size, e_width, latent_dim, gaussian=stochastic_encoder)
        self.generator = DCGANGenerator(latent_dim, channels, size, g_width)
        self.discriminator = JointDiscriminator(channels, size, d_width, latent_dim, joint_hidden, d_norm, d_dropout)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """E(x), (N, latent_dim): the code, or its mean for a stochastic encoder."""
        out = self.encoder(x)
        return out[0] if self.stochastic_encoder else out

    def encode_sample(self, x: torch.Tensor) -> torch.Tensor:
        """The code D sees in training: E(x), or mu(x) + sigma(x) * eps for a stochastic encoder
        (ALI's reparametrised Gaussian q(z | x))."""
        if not self.stochastic_encoder:
            return self.encoder(x)
        mean, log_variance = self.encoder(x)
        return mean + torch.exp(0.5 * log_variance) * torch.randn_like(mean)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.generator(self.encode(x))

    def discriminate(self, x, labels=None):
        """D(x, E(x)): the logit that (x, E(x)) is a data pair."""
        return self.run_discriminator(x, self.encode(x))

    def optimizer_groups(self):
        """G and E share one optimiser."""
        return {"generator": itertools.chain(self.generator.parameters(), self.encoder.parameters()),
                "discriminator": self.discriminator.parameters()}

    def prepare_step(self, ctx: StepContext) -> None:
        ctx.z = self.sample_noise(ctx.batch_size)
        with torch.set_grad_enabled(ctx.runs("G")):
            ctx.fake, ctx.code = self.generator(ctx.z), self.encode_sample(ctx.real)

    def phases(self) -> list[Phase]:
        return self.adversarial_phases(self.discriminator_terms, self.generator_terms)

    def discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        data_logits = self.run_discriminator(ctx.real, ctx.code.detach())
        generated_logits = self.run_discriminator(ctx.fake.detach(), ctx.z)
        return {"d_loss": nonsaturating_d(data_logits, generated_logits, self.real_target(data_logits)),
                "d_real": data_logits.mean(), "d_fake": generated_logits.mean()}

    def generator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        """G and E play with flipped targets: (G(z), z) as data, (x, E(x)) as generated."""
        data_logits = self.run_discriminator(ctx.real, ctx.code)
        generated_logits = self.run_discriminator(ctx.fake, ctx.z)
        return {"g_loss": F.binary_cross_entropy_with_logits(generated_logits, torch.ones_like(generated_logits))
                + F.binary_cross_entropy_with_logits(data_logits, torch.zeros_like(data_logits))}

    def heldout_step(self, batch, batch_idx, stage):
        real = StepContext(batch).real
        z = self.sample_noise(real.size(0), rng=torch.Generator().manual_seed(batch_idx))
        code = self.encode(real)
        scores = {f"{stage}/d_real": self.run_discriminator(real, code).mean(),
                  f"{stage}/d_fake": self.run_discriminator(self.generator(z), z).mean(),
                  f"{stage}/recon_mse": F.mse_loss(self.generator(code), real)}
        self.log_dict(scores, on_epoch=True, batch_size=real.size(0))
