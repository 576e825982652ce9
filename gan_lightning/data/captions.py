"""CaptionedDigits: real MNIST5k digits on a 64 px canvas, described by captions of *measured* properties.

No caption set ships in any package, so the captions are made from what is measured on each real
digit, never from random labels:

- measured on the 28 px digit (ink: pixels above half intensity): its class; its **thickness**,
  2 x ink area / skeleton length (``skimage.morphology.skeletonize``), in pixels; its **slant**,
  -mu11 / mu02 of the intensity moments (> 0: the top leans right); its **width**, the ink's
  horizontal extent, against the median width of its class (a wide 1 and a narrow 0 exist);
- binned into words: ``thin`` / ``bold`` (the median thickness of MNIST5k), ``leaning left`` /
  ``upright`` / ``leaning right`` (slant below -0.05 / above 0.25), ``narrow`` / ``wide``;
- rendered with exact control, per image from a seeded draw: an ink **colour** (8), a
  **background** (black, or a real texture bundled with scikit-image: brick, grass, gravel, dimmed),
  a **size** and **position** (the ink's box, and 5 **keypoints**: the top-, bottom-, left- and
  right-most ink pixels and the ink centroid, both in [0, 1] canvas coordinates);
- described by ``captions_per_image`` captions (8) from templates with synonyms and varied word
  order ("a bold red seven leaning right on brick", "on a brick wall, a thick seven in red, slanted
  to the right"), one drawn per item and epoch from ``(seed, epoch, index)``.

Held out: a seeded ``heldout_fraction`` of the images, and every image of 10 (digit, colour)
combinations the training split never shows (the unseen-combination split of Reed et al.: seven
in green, ...): the held-out items say which with ``unseen``.

Samples are dicts: ``image`` (3, image_size, image_size) in [-1, 1], ``caption`` (max_caption_length, 18)
token ids (0 pads), ``label`` (the digit), ``attributes`` (thickness, slant, width, colour, background
as bin indices), ``box`` (4), ``keypoints`` (5, 2), ``unseen`` (bool). :func:`tokenize` and
:data:`VOCABULARY` turn text into ids and back (``gan-lightning sample --text``).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from gan_lightning.data.base import EpochKeyedSampler, GANDataModule
from gan_lightning.data.files import cache_dir
from gan_lightning.data.images import load_mnist5k
from gan_lightning.data.translation import item_rng, remember_data_arguments, split_key

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
COLOURS = {"red": (0.95, 0.2, 0.2), "green": (0.2, 0.85, 0.25), "blue": (0.25, 0.4, 1.0),
           "yellow": (0.95, 0.9, 0.2), "white": (0.97, 0.97, 0.97), "magenta": (0.9, 0.25, 0.9),
           "cyan": (0.2, 0.9, 0.9), "orange": (1.0, 0.6, 0.15)}
BACKGROUNDS = ("black", "brick", "grass", "gravel")
THICKNESS = ("thin", "bold")
SLANT = ("leaning left", "upright", "leaning right")
WIDTH = ("narrow", "wide")
SLANT_LEFT, SLANT_RIGHT = -0.05, 0.25  # -mu11 / mu02: below: leaning left, above: leaning right
CANVAS = 64
#: (digit, colour) combinations only the held-out split shows: digit d in colour (3 d mod 8).
UNSEEN = frozenset((d, (3 * d) % len(COLOURS)) for d in range(10))

# words and their synonyms, as the templates use them
_SYNONYMS = {
    "thin": ("thin", "slim", "light"), "bold": ("bold", "thick", "heavy"),
    "leaning left": ("leaning left", "slanted to the left", "tilted left"),
    "upright": ("upright", "standing straight", "straight"),
    "leaning right": ("leaning right", "slanted to the right", "tilted right"),
    "narrow": ("narrow", "tall and narrow", "skinny"), "wide": ("wide", "broad", "round"),
}
_BACKGROUND_PHRASES = {
    "black": ("on black", "on a black background", "on dark"), "brick": ("on brick", "on a brick wall", "over bricks"),
    "grass": ("on grass", "on a lawn", "over grass"), "gravel": ("on gravel", "on stones", "over gravel"),
}
_TEMPLATES = (
    "a {thickness} {colour} {digit} {slant} {background}",
    "{background} , a {thickness} {digit} in {colour} , {slant}",
    "a {width} {colour} {digit} {background}",
    "the digit {digit} in {colour} , {thickness} and {width} , {slant}",
    "{background} there is a {colour} {digit} , {slant}",
    "a {colour} {digit} , {thickness} , {background}",
    "{slant} , a {width} {thickness} {digit} drawn in {colour} {background}",
    "a {digit} in {colour} {background} , {width}",
)


def _vocabulary() -> tuple[str, ...]:
    words: list[str] = ["<pad>", "<unknown>", "an"]
    phrases = [*DIGIT_WORDS, *COLOURS, *(w for s in _SYNONYMS.values() for w in s),
               *(w for s in _BACKGROUND_PHRASES.values() for w in s), *_TEMPLATES]
    for phrase in phrases:
        for word in re.findall(r"[a-z]+|,", phrase):
            if word not in words:
                words.append(word)
    return tuple(words)


#: Every word the captions use; id 0 pads, id 1 is an unknown word (``tokenize`` refuses those).
VOCABULARY: tuple[str, ...] = _vocabulary()
_WORD_IDS = {word: i for i, word in enumerate(VOCABULARY)}


MAX_WORDS = 18  # the longest caption the templates make ("slanted to the left , a tall and narrow ...")


def tokenize(text: str, length: int = MAX_WORDS) -> torch.Tensor:
    """The token ids of ``text`` (lower case, words and commas), padded with 0 to ``length``; one line
    naming the first word the vocabulary lacks, or a caption longer than ``length``."""
    words = re.findall(r"[a-z]+|,", text.lower())
    unknown = [w for w in words if w not in _WORD_IDS]
    if unknown:
        raise ValueError(f"the word {unknown[0]!r} is not in the captions' vocabulary; digits: {', '.join(DIGIT_WORDS)}; "
                         f"colours: {', '.join(COLOURS)}; backgrounds: {', '.join(BACKGROUNDS)}")
    if len(words) > length:
        raise ValueError(f"the caption has {len(words)} words; at most {length}")
    ids = [_WORD_IDS[w] for w in words] + [0] * (length - len(words))
    return torch.tensor(ids, dtype=torch.long, device="cpu")


def detokenize(ids: Sequence[int] | torch.Tensor) -> str:
    """The caption of token ids (padding dropped)."""
    words = [VOCABULARY[int(i)] for i in ids if int(i) != 0]
    return " ".join(words).replace(" ,", ",")


# ---------------------------------------------------------------------------- measurements
def measure_digits(images: torch.Tensor) -> dict[str, np.ndarray]:
    """Thickness, slant and width of each 28 px digit (uint8 (N, 28, 28)); see the module docstring."""
    from skimage.morphology import skeletonize

    pixels = images.numpy().astype(np.float64) / 255.0
    ink = pixels > 0.5
    skeleton_length = np.array([skeletonize(mask).sum() for mask in ink], dtype=np.float64)
    thickness = 2.0 * ink.sum((1, 2)) / np.maximum(skeleton_length, 1.0)
    ys, xs = np.mgrid[0:pixels.shape[1], 0:pixels.shape[2]]
    mass = np.maximum(pixels.sum((1, 2)), 1e-8)
    x_mean = (pixels * xs).sum((1, 2)) / mass
    y_mean = (pixels * ys).sum((1, 2)) / mass
    dx, dy = xs - x_mean[:, None, None], ys - y_mean[:, None, None]
    mu11 = (pixels * dx * dy).sum((1, 2)) / mass
    mu02 = np.maximum((pixels * dy * dy).sum((1, 2)) / mass, 1e-8)
    columns = ink.any(axis=1)
    width = np.array([np.ptp(np.flatnonzero(c)) + 1 if c.any() else 0 for c in columns], dtype=np.float64)
    return {"thickness": thickness, "slant": -mu11 / mu02, "width": width}


def attribute_thresholds(measures: dict[str, np.ndarray], labels: np.ndarray) -> dict[str, np.ndarray]:
    """The bins' cuts of a set of measured digits: its median thickness and each class's median width."""
    return {"thickness": np.median(measures["thickness"]),
            "width": np.array([np.median(measures["width"][labels == c]) for c in range(10)])}


def binned(measures: dict[str, np.ndarray], labels: np.ndarray, thresholds: dict[str, np.ndarray]) -> np.ndarray:
    """(N, 3) bin indices of measured digits against fixed ``thresholds`` (:func:`attribute_thresholds`):
    thickness (thin, bold), slant (left, upright, right), width (narrow, wide; against the class of ``labels``)."""
    thickness = (measures["thickness"] >= thresholds["thickness"]).astype(np.int64)
    slant = np.where(measures["slant"] < SLANT_LEFT, 0, np.where(measures["slant"] > SLANT_RIGHT, 2, 1))
    width = (measures["width"] >= thresholds["width"][labels]).astype(np.int64)
    return np.stack([thickness, slant, width], axis=1)


def attribute_bins(measures: dict[str, np.ndarray], labels: np.ndarray) -> np.ndarray:
    """(N, 3) bin indices: thickness (thin, bold), slant (left, upright, right), width (narrow, wide), cut at
    the set's own medians (MNIST5k's, for the captions)."""
    return binned(measures, labels, attribute_thresholds(measures, labels))


def _cache_file() -> Path:
    return cache_dir() / "captioned_digits_v1.npz"


@functools.lru_cache(maxsize=1)
def measured_mnist5k() -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """(uint8 digits (5000, 28, 28), labels, attribute bins (5000, 3)); the measurements are cached on disk."""
    images, labels = load_mnist5k()
    path = _cache_file()
    if path.is_file():
        bins = np.load(path)["bins"]
    else:
        bins = attribute_bins(measure_digits(images), labels.numpy())
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, bins=bins)
    return images, labels.numpy(), bins


@functools.lru_cache(maxsize=1)
def textures() -> dict[str, np.ndarray]:
    """The background textures bundled with scikit-image (grey, 512 x 512, in [0, 1])."""
    from skimage import data

    return {name: getattr(data, name)().astype(np.float32) / 255.0 for name in ("brick", "grass", "gravel")}


# ---------------------------------------------------------------------------- one image
class _Scene:
    """What one image shows, drawn once from ``(seed, index)``: colour, background, size, position, texture crop."""

    def __init__(self, seed: int, index: int, backgrounds: Sequence[str]) -> None:
        rng = np.random.default_rng([seed % 2**32, 7919, index])
        self.colour = int(rng.integers(len(COLOURS)))
        self.background = BACKGROUNDS.index(backgrounds[int(rng.integers(len(backgrounds)))])
        self.size = int(rng.integers(28, 49))
        self.x, self.y = (int(v) for v in rng.integers(0, CANVAS - self.size + 1, 2))
        self.crop = tuple(int(v) for v in rng.integers(0, 512 - CANVAS + 1, 2))


def render(digit: torch.Tensor, scene: _Scene) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(image (3, 64, 64) in [0, 1], ink box (4), keypoints (5, 2)) of a uint8 28 px digit in ``scene``."""
    alpha28 = digit.float().div(255.0)[None, None]
    alpha = F.interpolate(alpha28, size=(scene.size, scene.size), mode="bilinear", align_corners=False)[0, 0]
    alpha = alpha.clamp(0.0, 1.0)
    canvas_alpha = torch.zeros(CANVAS, CANVAS, device="cpu")
    canvas_alpha[scene.y:scene.y + scene.size, scene.x:scene.x + scene.size] = alpha
    name = BACKGROUNDS[scene.background]
    if name == "black":
        background = torch.zeros(3, CANVAS, CANVAS, device="cpu")
    else:
        top, left = scene.crop
        patch = torch.from_numpy(textures()[name][top:top + CANVAS, left:left + CANVAS].copy())
        background = (0.15 + 0.45 * patch).expand(3, -1, -1)
    colour = torch.tensor(list(COLOURS.values())[scene.colour], device="cpu").view(3, 1, 1)
    image = background * (1.0 - canvas_alpha) + colour * canvas_alpha
    rows, cols = torch.nonzero(canvas_alpha > 0.5, as_tuple=True)
    if rows.numel() == 0:  # an empty digit: its square
        rows = torch.tensor([scene.y, scene.y + scene.size - 1], device="cpu")
        cols = torch.tensor([scene.x, scene.x + scene.size - 1], device="cpu")
    box = torch.stack([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]).float() / CANVAS
    points = torch.stack([rows.float(), cols.float()], 1)  # (y, x)
    extremes = [points[rows.argmin()], points[rows.argmax()], points[cols.argmin()], points[cols.argmax()],
                points.mean(0)]
    keypoints = torch.stack([p.flip(0) for p in extremes]) / CANVAS  # (x, y) in [0, 1]
    return image, box, keypoints


def captions_of(label: int, bins: np.ndarray, colour: int, background: int, count: int,
                rng: np.random.Generator) -> list[str]:
    """``count`` captions of one image, from the templates in a seeded order with seeded synonyms."""
    words = {"thickness": THICKNESS[bins[0]], "slant": SLANT[bins[1]], "width": WIDTH[bins[2]]}
    order = rng.permutation(len(_TEMPLATES))
    captions = []
    for k in range(count):
        template = _TEMPLATES[order[k % len(_TEMPLATES)]]
        fill = {key: _SYNONYMS[value][int(rng.integers(len(_SYNONYMS[value])))] for key, value in words.items()}
        fill["digit"] = DIGIT_WORDS[label]
        fill["colour"] = list(COLOURS)[colour]
        phrases = _BACKGROUND_PHRASES[BACKGROUNDS[background]]
        fill["background"] = phrases[int(rng.integers(len(phrases)))]
        captions.append(re.sub(r"\ba ([aeiou])", r"an \1", template.format(**fill)))
    return captions


class CaptionedDigitsSet(Dataset):
    """The rendered digits of ``indices`` (into MNIST5k); keys of :class:`EpochKeyedSampler` or plain indices."""

    def __init__(self, indices: Sequence[int], seed: int, backgrounds: Sequence[str], captions_per_image: int,
                 caption_length: int, image_size: int) -> None:
        self.indices = list(indices)
        self.seed, self.backgrounds = seed, tuple(backgrounds)
        self.captions_per_image, self.caption_length, self.image_size = captions_per_image, caption_length, image_size
        self.digits, self.labels, self.bins = measured_mnist5k()

    def __len__(self) -> int:
        return len(self.indices)

    def scene(self, position: int) -> _Scene:
        return _Scene(self.seed, self.indices[position], self.backgrounds)

    def captions(self, position: int) -> list[str]:
        index = self.indices[position]
        scene = self.scene(position)
        rng = np.random.default_rng([self.seed % 2**32, 104729, index])
        return captions_of(int(self.labels[index]), self.bins[index], scene.colour, scene.background,
                           self.captions_per_image, rng)

    def __getitem__(self, key: int) -> dict[str, torch.Tensor]:
        epoch, position = split_key(key, len(self))
        index = self.indices[position]
        scene = self.scene(position)
        image, box, keypoints = render(self.digits[index], scene)
        if self.image_size != CANVAS:
            image = F.interpolate(image[None], size=self.image_size, mode="area")[0]
        captions = self.captions(position)
        caption = captions[int(item_rng(self.seed, epoch, index).integers(len(captions)))]
        label = int(self.labels[index])
        attributes = torch.tensor([*self.bins[index], scene.colour, scene.background], dtype=torch.long, device="cpu")
        return {"image": image.mul(2.0).sub(1.0), "caption": tokenize(caption, self.caption_length),
                "label": torch.tensor(label, device="cpu"), "attributes": attributes, "box": box,
                "keypoints": keypoints,
                "unseen": torch.tensor((label, scene.colour) in UNSEEN, device="cpu")}


class CaptionedDigits(GANDataModule):
    """MNIST5k digits rendered in colour on backgrounds, with captions of their measured properties.

    Args:
        image_size: the canvas side (64; 32 averages it down).
        heldout_fraction: the seeded share of images held out, besides every image of an unseen
            (digit, colour) combination.
        backgrounds: the backgrounds drawn from (black, brick, grass, gravel).
        captions_per_image: captions per image (one drawn per item and epoch).
        max_caption_length: token ids per caption (0 pads).
        train_size: train on this many of the training images (a seeded pick; None: all of them).
    """

    data_kind = "captioned"
    num_classes = 10
    train_sampler_class = EpochKeyedSampler

    def __init__(self, image_size: int = 64, batch_size: int = 64, num_workers: int = 0, seed: int = 0,
                 heldout_fraction: float = 0.1, backgrounds: Sequence[str] = BACKGROUNDS, captions_per_image: int = 8,
                 max_caption_length: int = MAX_WORDS, train_size: int | None = None) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        if image_size not in (32, 64):
            raise ValueError(f"data.image_size: {image_size} is not accepted; CaptionedDigits draws 64 px (or 32)")
        unknown = [b for b in backgrounds if b not in BACKGROUNDS]
        if unknown or not backgrounds:
            raise ValueError(f"data.backgrounds: {unknown[0] if unknown else 'none'!r} is not one of "
                             f"{', '.join(BACKGROUNDS)}")
        if not 0.0 <= heldout_fraction < 1.0:
            raise ValueError(f"data.heldout_fraction must be in [0, 1), got {heldout_fraction}")
        if captions_per_image < 1:
            raise ValueError(f"data.captions_per_image must be >= 1, got {captions_per_image}")
        self.image_size, self.heldout_fraction = image_size, heldout_fraction
        self.backgrounds, self.captions_per_image = tuple(backgrounds), captions_per_image
        if max_caption_length < MAX_WORDS:
            raise ValueError(f"data.max_caption_length must be >= {MAX_WORDS} (the longest caption), "
                             f"got {max_caption_length}")
        self.max_caption_length = max_caption_length
        if train_size is not None and train_size < 1:
            raise ValueError(f"data.train_size must be >= 1 or null, got {train_size}")
        self.train_size = train_size
        self.data_shape = (3, image_size, image_size)
        remember_data_arguments(self)

    def split(self) -> tuple[list[int], list[int]]:
        """(training indices, held-out indices) into MNIST5k: unseen combinations are held out whole."""
        _, labels, _ = measured_mnist5k()
        order = np.random.default_rng(self.seed).permutation(len(labels))
        cut = int(round(len(labels) * self.heldout_fraction))
        heldout = set(order[:cut].tolist())
        for index in range(len(labels)):
            if (int(labels[index]), _Scene(self.seed, index, self.backgrounds).colour) in UNSEEN:
                heldout.add(index)
        train = [i for i in range(len(labels)) if i not in heldout]
        if self.train_size is not None:
            keep = np.random.default_rng(self.seed + 1).permutation(len(train))[:self.train_size]
            train = sorted(train[i] for i in keep)
        return train, sorted(heldout)

    def build_datasets(self):
        train, heldout = self.split()
        make = functools.partial(CaptionedDigitsSet, seed=self.seed, backgrounds=self.backgrounds,
                                 captions_per_image=self.captions_per_image, caption_length=self.max_caption_length,
                                 image_size=self.image_size)
        return make(train), make(heldout)
