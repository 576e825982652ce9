"""Evaluation, the one package: every metric (one registry), every feature extractor, and the one code
path behind ``MetricsCallback`` and ``gan-lightning evaluate``.

``evaluate_generator(model, real, metrics, settings)`` draws ``num_samples`` samples with
``model.sample`` (the EMA generator by default, always in eval mode, noise from a
seeded ``torch.Generator``), passes them through one feature extractor and returns a
dict with the numbers and what they depend on::

    {"fid": ..., "kid_mean": ..., "num_samples": 5000, "num_real": 500, "feature_extractor": "digits",
     "ema": True, "generator_mode": "eval", "real_split": "heldout", "real_cache": "hit", ...}

Where things live:

- ``registry.py``: the one registry (``register_metric``) of every metric, with its kind: *feature*
  metrics of a generator's samples (``EvalMetric``), *paired* metrics of an output against its target
  (``PairedMetric``) and *segmentation* metrics of label maps (``SegmentationMetric``).
  ``parse_metrics`` takes ``"fid,kid"`` and the kinds a caller computes.
- The metrics, each registered beside its code: ``fid.py`` (fid: the Fréchet distance, the statistics
  and the metric, FID's whole path), ``distribution.py`` (kid, is, pr, 1nn), ``coverage.py`` (classes,
  modes; Stacked MNIST modes), ``mmd.py`` (mmd: Gaussian-kernel MMD), ``mode_score.py`` (mode_score),
  ``wasserstein.py`` (wasserstein: exact or sliced), ``parzen.py`` (parzen: KDE log-likelihood),
  ``ais.py`` (ais: AIS log-likelihood of the generator), ``birthday.py`` (birthday: support estimate),
  ``memorization.py`` (memorization: nearest training samples), ``paired.py`` (psnr, ssim, lpips;
  ``evaluate_pairs``), ``segmentation.py`` (miou; the judge segmenter) and ``fcn.py`` (fcn: pix2pix's
  FCN-score, a paired metric judged against the inputs' labels).
- ``extractors.py``: every feature extractor (Inception, the digits LeNet, saved modules), by name;
  ``digits.py``: the digits LeNet, its cached file and its training on MNIST5k; ``captioned.py``: the
  judges of CaptionedDigits (``CaptionJudges``: digit, attributes, ink box, R-precision); the only
  evaluation code that reads data sets.
- ``suite.py``: ``GeneratorMetrics``, one evaluation's feature-metric objects fed batch by batch.
- ``settings.py``: ``EvaluationSettings``; ``evaluator.py``: ``evaluate_generator``.
- ``real.py``: the real samples and their features; ``cache.py``: the real-statistics cache.
- ``generation.py``: seeded batches of ``model.sample``; ``per_class.py``: class-conditional metrics.
- ``distributed.py``: ranks' shares and seeds under DDP.

``gan_lightning.metrics`` is kept for old imports only: it re-exports names from here.

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

# The metrics register in import order, the order ``known_metrics`` and error messages list them in.
from gan_lightning.evaluation.registry import (
    KINDS,
    REAL_INPUTS,
    EvalMetric,
    MetricContext,
    MetricsOfKind,
    PairedMetric,
    RegisteredMetric,
    SegmentationMetric,
    class_metrics,
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
    real_inputs,
    register_metric,
)
from gan_lightning.evaluation.fid import (  # fid
    FID_UPDATE_ROWS,
    FrechetDistance,
    feature_statistics,
    frechet_distance,
    running_statistics,
)
from gan_lightning.evaluation.distribution import (  # kid, is, pr, 1nn
    OneNNAccuracy,
    PrecisionRecall,
    one_nn_accuracy,
    precision_recall,
)
from gan_lightning.evaluation.coverage import ClassCoverage, ModeCoverage2D, StackedModes  # classes, modes
from gan_lightning.evaluation.mmd import GaussianMMD, gaussian_mmd, median_heuristic  # mmd
from gan_lightning.evaluation.mode_score import ModeScoreSums, mode_score  # mode_score
from gan_lightning.evaluation.wasserstein import (  # wasserstein
    FeatureWasserstein,
    exact_wasserstein,
    feature_wasserstein,
    sliced_wasserstein,
    wasserstein_1d,
)
from gan_lightning.evaluation.parzen import ParzenWindow, parzen_log_likelihoods, parzen_window  # parzen
from gan_lightning.evaluation.ais import AISLogLikelihood, ais_log_likelihood, annealing_schedule  # ais
from gan_lightning.evaluation.birthday import BirthdayParadox, birthday_paradox, duplicate_rates  # birthday
from gan_lightning.evaluation.memorization import NearestTrainingDistances, memorization_scores  # memorization
from gan_lightning.evaluation.paired import (  # psnr, ssim, lpips
    PAIRED_METRICS,
    evaluate_pairs,
    evaluate_translations,
    psnr,
    ssim,
)
from gan_lightning.evaluation.segmentation import (  # miou
    MeanIoU,
    TinySegmenter,
    fit_segmenter,
    mean_iou,
    segmentation_scores,
)
from gan_lightning.evaluation.fcn import FCNScore, default_judge, fcn_real_scores, fcn_scores  # fcn
from gan_lightning.evaluation.extractors import (
    INCEPTION_WEIGHTS_FILENAME,
    ClassifierLogits,
    InceptionExtractor,
    MissingWeightsError,
    ModuleExtractor,
    build_extractor,
    default_cache_dir,
    extract_features,
    extract_logits,
    extractor_identity,
    extractor_name,
    inception_cache_path,
    resolve_extractor,
    resolve_inception_weights,
    resolve_local_weights,
    to_uint8_images,
)
from gan_lightning.evaluation.digits import (
    DIGITS_CLASSIFIER_FORMAT,
    DigitsClassifier,
    default_digits_classifier_path,
    evaluate_classifier,
    fit_digits_classifier,
    load_digits_classifier,
    to_digit_images,
    train_digits_classifier,
)
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
from gan_lightning.evaluation.generation import balanced_labels, generated_batches, is_class_conditional
from gan_lightning.evaluation.per_class import per_class_keys, per_class_metrics, real_by_class, source_labels
from gan_lightning.evaluation.real import real_features, real_input, real_samples
from gan_lightning.evaluation.settings import EvaluationSettings
from gan_lightning.evaluation.suite import GeneratorMetrics

__all__ = [
    # the registry
    "KINDS", "REAL_INPUTS", "EvalMetric", "MetricContext", "MetricsOfKind", "PairedMetric", "RegisteredMetric",
    "SegmentationMetric", "class_metrics", "feature_metrics", "known_metrics", "metric_class", "metric_keys",
    "metric_values", "needs_classifier", "needs_data", "needs_extractor", "needs_real", "parse_metrics", "real_inputs",
    "register_metric",
    # the metrics
    "FID_UPDATE_ROWS", "FrechetDistance", "feature_statistics", "frechet_distance", "running_statistics",
    "OneNNAccuracy", "PrecisionRecall", "one_nn_accuracy", "precision_recall",
    "ClassCoverage", "ModeCoverage2D", "StackedModes",
    "PAIRED_METRICS", "evaluate_pairs", "evaluate_translations", "psnr", "ssim",
    "MeanIoU", "TinySegmenter", "fit_segmenter", "mean_iou", "segmentation_scores",
    "GaussianMMD", "gaussian_mmd", "median_heuristic", "ModeScoreSums", "mode_score", "FeatureWasserstein",
    "exact_wasserstein", "feature_wasserstein", "sliced_wasserstein", "wasserstein_1d", "ParzenWindow",
    "parzen_log_likelihoods", "parzen_window", "AISLogLikelihood", "ais_log_likelihood", "annealing_schedule",
    "BirthdayParadox", "birthday_paradox", "duplicate_rates", "NearestTrainingDistances", "memorization_scores",
    "FCNScore", "default_judge", "fcn_real_scores", "fcn_scores",
    # the feature extractors
    "DIGITS_CLASSIFIER_FORMAT", "INCEPTION_WEIGHTS_FILENAME", "ClassifierLogits", "DigitsClassifier",
    "InceptionExtractor", "MissingWeightsError", "ModuleExtractor", "build_extractor", "default_cache_dir",
    "default_digits_classifier_path", "extract_features", "extract_logits", "extractor_identity", "extractor_name", "inception_cache_path",
    "load_digits_classifier", "resolve_extractor", "resolve_inception_weights", "resolve_local_weights",
    "to_digit_images", "to_uint8_images", "evaluate_classifier", "fit_digits_classifier", "train_digits_classifier",
    # evaluating a generator
    "CACHE_FORMAT", "IGNORED_DATA_ARGS", "REAL_SUBSET_SEED", "RealFeatures", "data_identity", "load_real_cache",
    "real_cache_key", "real_cache_path", "save_real_cache", "RANK_SEED_STRIDE", "distributed_rank_and_size",
    "rank_seed", "rank_share", "evaluate_generator", "balanced_labels", "generated_batches", "is_class_conditional",
    "per_class_keys", "per_class_metrics", "real_by_class", "source_labels", "real_features", "real_input",
    "real_samples", "EvaluationSettings", "GeneratorMetrics",
]
