"""GAN-INT-CLS: Reed et al. 2016, "Generative Adversarial Text to Image Synthesis" (ICML).

Recipe: G(z, phi(t)) draws an image for a caption t; D(x, phi(t)) judges image-text *pairs*.
- GAN-CLS (matching-aware D): D also sees real images with a wrong caption, as fakes; D's loss is
  real + cls_weight * wrong + (1 - cls_weight) * fake (binary cross-entropy), cls_weight 0.5;
- GAN-INT: G also learns on captions interpolated between two of the batch, the midpoints
  (phi(t1) + phi(t2)) / 2 of its first and second halves (no real image exists for them, so only G
  sees them), weighted ``interp_weight`` 1 in a 1.5 x batch G loss;
- ``variant``: ``gan`` (neither), ``gan-cls``, ``gan-int``, ``gan-int-cls`` (both, the default).

Defaults from the authors' code (reedscot/icml2016): ``main_cls_int.lua`` (nz 100, nt 128 text
features, ngf 128, ndf 64, Adam lr 2e-4 beta1 0.5, batch 64, N(0, 0.02) init, convolutions without
biases, the G and D networks of :mod:`gan_lightning.nets.text`) and ``scripts/train_flowers.sh``
(cls_weight 0.5, interp_weight 1, interp_type 1: midpoints). G draws fresh noise for its own 1.5 x
batch, as the authors' ``fGx``.

Differences, kept small: the text embedding phi is a word-level bidirectional GRU trained as a joint
embedding with DAMSM's sentence loss on CaptionedDigits (:mod:`gan_lightning.pretrained`), not the
authors' char-CNN-RNN on birds and flowers, and it embeds one caption per image (the authors average
the embeddings of 4); the wrong image of a pair is the batch's next image (``roll``), where the
authors draw one of another class. The encoder is frozen and saved with the model.

Option, not the authors' (default off): ``d_image_reader`` starts D's image path (its convolutions to 4 px and
residual block, ``MatchingDiscriminator.features``) from a digit classifier: ``digits``, the project's own
(:func:`gan_lightning.pretrained.train_digit_reader`, trained once on CaptionedDigits' training images with
shifted inputs and cached), or a file of one's own; ``freeze_d_image_reader`` keeps those weights and their
BatchNorm statistics as loaded (not in D's optimizer). From scratch, D's image path reads the digit slowly and
the recipe draws the asked digit at chance at its 3,000 iterations; from a frozen digit reader with D's inputs
shifted (``DiffAugmentCallback(policy="translation")``), G drew it on 0.557 and 0.612 of the held-out captions
(two seeds, 32 px; benchmarks/RESULTS.md, ``text_to_image_probe``). Loaded when a fit starts; a checkpoint
carries it, so a resume keeps the trained weights.
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
import torch.nn.functional as F

from gan_lightning.core import Phase, StepContext
from gan_lightning.models.registry import register_model
from gan_lightning.models.shared import CaptionConditioned
from gan_lightning.nets.text import MatchingDiscriminator, TextToImageGenerator

VARIANTS = {"gan": (False, False), "gan-cls": (True, False), "gan-int": (False, True), "gan-int-cls": (True, True)}


@register_model
class GANINTCLS(CaptionConditioned):
    paper = "Reed et al. 2016, Generative Adversarial Text to Image Synthesis"
    data_kinds = ("captioned",)

    def __init__(
        self,
        data_shape: Sequence[int] = (3, 64, 64),
        latent_dim: int = 100,
        variant: Literal["gan", "gan-cls", "gan-int", "gan-int-cls"] = "gan-int-cls",
        cls_weight: float = 0.5,
        interp_weight: float = 1.0,
        g_width: int = 128,
        d_width: int = 64,
        text_dim: int = 128,
        text_encoder: str | None = None,
        d_image_reader: str | None = None,
        freeze_d_image_reader: bool = False,
        **kwargs,
    ) -> None:
        """``text_encoder``: a caption encoder file, ``None`` for the project's cached one (trained on first
        use), or ``random`` for a seeded untrained one (tests, smoke runs). It is loaded when a fit starts;
        a checkpoint carries it. ``d_image_reader``: ``None`` (D's image path from scratch, the authors'),
        ``digits`` (the project's cached digit reader) or a reader file, loaded when a fit starts;
        ``freeze_d_image_reader``: keep it as loaded (needs a ``d_image_reader``)."""
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, text_encoder=text_encoder, **kwargs)
        if freeze_d_image_reader and d_image_reader is None:
            raise ValueError("model.freeze_d_image_reader: true needs model.d_image_reader (digits, or a reader "
                             "file); got null")
        self.d_image_reader_source = d_image_reader
        self.freeze_d_image_reader = bool(freeze_d_image_reader)
        self.d_width = d_width
        self.register_buffer("d_image_reader_ready", torch.tensor(int(d_image_reader is None), dtype=torch.uint8))
        if variant not in VARIANTS:
            raise ValueError(f"model.variant must be one of {', '.join(VARIANTS)}; got {variant!r}")
        if not 0.0 <= cls_weight < 1.0:
            raise ValueError(f"model.cls_weight must be in [0, 1), got {cls_weight}")
        if interp_weight < 0:
            raise ValueError(f"model.interp_weight must be >= 0, got {interp_weight}")
        self.variant = variant
        self.matching, self.interpolating = VARIANTS[variant]
        self.cls_weight = cls_weight if self.matching else 0.0
        self.interp_weight = interp_weight if self.interpolating else 0.0
        channels, size = self.data_shape[0], self.data_shape[1]
        dim = self.text_encoder.dim
        self.generator = TextToImageGenerator(latent_dim, dim, channels, size, g_width, text_dim)
        self.discriminator = MatchingDiscriminator(channels, size, dim, d_width, text_dim)

    # ------------------------------------------------------------------ networks
    def optimizer_groups(self):
        return {"generator": self.generator.parameters(), "discriminator": self.discriminator_parameters()}

    def discriminator_parameters(self) -> list[torch.nn.Parameter]:
        """D's trained parameters: all of them, less its image path when ``freeze_d_image_reader``."""
        if not self.freeze_d_image_reader:
            return list(self.discriminator.parameters())
        self.discriminator.features.requires_grad_(False)
        frozen = {id(p) for p in self.discriminator.features.parameters()}
        return [p for p in self.discriminator.parameters() if id(p) not in frozen]

    def on_fit_start(self) -> None:
        """D's image path from ``d_image_reader``, once: on a fresh fit; a resumed fit has it from its checkpoint."""
        super().on_fit_start()
        if not int(self.d_image_reader_ready):
            from gan_lightning.pretrained import digit_reader

            saved = digit_reader(self.d_image_reader_source, self.data_shape[1], self.d_width)
            self.discriminator.features.load_state_dict(saved["features"])
            self.d_image_reader_ready.fill_(1)
        self.train(self.training)  # a frozen reader in eval mode from the first step (Lightning calls no train())

    def train(self, mode: bool = True):
        """A frozen image reader stays in eval mode: its BatchNorm normalises by the reader's statistics."""
        super().train(mode)
        if self.freeze_d_image_reader:
            self.discriminator.features.eval()
        return self

    def generate(self, z, labels=None, net=None, conditions=None):
        return (net or self.generator)(z, self.embed(conditions["caption"]))

    # ------------------------------------------------------------------ phases
    def prepare_step(self, ctx: StepContext) -> None:
        ctx.embedding = self.embed(ctx.caption)
        ctx.z = self.sample_noise(ctx.batch_size)
        with torch.no_grad():  # D's fakes; G draws its own (the authors' fGx)
            ctx.fake = self.generator(ctx.z, ctx.embedding)

    def phases(self) -> list[Phase]:
        return self.adversarial_phases(self.discriminator_terms, self.generator_terms)

    def discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        real = self.run_discriminator(ctx.real, ctx.embedding)
        fake = self.run_discriminator(ctx.fake, ctx.embedding)
        real_loss = F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
        fake_loss = F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
        terms = {"d_real": real_loss, "d_fake": fake_loss}
        loss = real_loss + (1.0 - self.cls_weight) * fake_loss
        if self.matching:
            wrong = self.run_discriminator(ctx.real.roll(1, dims=0), ctx.embedding)
            wrong_loss = F.binary_cross_entropy_with_logits(wrong, torch.zeros_like(wrong))
            terms["d_wrong"] = wrong_loss
            loss = loss + self.cls_weight * wrong_loss
        return {"d_loss": loss, **terms}

    def generator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        embedding, weights = ctx.embedding, torch.ones_like(ctx.embedding[:, 0])
        half = ctx.batch_size // 2
        if self.interpolating and half > 0:
            middle = 0.5 * (embedding[:half] + embedding[half:2 * half])
            embedding = torch.cat([embedding, middle])
            weights = torch.cat([weights, weights.new_full((half,), self.interp_weight)])
        fake = self.generator(self.sample_noise(embedding.size(0)), embedding)
        logits = self.run_discriminator(fake, embedding)
        losses = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits), reduction="none")
        return {"g_loss": (weights * losses).mean()}

    # ------------------------------------------------------------------ held-out
    @torch.no_grad()
    def judge(self, images: torch.Tensor, captions: torch.Tensor) -> torch.Tensor:
        """D's logit that each image matches its caption."""
        return self.run_discriminator(images, self.embed(captions))
