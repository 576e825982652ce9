"""S^2-GAN: Wang & Gupta 2016, "Generative Image Modeling using Style and Structure Adversarial Networks" (ECCV).

Two GANs, trained one after the other (``stage``), as the paper's Section 3 and the authors' separate
training scripts:
- **Structure-GAN** (``stage: structure``): G(z_hat) draws surface normals, 3 channels, unit vectors at
  every pixel (its tanh output L2-normalised per pixel); D judges normals. Real normals: the batch's
  ``normals`` (its declared output's key).
- **Style-GAN** (``stage: style``): a conditional GAN: G(normals, z_tilde) draws the image; D judges the
  pair (image, normals) joined on channels; trained on *real* normals (the batch's ``normals``, against
  its ``image``). Sampling chains both: z = (z_hat, z_tilde), normals = Structure G(z_hat), image =
  Style G(normals, z_tilde); the Structure G comes from ``structure_ckpt_path`` (a checkpoint of a
  ``stage: structure`` fit, loaded when the fit starts, frozen: no gradient, eval mode). ``stages()``:
  the sample grid shows each sample's normals beside its image.

Defaults from the authors' code (xiaolonw/ss-gan, Torch): ``structure-gan/train.lua`` (Adam lr 2e-4,
beta1 0.5; noiseDim 100; batch 64; BCE loss; G's last layer ``Tanh`` then ``nn.Normalize(2)`` over the 3
channels of each pixel; D without BatchNorm, LeakyReLU 0.2; init N(0, 0.02));
``style-gan-nofcn/train.lua`` (the same optimiser and loss; noiseDim 100; G: the normals encoded by two
stride-2 5x5 convolutions, the noise up-sampled by transposed convolutions to the same size, joined, an
encoder-decoder to the image, tanh; D on the image and the normals joined on channels (``JoinTable``),
no BatchNorm). Our Style G (:mod:`gan_lightning.nets.s2gan`) follows that plan at a CPU size; the Structure G
is the project's DCGAN G with the authors' normalised output (theirs: a 9x9 transposed convolution, then 3x3
convolutions between x2 upsamplings, to 72 px).

D and the update rule, defaults from the authors' code:
- ``d_plan: authors`` (:class:`~gan_lightning.nets.s2gan.S2Discriminator`): their D of
  ``structure-gan/train.lua`` (strides 2, 1, 2, 2, 1) and ``style-gan-nofcn/train.lua`` (2, 2, 2, 2, 1):
  kernels 5, 5, 3, 3, 3, no normalisation, channel dropout ``d_dropout`` (their ``SpatialDropout(0.2)``)
  after the third and fourth convolutions, a linear head; ``dcgan``: the project's DCGAN D without
  BatchNorm (``d_norm: batch``: with BatchNorm, not the authors'), ``d_dropout`` after every layer (this
  model's plan before);
- ``d_head_dropout: 0.5``: their ``nn.Dropout()`` before D's last (linear) layer, both train.lua files;
- ``update_margin: 0.3``: ``structure-gan/adversarial_ct.lua`` and ``style-gan-nofcn/
  conditional_adversarial_rgb.lua`` (also ``style-gan-fcn/joint_train.lua``) compute D's binary
  cross-entropy on its real half (``err_R``, target 1) and its fake half (``err_F``, target 0) in D's
  forward pass, before D's update; D's update is skipped when either is below the margin, G's (the same
  iteration's) when either is above 1 - margin, and both update when both would skip. Here the same
  errors (unsmoothed targets, averaged over DDP ranks) decide two phases' ``Phase.update_when``: a skipped
  phase runs no backward and no optimiser step, so its network's weights and its Adam state (moments,
  step count) stay exactly as they were, as the authors' ``adam`` with ``optimize = false``. **The
  decision reads the two errors on the host: one host-device synchronisation per training iteration**
  (torch's Adam keeps its step count on the host, so no device-side mask leaves the state as a skip
  does); ``update_margin: 0`` turns the rule off and with it the synchronisation.

Why the Structure G collapses (benchmarks/s2gan_normals.py: spread of its maps 0.016 against the real 0.084
after 700 iterations; spread: per-pixel standard deviation over 500 maps): short seeded runs of the
Structure-GAN alone (a plain loop equal to this model's step, width 16, one thread, seed 0) switching the
authors' settings on one at a time. After 700 iterations: ours 0.020, D's errors near chance (0.68 against
ln(2) = 0.69: a DCGAN D without normalisation at width 16 hardly learns); alone, each of the margin rule, dropout
0.5 before D's last layer, uniform noise, their half-real half-fake D batch with a fresh G batch, their Adam
warm-up (lr / 50 for 10 updates, / 5 to the 30th), no dropout in D: 0.015 to 0.020; our DCGAN D at width 64
(no BatchNorm): D wins (errors 0.3 to 0.4) and G still collapses (0.014); the authors' D plan: 0.033. After
2,000 iterations (spread at 500 / 1,000 / 1,500 / 2,000): the authors' D plan with their margin rule (this
model's defaults) 0.054 / 0.030 / 0.014 / 0.009, and the benchmark's run of this model 0.014; with also their
noise, batches and warm-up 0.038 / 0.030 / 0.024 / 0.039 (seed 1: 0.035 / 0.022 / 0.016 / 0.015); with their G
plan too (ten layers, width 16) 0.031 after 350 iterations. So the authors' settings do not remove the collapse
(with all of them seed 1 falls to 0.015 by 2,000 iterations; seed 0's 0.039 stays above the benchmark's collapse
line, a quarter of the real spread, 0.021): it comes with a D without BatchNorm at this CPU width, theirs included
(the authors' 64 channels, and their G plan past 350 iterations, could not be run here). A D *with* BatchNorm (not
the authors': ``d_plan: dcgan``, ``d_norm: batch``, no margin rule, no head dropout in that run) keeps G's maps
apart: 0.045 / 0.070 / 0.082 / 0.082 (0.062 after 700 iterations in the first set of runs). Its record:
``python benchmarks/s2gan_normals.py --batchnorm-d``, section ``s2gan_batchnorm_d`` of benchmarks/RESULTS.md (the
protocol of section ``s2gan``, the recipes' 2,000 iterations per stage, seed 0, the Structure-GAN with that D, the
d_dropout 0.2 of its recipe kept, everything else the recipes'): spread 0.081 (real 0.084), and S^2-GAN's surface
distance 0.395 against the one-stage DCGAN's 0.358 (2,000 iterations) and 0.289 (4,000): not collapsed, and the
claim still not reached. The defaults stay the authors' (their D plan, margin rule and head dropout).

Differences, kept small:
- data: the authors' NYUv2 (72 px normals, 128 px images); here :class:`~gan_lightning.data.SurfaceDigits`
  (normals of a height field of each real digit, the image a shaded real texture), 32 px;
- z ~ N(0, I) (the project's noise; the authors draw uniform [-1, 1]); D outputs logits; D sees the whole
  batch of real and of fake and G trains on D's fake draw (theirs: 32 real and 32 fake for D, 64 fresh
  samples for G); no Adam warm-up (theirs: lr / 50 for the first 10 updates, / 5 to the 30th); the
  authors sample in training mode (BatchNorm batch statistics; ``structure-gan/test.lua``), ours in eval
  mode: none of these changed the collapse after 700 iterations (the two modes' spreads agree); the noise, batches
  and warm-up together after 2,000: above;
- the Style-GAN's L2 weight penalty (``coefL2`` 1e-5 in ``style-gan-nofcn/train.lua``) is not set
  (``model.weight_decay`` gives one); the Style-GAN's batch 64, as the authors' (``style-gan-nofcn/train.lua`` at
  HEAD; an earlier commit had 128);
- the FCN constraint (``fcn_weight`` > 0; default 0, the authors' ``style-gan-nofcn``): an FCN
  (:class:`~gan_lightning.nets.s2gan.NormalFCN`) learns, in its own phase and optimiser (``fcn``) before D
  and G each iteration, to recover the normals from real images, and the Style G's loss adds ``fcn_weight``
  x the FCN's error on its image against the normals it was given (the authors' ``lamda`` 0.1 and their
  order: FCN on real data, D, G; ``style-gan-fcn/joint_train.lua``, ``train_3dnormal_joint_scratch.lua``).
  Their FCN classifies each pixel's normal into 40 k-means codes (per-pixel NLL); here it regresses unit
  normals, its error the mean of 1 - cos(predicted, given) over pixels; a much smaller FCN;
- not implemented: the joint fine-tuning of both GANs through the FCN (``joint-ssgan/``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F

from gan_lightning.core import Phase, StepContext
from gan_lightning.core.protocol import Output
from gan_lightning.core.state import mean_over_ranks
from gan_lightning.errors import SettingError
from gan_lightning.losses import nonsaturating_d, nonsaturating_g
from gan_lightning.models.base import GANModule
from gan_lightning.models.registry import register_model
from gan_lightning.models.shared import read_stage_checkpoint
from gan_lightning.nets.s2gan import (
    NormalFCN,
    S2Generator,
    StructureGenerator,
    StyleGenerator,
    s2gan_discriminator,
)

#: Arguments a Style-GAN must share with the Structure-GAN checkpoint it loads.
STRUCTURE_ARGUMENTS = ("latent_dim", "g_width")


@register_model
class S2GAN(GANModule):
    smooths_real_labels = True  # D's loss is binary cross-entropy: label_smoothing applies
    paper = "Wang & Gupta 2016, Generative Image Modeling using Style and Structure Adversarial Networks"
    data_kinds = ("surfaces",)
    recipe: ClassVar[dict[str, Any]] = {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999)}
    #: The margin rule reads D's two errors on the host, once per iteration (tests/test_device.py allows it there)
    host_reads_by_design: ClassVar[tuple[str, ...]] = ("discriminator_updates",)

    def __init__(
        self,
        data_shape: Sequence[int] = (3, 32, 32),
        latent_dim: int = 100,
        stage: Literal["structure", "style"] = "structure",
        style_latent_dim: int = 100,
        structure_ckpt_path: str | None = None,
        g_width: int = 64,
        d_width: int = 64,
        d_plan: Literal["authors", "dcgan"] = "authors",
        d_norm: Literal["none", "batch"] = "none",
        d_dropout: float = 0.2,
        d_head_dropout: float = 0.5,
        update_margin: float = 0.3,
        fcn_weight: float = 0.0,
        fcn_width: int = 32,
        **kwargs,
    ) -> None:
        """``stage``: ``structure`` trains the Structure-GAN (normals from ``latent_dim`` noise); ``style`` the
        Style-GAN (images from real normals and ``style_latent_dim`` noise) on the frozen Structure G of
        ``structure_ckpt_path`` (a ``stage: structure`` checkpoint, or ``random``: a seeded untrained one, for
        tests only). ``g_width`` / ``d_width``: base widths; ``d_plan``: D's plan (``authors`` or ``dcgan``);
        ``d_norm``: ``batch`` gives the ``dcgan`` D BatchNorm (not the authors'; it keeps the Structure G from
        collapsing at CPU width, see the module docstring);
        ``d_dropout``: D's dropout (the authors' 0.2); ``d_head_dropout``: before D's last layer (the
        authors' 0.5); ``update_margin``: the authors' rule skipping D's or G's update (0.3; 0: off; one host
        read per iteration when on, see the module docstring).
        ``fcn_weight``: the Style-GAN's FCN constraint (0: off; the authors' 0.1), with an FCN of ``fcn_width``."""
        if stage not in ("structure", "style"):
            raise SettingError(f"model.stage must be 'structure' or 'style', got {stage!r}")
        if stage == "style" and structure_ckpt_path is None:
            raise SettingError("model.structure_ckpt_path: the Style-GAN (model.stage style) samples through the "
                               "checkpoint of a Structure-GAN fit (model.stage structure); got None (`random`: an "
                               "untrained one, for tests)")
        if stage == "structure" and structure_ckpt_path is not None:
            raise SettingError(f"model.structure_ckpt_path: only the Style-GAN (model.stage style) loads a "
                               f"Structure-GAN; got {structure_ckpt_path!r} with model.stage structure")
        if fcn_weight < 0 or (fcn_weight > 0 and stage != "style"):
            raise SettingError(f"model.fcn_weight: the FCN constraint is the Style-GAN's (model.stage style), "
                               f"a weight >= 0; got {fcn_weight} with model.stage {stage}")
        if d_plan not in ("authors", "dcgan"):
            raise SettingError(f"model.d_plan must be 'authors' or 'dcgan', got {d_plan!r}")
        if d_norm not in ("none", "batch") or (d_norm == "batch" and d_plan != "dcgan"):
            raise SettingError(f"model.d_norm must be 'none', or 'batch' with model.d_plan dcgan (the authors' D "
                               f"has no normalisation); got {d_norm!r} with model.d_plan {d_plan}")
        if not 0.0 <= update_margin < 0.5:
            raise SettingError(f"model.update_margin must be in [0, 0.5) (0: D and G update every iteration; the "
                               f"authors' 0.3), got {update_margin}")
        if style_latent_dim < 1:
            raise SettingError(f"model.style_latent_dim must be >= 1, got {style_latent_dim}")
        noise = latent_dim + (style_latent_dim if stage == "style" else 0)
        super().__init__(data_shape=data_shape, latent_dim=noise, **kwargs)
        channels, size = self.data_shape[0], self.data_shape[1]
        self.stage, self.structure_ckpt_path, self.structure_dim = stage, structure_ckpt_path, latent_dim
        structure = StructureGenerator(latent_dim, size, g_width)
        if stage == "structure":
            self.generator = structure
            self.discriminator = s2gan_discriminator(d_plan, 3, size, d_width, (2, 1, 2, 2, 1), d_dropout,
                                                     d_head_dropout, d_norm)
        else:
            self.generator = S2Generator(structure, StyleGenerator(style_latent_dim, channels, size, g_width),
                                         latent_dim)
            self.discriminator = s2gan_discriminator(d_plan, channels + 3, size, d_width, (2, 2, 2, 2, 1),
                                                     d_dropout, d_head_dropout, d_norm)
        self.update_margin = float(update_margin)
        #: D's and G's updates skipped by the margin rule in this process since it was built (for inspection)
        self.margin_skips = {"D": 0, "G": 0}
        self.fcn_weight = float(fcn_weight)
        self.fcn = NormalFCN(channels, fcn_width) if self.fcn_weight > 0 else None
        self.register_buffer("structure_ready", torch.tensor(
            int(stage == "structure" or structure_ckpt_path == "random"), dtype=torch.uint8))

    # ------------------------------------------------------------------ declarations
    def output(self) -> Output:
        """The Structure-GAN draws normals (a batch's ``normals``); the Style-GAN the image (its ``image``)."""
        size = self.data_shape[1]
        if self.stage == "structure":
            return Output("image", (3, size, size), key="normals")
        return Output("image", self.data_shape, key="image")

    def stages(self) -> tuple[str, ...]:
        return () if self.stage == "structure" else ("normals (Structure-GAN)", "image (Style-GAN)")

    # ------------------------------------------------------------------ the Structure G for the Style-GAN
    def on_fit_start(self) -> None:
        """Style-GAN on a fresh fit: the Structure G (its EMA copy if it has one) from ``structure_ckpt_path``,
        once; a resumed fit has it from its own checkpoint."""
        if not int(self.structure_ready):
            self.load_structure(self.structure_ckpt_path)
        super().on_fit_start()

    def load_structure(self, path: str) -> None:
        weights, _ = read_stage_checkpoint(self, path, "model.structure_ckpt_path",
                                           "an S2GAN Structure-GAN fit (model.stage structure)", "structure",
                                           STRUCTURE_ARGUMENTS)
        self.generator.structure.load_state_dict(weights)
        if self.generator_ema is not None:  # the EMA copy was made before the fit started
            self.generator_ema.structure.load_state_dict(self.generator.structure.state_dict())
        self.structure_ready.fill_(1)

    # ------------------------------------------------------------------ networks
    def optimizer_groups(self):
        """G's own parameters (the Style-GAN: not the frozen Structure G's), and D's."""
        groups = {"generator": [p for p in self.generator.parameters() if p.requires_grad],
                  "discriminator": self.discriminator.parameters()}
        if self.fcn is not None:
            groups["fcn"] = self.fcn.parameters()
        return groups

    def generate(self, z, labels=None, net=None, conditions=None):
        out = (net or self.generator)(z)
        return out if self.stage == "structure" else out[1]

    def generate_stages(self, z, labels=None, net=None, conditions=None):
        """(normals, image): a grey image replicated to 3 channels, to sit beside the normals in a grid."""
        out = (net or self.generator)(z)
        if self.stage == "structure":
            return (out,)
        normals, image = out
        return normals, image.expand(-1, 3, -1, -1) if image.size(1) == 1 else image

    def style(self, normals: torch.Tensor, z: torch.Tensor | None = None, net=None) -> torch.Tensor:
        """The Style G's images of given normals (``z``: its noise, drawn when not given)."""
        generator = net or self.generator
        if z is None:
            z = self.sample_noise(normals.size(0))[:, self.structure_dim:]
        return generator.style(normals, z)

    # ------------------------------------------------------------------ phases
    def prepare_step(self, ctx: StepContext) -> None:
        ctx.z = self.sample_noise(ctx.batch_size)
        with torch.set_grad_enabled(ctx.runs("G")):  # one draw for D and G
            if self.stage == "structure":
                ctx.fake = self.generator(ctx.z)
            else:
                ctx.fake = self.generator.style(ctx.normals, ctx.z[:, self.structure_dim:])

    def phases(self) -> list[Phase]:
        """D then G, each gated by the margin rule (``update_margin`` > 0); with the FCN constraint the FCN
        first, on real images (the authors' order)."""
        phases = self.adversarial_phases(self.discriminator_terms, self.generator_terms)
        if self.update_margin > 0:
            d, g = phases
            phases = [replace(d, update_when=self.discriminator_updates),
                      replace(g, update_when=self.generator_updates)]
        return phases if self.fcn is None else [Phase("FCN", "fcn", self.fcn_terms), *phases]

    def discriminator_updates(self, ctx: StepContext) -> bool:
        """The authors' margin rule, decided on D's errors before D's update (``ctx.margin_errors``: the mean
        binary cross-entropy of D on the real and on the fake half, targets 1 and 0, over every rank): D
        skips its update when either error is below ``update_margin``, G when either is above 1 -
        ``update_margin``, and both update when both would skip. Reads the two errors on the host: the one
        host-device synchronisation of the iteration (torch's Adam keeps its step count on the host, so no
        device-side equivalent leaves its state exactly as a skip does)."""
        real, fake = ctx.margin_errors.tolist()
        margin = self.update_margin
        d_updates = not (real < margin or fake < margin)
        g_updates = not (real > 1.0 - margin or fake > 1.0 - margin)
        ctx.updates = (d_updates, g_updates) if d_updates or g_updates else (True, True)
        self.margin_skips["D"] += not ctx.updates[0]
        return ctx.updates[0]

    def generator_updates(self, ctx: StepContext) -> bool:
        """G's half of the margin rule, decided in D's phase of the same iteration (no D phase: G updates)."""
        updates = getattr(ctx, "updates", (True, True))[1]
        self.margin_skips["G"] += not updates
        return updates

    def fcn_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        return {"fcn_loss": normal_error(self.fcn(ctx.real), ctx.normals)}

    def judge(self, images: torch.Tensor, ctx: StepContext) -> torch.Tensor:
        """D's logits: on normals alone (Structure-GAN), on (image, normals) pairs (Style-GAN)."""
        if self.stage == "structure":
            return self.run_discriminator(images)
        return self.run_discriminator(torch.cat([images, ctx.normals], dim=1))

    def heldout_step(self, batch, batch_idx: int, stage: str) -> None:
        """D's mean logit on held-out real data and on G's (noise seeded by batch index); the Style-GAN: on
        (image, normals) pairs, G's images drawn from the held-out normals; with the FCN, its error on them."""
        if self.stage == "structure":
            return super().heldout_step(batch, batch_idx, stage)
        ctx = StepContext(batch, real_key="image")
        z = self.sample_noise(ctx.batch_size, rng=torch.Generator().manual_seed(batch_idx))
        fake = self.style(ctx.normals, z[:, self.structure_dim:])
        scores = {f"{stage}/d_real": self.judge(ctx.real, ctx).mean(), f"{stage}/d_fake": self.judge(fake, ctx).mean()}
        if self.fcn is not None:
            scores[f"{stage}/fcn_real"] = normal_error(self.fcn(ctx.real), ctx.normals)
            scores[f"{stage}/fcn_fake"] = normal_error(self.fcn(fake), ctx.normals)
        self.log_dict(scores, on_epoch=True, batch_size=ctx.batch_size)
        return None

    def discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        """D's loss; with the margin rule also its errors on the real and on the fake batch (unsmoothed
        targets 1 and 0, as the authors' ``err_R``, ``err_F``), for the rule's decision."""
        real, fake = self.judge(ctx.real, ctx), self.judge(ctx.fake.detach(), ctx)
        terms = {"d_loss": nonsaturating_d(real, fake, self.real_target(real))}
        if self.update_margin > 0:
            errors = mean_over_ranks(torch.stack([F.softplus(-real).mean(), F.softplus(fake).mean()]))
            ctx.margin_errors = errors
            terms.update(d_error_real=errors[0], d_error_fake=errors[1])
        return terms

    def generator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        adversarial = nonsaturating_g(self.judge(ctx.fake, ctx))
        if self.fcn is None:
            return {"g_loss": adversarial}
        fcn = normal_error(self.fcn(ctx.fake), ctx.normals)
        return {"g_loss": adversarial + self.fcn_weight * fcn, "g_adversarial": adversarial, "g_fcn": fcn}


def normal_error(predicted: torch.Tensor, normals: torch.Tensor) -> torch.Tensor:
    """The mean over pixels of 1 - cos(predicted, given normals): 0 exactly when they agree everywhere."""
    return (1.0 - F.cosine_similarity(predicted, normals, dim=1)).mean()
