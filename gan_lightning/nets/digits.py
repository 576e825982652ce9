"""Small translators and critics for the power-of-two digit domains: DistanceGAN's translator and
critic, PLDT's converter and DCGAN-style critic, DTN's decoder g and ternary critic (sized by :func:`~gan_lightning.nets.layers.power_of_two_depth`)."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from gan_lightning.nets.layers import power_of_two_depth
from gan_lightning.nets.translation import translation_init_


# ---------------------------------------------------------------------------- distancegan
class DigitTranslator(nn.Module):
    """The authors' digits generator: conv4s2 (w), conv4s2 (2w), two conv3 (2w), deconv4s2 (w),
    deconv4s2 (out) + tanh; BatchNorm on all but the last layer, leaky ReLU 0.05 (their comment
    calls the two 3x3 convolutions residual blocks; they have no skip connection)."""

    def __init__(self, in_channels: int = 1, out_channels: int = 3, width: int = 64) -> None:
        super().__init__()

        def block(layer: nn.Module, channels: int) -> list[nn.Module]:
            return [layer, nn.BatchNorm2d(channels), nn.LeakyReLU(0.05)]

        self.net = nn.Sequential(
            *block(nn.Conv2d(in_channels, width, 4, 2, 1, bias=False), width),
            *block(nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), 2 * width),
            *block(nn.Conv2d(2 * width, 2 * width, 3, 1, 1, bias=False), 2 * width),
            *block(nn.Conv2d(2 * width, 2 * width, 3, 1, 1, bias=False), 2 * width),
            *block(nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False), width),
            nn.ConvTranspose2d(width, out_channels, 4, 2, 1, bias=False), nn.Tanh())
        translation_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class DigitCritic(nn.Module):
    """The authors' digits discriminator: stride-2 4x4 convs from ``image_size`` down to 4x4
    (w, 2w, 4w, ...; BatchNorm but on the first), leaky ReLU 0.05, then a 4x4 valid conv to
    ``outputs`` scores per image."""

    def __init__(self, in_channels: int = 3, image_size: int = 32, width: int = 64, outputs: int = 1) -> None:
        super().__init__()
        depth = power_of_two_depth("DigitCritic", image_size) - 2
        layers: list[nn.Module] = []
        channels = in_channels
        for i in range(depth):
            out = width * 2**i
            layers.append(nn.Conv2d(channels, out, 4, 2, 1, bias=i == 0))
            if i > 0:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.LeakyReLU(0.05))
            channels = out
        layers += [nn.Conv2d(channels, outputs, 4, 1, 0), nn.Flatten()]
        self.net = nn.Sequential(*layers)
        translation_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


# ---------------------------------------------------------------------------- pldt
class Converter(nn.Module):
    """Encoder (stride-2 4x4 convs, leaky ReLU 0.2, BatchNorm but on the first) to 4x4, decoder
    (stride-2 4x4 transposed convs, BatchNorm, ReLU) back to ``image_size``, tanh."""

    def __init__(self, in_channels: int = 3, out_channels: int = 3, image_size: int = 64, width: int = 96) -> None:
        super().__init__()
        depth = power_of_two_depth("Converter", image_size) - 2
        layers: list[nn.Module] = []
        channels = in_channels
        widths = [width * 2**i for i in range(depth)]
        for i, out in enumerate(widths):
            layers.append(nn.Conv2d(channels, out, 4, 2, 1, bias=i == 0))
            layers += [nn.BatchNorm2d(out)] if i else []
            layers.append(nn.LeakyReLU(0.2, True))
            channels = out
        for out in reversed(widths[:-1]):
            layers += [nn.ConvTranspose2d(channels, out, 4, 2, 1, bias=False), nn.BatchNorm2d(out), nn.ReLU(True)]
            channels = out
        layers += [nn.ConvTranspose2d(channels, out_channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        translation_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def strided_critic(in_channels: int, image_size: int, width: int, activation: Callable[[], nn.Module], outputs: int,
                   name: str) -> nn.Sequential:
    """Stride-2 4x4 convs (w, 2w, 4w, ...; BatchNorm from the second, an ``activation()`` after each) down
    to 4x4, then a valid 4x4 conv to ``outputs`` logits per image (the critics of PLDT and DTN)."""
    depth = power_of_two_depth(name, image_size) - 2
    layers: list[nn.Module] = []
    channels = in_channels
    for i in range(depth):
        out = width * 2**i
        layers.append(nn.Conv2d(channels, out, 4, 2, 1, bias=i == 0))
        layers += [nn.BatchNorm2d(out)] if i else []
        layers.append(activation())
        channels = out
    return nn.Sequential(*layers, nn.Conv2d(channels, outputs, 4, 1, 0), nn.Flatten())


class DCGANCritic(nn.Module):
    """DCGAN discriminator: stride-2 4x4 convs to 4x4 (leaky ReLU 0.2, BatchNorm but on the first),
    a 4x4 valid conv to one logit per image."""

    def __init__(self, in_channels: int = 3, image_size: int = 64, width: int = 96) -> None:
        super().__init__()
        self.net = strided_critic(in_channels, image_size, width, lambda: nn.LeakyReLU(0.2, True), 1, "DCGANCritic")
        translation_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


# ---------------------------------------------------------------------------- dtn
class FeatureDecoder(nn.Module):
    """The paper's digits g: a 4x4 transposed conv from the feature vector to 4x4 x (8w), then
    stride-2 transposed convs halving the channels up to ``image_size``; BatchNorm + ReLU, tanh last."""

    def __init__(self, num_features: int = 128, out_channels: int = 1, image_size: int = 32, width: int = 64) -> None:
        super().__init__()
        ups = power_of_two_depth("FeatureDecoder", image_size) - 2
        channels = width * 2 ** ups
        layers: list[nn.Module] = [nn.Unflatten(1, (num_features, 1, 1)),
                                   nn.ConvTranspose2d(num_features, channels, 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(channels), nn.ReLU(True)]
        for i in range(ups):
            last = i == ups - 1
            out = out_channels if last else channels // 2
            layers.append(nn.ConvTranspose2d(channels, out, 4, 2, 1, bias=last))
            layers += [nn.Tanh()] if last else [nn.BatchNorm2d(out), nn.ReLU(True)]
            channels = out
        self.net = nn.Sequential(*layers)
        translation_init_(self)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)


class TernaryCritic(nn.Module):
    """The paper's digits D: stride-2 convs (w, 2w, 4w, ...) with BatchNorm (not the first) and
    ReLU down to 4x4, then a valid 4x4 conv to 3 logits (source-fake, target-fake, target-real)."""

    def __init__(self, in_channels: int = 1, image_size: int = 32, width: int = 128) -> None:
        super().__init__()
        self.net = strided_critic(in_channels, image_size, width, lambda: nn.ReLU(True), 3, "TernaryCritic")
        translation_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
