"""CPU-small SPADE and segmentation data, for tests/test_spade.py and the every-model tests
(tests/translation_tiny.py collects ``TINY``).

``TinySegmentation`` yields the segmentation batch format, ``{"label": int (16, 16) class ids,
"image": (3, 16, 16) in [-1, 1]}``: random rectangles of 3 classes, each class painted in its own
colour plus noise, so the image is a known function of the label map.
"""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from gan_lightning.data.base import GANDataModule
from gan_lightning.models import SPADE

CLASSES = 3
COLOURS = torch.tensor([[-0.8, -0.8, -0.8], [0.8, -0.5, -0.5], [-0.5, 0.7, 0.2]])


def rectangles(n: int, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(label maps (n, size, size) int64, images (n, 3, size, size)) of two random rectangles each."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.zeros(n, size, size, dtype=torch.long)
    for i in range(n):
        for cls in (1, 2):
            top, left = torch.randint(0, size - 4, (2,), generator=g).tolist()
            h, w = torch.randint(3, size // 2 + 1, (2,), generator=g).tolist()
            labels[i, top:top + h, left:left + w] = cls
    images = COLOURS[labels].permute(0, 3, 1, 2) + 0.1 * torch.randn(n, 3, size, size, generator=g)
    return labels, images.clamp(-1, 1)


class _Pairs(Dataset):
    def __init__(self, n: int, size: int, seed: int) -> None:
        self.labels, self.images = rectangles(n, size, seed)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return {"label": self.labels[i], "image": self.images[i]}


class TinySegmentation(GANDataModule):
    data_kind = "segmentation"

    def __init__(self, batch_size: int = 8, num: int = 48, image_size: int = 16, seed: int = 0) -> None:
        super().__init__(batch_size=batch_size, seed=seed)
        self.num, self.image_size, self.label_classes = num, image_size, CLASSES
        self.data_shape = (3, image_size, image_size)

    def build_datasets(self):
        return _Pairs(self.num, self.image_size, self.seed), _Pairs(16, self.image_size, self.seed + 1)


def build_model(**overrides) -> SPADE:
    """A seeded tiny SPADE (16 px: two upsamplings from 4x4)."""
    torch.manual_seed(0)
    options = dict(data_shape=(3, 16, 16), label_classes=CLASSES, g_width=4, d_width=4, hidden=8, d_layers=3)
    options.update(overrides)
    return SPADE(**options)


def build_data(**overrides) -> TinySegmentation:
    return TinySegmentation(**overrides)


TINY = {"SPADE": (build_model, build_data)}
