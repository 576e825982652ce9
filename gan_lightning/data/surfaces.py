"""SurfaceDigits: real MNIST5k digits as surfaces: their normals (structure) and a shaded texture (style).

The setting of S^2-GAN (Wang & Gupta 2016), offline and with a known ground truth: the image is a function
of the structure. For each real MNIST5k digit (28 px padded to 32, other sizes resized,
:func:`~gan_lightning.data.digit_domains.mnist_digits`):

- **height field** h: the Euclidean distance transform of the ink (pixels above mid-grey; each ink pixel's
  distance to the nearest background pixel, ``scipy.ndimage.distance_transform_edt``), Gaussian-smoothed
  (``smoothing`` pixels) and scaled by ``height`` (a stroke is a ridge, highest along its middle);
- **structure** ``normals``: n = normalize(-dh/dx, -dh/dy, 1) (central differences, x along columns, y along
  rows), 3 channels in [-1, 1], unit vectors at every pixel (the background is flat: (0, 0, 1));
- **style** ``image``: Lambertian shading max(0, n . l) with the fixed unit light direction ``light``,
  times a crop of a real texture bundled with scikit-image (brick, grass or gravel, the textures of
  :func:`~gan_lightning.data.captions.textures`, shrunk by ``texture_scale``; each image's texture and
  crop drawn once from ``(seed, index)``), mapped to [-1, 1], grey in ``channels`` (1 or 3) channels.

:func:`surface_normals` and :func:`shade` are the ground truth (tests, benchmarks). Samples are dicts
``{"image", "normals", "label"}`` (the label: the digit's class, for judges and tests only). Held out:
``heldout_fraction`` of each class (seeded). Everything is computed once at set-up as tensors.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from gan_lightning.data.base import GANDataModule, class_balanced_subset, split_heldout
from gan_lightning.data.captions import textures
from gan_lightning.data.digit_domains import mnist_digits

TEXTURES = ("brick", "grass", "gravel")
#: The default light: from the upper left, 45 degrees above the surface (normalised when used).
LIGHT = (-1.0, -1.0, 1.4142135623730951)


def height_field(digits: torch.Tensor, smoothing: float = 1.0, height: float = 1.0) -> torch.Tensor:
    """(N, 1, S, S) heights of grey digits in [-1, 1]: the ink's distance transform, Gaussian-smoothed, scaled."""
    from scipy.ndimage import distance_transform_edt, gaussian_filter

    ink = (digits[:, 0] > 0).numpy()
    fields = np.stack([distance_transform_edt(mask) for mask in ink]).astype(np.float32)
    if smoothing > 0:
        fields = gaussian_filter(fields, sigma=(0, smoothing, smoothing))
    return torch.from_numpy(fields * height).unsqueeze(1)


def surface_normals(h: torch.Tensor) -> torch.Tensor:
    """Unit normals (N, 3, S, S) of height fields (N, 1, S, S): normalize(-dh/dx, -dh/dy, 1), central differences
    (one-sided at the border)."""
    dx = torch.gradient(h, dim=3)[0]
    dy = torch.gradient(h, dim=2)[0]
    return F.normalize(torch.cat([-dx, -dy, torch.ones_like(h)], dim=1), dim=1)


def shade(normals: torch.Tensor, light: Sequence[float] = LIGHT) -> torch.Tensor:
    """Lambertian shading max(0, n . l) (N, 1, S, S) of unit normals (N, 3, S, S), ``light`` normalised."""
    direction = F.normalize(torch.as_tensor(light, dtype=normals.dtype, device=normals.device), dim=0)
    return (normals * direction.view(1, 3, 1, 1)).sum(dim=1, keepdim=True).clamp(min=0.0)


@functools.lru_cache(maxsize=2)
def _texture_maps(scale: float) -> dict[str, torch.Tensor]:
    """The scikit-image textures (grey, [0, 1]) shrunk by ``scale`` (area averaging)."""
    out = {}
    for name, image in textures().items():
        t = torch.from_numpy(image).view(1, 1, *image.shape)
        size = max(1, round(image.shape[0] * scale))
        out[name] = F.interpolate(t, size=size, mode="area")[0, 0] if scale != 1 else t[0, 0]
    return out


def texture_crops(count: int, size: int, names: Sequence[str], scale: float, seed: int) -> torch.Tensor:
    """(count, 1, size, size) crops in [0, 1]: texture and position of each drawn from ``seed``."""
    maps = _texture_maps(scale)
    generator = torch.Generator().manual_seed(seed)
    choice = torch.randint(len(names), (count,), generator=generator).tolist()
    crops = torch.empty(count, 1, size, size)
    for i, k in enumerate(choice):
        texture = maps[names[k]]
        span_y, span_x = texture.size(0) - size + 1, texture.size(1) - size + 1
        top = int(torch.randint(span_y, (1,), generator=generator))
        left = int(torch.randint(span_x, (1,), generator=generator))
        crops[i, 0] = texture[top:top + size, left:left + size]
    return crops


class SurfaceSet(Dataset):
    """``{"image", "normals", "label"}`` of the chosen digits (tensor slices)."""

    def __init__(self, images: torch.Tensor, normals: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.normals, self.labels = images, normals, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"image": self.images[index], "normals": self.normals[index], "label": self.labels[index]}


class SurfaceDigits(GANDataModule):
    """MNIST5k digits as height fields: their surface normals (``normals``) and a Lambertian-shaded real
    texture (``image``), S^2-GAN's structure and style.

    Args:
        image_size: the side in pixels (32: MNIST's 28 px padded; others resized).
        channels: the image's channels, 1 or 3 (grey, replicated); the normals always have 3.
        smoothing: the Gaussian smoothing of the distance transform, in pixels (0: none).
        height: the height field's scale (steeper strokes, darker slopes away from the light).
        light: the light direction (x right, y down, z towards the viewer), normalised.
        textures: the scikit-image textures drawn from (brick, grass, gravel).
        texture_scale: the textures' shrink factor before cropping (their 512 px cover the crop at 1/4).
        heldout_fraction: held out of each class (seeded).
        train_size: train on this many of the training digits (a class-balanced seeded pick; None: all).
    """

    data_kind = "surfaces"
    num_classes = 10

    def __init__(self, image_size: int = 32, channels: int = 3, smoothing: float = 1.0, height: float = 2.0,
                 light: Sequence[float] = LIGHT, textures: Sequence[str] = TEXTURES, texture_scale: float = 0.25,
                 heldout_fraction: float = 0.1, train_size: int | None = None, batch_size: int = 64,
                 num_workers: int = 0, seed: int = 0) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        if channels not in (1, 3):
            raise ValueError(f"data.channels must be 1 or 3, got {channels}")
        if image_size < 8:
            raise ValueError(f"data.image_size must be >= 8, got {image_size}")
        if smoothing < 0 or height <= 0:
            raise ValueError(f"data.smoothing must be >= 0 and data.height > 0, got {smoothing} and {height}")
        if len(light) != 3 or not light[2] > 0:
            raise ValueError(f"data.light must be 3 numbers (x, y, z) with z > 0 (above the surface), got {light}")
        unknown = [name for name in textures if name not in TEXTURES]
        if unknown or not textures:
            raise ValueError(f"data.textures: unknown texture {unknown[0] if unknown else None!r}; "
                             f"textures: {', '.join(TEXTURES)}")
        if not 0 < texture_scale <= 1 or round(512 * texture_scale) < image_size:
            raise ValueError(f"data.texture_scale must be in (0, 1] and leave the 512 px textures at least "
                             f"{image_size} px, got {texture_scale}")
        if train_size is not None and train_size < 1:
            raise ValueError(f"data.train_size must be >= 1 or null, got {train_size}")
        self.image_size, self.channels = image_size, channels
        self.smoothing, self.height, self.light = float(smoothing), float(height), tuple(float(v) for v in light)
        self.textures, self.texture_scale = tuple(textures), float(texture_scale)
        self.heldout_fraction, self.train_size = heldout_fraction, train_size
        self.data_shape = (channels, image_size, image_size)

    def surfaces(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(images (N, C, S, S), normals (N, 3, S, S), labels) of all of MNIST5k, both in [-1, 1]."""
        digits, labels = mnist_digits(self.image_size)
        normals = surface_normals(height_field(digits, self.smoothing, self.height))
        crops = texture_crops(len(labels), self.image_size, self.textures, self.texture_scale, self.seed)
        image = (shade(normals, self.light) * crops).mul(2.0).sub(1.0)
        return image.expand(-1, self.channels, -1, -1).contiguous(), normals, labels

    def build_datasets(self):
        images, normals, labels = self.surfaces()
        whole = SurfaceSet(images, normals, labels)
        train, held = split_heldout(whole, labels.tolist(), self.heldout_fraction, self.seed)
        if self.train_size is not None:
            train = class_balanced_subset(train, labels.tolist(), self.train_size, self.seed)
        return train, held
