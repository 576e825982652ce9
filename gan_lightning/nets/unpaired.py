"""The networks of the unpaired translators: DiscoGAN's encoder-decoder G and D (Kim et al. 2017,
the authors' ``model.py``), DualGAN's critics (Yi et al. 2017) and UNIT's VAE-GAN pair with shared
layers and its two discriminators (Liu et al. 2017, the authors' ``networks.py``)."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from gan_lightning.nets.translation import ResidualBlock, norm_layer, translation_init_


# ---------------------------------------------------------------------------- discogan
class DiscoGenerator(nn.Module):
    """Encoder (``depth`` stride-2 4x4 convs, LeakyReLU 0.2, BatchNorm from the second) and a
    mirrored decoder (stride-2 4x4 transposed convs, BatchNorm, ReLU), tanh output, no biases."""

    def __init__(self, channels: int, width: int = 64, depth: int = 4) -> None:
        super().__init__()
        widths = [width * 2**i for i in range(depth)]
        layers: list[nn.Module] = [nn.Conv2d(channels, widths[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for i in range(1, depth):
            layers += [nn.Conv2d(widths[i - 1], widths[i], 4, 2, 1, bias=False), nn.BatchNorm2d(widths[i]),
                       nn.LeakyReLU(0.2, True)]
        for i in reversed(range(1, depth)):
            layers += [nn.ConvTranspose2d(widths[i], widths[i - 1], 4, 2, 1, bias=False),
                       nn.BatchNorm2d(widths[i - 1]), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[0], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class DiscoDiscriminator(nn.Module):
    """The generator's encoder, then one conv over the remaining ``image_size / 2^depth`` pixels to a logit.

    ``features(x)`` returns ``(logits, [hidden features after blocks 2..depth])`` for feature matching.
    """

    def __init__(self, channels: int, image_size: int, width: int = 64, depth: int = 4) -> None:
        super().__init__()
        widths = [width * 2**i for i in range(depth)]
        blocks = [nn.Sequential(nn.Conv2d(channels, widths[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True))]
        for i in range(1, depth):
            blocks.append(nn.Sequential(nn.Conv2d(widths[i - 1], widths[i], 4, 2, 1, bias=False),
                                        nn.BatchNorm2d(widths[i]), nn.LeakyReLU(0.2, True)))
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Conv2d(widths[-1], 1, image_size // 2**depth, 1, 0, bias=False)

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        hidden = []
        for block in self.blocks:
            x = block(x)
            hidden.append(x)
        return self.head(x).flatten(1), hidden[1:]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)[0]


class DiscoDiscriminators(nn.Module):
    """D_A and D_B; ``forward(x, domain)`` and ``features(x, domain)`` call the one of ``domain``."""

    def __init__(self, channels: int, image_size: int, width: int = 64, depth: int = 4) -> None:
        super().__init__()
        self.a = DiscoDiscriminator(channels, image_size, width, depth)
        self.b = DiscoDiscriminator(channels, image_size, width, depth)

    def features(self, x: torch.Tensor, domain: Literal["a", "b"]):
        return getattr(self, domain).features(x)

    def forward(self, x: torch.Tensor, domain: Literal["a", "b"]) -> torch.Tensor:
        return getattr(self, domain)(x)


# ---------------------------------------------------------------------------- dualgan
CriticNorm = Literal["instance", "none", "batch"]


class DualCritic(nn.Module):
    """5x5 stride-2 conv, then 3x3 stride-2 convs with norm and LeakyReLU 0.2, then a linear
    (``head="global"``) or a 3x3 conv (``head="patch"``) score. Unbounded output (a WGAN critic)."""

    def __init__(self, channels: int, image_size: int, width: int = 64, layers: int = 5,
                 norm: CriticNorm = "instance", head: Literal["global", "patch"] = "global") -> None:
        super().__init__()
        layers = max(1, min(layers, int(math.log2(image_size)) - 1))  # keep a >= 2x2 map
        widths = [width * min(2**i, 8) for i in range(layers)]
        body: list[nn.Module] = [nn.Conv2d(channels, widths[0], 5, 2, 2), nn.LeakyReLU(0.2, True)]
        for i in range(1, layers):
            body += [nn.Conv2d(widths[i - 1], widths[i], 3, 2, 1), norm_layer(norm, widths[i]),
                     nn.LeakyReLU(0.2, True)]
        self.body = nn.Sequential(*body)
        side = image_size // 2**layers
        if head == "global":
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(widths[-1] * side * side, 1))
        elif head == "patch":
            self.head = nn.Conv2d(widths[-1], 1, 3, 1, 1)
        else:
            raise ValueError(f"critic_head must be 'global' or 'patch', got {head!r}")
        translation_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).flatten(1)


class DualCritics(nn.Module):
    """D_A and D_B; ``forward(x, domain)`` scores ``x`` with the critic of ``domain``."""

    def __init__(self, channels: int, image_size: int, width: int, layers: int, norm: CriticNorm,
                 head: Literal["global", "patch"]) -> None:
        super().__init__()
        self.a = DualCritic(channels, image_size, width, layers, norm, head)
        self.b = DualCritic(channels, image_size, width, layers, norm, head)

    def forward(self, x: torch.Tensor, domain: Literal["a", "b"]) -> torch.Tensor:
        return getattr(self, domain)(x)


# ---------------------------------------------------------------------------- unit
def _residual_blocks(channels: int, num: int) -> nn.Sequential:
    # the authors' INSResBlock: zero padding, InstanceNorm without affine parameters
    return nn.Sequential(*[ResidualBlock(channels, "instance", padding="zeros") for _ in range(num)])


class UNITNetworks(nn.Module):
    """E_A, E_B (``encoder_a`` / ``encoder_b``) and G_A, G_B (``decoder_a`` / ``decoder_b``).

    ``encoder_a = Sequential(private encoder A, shared)`` and ``encoder_b = Sequential(private
    encoder B, shared)`` hold the very same ``shared`` module (``encoder_shared``); the decoders
    start with the same ``decoder_shared``.
    """

    def __init__(self, channels: int, width: int = 64, downsampling: int = 2, private_blocks: int = 3,
                 shared_blocks: int = 1) -> None:
        super().__init__()
        latent = width * 2**downsampling
        self.encoder_shared = _residual_blocks(latent, shared_blocks)
        self.decoder_shared = _residual_blocks(latent, shared_blocks)
        self.encoder_a = nn.Sequential(self._front(channels, width, downsampling, private_blocks), self.encoder_shared)
        self.encoder_b = nn.Sequential(self._front(channels, width, downsampling, private_blocks), self.encoder_shared)
        self.decoder_a = nn.Sequential(self.decoder_shared, self._back(channels, width, downsampling, private_blocks))
        self.decoder_b = nn.Sequential(self.decoder_shared, self._back(channels, width, downsampling, private_blocks))
        self.latent_channels = latent
        translation_init_(self)

    @staticmethod
    def _front(channels: int, width: int, downsampling: int, blocks: int) -> nn.Sequential:
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 7, 1, 3), nn.LeakyReLU(0.01, True)]
        for i in range(downsampling):
            layers += [nn.Conv2d(width * 2**i, width * 2 ** (i + 1), 3, 2, 1),
                       nn.InstanceNorm2d(width * 2 ** (i + 1)), nn.ReLU(True)]
        return nn.Sequential(*layers, *_residual_blocks(width * 2**downsampling, blocks))

    @staticmethod
    def _back(channels: int, width: int, downsampling: int, blocks: int) -> nn.Sequential:
        layers: list[nn.Module] = list(_residual_blocks(width * 2**downsampling, blocks))
        for i in reversed(range(downsampling)):
            layers += [nn.ConvTranspose2d(width * 2 ** (i + 1), width * 2**i, 3, 2, 1, output_padding=1),
                       nn.InstanceNorm2d(width * 2**i), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(width, channels, 1, 1, 0), nn.Tanh()]
        return nn.Sequential(*layers)

    def encode(self, x: torch.Tensor, domain: Literal["a", "b"]) -> torch.Tensor:
        """The mean mu of q(z | x) for an image of ``domain``."""
        return getattr(self, f"encoder_{domain}")(x)

    def decode(self, z: torch.Tensor, domain: Literal["a", "b"]) -> torch.Tensor:
        """G_domain(z): an image of ``domain``."""
        return getattr(self, f"decoder_{domain}")(z)


class UNITDiscriminator(nn.Module):
    """``layers`` stride-2 3x3 convs with LeakyReLU, no normalisation, then a 1x1 conv to logits."""

    def __init__(self, channels: int, width: int = 64, layers: int = 4) -> None:
        super().__init__()
        body: list[nn.Module] = []
        for i in range(layers):
            body += [nn.Conv2d(channels if i == 0 else width * 2 ** (i - 1), width * 2**i, 3, 2, 1),
                     nn.LeakyReLU(0.01, True)]
        self.net = nn.Sequential(*body, nn.Conv2d(width * 2 ** (layers - 1), 1, 1, 1, 0))
        translation_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class UNITDiscriminators(nn.Module):
    """D_A and D_B; ``forward(x, domain)`` calls the one of ``domain``."""

    def __init__(self, channels: int, width: int, layers: int) -> None:
        super().__init__()
        self.a = UNITDiscriminator(channels, width, layers)
        self.b = UNITDiscriminator(channels, width, layers)

    def forward(self, x: torch.Tensor, domain: Literal["a", "b"]) -> torch.Tensor:
        return getattr(self, domain)(x)
