"""Fully connected generator and discriminator (Goodfellow et al. 2014 style)."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from gan_lightning.nets.layers import (
    Maxout,
    MinibatchDiscrimination,
    norm_layer,
    reference_noise,
    with_reference,
)


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
    ``norm`` names the hidden normalisation instead: ``batch``, ``virtual``
    (:class:`~gan_lightning.nets.layers.VirtualBatchNorm` with a fixed reference batch of
    ``reference_size`` noise vectors, run beside every batch) or ``none``; None: ``batch_norm``'s.
    """

    def __init__(
        self,
        latent_dim: int,
        data_shape: Sequence[int],
        hidden: Sequence[int] = (256, 512, 1024),
        batch_norm: bool = True,
        hidden_activation: str = "relu",
        norm: str | None = None,
        reference_size: int = 64,
    ) -> None:
        super().__init__()
        self.data_shape = tuple(data_shape)
        norm = norm if norm is not None else "batch" if batch_norm else "none"
        layers: list[nn.Module] = []
        width = latent_dim
        for size in hidden:
            layers.append(nn.Linear(width, size))
            layers += norm_layer(norm, size, 1, reference_size)
            layers.append(activation(hidden_activation))
            width = size
        layers.append(nn.Linear(width, math.prod(self.data_shape)))
        if len(self.data_shape) > 1:
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)
        self.register_buffer("vbn_reference", reference_noise(reference_size, latent_dim) if norm == "virtual"
                             else None)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.net(z) if self.vbn_reference is None else with_reference(self.net, self.vbn_reference, z)
        return out.view(z.size(0), *self.data_shape)


class MLPDiscriminator(nn.Module):
    """sample -> one logit per sample (``outputs`` > 1: a vector); LeakyReLU 0.2 hidden layers.

    ``input_noise`` / ``hidden_noise`` > 0 add ``GaussianNoise`` to the input of the first /
    of every later linear layer in training mode (Salimans et al. 2016's MNIST discriminator:
    0.3 and 0.5 on [0, 1] pixels, ReLU). ``features`` ends with the last hidden activation.
    ``minibatch_features`` > 0: minibatch discrimination (Salimans et al. 2016) before the last
    linear layer, that many kernels of ``minibatch_kernel_dim`` (the authors' 100 and 5), so each
    sample's score also reads how close it is to the other samples of its batch.
    ``maxout_pieces`` > 0: maxout hidden units instead of ``hidden_activation`` (Goodfellow et al. 2013):
    each hidden layer is a linear layer to ``pieces x size`` features and a :class:`Maxout` of that many
    pieces (Blocks' ``LinearMaxout``, the D of PacGAN's toy experiments: 3 x 200 units of 5 pieces).
    """

    def __init__(
        self,
        data_shape: Sequence[int],
        hidden: Sequence[int] = (512, 256),
        outputs: int = 1,
        hidden_activation: str = "leaky_relu",
        input_noise: float = 0.0,
        hidden_noise: float = 0.0,
        minibatch_features: int = 0,
        minibatch_kernel_dim: int = 5,
        maxout_pieces: int = 0,
    ) -> None:
        super().__init__()
        if maxout_pieces < 0:
            raise ValueError(f"maxout pieces must be >= 0 (0: no maxout), got {maxout_pieces}")
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(data_shape)
        for index, size in enumerate(hidden):
            std = input_noise if index == 0 else hidden_noise
            noise = [GaussianNoise(std)] if std > 0 else []
            if maxout_pieces:
                layers += [*noise, nn.Linear(width, size * maxout_pieces), Maxout(maxout_pieces)]
            else:
                layers += [*noise, nn.Linear(width, size), activation(hidden_activation)]
            width = size
        self.features = nn.Sequential(*layers)
        std = hidden_noise if hidden else input_noise
        # noise layers only when asked, so the default's state-dict keys stay "head.weight" / "head.bias"
        head = nn.Linear(width + minibatch_features, outputs)
        before = [MinibatchDiscrimination(width, minibatch_features, minibatch_kernel_dim)] if minibatch_features else []
        before += [GaussianNoise(std)] if std > 0 else []
        self.head = nn.Sequential(*before, head) if before else head

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
