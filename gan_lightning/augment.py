"""Differentiable augmentations of discriminator inputs: DiffAugment and the ADA pipeline.

Pure tensor operations on image batches ``(N, C, H, W)`` in the data's range ([-1, 1]); they
know nothing about training. A callback installs one of them with
``GANModule.set_discriminator_augment``, and ``run_discriminator`` then applies it to every D
input (reals and fakes, D and G steps) while the module is training
(``gan_lightning.callbacks.DiffAugmentCallback`` / ``AdaptiveAugmentation``).

Every random parameter is drawn per sample from the global torch RNG on the input's device,
so a seeded run repeats and the core's checkpointed RNG states make a resume bitwise. Inputs
that are not image batches (AAE's codes, 2-D toy points) pass unchanged.

- :class:`DiffAugment` (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN
  Training", mit-han-lab/data-efficient-gans ``DiffAugment_pytorch.py``): the policies
  ``color`` (brightness + U(-0.5, 0.5); saturation x U(0, 2) around the channel mean, a no-op
  on 1-channel data; contrast x U(0.5, 1.5) around the image mean), ``translation`` (integer
  shifts of up to ``int(size / 8 + 0.5)`` pixels, 4 at 28 px and 32 px, zero padding) and
  ``cutout`` (a ``int(size / 2 + 0.5)`` square, 14 x 14 at 28 px, zeroed around a uniform
  centre; as in the reference, a square centred near a border is cut by it).
- :class:`AdaAugment` (Karras et al. 2020, "Training Generative Adversarial Networks with
  Limited Data", NVlabs/stylegan2-ada-pytorch ``training/augment.py``): the ``bgc`` pipeline,
  12 of the paper's 18 transforms, each applied to each sample with probability ``p``:
  blit (x-flip, 90-degree rotations, integer translation), geometric (isotropic scaling,
  arbitrary rotation, anisotropic scaling, fractional translation) and color (brightness,
  contrast, luma flip, hue rotation, saturation), with the reference's strengths. Not
  implemented: image-space filtering (4 bands), additive noise and cutout (the ``bgcfnc``
  extras, which the paper found not to help). Geometry is one bilinear ``grid_sample`` with
  reflection padding, without the reference's 2x wavelet oversampling (which needs its
  upfirdn2d op); samples no transform touched are returned bitwise unchanged.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

DIFFAUGMENT_POLICIES = ("color", "translation", "cutout")


def _is_image_batch(x: torch.Tensor) -> bool:
    return isinstance(x, torch.Tensor) and x.dim() == 4


def _uniform(x: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """One U(low, high) value per sample, shaped (N, 1, 1, 1) to broadcast over an image."""
    return torch.rand(x.size(0), 1, 1, 1, dtype=x.dtype, device=x.device) * (high - low) + low


# ---------------------------------------------------------------------------- DiffAugment
def random_brightness(x: torch.Tensor) -> torch.Tensor:
    return x + _uniform(x, -0.5, 0.5)


def random_saturation(x: torch.Tensor) -> torch.Tensor:
    """Scale each pixel's distance to its channel mean (1 channel: the mean is the pixel, no change)."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * _uniform(x, 0.0, 2.0) + mean


def random_contrast(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * _uniform(x, 0.5, 1.5) + mean


def random_translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by whole pixels, up to ``int(size * ratio + 0.5)`` each way; zeros fill in."""
    n, _, h, w = x.shape
    max_dy, max_dx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-max_dy, max_dy + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-max_dx, max_dx + 1, (n, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1) - dy  # the source row of each output row
    cols = torch.arange(w, device=x.device).view(1, 1, w) - dx
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    # advanced indexing: its backward accumulates with a deterministic kernel on every device
    moved = x.permute(0, 2, 3, 1)[batch, rows.clamp(0, h - 1), cols.clamp(0, w - 1)].permute(0, 3, 1, 2)
    return moved * inside.unsqueeze(1).to(x.dtype)


def random_cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero a ``int(size * ratio + 0.5)`` square around a uniform centre in each image."""
    n, _, h, w = x.shape
    size_y, size_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    # the reference's centres: 0..size inclusive for an even square, 0..size-1 for an odd one
    centre_y = torch.randint(0, h + (1 - size_y % 2), (n, 1, 1), device=x.device)
    centre_x = torch.randint(0, w + (1 - size_x % 2), (n, 1, 1), device=x.device)
    top, left = centre_y - size_y // 2, centre_x - size_x // 2
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    cut = (rows >= top) & (rows < top + size_y) & (cols >= left) & (cols < left + size_x)
    return x * (~cut).unsqueeze(1).to(x.dtype)


_POLICY_OPS = {
    "color": (random_brightness, random_saturation, random_contrast),
    "translation": (random_translation,),
    "cutout": (random_cutout,),
}


def parse_policy(policy: str | Sequence[str]) -> tuple[str, ...]:
    names = [p.strip() for p in (policy.split(",") if isinstance(policy, str) else policy) if p.strip()]
    unknown = [p for p in names if p not in _POLICY_OPS]
    if unknown:
        raise ValueError(f"unknown DiffAugment policy {unknown[0]!r}; choose from {', '.join(DIFFAUGMENT_POLICIES)}")
    return tuple(names)


def diff_augment(x: torch.Tensor, policy: str | Sequence[str] = "color,translation,cutout") -> torch.Tensor:
    """DiffAugment: the policy's transforms in order, with fresh per-sample parameters."""
    if not _is_image_batch(x):
        return x
    for name in parse_policy(policy):
        for op in _POLICY_OPS[name]:
            x = op(x)
    return x


class DiffAugment:
    """``DiffAugment("color,translation,cutout")(images)``: the augment a callback installs."""

    def __init__(self, policy: str | Sequence[str] = "color,translation,cutout") -> None:
        self.policy = parse_policy(policy)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return diff_augment(x, self.policy)

    def __repr__(self) -> str:
        return f"DiffAugment({','.join(self.policy)!r})"


# ---------------------------------------------------------------------------- ADA
ADA_TRANSFORMS = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac",
                  "brightness", "contrast", "lumaflip", "hue", "saturation")
# The reference's strengths (AugmentPipe defaults): translations relative to the image size,
# *_std of log2 factors, rotation and hue ranges in half turns (1 = the full circle).
ADA_STRENGTHS = {"xint_max": 0.125, "scale_std": 0.2, "rotate_max": 1.0, "aniso_std": 0.2, "xfrac_std": 0.125,
                 "brightness_std": 0.2, "contrast_std": 0.5, "hue_max": 1.0, "saturation_std": 1.0}


def _matrices(*rows: Sequence[torch.Tensor | float], like: torch.Tensor) -> torch.Tensor:
    """A batch of matrices (N, R, C) from rows of per-sample tensors (N,) or constants."""
    n = like.size(0)
    return torch.stack([torch.stack([torch.as_tensor(v, dtype=like.dtype, device=like.device).expand(n)
                                     for v in row], dim=-1) for row in rows], dim=-2)


def _translate2d(tx, ty, like):
    return _matrices([1, 0, tx], [0, 1, ty], [0, 0, 1], like=like)


def _scale2d(sx, sy, like):
    return _matrices([sx, 0, 0], [0, sy, 0], [0, 0, 1], like=like)


def _rotate2d(theta, like):
    return _matrices([torch.cos(theta), -torch.sin(theta), 0], [torch.sin(theta), torch.cos(theta), 0], [0, 0, 1],
                     like=like)


class AdaAugment:
    """The ADA pipeline: each transform of ``transforms`` hits each sample with probability ``p``.

    ``p`` (a float, or a 0-d tensor) is set by the controller
    (:class:`gan_lightning.callbacks.AdaptiveAugmentation`); with ``p == 0`` the input is
    returned as it is and nothing is drawn. Geometric transforms compose one inverse matrix
    (output pixel -> input pixel) per sample, as the reference does; color transforms one 4x4
    matrix on homogeneous RGB. On 1-channel data the color matrix is averaged to a gain and an
    offset (the reference's rule), and hue and saturation, which do not change gray, are skipped;
    data whose channels are a multiple of 3 (pix2pix's image pairs) are treated as RGB triples.
    """

    def __init__(self, p: float = 0.0, transforms: Sequence[str] = ADA_TRANSFORMS) -> None:
        unknown = [t for t in transforms if t not in ADA_TRANSFORMS]
        if unknown:
            raise ValueError(f"unknown ADA transform {unknown[0]!r}; choose from {', '.join(ADA_TRANSFORMS)}")
        self.p = p
        self.transforms = frozenset(transforms)

    def __repr__(self) -> str:
        return f"AdaAugment(p={float(self.p):.4f})"

    def _chosen(self, n: int, device, probability=None) -> torch.Tensor:
        """Which samples a transform hits: (N,) booleans, each true with probability ``p``."""
        return torch.rand(n, device=device) < (self.p if probability is None else probability)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if not _is_image_batch(x) or float(self.p) <= 0.0:
            return x
        return self._color(self._geometry(x))

    # -------------------------------------------------------------- geometry
    def _geometry(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        s, on, device = ADA_STRENGTHS, self.transforms, x.device
        ref = torch.zeros(n, device=device)  # float32 parameters whatever the image dtype
        one, zero = torch.ones_like(ref), ref
        inverse = torch.eye(3, device=device).expand(n, 3, 3)  # output pixel -> input pixel, centred

        def pick(value, identity, probability=None):
            return torch.where(self._chosen(n, device, probability), value, identity)

        if "xflip" in on:
            flip = pick(torch.floor(torch.rand(n, device=device) * 2), zero)
            inverse = inverse @ _scale2d(1 - 2 * flip, 1, ref)
        if "rotate90" in on:
            quarter = pick(torch.floor(torch.rand(n, device=device) * 4), zero)
            inverse = inverse @ _rotate2d(math.pi / 2 * quarter, ref)
        if "xint" in on:
            t = (torch.rand(n, 2, device=device) * 2 - 1) * s["xint_max"]
            t = torch.where(self._chosen(n, device)[:, None], t, torch.zeros_like(t))
            inverse = inverse @ _translate2d(-torch.round(t[:, 0] * w), -torch.round(t[:, 1] * h), ref)
        if "scale" in on:
            scale = pick(torch.exp2(torch.randn(n, device=device) * s["scale_std"]), one)
            inverse = inverse @ _scale2d(1 / scale, 1 / scale, ref)
        # rotation before and after the anisotropic scaling, each with p_rot: P(either) = p
        p_rot = 1 - math.sqrt(min(max(1 - float(self.p), 0.0), 1.0))
        if "rotate" in on:
            theta = pick((torch.rand(n, device=device) * 2 - 1) * math.pi * s["rotate_max"], zero, p_rot)
            inverse = inverse @ _rotate2d(theta, ref)
        if "aniso" in on:
            aniso = pick(torch.exp2(torch.randn(n, device=device) * s["aniso_std"]), one)
            inverse = inverse @ _scale2d(1 / aniso, aniso, ref)
        if "rotate" in on:
            theta = pick((torch.rand(n, device=device) * 2 - 1) * math.pi * s["rotate_max"], zero, p_rot)
            inverse = inverse @ _rotate2d(theta, ref)
        if "xfrac" in on:
            t = torch.randn(n, 2, device=device) * s["xfrac_std"]
            t = torch.where(self._chosen(n, device)[:, None], t, torch.zeros_like(t))
            inverse = inverse @ _translate2d(-t[:, 0] * w, -t[:, 1] * h, ref)

        # no early exit when nothing moved: that test would wait for the device every call
        moved = (inverse - torch.eye(3, device=device)).abs().amax(dim=(1, 2)) > 0
        # centred pixel coordinates -> affine_grid's [-1, 1] (align_corners=False: the pixel edges)
        to_unit = _scale2d(2 / w, 2 / h, ref)
        theta = (to_unit @ inverse @ torch.linalg.inv(to_unit))[:, :2]
        grid = F.affine_grid(theta, [n, x.size(1), h, w], align_corners=False)
        sampled = F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="reflection", align_corners=False)
        return torch.where(moved.view(n, 1, 1, 1), sampled.to(x.dtype), x)

    # -------------------------------------------------------------- color
    def _color(self, x: torch.Tensor) -> torch.Tensor:
        n, channels, h, w = x.shape
        s = ADA_STRENGTHS
        ref = torch.zeros(n, device=x.device)
        eye = torch.eye(4, device=x.device)
        color = eye.expand(n, 4, 4)  # homogeneous RGB in -> out
        luma = torch.tensor([1.0, 1.0, 1.0, 0.0], device=x.device) / math.sqrt(3)
        luma_outer = torch.outer(luma, luma)
        rgb = channels % 3 == 0

        def chosen_or(value, identity):
            return torch.where(self._chosen(n, x.device), value, identity)

        if "brightness" in self.transforms:
            b = chosen_or(torch.randn(n, device=x.device) * s["brightness_std"], ref)
            color = _matrices([1, 0, 0, b], [0, 1, 0, b], [0, 0, 1, b], [0, 0, 0, 1], like=ref) @ color
        if "contrast" in self.transforms:
            c = chosen_or(torch.exp2(torch.randn(n, device=x.device) * s["contrast_std"]), torch.ones_like(ref))
            color = _matrices([c, 0, 0, 0], [0, c, 0, 0], [0, 0, c, 0], [0, 0, 0, 1], like=ref) @ color
        if "lumaflip" in self.transforms:
            flip = chosen_or(torch.floor(torch.rand(n, device=x.device) * 2), ref)
            color = (eye - 2 * luma_outer * flip.view(n, 1, 1)) @ color  # Householder reflection of luma
        if "hue" in self.transforms and rgb:
            theta = chosen_or((torch.rand(n, device=x.device) * 2 - 1) * math.pi * s["hue_max"], ref)
            color = _rotation_about(luma[:3], theta) @ color
        if "saturation" in self.transforms and rgb:
            sat = chosen_or(torch.exp2(torch.randn(n, device=x.device) * s["saturation_std"]), torch.ones_like(ref))
            color = (luma_outer + (eye - luma_outer) * sat.view(n, 1, 1)) @ color

        changed = (color - eye).abs().amax(dim=(1, 2)) > 0
        if rgb:
            pixels = x.float().reshape(n, channels // 3, 3, h * w)
            out = color[:, None, :3, :3] @ pixels + color[:, None, :3, 3:]
        else:  # gray (or channels that are not RGB): the mean of the RGB rows as a gain and an offset
            rows = color[:, :3, :].mean(dim=1)
            pixels = x.float().reshape(n, channels, h * w)
            out = pixels * rows[:, :3].sum(dim=1).view(n, 1, 1) + rows[:, 3].view(n, 1, 1)
        out = out.reshape(n, channels, h, w).to(x.dtype)
        return torch.where(changed.view(n, 1, 1, 1), out, x)


def _rotation_about(axis: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Homogeneous 4x4 rotations by ``theta`` (N,) about the unit 3-vector ``axis`` (Rodrigues)."""
    vx, vy, vz = (float(v) for v in axis)
    sin, cos = torch.sin(theta), torch.cos(theta)
    cc = 1 - cos
    return _matrices(
        [vx * vx * cc + cos, vx * vy * cc - vz * sin, vx * vz * cc + vy * sin, 0],
        [vy * vx * cc + vz * sin, vy * vy * cc + cos, vy * vz * cc - vx * sin, 0],
        [vz * vx * cc - vy * sin, vz * vy * cc + vx * sin, vz * vz * cc + cos, 0],
        [0, 0, 0, 1], like=theta)
