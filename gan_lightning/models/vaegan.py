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
from gan_lightning.models.aae import append_optimizer
from gan_lightning.models.base import GANModule
from gan_lightning.nets import ConvEncoder, DCGANDiscriminator, DCGANGenerator, network_kind


class VAEGAN(GANModule):
    paper = "Larsen et al. 2016, Autoencoding beyond pixels using a learned similarity metric"
    data_kinds = ("image",)

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
        optimizer: Literal["adam", "rmsprop", "sgd"] = "rmsprop",
        lr_g: float = 3e-4,
        lr_d: float = 3e-4,
        lr_e: float = 3e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        momentum: float = 0.0,
        grad_clip_norm: float | None = None,
        lr_decay_iters: int = 0,
    ) -> None:
        super().__init__(
            data_shape=data_shape, latent_dim=latent_dim, optimizer=optimizer, lr_g=lr_g, lr_d=lr_d, betas=betas,
            momentum=momentum, grad_clip_norm=grad_clip_norm, lr_decay_iters=lr_decay_iters,
        )
        self.save_hyperparameters()
        network_kind(self.data_shape, "dcgan")
        channels, size = self.data_shape[0], self.data_shape[1]
        self.gamma, self.kl_weight, self.lr_e = gamma, kl_weight, lr_e
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
        return self.discriminator.features(x).flatten(1)

    def similarity_loss(self, real: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
        """L_llike^Dis_l: 0.5 * ||Dis_l(x) - Dis_l(x~)||^2 per sample (unit-variance Gaussian NLL), batch mean."""
        target = self.similarity_features(real).detach()
        return 0.5 * (self.similarity_features(recon) - target).pow(2).sum(dim=1).mean()

    @staticmethod
    def kl_prior(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
        """KL(N(mean, exp(log_var)) || N(0, I)), summed over the code, batch mean."""
        return 0.5 * (mean.pow(2) + log_var.exp() - 1.0 - log_var).sum(dim=1).mean()

    # ------------------------------------------------------------------ optimisation
    def configure_optimizers(self):
        """[decoder, discriminator, encoder]: one optimiser per network."""
        encoder_optimizer = self.make_optimizer(self.encoder.parameters(), self.lr_e)
        return append_optimizer(super().configure_optimizers(), encoder_optimizer)

    def training_step(self, batch, batch_idx):
        real, _ = self.unpack_batch(batch)
        opt_dec, opt_dis, opt_enc = self.optimizers()
        n = real.size(0)
        prior = self.sample_noise(n)

        with self.toggled_optimizer(opt_dis):
            with torch.no_grad():
                mean, log_var = self.encode(real)
                recon = self.generator(mean + torch.randn_like(mean) * (0.5 * log_var).exp())
                prior_samples = self.generator(prior)
            real_logits = self.discriminator(real)
            recon_logits, prior_logits = self.discriminator(recon), self.discriminator(prior_samples)
            d_loss = (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                      + F.binary_cross_entropy_with_logits(recon_logits, torch.zeros_like(recon_logits))
                      + F.binary_cross_entropy_with_logits(prior_logits, torch.zeros_like(prior_logits)))
            self.optimize(opt_dis, d_loss)

        with self.toggled_optimizer(opt_enc):
            mean, log_var = self.encode(real)
            z = mean + torch.randn_like(mean) * (0.5 * log_var).exp()
            kl = self.kl_prior(mean, log_var)
            llike_enc = self.similarity_loss(real, self.generator(z))
            e_loss = self.kl_weight * kl + llike_enc
            self.optimize(opt_enc, e_loss)

        with self.toggled_optimizer(opt_dec):
            recon = self.generator(z.detach())
            llike = self.similarity_loss(real, recon)
            gan = (nonsaturating_g(self.discriminator(recon))
                   + nonsaturating_g(self.discriminator(self.generator(prior))))
            g_loss = self.gamma * llike + gan
            self.optimize(opt_dec, g_loss)

        self.step_schedulers()
        return self.log_terms({"d_loss": d_loss, "g_loss": g_loss, "e_loss": e_loss, "kl": kl,
                               "llike": llike, "g_gan": gan, "d_real": real_logits.mean(),
                               "d_recon": recon_logits.mean(), "d_prior": prior_logits.mean()})

    def _heldout_step(self, batch, batch_idx, stage):
        super()._heldout_step(batch, batch_idx, stage)
        real, _ = self.unpack_batch(batch)
        self.log(f"{stage}/recon_mse", F.mse_loss(self.reconstruct(real), real), on_epoch=True,
                 batch_size=real.size(0))
