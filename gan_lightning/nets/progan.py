"""ProGAN's growing generator and discriminator (Karras et al. 2018, Table 2 and the authors' ``G_paper`` /
``D_paper``), built once at the data's resolution; ``forward`` runs only the levels up to the current one.

Level ``k`` works at ``4 * 2**k`` px. Feature maps at ``r = log2(resolution)``: ``nf(r - 1)`` with
``nf(stage) = min(fmap_base // 2**stage, fmap_max)`` (fmap_decay 1). Every layer has the equalized
learning rate (:class:`~gan_lightning.nets.layers.EqualizedConv2d` / ``EqualizedLinear``) and leaky
ReLU 0.2; G normalises z and every feature map with :class:`~gan_lightning.nets.layers.PixelNorm`; D
appends the minibatch standard deviation before its last block. Upsampling is nearest, downsampling
a 2x2 box filter (the non-fused variants of the authors' code, as in the paper's Table 2).

Fade-in (section 3, Figure 2): while level ``k`` fades in with weight ``alpha``, G's image is
``lerp(upsample(toRGB_{k-1}(h_{k-1})), toRGB_k(h_k), alpha)`` and D's features
``lerp(fromRGB_{k-1}(downsample(x)), block_k(fromRGB_k(x)), alpha)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from gan_lightning.nets.layers import EqualizedConv2d, EqualizedLinear, MinibatchStdDev, PixelNorm


def num_levels(resolution: int) -> int:
    """Levels of a ProGAN at ``resolution`` (4 px -> 1, 8 -> 2, 32 -> 4); it must be a power of 2 >= 4."""
    if resolution < 4 or resolution & (resolution - 1):
        raise ValueError(f"ProGAN resolution must be a power of 2 >= 4, got {resolution}")
    return int(math.log2(resolution)) - 1


def feature_maps(fmap_base: int, fmap_max: int):
    """The authors' ``nf(stage) = min(fmap_base / 2**stage, fmap_max)``, at least 1."""
    return lambda stage: max(1, min(int(fmap_base / 2.0 ** stage), fmap_max))


class Fade(nn.Module):
    """``old + (new - old) * alpha``: the fade-in of a new level (a module, so D's hooks see its output)."""

    def forward(self, new: torch.Tensor, old: torch.Tensor, alpha: float) -> torch.Tensor:
        return old + (new - old) * alpha


def _act() -> nn.Module:
    return nn.LeakyReLU(0.2)


class ProGANGenerator(nn.Module):
    """z (N, latent_dim) -> images (N, channels, 4 * 2**level, same) for ``forward(z, level, alpha)``."""

    def __init__(self, latent_dim: int, channels: int, resolution: int, fmap_base: int = 8192,
                 fmap_max: int = 512, normalize_latents: bool = True, pixel_norm: bool = True) -> None:
        super().__init__()
        self.latent_dim, self.channels, self.resolution = latent_dim, channels, resolution
        self.levels = num_levels(resolution)
        nf = feature_maps(fmap_base, fmap_max)

        def norm() -> nn.Module:
            return PixelNorm() if pixel_norm else nn.Identity()

        self.normalize_latents = PixelNorm() if normalize_latents else nn.Identity()
        first = nf(1)
        # latent -> 4x4 (a dense layer; gain sqrt(2)/4 as the authors' code), then a 3x3 conv
        self.dense = EqualizedLinear(latent_dim, first * 16, gain=math.sqrt(2.0) / 4)
        self.first_width = first
        self.blocks = nn.ModuleList([nn.Sequential(_act(), norm(), EqualizedConv2d(first, first, 3), _act(), norm())])
        self.to_rgb = nn.ModuleList([EqualizedConv2d(first, channels, 1, gain=1.0)])
        for level in range(1, self.levels):
            stage = level + 2  # log2 of this level's resolution
            c_in, c_out = nf(stage - 2), nf(stage - 1)
            self.blocks.append(nn.Sequential(
                nn.Upsample(scale_factor=2, mode="nearest"),
                EqualizedConv2d(c_in, c_out, 3), _act(), norm(),
                EqualizedConv2d(c_out, c_out, 3), _act(), norm(),
            ))
            self.to_rgb.append(EqualizedConv2d(c_out, channels, 1, gain=1.0))
        self.fade = Fade()

    def forward(self, z: torch.Tensor, level: int | None = None, alpha: float = 1.0) -> torch.Tensor:
        level = self.levels - 1 if level is None else int(level)
        if not 0 <= level < self.levels:
            raise ValueError(f"level must be in [0, {self.levels - 1}], got {level}")
        h = self.dense(self.normalize_latents(z)).view(z.size(0), self.first_width, 4, 4)
        h = self.blocks[0](h)
        previous = h
        for k in range(1, level + 1):
            previous, h = h, self.blocks[k](h)
        image = self.to_rgb[level](h)
        if level > 0 and alpha < 1.0:
            old = F.interpolate(self.to_rgb[level - 1](previous), scale_factor=2, mode="nearest")
            image = self.fade(image, old, alpha)
        return image


class ProGANDiscriminator(nn.Module):
    """images (N, channels, 4 * 2**level, same) -> scores (N, 1) for ``forward(x, level, alpha)``."""

    def __init__(self, channels: int, resolution: int, fmap_base: int = 8192, fmap_max: int = 512,
                 mbstd_group_size: int = 4) -> None:
        super().__init__()
        self.channels, self.resolution = channels, resolution
        self.levels = num_levels(resolution)
        nf = feature_maps(fmap_base, fmap_max)
        self.from_rgb = nn.ModuleList()
        self.blocks = nn.ModuleList()
        for level in range(self.levels):
            stage = level + 2
            self.from_rgb.append(nn.Sequential(EqualizedConv2d(channels, nf(stage - 1), 1), _act()))
            if level == 0:
                self.blocks.append(nn.Identity())  # the 4x4 block is ``final``
            else:
                self.blocks.append(nn.Sequential(
                    EqualizedConv2d(nf(stage - 1), nf(stage - 1), 3), _act(),
                    EqualizedConv2d(nf(stage - 1), nf(stage - 2), 3), _act(),
                    nn.AvgPool2d(2),
                ))
        extra = 1 if mbstd_group_size > 0 else 0
        self.final = nn.Sequential(
            MinibatchStdDev(mbstd_group_size) if mbstd_group_size > 0 else nn.Identity(),
            EqualizedConv2d(nf(1) + extra, nf(1), 3), _act(), nn.Flatten(),
            EqualizedLinear(nf(1) * 16, nf(0)), _act(),
            EqualizedLinear(nf(0), 1, gain=1.0),
        )
        self.fade = Fade()

    def forward(self, x: torch.Tensor, level: int | None = None, alpha: float = 1.0) -> torch.Tensor:
        level = self.levels - 1 if level is None else int(level)
        if not 0 <= level < self.levels:
            raise ValueError(f"level must be in [0, {self.levels - 1}], got {level}")
        size = 4 * 2 ** level
        if x.shape[-2:] != (size, size):
            raise ValueError(f"level {level} takes {size}x{size} images, got {tuple(x.shape[-2:])}")
        h = self.from_rgb[level](x)
        if level > 0:
            h = self.blocks[level](h)
            if alpha < 1.0:
                h = self.fade(h, self.from_rgb[level - 1](F.avg_pool2d(x, 2)), alpha)
        for k in range(level - 1, 0, -1):
            h = self.blocks[k](h)
        return self.final(h)
