"""CPU-small StackGAN (Stage II on a seeded untrained Stage I) and StackGAN++ on 32 px CaptionedDigits, for
tests/test_stackgan.py and the every-model tests (tests/translation_tiny.py collects ``TINY``)."""

from __future__ import annotations

import torch

from gan_lightning.data import CaptionedDigits
from gan_lightning.models import StackGAN, StackGANv2

SIZES = {"data_shape": (3, 32, 32), "latent_dim": 8, "condition_dim": 4, "g_width": 4, "d_width": 4, "text_encoder": "random"}


def build_stage1(**overrides) -> StackGAN:
    """A seeded tiny Stage I (16 px images of the 32 px data)."""
    torch.manual_seed(0)
    return StackGAN(**{**SIZES, "stage": 1, "stage1_size": 16, **overrides})


def build_stage2(**overrides) -> StackGAN:
    """A seeded tiny Stage II; its Stage I seeded and untrained (``stage1_ckpt_path: random``) unless given."""
    torch.manual_seed(0)
    return StackGAN(**{**SIZES, "stage": 2, "stage1_size": 16, "stage1_ckpt_path": "random", "num_residual": 1,
                       **overrides})


def build_v2(**overrides) -> StackGANv2:
    """A seeded tiny StackGAN++: branches of 8, 16 and 32 px."""
    torch.manual_seed(0)
    return StackGANv2(**{**SIZES, "num_residual": 1, **overrides})


def build_data(**overrides) -> CaptionedDigits:
    options = {"image_size": 32, "batch_size": 8, "train_size": 64}
    options.update(overrides)
    return CaptionedDigits(**options)


TINY = {"StackGAN": (build_stage2, build_data), "StackGANv2": (build_v2, build_data)}
