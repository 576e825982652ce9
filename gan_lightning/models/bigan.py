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
from gan_lightning.models.base import GANModule
from gan_lightning.nets import ConvEncoder, DCGANGenerator, JointDiscriminator, network_kind


class BiGAN(GANModule):
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
        optimizer: Literal["adam", "rmsprop", "sgd"] = "adam",
        lr_g: float = 2e-4,
        lr_d: float = 2e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        momentum: float = 0.0,
        critic_steps: int = 1,
        grad_clip_norm: float | None = None,
        lr_decay_iters: int = 0,
    ) -> None:
        super().__init__(
            data_shape=data_shape, latent_dim=latent_dim, critic_steps=critic_steps, optimizer=optimizer,
            lr_g=lr_g, lr_d=lr_d, betas=betas, momentum=momentum, grad_clip_norm=grad_clip_norm,
            lr_decay_iters=lr_decay_iters,
        )
        self.save_hyperparameters()
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
        return self.discriminator(x, self.encode(x))

    def generator_parameters(self):
        """G and E share one optimiser."""
        return itertools.chain(self.generator.parameters(), self.encoder.parameters())

    def training_step(self, batch, batch_idx):
        real, _ = self.unpack_batch(batch)
        opt_ge, opt_d = self.optimizers()
        update_g = self.generator_due()
        z = self.sample_noise(real.size(0))
        with torch.set_grad_enabled(update_g):
            fake, code = self.generator(z), self.encode_sample(real)

        with self.toggled_optimizer(opt_d):
            data_logits = self.discriminator(real, code.detach())
            generated_logits = self.discriminator(fake.detach(), z)
            terms = {"d_loss": nonsaturating_d(data_logits, generated_logits),
                     "d_real": data_logits.mean(), "d_fake": generated_logits.mean()}
            self.optimize(opt_d, terms["d_loss"])

        if update_g:
            with self.toggled_optimizer(opt_ge):
                data_logits = self.discriminator(real, code)
                generated_logits = self.discriminator(fake, z)
                g_loss = (F.binary_cross_entropy_with_logits(generated_logits, torch.ones_like(generated_logits))
                          + F.binary_cross_entropy_with_logits(data_logits, torch.zeros_like(data_logits)))
                self.optimize(opt_ge, g_loss)
            terms["g_loss"] = g_loss
        self.step_schedulers()
        return self.log_terms(terms)

    def _heldout_step(self, batch, batch_idx, stage):
        real, _ = self.unpack_batch(batch)
        z = self.sample_noise(real.size(0), generator=torch.Generator().manual_seed(batch_idx))
        code = self.encode(real)
        scores = {f"{stage}/d_real": self.discriminator(real, code).mean(),
                  f"{stage}/d_fake": self.discriminator(self.generator(z), z).mean(),
                  f"{stage}/recon_mse": F.mse_loss(self.generator(code), real)}
        self.log_dict(scores, on_epoch=True, batch_size=real.size(0))
