"""Coverage: how many of the classes or modes the generated samples reach (classes, modes; Stacked MNIST).

- ``classes``: :class:`ClassCoverage` through a classifier (the digits classifier by default) ->
  ``classes_covered``, ``kl_to_uniform``.
- ``modes``: :class:`ModeCoverage2D` on the toy 2-D mixtures (VEEGAN, PacGAN) -> ``modes``,
  ``high_quality``, ``reverse_kl``.
- :class:`StackedModes`: the 1,000 modes of Stacked MNIST (Unrolled GAN, VEEGAN, PacGAN), read by
  ``benchmarks/stacked_mnist.py`` (not registered: it needs 3-channel digit stacks).

The metric objects have torchmetrics' ``Metric`` shape, their counts summed across DDP processes by
``compute()``; the registered classes (at the end) are what ``registry.py`` names.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torchmetrics import Metric

from gan_lightning.evaluation.extractors import extract_logits
from gan_lightning.evaluation.registry import EvalMetric, MetricContext, register_metric


# ---------------------------------------------------------------------------- class coverage
class ClassCoverage(Metric):
    """How a classifier sees the generated samples: classes covered and KL(p_hat || uniform).

    ``update`` takes predicted class indices ``(N,)``, logits / probabilities
    ``(N, num_classes)`` (arg-maxed), or images when a ``classifier`` is given
    (its ``logits`` method when it has one, else its forward). ``compute()`` returns
    ``{"classes_covered": int, "kl_to_uniform": float}`` with p_hat the histogram of
    predicted classes: 0 for a uniform histogram, log(num_classes) when every sample
    lands in one class.
    """

    is_differentiable = False
    higher_is_better = None
    full_state_update = False

    def __init__(self, num_classes: int, classifier: nn.Module | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if num_classes < 1:
            raise ValueError(f"ClassCoverage: num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.classifier = classifier
        self.add_state("counts", torch.zeros(num_classes, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, inputs: Tensor) -> None:
        if self.classifier is not None:
            inputs = extract_logits(self.classifier, inputs)
        if inputs.dim() == 2:
            predictions = inputs.argmax(dim=1)
        elif inputs.dim() == 1 and not inputs.is_floating_point():
            predictions = inputs.long()
        else:
            raise ValueError(
                "ClassCoverage.update expects class indices (N,), logits (N, num_classes) or, with a classifier, "
                f"images; got shape {tuple(inputs.shape)} and dtype {inputs.dtype}"
            )
        if predictions.numel() and (int(predictions.min()) < 0 or int(predictions.max()) >= self.num_classes):
            raise ValueError(f"ClassCoverage: class indices must be in [0, {self.num_classes})")
        self.counts += torch.bincount(predictions, minlength=self.num_classes).to(self.counts.device)

    def compute(self) -> dict[str, Any]:
        total = int(self.counts.sum())
        if total == 0:
            raise RuntimeError("ClassCoverage: no samples")
        p_hat = self.counts.double() / total
        present = p_hat > 0
        kl = float((p_hat[present] * (p_hat[present] * self.num_classes).log()).sum())
        return {"classes_covered": int(present.sum()), "kl_to_uniform": max(kl, 0.0)}


# ---------------------------------------------------------------------------- stacked MNIST
class StackedModes(Metric):
    """Modes of Stacked MNIST covered by generated samples, and KL(p_hat || uniform) over the 1,000 modes.

    The protocol of Metz et al. 2017 (Unrolled GAN), VEEGAN and PacGAN (Table 2): each of the
    three channels of a sample is classified by a digits classifier (``load_digits_classifier()``,
    the ``digits`` extractor); the mode is ``100 * d1 + 10 * d2 + d3``. ``compute()`` returns
    ``{"modes": int, "kl_to_uniform": float}``: the number of modes with at least one sample,
    and sum_k p_k log(p_k * 1000) of the histogram p of predicted modes (0 for a uniform
    histogram, log(1000) = 6.91 when every sample is the same mode).

    ``update`` takes images ``(N, 3, H, W)`` in [-1, 1] when a ``classifier`` is given
    (each channel is passed to it as a gray ``(N, 1, H, W)`` image), or predicted digits
    ``(N, 3)`` / mode indices ``(N,)`` (integers) without one.
    """

    is_differentiable = False
    higher_is_better = None
    full_state_update = False
    num_modes = 1000

    def __init__(self, classifier: nn.Module | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.classifier = classifier
        self.add_state("counts", torch.zeros(self.num_modes, dtype=torch.long), dist_reduce_fx="sum")

    def stacked_labels(self, images: Tensor) -> Tensor:
        """Mode index ``100 d1 + 10 d2 + d3`` of each ``(3, H, W)`` image, (N,)."""
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"StackedModes: expected images (N, 3, H, W), got {tuple(images.shape)}")
        digits = [extract_logits(self.classifier, images[:, c : c + 1]).argmax(dim=1) for c in range(3)]
        return 100 * digits[0] + 10 * digits[1] + digits[2]

    def update(self, inputs: Tensor) -> None:
        if self.classifier is not None and inputs.is_floating_point():
            modes = self.stacked_labels(inputs)
        elif inputs.dim() == 2 and inputs.shape[1] == 3 and not inputs.is_floating_point():
            modes = 100 * inputs[:, 0] + 10 * inputs[:, 1] + inputs[:, 2]
        elif inputs.dim() == 1 and not inputs.is_floating_point():
            modes = inputs
        else:
            raise ValueError(
                "StackedModes.update expects mode indices (N,), per-channel digits (N, 3) or, with a classifier, "
                f"images (N, 3, H, W); got shape {tuple(inputs.shape)} and dtype {inputs.dtype}"
            )
        modes = modes.long()
        if modes.numel() and (int(modes.min()) < 0 or int(modes.max()) >= self.num_modes):
            raise ValueError(f"StackedModes: mode indices must be in [0, {self.num_modes})")
        self.counts += torch.bincount(modes, minlength=self.num_modes).to(self.counts.device)

    def compute(self) -> dict[str, Any]:
        total = int(self.counts.sum())
        if total == 0:
            raise RuntimeError("StackedModes: no samples")
        p_hat = self.counts.double() / total
        present = p_hat > 0
        kl = float((p_hat[present] * (p_hat[present] * self.num_modes).log()).sum())
        return {"modes": int(present.sum()), "kl_to_uniform": max(kl, 0.0)}


# ---------------------------------------------------------------------------- toy 2-D mixtures
class ModeCoverage2D(Metric):
    """Mode-collapse metrics of the toy Gaussian mixtures (VEEGAN, Srivastava et al. 2017;
    PacGAN, Lin et al. 2018, section 5.1).

    What is computed, for generated points ``x`` and mode centres ``m_1..m_K``:

    - each point is assigned to its nearest mode (Euclidean distance);
    - it is *high quality* when that distance is at most ``threshold * std``
      (``threshold`` = 3: "within three standard deviations");
    - ``modes``: the number of modes that are the nearest mode of at least one
      high-quality point;
    - ``high_quality``: the fraction of all points that are high quality;
    - ``reverse_kl``: KL(q || p) = sum_k q_k log(q_k K), with q the histogram of the
      nearest modes of the *high-quality* points only (normalised to sum to 1) and
      p uniform over the K modes (the true mixture weights). Low-quality points
      are left out, as in the PacGAN authors' evaluation code (their histogram
      counts only points within the threshold). 0 means the high-quality points
      spread evenly, log K that they all sit on one mode; ``inf`` when there is
      no high-quality point at all.

    The same definitions hold in any dimension: ``modes`` is ``(K, D)``, points ``(N, D)``.
    ``compute()`` returns ``{"modes": int, "high_quality": float, "reverse_kl": float}``.
    """

    is_differentiable = False
    higher_is_better = None
    full_state_update = False

    def __init__(self, modes: Tensor, std: float, threshold: float = 3.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        modes = torch.as_tensor(modes, dtype=torch.float32)
        if modes.dim() != 2:
            raise ValueError(f"ModeCoverage2D: modes must be (K, D), got {tuple(modes.shape)}")
        if std <= 0:
            raise ValueError(f"ModeCoverage2D: std must be > 0, got {std}")
        self.register_buffer("modes", modes, persistent=False)
        self.std = float(std)
        self.threshold = float(threshold)
        self.add_state("mode_counts", torch.zeros(len(modes), dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("num_samples", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, points: Tensor) -> None:
        points = points.reshape(points.shape[0], -1)
        if points.shape[1] != self.modes.shape[1]:
            raise ValueError(f"ModeCoverage2D: points have {points.shape[1]} dimensions, modes {self.modes.shape[1]}")
        distances = torch.cdist(points.to(torch.float64), self.modes.to(points.device, torch.float64))
        nearest_distance, nearest_mode = distances.min(dim=1)
        good = nearest_distance <= self.threshold * self.std
        counts = torch.bincount(nearest_mode[good], minlength=self.modes.shape[0])
        self.mode_counts += counts.to(self.mode_counts.device)
        self.num_samples += points.shape[0]

    def compute(self) -> dict[str, Any]:
        total = int(self.num_samples)
        if total == 0:
            raise RuntimeError("ModeCoverage2D: no samples")
        good = int(self.mode_counts.sum())
        if good == 0:
            reverse_kl = math.inf
        else:
            q = self.mode_counts.double() / good
            present = q > 0
            reverse_kl = max(float((q[present] * (q[present] * len(q)).log()).sum()), 0.0)
        return {"modes": int((self.mode_counts > 0).sum()), "high_quality": good / total, "reverse_kl": reverse_kl}


# ---------------------------------------------------------------------------- the registered metrics
@register_metric
class Classes(EvalMetric):
    """Classes the classifier finds among the samples, and the KL of their histogram to uniform."""

    name = "classes"
    aliases = ("class_coverage",)
    outputs = ("classes_covered", "kl_to_uniform")
    takes = "class_logits"

    def __init__(self, context: MetricContext) -> None:
        super().__init__(context)
        if context.classifier is None:
            raise ValueError("the 'classes' metric needs a classifier (the digits classifier)")
        self.metric = ClassCoverage(num_classes=int(getattr(context.classifier, "num_classes", 10)))

    def update(self, class_logits: Tensor) -> None:
        self.metric.update(class_logits)

    def compute(self, num_generated: int) -> dict[str, Any]:
        return dict(self.metric.compute())


@register_metric
class Modes(EvalMetric):
    """Modes captured, high-quality samples and reverse KL on a Toy2D mixture (VEEGAN, PacGAN)."""

    name = "modes"
    aliases = ("mode_coverage",)
    outputs = ("modes", "high_quality", "reverse_kl")
    takes = "points"
    options = {"modes": None, "mode_std": None}
    data_kinds = ("points",)
    reads_data = True
    reports_num_samples = False  # PacGAN's tables: the three numbers alone

    @classmethod
    def options_from_data(cls, real: Any) -> dict[str, Any]:
        if not (hasattr(real, "modes") and hasattr(real, "std")):
            raise ValueError("the 'modes' metric needs a Toy2D data module (mode centres and std) as real data")
        return {"modes": real.modes, "mode_std": real.std}

    def __init__(self, context: MetricContext) -> None:
        super().__init__(context)
        modes, mode_std = context.options["modes"], context.options["mode_std"]
        if modes is None or mode_std is None:
            raise ValueError("the 'modes' metric needs the mode centres and std of a Toy2D data module")
        self.metric = ModeCoverage2D(modes, float(mode_std))

    def update(self, points: Tensor) -> None:
        self.metric.update(points)

    def compute(self, num_generated: int) -> dict[str, Any]:
        return dict(self.metric.compute())
