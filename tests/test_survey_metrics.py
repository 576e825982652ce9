"""The survey's metrics (issue 28), each against an independent reference on a small case: Gaussian MMD
(a direct numpy formula), Mode Score (a hand-computed case and torchmetrics' IS), Wasserstein (brute
force over permutations, scipy in 1-D), Parzen (a scipy log-sum-exp of Gaussian densities), AIS (the
exact marginal of a linear-Gaussian generator), the birthday-paradox estimate (sets with a known
number of distinct points), memorisation (a generator that copies training samples vs one that does
not), the FCN-score (a numpy confusion matrix); and each metric through the registry, with its options
checked."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist

from gan_lightning.evaluation import (
    GeneratorMetrics,
    gaussian_mmd,
    real_features,
)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def gaussians(n: int, m: int, dim: int, shift: float = 0.5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(n, dim, generator=generator, dtype=torch.float64),
            torch.randn(m, dim, generator=generator, dtype=torch.float64) + shift)


def suite_values(names: str, real: torch.Tensor, fake: torch.Tensor, batch: int = 17, **options) -> dict:
    """The registered metrics fed as ``evaluate_generator`` feeds them: the real features installed, the
    generated ones in batches of ``batch``."""
    suite = GeneratorMetrics(names, None, seed=3, **options)
    suite.set_real(real_features(real.float(), None, None, cache=False)[0])
    for start in range(0, fake.shape[0], batch):
        suite.update(fake[start : start + batch].float())
    return suite.compute()


# ---------------------------------------------------------------------------- MMD
def numpy_mmd(x: np.ndarray, y: np.ndarray, sigma: float) -> float:
    def kernel(a, b):
        return np.exp(-((a[:, None, :] - b[None, :, :]) ** 2).sum(-1) / (2 * sigma**2))

    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    n, m = len(x), len(y)
    return ((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
            - 2 * kxy.mean())


def test_mmd_matches_a_direct_numpy_formula_with_the_median_heuristic_bandwidth():
    real, fake = gaussians(60, 45, 5)
    median = float(np.median(pdist(np.concatenate([real.numpy(), fake.numpy()]))))
    result = gaussian_mmd(real, fake)
    assert result["mmd_bandwidth"] == pytest.approx(median, rel=1e-12)
    assert result["mmd"] == pytest.approx(numpy_mmd(real.numpy(), fake.numpy(), median), rel=1e-10)
    assert gaussian_mmd(real, fake, bandwidth=0.7)["mmd"] == pytest.approx(numpy_mmd(real.numpy(), fake.numpy(), 0.7), rel=1e-10)
    # unbiased: about 0 for two samples of one distribution, clearly positive for shifted ones
    same = gaussian_mmd(*gaussians(300, 300, 5, shift=0.0, seed=1))["mmd"]
    assert abs(same) < 0.01 < gaussian_mmd(*gaussians(300, 300, 5, shift=1.0, seed=1))["mmd"]


def test_mmd_registered_fed_in_batches_equals_one_call_and_the_subset_is_seeded():
    real, fake = gaussians(80, 70, 4)
    values = suite_values("mmd", real, fake, mmd_median_points=50)
    # the median heuristic on 50 of the 150 pooled points: drawn from the evaluation's seed (3)
    expected = gaussian_mmd(real.float(), fake.float(), median_points=50, seed=3)
    assert values["mmd"] == pytest.approx(expected["mmd"], rel=1e-9)
    assert values["mmd_bandwidth"] == expected["mmd_bandwidth"]
    state = torch.random.get_rng_state()
    assert suite_values("mmd", real, fake, mmd_median_points=50)["mmd_bandwidth"] == expected["mmd_bandwidth"]
    assert torch.equal(state, torch.random.get_rng_state())  # the global RNG is untouched


