"""Image-to-image networks shared by the translation family (pix2pix / CycleGAN layouts).

- ``UNetGenerator``: pix2pix's encoder-decoder with skip connections; dropout 0.5 in the
  decoders of the three blocks next to the innermost one is its only noise.
- ``ResnetGenerator``: CycleGAN's c7s1 - two stride-2 downsamplings - residual blocks - two
  upsamplings - c7s1 generator with reflection padding.
- ``PatchDiscriminator``: the PatchGAN; ``patch_size`` 1 (PixelGAN), 16, 70 or 286 picks its
  depth (the receptive field of one output is exactly ``patch_size`` pixels).
- ``ResidualBlock`` and ``norm_layer``: shared by the models that build their own networks.

Networks know nothing about training. Initialisation is the papers' N(0, 0.02)
(``translation_init_``).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

Norm = Literal["batch", "instance", "none"]
NORMS = ("batch", "instance", "none")
PATCH_LAYERS = {16: 1, 70: 3, 286: 5}  # PatchGAN receptive field -> number of stride-2 layers


def norm_layer(kind: Norm, channels: int) -> nn.Module:
    """BatchNorm, InstanceNorm (affine-free, no running statistics: the CycleGAN/pix2pix default,
    so train and eval mode give the same outputs) or nothing."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm must be one of {', '.join(NORMS)}; got {kind!r}")


def translation_init_(module: nn.Module, std: float = 0.02) -> None:
    """pix2pix/CycleGAN initialisation: conv weights N(0, std), norm weights N(1, std), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


class UNetGenerator(nn.Module):
    """pix2pix's U-Net: ``log2(image_size)`` stride-2 4x4 convolutions down to 1x1, mirrored by
    transposed convolutions, each decoder block fed the matching encoder output (skip connection).

    Channels are ``width * min(2^i, 8)`` at depth i. The innermost block has no norm; dropout
    ``dropout`` sits in the decoders of the ``dropout_blocks`` blocks next to the innermost one
    (pix2pix: 0.5 in 3 blocks; it stays on at test time in the authors' code, ``model.train()``).
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, image_size: int = 256, width: int = 64,
                 norm: Norm = "batch", dropout: float = 0.5, dropout_blocks: int = 3) -> None:
        super().__init__()
        depth = int(round(math.log2(image_size))) if image_size > 1 else 0
        if depth < 2 or 2**depth != image_size:
            raise ValueError(f"UNetGenerator needs image_size a power of two >= 4, got {image_size}")
        norm_layer(norm, 1)  # validates the name
        bias = norm == "instance"
        channels = [width * min(2**i, 8) for i in range(depth)]
        self.down = nn.ModuleList()
        self.up = nn.ModuleList()
        for i, out in enumerate(channels):
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2, True)]
            layers.append(nn.Conv2d(in_channels if i == 0 else channels[i - 1], out, 4, 2, 1, bias=bias))
            if 0 < i < depth - 1:
                layers.append(norm_layer(norm, out))
            self.down.append(nn.Sequential(*layers))
        for i in reversed(range(depth)):  # innermost first
            inner = channels[i] if i == depth - 1 else 2 * channels[i]
            if i == 0:
                layers = [nn.ReLU(True), nn.ConvTranspose2d(inner, out_channels, 4, 2, 1), nn.Tanh()]
            else:
                layers = [nn.ReLU(True), nn.ConvTranspose2d(inner, channels[i - 1], 4, 2, 1, bias=bias),
                          norm_layer(norm, channels[i - 1])]
                if dropout > 0 and depth - 1 - dropout_blocks <= i < depth - 1:
                    layers.append(nn.Dropout(dropout))
            self.up.append(nn.Sequential(*layers))
        self.image_size = image_size
        translation_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        x = self.up[0](skips.pop())
        for block in self.up[1:]:
            x = block(torch.cat([x, skips.pop()], dim=1))
        return x


class ResidualBlock(nn.Module):
    """x + [pad, conv3x3, norm, ReLU, (dropout), pad, conv3x3, norm](x), reflection padding."""

    def __init__(self, channels: int, norm: Norm = "instance", dropout: float = 0.0,
                 padding: Literal["reflect", "zeros"] = "reflect") -> None:
        super().__init__()
        bias = norm == "instance"
        layers: list[nn.Module] = [
            nn.Conv2d(channels, channels, 3, padding=1, padding_mode=padding, bias=bias), norm_layer(norm, channels),
            nn.ReLU(True)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += [nn.Conv2d(channels, channels, 3, padding=1, padding_mode=padding, bias=bias),
                   norm_layer(norm, channels)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """CycleGAN's generator: c7s1-w, ``downsampling`` stride-2 convs (w -> 2w -> 4w), ``num_blocks``
    residual blocks (6 for 128 px, 9 for 256 px in the paper), as many stride-2 transposed convs
    back, c7s1-out with tanh. InstanceNorm by default."""

    def __init__(self, in_channels: int = 3, out_channels: int = 3, width: int = 64, num_blocks: int = 9,
                 downsampling: int = 2, norm: Norm = "instance", dropout: float = 0.0) -> None:
        super().__init__()
        if num_blocks < 0 or downsampling < 0:
            raise ValueError(f"num_blocks and downsampling must be >= 0, got {num_blocks}, {downsampling}")
        bias = norm == "instance"
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 7, padding=3, padding_mode="reflect", bias=bias),
                                   norm_layer(norm, width), nn.ReLU(True)]
        channels = width
        for _ in range(downsampling):
            layers += [nn.Conv2d(channels, 2 * channels, 3, 2, 1, bias=bias), norm_layer(norm, 2 * channels),
                       nn.ReLU(True)]
            channels *= 2
        layers += [ResidualBlock(channels, norm, dropout) for _ in range(num_blocks)]
        for _ in range(downsampling):
            layers += [nn.ConvTranspose2d(channels, channels // 2, 3, 2, 1, output_padding=1, bias=bias),
                       norm_layer(norm, channels // 2), nn.ReLU(True)]
            channels //= 2
        layers += [nn.Conv2d(channels, out_channels, 7, padding=3, padding_mode="reflect"), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        translation_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PatchDiscriminator(nn.Module):
    """PatchGAN: one real/fake logit per ``patch_size`` x ``patch_size`` patch.

    ``patch_size`` 70 (pix2pix's default): three stride-2 4x4 convs then two stride-1 ones (a
    30x30 map at 256 px). 16: one stride-2 layer; 286: five. 1: the PixelGAN of 1x1 convs.
    The first layer has no norm; channels ``width * min(2^i, 8)``. Conditional use concatenates
    input and output images, so ``in_channels`` is their sum.
    """

    def __init__(self, in_channels: int = 6, width: int = 64, patch_size: int = 70, norm: Norm = "batch") -> None:
        super().__init__()
        bias = norm != "batch"
        if patch_size == 1:
            layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 1), nn.LeakyReLU(0.2, True),
                                       nn.Conv2d(width, 2 * width, 1, bias=bias), norm_layer(norm, 2 * width),
                                       nn.LeakyReLU(0.2, True), nn.Conv2d(2 * width, 1, 1, bias=bias)]
        elif patch_size in PATCH_LAYERS:
            n = PATCH_LAYERS[patch_size]
            layers = [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
            channels = width
            for i in range(1, n + 1):
                out = width * min(2**i, 8)
                stride = 2 if i < n else 1
                layers += [nn.Conv2d(channels, out, 4, stride, 1, bias=bias), norm_layer(norm, out),
                           nn.LeakyReLU(0.2, True)]
                channels = out
            layers.append(nn.Conv2d(channels, 1, 4, 1, 1))
        else:
            raise ValueError(f"patch_size must be one of 1, {', '.join(map(str, PATCH_LAYERS))}; got {patch_size}")
        self.patch_size = patch_size
        self.net = nn.Sequential(*layers)
        translation_init_(self)

    def output_size(self, image_size: int) -> int:
        """Side of the logit map for a square input of ``image_size`` pixels."""
        size = image_size
        for m in self.net:
            if isinstance(m, nn.Conv2d):
                size = (size + 2 * m.padding[0] - m.kernel_size[0]) // m.stride[0] + 1
        return size

    def check_image_size(self, image_size: int) -> None:
        """One line when ``image_size`` is too small for this patch size (no logit left)."""
        if self.output_size(image_size) < 1:
            fits = [p for p in (1, *PATCH_LAYERS) if PatchDiscriminator(1, 1, p).output_size(image_size) >= 1]
            raise ValueError(f"patch_size {self.patch_size} needs larger images than {image_size} px; "
                             f"patch sizes that fit: {', '.join(map(str, fits))}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
