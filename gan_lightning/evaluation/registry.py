"""The one registry of metrics by name (StyleGAN2-ADA's ``register_metric``) and what each kind is asked.

Every metric of gan-lightning is one small class registered here under its name, with its *kind*:

- ``feature`` (:class:`EvalMetric`): judges a set of generated samples, fed batch by batch as what the
  evaluation's extractor or classifier makes of them, or as points (fid, kid, is, pr, 1nn, classes,
  modes, mmd, mode_score, wasserstein, parzen, birthday, memorization), or the generator itself (ais);
  computed by ``evaluate_generator``, ``GeneratorMetrics``, ``MetricsCallback`` and
  ``gan-lightning evaluate``.
- ``paired`` (:class:`PairedMetric`): each output against its own target (psnr, ssim, lpips), or against
  its input's labels through a judge (fcn), for super-resolution and paired translation; computed by
  ``evaluate_pairs`` and ``gan-lightning evaluate`` on an image-to-image checkpoint.
- ``segmentation`` (:class:`SegmentationMetric`): predicted label maps against the label maps the images
  were generated from (miou, SPADE's measure); computed by ``segmentation_scores``.

One name space for all kinds: a name means one metric wherever metrics are named. Each place that
computes metrics asks ``parse_metrics(names, kinds=...)`` for the kinds it computes and gets one error
listing them otherwise. Nothing else in the project holds a table of metric names, so adding a metric
is one class::

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

The built-in metrics are registered beside their code: ``fid.py`` (fid), ``distribution.py`` (kid, is,
pr, 1nn), ``coverage.py`` (classes, modes), ``mmd.py``, ``mode_score.py``, ``wasserstein.py``,
``parzen.py``, ``ais.py``, ``birthday.py``, ``memorization.py`` (one each), ``paired.py`` (psnr, ssim,
lpips), ``segmentation.py`` (miou) and ``fcn.py`` (fcn); a metric defined elsewhere is usable by name
once the file defining it has been imported.

Besides the features of the evaluation's real samples (``set_real``), a feature metric may declare
``real_inputs`` (the real samples' logits, the samples themselves, the training split's features),
installed by ``set_real_input``; a metric that reads the generator (``takes = "model"``) finds it in
``MetricContext.model``. Options are checked with :func:`checked_option` (one line: key, value, what is
accepted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable, Mapping, Sequence

import torch
from torch import Tensor, nn
from torchmetrics import Metric

if TYPE_CHECKING:
    from gan_lightning.evaluation.cache import RealFeatures

#: The kinds of metric, each with the class its metrics subclass (filled in below).
KINDS = ("feature", "paired", "segmentation")
# What a feature metric's ``update`` receives per batch of generated samples ("model": nothing, the metric
# reads the generator itself from ``MetricContext.model``).
INPUTS = ("features", "logits", "class_logits", "points", "model")
# What a feature metric may be given of the real data besides the features ``set_real`` installs:
# "logits" (the extractor's logits of the same real samples), "samples" (the real samples themselves, as
# they are in the data set) and "train_features" (the extractor's features of the training split).
REAL_INPUTS = ("logits", "samples", "train_features")
DATA_KINDS = ("images", "points")


class RegisteredMetric(nn.Module):
    """What every registered metric states in class attributes:

    - ``name``: the name it is registered and asked for by (lower case); ``aliases``: other names.
    - ``outputs``: the keys of its numbers in the result dict, in order.
    - ``kind``: one of ``KINDS``, set by the base class of each kind.
    """

    name: ClassVar[str]
    outputs: ClassVar[tuple[str, ...]]
    kind: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()


@dataclass(frozen=True)
class MetricContext:
    """What one evaluation's feature-metric objects are built from."""

    extractor: nn.Module | None = None  # features / logits of the samples (None: the samples are the features)
    classifier: nn.Module | None = None  # class logits, for metrics that take ``class_logits``
    seed: int = 0
    options: Mapping[str, Any] = field(default_factory=dict)  # every registered option, defaults filled in
    model: nn.Module | None = None  # the model evaluated, for metrics that take ``model`` (ais)
    use_ema: bool = True  # whether its EMA generator is the one evaluated


class EvalMetric(RegisteredMetric):
    """A *feature* metric: one metric of one evaluation of a generator, fed with generated samples on every rank.

    Besides ``name``, ``aliases`` and ``outputs`` (:class:`RegisteredMetric`), a subclass states:

    - ``takes``: what ``update`` receives for each batch of generated samples: ``"features"``
      (the extractor's features; such a metric compares them with the real samples'
      features, installed by ``set_real``, and also runs per class), ``"logits"`` (the
      extractor's logits), ``"class_logits"`` (the classifier's logits), ``"points"`` (the
      samples, flattened) or ``"model"`` (nothing: the metric reads the generator itself,
      ``context.model``; ``update`` is never called).
    - ``real_inputs``: what else it needs of the real data (``REAL_INPUTS``), each installed by
      ``set_real_input(name, values)`` before the first ``update``: ``"logits"`` (the extractor's
      logits of the evaluation's real samples), ``"samples"`` (those samples themselves) or
      ``"train_features"`` (the extractor's features of the training split).
    - ``record_outputs``: the outputs that are records, not numbers (a string, a dict): printed by
      ``gan-lightning evaluate``, neither logged by ``MetricsCallback`` nor averaged per class.
    - ``options``: option name -> default; the names are shared by every metric, so they start
      with the metric's name (``kid_subsets``). Values come from ``EvaluationSettings.metric_options``.
    - ``data_kinds``: the samples it applies to (``"images"``, ``"points"``).
    - ``reads_data``: its options come from the real data module (``options_from_data``), so
      the real data is needed even without feature metrics.
    - ``reports_num_samples``: ``gan-lightning evaluate`` prints ``num_samples`` beside its values.

    and implements ``__init__(context)``, ``update(values)`` and ``compute(num_generated)``
    (on every rank: torchmetrics gathers the states; returns ``{output: value}``).
    """

    kind: ClassVar[str] = "feature"
    takes: ClassVar[str]
    options: ClassVar[Mapping[str, Any]] = {}
    data_kinds: ClassVar[tuple[str, ...]] = DATA_KINDS
    reads_data: ClassVar[bool] = False
    reports_num_samples: ClassVar[bool] = True
    real_inputs: ClassVar[tuple[str, ...]] = ()
    record_outputs: ClassVar[tuple[str, ...]] = ()

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
        """Install the real side (metrics that take features); the others ignore it."""

    def set_real_input(self, name: str, values: Tensor) -> None:
        """Install one of ``real_inputs`` (every rank gets all of it: a reference, not a state to gather)."""
        raise NotImplementedError(f"metric {self.name!r} declares real input {name!r} but does not take it")

    def update(self, values: Tensor) -> None:
        raise NotImplementedError

    def compute(self, num_generated: int) -> dict[str, Any]:
        """``{output: value}``; ``num_generated`` counts the generated samples over all ranks."""
        raise NotImplementedError


class PairedMetric(RegisteredMetric):
    """A *paired* metric: built without arguments, ``update(output, target)`` per batch (both images in
    [-1, 1], the same shape), ``compute() -> {output: value}``.

    A metric with ``compares = "labels"`` judges each output against its *input's* labels instead of a
    target image (FCN-score): it is built with ``judge`` (a segmenter or a classifier, see
    ``fcn.py``) and ``update(output, labels)`` receives the input's label maps ``(N, H, W)`` or class
    labels ``(N,)``.
    """

    kind: ClassVar[str] = "paired"
    compares: ClassVar[str] = "target"  # or "labels"

    def update(self, output: Tensor, target: Tensor) -> None:
        raise NotImplementedError

    def compute(self) -> dict[str, Any]:
        raise NotImplementedError


class SegmentationMetric(RegisteredMetric):
    """A *segmentation* metric: built with ``num_classes``, ``update(predicted, target)`` per batch (integer
    label maps of the same shape), ``compute() -> {output: value}``."""

    kind: ClassVar[str] = "segmentation"

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.num_classes = int(num_classes)

    def update(self, predicted: Tensor, target: Tensor) -> None:
        raise NotImplementedError

    def compute(self) -> dict[str, Any]:
        raise NotImplementedError


KIND_BASES: dict[str, type[RegisteredMetric]] = {
    "feature": EvalMetric, "paired": PairedMetric, "segmentation": SegmentationMetric,
}


def checked_option(options: Mapping[str, Any], key: str, valid: Callable[[Any], bool], accepted: str) -> Any:
    """``options[key]`` when ``valid`` accepts it, else one ``ValueError`` line naming the key, its value and
    what is accepted (``valid`` raising counts as refusing)."""
    value = options[key]
    try:
        ok = bool(valid(value))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"metric option {key}={value!r} is not accepted: {accepted}")
    return value


def scalar_result(value: float, device: torch.device) -> Tensor:
    """A torchmetrics ``compute()`` result: a 0-d float64 tensor (float32 on MPS, which has no float64)."""
    dtype = torch.float32 if device.type == "mps" else torch.float64
    return torch.tensor(value, dtype=dtype, device=device)


# name -> class, every kind, in registration order (the order error messages list them in)
METRICS: dict[str, type[RegisteredMetric]] = {}


def register_metric(cls: type[RegisteredMetric]) -> type[RegisteredMetric]:
    """Class decorator: make ``cls`` usable by its ``name`` (and ``aliases``) everywhere metrics are named."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name or name != name.strip().lower() or "," in name:
        raise ValueError(f"{cls.__name__}.name must be a non-empty lower-case name without commas, got {name!r}")
    if not getattr(cls, "outputs", None):
        raise ValueError(f"metric {name!r}: outputs must name at least one result key")
    kind = getattr(cls, "kind", None)
    if kind not in KINDS or not issubclass(cls, KIND_BASES[kind]):
        raise ValueError(f"metric {name!r}: must subclass one of {', '.join(b.__name__ for b in KIND_BASES.values())} "
                         f"(kinds {', '.join(KINDS)}), got kind {kind!r}")
    if kind == "feature":
        if getattr(cls, "takes", None) not in INPUTS:
            raise ValueError(f"metric {name!r}: takes must be one of {', '.join(INPUTS)}, got {getattr(cls, 'takes', None)!r}")
        if not set(cls.data_kinds) <= set(DATA_KINDS):
            raise ValueError(f"metric {name!r}: data_kinds must be among {', '.join(DATA_KINDS)}, got {cls.data_kinds}")
        if not set(cls.real_inputs) <= set(REAL_INPUTS):
            raise ValueError(f"metric {name!r}: real_inputs must be among {', '.join(REAL_INPUTS)}, got {cls.real_inputs}")
        if not set(cls.record_outputs) <= set(cls.outputs):
            raise ValueError(f"metric {name!r}: record_outputs must be among its outputs, got {cls.record_outputs}")
    if kind == "paired" and cls.compares not in ("target", "labels"):
        raise ValueError(f"metric {name!r}: compares must be 'target' or 'labels', got {cls.compares!r}")
    taken = {alias: other for other, known in METRICS.items() for alias in (other, *known.aliases)}
    for alias in (name, *cls.aliases):
        if alias in taken:
            raise ValueError(f"metric name {alias!r} is already registered (metric {taken[alias]!r})")
    for option in getattr(cls, "options", {}):
        for other, known in METRICS.items():
            if option in getattr(known, "options", {}):
                raise ValueError(f"metric {name!r}: option {option!r} is already an option of metric {other!r}")
    METRICS[name] = cls
    return cls


def _kinds(kinds: str | Iterable[str] | None) -> tuple[str, ...]:
    if kinds is None:
        return KINDS
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        raise ValueError(f"unknown metric kind(s) {', '.join(map(repr, unknown))}; kinds: {', '.join(KINDS)}")
    return kinds


def known_metrics(kinds: str | Iterable[str] | None = None) -> dict[str, type[RegisteredMetric]]:
    """The registered metrics of ``kinds`` (default: every kind), by name, in registration order."""
    kinds = _kinds(kinds)
    return {name: cls for name, cls in METRICS.items() if cls.kind in kinds}


def metric_class(name: str) -> type[RegisteredMetric] | None:
    """The metric registered under ``name`` or one of its aliases (any case, any kind), or ``None``."""
    name = name.strip().lower()
    if name in METRICS:
        return METRICS[name]
    for cls in METRICS.values():
        if name in cls.aliases:
            return cls
    return None


def parse_metrics(metrics: str | Iterable[str], kinds: str | Iterable[str] | None = "feature") -> list[str]:
    """``"fid,kid"`` or ``["fid", "kid"]`` -> registered names in the order given, without repeats.

    Only metrics of ``kinds`` are accepted (default ``"feature"``, what ``evaluate_generator`` computes;
    ``None``: every kind); any other name raises one ``ValueError`` that lists the known ones.
    """
    kinds = _kinds(kinds)
    known = ", ".join(known_metrics(kinds))
    # "unknown metric" where feature metrics are computed; "unknown paired metric" where only those are
    what = "metric" if "feature" in kinds or len(kinds) > 1 else f"{kinds[0]} metric"
    parts = metrics.split(",") if isinstance(metrics, str) else list(metrics)
    names: list[str] = []
    for part in parts:
        if not str(part).strip():
            continue
        cls = metric_class(str(part))
        if cls is None:
            raise ValueError(f"unknown {what} {str(part).strip()!r}; known {what}s: {known}")
        if cls.kind not in kinds:
            raise ValueError(f"unknown {what} {str(part).strip()!r} ({cls.name!r} is a {cls.kind} metric); "
                             f"known {what}s: {known}")
        if cls.name not in names:
            names.append(cls.name)
    if not names:
        raise ValueError(f"no {what} given; known {what}s: {known}")
    return names


def _classes(metrics: str | Iterable[str]) -> list[type[RegisteredMetric]]:
    return [METRICS[name] for name in parse_metrics(metrics, kinds=None)]


def _feature_classes(metrics: str | Iterable[str]) -> list[type[EvalMetric]]:
    return [cls for cls in _classes(metrics) if cls.kind == "feature"]


def feature_metrics(metrics: str | Iterable[str]) -> list[str]:
    """The metrics among ``metrics`` that compare the samples' features with the real samples' features
    (``takes == "features"``: fid, kid, pr, 1nn, mmd, wasserstein, parzen, birthday, memorization)."""
    return [cls.name for cls in _feature_classes(metrics) if cls.takes == "features"]


def needs_extractor(metrics: str | Iterable[str]) -> bool:
    return any(cls.takes in ("features", "logits") for cls in _feature_classes(metrics))


def needs_classifier(metrics: str | Iterable[str]) -> bool:
    return any(cls.takes == "class_logits" for cls in _feature_classes(metrics))


def class_metrics(metrics: str | Iterable[str]) -> list[str]:
    """The feature metrics computed once per class (``per_class``): those that take features and need
    nothing else of the real data (fid, kid, pr, 1nn, mmd, wasserstein, parzen, birthday)."""
    return [name for name in feature_metrics(metrics) if not METRICS[name].real_inputs]


def needs_real(metrics: str | Iterable[str]) -> bool:
    """Whether the metrics need the real samples' features."""
    return bool(feature_metrics(metrics))


def real_inputs(metrics: str | Iterable[str]) -> list[str]:
    """What the metrics need of the real data besides its features (``REAL_INPUTS``), in that order."""
    wanted = {name for cls in _feature_classes(metrics) for name in cls.real_inputs}
    return [name for name in REAL_INPUTS if name in wanted]


def needs_samples(metrics: str | Iterable[str]) -> bool:
    """Whether any of the metrics is fed generated samples (all but those that read the model itself)."""
    return any(cls.takes != "model" for cls in _feature_classes(metrics))


def needs_data(metrics: str | Iterable[str]) -> bool:
    """Whether the metrics need the real data at all (its features, the data module's attributes, or the
    pairs of a paired metric)."""
    classes = _classes(metrics)
    return (needs_real(metrics) or bool(real_inputs(metrics)) or any(cls.kind != "feature" for cls in classes)
            or any(cls.reads_data for cls in classes if cls.kind == "feature"))


def option_defaults() -> dict[str, Any]:
    """Every registered feature-metric option with its default."""
    return {option: value for cls in known_metrics("feature").values() for option, value in cls.options.items()}


def options_from_data(metrics: str | Iterable[str], real: Any) -> dict[str, Any]:
    """The options that ``metrics`` read from the real data (``reads_data`` metrics)."""
    options: dict[str, Any] = {}
    for cls in _feature_classes(metrics):
        if cls.reads_data:
            options.update(cls.options_from_data(real))
    return options


def sample_count_notes(metrics: str | Iterable[str], num_real: int, num_generated: int, num_features: int) -> list[str]:
    notes = (cls.sample_count_note(num_real, num_generated, num_features) for cls in _feature_classes(metrics))
    return [note for note in notes if note]


def metric_keys(metrics: str | Iterable[str], numbers_only: bool = False) -> list[str]:
    """The result keys of ``metrics``, in order (``["fid", "kid_mean", "kid_std"]`` for ``"fid,kid"``);
    ``numbers_only``: without the ``record_outputs`` (what a logger or a per-class mean takes)."""
    return [key for cls in _classes(metrics) for key in cls.outputs
            if not (numbers_only and key in getattr(cls, "record_outputs", ()))]


def metric_values(results: Mapping[str, Any], metrics: str | Sequence[str]) -> dict[str, Any]:
    """Only the numbers of ``metrics`` (in their order) from an ``evaluate_generator`` / ``evaluate_pairs`` result."""
    return {key: results[key] for key in metric_keys(metrics)}


class MetricsOfKind(Mapping):
    """A live, read-only ``{name: class}`` view of the registered metrics of one kind
    (``paired.PAIRED_METRICS``): it follows every later ``register_metric``."""

    def __init__(self, kind: str) -> None:
        self.kind = _kinds(kind)[0]

    def __getitem__(self, name: str) -> type[RegisteredMetric]:
        cls = METRICS[name]
        if cls.kind != self.kind:
            raise KeyError(name)
        return cls

    def __iter__(self):
        return iter(known_metrics(self.kind))

    def __len__(self) -> int:
        return len(known_metrics(self.kind))

    def __repr__(self) -> str:
        return f"MetricsOfKind({self.kind!r}: {', '.join(self)})"
