"""The built-in metrics of the evaluation, one registered class each.

- ``fid``: ``FrechetDistance`` (float64 sums, real statistics installed from the cache) -> ``fid``
- ``kid``: torchmetrics ``KernelInceptionDistance`` -> ``kid_mean``, ``kid_std``
- ``is``: torchmetrics ``InceptionScore`` on the extractor's logits (Inception's
  ``logits_unbiased``, or the digits classifier's 10 logits), 10 splits -> ``is_mean``, ``is_std``
- ``pr``: improved precision / recall (k = 3) -> ``precision``, ``recall``
- ``1nn``: leave-one-out 1-NN two-sample accuracy -> ``1nn_accuracy``
- ``classes``: ``ClassCoverage`` through the digits classifier -> ``classes_covered``, ``kl_to_uniform``
- ``modes``: ``ModeCoverage2D`` on the toy mixtures -> ``modes``, ``high_quality``, ``reverse_kl``

torchmetrics' KID and IS receive the shared features / logits through an ``nn.Identity``
feature module, so every metric reuses one extractor pass.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from gan_lightning.evaluation.cache import RealFeatures
from gan_lightning.evaluation.distributed import distributed_rank_and_size, max_over_ranks, single_entry
from gan_lightning.evaluation.extractors import extractor_name
from gan_lightning.evaluation.registry import EvalMetric, MetricContext, register_metric
from gan_lightning.metrics import ClassCoverage, FrechetDistance, ModeCoverage2D, OneNNAccuracy, PrecisionRecall

FID_UPDATE_ROWS = 2048


class RealVsGenerated(EvalMetric):
    """A feature metric whose torchmetrics object keeps the real features as a state
    (``update(features, real)``): rank 0 feeds them, as the states are gathered across ranks."""

    takes = "features"

    def set_real(self, real: RealFeatures) -> None:
        rank, _ = distributed_rank_and_size()
        # gathered across ranks: rank 0 holds them, the others an empty (0, D) block of the same layout
        features = real.features if rank == 0 else real.features[:0]
        self.metric.update(features.to(self.device), real=True)

    def update(self, features: Tensor) -> None:
        self.metric.update(features.float(), real=False)


@register_metric
class FID(EvalMetric):
    """Fréchet distance of the extractor's features."""

    name = "fid"
    outputs = ("fid",)
    takes = "features"

    def __init__(self, context: MetricContext) -> None:
        super().__init__(context)
        self.metric = FrechetDistance(extractor=None)
        self._pending: list[Tensor] = []  # generated features waiting for one larger update

    @classmethod
    def sample_count_note(cls, num_real: int, num_generated: int, num_features: int) -> str | None:
        smallest = min(num_real, num_generated)
        if smallest >= num_features:
            return None
        return (f"gan-lightning: FID with {smallest} samples and {num_features} features: the covariances are "
                "rank-deficient and the value is biased upwards")

    def set_real(self, real: RealFeatures) -> None:
        self.metric.num_features = int(real.mu.shape[0])
        self.metric.set_real_statistics(real.mu, real.sigma, real.num)

    def update(self, features: Tensor) -> None:
        # FrechetDistance adds a (D, D) outer product per update: fewer, larger updates cost less
        self._pending.append(features)
        if sum(chunk.shape[0] for chunk in self._pending) >= FID_UPDATE_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self.metric.update(torch.cat(self._pending), real=False)
            self._pending = []

    def compute(self, num_generated: int) -> dict[str, Any]:
        self._flush()
        return {"fid": float(self.metric.compute())}


@register_metric
class KID(RealVsGenerated):
    """Kernel inception distance (unbiased MMD, cubic polynomial kernel) over subsets of the features."""

    name = "kid"
    outputs = ("kid_mean", "kid_std")
    options = {"kid_subsets": 100, "kid_subset_size": 1000}

    def __init__(self, context: MetricContext) -> None:
        super().__init__(context)
        from torchmetrics.image.kid import KernelInceptionDistance  # imported only when asked for

        self.subset_size = context.options["kid_subset_size"]
        self.metric = KernelInceptionDistance(feature=nn.Identity(), subsets=context.options["kid_subsets"],
                                              subset_size=self.subset_size)
        self.num_features: int | None = None
        self.num_real = 0

    def set_real(self, real: RealFeatures) -> None:
        self.num_features = int(real.mu.shape[0])
        self.num_real = real.num
        super().set_real(real)

    def update(self, features: Tensor) -> None:
        if self.num_features is None:
            self.num_features = int(features.shape[1])
        super().update(features)

    def compute(self, num_generated: int) -> dict[str, Any]:
        self.metric.fake_features = single_entry(self.metric.fake_features, self.num_features, self.device)
        self.metric.real_features = single_entry(self.metric.real_features, self.num_features, self.device)
        self.metric.subset_size = max(2, min(self.subset_size, num_generated, self.num_real))
        mean, std = self.metric.compute()
        return {"kid_mean": float(mean), "kid_std": float(std)}


@register_metric
class InceptionScore(EvalMetric):
    """Inception score of the extractor's logits (a classifier extractor: inception or digits)."""

    name = "is"
    aliases = ("inception_score",)
    outputs = ("is_mean", "is_std")
    takes = "logits"
    options = {"is_splits": 10}

    def __init__(self, context: MetricContext) -> None:
        super().__init__(context)
        if not callable(getattr(context.extractor, "logits", None)):
            raise ValueError(
                "the inception score needs a classifier extractor (inception or digits), "
                f"not {extractor_name(context.extractor)}"
            )
        from torchmetrics.image.inception import InceptionScore as TorchmetricsInceptionScore

        self.metric = TorchmetricsInceptionScore(feature=nn.Identity(), splits=context.options["is_splits"])

    def update(self, logits: Tensor) -> None:
        self.metric.update(logits.float())

    def compute(self, num_generated: int) -> dict[str, Any]:
        states = self.metric.features
        num_logits = max_over_ranks(states[0].shape[1] if states else 0, self.device)
        self.metric.features = single_entry(states, num_logits, self.device)
        mean, std = self.metric.compute()
        return {"is_mean": float(mean), "is_std": float(std)}


@register_metric
class ImprovedPrecisionRecall(RealVsGenerated):
    """Improved precision / recall (Kynkäänniemi et al. 2019), k nearest neighbours (``pr_k``)."""

    name = "pr"
    aliases = ("precision_recall",)
    outputs = ("precision", "recall")
    options = {"pr_k": 3}

    def __init__(self, context: MetricContext) -> None:
        super().__init__(context)
        self.metric = PrecisionRecall(k=context.options["pr_k"])

    def compute(self, num_generated: int) -> dict[str, Any]:
        return dict(self.metric.compute())


@register_metric
class OneNN(RealVsGenerated):
    """Leave-one-out 1-nearest-neighbour two-sample accuracy (0.5 is ideal)."""

    name = "1nn"
    aliases = ("one_nn",)
    outputs = ("1nn_accuracy",)

    def __init__(self, context: MetricContext) -> None:
        super().__init__(context)
        self.metric = OneNNAccuracy(extractor=None)

    def compute(self, num_generated: int) -> dict[str, Any]:
        return {"1nn_accuracy": float(self.metric.compute())}


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
