"""Birthday-paradox support estimate (``birthday``; Arora & Zhang 2017, "Do GANs actually learn the
distribution? An empirical study").

If a distribution has support N (N equally likely points), a batch of s samples contains a duplicate
with probability 1 - prod_{i<s} (1 - i/N) ~ 1 - exp(-s(s-1) / (2N)): about 1/2 at s ~ sqrt(N), so the
smallest batch size with frequent duplicates tells the support size, ~ s^2. Arora & Zhang looked at the
closest pairs of each batch by eye; here a *near-duplicate* is a pair of samples whose feature distance
is below a threshold calibrated on real data: the ``birthday_quantile`` quantile (0.01) of the real
samples' nearest-neighbour distances (each real sample to its nearest other real sample), i.e. closer
than all but 1 % of real samples are to their nearest neighbour.

For each batch size s of ``birthday_batch_sizes`` (those at most the number of samples), ``birthday_trials``
batches are drawn without replacement from the generated samples (from the evaluation's ``seed``, never
the global RNG) and the fraction that holds a near-duplicate is the duplicate rate. The support estimate
inverts the formula above at the batch size whose rate is nearest 1/2 (rates of 1 counted as
1 - 1/(2 trials)):

    N_hat = s (s - 1) / (2 (-log(1 - rate)))      (= s(s-1) / (2 log 2) ~ 0.72 s^2 at rate 1/2)

``inf`` when no batch holds a near-duplicate (the support is beyond what these batch sizes see). The same
estimate on the real samples (``birthday_real_support``) is the scale to read it against: it is bounded by
the threshold's own calibration, so compare generators with each other and with it, not with data-set sizes.

Results: ``birthday_support``, ``birthday_real_support``, ``birthday_batch_size`` and
``birthday_duplicate_rate`` (the s the estimate used, its rate), ``birthday_threshold``, and
``birthday_rates`` (a record: the duplicate rate per batch size).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from gan_lightning.evaluation.registry import EvalMetric, MetricContext, checked_option, register_metric

if TYPE_CHECKING:
    from gan_lightning.evaluation.cache import RealFeatures


def nearest_neighbour_distances(points: Tensor, chunk_size: int = 1024) -> Tensor:
    """(N,) float64 distance of each point to its nearest *other* point."""
    points = points.to(torch.float64)
    nearest = torch.empty(points.shape[0], dtype=torch.float64, device=points.device)
    for start in range(0, points.shape[0], chunk_size):
        distances = torch.cdist(points[start : start + chunk_size], points)
        rows = torch.arange(distances.shape[0], device=points.device)
        distances[rows, rows + start] = math.inf
        nearest[start : start + distances.shape[0]] = distances.min(dim=1).values
    return nearest


def close_pairs(points: Tensor, threshold: float, chunk_size: int = 1024) -> Tensor:
    """(N, N) bool: which pairs of distinct points are closer than ``threshold``."""
    points = points.to(torch.float64)
    close = torch.zeros(points.shape[0], points.shape[0], dtype=torch.bool, device=points.device)
    for start in range(0, points.shape[0], chunk_size):
        close[start : start + chunk_size] = torch.cdist(points[start : start + chunk_size], points) < threshold
    close.fill_diagonal_(False)
    return close


#: Up to this many points the pairs closer than the threshold are found once (an N x N bool matrix, 64 MiB
#: at the limit); beyond it each batch's own distances are computed.
CLOSE_PAIRS_LIMIT = 8192


def duplicate_rates(points: Tensor, threshold: float, batch_sizes: Sequence[int], trials: int,
                    seed: int = 0) -> dict[int, float]:
    """The fraction of ``trials`` random batches (without replacement) of each size holding a pair of points
    closer than ``threshold``; batch sizes larger than the number of points are left out."""
    close = close_pairs(points, threshold).cpu() if points.shape[0] <= CLOSE_PAIRS_LIMIT else None
    generator = torch.Generator().manual_seed(seed)
    rates = {}
    for size in batch_sizes:
        if size < 2 or size > points.shape[0]:
            continue
        hits = 0
        for _ in range(trials):
            batch = torch.randperm(points.shape[0], generator=generator)[:size]
            if close is not None:
                hits += bool(close[batch][:, batch].any())
            else:
                hits += bool((torch.pdist(points[batch.to(points.device)].to(torch.float64)) < threshold).any())
        rates[int(size)] = hits / trials
    return rates


def support_estimate(rates: dict[int, float], trials: int) -> tuple[float, int, float]:
    """``(N_hat, s, rate)``: the support estimate at the batch size whose duplicate rate is nearest 1/2
    (``inf`` and the largest size when no batch held a duplicate)."""
    if not rates:
        raise ValueError("birthday: no batch size to estimate from")
    seen = {size: rate for size, rate in rates.items() if rate > 0}
    if not seen:
        largest = max(rates)
        return math.inf, largest, 0.0
    size = min(seen, key=lambda s: (abs(seen[s] - 0.5), s))
    rate = min(seen[size], 1.0 - 1.0 / (2 * trials))
    return size * (size - 1) / (2.0 * -math.log1p(-rate)), size, seen[size]


def birthday_paradox(real: Tensor, generated: Tensor, batch_sizes: Sequence[int], trials: int = 200,
                     quantile: float = 0.01, seed: int = 0) -> dict[str, Any]:
    """The birthday-paradox support estimate of ``generated`` (M, D) with the near-duplicate threshold
    calibrated on ``real`` (N, D); see the module docstring for the keys."""
    if real.shape[0] < 2:
        raise ValueError(f"birthday: needs at least 2 real samples to calibrate the threshold, got {real.shape[0]}")
    usable = [size for size in batch_sizes if 2 <= size <= generated.shape[0]]
    if not usable:
        raise ValueError(f"birthday: no batch size of {list(batch_sizes)} is between 2 and the {generated.shape[0]} "
                         "generated samples: generate more samples or give smaller birthday_batch_sizes")
    threshold = float(torch.quantile(nearest_neighbour_distances(real), quantile))
    rates = duplicate_rates(generated, threshold, usable, trials, seed)
    support, size, rate = support_estimate(rates, trials)
    real_rates = duplicate_rates(real, threshold, batch_sizes, trials, seed + 1)
    real_support = support_estimate(real_rates, trials)[0] if real_rates else math.nan
    return {"birthday_support": support, "birthday_real_support": real_support, "birthday_batch_size": size,
            "birthday_duplicate_rate": rate, "birthday_threshold": threshold,
            "birthday_rates": {str(s): r for s, r in rates.items()}}


class BirthdayParadox(Metric):
    """The generated features as a ``cat`` state (gathered across DDP ranks by ``compute()``); the real ones
    a reference every rank holds (``set_real_features``)."""

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, batch_sizes: Sequence[int], trials: int = 200, quantile: float = 0.01, seed: int = 0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.batch_sizes, self.trials, self.quantile, self.seed = list(batch_sizes), trials, quantile, seed
        self.add_state("generated", [], dist_reduce_fx="cat")
        self.real: Tensor | None = None

    def set_real_features(self, features: Tensor) -> None:
        self.real = features

    def update(self, features: Tensor) -> None:
        self.generated.append(features)

    def compute(self) -> dict[str, Any]:
        if self.real is None:
            raise RuntimeError("birthday: the real features were not set")
        return birthday_paradox(self.real.to(self.device), dim_zero_cat(self.generated), self.batch_sizes,
                                self.trials, self.quantile, self.seed)


def _batch_sizes(value: Any) -> bool:
    return len(value) >= 1 and all(isinstance(s, int) and not isinstance(s, bool) and s >= 2 for s in value)


@register_metric
class Birthday(EvalMetric):
    """Birthday-paradox support estimate (Arora & Zhang 2017): near-duplicate rates in batches of size s."""

    name = "birthday"
    aliases = ("birthday_paradox",)
    outputs = ("birthday_support", "birthday_real_support", "birthday_batch_size", "birthday_duplicate_rate",
               "birthday_threshold", "birthday_rates")
    record_outputs = ("birthday_rates",)
    takes = "features"
    options = {"birthday_batch_sizes": (10, 20, 40, 80, 160, 320), "birthday_trials": 200, "birthday_quantile": 0.01}

    def __init__(self, context: MetricContext) -> None:
        super().__init__(context)
        options = context.options
        sizes = checked_option(options, "birthday_batch_sizes", _batch_sizes, "a list of integer batch sizes >= 2")
        trials = checked_option(options, "birthday_trials",
                                lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "an integer >= 1")
        quantile = float(checked_option(options, "birthday_quantile", lambda v: 0 <= float(v) < 1,
                                        "a quantile in [0, 1)"))
        self.metric = BirthdayParadox(sorted(set(sizes)), trials, quantile, context.seed)

    def set_real(self, real: RealFeatures) -> None:
        self.metric.set_real_features(real.features)

    def update(self, features: Tensor) -> None:
        self.metric.update(features.float())

    def compute(self, num_generated: int) -> dict[str, Any]:
        return dict(self.metric.compute())
