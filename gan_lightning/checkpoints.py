"""Reading checkpoints with clear errors, and rebuilding the model they hold."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import torch

from gan_lightning.models import GANModule, known_models


class CheckpointError(Exception):
    """A checkpoint is missing, unreadable or not one of ours."""


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # truncated zip, pickle garbage, wrong file type, ...
        raise CheckpointError(
            f"checkpoint {path} is corrupt or not a PyTorch checkpoint ({type(error).__name__}: {error})"
        ) from error
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(f"{path} is not a Lightning checkpoint (no state_dict)")
    return checkpoint


def model_class(checkpoint: dict[str, Any], path: str | Path = "") -> type[GANModule]:
    info = checkpoint.get("gan_lightning", {})
    class_path = info.get("class_path")
    if not class_path:
        raise CheckpointError(f"{path} was not written by gan-lightning (no model class recorded)")
    module_name, _, name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as error:
        raise CheckpointError(
            f"{path} holds model {class_path}, which this gan-lightning does not have; "
            f"known models: {', '.join(known_models())}"
        ) from error
    return cls


def load_model(path: str | Path, map_location: str | torch.device = "cpu") -> GANModule:
    """The model of a checkpoint, with its EMA generator when it has one, in eval mode."""
    checkpoint = read_checkpoint(path)
    cls = model_class(checkpoint, path)
    try:
        hparams = {k: v for k, v in checkpoint.get("hyper_parameters", {}).items() if not k.startswith("_")}
        model = cls(**hparams)
        model.on_load_checkpoint(checkpoint)
        model.load_state_dict(checkpoint["state_dict"])
    except (TypeError, RuntimeError) as error:
        raise CheckpointError(f"{path} does not match model {cls.__name__}: {error}") from error
    return model.to(map_location).eval()
