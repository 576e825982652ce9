"""Evaluation: feature extractors, the Fréchet distance and metrics in torchmetrics' shape.

Shared by the training callbacks and the ``evaluate`` command, so both compute
the same numbers the same way.
"""

from gan_lightning.metrics.extractors import (
    INCEPTION_WEIGHTS_FILENAME,
    DigitsClassifier,
    InceptionExtractor,
    MissingWeightsError,
    ModuleExtractor,
    build_extractor,
    default_cache_dir,
    default_digits_classifier_path,
    extract_features,
    extract_logits,
    inception_cache_path,
    load_digits_classifier,
    resolve_inception_weights,
    to_digit_images,
    to_uint8_images,
    train_digits_classifier,
    fit_digits_classifier,
)
from gan_lightning.metrics.segmentation import TinySegmenter, fit_segmenter, mean_iou, segmentation_scores
from gan_lightning.metrics.frechet import feature_statistics, frechet_distance
from gan_lightning.metrics.metrics import (
    ClassCoverage,
    FrechetDistance,
    ModeCoverage2D,
    OneNNAccuracy,
    PrecisionRecall,
    StackedModes,
    one_nn_accuracy,
    precision_recall,
)

__all__ = [
    "INCEPTION_WEIGHTS_FILENAME",
    "ClassCoverage",
    "DigitsClassifier",
    "FrechetDistance",
    "InceptionExtractor",
    "MissingWeightsError",
    "ModeCoverage2D",
    "ModuleExtractor",
    "OneNNAccuracy",
    "PrecisionRecall",
    "StackedModes",
    "build_extractor",
    "default_cache_dir",
    "default_digits_classifier_path",
    "extract_features",
    "extract_logits",
    "feature_statistics",
    "frechet_distance",
    "inception_cache_path",
    "load_digits_classifier",
    "one_nn_accuracy",
    "precision_recall",
    "resolve_inception_weights",
    "to_digit_images",
    "to_uint8_images",
    "train_digits_classifier",
    "fit_digits_classifier",
    "TinySegmenter",
    "fit_segmenter",
    "mean_iou",
    "segmentation_scores",
]
