"""TAC-GAN: Dash et al. 2017, "TAC-GAN - Text Conditioned Auxiliary Classifier Generative Adversarial
Network" (arXiv:1703.06412).

GAN-CLS's matching-aware D with an auxiliary classifier (AC-GAN's) on the same (image, text) features:
D tells real pairs from wrong and fake ones and names the class of each image; G makes images that
pass as real for their caption and are classified as the caption's class.

Recipe, from the authors' code (dashayushman/TAC-GAN, read at its last commit f6e7257):
- ``model.py``: D's loss real + wrong + fake (sigmoid cross-entropy against hard 1 / 0: no label
  smoothing; each weight 1; the wrong pair is a random training image, its own class kept, with this
  caption) + the class loss on the real image (its class), the wrong image (its own class) and the fake
  (the caption's class: ``g_loss_2`` is added to ``d_loss``); G's loss fake + the class loss on the
  fake; the class loss is sigmoid cross-entropy against the one-hot class (``aux_weight`` 1); both
  heads are linear layers on the same flattened joint map (image features and the replicated text
  projection after a 1x1 convolution, BatchNorm, leaky ReLU);
- ``train.py``: G updated twice per D update on the same feed (``g_steps`` 2), Adam lr 2e-4, beta1
  0.5, batch 64, z 100 (uniform(-1, 1)), gf_dim 64 and df_dim 64 (``g_width``, ``d_width``); t_dim
  256 since commit f6e7257, 512 before it (``text_dim`` 512 here: a 128 made no difference to the
  collapse below); the README's example command uses t_dim 100 and batch 128.

Differences, kept small: the networks are GAN-INT-CLS's (:mod:`gan_lightning.nets.text`, reedscot's
G and D, whose text projection in D has a BatchNorm the authors' lacks) with the class head on D's
joint 4 x 4 map (a 4x4 convolution over the map: the authors' linear layer on the flattened map); the
wrong image is the batch's next one (its own class kept); noise is N(0, I); G draws fresh noise for
each of its updates (the authors' reuse D's z: measured the same, below); the caption embedding is
the project's caption encoder, as GAN-INT-CLS's.

The CPU recipe (``experiments/tacgan/captioned_digits.yaml``: g_width and d_width 32, not 64) sets
``g_steps`` 1. With the authors' two G updates per D update at those widths, G draws one texture for
every caption: colour accuracy 0.109 and flat over 1,000 iterations on CaptionedDigits, 0.517 and
rising with one (benchmarks/RESULTS.md, ``text_to_image_v2``, before and after the fix). In seeded
300-iteration runs at 32 px, each other switch kept the collapse (no class losses, D's weights 1 / 0.5
/ 0.5, text_dim 128, G reusing D's z), while one G update per D update, or the authors' widths 64 with
two, did not (seed 0: colour 0.24 and 0.35 against 0.09 to 0.14; seed 1: 0.144 with one against 0.116
with two, too early to tell at 300 iterations: the 1,000-iteration pair above is the clear evidence);
GAN-CLS with two G updates drew noise too (colour 0.21, against 0.33 with one). Nothing is stale between the two G phases: each draws its own
noise and fakes, the frozen caption embedding is the only state ``prepare_step`` shares with them.
The model's defaults stay the authors' (widths 64, ``g_steps`` 2): at those widths two G updates did
not collapse in the 300-iteration run (not measured longer).

``class_head``: ``joint`` (the default, the authors' place, on D's joint image-text map) or ``image`` (on the
image's features before the text joins them, AC-GAN's place). On CaptionedDigits, whose caption embedding
carries the digit, the joint head learns to read the class from the caption: given real images with other
images' captions it names the caption's digit, not the image's, so its class loss asks nothing of G's
image (benchmarks/RESULTS.md, ``text_to_image_probe``, with the run that moves it to the image). With GAN-INT-CLS's
option ``d_image_reader: digits`` (D's image path a frozen digit reader) and the head on the image, the head names the
image's digit (0.854 and 0.855 of real images given other captions, GAN seeds 0 and 1) and G draws the asked digit on
0.611 of held-out captions (seeds: 0.614, 0.608), below GAN-INT-CLS's 0.669 (0.655, 0.684) with the same option by
about the seed spread (same section).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F

from gan_lightning.core import Phase, StepContext
from gan_lightning.losses import sigmoid_class_loss
from gan_lightning.models.ganintcls import GANINTCLS
from gan_lightning.models.registry import register_model
from gan_lightning.nets.text import MatchingDiscriminator


@register_model
class TACGAN(GANINTCLS):
    paper = "Dash et al. 2017, TAC-GAN - Text Conditioned Auxiliary Classifier Generative Adversarial Network"
    data_kinds = ("captioned",)

    def __init__(
        self,
        data_shape: Sequence[int] = (3, 64, 64),
        latent_dim: int = 100,
        num_classes: int = 10,
        aux_weight: float = 1.0,
        g_steps: int = 2,
        g_width: int = 64,
        d_width: int = 64,
        text_dim: int = 512,
        class_head: Literal["joint", "image"] = "joint",
        text_encoder: str | None = None,
        **kwargs,
    ) -> None:
        """``num_classes``: the classes of the batches' ``label`` (CaptionedDigits: the digit);
        ``g_steps``: G updates per D update (the authors' 2; 1 with narrower nets than the authors' 64, as
        the CPU recipe: see the module docstring); other arguments as :class:`GANINTCLS`."""
        kwargs.update(variant="gan-cls", interp_weight=0.0)  # TAC-GAN: matching-aware D, no interpolation
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, g_width=g_width, d_width=d_width,
                         text_dim=text_dim, text_encoder=text_encoder, **kwargs)
        if num_classes < 2:
            raise ValueError(f"model.num_classes must be >= 2, got {num_classes}")
        if aux_weight < 0:
            raise ValueError(f"model.aux_weight must be >= 0, got {aux_weight}")
        if g_steps < 1:
            raise ValueError(f"model.g_steps must be >= 1, got {g_steps}")
        self.num_classes, self.aux_weight, self.g_steps = num_classes, aux_weight, g_steps
        channels, size = self.data_shape[0], self.data_shape[1]
        if class_head not in ("joint", "image"):
            raise ValueError(f"model.class_head: {class_head!r} is not accepted; give joint or image")
        self.class_head = class_head
        self.discriminator = MatchingDiscriminator(channels, size, self.text_encoder.dim, d_width, text_dim,
                                                   num_classes=num_classes, class_from=class_head)

    def phases(self) -> list[Phase]:
        generator = [Phase("G" if i == 0 else f"G{i + 1}", "generator", self.generator_terms, loss_key="g_loss",
                           interval=self.critic_steps) for i in range(self.g_steps)]
        return [Phase("D", "discriminator", self.discriminator_terms), *generator]

    def discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        labels = ctx.label
        real, real_class = self.run_discriminator(ctx.real, ctx.embedding)
        wrong, wrong_class = self.run_discriminator(ctx.real.roll(1, dims=0), ctx.embedding)
        fake, fake_class = self.run_discriminator(ctx.fake, ctx.embedding)
        terms = {"d_real": F.binary_cross_entropy_with_logits(real, torch.ones_like(real)),
                 "d_wrong": F.binary_cross_entropy_with_logits(wrong, torch.zeros_like(wrong)),
                 "d_fake": F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)),
                 "d_class": sigmoid_class_loss(real_class, labels)
                 + sigmoid_class_loss(wrong_class, labels.roll(1, dims=0)) + sigmoid_class_loss(fake_class, labels)}
        loss = terms["d_real"] + terms["d_wrong"] + terms["d_fake"] + self.aux_weight * terms["d_class"]
        return {"d_loss": loss, **terms}

    def generator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        fake = self.generator(self.sample_noise(ctx.batch_size), ctx.embedding)
        logits, classes = self.run_discriminator(fake, ctx.embedding)
        adversarial = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        aux = sigmoid_class_loss(classes, ctx.label)
        return {"g_loss": adversarial + self.aux_weight * aux, "g_adversarial": adversarial, "g_class": aux}

    @torch.no_grad()
    def judge(self, images: torch.Tensor, captions: torch.Tensor) -> torch.Tensor:
        """D's logit that each image matches its caption (the class head aside)."""
        return self.run_discriminator(images, self.embed(captions))[0]

    @torch.no_grad()
    def classify(self, images: torch.Tensor, captions: torch.Tensor) -> torch.Tensor:
        """The class D's auxiliary head reads in each image (next to its caption)."""
        return self.run_discriminator(images, self.embed(captions))[1].argmax(1)
