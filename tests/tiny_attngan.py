"""CPU-small AttnGAN and GAWWN on 32 px CaptionedDigits, for tests/test_attngan.py and the every-model tests
(tests/translation_tiny.py collects ``TINY``). Both use seeded *untrained* text encoders (``random``)."""

from __future__ import annotations

import torch

from gan_lightning.data import CaptionedDigits
from gan_lightning.models import GAWWN, AttnGAN


def build_attngan(**overrides) -> AttnGAN:
    """A seeded tiny AttnGAN: 2 stages (16 -> 32 px), random DAMSM encoders."""
    torch.manual_seed(0)
    options = {"data_shape": (3, 32, 32), "latent_dim": 8, "g_width": 4, "d_width": 8, "condition_dim": 8,
               "residual_blocks": 1, "damsm_ckpt_path": "random"}
    options.update(overrides)
    return AttnGAN(**options)


def build_gawwn(**overrides) -> GAWWN:
    """A seeded tiny GAWWN (32 px: the 16 x 16 box grid upsampled once), a random caption encoder."""
    torch.manual_seed(0)
    options = {"data_shape": (3, 32, 32), "latent_dim": 8, "g_width": 4, "d_width": 4, "text_dim": 8,
               "text_encoder": "random"}
    options.update(overrides)
    return GAWWN(**options)


def build_data(**overrides) -> CaptionedDigits:
    options = {"image_size": 32, "batch_size": 8, "train_size": 64}
    options.update(overrides)
    return CaptionedDigits(**options)


TINY = {"AttnGAN": (build_attngan, build_data), "GAWWN": (build_gawwn, build_data)}
