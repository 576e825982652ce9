"""What a resume resumes: the checkpoint of ``--ckpt_path`` against the command's model, data, trainer
and callbacks, checked by the CLI once the trainer is built and before anything runs.

The command's settings are the run's settings (LightningCLI's own loading of the checkpoint's
hyperparameters over the command line is switched off, ``GANCLI._parse_ckpt_path``); each one the
checkpoint recorded is compared with it:

- **model class**: a checkpoint of another model stops the command in one line naming both classes;
- **architecture**: a model hyperparameter that differs and changes the shape of a parameter or
  buffer stops it in one line naming the key, the checkpoint's value and the command's. Which keys
  these are is found, not listed: the model is built with the checkpoint's hyperparameters and that
  one key changed (on the ``meta`` device, without drawing from the RNG), and its tensor shapes are
  compared with the checkpoint's ``state_dict``. An optimizer of another kind (Adam -> SGD) stops it
  too: the saved moments cannot continue;
- **training settings** (``fit``): any other model hyperparameter (learning rates, betas,
  critic_steps, ...), ``trainer.max_steps`` and the callbacks' settings that differ are applied (the
  model is built with them; ``GANModule.on_load_checkpoint`` writes the optimizer settings into the
  restored optimizers) and named in one line;
- **data** (``fit``): a data module of another class or with other arguments (batch size, data set,
  image size, ...; not ``num_workers`` or ``device_resident``, which leave the batches as they were) is
  named in one line saying the resume is no longer exact.

Checkpoints that did not record something (a data module's arguments, the callbacks, which the CLI
records since this check exists) are compared on what they hold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch
from lightning.pytorch.utilities.rank_zero import rank_zero_info

from gan_lightning.checkpoints import last_checkpoint, model_class
from gan_lightning.errors import UsageError

#: Data module arguments that do not change the batches a run sees (a resume stays exact with another value).
DATA_KEYS_KEPT_EXACT = ("num_workers", "device_resident")
#: ``--ckpt_path`` values that name no file for this check (Lightning resolves them itself).
SYMBOLIC_PATHS = ("best", "hpc", "registry", "null", "None", "")


def resolved_path(trainer, ckpt_path: str | None) -> Path | None:
    """The file ``--ckpt_path`` names: ``last`` as Lightning picks it; ``None`` when there is none (a first
    start with ``--ckpt_path last``) or the value is one Lightning resolves (``best``, ``hpc``)."""
    if ckpt_path is None or str(ckpt_path) in SYMBOLIC_PATHS:
        return None
    if str(ckpt_path) == "last":
        return last_checkpoint(trainer)
    return Path(ckpt_path)


def load_lazily(path: Path) -> dict[str, Any]:
    """The checkpoint with its tensors memory-mapped (cheap for large files: only the shapes are read here)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    except RuntimeError:  # a legacy (non-zip) file cannot be memory-mapped
        return torch.load(path, map_location="cpu", weights_only=False)


# ---------------------------------------------------------------------------- values as a user writes them
def plain(value: Any) -> Any:
    """Tuples as lists, paths as strings, recursively: YAML's view of a value, for comparing and showing."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


def shown(value: Any) -> str:
    value = plain(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(shown(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {shown(v)}" for k, v in value.items()) + "}"
    return str(value)


def public(hparams: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (hparams or {}).items() if not str(k).startswith("_")}


def differing(saved: Mapping[str, Any], given: Mapping[str, Any], skip=()) -> dict[str, tuple[Any, Any]]:
    """``{key: (saved, given)}`` for the keys both have with other values."""
    return {k: (saved[k], given[k]) for k in saved if k in given and k not in skip and plain(saved[k]) != plain(given[k])}


# ---------------------------------------------------------------------------- architecture
def tensor_shapes(state_dict: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    # The EMA generator mirrors the generator and is switched on by a callback after the model is built.
    return {k: tuple(v.shape) for k, v in state_dict.items() if hasattr(v, "shape") and not k.startswith("generator_ema.")}


def shape_difference(saved: Mapping[str, tuple], built: Mapping[str, tuple]) -> str | None:
    """The first tensor whose shape differs (or that only one side has), as a phrase; ``None`` when none does."""
    for key, shape in saved.items():
        if key not in built:
            return f"the checkpoint has {key} {list(shape)}, this model has no {key}"
        if built[key] != shape:
            return f"{key} is {list(shape)} in the checkpoint, {list(built[key])} here"
    for key, shape in built.items():
        if key not in saved:
            return f"this model has {key} {list(shape)}, the checkpoint has none"
    return None


def build_quietly(cls: type, hparams: Mapping[str, Any]):
    """``cls(**hparams)`` on the ``meta`` device (no memory, no weights), else on the CPU, with the RNG
    states put back: building leaves the run as it was. ``None`` when it cannot be built."""
    with torch.random.fork_rng(devices=[]):
        for device in ("meta", "cpu"):
            try:
                with torch.device(device):
                    return cls(**hparams)
            except Exception:  # noqa: BLE001 - a model that cannot be built with these values
                continue
    return None


def architecture_changes(cls: type, saved: dict[str, Any], changed: dict[str, tuple[Any, Any]],
                         saved_shapes: dict[str, tuple]) -> list[str]:
    """Phrases for the changed hyperparameters that change (or break) the networks, one key at a time."""
    phrases = []
    for key, (before, after) in changed.items():
        model = build_quietly(cls, {**saved, key: after})
        difference = "the model cannot be built with it" if model is None else shape_difference(
            saved_shapes, tensor_shapes(model.state_dict()))
        if difference is not None:
            origin = " (from the data)" if key == "data_shape" else ""
            phrases.append(f"model.{key}{origin} is {shown(before)} in the checkpoint, {shown(after)} in this "
                           f"command ({difference})")
    return phrases


def optimizer_kind_changes(cls: type, saved: dict[str, Any], model) -> list[str]:
    """Phrases for the networks whose optimizer is of another kind than the checkpoint's."""
    before = build_quietly(cls, saved)
    if before is None:
        return []
    phrases = []
    try:
        for name in model.optimizer_groups():
            old, new = before.optimizer_settings(name).optimizer, model.optimizer_settings(name).optimizer
            if old != new:
                phrases.append(f"the {name} optimizer is {old} in the checkpoint, {new} in this command "
                               f"(the saved {old} state cannot continue as {new})")
    except Exception:  # noqa: BLE001 - a model whose groups need a trainer: the restore itself will tell
        return []
    return phrases


# ---------------------------------------------------------------------------- training settings
def recipe_value(cls: type, key: str, value: Any) -> str:
    """``null (the recipe's 0.0002)`` for a setting left to the model's recipe, else the value."""
    from gan_lightning.models.base import BASE_RECIPE

    if value is None and key in BASE_RECIPE:
        return f"{shown(cls.recipe.get(key, BASE_RECIPE[key]))} (recipe)"
    return shown(value)


def callback_changes(saved: list[dict] | None, given: list[dict] | None) -> list[str]:
    """``+Name`` / ``-Name`` / ``Name.key before -> after`` between two runs' callbacks."""
    if saved is None or given is None:
        return []

    def by_name(callbacks):
        return {str(c.get("class_path", "")).rsplit(".", 1)[-1]: public(c.get("init_args")) for c in callbacks}

    before, after = by_name(saved), by_name(given)
    phrases = [f"+{name}" for name in after if name not in before]
    phrases += [f"-{name}" for name in before if name not in after]
    for name in after:
        if name in before:
            for key, (old, new) in differing(before[name], after[name]).items():
                phrases.append(f"{name}.{key} {shown(old)} -> {shown(new)}")
            phrases += [f"{name}.{key} {shown(after[name][key])}" for key in after[name] if key not in before[name]]
    return phrases


def data_changes(saved: Mapping[str, Any] | None, datamodule) -> list[str]:
    if not saved or datamodule is None:
        return []
    saved_class = str(saved.get("_class_path", "")).rsplit(".", 1)[-1]
    given_class = type(datamodule).__name__
    if saved_class and saved_class != given_class:
        return [f"the data set is {saved_class} in the checkpoint, {given_class} in this command"]
    given = public(getattr(datamodule, "hparams", {}))
    return [f"data.{key} {shown(old)} -> {shown(new)}"
            for key, (old, new) in differing(public(saved), given, skip=DATA_KEYS_KEPT_EXACT).items()]


# ---------------------------------------------------------------------------- the check
def check_resume(model, datamodule, trainer, subcommand: str | None, ckpt_path: str | None) -> None:
    """Stop in one line (:class:`UsageError`) when ``--ckpt_path`` holds another model class or other
    networks than the command's; on ``fit``, name in one line each the training settings a resume
    changes (applied) and the data changes that make it inexact. Nothing happens without a checkpoint."""
    path = resolved_path(trainer, ckpt_path)
    if path is None or not path.is_file():
        return
    checkpoint = load_lazily(path)
    given_option = f"--ckpt_path {ckpt_path}" if str(ckpt_path) == str(path) else f"--ckpt_path {ckpt_path} ({path})"
    info = checkpoint.get("gan_lightning") or {}
    name = type(model).__name__
    if info.get("class_path"):
        cls = model_class(checkpoint, path)
        if cls is not type(model):
            raise UsageError(
                f"{given_option} holds a {cls.__name__} checkpoint ({info['class_path']}); this command builds "
                f"{name}: resume it with --model {cls.__name__} and the settings of its run (its config.yaml), "
                f"or start a new {name} run without --ckpt_path"
            )
    else:
        cls = type(model)
    saved, given = public(checkpoint.get("hyper_parameters")), public(model.hparams)
    changed = differing(saved, given)
    saved_shapes = tensor_shapes(checkpoint.get("state_dict") or {})
    problem = shape_difference(saved_shapes, tensor_shapes(model.state_dict()))
    if problem is not None:
        phrases = architecture_changes(cls, saved, changed, saved_shapes) or [problem]
        fixes = " ".join(f"--model.init_args.{key} {shown(before)}" for key, (before, after) in changed.items()
                         if key != "data_shape" and any(p.startswith(f"model.{key} ") for p in phrases))
        fix = f"resume with {fixes}" if fixes else "resume with the model and data settings of its run"
        raise UsageError(f"{given_option}: this command changes the networks of the {name} checkpoint: "
                         f"{'; '.join(phrases)}. {fix[0].upper() + fix[1:]}, or start a new run without --ckpt_path")
    if {"optimizer", "optimizers"} & set(changed):
        kinds = optimizer_kind_changes(cls, saved, model)
        if kinds:
            raise UsageError(f"{given_option}: {'; '.join(kinds)}. Resume with the checkpoint's optimizer "
                             f"(--model.init_args.optimizer {recipe_value(cls, 'optimizer', saved.get('optimizer'))}), "
                             f"or start a new run without --ckpt_path")
    if subcommand != "fit":
        return
    settings = [f"model.{key} {recipe_value(cls, key, before)} -> {recipe_value(cls, key, after)}"
                for key, (before, after) in changed.items()]
    saved_steps = info.get("max_steps")
    if saved_steps is not None and trainer.max_steps != saved_steps:
        settings.append(f"trainer.max_steps {saved_steps} -> {trainer.max_steps}")
    callbacks = callback_changes(info.get("callbacks"), getattr(model, "run_callbacks", None))
    if callbacks:
        settings.append("callbacks " + ", ".join(callbacks))
    at = f"at iteration {checkpoint.get('global_step', 0)}"
    if settings:
        rank_zero_info(f"gan-lightning: resuming {name} from {path} {at} with changed settings, applied: "
                       f"{', '.join(settings)}")
    data = data_changes(checkpoint.get("datamodule_hyper_parameters"), datamodule)
    if data:
        rank_zero_info(f"gan-lightning: the resume from {path} is no longer exact: {', '.join(data)} (the batches "
                       f"differ from those the uninterrupted run would have seen)")

