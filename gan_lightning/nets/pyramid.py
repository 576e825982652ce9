"""Laplacian pyramids and LAPGAN's per-level networks (Denton et al. 2015; facebook/eyescream).

- :func:`gaussian_pyramid` / :func:`laplacian_pyramid` / :func:`reconstruct`: the image at every
  level (each level half the size of the one above: 2x2 average pooling), the band-pass residuals
  ``h_k = I_k - u(I_{k+1})`` with ``u`` the bilinear x2 upsampling, and their sum back to the image
  (exact by construction: ``I_k = u(I_{k+1}) + h_k``).
- :class:`ClassMap`: the class as one extra image channel (eyescream's ``Linear(10, H*W) -> ReLU``).
- :class:`BandGenerator`: G_k(noise map, class, u(I_{k+1})) -> h_k, the eyescream coarse-to-fine G
  (three same-padded convolutions 7x7, 7x7, 5x5 with ReLU, no output non-linearity).
- :class:`BandDiscriminator`: D_k(u(I_{k+1}) + h_k, class) -> logit, the eyescream coarse-to-fine D
  (conv 5x5, conv 5x5 stride 2, ReLU, dropout 0.5, linear).

Networks know nothing about training: no losses and no optimizers here.
"""

from __future__ import annotations

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn


def downsample(images: torch.Tensor) -> torch.Tensor:
    """One pyramid level down: 2x2 average pooling (half the size)."""
    return F.avg_pool2d(images, 2)


def upsample(images: torch.Tensor) -> torch.Tensor:
    """One pyramid level up: bilinear x2 (a linear map, so bands add up through it)."""
    return F.interpolate(images, scale_factor=2, mode="bilinear", align_corners=False)


def gaussian_pyramid(images: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """[I_0 (the images), I_1, ..., I_{levels-1}], each level half the size of the one before."""
    pyramid = [images]
    for _ in range(levels - 1):
        pyramid.append(downsample(pyramid[-1]))
    return pyramid


def laplacian_pyramid(images: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """[h_0, ..., h_{levels-2}, I_{levels-1}]: the band-pass residuals h_k = I_k - u(I_{k+1}), finest
    first, then the coarsest image."""
    gaussian = gaussian_pyramid(images, levels)
    bands = [fine - upsample(coarse) for fine, coarse in pairwise(gaussian)]
    return [*bands, gaussian[-1]]


def reconstruct(pyramid: list[torch.Tensor]) -> torch.Tensor:
    """The image of a Laplacian pyramid [h_0, ..., I_coarsest]: I_k = u(I_{k+1}) + h_k from the coarsest up."""
    image = pyramid[-1]
    for band in reversed(pyramid[:-1]):
        image = upsample(image) + band
    return image


class ClassMap(nn.Module):
    """Class label -> one (N, 1, size, size) channel: a linear map of the one-hot label, ReLU."""

    def __init__(self, num_classes: int, size: int) -> None:
        super().__init__()
        self.num_classes, self.size = num_classes, size
        self.linear = nn.Linear(num_classes, size * size)

    def forward(self, labels: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        one_hot = F.one_hot(labels.long(), self.num_classes).to(like.dtype)
        return F.relu(self.linear(one_hot)).view(-1, 1, self.size, self.size)


class BandGenerator(nn.Module):
    """G_k(noise map, class, upsampled coarser image) -> the band-pass residual of level k.

    Input channels: the noise map (1), the class map (1), the coarser image (``channels``)."""

    def __init__(self, channels: int, size: int, num_classes: int, width: int = 64) -> None:
        super().__init__()
        self.class_map = ClassMap(num_classes, size)
        self.net = nn.Sequential(
            nn.Conv2d(channels + 2, width, 7, padding=3), nn.ReLU(),
            nn.Conv2d(width, width, 7, padding=3), nn.ReLU(),
            nn.Conv2d(width, channels, 5, padding=2),
        )

    def forward(self, noise: torch.Tensor, labels: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([noise, self.class_map(labels, coarse), coarse], dim=1))


class BandDiscriminator(nn.Module):
    """D_k(image of level k = upsampled coarser image + band, class) -> one logit per sample."""

    def __init__(self, channels: int, size: int, num_classes: int, width: int = 64, dropout: float = 0.5) -> None:
        super().__init__()
        if size < 14:
            raise ValueError(f"a band discriminator needs images of at least 14 px, got {size}")
        self.class_map = ClassMap(num_classes, size)
        after = ((size - 4) - 5) // 2 + 1  # conv 5x5 (valid), then conv 5x5 stride 2 (valid)
        self.net = nn.Sequential(
            nn.Conv2d(channels + 1, width, 5), nn.ReLU(),
            nn.Conv2d(width, width, 5, stride=2), nn.ReLU(),
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(width * after * after, 1),
        )

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([images, self.class_map(labels, images)], dim=1)).squeeze(1)
