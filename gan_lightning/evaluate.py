"""``gan-lightning evaluate``: metrics of a checkpoint's generator, printed as one JSON line.

    gan-lightning evaluate --ckpt_path PATH --metrics fid,kid,is,pr [--num_samples N]
                           [--feature_extractor inception|digits|none|PATH] [--weights PATH]
    gan-lightning evaluate --ckpt_path PATH --metrics psnr,ssim [--num_samples N]   # image-to-image models

``--metrics`` takes the feature and paired metrics of the one registry
(``gan_lightning.evaluation.registry``): fid, kid, is, pr, 1nn, classes, modes, mmd, mode_score,
wasserstein, parzen, ais, birthday, memorization; paired: psnr, ssim, lpips, fcn. Their options
(``kid_subsets``, ``ais_sigma``, ``birthday_batch_sizes``, ...) are set with ``--metric_option
KEY=VALUE`` (repeatable, values read as YAML); memorization's training samples with ``--num_train``. Feature metrics come from
``gan_lightning.evaluation.evaluate_generator``, the code path of ``MetricsCallback``;
paired metrics (an image-to-image model's output against its target, on the held-out pairs
of its data) from ``gan_lightning.evaluation.evaluate_translations``. Progress bars and
notes go to stderr; the last stdout line is the JSON object: the keys of the metrics
asked for plus ``num_samples`` (``num_pairs`` for paired metrics; ``--metrics modes``
alone prints ``{"modes", "high_quality", "reverse_kl"}``).
Infinite values (``reverse_kl`` when no sample lands near a mode) are written
``Infinity``, as Python's ``json`` does.

Defaults:
  --num_samples 5000: a CPU-affordable count; FID depends on it (papers use 10k-50k:
      pass the count you compare against). Paired metrics: at most this many held-out pairs.
  --feature_extractor: ``inception`` for image models (the INTERFACE default; its weights
      must be on disk), ``none`` for 2-D models (the points are the features).
  real data: ``--data_config FILE`` (the data section of an experiment YAML or of a run's
      saved ``config.yaml``), else ``--data NAME``, else the ``config.yaml`` of the run the
      checkpoint belongs to (``<root>/config.yaml`` next to ``<root>/checkpoints/``), else
      MNIST5k at the model's image size / channels, or ``Toy2D --toy_kind`` for 2-D models.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from gan_lightning import options
from gan_lightning.data import known_data_modules
from gan_lightning.errors import UsageError
from gan_lightning.evaluation import (
    EvaluationSettings,
    evaluate_generator,
    evaluate_translations,
    known_metrics,
    metric_class,
    metric_values,
    needs_data,
    needs_extractor,
    parse_metrics,
    per_class_keys,
    resolve_extractor,
)

DEFAULT_NUM_SAMPLES = 5000
#: The kinds of registered metric this command computes (segmentation metrics need a judge segmenter).
COMMAND_KINDS = ("feature", "paired")
DATA_KIND_MODELS = {"points": "2-D models (Toy2D data)", "images": "image models"}


def build_parser() -> argparse.ArgumentParser:
    parser = options.Parser(
        prog="gan-lightning evaluate",
        description="Evaluate a checkpoint's generator; the last stdout line is a JSON object.",
    )
    parser.add_argument("--ckpt_path", required=True, help="a checkpoint written by `gan-lightning fit`")
    parser.add_argument("--metrics", default="fid",
                        help=f"comma-separated: {', '.join(known_metrics(COMMAND_KINDS))} (paired metrics: "
                             f"{', '.join(known_metrics('paired'))}, for image-to-image models)")
    parser.add_argument("--num_samples", type=int, default=DEFAULT_NUM_SAMPLES,
                        help="generated samples (default 5000); paired metrics: at most this many held-out pairs")
    parser.add_argument(
        "--feature_extractor", default=None,
        help="inception (default for images), digits (MNIST-like data), none (default for 2-D data), or a saved module's path",
    )
    parser.add_argument("--weights", default=None, help="weights file of the extractor (Inception weights, digits classifier)")
    parser.add_argument("--batch_size", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0, help="noise seed of the generated samples")
    parser.add_argument("--no_ema", action="store_true", help="use the raw generator, not its EMA copy")
    parser.add_argument("--data", default=None, help="real data: a data module class name (MNIST5k, Toy2D, CIFAR10, ...)")
    parser.add_argument("--data_config", default=None, help="YAML file whose `data` section (class_path, init_args) is the real data")
    parser.add_argument("--toy_kind", default="ring8", choices=("ring8", "grid25"), help="Toy2D mixture for 2-D models")
    parser.add_argument("--num_real", type=int, default=None, help="real samples (default: --num_samples, capped at the split)")
    parser.add_argument("--num_train", type=int, default=None,
                        help="training samples of the metrics that compare with the training split (memorization; default all)")
    parser.add_argument("--metric_option", action="append", default=[], metavar="KEY=VALUE",
                        help="an option of a metric, repeatable: --metric_option ais_sigma=0.2 --metric_option "
                             "wasserstein_method=sliced (values read as YAML: numbers, null, lists [10, 20])")
    parser.add_argument("--real_split", default="heldout", choices=("heldout", "train"))
    parser.add_argument("--cache_dir", default=None, help="real-statistics cache (default $GAN_LIGHTNING_CACHE/real_stats)")
    parser.add_argument("--no_cache", action="store_true", help="neither read nor write the real-statistics cache")
    parser.add_argument("--device", default="auto", help="auto (an accelerator when there is one), cpu, cuda, cuda:1, mps, ...")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--per_class", action="store_true",
                        help="class-conditional models: also the feature metrics per class (fid_class_0, ..., "
                             "fid_class_mean): samples of label c vs the real samples of class c")
    return parser


def data_class(name: str):
    known = known_data_modules()
    short = name.rsplit(".", 1)[-1]
    if "." in name:
        module_name, _, class_name = name.rpartition(".")
        try:
            return getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError):
            if short not in known:
                raise UsageError(f"cannot import data module {name!r}; known data modules: {', '.join(known)}") from None
    if short not in known:
        raise UsageError(f"unknown data module {name!r}; known data modules: {', '.join(known)}")
    return known[short]


def data_from_config(path: Path) -> Any:
    import yaml

    try:
        content = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise UsageError(f"cannot read data config {path}: {error}") from error
    section = content.get("data") if isinstance(content, dict) else None
    if isinstance(section, str):
        section = {"class_path": section}
    if not isinstance(section, dict) or not section.get("class_path"):
        raise UsageError(f"{path} has no `data` section with a class_path")
    cls = data_class(section["class_path"])
    init_args = section.get("init_args") or {}
    try:
        return cls(**init_args)
    except (TypeError, ValueError) as error:
        raise UsageError(f"the data section of {path} does not build {cls.__name__}: {error}") from error


def run_config(ckpt_path: Path) -> Path | None:
    """The ``config.yaml`` LightningCLI saved for the run of this checkpoint, when there is one with data."""
    for folder in (ckpt_path.parent, ckpt_path.parent.parent):
        candidate = folder / "config.yaml"
        if candidate.is_file():
            return candidate
    return None


def _default_data(args: argparse.Namespace, data_shape: tuple[int, ...]) -> tuple[Any, str]:
    from gan_lightning.data import MNIST5k, Toy2D

    if len(data_shape) == 1:
        return Toy2D(kind=args.toy_kind), f"default for 2-D models, --toy_kind {args.toy_kind}"
    return MNIST5k(image_size=data_shape[-1], channels=data_shape[0]), "default for image models"


def resolve_data(args: argparse.Namespace, data_shape: tuple[int, ...]) -> Any:
    """The real-data module: --data_config, --data, the run's config.yaml, or a default from the data shape."""
    if args.data_config:
        path = Path(args.data_config)
        if not path.is_file():
            raise UsageError(f"data config not found: {path}")
        data, origin = data_from_config(path), str(path)
    elif args.data:
        cls = data_class(args.data)
        kwargs: dict[str, Any] = {}
        parameters = inspect.signature(cls.__init__).parameters
        if len(data_shape) == 3:
            if "image_size" in parameters:
                kwargs["image_size"] = data_shape[-1]
            if "channels" in parameters:
                kwargs["channels"] = data_shape[0]
        if "kind" in parameters and len(data_shape) == 1:
            kwargs["kind"] = args.toy_kind
        data, origin = cls(**kwargs), "--data"
    else:
        data = None
        config = run_config(Path(args.ckpt_path))
        if config is not None:
            try:
                data, origin = data_from_config(config), f"the run's {config}"
            except UsageError:
                data = None
            if data is not None and tuple(getattr(data, "data_shape", ())) != data_shape:
                data = None  # a config of another run in the same folder
        if data is None:
            data, origin = _default_data(args, data_shape)
    shape = tuple(getattr(data, "data_shape", ()))
    if shape and shape != data_shape:
        raise UsageError(
            f"the real data {type(data).__name__} has samples of shape {shape}, the model generates {data_shape}"
        )
    try:
        data.setup("fit")
    except (RuntimeError, OSError) as error:  # data not on disk, offline download
        raise UsageError(f"cannot load the real data {type(data).__name__}: {error}") from None
    print(f"gan-lightning: real data {type(data).__name__} ({origin})", file=sys.stderr)
    return data


def metric_options(pairs: Sequence[str]) -> dict[str, Any]:
    """``["ais_sigma=0.2", "birthday_batch_sizes=[10, 20]"]`` -> ``{"ais_sigma": 0.2, ...}`` (values as YAML)."""
    import yaml

    from gan_lightning.evaluation.registry import option_defaults

    known = option_defaults()
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--metric_option takes KEY=VALUE, got {pair!r}")
        try:
            options[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise UsageError(f"--metric_option {key.strip()}: cannot read the value {value!r}") from None
        if key.strip() not in known:
            raise UsageError(f"--metric_option: unknown metric option {key.strip()!r}; known options: {', '.join(known)}")
    return options


def _device(name: str):
    import torch

    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def cmd_evaluate(argv: Sequence[str]) -> None:
    args = build_parser().parse_args(list(argv))
    try:
        metrics = parse_metrics(args.metrics, kinds=COMMAND_KINDS)
    except ValueError as error:
        raise UsageError(str(error)) from None
    kinds: dict[str, list[str]] = {}
    for name in metrics:
        kinds.setdefault(metric_class(name).kind, []).append(name)
    if len(kinds) > 1:
        raise UsageError(f"--metrics mixes feature metrics ({','.join(kinds['feature'])}) with paired metrics "
                         f"({','.join(kinds['paired'])}): a model either samples or translates, ask for one kind")
    options.at_least("--num_samples", args.num_samples, 2, "2 or more samples")
    options.at_least("--batch_size", args.batch_size, 1, "a positive batch size")
    options.at_least("--num_real", args.num_real, 2, "2 or more real samples (or leave it out: --num_samples)")
    options.seed("--seed", args.seed)
    options.input_file("--weights", args.weights, "the weights file of the feature extractor")
    options.input_file("--data_config", args.data_config, "a YAML file with a `data` section")
    if args.feature_extractor is not None and not args.feature_extractor.strip():
        raise UsageError("--feature_extractor is empty; give inception, digits, none or a saved module's path")
    if args.cache_dir is not None and not args.no_cache:
        options.output_folder("--cache_dir", args.cache_dir)
    chosen = metric_options(args.metric_option)  # before the model and the data: a typo fails at once

    from gan_lightning.checkpoints import load_model

    device = _device(args.device) if args.device == "auto" else options.device("--device", args.device)
    model = load_model(args.ckpt_path, map_location=device)
    data_shape = tuple(model.data_shape)
    if "paired" in kinds:
        evaluate_paired(args, model, metrics, device)
        return
    points = len(data_shape) == 1
    extractor = args.feature_extractor or ("none" if points else "inception")
    if points and extractor in ("inception", "digits") and needs_extractor(metrics):
        raise UsageError(f"--feature_extractor {extractor} needs images; this model generates {data_shape[0]}-D points")
    kind = "points" if points else "images"
    for name in metrics:
        data_kinds = metric_class(name).data_kinds
        if kind not in data_kinds:
            raise UsageError(f"--metrics {name} is for {DATA_KIND_MODELS[data_kinds[0]]}; "
                             f"this model generates {'2-D points' if points else 'images'}")
    try:  # before the data: a missing weights file is reported at once
        extractor_module = resolve_extractor(extractor, args.weights) if needs_extractor(metrics) else None
    except (FileNotFoundError, ValueError, TypeError, RuntimeError) as error:  # MissingWeightsError, unloadable weights
        raise UsageError(str(error)) from None
    data = resolve_data(args, data_shape) if needs_data(metrics) else None

    settings = EvaluationSettings(
        num_samples=args.num_samples, extractor=extractor_module, weights=args.weights, batch_size=args.batch_size,
        use_ema=not args.no_ema, seed=args.seed, num_real=args.num_real, real_split=args.real_split,
        use_cache=not args.no_cache, cache_dir=args.cache_dir, device=device, per_class=args.per_class,
        progress=not args.quiet, num_train=args.num_train, metric_options=chosen,
    )
    try:
        results = evaluate_generator(model, data, metrics, settings)
    except (FileNotFoundError, ValueError) as error:  # e.g. too few real samples, a bad metric option
        raise UsageError(str(error)) from None

    summary = (
        f"gan-lightning: {results['num_samples']} generated samples ({'EMA' if results['ema'] else 'raw'} "
        f"generator, {results['generator_mode']} mode, seed {results['seed']})"
    )
    if results["num_real"]:
        summary += f" vs {results['num_real']} real ({results['real_split']} split, cache {results['real_cache']})"
    if results["feature_extractor"]:
        summary += f", features: {results['feature_extractor']}"
    print(summary + f", {results['seconds']:.1f} s", file=sys.stderr)

    output = metric_values(results, metrics)
    if args.per_class:
        output.update({key: results[key] for key in per_class_keys(metrics, int(model.num_classes))})
    if any(metric_class(name).reports_num_samples for name in metrics):
        output["num_samples"] = results["num_samples"]
    print(json.dumps(output), flush=True)


def evaluate_paired(args: argparse.Namespace, model: Any, metrics: Sequence[str], device) -> None:
    """Paired metrics of an image-to-image checkpoint on the held-out pairs of its data; prints the JSON line."""
    if not model.translates:
        raise UsageError(f"--metrics {','.join(metrics)}: paired metrics compare each output with its own target; "
                         f"{type(model).__name__} samples from noise (its metrics: "
                         f"{', '.join(known_metrics('feature'))})")
    if args.per_class:
        raise UsageError("--per_class applies to the feature metrics, not to paired ones")
    if args.metric_option:
        raise UsageError("--metric_option applies to the feature metrics, not to paired ones")
    data = resolve_data(args, tuple(model.data_shape))
    try:
        results = evaluate_translations(model, data, metrics, args.num_samples, args.batch_size, args.real_split,
                                        device)
    except (FileNotFoundError, ValueError) as error:  # MissingWeightsError (lpips), data without pairs
        raise UsageError(str(error)) from None
    print(f"gan-lightning: {results['num_pairs']} {results['real_split']} pairs of {type(data).__name__}, "
          f"{type(model).__name__}.translate(input) against the target", file=sys.stderr)
    output = metric_values(results, metrics)
    output["num_pairs"] = results["num_pairs"]
    print(json.dumps(output), flush=True)
