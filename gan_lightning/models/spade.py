"""SPADE: Park, Liu, Wang & Zhu 2019, "Semantic Image Synthesis with Spatially-Adaptive
Normalization" (CVPR; GauGAN).

Recipe: G maps a semantic label map m to an image. Every normalisation layer of G is SPADE:
a parameter-free norm whose per-pixel scale and shift are convolutions of m resized to the layer
(``gan_lightning.nets.spade``), so the label map reaches every layer instead of being washed out
by the first norm (the paper's Fig. 2 argument; ``tests/test_spade.py`` checks it on a uniform
map). D is a multi-scale PatchGAN on ``concat(one_hot(m), image)``. Losses: hinge GAN loss (the
average over D's scales), feature matching on every intermediate D layer of every scale
(``lambda_feat`` 10, divided by the number of scales), optionally a VGG19 perceptual loss
(``vgg_weight``) and, with ``use_vae``, a style encoder E giving z ~ N(mu, sigma) from the real image
plus ``kld_weight`` x KL(N(mu, sigma) || N(0, I)).

Defaults, from the authors' code (NVlabs/SPADE: options/*.py, models/pix2pix_model.py,
models/networks/*.py):
- G: ``ngf`` 64 (``g_width``), ``norm_G`` ``spectralspadesyncbatch3x3`` (BatchNorm without affine
  inside SPADE, ``norm="batch"``; use ``--trainer.sync_batchnorm true`` for several processes; spectral
  norm on every conv of the residual blocks), SPADE hidden width 128 (``hidden``), z_dim 256,
  5 upsamplings at 256 px (here ``log2(size / 4)`` at most 5, so 32 px starts from 4x4);
- D: ``num_D`` 2, ``n_layers_D`` 4, ``ndf`` 64, ``norm_D`` ``spectralinstance``;
- hinge loss (``gan_mode``), ``lambda_feat`` 10, ``lambda_vgg`` 10, ``lambda_kld`` 0.05;
  ``vgg_weight`` defaults to 0 here because VGG19 weights are never bundled (set it to 10 with the
  weights in the torch hub cache or ``vgg_weights`` for the authors' default);
- TTUR (``--no_TTUR`` off): Adam G lr 1e-4 (lr / 2), D lr 4e-4 (lr x 2), betas (0, 0.9); one D step
  per G step, D first; E's parameters are in G's optimizer.
- The authors' LR schedule (``niter`` then linear ``niter_decay``) is the core's ``lr_decay_iters``.
- ``label_classes`` 11 fits the offline digits source (the authors' default ``label_nc`` is 182, COCO).
  The authors' optional instance-edge and don't-care channels are not built.

Batches: ``{"label": int (N, H, W) class ids, "image": (N, C, H, W) in [-1, 1]}``
(:class:`~gan_lightning.data.segmentation.SegmentationPairs`). ``translate(label_maps)``: the
authors' test mode (``model.eval()``: BatchNorm running statistics; with ``use_vae`` z is drawn
from N(0, I), or encoded from ``style`` images). Logged: ``d_real``/``d_fake`` (hinge parts),
``g_gan``, ``g_feat``, ``g_vgg``, ``g_kld``; held out ``val/l1`` (outputs vs the real images).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Sequence

import torch
import torch.nn.functional as F

from gan_lightning.core.protocol import Condition
from gan_lightning.core import StepContext
from gan_lightning.data.segmentation import colorize, one_hot
from gan_lightning.models.base import GANModule
from gan_lightning.models.registry import register_model
from gan_lightning.models.shared import seeded
from gan_lightning.nets.spade import MultiscalePatchDiscriminator, SPADEEncoder, SPADEGenerator

#: SPADE's VGG loss: VGG19 relu1_1 .. relu5_1 with these weights (the authors' VGGLoss).
VGG_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
VGG_LAYER_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)


@register_model
class SPADE(GANModule):
    """SPADE (Park et al. 2019): SPADE-normalised residual G from label maps, multi-scale PatchGAN D.

    Args:
        data_shape: (C, H, W) of the images; H = W divisible by 2^min(5, log2(H) - 2).
        label_classes: number of label classes (one-hot channels of the label map).
        g_width, d_width: ngf, ndf (64).
        hidden: SPADE's hidden conv width (128).
        norm: SPADE's parameter-free norm, ``batch`` (the authors' G) or ``instance``.
        num_d, d_layers: D's scales (2) and layers per scale (4).
        lambda_feat: feature-matching weight (10).
        vgg_weight: VGG19 perceptual-loss weight (the authors' 10; 0 here: no weights ship). vgg_weights: their file.
        use_vae: the style encoder; z_dim (256) and kld_weight (0.05) with it.
    """

    paper = "Park et al. 2019, Semantic Image Synthesis with Spatially-Adaptive Normalization"
    data_kinds = ("segmentation",)
    recipe = {"lr_g": 1e-4, "lr_d": 4e-4, "betas": (0.0, 0.9)}

    def __init__(
        self,
        data_shape: Sequence[int] = (3, 256, 256),
        label_classes: int = 11,
        g_width: int = 64,
        d_width: int = 64,
        hidden: int = 128,
        norm: Literal["batch", "instance"] = "batch",
        num_d: int = 2,
        d_layers: int = 4,
        lambda_feat: float = 10.0,
        vgg_weight: float = 0.0,
        vgg_weights: str | None = None,
        use_vae: bool = False,
        z_dim: int = 256,
        kld_weight: float = 0.05,
        **kwargs,
    ) -> None:
        super().__init__(data_shape=data_shape, latent_dim=z_dim if use_vae else 1, **kwargs)
        if len(self.data_shape) != 3 or self.data_shape[1] != self.data_shape[2]:
            raise ValueError(f"SPADE needs square images (C, H, H), got data_shape {self.data_shape}")
        if label_classes < 2:
            raise ValueError(f"SPADE: label_classes must be >= 2, got {label_classes}")
        for key, value in {"lambda_feat": lambda_feat, "vgg_weight": vgg_weight, "kld_weight": kld_weight}.items():
            if value < 0:
                raise ValueError(f"SPADE: {key} must be >= 0, got {value}")
        if norm not in ("batch", "instance"):
            raise ValueError(f"SPADE: norm must be 'batch' or 'instance', got {norm!r}")
        channels, size = self.data_shape[0], self.data_shape[1]
        self.label_classes, self.use_vae = int(label_classes), bool(use_vae)
        self.lambda_feat, self.vgg_weight, self.kld_weight = float(lambda_feat), float(vgg_weight), float(kld_weight)
        self.generator = SPADEGenerator(label_classes, channels, size, g_width, hidden, norm,
                                        z_dim=z_dim if use_vae else 0)
        self.encoder = SPADEEncoder(channels, size, g_width, z_dim) if use_vae else None
        self.discriminator = MultiscalePatchDiscriminator(label_classes + channels, d_width, d_layers, num_d)
        self.__dict__["_vgg"] = self._build_vgg(vgg_weights) if self.vgg_weight > 0 else None  # frozen: not saved

    # ------------------------------------------------------------------ declarations
    def conditions(self) -> tuple[Condition, ...]:
        """The label map it draws an image of."""
        return (Condition("label_map", "label", self.label_classes),)

    @staticmethod
    def _build_vgg(weights: str | None):
        try:
            from gan_lightning.losses.perceptual import PerceptualLoss
        except ImportError as error:
            raise ValueError(f"SPADE: vgg_weight > 0 needs gan_lightning.losses.perceptual ({error})") from None
        return PerceptualLoss(VGG_LAYERS, VGG_LAYER_WEIGHTS, weights=weights, criterion="l1")

    # ------------------------------------------------------------------ inputs
    def label_input(self, labels: torch.Tensor, check: bool = True) -> torch.Tensor:
        """Label maps as G's input: int ids (N, H, W) or (N, 1, H, W) -> one-hot float (N, K, H, W);
        a float (N, K, H, W) map is taken as already one-hot. ``check``: a one-line error for ids out
        of range (a read of the ids; training batches leave it to ``F.one_hot``)."""
        if labels.dim() == 4 and labels.size(1) == self.label_classes and labels.is_floating_point():
            return labels
        if labels.dim() == 4 and labels.size(1) == 1:
            labels = labels[:, 0]
        if labels.dim() != 3:
            raise ValueError(f"SPADE takes label maps of shape (N, H, W) with class ids, or one-hot (N, "
                             f"{self.label_classes}, H, W); got shape {tuple(labels.shape)}")
        ids = labels.round().long() if labels.is_floating_point() else labels
        return one_hot(ids, self.label_classes, check=check)

    # ------------------------------------------------------------------ training
    def optimizer_groups(self):
        params = list(self.generator.parameters())
        if self.encoder is not None:  # the authors' G optimizer also steps E
            params += list(self.encoder.parameters())
        return {"generator": params, "discriminator": self.discriminator.parameters()}

    def phases(self):
        return self.adversarial_phases(self.discriminator_terms, self.generator_terms)

    def prepare_step(self, ctx: StepContext) -> None:
        ctx.label_map = self.label_input(ctx.label, check=False).to(ctx.image.dtype)  # no host read per step
        with torch.set_grad_enabled(ctx.runs("G")):
            z = None
            if self.encoder is not None:
                mu, logvar = self.encoder(ctx.image)
                z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
                ctx.kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            ctx.fake = self.generator(ctx.label_map, z)

    def discriminate_pairs(self, label_map: torch.Tensor, fake: torch.Tensor, real: torch.Tensor):
        """D on fake and real images (one batch, as the authors'), each beside its label map:
        per scale, (the fake half, the real half) of every layer's output."""
        both = torch.cat([torch.cat([label_map, fake], 1), torch.cat([label_map, real], 1)], 0)
        outputs = self.run_discriminator(both)
        n = fake.size(0)
        return [([o[:n] for o in scale], [o[n:] for o in scale]) for scale in outputs]

    def discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        scales = self.discriminate_pairs(ctx.label_map, ctx.fake.detach(), ctx.real)
        d_fake = torch.stack([F.relu(1 + fake[-1]).mean() for fake, _ in scales]).mean()
        d_real = torch.stack([F.relu(1 - real[-1]).mean() for _, real in scales]).mean()
        return {"d_loss": d_fake + d_real, "d_fake": d_fake, "d_real": d_real}

    def generator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        scales = self.discriminate_pairs(ctx.label_map, ctx.fake, ctx.real)
        g_gan = torch.stack([-fake[-1].mean() for fake, _ in scales]).mean()
        feat = sum(F.l1_loss(f, r.detach()) for fake, real in scales for f, r in zip(fake[:-1], real[:-1]))
        terms = {"g_gan": g_gan, "g_feat": feat / len(scales)}
        loss = g_gan + self.lambda_feat * terms["g_feat"]
        if self._vgg is not None:
            terms["g_vgg"] = self._vgg.to(ctx.fake.device)(ctx.fake, ctx.real)
            loss = loss + self.vgg_weight * terms["g_vgg"]
        if self.encoder is not None:
            terms["g_kld"] = ctx.kld
            loss = loss + self.kld_weight * ctx.kld
        terms["g_loss"] = loss
        return terms

    def heldout_step(self, batch, batch_idx: int, stage: str) -> None:
        """L1 between the translations of held-out label maps (seeded z) and their real images."""
        ctx = StepContext(batch)
        fake = self.translate(ctx.label, seed=batch_idx)
        self.log(f"{stage}/l1", F.l1_loss(fake, ctx.image.to(fake)), on_epoch=True, batch_size=ctx.batch_size)

    # ------------------------------------------------------------------ translation
    @torch.no_grad()
    def translate(self, images: torch.Tensor, direction: str = "AtoB", style: torch.Tensor | None = None,
                  seed: int | None = None) -> torch.Tensor:
        """Images in [-1, 1] for label maps ``images`` (int ids (N, H, W) / (N, 1, H, W), or one-hot),
        in eval mode (the authors' test.py). With ``use_vae``: z from the ``style`` images' encoding
        (mu + sigma * noise), else from N(0, I); ``seed`` makes the draw reproducible (global RNG kept)."""
        if direction != "AtoB":
            raise ValueError(f"SPADE translates label maps to images only, got direction={direction!r}")
        label_map = self.label_input(images.to(self.device)).float()
        was_training = self.training
        self.eval()
        try:
            with seeded(seed, self.device):
                z = None
                if self.encoder is not None:
                    if style is not None:
                        mu, logvar = self.encoder(style.to(self.device))
                        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
                    else:
                        z = torch.randn(label_map.size(0), self.encoder.mu.out_features, device=self.device)
                return self.generator(label_map, z)
        finally:
            self.train(was_training)

    def input_pictures(self, labels: torch.Tensor) -> torch.Tensor:
        """Colour pictures (N, 3, H, W) in [-1, 1] of label maps (for grids)."""
        if labels.dim() == 4 and labels.size(1) == self.label_classes and labels.is_floating_point():
            labels = labels.argmax(1)
        elif labels.dim() == 4:
            labels = labels[:, 0]
        return colorize(labels.round().long() if labels.is_floating_point() else labels, self.label_classes)

    def read_inputs(self, files: Sequence[Path], size: tuple[int, int]) -> torch.Tensor:
        """Label PNGs (one channel of class ids, L or P mode) as int maps (N, H, W), resized with nearest
        neighbours (``gan-lightning translate`` calls this instead of reading photos)."""
        import numpy as np
        from PIL import Image

        maps = []
        for path in files:
            with Image.open(path) as image:
                if image.mode not in ("L", "P", "I", "I;16"):
                    raise ValueError(f"{path} is a {image.mode} image; SPADE takes label maps with one channel of "
                                     f"class ids (L or P mode)")
                ids = np.array(image.resize((size[1], size[0]), Image.NEAREST)).astype(np.int64)
            if ids.max() >= self.label_classes:
                raise ValueError(f"{path} has class id {int(ids.max())}; this SPADE has {self.label_classes} classes")
            maps.append(torch.from_numpy(ids))
        return torch.stack(maps)

    @torch.no_grad()
    def preview_grid(self, num_samples: int = 64, nrow: int = 8, use_ema: bool = True,
                     inputs: torch.Tensor | None = None) -> tuple[torch.Tensor, int]:
        """Each held-out label map (in colour) beside its translation."""
        if inputs is None:
            raise ValueError("SPADE.preview_grid needs held-out label maps")
        outputs = self.translate(inputs.to(self.device), seed=0)
        pictures = self.input_pictures(inputs.to(self.device)).to(outputs)
        if pictures.size(1) != outputs.size(1):
            outputs = outputs.expand(-1, 3, -1, -1) if outputs.size(1) == 1 else outputs
        pairs = torch.stack([pictures, outputs], dim=1).flatten(0, 1)
        return pairs, 2 * max(1, nrow // 2)
