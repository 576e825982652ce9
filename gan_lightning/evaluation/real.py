"""The real side of an evaluation: samples from a data module, a Dataset or a tensor, and their features.

The real samples are a fixed subset (seeded permutation, ``REAL_SUBSET_SEED``) of the data
module's held-out split (its training split when it has none), ``num_real`` of them; their
features come from the cache (``cache.py``) when it has them, else are computed and written.

Some metrics need more of the real data (``registry.REAL_INPUTS``, :func:`real_input`): the
extractor's logits of the same samples (mode_score; cached like features), the samples themselves
(ais: its log-likelihoods are of pixels) and the features of the *training* split (memorization:
``num_train`` samples, all by default; cached), which needs a data module whose held-out split is
not its training split.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Iterator

import torch
from torch import Tensor, nn

from gan_lightning.evaluation.cache import (
    REAL_SUBSET_SEED,
    RealFeatures,
    data_identity,
    load_real_cache,
    real_cache_key,
    real_cache_path,
    save_real_cache,
)
from gan_lightning.evaluation.extractors import ClassifierLogits, extract_features


def real_source(real: Any, split: str) -> tuple[Any, str]:
    """``(dataset or tensor, split used)`` from a data module, a Dataset or a tensor of samples."""
    if isinstance(real, Tensor):
        return real, "tensor"
    if hasattr(real, "train_set") and hasattr(real, "setup"):  # a GANDataModule
        if getattr(real, "train_set", None) is None:
            real.setup("fit")
        if split not in ("heldout", "train"):
            raise ValueError(f"real_split must be 'heldout' or 'train', got {split!r}")
        if split == "heldout" and getattr(real, "heldout_set", None) is not None:
            return real.heldout_set, "heldout"
        return real.train_set, "train"
    if hasattr(real, "__len__") and hasattr(real, "__getitem__"):
        return real, "dataset"
    raise TypeError(
        f"real data must be a GANDataModule, a Dataset or a tensor of samples, got {type(real).__name__}"
    )


def real_batches(source: Any, indices: Tensor, batch_size: int) -> Iterator[Tensor]:
    """The samples of ``source`` at ``indices`` (labels dropped), ``batch_size`` at a time."""
    if isinstance(source, Tensor):
        for start in range(0, len(indices), batch_size):
            yield source[indices[start : start + batch_size]]
        return
    for start in range(0, len(indices), batch_size):
        items = [source[int(i)] for i in indices[start : start + batch_size]]
        samples = [item[0] if isinstance(item, (tuple, list)) else item for item in items]
        yield torch.stack([torch.as_tensor(s) for s in samples])


def subset_indices(available: int, count: int) -> Tensor:
    """The indices of the ``count`` real samples used out of ``available``: all of them in order, else a fixed
    random subset (seeded ``REAL_SUBSET_SEED``: data sets are often sorted by class)."""
    if count == available:
        return torch.arange(available)
    return torch.randperm(available, generator=torch.Generator().manual_seed(REAL_SUBSET_SEED))[:count]


def real_samples(real: Any, num_real: int | None, split: str = "heldout", batch_size: int = 256) -> tuple[Tensor, str]:
    """``(samples (N, ...), split used)``: the same ``num_real`` real samples :func:`real_features` takes (not
    cached: they are the data itself)."""
    source, split_used = real_source(real, split)
    available = len(source)
    count = available if num_real is None else min(int(num_real), available)
    if count < 1:
        raise ValueError(f"need at least 1 real sample, the {split_used} data has {available}")
    return torch.cat(list(real_batches(source, subset_indices(available, count), batch_size))), split_used


def real_input(
    name: str,
    real: Any,
    extractor: nn.Module | None,
    num_real: int | None,
    num_train: int | None = None,
    batch_size: int = 100,
    split: str = "heldout",
    device: torch.device | str | None = None,
    cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    cache_key: str | None = None,
    progress: bool = False,
) -> tuple[Tensor, dict[str, Any]]:
    """One of ``registry.REAL_INPUTS`` of the real data, with a record of what it is:

    - ``"logits"``: the extractor's logits of the evaluation's real samples (``num_real`` of ``split``);
    - ``"samples"``: those samples themselves;
    - ``"train_features"``: the extractor's features of ``num_train`` samples (all: ``None``) of the
      training split; ``real`` must be a data module with a held-out split besides it.
    """
    if name == "logits":
        logits, info = real_features(real, ClassifierLogits(extractor), num_real, batch_size, split, device, cache,
                                     cache_dir, cache_key, progress)
        return logits.features, {"num_real_logits": logits.num, "real_logits_cache": info["real_cache"]}
    if name == "samples":
        samples, split_used = real_samples(real, num_real, split, batch_size)
        return samples, {"num_real_samples": samples.shape[0]}
    if name == "train_features":
        has_splits = hasattr(real, "train_set") and hasattr(real, "setup")
        if has_splits and getattr(real, "train_set", None) is None:
            real.setup("fit")
        if not has_splits or getattr(real, "heldout_set", None) is None:
            what = type(real).__name__ if has_splits else f"a {type(real).__name__}"
            raise ValueError(f"memorization compares the samples with the training split and the held-out split; "
                             f"{what} has no held-out split besides its training split (use a data module with both)")
        if split != "heldout":
            raise ValueError(f"memorization needs real_split 'heldout' (the training split is its reference), got {split!r}")
        train, info = real_features(real, extractor, num_train, batch_size, "train", device, cache, cache_dir,
                                    cache_key, progress)
        return train.features, {"num_train": train.num, "train_cache": info["real_cache"]}
    raise ValueError(f"unknown real input {name!r}")


def progress_bar(total: int, description: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, file=sys.stderr, disable=not enabled, unit="sample", leave=False)


def real_features(
    real: Any,
    extractor: nn.Module | None,
    num_real: int | None,
    batch_size: int = 100,
    split: str = "heldout",
    device: torch.device | str | None = None,
    cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    cache_key: str | None = None,
    progress: bool = False,
) -> tuple[RealFeatures, dict[str, Any]]:
    """Features of ``num_real`` real samples (all of the split when ``None``), from the cache when it has them.

    Returns ``(RealFeatures, info)`` with ``info`` = ``{"num_real", "real_split", "real_cache"}``,
    ``real_cache`` being ``"hit"``, ``"miss"`` (computed and written) or ``"off"``. Tensors
    and plain datasets are cached only when ``cache_key`` names them.
    """
    source, split_used = real_source(real, split)
    available = len(source)
    count = available if num_real is None else min(int(num_real), available)
    if count < 2:
        raise ValueError(f"need at least 2 real samples, the {split_used} data has {available}")
    sample_shape = tuple(next(real_batches(source, torch.tensor([0]), 1)).shape[1:])

    key = path = None
    if cache:
        if isinstance(source, Tensor) or split_used == "dataset":
            data_id = {"class": "custom", "name": cache_key} if cache_key else None
        else:
            data_id = data_identity(real)
            if cache_key:
                data_id["name"] = cache_key
        if data_id is not None:
            key = real_cache_key(data_id, split_used, sample_shape, extractor, count)
            path = real_cache_path(key, cache_dir)
            cached = load_real_cache(path, key)
            if cached is not None:
                return cached, {"num_real": cached.num, "real_split": split_used, "real_cache": "hit"}

    indices = subset_indices(available, count)
    if extractor is not None and device is not None:
        extractor.to(device)
    chunks = []
    with torch.no_grad(), progress_bar(count, "real features", progress) as bar:
        for batch in real_batches(source, indices, batch_size):
            if device is not None:
                batch = batch.to(device)
            chunks.append(extract_features(extractor, batch).to("cpu", torch.float32))
            bar.update(batch.shape[0])
    result = RealFeatures.from_features(torch.cat(chunks))
    if key is not None:
        save_real_cache(path, key, result)
    return result, {"num_real": result.num, "real_split": split_used, "real_cache": "miss" if key else "off"}
