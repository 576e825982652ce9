"""StarGAN's networks (Choi et al. 2018, the authors' ``model.py``): one generator G(x, c) for every
attribute mix (c tiled as extra input channels) and the discriminator with a source head and an
attribute head; affine InstanceNorm without running statistics."""

from __future__ import annotations

import torch
from torch import nn


def _instance_norm(channels: int) -> nn.InstanceNorm2d:
    # affine as the authors'; no running statistics (their G never leaves train mode: see the module docstring)
    return nn.InstanceNorm2d(channels, affine=True, track_running_stats=False)


class StarGANResidualBlock(nn.Module):
    """x + [conv3x3, IN, ReLU, conv3x3, IN](x), zero padding, no conv biases (an affine norm follows)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False), _instance_norm(channels), nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False), _instance_norm(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class StarGANGenerator(nn.Module):
    """G(x, c): c tiled to the image size and concatenated as extra channels (C + num_attributes in),
    c7s1-w, ``downsampling`` 4x4 stride-2 convs, ``num_blocks`` residual blocks, as many 4x4
    transposed convs, c7s1-C with tanh."""

    def __init__(self, channels: int = 3, num_attributes: int = 5, width: int = 64, num_blocks: int = 6,
                 downsampling: int = 2) -> None:
        super().__init__()
        self.num_attributes = num_attributes
        layers: list[nn.Module] = [nn.Conv2d(channels + num_attributes, width, 7, 1, 3, bias=False),
                                   _instance_norm(width), nn.ReLU(inplace=True)]
        dim = width
        for _ in range(downsampling):
            layers += [nn.Conv2d(dim, 2 * dim, 4, 2, 1, bias=False), _instance_norm(2 * dim), nn.ReLU(inplace=True)]
            dim *= 2
        layers += [StarGANResidualBlock(dim) for _ in range(num_blocks)]
        for _ in range(downsampling):
            layers += [nn.ConvTranspose2d(dim, dim // 2, 4, 2, 1, bias=False), _instance_norm(dim // 2),
                       nn.ReLU(inplace=True)]
            dim //= 2
        layers += [nn.Conv2d(dim, channels, 7, 1, 3, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
        tiled = attributes.to(x.dtype)[:, :, None, None].expand(-1, -1, x.size(2), x.size(3))
        return self.net(torch.cat([x, tiled], dim=1))


class StarGANDiscriminator(nn.Module):
    """``num_layers`` 4x4 stride-2 convs (width doubling each time, LeakyReLU 0.01, no norm), then
    two heads on the (image_size / 2^num_layers)^2 map: ``forward(x) -> (source (N, 1, s, s),
    attribute logits (N, num_attributes))``; the class head is one conv whose kernel covers the map."""

    def __init__(self, channels: int = 3, image_size: int = 128, num_attributes: int = 5, width: int = 64,
                 num_layers: int = 6) -> None:
        super().__init__()
        side = image_size // 2**num_layers
        if num_layers < 1 or side < 1 or side * 2**num_layers != image_size:
            fits = [n for n in range(1, 12) if image_size % 2**n == 0 and image_size >= 2**n]
            raise ValueError(f"d_layers={num_layers} does not divide {image_size} px images into a whole map; "
                             f"d_layers that fit: {', '.join(map(str, fits)) or 'none'}")
        layers: list[nn.Module] = []
        dim_in, dim = channels, width
        for _ in range(num_layers):
            layers += [nn.Conv2d(dim_in, dim, 4, 2, 1), nn.LeakyReLU(0.01)]
            dim_in, dim = dim, 2 * dim
        self.body = nn.Sequential(*layers)
        self.source_head = nn.Conv2d(dim_in, 1, 3, 1, 1, bias=False)
        self.class_head = nn.Conv2d(dim_in, num_attributes, side, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return self.source_head(h), self.class_head(h).flatten(1)
