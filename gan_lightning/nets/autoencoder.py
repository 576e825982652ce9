"""Autoencoder discriminators (EBGAN, Zhao et al. 2016; BEGAN, Berthelot et al. 2017).

An autoencoder ``D`` maps a sample to a code (``encode``) and back (``decode``); its
reconstruction error is the energy these models train on. Two builds share one interface:
fully connected for vectors (``MLPAutoencoder``) and convolutional for square images
(``ConvAutoencoder``, strided convolutions down, nearest-neighbour upsampling + convolutions up,
sized like the DCGAN networks by ``upsampling_plan``).
"""

from __future__ import annotations

import math
from typing import Literal, Sequence

import torch
from torch import nn

from gan_lightning.nets.dcgan import upsampling_plan

Norm = Literal["batch", "none", "layer"]
Activation = Literal["leaky_relu", "elu"]


def _activation(kind: Activation) -> nn.Module:
    if kind == "leaky_relu":
        return nn.LeakyReLU(0.2)
    if kind == "elu":
        return nn.ELU()
    raise ValueError(f"activation must be 'leaky_relu' or 'elu', got {kind!r}")


def _norm2d(kind: Norm, channels: int) -> list[nn.Module]:
    if kind == "batch":
        return [nn.BatchNorm2d(channels)]
    if kind == "layer":
        return [nn.GroupNorm(1, channels)]
    if kind == "none":
        return []
    raise ValueError(f"norm must be 'batch', 'none' or 'layer', got {kind!r}")


class Autoencoder(nn.Module):
    """``forward(x)`` is the reconstruction ``decode(encode(x))``, shaped like ``x``."""

    encoder: nn.Module
    decoder: nn.Module
    code_dim: int

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Sample -> code, (N, code_dim)."""
        return self.encoder(x)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """Code -> reconstruction, shaped like the input samples."""
        return self.decoder(code)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class MLPAutoencoder(Autoencoder):
    """Fully connected autoencoder: ``hidden`` layers down to ``code_dim``, mirrored back up.

    The output is unbounded for vectors and squashed by tanh for images (rank > 1), like ``MLPGenerator``.
    """

    def __init__(
        self,
        data_shape: Sequence[int],
        hidden: Sequence[int] = (200, 200),
        code_dim: int = 64,
        activation: Activation = "leaky_relu",
    ) -> None:
        super().__init__()
        self.data_shape, self.code_dim = tuple(data_shape), code_dim
        width = math.prod(self.data_shape)
        down: list[nn.Module] = [nn.Flatten()]
        for size in hidden:
            down += [nn.Linear(width, size), _activation(activation)]
            width = size
        down.append(nn.Linear(width, code_dim))
        self.encoder = nn.Sequential(*down)
        up: list[nn.Module] = []
        width = code_dim
        for size in reversed(tuple(hidden)):
            up += [nn.Linear(width, size), _activation(activation)]
            width = size
        up += [nn.Linear(width, math.prod(self.data_shape)), nn.Unflatten(1, self.data_shape)]
        if len(self.data_shape) > 1:
            up.append(nn.Tanh())
        self.decoder = nn.Sequential(*up)


class ConvAutoencoder(Autoencoder):
    """Convolutional autoencoder for square images of 4*2^k or 7*2^k pixels, tanh output.

    Encoder: 3x3 conv to ``width`` channels, then one 4x4 stride-2 conv per halving (channels
    doubling), then a linear map to ``code_dim``. Decoder: a linear map back to the smallest
    feature map, then per doubling a x2 nearest upsampling and a 3x3 conv (channels halving),
    then a 3x3 conv to the image channels. ``norm`` follows every hidden conv but the first.
    """

    def __init__(
        self,
        channels: int = 1,
        image_size: int = 32,
        width: int = 64,
        code_dim: int = 64,
        norm: Norm = "batch",
        activation: Activation = "leaky_relu",
    ) -> None:
        super().__init__()
        base, doublings = upsampling_plan(image_size)
        self.code_dim = code_dim
        down: list[nn.Module] = [nn.Conv2d(channels, width, 3, 1, 1), _activation(activation)]
        features = width
        for _ in range(doublings):
            down += [nn.Conv2d(features, features * 2, 4, 2, 1), *_norm2d(norm, features * 2), _activation(activation)]
            features *= 2
        down += [nn.Flatten(), nn.Linear(features * base * base, code_dim)]
        self.encoder = nn.Sequential(*down)
        up: list[nn.Module] = [nn.Linear(code_dim, features * base * base), nn.Unflatten(1, (features, base, base))]
        for _ in range(doublings):
            up += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(features, features // 2, 3, 1, 1),
                *_norm2d(norm, features // 2),
                _activation(activation),
            ]
            features //= 2
        up += [nn.Conv2d(features, channels, 3, 1, 1), nn.Tanh()]
        self.decoder = nn.Sequential(*up)
