"""CPU-small S2GAN (Structure-GAN, and Style-GAN on a seeded untrained Structure G) on 32 px SurfaceDigits, for
tests/test_s2gan.py and the every-model tests (tests/translation_tiny.py collects ``TINY``)."""

from __future__ import annotations

import torch

from gan_lightning.data import SurfaceDigits
from gan_lightning.models import S2GAN

SIZES = {"data_shape": (3, 32, 32), "latent_dim": 8, "style_latent_dim": 4, "g_width": 4, "d_width": 4}


def build_structure(**overrides) -> S2GAN:
    torch.manual_seed(0)
    return S2GAN(**{**SIZES, "stage": "structure", **overrides})


def build_style(**overrides) -> S2GAN:
    """A seeded tiny Style-GAN; its Structure G seeded and untrained (``structure_ckpt_path: random``) unless given."""
    torch.manual_seed(0)
    return S2GAN(**{**SIZES, "stage": "style", "structure_ckpt_path": "random", **overrides})


def build_data(**overrides) -> SurfaceDigits:
    return SurfaceDigits(**{"image_size": 32, "batch_size": 8, "train_size": 64, **overrides})


TINY = {"S2GAN": (build_style, build_data)}
