"""DualGAN: Yi, Zhang, Tan & Gong 2017, "DualGAN: Unsupervised Dual Learning for Image-to-Image
Translation" (ICCV).

Two translators, G_A: U -> V (here A -> B) and G_B: V -> U (B -> A), and two WGAN critics, D_B
(scores domain B: real b against G_A(a)) and D_A (real a against G_B(b)), trained on unpaired
samples. The translators minimise the Wasserstein generator loss plus the L1 "recovery" errors
lambda_U ||G_B(G_A(u)) - u||_1 + lambda_V ||G_A(G_B(v)) - v||_1.

Defaults (the paper, section 4, and the authors' TensorFlow code ``model.py`` / ``main.py`` /
``train.sh``):
- Generators: the pix2pix U-Net (the shared ``UNetGenerator``, 4x4 kernels; the authors' has a 5x5
  first and last layer and 3x3 kernels elsewhere), no dropout (the authors' ``dropout_rate`` 0).
  The authors' ``batch_norm`` normalises each sample over its own pixels (moments over the
  spatial axes, eps 1e-6): that is InstanceNorm, used here in both generators and critics.
- Critics: a 5x5 stride-2 conv, then 3x3 stride-2 convs (channels 2, 4, 8, 8 x width) with
  InstanceNorm and LeakyReLU 0.2, then a linear layer on the flattened map (the authors'
  default ``globalgan``; ``critic_head="patch"`` is their PatchGAN head). The authors use 5
  stride-2 layers (8x8 left at 256 px); fewer are used when the image is too small to keep a
  2x2 map (InstanceNorm needs more than one pixel).
- ``critic="clip"`` (the paper): the WGAN loss with every critic weight clipped to
  [-``clip_value``, ``clip_value``] = [-0.01, 0.01] after each critic step (the paper gives
  0.01-0.1; 0.01 is the authors' ``main.py`` default). ``critic="gp"`` (the authors' code
  default, ``wgan-gp``): no clipping, the WGAN-GP penalty 10 E(||grad D(x_hat)||_2 - 1)^2
  on points between real and translated images. A gradient-penalised critic must not use
  BatchNorm (each sample's gradient would depend on the batch): ``critic_norm="batch"`` is
  refused with ``critic="gp"`` (one popular collection puts ``BatchNorm2d(c, 0.8)``, eps = 0.8, in
  such a critic).
- ``cycle_weight`` lambda_U = lambda_V = 1000: the paper picks them in [100, 1000]; the authors'
  ``train.sh`` uses 1000 for three of its four tasks (500, ``main.py``'s default, for the
  fourth). ``cycle_weight = 0`` leaves two independent WGANs: the benchmark's "without cycle"
  baseline.
- RMSProp, lr 5e-5 for both sides (the paper: momentum-based optimisers such as Adam occasionally
  destabilise the training); the authors' RMSProp decay is 0.9, PyTorch's RMSprop keeps its
  smoothing constant 0.99 (the core does not expose it). ``critic_steps`` (n_critic) = 2 critic
  steps per translator step (the paper's value; the authors' ``main.py`` default is 1).
  Batch size 1 and 256 px in the paper; smaller images and larger batches in the configs here.

``translate(images, direction)`` runs G_A (``"AtoB"``) or G_B (``"BtoA"``); InstanceNorm keeps no
running statistics, so train and eval mode give the same outputs.
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gan_lightning.core import StepContext
from gan_lightning.losses import gradient_penalty, wasserstein_d, wasserstein_g, weight_clip_
from gan_lightning.models.shared import TwoGeneratorTranslation
from gan_lightning.models.base import GANModule
from gan_lightning.models.registry import register_model
from gan_lightning.nets.unpaired import CriticNorm, DualCritics
from gan_lightning.nets.translation import UNetGenerator

@register_model
class DualGAN(TwoGeneratorTranslation, GANModule):
    paper = "Yi et al. 2017, DualGAN: Unsupervised Dual Learning for Image-to-Image Translation"
    data_kinds = ("unpaired",)
    recipe = {"optimizer": "rmsprop", "lr_g": 5e-5, "lr_d": 5e-5, "critic_steps": 2}

    def __init__(
        self,
        data_shape: Sequence[int] = (3, 256, 256),
        g_width: int = 64,
        d_width: int = 64,
        critic_layers: int = 5,
        critic: Literal["clip", "gp"] = "clip",
        critic_norm: CriticNorm = "instance",
        critic_head: Literal["global", "patch"] = "global",
        clip_value: float = 0.01,
        gp_weight: float = 10.0,
        cycle_weight: float = 1000.0,
        dropout: float = 0.0,
        **kwargs,
    ) -> None:
        super().__init__(data_shape=data_shape, latent_dim=1, **kwargs)
        if critic not in ("clip", "gp"):
            raise ValueError(f"model.critic must be 'clip' or 'gp', got {critic!r}")
        if critic == "gp" and critic_norm == "batch":
            raise ValueError("model.critic_norm 'batch' cannot go with critic 'gp': the gradient penalty is per "
                             "sample, BatchNorm mixes the batch; use 'instance' or 'none'")
        if clip_value <= 0:
            raise ValueError(f"model.clip_value must be > 0, got {clip_value}")
        if cycle_weight < 0:
            raise ValueError(f"model.cycle_weight must be >= 0, got {cycle_weight}")
        channels, size = self.data_shape[0], self.data_shape[-1]
        self.critic, self.clip_value, self.gp_weight, self.cycle_weight = critic, clip_value, gp_weight, cycle_weight
        self.generator = nn.ModuleDict({
            "ab": UNetGenerator(channels, channels, size, g_width, norm="instance", dropout=dropout),
            "ba": UNetGenerator(channels, channels, size, g_width, norm="instance", dropout=dropout)})
        self.discriminator = DualCritics(channels, size, d_width, critic_layers, critic_norm, critic_head)
        if critic == "clip":
            weight_clip_(self.discriminator, clip_value)  # the critics start inside the clipping box

    def phases(self):
        """Critic steps on every batch, the translators on every ``critic_steps``-th (n_critic)."""
        return self.adversarial_phases(self.discriminator_terms, self.generator_terms,
                                       after_discriminator=self.after_critic_step)

    def prepare_step(self, ctx: StepContext) -> None:
        with torch.set_grad_enabled(ctx.runs("G")):
            ctx.fake_b, ctx.fake_a = self.generator["ab"](ctx.a), self.generator["ba"](ctx.b)

    def discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        terms, d_loss = {}, 0.0
        for domain, real, fake in (("a", ctx.a, ctx.fake_a), ("b", ctx.b, ctx.fake_b)):
            fake = fake.detach()
            real_out, fake_out = self.run_discriminator(real, domain), self.run_discriminator(fake, domain)
            d_loss = d_loss + wasserstein_d(real_out, fake_out)
            terms[f"wasserstein_{domain}"] = real_out.mean() - fake_out.mean()
            if self.critic == "gp":
                penalty = gradient_penalty(lambda x, domain=domain: self.run_discriminator(x, domain), real, fake)
                d_loss = d_loss + self.gp_weight * penalty
                terms[f"gp_{domain}"] = penalty
        return {"d_loss": d_loss, **terms}

    def after_critic_step(self, ctx: StepContext) -> None:
        if self.critic == "clip":
            weight_clip_(self.discriminator, self.clip_value)

    def generator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        """-D_B(G_A(a)) - D_A(G_B(b)) + lambda (||G_B(G_A(a)) - a||_1 + ||G_A(G_B(b)) - b||_1)."""
        adversarial = (wasserstein_g(self.run_discriminator(ctx.fake_b, "b"))
                       + wasserstein_g(self.run_discriminator(ctx.fake_a, "a")))
        terms = {"adversarial": adversarial}
        g_loss = adversarial
        if self.cycle_weight > 0:
            terms["cycle_a"] = F.l1_loss(self.generator["ba"](ctx.fake_b), ctx.a)
            terms["cycle_b"] = F.l1_loss(self.generator["ab"](ctx.fake_a), ctx.b)
            g_loss = g_loss + self.cycle_weight * (terms["cycle_a"] + terms["cycle_b"])
        return {"g_loss": g_loss, **terms}
