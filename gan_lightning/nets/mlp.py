"""Fully connected generator and discriminator (Goodfellow et al. 2014 style)."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn


ACTIVATIONS = {"relu": lambda: nn.ReLU(inplace=True), "softplus": nn.Softplus,
               "leaky_relu": lambda: nn.LeakyReLU(0.2, inplace=True)}


def activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


class GaussianNoise(nn.Module):
    """Adds N(0, std^2) noise in training mode only (the discriminator regulariser of Salimans et
    al. 2016's MNIST networks); the identity in eval mode."""

    def __init__(self, std: float) -> None:
        super().__init__()
        if std < 0:
            raise ValueError(f"noise std must be >= 0, got {std}")
        self.std = std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.std * torch.randn_like(x) if self.training and self.std > 0 else x

    def extra_repr(self) -> str:
        return f"std={self.std}"


class MLPGenerator(nn.Module):
    """z -> sample of ``data_shape``. Images (rank > 1) end in tanh ([-1, 1]); vectors are unbounded.

    ``batch_norm``: BatchNorm after every hidden linear layer, as in PacGAN's toy generator
    (Lin et al. 2018, appendix: 4 x 400 units, batch norm, ReLU). Without it the toy recipes
    of the mode-collapse benchmark put no sample within 3 std of a mode in 5,000 iterations
    (measured, plain PyTorch and gan-lightning alike); with it GAN covers 8/8 ring modes.
    """

    def __init__(
        self,
        latent_dim: int,
        data_shape: Sequence[int],
        hidden: Sequence[int] = (256, 512, 1024),
        batch_norm: bool = True,
        hidden_activation: str = "relu",
    ) -> None:
        super().__init__()
        self.data_shape = tuple(data_shape)
        layers: list[nn.Module] = []
        width = latent_dim
        for size in hidden:
            layers.append(nn.Linear(width, size))
            if batch_norm:
                layers.append(nn.BatchNorm1d(size))
            layers.append(activation(hidden_activation))
            width = size
        layers.append(nn.Linear(width, math.prod(self.data_shape)))
        if len(self.data_shape) > 1:
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(z.size(0), *self.data_shape)


class MLPDiscriminator(nn.Module):
    """sample -> one logit per sample (``outputs`` > 1: a vector); LeakyReLU 0.2 hidden layers.

    ``input_noise`` / ``hidden_noise`` > 0 add ``GaussianNoise`` to the input of the first /
    of every later linear layer in training mode (Salimans et al. 2016's MNIST discriminator:
    0.3 and 0.5 on [0, 1] pixels, ReLU). ``features`` ends with the last hidden activation.
    """

    def __init__(
        self,
        data_shape: Sequence[int],
        hidden: Sequence[int] = (512, 256),
        outputs: int = 1,
        hidden_activation: str = "leaky_relu",
        input_noise: float = 0.0,
        hidden_noise: float = 0.0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(data_shape)
        for index, size in enumerate(hidden):
            std = input_noise if index == 0 else hidden_noise
            noise = [GaussianNoise(std)] if std > 0 else []
            layers += [*noise, nn.Linear(width, size), activation(hidden_activation)]
            width = size
        self.features = nn.Sequential(*layers)
        std = hidden_noise if hidden else input_noise
        # noise layers only when asked, so the default's state-dict keys stay "head.weight" / "head.bias"
        head = nn.Linear(width, outputs)
        self.head = nn.Sequential(GaussianNoise(std), head) if std > 0 else head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.head(self.features(x))
        return out.squeeze(1) if out.size(1) == 1 else out


# ---------------------------------------------------------------------------- fgan
class GaussianGenerator(nn.Module):
    """z -> mu + exp(log_sigma) * z[:, :d]: a single Gaussian in R^d with learned mean and std."""

    def __init__(self, latent_dim: int, data_shape: Sequence[int], mean: float = 0.0, std: float = 1.0) -> None:
        super().__init__()
        self.data_shape = tuple(int(d) for d in data_shape)
        self.dim = math.prod(self.data_shape)
        if latent_dim < self.dim:
            raise ValueError(f"model.latent_dim must be >= the data dimension {self.dim} for a Gaussian G, "
                             f"got {latent_dim}")
        self.mean = nn.Parameter(torch.full((self.dim,), float(mean)))
        self.log_std = nn.Parameter(torch.full((self.dim,), math.log(std)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.mean + self.log_std.exp() * z[:, :self.dim]
        return x.view(z.size(0), *self.data_shape)
