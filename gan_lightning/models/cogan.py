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
from gan_lightning.core import Phase, StepContext
from gan_lightning.models.base import GANModule
from gan_lightning.models.registry import register_model
from gan_lightning.nets import CoupledDiscriminators, CoupledGenerators, network_kind
from gan_lightning.nets.layers import eval_mode


@register_model
class CoGAN(GANModule):
    smooths_real_labels = True  # D's loss is binary cross-entropy: label_smoothing applies
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
        **kwargs,
    ) -> None:
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, **kwargs)
        network_kind(self.data_shape, "dcgan")
        channels, size = self.data_shape[0], self.data_shape[1]
        self.generator = CoupledGenerators(latent_dim, channels, size, g_width, private_g_layers)
        self.discriminator = CoupledDiscriminators(channels, size, d_width, private_d_layers, d_norm)

    @staticmethod
    def to_domain_b(x: torch.Tensor) -> torch.Tensor:
        """Domain B of an image in [-1, 1]: its inverted version."""
        return -x

    def discriminate(self, x, labels=None, domain: Literal["a", "b"] = "a"):
        return self.run_discriminator(x, domain)

    def split_domains(self, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(domain A reals, domain B reals) from two disjoint halves of the batch."""
        half = real.size(0) // 2
        if half < 1:
            raise ValueError("CoGAN needs batches of at least 2 images (one half per domain)")
        return real[:half], self.to_domain_b(real[half: 2 * half])

    def prepare_step(self, ctx: StepContext) -> None:
        """Disjoint halves of the batch are the two domains; one noise batch draws a pair of fakes."""
        ctx.real_a, ctx.real_b = self.split_domains(ctx.real)
        ctx.z = self.sample_noise(ctx.real_a.size(0))
        with torch.set_grad_enabled(ctx.runs("G")):
            ctx.fake_a, ctx.fake_b = self.generator.forward_pair(ctx.z)

    def phases(self) -> list[Phase]:
        return self.adversarial_phases(self.discriminator_terms, self.generator_terms)

    def discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        real_a = self.discriminate(ctx.real_a, domain="a")  # D calls in their order: a real, a fake, b real, b fake
        d_loss_a = nonsaturating_d(real_a, self.discriminate(ctx.fake_a.detach(), domain="a"), self.real_target(real_a))
        real_b = self.discriminate(ctx.real_b, domain="b")
        d_loss_b = nonsaturating_d(real_b, self.discriminate(ctx.fake_b.detach(), domain="b"), self.real_target(real_b))
        return {"d_loss": d_loss_a + d_loss_b, "d_loss_a": d_loss_a, "d_loss_b": d_loss_b}

    def generator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        g_loss_a = nonsaturating_g(self.discriminate(ctx.fake_a, domain="a"))
        g_loss_b = nonsaturating_g(self.discriminate(ctx.fake_b, domain="b"))
        return {"g_loss": g_loss_a + g_loss_b, "g_loss_a": g_loss_a, "g_loss_b": g_loss_b}

    @torch.no_grad()
    def sample_pairs(
        self,
        num_samples: int | None = None,
        noise: torch.Tensor | None = None,
        use_ema: bool = True,
        truncation: float | None = None,
        rng: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(domain A, domain B) samples of the same noise, from the EMA generators by default, in eval mode."""
        if noise is None:
            if num_samples is None:
                raise ValueError("sample_pairs() needs num_samples or noise")
            noise = self.sample_noise(num_samples, rng=rng, truncation=truncation)
        net = self.sampling_generator if use_ema else self.generator
        with eval_mode(net):
            return net.forward_pair(noise.to(self.device))
