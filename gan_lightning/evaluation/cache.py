"""The real-statistics cache: what it stores (``RealFeatures``), its key and its files.

A file holds ``{"key", "features", "mu", "sigma", "num"}``: the FID statistics *and* the
(N, D) float32 features, so KID, precision/recall and 1-NN reuse it. Its name hashes the key:
the data set class and its ``__init__`` arguments that change the data (not ``batch_size`` /
``num_workers`` / ``download``), the split, the sample shape, the extractor (name, layer,
weights file name with its size and modification time), the number of real samples and the
subset seed. A file whose stored key differs is recomputed. Folder: ``cache_dir``, default
``$GAN_LIGHTNING_CACHE/real_stats`` (``~/.cache/gan_lightning/real_stats``).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from gan_lightning.evaluation.extractors import default_cache_dir, extractor_identity
from gan_lightning.evaluation.fid import running_statistics

CACHE_FORMAT = "gan_lightning.real_stats/1"
# __init__ arguments of a data module that do not change which samples it holds
IGNORED_DATA_ARGS = frozenset({"batch_size", "num_workers", "download", "pin_memory", "persistent_workers"})
REAL_SUBSET_SEED = 0  # the seeded permutation that picks num_real of a split's samples


@dataclass
class RealFeatures:
    """Features of the real samples and their FID statistics (float64), all on the CPU."""

    features: Tensor  # (N, D) float32
    mu: Tensor
    sigma: Tensor
    num: int

    @classmethod
    def from_features(cls, features: Tensor, chunk_size: int = 1024) -> "RealFeatures":
        """The features with FID's real statistics (``fid.running_statistics``: float64 mean and unbiased
        covariance from running sums over chunks)."""
        features = features.detach().to("cpu", torch.float32)
        mu, sigma, num = running_statistics(features, chunk_size)
        return cls(features, mu, sigma, num)


def _json_value(value: Any) -> Any:
    if isinstance(value, Tensor):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return repr(value)


def data_identity(data: Any) -> dict[str, Any]:
    """Class and data-defining ``__init__`` arguments of a data module (read back from its attributes)."""
    cls = type(data)
    arguments = {}
    try:
        parameters = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        parameters = {}
    for name, parameter in parameters.items():
        if name == "self" or name in IGNORED_DATA_ARGS or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if hasattr(data, name):
            value = getattr(data, name)
            if name.endswith(("root", "dir", "path")) and isinstance(value, (str, Path)):
                value = str(Path(value).expanduser().resolve())
            arguments[name] = _json_value(value)
    return {"class": f"{cls.__module__}.{cls.__qualname__}", "init_args": arguments}


def real_cache_key(
    data_id: dict[str, Any] | str, split: str, sample_shape: Sequence[int], extractor: nn.Module | None, num_real: int
) -> dict[str, Any]:
    return {
        "format": CACHE_FORMAT,
        "data": data_id,
        "split": split,
        "sample_shape": [int(d) for d in sample_shape],
        "extractor": extractor_identity(extractor),
        "num_real": int(num_real),
        "subset_seed": REAL_SUBSET_SEED,
    }


def real_cache_path(key: dict[str, Any], cache_dir: str | os.PathLike | None = None) -> Path:
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir() / "real_stats"
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    data = key["data"]
    data_name = data["class"].rsplit(".", 1)[-1] if isinstance(data, dict) else "custom"
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in f"{data_name}_{key['split']}_{key['extractor']['name']}")
    return folder / f"{safe}_{key['num_real']}_{digest}.pt"


def load_real_cache(path: Path, key: dict[str, Any]) -> RealFeatures | None:
    """The cached real side, or ``None`` when the file is missing, unreadable or holds another key."""
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a truncated or foreign file is recomputed, not fatal
        return None
    if not isinstance(payload, dict) or payload.get("key") != json.loads(json.dumps(key)):
        return None
    return RealFeatures(payload["features"], payload["mu"], payload["sigma"], int(payload["num"]))


def save_real_cache(path: Path, key: dict[str, Any], real: RealFeatures) -> None:
    from gan_lightning.data.files import save_atomically

    payload = {"key": key, "features": real.features, "mu": real.mu, "sigma": real.sigma, "num": real.num}
    save_atomically(payload, path)  # DDP ranks may write the same file at the same time
