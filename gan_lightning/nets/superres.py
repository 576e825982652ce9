"""SRGAN's networks (Ledig et al. 2017, Figure 4): the SRResNet generator (residual blocks, sub-pixel
upsampling) and the strided VGG-style discriminator."""

from __future__ import annotations

import math

import torch
from torch import nn


# ---------------------------------------------------------------------------- srgan
class ResidualBlock(nn.Module):
    """conv3x3-BN-PReLU-conv3x3-BN plus the identity (SRResNet's B residual blocks)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.PReLU(),
            nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SRResNetGenerator(nn.Module):
    """SRResNet (Ledig et al. 2017, Fig. 4): LR (N, C, h, w) -> (N, C, scale h, scale w) in [-1, 1]."""

    def __init__(self, channels: int = 3, width: int = 64, num_blocks: int = 16, scale: int = 4) -> None:
        super().__init__()
        stages = int(round(math.log2(scale)))
        if scale < 2 or 2 ** stages != scale:
            raise ValueError(f"SRResNetGenerator: scale must be a power of two >= 2, got {scale}")
        self.head = nn.Sequential(nn.Conv2d(channels, width, 9, padding=4), nn.PReLU())
        self.blocks = nn.Sequential(*[ResidualBlock(width) for _ in range(num_blocks)],
                                    nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width))
        self.upsample = nn.Sequential(*[layer for _ in range(stages) for layer in (
            nn.Conv2d(width, 4 * width, 3, padding=1), nn.PixelShuffle(2), nn.PReLU())])
        self.tail = nn.Conv2d(width, channels, 9, padding=4)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        head = self.head(lr)
        return torch.tanh(self.tail(self.upsample(head + self.blocks(head))))


class SRGANDiscriminator(nn.Module):
    """SRGAN's D (Fig. 4): eight 3x3 convs (LeakyReLU 0.2, BN from the 2nd), dense 1024, dense 1 (a logit)."""

    def __init__(self, channels: int = 3, image_size: int = 96, width: int = 64, hidden: int = 1024) -> None:
        super().__init__()
        widths = [width, width, 2 * width, 2 * width, 4 * width, 4 * width, 8 * width, 8 * width]
        layers: list[nn.Module] = []
        previous = channels
        for index, out in enumerate(widths):
            layers.append(nn.Conv2d(previous, out, 3, stride=1 + index % 2, padding=1))
            if index > 0:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.LeakyReLU(0.2))
            previous = out
        self.features = nn.Sequential(*layers)
        side = image_size
        for _ in range(4):
            side = (side + 1) // 2  # a stride-2 3x3 conv with padding 1
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(previous * side * side, hidden), nn.LeakyReLU(0.2),
                                  nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).flatten()
