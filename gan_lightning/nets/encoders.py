"""Encoders: image -> code (AAE, VAE/GAN, BiGAN, VEEGAN), and the joint discriminators D(x, z) of BiGAN/ALI
and VEEGAN (convolutional x path, or an MLP on the concatenated pair).

Networks know nothing about training: no losses and no optimizers here.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from gan_lightning.nets.dcgan import DCGANDiscriminator, dcgan_init_, dropout_layers
from gan_lightning.nets.mlp import MLPDiscriminator

Norm = Literal["batch", "none", "layer"]


class ConvEncoder(nn.Module):
    """Image -> code of ``code_dim``: the DCGAN discriminator's body with ``code_dim`` outputs.

    ``gaussian=True`` returns ``(mean, log_variance)`` of a diagonal Gaussian q(z|x) instead.
    """

    def __init__(
        self,
        channels: int = 1,
        image_size: int = 32,
        width: int = 64,
        code_dim: int = 100,
        gaussian: bool = False,
        norm: Norm = "batch",
    ) -> None:
        super().__init__()
        self.code_dim, self.gaussian = code_dim, gaussian
        self.net = DCGANDiscriminator(channels, image_size, width, outputs=code_dim * (2 if gaussian else 1), norm=norm)

    def forward(self, x: torch.Tensor):
        out = self.net.head(self.net.features(x)).flatten(1)  # never squeezed, even for code_dim = 1
        return out.chunk(2, dim=1) if self.gaussian else out


class JointDiscriminator(nn.Module):
    """D(x, z) -> one logit per pair (BiGAN / ALI).

    x goes through the DCGAN discriminator's body to a ``hidden``-wide embedding, z through a
    two-layer MLP; the two embeddings are concatenated and scored by a two-layer MLP.
    ``dropout`` > 0 drops inputs and hidden units of every path (ALI's discriminators use 0.2).
    """

    def __init__(
        self,
        channels: int = 1,
        image_size: int = 32,
        width: int = 64,
        latent_dim: int = 100,
        hidden: int = 512,
        norm: Norm = "batch",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.x_path = DCGANDiscriminator(channels, image_size, width, outputs=hidden, norm=norm,
                                         dropout=dropout, input_dropout=dropout)
        self.z_path = nn.Sequential(
            *dropout_layers(dropout), nn.Linear(latent_dim, hidden), nn.LeakyReLU(0.2, True), *dropout_layers(dropout),
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.2, True), *dropout_layers(dropout),
        )
        self.joint = nn.Sequential(
            nn.Linear(2 * hidden, hidden), nn.LeakyReLU(0.2, True), *dropout_layers(dropout), nn.Linear(hidden, 1)
        )
        dcgan_init_(self.z_path)
        dcgan_init_(self.joint)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        hx = F.leaky_relu(self.x_path.head(self.x_path.features(x)).flatten(1), 0.2)
        hz = self.z_path(z.flatten(1))
        return self.joint(torch.cat([hx, hz], dim=1)).squeeze(1)


class JointMLPDiscriminator(nn.Module):
    """D(x, z) -> one logit per pair, an MLP on the concatenation [x, z] (VEEGAN's 2-D discriminator:
    the pair concatenated, then ``hidden`` fully connected layers of ``hidden_activation``)."""

    def __init__(self, data_dim: int, latent_dim: int, hidden=(128, 128), hidden_activation: str = "relu") -> None:
        super().__init__()
        self.net = MLPDiscriminator((data_dim + latent_dim,), tuple(hidden), hidden_activation=hidden_activation)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x.flatten(1), z.flatten(1)], dim=1))
