"""Seeded work that leaves the global random streams as they were, on the CPU and on CUDA.

``torch.manual_seed`` seeds the CPU *and every CUDA device* (at once, or when CUDA starts if it has not yet), while
``torch.random.fork_rng(devices=[])`` saves and restores the CPU's state alone. Used together, they leave a GPU run's
CUDA stream reseeded: every run draws the same CUDA noise after it, whatever its seed. :func:`seeded_rng` seeds and
restores exactly the streams it touches: the CPU's, and the one CUDA device the work runs on (forking every visible
device would open a CUDA context on each of them from every DDP process).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def seeded_rng(seed: int, device: torch.device | str | None = None) -> Iterator[None]:
    """Inside: the CPU's global RNG seeded with ``seed`` and, when ``device`` is a CUDA device, that device's too
    (no index: the current one); after: each of them as it was. With a CPU ``device`` (the default) CUDA's streams
    are neither seeded nor touched."""
    device = torch.device(device) if device is not None else torch.device("cpu")
    index = (device.index if device.index is not None else torch.cuda.current_device()) if device.type == "cuda" else None
    with torch.random.fork_rng(devices=[] if index is None else [index]):
        torch.random.default_generator.manual_seed(seed)
        if index is not None:
            with torch.cuda.device(index):
                torch.cuda.manual_seed(seed)
        yield
