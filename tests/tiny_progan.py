"""CPU-small ProGAN on 16 px digits, for tests/test_progan.py and the every-model tests
(tests/translation_tiny.py collects ``TINY``).

The schedule is 16 images stable, 16 fading in, at batch 8: iterations 0-1 train 4 px, 2-3 fade
in 8 px (alpha 0, 0.5), 4-5 train 8 px, so the core's resume after iteration 3 stops mid-fade-in.
The data are the first 64 real MNIST5k digits (56 to train), padded to 32 px and box-filtered to
16 px, loaded once per process (resizing all 5,000 would cost more than the fits).
"""

from __future__ import annotations

import functools

import torch
from torch.nn import functional as F
from torch.utils.data import TensorDataset

from gan_lightning.data.base import GANDataModule
from gan_lightning.data.images import load_mnist5k
from gan_lightning.models import ProGAN


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = load_mnist5k()
    x = F.pad(images[:64].float().div(127.5).sub(1.0).unsqueeze(1), (2, 2, 2, 2), value=-1.0)
    return F.avg_pool2d(x, 2), labels[:64]


class TinyDigits(GANDataModule):
    """64 real digits at 16 px as ``(images, labels)`` batches (56 to train, 8 held out)."""

    def __init__(self, batch_size: int = 8, seed: int = 0) -> None:
        super().__init__(batch_size=batch_size, seed=seed)
        self.data_shape = (1, 16, 16)

    def build_datasets(self):
        images, labels = _digits()
        return TensorDataset(images[:56], labels[:56]), TensorDataset(images[56:], labels[56:])


def build_model(**overrides) -> ProGAN:
    torch.manual_seed(0)
    options = dict(data_shape=(1, 16, 16), latent_dim=8, fmap_base=32, fmap_max=8, stable_images=16,
                   fade_images=16)
    options.update(overrides)
    return ProGAN(**options)


def build_data(**overrides) -> TinyDigits:
    return TinyDigits(**overrides)


TINY = {"ProGAN": (build_model, build_data)}
