"""VAE/GAN: Larsen, Sønderby, Larochelle & Winther 2016, "Autoencoding beyond pixels using a
learned similarity metric" (ICML).

Recipe: a VAE whose decoder is also a GAN generator, and whose reconstruction error is
measured in the feature space of the GAN's discriminator instead of pixels. With
z ~ Enc(x) = q(z|x), x~ = Dec(z) and x_p = Dec(z_p), z_p ~ N(0, I):
- L_prior = KL(q(z|x) || N(0, I));
- L_llike^Dis_l = -E log N(Dis_l(x) | Dis_l(x~), I): half the squared distance between the
  l-th layer features of Dis on x and on its reconstruction;
- L_GAN = log Dis(x) + log(1 - Dis(x~)) + log(1 - Dis(x_p)): reconstructions and prior
  samples are both fakes.
Each network gets its own loss (the paper's Algorithm 1, errors limited to the relevant
network): Enc minimises L_prior + L_llike; Dec minimises gamma * L_llike - L_GAN (here with the
non-saturating generator loss); Dis maximises L_GAN (a BCE with targets 1, 0, 0).

Design: three optimisers, one per network, so each loss reaches only its own network:
``configure_optimizers`` returns [Dec (``lr_g``), Dis (``lr_d``), Enc (``lr_e``)]. Per batch:
Dis steps on the current reconstructions and prior samples, then Enc, then Dec.
Dis_l is the discriminator's last hidden convolutional layer (the output of its ``features``;
the paper also takes a deep convolutional layer of Dis).

Defaults: RMSProp with lr 3e-4 for all three networks (the paper's optimiser and rate);
convolutional networks with BatchNorm like the paper's, here the DCGAN-style ones; our
choices: latent 128, and ``gamma=1e-2``, which with the summed feature error above keeps the
decoder's similarity term in the range of its GAN term at MNIST sizes (the paper leaves
gamma to tuning).
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
import torch.nn.functional as F

from gan_lightning.losses import nonsaturating_g
from gan_lightning.core import Phase, StepContext
from gan_lightning.models.base import GANModule, merged_optimizers
from gan_lightning.models.registry import register_model
from gan_lightning.nets import ConvEncoder, DCGANDiscriminator, DCGANGenerator, network_kind


@register_model
class VAEGAN(GANModule):
    paper = "Larsen et al. 2016, Autoencoding beyond pixels using a learned similarity metric"
    data_kinds = ("image",)
    recipe = {"optimizer": 'rmsprop', "lr_g": 0.0003, "lr_d": 0.0003}

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 128,
        g_width: int = 64,
        d_width: int = 64,
        e_width: int = 64,
        d_norm: Literal["batch", "none", "layer"] = "batch",
        gamma: float = 1e-2,
        kl_weight: float = 1.0,
        lr_e: float | None = None,
        **kwargs,
    ) -> None:
        if lr_e is not None:
            kwargs["optimizers"] = merged_optimizers({"encoder": {"lr": lr_e}}, kwargs.get("optimizers"))
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, **kwargs)
        network_kind(self.data_shape, "dcgan")
        channels, size = self.data_shape[0], self.data_shape[1]
        self.gamma, self.kl_weight = gamma, kl_weight
        self.encoder = ConvEncoder(channels, size, e_width, latent_dim, gaussian=True)
        self.generator = DCGANGenerator(latent_dim, channels, size, g_width)
        self.discriminator = DCGANDiscriminator(channels, size, d_width, norm=d_norm)

    # ------------------------------------------------------------------ networks
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, log-variance) of q(z|x), each (N, latent_dim)."""
        return self.encoder(x)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Dec(mean of q(z|x))."""
        return self.generator(self.encode(x)[0])

    def similarity_features(self, x: torch.Tensor) -> torch.Tensor:
        """Dis_l(x): the discriminator's last hidden layer, flattened."""
        return self.run_discriminator(x, method="features").flatten(1)

    def similarity_loss(self, real: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
        """L_llike^Dis_l: 0.5 * ||Dis_l(x) - Dis_l(x~)||^2 per sample (unit-variance Gaussian NLL), batch mean."""
        target = self.similarity_features(real).detach()
        return 0.5 * (self.similarity_features(recon) - target).pow(2).sum(dim=1).mean()

    @staticmethod
    def kl_prior(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
        """KL(N(mean, exp(log_var)) || N(0, I)), summed over the code, batch mean."""
        return 0.5 * (mean.pow(2) + log_var.exp() - 1.0 - log_var).sum(dim=1).mean()

    # ------------------------------------------------------------------ optimisation
    def optimizer_groups(self):
        """One optimiser per network: decoder (G), discriminator, encoder."""
        return {"generator": self.generator.parameters(), "discriminator": self.discriminator.parameters(),
                "encoder": self.encoder.parameters()}

    def prepare_step(self, ctx: StepContext) -> None:
        ctx.prior = self.sample_noise(ctx.batch_size)

    def phases(self) -> list[Phase]:
        """Dis, then Enc, then Dec, each on its own loss (the paper's Algorithm 1)."""
        return [Phase("D", "discriminator", self.discriminator_terms),
                Phase("E", "encoder", self.encoder_terms),
                Phase("G", "generator", self.decoder_terms)]

    def discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        """Real images against reconstructions and prior samples."""
        with torch.no_grad():
            mean, log_var = self.encode(ctx.real)
            recon = self.generator(mean + torch.randn_like(mean) * (0.5 * log_var).exp())
            prior_samples = self.generator(ctx.prior)
        real_logits = self.run_discriminator(ctx.real)
        recon_logits, prior_logits = self.run_discriminator(recon), self.run_discriminator(prior_samples)
        d_loss = (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                  + F.binary_cross_entropy_with_logits(recon_logits, torch.zeros_like(recon_logits))
                  + F.binary_cross_entropy_with_logits(prior_logits, torch.zeros_like(prior_logits)))
        return {"d_loss": d_loss, "d_real": real_logits.mean(), "d_recon": recon_logits.mean(),
                "d_prior": prior_logits.mean()}

    def encoder_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        """KL to the prior plus the feature-wise reconstruction error; keeps the code for the decoder."""
        mean, log_var = self.encode(ctx.real)
        ctx.code = mean + torch.randn_like(mean) * (0.5 * log_var).exp()
        kl = self.kl_prior(mean, log_var)
        return {"e_loss": self.kl_weight * kl + self.similarity_loss(ctx.real, self.generator(ctx.code)), "kl": kl}

    def decoder_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        recon = self.generator(ctx.code.detach())
        llike = self.similarity_loss(ctx.real, recon)
        gan = (nonsaturating_g(self.run_discriminator(recon))
               + nonsaturating_g(self.run_discriminator(self.generator(ctx.prior))))
        return {"g_loss": self.gamma * llike + gan, "llike": llike, "g_gan": gan}

    def heldout_step(self, batch, batch_idx, stage):
        super().heldout_step(batch, batch_idx, stage)
        real = StepContext(batch).real
        self.log(f"{stage}/recon_mse", F.mse_loss(self.reconstruct(real), real), on_epoch=True,
                 batch_size=real.size(0))
