"""CPU-small Triple-GAN and ss-InfoGAN and labelled digit-like data, for tests/test_triplegan.py,
tests/test_ssinfogan.py and the every-model tests (tests/translation_tiny.py collects ``TINY``).

``TinyLabelledImages`` yields ``(image in [-1, 1] (1, 16, 16), label)`` pairs: class k brightens
row band k of the image, so a few steps can move a classifier; 60 training images, 6 per class.
"""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

from gan_lightning.data.base import GANDataModule
from gan_lightning.models import SSInfoGAN, TripleGAN

NUM_CLASSES = 10


def labelled_images(num: int, size: int = 16, seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(num) % NUM_CLASSES
    images = torch.rand(num, 1, size, size, generator=g) * 0.4 - 0.8
    band = max(1, size // NUM_CLASSES)
    for i, label in enumerate(labels.tolist()):
        images[i, 0, label * band:(label + 1) * band] += 1.4
    return TensorDataset(images, labels)


class TinyLabelledImages(GANDataModule):
    data_kind = "image"

    def __init__(self, batch_size: int = 8, num: int = 60, image_size: int = 16, seed: int = 0) -> None:
        super().__init__(batch_size=batch_size, seed=seed)
        self.num, self.image_size = num, image_size
        self.data_shape = (1, image_size, image_size)

    def build_datasets(self):
        return (labelled_images(self.num, self.image_size, self.seed),
                labelled_images(20, self.image_size, self.seed + 1))


def build_triplegan(**overrides) -> TripleGAN:
    """A seeded tiny Triple-GAN with R_P on from the 3rd iteration, so a few steps run every term."""
    torch.manual_seed(0)
    options = dict(data_shape=(1, 16, 16), latent_dim=8, num_labeled=20, g_hidden=(16,), d_hidden=(32, 16),
                   c_width=4, pseudo_start=2)
    options.update(overrides)
    return TripleGAN(**options)


def build_ssinfogan(**overrides) -> SSInfoGAN:
    """A seeded tiny ss-InfoGAN labelling a third of the 60 training images (20)."""
    torch.manual_seed(0)
    options = dict(data_shape=(1, 16, 16), noise_dim=8, g_width=8, d_width=8, q_hidden=16,
                   labeled_fraction=1 / 3)
    options.update(overrides)
    return SSInfoGAN(**options)


def build_data(**overrides) -> TinyLabelledImages:
    return TinyLabelledImages(**overrides)


TINY = {"TripleGAN": (build_triplegan, build_data), "SSInfoGAN": (build_ssinfogan, build_data)}
