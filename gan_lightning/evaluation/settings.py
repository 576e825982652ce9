"""``EvaluationSettings``: every choice of one evaluation besides the model, the real data and the metrics."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn


@dataclass
class EvaluationSettings:
    """How ``evaluate_generator`` evaluates; the defaults are ``MetricsCallback``'s.

    Attributes:
        num_samples: generated samples in total (over all ranks).
        extractor: ``"inception"``, ``"digits"``, ``"none"``, a saved module's path, a module, or ``None``.
        weights: weights file of a named extractor (Inception weights, digits classifier).
        batch_size: generation and extraction batch size.
        use_ema: sample from the EMA generator when the model has one.
        seed: noise seed (rank r uses ``seed + r * 1_000_003``); also seeds KID's subsets.
        num_real: real samples (default ``num_samples``, capped at the split's size).
        num_train: training samples of the metrics that compare with the training split
            (memorization; default: all of it).
        real_split: ``"heldout"`` (falls back to ``"train"`` when there is none) or ``"train"``.
        use_cache: read / write the real-statistics cache.
        cache_dir: real-statistics folder (default ``$GAN_LIGHTNING_CACHE/real_stats``).
        real_cache_key: a name that makes a tensor / Dataset real side cacheable (and is added to
            a data module's key).
        device: where to generate and extract (default: the model's device).
        classifier: the classifier of metrics that take class logits (``classes``; default: the
            extractor when it is the digits classifier, else the cached digits classifier).
        per_class: also compute the feature metrics per class (``fid_class_0``, ..., ``fid_class_mean``;
            class-conditional models and labelled real data only).
        progress: tqdm bars on stderr (rank 0 only).
        metric_options: options of the registered metrics (``{"kid_subsets": 50, "pr_k": 5}``).
    """

    num_samples: int = 1000
    extractor: str | nn.Module | None = "digits"
    weights: str | os.PathLike | None = None
    batch_size: int = 100
    use_ema: bool = True
    seed: int = 0
    num_real: int | None = None
    num_train: int | None = None
    real_split: str = "heldout"
    use_cache: bool = True
    cache_dir: str | os.PathLike | None = None
    real_cache_key: str | None = None
    device: torch.device | str | None = None
    classifier: nn.Module | None = None
    per_class: bool = False
    progress: bool = True
    metric_options: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        if self.num_samples < 2:
            raise ValueError(f"num_samples must be >= 2, got {self.num_samples}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")

    def device_for(self, model: nn.Module) -> torch.device:
        return torch.device(self.device) if self.device is not None else getattr(model, "device", torch.device("cpu"))
