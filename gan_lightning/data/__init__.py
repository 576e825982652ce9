"""LightningDataModules. Images are scaled to [-1, 1]; batches are ``(x, label)``."""

from gan_lightning.data.base import EpochSeededSampler, GANDataModule
from gan_lightning.data.images import (
    CIFAR10, MNIST, CelebA, FashionMNIST, ImageFolder, MNIST5k, StackedMNIST5k, load_mnist5k,
    mnist5k_tensor,
)
from gan_lightning.data.toy2d import Toy2D, mixture_modes

__all__ = [
    "GANDataModule", "EpochSeededSampler", "MNIST5k", "StackedMNIST5k", "MNIST", "FashionMNIST", "CIFAR10", "CelebA",
    "ImageFolder", "Toy2D", "load_mnist5k", "mnist5k_tensor", "mixture_modes", "known_data_modules",
]


def known_data_modules() -> dict[str, type[GANDataModule]]:
    """Every concrete ``GANDataModule`` exported by ``gan_lightning.data``, by class name."""
    return {
        name: obj
        for name in __all__
        if isinstance(obj := globals()[name], type) and issubclass(obj, GANDataModule) and obj is not GANDataModule
    }
