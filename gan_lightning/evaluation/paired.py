"""Paired metrics: an output compared with its own target (super-resolution, paired translation).

The feature metrics judge a *set* of generated samples against the real distribution (FID, KID,
precision/recall); a paired metric needs each output beside its ground truth, which no noise-driven
sample has. Paired metrics are registered in the one registry (``registry.py``) with kind ``"paired"``
(a name, its result keys, a small class around a torchmetrics object with ``update`` / ``compute``),
and fed by :func:`evaluate_pairs` with ``(model.translate(input), target)`` batches of a held-out loader;
:func:`evaluate_translations` builds that loader from a paired data module (``gan-lightning evaluate
--metrics psnr,ssim`` on an image-to-image checkpoint):

- ``psnr``: peak signal-to-noise ratio in dB, per image, averaged (torchmetrics
  ``PeakSignalNoiseRatio``; images mapped from [-1, 1] to [0, 1], data range 1, all channels)
- ``ssim``: structural similarity (torchmetrics ``StructuralSimilarityIndexMeasure``: Gaussian window
  11, sigma 1.5, data range 1), per image, averaged
- ``lpips``: learned perceptual distance (Zhang et al. 2018; torchmetrics
  ``LearnedPerceptualImagePatchSimilarity``, AlexNet by default). Its linear heads ship with
  torchmetrics; the backbone is torchvision's ImageNet network, read from the torch hub cache and never
  downloaded: when the file is missing, ``MissingWeightsError`` names it and where it goes, as for Inception.
- ``fcn`` (``fcn.py``): pix2pix's FCN-score, a judge's reading of each output against the input's
  labels (label maps or classes), on label-map data (``SegmentationPairs``: ``label`` -> ``image``) or
  data with class labels

PSNR/SSIM here are on RGB (or grey) in [0, 1] without border shaving; SR papers often report them on
the Y channel with ``scale`` pixels shaved, so compare with published numbers only with that in mind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import torch
from torch import Tensor, nn

from gan_lightning.evaluation.extractors import MissingWeightsError
from gan_lightning.evaluation.registry import MetricsOfKind, PairedMetric, parse_metrics, register_metric

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


class ImagePairMetric(PairedMetric):
    """A paired metric around a torchmetrics object (``self.metric``) fed both images mapped to [0, 1]."""

    def update(self, output: Tensor, target: Tensor) -> None:
        self.metric.update(*self.prepare(output, target))

    def prepare(self, output: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        return unit(output), unit(target)

    def compute(self) -> dict[str, float]:
        return {self.outputs[0]: float(self.metric.compute())}


#: The registered paired metrics, by name: a live view of the one registry.
PAIRED_METRICS = MetricsOfKind("paired")
#: Batch keys ``(input, target)`` of the paired data kinds: a data module's ``data_kind`` -> its dict keys.
PAIRED_DATA_KEYS = {"superres": ("lr", "hr"), "paired": ("a", "b"), "segmentation": ("label", "image")}


@register_metric
class PSNR(ImagePairMetric):
    name, outputs = "psnr", ("psnr",)

    def __init__(self) -> None:
        super().__init__()
        from torchmetrics.image import PeakSignalNoiseRatio

        self.metric = PeakSignalNoiseRatio(data_range=1.0, dim=(1, 2, 3), reduction="elementwise_mean")


@register_metric
class SSIM(ImagePairMetric):
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


@register_metric
class LPIPS(ImagePairMetric):
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
    """Registered paired-metric names in the order given (``ValueError`` for any other name)."""
    return parse_metrics(metrics, kinds="paired")


@torch.no_grad()
def evaluate_pairs(translate, loader: Iterable[Any], metrics: str | Iterable[str] = "psnr,ssim",
                   source: str = "lr", target: str = "hr", device: torch.device | str = "cpu",
                   labels: str | None = None, judge: nn.Module | None = None) -> dict[str, float]:
    """The paired ``metrics`` of ``translate(batch[source])`` against ``batch[target]`` over ``loader``
    (dict batches), with ``num_pairs``. ``translate``: a model's ``translate`` or any function (the
    bicubic baseline). Metrics that compare with labels (``fcn``) get ``batch[labels]``, the inputs'
    labels, and are built with ``judge``."""
    names = parse_paired_metrics(metrics)
    objects = []
    for name in names:
        cls = PAIRED_METRICS[name]
        if cls.compares == "labels":
            if labels is None:
                raise ValueError(f"paired metric {name!r} compares the outputs with their inputs' labels: "
                                 "give the batch key of the labels")
            objects.append(cls(judge).to(device))
        else:
            objects.append(cls().to(device))
    count = 0
    for batch in loader:
        output = translate(batch[source].to(device)).to(device)
        truth = batch[target].to(device)
        for metric in objects:
            metric.update(output, batch[labels].to(device) if metric.compares == "labels" else truth)
        count += int(truth.size(0))
    results: dict[str, float] = {}
    for metric in objects:
        results.update(metric.compute())
    results["num_pairs"] = count
    return results


def evaluate_translations(model: nn.Module, data: Any, metrics: str | Iterable[str] = "psnr,ssim",
                          num_pairs: int | None = None, batch_size: int = 100, split: str = "heldout",
                          device: torch.device | str = "cpu", judge: nn.Module | None = None) -> dict[str, Any]:
    """The paired ``metrics`` of an image-to-image ``model`` on a paired data module: ``model.translate``
    of each input against its target, the batch keys given by the data's ``data_kind``
    (``PAIRED_DATA_KEYS``: ``lr`` -> ``hr`` for super-resolution, ``a`` -> ``b`` for paired
    translation, ``label`` -> ``image`` for label maps), over the first ``num_pairs`` items (all when
    ``None``) of its ``split`` (``"heldout"``, falling back to ``"train"`` when there is none).
    Metrics that judge the outputs against the inputs' labels (``fcn``) use ``judge``, by default
    ``fcn.default_judge(data)``. :func:`evaluate_pairs`' dict plus ``real_split``."""
    from torch.utils.data import DataLoader, Subset

    from gan_lightning.evaluation.fcn import default_judge, label_key
    from gan_lightning.evaluation.real import real_source

    kind = getattr(data, "data_kind", None)
    if kind not in PAIRED_DATA_KEYS:
        raise ValueError(f"paired metrics need a data module of input/target pairs (data_kind "
                         f"{' or '.join(map(repr, PAIRED_DATA_KEYS))}: SuperResolution, PairedImageFolder, ...); "
                         f"{type(data).__name__} has data_kind {kind!r}")
    source, target = PAIRED_DATA_KEYS[kind]
    dataset, split_used = real_source(data, split)
    count = len(dataset) if num_pairs is None else min(int(num_pairs), len(dataset))
    loader = DataLoader(Subset(dataset, range(count)), batch_size=batch_size)
    labels = None
    if any(PAIRED_METRICS[name].compares == "labels" for name in parse_paired_metrics(metrics)):
        labels = label_key(data)
        judge = judge if judge is not None else default_judge(data, device)
    results = evaluate_pairs(model.translate, loader, metrics, source, target, device, labels, judge)
    results["real_split"] = split_used
    return results
