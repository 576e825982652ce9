"""CPU-small GAN-INT-CLS and TAC-GAN on 32 px CaptionedDigits, for tests/test_ganintcls.py and the every-model tests
(tests/translation_tiny.py collects ``TINY``)."""

from __future__ import annotations

import torch

from gan_lightning.data import CaptionedDigits
from gan_lightning.models import GANINTCLS, TACGAN


def build_model(**overrides) -> GANINTCLS:
    """A seeded tiny GAN-INT-CLS with a seeded untrained caption encoder (no cached weights needed)."""
    torch.manual_seed(0)
    options = dict(data_shape=(3, 32, 32), latent_dim=8, g_width=8, d_width=8, text_dim=8, text_encoder="random")
    options.update(overrides)
    return GANINTCLS(**options)


def build_tacgan(**overrides) -> TACGAN:
    """A seeded tiny TAC-GAN (GAN-INT-CLS's tiny sizes, the class head on D)."""
    torch.manual_seed(0)
    options = dict(data_shape=(3, 32, 32), latent_dim=8, g_width=8, d_width=8, text_dim=8, text_encoder="random")
    options.update(overrides)
    return TACGAN(**options)


def build_data(**overrides) -> CaptionedDigits:
    options = dict(image_size=32, batch_size=8, train_size=64)
    options.update(overrides)
    return CaptionedDigits(**options)


TINY = {"GANINTCLS": (build_model, build_data), "TACGAN": (build_tacgan, build_data)}
