"""AAE: Makhzani, Shlens, Jaitly, Goodfellow & Frey 2015, "Adversarial Autoencoders".

Recipe: an autoencoder (encoder q(z|x), decoder p(x|z)) whose code distribution q(z) is
matched to a prior p(z) by a GAN played on the codes. Each batch runs two phases:
1. reconstruction: encoder and decoder minimise the reconstruction error of the batch;
2. regularisation: the code discriminator learns to tell prior samples (real) from the
   encoder's codes (fake), then the encoder, as the GAN's generator, learns to fool it
   (non-saturating loss).
The decoder is then a generative model: decoding prior samples draws new images.

Defaults: prior N(0, I); a deterministic encoder (the paper's main choice); a 2-D code
(``latent_dim=2``, for the scatter figure of the codes coloured by digit; raise it for
sharper samples); the paper's code discriminator (two hidden layers of 1000 units);
DCGAN-style convolutional encoder and decoder (the paper's MNIST networks were MLPs of 1000
units); mean squared reconstruction error on images in [-1, 1]. Optimisers: the paper uses
SGD with momentum 0.9 and a learning rate per phase; we default to Adam (lr 2e-4, betas
(0.5, 0.999)) for each of the three optimisers, the paper's choice one flag away
(``--model.optimizer sgd --model.momentum 0.9`` and ``lr_g`` / ``lr_d`` / ``lr_e``).

Optimisers: ``lr_g`` for the autoencoder (encoder + decoder, reconstruction phase), ``lr_d``
for the code discriminator, ``lr_e`` for the encoder as generator (regularisation phase).
``self.generator`` is the decoder (so ``sample()`` decodes prior samples) and
``self.discriminator`` the code discriminator. Logged: ``recon_loss``, ``d_loss``, ``g_loss``.
"""

from __future__ import annotations

import itertools
from typing import Literal, Sequence

import torch
import torch.nn.functional as F

from gan_lightning.losses import nonsaturating_d, nonsaturating_g
from gan_lightning.models.base import GANModule
from gan_lightning.nets import ConvEncoder, DCGANGenerator, MLPDiscriminator, network_kind


def append_optimizer(configured, optimizer: torch.optim.Optimizer):
    """Add ``optimizer`` to what ``GANModule.configure_optimizers`` returned, with the same LR schedule."""
    if isinstance(configured, tuple):
        optimizers, schedulers = configured
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, schedulers[0].lr_lambdas[0])
        return [*optimizers, optimizer], [*schedulers, schedule]
    return [*configured, optimizer]


class AAE(GANModule):
    paper = "Makhzani et al. 2015, Adversarial Autoencoders"
    data_kinds = ("image",)

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 2,
        g_width: int = 64,
        e_width: int = 64,
        code_hidden: Sequence[int] = (1000, 1000),
        optimizer: Literal["adam", "rmsprop", "sgd"] = "adam",
        lr_g: float = 2e-4,
        lr_d: float = 2e-4,
        lr_e: float = 2e-4,
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
        self.lr_e = lr_e
        self.encoder = ConvEncoder(channels, size, e_width, latent_dim)
        self.generator = DCGANGenerator(latent_dim, channels, size, g_width)
        self.discriminator = MLPDiscriminator((latent_dim,), tuple(code_hidden))

    # ------------------------------------------------------------------ networks
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code of each image, (N, latent_dim)."""
        return self.encoder(x)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return self.generator(code)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def discriminate(self, x, labels=None):
        """The code discriminator's logit for the codes of images ``x`` (high: looks drawn from the prior)."""
        return self.discriminator(self.encode(x))

    # ------------------------------------------------------------------ optimisation
    def generator_parameters(self):
        """The reconstruction phase trains the whole autoencoder."""
        return itertools.chain(self.encoder.parameters(), self.generator.parameters())

    def configure_optimizers(self):
        """[autoencoder (reconstruction), code discriminator, encoder (regularisation)]."""
        encoder_optimizer = self.make_optimizer(self.encoder.parameters(), self.lr_e)
        return append_optimizer(super().configure_optimizers(), encoder_optimizer)

    def training_step(self, batch, batch_idx):
        real, _ = self.unpack_batch(batch)
        opt_ae, opt_d, opt_e = self.optimizers()

        with self.toggled_optimizer(opt_ae):
            recon_loss = F.mse_loss(self.reconstruct(real), real)
            self.optimize(opt_ae, recon_loss)

        with self.toggled_optimizer(opt_d):
            with torch.no_grad():
                codes = self.encode(real)
            prior_logits = self.discriminator(self.sample_noise(real.size(0)))
            code_logits = self.discriminator(codes)
            d_loss = nonsaturating_d(prior_logits, code_logits)
            self.optimize(opt_d, d_loss)

        with self.toggled_optimizer(opt_e):
            g_loss = nonsaturating_g(self.discriminator(self.encode(real)))
            self.optimize(opt_e, g_loss)

        self.step_schedulers()
        return self.log_terms({"recon_loss": recon_loss, "d_loss": d_loss, "g_loss": g_loss,
                               "d_prior": prior_logits.mean(), "d_code": code_logits.mean()})

    def _heldout_step(self, batch, batch_idx, stage):
        real, _ = self.unpack_batch(batch)
        prior = self.sample_noise(real.size(0), generator=torch.Generator().manual_seed(batch_idx))
        codes = self.encode(real)
        scores = {f"{stage}/recon_loss": F.mse_loss(self.decode(codes), real),
                  f"{stage}/d_prior": self.discriminator(prior).mean(),
                  f"{stage}/d_code": self.discriminator(codes).mean()}
        self.log_dict(scores, on_epoch=True, batch_size=real.size(0))
