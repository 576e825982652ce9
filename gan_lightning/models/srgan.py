"""SRGAN: Ledig, Theis, Huszár, Caballero, Cunningham, Acosta, Aitken, Tejani, Totz, Wang & Shi 2017,
"Photo-Realistic Single Image Super-Resolution Using a Generative Adversarial Network" (CVPR).

Recipe (the paper; the authors published no code, so every default is from the paper's text and its
Figure 4): the generator SRResNet maps a low-resolution image (LR) to one ``scale`` (4) times larger:
a 9x9 conv + PReLU, 16 residual blocks (conv3x3-BN-PReLU-conv3x3-BN + identity skip), conv3x3-BN plus
a skip from the first conv, then log2(scale) sub-pixel stages (conv3x3 to 4x the width, PixelShuffle
x2, PReLU) and a 9x9 conv to the image. The discriminator: eight 3x3 convs (64, 64, 128, 128, 256,
256, 512, 512 filters, stride 2 every second one, LeakyReLU 0.2, BatchNorm from the second), dense
1024, LeakyReLU, dense 1, sigmoid (BCE on its logit).

Training has two phases, one run:
1. **SRResNet** (``pretrain_steps`` iterations): G alone on the pixel MSE (the paper: SRResNet-MSE,
   10^6 updates at lr 1e-4; "employed as initialization for the generator" of SRGAN);
2. **SRGAN**: D on BCE; G on ``content + adversarial_weight * (-log D(G(LR)))`` with the VGG54 content
   loss (MSE between relu5_4 feature maps of VGG19, the features rescaled by 1/12.75: ``content_loss:
   vgg54``), adversarial weight 1e-3; 10^5 updates at lr 1e-4 then 10^5 at 1e-5 (``lr_drop_after``).
   ``content_loss: vgg22`` is the paper's SRGAN-VGG22 (relu2_2), ``mse`` its SRGAN-MSE, which needs no
   VGG weights (the offline configs use it).
Adam, betas (0.9, 0.999), lr 1e-4 for both networks (the paper's beta1 = 0.9).

The phase switch is a function of the iteration count (``pretrain_steps``), which the checkpoint
holds, so a run resumed anywhere, across the switch too, continues bitwise; both phases step the same
generator optimizer (its Adam moments carry over the switch). A separately trained SRResNet is the
same model with ``pretrain_steps`` >= ``trainer.max_steps`` (D is built but never trained); extending
that run with ``--ckpt_path last --trainer.max_steps N`` is the paper's "SRGAN initialised from SRResNet".

Deviations: the output is ``tanh`` (images in [-1, 1], LR and HR alike; the paper scales LR to [0, 1]
and HR to [-1, 1]); D's dense layer sees ``512 x (H/16)^2`` features for any HR size (96 px: 6x6 as in
the paper). VGG weights are torchvision's ImageNet VGG19 (the paper used the original VGG19), read from
``vgg_weights`` or the torch hub cache, never downloaded (:mod:`gan_lightning.nets.vgg`).

Batches: ``{"lr": (C, H/scale, W/scale), "hr": (C, H, W)}`` in [-1, 1] (``SuperResolution``,
``SuperResolutionDigits``); ``data_shape`` is the HR shape. ``translate(lr)`` upscales (eval mode:
BatchNorm running statistics).
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gan_lightning.core import Phase, StepContext, WindowedPhase
from gan_lightning.core.protocol import Condition, Output
from gan_lightning.losses import nonsaturating_d, nonsaturating_g
from gan_lightning.models.base import GANModule
from gan_lightning.models.registry import register_model
from gan_lightning.nets.superres import SRGANDiscriminator, SRResNetGenerator
from gan_lightning.nets.layers import eval_mode

#: content_loss -> (VGG19 layer, rescaling of its feature maps) (the paper, section 2.2.1 and 3.2)
VGG_CONTENT = {"vgg54": ("relu5_4", 1 / 12.75), "vgg22": ("relu2_2", 1.0)}
CONTENT_LOSSES = ("mse", *VGG_CONTENT)


# ---------------------------------------------------------------------------- model
@register_model
class SRGAN(GANModule):
    """SRGAN (Ledig et al. 2017): SRResNet pre-training on MSE, then content + 1e-3 adversarial loss.

    Args:
        data_shape: the HR shape (C, H, W); LR is (C, H / scale, W / scale).
        scale: upscaling factor, a power of two (4).
        g_width: SRResNet's width (64). num_blocks: its residual blocks (16).
        d_width: D's first width (64). d_hidden: D's dense layer (1024).
        pretrain_steps: iterations of the SRResNet (MSE-only) phase before the GAN phase starts (the
            paper: 10^6; 0: SRGAN from scratch).
        content_loss: G's content term in the GAN phase: ``vgg54`` (the paper's SRGAN), ``vgg22`` or ``mse``.
        vgg_weights: torchvision vgg19 state_dict for the VGG content losses; None: the torch hub cache
            (``vgg19-dcbbb84c.pth``). Missing -> a one-line error saying where to put it.
        adversarial_weight: weight of G's adversarial term (1e-3).
        lr_drop_after: GAN-phase iterations after which both learning rates are divided by 10 (the paper:
            10^5; None: never).
    """

    smooths_real_labels = True  # D's loss is binary cross-entropy: label_smoothing applies
    paper = "Ledig et al. 2017, Photo-Realistic Single Image Super-Resolution Using a Generative Adversarial Network"
    data_kinds = ("superres",)
    recipe = {"lr_g": 1e-4, "lr_d": 1e-4, "betas": (0.9, 0.999)}

    def __init__(
        self,
        data_shape: Sequence[int] = (3, 96, 96),
        scale: int = 4,
        g_width: int = 64,
        num_blocks: int = 16,
        d_width: int = 64,
        d_hidden: int = 1024,
        pretrain_steps: int = 1_000_000,
        content_loss: Literal["vgg54", "vgg22", "mse"] = "vgg54",
        vgg_weights: str | None = None,
        adversarial_weight: float = 1e-3,
        lr_drop_after: int | None = 100_000,
        **kwargs,
    ) -> None:
        super().__init__(data_shape=data_shape, latent_dim=1, **kwargs)
        if len(self.data_shape) != 3 or self.data_shape[1] % scale or self.data_shape[2] % scale:
            raise ValueError(f"SRGAN: data_shape must be (C, H, W) with H and W multiples of scale {scale}, "
                             f"got {self.data_shape}")
        if content_loss not in CONTENT_LOSSES:
            raise ValueError(f"SRGAN: content_loss must be one of {', '.join(CONTENT_LOSSES)}, got {content_loss!r}")
        if pretrain_steps < 0:
            raise ValueError(f"SRGAN: pretrain_steps must be >= 0, got {pretrain_steps}")
        if adversarial_weight < 0:
            raise ValueError(f"SRGAN: adversarial_weight must be >= 0, got {adversarial_weight}")
        if lr_drop_after is not None and lr_drop_after < 0:
            raise ValueError(f"SRGAN: lr_drop_after must be >= 0 or null, got {lr_drop_after}")
        channels, height, width = self.data_shape
        self.scale, self.pretrain_steps = int(scale), int(pretrain_steps)
        self.content_loss, self.adversarial_weight = content_loss, float(adversarial_weight)
        self.lr_drop_after = lr_drop_after
        self.input_shape = (channels, height // scale, width // scale)  # what translate() takes
        self.generator = SRResNetGenerator(channels, g_width, num_blocks, scale)
        self.discriminator = SRGANDiscriminator(channels, height, d_width, d_hidden)
        self.vgg_weights = vgg_weights
        # built when training starts, and kept out of the module tree: the VGG weights are not part of
        # the model (not in its checkpoints), and translating with a checkpoint does not need them
        self._vgg: list[nn.Module] = []

    # ------------------------------------------------------------------ declarations
    def conditions(self) -> tuple[Condition, ...]:
        """The low-resolution image it upscales."""
        return (Condition("image", "lr"),)

    def output(self) -> Output:
        return Output("image", self.data_shape, key="hr")

    # ------------------------------------------------------------------ training
    @property
    def vgg(self) -> nn.Module | None:
        """The VGG content loss (``PerceptualLoss``) of ``content_loss: vgg54 / vgg22``, None for ``mse``.
        Built on first use (a missing weights file fails here, in one line), on the model's device."""
        if self.content_loss not in VGG_CONTENT:
            return None
        if not self._vgg:
            from gan_lightning.losses.perceptual import PerceptualLoss

            layer, rescale = VGG_CONTENT[self.content_loss]
            # the MSE of features rescaled by r is the MSE of the features times r^2
            self._vgg.append(PerceptualLoss((layer,), (rescale ** 2,), weights=self.vgg_weights, criterion="mse"))
        return self._vgg[0].to(self.device)

    def setup(self, stage: str) -> None:
        super().setup(stage)
        if stage == "fit":
            self.vgg  # noqa: B018 (a missing VGG file stops the run before the first step)

    def phases(self) -> list[Phase]:
        start = self.pretrain_steps
        return [WindowedPhase("Gmse", "generator", self.pretrain_terms, loss_key="g_loss", stop=start),
                WindowedPhase("D", "discriminator", self.discriminator_terms, start=start),
                WindowedPhase("G", "generator", self.generator_terms, start=start)]

    def check_pair(self, lr: torch.Tensor, hr: torch.Tensor) -> None:
        if tuple(hr.shape[-2:]) != (lr.shape[-2] * self.scale, lr.shape[-1] * self.scale):
            raise ValueError(f"SRGAN: batch 'hr' {tuple(hr.shape[-2:])} is not scale {self.scale} x 'lr' "
                             f"{tuple(lr.shape[-2:])}; set model.scale to the data's scale")

    def prepare_step(self, ctx: StepContext) -> None:
        self.check_pair(ctx.lr, ctx.hr)
        ctx.real = ctx.hr
        with torch.set_grad_enabled(ctx.runs("G") or ctx.runs("Gmse")):
            ctx.sr = self.generator(ctx.lr)

    def pretrain_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        mse = F.mse_loss(ctx.sr, ctx.hr)
        return {"mse": mse, "g_loss": mse}

    def discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        real, fake = self.run_discriminator(ctx.hr), self.run_discriminator(ctx.sr.detach())
        return {"d_loss": nonsaturating_d(real, fake, self.real_target(real))}

    def content(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        vgg = self.vgg
        return vgg(sr, hr) if vgg is not None else F.mse_loss(sr, hr)

    def generator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        content = self.content(ctx.sr, ctx.hr)
        adversarial = nonsaturating_g(self.run_discriminator(ctx.sr))
        return {"content": content, "g_adv": adversarial, "mse": F.mse_loss(ctx.sr.detach(), ctx.hr),
                "g_loss": content + self.adversarial_weight * adversarial}

    def configure_optimizers(self):
        configured = super().configure_optimizers()
        if self.lr_drop_after is None:
            return configured
        drop_at = self.pretrain_steps + int(self.lr_drop_after)
        return self.scheduled(configured, lambda iteration: 0.1 if iteration >= drop_at else 1.0, "lr_drop_after")

    def heldout_step(self, batch, batch_idx: int, stage: str) -> None:
        """PSNR and SSIM of G's outputs against HR (eval mode), and of the bicubic baseline."""
        from gan_lightning.evaluation.paired import psnr, ssim
        from gan_lightning.data.superres import bicubic_upscale

        ctx = StepContext(batch)
        self.check_pair(ctx.lr, ctx.hr)
        sr, bicubic = self.translate(ctx.lr), bicubic_upscale(ctx.lr, self.scale)
        size = ctx.lr.size(0)
        self.log_dict({f"{stage}/psnr": psnr(sr, ctx.hr), f"{stage}/ssim": ssim(sr, ctx.hr),
                       f"{stage}/psnr_bicubic": psnr(bicubic, ctx.hr), f"{stage}/ssim_bicubic": ssim(bicubic, ctx.hr)},
                      on_epoch=True, batch_size=size)

    # ------------------------------------------------------------------ super-resolution
    @torch.no_grad()
    def translate(self, images: torch.Tensor, direction: Literal["AtoB", "BtoA"] = "AtoB") -> torch.Tensor:
        """G(LR images) in [-1, 1], ``scale`` times larger, in eval mode (BatchNorm running statistics)."""
        if direction != "AtoB":
            raise ValueError(f"SRGAN upscales one way only (LR to HR), got direction={direction!r}")
        if images.dim() != 4 or images.size(1) != self.data_shape[0]:
            raise ValueError(f"SRGAN: expected LR images (N, {self.data_shape[0]}, h, w), got {tuple(images.shape)}")
        net = self.generator
        with eval_mode(net):
            return net(images.to(self.device))

    @torch.no_grad()
    def preview_grid(self, num_samples: int = 64, nrow: int = 8, use_ema: bool = True,
                     inputs: torch.Tensor | None = None) -> tuple[torch.Tensor, int]:
        """Each held-out LR input (enlarged, nearest neighbour) beside its super-resolved output."""
        if inputs is None:
            raise ValueError("SRGAN.preview_grid needs held-out LR inputs")
        outputs = self.translate(inputs.to(self.device))
        enlarged = F.interpolate(inputs.to(outputs), scale_factor=self.scale, mode="nearest")
        return torch.stack([enlarged, outputs], dim=1).flatten(0, 1), 2 * max(1, nrow // 2)
