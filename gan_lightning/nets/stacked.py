"""Stacked GAN's networks (Huang et al. 2017; the authors' ``mnist/train_joint.py``, xunhuang1995/SGAN).

- :class:`StackedEncoder`: the bottom-up encoder E = E1 then E0's head: x -> h1 (``features``: conv 5x5,
  max-pool, conv 5x5, max-pool, dense ``feature_dim`` ReLU; the authors' 32 / 32 / 256) -> class logits
  (``classify``); ``conv_features`` the pooled convolution maps below h1 (PPGN's E1 and C).
- :class:`FeatureGenerator`: G1(z1, y) -> h1: an MLP on [z1, one-hot y] (two BatchNorm + ReLU layers of
  512 in the authors' code), ReLU output as E's features are.
- :class:`FeatureToImageGenerator`: G0(h1, z0) -> x: z0 embedded (dense 128, BatchNorm, ReLU),
  concatenated to h1, then the DCGAN generator (the authors' dense 128x4x4 + deconvolutions; ours is the
  project's DCGAN G at the data's size).

The discriminators are the project's: an MLP on features and the DCGAN D with an auxiliary head,
each with an output per entry of z for the Q network (built in the model file from ``nets/``; the model
ends Q in a sigmoid, z being U(0, 1)).
Networks know nothing about training: no losses and no optimizers here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gan_lightning.nets.dcgan import DCGANGenerator
from gan_lightning.nets.mlp import MLPGenerator


class StackedEncoder(nn.Module):
    """x -> h1 (``features``) -> class logits (``classify``); ``forward`` is both in turn."""

    def __init__(self, channels: int = 1, image_size: int = 28, width: int = 32, feature_dim: int = 256,
                 num_classes: int = 10) -> None:
        super().__init__()
        after = ((image_size - 4) // 2 - 4) // 2  # conv 5x5 (valid), pool 2, conv 5x5 (valid), pool 2
        if after < 1:
            raise ValueError(f"the stacked encoder needs images of at least 16 px, got {image_size}")
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, width, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(width * after * after, feature_dim), nn.ReLU(),
        )
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images)

    def conv_features(self, images: torch.Tensor) -> torch.Tensor:
        """The last pooled convolution maps (flattened), below ``features``: PPGN's E1 for feature matching."""
        return self.body[:7](images)

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(images))


class FeatureGenerator(nn.Module):
    """G1(z1, y) -> h1 (non-negative, as the encoder's ReLU features)."""

    def __init__(self, latent_dim: int, num_classes: int, feature_dim: int, hidden: int = 512) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.mlp = MLPGenerator(latent_dim + num_classes, (feature_dim,), (hidden, hidden), batch_norm=True)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        one_hot = F.one_hot(labels.long(), self.num_classes).to(z.dtype)
        return F.relu(self.mlp(torch.cat([z, one_hot], dim=1)))


class FeatureToImageGenerator(nn.Module):
    """G0(h1, z0) -> image: z0 embedded (dense, BatchNorm, ReLU) beside h1, then the DCGAN generator."""

    def __init__(self, feature_dim: int, latent_dim: int, channels: int, image_size: int, width: int = 64,
                 embed_dim: int = 128) -> None:
        super().__init__()
        self.embed = nn.Sequential(nn.Linear(latent_dim, embed_dim), nn.BatchNorm1d(embed_dim), nn.ReLU())
        self.decoder = DCGANGenerator(feature_dim + embed_dim, channels, image_size, width)

    def forward(self, features: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(torch.cat([features, self.embed(z)], dim=1))
