"""AttnGAN: Xu et al. 2018, "AttnGAN: Fine-Grained Text to Image Generation with Attentional Generative
Adversarial Networks" (CVPR).

Recipe: a DAMSM text encoder (bi-LSTM: word features and a sentence feature) and image encoder are
pre-trained to match captions with images, word by word (DAMSM's word and sentence losses,
:mod:`gan_lightning.losses.damsm`), then frozen. G draws in stages: the first from [CA(sentence), z],
each later one doubles the side after attending, pixel by pixel, to the caption's words (padding
excluded); each stage has its own D with an unconditional and a sentence-conditional logit. G's loss:
per stage the non-saturating loss of both logits, plus lambda x DAMSM's loss of the last image
against its caption, plus CA's KL term; D's loss per stage: (real + real|text) / 2 + (fake +
fake|text + real|wrong text) / 3.

Defaults, file by file, from the authors' code (taoxugit/AttnGAN):
- ``code/cfg/bird_attn2.yml``: GF_DIM 32 (``g_width``; the first stage starts at 16 x 32 channels),
  DF_DIM 64 (``d_width``), Z_DIM 100, R_NUM 2 (``residual_blocks``), SMOOTH GAMMA1 4 (the code's
  value; the paper's text says 5), GAMMA2 5, GAMMA3 10, LAMBDA 5 (``damsm_weight``; 50 in
  ``coco_attn2.yml``), D and G lr 2e-4; ``code/trainer.py``: Adam betas (0.5, 0.999), one D per stage
  each stepped before G, and G's parameters averaged with decay 0.999 (``avg_param_G``), the average
  being what the authors save and sample: the project's default ``EMACallback`` (decay 0.999) is that;
- ``code/model.py``: CA's condition_dim 100 (``GAN.CONDITION_DIM``), KL weight 1; the networks of
  :mod:`gan_lightning.nets.attngan`; ``code/GlobalAttention.py``: the word attention;
- ``code/miscc/losses.py``: the losses above (binary cross-entropy; the wrong pair: a real image
  with the next caption's sentence, ``roll`` here), DAMSM's loss on the last stage only;
- ``code/cfg/DAMSM/bird.yml`` and ``code/pretrain_DAMSM.py``: DAMSM pre-training, Adam lr 0.002
  (0.5, 0.999), batch 48, the RNN's gradient norm clipped at 0.25 (:func:`gan_lightning.pretrained.train_damsm`).

Differences, said plainly: 2 stages, 32 -> 64 px (the authors' 3 stages draw 64, 128, 256 px:
CaptionedDigits is 64 px, and two stages keep one word-attention stage at CPU cost; the first stage's
three up-blocks from 16 x GF_DIM channels hand 2 x GF_DIM to the next, the authors' four hand GF_DIM);
DAMSM's image encoder is a small CNN trained from scratch with the text encoder (the authors use an
ImageNet Inception v3 at 299 px: no downloaded weights here), with 8 x 8 regions (17 x 17 there) and
128-d features (256 there); the authors' same-class masking of DAMSM's softmax is not applied (see
:mod:`gan_lightning.losses.damsm`).

DAMSM pre-training is its own cached phase, outside the GAN fit: ``damsm_ckpt_path`` None loads the
project's cached DAMSM of the fit's data (``<cache>/damsm_v1.pt``; on CaptionedDigits' two-digit scenes,
``digits_per_image: 2``, ``<cache>/damsm_two_digits_v1.pt``, pre-trained on those scenes' captions;
each pre-trained once on the first fit that needs it, a few CPU minutes); a path loads that file (a missing one is a one-line error naming
``model.damsm_ckpt_path``); ``random`` keeps seeded *untrained* encoders, for the tests and smoke runs
only: such a model learns no word-image matching. The encoders are frozen and saved with the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch
import torch.nn.functional as F

from gan_lightning.core import Phase, StepContext
from gan_lightning.core.protocol import Condition
from gan_lightning.core.rng import seeded_rng
from gan_lightning.data.captions import VOCABULARY, tokenize
from gan_lightning.losses.damsm import sentence_loss, words_loss
from gan_lightning.models.base import GANModule
from gan_lightning.models.registry import register_model
from gan_lightning.nets.attngan import AttnGANGenerator, StagedDiscriminators
from gan_lightning.nets.layers import eval_mode


def kl_loss(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """CA's KL(N(mu, sigma^2) || N(0, I)), averaged over entries as the authors' ``KL_loss``."""
    return -0.5 * (1.0 + logvar - mu.pow(2) - logvar.exp()).mean()


def bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


@register_model
class AttnGAN(GANModule):
    paper = "Xu et al. 2018, AttnGAN: Fine-Grained Text to Image Generation with Attentional GANs"
    data_kinds = ("captioned",)
    recipe: ClassVar[dict] = {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999)}

    def __init__(
        self,
        data_shape: Sequence[int] = (3, 64, 64),
        latent_dim: int = 100,
        num_stages: int = 2,
        g_width: int = 32,
        d_width: int = 64,
        condition_dim: int = 100,
        residual_blocks: int = 2,
        damsm_weight: float = 5.0,
        gamma1: float = 4.0,
        gamma2: float = 5.0,
        gamma3: float = 10.0,
        damsm_ckpt_path: str | None = None,
        **kwargs,
    ) -> None:
        """``num_stages``: G's stages (each doubles the side; the first draws image_size / 2^(stages - 1));
        ``damsm_weight``: lambda of G's DAMSM loss; ``gamma1..3``: DAMSM's smoothing factors;
        ``damsm_ckpt_path``: see the module docstring (None, a file, or ``random``)."""
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, **kwargs)
        from gan_lightning.pretrained import damsm_networks

        if num_stages < 1 or self.data_shape[1] % 2**(num_stages - 1) or self.data_shape[1] // 2**(num_stages - 1) < 16:
            raise ValueError(f"model.num_stages: {num_stages} stages halve {self.data_shape[1]} px below 16 px; "
                             f"give 1 to {max(1, (self.data_shape[1] // 16).bit_length())}")
        for name, value in (("damsm_weight", damsm_weight), ("gamma1", gamma1), ("gamma2", gamma2),
                            ("gamma3", gamma3)):
            if not value >= 0:
                raise ValueError(f"model.{name} must be >= 0, got {value}")
        self.num_stages, self.damsm_weight = num_stages, damsm_weight
        self.gammas = (gamma1, gamma2, gamma3)
        self.damsm_ckpt_path = damsm_ckpt_path
        with seeded_rng(0):  # placeholders: loaded at fit start, or from a checkpoint
            text, image = damsm_networks()
        self.text_encoder, self.image_encoder = text.requires_grad_(False), image.requires_grad_(False)
        self.register_buffer("damsm_ready", torch.tensor(int(damsm_ckpt_path == "random"), dtype=torch.uint8))
        channels, size, dim = self.data_shape[0], self.data_shape[1], self.text_encoder.dim
        self.generator = AttnGANGenerator(latent_dim, dim, dim, channels, size, num_stages, g_width, condition_dim,
                                          residual_blocks)
        self.discriminator = StagedDiscriminators(channels, size, dim, d_width, num_stages)

    def on_fit_start(self) -> None:
        """DAMSM's weights, once, on a fresh fit (a resumed one has them from its checkpoint)."""
        super().on_fit_start()
        if not int(self.damsm_ready):
            from gan_lightning.pretrained import damsm_encoders

            digits = getattr(getattr(self.trainer, "datamodule", None), "digits_per_image", 1)
            text, image = damsm_encoders(self.damsm_ckpt_path, digits_per_image=digits)
            self.text_encoder.load_state_dict(text.state_dict())
            self.image_encoder.load_state_dict(image.state_dict())
            self.damsm_ready.fill_(1)

    # ------------------------------------------------------------------ declarations
    def conditions(self) -> tuple[Condition, ...]:
        return (Condition("text", "caption", len(VOCABULARY)),)

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        """Token ids of ``texts`` (``gan-lightning sample --text``), on the host."""
        return torch.stack([tokenize(text) for text in texts])

    # ------------------------------------------------------------------ networks
    def optimizer_groups(self):
        return {"generator": self.generator.parameters(), "discriminator": self.discriminator.parameters()}

    @torch.no_grad()
    def encode(self, caption: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(sentence (N, D), words (N, D, L), valid words (N, L)) of the frozen DAMSM text encoder."""
        with eval_mode(self.text_encoder):
            sentence, words = self.text_encoder(caption)
        return sentence, words, caption != 0

    def stages(self) -> tuple[str, ...]:
        """G's stages, coarse to fine (each doubles the side): the sample grid shows them side by side."""
        size = self.data_shape[1]
        return tuple(f"stage {i + 1} ({size // 2**(self.num_stages - 1 - i)} px)" for i in range(self.num_stages))

    def generate(self, z, labels=None, net=None, conditions=None):
        return self.draw(z, conditions["caption"], net)[0][-1]

    def generate_stages(self, z, labels=None, net=None, conditions=None) -> tuple[torch.Tensor, ...]:
        return tuple(self.draw(z, conditions["caption"], net)[0])

    def draw(self, z: torch.Tensor, caption: torch.Tensor, net=None):
        """G's (images of each stage, attention maps of each later stage, mu, log variance)."""
        return (net or self.generator)(z, *self.encode(caption))

    @torch.no_grad()
    def attention(self, captions: torch.Tensor, noise: torch.Tensor, use_ema: bool = True):
        """(last images (N, C, H, W), the last stage's word attention (N, L, h, w)) for token ids ``captions``."""
        net = self.sampling_generator if use_ema else self.generator
        with eval_mode(net):
            images, maps, _, _ = self.draw(noise.to(self.device), captions.to(self.device), net)
        return images[-1], maps[-1] if maps else None

    def stage_reals(self, real: torch.Tensor) -> list[torch.Tensor]:
        """The real batch at each stage's side (area averaging), small to large."""
        size = real.size(-1)
        return [F.interpolate(real, size=size // 2**(self.num_stages - 1 - i), mode="area") if i < self.num_stages - 1
                else real for i in range(self.num_stages)]

    # ------------------------------------------------------------------ phases
    def prepare_step(self, ctx: StepContext) -> None:
        ctx.sentence, ctx.words, ctx.valid = self.encode(ctx.caption)
        ctx.z = self.sample_noise(ctx.batch_size)
        with torch.set_grad_enabled(ctx.runs("G")):  # the authors' one forward: D's fakes (detached) and G's
            ctx.fakes, _, ctx.mu, ctx.logvar = self.generator(ctx.z, ctx.sentence, ctx.words, ctx.valid)

    def phases(self) -> list[Phase]:
        return self.adversarial_phases(self.discriminator_terms, self.generator_terms)

    def discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        sentence, terms, total = ctx.sentence, {}, 0.0
        for stage, real in enumerate(self.stage_reals(ctx.real)):
            real_u, (real_c, wrong_c) = self.run_discriminator(real, (sentence, sentence.roll(1, dims=0)), stage=stage)
            fake_u, (fake_c,) = self.run_discriminator(ctx.fakes[stage].detach(), (sentence,), stage=stage)
            loss = (bce(real_u, 1.0) + bce(real_c, 1.0)) / 2 + (bce(fake_u, 0.0) + bce(fake_c, 0.0) + bce(wrong_c, 0.0)) / 3
            terms[f"d_loss{stage}"] = loss
            total = total + loss
        return {"d_loss": total, **terms}

    def generator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        terms, total = {}, 0.0
        for stage, fake in enumerate(ctx.fakes):
            logits, (conditional,) = self.run_discriminator(fake, (ctx.sentence,), stage=stage)
            loss = bce(logits, 1.0) + bce(conditional, 1.0)
            terms[f"g_adversarial{stage}"] = loss
            total = total + loss
        damsm = self.damsm_loss(ctx.fakes[-1], ctx.sentence, ctx.words, ctx.valid)
        kl = kl_loss(ctx.mu, ctx.logvar)
        return {"g_loss": total + self.damsm_weight * damsm + kl, "g_damsm": damsm, "g_kl": kl, **terms}

    def damsm_loss(self, images, sentence, words, valid) -> torch.Tensor:
        """DAMSM's word + sentence loss of ``images`` against their captions (the frozen image encoder)."""
        gamma1, gamma2, gamma3 = self.gammas
        with eval_mode(self.image_encoder):
            regions, pooled = self.image_encoder(images)
        return words_loss(words, regions, valid, gamma1, gamma2, gamma3) + sentence_loss(sentence, pooled, gamma3)

    # ------------------------------------------------------------------ held-out
    def discriminate(self, x, labels=None):
        raise TypeError("AttnGAN's Ds judge (image, caption) pairs per stage: call judge(images, captions)")

    @torch.no_grad()
    def judge(self, images: torch.Tensor, captions: torch.Tensor) -> torch.Tensor:
        """The last stage D's conditional logit that each image matches its caption."""
        return self.run_discriminator(images, (self.encode(captions)[0],), stage=self.num_stages - 1)[1][0]

    def heldout_step(self, batch, batch_idx: int, stage: str) -> None:
        ctx = StepContext(batch, real_key=self.output().key)
        z = self.sample_noise(ctx.batch_size, rng=torch.Generator().manual_seed(batch_idx))
        fake = self.generate(z, conditions={"caption": ctx.caption})
        sentence, words, valid = self.encode(ctx.caption)
        scores = {f"{stage}/d_real": self.judge(ctx.real, ctx.caption).mean(),
                  f"{stage}/d_wrong": self.judge(ctx.real.roll(1, dims=0), ctx.caption).mean(),
                  f"{stage}/d_fake": self.judge(fake, ctx.caption).mean(),
                  f"{stage}/damsm_fake": self.damsm_loss(fake, sentence, words, valid)}
        self.log_dict(scores, on_epoch=True, batch_size=ctx.batch_size)
