"""CPU-small FGAN and MRGAN on a few 2-D points, for tests/test_fgan.py, tests/test_mrgan.py and the
every-model tests (tests/translation_tiny.py collects ``TINY``)."""

from __future__ import annotations

import torch

from gan_lightning.data import Toy2D
from gan_lightning.models import FGAN, MRGAN

SIZES = dict(data_shape=(2,), latent_dim=2, g_hidden=(16, 16), d_hidden=(16, 16))


def build_fgan(**overrides) -> FGAN:
    torch.manual_seed(0)
    return FGAN(**{**SIZES, "divergence": "kl", **overrides})


def build_mrgan(**overrides) -> MRGAN:
    torch.manual_seed(0)
    return MRGAN(**{**SIZES, "e_hidden": (16,), **overrides})


def build_data(**overrides) -> Toy2D:
    return Toy2D(**{"kind": "ring8", "num_points": 64, "num_heldout": 16, "batch_size": 16, **overrides})


TINY = {"FGAN": (build_fgan, build_data), "MRGAN": (build_mrgan, build_data)}
