"""Sample-quality metrics during training (FID, KID, IS, precision/recall, ...), logged as ``metrics/<name>``.

The numbers come from ``gan_lightning.evaluation.evaluate_generator``, the code path of
``gan-lightning evaluate``, so a value logged during training and one computed offline
from the checkpoint agree (same extractor, sample count, seed and cached real side).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_info

from gan_lightning.evaluation import (
    EvaluationSettings,
    evaluate_generator,
    is_class_conditional,
    metric_keys,
    needs_extractor,
    parse_metrics,
    per_class_keys,
    resolve_extractor,
)


class MetricsCallback(L.Callback):
    """Every ``every_n_steps`` iterations and at the end of fit, evaluate the generator.

    ``num_samples`` samples (the EMA generator when there is one, eval mode, fixed noise
    seeded by ``seed``) against the data module's held-out split (its training split when
    it has none), ``num_real`` real samples (default ``num_samples``) whose features are
    cached on disk. The results are logged to every logger (W&B included) as
    ``metrics/fid``, ``metrics/kid_mean``, ... at the current iteration, and appear in
    ``trainer.callback_metrics``; ``last_results`` keeps the full record (sample counts,
    extractor, EMA, generator mode).

    Under DDP every rank generates its share of the samples with its own noise stream and
    computes: torchmetrics gathers the states, every rank gets the same numbers. Metric
    objects live only during an evaluation and the extractor lives in the callback, so
    neither ends up in the model's checkpoint.

    Args:
        metrics: registered metric names (``fid, kid, is, pr, 1nn, classes, modes, mmd, mode_score,
            wasserstein, parzen, ais, birthday, memorization`` and any added with ``register_metric``),
            a list or ``"fid,kid"``. Their numbers are logged; records (``wasserstein_method``,
            ``birthday_rates``) stay in ``last_results`` and ``metrics.jsonl`` (strings).
        every_n_steps: evaluate when ``trainer.global_step`` (iterations) is a multiple of this.
        num_samples: generated samples per evaluation (over all ranks).
        feature_extractor: ``digits`` (default; MNIST-like data), ``inception``, ``none``
            (the samples are the features: 2-D toy data) or the path of a saved module.
        weights: weights file of the extractor (Inception weights, digits classifier).
        use_ema: sample from the EMA generator when the model has one.
        batch_size: generation / extraction batch size.
        num_real: real samples (default ``num_samples``, capped at the split's size).
        real_split: ``heldout`` or ``train``.
        seed: noise seed; the same noise at every evaluation, so values track the model only.
        cache_dir: folder of the real-statistics cache (default ``$GAN_LIGHTNING_CACHE/real_stats``).
        evaluate_at_end: also evaluate in ``on_train_end`` (unless the last iteration just did).
        evaluate_at_start: also evaluate before the first iteration (the untrained generator).
        per_class: class-conditional models: also compute the feature metrics (fid, kid, pr, 1nn)
            per class, G's samples of label c against the real samples of class c, logged as
            ``metrics/fid_class_<c>`` ... and ``metrics/fid_class_mean`` (see ``gan_lightning.evaluation``).
    """

    def __init__(
        self,
        metrics: list[str] | str = "fid",
        every_n_steps: int = 1000,
        num_samples: int = 1000,
        feature_extractor: str | None = "digits",
        weights: str | None = None,
        use_ema: bool = True,
        batch_size: int = 100,
        num_real: int | None = None,
        real_split: str = "heldout",
        seed: int = 0,
        cache_dir: str | None = None,
        evaluate_at_end: bool = True,
        evaluate_at_start: bool = False,
        per_class: bool = False,
    ) -> None:
        if every_n_steps < 1:
            raise ValueError(f"{type(self).__name__}.every_n_steps must be >= 1, got {every_n_steps}")
        self.metrics = parse_metrics(metrics)
        self.every_n_steps = every_n_steps
        self.num_samples = num_samples
        self.feature_extractor = feature_extractor
        self.weights = weights
        self.use_ema = use_ema
        self.batch_size = batch_size
        self.num_real = num_real
        self.real_split = real_split
        self.seed = seed
        self.cache_dir = cache_dir
        self.evaluate_at_end = evaluate_at_end
        self.evaluate_at_start = evaluate_at_start
        self.per_class = per_class
        self.last_results: dict[str, Any] | None = None
        self._extractor = None
        self._last_step: int | None = None

    # ------------------------------------------------------------------ hooks
    def setup(self, trainer, pl_module, stage: str) -> None:
        # Built here so a missing weights file stops the run before training, not after N steps.
        if stage == "fit":
            if self.per_class and not is_class_conditional(pl_module):
                raise ValueError(f"{type(self).__name__}(per_class=True) needs a class-conditional model; "
                                 f"{type(pl_module).__name__} is not")
            self._build_extractor(pl_module)

    def _build_extractor(self, pl_module):
        if self._extractor is None and needs_extractor(self.metrics):
            if len(getattr(pl_module, "data_shape", (1, 1, 1))) == 1 and self.feature_extractor in ("digits", "inception"):
                raise ValueError(
                    f"{type(self).__name__}: feature_extractor {self.feature_extractor!r} needs images; "
                    "use feature_extractor: none for 2-D data"
                )
            self._extractor = resolve_extractor(self.feature_extractor, self.weights)
        return self._extractor

    def on_train_start(self, trainer, pl_module) -> None:
        if self.evaluate_at_start and trainer.global_step != self._last_step:
            self.evaluate(trainer, pl_module, inside_step=False)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step % self.every_n_steps == 0 and trainer.global_step != self._last_step:
            self.evaluate(trainer, pl_module, inside_step=True)

    def on_train_end(self, trainer, pl_module) -> None:
        if self.evaluate_at_end and trainer.global_step != self._last_step:
            self.evaluate(trainer, pl_module, inside_step=False)

    # ------------------------------------------------------------------ work
    def evaluate(self, trainer, pl_module, inside_step: bool = False) -> dict[str, float]:
        """Compute on every rank (never only on rank 0: the metric states are gathered), then log."""
        datamodule = trainer.datamodule
        if datamodule is None:
            raise RuntimeError(f"{type(self).__name__} needs a data module (trainer.fit(model, datamodule=...))")
        settings = EvaluationSettings(
            num_samples=self.num_samples,
            extractor=self._build_extractor(pl_module),
            batch_size=self.batch_size,
            use_ema=self.use_ema,
            seed=self.seed,
            cache_dir=self.cache_dir,
            progress=False,
            num_real=self.num_real,
            real_split=self.real_split,
            device=pl_module.device,
            per_class=self.per_class,
        )
        results = evaluate_generator(pl_module, datamodule, self.metrics, settings)
        self._last_step = trainer.global_step
        self.last_results = results
        keys = metric_keys(self.metrics, numbers_only=True)  # records (wasserstein_method, ...) stay in last_results
        if self.per_class:
            keys += per_class_keys(self.metrics, int(pl_module.num_classes))
        values = {f"metrics/{key}": float(results[key]) for key in keys}
        self._log(trainer, pl_module, values, inside_step)
        shown = ", ".join(f"{k.split('/', 1)[1]} {v:.4g}" for k, v in values.items())
        rank_zero_info(
            f"iteration {trainer.global_step}: {shown} ({results['num_samples']} generated vs "
            f"{results['num_real']} real, extractor {results['feature_extractor']}, ema {results['ema']})"
        )
        return values

    def _log(self, trainer, pl_module, values: dict[str, float], inside_step: bool) -> None:
        # Loggers get the numbers directly at this iteration (not only when log_every_n_steps
        # happens to line up); self.log puts them in callback_metrics for checkpoint monitors.
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.log_metrics(values, step=trainer.global_step)
            # A plain-file record beside the checkpoints, whatever the logger: one JSON line per evaluation.
            record = {"iteration": trainer.global_step, **{k: v for k, v in (self.last_results or {}).items()
                                                            if isinstance(v, (int, float, str, bool))}}
            path = Path(trainer.default_root_dir) / "metrics.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a") as handle:
                handle.write(json.dumps(record) + "\n")
        if inside_step:
            for key, value in values.items():
                pl_module.log(key, value, logger=False, on_step=True, on_epoch=False, batch_size=1)
        else:  # self.log is not allowed in on_train_end
            trainer.callback_metrics.update(
                {key: torch.tensor(value if math.isfinite(value) else float("nan")) for key, value in values.items()}
            )


class FIDCallback(MetricsCallback):
    """``MetricsCallback`` for FID alone (with the digits classifier's features by default)."""

    def __init__(self, every_n_steps: int = 1000, num_samples: int = 1000, feature_extractor: str | None = "digits",
                 weights: str | None = None, use_ema: bool = True, batch_size: int = 100, **kwargs: Any) -> None:
        super().__init__(["fid"], every_n_steps, num_samples, feature_extractor, weights, use_ema, batch_size, **kwargs)


class KIDCallback(MetricsCallback):
    """``MetricsCallback`` for the kernel inception distance (``metrics/kid_mean``, ``metrics/kid_std``)."""

    def __init__(self, every_n_steps: int = 1000, num_samples: int = 1000, feature_extractor: str | None = "digits",
                 weights: str | None = None, use_ema: bool = True, batch_size: int = 100, **kwargs: Any) -> None:
        super().__init__(["kid"], every_n_steps, num_samples, feature_extractor, weights, use_ema, batch_size, **kwargs)


class ISCallback(MetricsCallback):
    """``MetricsCallback`` for the inception score (``metrics/is_mean``, ``metrics/is_std``)."""

    def __init__(self, every_n_steps: int = 1000, num_samples: int = 1000, feature_extractor: str | None = "digits",
                 weights: str | None = None, use_ema: bool = True, batch_size: int = 100, **kwargs: Any) -> None:
        super().__init__(["is"], every_n_steps, num_samples, feature_extractor, weights, use_ema, batch_size, **kwargs)


class PrecisionRecallCallback(MetricsCallback):
    """``MetricsCallback`` for improved precision and recall (``metrics/precision``, ``metrics/recall``)."""

    def __init__(self, every_n_steps: int = 1000, num_samples: int = 1000, feature_extractor: str | None = "digits",
                 weights: str | None = None, use_ema: bool = True, batch_size: int = 100, **kwargs: Any) -> None:
        super().__init__(["pr"], every_n_steps, num_samples, feature_extractor, weights, use_ema, batch_size, **kwargs)
