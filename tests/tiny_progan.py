"""CPU-small ProGAN on 16 px digits, for tests/test_progan.py and the every-model tests
(tests/translation_tiny.py collects ``TINY``).

The schedule is 16 images stable, 16 fading in, at batch 8: iterations 0-1 train 4 px, 2-3 fade
in 8 px (alpha 0, 0.5), 4-5 train 8 px, so the core's resume after iteration 3 stops mid-fade-in.
"""

from __future__ import annotations

import torch

from gan_lightning.data import MNIST5k
from gan_lightning.models import ProGAN


def build_model(**overrides) -> ProGAN:
    torch.manual_seed(0)
    options = dict(data_shape=(1, 16, 16), latent_dim=8, fmap_base=32, fmap_max=8, stable_images=16,
                   fade_images=16)
    options.update(overrides)
    return ProGAN(**options)


def build_data(**overrides) -> MNIST5k:
    options = dict(image_size=16, batch_size=8)
    options.update(overrides)
    return MNIST5k(**options)


TINY = {"ProGAN": (build_model, build_data)}
