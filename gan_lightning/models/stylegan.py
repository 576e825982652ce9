"""StyleGAN: Karras, Laine & Aila 2019, "A Style-Based Generator Architecture for Generative
Adversarial Networks" (CVPR), the non-progressive version (the authors' ``structure='fixed'``).

Networks: the generator of ``nets/stylegan.py`` (mapping network of ``mapping_layers`` 8 FC layers
with lr multiplier 0.01 and a tracked w_avg (beta 0.995), a learned 4x4 constant, AdaIN after every
conv, per-layer noise inputs with learned per-channel weights; defaults of ``G_style``,
``G_mapping`` and ``G_synthesis`` in the authors' NVlabs/stylegan ``training/networks_stylegan.py``),
and D is ProGAN's discriminator at full resolution (``nets/progan.py``: equalized layers, minibatch
std of group 4, 2x2 box downsampling, fmap_base 8192, fmap_max 512: the authors' ``D_basic``,
whose [1, 2, 1] blur before each downsampling conv it leaves out, and which pools after the
activation where ``D_basic`` pools before bias and activation). Progressive growing (the authors'
default ``structure='recursive'`` with ``lod``) is not implemented: every layer trains from the start.

Training (the FFHQ config of ``train.py`` and ``training/loss.py``): non-saturating logistic loss
for G (``G_logistic_nonsaturating``); D's loss is softplus(D(G(z))) + softplus(-D(x)) plus
R1 = gamma/2 E||grad_x D(x)||^2 on reals with gamma 10 in the same step, every iteration
(``D_logistic_simplegp``, ``r1_interval=1``; ``r1_interval >= 2`` runs it lazily as StyleGAN2,
0 turns it off); style mixing regularisation with probability 0.9 (one crossover layer drawn
uniformly in [1, num_ws), the layers from it take the w of a second z; ``G_style``); Adam lr 0.001
(``training_loop.py``'s ``G_lrate_base``/``D_lrate_base``, used below 128 px; the FFHQ config raises
it to 0.0015-0.003 from 128 px), betas (0, 0.99), eps 1e-8 (``train.py``); one D step per G step
(``D_repeats``). G's EMA half-life is 10k images (``G_smoothing_kimg``): the EMA callback's setting
in the experiments. No path-length regularization (StyleGAN2's addition).

Reused from :class:`~gan_lightning.models.stylegan2.StyleGAN2` (the same functions, not copies):
style mixing (``mapped_ws``), R1's gamma (``r1_gamma_for``, ``auto`` too), the lazy R1 phase, G's
loss, the shared fakes of ``prepare_step`` and ``sample``.

Sampling: ``sample(..., truncation=psi)`` applies the truncation trick to the first
``truncation_cutoff`` ws (8, as ``G_style``; the authors' figures use psi 0.7, their metrics none),
with the fixed noise inputs (``noise_mode="const"``); ``gan-lightning sample --truncation 0.7``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

from gan_lightning.core import Phase, StepContext
from gan_lightning.losses import nonsaturating_d, r1_penalty
from gan_lightning.models.base import GANModule
from gan_lightning.models.registry import register_model
from gan_lightning.models.stylegan2 import StyleGAN2
from gan_lightning.nets.progan import ProGANDiscriminator, num_levels
from gan_lightning.nets.stylegan import StyleGANGenerator


@register_model
class StyleGAN(GANModule):
    smooths_real_labels = True  # D's loss is binary cross-entropy: label_smoothing applies
    top_k_applies = True  # G's adversarial loss is a mean over samples drawn from noise: top_k applies
    paper = "Karras, Laine & Aila 2019, A Style-Based Generator Architecture for GANs (StyleGAN)"
    recipe: ClassVar[dict] = {"lr_g": 0.001, "lr_d": 0.001, "betas": (0.0, 0.99), "critic_steps": 1}

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 32, 32),
        latent_dim: int = 512,
        w_dim: int = 512,
        mapping_layers: int = 8,
        mapping_lr_multiplier: float = 0.01,
        w_avg_beta: float = 0.995,
        fmap_base: int = 8192,
        fmap_max: int = 512,
        mbstd_group_size: int = 4,
        style_mixing_prob: float = 0.9,
        truncation_cutoff: int | None = 8,
        r1_gamma: float | Literal["auto"] = 10.0,
        r1_interval: int = 1,
        **kwargs,
    ) -> None:
        """Channels at stage s = log2(resolution) - 1: min(fmap_base / 2**s, fmap_max) in G and D.
        ``r1_interval``: 1 = R1 in D's loss every iteration (the authors'), k >= 2 = lazily every k
        iterations, 0 = never. ``truncation_cutoff``: the layers the truncation trick reaches (None: all)."""
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, **kwargs)
        if len(self.data_shape) != 3 or self.data_shape[1] != self.data_shape[2]:
            raise ValueError(f"StyleGAN needs square images (C, H, H); data_shape is {self.data_shape}")
        channels, size = self.data_shape[0], self.data_shape[1]
        if size < 4 or size & (size - 1):
            raise ValueError(f"StyleGAN needs a power-of-two image size >= 4 (e.g. 32); data_shape has {size}")
        num_ws = 2 * num_levels(size)
        if not 0.0 <= style_mixing_prob <= 1.0:
            raise ValueError(f"model.style_mixing_prob must be in [0, 1], got {style_mixing_prob}")
        if isinstance(r1_gamma, str) and r1_gamma != "auto" or not isinstance(r1_gamma, str) and r1_gamma < 0:
            raise ValueError(f"model.r1_gamma must be a number >= 0 or 'auto', got {r1_gamma!r}")
        if r1_interval < 0:
            raise ValueError(f"model.r1_interval must be 0 (off), 1 (every iteration) or >= 2 (lazy), got {r1_interval}")
        if truncation_cutoff is not None and truncation_cutoff < 0:
            raise ValueError(f"model.truncation_cutoff must be None or >= 0 (the first layers truncated; "
                             f"{num_ws} ws at {size} px), got {truncation_cutoff}")
        self.style_mixing_prob = style_mixing_prob
        self.r1_gamma, self.r1_interval = r1_gamma, r1_interval
        self.generator = StyleGANGenerator(latent_dim, w_dim, channels, size, mapping_layers, mapping_lr_multiplier,
                                           w_avg_beta, fmap_base, fmap_max, truncation_cutoff)
        self.discriminator = ProGANDiscriminator(channels, size, fmap_base, fmap_max, mbstd_group_size)

    # StyleGAN2's functions, shared as they are
    mapped_ws = StyleGAN2.mapped_ws
    generate = StyleGAN2.generate
    discriminate = StyleGAN2.discriminate
    r1_gamma_for = StyleGAN2.r1_gamma_for
    prepare_step = StyleGAN2.prepare_step
    r1_terms = StyleGAN2.r1_terms
    generator_terms = StyleGAN2.generator_terms
    sample = StyleGAN2.sample

    def r1_every_iteration(self) -> bool:
        return self.r1_interval == 1 and (self.r1_gamma == "auto" or self.r1_gamma > 0)

    def phases(self) -> list[Phase]:
        phases = [Phase("D", "discriminator", self.discriminator_terms)]
        if self.r1_interval >= 2 and (self.r1_gamma == "auto" or self.r1_gamma > 0):
            phases.append(Phase("Dreg", "discriminator", self.r1_terms, interval=self.r1_interval, lazy=True))
        phases.append(Phase("G", "generator", self.generator_terms, interval=self.critic_steps))
        return phases

    def discriminator_terms(self, ctx: StepContext):
        """softplus(D(G(z))) + softplus(-D(x)), plus gamma/2 E||grad_x D(x)||^2 when R1 runs every iteration."""
        if not self.r1_every_iteration():
            return StyleGAN2.discriminator_terms(self, ctx)
        real_logits = self.run_discriminator(ctx.real)
        fake_logits = self.run_discriminator(ctx.fake.detach())
        penalty = r1_penalty(lambda x: self.run_discriminator(x), ctx.real)
        gamma = self.r1_gamma_for(ctx.batch_size)
        loss = nonsaturating_d(real_logits, fake_logits, self.real_target(real_logits)) + 0.5 * gamma * penalty
        return {"d_loss": loss, "d_real": real_logits.mean(), "d_fake": fake_logits.mean(),
                "r1_penalty": penalty.detach(), "r1_gamma": penalty.new_full((), gamma)}
