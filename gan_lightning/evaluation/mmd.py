"""Gaussian-kernel MMD (``mmd``), beside KID's cubic polynomial kernel (``distribution.py``).

The unbiased estimate of the squared maximum mean discrepancy (Gretton et al. 2012, eq. 3) between
the real features ``x_1..x_n`` and the generated ones ``y_1..y_m``:

    MMD^2_u = 1/(n(n-1)) sum_{i != j} k(x_i, x_j) + 1/(m(m-1)) sum_{i != j} k(y_i, y_j)
              - 2/(nm) sum_{i, j} k(x_i, y_j),          k(a, b) = exp(-||a - b||^2 / (2 sigma^2))

on the evaluation's features (the ones FID and KID use), in float64, over all samples (no subsets).
Unbiased, so it can be slightly negative when the two sets come from one distribution.

Bandwidth ``sigma``: the median heuristic by default (Gretton et al.): the median Euclidean distance
between distinct points of the pooled sample, computed on at most ``mmd_median_points`` of them (a
subset drawn from the evaluation's ``seed``, never the global RNG); ``mmd_bandwidth`` fixes it instead.
Results: ``mmd`` (MMD^2_u) and ``mmd_bandwidth`` (the sigma used).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from gan_lightning.evaluation.distribution import FeatureSets, RealVsGenerated
from gan_lightning.evaluation.registry import MetricContext, checked_option, register_metric


def median_heuristic(x: Tensor, y: Tensor, max_points: int = 1000, generator: torch.Generator | None = None) -> float:
    """The median Euclidean distance between distinct points of ``x`` and ``y`` pooled (at most ``max_points``
    of them, a random subset drawn with ``generator``). Falls back to the mean positive distance when more than
    half the pairs coincide, and to 1 when all do."""
    pooled = torch.cat([x, y.to(x.device)]).to(torch.float64)
    if pooled.shape[0] > max_points:
        keep = torch.randperm(pooled.shape[0], generator=generator)[:max_points]
        pooled = pooled[keep.to(pooled.device)]
    distances = torch.pdist(pooled).sort().values
    count = distances.numel()
    # the usual median (the mean of the two middle values of an even count), as numpy's
    median = float(distances[(count - 1) // 2] + distances[count // 2]) / 2.0 if count else 0.0
    if median > 0:
        return median
    positive = distances[distances > 0]
    return float(positive.mean()) if positive.numel() else 1.0


def _kernel_sum(rows: Tensor, columns: Tensor, gamma: float, chunk_size: int) -> float:
    """sum_{i, j} exp(-gamma ||rows_i - columns_j||^2), float64, ``chunk_size`` rows at a time."""
    total = 0.0
    for start in range(0, rows.shape[0], chunk_size):
        squared = torch.cdist(rows[start : start + chunk_size], columns).pow_(2)
        total += float(squared.mul_(-gamma).exp_().sum())
    return total


def gaussian_mmd(
    x: Tensor,
    y: Tensor,
    bandwidth: float | None = None,
    median_points: int = 1000,
    seed: int = 0,
    chunk_size: int = 1024,
) -> dict[str, float]:
    """Unbiased MMD^2 between ``x`` (N, D) and ``y`` (M, D) with a Gaussian kernel of width ``bandwidth``
    (``None``: the median heuristic on at most ``median_points`` pooled points, subset seeded ``seed``).
    Returns ``{"mmd": MMD^2_u, "mmd_bandwidth": sigma}``."""
    if x.dim() != 2 or y.dim() != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"gaussian_mmd: expected (N, D) and (M, D) features, got {tuple(x.shape)} and {tuple(y.shape)}")
    n, m = x.shape[0], y.shape[0]
    if n < 2 or m < 2:
        raise ValueError(f"gaussian_mmd: needs at least 2 samples per set, got {n} real and {m} generated")
    x, y = x.to(torch.float64), y.to(x.device, torch.float64)
    if bandwidth is None:
        bandwidth = median_heuristic(x, y, median_points, torch.Generator().manual_seed(seed))
    gamma = 1.0 / (2.0 * float(bandwidth) ** 2)
    # the diagonals k(x_i, x_i) = 1 are left out of the within-set sums
    within_x = (_kernel_sum(x, x, gamma, chunk_size) - n) / (n * (n - 1))
    within_y = (_kernel_sum(y, y, gamma, chunk_size) - m) / (m * (m - 1))
    between = _kernel_sum(x, y, gamma, chunk_size) / (n * m)
    return {"mmd": within_x + within_y - 2.0 * between, "mmd_bandwidth": float(bandwidth)}


class GaussianMMD(FeatureSets):
    """Unbiased Gaussian-kernel MMD^2 between real and generated features kept as ``cat`` states (gathered
    across DDP ranks by ``compute()``); ``update(features, real)``; ``compute()`` returns ``gaussian_mmd``'s dict."""

    higher_is_better = False

    def __init__(self, bandwidth: float | None = None, median_points: int = 1000, seed: int = 0,
                 chunk_size: int = 1024, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bandwidth, self.median_points, self.seed, self.chunk_size = bandwidth, median_points, seed, chunk_size

    def compute(self) -> dict[str, float]:
        real, fake = self.sets()
        return gaussian_mmd(real, fake, self.bandwidth, self.median_points, self.seed, self.chunk_size)


def _positive_or_none(value: Any) -> bool:
    return value is None or (not isinstance(value, bool) and float(value) > 0 and math.isfinite(float(value)))


@register_metric
class MMD(RealVsGenerated):
    """Unbiased MMD^2 with a Gaussian kernel (median-heuristic bandwidth by default) on the features."""

    name = "mmd"
    aliases = ("gaussian_mmd",)
    outputs = ("mmd", "mmd_bandwidth")
    options = {"mmd_bandwidth": None, "mmd_median_points": 1000}

    def __init__(self, context: MetricContext) -> None:
        super().__init__(context)
        bandwidth = checked_option(context.options, "mmd_bandwidth", _positive_or_none,
                                   "a positive kernel width, or null for the median heuristic")
        points = checked_option(context.options, "mmd_median_points",
                                lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 2,
                                "an integer >= 2 (points the median heuristic looks at)")
        self.metric = GaussianMMD(None if bandwidth is None else float(bandwidth), points, context.seed)

    def compute(self, num_generated: int) -> dict[str, Any]:
        return dict(self.metric.compute())
