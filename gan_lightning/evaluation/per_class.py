"""Class-conditional metrics: every feature metric once per class c, G's samples of label c against the
real samples of class c.

Class c: ``num_samples // num_classes`` samples of G with label c (noise seeded ``seed + 1 + c``)
against the real samples of class c in the split (all of them, or ``num_real // num_classes``;
not cached). Keys: ``fid_class_3``, ``kid_mean_class_3``, ... and the mean over classes,
``fid_class_mean``. Per class there are few real samples (about 50 per digit in MNIST5k's
held-out split): FID is then biased upwards (rank-deficient covariances), so compare per-class
values with each other, not with overall ones.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from gan_lightning.evaluation.distributed import distributed_rank_and_size, rank_seed, rank_share
from gan_lightning.evaluation.extractors import resolve_extractor
from gan_lightning.evaluation.generation import declared_classes, generated_batches, is_class_conditional
from gan_lightning.evaluation.real import real_batches, real_features, real_source
from gan_lightning.evaluation.registry import class_metrics, known_metrics, metric_keys
from gan_lightning.evaluation.settings import EvaluationSettings
from gan_lightning.evaluation.suite import GeneratorMetrics


def _feature_metric_names() -> str:
    return ", ".join(sorted(class_metrics(known_metrics("feature"))))


def check_per_class(model: nn.Module, metrics: Sequence[str] | str) -> None:
    """Raise ``ValueError`` unless per-class metrics apply: a class-conditional model and a feature metric."""
    if not is_class_conditional(model):
        raise ValueError(f"per_class needs a class-conditional model (G(z, y)); {type(model).__name__} is not")
    if not class_metrics(metrics):
        raise ValueError(f"per_class applies to the feature metrics ({_feature_metric_names()})")


def source_labels(source: Any) -> Tensor:
    """Every label of a Dataset of (sample, label) pairs (fast for (subsets of) tensor data sets)."""
    from torch.utils.data import Subset, TensorDataset

    if isinstance(source, Subset):
        return source_labels(source.dataset)[torch.as_tensor(source.indices, dtype=torch.long)]
    if isinstance(source, TensorDataset) and len(source.tensors) > 1:
        return source.tensors[1].long().flatten()
    labels = []
    for index in range(len(source)):
        item = source[index]
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise ValueError("per-class metrics need real data of (sample, label) pairs")
        labels.append(int(item[1]))
    return torch.tensor(labels, dtype=torch.long)


def real_by_class(real: Any, num_classes: int, split: str = "heldout") -> tuple[dict[int, Tensor], str]:
    """``({class: (N_c, ...) samples}, split used)`` from a labelled data module or Dataset."""
    source, split_used = real_source(real, split)
    if isinstance(source, Tensor):
        raise ValueError("per-class metrics need labelled real data (a data module or a Dataset), not a tensor")
    labels = source_labels(source)
    by_class = {}
    for cls in range(num_classes):
        indices = torch.nonzero(labels == cls).flatten()
        if len(indices) < 2:
            raise ValueError(f"per-class metrics: class {cls} has {len(indices)} real samples in the "
                             f"{split_used} split, at least 2 are needed")
        by_class[cls] = torch.cat(list(real_batches(source, indices, 256)))
    return by_class, split_used


def per_class_metrics(
    model: nn.Module,
    real: Any,
    metrics: Sequence[str] | str,
    settings: EvaluationSettings | None = None,
    real_classes: dict[int, Tensor] | None = None,
) -> dict[str, Any]:
    """Feature metrics per class: ``{"fid_class_0": ..., ..., "fid_class_mean": ..., "num_real_class_0": ...}``.

    Class c: ``num_samples // num_classes`` samples of G with label c against the real samples
    of class c (``real_classes[c]`` when given, else the ``real_split`` of ``real``; at most
    ``num_real // num_classes`` of them when ``num_real`` is given). Call on every rank under DDP.
    """
    settings = settings or EvaluationSettings()
    if not is_class_conditional(model):
        raise ValueError(f"per-class metrics need a class-conditional model (G(z, y)); {type(model).__name__} is not")
    names = class_metrics(metrics)
    if not names:
        raise ValueError(f"per-class metrics are the feature metrics ({_feature_metric_names()})")
    num_classes = declared_classes(model)
    per_class = settings.num_samples // num_classes
    if per_class < 2:
        raise ValueError(f"per-class metrics need num_samples >= 2 * num_classes ({2 * num_classes}), "
                         f"got {settings.num_samples}")
    device = settings.device_for(model)
    extractor = resolve_extractor(settings.extractor, settings.weights)
    if real_classes is None:
        real_classes, _ = real_by_class(real, num_classes, settings.real_split)
    real_cap = None if settings.num_real is None else max(2, settings.num_real // num_classes)
    rank, world_size = distributed_rank_and_size()
    results: dict[str, Any] = {}
    for cls in range(num_classes):
        real_side, _ = real_features(real_classes[cls], extractor, real_cap, settings.batch_size, "tensor", device,
                                     cache=False)
        suite = GeneratorMetrics(names, extractor, seed=settings.seed, **settings.metric_options).to(device)
        suite.set_real(real_side)
        local = rank_share(per_class, rank, world_size)
        with torch.no_grad():
            for samples in generated_batches(model, local, settings.batch_size, settings.use_ema,
                                             rank_seed(settings.seed + 1 + cls, rank), label=cls):
                suite.update(samples.to(device))
        values = suite.compute()
        for key in metric_keys(names, numbers_only=True):
            results[f"{key}_class_{cls}"] = values[key]
        results[f"num_real_class_{cls}"] = real_side.num
    for key in metric_keys(names, numbers_only=True):
        results[f"{key}_class_mean"] = float(np.mean([results[f"{key}_class_{c}"] for c in range(num_classes)]))
    results["num_samples_per_class"] = per_class
    return results


def per_class_keys(metrics: Sequence[str] | str, num_classes: int) -> list[str]:
    """The per-class result keys of ``metrics`` (feature metrics only), class by class, then the means."""
    names = class_metrics(metrics)
    keys = metric_keys(names, numbers_only=True) if names else []
    return [f"{key}_class_{c}" for c in range(num_classes) for key in keys] + [f"{key}_class_mean" for key in keys]
