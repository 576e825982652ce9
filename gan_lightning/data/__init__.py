"""LightningDataModules. Images are scaled to [-1, 1]; batches are ``(x, label)``, or dicts for
image-to-image data (``{"a", "b"}`` pairs, ``{"image", "attributes"}``)."""

from gan_lightning.data.base import EpochKeyedSampler, EpochSeededSampler, GANDataModule
from gan_lightning.data.digit_domains import (
    DigitAttributes, PairedDigits, UnpairedDigits, digit_domain_transform, render_attributes,
)
from gan_lightning.data.images import (
    CIFAR10, MNIST, CelebA, FashionMNIST, ImageFolder, MNIST5k, StackedMNIST5k, load_mnist5k,
    mnist5k_tensor,
)
from gan_lightning.data.segmentation import SegmentationPairs, colorize, one_hot
from gan_lightning.data.toy2d import Toy2D, mixture_modes
from gan_lightning.data.mixture1d import Mixture1D, mass_per_mode
from gan_lightning.data.translation import AttributeImageFolder, PairedImageFolder, UnpairedImageFolder

__all__ = [
    "GANDataModule", "EpochSeededSampler", "MNIST5k", "StackedMNIST5k", "MNIST", "FashionMNIST", "CIFAR10", "CelebA",
    "ImageFolder", "Toy2D", "Mixture1D", "mass_per_mode", "load_mnist5k", "mnist5k_tensor", "mixture_modes", "known_data_modules",
    "EpochKeyedSampler", "PairedImageFolder", "UnpairedImageFolder", "AttributeImageFolder",
    "PairedDigits", "UnpairedDigits", "DigitAttributes", "digit_domain_transform", "render_attributes",
    "SegmentationPairs", "colorize", "one_hot",
]


def known_data_modules() -> dict[str, type[GANDataModule]]:
    """Every concrete ``GANDataModule`` exported by ``gan_lightning.data``, by class name."""
    return {
        name: obj
        for name in __all__
        if isinstance(obj := globals()[name], type) and issubclass(obj, GANDataModule) and obj is not GANDataModule
    }

from gan_lightning.data.superres import SuperResolution, SuperResolutionDigits  # noqa: E402

__all__ += ["SuperResolution", "SuperResolutionDigits"]
from gan_lightning.data.captions import CaptionedDigits  # noqa: E402

__all__ += ["CaptionedDigits"]
from gan_lightning.data.surfaces import SurfaceDigits

__all__ += ["SurfaceDigits"]
