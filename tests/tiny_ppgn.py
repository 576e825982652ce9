"""A CPU-small PPGN on 28 px digits, for tests/test_ppgn.py and the every-model tests (tests/translation_tiny.py
collects ``TINY``): the classifier trains for 1 iteration, then the DAE, D and G; the sampling chain has 2
steps, so the sample grids stay cheap. The data are tests/tiny_hierarchical.py's 64 real MNIST5k digits."""

from __future__ import annotations

import functools

import torch
from tiny_hierarchical import TinyDigits28

from gan_lightning.models import known_models

OPTIONS = {"latent_dim": 16, "encoder_width": 4, "g_width": 4, "d_width": 4, "dae_hidden": (16,),
           "encoder_steps": 1, "chain_steps": 2}


def build_model(**overrides):
    torch.manual_seed(0)
    return known_models()["PPGN"](data_shape=(1, 28, 28), **{**OPTIONS, **overrides})


def build_data(**overrides) -> TinyDigits28:
    return TinyDigits28(**overrides)


TINY = {"PPGN": (build_model, functools.partial(build_data))} if "PPGN" in known_models() else {}
