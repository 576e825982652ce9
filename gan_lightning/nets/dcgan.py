"""DCGAN networks (Radford, Metz & Chintala 2015), sized for 28, 32 and 64 px (and other 4*2^k / 7*2^k sizes).

Generator: transposed convolutions, BatchNorm + ReLU, tanh output.
Discriminator: strided convolutions, LeakyReLU 0.2, BatchNorm on all but the first layer
(``norm="none"`` drops it, ``norm="layer"`` uses layer norm instead, as gradient-penalty critics need);
optional dropout on the input and after every hidden layer (``dropout``, ``input_dropout``), the
regulariser of the discriminators of Salimans et al. 2016 and ALI; optional minibatch discrimination
before the last layer (``minibatch_features``). The generator's ``norm`` may be virtual batch norm.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from gan_lightning.nets.layers import (
    MinibatchDiscrimination,
    norm_layer,
    reference_noise,
    with_reference,
)


def upsampling_plan(image_size: int) -> tuple[int, int]:
    """(base resolution, number of x2 upsamplings) with base in {4, 7}: 28 -> (7, 2), 32 -> (4, 3), 64 -> (4, 4)."""
    size, doublings = image_size, 0
    while size % 2 == 0 and size > 7 and size // 2 >= 4:
        size //= 2
        doublings += 1
    if size not in (4, 7) or doublings == 0:
        raise ValueError(f"DCGAN networks need image_size = 4*2^k or 7*2^k (e.g. 28, 32, 64), got {image_size}")
    return size, doublings


def dcgan_init_(module: nn.Module, batchnorm1d: bool = False) -> None:
    """The paper's initialisation: conv weights N(0, 0.02), BatchNorm weights N(1, 0.02), biases 0.

    ``batchnorm1d=True``: the 1-D BatchNorm layers too (by default they keep weight 1, as they always have)."""
    norms = (nn.BatchNorm2d, nn.BatchNorm1d) if batchnorm1d else (nn.BatchNorm2d,)
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, norms):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def dropout_layers(p: float) -> list[nn.Module]:
    """``[nn.Dropout(p)]``, or no layer at all for p = 0, so that a network built without
    dropout keeps the state-dict keys it always had."""
    return [nn.Dropout(p)] if p > 0 else []


class DCGANGenerator(nn.Module):
    """z -> image. ``norm``: the hidden normalisation, ``batch`` (the paper's), ``virtual``
    (:class:`~gan_lightning.nets.layers.VirtualBatchNorm`, a fixed reference batch of ``reference_size``
    noise vectors run beside every batch) or ``none``."""

    def __init__(self, latent_dim: int = 100, channels: int = 1, image_size: int = 64, width: int = 64,
                 norm: Literal["batch", "virtual", "none"] = "batch", reference_size: int = 64) -> None:
        super().__init__()
        base, doublings = upsampling_plan(image_size)
        self.latent_dim = latent_dim
        features = width * 2 ** (doublings - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, features, base, 1, 0, bias=False),
            *norm_layer(norm, features, 2, reference_size),
            nn.ReLU(True),
        ]
        for _ in range(doublings - 1):
            layers += [
                nn.ConvTranspose2d(features, features // 2, 4, 2, 1, bias=False),
                *norm_layer(norm, features // 2, 2, reference_size),
                nn.ReLU(True),
            ]
            features //= 2
        layers += [nn.ConvTranspose2d(features, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init_(self)
        self.register_buffer("vbn_reference", reference_noise(reference_size, latent_dim) if norm == "virtual"
                             else None)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z.view(z.size(0), -1, 1, 1)
        return self.net(z) if self.vbn_reference is None else with_reference(self.net, self.vbn_reference, z)


class DCGANDiscriminator(nn.Module):
    """Image -> one logit per image (``outputs`` > 1 gives a vector, for auxiliary heads).

    ``norm`` is the normalization of the hidden layers: ``"batch"`` (the paper's), ``"none"``,
    or ``"layer"`` (per-sample over channels and pixels, ``GroupNorm`` with one group). Critics
    with per-sample gradient penalties (WGAN-GP) must not use BatchNorm, which couples samples.
    ``minibatch_features`` > 0: minibatch discrimination (Salimans et al. 2016) on the flattened last
    features, that many kernels of ``minibatch_kernel_dim``, then a linear head (the conv head over the
    last base x base map is the same map written as a convolution).
    """

    def __init__(
        self,
        channels: int = 1,
        image_size: int = 64,
        width: int = 64,
        outputs: int = 1,
        norm: Literal["batch", "none", "layer"] = "batch",
        dropout: float = 0.0,
        input_dropout: float = 0.0,
        minibatch_features: int = 0,
        minibatch_kernel_dim: int = 5,
        head_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if norm not in ("batch", "none", "layer"):
            raise ValueError(f"norm must be 'batch', 'none' or 'layer', got {norm!r}")
        if not all(0.0 <= p < 1.0 for p in (dropout, input_dropout, head_dropout)):
            raise ValueError(f"dropout, input_dropout and head_dropout must be in [0, 1), got {dropout}, "
                             f"{input_dropout} and {head_dropout}")
        base, doublings = upsampling_plan(image_size)
        layers = [*dropout_layers(input_dropout), nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True),
                  *dropout_layers(dropout)]
        features = width
        for _ in range(doublings - 1):
            layers.append(nn.Conv2d(features, features * 2, 4, 2, 1, bias=norm == "none"))
            if norm == "batch":
                layers.append(nn.BatchNorm2d(features * 2))
            elif norm == "layer":
                layers.append(nn.GroupNorm(1, features * 2))
            layers += [nn.LeakyReLU(0.2, True), *dropout_layers(dropout)]
            features *= 2
        self.features = nn.Sequential(*layers)
        self.feature_dim = features * base * base
        self.head_dropout = nn.Dropout(head_dropout) if head_dropout > 0 else nn.Identity()  # no state-dict key
        if minibatch_features:
            self.head: nn.Module = nn.Sequential(
                nn.Flatten(), MinibatchDiscrimination(self.feature_dim, minibatch_features, minibatch_kernel_dim),
                nn.Linear(self.feature_dim + minibatch_features, outputs))
        else:
            self.head = nn.Conv2d(features, outputs, base, 1, 0)
        dcgan_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.head(self.head_dropout(self.features(x))).flatten(1)
        return out.squeeze(1) if out.size(1) == 1 else out
