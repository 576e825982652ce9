"""Metrics of a generator against real data: the one code path behind ``MetricsCallback`` and
``gan-lightning evaluate``.

``evaluate_generator(model, real, metrics, settings)`` draws ``num_samples`` samples with
``model.sample`` (the EMA generator by default, always in eval mode, noise from a
seeded ``torch.Generator``), passes them through one feature extractor and returns a
dict with the numbers and what they depend on::

    {"fid": ..., "kid_mean": ..., "num_samples": 5000, "num_real": 500, "feature_extractor": "digits",
     "ema": True, "generator_mode": "eval", "real_split": "heldout", "real_cache": "hit", ...}

Where things live:

- ``registry.py``: the one registry (``register_metric``) of every kind of metric: feature metrics
  (``EvalMetric``), paired metrics (``PairedMetric``, ``paired.py``) and segmentation metrics.
- ``builtin_metrics.py``: fid, kid, is, pr, 1nn, classes, modes (``parse_metrics`` also takes ``"fid,kid"``).
- ``suite.py``: ``GeneratorMetrics``, one evaluation's metric objects fed batch by batch.
- ``settings.py``: ``EvaluationSettings``; ``evaluator.py``: ``evaluate_generator``.
- ``real.py``: the real samples and their features; ``cache.py``: the real-statistics cache.
- ``generation.py``: seeded batches of ``model.sample``; ``per_class.py``: class-conditional metrics.
- ``distributed.py``: ranks' shares and seeds under DDP; ``extractors.py``: naming the extractor.

Features are extracted once per batch and shared by every metric, so asking for fid,kid,pr
costs one extractor pass, not three. ``extractor=None`` (or ``"none"``) uses the samples
themselves as features (2-D toy data).

Real side, cached. The real samples are a fixed subset (seeded permutation, seed 0) of the data
module's held-out split (its training split when it has none), ``num_real`` of them (default:
``num_samples``, at most the split's size); their features and FID statistics are computed once
and cached on disk (see ``cache.py``).

Class-conditional metrics (``per_class=True``, models with ``num_classes`` > 0 whose G takes
labels): besides the overall numbers (samples cycling through the classes, as always), every
feature metric (fid, kid, pr, 1nn) is computed once per class (see ``per_class.py``).

Several processes (DDP). When ``torch.distributed`` is initialised, every rank draws its share
of the samples from its own noise stream (see ``distributed.py``), every rank holds the real
side (cache file or its own computation) but only rank 0 feeds real features into the metrics,
and ``compute()`` runs on every rank: the torchmetrics states are gathered there, so every rank
returns the same numbers, equal to one process evaluating rank 0's samples followed by rank 1's,
and so on. KID's subsets and IS's split permutation are drawn from ``seed`` (the global RNG is
left untouched), so repeated evaluations agree.
"""

from gan_lightning.evaluation.registry import (
    KINDS,
    EvalMetric,
    MetricsOfKind,
    PairedMetric,
    RegisteredMetric,
    SegmentationMetric,
    MetricContext,
    feature_metrics,
    known_metrics,
    metric_class,
    metric_keys,
    metric_values,
    needs_classifier,
    needs_data,
    needs_extractor,
    needs_real,
    parse_metrics,
    register_metric,
)
from gan_lightning.evaluation.builtin_metrics import FID_UPDATE_ROWS  # importing it registers the built-in metrics
from gan_lightning.evaluation.paired import PAIRED_METRICS, evaluate_pairs  # registers psnr, ssim, lpips
from gan_lightning.evaluation.cache import (
    CACHE_FORMAT,
    IGNORED_DATA_ARGS,
    REAL_SUBSET_SEED,
    RealFeatures,
    data_identity,
    load_real_cache,
    real_cache_key,
    real_cache_path,
    save_real_cache,
)
from gan_lightning.evaluation.distributed import RANK_SEED_STRIDE, distributed_rank_and_size, rank_seed, rank_share
from gan_lightning.evaluation.evaluator import evaluate_generator
from gan_lightning.evaluation.extractors import extractor_identity, extractor_name, resolve_extractor
from gan_lightning.evaluation.generation import balanced_labels, generated_batches, is_class_conditional
from gan_lightning.evaluation.per_class import per_class_keys, per_class_metrics, real_by_class, source_labels
from gan_lightning.evaluation.real import real_features
from gan_lightning.evaluation.settings import EvaluationSettings
from gan_lightning.evaluation.suite import GeneratorMetrics
from gan_lightning.metrics import PrecisionRecall

__all__ = [
    "KINDS", "MetricsOfKind", "PAIRED_METRICS", "PairedMetric", "RegisteredMetric", "SegmentationMetric", "evaluate_pairs",
    "CACHE_FORMAT", "FID_UPDATE_ROWS", "IGNORED_DATA_ARGS", "RANK_SEED_STRIDE", "REAL_SUBSET_SEED",
    "EvalMetric", "EvaluationSettings", "GeneratorMetrics", "MetricContext", "PrecisionRecall", "RealFeatures",
    "balanced_labels", "data_identity", "distributed_rank_and_size", "evaluate_generator", "extractor_identity",
    "extractor_name", "feature_metrics", "generated_batches", "is_class_conditional", "known_metrics",
    "load_real_cache", "metric_class", "metric_keys", "metric_values", "needs_classifier", "needs_data",
    "needs_extractor", "needs_real", "parse_metrics", "per_class_keys", "per_class_metrics", "rank_seed",
    "rank_share", "real_by_class", "real_cache_key", "real_cache_path", "real_features", "register_metric",
    "resolve_extractor", "save_real_cache", "source_labels",
]
