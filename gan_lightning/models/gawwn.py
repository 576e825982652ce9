"""GAWWN: Reed et al. 2016, "Learning What and Where to Draw" (NeurIPS): the box-conditional model, and
the keypoint-conditional one (``location: keypoints``).

Recipe: G(z, t, box) draws the caption t's object inside the box; D(x, t, box) judges (image, box,
text) triples with GAN-CLS's matching-aware loss. The box enters both networks through a spatial
transformer on a 16 x 16 grid (:mod:`gan_lightning.nets.gawwn`): in G a *global* pathway (the text
feature placed in the box, zero outside it, convolved to a vector joined with z) and a *local* one
(a [z, text] feature map squeezed into the box), in D a region pathway (image and text features
cropped to the box) and a global one (the text placed in the box beside the image's features).
``location: keypoints``: the authors' keypoint model (``main_cub_keypoints.lua``: each keypoint a
one-hot map on the 16 x 16 grid, the text kept where a keypoint is; G and D of
:class:`~gan_lightning.nets.gawwn.KeypointGenerator` / ``KeypointDiscriminator``), on the 5 keypoints
CaptionedDigits exports (the ink's top-, bottom-, left-, right-most pixels and its centroid; the
authors' 15 bird parts, with visibility, on CUB; their ``ndf`` 64 there).

Defaults from the authors' code (reedscot/nips2016): ``main_cub_bbox.lua`` (nz 100, nt 128 text
features, Adam lr 2e-4 beta1 0.5, N(0, 0.02) weights, cls_weight 0.5: D's loss real + cls_weight x
wrong + (1 - cls_weight) x fake with binary cross-entropy, the wrong pair a real image with another
sample's text, G's loss on the same fakes as D's) and ``scripts/train_cub_bbox.sh`` (ngf 128, ndf 128,
batch 16, one box per image: ``num_elt`` 1).

Differences, kept small: 64 px (the authors' 128 px: one upsampling of G and one downsampling of D
less); the text embedding is the project's frozen caption encoder (GAN-INT-CLS's, see
:class:`~gan_lightning.models.GANINTCLS`) instead of the char-CNN-RNN; the wrong text is the batch's
next one (``roll``), the authors' a random permutation; D's global pathway places the text in the box
as G's does (the authors' code samples that replicated text with the crop grid, which leaves it
constant); the authors halve the learning rate every 100 epochs, not done here (the core's
``lr_decay_iters`` does a linear decay if wanted); D has no BatchNorm on its 1 x 1 features (see
:mod:`gan_lightning.nets.gawwn`: with it, D stayed at chance). Not implemented: the authors' third model that
also *generates* keypoints from text (``main_gen_keypoints.lua``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F

from gan_lightning.core import StepContext
from gan_lightning.core.protocol import Condition
from gan_lightning.data.captions import VOCABULARY
from gan_lightning.models.ganintcls import GANINTCLS
from gan_lightning.models.registry import register_model
from gan_lightning.nets.gawwn import (
    BoxDiscriminator,
    BoxGenerator,
    KeypointDiscriminator,
    KeypointGenerator,
)

KEYPOINTS = 5  # CaptionedDigits' keypoints per image


@register_model
class GAWWN(GANINTCLS):
    paper = "Reed et al. 2016, Learning What and Where to Draw"
    data_kinds = ("captioned",)

    def __init__(
        self,
        data_shape: Sequence[int] = (3, 64, 64),
        latent_dim: int = 100,
        cls_weight: float = 0.5,
        g_width: int = 128,
        d_width: int = 128,
        text_dim: int = 128,
        text_encoder: str | None = None,
        location: Literal["box", "keypoints"] = "box",
        **kwargs,
    ) -> None:
        """``text_encoder``: as :class:`GANINTCLS` (None: the project's cached caption encoder;
        ``random``: a seeded untrained one, for tests). ``location``: ``box`` (the batches' ``box``,
        x0, y0, x1, y1 in [0, 1]) or ``keypoints`` (the batches' ``keypoints``, (5, 2) x, y in [0, 1])."""
        if location not in ("box", "keypoints"):
            raise ValueError(f"model.location must be box or keypoints, got {location!r}")
        kwargs.update(variant="gan-cls", interp_weight=0.0)  # the matching-aware D, no interpolation
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, cls_weight=cls_weight, g_width=8, d_width=8,
                         text_dim=8, text_encoder=text_encoder, **kwargs)
        channels, size, dim = self.data_shape[0], self.data_shape[1], self.text_encoder.dim
        self.location = location
        if location == "box":
            self.generator = BoxGenerator(latent_dim, dim, channels, size, g_width)
            self.discriminator = BoxDiscriminator(channels, size, dim, d_width, text_dim)
        else:
            self.generator = KeypointGenerator(latent_dim, dim, channels, size, g_width, KEYPOINTS)
            self.discriminator = KeypointDiscriminator(channels, size, dim, d_width, text_dim, KEYPOINTS)

    def conditions(self) -> tuple[Condition, ...]:
        where = Condition("boxes", "box", 1) if self.location == "box" else Condition("keypoints", "keypoints", KEYPOINTS)
        return (Condition("text", "caption", len(VOCABULARY)), where)

    def generate(self, z, labels=None, net=None, conditions=None):
        return (net or self.generator)(z, self.embed(conditions["caption"]), conditions[self.location])

    def where(self, ctx: StepContext) -> torch.Tensor:
        """The batch's box (or keypoints)."""
        return getattr(ctx, self.location)

    def prepare_step(self, ctx: StepContext) -> None:
        ctx.embedding = self.embed(ctx.caption)
        ctx.z = self.sample_noise(ctx.batch_size)
        with torch.set_grad_enabled(ctx.runs("G")):  # the authors' G step reuses D's fakes
            ctx.fake = self.generator(ctx.z, ctx.embedding, self.where(ctx))

    def discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        where = self.where(ctx)
        real = self.run_discriminator(ctx.real, ctx.embedding, where)
        wrong = self.run_discriminator(ctx.real, ctx.embedding.roll(1, dims=0), where)
        fake = self.run_discriminator(ctx.fake.detach(), ctx.embedding, where)
        terms = {"d_real": F.binary_cross_entropy_with_logits(real, torch.ones_like(real)),
                 "d_wrong": F.binary_cross_entropy_with_logits(wrong, torch.zeros_like(wrong)),
                 "d_fake": F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))}
        loss = terms["d_real"] + self.cls_weight * terms["d_wrong"] + (1.0 - self.cls_weight) * terms["d_fake"]
        return {"d_loss": loss, **terms}

    def generator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        logits = self.run_discriminator(ctx.fake, ctx.embedding, self.where(ctx))
        return {"g_loss": F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))}

    # ------------------------------------------------------------------ held-out
    def discriminate(self, x, labels=None):
        raise TypeError("GAWWN's D judges (image, caption, box or keypoints) triples: call judge(images, captions, where)")

    @torch.no_grad()
    def judge(self, images: torch.Tensor, captions: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
        """D's logit that each image matches its caption in its box (or at its keypoints)."""
        return self.run_discriminator(images, self.embed(captions), where)

    def heldout_step(self, batch, batch_idx: int, stage: str) -> None:
        ctx = StepContext(batch, real_key=self.output().key)
        z = self.sample_noise(ctx.batch_size, rng=torch.Generator().manual_seed(batch_idx))
        where = self.where(ctx)
        fake = self.generate(z, conditions={"caption": ctx.caption, self.location: where})
        scores = {f"{stage}/d_real": self.judge(ctx.real, ctx.caption, where).mean(),
                  f"{stage}/d_wrong": self.judge(ctx.real.roll(1, dims=0), ctx.caption, where).mean(),
                  f"{stage}/d_fake": self.judge(fake, ctx.caption, where).mean()}
        self.log_dict(scores, on_epoch=True, batch_size=ctx.batch_size)
