"""SAGAN networks (Zhang et al. 2019): DCGAN-style G and D with one self-attention block each.

The authors' ImageNet networks are residual (128 px); for 28-64 px this follows the DCGAN-style
networks of heykeetae/Self-Attention-GAN (an unofficial PyTorch port, for 32 and 64 px): G of
transposed convolutions with BatchNorm + ReLU and a tanh output, D of strided convolutions with
LeakyReLU 0.1 and no normalization; spectral norm on every convolution of both but G's last, as that port has it
(the paper's section 4 applies it to G as well as D; the authors' residual G normalises its last layer too:
``SAGANGenerator(image_layer_spectral_norm=True)``). The attention block sits after the layer that produces
``attention_resolution`` in G and after the layer that produces the same resolution in D, as in the
authors' code (G and D attend at 32x32 of a 128 px image); ``attention=False`` leaves it out (the
paper's baseline: the same networks with spectral norm only). Sized for 4*2^k and 7*2^k images by
:func:`~gan_lightning.nets.dcgan.upsampling_plan`.
"""

from __future__ import annotations

import torch
from torch import nn

from gan_lightning.nets.attention import SelfAttention2d
from gan_lightning.nets.dcgan import upsampling_plan
from gan_lightning.nets.layers import apply_spectral_norm


def attention_levels(image_size: int) -> list[int]:
    """The resolutions of the feature maps between G's input and its image (where attention may go)."""
    base, doublings = upsampling_plan(image_size)
    return [base * 2**i for i in range(doublings)]


def check_attention_resolution(image_size: int, resolution: int | None, pool_keys: bool = True) -> int:
    """``resolution``, or the second-to-last level (image_size / 2) for None; errors list the allowed ones."""
    levels = [level for level in attention_levels(image_size) if level % 2 == 0 or not pool_keys]
    resolution = image_size // 2 if resolution is None else int(resolution)
    if resolution not in levels:
        raise ValueError(f"attention_resolution {resolution} is not a feature-map resolution of a {image_size} px "
                         f"network{' with pool_keys (even sizes)' if pool_keys else ''}; one of {levels}")
    return resolution


class SAGANGenerator(nn.Module):
    """Noise -> image. ``spectral_norm``: on every layer but the last (features -> image), as
    heykeetae/Self-Attention-GAN's DCGAN-style G (``sagan_models.py``: its ``last`` transposed convolution has no
    SpectralNorm); ``image_layer_spectral_norm=True`` normalises that one too, as the authors' residual G does
    (``generator.py``, ``g_snconv_last``): on these networks it holds G to one blob repeated at the MNIST
    recipe's budget (benchmarks/RESULTS.md, section ``sagan_attention``)."""

    def __init__(self, latent_dim: int = 128, channels: int = 1, image_size: int = 32, width: int = 64,
                 attention_resolution: int | None = None, spectral_norm: bool = True, pool_keys: bool = True,
                 attention: bool = True, image_layer_spectral_norm: bool = False) -> None:
        super().__init__()
        base, doublings = upsampling_plan(image_size)
        self.attention_resolution = check_attention_resolution(image_size, attention_resolution, pool_keys)
        features = width * 2 ** (doublings - 1)
        layers: list[nn.Module] = [nn.ConvTranspose2d(latent_dim, features, base, 1, 0), nn.BatchNorm2d(features),
                                   nn.ReLU(True)]
        resolution = base
        for _ in range(doublings):
            if attention and resolution == self.attention_resolution:
                layers.append(SelfAttention2d(features, pool_keys=pool_keys))
            if resolution * 2 == image_size:
                layers += [nn.ConvTranspose2d(features, channels, 4, 2, 1), nn.Tanh()]
            else:
                layers += [nn.ConvTranspose2d(features, features // 2, 4, 2, 1), nn.BatchNorm2d(features // 2),
                           nn.ReLU(True)]
                features //= 2
            resolution *= 2
        self.net = nn.Sequential(*layers)
        if spectral_norm:  # the image layer and its tanh are the last two
            apply_spectral_norm(self.net if image_layer_spectral_norm else self.net[:-2])

    @property
    def attention(self) -> SelfAttention2d | None:
        """The self-attention block (None when built with ``attention=False``)."""
        return next((m for m in self.modules() if isinstance(m, SelfAttention2d)), None)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.reshape(z.size(0), -1, 1, 1))


class SAGANDiscriminator(nn.Module):
    """Image -> one score per image (a hinge-loss logit)."""

    def __init__(self, channels: int = 1, image_size: int = 32, width: int = 64,
                 attention_resolution: int | None = None, spectral_norm: bool = True, pool_keys: bool = True,
                 attention: bool = True) -> None:
        super().__init__()
        base, doublings = upsampling_plan(image_size)
        self.attention_resolution = check_attention_resolution(image_size, attention_resolution, pool_keys)
        layers: list[nn.Module] = []
        in_features, features, resolution = channels, width, image_size
        for _ in range(doublings):
            layers += [nn.Conv2d(in_features, features, 4, 2, 1), nn.LeakyReLU(0.1, True)]
            resolution //= 2
            if attention and resolution == self.attention_resolution:
                layers.append(SelfAttention2d(features, pool_keys=pool_keys))
            in_features, features = features, features * 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Conv2d(in_features, 1, base, 1, 0)
        if spectral_norm:
            apply_spectral_norm(self)

    @property
    def attention(self) -> SelfAttention2d | None:
        """The self-attention block (None when built with ``attention=False``)."""
        return next((m for m in self.modules() if isinstance(m, SelfAttention2d)), None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).flatten()
