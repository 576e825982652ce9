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
from typing import Sequence

import torch
import torch.nn.functional as F

from gan_lightning.losses import nonsaturating_d, nonsaturating_g
from gan_lightning.core import Phase, StepContext
from gan_lightning.models.base import GANModule, merged_optimizers
from gan_lightning.models.registry import register_model
from gan_lightning.nets import ConvEncoder, DCGANGenerator, MLPDiscriminator, network_kind


@register_model
class AAE(GANModule):
    smooths_real_labels = True  # D's loss is binary cross-entropy: label_smoothing applies
    paper = "Makhzani et al. 2015, Adversarial Autoencoders"
    data_kinds = ("image",)

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 2,
        g_width: int = 64,
        e_width: int = 64,
        code_hidden: Sequence[int] = (1000, 1000),
        lr_e: float | None = None,
        **kwargs,
    ) -> None:
        if lr_e is not None:
            kwargs["optimizers"] = merged_optimizers({"encoder": {"lr": lr_e}}, kwargs.get("optimizers"))
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, **kwargs)
        network_kind(self.data_shape, "dcgan")
        channels, size = self.data_shape[0], self.data_shape[1]
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
        return self.run_discriminator(self.encode(x))

    # ------------------------------------------------------------------ optimisation
    def optimizer_groups(self):
        """The autoencoder (reconstruction phase), the code discriminator, the encoder (regularisation phase)."""
        return {"autoencoder": itertools.chain(self.encoder.parameters(), self.generator.parameters()),
                "discriminator": self.discriminator.parameters(), "encoder": self.encoder.parameters()}

    def prepare_step(self, ctx: StepContext) -> None:
        """Nothing to draw up front: the regularisation phase draws its prior samples itself."""

    def phases(self) -> list[Phase]:
        return [Phase("recon", "autoencoder", self.reconstruction_terms),
                Phase("D", "discriminator", self.code_discriminator_terms),
                Phase("G", "encoder", self.encoder_terms)]

    def reconstruction_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        return {"recon_loss": F.mse_loss(self.reconstruct(ctx.real), ctx.real)}

    def code_discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        """Prior samples are D's "real", the encoder's codes its "fake"."""
        with torch.no_grad():
            codes = self.encode(ctx.real)
        prior_logits = self.run_discriminator(self.sample_noise(ctx.batch_size))
        code_logits = self.run_discriminator(codes)
        return {"d_loss": nonsaturating_d(prior_logits, code_logits, self.real_target(prior_logits)),
                "d_prior": prior_logits.mean(), "d_code": code_logits.mean()}

    def encoder_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        return {"g_loss": nonsaturating_g(self.discriminate(ctx.real))}

    def heldout_step(self, batch, batch_idx, stage):
        real = StepContext(batch).real
        prior = self.sample_noise(real.size(0), rng=torch.Generator().manual_seed(batch_idx))
        codes = self.encode(real)
        scores = {f"{stage}/recon_loss": F.mse_loss(self.decode(codes), real),
                  f"{stage}/d_prior": self.run_discriminator(prior).mean(),
                  f"{stage}/d_code": self.run_discriminator(codes).mean()}
        self.log_dict(scores, on_epoch=True, batch_size=real.size(0))
