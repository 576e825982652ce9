"""Semantic label maps paired with images (SPADE's data): ``SegmentationPairs``.

Batch format (data_kind ``segmentation``): a dict ``{"label": int64 (H, W) class ids,
"image": float (C, H, W) in [-1, 1]}``; a batch stacks them to ``(N, H, W)`` and ``(N, C, H, W)``.
Labels travel as integer maps (small, exact under flips and nearest resizing); the models one-hot
them (:func:`one_hot`, as SPADE's ``preprocess_input``) or colour them (:func:`colorize`, the
colour label maps a pix2pix baseline reads). ``StepContext`` exposes them as ``ctx.label`` and
``ctx.image`` (= ``ctx.real``).

Sources (``source``):

- ``folder``: ``root/<split>/images/NAME.(png|jpg|...)`` with ``root/<split>/labels/NAME.png``,
  the label PNG a one-channel (L or P mode) image whose pixel values are class ids
  ``0 .. label_classes - 1`` of the same size as its image. Splits: ``train`` and ``heldout_split``
  (``val``; null for none). Images are resized to ``image_size`` (bicubic), labels with nearest
  neighbours. A missing partner, a size mismatch or a class id out of range stops set-up with one
  line naming the file (:class:`~gan_lightning.data.files.DataFolderError`).
- ``digits`` (offline): the 5,000 MNIST5k digits composited on crops of the two colour photos
  scikit-learn ships (``china.jpg`` for backgrounds, ``flower.jpg`` shading the digits). The mask
  is the digit's pixels (> half intensity); ``label_mode`` ``digit``: label ``1 + digit class``
  (11 classes, 0 the background), ``binary``: 1 for digit (2 classes). The digit is painted in
  its class's colour (:data:`DIGIT_HUES`) shaded by the flower texture, so a segmenter can read
  the class back from the image; the background crop is drawn from ``(seed, index)``. Held out:
  ``heldout_fraction`` of each class (seeded).

Augmentation (training items): a horizontal flip (probability 1/2, ``flip``) and, for ``digits``,
a shift of up to ``max_shift`` px, the same for label and image, drawn from a generator seeded by
``(seed, epoch, index)`` (:class:`~gan_lightning.data.base.EpochKeyedSampler` keys): an item is a
pure function of its key, so a resumed epoch redraws exactly the same items. Held-out items are
not augmented.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from gan_lightning.data.base import EpochKeyedSampler, GANDataModule
from gan_lightning.data.files import DataFolderError
from gan_lightning.data.translation import IMAGE_EXTENSIONS, image_files, item_rng, remember_data_arguments, split_key

SOURCES = ("digits", "folder")
LABEL_MODES = ("digit", "binary")
#: Colour (RGB in [0, 1]) of each digit class in the ``digits`` source's images.
DIGIT_HUES = torch.tensor([
    [0.95, 0.25, 0.20], [0.20, 0.75, 0.25], [0.25, 0.40, 0.95], [0.95, 0.85, 0.20], [0.85, 0.30, 0.85],
    [0.20, 0.85, 0.85], [0.98, 0.60, 0.15], [0.55, 0.30, 0.95], [0.65, 0.95, 0.30], [0.98, 0.98, 0.98],
])


def one_hot(labels: torch.Tensor, num_classes: int, check: bool = True) -> torch.Tensor:
    """Integer label maps (N, H, W) as float one-hot maps (N, num_classes, H, W); a one-line error
    naming the largest id when one is out of range. ``check=False`` leaves that check (a read of the
    ids: the host waits for a GPU) to ``F.one_hot``'s own, for the maps of a training batch."""
    labels = labels.long()
    if check and labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(f"label ids must be in 0..{num_classes - 1}, got ids {int(labels.min())}..{int(labels.max())}")
    return torch.nn.functional.one_hot(labels, num_classes).permute(0, 3, 1, 2).float()


def palette(num_classes: int) -> torch.Tensor:
    """A fixed RGB colour in [0, 1] per class (class 0 black), distinct for up to ~30 classes (on the host)."""
    colours = [torch.zeros(3, device="cpu")]
    for k in range(1, num_classes):
        hue = ((k - 1) * 0.618034) % 1.0
        value = 1.0 if (k - 1) % 2 == 0 else 0.65
        colours.append(torch.tensor(_hsv_to_rgb(hue, 0.85, value), device="cpu"))
    return torch.stack(colours)


def _hsv_to_rgb(h: float, s: float, v: float) -> tuple[float, float, float]:
    import colorsys

    return colorsys.hsv_to_rgb(h, s, v)


def colorize(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Integer label maps (N, H, W) as colour images (N, 3, H, W) in [-1, 1] (:func:`palette`):
    the picture of a label map, and the colour label map a pix2pix baseline takes as input."""
    colours = palette(num_classes).to(labels.device)
    return colours[labels.long().clamp(0, num_classes - 1)].permute(0, 3, 1, 2).mul(2.0).sub(1.0)


def photo_textures() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's two bundled photos as float RGB (3, H, W) in [0, 1]: (china, flower)."""
    from sklearn.datasets import load_sample_images

    china, flower = load_sample_images().images
    return (torch.from_numpy(np.array(china)).permute(2, 0, 1).float() / 255.0,
            torch.from_numpy(np.array(flower)).permute(2, 0, 1).float() / 255.0)


def composite_digits(digits: torch.Tensor, classes: torch.Tensor, size: int, label_mode: str, seed: int):
    """Label maps (N, size, size) uint8 and images (N, 3, size, size) uint8 of MNIST digits (uint8,
    (N, 28, 28)) composited on photo crops; crop positions drawn from ``seed`` (see the module doc)."""
    pad = max(0, (size - 28) // 2)
    x = torch.nn.functional.pad(digits.float() / 255.0, (pad, pad, pad, pad))
    if x.shape[-1] != size:
        x = torch.nn.functional.interpolate(x[:, None], size=(size, size), mode="bilinear", align_corners=False)[:, 0]
    mask = x > 0.5
    labels = mask.long() * ((classes.long() + 1)[:, None, None] if label_mode == "digit" else 1)
    china, flower = photo_textures()
    generator = torch.Generator().manual_seed(seed)
    n = len(digits)

    def crops(photo: torch.Tensor) -> torch.Tensor:
        top = torch.randint(0, photo.shape[1] - size + 1, (n,), generator=generator)
        left = torch.randint(0, photo.shape[2] - size + 1, (n,), generator=generator)
        rows = top[:, None] + torch.arange(size)
        cols = left[:, None] + torch.arange(size)
        return photo[:, rows[:, :, None], cols[:, None, :]].permute(1, 0, 2, 3)  # (n, 3, size, size)

    background = 0.15 + 0.55 * crops(china)
    shade = crops(flower).mean(dim=1, keepdim=True)
    digit = DIGIT_HUES[classes.long()][:, :, None, None] * (0.55 + 0.45 * shade)
    images = torch.where(mask[:, None], digit, background)
    return labels.to(torch.uint8), images.mul(255.0).round().clamp(0, 255).to(torch.uint8)


class LabelImagePairs(Dataset):
    """Items ``{"label", "image"}`` of label maps (N, H, W) uint8 and images (N, C, H, W) uint8;
    ``train``: a flip and a shift drawn from ``(seed, epoch, index)`` of the key (see the module doc)."""

    def __init__(self, labels: torch.Tensor, images: torch.Tensor, seed: int, train: bool, flip: bool = True,
                 max_shift: int = 0) -> None:
        self.labels, self.images = labels, images
        self.seed, self.train, self.flip, self.max_shift = seed, train, flip, max_shift

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, key: int) -> dict[str, torch.Tensor]:
        epoch, index = split_key(key, len(self))
        label, image = self.labels[index].long(), self.images[index].float().div(127.5).sub(1.0)
        if self.train:
            rng = item_rng(self.seed, epoch, index)
            if self.flip and rng.random() < 0.5:
                label, image = label.flip(-1), image.flip(-1)
            if self.max_shift:
                dy, dx = (int(v) for v in rng.integers(-self.max_shift, self.max_shift + 1, size=2))
                label = torch.roll(label, (dy, dx), dims=(-2, -1))
                image = torch.roll(image, (dy, dx), dims=(-2, -1))
        return {"label": label, "image": image}


class SegmentationPairs(GANDataModule):
    """Label maps + images for semantic image synthesis (SPADE, Park et al. 2019); see the module doc.

    Args:
        source: ``digits`` (offline, MNIST5k digits on photo crops) or ``folder`` (``root``'s files).
        root: the folder of ``source: folder`` (``root/train/images``, ``root/train/labels``, ...).
        label_classes: number of label classes; ``digits`` sets it (11 with ``label_mode`` digit, 2 binary),
            ``folder`` needs it (ids above it are an error).
        label_mode: ``digit`` or ``binary`` (``digits`` only).
        image_size: square side of labels and images (``digits``: 32; the 28 px digits are padded).
        channels: image channels of ``folder`` (1 or 3; ``digits`` images are RGB).
        flip, max_shift: training augmentation (``max_shift``: ``digits`` only).
        heldout_fraction: ``digits``: held-out share of each class. heldout_split: ``folder``'s held-out split.
    """

    data_kind = "segmentation"
    train_sampler_class = EpochKeyedSampler

    def __init__(
        self,
        source: str = "digits",
        root: str | None = None,
        label_classes: int | None = None,
        label_mode: str = "digit",
        image_size: int = 32,
        channels: int = 3,
        flip: bool = True,
        max_shift: int = 2,
        heldout_fraction: float = 0.1,
        heldout_split: str | None = "val",
        batch_size: int = 16,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        if source not in SOURCES:
            raise ValueError(f"SegmentationPairs: source must be one of {', '.join(SOURCES)}; got {source!r}")
        if label_mode not in LABEL_MODES:
            raise ValueError(f"SegmentationPairs: label_mode must be one of {', '.join(LABEL_MODES)}; got {label_mode!r}")
        if image_size < 8:
            raise ValueError(f"SegmentationPairs: image_size must be >= 8, got {image_size}")
        if source == "folder" and (root is None or label_classes is None):
            raise ValueError("SegmentationPairs: source 'folder' needs root and label_classes")
        if source == "digits":
            implied = 11 if label_mode == "digit" else 2
            if label_classes not in (None, implied):
                raise ValueError(f"SegmentationPairs: label_classes {label_classes} does not match the digits source "
                                 f"with label_mode {label_mode!r} ({implied} classes)")
            label_classes, channels = implied, 3
        if not 2 <= int(label_classes) <= 256:
            raise ValueError(f"SegmentationPairs: label_classes must be in 2..256, got {label_classes}")
        if channels not in (1, 3):
            raise ValueError(f"SegmentationPairs: channels must be 1 or 3, got {channels}")
        self.source, self.root, self.label_mode = source, root, label_mode
        self.label_classes, self.image_size, self.channels = int(label_classes), image_size, channels
        self.flip, self.max_shift = flip, max_shift
        self.heldout_fraction, self.heldout_split = heldout_fraction, heldout_split
        self.data_shape = (channels, image_size, image_size)
        remember_data_arguments(self)

    # ------------------------------------------------------------------ sources
    def build_datasets(self):
        if self.source == "digits":
            return self._digits()
        train = LabelImagePairs(*self.read_split("train"), self.seed, True, self.flip)
        held = None
        if self.heldout_split and (Path(self.root) / self.heldout_split).is_dir():
            held = LabelImagePairs(*self.read_split(self.heldout_split), self.seed, False)
        return train, held

    def _digits(self):
        from gan_lightning.data.base import split_heldout
        from gan_lightning.data.images import load_mnist5k

        digits, classes = load_mnist5k()
        labels, images = composite_digits(digits, classes, self.image_size, self.label_mode, self.seed)
        indices = torch.arange(len(classes))
        train, held = split_heldout(indices, classes.tolist(), self.heldout_fraction, self.seed)

        def part(subset, is_train: bool) -> LabelImagePairs:
            chosen = torch.as_tensor(subset.indices if hasattr(subset, "indices") else list(range(len(subset))))
            return LabelImagePairs(labels[chosen], images[chosen], self.seed, is_train, self.flip,
                                   self.max_shift if is_train else 0)

        return part(train, True), part(held, False) if held is not None else None

    def read_split(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Label maps (N, S, S) uint8 and images (N, C, S, S) uint8 of ``root/split``, checked."""
        from PIL import Image

        base = Path(self.root) / split
        image_dir, label_dir = base / "images", base / "labels"
        for folder in (image_dir, label_dir):
            if not folder.is_dir():
                raise DataFolderError(f"SegmentationPairs: no folder {folder} (layout: ROOT/<split>/images/NAME.png|jpg "
                                      f"with ROOT/<split>/labels/NAME.png)")
        files = image_files(image_dir)
        if not files:
            raise DataFolderError(f"SegmentationPairs: no image files ({', '.join(IMAGE_EXTENSIONS)}) in {image_dir}")
        label_files = {p.stem: p for p in label_dir.iterdir() if p.suffix.lower() == ".png"}
        stems = {p.stem for p in files}
        orphans = sorted(set(label_files) - stems)
        if orphans:
            raise DataFolderError(f"SegmentationPairs: label map {label_files[orphans[0]]} has no image {orphans[0]}.* "
                                  f"in {image_dir}")
        mode = "L" if self.channels == 1 else "RGB"
        size = (self.image_size, self.image_size)
        labels, images = [], []
        for path in files:
            label_path = label_files.get(path.stem)
            if label_path is None:
                raise DataFolderError(f"SegmentationPairs: image {path} has no label map {path.stem}.png in {label_dir}")
            with Image.open(path) as image, Image.open(label_path) as label:
                if image.size != label.size:
                    raise DataFolderError(f"SegmentationPairs: size mismatch between {path} ({image.size[0]}x"
                                          f"{image.size[1]}) and its label map {label_path} ({label.size[0]}x"
                                          f"{label.size[1]})")
                if label.mode not in ("L", "P", "I", "I;16"):
                    raise DataFolderError(f"SegmentationPairs: label map {label_path} is a {label.mode} image; "
                                          f"it must have one channel of class ids (L or P mode)")
                ids = np.array(label.resize(size, Image.NEAREST))
                pixels = np.array(image.convert(mode).resize(size, Image.BICUBIC))
            if int(ids.max()) >= self.label_classes:
                raise DataFolderError(f"SegmentationPairs: label map {label_path} has class id {int(ids.max())}, "
                                      f"not below label_classes {self.label_classes}")
            labels.append(torch.from_numpy(ids.astype(np.uint8)))
            pixels = torch.from_numpy(np.ascontiguousarray(pixels))
            images.append(pixels[None] if pixels.dim() == 2 else pixels.permute(2, 0, 1))
        return torch.stack(labels), torch.stack(images)
