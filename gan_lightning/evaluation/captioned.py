"""The judges of CaptionedDigits, independent of training: what an image shows, measured without any
model's own networks (never the training DAMSM, never a caption encoder a model trains with).

``CaptionJudges.load_or_fit(seed, image_size)`` fits them once (seeded, one thread, a few CPU-minutes,
a progress line on stderr) and caches them in ``data.files.cache_dir()`` (one file per seed and image
size, written with ``save_atomically``). Images are (N, 3, S, S) in [-1, 1], S 32 or 64 (a 64 px image
given to 32 px judges is averaged down as ``image_size: 32`` does; a 32 px one given to 64 px judges
is upsampled, bilinear).

- ``digits``: a small CNN (:class:`CanvasNet`) trained on the rendered canvases of the *training*
  split's digits, each in its own scene and in ``scenes - 1`` more seeded scenes (other colours,
  backgrounds, sizes and positions: the judge sees every (digit, colour) combination, but never a
  held-out digit), random shifts of up to 2 px. The same network has a second head for the
  **background** (black, brick, grass, gravel): a tiny learned classifier, as no single pixel
  statistic told the three grey textures apart reliably.
- ``attributes``: deterministic pixel measurements. The ink's **alpha** is found by distance from grey
  (the textures are grey, the inks are not): the component of each pixel orthogonal to the grey axis,
  projected on the palette colour's; white ink (on the grey axis itself) by its brightness above the
  local background. The ink **colour** is the palette colour nearest the mean colour of the most
  saturated (or, for white, brightest) pixels. **Thickness, slant, width**: the alpha cropped to its
  ink box, scaled so that the box's long side is MNIST5k's median one (28 px digits) and centred in a
  28 px frame, measured by ``data.captions.measure_digits`` and binned by ``data.captions.binned``
  with MNIST5k's own cuts (its median thickness, each class's median width). The width's bin is
  against the class the ``digits`` judge sees (``attributes(images, labels=...)`` uses given labels,
  e.g. the asked digit, instead).
- ``boxes``: the ink box: the bounding box of the pixels whose ink alpha is above one half (the
  definition of ``benchmarks/gawwn_boxes.py``, there with the brightest channel as the alpha, which is
  the same on black); :func:`ink_boxes` and :func:`box_iou` are those two functions, moved here.
- ``r_precision``: Xu et al.'s R-precision (AttnGAN, section 4.1; R = 1): an image counts when its own
  caption scores highest among ``candidates`` captions (itself and ``candidates - 1`` captions of other
  images), by a joint image/text matcher (:class:`CanvasNet` for images, the architecture of
  ``nets.text.CaptionEncoder`` for captions, fresh weights; DAMSM's sentence loss,
  ``pretrained.matching_loss``) trained on the **held-out** split only: its images and all their
  captions.
- ``check()``: each judge's accuracy on the real held-out images (seen and unseen combinations apart)
  and the matcher's R-precision of real images, measured when the judges were fitted: the measures'
  own check, quoted by every section that uses them (``benchmarks/captioned_judges.py`` writes it).

The second evaluation module that reads a data set (after ``digits.py``), only inside functions.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gan_lightning.core.rng import seeded_rng

JUDGES_FORMAT = "gan_lightning.captioned_judges/1"
ACCEPTED_SIZES = (32, 64)
TEXTURE_MAX = 0.6  # CaptionedDigits' textures are 0.15 + 0.45 x a grey photograph: at most 0.6
WHITE = 0.97  # the palette's white ink
ATTRIBUTES = ("thickness", "slant", "width", "colour", "background")


# ---------------------------------------------------------------------------- image checks
def check_images(images: torch.Tensor, what: str = "images") -> torch.Tensor:
    """``images`` as float (N, 3, S, S) with S in 32 or 64; a one-line error otherwise."""
    if images.dim() != 4 or images.size(1) != 3 or images.size(-1) != images.size(-2):
        raise ValueError(f"{what}: shape {tuple(images.shape)} is not accepted; the judges take (N, 3, S, S) "
                         f"images in [-1, 1] with S one of {', '.join(map(str, ACCEPTED_SIZES))}")
    if images.size(-1) not in ACCEPTED_SIZES:
        raise ValueError(f"{what}: image size {images.size(-1)} is not accepted; the judges take "
                         f"{' or '.join(map(str, ACCEPTED_SIZES))} px (CaptionedDigits' image_size)")
    return images.float()


def resized(images: torch.Tensor, size: int) -> torch.Tensor:
    """Images at ``size`` px: averaged down (as CaptionedDigits' ``image_size: 32``) or upsampled (bilinear)."""
    if images.size(-1) == size:
        return images
    if images.size(-1) > size:
        return F.interpolate(images, size=size, mode="area")
    return F.interpolate(images, size=size, mode="bilinear", align_corners=False)


# ---------------------------------------------------------------------------- ink
def _palette(device: torch.device) -> torch.Tensor:
    from gan_lightning.data.captions import COLOURS

    return torch.tensor(list(COLOURS.values()), device=device)


def ink_colours(images: torch.Tensor) -> torch.Tensor:
    """(N,) the palette colour (index into ``data.captions.COLOURS``) nearest each image's ink.

    The ink: the pixels furthest from grey (saturation: largest minus smallest channel), at least 0.8 of
    the image's largest saturation; their mean colour, divided by its largest channel (the ink's edges
    on black are the colour dimmed), against the palette's colours divided the same way. When no pixel
    is saturated (below 0.2: white ink, or none), the brightest pixels (within 0.1 of the image's
    brightest) instead."""
    pixels = check_images(images).add(1.0).div(2.0).clamp(0.0, 1.0).flatten(2)  # (N, 3, P)
    saturation = pixels.amax(1) - pixels.amin(1)
    brightness = pixels.mean(1)
    top_saturation = saturation.amax(1, keepdim=True)
    coloured = saturation >= 0.8 * top_saturation
    bright = brightness >= brightness.amax(1, keepdim=True) - 0.1
    chosen = torch.where(top_saturation >= 0.2, coloured, bright).float()
    mean = (pixels * chosen[:, None]).sum(2) / chosen.sum(1, keepdim=True).clamp_min(1.0)
    palette = _palette(images.device)
    # by hue and saturation, not brightness: on black the ink's edges are the colour dimmed
    def scaled(colour: torch.Tensor) -> torch.Tensor:
        return colour / colour.amax(1, keepdim=True).clamp_min(1e-3)

    return torch.cdist(scaled(mean), scaled(palette)).argmin(1)


def ink_alpha(images: torch.Tensor, colours: torch.Tensor | None = None) -> torch.Tensor:
    """(N, S, S) the ink's alpha in [0, 1] of each image, given its ink colour (judged when None).

    A pixel is ``g (1 - a) + c a`` for a grey background level g and the ink colour c: its component
    orthogonal to the grey axis is ``a`` times c's, whatever g, so ``a`` is that projection. White ink
    lies on the grey axis: its alpha is the pixel's brightness above the local background's (the
    mean of the nearby pixels darker than any texture can be bright, 0 on black), over white's."""
    pixels = check_images(images).add(1.0).div(2.0).clamp(0.0, 1.0)
    if colours is None:
        colours = ink_colours(images)
    ink = _palette(images.device)[colours]  # (N, 3)
    chroma = ink - ink.mean(1, keepdim=True)
    norm = chroma.pow(2).sum(1)
    pixel_chroma = pixels - pixels.mean(1, keepdim=True)
    alpha = torch.einsum("nchw,nc->nhw", pixel_chroma, chroma) / norm.clamp_min(1e-6)[:, None, None]
    # white: brightness above the local background level
    brightness = pixels.mean(1, keepdim=True)
    background = (brightness <= TEXTURE_MAX).float()
    window = max(3, images.size(-1) // 8) | 1
    level = F.avg_pool2d(brightness * background, window, 1, window // 2, count_include_pad=False)
    share = F.avg_pool2d(background, window, 1, window // 2, count_include_pad=False)
    level = torch.where(share > 0.05, level / share.clamp_min(1e-6), torch.zeros_like(level))
    white = ((brightness - level) / (WHITE - level).clamp_min(0.05))[:, 0]
    is_white = (norm < 1e-3)[:, None, None]
    return torch.where(is_white, white, alpha).clamp(0.0, 1.0)


def mask_boxes(ink: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 4) boxes (x0, y0, x1, y1 in [0, 1]) of boolean masks (N, S, S), and whether any pixel is set."""
    size = ink.size(-1)
    rows, cols = ink.any(2), ink.any(1)
    index = torch.arange(size, dtype=torch.float32, device=ink.device)
    big = float(size)

    def span(mask):
        low = torch.where(mask, index, big).amin(1)
        high = torch.where(mask, index, -1.0).amax(1) + 1.0
        return low / size, high / size

    x0, x1 = span(cols)
    y0, y1 = span(rows)
    return torch.stack([x0, y0, x1, y1], 1), ink.flatten(1).any(1)


def ink_boxes(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 4) ink boxes of images in [-1, 1] on a black background (the pixels whose brightest channel
    is above half intensity; ``benchmarks/gawwn_boxes.py``'s measure) and whether any pixel is inked."""
    return mask_boxes(images.add(1.0).div(2.0).amax(1) > 0.5)


def box_iou(asked: torch.Tensor, found: torch.Tensor, inked: torch.Tensor) -> torch.Tensor:
    """IoU of each asked box with each found box (0 where nothing was inked)."""
    width = (torch.minimum(asked[:, 2], found[:, 2]) - torch.maximum(asked[:, 0], found[:, 0])).clamp_min(0)
    height = (torch.minimum(asked[:, 3], found[:, 3]) - torch.maximum(asked[:, 1], found[:, 1])).clamp_min(0)
    inter = width * height
    area = ((asked[:, 2] - asked[:, 0]) * (asked[:, 3] - asked[:, 1])
            + (found[:, 2] - found[:, 0]) * (found[:, 3] - found[:, 1]))
    return torch.where(inked, inter / (area - inter).clamp_min(1e-8), torch.zeros_like(inter))


def digits_28px(alpha: torch.Tensor, long_side: float) -> torch.Tensor:
    """uint8 (N, 28, 28) digits of ink alphas (N, S, S): each cropped to its ink box (alpha above one
    half, one pixel of margin), scaled so that the box's long side is ``long_side`` px, centred."""
    out = torch.zeros(len(alpha), 28, 28)
    boxes, inked = mask_boxes(alpha > 0.5)
    size = alpha.size(-1)
    for i in range(len(alpha)):
        if not inked[i]:
            continue
        x0, y0, x1, y1 = (round(float(v) * size) for v in boxes[i])
        scale = long_side / max(x1 - x0, y1 - y0)
        x0, y0, x1, y1 = max(x0 - 1, 0), max(y0 - 1, 0), min(x1 + 1, size), min(y1 + 1, size)
        crop = alpha[i, y0:y1, x0:x1]
        height = min(28, max(1, round(crop.size(0) * scale)))
        width = min(28, max(1, round(crop.size(1) * scale)))
        crop = F.interpolate(crop[None, None], size=(height, width), mode="bilinear", align_corners=False,
                             antialias=scale < 1.0)[0, 0]
        top, left = (28 - height) // 2, (28 - width) // 2
        out[i, top:top + height, left:left + width] = crop
    return out.clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8)


# ---------------------------------------------------------------------------- networks
class CanvasNet(nn.Module):
    """A small CNN over (N, 3, S, S) canvases in [-1, 1] (S the judges' size) to ``outputs`` numbers.

    A 3x3 stem (stride 2 at 64 px, so that both sizes continue at 32), then 3x3 convolutions with
    batch norm and max pooling to 4 px (32, 64, 128, 128 channels), global average pooling, a linear head."""

    def __init__(self, image_size: int, outputs: int) -> None:
        super().__init__()

        def block(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]

        self.features = nn.Sequential(
            *block(3, 32, 2 if image_size == 64 else 1), nn.MaxPool2d(2),  # 16 px
            *block(32, 64), nn.MaxPool2d(2),  # 8 px
            *block(64, 128), nn.MaxPool2d(2),  # 4 px
            *block(128, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(128, outputs)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


class Matcher(nn.Module):
    """The R-precision matcher: images and captions to one normalised embedding space (``dim``)."""

    def __init__(self, image_size: int, dim: int = 128) -> None:
        super().__init__()
        from gan_lightning.data.captions import VOCABULARY
        from gan_lightning.nets.text import CaptionEncoder

        self.image = CanvasNet(image_size, dim)
        self.text = CaptionEncoder(len(VOCABULARY), embed_dim=64, hidden=dim // 2)

    def embed_images(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.image(images), dim=1)

    def embed_captions(self, captions: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.text(captions)[0], dim=1)


def r_precision_of(image_embeddings: torch.Tensor, caption_embeddings: torch.Tensor, candidates: int = 100,
                   seed: int = 0) -> float:
    """Xu et al.'s R-precision (R = 1) of embeddings: the share of images i whose caption i scores at least
    as high (cosine) as each of ``candidates - 1`` captions of other images, drawn per image from a seeded
    generator (an identical caption of another image is a tie, won by the image's own)."""
    n = len(image_embeddings)
    if len(caption_embeddings) != n:
        raise ValueError(f"r_precision: {n} images but {len(caption_embeddings)} captions; one caption per image")
    if candidates < 2 or n < candidates:
        raise ValueError(f"r_precision: candidates={candidates} needs 2 <= candidates <= the number of images "
                         f"(got {n} images with their captions)")
    scores = F.normalize(image_embeddings.float(), dim=1) @ F.normalize(caption_embeddings.float(), dim=1).T
    generator = torch.Generator().manual_seed(seed)
    others = torch.stack([torch.randperm(n - 1, generator=generator)[:candidates - 1] for _ in range(n)])
    rows = torch.arange(n)[:, None]
    others = others + (others >= rows).long()  # skip the image's own caption
    own = scores.diagonal()
    best_other = scores.gather(1, others.to(scores.device)).amax(1)
    return float((own >= best_other).float().mean())


# ---------------------------------------------------------------------------- the judges
class CaptionJudges:
    """The fitted judges of CaptionedDigits at one image size (see the module docstring)."""

    def __init__(self, image_size: int, canvas: CanvasNet, matcher: Matcher, thresholds: dict[str, Any],
                 long_side: float, report: dict[str, Any] | None = None, seed: int = 0) -> None:
        if image_size not in ACCEPTED_SIZES:
            raise ValueError(f"CaptionJudges image_size: {image_size} is not accepted; "
                             f"{' or '.join(map(str, ACCEPTED_SIZES))} (CaptionedDigits' image_size)")
        self.image_size, self.seed = image_size, seed
        self.canvas = canvas.eval().requires_grad_(False)
        self.matcher = matcher.eval().requires_grad_(False)
        self.thresholds = {key: np.asarray(value, dtype=np.float64) for key, value in thresholds.items()}
        self.long_side = float(long_side)
        self.report = dict(report or {})

    # -- construction
    @staticmethod
    def path(seed: int, image_size: int) -> Path:
        from gan_lightning.data.files import cache_dir

        return cache_dir() / f"captioned_judges_seed{seed}_{image_size}px.pt"

    @classmethod
    def load_or_fit(cls, seed: int = 0, image_size: int = 64, path: str | Path | None = None,
                    verbose: bool = True, **fit_args) -> CaptionJudges:
        """The judges cached for ``(seed, image_size)`` (or at ``path``), fitted and saved first when missing."""
        if image_size not in ACCEPTED_SIZES:
            raise ValueError(f"CaptionJudges image_size: {image_size} is not accepted; "
                             f"{' or '.join(map(str, ACCEPTED_SIZES))} (CaptionedDigits' image_size)")
        arguments = _fit_arguments(fit_args)
        path = Path(path) if path is not None else cls.path(seed, image_size)
        if path.is_file():
            payload = torch.load(path, map_location="cpu", weights_only=True)
            if isinstance(payload, dict) and payload.get("format") == JUDGES_FORMAT and \
                    payload.get("fit_args") == arguments:
                return cls.from_payload(payload)
        judges = fit_judges(seed, image_size, verbose=verbose, **arguments)
        from gan_lightning.data.files import save_atomically

        save_atomically(judges.payload(arguments), path)
        return judges

    def payload(self, fit_args: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"format": JUDGES_FORMAT, "seed": self.seed, "image_size": self.image_size,
                "canvas": self.canvas.state_dict(), "matcher": self.matcher.state_dict(),
                "thresholds": {k: v.tolist() for k, v in self.thresholds.items()}, "long_side": self.long_side,
                "report": self.report, "fit_args": fit_args or {}}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> CaptionJudges:
        size = payload["image_size"]
        canvas, matcher = CanvasNet(size, 14), Matcher(size)
        canvas.load_state_dict(payload["canvas"])
        matcher.load_state_dict(payload["matcher"])
        return cls(size, canvas, matcher, payload["thresholds"], payload["long_side"], payload["report"],
                   payload["seed"])

    def to(self, device: torch.device | str) -> CaptionJudges:
        """The networks moved to ``device`` (images are judged there; the pixel measurements stay where the
        images are, ``measure_digits`` on the CPU)."""
        self.canvas.to(device)
        self.matcher.to(device)
        return self

    # -- the judges
    def _input(self, images: torch.Tensor) -> torch.Tensor:
        return resized(check_images(images), self.image_size)

    @torch.no_grad()
    def _canvas_logits(self, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        images = self._input(images)
        parameter = next(self.canvas.parameters())
        return torch.cat([self.canvas(images[i:i + batch_size].to(parameter)) for i in range(0, len(images), batch_size)]
                         ) if len(images) else torch.zeros(0, 14)

    def digits(self, images: torch.Tensor) -> torch.Tensor:
        """(N,) long: the digit the CNN sees."""
        return self._canvas_logits(images)[:, :10].argmax(1).to(images.device)

    def backgrounds(self, images: torch.Tensor) -> torch.Tensor:
        """(N,) long: the background (index into ``data.captions.BACKGROUNDS``) the CNN's second head sees."""
        return self._canvas_logits(images)[:, 10:].argmax(1).to(images.device)

    def attributes(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Bin indices (N,) long of "thickness", "slant", "width", "colour", "background", as
        CaptionedDigits' ``attributes``; the width against ``labels``' class (default: the judged digit)."""
        from gan_lightning.data.captions import binned, measure_digits

        images = check_images(images)
        logits = self._canvas_logits(images)
        colours = ink_colours(images)
        digits28 = digits_28px(ink_alpha(images, colours).cpu(), self.long_side)
        classes = (logits[:, :10].argmax(1) if labels is None else torch.as_tensor(labels)).cpu().numpy()
        bins = torch.from_numpy(binned(measure_digits(digits28), classes, self.thresholds)) if len(images) else \
            torch.zeros(0, 3, dtype=torch.long)
        device = images.device
        return {"thickness": bins[:, 0].to(device), "slant": bins[:, 1].to(device), "width": bins[:, 2].to(device),
                "colour": colours.to(device), "background": logits[:, 10:].argmax(1).to(device)}

    def boxes(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 4) float: the ink box (x0, y0, x1, y1) in [0, 1] canvas coordinates (alpha above one half;
        the whole canvas where no pixel is inked)."""
        found, inked = mask_boxes(ink_alpha(images) > 0.5)
        whole = torch.tensor([0.0, 0.0, 1.0, 1.0], device=found.device).expand_as(found)
        return torch.where(inked[:, None], found, whole)

    @torch.no_grad()
    def embed(self, images: torch.Tensor, captions: torch.Tensor,
              batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
        """(image embeddings, caption embeddings) of the matcher, both normalised."""
        images = self._input(images)
        captions = torch.as_tensor(captions).long().cpu()
        parameter = next(self.matcher.parameters())
        first = [self.matcher.embed_images(images[i:i + batch_size].to(parameter)) for i in range(0, len(images), batch_size)]
        second = [self.matcher.embed_captions(captions[i:i + batch_size].to(parameter.device))
                  for i in range(0, len(captions), batch_size)]
        return torch.cat(first).cpu(), torch.cat(second).cpu()

    def r_precision(self, images: torch.Tensor, captions: torch.Tensor, candidates: int = 100, seed: int = 0) -> float:
        """The share of images whose own caption (row i of ``captions``, token ids (N, L)) ranks first among
        itself and ``candidates - 1`` captions of other images (Xu et al.'s R-precision, R = 1)."""
        if len(captions) != len(images):
            raise ValueError(f"r_precision: {len(images)} images but {len(captions)} captions; one caption per image")
        image_embeddings, caption_embeddings = self.embed(images, captions)
        return r_precision_of(image_embeddings, caption_embeddings, candidates, seed)

    def check(self) -> dict[str, Any]:
        """Each judge's accuracy on the real held-out images (measured when fitted): ``digits``, each
        attribute, ``box_iou`` (mean IoU with the rendered box), each also ``_seen`` / ``_unseen``;
        ``r_precision`` of real held-out images with their own captions (``_shuffled``: with another
        image's; ``_training_split``: real training-split images, which the matcher never saw)."""
        return dict(self.report)


# ---------------------------------------------------------------------------- fitting
FIT_DEFAULTS = {"scenes": 3, "digit_epochs": 15, "matcher_epochs": 30, "batch_size": 64, "lr": 2e-3, "limit": None}


def _fit_arguments(fit_args: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(fit_args) - set(FIT_DEFAULTS))
    if unknown:
        raise ValueError(f"CaptionJudges: unknown fitting argument {unknown[0]!r}; accepted: {', '.join(FIT_DEFAULTS)}")
    return {**FIT_DEFAULTS, **fit_args}


def _progress(text: str, verbose: bool) -> None:
    if verbose:
        print(f"captioned judges: {text}", file=sys.stderr, flush=True)


def _stacked(dataset, keys=("image", "label", "attributes", "box", "unseen")) -> dict[str, torch.Tensor]:
    items = [dataset[i] for i in range(len(dataset))]
    return {key: torch.stack([item[key] for item in items]) for key in keys}


def _shifted(images: torch.Tensor, generator: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    """Each image translated by up to ``max_shift`` px (edges replicated)."""
    n, _, height, width = images.shape
    padded = F.pad(images, (max_shift,) * 4, mode="replicate")
    offsets = torch.randint(0, 2 * max_shift + 1, (n, 2), generator=generator)
    rows = (offsets[:, 0, None] + torch.arange(height))[:, :, None]
    cols = (offsets[:, 1, None] + torch.arange(width))[:, None, :]
    return padded[torch.arange(n)[:, None, None], :, rows, cols].permute(0, 3, 1, 2)


def _train_canvas(images, labels, backgrounds, image_size, epochs, batch_size, lr, seed, verbose) -> CanvasNet:
    generator = torch.Generator().manual_seed(seed)
    net = CanvasNet(image_size, 14)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    steps = epochs * ((len(images) + batch_size - 1) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=max(steps, 1))
    net.train()
    for epoch in range(epochs):
        order = torch.randperm(len(images), generator=generator)
        total, correct = 0.0, 0
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            logits = net(_shifted(images[batch], generator))
            loss = F.cross_entropy(logits[:, :10], labels[batch]) + F.cross_entropy(logits[:, 10:], backgrounds[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach()) * len(batch)
            correct += int((logits[:, :10].argmax(1) == labels[batch]).sum())
        _progress(f"digits CNN epoch {epoch + 1}/{epochs}: loss {total / len(images):.3f}, "
                  f"training accuracy {correct / len(images):.3f}", verbose)
    return net.eval()


def _train_matcher(images, captions, image_size, epochs, batch_size, lr, seed, verbose) -> Matcher:
    """``captions``: (N, K, L), K captions per image; each step draws one per image."""
    from gan_lightning.pretrained import matching_loss

    generator = torch.Generator().manual_seed(seed)
    matcher = Matcher(image_size)
    optimizer = torch.optim.Adam(matcher.parameters(), lr=lr)
    steps = epochs * (len(images) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=max(steps, 1))
    matcher.train()
    for epoch in range(epochs):
        order = torch.randperm(len(images), generator=generator)
        pick = torch.randint(0, captions.size(1), (len(images),), generator=generator)
        total = 0.0
        for start in range(0, len(order) - batch_size + 1, batch_size):
            batch = order[start:start + batch_size]
            text = matcher.embed_captions(captions[batch, pick[batch]])
            loss = matching_loss(text, matcher.embed_images(_shifted(images[batch], generator)))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach())
        _progress(f"matcher epoch {epoch + 1}/{epochs}: loss {total / max(len(order) // batch_size, 1):.3f}", verbose)
    return matcher.eval()


def _accuracy(found: torch.Tensor, truth: torch.Tensor, unseen: torch.Tensor) -> dict[str, float]:
    hits = (found.cpu() == truth.cpu()).float()
    return {"": float(hits.mean()), "_seen": float(hits[~unseen].mean()), "_unseen": float(hits[unseen].mean())}


def measure_check(judges: CaptionJudges, heldout: dict[str, torch.Tensor], captions: torch.Tensor,
                  training: dict[str, torch.Tensor] | None = None, training_captions: torch.Tensor | None = None,
                  candidates: int = 100) -> dict[str, Any]:
    """The judges on real images (``heldout``: stacked CaptionedDigits items; ``captions`` one per image)."""
    images, unseen = heldout["image"], heldout["unseen"].bool()
    report: dict[str, Any] = {"image_size": judges.image_size, "seed": judges.seed, "num_heldout": len(images),
                              "num_unseen": int(unseen.sum()), "candidates": candidates}
    for suffix, value in _accuracy(judges.digits(images), heldout["label"], unseen).items():
        report[f"digits{suffix}"] = value
    found = judges.attributes(images)
    for column, name in enumerate(ATTRIBUTES):
        for suffix, value in _accuracy(found[name], heldout["attributes"][:, column], unseen).items():
            report[f"{name}{suffix}"] = value
    iou = box_iou(heldout["box"], judges.boxes(images), torch.ones(len(images), dtype=torch.bool))
    report.update(box_iou=float(iou.mean()), box_iou_seen=float(iou[~unseen].mean()),
                  box_iou_unseen=float(iou[unseen].mean()))
    if len(images) >= candidates:
        report["r_precision"] = judges.r_precision(images, captions, candidates)
        shuffled = captions[torch.randperm(len(captions), generator=torch.Generator().manual_seed(1))]
        report["r_precision_shuffled"] = judges.r_precision(images, shuffled, candidates)
    if training is not None and training_captions is not None and len(training["image"]) >= candidates:
        report["r_precision_training_split"] = judges.r_precision(training["image"], training_captions, candidates)
    return report


def fit_judges(seed: int = 0, image_size: int = 64, verbose: bool = True, scenes: int = 3, digit_epochs: int = 15,
               matcher_epochs: int = 30, batch_size: int = 64, lr: float = 2e-3,
               limit: int | None = None) -> CaptionJudges:
    """Fit the judges on CaptionedDigits (data seed ``seed``): seeded, one thread, the global RNG left alone.
    ``limit``: only the first ``limit`` images of each split (tests)."""
    from gan_lightning.data import CaptionedDigits
    from gan_lightning.data.captions import (
        CaptionedDigitsSet,
        attribute_thresholds,
        measure_digits,
        measured_mnist5k,
        tokenize,
    )

    started, cpu = time.perf_counter(), time.process_time()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with seeded_rng(seed):
            data = CaptionedDigits(image_size=image_size, seed=seed)
            train_indices, heldout_indices = (part[:limit] for part in data.split())
            digits, labels, _ = measured_mnist5k()
            measures = measure_digits(digits)
            thresholds = attribute_thresholds(measures, labels)
            long_side = float(np.median([_long_side(d) for d in digits]))
            _progress(f"measured MNIST5k's cuts ({time.perf_counter() - started:.0f} s); rendering "
                      f"{len(train_indices)} training digits in {scenes} scenes", verbose)

            def split_set(indices, scene_seed):
                return CaptionedDigitsSet(indices, seed=scene_seed, backgrounds=data.backgrounds,
                                          captions_per_image=data.captions_per_image,
                                          caption_length=data.max_caption_length, image_size=image_size)

            rendered = [_stacked(split_set(train_indices, seed if k == 0 else seed + 7919 * k)) for k in range(scenes)]
            train = {key: torch.cat([r[key] for r in rendered]) for key in rendered[0]}
            canvas = _train_canvas(train["image"], train["label"], train["attributes"][:, 4], image_size,
                                   digit_epochs, batch_size, lr, seed, verbose)

            heldout_set = split_set(heldout_indices, seed)
            heldout = _stacked(heldout_set)
            all_captions = torch.stack([torch.stack([tokenize(c, data.max_caption_length)
                                                     for c in heldout_set.captions(i)]) for i in range(len(heldout_set))])
            _progress(f"rendered {len(heldout_indices)} held-out images with {all_captions.size(1)} captions each; "
                      f"training the matcher ({time.perf_counter() - started:.0f} s)", verbose)
            matcher = _train_matcher(heldout["image"], all_captions, image_size, matcher_epochs, batch_size, lr, seed,
                                     verbose)
            judges = CaptionJudges(image_size, canvas, matcher, thresholds, long_side, seed=seed)
            own = all_captions[:, 0]
            training_set = split_set(train_indices, seed)
            training = _stacked(training_set)
            training_captions = torch.stack([tokenize(training_set.captions(i)[0], data.max_caption_length)
                                             for i in range(len(training_set))])
            judges.report = measure_check(judges, heldout, own, training, training_captions)
            judges.report.update(fit_seconds=time.perf_counter() - started, fit_cpu_seconds=time.process_time() - cpu,
                                 fit_args={"scenes": scenes, "digit_epochs": digit_epochs,
                                           "matcher_epochs": matcher_epochs, "batch_size": batch_size, "lr": lr,
                                           "limit": limit})
            _progress(f"fitted in {judges.report['fit_seconds']:.0f} s: " + ", ".join(
                f"{k} {v:.3f}" for k, v in judges.report.items() if isinstance(v, float) and "_" not in k), verbose)
            return judges
    finally:
        torch.set_num_threads(threads)


def _long_side(digit: torch.Tensor) -> float:
    """The long side of a uint8 28 px digit's ink box (pixels above half intensity)."""
    ink = digit > 127
    rows, cols = torch.nonzero(ink.any(1)).flatten(), torch.nonzero(ink.any(0)).flatten()
    if len(rows) == 0:
        return 20.0
    return float(max(rows.max() - rows.min() + 1, cols.max() - cols.min() + 1))
