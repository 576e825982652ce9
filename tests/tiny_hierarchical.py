"""CPU-small LAPGAN, StackedGAN and GoGAN on 28 px digits, for tests/test_hierarchical.py and the every-model
tests (tests/translation_tiny.py collects ``TINY``).

The data are the first 64 real MNIST5k digits with their labels (56 to train at batch 8: 7 batches an
epoch, so the core's resume after iteration 3 is mid-epoch), loaded once per process. StackedGAN
pre-trains its encoder for 1 iteration (the D entry-point test fits 2), trains its levels independently
for 2 and jointly after; GoGAN's stages last 2 iterations each, so the 6 iterations of the resume test
cross both stage boundaries (the checkpoint of iteration 3 is inside the second stage).
"""

from __future__ import annotations

import functools

import torch
from torch.utils.data import TensorDataset

from gan_lightning.data.base import GANDataModule
from gan_lightning.data.images import load_mnist5k
from gan_lightning.models import known_models


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = load_mnist5k()
    return images[:64].float().div(127.5).sub(1.0).unsqueeze(1), labels[:64].long()


class TinyDigits28(GANDataModule):
    """64 real digits at 28 px as ``(images, labels)`` batches (56 to train, 8 held out)."""

    num_classes = 10

    def __init__(self, batch_size: int = 8, seed: int = 0) -> None:
        super().__init__(batch_size=batch_size, seed=seed)
        self.data_shape = (1, 28, 28)

    def build_datasets(self):
        images, labels = _digits()
        return TensorDataset(images[:56], labels[:56]), TensorDataset(images[56:], labels[56:])


OPTIONS = {
    "LAPGAN": {"latent_dim": 8, "g_width": 4, "d_width": 4, "g_hidden": (16,), "d_hidden": (16,)},
    "StackedGAN": {"latent_dim": 8, "feature_dim": 16, "encoder_width": 4, "g_width": 4, "d_width": 4, "g_hidden": 16,
                   "d_hidden": 16,
                   "encoder_steps": 1, "joint_after": 3},
    "GoGAN": {"latent_dim": 8, "g_width": 4, "d_width": 4, "stage_iterations": [2, 2, 2], "critic_steps": 2},
}


def build_model(name: str, **overrides):
    torch.manual_seed(0)
    return known_models()[name](data_shape=(1, 28, 28), **{**OPTIONS[name], **overrides})


def build_data(**overrides) -> TinyDigits28:
    return TinyDigits28(**overrides)


TINY = {name: (functools.partial(build_model, name), build_data) for name in OPTIONS if name in known_models()}
