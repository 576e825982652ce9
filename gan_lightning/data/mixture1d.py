"""A 1-D Gaussian mixture (the f-GAN paper's section 4 toy problem: fit a Gaussian to a mixture).

``Mixture1D``: points x in R^1 drawn from sum_k w_k N(mu_k, sigma_k^2); each point carries the
index of its component as label. Defaults: two equal, well separated components at -2 and +2
with std 0.5, so a model that covers both modes and one that picks one are told apart by the
mass it puts near each mode (``mass_per_mode``).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch.utils.data import TensorDataset

from gan_lightning.data.base import GANDataModule
from gan_lightning.data.resident import DeviceResidentData


def _check(means: Sequence[float], stds: Sequence[float], weights: Sequence[float] | None) -> tuple:
    means, stds = tuple(float(m) for m in means), tuple(float(s) for s in stds)
    if len(means) < 1 or len(stds) != len(means):
        raise ValueError(f"data.means and data.stds need one entry per component, got {len(means)} and {len(stds)}")
    if any(s <= 0 for s in stds):
        raise ValueError(f"data.stds must be > 0, got {list(stds)}")
    weights = tuple(float(w) for w in weights) if weights is not None else (1.0,) * len(means)
    if len(weights) != len(means) or any(w <= 0 for w in weights):
        raise ValueError(f"data.weights: one positive weight per component, got {list(weights)}")
    total = sum(weights)
    return means, stds, tuple(w / total for w in weights)


def sample_mixture1d(means, stds, weights, num_points: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(points (N, 1), component labels (N,)), drawn from a generator seeded ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.multinomial(torch.tensor(weights), num_points, replacement=True, generator=generator)
    centre, spread = torch.tensor(means)[labels], torch.tensor(stds)[labels]
    points = centre + spread * torch.randn(num_points, generator=generator)
    return points.unsqueeze(1), labels


def mixture1d_density(x: torch.Tensor, means, stds, weights) -> torch.Tensor:
    """p(x) of the mixture, elementwise."""
    x = x.double().unsqueeze(-1)
    mu, sd, w = (torch.tensor(v, dtype=torch.float64) for v in (means, stds, weights))
    normal = torch.exp(-0.5 * ((x - mu) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))
    return (w * normal).sum(-1)


def mass_per_mode(points: torch.Tensor, means, stds, width: float = 3.0) -> list[float]:
    """Fraction of ``points`` within ``width`` std of each component's mean (a point is counted for
    its nearest mean only)."""
    x = points.detach().double().flatten()
    mu, sd = torch.tensor(means, dtype=torch.float64), torch.tensor(stds, dtype=torch.float64)
    nearest = (x.unsqueeze(1) - mu).abs().argmin(dim=1)
    inside = (x - mu[nearest]).abs() <= width * sd[nearest]
    return [float(((nearest == k) & inside).double().mean()) for k in range(len(mu))]


class Mixture1D(DeviceResidentData, GANDataModule):
    """Points of a 1-D Gaussian mixture, labelled by component (``data_kind`` ``toy1d``)."""

    data_shape = (1,)
    data_kind = "toy1d"

    def __init__(
        self,
        means: Sequence[float] = (-2.0, 2.0),
        stds: Sequence[float] = (0.5, 0.5),
        weights: Sequence[float] | None = None,
        num_points: int = 100_000,
        batch_size: int = 100,
        num_heldout: int = 2_500,
        num_workers: int = 0,
        seed: int = 0,
        device_resident: bool = False,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        self.device_resident = device_resident
        self.means, self.stds, self.weights = _check(means, stds, weights)
        self.num_points, self.num_heldout = num_points, num_heldout
        self.num_classes = len(self.means)

    def build_datasets(self):
        train = TensorDataset(*sample_mixture1d(self.means, self.stds, self.weights, self.num_points, self.seed))
        heldout = TensorDataset(*sample_mixture1d(self.means, self.stds, self.weights, self.num_heldout,
                                                  self.seed + 1))
        return train, heldout
