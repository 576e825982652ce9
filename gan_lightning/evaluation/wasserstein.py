"""Wasserstein distance between the real and the generated features (``wasserstein``): exact or sliced.

- **exact** (small sets of equal size n): the optimal assignment between the two point sets
  (``scipy.optimize.linear_sum_assignment`` on the n x n matrix of ``||x_i - y_j||^p``); for two
  uniform distributions on n points each, an optimal transport plan is a permutation (Birkhoff), so

      W_p = (min_sigma 1/n sum_i ||x_i - y_sigma(i)||^p)^(1/p)

  is exact. Cost: O(n^3) time, n^2 memory, hence ``wasserstein_exact_max`` (2000).
- **sliced** (large or unequal sets; Rabin et al. 2011, Bonneel et al. 2015): the mean over
  ``wasserstein_projections`` random unit directions theta (drawn from the evaluation's ``seed``, never
  the global RNG) of the 1-D distance between the projections, each exact from the quantile functions
  (sorted values, any two sizes):

      SW_p = (E_theta W_p^p(theta . x, theta . y))^(1/p)

  SW_p <= W_p (a projection is 1-Lipschitz), so the two methods' numbers are not interchangeable:
  the output ``wasserstein_method`` says which one was computed. In one dimension both are W_p.

``wasserstein_method``: ``auto`` (exact when the sets have equal sizes of at most
``wasserstein_exact_max``, else sliced), ``exact`` or ``sliced``; ``wasserstein_p``: 1 or 2.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gan_lightning.evaluation.distribution import FeatureSets, RealVsGenerated
from gan_lightning.evaluation.registry import MetricContext, checked_option, register_metric

METHODS = ("auto", "exact", "sliced")


def _check_sets(x: Tensor, y: Tensor, what: str) -> None:
    if x.dim() != 2 or y.dim() != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"{what}: expected (N, D) and (M, D) points, got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.shape[0] < 1 or y.shape[0] < 1:
        raise ValueError(f"{what}: needs at least 1 point per set, got {x.shape[0]} and {y.shape[0]}")


def exact_wasserstein(x: Tensor, y: Tensor, p: int = 1) -> float:
    """W_p between the uniform distributions on ``x`` (N, D) and ``y`` (N, D), by the optimal assignment."""
    from scipy.optimize import linear_sum_assignment

    _check_sets(x, y, "exact_wasserstein")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"exact_wasserstein: needs sets of equal size, got {x.shape[0]} and {y.shape[0]}")
    cost = torch.cdist(x.to(torch.float64), y.to(x.device, torch.float64)).pow(p).cpu().numpy()
    rows, columns = linear_sum_assignment(cost)
    return float(cost[rows, columns].mean() ** (1.0 / p))


def wasserstein_1d(u: Tensor, v: Tensor, p: int = 1) -> Tensor:
    """W_p^p between the empirical distributions of each row of ``u`` (L, N) and of ``v`` (L, M): the
    integral over t in (0, 1] of |F_u^-1(t) - F_v^-1(t)|^p, exact for any N, M (float64, (L,))."""
    u, v = u.to(torch.float64).sort(dim=1).values, v.to(u.device, torch.float64).sort(dim=1).values
    n, m = u.shape[1], v.shape[1]
    # the quantile functions are steps at t = i/n and j/m: in units of 1/(n m), the integers i*m and j*n
    steps = torch.cat([torch.arange(1, n + 1) * m, torch.arange(1, m + 1) * n]).unique()  # sorted
    widths = torch.diff(steps, prepend=steps.new_zeros(1)).to(torch.float64) / (n * m)
    # on (t_{k-1}, t_k] the quantile of u is its ceil(t_k n)-th smallest value
    index_u = torch.div(steps + m - 1, m, rounding_mode="floor") - 1
    index_v = torch.div(steps + n - 1, n, rounding_mode="floor") - 1
    gaps = (u[:, index_u.to(u.device)] - v[:, index_v.to(u.device)]).abs().pow(p)
    return gaps @ widths.to(u.device)


def sliced_wasserstein(x: Tensor, y: Tensor, projections: int = 256, p: int = 1, seed: int = 0) -> float:
    """SW_p between ``x`` (N, D) and ``y`` (M, D) over ``projections`` random unit directions (seeded)."""
    _check_sets(x, y, "sliced_wasserstein")
    generator = torch.Generator().manual_seed(seed)
    directions = torch.randn(x.shape[1], projections, generator=generator, dtype=torch.float64)
    directions = (directions / directions.norm(dim=0, keepdim=True)).to(x.device)
    u = (x.to(torch.float64) @ directions).T
    v = (y.to(x.device, torch.float64) @ directions).T
    return float(wasserstein_1d(u, v, p).mean() ** (1.0 / p))


def feature_wasserstein(x: Tensor, y: Tensor, method: str = "auto", exact_max: int = 2000, projections: int = 256,
                        p: int = 1, seed: int = 0) -> dict[str, Any]:
    """``{"wasserstein": W, "wasserstein_method": "exact" | "sliced"}`` of ``x`` (N, D) and ``y`` (M, D)."""
    _check_sets(x, y, "wasserstein")
    if method == "auto":
        method = "exact" if x.shape[0] == y.shape[0] <= exact_max else "sliced"
    if method == "exact":
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"wasserstein_method 'exact' needs as many generated as real samples, got {y.shape[0]} "
                             f"and {x.shape[0]}: set num_real to num_samples, or use 'sliced' or 'auto'")
        value = exact_wasserstein(x, y, p)
    elif method == "sliced":
        value = sliced_wasserstein(x, y, projections, p, seed)
    else:
        raise ValueError(f"wasserstein: method must be one of {', '.join(METHODS)}, got {method!r}")
    return {"wasserstein": value, "wasserstein_method": method}


class FeatureWasserstein(FeatureSets):
    """W_p between real and generated features kept as ``cat`` states (gathered across DDP ranks by
    ``compute()``): ``update(features, real)``; ``compute()`` returns ``feature_wasserstein``'s dict."""

    higher_is_better = False

    def __init__(self, method: str = "auto", exact_max: int = 2000, projections: int = 256, p: int = 1,
                 seed: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.method, self.exact_max, self.projections, self.p, self.seed = method, exact_max, projections, p, seed

    def compute(self) -> dict[str, Any]:
        real, fake = self.sets()
        return feature_wasserstein(real, fake, self.method, self.exact_max, self.projections, self.p, self.seed)


def _count(minimum: int):
    return lambda value: isinstance(value, int) and not isinstance(value, bool) and value >= minimum


@register_metric
class Wasserstein(RealVsGenerated):
    """W_p between the real and the generated features: exact (optimal assignment) or sliced."""

    name = "wasserstein"
    aliases = ("wasserstein_distance",)
    outputs = ("wasserstein", "wasserstein_method")
    record_outputs = ("wasserstein_method",)
    options = {"wasserstein_method": "auto", "wasserstein_exact_max": 2000, "wasserstein_projections": 256,
               "wasserstein_p": 1}

    def __init__(self, context: MetricContext) -> None:
        super().__init__(context)
        options = context.options
        method = checked_option(options, "wasserstein_method", lambda v: v in METHODS, f"one of {', '.join(METHODS)}")
        exact_max = checked_option(options, "wasserstein_exact_max", _count(1), "an integer >= 1 (largest exact set)")
        projections = checked_option(options, "wasserstein_projections", _count(1), "an integer >= 1")
        p = checked_option(options, "wasserstein_p", lambda v: v in (1, 2) and not isinstance(v, bool), "1 or 2")
        self.metric = FeatureWasserstein(method, exact_max, projections, p, context.seed)

    def compute(self, num_generated: int) -> dict[str, Any]:
        return dict(self.metric.compute())
