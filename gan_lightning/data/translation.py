"""Image-to-image data from folders: pix2pix pairs, CycleGAN's unpaired domains, CelebA-style attributes.

- :class:`PairedImageFolder`: pix2pix's layout, ``A|B`` side-by-side images under ``root/train``,
  ``root/val``, ``root/test`` (or the two folders ``root/A/<split>`` and ``root/B/<split>`` of
  same-named files that pix2pix's ``combine_A_and_B.py`` joins). Samples ``{"a": input, "b": target}``
  with ``direction`` applied ("BtoA": ``a`` is the right half).
- :class:`UnpairedImageFolder`: CycleGAN's layout, ``root/trainA``, ``root/trainB`` (held out:
  ``testA``, ``testB``); ``a`` and ``b`` drawn independently.
- :class:`AttributeImageFolder`: a folder of images and CelebA's ``list_attr_celeba.txt``
  (StarGAN); samples ``{"image": x, "attributes": 0/1 float vector of the selected names}``.

Augmentation is the papers': pix2pix / CycleGAN resize to ``load_size`` (bicubic), take a random
``image_size`` crop and flip horizontally half of the time, the same crop and flip for ``a`` and ``b``
(junyanz/pytorch-CycleGAN-and-pix2pix, data/base_dataset.py ``get_params`` / ``get_transform``);
StarGAN flips, center-crops 178 and resizes (yunjey/stargan, data_loader.py). The draws come from a
generator seeded by ``(seed, epoch, index)``, never the global RNG: the training sampler
(:class:`~gan_lightning.data.base.EpochKeyedSampler`) yields ``epoch * len + index`` keys, so an
item is a pure function of its key, in worker processes too, and a resumed epoch redraws exactly
the crops, flips and unpaired partners the interrupted one drew. Held-out items are deterministic:
pix2pix / CycleGAN center-crop the ``load_size`` image (the scale training sees), StarGAN does not flip.

Problems with the files stop the run at set-up with one line naming them
(:class:`~gan_lightning.data.files.DataFolderError`, exit status 2 on the command line).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from gan_lightning.data.base import EpochKeyedSampler, GANDataModule, remember_data_arguments  # noqa: F401
from gan_lightning.data.files import DataFolderError, check_image_files, open_image

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
#: StarGAN's default selection (yunjey/stargan main.py ``--selected_attrs``).
STARGAN_ATTRIBUTES = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")


def item_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator of one item's random draws, a pure function of ``(seed, epoch, index)``."""
    return np.random.default_rng([seed % 2**32, epoch, index])


def split_key(key: int, length: int) -> tuple[int, int]:
    """``(epoch, index)`` of a key of :class:`EpochKeyedSampler` (plain indices are epoch 0)."""
    return divmod(int(key), length)


def image_files(folder: Path) -> list[Path]:
    """The image files of ``folder`` (not recursive), sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


class _Loader:
    """Opens an image as ``channels`` (1: grey, 3: RGB) PIL image, from any mode (:func:`open_image`)."""

    def __init__(self, channels: int) -> None:
        if channels not in (1, 3):
            raise ValueError(f"data.channels must be 1 or 3, got {channels}")
        self.channels = channels

    def __call__(self, path: str | Path):
        return open_image(path, self.channels)


def to_tensor(image) -> torch.Tensor:
    """A PIL image as a float tensor in [-1, 1], (C, H, W)."""
    from torchvision.transforms import functional as TF

    return TF.to_tensor(image).mul(2.0).sub(1.0)


class CropFlip:
    """pix2pix / CycleGAN preprocessing (``resize_and_crop`` + flip): resize to ``load_size`` square
    (bicubic), crop ``image_size`` at a drawn position and flip half of the time; the same draw for
    every image of an item. ``train=False``: the center crop, no flip."""

    def __init__(self, load_size: int, image_size: int, flip: bool = True) -> None:
        if load_size < image_size:
            raise ValueError(f"data.load_size ({load_size}) must be >= data.image_size ({image_size})")
        self.load_size, self.image_size, self.flip = load_size, image_size, flip

    def params(self, rng: np.random.Generator | None) -> tuple[int, int, bool]:
        room = self.load_size - self.image_size
        if rng is None:
            return room // 2, room // 2, False
        left, top = (int(v) for v in rng.integers(0, room + 1, size=2))
        return left, top, bool(self.flip and rng.random() < 0.5)

    def __call__(self, image, params: tuple[int, int, bool]) -> torch.Tensor:
        from PIL import Image

        left, top, flip = params
        image = image.resize((self.load_size, self.load_size), Image.BICUBIC)
        image = image.crop((left, top, left + self.image_size, top + self.image_size))
        if flip:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        return to_tensor(image)


# ---------------------------------------------------------------------------- paired (pix2pix)
class PairedFiles(Dataset):
    """pix2pix pairs: ``sources[i]`` is one ``A|B`` file (a path) or a pair of paths ``(A, B)``.
    ``train``: crop/flip drawn from ``(seed, epoch, index)`` of the key; else the center crop."""

    def __init__(self, sources: Sequence, direction: str, crop: CropFlip, channels: int, seed: int,
                 train: bool) -> None:
        self.sources, self.direction, self.crop = list(sources), direction, crop
        self.load, self.seed, self.train = _Loader(channels), seed, train

    def __len__(self) -> int:
        return len(self.sources)

    def halves(self, index: int):
        source = self.sources[index]
        if isinstance(source, (tuple, list)):
            return self.load(source[0]), self.load(source[1])
        both = self.load(source)
        width, height = both.size
        return both.crop((0, 0, width // 2, height)), both.crop((width // 2, 0, width, height))

    def __getitem__(self, key: int) -> dict[str, torch.Tensor]:
        epoch, index = split_key(key, len(self))
        image_a, image_b = self.halves(index)
        if self.direction == "BtoA":
            image_a, image_b = image_b, image_a
        params = self.crop.params(item_rng(self.seed, epoch, index) if self.train else None)
        return {"a": self.crop(image_a, params), "b": self.crop(image_b, params)}


def _check_direction(owner: str, direction: str) -> None:
    if direction not in ("AtoB", "BtoA"):
        raise ValueError(f"{owner}: direction must be 'AtoB' or 'BtoA', got {direction!r}")


def _image_size_of(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.size


class _FolderData(GANDataModule):
    """Shared options of the folder modules (``channels``, ``skip_unreadable``) and their file checks."""

    def __init__(self, root: str, image_size: int, channels: int, batch_size: int, num_workers: int, seed: int,
                 skip_unreadable: bool) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        if channels not in (1, 3):
            raise ValueError(f"data.channels must be 1 or 3, got {channels}")
        self.root, self.image_size, self.channels = root, image_size, channels
        self.skip_unreadable = skip_unreadable
        self.skipped_files: list[str] = []
        self.data_shape = (channels, image_size, image_size)

    @property
    def owner(self) -> str:
        return type(self).__name__

    def folder(self, *parts: str, hint: str = "") -> Path:
        path = Path(self.root).joinpath(*parts)
        if not path.is_dir():
            layout = f" ({hint})" if hint else ""
            raise DataFolderError(f"{self.owner}: no folder {'/'.join(parts)} under {Path(self.root).resolve()}{layout}")
        return path

    def images_of(self, folder: Path) -> list[Path]:
        files = image_files(folder)
        if not files:
            raise DataFolderError(f"{self.owner}: no image files ({', '.join(IMAGE_EXTENSIONS)}) in {folder.resolve()}")
        keep = check_image_files(files, self.skip_unreadable, self.owner)
        if len(keep) < len(files):
            kept = set(keep)
            self.skipped_files += [str(p) for i, p in enumerate(files) if i not in kept]
        return [files[i] for i in keep]


class PairedImageFolder(_FolderData):
    """pix2pix data (Isola et al. 2017): aligned pairs, ``a`` the input and ``b`` its target.

    Layouts: ``root/<split>/*.jpg`` of side-by-side ``A|B`` images (width twice the height, as
    pix2pix's data sets ship), or ``root/A/<split>`` and ``root/B/<split>`` holding same-named
    files of equal size. Splits: ``train`` for training, ``heldout_split`` (``val`` by default,
    or ``test``; null for none) held out. ``direction``: ``AtoB`` (``a`` = A) or ``BtoA``.

    Training items: both images resized to ``load_size`` (286), one random ``image_size`` (256)
    crop and one horizontal flip (probability 1/2) for the pair, drawn from ``(seed, epoch,
    index)`` (pix2pix's defaults, ``--preprocess resize_and_crop``); held-out items: the center crop.
    pix2pix trains with batch size 1.
    """

    data_kind = "paired"
    train_sampler_class = EpochKeyedSampler

    def __init__(
        self,
        root: str = "data/facades",
        direction: str = "AtoB",
        image_size: int = 256,
        load_size: int = 286,
        channels: int = 3,
        batch_size: int = 1,
        heldout_split: str | None = "val",
        num_workers: int = 2,
        seed: int = 0,
        skip_unreadable: bool = False,
    ) -> None:
        super().__init__(root, image_size, channels, batch_size, num_workers, seed, skip_unreadable)
        _check_direction("PairedImageFolder", direction)
        self.crop = CropFlip(load_size, image_size)
        self.direction, self.load_size, self.heldout_split = direction, load_size, heldout_split
        remember_data_arguments(self)

    def sources(self, split: str) -> list:
        root = Path(self.root)
        layout = "the pix2pix layout: ROOT/train, ROOT/val, ROOT/test of side-by-side A|B images"
        if not (root / split).is_dir() and (root / "A").is_dir() and (root / "B").is_dir():
            folder_a, folder_b = self.folder("A", split), self.folder("B", split)
            files_a = self.images_of(folder_a)
            names_b = {p.name: p for p in self.images_of(folder_b)}
            pairs = []
            for path_a in files_a:
                path_b = names_b.get(path_a.name)
                if path_b is None:
                    raise DataFolderError(f"{self.owner}: {path_a} has no partner file {path_a.name} in {folder_b}")
                size_a, size_b = _image_size_of(path_a), _image_size_of(path_b)
                if size_a != size_b:
                    raise DataFolderError(f"{self.owner}: size mismatch between partners {path_a} "
                                          f"({size_a[0]}x{size_a[1]}) and {path_b} ({size_b[0]}x{size_b[1]})")
                pairs.append((path_a, path_b))
            unpaired = sorted(set(names_b) - {p.name for p in files_a})
            if unpaired:
                raise DataFolderError(f"{self.owner}: {names_b[unpaired[0]]} has no partner file {unpaired[0]} in "
                                      f"{folder_a} ({len(unpaired)} files of B have none)")
            return pairs
        files = self.images_of(self.folder(split, hint=layout))
        for path in files:
            width, height = _image_size_of(path)
            if width != 2 * height:
                raise DataFolderError(
                    f"{self.owner}: {path} is {width}x{height}, not an A|B pair side by side "
                    f"(width twice the height: {2 * height}x{height})"
                )
        return files

    def build_datasets(self):
        def dataset(split: str, train: bool) -> PairedFiles:
            return PairedFiles(self.sources(split), self.direction, self.crop, self.channels, self.seed, train)

        train = dataset("train", True)
        return train, dataset(self.heldout_split, False) if self.heldout_split else None


# ---------------------------------------------------------------------------- unpaired (CycleGAN)
def partner_order(seed: int, epoch: int, count_a: int, count_b: int) -> torch.Tensor:
    """The ``b`` index of every ``a`` index for one epoch: permutations of ``count_b`` drawn from
    ``(seed, epoch)`` and concatenated up to ``count_a`` (each ``b`` is used equally often, give or take one)."""
    generator = torch.Generator().manual_seed(int(np.random.SeedSequence([seed % 2**32, epoch, 1]).generate_state(1)[0]))
    rounds = -(-count_a // count_b)
    return torch.cat([torch.randperm(count_b, generator=generator) for _ in range(rounds)])[:count_a]


class PartnerOrders:
    """:func:`partner_order` per epoch, the last few cached (each worker process keeps its own)."""

    def __init__(self, seed: int, count_a: int, count_b: int) -> None:
        self.seed, self.count_a, self.count_b = seed, count_a, count_b
        self.cache: dict[int, torch.Tensor] = {}

    def __call__(self, epoch: int, index: int) -> int:
        if epoch not in self.cache:
            if len(self.cache) > 2:
                self.cache.pop(min(self.cache))
            self.cache[epoch] = partner_order(self.seed, epoch, self.count_a, self.count_b)
        return int(self.cache[epoch][index])


class UnpairedFiles(Dataset):
    """``a`` = ``files_a[index]``, ``b`` = ``files_b[partner(epoch, index)]``: an independent pairing per epoch.
    ``train``: one crop/flip draw per image, from ``(seed, epoch, index)``; else center crops."""

    def __init__(self, files_a: Sequence[Path], files_b: Sequence[Path], crop: CropFlip, channels: int, seed: int,
                 train: bool) -> None:
        self.files_a, self.files_b, self.crop = list(files_a), list(files_b), crop
        self.load, self.seed, self.train = _Loader(channels), seed, train
        self.partner = PartnerOrders(seed, len(self.files_a), len(self.files_b))

    def __len__(self) -> int:
        return len(self.files_a)

    def __getitem__(self, key: int) -> dict[str, torch.Tensor]:
        epoch, index = split_key(key, len(self))
        rng = item_rng(self.seed, epoch, index) if self.train else None
        # CycleGAN draws its transform params per image: independent crops and flips for a and b
        params_a, params_b = self.crop.params(rng), self.crop.params(rng)
        image_b = self.files_b[self.partner(epoch, index)]
        return {"a": self.crop(self.load(self.files_a[index]), params_a), "b": self.crop(self.load(image_b), params_b)}


class UnpairedImageFolder(_FolderData):
    """CycleGAN data (Zhu et al. 2017): two unpaired domains, ``root/trainA`` and ``root/trainB``,
    held out ``root/testA`` and ``root/testB`` (``heldout`` false: none).

    An epoch goes over every ``a`` once (the sampler's permutation) and gives each a partner
    ``b`` from a permutation of domain B drawn from ``(seed, epoch)``: a fresh, independent pairing
    per epoch, as CycleGAN's random ``index_B``, without the global RNG. Crop and flip as
    :class:`PairedImageFolder` but drawn per image (a and b are not aligned); CycleGAN's defaults:
    ``load_size`` 286, ``image_size`` 256, batch size 1.
    """

    data_kind = "unpaired"
    train_sampler_class = EpochKeyedSampler

    def __init__(
        self,
        root: str = "data/horse2zebra",
        image_size: int = 256,
        load_size: int = 286,
        channels: int = 3,
        batch_size: int = 1,
        heldout: bool = True,
        num_workers: int = 2,
        seed: int = 0,
        skip_unreadable: bool = False,
    ) -> None:
        super().__init__(root, image_size, channels, batch_size, num_workers, seed, skip_unreadable)
        self.crop = CropFlip(load_size, image_size)
        self.load_size, self.heldout = load_size, heldout
        remember_data_arguments(self)

    def build_datasets(self):
        layout = "the CycleGAN layout: ROOT/trainA, ROOT/trainB, ROOT/testA, ROOT/testB"

        def dataset(split: str, train: bool) -> UnpairedFiles:
            hint = layout if train else layout + "; or --data.init_args.heldout false"
            files_a = self.images_of(self.folder(f"{split}A", hint=hint))
            files_b = self.images_of(self.folder(f"{split}B", hint=hint))
            return UnpairedFiles(files_a, files_b, self.crop, self.channels, self.seed, train)

        train = dataset("train", True)
        return train, dataset("test", False) if self.heldout else None


# ---------------------------------------------------------------------------- attributes (StarGAN)
def read_attribute_file(path: str | Path, owner: str = "AttributeImageFolder") -> tuple[list[str], list[str], torch.Tensor]:
    """CelebA's ``list_attr_celeba.txt``: line 1 the image count, line 2 the attribute names, then
    ``file v1 v2 ...`` with values -1 / 1. Returns (names, files, values as int8 (N, len(names)) of -1/1)."""
    path = Path(path)
    if not path.is_file():
        raise DataFolderError(f"{owner}: attribute file {path.resolve()} not found")
    lines = [line.split() for line in path.read_text().splitlines()]
    if len(lines) < 2 or len(lines[0]) != 1 or not lines[0][0].isdigit():
        raise DataFolderError(f"{owner}: {path} is not in CelebA's attribute format "
                              "(line 1: the image count; line 2: the attribute names; then `file v1 v2 ...`)")
    names, rows = lines[1], [row for row in lines[2:] if row]
    files, values = [], []
    for number, row in enumerate(rows, start=3):
        if len(row) != len(names) + 1 or any(v not in ("1", "-1", "0") for v in row[1:]):
            raise DataFolderError(f"{owner}: {path} line {number}: expected a file name and {len(names)} values "
                                  f"of -1/1, got {' '.join(row[:6])}{' ...' if len(row) > 6 else ''}")
        files.append(row[0])
        values.append([1 if v == "1" else -1 for v in row[1:]])
    if int(lines[0][0]) != len(files):
        raise DataFolderError(f"{owner}: {path} says {lines[0][0]} images on line 1 but lists {len(files)}")
    return names, files, torch.tensor(values, dtype=torch.int8).reshape(len(files), len(names))


class AttributeImages(Dataset):
    """StarGAN's items: ``{"image", "attributes"}``; ``train``: horizontal flip drawn from ``(seed, epoch, index)``."""

    def __init__(self, files: Sequence[Path], attributes: torch.Tensor, image_size: int, crop_size: int,
                 channels: int, seed: int, train: bool) -> None:
        self.files, self.attributes = list(files), attributes
        self.image_size, self.crop_size = image_size, crop_size
        self.load, self.seed, self.train = _Loader(channels), seed, train

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, key: int) -> dict[str, torch.Tensor]:
        from PIL import Image
        from torchvision.transforms import functional as TF

        epoch, index = split_key(key, len(self))
        image = self.load(self.files[index])
        if self.train and item_rng(self.seed, epoch, index).random() < 0.5:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        image = TF.center_crop(image, [self.crop_size, self.crop_size])
        image = TF.resize(image, [self.image_size, self.image_size], interpolation=TF.InterpolationMode.BILINEAR,
                          antialias=True)
        return {"image": to_tensor(image), "attributes": self.attributes[index]}


class AttributeImageFolder(_FolderData):
    """StarGAN data (Choi et al. 2018): images plus a CelebA-style attribute file.

    ``attr_file`` (``list_attr_celeba.txt``, relative to ``root`` unless absolute) lists every
    image of ``root/image_dir`` with its 40 attributes as -1/1; ``attributes`` selects the names
    a model conditions on (StarGAN's default: Black_Hair, Blond_Hair, Brown_Hair, Male, Young),
    yielded as a float 0/1 vector in that order. Preprocessing as StarGAN's data_loader.py:
    random horizontal flip (training only), center crop ``crop_size`` (178), resize to
    ``image_size`` (128). StarGAN holds out 2,000 images drawn by a seeded shuffle
    (``heldout_count``; here the shuffle is seeded by ``seed``); batch size 16.
    """

    data_kind = "attributes"
    train_sampler_class = EpochKeyedSampler

    def __init__(
        self,
        root: str = "data/celeba",
        attr_file: str = "list_attr_celeba.txt",
        image_dir: str = "images",
        attributes: list[str] | None = None,
        image_size: int = 128,
        crop_size: int = 178,
        channels: int = 3,
        batch_size: int = 16,
        heldout_count: int = 2000,
        num_workers: int = 2,
        seed: int = 0,
        skip_unreadable: bool = False,
    ) -> None:
        super().__init__(root, image_size, channels, batch_size, num_workers, seed, skip_unreadable)
        self.attr_file, self.image_dir, self.crop_size = attr_file, image_dir, crop_size
        self.attribute_names = list(attributes if attributes is not None else STARGAN_ATTRIBUTES)
        if not self.attribute_names:
            raise ValueError("AttributeImageFolder: attributes must name at least one attribute")
        if heldout_count < 0:
            raise ValueError(f"AttributeImageFolder: heldout_count must be >= 0, got {heldout_count}")
        self.heldout_count = heldout_count
        self.num_attributes = len(self.attribute_names)
        remember_data_arguments(self)

    def build_datasets(self):
        root = Path(self.root)
        if not root.is_dir():
            raise DataFolderError(f"{self.owner}: root folder {root.resolve()} not found")
        attr_path = Path(self.attr_file) if os.path.isabs(self.attr_file) else root / self.attr_file
        names, files, values = read_attribute_file(attr_path, self.owner)
        unknown = [name for name in self.attribute_names if name not in names]
        if unknown:
            raise DataFolderError(f"{self.owner}: attribute {unknown[0]!r} is not in {attr_path}; "
                                  f"its attributes: {', '.join(names)}")
        columns = [names.index(name) for name in self.attribute_names]
        selected = (values[:, columns] == 1).float()
        folder = self.folder(self.image_dir, hint=f"the images listed in {attr_path.name}") if self.image_dir \
            else root
        paths = [folder / name for name in files]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise DataFolderError(f"{self.owner}: {len(missing)} of the {len(paths)} files listed in {attr_path} are "
                                  f"missing from {folder.resolve()}: {', '.join(missing[:3])}"
                                  f"{', ...' if len(missing) > 3 else ''}")
        keep = check_image_files(paths, self.skip_unreadable, self.owner)
        kept = set(keep)
        self.skipped_files = [str(p) for i, p in enumerate(paths) if i not in kept]
        paths, selected = [paths[i] for i in keep], selected[keep]
        if self.heldout_count >= len(paths):
            raise DataFolderError(f"{self.owner}: heldout_count {self.heldout_count} leaves no training images of the "
                                  f"{len(paths)} listed; lower --data.init_args.heldout_count")
        order = torch.randperm(len(paths), generator=torch.Generator().manual_seed(self.seed)).tolist()
        held, train = sorted(order[: self.heldout_count]), sorted(order[self.heldout_count:])

        def dataset(indices: list[int], is_train: bool) -> AttributeImages:
            return AttributeImages([paths[i] for i in indices], selected[indices], self.image_size, self.crop_size,
                                   self.channels, self.seed, is_train)

        return dataset(train, True), dataset(held, False) if held else None

