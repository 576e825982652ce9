"""MRGAN: Che, Li, Jacob, Bengio & Li 2017, "Mode Regularized Generative Adversarial Networks" (ICLR).

An encoder E: x -> z joins G and D. Two training schemes of the paper, ``scheme``:

- ``"regularized"`` (default; the paper's Regularized GAN, section 3.1-3.2): a plain GAN whose
  G and E also minimise two regularizers on real data,
  geometric  lambda_1 * d(x, G(E(x)))  (d: squared L2 distance of the sample, summed over its
  entries) and mode  lambda_2 * -log D(G(E(x)))  (G(E(x)) should look real to D, so every real
  mode has generated samples nearby);
  G minimises -log D(G(z)) + both, E minimises both.
- ``"mdgan"`` (the paper's Manifold-Diffusion GAN, section 3.3), two discriminators and two steps
  per iteration: the *manifold step* trains D_m (``discriminator_manifold``) on x (real) against
  G(E(x)) (fake), and G, E on lambda_1 * d(x, G(E(x))) - log D_m(G(E(x))); the *diffusion
  step* trains D_d (``discriminator``) on G(E(x)) (as real) against G(z) (fake), and G on
  -log D_d(G(z)): G(z) is pulled onto the manifold G(E(x)) that the first step fitted to the data.

Why the regularized scheme is the default: it is the paper's main objective, needs one
discriminator and one D step per iteration (MDGAN: two D and two G steps), and is the one
its missing-modes experiments (MNIST grid, Table 1) compare against the plain GAN; MDGAN is
the variant the paper uses for its CelebA samples.

Sign of the mode regularizer: the paper prints "+ lambda_2 log D(G(E(x)))" in G's and E's
objectives, which minimised would make G(E(x)) look *fake*; its text says the term makes
G(E(x)) match the data's modes, so we use -log D(G(E(x))) (the non-saturating GAN term on the
reconstruction), as several reimplementations do in effect.

Defaults: lambda_1 = 0.2, lambda_2 = 0.4 and Adam lr 1e-4, beta1 0.5 are the values of the
MRGAN reimplementation in kozistr/Awesome-GANs (MRGAN/mrgan_model.py); the authors' own code
was not found in the searchable index and the paper's hyper-parameters were not checked, so
these are not the paper's verified values. Their scale differs from ours: that reimplementation's
geometric term is ``mse_loss`` of its ``tfutil.py`` (the squared differences summed over the batch and
every entry), ``batch_size`` times our batch mean of per-sample sums at the same lambda_1 (not changed
here: which one the paper means was not checked). G and E share one optimizer (Adam is per-parameter,
so this equals two Adams with equal settings stepping on the same batch), as BiGAN here does.
Networks: MLPs for vectors (the 2-D toy sets, sized like the mode-collapse benchmark's), DCGAN
G / D and a DCGAN-body encoder for images.
"""

from __future__ import annotations

import itertools
from typing import Literal, Sequence

import torch
from torch import nn

from gan_lightning.core import Phase, StepContext
from gan_lightning.losses import nonsaturating_d, nonsaturating_g
from gan_lightning.models.base import GANModule
from gan_lightning.models.registry import register_model
from gan_lightning.nets import ConvEncoder, build_discriminator, build_generator, network_kind
from gan_lightning.nets.mlp import MLPDiscriminator

SCHEMES = ("regularized", "mdgan")


def squared_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """d(x, y) = ||x - y||^2 per sample (summed over its entries), averaged over the batch."""
    return (x - y).pow(2).flatten(1).sum(dim=1).mean()


@register_model
class MRGAN(GANModule):
    smooths_real_labels = True  # D's loss is binary cross-entropy: label_smoothing applies
    top_k_applies = True  # G's adversarial loss is a mean over samples drawn from noise: top_k applies
    paper = "Che et al. 2017, Mode Regularized Generative Adversarial Networks"
    data_kinds = ("image", "toy2d")
    recipe = {"lr_g": 1e-4, "lr_d": 1e-4, "betas": (0.5, 0.999), "critic_steps": 1}

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 28, 28),
        scheme: Literal["regularized", "mdgan"] = "regularized",
        geometric_weight: float = 0.2,
        mode_weight: float = 0.4,
        latent_dim: int = 100,
        g_hidden: Sequence[int] = (400, 400, 400, 400),
        d_hidden: Sequence[int] = (200, 200, 200),
        e_hidden: Sequence[int] = (200, 200, 200),
        g_width: int = 64,
        d_width: int = 64,
        e_width: int = 64,
        **kwargs,
    ) -> None:
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, **kwargs)
        if scheme not in SCHEMES:
            raise ValueError(f"model.scheme: unknown {scheme!r}; accepted: {', '.join(SCHEMES)}")
        for key, value in (("geometric_weight", geometric_weight), ("mode_weight", mode_weight)):
            if value < 0:
                raise ValueError(f"model.{key} must be >= 0, got {value}")
        self.scheme = scheme
        self.geometric_weight, self.mode_weight = float(geometric_weight), float(mode_weight)
        self.generator = build_generator(self.data_shape, latent_dim, g_hidden, g_width)
        self.discriminator = build_discriminator(self.data_shape, d_hidden, d_width)
        if network_kind(self.data_shape) == "mlp":
            # an MLP "discriminator" with latent_dim outputs is exactly an x -> code MLP
            self.encoder: nn.Module = MLPDiscriminator(self.data_shape, tuple(e_hidden), outputs=latent_dim)
        else:
            self.encoder = ConvEncoder(self.data_shape[0], self.data_shape[1], e_width, latent_dim)
        self.discriminator_manifold = (build_discriminator(self.data_shape, d_hidden, d_width)
                                       if scheme == "mdgan" else None)

    # ------------------------------------------------------------------ networks
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """E(x), (N, latent_dim) (an MLP encoder's output is never squeezed, even for latent_dim 1)."""
        code = self.encoder(x)
        return code.view(x.size(0), self.latent_dim)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """G(E(x))."""
        return self.generator(self.encode(x))

    def optimizer_groups(self):
        groups = {"generator": itertools.chain(self.generator.parameters(), self.encoder.parameters()),
                  "discriminator": self.discriminator.parameters()}
        if self.discriminator_manifold is not None:
            groups["discriminator_manifold"] = self.discriminator_manifold.parameters()
        return groups

    # ------------------------------------------------------------------ phases
    def phases(self) -> list[Phase]:
        if self.scheme == "regularized":
            return self.adversarial_phases(self.discriminator_terms, self.generator_terms)
        every = self.critic_steps
        return [Phase("Dm", "discriminator_manifold", self.manifold_discriminator_terms, loss_key="d_manifold_loss"),
                Phase("Gm", "generator", self.manifold_generator_terms, loss_key="g_manifold_loss", interval=every),
                Phase("D", "discriminator", self.diffusion_discriminator_terms),
                Phase("G", "generator", self.diffusion_generator_terms, interval=every)]

    def prepare_step(self, ctx: StepContext) -> None:
        ctx.z = self.sample_noise(ctx.batch_size)
        if self.scheme == "regularized":
            with torch.set_grad_enabled(ctx.runs("G")):
                ctx.fake = self.generator(ctx.z)

    def regularizers(self, real: torch.Tensor, net: str = "discriminator") -> dict[str, torch.Tensor]:
        """The geometric and mode terms on G(E(x)), with G's and E's graph."""
        recon = self.reconstruct(real)
        geometric = squared_distance(recon, real)
        mode = nonsaturating_g(self.run_discriminator(recon, net=net))
        return {"geometric": geometric, "mode": mode}

    # Regularized GAN
    def discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        real_logits, fake_logits = self.run_discriminator(ctx.real), self.run_discriminator(ctx.fake.detach())
        return {"d_loss": nonsaturating_d(real_logits, fake_logits, self.real_target(real_logits)),
                "d_real": real_logits.mean(), "d_fake": fake_logits.mean()}

    def generator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        adversarial = nonsaturating_g(self.top_k_samples(self.run_discriminator(ctx.fake)))
        reg = self.regularizers(ctx.real)
        loss = adversarial + self.geometric_weight * reg["geometric"] + self.mode_weight * reg["mode"]
        return {"g_loss": loss, "g_adversarial": adversarial, **reg}

    # MDGAN: manifold step
    def manifold_discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            recon = self.reconstruct(ctx.real)
        real_logits = self.run_discriminator(ctx.real, net="discriminator_manifold")
        recon_logits = self.run_discriminator(recon, net="discriminator_manifold")
        return {"d_manifold_loss": nonsaturating_d(real_logits, recon_logits, self.real_target(real_logits))}

    def manifold_generator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        reg = self.regularizers(ctx.real, net="discriminator_manifold")
        return {"g_manifold_loss": self.geometric_weight * reg["geometric"] + reg["mode"], **reg}

    # MDGAN: diffusion step (after the manifold step has moved G and E)
    def diffusion_discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            recon, fake = self.reconstruct(ctx.real), self.generator(ctx.z)
        recon_logits, fake_logits = self.run_discriminator(recon), self.run_discriminator(fake)
        return {"d_loss": nonsaturating_d(recon_logits, fake_logits, self.real_target(recon_logits))}

    def diffusion_generator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        return {"g_loss": nonsaturating_g(self.run_discriminator(self.generator(ctx.z)))}
