"""The Fréchet distance between two Gaussians, the number behind FID (Heusel et al. 2017).

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

from typing import Literal

import numpy as np
import torch

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


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric PSD matrix through its eigen-decomposition."""
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
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
    _check_psd(np.linalg.eigvalsh(sigma1), "sigma1")
    _check_psd(np.linalg.eigvalsh(sigma2), "sigma2")
    root1 = _psd_sqrt(sigma1)
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
