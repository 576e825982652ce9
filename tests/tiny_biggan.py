"""CPU-small BigGAN on 32 px digits with their labels, for tests/test_biggan.py and the every-model
tests (tests/translation_tiny.py collects ``TINY``): the D entry point, the bitwise mid-epoch
resume and 2-process DDP."""

from __future__ import annotations

import torch

from gan_lightning.data import MNIST5k
from gan_lightning.models import BigGAN


def build_model(**overrides) -> BigGAN:
    """A seeded tiny BigGAN (16 channels, 4 z chunks of 4); G every 2nd iteration (not 4) so a few
    steps run both phases."""
    torch.manual_seed(0)
    options = dict(data_shape=(1, 32, 32), latent_dim=16, num_classes=10, g_width=4, d_width=4, shared_dim=8,
                   critic_steps=2)
    options.update(overrides)
    return BigGAN(**options)


def build_data(**overrides) -> MNIST5k:
    """The bundled digits at 32 px, (image, label) batches of 8."""
    options = dict(image_size=32, batch_size=8)
    options.update(overrides)
    return MNIST5k(**options)


TINY = {"BigGAN": (build_model, build_data)}
