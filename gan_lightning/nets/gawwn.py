"""GAWWN's box-conditional networks (Reed et al. 2016, "Learning What and Where to Draw"; the authors'
reedscot/nips2016 ``main_cub_bbox.lua``), at 64 px instead of 128.

The box says *where*: a (x0, y0, x1, y1) box in [0, 1] canvas coordinates acts on a ``grid`` x
``grid`` (16 x 16) feature map through a spatial transformer (``F.affine_grid`` / ``F.grid_sample``,
the authors' ``AffineGridGeneratorBHWD`` + ``BilinearSamplerBHWD``): :class:`BoxTransform` ``place``
squeezes a whole map into the box, zero outside it (the authors' inverse crop, ``CropInvert``, for G);
``crop`` stretches the box's content over the whole map (D's region pathway).

- :class:`BoxGenerator`: a *global* pathway (the text feature replicated over the grid and placed in
  the box, convolved down to a vector, joined with z, deconvolved back to the grid) and a *local*
  one ([z, text] deconvolved to the grid through the authors' bottleneck residual blocks, then placed
  in the box), joined at 16 x 16 and upsampled to the image.
- :class:`KeypointGenerator` / :class:`KeypointDiscriminator`: the keypoint-conditional model
  (``main_cub_keypoints.lua``): keypoints as one-hot 16 x 16 maps, the text kept where a keypoint is.
- :class:`BoxDiscriminator`: image features at 16 x 16; a *region* pathway ([features, text
  replicated] -> conv3x3 -> cropped to the box -> 1x1 convs -> mean over space) and a *global* one
  (the features down to 4 x 4 beside the text placed in the box, down to 4 x 4), joined by two linear
  layers into one logit per (image, box, text).

One change to the authors' D (both models): their BatchNorm on D's 1 x 1 features (after the global
pathway's last 4x4 convolution and between the two final linear layers) is left out. Real, wrong and
fake batches pass D apart, so a BatchNorm over features without a spatial extent makes every batch's
mean feature the same, whatever the batch holds: with it D stayed at chance here (real vs fake
binary cross-entropy ln 2 after 150 iterations; without it D separates real digits from noise in
tens of steps).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gan_lightning.nets.dcgan import dcgan_init_
from gan_lightning.nets.text import ReplicateJoin, Residual, residual_block


def gawwn_init_(module: nn.Module) -> None:
    """The authors' ``weights_init``: convolutions N(0, 0.02) with zero biases, BatchNorm weights N(1, 0.02);
    linear layers keep the framework's default (Torch7's and PyTorch's U(-1/sqrt(fan_in), 1/sqrt(fan_in)):
    the authors' function leaves them alone; N(0, 0.02) there stalls D's two-layer head at chance)."""
    dcgan_init_(module)
    for m in module.modules():
        if isinstance(m, nn.Linear):
            m.reset_parameters()
        elif isinstance(m, nn.BatchNorm1d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def box_affine(box: torch.Tensor, place: bool, smallest: float) -> torch.Tensor:
    """The (N, 2, 3) sampling affines of boxes (N, 4) = (x0, y0, x1, y1) in [0, 1]: ``place`` maps the
    whole map into the box (output inside the box reads the whole input), else the box is cropped."""
    x0, y0, x1, y1 = box.unbind(1)
    width, height = (x1 - x0).clamp_min(smallest), (y1 - y0).clamp_min(smallest)  # half-sizes in [-1, 1] units
    cx, cy = x0 + x1 - 1.0, y0 + y1 - 1.0
    zero = torch.zeros_like(cx)
    if place:
        rows = [torch.stack([1.0 / width, zero, -cx / width], 1), torch.stack([zero, 1.0 / height, -cy / height], 1)]
    else:
        rows = [torch.stack([width, zero, cx], 1), torch.stack([zero, height, cy], 1)]
    return torch.stack(rows, 1)


class BoxTransform(nn.Module):
    """(features (N, C, G, G), boxes (N, 4)) -> the features placed into each box (``place``, zero
    outside it) or each box's content cropped to the whole map (``crop``)."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        if mode not in ("place", "crop"):
            raise ValueError(f"BoxTransform mode must be place or crop, got {mode!r}")
        self.place = mode == "place"

    def forward(self, features: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
        theta = box_affine(box.to(features.dtype), self.place, 1.0 / features.size(-1))
        grid = F.affine_grid(theta, list(features.shape), align_corners=False)
        return F.grid_sample(features, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class BoxText(nn.Module):
    """(text feature (N, T), boxes) -> the feature replicated over the grid and placed in the box (N, T, G, G)."""

    def __init__(self, grid: int) -> None:
        super().__init__()
        self.grid, self.place = grid, BoxTransform("place")

    def forward(self, text: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
        return self.place(text[:, :, None, None].expand(-1, -1, self.grid, self.grid), box)


class ChannelJoin(nn.Module):
    """[a, b] along the channels."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.cat([a, b], dim=1)


def down(inputs: int, outputs: int, activation: nn.Module, norm: bool = True) -> list[nn.Module]:
    """A 4x4 stride-2 convolution (BN) and ``activation``."""
    return [nn.Conv2d(inputs, outputs, 4, 2, 1), *([nn.BatchNorm2d(outputs)] if norm else []), activation]


def up(inputs: int, outputs: int, kernel: int = 4, stride: int = 2, padding: int = 1) -> list[nn.Module]:
    """A transposed convolution and BN."""
    return [nn.ConvTranspose2d(inputs, outputs, kernel, stride, padding), nn.BatchNorm2d(outputs)]


def check_grid(image_size: int, grid: int) -> int:
    doublings = round(math.log2(image_size / grid))
    if grid != 16 or grid * 2**doublings != image_size or doublings < 1:
        raise ValueError(f"GAWWN's networks work on a 16 x 16 grid of a power-of-two image side >= 32, "
                         f"got image size {image_size}")
    return doublings


def image_features(channels: int, image_size: int, ndf: int, grid: int) -> nn.Sequential:
    """D's image features at the grid's side (2 ndf channels): the authors' ``imgGlobalD``."""
    doublings = check_grid(image_size, grid)
    leaky = nn.LeakyReLU(0.2, True)
    layers: list[nn.Module] = []
    c = channels
    for i in range(doublings):  # the authors' 128 px: ndf, ndf, then 2 ndf with BN
        out = 2 * ndf if i == doublings - 1 else ndf
        layers += down(c, out, leaky, norm=i == doublings - 1)
        c = out
    return nn.Sequential(*layers, nn.Conv2d(2 * ndf, 2 * ndf, 3, 1, 1), nn.BatchNorm2d(2 * ndf), leaky)


def upsampling_head(channels: int, width: int, outputs: int, doublings: int) -> list[nn.Module]:
    """Transposed convolutions from the grid to the image: ``width`` channels, then halving (>= 16), tanh at
    the end."""
    layers: list[nn.Module] = []
    c = channels
    for i in range(doublings):
        if i == doublings - 1:
            layers += [nn.ConvTranspose2d(c, outputs, 4, 2, 1), nn.Tanh()]
        else:
            out = width if i == 0 else max(width // 2**i, 16)
            layers += [*up(c, out), nn.ReLU(True)]
            c = out
    return layers


class BoxGenerator(nn.Module):
    """G(z, text embedding, box) -> image (N, C, S, S)."""

    def __init__(self, latent_dim: int, embedding_dim: int, channels: int, image_size: int, width: int = 128,
                 grid: int = 16) -> None:
        super().__init__()
        doublings = check_grid(image_size, grid)
        ngf = width
        relu = nn.ReLU(True)
        self.text = nn.Linear(embedding_dim, 4 * ngf)  # the authors' prep_txt_g, shared by both pathways
        self.box_text = BoxText(grid)
        self.global_down = nn.Sequential(*down(4 * ngf, 4 * ngf, relu), *down(4 * ngf, 4 * ngf, relu),
                                         nn.Conv2d(4 * ngf, 4 * ngf, 4), nn.BatchNorm2d(4 * ngf), relu)
        self.global_noise = nn.Sequential(nn.Linear(latent_dim, 4 * ngf), relu)
        self.global_up = nn.Sequential(*up(8 * ngf, 8 * ngf, 4, 1, 0), relu, *up(8 * ngf, 4 * ngf), relu,
                                       *up(4 * ngf, 2 * ngf), relu)
        self.local_noise = nn.Linear(latent_dim, 4 * ngf)  # the authors' prep_noise
        self.local_up = nn.Sequential(
            *up(8 * ngf, 8 * ngf, 4, 1, 0), Residual(residual_block(8 * ngf, 2 * ngf, relu), relu),
            *up(8 * ngf, 4 * ngf), Residual(residual_block(4 * ngf, ngf, relu), relu), *up(4 * ngf, 2 * ngf))
        self.place = BoxTransform("place")
        self.merge = nn.Sequential(nn.Conv2d(4 * ngf, 2 * ngf, 3, 1, 1), nn.BatchNorm2d(2 * ngf), relu,
                                   *upsampling_head(2 * ngf, ngf, channels, doublings))  # 128 px: ngf, then 32
        gawwn_init_(self)

    def text_map(self, embedding: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
        """The global pathway's text feature map: the projected text in the box, zero outside (N, 4 ngf, G, G)."""
        return self.box_text(self.text(embedding), box)

    def forward(self, z: torch.Tensor, embedding: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
        text = self.text(embedding)
        pooled = self.global_down(self.box_text(text, box)).flatten(1)
        joined = torch.relu(torch.cat([self.global_noise(z), pooled], 1))
        global_map = self.global_up(joined[:, :, None, None])
        local = torch.relu(torch.cat([self.local_noise(z), text], 1))
        local_map = torch.relu(self.place(self.local_up(local[:, :, None, None]), box))
        return self.merge(torch.cat([global_map, local_map], 1))


class BoxDiscriminator(nn.Module):
    """D(x, text embedding, box) -> one logit per (image, box, text)."""

    def __init__(self, channels: int, image_size: int, embedding_dim: int, width: int = 128, text_dim: int = 128,
                 grid: int = 16) -> None:
        super().__init__()
        ndf, nt = width, text_dim
        leaky = nn.LeakyReLU(0.2, True)
        self.image_features = image_features(channels, image_size, ndf, grid)
        self.text = nn.Sequential(nn.Linear(embedding_dim, nt), leaky)  # the authors' prep_txt_d, shared
        self.region_join = ReplicateJoin()
        self.region_features = nn.Sequential(nn.Conv2d(2 * ndf + nt, 2 * ndf, 3, 1, 1), nn.BatchNorm2d(2 * ndf), leaky)
        self.crop = BoxTransform("crop")
        self.region_head = nn.Sequential(nn.Conv2d(2 * ndf, 2 * ndf, 1), nn.BatchNorm2d(2 * ndf), leaky,
                                         nn.Conv2d(2 * ndf, ndf, 1))
        self.global_image = nn.Sequential(*down(2 * ndf, 4 * ndf, leaky), *down(4 * ndf, 8 * ndf, leaky))
        self.box_text = BoxText(grid)
        relu = nn.ReLU(True)
        self.global_text = nn.Sequential(*down(nt, 4 * ndf, relu), *down(4 * ndf, ndf, relu))
        self.global_join = ChannelJoin()
        self.global_head = nn.Sequential(nn.Conv2d(9 * ndf, 4 * ndf, 1), nn.BatchNorm2d(4 * ndf), leaky,
                                         nn.Conv2d(4 * ndf, ndf, 4), leaky, nn.Flatten())
        self.judge = nn.Sequential(nn.Linear(2 * ndf, ndf), leaky, nn.Linear(ndf, 1))
        gawwn_init_(self)

    def forward(self, x: torch.Tensor, embedding: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
        features = self.image_features(x)
        text = self.text(embedding)
        region = self.region_head(self.crop(self.region_features(self.region_join(features, text)), box))
        region = F.leaky_relu(region.mean((2, 3)), 0.2)
        whole = self.global_head(self.global_join(self.global_image(features), self.global_text(self.box_text(text, box))))
        return self.judge(torch.cat([region, whole], 1)).flatten()


# ---------------------------------------------------------------------------- the keypoint-conditional model
class KeypointMaps(nn.Module):
    """Keypoints (N, K, 2) as (x, y) in [0, 1] -> K one-hot maps (N, K, G, G) (the authors' ``keypoint_dim`` 16)."""

    def __init__(self, grid: int) -> None:
        super().__init__()
        self.grid = grid

    def forward(self, keypoints: torch.Tensor) -> torch.Tensor:
        cells = (keypoints * self.grid).floor().clamp(0, self.grid - 1).long()
        index = cells[..., 1] * self.grid + cells[..., 0]  # (N, K) row-major
        maps = torch.zeros(*index.shape, self.grid * self.grid, device=keypoints.device, dtype=keypoints.dtype)
        return maps.scatter_(2, index.unsqueeze(-1), 1.0).view(*index.shape, self.grid, self.grid)


def presence(maps: torch.Tensor) -> torch.Tensor:
    """Where any keypoint is: the maps summed over keypoints, clamped to [0, 1] (N, 1, G, G)."""
    return maps.sum(1, keepdim=True).clamp(0.0, 1.0)


class KeypointGenerator(nn.Module):
    """G(z, text embedding, keypoints) -> image (``main_cub_keypoints.lua``): a region pathway (a
    [z, text] code replicated over the grid, kept only at the keypoints, conv3x3), a global one (the
    [z, text] code beside the keypoint maps convolved to a vector, deconvolved to the grid), joined
    with the maps, two conv3x3, a bottleneck residual block, upsampled to the image."""

    def __init__(self, latent_dim: int, embedding_dim: int, channels: int, image_size: int, width: int = 128,
                 keypoints: int = 5, grid: int = 16) -> None:
        super().__init__()
        doublings = check_grid(image_size, grid)
        ngf, relu = width, nn.ReLU(True)
        self.noise = nn.Linear(latent_dim, 4 * ngf)  # the authors' noise_txt, shared by both pathways
        self.text = nn.Linear(embedding_dim, 4 * ngf)
        self.maps = KeypointMaps(grid)
        self.region_code = nn.Sequential(nn.Linear(8 * ngf, 4 * ngf), nn.BatchNorm1d(4 * ngf), relu)
        self.region = nn.Sequential(nn.Conv2d(4 * ngf, 4 * ngf, 3, 1, 1), nn.BatchNorm2d(4 * ngf), relu)
        self.global_code = nn.Sequential(nn.Linear(8 * ngf, 4 * ngf), nn.BatchNorm1d(4 * ngf), relu)
        self.global_keypoints = nn.Sequential(*down(keypoints, ngf, relu), *down(ngf, 2 * ngf, relu),
                                              nn.Conv2d(2 * ngf, 4 * ngf, 4), nn.BatchNorm2d(4 * ngf), relu)
        self.global_up = nn.Sequential(*up(8 * ngf, 4 * ngf, 4, 1, 0), relu, *up(4 * ngf, 2 * ngf), relu,
                                       *up(2 * ngf, ngf), relu)
        self.merge = nn.Sequential(
            nn.Conv2d(5 * ngf + keypoints, 4 * ngf, 3, 1, 1), nn.BatchNorm2d(4 * ngf), relu,
            nn.Conv2d(4 * ngf, 4 * ngf, 3, 1, 1), nn.BatchNorm2d(4 * ngf),
            Residual(residual_block(4 * ngf, ngf, relu), relu), *upsampling_head(4 * ngf, 2 * ngf, channels, doublings))
        gawwn_init_(self)

    def forward(self, z: torch.Tensor, embedding: torch.Tensor, keypoints: torch.Tensor) -> torch.Tensor:
        maps = self.maps(keypoints)
        code = torch.relu(torch.cat([self.noise(z), self.text(embedding)], 1))
        grid = maps.size(-1)
        region = self.region(self.region_code(code)[:, :, None, None].expand(-1, -1, grid, grid) * presence(maps))
        whole = torch.cat([self.global_code(code), self.global_keypoints(maps).flatten(1)], 1)
        return self.merge(torch.cat([self.global_up(whole[:, :, None, None]), region, maps], 1))


class KeypointDiscriminator(nn.Module):
    """D(x, text embedding, keypoints) -> one logit: a region pathway ([features, text] -> conv3x3, kept at
    the keypoints, joined with the maps, 1x1 convs, mean over space) and a global one (features to
    4 x 4 beside the text replicated 4 x 4), two linear layers."""

    def __init__(self, channels: int, image_size: int, embedding_dim: int, width: int = 64, text_dim: int = 128,
                 keypoints: int = 5, grid: int = 16) -> None:
        super().__init__()
        ndf, nt = width, text_dim
        leaky = nn.LeakyReLU(0.2, True)
        self.image_features = image_features(channels, image_size, ndf, grid)
        self.text = nn.Sequential(nn.Linear(embedding_dim, nt), leaky)
        self.maps = KeypointMaps(grid)
        self.region_join = ReplicateJoin()
        self.region_features = nn.Sequential(nn.Conv2d(2 * ndf + nt, 2 * ndf, 3, 1, 1), nn.BatchNorm2d(2 * ndf), leaky)
        self.keypoint_join = ChannelJoin()
        self.region_head = nn.Sequential(nn.Conv2d(2 * ndf + keypoints, 2 * ndf, 1), nn.BatchNorm2d(2 * ndf), leaky,
                                         nn.Conv2d(2 * ndf, ndf, 1))
        self.global_image = nn.Sequential(*down(2 * ndf, 4 * ndf, leaky), *down(4 * ndf, 8 * ndf, leaky))
        self.global_join = ReplicateJoin()
        self.global_head = nn.Sequential(nn.Conv2d(8 * ndf + nt, 4 * ndf, 1), nn.BatchNorm2d(4 * ndf), leaky,
                                         nn.Conv2d(4 * ndf, ndf, 4), leaky, nn.Flatten())
        self.judge = nn.Sequential(nn.Linear(2 * ndf, ndf), leaky, nn.Linear(ndf, 1))
        gawwn_init_(self)

    def forward(self, x: torch.Tensor, embedding: torch.Tensor, keypoints: torch.Tensor) -> torch.Tensor:
        features, text, maps = self.image_features(x), self.text(embedding), self.maps(keypoints)
        region = self.region_features(self.region_join(features, text)) * presence(maps)
        region = F.leaky_relu(self.region_head(self.keypoint_join(region, maps)).mean((2, 3)), 0.2)
        whole = self.global_head(self.global_join(self.global_image(features), text))
        return self.judge(torch.cat([region, whole], 1)).flatten()
