"""CPU-small StyleGAN (v1) for tests/test_stylegan.py and the every-model tests (tests/translation_tiny.py
collects ``TINY``): 16 px digits (4 -> 8 -> 16, 6 ws), a few channels, R1 in D's loss every iteration
(the authors' form). The data: 96 real digits for training and 32 held out, cut from MNIST5k once."""

from __future__ import annotations

import functools

import torch
from torch.utils.data import TensorDataset

from gan_lightning.data import MNIST5k
from gan_lightning.data.images import mnist5k_tensor
from gan_lightning.models import StyleGAN

TINY_OPTIONS = {"data_shape": (1, 16, 16), "latent_dim": 8, "w_dim": 8, "mapping_layers": 2, "fmap_base": 32,
                "fmap_max": 8}


def build_model(**overrides) -> StyleGAN:
    torch.manual_seed(0)
    return StyleGAN(**{**TINY_OPTIONS, **overrides})


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[torch.Tensor, torch.Tensor]:
    return mnist5k_tensor(16, 1)


def build_data(**overrides) -> MNIST5k:
    data = MNIST5k(**{"batch_size": 8, "image_size": 16, **overrides})
    images, labels = _digits()
    data.train_set = TensorDataset(images[:96].clone(), labels[:96].clone())
    data.heldout_set = TensorDataset(images[96:128].clone(), labels[96:128].clone())
    return data


TINY = {"StyleGAN": (build_model, build_data)}
