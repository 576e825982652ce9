"""Memorisation check (``memorization``): are the generated samples closer to the training samples than
new real samples are?

For each generated sample, the distance (in the evaluation's features) to its nearest *training* sample;
the same for each held-out real sample (the evaluation's real samples, which the model never saw). A
generator that has learnt the distribution sits as far from the training set as fresh data does; one
that copies training samples sits on top of them. Results:

- ``memorization_ratio``: median generated distance / median held-out distance (~1: no sign of copying;
  near 0: copies; above 1: the samples are farther from the data than real data is, e.g. poor samples);
- ``memorization_fraction``: the fraction of generated samples closer to the training set than
  ``memorization_quantile`` (5 %) of the held-out samples are (~0.05 without memorisation, ~1 for copies);
- ``memorization_distance`` and ``memorization_heldout_distance``: the two medians.

The training features come from the data module's training split (``real_inputs`` ``train_features``:
``num_train`` samples, all by default, cached like the held-out features), so the real data must be a
data module with a held-out split of its own; every rank holds them, and each rank's nearest distances
are gathered across DDP processes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from gan_lightning.evaluation.registry import EvalMetric, MetricContext, checked_option, register_metric

if TYPE_CHECKING:
    from gan_lightning.evaluation.cache import RealFeatures


def nearest_distances(points: Tensor, reference: Tensor, chunk_size: int = 1024) -> Tensor:
    """(N,) float64 distance of each of ``points`` (N, D) to its nearest row of ``reference`` (M, D)."""
    reference = reference.to(points.device, torch.float64)
    return torch.cat([torch.cdist(points[start : start + chunk_size].to(torch.float64), reference).min(dim=1).values
                      for start in range(0, points.shape[0], chunk_size)])


def memorization_scores(generated_distances: Tensor, heldout_distances: Tensor, quantile: float = 0.05) -> dict[str, float]:
    """The ``memorization_*`` results from the nearest-training-sample distances of the generated and of the
    held-out real samples."""
    if generated_distances.numel() == 0 or heldout_distances.numel() == 0:
        raise ValueError("memorization: needs generated and held-out real samples")
    # the usual median (the mean of the two middle values of an even count, as numpy's), not torch's lower one
    generated_median = float(torch.quantile(generated_distances.to(torch.float64), 0.5))
    heldout_median = float(torch.quantile(heldout_distances.to(torch.float64), 0.5))
    threshold = float(torch.quantile(heldout_distances.to(torch.float64), quantile))
    return {
        "memorization_ratio": generated_median / heldout_median if heldout_median > 0 else float("inf"),
        "memorization_fraction": float((generated_distances < threshold).double().mean()),
        "memorization_distance": generated_median,
        "memorization_heldout_distance": heldout_median,
    }


class NearestTrainingDistances(Metric):
    """Each generated sample's distance to its nearest training sample as a ``cat`` state (gathered across DDP
    ranks by ``compute()``); the training and held-out features are references every rank holds."""

    is_differentiable = False
    higher_is_better = None
    full_state_update = False

    def __init__(self, quantile: float = 0.05, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.quantile = quantile
        self.add_state("distances", [], dist_reduce_fx="cat")
        self.train: Tensor | None = None
        self.heldout: Tensor | None = None

    def set_train(self, features: Tensor) -> None:
        self.train = features

    def set_heldout(self, features: Tensor) -> None:
        self.heldout = features

    def update(self, features: Tensor) -> None:
        if self.train is None:
            raise RuntimeError("memorization: install the training features (set_real_input) before the samples")
        self.distances.append(nearest_distances(features, self.train))

    def compute(self) -> dict[str, float]:
        if self.heldout is None or self.train is None:
            raise RuntimeError("memorization: the training and held-out features were not set")
        heldout = nearest_distances(self.heldout.to(self.device), self.train)
        return memorization_scores(dim_zero_cat(self.distances), heldout, self.quantile)


@register_metric
class Memorization(EvalMetric):
    """Nearest-training-sample distances of the generated samples against those of held-out real samples."""

    name = "memorization"
    aliases = ("memorisation",)
    outputs = ("memorization_ratio", "memorization_fraction", "memorization_distance", "memorization_heldout_distance")
    takes = "features"
    real_inputs = ("train_features",)
    options = {"memorization_quantile": 0.05}

    def __init__(self, context: MetricContext) -> None:
        super().__init__(context)
        quantile = float(checked_option(context.options, "memorization_quantile", lambda v: 0 < float(v) < 1,
                                        "a quantile strictly between 0 and 1"))
        self.metric = NearestTrainingDistances(quantile)

    def set_real(self, real: RealFeatures) -> None:
        self.metric.set_heldout(real.features)

    def set_real_input(self, name: str, values: Tensor) -> None:
        self.metric.set_train(values.to(self.device))

    def update(self, features: Tensor) -> None:
        self.metric.update(features)

    def compute(self, num_generated: int) -> dict[str, Any]:
        return dict(self.metric.compute())
