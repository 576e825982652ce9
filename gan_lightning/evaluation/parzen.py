"""Parzen-window (Gaussian KDE) log-likelihood of real held-out data under the generated samples (``parzen``).

The protocol of Breuleux et al. 2011 / Goodfellow et al. 2014: a Gaussian kernel density estimate is
centred on the m generated samples y_j,

    log p(x) = logsumexp_j( -||x - y_j||^2 / (2 sigma^2) ) - log m - (d/2) log(2 pi sigma^2),

sigma is the grid value that maximises the mean log-likelihood of a *validation* part of the real
held-out samples, and the score is the mean log-likelihood (nats per sample, with its standard error)
of the other, *test* part. The real held-out samples are the evaluation's (``num_real`` of the held-out
split), cut in two by a permutation seeded from the evaluation's ``seed`` (``parzen_validation_fraction``
of them validate). Space: the evaluation's features, so ``--feature_extractor none`` gives the classic
pixel-space estimate and ``digits`` / ``inception`` a feature-space one.

Grid (``parzen_sigmas``): explicit positive values, or by default 25 values log-spaced from s/16 to 4 s,
s the root-mean-square per-coordinate standard deviation of the real validation points (the data's
scale, whatever the generator does: a collapsed one needs a wide kernel). A chosen sigma at either end
of the grid means the grid should be widened.

**Warning** (Theis, van den Oord & Bethge 2016, "A note on the evaluation of generative models"):
Parzen-window estimates are unreliable in high dimension. Even with 10^6 samples the estimate is far
from the true log-likelihood of a model on 6x6 patches, let alone 784 pixels; a model that only stores
training images or a k-means model can score higher than the true likelihood of good models; the
estimate can rank models in the opposite order of their true likelihoods. Use it to compare with the old
literature, not to rank models (the ``ais`` estimate is the likelihood the generator defines).
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

GRID_SIZE = 25


def _squared_distances(points: Tensor, centres: Tensor, chunk_size: int = 1024) -> Tensor:
    """(N, M) float64 squared Euclidean distances."""
    centres = centres.to(torch.float64)
    blocks = [torch.cdist(points[start : start + chunk_size].to(centres.device, torch.float64), centres).pow_(2)
              for start in range(0, points.shape[0], chunk_size)]
    return torch.cat(blocks)


def parzen_log_likelihoods(squared_distances: Tensor, sigma: float, dim: int) -> Tensor:
    """log p(x_i) (N,) of the Gaussian KDE with width ``sigma`` from the (N, M) squared distances of the
    points to the M centres, in ``dim`` dimensions."""
    num_centres = squared_distances.shape[1]
    log_kernel = torch.logsumexp(-squared_distances / (2.0 * sigma**2), dim=1)
    return log_kernel - math.log(num_centres) - 0.5 * dim * math.log(2.0 * math.pi * sigma**2)


def default_sigmas(points: Tensor) -> list[float]:
    """25 widths log-spaced from s/16 to 4 s, s the RMS per-coordinate standard deviation of ``points``."""
    scale = float(points.to(torch.float64).var(dim=0).mean().sqrt()) if points.shape[0] > 1 else 1.0
    scale = scale if scale > 0 else 1.0
    return [scale * 2.0**exponent for exponent in torch.linspace(-4.0, 2.0, GRID_SIZE, dtype=torch.float64).tolist()]


def parzen_window(centres: Tensor, validation: Tensor, test: Tensor,
                  sigmas: Sequence[float] | None = None) -> dict[str, float]:
    """Fit the KDE width on ``validation`` (maximum mean log-likelihood over ``sigmas``), report on ``test``:
    ``{"parzen_log_likelihood", "parzen_std_error", "parzen_sigma"}`` (nats per sample)."""
    if centres.dim() != 2 or validation.dim() != 2 or test.dim() != 2:
        raise ValueError("parzen_window: expected (M, D) centres, (N, D) validation and test points")
    if validation.shape[0] < 1 or test.shape[0] < 1 or centres.shape[0] < 1:
        raise ValueError(f"parzen_window: needs at least one centre, validation and test point, got "
                         f"{centres.shape[0]}, {validation.shape[0]}, {test.shape[0]}")
    dim = centres.shape[1]
    sigmas = list(sigmas) if sigmas is not None else default_sigmas(validation)
    validation_distances = _squared_distances(validation, centres)
    scores = [float(parzen_log_likelihoods(validation_distances, sigma, dim).mean()) for sigma in sigmas]
    best = max(range(len(sigmas)), key=lambda index: scores[index])
    sigma = float(sigmas[best])
    test_values = parzen_log_likelihoods(_squared_distances(test, centres), sigma, dim)
    std_error = float(test_values.std() / math.sqrt(test_values.shape[0])) if test_values.shape[0] > 1 else 0.0
    return {"parzen_log_likelihood": float(test_values.mean()), "parzen_std_error": std_error, "parzen_sigma": sigma}


def split_validation(real: Tensor, fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """``(validation, test)``: a permutation of ``real`` seeded ``seed``, its first ``fraction`` (at least one
    each) validating."""
    if real.shape[0] < 2:
        raise ValueError(f"parzen: needs at least 2 real samples (validation and test), got {real.shape[0]}")
    order = torch.randperm(real.shape[0], generator=torch.Generator().manual_seed(seed))
    cut = min(max(1, round(fraction * real.shape[0])), real.shape[0] - 1)
    return real[order[:cut]], real[order[cut:]]


class ParzenWindow(Metric):
    """The generated samples (KDE centres) as a ``cat`` state, gathered across DDP ranks by ``compute()``;
    the real validation / test points are a reference every rank holds (``set_real_points``)."""

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, sigmas: Sequence[float] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sigmas = sigmas
        self.add_state("centres", [], dist_reduce_fx="cat")
        self.validation: Tensor | None = None
        self.test: Tensor | None = None

    def set_real_points(self, validation: Tensor, test: Tensor) -> None:
        self.validation, self.test = validation, test

    def update(self, features: Tensor) -> None:
        self.centres.append(features)

    def compute(self) -> dict[str, float]:
        if self.validation is None:
            raise RuntimeError("parzen: the real samples were not set")
        return parzen_window(dim_zero_cat(self.centres), self.validation, self.test, self.sigmas)


def _sigma_grid(value: Any) -> bool:
    return value is None or (len(value) >= 1 and all(float(s) > 0 and math.isfinite(float(s)) for s in value))


@register_metric
class Parzen(EvalMetric):
    """Parzen-window log-likelihood of held-out real samples under the generated ones (width fit on a
    validation part); unreliable in high dimension (Theis et al. 2016, see ``parzen.py``)."""

    name = "parzen"
    aliases = ("kde",)
    outputs = ("parzen_log_likelihood", "parzen_std_error", "parzen_sigma")
    takes = "features"
    options = {"parzen_sigmas": None, "parzen_validation_fraction": 0.5}

    def __init__(self, context: MetricContext) -> None:
        super().__init__(context)
        sigmas = checked_option(context.options, "parzen_sigmas", _sigma_grid,
                                "a list of positive kernel widths, or null for the default grid")
        self.fraction = float(checked_option(context.options, "parzen_validation_fraction",
                                             lambda v: 0 < float(v) < 1, "a fraction strictly between 0 and 1"))
        self.seed = context.seed
        self.metric = ParzenWindow(None if sigmas is None else [float(s) for s in sigmas])

    def set_real(self, real: RealFeatures) -> None:
        validation, test = split_validation(real.features, self.fraction, self.seed)
        self.metric.set_real_points(validation, test)

    def update(self, features: Tensor) -> None:
        self.metric.update(features.float())

    def compute(self, num_generated: int) -> dict[str, Any]:
        return dict(self.metric.compute())
