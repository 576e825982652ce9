"""How far the generated distribution is from the real one, besides FID (``fid.py``): kid, is, pr, 1nn.

- ``kid``: torchmetrics ``KernelInceptionDistance`` (unbiased MMD, cubic polynomial kernel, over
  subsets) -> ``kid_mean``, ``kid_std``.
- ``is``: torchmetrics ``InceptionScore`` on the extractor's logits (Inception's ``logits_unbiased``,
  or the digits classifier's 10 logits), 10 splits -> ``is_mean``, ``is_std``.
- ``pr``: improved precision and recall (Kynkäänniemi et al. 2019), k = 3: :func:`precision_recall`,
  in torchmetrics' shape :class:`PrecisionRecall` -> ``precision``, ``recall``.
- ``1nn``: leave-one-out 1-nearest-neighbour two-sample test (Lopez-Paz & Oquab 2017):
  :func:`one_nn_accuracy`, :class:`OneNNAccuracy` -> ``1nn_accuracy``.

The metric objects have torchmetrics' ``Metric`` shape (``update`` / ``compute`` / ``reset``); their
states carry a ``dist_reduce_fx``, so ``compute()`` (call it on every rank) gathers them across DDP
processes. Those that take an ``extractor`` apply it to what ``update`` receives (images in [-1, 1]);
with ``extractor=None`` the inputs are the features themselves. torchmetrics' KID and IS receive the
shared features / logits through an ``nn.Identity`` feature module, so every metric of an evaluation
reuses one extractor pass. The registered classes (at the end) are what ``registry.py`` names.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from gan_lightning.evaluation.cache import RealFeatures
from gan_lightning.evaluation.distributed import distributed_rank_and_size, max_over_ranks, single_entry
from gan_lightning.evaluation.extractors import extract_features, extractor_name
from gan_lightning.evaluation.registry import EvalMetric, MetricContext, register_metric, scalar_result


def _pairwise_distances(rows: Tensor, columns: Tensor, chunk_size: int):
    """Yield ``(start, distances)`` blocks of the float64 Euclidean distance matrix, ``chunk_size`` rows at a time."""
    columns = columns.to(torch.float64)
    for start in range(0, rows.shape[0], chunk_size):
        block = rows[start : start + chunk_size].to(torch.float64)
        yield start, torch.cdist(block, columns, compute_mode="donot_use_mm_for_euclid_dist")


# ---------------------------------------------------------------------------- 1-NN two-sample test
def one_nn_accuracy(real_features: Tensor, fake_features: Tensor, chunk_size: int = 1024) -> dict[str, float]:
    """Leave-one-out 1-NN two-sample test (Lopez-Paz & Oquab, ICLR 2017), Euclidean, float64.

    Every point of the union takes the label (real / generated) of its nearest
    other point; returns ``{"accuracy": ..., "real_accuracy": ..., "fake_accuracy": ...}``
    where ``accuracy`` is the mean of the two per-set accuracies (equal to the plain
    accuracy for equal set sizes, and still 0.5 at chance when they differ).
    0.5: the sets cannot be told apart; 1.0: fully separable; well below 0.5:
    the generated points sit on top of the real ones (memorisation).
    """
    if real_features.dim() != 2 or fake_features.dim() != 2 or real_features.shape[1] != fake_features.shape[1]:
        raise ValueError(
            f"one_nn_accuracy: expected (N, D) and (M, D) features, got {tuple(real_features.shape)} "
            f"and {tuple(fake_features.shape)}"
        )
    n_real, n_fake = real_features.shape[0], fake_features.shape[0]
    if n_real < 2 or n_fake < 2:
        raise ValueError(f"one_nn_accuracy: needs at least 2 samples per set, got {n_real} real and {n_fake} fake")
    points = torch.cat([real_features, fake_features.to(real_features.device)])
    is_real = torch.zeros(points.shape[0], dtype=torch.bool, device=points.device)
    is_real[:n_real] = True
    correct = torch.empty_like(is_real)
    for start, distances in _pairwise_distances(points, points, chunk_size):
        rows = torch.arange(distances.shape[0], device=points.device)
        distances[rows, rows + start] = math.inf  # leave one out
        nearest = distances.argmin(dim=1)
        correct[start : start + distances.shape[0]] = is_real[nearest] == is_real[start : start + distances.shape[0]]
    real_accuracy = float(correct[:n_real].double().mean())
    fake_accuracy = float(correct[n_real:].double().mean())
    return {
        "accuracy": 0.5 * (real_accuracy + fake_accuracy),
        "real_accuracy": real_accuracy,
        "fake_accuracy": fake_accuracy,
    }


class FeatureSets(Metric):
    """Real and generated features kept as ``cat`` states, gathered across DDP ranks by ``compute()``:
    ``update(features, real)`` adds a batch of one side, ``sets()`` gives ``(real, generated)``. The
    two-sample metrics that need every sample (1-NN, precision / recall, MMD, Wasserstein) build on it;
    mind the memory for large sets."""

    is_differentiable = False
    full_state_update = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("real_features", [], dist_reduce_fx="cat")
        self.add_state("fake_features", [], dist_reduce_fx="cat")

    def update(self, features: Tensor, real: bool) -> None:
        (self.real_features if real else self.fake_features).append(features)

    def sets(self) -> tuple[Tensor, Tensor]:
        # a list of batches before synchronisation, one tensor after it
        return dim_zero_cat(self.real_features), dim_zero_cat(self.fake_features)


class OneNNAccuracy(FeatureSets):
    """Leave-one-out 1-NN accuracy between real and generated features; 0.5 is ideal, 1.0 fully separable.

    Recommended by Borji's survey ("Pros and cons of GAN evaluation measures") as a
    two-sample test that flags both mode dropping and memorisation. Features are
    kept (``cat`` states): mind the memory for large sets. ``compute()`` returns the
    balanced accuracy (see ``one_nn_accuracy``); use equal set sizes as the paper does.

    Args:
        extractor: see ``FrechetDistance``; ``None``: inputs are features (flattened).
    """

    higher_is_better = False

    def __init__(self, extractor: nn.Module | None = None, chunk_size: int = 1024, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.extractor = extractor
        self.chunk_size = chunk_size

    def update(self, images: Tensor, real: bool) -> None:
        super().update(extract_features(self.extractor, images), real)

    def compute(self) -> Tensor:
        if len(self.real_features) == 0 or len(self.fake_features) == 0:
            raise RuntimeError("OneNNAccuracy: needs real and generated samples")
        result = one_nn_accuracy(*self.sets(), self.chunk_size)
        return scalar_result(result["accuracy"], self.device)


# ---------------------------------------------------------------------------- precision / recall
def _kth_neighbour_radii(features: Tensor, k: int, chunk_size: int) -> Tensor:
    radii = torch.empty(features.shape[0], dtype=torch.float64, device=features.device)
    for start, distances in _pairwise_distances(features, features, chunk_size):
        # the k+1-th smallest distance: the point itself (0) comes first
        radii[start : start + distances.shape[0]] = distances.kthvalue(k + 1, dim=1).values
    return radii


def _fraction_inside(points: Tensor, centres: Tensor, radii: Tensor, chunk_size: int) -> float:
    inside = 0
    for _, distances in _pairwise_distances(points, centres, chunk_size):
        inside += int((distances <= radii.unsqueeze(0)).any(dim=1).sum())
    return inside / points.shape[0]


def precision_recall(
    real_features: Tensor, fake_features: Tensor, k: int = 3, chunk_size: int = 1024
) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al., NeurIPS 2019), Euclidean, float64.

    The real manifold is the union of balls around each real feature with the
    distance to its k-th nearest real neighbour as radius (likewise for the
    generated one). Precision: the fraction of generated points inside the real
    manifold; recall: the fraction of real points inside the generated manifold.
    Returns ``{"precision": float, "recall": float}``.
    """
    if real_features.dim() != 2 or fake_features.dim() != 2 or real_features.shape[1] != fake_features.shape[1]:
        raise ValueError(
            f"precision_recall: expected (N, D) and (M, D) features, got {tuple(real_features.shape)} "
            f"and {tuple(fake_features.shape)}"
        )
    if not 1 <= k < min(real_features.shape[0], fake_features.shape[0]):
        raise ValueError(
            f"precision_recall: k must be in [1, smaller set size) = [1, "
            f"{min(real_features.shape[0], fake_features.shape[0])}), got {k}"
        )
    fake_features = fake_features.to(real_features.device)
    real_radii = _kth_neighbour_radii(real_features, k, chunk_size)
    fake_radii = _kth_neighbour_radii(fake_features, k, chunk_size)
    return {
        "precision": _fraction_inside(fake_features, real_features, real_radii, chunk_size),
        "recall": _fraction_inside(real_features, fake_features, fake_radii, chunk_size),
    }


class PrecisionRecall(FeatureSets):
    """Improved precision / recall (Kynkäänniemi et al. 2019) on features kept as ``cat`` states.

    ``update(features, real)`` adds features of one side; ``compute()`` returns
    ``precision_recall``'s dict, with k lowered to fit when a side has at most k samples.
    """

    higher_is_better = True

    def __init__(self, k: int = 3, chunk_size: int = 1024, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.k = k
        self.chunk_size = chunk_size

    def compute(self) -> dict[str, float]:
        real, fake = self.sets()
        k = min(self.k, real.shape[0] - 1, fake.shape[0] - 1)
        return precision_recall(real, fake, k=k, chunk_size=self.chunk_size)


# ---------------------------------------------------------------------------- the registered metrics
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
