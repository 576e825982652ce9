"""``GeneratorMetrics``: the metric objects of one evaluation, fed with generated samples on every rank."""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from gan_lightning.core.rng import seeded_rng
from gan_lightning.evaluation.cache import RealFeatures
from gan_lightning.evaluation.distributed import sum_over_ranks
from gan_lightning.evaluation.registry import METRICS, MetricContext, option_defaults, parse_metrics, real_inputs
from gan_lightning.evaluation.extractors import extract_features, extract_logits


class GeneratorMetrics(nn.Module):
    """The registered metrics ``metrics`` of one evaluation.

    ``set_real(real)`` installs the real side (statistics everywhere, features on rank 0
    only: the states are gathered across ranks), ``update(samples)`` extracts features /
    logits once and feeds every metric, ``compute()`` (on every rank) returns the flat
    result dict. ``update_outputs(features=..., logits=..., class_logits=..., points=...)``
    feeds precomputed extractor outputs. ``options`` are the metrics' options
    (``kid_subsets=20``, ``modes=...``; see each metric's ``options``). ``set_real_input(name, values)``
    installs what some metrics need besides the real features (``real_inputs``: the real samples'
    logits, the samples themselves, the training split's features); ``model`` is the model evaluated,
    for the metrics that read it (``takes == "model"``: ais) and are not fed samples.
    """

    def __init__(
        self,
        metrics: Sequence[str] | str,
        extractor: nn.Module | None = None,
        classifier: nn.Module | None = None,
        *,
        seed: int = 0,
        model: nn.Module | None = None,
        use_ema: bool = True,
        **options: Any,
    ) -> None:
        super().__init__()
        self.names = parse_metrics(metrics)
        self.extractor = extractor
        self.classifier = classifier
        self.seed = seed
        defaults = option_defaults()
        unknown = sorted(set(options) - set(defaults))
        if unknown:
            raise TypeError(f"unknown metric option(s) {', '.join(unknown)}; known options: {', '.join(defaults)}")
        context = MetricContext(extractor, classifier, seed, {**defaults, **options}, model, use_ema)
        self.num_fake = 0
        self.num_real = 0
        self.metric_objects = nn.ModuleDict()
        with warnings.catch_warnings():  # KID and IS warn that they keep every feature
            warnings.simplefilter("ignore", UserWarning)
            for name in self.names:
                self.metric_objects[name] = METRICS[name](context)
        self.inputs = {METRICS[name].takes for name in self.names}

    @property
    def device(self) -> torch.device:
        for metric in self.metric_objects.values():
            return metric.device
        return torch.device("cpu")

    @property
    def needs_features(self) -> bool:
        return "features" in self.inputs

    def set_real(self, real: RealFeatures) -> None:
        self.num_real = real.num
        for metric in self.metric_objects.values():
            metric.set_real(real)

    @property
    def real_inputs(self) -> list[str]:
        return real_inputs(self.names)

    def set_real_input(self, name: str, values: Tensor) -> None:
        """Install one of the real inputs (``registry.REAL_INPUTS``) in the metrics that declare it."""
        for metric in self.metric_objects.values():
            if name in metric.real_inputs:
                metric.set_real_input(name, values)

    def update(self, samples: Tensor) -> None:
        """Feed generated samples (images in [-1, 1] or points); extractor outputs are computed once."""
        features = logits = class_logits = None
        needs_logits = "logits" in self.inputs
        shares_classifier = "class_logits" in self.inputs and self.classifier is self.extractor
        if self.needs_features or needs_logits:
            wants_logits = needs_logits or shares_classifier
            if self.extractor is not None and wants_logits and self.needs_features and hasattr(self.extractor, "features_and_logits"):
                features, logits = self.extractor.features_and_logits(samples)
            else:
                if self.needs_features:
                    features = extract_features(self.extractor, samples)
                if wants_logits:
                    logits = extract_logits(self.extractor, samples)
        if "class_logits" in self.inputs:
            class_logits = logits if shares_classifier and logits is not None else extract_logits(self.classifier, samples)
        points = samples.reshape(samples.shape[0], -1) if "points" in self.inputs else None
        self.update_outputs(features=features, logits=logits, class_logits=class_logits, points=points)

    def update_outputs(
        self,
        features: Tensor | None = None,
        logits: Tensor | None = None,
        class_logits: Tensor | None = None,
        points: Tensor | None = None,
    ) -> None:
        outputs = {"features": features, "logits": logits, "class_logits": class_logits, "points": points}
        count = None
        for metric in self.metric_objects.values():
            if metric.takes == "model":  # reads the generator itself, not its samples
                continue
            values = outputs[metric.takes]
            metric.update(values.to(self.device))
            count = values.shape[0]
        self.num_fake += int(count or 0)

    def compute(self) -> dict[str, Any]:
        """The flat result dict; call on every rank (states are gathered across processes)."""
        results: dict[str, Any] = {}
        total_fake = sum_over_ranks(self.num_fake, self.device)
        for metric in self.metric_objects.values():
            with seeded_rng(self.seed, self.device):  # KID subsets, IS split order: seeded, global RNG untouched
                results.update(metric.compute(total_fake))
        results["num_samples"] = total_fake
        return results
