"""Toy 2-D Gaussian mixtures of the mode-collapse papers (PacGAN, VEEGAN, Unrolled GAN).

``ring8``: 8 Gaussians at (cos 2πk/8, sin 2πk/8) * radius, std 0.01.
``grid25``: 25 Gaussians at (i, j), i, j in {-4, -2, 0, 2, 4}, std 0.05.
Each sample carries the index of its mode as label.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch.utils.data import TensorDataset

from gan_lightning.data.base import GANDataModule
from gan_lightning.data.resident import DeviceResidentData


def mixture_modes(kind: str, radius: float = 1.0, grid_size: int = 5, grid_spacing: float = 2.0) -> torch.Tensor:
    """Centres of the mixture, (K, 2)."""
    if kind == "ring8":
        angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
        return torch.stack([angles.cos(), angles.sin()], dim=1).float() * radius
    if kind == "grid25":
        axis = (torch.arange(grid_size, dtype=torch.float32) - (grid_size - 1) / 2) * grid_spacing
        return torch.cartesian_prod(axis, axis)
    raise ValueError(f"data.kind must be 'ring8' or 'grid25', got {kind!r}")


def sample_mixture(modes: torch.Tensor, std: float, num_points: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(len(modes), (num_points,), generator=generator)
    points = modes[labels] + std * torch.randn(num_points, 2, generator=generator)
    return points, labels


class Toy2D(DeviceResidentData, GANDataModule):
    """PacGAN's synthetic set-up: 100k points from a 2-D Gaussian mixture (defaults from the paper).

    ``device_resident``: keep the training points on the training device and batch them there
    (:mod:`gan_lightning.data.resident`).
    """

    data_shape = (2,)
    data_kind = "toy2d"

    def __init__(
        self,
        kind: Literal["ring8", "grid25"] = "ring8",
        num_points: int = 100_000,
        std: float | None = None,
        radius: float = 1.0,
        batch_size: int = 100,
        num_heldout: int = 2_500,
        num_workers: int = 0,
        seed: int = 0,
        device_resident: bool = False,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        self.device_resident = device_resident
        self.kind = kind
        self.modes = mixture_modes(kind, radius=radius)
        self.std = std if std is not None else (0.01 if kind == "ring8" else 0.05)
        self.num_points = num_points
        self.num_heldout = num_heldout
        self.num_classes = len(self.modes)

    def build_datasets(self):
        train = TensorDataset(*sample_mixture(self.modes, self.std, self.num_points, self.seed))
        heldout = TensorDataset(*sample_mixture(self.modes, self.std, self.num_heldout, self.seed + 1))
        return train, heldout
