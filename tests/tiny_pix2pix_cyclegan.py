"""CPU-small Pix2Pix and CycleGAN for the every-model tests (tests/test_core.py, test_core_ddp.py),
on a tiny in-test two-domain data module of 32 px images (the offline digit domains are another
helper's; these builders need nothing else)."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from gan_lightning.data.base import GANDataModule


class _Pairs(Dataset):
    """Domain A: smooth random blobs; domain B: their mirror image, negated (a fixed partner)."""

    def __init__(self, n: int, seed: int, size: int) -> None:
        g = torch.Generator().manual_seed(seed)
        coarse = torch.rand(n, 1, size // 8, size // 8, generator=g) * 2 - 1
        self.a = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
        self.b = -self.a.flip(-1)

    def __len__(self) -> int:
        return len(self.a)

    def __getitem__(self, i: int):
        return {"a": self.a[i], "b": self.b[i]}


class TinyTranslationData(GANDataModule):
    """{"a", "b"} batches of 1 x ``size`` x ``size`` images; ``paired`` or ``unpaired`` (b drawn
    from another index, so no batch holds a partner)."""

    def __init__(self, batch_size: int = 4, num: int = 24, size: int = 32, kind: str = "paired", seed: int = 0):
        super().__init__(batch_size=batch_size, seed=seed)
        self.num, self.size, self.data_kind = num, size, kind
        self.data_shape = (1, size, size)

    def build_datasets(self):
        train, heldout = _Pairs(self.num, self.seed, self.size), _Pairs(8, self.seed + 1, self.size)
        if self.data_kind == "unpaired":
            for part in (train, heldout):
                part.b = part.b.roll(1, dims=0)
        return train, heldout


def tiny_pix2pix(**overrides):
    from gan_lightning.models import Pix2Pix

    torch.manual_seed(0)
    return Pix2Pix(**{"data_shape": (1, 32, 32), "g_width": 4, "d_width": 4, **overrides})


def tiny_cyclegan(**overrides):
    from gan_lightning.models import CycleGAN

    torch.manual_seed(0)
    return CycleGAN(**{"data_shape": (1, 32, 32), "g_width": 4, "d_width": 4, "num_blocks": 1, "pool_size": 4,
                       **overrides})


TINY = {
    "Pix2Pix": (tiny_pix2pix, lambda: TinyTranslationData(kind="paired")),
    "CycleGAN": (tiny_cyclegan, lambda: TinyTranslationData(kind="unpaired")),
}
