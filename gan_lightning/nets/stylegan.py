"""StyleGAN's (v1) style-based generator in pure PyTorch: AdaIN synthesis blocks on a learned constant.

Facts from the authors' NVlabs/stylegan (``training/networks_stylegan.py``: ``G_style``,
``G_synthesis`` with ``structure='fixed'``, ``layer_epilogue``, ``instance_norm``, ``style_mod``,
``apply_noise``, ``blur2d``), rewritten here; the pieces StyleGAN2 shares are reused:

- mapping network: :class:`~gan_lightning.nets.stylegan2.MappingNetwork` (z normalised to unit
  second moment, FC layers with lr multiplier 0.01 and leaky ReLU * sqrt(2), tracked ``w_avg`` with
  beta 0.995): the same layers as the authors' ``G_mapping`` with ``mapping_fmaps == dlatent_size``;
- synthesis (``structure='fixed'``, no progressive growing): a learned 4x4 constant (initialised to
  ones) of ``nf(1)`` channels, then per resolution 4, 8, ... ``size`` two layers; the first layer at
  4 px is the constant itself, every later 2x step upsamples (nearest) before its first 3x3 conv
  and blurs after it with the [1, 2, 1] filter. After every layer the *epilogue*: per-pixel noise
  times a learned per-channel weight (initialised to 0), bias, leaky ReLU 0.2, instance norm
  (eps 1e-8), and the style: ``x * (1 + scale(w)) + bias(w)`` with ``[scale, bias]`` an equalized
  FC layer of w (gain 1, zero bias) (:class:`AdaIN`). One w per layer: ``2 log2(size) - 2`` ws.
  ToRGB at the last resolution only: a 1x1 equalized conv with gain 1, plus bias;
- feature maps ``nf(stage) = min(fmap_base / 2**stage, fmap_max)`` (fmap_base 8192, fmap_max 512),
  the helper of :mod:`gan_lightning.nets.progan`; every conv is the equalized
  :class:`~gan_lightning.nets.layers.EqualizedConv2d` (gain sqrt(2)).

Differences, kept small: the authors fuse upsampling into a transposed conv from 128 px up
(``fused_scale='auto'``); here it is nearest upsampling then a conv at every size (their
non-fused path). Image sizes must be powers of two >= 4.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gan_lightning.nets.layers import EqualizedConv2d, EqualizedLinear
from gan_lightning.nets.progan import feature_maps, num_levels
from gan_lightning.nets.stylegan2 import MappingNetwork


def instance_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Per sample and channel: subtract the spatial mean, divide by the spatial RMS (eps 1e-8)."""
    x = x - x.mean(dim=(2, 3), keepdim=True)
    return x * (x.square().mean(dim=(2, 3), keepdim=True) + eps).rsqrt()


def blur2d(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Depthwise filtering with the normalised 3x3 ``kernel`` (same size output)."""
    channels = x.size(1)
    return F.conv2d(x, kernel.to(x.dtype)[None, None].expand(channels, 1, 3, 3), padding=1, groups=channels)


def _blur_kernel() -> torch.Tensor:
    taps = torch.tensor([1.0, 2.0, 1.0])
    kernel = torch.outer(taps, taps)
    return kernel / kernel.sum()


class AdaIN(nn.Module):
    """Adaptive instance normalisation: ``instance_norm(x) * (1 + scale) + bias`` with
    ``[scale, bias] = A(w)``, A an equalized FC layer (gain 1, zero bias): the authors' ``style_mod``
    after ``instance_norm``. Each output channel's spatial mean is ``bias`` and its std ``|1 + scale|``."""

    def __init__(self, channels: int, w_dim: int) -> None:
        super().__init__()
        self.channels = channels
        self.affine = EqualizedLinear(w_dim, 2 * channels, gain=1.0)

    def style(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(scale factor 1 + scale, bias), each (N, channels)."""
        scale, bias = self.affine(w).chunk(2, dim=1)
        return 1 + scale, bias

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        scale, bias = self.style(w)
        return instance_norm(x) * scale[:, :, None, None] + bias[:, :, None, None]


class NoiseInput(nn.Module):
    """``x + n * weight``: one N(0, 1) map per sample and pixel, scaled by a learned per-channel weight
    (initialised to 0), the authors' ``apply_noise``. ``noise_mode``: ``random``, ``const`` (a fixed
    map drawn once from its own seeded generator: building G leaves the global RNG alone) or ``none``."""

    def __init__(self, channels: int, resolution: int, noise_seed: int = 0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(channels))
        self.resolution = resolution
        self.register_buffer("noise_const", torch.randn(resolution, resolution,
                                                        generator=torch.Generator().manual_seed(noise_seed)))

    def forward(self, x: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        if noise_mode == "none":
            return x
        if noise_mode == "const":
            noise = self.noise_const.to(x.dtype)
        else:
            noise = torch.randn(x.size(0), 1, self.resolution, self.resolution, device=x.device, dtype=x.dtype)
        return x + noise * self.weight.reshape(1, -1, 1, 1)


class StyleLayer(nn.Module):
    """One synthesis layer: [nearest 2x upsampling,] [3x3 conv (no bias),] [blur,] then the epilogue:
    noise, bias, leaky ReLU 0.2, AdaIN with this layer's w. ``conv=False``: the epilogue only (on the
    learned constant)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, conv: bool = True,
                 up: bool = False, noise_seed: int = 0) -> None:
        super().__init__()
        self.up = up
        self.conv = EqualizedConv2d(in_channels, out_channels, 3, bias=False) if conv else None
        self.noise = NoiseInput(out_channels, resolution, noise_seed)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.adain = AdaIN(out_channels, w_dim)
        self.register_buffer("blur", _blur_kernel(), persistent=False)

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        if self.conv is not None:
            x = self.conv(x)
        if self.up:
            x = blur2d(x, self.blur)
        x = self.noise(x, noise_mode) + self.bias.reshape(1, -1, 1, 1)
        return self.adain(F.leaky_relu(x, 0.2), w)


class StyleSynthesis(nn.Module):
    """ws (N, num_ws, w_dim) -> image (N, channels, size, size): a learned 4x4 constant, two
    :class:`StyleLayer` per resolution, ToRGB (1x1 conv, gain 1) at ``size``."""

    def __init__(self, w_dim: int, channels: int, size: int, fmap_base: int = 8192, fmap_max: int = 512) -> None:
        super().__init__()
        levels = num_levels(size)
        nf = feature_maps(fmap_base, fmap_max)
        self.const = nn.Parameter(torch.ones(nf(1), 4, 4))
        self.layers = nn.ModuleList([StyleLayer(nf(1), nf(1), w_dim, 4, conv=False, noise_seed=0),
                                     StyleLayer(nf(1), nf(1), w_dim, 4, noise_seed=1)])
        for level in range(1, levels):
            stage = level + 2  # log2 of this level's resolution
            resolution = 2 ** stage
            self.layers.append(StyleLayer(nf(stage - 2), nf(stage - 1), w_dim, resolution, up=True,
                                          noise_seed=2 * level))
            self.layers.append(StyleLayer(nf(stage - 1), nf(stage - 1), w_dim, resolution, noise_seed=2 * level + 1))
        self.num_ws = len(self.layers)  # 2 log2(size) - 2
        self.to_rgb = EqualizedConv2d(nf(levels), channels, 1, gain=1.0)

    def forward(self, ws: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        if noise_mode not in ("random", "const", "none"):
            raise ValueError(f"noise_mode must be 'random', 'const' or 'none', got {noise_mode!r}")
        x = self.const.unsqueeze(0).expand(ws.size(0), -1, -1, -1)
        for index, layer in enumerate(self.layers):
            x = layer(x, ws[:, index], noise_mode)
        return self.to_rgb(x)


class StyleGANGenerator(nn.Module):
    """Mapping (:class:`~gan_lightning.nets.stylegan2.MappingNetwork`) + :class:`StyleSynthesis`.

    ``forward(z, truncation_psi, noise_mode)``: with ``truncation_psi`` != 1 the first
    ``truncation_cutoff`` ws are ``w_avg + psi (w - w_avg)``, the later ones untouched (the authors'
    ``G_style``: psi 0.7, cutoff 8; ``truncation_cutoff=None``: every layer)."""

    def __init__(self, z_dim: int, w_dim: int, channels: int, size: int, mapping_layers: int = 8,
                 mapping_lr_multiplier: float = 0.01, w_avg_beta: float = 0.995, fmap_base: int = 8192,
                 fmap_max: int = 512, truncation_cutoff: int | None = 8) -> None:
        super().__init__()
        self.synthesis = StyleSynthesis(w_dim, channels, size, fmap_base, fmap_max)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim, w_dim, self.num_ws, mapping_layers, mapping_lr_multiplier, w_avg_beta)
        self.truncation_cutoff = truncation_cutoff

    def truncate(self, ws: torch.Tensor, psi: float) -> torch.Tensor:
        """The truncation trick on the first ``truncation_cutoff`` layers' ws."""
        if psi == 1:
            return ws
        cutoff = self.num_ws if self.truncation_cutoff is None else self.truncation_cutoff
        layer = torch.arange(ws.size(1), device=ws.device).reshape(1, -1, 1)
        return torch.where(layer < cutoff, self.mapping.w_avg.lerp(ws, psi), ws)

    def forward(self, z: torch.Tensor, truncation_psi: float = 1.0, noise_mode: str = "random") -> torch.Tensor:
        if not math.isfinite(truncation_psi):
            raise ValueError(f"truncation_psi must be a finite number, got {truncation_psi}")
        return self.synthesis(self.truncate(self.mapping(z), truncation_psi), noise_mode)
