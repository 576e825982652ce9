"""S^2-GAN's networks (Wang & Gupta 2016): the Structure-GAN's G (noise -> unit surface normals), the
Style-GAN's G (normals + noise -> image) and the chain of both. Layer plans after the authors' Torch code
(xiaolonw/ss-gan: ``structure-gan/train.lua``, ``style-gan-nofcn/train.lua``); the discriminators: the
authors' plan (:class:`S2Discriminator`), or the project's DCGAN D
(:class:`~gan_lightning.nets.dcgan.DCGANDiscriminator`) without BatchNorm."""

from __future__ import annotations

import torch
from torch import nn

from gan_lightning.nets.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_init_


class StructureGenerator(nn.Module):
    """z_hat -> surface normals (N, 3, S, S), unit vectors at every pixel: a DCGAN G whose tanh output is
    L2-normalised over its 3 channels per pixel (the authors' ``nn.Normalize(2)`` after ``Tanh``); a pixel
    whose 3 channels are all (near) 0 gets the flat normal (0, 0, 1) rather than an undefined one."""

    def __init__(self, latent_dim: int, image_size: int, width: int) -> None:
        super().__init__()
        self.net = DCGANGenerator(latent_dim, 3, image_size, width)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return unit_normals(self.net(z))


def unit_normals(v: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) vectors L2-normalised per pixel; a (near) zero vector becomes the flat normal (0, 0, 1)."""
    length = v.norm(dim=1, keepdim=True)
    flat = v.new_tensor([0.0, 0.0, 1.0]).view(1, 3, 1, 1)
    return torch.where(length > 1e-6, v / length.clamp_min(1e-6), flat)


def _conv_bn_relu(cin: int, cout: int, kernel: int, stride: int, leaky: bool = False) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(cout),
            nn.LeakyReLU(0.2, True) if leaky else nn.ReLU(True)]


def _up_bn_lrelu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, True)]


class StyleGenerator(nn.Module):
    """(normals (N, 3, S, S), z_tilde) -> image (N, C, S, S) in [-1, 1], the authors' plan at width w:
    the normals down to S/4 (5x5 stride-2 convolutions, w then 2w); z_tilde up to S/4 (a transposed
    convolution to S/16, then two x2: w channels); joined; 3x3 to 4w, stride 2 to 8w (S/8), 3x3 8w; three
    x2 transposed convolutions (4w, 2w, w) back to S; 5x5 to C; tanh. S a multiple of 16."""

    def __init__(self, latent_dim: int, channels: int, image_size: int, width: int) -> None:
        super().__init__()
        if image_size % 16 or image_size < 16:
            raise ValueError(f"StyleGenerator needs image_size a multiple of 16, got {image_size}")
        w = width
        self.normals = nn.Sequential(*_conv_bn_relu(3, w, 5, 2), *_conv_bn_relu(w, 2 * w, 5, 2))
        self.noise = nn.Sequential(
            nn.ConvTranspose2d(latent_dim, w, image_size // 16, bias=False), nn.BatchNorm2d(w), nn.ReLU(True),
            nn.ConvTranspose2d(w, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(True),
            nn.ConvTranspose2d(w, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(True))
        self.body = nn.Sequential(
            *_conv_bn_relu(3 * w, 4 * w, 3, 1), *_conv_bn_relu(4 * w, 8 * w, 3, 2),
            *_conv_bn_relu(8 * w, 8 * w, 3, 1, leaky=True),
            *_up_bn_lrelu(8 * w, 4 * w), *_up_bn_lrelu(4 * w, 2 * w), *_up_bn_lrelu(2 * w, w),
            nn.Conv2d(w, channels, 5, 1, 2), nn.Tanh())
        dcgan_init_(self)

    def forward(self, normals: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        noise = self.noise(z.view(z.size(0), -1, 1, 1))
        return self.body(torch.cat([self.normals(normals), noise], dim=1))


class S2Discriminator(nn.Module):
    """Image (N, C, S, S) -> one logit per image: the authors' D (``structure-gan/train.lua``,
    ``style-gan-nofcn/train.lua``) at base width w: five convolutions, kernels 5, 5, 3, 3, 3, widths w, 2w,
    4w, 8w, 2w, each followed by LeakyReLU 0.2, no normalisation; channel dropout (``SpatialDropout``,
    ``dropout``) after the third and the fourth; dropout ``head_dropout`` (their ``nn.Dropout()``: 0.5) on
    the flattened features; a linear layer to the logit. ``strides``: the five convolutions' strides, the
    Structure-GAN's (2, 1, 2, 2, 1), the Style-GAN's (2, 2, 2, 2, 1); S a multiple of their product."""

    def __init__(self, channels: int, image_size: int, width: int, strides: tuple[int, ...] = (2, 1, 2, 2, 1),
                 dropout: float = 0.2, head_dropout: float = 0.5) -> None:
        super().__init__()
        if len(strides) != 5:
            raise ValueError(f"S2Discriminator needs five strides, got {strides}")
        scale = 1
        for stride in strides:
            scale *= stride
        if image_size % scale:
            raise ValueError(f"S2Discriminator with strides {strides} needs image_size a multiple of {scale}, "
                             f"got {image_size}")
        w = width
        widths, kernels = (w, 2 * w, 4 * w, 8 * w, 2 * w), (5, 5, 3, 3, 3)
        layers: list[nn.Module] = []
        features = channels
        for index, (out, kernel, stride) in enumerate(zip(widths, kernels, strides)):
            layers += [nn.Conv2d(features, out, kernel, stride, kernel // 2), nn.LeakyReLU(0.2, True)]
            if index in (2, 3) and dropout > 0:
                layers.append(nn.Dropout2d(dropout))
            features = out
        side = image_size // scale
        layers += [nn.Flatten(), nn.Dropout(head_dropout) if head_dropout > 0 else nn.Identity(),
                   nn.Linear(features * side * side, 1)]
        self.net = nn.Sequential(*layers)
        dcgan_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


class S2Generator(nn.Module):
    """The chain: z = (z_hat, z_tilde) -> (normals, image): the Structure-GAN's G on z_hat (frozen: no
    gradient, eval mode whatever ``train()`` says), the Style-GAN's G on its normals and z_tilde."""

    def __init__(self, structure: StructureGenerator, style: StyleGenerator, structure_dim: int) -> None:
        super().__init__()
        self.structure = structure.requires_grad_(False).eval()
        self.style = style
        self.structure_dim = structure_dim

    def train(self, mode: bool = True) -> S2Generator:
        super().train(mode)
        self.structure.eval()
        return self

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            normals = self.structure(z[:, :self.structure_dim])
        return normals, self.style(normals, z[:, self.structure_dim:])


class NormalFCN(nn.Module):
    """Image (N, C, S, S) -> unit surface normals (N, 3, S, S): a small fully convolutional network for the
    Style-GAN's FCN constraint (the authors' is an AlexNet-like FCN classifying each pixel's normal into 40
    codes, ``style-gan-fcn/train_3dnormal_joint_scratch.lua``; here a regression to unit normals): two
    stride-2 4x4 convolutions (w, 2w), a 3x3 (2w), two x2 transposed convolutions (w, 3), per-pixel L2
    normalisation. S a multiple of 4."""

    def __init__(self, channels: int, width: int) -> None:
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(channels, w, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * w), nn.LeakyReLU(0.2, True),
            *_conv_bn_relu(2 * w, 2 * w, 3, 1, leaky=True),
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(True),
            nn.ConvTranspose2d(w, 3, 4, 2, 1))
        dcgan_init_(self)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return unit_normals(self.net(images))


def s2gan_discriminator(plan: str, channels: int, size: int, width: int, strides: tuple[int, ...], dropout: float,
                        head_dropout: float, norm: str = "none") -> nn.Module:
    """D of either plan: the authors' (``strides``: the stage's) or the project's DCGAN D (``norm``)."""
    if plan == "authors":
        return S2Discriminator(channels, size, width, strides, dropout, head_dropout)
    return DCGANDiscriminator(channels, size, width, norm=norm, dropout=dropout, head_dropout=head_dropout)
