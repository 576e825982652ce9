"""CPU-small SRGAN and super-resolution data, for tests/test_srgan.py and the every-model tests
(tests/translation_tiny.py collects ``TINY``)."""

from __future__ import annotations

import torch

from gan_lightning.data.superres import SuperResolution
from gan_lightning.models import SRGAN


def build_model(**overrides) -> SRGAN:
    """A seeded tiny SRGAN (x4, 16 px HR): one SRResNet (MSE) iteration, then the GAN phase; MSE content
    loss (no VGG weights needed)."""
    torch.manual_seed(0)
    options = dict(data_shape=(3, 16, 16), scale=4, g_width=4, num_blocks=1, d_width=4, d_hidden=8,
                   pretrain_steps=1, content_loss="mse", lr_drop_after=None)
    options.update(overrides)
    return SRGAN(**options)


def build_data(**overrides) -> SuperResolution:
    """16 px crops of the bundled photos (grace_hopper held out), 4 px LR."""
    options = dict(hr_size=16, scale=4, crops_per_epoch=32, heldout_crops=8, batch_size=8)
    options.update(overrides)
    return SuperResolution(**options)


TINY = {"SRGAN": (build_model, build_data)}
