"""CPU-small StyleGAN2 for tests/test_stylegan2.py and the every-model tests (tests/translation_tiny.py
collects ``TINY``): 28 px digits (7 -> 14 -> 28), widths of a few channels, and lazy intervals of 2
(R1) and 3 (path length) so that a 6-iteration run steps both lazy phases, before and after an
interruption at iteration 3. The data: 96 real digits for training and 32 held out, cut from
MNIST5k once per process (building the whole split for every fit costs seconds)."""

from __future__ import annotations

import functools

import torch
from torch.utils.data import TensorDataset

from gan_lightning.data import MNIST5k
from gan_lightning.data.images import mnist5k_tensor
from gan_lightning.models import StyleGAN2

TINY_OPTIONS = dict(data_shape=(1, 28, 28), latent_dim=8, w_dim=8, mapping_layers=2, channel_base=64,
                    channel_max=8, r1_interval=2, pl_interval=3)


def build_model(**overrides) -> StyleGAN2:
    torch.manual_seed(0)
    return StyleGAN2(**{**TINY_OPTIONS, **overrides})


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[torch.Tensor, torch.Tensor]:
    return mnist5k_tensor(28, 1)


def build_data(**overrides) -> MNIST5k:
    data = MNIST5k(**{"batch_size": 8, **overrides})
    images, labels = _digits()
    data.train_set = TensorDataset(images[:96].clone(), labels[:96].clone())
    data.heldout_set = TensorDataset(images[96:128].clone(), labels[96:128].clone())
    return data


TINY = {"StyleGAN2": (build_model, build_data)}
