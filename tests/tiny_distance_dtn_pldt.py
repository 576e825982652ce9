"""CPU-small DistanceGAN, DTN and PLDT with tiny in-test data (16 px digits-like blobs) for the
tests that run every model (tests/translation_tiny.py merges ``TINY``)."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from gan_lightning.data.base import GANDataModule

SIZE = 16


def _blobs(n: int, seed: int) -> torch.Tensor:
    """n images in [-1, 1]: a dark background with a bright random rectangle (a stand-in digit)."""
    g = torch.Generator().manual_seed(seed)
    images = torch.full((n, 1, SIZE, SIZE), -1.0)
    for k in range(n):
        top, left = torch.randint(0, SIZE // 2, (2,), generator=g).tolist()
        height, width = torch.randint(3, SIZE // 2, (2,), generator=g).tolist()
        images[k, :, top:top + height, left:left + width] = torch.rand((), generator=g) * 0.5 + 0.5
    return images


class _Pairs(Dataset):
    def __init__(self, n: int, seed: int, paired: bool) -> None:
        self.a = _blobs(n, seed)
        # paired: b is a's partner (mirrored); unpaired: b is drawn on its own (inverted blobs)
        self.b = self.a.flip(-1) if paired else -_blobs(n, seed + 1000)

    def __len__(self) -> int:
        return len(self.a)

    def __getitem__(self, i: int):
        return {"a": self.a[i], "b": self.b[i]}


class TinyTranslationData(GANDataModule):
    """{"a", "b"} samples of 1 x 16 x 16 images, paired (b = a mirrored) or unpaired."""

    data_shape = (1, SIZE, SIZE)

    def __init__(self, paired: bool = False, batch_size: int = 8, num: int = 48, seed: int = 0) -> None:
        super().__init__(batch_size=batch_size, seed=seed)
        self.paired, self.num = paired, num
        self.data_kind = "paired" if paired else "unpaired"

    def build_datasets(self):
        return _Pairs(self.num, self.seed, self.paired), _Pairs(16, self.seed + 1, self.paired)


def tiny_distancegan(**overrides):
    from gan_lightning.models import DistanceGAN

    torch.manual_seed(0)
    kwargs = dict(data_shape=(1, SIZE, SIZE), g_width=4, d_width=4, stats_samples=32, num_fixed_samples=4)
    return DistanceGAN(**{**kwargs, **overrides})


def tiny_dtn(**overrides):
    from gan_lightning.models import DTN

    torch.manual_seed(0)
    kwargs = dict(data_shape=(1, SIZE, SIZE), g_width=4, d_width=4, pretrained_f=False, num_fixed_samples=4)
    return DTN(**{**kwargs, **overrides})


def tiny_pldt(**overrides):
    from gan_lightning.models import PLDT

    torch.manual_seed(0)
    kwargs = dict(data_shape=(1, SIZE, SIZE), g_width=4, d_width=4, num_fixed_samples=4)
    return PLDT(**{**kwargs, **overrides})


TINY = {
    "DistanceGAN": (tiny_distancegan, lambda: TinyTranslationData(paired=False)),
    "DTN": (tiny_dtn, lambda: TinyTranslationData(paired=False)),
    "PLDT": (tiny_pldt, lambda: TinyTranslationData(paired=True)),
}
