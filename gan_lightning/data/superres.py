"""Super-resolution data: high-resolution (HR) images and their bicubic low-resolution (LR) versions.

Samples are dicts ``{"lr": (C, H / scale, W / scale), "hr": (C, H, W)}`` in [-1, 1] (and ``"label"`` for
the digits). ``lr`` is the network's input at its own, small size (SRGAN's generator upsamples inside,
with sub-pixel convolutions), not an upsampled copy; the bicubic baseline is
``F.interpolate(lr, scale_factor=scale, mode="bicubic")``. ``data_shape`` is the HR shape, what the
generator outputs; ``data_kind`` is ``"superres"``.

- :class:`SuperResolution`: random ``hr_size`` crops of the images of a folder (``root``) or, with
  ``root=None``, of the colour photos that ship with scikit-learn (``china.jpg``, ``flower.jpg``) and
  matplotlib (``grace_hopper.jpg``). LR is the HR crop downscaled by ``scale`` with PIL's bicubic filter
  (antialiased, as MATLAB's ``imresize`` the SR literature uses; Ledig et al. 2017: "bicubic kernel with
  downsampling factor r = 4", 96x96 HR crops). Held out: whole images (``heldout``: names of files or
  photos; default the last file by name, or ``grace_hopper``), cut into ``heldout_crops`` fixed crops.
- :class:`SuperResolutionDigits`: the bundled MNIST5k digits, 28 px HR and 7 px bicubic LR (scale 4),
  with their class labels (a digit classifier judges the SR outputs); held out: a stratified
  ``heldout_fraction`` of each class.

Training crops are drawn from a generator seeded by ``(seed, epoch, index)``
(:class:`~gan_lightning.data.base.EpochKeyedSampler` keys), never the global RNG: a resumed epoch
redraws exactly the crops the interrupted one drew, in worker processes too. Held-out crops are the
same for every epoch and run.

Images are decoded once, at set-up, and kept in memory as uint8 arrays.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from gan_lightning.data.base import EpochKeyedSampler, GANDataModule
from gan_lightning.data.files import DataFolderError
from gan_lightning.data.translation import IMAGE_EXTENSIONS, image_files, item_rng, remember_data_arguments, split_key

#: The offline photos: name -> where it ships.
PHOTOS = ("china", "flower", "grace_hopper")
DEFAULT_HELDOUT_PHOTO = "grace_hopper"


def photo_path(name: str) -> Path:
    """The file of one bundled photo (``china``, ``flower``: scikit-learn; ``grace_hopper``: matplotlib)."""
    if name in ("china", "flower"):
        import sklearn.datasets

        return Path(sklearn.datasets.__file__).parent / "images" / f"{name}.jpg"
    if name == "grace_hopper":
        import matplotlib

        return Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    raise ValueError(f"SuperResolution: unknown photo {name!r}; bundled photos: {', '.join(PHOTOS)}")


def bicubic_downscale(hr: np.ndarray, scale: int) -> np.ndarray:
    """HR uint8 (H, W, C) -> LR uint8 (H / scale, W / scale, C), PIL's (antialiased) bicubic filter."""
    from PIL import Image

    height, width = hr.shape[:2]
    image = Image.fromarray(hr[..., 0] if hr.shape[2] == 1 else hr)
    small = np.asarray(image.resize((width // scale, height // scale), Image.BICUBIC))
    return small[..., None] if small.ndim == 2 else small


def to_unit_range(pixels: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, C) -> float (C, H, W) in [-1, 1]."""
    return torch.from_numpy(np.array(pixels, dtype=np.uint8, copy=True)).permute(2, 0, 1).float().div(127.5).sub(1.0)


def bicubic_upscale(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """The bicubic baseline: LR (N, C, h, w) in [-1, 1] upscaled ``scale`` times, clamped to [-1, 1]."""
    return torch.nn.functional.interpolate(lr, scale_factor=scale, mode="bicubic", align_corners=False).clamp(-1, 1)


class CropPairs(Dataset):
    """(LR, HR) crops of in-memory images. ``train``: the image and position of item ``index`` of
    epoch ``epoch`` come from ``item_rng(seed, epoch, index)``; else item ``index`` is a fixed crop."""

    def __init__(self, images: Sequence[np.ndarray], hr_size: int, scale: int, length: int, seed: int,
                 train: bool) -> None:
        self.images, self.hr_size, self.scale = list(images), hr_size, scale
        self.length, self.seed, self.train = length, seed, train
        # an image is drawn in proportion to its area, so every region is as likely
        areas = np.array([image.shape[0] * image.shape[1] for image in self.images], dtype=np.float64)
        self.weights = areas / areas.sum()

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, key: int) -> dict[str, torch.Tensor]:
        epoch, index = split_key(key, self.length)
        # held-out crops: one fixed draw per index, away from the training stream's keys
        rng = item_rng(self.seed, epoch, index) if self.train else item_rng(self.seed + 7919, 0, index)
        image = self.images[int(rng.choice(len(self.images), p=self.weights))]
        top = int(rng.integers(0, image.shape[0] - self.hr_size + 1))
        left = int(rng.integers(0, image.shape[1] - self.hr_size + 1))
        hr = image[top : top + self.hr_size, left : left + self.hr_size]
        return {"lr": to_unit_range(bicubic_downscale(hr, self.scale)), "hr": to_unit_range(hr)}


def _check_scale(owner: str, hr_size: int, scale: int) -> None:
    if scale < 2:
        raise ValueError(f"{owner}: scale must be >= 2, got {scale}")
    if hr_size < scale or hr_size % scale:
        raise ValueError(f"{owner}: hr_size must be a multiple of scale ({scale}), got {hr_size}")


class SuperResolution(GANDataModule):
    """HR crops of a folder of images (or of the bundled photos) with their bicubic LR (SRGAN's data).

    Args:
        root: a folder of images (not recursive); None: the bundled photos (china, flower, grace_hopper).
        hr_size: side of the square HR crops (SRGAN: 96).
        scale: downscaling factor of LR (SRGAN: 4).
        channels: 3 (RGB) or 1 (grey).
        crops_per_epoch: training items per epoch (each a fresh random crop).
        heldout: files (names in ``root``, with or without extension) or photo names held out; None:
            the last file by name, or ``grace_hopper`` for the photos.
        heldout_crops: fixed crops of the held-out images for validation / test.
    """

    data_kind = "superres"
    train_sampler_class = EpochKeyedSampler

    def __init__(self, root: str | None = None, hr_size: int = 96, scale: int = 4, channels: int = 3,
                 crops_per_epoch: int = 1024, heldout: list[str] | None = None, heldout_crops: int = 64,
                 batch_size: int = 16, num_workers: int = 0, seed: int = 0) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        remember_data_arguments(self)
        _check_scale("SuperResolution", hr_size, scale)
        if channels not in (1, 3):
            raise ValueError(f"data.channels must be 1 or 3, got {channels}")
        if crops_per_epoch < 1 or heldout_crops < 1:
            raise ValueError(f"SuperResolution: crops_per_epoch and heldout_crops must be >= 1, got "
                             f"{crops_per_epoch}, {heldout_crops}")
        self.root, self.hr_size, self.scale, self.channels = root, hr_size, scale, channels
        self.crops_per_epoch, self.heldout_crops = crops_per_epoch, heldout_crops
        self.heldout = list(heldout) if heldout is not None else None
        self.data_shape = (channels, hr_size, hr_size)
        self.lr_shape = (channels, hr_size // scale, hr_size // scale)

    def sources(self) -> tuple[list[Path], list[Path]]:
        """(training files, held-out files)."""
        if self.root is None:
            files = {name: photo_path(name) for name in PHOTOS}
            held = self.heldout if self.heldout is not None else [DEFAULT_HELDOUT_PHOTO]
            unknown = [name for name in held if name not in files]
            if unknown:
                raise ValueError(f"SuperResolution: heldout photo {unknown[0]!r} is not one of {', '.join(PHOTOS)}")
        else:
            folder = Path(self.root)
            if not folder.is_dir():
                raise DataFolderError(f"SuperResolution: data.root {folder.resolve()} is not a folder")
            found = image_files(folder)
            if len(found) < 2:
                raise DataFolderError(f"SuperResolution: {folder.resolve()} has {len(found)} image files "
                                      f"({', '.join(IMAGE_EXTENSIONS)}); training and held-out images need >= 2")
            files = {path.name: path for path in found}
            stems = {path.stem: path.name for path in found}
            held = self.heldout if self.heldout is not None else [found[-1].name]
            held = [stems.get(name, name) for name in held]
            unknown = [name for name in held if name not in files]
            if unknown:
                raise ValueError(f"SuperResolution: heldout file {unknown[0]!r} is not in {folder.resolve()}")
        train = [path for name, path in files.items() if name not in held]
        if not train:
            raise ValueError(f"SuperResolution: every image is held out ({', '.join(held)}); keep one for training")
        return train, [files[name] for name in held]

    def load(self, path: Path) -> np.ndarray:
        from PIL import Image

        try:
            with Image.open(path) as image:
                pixels = np.asarray(image.convert("L" if self.channels == 1 else "RGB"))
        except OSError as error:
            raise DataFolderError(f"SuperResolution: {path} cannot be read as an image ({error})") from error
        pixels = pixels[..., None] if pixels.ndim == 2 else pixels
        if min(pixels.shape[:2]) < self.hr_size:
            raise DataFolderError(f"SuperResolution: {path} is {pixels.shape[1]}x{pixels.shape[0]}, smaller than "
                                  f"data.hr_size {self.hr_size}")
        return pixels

    def build_datasets(self):
        train_files, heldout_files = self.sources()
        train = CropPairs([self.load(p) for p in train_files], self.hr_size, self.scale, self.crops_per_epoch,
                          self.seed, train=True)
        heldout = CropPairs([self.load(p) for p in heldout_files], self.hr_size, self.scale, self.heldout_crops,
                            self.seed, train=False)
        return train, heldout


class DigitPairs(Dataset):
    """MNIST digits as ``{"lr", "hr", "label"}``, LR made once (bicubic)."""

    def __init__(self, lr: torch.Tensor, hr: torch.Tensor, labels: torch.Tensor) -> None:
        self.lr, self.hr, self.labels = lr, hr, labels

    def __len__(self) -> int:
        return len(self.hr)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"lr": self.lr[index], "hr": self.hr[index], "label": self.labels[index]}


class SuperResolutionDigits(GANDataModule):
    """MNIST5k super-resolution: 28 px digits (HR) from their 7 px bicubic versions (LR), with labels.

    Args:
        scale: downscaling factor (4: 28 -> 7 px; 2: 28 -> 14 px).
        heldout_fraction: the held-out share of each class (seeded).
    """

    data_kind = "superres"
    num_classes = 10

    def __init__(self, scale: int = 4, heldout_fraction: float = 0.1, batch_size: int = 64, num_workers: int = 0,
                 seed: int = 0) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        remember_data_arguments(self)
        _check_scale("SuperResolutionDigits", 28, scale)
        self.scale, self.heldout_fraction = scale, heldout_fraction
        self.data_shape = (1, 28, 28)
        self.lr_shape = (1, 28 // scale, 28 // scale)

    def build_datasets(self):
        from gan_lightning.data.base import split_heldout
        from gan_lightning.data.images import load_mnist5k

        images, labels = load_mnist5k()
        pixels = images.numpy()[..., None]
        lr = torch.stack([to_unit_range(bicubic_downscale(image, self.scale)) for image in pixels])
        hr = images.float().div(127.5).sub(1.0).unsqueeze(1)
        return split_heldout(DigitPairs(lr, hr, labels), labels.tolist(), self.heldout_fraction, self.seed)
