"""CoGAN: Liu & Tuzel 2016, "Coupled Generative Adversarial Networks" (NeurIPS).

Recipe: two GANs, one per domain, trained on unpaired samples of each domain. The two
generators share their first layers (which decode high-level semantics) and the two
discriminators share their last layers (which encode them); without ever seeing a pair, the
shared weights make G_A(z) and G_B(z) render the same content in the two domains. Each GAN
plays the usual game (non-saturating loss here) on its own domain; the losses are summed.

Domains: A = the digits as they come, B = the inverted digits (-x in [-1, 1]), the paper's
digit/negative-digit task. Each batch is split in half: the first half gives domain A's real
samples, the second half, inverted, domain B's, so no image is seen in both domains (unpaired).

Defaults, from the paper's digit experiments: the generators share every layer but the last,
the discriminators every layer but the first (``private_g_layers = private_d_layers = 1``);
Adam lr 2e-4, betas (0.5, 0.999); DCGAN-style convolutional networks.

``sample()`` draws domain A; ``sample_pairs(n)`` draws (A, B) pairs from the same noise.
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch

from gan_lightning.losses import nonsaturating_d, nonsaturating_g
from gan_lightning.models.base import GANModule
from gan_lightning.nets import CoupledDiscriminators, CoupledGenerators, network_kind


class CoGAN(GANModule):
    paper = "Liu & Tuzel 2016, Coupled Generative Adversarial Networks"
    data_kinds = ("image",)

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 100,
        g_width: int = 64,
        d_width: int = 64,
        d_norm: Literal["batch", "none", "layer"] = "batch",
        private_g_layers: int = 1,
        private_d_layers: int = 1,
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
        self.generator = CoupledGenerators(latent_dim, channels, size, g_width, private_g_layers)
        self.discriminator = CoupledDiscriminators(channels, size, d_width, private_d_layers, d_norm)

    @staticmethod
    def to_domain_b(x: torch.Tensor) -> torch.Tensor:
        """Domain B of an image in [-1, 1]: its inverted version."""
        return -x

    def discriminate(self, x, labels=None, domain: Literal["a", "b"] = "a"):
        return self.discriminator(x, domain)

    def split_domains(self, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(domain A reals, domain B reals) from two disjoint halves of the batch."""
        half = real.size(0) // 2
        if half < 1:
            raise ValueError("CoGAN needs batches of at least 2 images (one half per domain)")
        return real[:half], self.to_domain_b(real[half: 2 * half])

    def training_step(self, batch, batch_idx):
        real, _ = self.unpack_batch(batch)
        real_a, real_b = self.split_domains(real)
        opt_g, opt_d = self.optimizers()
        update_g = self.generator_due()
        z = self.sample_noise(real_a.size(0))
        with torch.set_grad_enabled(update_g):
            fake_a, fake_b = self.generator.forward_pair(z)

        with self.toggled_optimizer(opt_d):
            real_a_logits, fake_a_logits = self.discriminator(real_a, "a"), self.discriminator(fake_a.detach(), "a")
            real_b_logits, fake_b_logits = self.discriminator(real_b, "b"), self.discriminator(fake_b.detach(), "b")
            d_loss_a = nonsaturating_d(real_a_logits, fake_a_logits)
            d_loss_b = nonsaturating_d(real_b_logits, fake_b_logits)
            terms = {"d_loss": d_loss_a + d_loss_b, "d_loss_a": d_loss_a, "d_loss_b": d_loss_b}
            self.optimize(opt_d, terms["d_loss"])

        if update_g:
            with self.toggled_optimizer(opt_g):
                g_loss_a = nonsaturating_g(self.discriminator(fake_a, "a"))
                g_loss_b = nonsaturating_g(self.discriminator(fake_b, "b"))
                self.optimize(opt_g, g_loss_a + g_loss_b)
            terms.update({"g_loss": g_loss_a + g_loss_b, "g_loss_a": g_loss_a, "g_loss_b": g_loss_b})
        self.step_schedulers()
        return self.log_terms(terms)

    @torch.no_grad()
    def sample_pairs(
        self,
        num_samples: int | None = None,
        noise: torch.Tensor | None = None,
        use_ema: bool = True,
        truncation: float | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(domain A, domain B) samples of the same noise, from the EMA generators by default, in eval mode."""
        if noise is None:
            if num_samples is None:
                raise ValueError("sample_pairs() needs num_samples or noise")
            noise = self.sample_noise(num_samples, generator=generator, truncation=truncation)
        net = self.sampling_generator if use_ema else self.generator
        was_training = net.training
        net.eval()
        try:
            return net.forward_pair(noise.to(self.device))
        finally:
            net.train(was_training)
