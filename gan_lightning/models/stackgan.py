"""StackGAN: Zhang et al. 2017, "StackGAN: Text to Photo-realistic Image Synthesis with Stacked Generative
Adversarial Networks" (ICCV).

Two GANs, trained one after the other (``stage``):
- **Stage I** (``stage: 1``): G_I(z, c) draws a low-resolution image (``stage1_size``) of the caption's
  rough shape and colours; D_I judges it, with the caption, against the real image averaged down to that size;
- **Stage II** (``stage: 2``): G_II(G_I's image, c) redraws it at the full size (residual blocks on the
  encoded Stage I image joined with c), against D_II; Stage I is loaded from ``stage1_ckpt_path`` (a
  checkpoint of a ``stage: 1`` fit, its caption encoder with it) and frozen: its parameters take no
  gradient and it runs in eval mode.
- **Conditioning augmentation** (each stage its own): the caption's embedding phi(t) gives mu and logvar,
  c = mu + sigma * eps, and G's loss adds ``kl_weight`` x KL(N(mu, sigma^2) || N(0, I)).
  ``conditioning_augmentation: false`` is the paper's ablation without it (section 5.3, Table 2 "CA"):
  c = mu (the same fully connected layer as a plain nonlinear projection of phi(t)), no noise, no KL term.
- **Matching-aware D** (GAN-CLS), conditioned on mu (detached): real pairs are real, real images with
  the wrong caption (the batch's next one) and fakes are fake, binary cross-entropy; Stage I:
  real + (fake + wrong) / 2; Stage II's D also has an unconditional head: (real + real_uncond) / 2 +
  (fake + wrong + fake_uncond) / 3; G: fake (+ fake_uncond in Stage II) + ``kl_weight`` x KL.

Defaults from the authors' code (hanzhanggit/StackGAN-Pytorch): ``code/miscc/utils.py`` (``KL_loss``, a
mean over batch and entries; ``compute_discriminator_loss`` and ``compute_generator_loss``, the terms
above; ``weights_init``: N(0, 0.02)); ``code/trainer.py`` (Adam 2e-4 for both, betas (0.5, 0.999);
D conditioned on mu; the KL term added to G's loss; only Stage II's own G parameters optimised,
Stage I loaded from ``STAGE1_G`` with ``requires_grad`` off, as ``code/model.py``'s ``STAGE2_G``);
``code/miscc/config.py`` and ``code/cfg/coco_s1.yml`` / ``coco_s2.yml`` (z 100, CONDITION_DIM 128,
KL coefficient 2.0, R_NUM 2 residual blocks in Stage II (``coco_s2.yml``; ``config.py``'s default: 4),
GF_DIM 128 / DF_DIM 64 (``config.py``) -- CPU-sized widths in ``experiments/stackgan``); the networks
(:mod:`gan_lightning.nets.stackgan`) follow ``code/model.py``.

Differences, kept small:
- sizes: the authors go 64 px (Stage I) -> 256 px (Stage II); CaptionedDigits is a 64 px canvas, so
  Stage I draws 32 px and Stage II 64 px. Half rather than the authors' quarter: a digit here is 28-48 px
  on the canvas, 7-12 px at a quarter, where its strokes fall below a pixel; at 32 px its shape and
  colour (what Stage I is for) are still drawn, and Stage II has the strokes' detail to add. Stage II's
  encoder downsamples Stage I's image by 4 as the authors' (32 -> 8 px) and upsamples 3 times to 64 px;
- the caption embedding is the project's caption encoder (as GAN-INT-CLS here; the authors' are Reed et al.'s
  char-CNN-RNN embeddings, trained class-structured against a fixed ImageNet CNN, so the class is what
  they carry first: ours has a class term for the same reason, see :mod:`gan_lightning.pretrained`;
  with v1's sentence loss alone a digit-word swap hardly moved phi(t), little beside CA's noise, sigma >= 1
  per entry from the authors' ReLU on logvar, and Stage I drew the caption's colour but not its digit), one
  caption per image,
  the wrong pair is image i with caption i + 1 of the batch (the authors: ``real_features[:B-1]`` with
  ``cond[1:]``, B - 1 pairs; here all B, the last with the first);
- c = mu in eval mode (samples, held-out scores): a function of z; the authors draw eps at sampling too;
- Stage I stays in eval mode inside Stage II (frozen BatchNorm statistics too; the authors' runs it in
  train mode, its statistics moving); D outputs logits (the authors' sigmoid + BCELoss);
- the authors halve both learning rates every LR_DECAY_EPOCH (20 epochs in the coco cfgs): not done
  (``model.lr_decay_iters`` gives a linear decay instead); in the CPU recipe's 2,000 iterations (about 32
  epochs of CaptionedDigits' 3,943 training images) it would be one halving, near iteration 1,230.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import torch

from gan_lightning.core import Phase, StepContext
from gan_lightning.core.protocol import Output
from gan_lightning.errors import SettingError
from gan_lightning.losses.stacked import bce, conditioning_kl, matching_d_terms
from gan_lightning.models.registry import register_model
from gan_lightning.models.shared import (
    CaptionConditioned,
    read_stage_checkpoint,
    resized,
)
from gan_lightning.nets.stackgan import (
    StackDiscriminator,
    StageIGenerator,
    StageIIGenerator,
)

#: Arguments a Stage II model must share with the Stage I checkpoint it loads.
STAGE1_ARGUMENTS = ("latent_dim", "condition_dim", "g_width", "stage1_size")


@register_model
class StackGAN(CaptionConditioned):
    paper = "Zhang et al. 2017, StackGAN: Text to Photo-realistic Image Synthesis with Stacked GANs"
    recipe: ClassVar[dict[str, Any]] = {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999)}

    def __init__(
        self,
        data_shape: Sequence[int] = (3, 64, 64),
        latent_dim: int = 100,
        stage: Literal[1, 2] = 1,
        stage1_size: int = 32,
        stage1_ckpt_path: str | None = None,
        condition_dim: int = 128,
        kl_weight: float = 2.0,
        conditioning_augmentation: bool = True,
        num_residual: int = 2,
        g_width: int = 128,
        d_width: int = 64,
        text_encoder: str | None = None,
        **kwargs,
    ) -> None:
        """``stage``: 1 trains Stage I (images of ``stage1_size``), 2 trains Stage II (``data_shape``'s size) on
        the frozen Stage I of ``stage1_ckpt_path``: a checkpoint of a ``stage: 1`` fit (loaded when the fit
        starts, with its caption encoder; a Stage II checkpoint carries both), or ``random`` for a seeded
        untrained Stage I (tests, smoke runs only). ``g_width``: G's base width (Stage I's 4 px map has
        ``8 g_width`` channels at 32 px; Stage II's encoder ``g_width`` to ``4 g_width``); ``d_width``: D's.
        ``text_encoder``: as :class:`~gan_lightning.models.shared.CaptionConditioned` (Stage II takes
        Stage I's from its checkpoint). ``conditioning_augmentation``: false: c = mu, no noise and no KL
        term (``kl_weight`` is then unused; the KL is still logged); a Stage II's setting is its own CA's,
        its Stage I draws c = mu anyway (eval mode)."""
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, text_encoder=text_encoder, **kwargs)
        if stage not in (1, 2):
            raise SettingError(f"model.stage must be 1 or 2, got {stage!r}")
        if stage == 2 and stage1_ckpt_path is None:
            raise SettingError("model.stage1_ckpt_path: Stage II (model.stage 2) needs the checkpoint of a Stage I "
                               "fit (model.stage 1); got None (`random`: an untrained Stage I, for tests)")
        if stage == 1 and stage1_ckpt_path is not None:
            raise SettingError(f"model.stage1_ckpt_path: only Stage II (model.stage 2) loads a Stage I; got "
                               f"{stage1_ckpt_path!r} with model.stage 1")
        if kl_weight < 0:
            raise SettingError(f"model.kl_weight must be >= 0, got {kl_weight}")
        if not isinstance(conditioning_augmentation, bool):
            raise SettingError(f"model.conditioning_augmentation must be true or false, got {conditioning_augmentation!r}")
        channels, size = self.data_shape[0], self.data_shape[1]
        if stage1_size >= size:
            raise SettingError(f"model.stage1_size must be below the image size {size}, got {stage1_size}")
        self.stage, self.stage1_size, self.stage1_ckpt_path = stage, stage1_size, stage1_ckpt_path
        self.kl_weight, self.conditioning_augmentation = kl_weight, conditioning_augmentation
        dim = self.text_encoder.dim
        stage1 = StageIGenerator(latent_dim, dim, condition_dim, channels, stage1_size, g_width,
                                 augment=conditioning_augmentation if stage == 1 else True)
        if stage == 1:
            self.generator = stage1
            self.discriminator = StackDiscriminator(channels, stage1_size, condition_dim, d_width)
        else:
            self.generator = StageIIGenerator(stage1, dim, condition_dim, channels, stage1_size, size, g_width,
                                              num_residual, augment=conditioning_augmentation)
            self.discriminator = StackDiscriminator(channels, size, condition_dim, d_width, unconditional=True)
        self.register_buffer("stage1_ready", torch.tensor(int(stage == 1 or stage1_ckpt_path == "random"),
                                                          dtype=torch.uint8))

    # ------------------------------------------------------------------ declarations
    def output(self) -> Output:
        """Stage I draws ``stage1_size`` images; Stage II the data's."""
        channels, size = self.data_shape[0], self.data_shape[1]
        return Output("image", (channels, self.d_size, self.d_size)) if self.stage == 1 else Output(
            "image", (channels, size, size))

    def stages(self) -> tuple[str, ...]:
        if self.stage == 1:
            return ()
        return (f"Stage I ({self.stage1_size} px)", f"Stage II ({self.data_shape[1]} px)")

    @property
    def d_size(self) -> int:
        return self.stage1_size if self.stage == 1 else self.data_shape[1]

    # ------------------------------------------------------------------ Stage I for Stage II
    def on_fit_start(self) -> None:
        """Stage II on a fresh fit: Stage I's G (its EMA copy if it has one) and caption encoder from
        ``stage1_ckpt_path``, once; a resumed fit has them from its own checkpoint."""
        if not int(self.stage1_ready):
            self.load_stage1(self.stage1_ckpt_path)
        super().on_fit_start()

    def load_stage1(self, path: str) -> None:
        weights, state = read_stage_checkpoint(self, path, "model.stage1_ckpt_path",
                                               "a StackGAN Stage I fit (model.stage 1)", 1, STAGE1_ARGUMENTS)
        self.generator.stage1.load_state_dict(weights)
        encoder = {k[len("text_encoder."):]: v for k, v in state.items() if k.startswith("text_encoder.")}
        if encoder:
            self.text_encoder.load_state_dict(encoder)
            self.text_encoder_ready.fill_(1)
        if self.generator_ema is not None:  # the EMA copy was made before the fit started
            self.generator_ema.stage1.load_state_dict(self.generator.stage1.state_dict())
        self.stage1_ready.fill_(1)

    # ------------------------------------------------------------------ networks
    def optimizer_groups(self):
        """G's own parameters (Stage II: not Stage I's, frozen), and D's."""
        return {"generator": [p for p in self.generator.parameters() if p.requires_grad],
                "discriminator": self.discriminator.parameters()}

    def generate(self, z, labels=None, net=None, conditions=None):
        return self.generate_stages(z, labels, net, conditions)[-1]

    def generate_stages(self, z, labels=None, net=None, conditions=None):
        out = (net or self.generator)(z, self.embed(conditions["caption"]))
        return (out[0],) if self.stage == 1 else (out[0], out[1])

    # ------------------------------------------------------------------ phases
    def prepare_step(self, ctx: StepContext) -> None:
        ctx.embedding = self.embed(ctx.caption)
        ctx.real = resized(ctx.real, self.d_size)
        ctx.z = self.sample_noise(ctx.batch_size)
        with torch.set_grad_enabled(ctx.runs("G")):  # one draw for D and G, as the authors'
            out = self.generator(ctx.z, ctx.embedding)
        ctx.fake, ctx.mu, ctx.logvar = out[-3], out[-2], out[-1]

    def phases(self) -> list[Phase]:
        return self.adversarial_phases(self.discriminator_terms, self.generator_terms)

    def discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        condition = ctx.mu.detach()
        real = self.run_discriminator(ctx.real, condition)
        wrong = self.run_discriminator(ctx.real, condition.roll(-1, dims=0))  # image i, caption i + 1
        fake = self.run_discriminator(ctx.fake.detach(), condition)
        return matching_d_terms(real, wrong, fake, uncond_weight=1.0)

    def generator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        cond, uncond = self.run_discriminator(ctx.fake, ctx.mu.detach())
        adversarial = bce(cond, True) + (bce(uncond, True) if uncond is not None else 0.0)
        kl = conditioning_kl(ctx.mu, ctx.logvar)
        loss = adversarial + self.kl_weight * kl if self.conditioning_augmentation else adversarial
        return {"g_loss": loss, "g_adversarial": adversarial, "kl": kl}

    # ------------------------------------------------------------------ held-out
    @torch.no_grad()
    def judge(self, images: torch.Tensor, captions: torch.Tensor) -> torch.Tensor:
        """D's conditional logit that each image (averaged down to D's size) matches its caption, D
        conditioned on G's mu of the caption."""
        mu = self.generator.ca.moments(self.embed(captions))[0]
        return self.run_discriminator(resized(images, self.d_size), mu)[0]
