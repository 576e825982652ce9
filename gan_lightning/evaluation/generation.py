"""The generated side: seeded samples of ``model.sample`` in batches, with labels for conditional models."""

from __future__ import annotations

from typing import Iterator

import torch
from torch import Tensor, nn

from gan_lightning.core.protocol import class_condition


def declared_classes(model: nn.Module) -> int:
    """How many classes ``model`` declares as a ``class`` condition (``conditions()``; 0: none, as for any
    sampler that declares no conditions)."""
    declared = getattr(model, "conditions", None)
    condition = class_condition(declared()) if callable(declared) else None
    return condition.size if condition is not None else 0


def is_class_conditional(model: nn.Module) -> bool:
    """Whether ``model``'s G takes class labels: it declares a ``class`` condition of one class or more."""
    return declared_classes(model) > 0


def balanced_labels(model: nn.Module, count: int, offset: int) -> Tensor | None:
    """Class labels cycling through every class for class-conditional models, else ``None``."""
    classes = declared_classes(model)
    if classes <= 0:
        return None
    return torch.arange(offset, offset + count, device=model.device) % classes


def generated_batches(
    model: nn.Module,
    count: int,
    batch_size: int,
    use_ema: bool,
    seed: int,
    label_offset: int = 0,
    label: int | None = None,
) -> Iterator[Tensor]:
    """``count`` samples of ``model.sample`` in batches, noise from ``torch.Generator().manual_seed(seed)``.

    Conditional models get labels cycling through the classes (from ``label_offset``), or all
    ``label`` when it is given."""
    rng = torch.Generator().manual_seed(seed)
    for start in range(0, count, batch_size):
        size = min(batch_size, count - start)
        if label is None:
            labels = balanced_labels(model, size, label_offset + start)
        else:
            labels = torch.full((size,), label, dtype=torch.long, device=model.device)
        yield model.sample(size, labels=labels, use_ema=use_ema, rng=rng)
