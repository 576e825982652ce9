"""CPU-small StarGAN and attribute data, for tests/test_stargan.py and the every-model tests
(tests/translation_tiny.py collects ``TINY``).

``TinyAttributes`` yields the attribute-data batch format of the contract,
``{"image": x in [-1, 1] (3, 16, 16), "attributes": float 0/1 (num_attributes,)}``, each
attribute visible in the image (attribute k brightens channel k mod 3 in band k), so a few
steps can move the classifier. It stands in for DigitAttributes until that module lands.
"""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from gan_lightning.data.base import GANDataModule
from gan_lightning.models import StarGAN


class _AttributeImages(Dataset):
    def __init__(self, n: int, num_attributes: int, size: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.attributes = (torch.rand(n, num_attributes, generator=g) > 0.5).float()
        self.images = torch.rand(n, 3, size, size, generator=g) * 0.4 - 0.8
        band = max(1, size // num_attributes)
        for k in range(num_attributes):
            self.images[:, k % 3, k * band:(k + 1) * band] += 1.2 * self.attributes[:, k, None, None]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return {"image": self.images[i], "attributes": self.attributes[i]}


class TinyAttributes(GANDataModule):
    data_kind = "attributes"

    def __init__(self, batch_size: int = 8, num: int = 48, num_attributes: int = 3, image_size: int = 16,
                 seed: int = 0) -> None:
        super().__init__(batch_size=batch_size, seed=seed)
        self.num, self.num_attributes, self.image_size = num, num_attributes, image_size
        self.data_shape = (3, image_size, image_size)
        self.attribute_names = [f"attr{k}" for k in range(num_attributes)]

    def build_datasets(self):
        return (_AttributeImages(self.num, self.num_attributes, self.image_size, self.seed),
                _AttributeImages(16, self.num_attributes, self.image_size, self.seed + 1))


def build_model(**overrides) -> StarGAN:
    """A seeded tiny StarGAN; G every 2nd iteration (not 5) so a few steps run both phases."""
    torch.manual_seed(0)
    options = dict(data_shape=(3, 16, 16), num_attributes=3, g_width=4, d_width=4, g_blocks=1, d_layers=3,
                   critic_steps=2)
    options.update(overrides)
    return StarGAN(**options)


def build_data(**overrides) -> TinyAttributes:
    return TinyAttributes(**overrides)


TINY = {"StarGAN": (build_model, build_data)}
