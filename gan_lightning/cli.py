"""The ``gan-lightning`` command.

``fit``, ``validate``, ``test`` and ``predict`` are LightningCLI's verbs on
``GANModule`` / ``GANDataModule`` subclasses (class names resolve without a
config); ``models``, ``sample`` and ``evaluate`` are ours. Bad input (unknown
model or data names, a model that does not take the data set's samples, values
of the wrong type, missing or corrupt checkpoints) ends with one clear message and
exit status 2, never a bare traceback.

Every LightningCLI verb reads ``gan_lightning/defaults.yaml`` first (trainer, logger
and the default callbacks: sample grids, EMA, divergence guard, checkpoints), then
``--config`` files and the command line; see that file for how to change them.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import logging
import os
import re
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import yaml
from jsonargparse import Namespace
from lightning.pytorch.callbacks import ProgressBar as ProgressBarBase, Checkpoint, ModelCheckpoint
from lightning.pytorch.cli import LightningCLI

from gan_lightning import options
from gan_lightning.checkpoints import CheckpointError, load_model, prepare_run, read_checkpoint
from gan_lightning.data import GANDataModule, known_data_modules
from gan_lightning.errors import INTERRUPTED_STATUS, USAGE_STATUS, UsageError
from gan_lightning.models import GANModule, known_models
from gan_lightning.resume import check_resume
from gan_lightning.tracking import prepare_wandb_environment, start_wandb_runs

if TYPE_CHECKING:
    from gan_lightning.core.protocol import Condition

LIGHTNING_VERBS = ("fit", "validate", "test", "predict")
OUR_VERBS = ("models", "sample", "evaluate", "translate")
#: Read by every LightningCLI verb before ``--config`` files: the settings experiments share.
DEFAULTS_FILE = Path(__file__).resolve().with_name("defaults.yaml")
#: The callbacks every run gets, each set by the top-level config section of its name
#: (values in DEFAULTS_FILE). A callback of the same class in ``trainer.callbacks`` takes the
#: place of the default one; ``--default_callbacks false`` leaves them all out.
DEFAULT_CALLBACKS = {
    "preemption": "gan_lightning.callbacks.PreemptionCheckpoint",
    "ema": "gan_lightning.callbacks.EMACallback",
    "sample_grid": "gan_lightning.callbacks.SampleGridCallback",
    "divergence_guard": "gan_lightning.callbacks.DivergenceGuard",
    "progress_bar": "gan_lightning.callbacks.ProgressBar",
    "checkpoint": "lightning.pytorch.callbacks.ModelCheckpoint",
}
#: The default callbacks that write checkpoints, left out with ``--trainer.enable_checkpointing false``.
SAVING_CALLBACKS = ("preemption", "checkpoint")

USAGE = """usage: gan-lightning VERB [options]

Train, sample and evaluate the GANs of gan-lightning.

verbs:
  fit        train a model:        gan-lightning fit --config experiments/dcgan/mnist5k.yaml
  validate   held-out D scores:    gan-lightning validate --config FILE --ckpt_path PATH
  test       the same on the test split
  predict    LightningCLI's predict verb
  models     list every model with its paper and the data kinds it accepts
  sample     draw a sample grid:   gan-lightning sample --ckpt_path PATH --out grid.png
             (image-to-image models: held-out inputs beside their translations;
             text-conditioned models: --text "a thin blue three on grass" or --texts FILE,
             and GAWWN's --box x0,y0,x1,y1 or --keypoints x,y,...)
  evaluate   compute metrics:      gan-lightning evaluate --ckpt_path PATH --metrics fid,kid
  translate  translate images:     gan-lightning translate --ckpt_path PATH --input DIR_OR_FILE --out DIR
             [--direction AtoB|BtoA] [--attributes 1,0,1,...]
             (image-to-image models; SRGAN upscales, SPADE reads label-map PNGs)

`gan-lightning VERB --help` lists a verb's options.
"""


def _check_class_name(kind: str, name: str, known: dict[str, type]) -> None:
    short = name.rsplit(".", 1)[-1]
    if short not in known:
        label = "data module" if kind == "data" else kind
        raise UsageError(f"unknown {label} {name!r}; known {label}s: {', '.join(known)}")


def _option_values(argv: Sequence[str], option: str) -> list[str]:
    values = []
    for i, arg in enumerate(argv):
        if arg == option and i + 1 < len(argv):
            values.append(argv[i + 1])
        elif arg.startswith(option + "="):
            values.append(arg.split("=", 1)[1])
    return values


def _class_path_in_config(section) -> str | None:
    if isinstance(section, str):
        return section
    if isinstance(section, dict):
        return section.get("class_path")
    return None


def check_lightning_args(argv: Sequence[str]) -> None:
    """Fail early, with the list of known names, on unknown model / data classes and bad checkpoints."""
    models, datas = known_models(), known_data_modules()
    for config in _option_values(argv, "--config") + _option_values(argv, "-c"):
        path = Path(config)
        if not config.strip():
            raise UsageError("--config is empty; give a YAML file (e.g. experiments/dcgan/mnist5k.yaml)")
        if path.is_dir():
            raise UsageError(f"--config {config} is a folder; give a YAML file (e.g. experiments/dcgan/mnist5k.yaml)")
        if not path.is_file():
            raise UsageError(f"config file not found: {config}")
        try:
            content = yaml.safe_load(path.read_text()) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            raise UsageError(f"config file {config} is not valid YAML: {_one_line(error)}") from None
        except OSError as error:
            raise UsageError(f"config file {config} cannot be read ({error.strerror or error})") from None
        if not isinstance(content, dict):
            raise UsageError(f"config file {config} must be a mapping of sections (model, data, trainer)")
        for key, known in (("model", models), ("data", datas)):
            name = _class_path_in_config(content.get(key))
            if name:
                _check_class_name(key, name, known)
    for name in _option_values(argv, "--model"):
        if not name.startswith(("{", "[")) and "=" not in name:
            _check_class_name("model", name, models)
    for name in _option_values(argv, "--data"):
        if not name.startswith(("{", "[")):
            _check_class_name("data", name, datas)
    for ckpt in _option_values(argv, "--ckpt_path"):
        if ckpt not in ("last", "best", "hpc", "registry", "null", "None"):
            read_checkpoint(ckpt)


def _import_class(class_path: str) -> type:
    module, _, name = class_path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _type_name(text: str) -> str:
    """``<class 'float'>`` -> ``a float``; ``typing.Literal['a', 'b']`` -> ``one of 'a', 'b'``."""
    if match := re.fullmatch(r"<class '(?:[\w.]+\.)?(\w+)'>", text):
        name = match[1]
        return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"
    if match := re.fullmatch(r"typing\.Literal\[(.*)\]", text):
        return f"one of {match[1]}"
    return text


def parse_error_line(message: str) -> str:
    """One line for one of jsonargparse's multi-line errors: the key, the value given, what is accepted."""
    keys = list(dict.fromkeys(re.findall(r'Parser key "([^"]+)"', message)))
    key = ".".join(keys)
    if match := re.search(r"Expected an? (.+?)\. Got value: (.*)", message):
        return f"invalid value for {key}: {match[2].strip()!r} (expected {_type_name(match[1])})"
    if match := re.search(r"Problem with given class_path '([\w.]+)':\s+Option '(\w+)' is not accepted", message):
        try:
            options = ", ".join(p for p in _import_signature_params(match[1]) if p != "data_shape")
        except Exception:  # noqa: BLE001 - the listing is a courtesy
            options = ""
        listing = f"; its options: {options}" if options else ""
        return f"{key}: {match[1].rsplit('.', 1)[-1]} has no option {match[2]!r}{listing}"
    if (given := re.search(r"Given value: (.*)", message)) and "Subtypes:" in message:
        expected = [_type_name(t) for t in re.findall(r"- Expected an? (<class '[\w.]+'>|typing\.Literal\[[^\]]*\])",
                                                       message) if "NoneType" not in t]
        if expected:
            return f"invalid value for {key}: {given[1].strip()!r} (expected {' or '.join(expected)})"
    return message.strip().splitlines()[0] if message.strip() else "invalid arguments"


def _import_signature_params(class_path: str) -> list[str]:
    params = inspect.signature(_import_class(class_path).__init__).parameters
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [name for name, p in params.items() if name != "self" and p.kind in named]


PACKAGE_DIR = str(Path(__file__).resolve().parent)


def _source_dirs() -> tuple[str, ...]:
    """Folders of the code whose argument checks speak to the user: ours (the callbacks are installed
    from their own folder) and Lightning's (its callbacks', loggers' and Trainer's checks)."""
    import lightning

    import gan_lightning.callbacks as callbacks

    return (PACKAGE_DIR, str(Path(callbacks.__file__).resolve().parent), str(Path(lightning.__file__).resolve().parent))


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _nonpositive_sizes(owner) -> str:
    """`` (non-positive sizes given: g_width -8)`` from a model's or data module's integer arguments."""
    hparams = getattr(owner, "hparams", {}) or {}
    bad = [f"{key} {value}" for key, value in hparams.items()
           if isinstance(value, int) and not isinstance(value, bool) and value <= 0 and not key.startswith("_")
           and key not in ("seed", "num_workers", "lr_decay_iters")]
    return f" (non-positive sizes given: {', '.join(bad)})" if bad else ""


def _usage_error_behind(error: BaseException) -> UsageError | None:
    """The error a user can act on, behind the layers jsonargparse wraps around instantiation errors:
    a UsageError of ours; a ValueError (or Lightning's MisconfigurationException) raised by the argument
    checks of a class the configuration builds (model, data module, callback, logger: "model.critic_steps
    must be >= 1, got 0"); torch refusing the sizes a model's networks were given. Anything else is a bug
    and keeps its traceback."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException
    from lightning.pytorch import Callback
    from lightning.pytorch.loggers import Logger

    import torch

    configured = (GANModule, GANDataModule, Callback, Logger)
    sources, torch_dir = _source_dirs(), str(Path(torch.__file__).resolve().parent)
    seen, stack, rejected = set(), [error], None
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, UsageError):
            return current
        if rejected is None and isinstance(current, (ValueError, MisconfigurationException, RuntimeError)):
            owner, tb = None, current.__traceback__
            while tb is not None:
                frame = tb.tb_frame
                building = frame.f_locals.get("self") if frame.f_code.co_name == "__init__" else None
                if isinstance(building, configured):
                    owner = owner or building
                if tb.tb_next is None and owner is not None:
                    where = os.path.realpath(frame.f_code.co_filename)  # resolved, as the folders
                    if isinstance(current, (ValueError, MisconfigurationException)) and where.startswith(sources):
                        rejected = UsageError(f"{type(owner).__name__}: {_one_line(current)}")
                    elif isinstance(owner, GANModule) and where.startswith(torch_dir):  # a network refused its sizes
                        rejected = UsageError(f"{type(owner).__name__}: these settings build no network "
                                              f"({_one_line(current)}){_nonpositive_sizes(owner)}")
                tb = tb.tb_next
        stack.extend([current.__cause__, current.__context__])
    return rejected


def _raised_in(error: BaseException, folders: Sequence[str]) -> bool:
    """Whether the innermost frame of ``error`` is in one of ``folders`` (resolved paths: an
    environment reached through a symbolic link names its files by the link)."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and os.path.realpath(tb.tb_frame.f_code.co_filename).startswith(tuple(folders))


#: Trainer options checked before the Trainer is built: (smallest value, what is accepted).
TRAINER_MINIMUMS = {
    "max_steps": (-1, "a positive number of iterations (or -1 for no limit)"),
    "max_epochs": (-1, "a positive number of epochs (or -1 for no limit)"),
    "min_steps": (0, "a number of iterations >= 0"),
    "min_epochs": (0, "a number of epochs >= 0"),
    "log_every_n_steps": (1, "a positive number of iterations"),
    "check_val_every_n_epoch": (1, "a positive number of epochs"),
    "num_sanity_val_steps": (-1, "a number of batches >= 0 (or -1 for all)"),
    "devices": (-1, "a positive number of devices (or -1 for all)"),
    "num_nodes": (1, "a positive number of nodes"),
}


def check_trainer_values(trainer: Namespace) -> None:
    """One line for trainer values out of range, in the form of our other messages (Lightning's own
    checks, run when the Trainer is built, catch the rest)."""
    for key, (minimum, accepted) in TRAINER_MINIMUMS.items():
        value = trainer.get(key)
        if isinstance(value, str) and value.lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and value < minimum:
            raise UsageError(f"--trainer.{key}: {value} is not accepted; give {accepted}")
    root = trainer.get("default_root_dir")
    if root is not None and not str(root).strip():
        raise UsageError("--trainer.default_root_dir is empty; give a folder for the run (or leave the option out: "
                         "the current folder)")


class GANCLI(LightningCLI):
    """LightningCLI with the data shape linked into the model, shared defaults and default callbacks.

    ``instantiate=False`` (with ``run=False``) stops after parsing and merging the default
    callbacks into ``trainer.callbacks``: ``config`` is then the configuration a run would get.
    """

    def __init__(self, *args, instantiate: bool = True, **kwargs) -> None:
        if not instantiate and kwargs.get("run", True):
            raise ValueError("GANCLI(instantiate=False) parses only: pass run=False")
        self.instantiate = instantiate
        super().__init__(*args, **kwargs)

    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments("data", "model.init_args.data_shape", compute_fn=self.data_shape_for_model,
                              apply_on="instantiate")
        parser.add_argument(
            "--default_callbacks", type=bool, default=True,
            help="add the callbacks of the sections " + ", ".join(DEFAULT_CALLBACKS)
            + " (each one unless trainer.callbacks has one of its class)",
        )
        for key, class_path in DEFAULT_CALLBACKS.items():
            parser.add_class_arguments(_import_class(class_path), key, instantiate=False, fail_untyped=False,
                                       sub_configs=True)

    def parse_arguments(self, parser, args) -> None:
        # LightningCLI's own version warns whenever `args` is given beside a non-empty sys.argv, a
        # guard for scripts; main() always hands over the command line itself, so it is left out.
        try:
            self.config = parser.parse_object(args) if isinstance(args, (dict, Namespace)) else parser.parse_args(args)
        except argparse.ArgumentError as error:  # parsers are built with exit_on_error=False
            raise UsageError(parse_error_line(str(error))) from None

    def _parse_ckpt_path(self) -> None:
        """Nothing: LightningCLI would load the checkpoint's model hyperparameters over the command's,
        silently. Here the command's settings stay; ``gan_lightning/resume.py`` compares them with the
        checkpoint's once the trainer is built (GANCLI.instantiate_trainer)."""

    def _section(self) -> Namespace:
        return self.config.get(self.subcommand, self.config) if self.subcommand else self.config

    def data_shape_for_model(self, datamodule) -> tuple[int, ...]:
        """The link data -> model.data_shape, refusing data the model does not take, in one line."""
        shape = tuple(datamodule.data_shape)
        model = self._section().get("model")
        has_class = isinstance(model, Namespace) and model.get("class_path")
        model_class = _import_class(model.class_path) if has_class else None
        kind = datamodule.data_kind
        if model_class is not None and kind not in getattr(model_class, "data_kinds", (kind,)):
            takers = [name for name, cls in known_models().items() if kind in cls.data_kinds]
            raise UsageError(
                f"{model_class.__name__} takes {' or '.join(model_class.data_kinds)} data, not "
                f"{type(datamodule).__name__}'s {kind} samples of shape {shape}; "
                f"models for {kind} data: {', '.join(takers)}"
            )
        return shape

    def run_callbacks(self, config: Namespace) -> list[Namespace]:
        """``trainer.callbacks`` as the run gets them: the default callbacks that ``trainer.callbacks``
        does not replace, preemption / EMA / sample grid / divergence guard first, checkpoints last
        (where Lightning puts them anyway), the configured ones in between, in their order."""
        trainer = config.get("trainer") or Namespace()
        given = trainer.get("callbacks") or []
        given = list(given) if isinstance(given, list) else [given]
        if not config.get("default_callbacks", True):
            return given
        given_classes = [_import_class(c.class_path) for c in given if isinstance(c, Namespace) and c.get("class_path")]
        given_classes += [type(c) for c in given if not isinstance(c, Namespace)]
        first, last = [], []
        for key, class_path in DEFAULT_CALLBACKS.items():
            cls = _import_class(class_path)
            if any(issubclass(g, cls) for g in given_classes):
                continue
            if key in SAVING_CALLBACKS and trainer.get("enable_checkpointing") is False:
                continue
            if issubclass(cls, ProgressBarBase) and (trainer.get("enable_progress_bar") is False or any(
                    issubclass(g, ProgressBarBase) for g in given_classes)):
                continue
            callback = Namespace(class_path=class_path, init_args=(config.get(key) or Namespace()).clone())
            (last if issubclass(cls, Checkpoint) else first).append(callback)
        return first + given + last

    def before_instantiate_classes(self) -> None:
        config = self._section()
        check_trainer_values(config.get("trainer") or Namespace())
        prepare_wandb_environment()
        # The default callbacks join trainer.callbacks: the config saved with the run then lists
        # every callback it had, and says so (default_callbacks false), so it reruns the same.
        config["trainer.callbacks"] = self.run_callbacks(config)
        config["default_callbacks"] = False
        # A logger without its own save_dir writes into the run folder.
        trainer = config.get("trainer", {})
        loggers = trainer.get("logger")
        for logger in loggers if isinstance(loggers, list) else [loggers]:
            init_args = getattr(logger, "init_args", None)
            if init_args is not None and "save_dir" in init_args and init_args.get("save_dir") in (None, "."):
                init_args["save_dir"] = trainer.get("default_root_dir") or os.getcwd()

    def instantiate_classes(self) -> None:
        if not self.instantiate:
            return
        try:
            super().instantiate_classes()
        except Exception as error:
            usage = _usage_error_behind(error)
            if usage is None:
                raise
            raise usage from None

    def instantiate_trainer(self, **kwargs):
        from lightning.fabric.utilities.exceptions import MisconfigurationException

        try:
            trainer = super().instantiate_trainer(**kwargs)
        except (MisconfigurationException, ValueError, TypeError) as error:  # the Trainer's own checks of its arguments
            if not _raised_in(error, _source_dirs()[-1:]):
                raise
            raise UsageError(f"--trainer: {_one_line(error)}") from None
        # Checkpoints go to <default_root_dir>/checkpoints (not a logger-specific folder that
        # changes with every W&B run id), so `--ckpt_path last` finds them on resume.
        for callback in trainer.checkpoint_callbacks:
            if isinstance(callback, ModelCheckpoint) and callback.dirpath is None:
                callback.dirpath = os.path.join(trainer.default_root_dir, "checkpoints")
        ckpt_path = self._get(self.config, "ckpt_path")
        prepare_run(trainer, self.subcommand, ckpt_path)  # gan_lightning/checkpoints.py
        if isinstance(self.model, GANModule):
            self.model.run_callbacks = [plain_callback(c) for c in self._section().get("trainer.callbacks") or []]
            check_resume(self.model, self.datamodule, trainer, self.subcommand, ckpt_path)  # gan_lightning/resume.py
        # W&B starts now, after the checks that can stop the run: offline, in one line, when it cannot go online.
        start_wandb_runs(trainer.loggers)  # gan_lightning/tracking.py
        return trainer


def plain_callback(callback) -> dict:
    """A configured callback (``class_path`` + ``init_args``) as plain values, for the checkpoint."""
    from gan_lightning.resume import plain

    if not isinstance(callback, Namespace):
        return {"class_path": f"{type(callback).__module__}.{type(callback).__qualname__}", "init_args": {}}
    init_args = callback.get("init_args")
    values = init_args.as_dict() if isinstance(init_args, Namespace) else dict(init_args or {})
    basic = (str, int, float, bool, type(None), list, tuple, dict)
    return {"class_path": str(callback.get("class_path")),
            "init_args": {k: plain(v) if isinstance(v, basic) else str(v) for k, v in values.items()}}


class _DropLitLoggerTip(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "try installing [litlogger]" not in record.getMessage()


def quiet_known_warnings() -> None:
    """Silence messages that do not apply to us, so the ones that do stay visible."""
    # Our checkpoints are taken after the iteration's updates, on purpose: global_step counts
    # finished iterations and a resume continues from exactly that state (tests/test_resume.py).
    warnings.filterwarnings("ignore", message="Using ModelCheckpoint with manual optimization")
    # A deprecation inside Lightning's own pytree helper, not in our code.
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
    # Lightning's advertisement for its cloud logger, printed by every Trainer without one.
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero",
                 "lightning_utilities.core.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropLitLoggerTip) for f in logger.filters):
            logger.addFilter(_DropLitLoggerTip())


def build_cli(argv: Sequence[str], run: bool = True, instantiate: bool = True) -> GANCLI:
    """The LightningCLI of ``argv`` (a verb first when ``run``), reading DEFAULTS_FILE first.
    ``instantiate=False``: parse only (see GANCLI)."""
    defaults = {"default_config_files": [str(DEFAULTS_FILE)]}
    parser_kwargs = {verb: dict(defaults) for verb in LIGHTNING_VERBS} if run else dict(defaults)
    parser_kwargs["exit_on_error"] = False  # errors become one line (GANCLI.parse_arguments)
    return GANCLI(
        GANModule,
        GANDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        save_config_kwargs={"overwrite": True},
        parser_kwargs=parser_kwargs,
        args=list(argv),
        run=run,
        instantiate=instantiate,
    )


def run_lightning(argv: Sequence[str]) -> int:
    """Run a LightningCLI verb; returns the exit status: 0, or 130 when Ctrl-C stopped training
    (the checkpoint written, ``PreemptionCheckpoint.exit_status``)."""
    from gan_lightning.callbacks import PreemptionCheckpoint

    check_lightning_args(argv)
    quiet_known_warnings()
    cli = build_cli(argv)
    stops = [c.exit_status for c in getattr(cli.trainer, "callbacks", []) if isinstance(c, PreemptionCheckpoint)]
    return max(stops, default=0)


# ---------------------------------------------------------------------------- models
def cmd_models(argv: Sequence[str]) -> None:
    models_parser().parse_args(argv)
    from gan_lightning.claims import load_claims

    models, claims = known_models(), load_claims()  # claims: gan_lightning/claims.yaml
    width = max(len(name) for name in models)
    for name, cls in models.items():
        claim = f"[claim: {claims[name].summary()}]" if name in claims else "[claim: none in claims.yaml]"
        print(f"{name:<{width}}  {cls.paper}  [data: {', '.join(cls.data_kinds)}]  [recipe: {recipe_text(cls)}]"
              f"  {claim}{experiments_text(name)}")


EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"
#: Paper-sized overlays: ``experiments/gpu/<model>/<name>.yaml`` holds what differs (the authors' widths, ...)
#: from the CPU-sized ``experiments/<model>/<name>.yaml``, to be given after it.
PAPER_SIZED = EXPERIMENTS / "gpu"


def experiments_text(name: str) -> str:
    """``  [experiments/<name>: a.yaml, b.yaml]`` from a source checkout, with ``; paper-sized (GPU): a.yaml``
    when ``experiments/gpu/<name>/`` has overlays; empty when there is none."""
    files = sorted(path.name for path in (EXPERIMENTS / name.lower()).glob("*.yaml"))
    paper = sorted(path.name for path in (PAPER_SIZED / name.lower()).glob("*.yaml"))
    paper_text = f"; paper-sized (GPU): {', '.join(paper)}" if paper else ""
    return f"  [experiments/{name.lower()}: {', '.join(files)}{paper_text}]" if files else ""


def config_files(config: str | Path) -> list[Path]:
    """The ``--config`` files, in order, that run ``config``: the file itself, or for a paper-sized overlay
    (``experiments/gpu/<model>/<name>.yaml``) its CPU-sized experiment first, then the overlay."""
    path = Path(config).resolve()
    if path.parent.parent != PAPER_SIZED:
        return [path]
    base = EXPERIMENTS / path.parent.name / path.name
    if not base.is_file():
        raise UsageError(f"{config}: a paper-sized overlay whose experiment {base.relative_to(EXPERIMENTS.parent)} "
                         "does not exist")
    return [base, path]


def recipe_text(cls: type[GANModule]) -> str:
    """The optimisation settings a model trains with when none is given (its paper's recipe)."""
    from gan_lightning.models.base import BASE_RECIPE

    settings = {**BASE_RECIPE, **cls.recipe}
    shown = {key: tuple(value) if key == "betas" else value for key, value in settings.items()
             if key != "momentum" or settings["optimizer"] in ("sgd", "rmsprop")}
    return ", ".join(f"{key} {value}" for key, value in shown.items())


# ---------------------------------------------------------------------------- sample
def sample_parser() -> options.Parser:
    parser = options.Parser(prog="gan-lightning sample", description="Draw samples from a checkpoint.")
    parser.add_argument("--ckpt_path", required=True, help="a checkpoint written by `gan-lightning fit`")
    parser.add_argument("--num_samples", type=int, default=64)
    parser.add_argument("--out", default="samples.png",
                        help=f"an image grid, or a scatter plot for 2-D data ({', '.join(options.PICTURE_EXTENSIONS)})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--truncation", type=float, default=None, help="redraw |z| > PSI (truncation trick)")
    parser.add_argument("--labels", default=None, help="comma-separated class labels, for conditional models")
    parser.add_argument("--text", action="append", default=None, metavar="CAPTION",
                        help="text-conditioned models: a caption to draw (repeat for several; each fills "
                             "num_samples / captions samples, one row each at the default sizes)")
    parser.add_argument("--texts", default=None, metavar="FILE", help="text-conditioned models: a file of captions, one per line")
    parser.add_argument("--box", default=None, metavar="X0,Y0,X1,Y1",
                        help="box-conditioned models (GAWWN): where to draw, fractions of the canvas "
                             "(e.g. 0.25,0.25,0.75,0.75), the same box for every sample")
    parser.add_argument("--keypoints", default=None, metavar="X,Y,...",
                        help="keypoint-conditioned models (GAWWN with location: keypoints): x,y of each keypoint "
                             "in turn, fractions of the canvas, the same for every sample")
    parser.add_argument("--nrow", type=int, default=8)
    parser.add_argument("--no_ema", action="store_true", help="use the raw generator, not its EMA copy")
    parser.add_argument("--traverse", type=int, nargs="?", const=0, default=None, metavar="CODE",
                        help="InfoGAN latent traversal: one row per categorical value (all, or --labels), "
                             "continuous code CODE (default 0) swept from -2 to 2 over --nrow columns")
    parser.add_argument("--data_config", default=None,
                        help="image-to-image models: a YAML file whose `data` section gives the held-out inputs "
                             "(default: the data recorded in the checkpoint, or the run's config.yaml)")
    return parser


def models_parser() -> options.Parser:
    return options.Parser(prog="gan-lightning models", description="List every model.")


def cmd_sample(argv: Sequence[str]) -> None:
    args = sample_parser().parse_args(argv)
    options.at_least("--num_samples", args.num_samples, 1, "a positive number of samples")
    options.at_least("--nrow", args.nrow, 1, "a positive number of images per row")
    options.at_least("--traverse", args.traverse, 0, "the index of a continuous code (0, 1, ...)")
    # the model judges the rest: |z| > PSI redrawn needs PSI > 0; StyleGAN2's psi 0 is the average image
    options.finite_at_least("--truncation", args.truncation, 0.0, "a number >= 0 (e.g. 0.7)")
    options.seed("--seed", args.seed)
    options.input_file("--data_config", args.data_config, "a YAML file with a `data` section")
    options.input_file("--texts", args.texts, "a text file of captions, one per line")
    out = options.output_picture("--out", args.out)

    import torch

    from gan_lightning.callbacks import write_samples

    model = load_model(args.ckpt_path)
    if model.translates:
        from gan_lightning.translate import sample_translations

        grid, nrow = sample_translations(model, args.ckpt_path, args.num_samples, args.nrow, args.data_config)
        write_samples(grid, out, nrow=nrow)
        print(f"wrote {grid.size(0) // 2} held-out inputs beside their translations to {out}")
        return
    labels = None
    if args.labels:
        try:
            wanted = [int(v) for v in args.labels.split(",")]
        except ValueError as error:
            raise UsageError(f"--labels must be comma-separated integers, got {args.labels!r}") from error
        labels = torch.tensor(wanted).repeat_interleave(samples_each(args.num_samples, len(wanted)))[: args.num_samples]
    rng = torch.Generator().manual_seed(args.seed)
    if args.traverse is not None:
        if not hasattr(model, "traversal_grid"):
            raise UsageError(f"--traverse needs a model with latent codes (InfoGAN); {type(model).__name__} has none")
        values = [int(v) for v in args.labels.split(",")] if args.labels else None
        try:
            grid = model.traversal_grid(values, args.traverse, steps=args.nrow, rng=rng,
                                        use_ema=not args.no_ema)
        except ValueError as error:
            raise UsageError(f"--traverse: {error}") from error
        write_samples(grid, out, nrow=args.nrow)
        print(f"wrote a latent traversal of {grid.size(0) // args.nrow} rows x {args.nrow} steps to {out}")
        return
    captions, conditions = caption_conditions(model, args)
    for where in (box_conditions(model, args), keypoint_conditions(model, args)):
        if where is not None:
            conditions = {**(conditions or {}), **where}
    try:
        samples = model.sample(args.num_samples, labels=labels, use_ema=not args.no_ema, truncation=args.truncation,
                               rng=rng, conditions=conditions)
    except ValueError as error:  # labels out of range, labels given to an unconditional model, ...
        raise UsageError(str(error)) from error
    per = samples_each(args.num_samples, len(captions)) if captions else 0
    write_samples(samples, out, nrow=args.nrow, row_captions=row_captions(captions, per, args.num_samples, args.nrow))
    if captions:  # which caption each sample was drawn from, beside the grid
        listing = out.with_suffix(".txt")
        listing.write_text("".join(f"samples {i * per}-{min((i + 1) * per, args.num_samples) - 1}: {text}\n"
                                   for i, text in enumerate(captions)))
        print(f"wrote {args.num_samples} samples of {len(captions)} caption{'s' if len(captions) > 1 else ''} "
              f"to {out} (captions in {listing})")
        if callable(getattr(model, "attention", None)):
            noise = model.sample_noise(args.num_samples, rng=torch.Generator().manual_seed(args.seed),
                                       truncation=args.truncation)  # the grid's noise again
            folder = write_attention_maps(model, captions, noise[::per], out, use_ema=not args.no_ema)
            print(f"wrote the word attention of each caption's first sample to {folder}")
        return
    print(f"wrote {args.num_samples} samples to {out}")


def row_captions(captions: list[str], per: int, num_samples: int, nrow: int) -> list[str] | None:
    """The text written left of each grid row: the captions its samples were drawn from (``per``
    consecutive samples each), joined by " / " where a row holds more than one."""
    if not captions:
        return None
    rows = []
    for start in range(0, num_samples, nrow):
        drawn = dict.fromkeys(captions[i // per] for i in range(start, min(start + nrow, num_samples)))
        rows.append(" / ".join(drawn))
    return rows


def caption_conditions(model, args) -> tuple[list[str], dict | None]:
    """The captions of ``--text`` / ``--texts`` and the model's text condition built from them
    (each caption repeated to fill ``--num_samples`` in turn); one line for a model that takes no
    text, one that needs it without it, or a word its vocabulary lacks."""
    captions = list(args.text or [])
    if args.texts:
        try:
            lines = Path(args.texts).read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            raise UsageError(f"--texts: {args.texts} is not a UTF-8 text file; give a text file of captions, "
                             f"one per line") from None
        captions += [line.strip() for line in lines if line.strip()]
    text = declared_condition(model, "text", "--text", bool(captions), "text",
                              lambda c: 'draws from a caption: give --text "a thin blue three on grass" or --texts '
                                        'FILE (one caption per line)')
    if text is None:
        return [], None
    if len(captions) > args.num_samples:
        raise UsageError(f"--num_samples {args.num_samples} is fewer than the {len(captions)} captions; "
                         f"give at least one sample per caption")
    try:
        ids = model.tokenize(captions)
    except ValueError as error:
        raise UsageError(f"--text: {error}") from None
    per = samples_each(args.num_samples, len(captions))
    return captions, {text.key: ids.repeat_interleave(per, dim=0)[: args.num_samples]}


def samples_each(num_samples: int, num_values: int) -> int:
    """How many consecutive samples each of ``num_values`` labels or captions gets when they fill
    ``num_samples`` in turn (the last may get fewer)."""
    return -(-num_samples // num_values)


def declared_condition(model, kind: str, flag: str, given: bool, noun: str, needed) -> Condition | None:
    """The model's condition of ``kind`` when ``flag`` is given, None when neither is there; one line for a
    flag the model does not take (``noun``: what it names), or a condition the model needs that the flag
    does not give (``needed(condition)``: what to give)."""
    wanted = [c for c in model.conditions() if c.kind == kind]
    name = type(model).__name__
    if not given:
        if wanted:
            raise UsageError(f"{flag}: {name} {needed(wanted[0])}")
        return None
    if not wanted:
        raise UsageError(f"{flag}: {name} takes no {noun}; its conditions: "
                         f"{', '.join(c.kind for c in model.conditions()) or 'none (unconditional)'}")
    return wanted[0]


def box_conditions(model, args) -> dict | None:
    """The model's box condition from ``--box x0,y0,x1,y1`` (one box for every sample); one line for a
    malformed box, a box given to a model that takes none, or none given to one that needs it."""
    import torch

    wanted = declared_condition(model, "boxes", "--box", args.box is not None, "box",
                                lambda c: "draws into a box: give --box x0,y0,x1,y1 (fractions of the canvas, "
                                          "e.g. 0.25,0.25,0.75,0.75)")
    if wanted is None:
        return None
    try:
        box = [float(v) for v in args.box.split(",")]
    except ValueError:
        box = []
    if len(box) != 4 or not all(0.0 <= v <= 1.0 for v in box) or not (box[0] < box[2] and box[1] < box[3]):
        raise UsageError(f"--box must be x0,y0,x1,y1: four numbers in [0, 1] with x0 < x1 and y0 < y1 "
                         f"(fractions of the canvas), got {args.box!r}")
    return {wanted.key: torch.tensor([box]).expand(args.num_samples, 4)}


def keypoint_conditions(model, args) -> dict | None:
    """The model's keypoints condition from ``--keypoints x,y,x,y,...`` (the same for every sample); one line
    for a malformed list, keypoints given to a model that takes none, or none given to one that needs them."""
    import torch

    wanted = declared_condition(model, "keypoints", "--keypoints", args.keypoints is not None, "keypoints",
                                lambda c: f"draws at keypoints: give --keypoints x,y,... ({c.size} points, "
                                          f"fractions of the canvas)")
    if wanted is None:
        return None
    count = wanted.size
    try:
        values = [float(v) for v in args.keypoints.split(",")]
    except ValueError:
        values = []
    if len(values) != 2 * count or not all(0.0 <= v <= 1.0 for v in values):
        raise UsageError(f"--keypoints must be x,y of {count} keypoints: {2 * count} numbers in [0, 1] "
                         f"(fractions of the canvas), got {args.keypoints!r}")
    return {wanted.key: torch.tensor(values).view(1, count, 2).expand(args.num_samples, count, 2)}


def write_attention_maps(model, captions: list[str], noise, out: Path, use_ema: bool = True) -> Path:
    """``<out>_attention/caption<k>_<j>_<word>.png``: caption k's first sample lit by its word j's attention."""
    import torch.nn.functional as F

    from gan_lightning.callbacks import write_samples

    folder = out.with_name(f"{out.stem}_attention")
    ids = model.tokenize(captions)
    images, maps = model.attention(ids, noise, use_ema=use_ema)
    images, maps = images.float().cpu(), maps.float().cpu()
    maps = F.interpolate(maps, size=images.shape[-2:], mode="bilinear", align_corners=False)
    for k, (image, caption_maps, caption_ids) in enumerate(zip(images, maps, ids)):
        for j, token in enumerate(int(t) for t in caption_ids):
            if token == 0:
                break
            heat = caption_maps[j] / caption_maps[j].max().clamp_min(1e-8)
            lit = (image + 1.0) * (0.2 + 0.8 * heat) - 1.0  # the image dimmed where the word is not attended
            word = model_word(token)
            write_samples(lit[None], folder / f"caption{k}_{j:02d}_{word}.png", nrow=1)
    return folder


def model_word(token: int) -> str:
    from gan_lightning.data.captions import VOCABULARY

    word = VOCABULARY[token]
    return "comma" if word == "," else word


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return
    verb, rest = argv[0], argv[1:]
    handlers = {"models": cmd_models, "sample": cmd_sample}
    try:
        if verb in handlers:
            handlers[verb](rest)
        elif verb == "translate":
            from gan_lightning.translate import cmd_translate

            cmd_translate(rest)
        elif verb == "evaluate":
            from gan_lightning.evaluate import cmd_evaluate

            cmd_evaluate(rest)
        elif verb in LIGHTNING_VERBS:
            status = run_lightning(argv)
            if status:
                raise SystemExit(status)
        else:
            raise UsageError(f"unknown verb {verb!r}; verbs: {', '.join(LIGHTNING_VERBS + OUR_VERBS)}")
    except (UsageError, CheckpointError) as error:
        print(f"gan-lightning: error: {error}", file=sys.stderr)
        raise SystemExit(USAGE_STATUS) from None
    except KeyboardInterrupt:  # Ctrl-C outside training (which saves and stops by itself): nothing to save yet
        print(f"gan-lightning: interrupted (Ctrl-C) during `{verb}`", file=sys.stderr)
        raise SystemExit(INTERRUPTED_STATUS) from None
    except argparse.ArgumentError as error:  # e.g. LightningCLI parsing a checkpoint's hyperparameters
        print(f"gan-lightning: error: {parse_error_line(str(error))}", file=sys.stderr)
        raise SystemExit(USAGE_STATUS) from None
    except Exception as error:
        from lightning.fabric.utilities.exceptions import MisconfigurationException

        from gan_lightning.callbacks import DivergenceError

        if isinstance(error, MisconfigurationException):  # Lightning's word for a misuse (a setting), never a bug of ours
            print(f"gan-lightning: error: {_one_line(error)}", file=sys.stderr)
            raise SystemExit(USAGE_STATUS) from None

        if isinstance(error, DivergenceError):
            print(f"gan-lightning: {error}", file=sys.stderr)
            raise SystemExit(3) from None
        raise


if __name__ == "__main__":
    main()
