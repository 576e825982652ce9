"""CPU-small DiscoGAN, DualGAN and UNIT, and a tiny unpaired data module, for the tests that run
every model (tests/test_core.py, tests/test_core_ddp.py; merged by tests/translation_tiny.py)."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from gan_lightning.data.base import GANDataModule

SIZE = 16


class _UnpairedDomains(Dataset):
    """Domain A: random blobs in [-1, 1]; domain B: other blobs, inverted. a[i] and b[i] are unrelated."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.a = torch.rand(n, 1, SIZE, SIZE, generator=g) * 2 - 1
        self.b = 1 - 2 * torch.rand(n, 1, SIZE, SIZE, generator=g).pow(2)
        self.labels = torch.randint(0, 10, (2, n), generator=g)

    def __len__(self) -> int:
        return len(self.a)

    def __getitem__(self, i: int):
        return {"a": self.a[i], "b": self.b[i], "label_a": self.labels[0, i], "label_b": self.labels[1, i]}


class TinyUnpaired(GANDataModule):
    data_shape = (1, SIZE, SIZE)
    data_kind = "unpaired"

    def __init__(self, batch_size: int = 8, num: int = 48, seed: int = 0) -> None:
        super().__init__(batch_size=batch_size, seed=seed)
        self.num = num

    def build_datasets(self):
        return _UnpairedDomains(self.num, self.seed), _UnpairedDomains(16, self.seed + 1)


def tiny_discogan(**overrides):
    from gan_lightning.models import DiscoGAN

    torch.manual_seed(0)
    options = dict(g_width=4, d_width=4, depth=3, curriculum_iters=2)
    return DiscoGAN(data_shape=(1, SIZE, SIZE), **{**options, **overrides})


def tiny_dualgan(**overrides):
    from gan_lightning.models import DualGAN

    torch.manual_seed(0)
    return DualGAN(data_shape=(1, SIZE, SIZE), **{**dict(g_width=4, d_width=4), **overrides})


def tiny_unit(**overrides):
    from gan_lightning.models import UNIT

    torch.manual_seed(0)
    options = dict(g_width=4, d_width=4, private_blocks=1, d_layers=3)
    return UNIT(data_shape=(1, SIZE, SIZE), **{**options, **overrides})


TINY = {"DiscoGAN": (tiny_discogan, TinyUnpaired), "DualGAN": (tiny_dualgan, TinyUnpaired),
        "UNIT": (tiny_unit, TinyUnpaired)}
