"""StyleGAN2: Karras, Laine, Aittala, Hellsten, Lehtinen & Aila 2020, "Analyzing and Improving the
Image Quality of StyleGAN" (CVPR), trained as the authors' stylegan2-ada-pytorch does, in pure PyTorch.

Networks (``nets/stylegan2.py``): mapping network with lr multiplier 0.01 and a tracked w_avg
(beta 0.995), modulated + demodulated convolutions, per-layer noise inputs with learned strength,
skip G, residual D with minibatch std (group 4).

Training (defaults from training/loss.py, train.py and training_loop.py of stylegan2-ada-pytorch):
non-saturating logistic loss; style mixing with probability 0.9 (one crossover layer per batch,
drawn uniformly in [1, num_ws)); lazy R1 on reals with gamma 10 (the ``stylegan2`` config;
``r1_gamma: auto`` is the ``auto`` config's 0.0002 * res^2 / batch, e.g. 0.0064 at 32 px batch 32;
the ``cifar`` config uses 0.01) every 16 iterations; lazy path-length regularization (weight 2,
decay 0.01 of its running mean ``pl_mean``, batch / 2) every 4 iterations; Adam lr 0.002 (the
``auto`` config: 0.0025), betas (0, 0.99), eps 1e-8, for G and D alike. The lazy phases are
core ``Phase(interval=k, lazy=True)``: their loss is multiplied by k and the optimizers get
lr * k/(k+1), betas ** (k/(k+1)), as in the authors' training loop. z and w have 512 dims and
the mapping 8 layers (paper); the experiments use the ``auto``/``cifar`` configs' 2 layers.

Order of the phases: D, Dreg, G, Greg, sharing one batch of fakes (the authors run Gmain, Greg,
Dmain, Dreg, each with fresh fakes); D sees the fakes detached.

Training state: ``pl_mean`` is declared training state (in every checkpoint; the authors' resume
loses it, stylegan2-ada-pytorch #81); ``w_avg`` is a buffer of the mapping network.

Sampling: ``sample(..., truncation=psi)`` is the truncation trick in w space, w_avg + psi (w - w_avg)
(psi=1: none, psi=0: the average image), with the fixed noise inputs (``noise_mode="const"``,
as the authors' generate.py), so ``gan-lightning sample --truncation PSI`` means psi.
"""

from __future__ import annotations

import math
from typing import Literal, Sequence

import torch

from gan_lightning.core import Phase, StepContext
from gan_lightning.core.state import mean_over_ranks
from gan_lightning.losses import nonsaturating_d, nonsaturating_g, r1_penalty
from gan_lightning.models.base import GANModule
from gan_lightning.models.registry import register_model
from gan_lightning.nets.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator, base_resolution
from gan_lightning.nets.layers import eval_mode


def _zero(module) -> torch.Tensor:
    """0, with a zero gradient for every trainable parameter of ``module``."""
    return sum(p.sum() for p in module.parameters() if p.requires_grad) * 0.0


@register_model
class StyleGAN2(GANModule):
    smooths_real_labels = True  # D's loss is binary cross-entropy: label_smoothing applies
    top_k_applies = True  # G's adversarial loss is a mean over samples drawn from noise: top_k applies
    paper = "Karras et al. 2020, Analyzing and Improving the Image Quality of StyleGAN (StyleGAN2)"
    data_kinds = ("image",)
    recipe = {"lr_g": 0.002, "lr_d": 0.002, "betas": (0.0, 0.99), "critic_steps": 1}

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 32, 32),
        latent_dim: int = 512,
        w_dim: int = 512,
        mapping_layers: int = 8,
        mapping_lr_multiplier: float = 0.01,
        w_avg_beta: float = 0.995,
        channel_base: int = 16384,
        channel_max: int = 512,
        mbstd_group_size: int = 4,
        style_mixing_prob: float = 0.9,
        r1_gamma: float | Literal["auto"] = 10.0,
        r1_interval: int = 16,
        pl_weight: float = 2.0,
        pl_decay: float = 0.01,
        pl_batch_shrink: int = 2,
        pl_interval: int = 4,
        **kwargs,
    ) -> None:
        """Channels at resolution r: min(channel_base / r, channel_max) in G and D (the authors':
        32768 * fmaps, fmaps 0.5 below 512 px, so 16384, and 512). ``r1_gamma``: a number, or
        ``"auto"`` for 0.0002 * res^2 / (global batch). ``r1_interval`` / ``pl_interval``: lazy
        regularization every this many iterations (0: never); ``pl_weight=0`` also turns path-length
        regularization off (the authors' cifar config does, and sets style_mixing_prob 0)."""
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, **kwargs)
        if len(self.data_shape) != 3 or self.data_shape[1] != self.data_shape[2]:
            raise ValueError(f"StyleGAN2 needs square images (C, H, H); data_shape is {self.data_shape}")
        channels, size = self.data_shape[0], self.data_shape[1]
        if size // base_resolution(size) < 2:
            raise ValueError(f"StyleGAN2 needs an image size with at least one 2x step above an odd base or 4 "
                             f"(e.g. 28, 32, 64); data_shape has {size}")
        if not 0.0 <= style_mixing_prob <= 1.0:
            raise ValueError(f"model.style_mixing_prob must be in [0, 1], got {style_mixing_prob}")
        if isinstance(r1_gamma, str) and r1_gamma != "auto" or not isinstance(r1_gamma, str) and r1_gamma < 0:
            raise ValueError(f"model.r1_gamma must be a number >= 0 or 'auto', got {r1_gamma!r}")
        for key, value in (("r1_interval", r1_interval), ("pl_interval", pl_interval)):
            if value < 0 or value == 1:
                raise ValueError(f"model.{key} must be 0 (off) or >= 2 (lazy regularization), got {value}")
        if pl_batch_shrink < 1:
            raise ValueError(f"model.pl_batch_shrink must be >= 1, got {pl_batch_shrink}")
        self.style_mixing_prob = style_mixing_prob
        self.r1_gamma, self.r1_interval = r1_gamma, r1_interval
        self.pl_weight, self.pl_decay = pl_weight, pl_decay
        self.pl_batch_shrink, self.pl_interval = pl_batch_shrink, pl_interval
        self.generator = StyleGAN2Generator(latent_dim, w_dim, channels, size, mapping_layers,
                                            mapping_lr_multiplier, w_avg_beta, channel_base, channel_max)
        self.discriminator = StyleGAN2Discriminator(channels, size, channel_base, channel_max, mbstd_group_size)
        # the running mean of path lengths: in the checkpoint, so a resume continues with it
        self.training_state.declare("pl_mean", torch.zeros(()))

    # ------------------------------------------------------------------ generation
    def mapped_ws(self, z: torch.Tensor, net=None) -> torch.Tensor:
        """w for every layer, with style mixing (probability ``style_mixing_prob``, training only): the
        layers from a crossover index drawn in [1, num_ws) take the w of a second z."""
        net = net or self.generator
        ws = net.mapping(z)
        if self.style_mixing_prob > 0 and net.training:
            num_ws = ws.size(1)
            # drawn on the host (the global CPU generator, as always): the branch below is Python's
            cutoff = int(torch.randint(1, num_ws, (), device="cpu").item()) if num_ws > 1 else num_ws
            if torch.rand((), device="cpu").item() >= self.style_mixing_prob:
                cutoff = num_ws
            if cutoff < num_ws:
                mixed = net.mapping(torch.randn_like(z), update_w_avg=False)
                layer = torch.arange(num_ws, device=ws.device).reshape(1, -1, 1)
                ws = torch.where(layer < cutoff, ws, mixed)
        return ws

    def generate(self, z, labels=None, net=None, conditions=None):
        return (net or self.generator)(z)

    def discriminate(self, x, labels=None):
        return self.run_discriminator(x)

    def r1_gamma_for(self, batch_size: int) -> float:
        """gamma of R1: the number, or the authors' ``auto`` heuristic 0.0002 * res^2 / global batch."""
        if self.r1_gamma != "auto":
            return float(self.r1_gamma)
        world = self.trainer.world_size if self.attached_trainer is not None else 1
        return 0.0002 * self.data_shape[-1] ** 2 / (batch_size * world)

    # ------------------------------------------------------------------ phases
    def phases(self) -> list[Phase]:
        phases = [Phase("D", "discriminator", self.discriminator_terms)]
        if self.r1_interval and (self.r1_gamma == "auto" or self.r1_gamma > 0):
            phases.append(Phase("Dreg", "discriminator", self.r1_terms, interval=self.r1_interval, lazy=True))
        phases.append(Phase("G", "generator", self.generator_terms, interval=self.critic_steps))
        if self.pl_interval and self.pl_weight > 0:
            phases.append(Phase("Greg", "generator", self.path_length_terms, interval=self.pl_interval, lazy=True))
        return phases

    def prepare_step(self, ctx: StepContext) -> None:
        ctx.z = self.sample_noise(ctx.batch_size)
        with torch.set_grad_enabled(ctx.runs("G")):
            ctx.ws = self.mapped_ws(ctx.z)
            ctx.fake = self.generator.synthesis(ctx.ws)

    def discriminator_terms(self, ctx: StepContext):
        real_logits = self.run_discriminator(ctx.real)
        fake_logits = self.run_discriminator(ctx.fake.detach())
        # softplus(-D(x)) + softplus(D(G(z))): the authors' logistic loss
        return {"d_loss": nonsaturating_d(real_logits, fake_logits, self.real_target(real_logits)), "d_real": real_logits.mean(),
                "d_fake": fake_logits.mean()}

    def r1_terms(self, ctx: StepContext):
        """gamma/2 * E||grad_x D(x)||^2 on reals (the core multiplies it by r1_interval)."""
        penalty = r1_penalty(lambda x: self.run_discriminator(x), ctx.real)
        gamma = self.r1_gamma_for(ctx.batch_size)
        # + 0 * every weight: each D parameter gets a (zero) gradient and an Adam step, as in the
        # authors' code, whose R1 loss carries real_logits * 0 (D's last bias has none otherwise)
        return {"dreg_loss": 0.5 * gamma * penalty + _zero(self.discriminator), "r1_penalty": penalty.detach(),
                "r1_gamma": penalty.new_full((), gamma)}

    def generator_terms(self, ctx: StepContext):
        return {"g_loss": nonsaturating_g(self.top_k_samples(self.run_discriminator(ctx.fake)))}

    def path_length_terms(self, ctx: StepContext):
        """Path-length regularization on batch / pl_batch_shrink fresh samples: lengths
        ||J_w^T y||, y ~ N(0, I) / sqrt(H W), penalised by their squared distance to pl_mean."""
        num = max(1, ctx.batch_size // self.pl_batch_shrink)
        ws = self.mapped_ws(self.sample_noise(num))
        images = self.generator.synthesis(ws)
        noise = torch.randn_like(images) / math.sqrt(images.size(2) * images.size(3))
        (grad,) = torch.autograd.grad((images * noise).sum(), ws, create_graph=True)
        lengths = grad.square().sum(dim=2).mean(dim=1).sqrt()
        batch_mean = self._mean_over_ranks(lengths.mean())
        pl_mean = self.training_state.pl_mean.to(lengths).lerp(batch_mean, self.pl_decay)
        self.training_state.pl_mean = pl_mean.detach()
        penalty = (lengths - pl_mean).square().mean()
        # + 0 * every weight: the authors' gen_img * 0 term, so every G parameter takes an Adam step
        return {"greg_loss": self.pl_weight * penalty + _zero(self.generator), "pl_penalty": penalty.detach(),
                "pl_mean": pl_mean.detach(), "pl_length": lengths.mean().detach()}

    @staticmethod
    def _mean_over_ranks(value: torch.Tensor) -> torch.Tensor:
        """The mean over DDP ranks (one pl_mean for all ranks); the gradient stays this rank's."""
        return value + (mean_over_ranks(value) - value).detach()

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def sample(self, num_samples: int | None = None, noise: torch.Tensor | None = None,
               labels: torch.Tensor | None = None, use_ema: bool = True, truncation: float | None = None,
               rng: torch.Generator | None = None, noise_mode: str = "const",
               conditions: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """Samples (the EMA G by default) in eval mode. ``truncation``: psi in w space,
        w_avg + psi (w - w_avg) with the tracked w_avg (None or 1: none). ``noise_mode``: ``const``
        (the fixed noise maps, as the authors' generate.py), ``random`` or ``none``."""
        self.check_conditions(0, labels, conditions)  # an unconditional model: none may be given
        psi = 1.0 if truncation is None else float(truncation)
        if not math.isfinite(psi):
            raise ValueError(f"truncation (psi) must be a finite number, got {truncation}")
        if noise is None:
            if num_samples is None:
                raise ValueError("sample() needs num_samples or noise")
            noise = self.sample_noise(num_samples, rng=rng)
        net = self.sampling_generator if use_ema else self.generator
        with eval_mode(net):
            return net(noise.to(self.device), truncation_psi=psi, noise_mode=noise_mode)
