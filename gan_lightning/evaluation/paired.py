"""Paired metrics: an output compared with its own target (super-resolution, paired translation).

The metrics of :mod:`gan_lightning.evaluation.registry` judge a *set* of generated samples against the
real distribution (FID, KID, precision/recall: ``takes`` features, logits or points of samples drawn
from noise); a paired metric needs each output beside its ground truth, which no noise-driven sample has.
So paired metrics have a registry of their own, of the same shape (a name, its result keys, a small
class around a torchmetrics object with ``update`` / ``compute``), fed by :func:`evaluate_pairs` with
``(model.translate(input), target)`` batches of a held-out loader:

- ``psnr``: peak signal-to-noise ratio in dB, per image, averaged (torchmetrics
  ``PeakSignalNoiseRatio``; images mapped from [-1, 1] to [0, 1], data range 1, all channels)
- ``ssim``: structural similarity (torchmetrics ``StructuralSimilarityIndexMeasure``: Gaussian window
  11, sigma 1.5, data range 1), per image, averaged
- ``lpips``: learned perceptual distance (Zhang et al. 2018; torchmetrics
  ``LearnedPerceptualImagePatchSimilarity``, AlexNet by default). Its linear heads ship with
  torchmetrics; the backbone is torchvision's ImageNet network, read from the torch hub cache and never
  downloaded: when the file is missing, ``MissingWeightsError`` names it and where it goes, as for Inception.

PSNR/SSIM here are on RGB (or grey) in [0, 1] without border shaving; SR papers often report them on
the Y channel with ``scale`` pixels shaved, so compare with published numbers only with that in mind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Iterable

import torch
from torch import Tensor, nn

from gan_lightning.metrics.extractors import MissingWeightsError

#: torchvision ImageNet weights of the LPIPS backbones (the file names torchvision caches them under).
LPIPS_BACKBONES = {"alex": ("alexnet", "alexnet-owt-7be5be79.pth"), "vgg": ("vgg16", "vgg16-397923af.pth"),
                   "squeeze": ("squeezenet1_1", "squeezenet1_1-b8a52dc0.pth")}


def unit(images: Tensor) -> Tensor:
    """[-1, 1] -> [0, 1], clamped, float32."""
    return images.float().add(1.0).mul(0.5).clamp(0.0, 1.0)


def psnr(output: Tensor, target: Tensor) -> Tensor:
    """Mean per-image PSNR (dB) of images in [-1, 1]."""
    from torchmetrics.functional.image import peak_signal_noise_ratio

    return peak_signal_noise_ratio(unit(output), unit(target), data_range=1.0, dim=(1, 2, 3))


def ssim(output: Tensor, target: Tensor) -> Tensor:
    """Mean per-image SSIM of images in [-1, 1]."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    return structural_similarity_index_measure(unit(output), unit(target), data_range=1.0)


class PairedMetric(nn.Module):
    """One paired metric of one evaluation: ``update(output, target)`` per batch (both in [-1, 1]),
    ``compute() -> {key: value}``."""

    name: ClassVar[str]
    outputs: ClassVar[tuple[str, ...]]

    def update(self, output: Tensor, target: Tensor) -> None:
        self.metric.update(*self.prepare(output, target))

    def prepare(self, output: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        return unit(output), unit(target)

    def compute(self) -> dict[str, float]:
        return {self.outputs[0]: float(self.metric.compute())}


PAIRED_METRICS: dict[str, type[PairedMetric]] = {}


def register_paired_metric(cls: type[PairedMetric]) -> type[PairedMetric]:
    """Class decorator: make ``cls`` usable by its ``name`` in :func:`evaluate_pairs`."""
    if cls.name in PAIRED_METRICS:
        raise ValueError(f"paired metric {cls.name!r} is already registered")
    PAIRED_METRICS[cls.name] = cls
    return cls


@register_paired_metric
class PSNR(PairedMetric):
    name, outputs = "psnr", ("psnr",)

    def __init__(self) -> None:
        super().__init__()
        from torchmetrics.image import PeakSignalNoiseRatio

        self.metric = PeakSignalNoiseRatio(data_range=1.0, dim=(1, 2, 3), reduction="elementwise_mean")


@register_paired_metric
class SSIM(PairedMetric):
    name, outputs = "ssim", ("ssim",)

    def __init__(self) -> None:
        super().__init__()
        from torchmetrics.image import StructuralSimilarityIndexMeasure

        self.metric = StructuralSimilarityIndexMeasure(data_range=1.0)


def lpips_weights_path(net_type: str = "alex") -> Path:
    """The hub-cache file of an LPIPS backbone; ``MissingWeightsError`` (one line) when it is not there."""
    if net_type not in LPIPS_BACKBONES:
        raise ValueError(f"LPIPS: net_type must be one of {', '.join(LPIPS_BACKBONES)}, got {net_type!r}")
    network, filename = LPIPS_BACKBONES[net_type]
    path = Path(torch.hub.get_dir()) / "checkpoints" / filename
    if not path.is_file():
        raise MissingWeightsError(
            f"LPIPS weights not found: LPIPS ({net_type}) needs torchvision's ImageNet {network} weights, file "
            f"'{filename}'. Put that file at {path} (the torch hub cache, $TORCH_HOME/hub/checkpoints/); its "
            f"linear layers ship with torchmetrics. Nothing is downloaded (this machine may be offline); fetch "
            f"it once where there is internet from https://download.pytorch.org/models/{filename}."
        )
    return path


@register_paired_metric
class LPIPS(PairedMetric):
    name, outputs = "lpips", ("lpips",)

    def __init__(self, net_type: str = "alex") -> None:
        super().__init__()
        lpips_weights_path(net_type)  # checked first: torchvision would download a missing file
        from torchmetrics.image.lpip import LearnedPerceptualImagePatchSimilarity

        self.metric = LearnedPerceptualImagePatchSimilarity(net_type=net_type, normalize=True)

    def prepare(self, output: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        output, target = unit(output), unit(target)
        if output.size(1) == 1:  # grey: the backbones take RGB
            output, target = output.expand(-1, 3, -1, -1), target.expand(-1, 3, -1, -1)
        return output, target


def parse_paired_metrics(metrics: str | Iterable[str]) -> list[str]:
    parts = metrics.split(",") if isinstance(metrics, str) else list(metrics)
    names = [str(part).strip().lower() for part in parts if str(part).strip()]
    for name in names:
        if name not in PAIRED_METRICS:
            raise ValueError(f"unknown paired metric {name!r}; known: {', '.join(PAIRED_METRICS)}")
    if not names:
        raise ValueError(f"no paired metric given; known: {', '.join(PAIRED_METRICS)}")
    return list(dict.fromkeys(names))


@torch.no_grad()
def evaluate_pairs(translate, loader: Iterable[Any], metrics: str | Iterable[str] = "psnr,ssim",
                   source: str = "lr", target: str = "hr", device: torch.device | str = "cpu") -> dict[str, float]:
    """The paired ``metrics`` of ``translate(batch[source])`` against ``batch[target]`` over ``loader``
    (dict batches), with ``num_pairs``. ``translate``: a model's ``translate`` or any function (the
    bicubic baseline)."""
    objects = [PAIRED_METRICS[name]().to(device) for name in parse_paired_metrics(metrics)]
    count = 0
    for batch in loader:
        output = translate(batch[source].to(device)).to(device)
        truth = batch[target].to(device)
        for metric in objects:
            metric.update(output, truth)
        count += int(truth.size(0))
    results: dict[str, float] = {}
    for metric in objects:
        results.update(metric.compute())
    results["num_pairs"] = count
    return results
