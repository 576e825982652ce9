"""Metrics by name: what the evaluation asks of a metric, and the registry (StyleGAN2-ADA's ``register_metric``).

Every metric of ``evaluate_generator``, ``GeneratorMetrics``, ``MetricsCallback`` and
``gan-lightning evaluate`` is one small ``EvalMetric`` subclass registered under its name;
nothing else in the evaluation names a metric, so adding one is one class::

    @register_metric
    class MeanNorm(EvalMetric):
        name = "mean_norm"
        outputs = ("mean_norm",)
        takes = "points"

        def __init__(self, context: MetricContext) -> None:
            super().__init__(context)
            self.metric = torchmetrics.MeanMetric()

        def update(self, points: Tensor) -> None:
            self.metric.update(points.norm(dim=1))

        def compute(self, num_generated: int) -> dict[str, float]:
            return {"mean_norm": float(self.metric.compute())}

The built-in metrics are in ``builtin_metrics.py``; a metric defined elsewhere is usable by
name once the file defining it has been imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Mapping, Sequence

import torch
from torch import Tensor, nn
from torchmetrics import Metric

if TYPE_CHECKING:
    from gan_lightning.evaluation.cache import RealFeatures

# What ``EvalMetric.update`` receives per batch of generated samples.
INPUTS = ("features", "logits", "class_logits", "points")
DATA_KINDS = ("images", "points")


@dataclass(frozen=True)
class MetricContext:
    """What one evaluation's metric objects are built from."""

    extractor: nn.Module | None = None  # features / logits of the samples (None: the samples are the features)
    classifier: nn.Module | None = None  # class logits, for metrics that take ``class_logits``
    seed: int = 0
    options: Mapping[str, Any] = field(default_factory=dict)  # every registered option, defaults filled in


class EvalMetric(nn.Module):
    """One metric of one evaluation, fed with generated samples on every rank.

    A subclass states what it is in class attributes:

    - ``name``: the name it is registered and asked for by (lower case); ``aliases``: other names.
    - ``outputs``: the keys of its numbers in the result dict, in order.
    - ``takes``: what ``update`` receives for each batch of generated samples: ``"features"``
      (the extractor's features; such a *feature metric* compares them with the real samples'
      features, installed by ``set_real``, and also runs per class), ``"logits"`` (the
      extractor's logits), ``"class_logits"`` (the classifier's logits) or ``"points"`` (the
      samples, flattened).
    - ``options``: option name -> default; the names are shared by every metric, so they start
      with the metric's name (``kid_subsets``). Values come from ``EvaluationSettings.metric_options``.
    - ``data_kinds``: the samples it applies to (``"images"``, ``"points"``).
    - ``reads_data``: its options come from the real data module (``options_from_data``), so
      the real data is needed even without feature metrics.
    - ``reports_num_samples``: ``gan-lightning evaluate`` prints ``num_samples`` beside its values.

    and implements ``__init__(context)``, ``update(values)`` and ``compute(num_generated)``
    (on every rank: torchmetrics gathers the states; returns ``{output: value}``).
    """

    name: ClassVar[str]
    outputs: ClassVar[tuple[str, ...]]
    takes: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[Mapping[str, Any]] = {}
    data_kinds: ClassVar[tuple[str, ...]] = DATA_KINDS
    reads_data: ClassVar[bool] = False
    reports_num_samples: ClassVar[bool] = True

    def __init__(self, context: MetricContext) -> None:
        super().__init__()

    @classmethod
    def options_from_data(cls, real: Any) -> dict[str, Any]:
        """Options read from the real data (``reads_data`` metrics); raise ``ValueError`` when it lacks them."""
        return {}

    @classmethod
    def sample_count_note(cls, num_real: int, num_generated: int, num_features: int) -> str | None:
        """A warning about these sample counts (printed once per process), or ``None``."""
        return None

    @property
    def device(self) -> torch.device:
        for module in self.modules():
            if isinstance(module, Metric):
                return module.device
        for tensor in (*self.parameters(), *self.buffers()):
            return tensor.device
        return torch.device("cpu")

    def set_real(self, real: RealFeatures) -> None:
        """Install the real side (feature metrics); the others ignore it."""

    def update(self, values: Tensor) -> None:
        raise NotImplementedError

    def compute(self, num_generated: int) -> dict[str, Any]:
        """``{output: value}``; ``num_generated`` counts the generated samples over all ranks."""
        raise NotImplementedError


# name -> class, in registration order (the order ``known metrics`` lists them in)
METRICS: dict[str, type[EvalMetric]] = {}


def register_metric(cls: type[EvalMetric]) -> type[EvalMetric]:
    """Class decorator: make ``cls`` usable by its ``name`` (and ``aliases``) everywhere metrics are named."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name or name != name.strip().lower() or "," in name:
        raise ValueError(f"{cls.__name__}.name must be a non-empty lower-case name without commas, got {name!r}")
    if not getattr(cls, "outputs", None):
        raise ValueError(f"metric {name!r}: outputs must name at least one result key")
    if getattr(cls, "takes", None) not in INPUTS:
        raise ValueError(f"metric {name!r}: takes must be one of {', '.join(INPUTS)}, got {getattr(cls, 'takes', None)!r}")
    if not set(cls.data_kinds) <= set(DATA_KINDS):
        raise ValueError(f"metric {name!r}: data_kinds must be among {', '.join(DATA_KINDS)}, got {cls.data_kinds}")
    taken = {alias: other for other, known in METRICS.items() for alias in (other, *known.aliases)}
    for alias in (name, *cls.aliases):
        if alias in taken:
            raise ValueError(f"metric name {alias!r} is already registered (metric {taken[alias]!r})")
    for option in cls.options:
        for other, known in METRICS.items():
            if option in known.options:
                raise ValueError(f"metric {name!r}: option {option!r} is already an option of metric {other!r}")
    METRICS[name] = cls
    return cls


def known_metrics() -> dict[str, type[EvalMetric]]:
    """Every registered metric, by name, in registration order."""
    return dict(METRICS)


def metric_class(name: str) -> type[EvalMetric] | None:
    """The metric registered under ``name`` or one of its aliases (any case), or ``None``."""
    name = name.strip().lower()
    if name in METRICS:
        return METRICS[name]
    for cls in METRICS.values():
        if name in cls.aliases:
            return cls
    return None


def parse_metrics(metrics: str | Iterable[str]) -> list[str]:
    """``"fid,kid"`` or ``["fid", "kid"]`` -> registered names in the order given, without repeats."""
    parts = metrics.split(",") if isinstance(metrics, str) else list(metrics)
    names: list[str] = []
    for part in parts:
        if not str(part).strip():
            continue
        cls = metric_class(str(part))
        if cls is None:
            raise ValueError(f"unknown metric {part!r}; known metrics: {', '.join(METRICS)}")
        if cls.name not in names:
            names.append(cls.name)
    if not names:
        raise ValueError(f"no metric given; known metrics: {', '.join(METRICS)}")
    return names


def _classes(metrics: str | Iterable[str]) -> list[type[EvalMetric]]:
    return [METRICS[name] for name in parse_metrics(metrics)]


def feature_metrics(metrics: str | Iterable[str]) -> list[str]:
    """The feature metrics among ``metrics`` (those compared with the real samples' features)."""
    return [cls.name for cls in _classes(metrics) if cls.takes == "features"]


def needs_extractor(metrics: str | Iterable[str]) -> bool:
    return any(cls.takes in ("features", "logits") for cls in _classes(metrics))


def needs_classifier(metrics: str | Iterable[str]) -> bool:
    return any(cls.takes == "class_logits" for cls in _classes(metrics))


def needs_real(metrics: str | Iterable[str]) -> bool:
    """Whether the metrics need the real samples' features."""
    return bool(feature_metrics(metrics))


def needs_data(metrics: str | Iterable[str]) -> bool:
    """Whether the metrics need the real data at all (its features, or the data module's attributes)."""
    return needs_real(metrics) or any(cls.reads_data for cls in _classes(metrics))


def option_defaults() -> dict[str, Any]:
    """Every registered metric option with its default."""
    return {option: value for cls in METRICS.values() for option, value in cls.options.items()}


def options_from_data(metrics: str | Iterable[str], real: Any) -> dict[str, Any]:
    """The options that ``metrics`` read from the real data (``reads_data`` metrics)."""
    options: dict[str, Any] = {}
    for cls in _classes(metrics):
        if cls.reads_data:
            options.update(cls.options_from_data(real))
    return options


def sample_count_notes(metrics: str | Iterable[str], num_real: int, num_generated: int, num_features: int) -> list[str]:
    notes = (cls.sample_count_note(num_real, num_generated, num_features) for cls in _classes(metrics))
    return [note for note in notes if note]


def metric_keys(metrics: str | Iterable[str]) -> list[str]:
    """The result keys of ``metrics``, in order (``["fid", "kid_mean", "kid_std"]`` for ``"fid,kid"``)."""
    return [key for cls in _classes(metrics) for key in cls.outputs]


def metric_values(results: Mapping[str, Any], metrics: str | Sequence[str]) -> dict[str, Any]:
    """Only the numbers of ``metrics`` (in their order) from an ``evaluate_generator`` result."""
    return {key: results[key] for key in metric_keys(metrics)}
