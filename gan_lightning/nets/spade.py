"""SPADE's networks (Park, Liu, Wang & Zhu 2019, "Semantic Image Synthesis with Spatially-Adaptive
Normalization"); structure and defaults from the authors' code (NVlabs/SPADE ``models/networks/``).

- ``SPADENorm``: a parameter-free norm (BatchNorm or InstanceNorm without affine), then a per-pixel
  scale and shift computed from the label map resized (nearest) to the activation's size:
  ``out = norm(x) * (1 + gamma(m)) + beta(m)``, gamma and beta two 3x3 convs over a shared 3x3
  conv + ReLU of ``hidden`` (128, "hardcoded" in the authors' normalization.py) channels.
- ``SPADEResBlock``: two (SPADE, leaky ReLU 0.2, 3x3 conv) steps with ``min(fin, fout)`` middle
  channels; a learned shortcut (SPADE, 1x1 conv without bias) when the channel count changes;
  spectral norm on every conv (``norm_G`` ``spectralspadesyncbatch3x3``).
- ``SPADEGenerator``: a 3x3 conv of the label map downsampled to ``size / 2^num_up`` (or a linear
  map of z with the style encoder), then head, two middle blocks at 16 x width, then blocks halving
  the channels (16, 8, 4, 2, 1 x width) with nearest x2 upsampling, leaky ReLU, 3x3 conv, tanh.
  The authors' ``normal`` generator upsamples 5 times (256 px from 8 px); here ``num_up`` follows
  the image size (``log2(size / 4)``, at most 5) and the channel schedule keeps its last blocks.
- ``SPADEEncoder``: the style encoder of the VAE option (``ConvEncoder``): stride-2 3x3 convs with
  spectral norm and InstanceNorm down to 4x4, two linear heads for mu and log-variance (z_dim 256).
- ``MultiscalePatchDiscriminator``: ``num_D`` (2) PatchGANs of ``n_layers`` (4) 4x4 convs (padding
  2, stride 2 except the last two; spectral norm + InstanceNorm except the first and the logit conv),
  each scale on the input average-pooled (3x3, stride 2, padding 1, no padded pixels counted) once
  more; ``forward`` returns, per scale, the list of every layer's output (for feature matching).

Networks know nothing about training.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

ParamFreeNorm = Literal["batch", "instance"]


def param_free_norm(kind: ParamFreeNorm, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels, affine=False)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False)
    raise ValueError(f"SPADE norm must be 'batch' or 'instance', got {kind!r}")


class SPADENorm(nn.Module):
    """Spatially-adaptive normalization of ``channels`` activations by a ``label_channels`` map."""

    def __init__(self, channels: int, label_channels: int, hidden: int = 128, norm: ParamFreeNorm = "batch",
                 kernel_size: int = 3) -> None:
        super().__init__()
        self.norm = param_free_norm(norm, channels)
        pad = kernel_size // 2
        self.shared = nn.Sequential(nn.Conv2d(label_channels, hidden, kernel_size, padding=pad), nn.ReLU())
        self.gamma = nn.Conv2d(hidden, channels, kernel_size, padding=pad)
        self.beta = nn.Conv2d(hidden, channels, kernel_size, padding=pad)

    def forward(self, x: torch.Tensor, label_map: torch.Tensor) -> torch.Tensor:
        label_map = F.interpolate(label_map, size=x.shape[-2:], mode="nearest")
        features = self.shared(label_map)
        return self.norm(x) * (1 + self.gamma(features)) + self.beta(features)


class SPADEResBlock(nn.Module):
    """The authors' SPADEResnetBlock: fin -> fout channels, conditioned on the label map."""

    def __init__(self, fin: int, fout: int, label_channels: int, hidden: int = 128, norm: ParamFreeNorm = "batch",
                 spectral: bool = True) -> None:
        super().__init__()
        middle = min(fin, fout)
        self.learned_shortcut = fin != fout
        wrap = spectral_norm if spectral else (lambda m: m)
        self.conv_0 = wrap(nn.Conv2d(fin, middle, 3, padding=1))
        self.conv_1 = wrap(nn.Conv2d(middle, fout, 3, padding=1))
        self.norm_0 = SPADENorm(fin, label_channels, hidden, norm)
        self.norm_1 = SPADENorm(middle, label_channels, hidden, norm)
        if self.learned_shortcut:
            self.conv_s = wrap(nn.Conv2d(fin, fout, 1, bias=False))
            self.norm_s = SPADENorm(fin, label_channels, hidden, norm)

    def forward(self, x: torch.Tensor, label_map: torch.Tensor) -> torch.Tensor:
        shortcut = self.conv_s(self.norm_s(x, label_map)) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, label_map), 0.2))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, label_map), 0.2))
        return shortcut + dx


def upsampling_count(image_size: int) -> int:
    """How many x2 upsamplings the generator makes: log2(size / 4), at most 5 (the authors' 'normal')."""
    steps = min(5, int(math.log2(image_size)) - 2) if image_size >= 8 else 0
    if steps < 1 or image_size % (2**steps) != 0:
        raise ValueError(f"SPADE needs an image size divisible by 2^k with k = min(5, log2(size) - 2) >= 1, "
                         f"got {image_size}")
    return steps


class SPADEGenerator(nn.Module):
    """Label map (one-hot, (N, label_channels, S, S)) -> image in [-1, 1] (N, out_channels, S, S).

    ``z_dim`` > 0: the first features come from a linear map of z (the VAE / style-encoder
    variant), else from a 3x3 conv of the downsampled label map.
    """

    def __init__(self, label_channels: int, out_channels: int = 3, image_size: int = 256, width: int = 64,
                 hidden: int = 128, norm: ParamFreeNorm = "batch", z_dim: int = 0, spectral: bool = True) -> None:
        super().__init__()
        self.num_up = upsampling_count(image_size)
        self.start = image_size // 2**self.num_up
        self.width, self.z_dim = width, z_dim
        top = 16 * width
        if z_dim > 0:
            self.fc = nn.Linear(z_dim, top * self.start * self.start)
        else:
            self.fc = nn.Conv2d(label_channels, top, 3, padding=1)

        def block(fin: int, fout: int) -> SPADEResBlock:
            return SPADEResBlock(fin, fout, label_channels, hidden, norm, spectral)

        self.head = block(top, top)
        self.middle = nn.ModuleList([block(top, top), block(top, top)])
        # The authors' 5 upsamplings: after head, before up_0 .. up_3 (and G_middle_1 at the 'more' size).
        # With fewer, the first upsamplings are left out and the channel-halving blocks kept.
        widths = [16, 8, 4, 2, 1]
        self.up_blocks = nn.ModuleList([block(widths[i] * width, widths[i + 1] * width) for i in range(4)])
        self.to_image = nn.Conv2d(width, out_channels, 3, padding=1)

    def forward(self, label_map: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        if self.z_dim > 0:
            if z is None:
                z = torch.randn(label_map.size(0), self.z_dim, device=label_map.device, dtype=label_map.dtype)
            x = self.fc(z).view(-1, 16 * self.width, self.start, self.start)
        else:
            x = self.fc(F.interpolate(label_map, size=(self.start, self.start), mode="nearest"))
        ups = self.num_up  # upsamplings left to make; the authors' order leaves none before G_middle_0 when 5
        x = self.head(x, label_map)
        if ups == 5:
            x, ups = F.interpolate(x, scale_factor=2, mode="nearest"), ups - 1
        for block in self.middle:
            x = block(x, label_map)
        for i, block in enumerate(self.up_blocks):
            if ups >= 4 - i:  # the last upsamplings sit before the last blocks
                x, ups = F.interpolate(x, scale_factor=2, mode="nearest"), ups - 1
            x = block(x, label_map)
        return torch.tanh(self.to_image(F.leaky_relu(x, 0.2)))


class SPADEEncoder(nn.Module):
    """The style encoder (``ConvEncoder``): image (N, C, S, S) -> (mu, logvar) of a ``z_dim`` Gaussian."""

    def __init__(self, in_channels: int = 3, image_size: int = 256, width: int = 64, z_dim: int = 256) -> None:
        super().__init__()
        # the authors resize to 256 and use 5 stride-2 convs (6 at 256+ crops) down to 4x4; here: down to 4x4
        steps = max(1, int(math.log2(image_size)) - 2)
        layers: list[nn.Module] = []
        channels = in_channels
        for i in range(steps):
            out = width * min(2**i, 8)
            layers += [spectral_norm(nn.Conv2d(channels, out, 3, 2, 1)), nn.InstanceNorm2d(out, affine=False),
                       nn.LeakyReLU(0.2)]
            channels = out
        self.layers = nn.Sequential(*layers)
        self.flat = channels * (image_size // 2**steps) ** 2
        self.mu = nn.Linear(self.flat, z_dim)
        self.logvar = nn.Linear(self.flat, z_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.layers(x).flatten(1)
        return self.mu(h), self.logvar(h)


class NLayerPatchDiscriminator(nn.Module):
    """One scale of SPADE's discriminator; ``forward`` returns every layer's output, the logits last."""

    def __init__(self, in_channels: int, width: int = 64, n_layers: int = 4) -> None:
        super().__init__()
        if n_layers < 2:
            raise ValueError(f"n_layers must be >= 2, got {n_layers}")
        pad = 2  # ceil((4 - 1) / 2)
        blocks = [nn.Sequential(nn.Conv2d(in_channels, width, 4, 2, pad), nn.LeakyReLU(0.2))]
        channels = width
        for n in range(1, n_layers):
            out = min(channels * 2, 512)
            stride = 1 if n == n_layers - 1 else 2
            blocks.append(nn.Sequential(spectral_norm(nn.Conv2d(channels, out, 4, stride, pad)),
                                        nn.InstanceNorm2d(out, affine=False), nn.LeakyReLU(0.2)))
            channels = out
        blocks.append(nn.Sequential(nn.Conv2d(channels, 1, 4, 1, pad)))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outputs = []
        for block in self.blocks:
            x = block(x)
            outputs.append(x)
        return outputs


class MultiscalePatchDiscriminator(nn.Module):
    """``num_d`` PatchGANs, scale k on the input average-pooled k times; returns one list per scale."""

    def __init__(self, in_channels: int, width: int = 64, n_layers: int = 4, num_d: int = 2) -> None:
        super().__init__()
        if num_d < 1:
            raise ValueError(f"num_D must be >= 1, got {num_d}")
        # a ModuleList: the scales are D's grandchildren, so their inputs are D's (pooled) input
        self.scales = nn.ModuleList([NLayerPatchDiscriminator(in_channels, width, n_layers) for _ in range(num_d)])

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        results = []
        for i, scale in enumerate(self.scales):
            if i > 0:
                x = F.avg_pool2d(x, kernel_size=3, stride=2, padding=1, count_include_pad=False)
            results.append(scale(x))
        return results
