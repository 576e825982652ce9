"""DCGAN networks (Radford, Metz & Chintala 2015), sized for 28, 32 and 64 px (and other 4*2^k / 7*2^k sizes).

Generator: transposed convolutions, BatchNorm + ReLU, tanh output.
Discriminator: strided convolutions, LeakyReLU 0.2, BatchNorm on all but the first layer
(``norm="none"`` drops it, ``norm="layer"`` uses layer norm instead, as gradient-penalty critics need);
optional dropout on the input and after every hidden layer (``dropout``, ``input_dropout``), the
regulariser of the discriminators of Salimans et al. 2016 and ALI.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn


def upsampling_plan(image_size: int) -> tuple[int, int]:
    """(base resolution, number of x2 upsamplings) with base in {4, 7}: 28 -> (7, 2), 32 -> (4, 3), 64 -> (4, 4)."""
    size, doublings = image_size, 0
    while size % 2 == 0 and size > 7 and size // 2 >= 4:
        size //= 2
        doublings += 1
    if size not in (4, 7) or doublings == 0:
        raise ValueError(f"DCGAN networks need image_size = 4*2^k or 7*2^k (e.g. 28, 32, 64), got {image_size}")
    return size, doublings


def dcgan_init_(module: nn.Module) -> None:
    """The paper's initialisation: conv weights N(0, 0.02), BatchNorm weights N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def dropout_layers(p: float) -> list[nn.Module]:
    """``[nn.Dropout(p)]``, or no layer at all for p = 0, so that a network built without
    dropout keeps the state-dict keys it always had."""
    return [nn.Dropout(p)] if p > 0 else []


class DCGANGenerator(nn.Module):
    def __init__(self, latent_dim: int = 100, channels: int = 1, image_size: int = 64, width: int = 64) -> None:
        super().__init__()
        base, doublings = upsampling_plan(image_size)
        self.latent_dim = latent_dim
        features = width * 2 ** (doublings - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, features, base, 1, 0, bias=False),
            nn.BatchNorm2d(features),
            nn.ReLU(True),
        ]
        for _ in range(doublings - 1):
            layers += [
                nn.ConvTranspose2d(features, features // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(features // 2),
                nn.ReLU(True),
            ]
            features //= 2
        layers += [nn.ConvTranspose2d(features, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init_(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.size(0), -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    """Image -> one logit per image (``outputs`` > 1 gives a vector, for auxiliary heads).

    ``norm`` is the normalization of the hidden layers: ``"batch"`` (the paper's), ``"none"``,
    or ``"layer"`` (per-sample over channels and pixels, ``GroupNorm`` with one group). Critics
    with per-sample gradient penalties (WGAN-GP) must not use BatchNorm, which couples samples.
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
    ) -> None:
        super().__init__()
        if norm not in ("batch", "none", "layer"):
            raise ValueError(f"norm must be 'batch', 'none' or 'layer', got {norm!r}")
        if not (0.0 <= dropout < 1.0 and 0.0 <= input_dropout < 1.0):
            raise ValueError(f"dropout and input_dropout must be in [0, 1), got {dropout} and {input_dropout}")
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
        self.head = nn.Conv2d(features, outputs, base, 1, 0)
        dcgan_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.head(self.features(x)).flatten(1)
        return out.squeeze(1) if out.size(1) == 1 else out
