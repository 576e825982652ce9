"""Seeded work that leaves the global random streams as they were, on the CPU and on CUDA.

``torch.manual_seed`` seeds the CPU *and every CUDA device* (at once, or when CUDA starts if it has not yet), while
``torch.random.fork_rng(devices=[])`` saves and restores the CPU's state alone. Used together, they leave a GPU run's
CUDA stream reseeded: every run draws the same CUDA noise after it, whatever its seed. :func:`seeded_rng` seeds and
restores exactly the streams it touches.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def seeded_rng(seed: int, device: torch.device | str | None = None) -> Iterator[None]:
    """Inside: the CPU's global RNG seeded with ``seed`` and, when ``device`` is a CUDA device, every CUDA device's
    too; after: each of them as it was. With a CPU ``device`` (the default) CUDA's streams are neither seeded nor
    touched."""
    cuda = torch.device(device).type == "cuda" if device is not None else False
    devices = list(range(torch.cuda.device_count())) if cuda else []
    with torch.random.fork_rng(devices=devices):
        if cuda:
            torch.manual_seed(seed)
        else:
            torch.random.default_generator.manual_seed(seed)
        yield
