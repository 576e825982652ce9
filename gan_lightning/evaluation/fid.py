"""FID (Heusel et al. 2017), its whole path in this file: features -> float64 statistics -> Fréchet distance.

1. Real side: :func:`running_statistics` gives ``(mu, sigma, n)`` of the real samples' features
   (float64 running sums over chunks; ``cache.py`` keeps them on disk with the features).
2. Generated side: :class:`FrechetDistance`, a torchmetrics ``Metric``, adds each batch's features to
   float64 sums ``sum x`` and ``sum x x^T`` (independent of the batch size, summed across DDP ranks)
   and forms the unbiased covariance the same way.
3. :func:`frechet_distance` of the two Gaussians:

    d^2 = ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))

4. :class:`FID`, registered as ``fid`` (``registry.py``): what ``evaluate_generator``, the callbacks and
   ``gan-lightning evaluate`` compute; it installs the cached real statistics and feeds the generated
   features to ``FrechetDistance`` in updates of at least ``FID_UPDATE_ROWS`` rows.

The features come from the evaluation's one extractor (``extractors.py``: Inception, digits or a saved
module). The distance is computed in float64 on the CPU (NumPy / SciPy).

    d^2 = ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))

Everything is computed in float64 on the CPU (NumPy / SciPy).

The trace term. ``S1 S2`` is not symmetric, so the usual implementations either
take ``scipy.linalg.sqrtm(S1 @ S2)`` and drop the small imaginary part that
round-off leaves (pytorch-fid, the TF original), or sum the square roots of the
eigenvalues of ``S1 @ S2`` (torch-fidelity, torchmetrics). The default here,
``method="eigh"``, uses the symmetric form of the same quantity:

    tr((S1 S2)^(1/2)) = tr((A S2 A)^(1/2)),   A = S1^(1/2)

When S1 is positive definite the same trace comes faster from its Cholesky factor,
``tr((L^T S2 L)^(1/2))`` with ``S1 = L L^T``. Otherwise ``A S2 A``, symmetric
positive semi-definite, is used. Either way the eigenvalues come from
``numpy.linalg.eigh`` (real by construction) and the trace is the sum of their
square roots. Round-off can leave eigenvalues slightly below zero (rank-deficient
covariances, fewer samples than dimensions): they are clipped to 0, the
counterpart of dropping a small imaginary part. Clearly negative eigenvalues
(a covariance that is not PSD) raise ``ValueError``.

``method="sqrtm"`` follows the classic recipe instead: ``scipy.linalg.sqrtm``;
when the result is not finite, ``eps * I`` is added to both covariances and it is
retried; an imaginary part larger than ``imag_tol`` on the diagonal raises
``ValueError``, a smaller one is dropped.

The distance is clamped at 0: round-off can make it a tiny negative number for
identical statistics, and it is a squared distance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from torch import Tensor, nn
from torchmetrics import Metric

from gan_lightning.evaluation.extractors import extract_features
from gan_lightning.evaluation.registry import EvalMetric, MetricContext, register_metric, scalar_result

if TYPE_CHECKING:
    from gan_lightning.evaluation.cache import RealFeatures

# Generated features are buffered into updates of at least this many rows: each update adds one (D, D) product.
FID_UPDATE_ROWS = 2048

# ---------------------------------------------------------------------------- the distance
# Negative eigenvalues of the symmetric form below -PSD_TOL * (largest eigenvalue)
# mean the input was not a covariance matrix.
PSD_TOL = 1e-6


def _as_float64(value, name: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().to("cpu", torch.float64).numpy()
    array = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"frechet_distance: {name} contains NaN or infinite values")
    return array


def _psd_sqrt(eigenvalues: np.ndarray, eigenvectors: np.ndarray) -> np.ndarray:
    """Square root of a symmetric PSD matrix from its eigen-decomposition (``np.linalg.eigh``'s)."""
    eigenvalues = np.clip(eigenvalues, 0.0, None)
    return (eigenvectors * np.sqrt(eigenvalues)) @ eigenvectors.T


def _check_psd(eigenvalues: np.ndarray, name: str) -> None:
    scale = max(float(np.max(np.abs(eigenvalues))), 1e-300)
    if float(np.min(eigenvalues)) < -PSD_TOL * scale:
        raise ValueError(
            f"frechet_distance: {name} is not positive semi-definite "
            f"(smallest eigenvalue {float(np.min(eigenvalues)):.3g}, largest {scale:.3g})"
        )


def _trace_sqrt_product_eigh(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    sigma1 = 0.5 * (sigma1 + sigma1.T)
    sigma2 = 0.5 * (sigma2 + sigma2.T)
    try:
        # Fast path, one decomposition: with S1 = L L^T (Cholesky), S1 S2 is similar to the
        # symmetric L^T S2 L, whose eigenvalues are real; by Sylvester's law of inertia they
        # are >= 0 exactly when S2 is PSD, so the same eigenvalues check S2.
        lower = np.linalg.cholesky(sigma1)
    except np.linalg.LinAlgError:
        pass  # S1 singular (fewer samples than dimensions) or not a covariance: general path
    else:
        middle = lower.T @ sigma2 @ lower
        eigenvalues = np.linalg.eigvalsh(0.5 * (middle + middle.T))
        _check_psd(eigenvalues, "sigma2")
        return float(np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None))))
    values1, vectors1 = np.linalg.eigh(sigma1)  # one decomposition for S1's check and its root
    _check_psd(values1, "sigma1")
    _check_psd(np.linalg.eigvalsh(sigma2), "sigma2")
    root1 = _psd_sqrt(values1, vectors1)
    middle = root1 @ sigma2 @ root1
    eigenvalues = np.linalg.eigvalsh(0.5 * (middle + middle.T))
    return float(np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None))))


def _trace_sqrt_product_sqrtm(sigma1: np.ndarray, sigma2: np.ndarray, eps: float, imag_tol: float) -> float:
    from scipy import linalg

    def root(product):
        result = linalg.sqrtm(product)
        # SciPy < 1.12 returns (sqrtm, error estimate) when disp=False; >= 1.12 returns the matrix
        return result[0] if isinstance(result, tuple) else result

    covmean = root(sigma1 @ sigma2)
    if not np.all(np.isfinite(covmean)):
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = root((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        largest_imag = float(np.max(np.abs(np.diagonal(covmean).imag)))
        if largest_imag > imag_tol:
            raise ValueError(f"frechet_distance: sqrtm left an imaginary component of {largest_imag:.3g}")
        covmean = covmean.real
    return float(np.trace(covmean))


def frechet_distance(
    mu1,
    sigma1,
    mu2,
    sigma2,
    method: Literal["eigh", "sqrtm"] = "eigh",
    eps: float = 1e-6,
    imag_tol: float = 1e-3,
) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), as a float64 Python float.

    Args:
        mu1, mu2: means, shape ``(D,)`` (NumPy arrays or tensors, any float dtype).
        sigma1, sigma2: covariances, shape ``(D, D)``.
        method: ``"eigh"`` (default, symmetric eigen-decomposition) or ``"sqrtm"``
            (``scipy.linalg.sqrtm`` as in pytorch-fid); see the module docstring.
        eps, imag_tol: only for ``"sqrtm"``: diagonal offset of the retry when the
            root is not finite, and the largest imaginary part that is dropped.
    """
    mu1, mu2 = _as_float64(mu1, "mu1"), _as_float64(mu2, "mu2")
    sigma1, sigma2 = _as_float64(sigma1, "sigma1"), _as_float64(sigma2, "sigma2")
    if mu1.ndim != 1 or mu1.shape != mu2.shape:
        raise ValueError(f"frechet_distance: means must be 1-D of the same size, got {mu1.shape} and {mu2.shape}")
    expected = (mu1.shape[0], mu1.shape[0])
    if sigma1.shape != expected or sigma2.shape != expected:
        raise ValueError(
            f"frechet_distance: covariances must be {expected}, got {sigma1.shape} and {sigma2.shape}"
        )
    if method == "eigh":
        trace_covmean = _trace_sqrt_product_eigh(sigma1, sigma2)
    elif method == "sqrtm":
        trace_covmean = _trace_sqrt_product_sqrtm(sigma1, sigma2, eps, imag_tol)
    else:
        raise ValueError(f"frechet_distance: method must be 'eigh' or 'sqrtm', got {method!r}")
    diff = mu1 - mu2
    value = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_covmean)
    return max(value, 0.0)


def feature_statistics(features) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(D,)`` and unbiased covariance ``(D, D)`` of ``(N, D)`` features, float64 tensors on the CPU."""
    if not isinstance(features, torch.Tensor):
        features = torch.as_tensor(np.asarray(features))
    features = features.detach().to("cpu", torch.float64)
    if features.dim() != 2:
        raise ValueError(f"feature_statistics: expected (N, D) features, got shape {tuple(features.shape)}")
    if features.shape[0] < 2:
        raise ValueError(f"feature_statistics: needs at least 2 samples, got {features.shape[0]}")
    mu = features.mean(dim=0)
    centred = features - mu
    sigma = centred.T @ centred / (features.shape[0] - 1)
    return mu, sigma


# ---------------------------------------------------------------------------- the statistics
def running_statistics(features: Tensor, chunk_size: int = 1024) -> tuple[Tensor, Tensor, int]:
    """``(mu, sigma, n)`` of ``(N, D)`` real features: mean and unbiased covariance in float64 (CPU
    tensors), from running sums over chunks (the formula ``FrechetDistance`` uses for the generated
    side; no float64 copy of all features)."""
    features = features.detach().to("cpu", torch.float32)
    if features.dim() != 2 or features.shape[0] < 2:
        raise ValueError(f"real features must be (N >= 2, D), got {tuple(features.shape)}")
    num, dim = features.shape
    total = np.zeros(dim, dtype=np.float64)
    outer = np.zeros((dim, dim), dtype=np.float64)
    for start in range(0, num, chunk_size):
        chunk = features[start : start + chunk_size].numpy().astype(np.float64)
        total += chunk.sum(axis=0)
        # NumPy runs `a.T @ a` as a symmetric rank-k update (half the work of a general product)
        outer += chunk.T @ chunk
    mu = torch.from_numpy(total / num)
    sigma = (torch.from_numpy(outer) - num * torch.outer(mu, mu)) / (num - 1)
    return mu, sigma, int(num)


# ---------------------------------------------------------------------------- the generated side
class FrechetDistance(Metric):
    """Fréchet distance between real and generated feature distributions (FID with any extractor).

    ``update(images, real)`` extracts features and adds them to float64 sums
    (``sum x`` and ``sum x x^T`` per side), so the result does not depend on how
    the samples were split into batches and DDP sums the states. ``compute()``
    forms the unbiased covariances and calls ``frechet_distance`` (float64,
    symmetric eigen-decomposition); it returns a 0-d float64 tensor.

    Real statistics can be cached: ``real_statistics()`` returns ``(mu, sigma, n)``
    (synchronised across ranks), ``set_real_statistics(mu, sigma, n)`` installs
    them; they then replace the real-side states, survive ``reset()``, and
    ``update(..., real=True)`` is refused until ``clear_real_statistics()``.

    Args:
        extractor: ``nn.Module`` mapping inputs to ``(N, D)`` features (its ``features``
            method when it has one); ``None``: inputs are features.
        num_features: ``D``; default ``extractor.num_features``; when neither is known
            the states are sized by the first ``update`` (every rank must then see
            at least one batch before ``compute``).
        reset_real_features: ``False`` keeps the real-side sums through ``reset()``.
    """

    is_differentiable = False
    higher_is_better = False
    full_state_update = False

    def __init__(
        self,
        extractor: nn.Module | None = None,
        num_features: int | None = None,
        reset_real_features: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.extractor = extractor
        if num_features is None and extractor is not None:
            num_features = getattr(extractor, "num_features", None)
        self.num_features = num_features
        self.reset_real_features = reset_real_features
        dim = num_features or 0
        for side in ("real", "fake"):
            self.add_state(f"{side}_sum", torch.zeros(dim, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state(f"{side}_outer_sum", torch.zeros(dim, dim, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state(f"{side}_num", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self._real_override: tuple[Tensor, Tensor, int] | None = None

    def update(self, images: Tensor, real: bool) -> None:
        if real and self._real_override is not None:
            raise ValueError(
                "FrechetDistance: real statistics were set with set_real_statistics(); "
                "call clear_real_statistics() before updating with real samples"
            )
        features = extract_features(self.extractor, images).to(torch.float64)
        side = "real" if real else "fake"
        total, outer = getattr(self, f"{side}_sum"), getattr(self, f"{side}_outer_sum")
        if total.numel() == 0:  # sized by the first batch
            dim = features.shape[1]
            total = torch.zeros(dim, dtype=torch.float64, device=features.device)
            outer = torch.zeros(dim, dim, dtype=torch.float64, device=features.device)
        if features.shape[1] != total.shape[0]:
            raise ValueError(f"FrechetDistance: expected {total.shape[0]} features, got {features.shape[1]}")
        # In place: one (D, D) float64 product per batch and no temporaries of that size.
        total.add_(features.sum(dim=0))
        outer.addmm_(features.T, features)
        setattr(self, f"{side}_sum", total)
        setattr(self, f"{side}_outer_sum", outer)
        setattr(self, f"{side}_num", getattr(self, f"{side}_num") + features.shape[0])

    @staticmethod
    def _statistics(total: Tensor, outer: Tensor, num: Tensor, side: str) -> tuple[Tensor, Tensor, int]:
        n = int(num)
        if n < 2:
            raise RuntimeError(f"FrechetDistance: needs at least 2 {side} samples, got {n}")
        mu = total / n
        sigma = (outer - n * torch.outer(mu, mu)) / (n - 1)
        return mu, sigma, n

    def _real(self) -> tuple[Tensor, Tensor, int]:
        if self._real_override is not None:
            return self._real_override
        return self._statistics(self.real_sum, self.real_outer_sum, self.real_num, "real")

    def compute(self) -> Tensor:
        mu_real, sigma_real, _ = self._real()
        mu_fake, sigma_fake, _ = self._statistics(self.fake_sum, self.fake_outer_sum, self.fake_num, "fake")
        return scalar_result(frechet_distance(mu_real, sigma_real, mu_fake, sigma_fake), self.device)

    def real_statistics(self) -> tuple[Tensor, Tensor, int]:
        """``(mu, sigma, n)`` of the real side (float64, CPU), gathered over all ranks."""
        if self._real_override is not None:
            mu, sigma, n = self._real_override
        else:
            with self.sync_context():
                mu, sigma, n = self._real()
        return mu.cpu(), sigma.cpu(), n

    def fake_statistics(self) -> tuple[Tensor, Tensor, int]:
        """``(mu, sigma, n)`` of the generated side (float64, CPU), gathered over all ranks."""
        with self.sync_context():
            mu, sigma, n = self._statistics(self.fake_sum, self.fake_outer_sum, self.fake_num, "fake")
        return mu.cpu(), sigma.cpu(), n

    def set_real_statistics(self, mu, sigma, num: int) -> None:
        """Use precomputed real statistics (e.g. from a cache file) instead of real samples.

        They are global already: not summed over ranks, kept through ``reset()``.
        """
        mu = torch.as_tensor(mu, dtype=torch.float64).detach().cpu()
        sigma = torch.as_tensor(sigma, dtype=torch.float64).detach().cpu()
        if mu.dim() != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
            raise ValueError(
                f"set_real_statistics: expected mu (D,) and sigma (D, D), got {tuple(mu.shape)} and {tuple(sigma.shape)}"
            )
        if self.num_features is not None and mu.shape[0] != self.num_features:
            raise ValueError(f"set_real_statistics: expected {self.num_features} features, got {mu.shape[0]}")
        if int(num) < 2:
            raise ValueError(f"set_real_statistics: needs statistics of at least 2 samples, got {num}")
        self._real_override = (mu, sigma, int(num))

    def clear_real_statistics(self) -> None:
        self._real_override = None

    @property
    def has_real_statistics(self) -> bool:
        """Whether the real side is ready (precomputed statistics or at least 2 real samples on this rank)."""
        return self._real_override is not None or int(self.real_num) >= 2

    def reset(self) -> None:
        if self.reset_real_features:
            super().reset()
            return
        kept = {name: getattr(self, name) for name in ("real_sum", "real_outer_sum", "real_num")}
        super().reset()
        for name, value in kept.items():
            setattr(self, name, value)


# ---------------------------------------------------------------------------- the registered metric
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
