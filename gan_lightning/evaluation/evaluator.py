"""``evaluate_generator``: the one entry point, shared by ``MetricsCallback`` and ``gan-lightning evaluate``."""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from typing import Any, Sequence

import torch
from torch import nn

from gan_lightning.evaluation.distributed import distributed_rank_and_size, rank_seed, rank_share
from gan_lightning.evaluation.digits import DigitsClassifier, load_digits_classifier
from gan_lightning.evaluation.extractors import extractor_name, resolve_extractor
from gan_lightning.evaluation.generation import generated_batches
from gan_lightning.evaluation.per_class import check_per_class, per_class_metrics
from gan_lightning.evaluation.real import progress_bar, real_features, real_input
from gan_lightning.evaluation.registry import (
    feature_metrics,
    needs_classifier,
    needs_extractor,
    needs_real,
    needs_samples,
    options_from_data,
    parse_metrics,
    real_inputs,
    sample_count_notes,
)
from gan_lightning.evaluation.settings import EvaluationSettings
from gan_lightning.evaluation.suite import GeneratorMetrics

_PRINTED_NOTES: set[str] = set()  # once per process, not at every callback evaluation


def evaluate_generator(
    model: nn.Module,
    real: Any = None,
    metrics: str | Sequence[str] = ("fid",),
    settings: EvaluationSettings | None = None,
    **changes: Any,
) -> dict[str, Any]:
    """Evaluate ``model``'s samples against ``real`` data; see ``gan_lightning.evaluation``.

    Args:
        model: a ``GANModule`` (anything with ``sample(n, labels=, use_ema=, rng=)`` and ``device``).
        real: a data module (held-out split by default), a Dataset, or a tensor of real samples;
            needed by the feature metrics (real features) and by metrics that read the data (modes).
        metrics: registered names or ``"fid,kid,..."``.
        settings: ``EvaluationSettings`` (default: its defaults); ``changes`` replace some of its
            fields: ``evaluate_generator(model, data, "fid", num_samples=5000, extractor="inception")``.
    """
    settings = replace(settings, **changes) if settings is not None else EvaluationSettings(**changes)
    started = time.perf_counter()
    names = parse_metrics(metrics)
    settings.check()
    rank, world_size = distributed_rank_and_size()
    if settings.num_samples < world_size:
        raise ValueError(f"num_samples ({settings.num_samples}) must be at least the number of processes ({world_size})")
    device = settings.device_for(model)
    extractor = resolve_extractor(settings.extractor, settings.weights) if needs_extractor(names) else None
    if extractor is not None:
        extractor.to(device)
    classifier = settings.classifier
    if needs_classifier(names) and classifier is None:
        classifier = extractor if isinstance(extractor, DigitsClassifier) else load_digits_classifier()
    if classifier is not None:
        classifier.to(device)
    if settings.per_class:
        check_per_class(model, names)
    options = {**settings.metric_options, **options_from_data(names, real)}
    suite = GeneratorMetrics(names, extractor, classifier, seed=settings.seed, model=model, use_ema=settings.use_ema,
                             **options).to(device)
    show = settings.progress and rank == 0

    record: dict[str, Any] = {"num_real": 0, "real_split": None, "real_cache": None}
    if needs_real(names):
        if real is None:
            raise ValueError(f"metrics {', '.join(feature_metrics(names))} need real data")
        num_real = settings.num_samples if settings.num_real is None else settings.num_real
        real_side, info = real_features(
            real, extractor, num_real, settings.batch_size, settings.real_split, device,
            settings.use_cache, settings.cache_dir, settings.real_cache_key, show,
        )
        suite.set_real(real_side)
        record.update(info)
        if rank == 0:
            for note in sample_count_notes(names, real_side.num, settings.num_samples, int(real_side.mu.shape[0])):
                if note not in _PRINTED_NOTES:
                    _PRINTED_NOTES.add(note)
                    print(note, file=sys.stderr)
    extra_inputs = real_inputs(names)
    if extra_inputs and real is None:
        raise ValueError(f"metrics {', '.join(names)} need real data ({', '.join(extra_inputs)} of the real samples)")
    num_real = settings.num_samples if settings.num_real is None else settings.num_real
    for name in extra_inputs:
        values, info = real_input(name, real, extractor, num_real, settings.num_train, settings.batch_size,
                                  settings.real_split, device, settings.use_cache, settings.cache_dir,
                                  settings.real_cache_key, show)
        suite.set_real_input(name, values)
        record.update(info)

    # metrics that read the generator itself (ais) are not fed samples: none are drawn for them alone
    local_count = rank_share(settings.num_samples, rank, world_size) if needs_samples(names) else 0
    label_offset = sum(rank_share(settings.num_samples, r, world_size) for r in range(rank))
    with torch.no_grad(), progress_bar(local_count, "generated samples", show) as bar:
        for samples in generated_batches(model, local_count, settings.batch_size, settings.use_ema,
                                         rank_seed(settings.seed, rank), label_offset):
            suite.update(samples.to(device))
            bar.update(samples.shape[0])
    results = suite.compute()
    results.update(record)
    if settings.per_class:
        results.update(per_class_metrics(model, real, names, replace(settings, extractor=extractor, device=device)))
    results.update(
        {
            "feature_extractor": extractor_name(extractor) if needs_extractor(names) else None,
            "ema": bool(settings.use_ema and getattr(model, "generator_ema", None) is not None),
            "generator_mode": "eval",
            "seed": settings.seed,
            "world_size": world_size,
            "seconds": time.perf_counter() - started,
        }
    )
    return results
