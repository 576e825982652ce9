"""Metrics of a generator against real data: the one code path behind ``MetricsCallback`` and
``gan-lightning evaluate``.

``evaluate_generator(model, real, metrics, ...)`` draws ``num_samples`` samples with
``model.sample`` (the EMA generator by default, always in eval mode, noise from a
seeded ``torch.Generator``), passes them through one feature extractor and returns a
dict with the numbers and what they depend on::

    {"fid": ..., "kid_mean": ..., "num_samples": 5000, "num_real": 500, "feature_extractor": "digits",
     "ema": True, "generator_mode": "eval", "real_split": "heldout", "real_cache": "hit", ...}

Metrics (``parse_metrics`` also takes ``"fid,kid"``):

- ``fid``: ``FrechetDistance`` (float64 sums, real statistics installed from the cache) -> ``fid``
- ``kid``: torchmetrics ``KernelInceptionDistance`` -> ``kid_mean``, ``kid_std``
- ``is``: torchmetrics ``InceptionScore`` on the extractor's logits (Inception's
  ``logits_unbiased``, or the digits classifier's 10 logits), 10 splits -> ``is_mean``, ``is_std``
- ``pr``: improved precision / recall (k = 3) -> ``precision``, ``recall``
- ``1nn``: leave-one-out 1-NN two-sample accuracy -> ``1nn_accuracy``
- ``classes``: ``ClassCoverage`` through the digits classifier -> ``classes_covered``, ``kl_to_uniform``
- ``modes``: ``ModeCoverage2D`` on the toy mixtures -> ``modes``, ``high_quality``, ``reverse_kl``

Class-conditional metrics (``per_class=True``, models with ``num_classes`` > 0 whose G takes
labels): besides the overall numbers (samples cycling through the classes, as always), every
feature metric (fid, kid, pr, 1nn) is computed once per class c, G's samples drawn with label c
(``num_samples // num_classes`` of them, noise seeded ``seed + 1 + c``) against the real
samples of class c in the split (all of them, or ``num_real // num_classes``; not cached).
Keys: ``fid_class_3``, ``kid_mean_class_3``, ... and the mean over classes, ``fid_class_mean``.
Per class there are few real samples (about 50 per digit in MNIST5k's held-out split): FID is
then biased upwards (rank-deficient covariances), so compare per-class values with each other,
not with overall ones.

Features are extracted once per batch and shared by every metric (torchmetrics' KID and
IS receive them through an ``nn.Identity`` feature module), so asking for fid,kid,pr
costs one extractor pass, not three. ``extractor=None`` (or ``"none"``) uses the samples
themselves as features (2-D toy data).

Real side, cached. The real images are a fixed subset (seeded permutation, seed 0) of
the data module's held-out split (its training split when it has none), ``num_real``
of them (default: ``num_samples``, at most the split's size). Their features are
computed once and saved with ``torch.save`` as ``{"mu", "sigma", "num", "features"}``:
the FID statistics *and* the (N, D) float32 features, so KID, precision/recall and 1-NN
reuse the same file. The file name hashes a key made of the data set class, its
``__init__`` arguments that change the data (not ``batch_size`` / ``num_workers`` /
``download``), the split, the sample shape, the extractor (name, layer, weights file
name with its size and modification time) and the number of real samples; a file
whose stored key differs is recomputed. Folder: ``cache_dir``, default
``$GAN_LIGHTNING_CACHE/real_stats`` (``~/.cache/gan_lightning/real_stats``).

Several processes (DDP). When ``torch.distributed`` is initialised, every rank draws
its share of the samples (``num_samples // world_size``, the remainder going to the
first ranks) from its own noise stream (``seed + rank * 1_000_003``; rank 0 of a
single process uses ``seed`` itself), every rank holds the real side (cache file or
its own computation) but only rank 0 feeds real features into the metrics, and
``compute()`` runs on every rank: the torchmetrics states are gathered there, so every
rank returns the same numbers, equal to one process evaluating rank 0's samples
followed by rank 1's, and so on. KID's subsets and IS's split permutation are drawn
from ``seed`` (the global RNG is left untouched), so repeated evaluations agree.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

from gan_lightning.metrics import (
    ClassCoverage,
    DigitsClassifier,
    FrechetDistance,
    InceptionExtractor,
    ModeCoverage2D,
    ModuleExtractor,
    OneNNAccuracy,
    PrecisionRecall,
    build_extractor,
    default_cache_dir,
    extract_features,
    extract_logits,
    load_digits_classifier,
)

METRIC_OUTPUTS: dict[str, tuple[str, ...]] = {
    "fid": ("fid",),
    "kid": ("kid_mean", "kid_std"),
    "is": ("is_mean", "is_std"),
    "pr": ("precision", "recall"),
    "1nn": ("1nn_accuracy",),
    "classes": ("classes_covered", "kl_to_uniform"),
    "modes": ("modes", "high_quality", "reverse_kl"),
}
METRIC_ALIASES = {
    "precision_recall": "pr",
    "inception_score": "is",
    "one_nn": "1nn",
    "class_coverage": "classes",
    "mode_coverage": "modes",
}
FEATURE_METRICS = frozenset({"fid", "kid", "pr", "1nn"})  # real vs generated features
REAL_FEATURE_METRICS = frozenset({"kid", "pr", "1nn"})  # need the real features, not only mu/sigma
CACHE_FORMAT = "gan_lightning.real_stats/1"
# __init__ arguments of a data module that do not change which samples it holds
IGNORED_DATA_ARGS = frozenset({"batch_size", "num_workers", "download", "pin_memory", "persistent_workers"})
REAL_SUBSET_SEED = 0
RANK_SEED_STRIDE = 1_000_003
_WARNED_RANK_DEFICIENT: set[tuple[int, int]] = set()
FID_UPDATE_ROWS = 2048


# ---------------------------------------------------------------------------- names
def parse_metrics(metrics: str | Iterable[str]) -> list[str]:
    """``"fid,kid"`` or ``["fid", "kid"]`` -> canonical names in the order given, without repeats."""
    parts = metrics.split(",") if isinstance(metrics, str) else list(metrics)
    names: list[str] = []
    for part in parts:
        name = str(part).strip().lower()
        if not name:
            continue
        name = METRIC_ALIASES.get(name, name)
        if name not in METRIC_OUTPUTS:
            raise ValueError(f"unknown metric {part!r}; known metrics: {', '.join(METRIC_OUTPUTS)}")
        if name not in names:
            names.append(name)
    if not names:
        raise ValueError(f"no metric given; known metrics: {', '.join(METRIC_OUTPUTS)}")
    return names


def needs_extractor(metrics: Sequence[str]) -> bool:
    return any(name in FEATURE_METRICS or name == "is" for name in metrics)


def needs_real(metrics: Sequence[str]) -> bool:
    return any(name in FEATURE_METRICS for name in metrics)


def resolve_extractor(extractor: str | nn.Module | None, weights: str | os.PathLike | None = None) -> nn.Module | None:
    """A name (``inception``, ``digits``, ``none``), the path of a saved module, a module, or ``None``."""
    if extractor is None or isinstance(extractor, nn.Module):
        return extractor
    if str(extractor).lower() in ("none", "raw"):
        return None
    return build_extractor(str(extractor), weights)


def _file_fingerprint(path: str | os.PathLike | None) -> dict[str, Any] | None:
    if not path:
        return None
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        return {"file": path.name}
    return {"file": path.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def extractor_name(extractor: nn.Module | None) -> str:
    """Short name of an extractor for records: ``inception``, ``digits``, ``none``, a file name or a class name."""
    if extractor is None:
        return "none"
    if isinstance(extractor, InceptionExtractor):
        return "inception" if extractor.feature_name == "2048" else f"inception-{extractor.feature_name}"
    if isinstance(extractor, DigitsClassifier):
        return "digits"
    if isinstance(extractor, ModuleExtractor):
        return Path(extractor.path).name
    return getattr(extractor, "name", type(extractor).__name__)


def extractor_identity(extractor: nn.Module | None) -> dict[str, Any]:
    """What the real features depend on: the extractor's name, layer and weights file (name, size, mtime)."""
    weights = getattr(extractor, "weights_path", None) or getattr(extractor, "path", None)
    return {
        "name": extractor_name(extractor),
        "class": None if extractor is None else f"{type(extractor).__module__}.{type(extractor).__qualname__}",
        "weights": _file_fingerprint(weights),
    }


# ---------------------------------------------------------------------------- several processes
def distributed_rank_and_size() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def rank_share(num_samples: int, rank: int, world_size: int) -> int:
    """How many of ``num_samples`` rank ``rank`` generates (the remainder goes to the first ranks)."""
    return num_samples // world_size + (1 if rank < num_samples % world_size else 0)


def rank_seed(seed: int, rank: int) -> int:
    return seed + rank * RANK_SEED_STRIDE


def _sum_over_ranks(value: int, device: torch.device) -> int:
    _, world_size = distributed_rank_and_size()
    if world_size == 1:
        return int(value)
    total = torch.tensor([int(value)], dtype=torch.long, device=device)
    dist.all_reduce(total)
    return int(total.item())


# ---------------------------------------------------------------------------- real side
@dataclass
class RealFeatures:
    """Features of the real samples and their FID statistics (float64), all on the CPU."""

    features: Tensor  # (N, D) float32
    mu: Tensor
    sigma: Tensor
    num: int

    @classmethod
    def from_features(cls, features: Tensor, chunk_size: int = 1024) -> "RealFeatures":
        """Mean and unbiased covariance in float64, from running sums over chunks (the
        formula ``FrechetDistance`` uses for the generated side; no float64 copy of all features)."""
        features = features.detach().to("cpu", torch.float32)
        if features.dim() != 2 or features.shape[0] < 2:
            raise ValueError(f"real features must be (N >= 2, D), got {tuple(features.shape)}")
        num, dim = features.shape
        total = np.zeros(dim, dtype=np.float64)
        outer = np.zeros((dim, dim), dtype=np.float64)
        for start in range(0, num, chunk_size):
            chunk = features[start : start + chunk_size].numpy().astype(np.float64)
            total += chunk.sum(axis=0)
            # NumPy runs `a.T @ a` as a symmetric rank-k update (half the work of a general product)
            outer += chunk.T @ chunk
        mu = torch.from_numpy(total / num)
        sigma = (torch.from_numpy(outer) - num * torch.outer(mu, mu)) / (num - 1)
        return cls(features, mu, sigma, int(num))


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
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"key": key, "features": real.features, "mu": real.mu, "sigma": real.sigma, "num": real.num}
    # write then rename: DDP ranks may write the same file at the same time
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    torch.save(payload, partial)
    os.replace(partial, path)


def _real_source(real: Any, split: str) -> tuple[Any, str]:
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


def _real_batches(source: Any, indices: Tensor, batch_size: int) -> Iterator[Tensor]:
    if isinstance(source, Tensor):
        for start in range(0, len(indices), batch_size):
            yield source[indices[start : start + batch_size]]
        return
    for start in range(0, len(indices), batch_size):
        items = [source[int(i)] for i in indices[start : start + batch_size]]
        samples = [item[0] if isinstance(item, (tuple, list)) else item for item in items]
        yield torch.stack([torch.as_tensor(s) for s in samples])


def _progress(total: int, description: str, enabled: bool):
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
    source, split_used = _real_source(real, split)
    available = len(source)
    count = available if num_real is None else min(int(num_real), available)
    if count < 2:
        raise ValueError(f"need at least 2 real samples, the {split_used} data has {available}")
    sample_shape = tuple(next(_real_batches(source, torch.tensor([0]), 1)).shape[1:])

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

    if count == available:
        indices = torch.arange(available)
    else:  # a fixed random subset: data sets are often sorted by class
        indices = torch.randperm(available, generator=torch.Generator().manual_seed(REAL_SUBSET_SEED))[:count]
    if extractor is not None and device is not None:
        extractor.to(device)
    chunks = []
    with torch.no_grad(), _progress(count, "real features", progress) as bar:
        for batch in _real_batches(source, indices, batch_size):
            if device is not None:
                batch = batch.to(device)
            chunks.append(extract_features(extractor, batch).to("cpu", torch.float32))
            bar.update(batch.shape[0])
    result = RealFeatures.from_features(torch.cat(chunks))
    if key is not None:
        save_real_cache(path, key, result)
    return result, {"num_real": result.num, "real_split": split_used, "real_cache": "miss" if key else "off"}


# ---------------------------------------------------------------------------- metric objects
def _single_entry(states: list[Tensor], dim: int, device: torch.device) -> list[Tensor]:
    """One tensor per rank (an empty ``(0, dim)`` one when there is nothing): a list state with
    ``dist_reduce_fx=None`` is gathered entry by entry, which needs equal lengths on every rank."""
    if not states:
        return [torch.zeros(0, dim, device=device)]
    return [torch.cat(list(states))]


class GeneratorMetrics(nn.Module):
    """The metric objects of one evaluation, fed with generated samples on every rank.

    ``set_real(real)`` installs the real side (statistics everywhere, features on rank 0
    only: the states are gathered across ranks), ``update(samples)`` extracts features /
    logits once and feeds every metric, ``compute()`` (on every rank) returns the flat
    result dict. ``update_outputs(features=..., logits=..., class_logits=..., points=...)``
    feeds precomputed extractor outputs.
    """

    def __init__(
        self,
        metrics: Sequence[str],
        extractor: nn.Module | None = None,
        classifier: nn.Module | None = None,
        modes: Tensor | None = None,
        mode_std: float | None = None,
        seed: int = 0,
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        is_splits: int = 10,
        pr_k: int = 3,
    ) -> None:
        super().__init__()
        self.names = parse_metrics(metrics)
        self.extractor = extractor
        self.classifier = classifier
        self.seed = seed
        self.kid_subset_size = kid_subset_size
        self.num_fake = 0
        self.num_real = 0
        self.metric_objects = nn.ModuleDict()
        if "is" in self.names and not callable(getattr(extractor, "logits", None)):
            raise ValueError(
                f"the inception score needs a classifier extractor (inception or digits), not {extractor_name(extractor)}"
            )
        if "classes" in self.names and classifier is None:
            raise ValueError("the 'classes' metric needs a classifier (the digits classifier)")
        with warnings.catch_warnings():  # KID and IS warn that they keep every feature
            warnings.simplefilter("ignore", UserWarning)
            for name in self.names:
                if name == "fid":
                    metric = FrechetDistance(extractor=None)
                elif name == "kid":
                    from torchmetrics.image.kid import KernelInceptionDistance  # imported only when asked for

                    metric = KernelInceptionDistance(feature=nn.Identity(), subsets=kid_subsets, subset_size=kid_subset_size)
                elif name == "is":
                    from torchmetrics.image.inception import InceptionScore

                    metric = InceptionScore(feature=nn.Identity(), splits=is_splits)
                elif name == "pr":
                    metric = PrecisionRecall(k=pr_k)
                elif name == "1nn":
                    metric = OneNNAccuracy(extractor=None)
                elif name == "classes":
                    metric = ClassCoverage(num_classes=int(getattr(classifier, "num_classes", 10)))
                else:  # modes
                    if modes is None or mode_std is None:
                        raise ValueError("the 'modes' metric needs the mode centres and std of a Toy2D data module")
                    metric = ModeCoverage2D(modes, float(mode_std))
                self.metric_objects[name] = metric
        self._feature_dim: int | None = None
        self._fid_buffer: list[Tensor] = []  # generated features waiting for one larger FrechetDistance update

    @property
    def device(self) -> torch.device:
        for metric in self.metric_objects.values():
            return metric.device
        return torch.device("cpu")

    @property
    def needs_features(self) -> bool:
        return any(name in FEATURE_METRICS for name in self.names)

    def set_real(self, real: RealFeatures) -> None:
        rank, _ = distributed_rank_and_size()
        self._feature_dim = int(real.mu.shape[0])
        self.num_real = real.num
        for name in self.names:
            metric = self.metric_objects[name]
            if name == "fid":
                metric.num_features = self._feature_dim
                metric.set_real_statistics(real.mu, real.sigma, real.num)
            elif name in REAL_FEATURE_METRICS:
                # gathered across ranks: rank 0 holds them, the others an empty (0, D) block of the same layout
                features = real.features if rank == 0 else real.features[:0]
                metric.update(features.to(self.device), real=True)

    def update(self, samples: Tensor) -> None:
        """Feed generated samples (images in [-1, 1] or points); extractor outputs are computed once."""
        features = logits = class_logits = None
        if self.needs_features or "is" in self.names:
            wants_logits = "is" in self.names or ("classes" in self.names and self.classifier is self.extractor)
            if self.extractor is not None and wants_logits and self.needs_features and hasattr(self.extractor, "features_and_logits"):
                features, logits = self.extractor.features_and_logits(samples)
            else:
                if self.needs_features:
                    features = extract_features(self.extractor, samples)
                if wants_logits:
                    logits = extract_logits(self.extractor, samples)
        if "classes" in self.names:
            class_logits = logits if self.classifier is self.extractor and logits is not None else extract_logits(self.classifier, samples)
        points = samples.reshape(samples.shape[0], -1) if "modes" in self.names else None
        self.update_outputs(features=features, logits=logits, class_logits=class_logits, points=points)

    def update_outputs(
        self,
        features: Tensor | None = None,
        logits: Tensor | None = None,
        class_logits: Tensor | None = None,
        points: Tensor | None = None,
    ) -> None:
        count = None
        for name in self.names:
            metric = self.metric_objects[name]
            if name == "fid":
                # FrechetDistance adds a (D, D) outer product per update: fewer, larger updates cost less
                self._fid_buffer.append(features.to(self.device))
                if sum(chunk.shape[0] for chunk in self._fid_buffer) >= FID_UPDATE_ROWS:
                    self._flush_fid()
                count = features.shape[0]
            elif name in FEATURE_METRICS:
                metric.update(features.to(self.device).float(), real=False)
                count = features.shape[0]
            elif name == "is":
                metric.update(logits.to(self.device).float())
                count = logits.shape[0]
            elif name == "classes":
                metric.update(class_logits.to(self.device))
                count = class_logits.shape[0]
            else:
                metric.update(points.to(self.device))
                count = points.shape[0]
        if features is not None and self._feature_dim is None:
            self._feature_dim = int(features.shape[1])
        self.num_fake += int(count or 0)

    def _flush_fid(self) -> None:
        if self._fid_buffer:
            self.metric_objects["fid"].update(torch.cat(self._fid_buffer), real=False)
            self._fid_buffer = []

    def compute(self) -> dict[str, Any]:
        """The flat result dict; call on every rank (states are gathered across processes)."""
        results: dict[str, Any] = {}
        if "fid" in self.names:
            self._flush_fid()
        total_fake = _sum_over_ranks(self.num_fake, self.device)
        for name in self.names:
            metric = self.metric_objects[name]
            if name in ("kid", "is"):
                dim = self._feature_dim if name == "kid" else None
                fake_attr = "fake_features" if name == "kid" else "features"
                states = getattr(metric, fake_attr)
                if dim is None:
                    dim = states[0].shape[1] if states else 0
                    dim = _max_over_ranks(dim, self.device)
                setattr(metric, fake_attr, _single_entry(states, dim, self.device))
                if name == "kid":
                    metric.real_features = _single_entry(metric.real_features, dim, self.device)
                    metric.subset_size = max(2, min(self.kid_subset_size, total_fake, self.num_real))
            with torch.random.fork_rng(devices=[]):  # KID subsets, IS split order: seeded, global RNG untouched
                torch.manual_seed(self.seed)
                value = metric.compute()
            if name == "fid":
                results["fid"] = float(value)
            elif name == "kid":
                results["kid_mean"], results["kid_std"] = float(value[0]), float(value[1])
            elif name == "is":
                results["is_mean"], results["is_std"] = float(value[0]), float(value[1])
            elif name == "1nn":
                results["1nn_accuracy"] = float(value)
            else:
                results.update(value)
        results["num_samples"] = total_fake
        return results


def _max_over_ranks(value: int, device: torch.device) -> int:
    _, world_size = distributed_rank_and_size()
    if world_size == 1:
        return int(value)
    result = torch.tensor([int(value)], dtype=torch.long, device=device)
    dist.all_reduce(result, op=dist.ReduceOp.MAX)
    return int(result.item())


# ---------------------------------------------------------------------------- generation
def balanced_labels(model: nn.Module, count: int, offset: int) -> Tensor | None:
    """Class labels cycling through every class for conditional models (``model.num_classes > 0``), else ``None``."""
    num_classes = int(getattr(model, "num_classes", 0) or 0)
    if num_classes <= 0:
        return None
    return (torch.arange(offset, offset + count) % num_classes).to(model.device)


def generated_batches(
    model: nn.Module, count: int, batch_size: int, use_ema: bool, seed: int, label_offset: int = 0,
    label: int | None = None,
) -> Iterator[Tensor]:
    """``count`` samples of ``model.sample`` in batches, noise from ``torch.Generator().manual_seed(seed)``.

    Conditional models get labels cycling through the classes (from ``label_offset``), or all
    ``label`` when it is given."""
    generator = torch.Generator().manual_seed(seed)
    for start in range(0, count, batch_size):
        size = min(batch_size, count - start)
        if label is None:
            labels = balanced_labels(model, size, label_offset + start)
        else:
            labels = torch.full((size,), label, dtype=torch.long, device=model.device)
        yield model.sample(size, labels=labels, use_ema=use_ema, generator=generator)


# ---------------------------------------------------------------------------- class-conditional
def is_class_conditional(model: nn.Module) -> bool:
    """Whether ``model``'s G takes class labels (``num_classes`` > 0 and not ``conditional = False``)."""
    return int(getattr(model, "num_classes", 0) or 0) > 0 and bool(getattr(model, "conditional", True))


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
    source, split_used = _real_source(real, split)
    if isinstance(source, Tensor):
        raise ValueError("per-class metrics need labelled real data (a data module or a Dataset), not a tensor")
    labels = source_labels(source)
    by_class = {}
    for cls in range(num_classes):
        indices = torch.nonzero(labels == cls).flatten()
        if len(indices) < 2:
            raise ValueError(f"per-class metrics: class {cls} has {len(indices)} real samples in the "
                             f"{split_used} split, at least 2 are needed")
        by_class[cls] = torch.cat(list(_real_batches(source, indices, 256)))
    return by_class, split_used


def per_class_metrics(
    model: nn.Module,
    real: Any,
    metrics: Sequence[str],
    extractor: nn.Module | None,
    num_samples: int,
    batch_size: int = 100,
    use_ema: bool = True,
    seed: int = 0,
    num_real: int | None = None,
    real_split: str = "heldout",
    device: torch.device | str | None = None,
    real_classes: dict[int, Tensor] | None = None,
    **metric_options: Any,
) -> dict[str, Any]:
    """Feature metrics per class: ``{"fid_class_0": ..., ..., "fid_class_mean": ..., "num_real_class_0": ...}``.

    Class c: ``num_samples // num_classes`` samples of G with label c against the real samples
    of class c (``real_classes[c]`` when given, else the ``real_split`` of ``real``; at most
    ``num_real // num_classes`` of them when ``num_real`` is given). Call on every rank under DDP.
    """
    if not is_class_conditional(model):
        raise ValueError(f"per-class metrics need a class-conditional model (G(z, y)); {type(model).__name__} is not")
    names = [name for name in parse_metrics(metrics) if name in FEATURE_METRICS]
    if not names:
        raise ValueError(f"per-class metrics are the feature metrics ({', '.join(sorted(FEATURE_METRICS))})")
    num_classes = int(model.num_classes)
    per_class = num_samples // num_classes
    if per_class < 2:
        raise ValueError(f"per-class metrics need num_samples >= 2 * num_classes ({2 * num_classes}), got {num_samples}")
    device = torch.device(device) if device is not None else getattr(model, "device", torch.device("cpu"))
    if real_classes is None:
        real_classes, _ = real_by_class(real, num_classes, real_split)
    real_cap = None if num_real is None else max(2, num_real // num_classes)
    rank, world_size = distributed_rank_and_size()
    results: dict[str, Any] = {}
    for cls in range(num_classes):
        real_side, _ = real_features(real_classes[cls], extractor, real_cap, batch_size, "tensor", device, cache=False)
        suite = GeneratorMetrics(names, extractor, seed=seed, **metric_options).to(device)
        suite.set_real(real_side)
        local = rank_share(per_class, rank, world_size)
        with torch.no_grad():
            for samples in generated_batches(model, local, batch_size, use_ema, rank_seed(seed + 1 + cls, rank),
                                             label=cls):
                suite.update(samples.to(device))
        values = suite.compute()
        for name in names:
            for key in METRIC_OUTPUTS[name]:
                results[f"{key}_class_{cls}"] = values[key]
        results[f"num_real_class_{cls}"] = real_side.num
    for name in names:
        for key in METRIC_OUTPUTS[name]:
            results[f"{key}_class_mean"] = float(np.mean([results[f"{key}_class_{c}"] for c in range(num_classes)]))
    results["num_samples_per_class"] = per_class
    return results


def per_class_keys(metrics: Sequence[str], num_classes: int) -> list[str]:
    """The per-class result keys of ``metrics`` (feature metrics only), class by class, then the means."""
    names = [name for name in parse_metrics(metrics) if name in FEATURE_METRICS]
    keys = [f"{key}_class_{c}" for c in range(num_classes) for name in names for key in METRIC_OUTPUTS[name]]
    return keys + [f"{key}_class_mean" for name in names for key in METRIC_OUTPUTS[name]]


# ---------------------------------------------------------------------------- the one entry point
def evaluate_generator(
    model: nn.Module,
    real: Any = None,
    metrics: str | Sequence[str] = ("fid",),
    num_samples: int = 1000,
    extractor: str | nn.Module | None = "digits",
    batch_size: int = 100,
    use_ema: bool = True,
    seed: int = 0,
    real_cache_key: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    *,
    weights: str | os.PathLike | None = None,
    num_real: int | None = None,
    real_split: str = "heldout",
    use_cache: bool = True,
    device: torch.device | str | None = None,
    classifier: nn.Module | None = None,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    is_splits: int = 10,
    pr_k: int = 3,
    per_class: bool = False,
) -> dict[str, Any]:
    """Evaluate ``model``'s samples against ``real`` data; see the module docstring.

    Args:
        model: a ``GANModule`` (anything with ``sample(n, labels, use_ema, generator)`` and ``device``).
        real: a data module (held-out split by default), a Dataset, or a tensor of real samples;
            only needed for fid, kid, pr, 1nn (real features) and modes (its ``modes`` / ``std``).
        metrics: names or ``"fid,kid,..."``.
        num_samples: generated samples in total (over all ranks).
        extractor: ``"inception"``, ``"digits"``, ``"none"``, a saved module's path, a module, or ``None``.
        batch_size: generation and extraction batch size.
        use_ema: sample from the EMA generator when the model has one.
        seed: noise seed (rank r uses ``seed + r * 1_000_003``); also seeds KID's subsets.
        real_cache_key: a name that makes a tensor / Dataset real side cacheable (and is added to
            a data module's key).
        cache_dir: real-statistics folder (default ``$GAN_LIGHTNING_CACHE/real_stats``).
        progress: tqdm bars on stderr (rank 0 only).
        weights: weights file of a named extractor (Inception weights, digits classifier).
        num_real: real samples (default ``num_samples``, capped at the split's size).
        real_split: ``"heldout"`` (falls back to ``"train"`` when there is none) or ``"train"``.
        use_cache: read / write the real-statistics cache.
        device: where to generate and extract (default: the model's device).
        classifier: the classifier of ``classes`` (default: the extractor when it is the digits
            classifier, else the cached digits classifier).
        per_class: also compute the feature metrics per class (``fid_class_0``, ..., ``fid_class_mean``;
            class-conditional models and labelled real data only; see the module docstring).
    """
    started = time.perf_counter()
    names = parse_metrics(metrics)
    if num_samples < 2:
        raise ValueError(f"num_samples must be >= 2, got {num_samples}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    rank, world_size = distributed_rank_and_size()
    if num_samples < world_size:
        raise ValueError(f"num_samples ({num_samples}) must be at least the number of processes ({world_size})")
    device = torch.device(device) if device is not None else getattr(model, "device", torch.device("cpu"))
    extractor_module = resolve_extractor(extractor, weights) if needs_extractor(names) else None
    if extractor_module is not None:
        extractor_module.to(device)
    if "classes" in names and classifier is None:
        classifier = extractor_module if isinstance(extractor_module, DigitsClassifier) else load_digits_classifier()
    if classifier is not None:
        classifier.to(device)
    if per_class and not is_class_conditional(model):
        raise ValueError(f"per_class needs a class-conditional model (G(z, y)); {type(model).__name__} is not")
    if per_class and not any(name in FEATURE_METRICS for name in names):
        raise ValueError(f"per_class applies to the feature metrics ({', '.join(sorted(FEATURE_METRICS))})")
    if "modes" in names and not (hasattr(real, "modes") and hasattr(real, "std")):
        raise ValueError("the 'modes' metric needs a Toy2D data module (mode centres and std) as real data")
    suite = GeneratorMetrics(
        names, extractor_module, classifier,
        modes=getattr(real, "modes", None), mode_std=getattr(real, "std", None), seed=seed,
        kid_subsets=kid_subsets, kid_subset_size=kid_subset_size, is_splits=is_splits, pr_k=pr_k,
    ).to(device)
    show = progress and rank == 0

    record: dict[str, Any] = {"num_real": 0, "real_split": None, "real_cache": None}
    if needs_real(names):
        if real is None:
            raise ValueError(f"metrics {', '.join(n for n in names if n in FEATURE_METRICS)} need real data")
        real_side, info = real_features(
            real, extractor_module, num_samples if num_real is None else num_real, batch_size, real_split,
            device, use_cache, cache_dir, real_cache_key, show,
        )
        suite.set_real(real_side)
        record.update(info)
        smallest, dim = min(real_side.num, num_samples), int(real_side.mu.shape[0])
        if rank == 0 and "fid" in names and smallest < dim and (smallest, dim) not in _WARNED_RANK_DEFICIENT:
            _WARNED_RANK_DEFICIENT.add((smallest, dim))  # once per process, not at every callback evaluation
            print(
                f"gan-lightning: FID with {smallest} samples and {dim} features: the covariances are "
                "rank-deficient and the value is biased upwards",
                file=sys.stderr,
            )

    local_count = rank_share(num_samples, rank, world_size)
    label_offset = sum(rank_share(num_samples, r, world_size) for r in range(rank))
    with torch.no_grad(), _progress(local_count, "generated samples", show) as bar:
        for samples in generated_batches(model, local_count, batch_size, use_ema, rank_seed(seed, rank), label_offset):
            suite.update(samples.to(device))
            bar.update(samples.shape[0])
    results = suite.compute()
    results.update(record)
    if per_class:
        results.update(per_class_metrics(
            model, real, names, extractor_module, num_samples, batch_size, use_ema, seed, num_real, real_split,
            device, kid_subsets=kid_subsets, kid_subset_size=kid_subset_size, pr_k=pr_k,
        ))
    results.update(
        {
            "feature_extractor": extractor_name(extractor_module) if needs_extractor(names) else None,
            "ema": bool(use_ema and getattr(model, "generator_ema", None) is not None),
            "generator_mode": "eval",
            "seed": seed,
            "world_size": world_size,
            "seconds": time.perf_counter() - started,
        }
    )
    return results


def metric_values(results: dict[str, Any], metrics: Sequence[str]) -> dict[str, Any]:
    """Only the numbers of ``metrics`` (in their order) from an ``evaluate_generator`` result."""
    return {key: results[key] for name in parse_metrics(metrics) for key in METRIC_OUTPUTS[name]}
