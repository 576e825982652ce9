"""FCN-score (``fcn``; Isola et al. 2017, pix2pix, section 4.2): a judge reads the outputs of a
label-to-image model and is scored against the labels the outputs were made from.

pix2pix runs an FCN-8s trained on Cityscapes photos on its generated photos and reports, against the
input label maps, the per-pixel accuracy, the per-class accuracy and the class IoU: "if the generated
images are realistic, classifiers trained on real images will be able to classify the synthesized image
correctly as well". Here the judge is

- a **segmenter** (``segmentation.py``'s ``TinySegmenter``, fitted on the real training pairs: image ->
  label map) for label-map inputs (``SegmentationPairs``: SPADE, pix2pix on colour label maps): its
  per-pixel predictions against the input label map;
- or a **classifier** (the digits classifier) for inputs with a class label (``PairedDigits``,
  ``SuperResolutionDigits``): its prediction of each output against the input's class, the same three
  numbers with an image as the unit.

Results (from one confusion matrix summed over the batches): ``fcn_pixel_acc`` (correct / all),
``fcn_class_acc`` (the mean over the classes present in the labels of each class's accuracy) and
``fcn_miou`` (the mean IoU over the classes present in the labels or the predictions, as ``miou``).
Registered as a *paired* metric that compares with labels (``compares = "labels"``): ``evaluate_pairs``
builds it with the judge and feeds ``(model.translate(input), the input's labels)``;
:func:`default_judge` is the judge ``evaluate_translations`` (``gan-lightning evaluate --metrics fcn``)
uses for a data module. The judge's own score on the real images is the ceiling (``fcn_real_scores``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from gan_lightning.evaluation.extractors import extract_logits
from gan_lightning.evaluation.registry import PairedMetric, register_metric
from gan_lightning.evaluation.segmentation import confusion_matrix, iou_scores

#: The key of the input's labels in the batches of each paired data kind (``data_kind`` -> key).
LABEL_KEYS = {"segmentation": "label", "paired": "label_a", "superres": "label"}


def fcn_scores(counts: Tensor) -> dict[str, float]:
    """``{"fcn_pixel_acc", "fcn_class_acc", "fcn_miou"}`` of a confusion matrix (rows the label, columns the
    judge's prediction)."""
    counts = counts.double()
    per_label = counts.sum(dim=1)
    present = per_label > 0
    class_acc = (counts.diag()[present] / per_label[present]).mean() if present.any() else torch.tensor(float("nan"))
    scores = iou_scores(counts)
    return {"fcn_pixel_acc": scores["pixel_acc"], "fcn_class_acc": float(class_acc), "fcn_miou": scores["miou"]}


@register_metric
class FCNScore(PairedMetric):
    """FCN-score: a judge's reading of each output against its input's labels (label maps or classes)."""

    name = "fcn"
    aliases = ("fcn_score",)
    outputs = ("fcn_pixel_acc", "fcn_class_acc", "fcn_miou")
    compares = "labels"

    def __init__(self, judge: nn.Module | None = None, num_classes: int | None = None) -> None:
        super().__init__()
        if judge is None:
            raise ValueError("fcn needs a judge: a segmenter (TinySegmenter via fit_segmenter) or a classifier "
                             "(the digits classifier); gan-lightning evaluate picks one for the data (default_judge)")
        num_classes = num_classes or getattr(judge, "num_classes", None)
        if not num_classes:
            raise ValueError(f"fcn: the judge {type(judge).__name__} does not say its num_classes; pass num_classes")
        self.judge_ref = (judge,)  # not a submodule: the judge is the caller's, it is not moved or saved here
        self.num_classes = int(num_classes)
        self.register_buffer("counts", torch.zeros(self.num_classes, self.num_classes, dtype=torch.long))

    def update(self, output: Tensor, labels: Tensor) -> None:
        judge = self.judge_ref[0]
        logits = extract_logits(judge, output.float())  # eval mode, no gradients
        predicted = logits.argmax(dim=1)
        labels = labels.to(predicted.device).long()
        if labels.dim() == predicted.dim() + 1 and labels.size(1) == 1:  # (N, 1, H, W) label maps
            labels = labels[:, 0]
        if predicted.shape != labels.shape:
            raise ValueError(f"fcn: the judge predicts {tuple(predicted.shape)} for outputs "
                             f"{tuple(output.shape)}, the labels are {tuple(labels.shape)}")
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= self.num_classes):
            raise ValueError(f"fcn: labels must be in 0..{self.num_classes - 1}, got {int(labels.min())}..{int(labels.max())}")
        self.counts += confusion_matrix(predicted, labels, self.num_classes).to(self.counts.device)

    def compute(self) -> dict[str, float]:
        return fcn_scores(self.counts)


def label_key(data: Any) -> str:
    """The batch key of the inputs' labels of a paired data module (``LABEL_KEYS``); one-line error otherwise."""
    kind = getattr(data, "data_kind", None)
    if kind not in LABEL_KEYS:
        raise ValueError(f"fcn scores outputs against their inputs' labels: a data module of kind "
                         f"{', '.join(map(repr, LABEL_KEYS))} is needed, {type(data).__name__} is {kind!r}")
    return LABEL_KEYS[kind]


def default_judge(data: Any, device: torch.device | str = "cpu", seed: int = 0, epochs: int = 4) -> nn.Module:
    """The judge of ``data``'s outputs: for label maps (``segmentation``) a ``TinySegmenter`` fitted on the
    training split's (image, label map) pairs (seeded, one thread); for class labels the digits classifier
    (``load_digits_classifier``, trained on MNIST5k on first use)."""
    from gan_lightning.evaluation.digits import load_digits_classifier
    from gan_lightning.evaluation.segmentation import fit_segmenter

    kind = getattr(data, "data_kind", None)
    label_key(data)
    if kind != "segmentation":
        return load_digits_classifier().to(device)
    if getattr(data, "train_set", None) is None:
        data.setup("fit")
    items = [data.train_set[index] for index in range(len(data.train_set))]
    images = torch.stack([item["image"] for item in items])
    labels = torch.stack([item["label"] for item in items])
    num_classes = int(getattr(data, "label_classes", 0) or int(labels.max()) + 1)
    return fit_segmenter(images, labels, num_classes, epochs=epochs, seed=seed).to(device)


@torch.no_grad()
def fcn_real_scores(judge: nn.Module, images: Tensor, labels: Tensor, batch_size: int = 256) -> dict[str, float]:
    """The judge's FCN-score on real ``images`` against their ``labels``: the ceiling a model can reach."""
    metric = FCNScore(judge)
    for start in range(0, images.shape[0], batch_size):
        metric.update(images[start : start + batch_size], labels[start : start + batch_size])
    return metric.compute()
