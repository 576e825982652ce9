"""mIoU of generated images against the label maps they were generated from (SPADE's measure).

The SPADE paper segments its outputs with a segmentation network trained on the real data set
(DRN / DeepLab / UperNet) and reports the mIoU of those predictions against the input label maps.
Here the segmenter is small and trained on the run's own real pairs (image -> label map), the way
the digit-classifier judge is (``fit_digits_classifier``): seeded, one thread, the global RNG left
alone. Its mIoU on real held-out images is the ceiling a generator can reach.

- :class:`TinySegmenter`: four 3x3 convs (dilations 1, 2, 4, 1; receptive field 17 px) and a 1x1
  classifier: per-pixel class logits at the input's size.
- :func:`fit_segmenter`: trains one on (images, label maps).
- ``miou`` (:class:`MeanIoU`, registered in ``registry.py`` with kind ``"segmentation"``): IoU per class
  from the confusion matrix, averaged over the classes present in the prediction or the target
  (union > 0), as the usual protocol; also the pixel accuracy. :func:`mean_iou` is the same on one pair
  of label-map tensors.
- :func:`segmentation_scores`: a segmenter's mIoU / pixel accuracy on images against label maps.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gan_lightning.core.rng import seeded_rng
from gan_lightning.evaluation.registry import SegmentationMetric, register_metric


class TinySegmenter(nn.Module):
    """Image (N, C, H, W) in [-1, 1] -> class logits (N, num_classes, H, W)."""

    def __init__(self, in_channels: int, num_classes: int, width: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for dilation in (1, 2, 4, 1):
            layers += [nn.Conv2d(channels, width, 3, padding=dilation, dilation=dilation), nn.BatchNorm2d(width),
                       nn.ReLU()]
            channels = width
        layers.append(nn.Conv2d(width, num_classes, 1))
        self.net = nn.Sequential(*layers)
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def fit_segmenter(images: torch.Tensor, labels: torch.Tensor, num_classes: int, epochs: int = 4, seed: int = 0,
                  batch_size: int = 64, lr: float = 2e-3, width: int = 32) -> TinySegmenter:
    """A :class:`TinySegmenter` trained on ``images`` (N, C, H, W) in [-1, 1] and their int label maps
    (N, H, W): Adam, cosine-decayed lr, per-pixel cross-entropy; seeded, on one thread, the global RNG
    left as it was. Returned in eval mode."""
    if images.dim() != 4 or labels.shape != (images.size(0), *images.shape[-2:]):
        raise ValueError(f"fit_segmenter needs images (N, C, H, W) and label maps (N, H, W), got "
                         f"{tuple(images.shape)} and {tuple(labels.shape)}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with seeded_rng(seed):
            generator = torch.Generator().manual_seed(seed)
            model = TinySegmenter(images.size(1), num_classes, width)
            optimizer = torch.optim.Adam(model.parameters(), lr=lr)
            steps = epochs * -(-len(images) // batch_size)
            schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(steps, 1))
            model.train()
            images, labels = images.float(), labels.long()
            for _ in range(epochs):
                order = torch.randperm(len(images), generator=generator)
                for start in range(0, len(order), batch_size):
                    batch = order[start : start + batch_size]
                    loss = F.cross_entropy(model(images[batch]), labels[batch])
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    schedule.step()
        return model.eval()
    finally:
        torch.set_num_threads(threads)


def confusion_matrix(predicted: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(num_classes, num_classes) counts, rows the target class, columns the predicted one."""
    index = target.long().flatten() * num_classes + predicted.long().flatten()
    return torch.bincount(index, minlength=num_classes**2).view(num_classes, num_classes)


def iou_scores(counts: torch.Tensor) -> dict:
    """``{"miou", "pixel_acc", "iou"}`` of a confusion matrix (rows the target class, columns the predicted one)."""
    counts = counts.double()
    hits = counts.diag()
    union = counts.sum(0) + counts.sum(1) - hits
    present = union > 0
    iou = torch.where(present, hits / union.clamp(min=1), torch.zeros_like(hits))
    return {"miou": float(iou[present].mean()) if present.any() else float("nan"),
            "pixel_acc": float(hits.sum() / counts.sum().clamp(min=1)),
            "iou": [float(v) if p else None for v, p in zip(iou, present)]}


@register_metric
class MeanIoU(SegmentationMetric):
    """Mean IoU and pixel accuracy of predicted label maps against the target ones, from a confusion matrix
    summed over the batches; ``iou``: per class, ``None`` where the class is in neither."""

    name = "miou"
    aliases = ("mean_iou",)
    outputs = ("miou", "pixel_acc", "iou")

    def __init__(self, num_classes: int) -> None:
        super().__init__(num_classes)
        self.register_buffer("counts", torch.zeros(self.num_classes, self.num_classes, dtype=torch.long))

    def update(self, predicted: torch.Tensor, target: torch.Tensor) -> None:
        if predicted.shape != target.shape:
            raise ValueError(f"mean_iou: predicted {tuple(predicted.shape)} and target {tuple(target.shape)} differ")
        self.counts += confusion_matrix(predicted, target, self.num_classes).to(self.counts.device)

    def compute(self) -> dict:
        return iou_scores(self.counts)


def mean_iou(predicted: torch.Tensor, target: torch.Tensor, num_classes: int) -> dict:
    """``{"miou", "pixel_acc", "iou": per-class list (None where the class is in neither)}`` of two
    integer label maps of the same shape."""
    metric = MeanIoU(num_classes)
    metric.update(predicted, target)
    return metric.compute()


@torch.no_grad()
def segmentation_scores(segmenter: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                        batch_size: int = 256) -> dict:
    """:func:`mean_iou` of ``segmenter``'s predictions on ``images`` against the label maps ``labels``."""
    was_training = segmenter.training
    segmenter.eval()
    try:
        predicted = torch.cat([segmenter(images[i : i + batch_size].float()).argmax(1)
                               for i in range(0, len(images), batch_size)])
    finally:
        segmenter.train(was_training)
    return mean_iou(predicted, labels.to(predicted.device), segmenter.num_classes)
