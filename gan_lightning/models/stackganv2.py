"""StackGAN++ (StackGAN-v2): Zhang et al. 2018, "StackGAN++: Realistic Image Synthesis with Stacked Generative
Adversarial Networks" (TPAMI).

One G, a tree: shared hidden features grow from 4 px, and each of ``branches`` branches draws an image at
its scale (each twice the one before, the last at the data's size); one D per branch, trained together
end to end (no stages one after the other, as StackGAN's).
- **Conditioning augmentation**: phi(t) -> mu, logvar (linear + GLU), c = mu + sigma * eps fed to every
  branch; G's loss adds ``kl_weight`` x KL(N(mu, sigma^2) || N(0, I)).
- **D per branch, two heads**: a conditional logit (image, mu) and an unconditional one (image alone).
  D_i's loss: real + wrong + fake of the conditional head (GAN-CLS: a real image with the wrong caption
  is fake) + ``uncond_weight`` x the unconditional head's (real, and the wrong pair's image: real; fake:
  fake); the real image of branch i is the data averaged down to its size.
- **G's loss**: over the branches, conditional + ``uncond_weight`` x unconditional non-saturating terms,
  + (when ``colour_weight`` > 0; off by default, as the authors' text-to-image cfg) the
  **colour-consistency** term between consecutive branches (the finer image's mean colour and colour
  covariance against the coarser one's, detached), on the images of the training step (BatchNorm in
  training mode): ``colour_weight`` x MSE of the means + 5 ``colour_weight`` x MSE of the covariances,
  + ``kl_weight`` x KL.

Defaults from the authors' code (hanzhanggit/StackGAN-v2): ``code/cfg/birds_3stages.yml`` (the text-to-image
cfg: BRANCH_NUM 3, UNCOND_LOSS 1.0, EMBEDDING_DIM 128 (``condition_dim``), GF_DIM 64, DF_DIM 64, Z_DIM 100,
R_NUM 2, B_CONDITION True, Adam 2e-4 for G and D), ``code/miscc/config.py`` (KL 2.0), ``code/trainer.py``
(``condGANTrainer.train_Dnet`` / ``train_Gnet``: the terms above; ``define_optimizers``: betas (0.5, 0.999);
``compute_mean_covariance``; the colour term's covariance weight 5 x COLOR_LOSS; ``weights_init``:
orthogonal conv and linear weights; G's parameter average with decay 0.999, used for the saved samples:
the project's EMA callback does it when an experiment sets ``ema:``; the CPU recipe
``experiments/stackganv2/captioned_digits.yaml`` does not), ``code/model.py`` (the networks,
:mod:`gan_lightning.nets.stackgan`). ``colour_weight`` 0, off: the authors' only
text-to-image cfg, ``code/cfg/birds_3stages.yml`` (B_CONDITION True), sets no COLOR_LOSS, so
``code/miscc/config.py``'s default 0.0 holds; only their unconditional cfgs (B_CONDITION False:
``bedroom``, ``cat``, ``church``, ``dog_3stages_color.yml``) set 50. The paper's colour-consistency claim
thus belongs to the unconditional setting, which this caption-conditioned model does not offer (its data
must be captioned); ``colour_weight: 50`` turns the term on with captions, as the authors' trainer
(``condGANTrainer.train_Gnet``) would do with that cfg value (benchmarks/stackganv2_colour.py measures it).

Differences, kept small:
- sizes: the authors' branches are 64, 128 and 256 px; CaptionedDigits is a 64 px canvas, so the three
  branches are 16, 32 and 64 px (each twice the one before, as theirs, the last at the canvas); the
  hidden map at 4 px has ``16 width`` channels, halved at each doubling (at 16 px: ``4 width``);
- the caption embedding is the project's caption encoder; the wrong pair is image i with caption i + 1
  of the batch (the authors draw a wrong image of another class);
- c = mu in eval mode (samples, held-out scores; the authors' ``CA_NET`` draws eps in eval mode too); D
  outputs logits (the authors' sigmoid + BCELoss);
- the colour term links every pair of consecutive branches (the authors' ``train_Gnet``: the last three
  branches' two pairs; the same with 3 branches);
- one Adam over the three Ds (the authors: one each, at the same settings: the same updates, as each
  D's loss depends on its parameters alone).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch

from gan_lightning.core import Phase, StepContext
from gan_lightning.errors import SettingError
from gan_lightning.losses.stacked import bce, colour_consistency, conditioning_kl
from gan_lightning.models.registry import register_model
from gan_lightning.models.shared import CaptionConditioned, resized
from gan_lightning.nets.stackgan import BranchDiscriminators, TreeGenerator


@register_model
class StackGANv2(CaptionConditioned):
    paper = "Zhang et al. 2018, StackGAN++: Realistic Image Synthesis with Stacked Generative Adversarial Networks"
    recipe: ClassVar[dict[str, Any]] = {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999)}

    def __init__(
        self,
        data_shape: Sequence[int] = (3, 64, 64),
        latent_dim: int = 100,
        branches: int = 3,
        condition_dim: int = 128,
        kl_weight: float = 2.0,
        uncond_weight: float = 1.0,
        colour_weight: float = 0.0,
        num_residual: int = 2,
        g_width: int = 64,
        d_width: int = 64,
        text_encoder: str | None = None,
        **kwargs,
    ) -> None:
        """``branches``: images drawn, at the data's size / 2^(branches - 1), ... , the data's size;
        ``uncond_weight``: the unconditional heads' weight (UNCOND_LOSS); ``colour_weight``: COLOR_LOSS
        (the means' weight; the covariances' is 5 times it); ``text_encoder``: as
        :class:`~gan_lightning.models.shared.CaptionConditioned`."""
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, text_encoder=text_encoder, **kwargs)
        for key, value in (("kl_weight", kl_weight), ("uncond_weight", uncond_weight),
                           ("colour_weight", colour_weight)):
            if value < 0:
                raise SettingError(f"model.{key} must be >= 0, got {value}")
        channels, size = self.data_shape[0], self.data_shape[1]
        if branches < 1 or size % 2 ** (branches - 1) or size // 2 ** (branches - 1) < 8:
            raise SettingError(f"model.branches: {branches} branches halve {size} px below 8 px or to a fraction; "
                               f"give 1 to {max(1, (size // 8).bit_length())}")
        self.sizes = [size // 2 ** (branches - 1 - i) for i in range(branches)]
        self.kl_weight, self.uncond_weight, self.colour_weight = kl_weight, uncond_weight, colour_weight
        dim = self.text_encoder.dim
        self.generator = TreeGenerator(latent_dim, dim, condition_dim, channels, self.sizes, g_width, num_residual)
        self.discriminator = BranchDiscriminators(channels, self.sizes, condition_dim, d_width)

    def stages(self) -> tuple[str, ...]:
        return tuple(f"branch {i + 1} ({s} px)" for i, s in enumerate(self.sizes)) if len(self.sizes) > 1 else ()

    # ------------------------------------------------------------------ networks
    def generate(self, z, labels=None, net=None, conditions=None):
        return self.generate_stages(z, labels, net, conditions)[-1]

    def generate_stages(self, z, labels=None, net=None, conditions=None):
        return tuple((net or self.generator)(z, self.embed(conditions["caption"]))[0])

    # ------------------------------------------------------------------ phases
    def prepare_step(self, ctx: StepContext) -> None:
        ctx.embedding = self.embed(ctx.caption)
        ctx.reals = [resized(ctx.real, s) for s in self.sizes]
        ctx.z = self.sample_noise(ctx.batch_size)
        with torch.set_grad_enabled(ctx.runs("G")):  # one draw for the Ds and G, as the authors'
            ctx.fakes, ctx.mu, ctx.logvar = self.generator(ctx.z, ctx.embedding)

    def phases(self) -> list[Phase]:
        return self.adversarial_phases(self.discriminator_terms, self.generator_terms)

    def discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        condition, u = ctx.mu.detach(), self.uncond_weight
        terms, total = {}, 0.0
        for i, (real_image, fake_image) in enumerate(zip(ctx.reals, ctx.fakes)):
            real, real_u = self.run_discriminator(real_image, condition, branch=i)
            wrong, wrong_u = self.run_discriminator(real_image, condition.roll(-1, dims=0), branch=i)
            fake, fake_u = self.run_discriminator(fake_image.detach(), condition, branch=i)
            if u > 0:
                loss = (bce(real, True) + u * bce(real_u, True) + bce(wrong, False) + u * bce(wrong_u, True)
                        + bce(fake, False) + u * bce(fake_u, False))
            else:
                loss = bce(real, True) + 0.5 * (bce(wrong, False) + bce(fake, False))
            terms[f"d{i + 1}_loss"] = loss
            total = total + loss
        return {"d_loss": total, **terms}

    def generator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        condition, u = ctx.mu.detach(), self.uncond_weight
        terms, total = {}, 0.0
        for i, fake_image in enumerate(ctx.fakes):
            cond, uncond = self.run_discriminator(fake_image, condition, branch=i)
            loss = bce(cond, True) + (u * bce(uncond, True) if u > 0 else 0.0)
            terms[f"g{i + 1}_adversarial"] = loss
            total = total + loss
        if self.colour_weight > 0:
            for i in range(1, len(ctx.fakes)):
                colour = colour_consistency(ctx.fakes[i], ctx.fakes[i - 1], self.colour_weight, 5 * self.colour_weight)
                terms[f"colour{i}{i + 1}"] = colour
                total = total + colour
        kl = conditioning_kl(ctx.mu, ctx.logvar)
        return {"g_loss": total + self.kl_weight * kl, "kl": kl, **terms}

    # ------------------------------------------------------------------ held-out
    @torch.no_grad()
    def judge(self, images: torch.Tensor, captions: torch.Tensor) -> torch.Tensor:
        """The last branch's D: its conditional logit that each image matches its caption (D conditioned on
        G's mu of the caption)."""
        mu = self.generator.ca.moments(self.embed(captions))[0]
        last = len(self.sizes) - 1
        return self.run_discriminator(resized(images, self.sizes[-1]), mu, branch=last)[0]
