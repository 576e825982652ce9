"""Checkpoints: reading them with clear errors, rebuilding the model they hold, writing them
so that a crash mid-write never destroys the last good one, and the checks the CLI runs at
start (a writable run folder, an intact ``--ckpt_path last``)."""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import shutil
from pathlib import Path
from typing import Any, Sequence

import torch
from lightning.fabric.plugins import TorchCheckpointIO
from lightning.pytorch.callbacks import ModelCheckpoint, OnExceptionCheckpoint

from gan_lightning.errors import UsageError
from gan_lightning.models import GANModule, known_models


class CheckpointError(Exception):
    """A checkpoint is missing, unreadable or not one of ours."""


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    if not str(path).strip():
        raise CheckpointError("--ckpt_path is empty; give a checkpoint written by `gan-lightning fit`")
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"--ckpt_path {path} is a folder; give a checkpoint file (e.g. {path / 'last.ckpt'})")
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


# ---------------------------------------------------------------------------- safe writes and resumes
def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """``torch.save(obj, path)`` that never leaves ``path`` half-written.

    Writes a temporary file in the same folder (``.NAME.PID.tmp``, not a ``*.ckpt`` name),
    flushes it to disk, then renames it over ``path`` with ``os.replace`` (atomic on POSIX
    and Windows within one file system). A crash or an error while writing leaves the old
    ``path`` as it was; an error also removes the temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        # os.open applies the umask, as a plain open() would (mkstemp would make it 0600).
        with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666), "wb") as file:
            torch.save(obj, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        with contextlib.suppress(OSError):
            folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's ``TorchCheckpointIO`` with :func:`atomic_torch_save` for local files.

    Lightning's own writer stages the bytes in the system temp folder and *moves* them into
    place, which is a copy (not atomic) whenever that folder is on another disk, and it
    never syncs: a machine that dies mid-write can leave a truncated ``last.ckpt`` where a
    good one was. Remote paths (``s3://`` and other fsspec URLs) keep Lightning's writer.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if storage_options is not None or "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options=storage_options)
        atomic_torch_save(checkpoint, path)


def use_atomic_checkpoints(trainer) -> None:
    """Make ``trainer`` write checkpoints with :class:`AtomicCheckpointIO`, unless it was given
    a checkpoint plugin of its own (asynchronous, sharded, ...), which is then left alone."""
    if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:
        trainer.strategy.checkpoint_io = AtomicCheckpointIO()


def checkpoint_problem(path: str | Path) -> str | None:
    """``None`` when ``path`` loads as a Lightning checkpoint, else why not (one phrase).

    Memory-maps the tensors (a cheap check even for large checkpoints): what fails here is
    what ``torch.load`` would fail on when the run restores it.
    """
    try:
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
        except RuntimeError as error:
            if "mmap" not in str(error):
                raise
            checkpoint = torch.load(path, map_location="cpu", weights_only=False)  # legacy (non-zip) format
    except Exception as error:  # truncated zip, pickle garbage, an empty file, ...
        first = str(error).split(". ")[0].splitlines()[0] if str(error).strip() else ""
        return f"{type(error).__name__}: {first}".rstrip(": ")
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        return "not a Lightning checkpoint (no state_dict)"
    return None


def newest_intact_checkpoint(folder: str | Path, exclude: Sequence[str | Path] = ()) -> Path | None:
    """The most recently written ``*.ckpt`` file of ``folder`` that loads, other than ``exclude``."""
    excluded = {Path(p).resolve() for p in exclude}
    candidates = [p for p in Path(folder).glob("*.ckpt") if p.is_file() and p.resolve() not in excluded]
    for candidate in sorted(candidates, key=lambda p: p.stat().st_mtime, reverse=True):
        if checkpoint_problem(candidate) is None:
            return candidate
    return None


def check_resume_checkpoint(path: str | Path, option_value: str | None = None) -> None:
    """Raise :class:`CheckpointError` (one line) when the checkpoint a run is to resume from
    does not load, naming the newest intact checkpoint of its folder to resume from instead.

    ``option_value`` is what ``--ckpt_path`` was given, when it differs from ``path``
    (``last``). The run stops rather than resume from an older checkpoint by itself: which
    state a run continues from is the user's choice.
    """
    path = Path(path)
    problem = checkpoint_problem(path)
    if problem is None:
        return
    given = f"--ckpt_path {option_value or path}"
    intact = newest_intact_checkpoint(path.parent, exclude=[path])
    if intact is not None:
        advice = f"the newest intact checkpoint in {path.parent} is {intact}: resume with --ckpt_path {intact}"
    else:
        advice = f"{path.parent} has no intact checkpoint: start afresh without --ckpt_path"
    raise CheckpointError(f"{given}: checkpoint {path} is corrupt ({problem}); {advice}")


def last_checkpoint(trainer) -> Path | None:
    """The file Lightning resumes from for ``--ckpt_path last``: the newest ``last*.ckpt`` of
    the trainer's ModelCheckpoint folders (and OnExceptionCheckpoint files), as Lightning picks it."""
    candidates: set[Path] = set()
    for callback in trainer.callbacks:
        if isinstance(callback, OnExceptionCheckpoint):
            candidates.add(Path(callback.ckpt_path))
        elif isinstance(callback, ModelCheckpoint) and callback.dirpath and "://" not in str(callback.dirpath):
            pattern = re.compile(rf"^{re.escape(callback.CHECKPOINT_NAME_LAST)}(-(\d+))?")
            folder = Path(callback.dirpath)
            if folder.is_dir():
                candidates |= {
                    p for p in folder.iterdir() if p.suffix == callback.FILE_EXTENSION and pattern.match(p.stem)
                }
    existing = [p for p in candidates if p.is_file()]
    return max(existing, key=lambda p: p.stat().st_mtime) if existing else None


# ---------------------------------------------------------------------------- the run folder
#: A run stops at start when its folder's disk has less free space than this.
MIN_FREE_BYTES = 100 * 2**20


def check_run_folder(folder: str | Path, key: str = "--trainer.default_root_dir",
                     min_free_bytes: int = MIN_FREE_BYTES) -> None:
    """Raise :class:`UsageError` (one line) unless ``folder`` can be created, written, and
    has ``min_free_bytes`` free on its disk: a run finds out at start, not at its first checkpoint."""
    folder = Path(folder)
    accepted = "give a folder that can be created and written"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"{key} {folder}: cannot create the run folder ({error.strerror or error}); {accepted}") from None
    probe = folder / f".gan-lightning-write-probe.{os.getpid()}"
    try:
        with open(probe, "wb") as file:
            file.write(b"\0" * 4096)
            file.flush()
            os.fsync(file.fileno())
    except OSError as error:
        raise UsageError(f"{key} {folder}: cannot write into the run folder ({error.strerror or error}); {accepted}") from None
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    free = shutil.disk_usage(folder).free
    if free < min_free_bytes:
        raise UsageError(
            f"{key} {folder}: only {free / 2**20:.1f} MiB free on its disk, at least {min_free_bytes / 2**20:.0f} MiB "
            f"needed for checkpoints and logs; free some space or give a folder on another disk"
        )


def prepare_run(trainer, subcommand: str | None, ckpt_path: str | None) -> None:
    """What the CLI does to every trainer it builds, before the run starts: checkpoints are
    written atomically; ``fit`` checks that its run folder and checkpoint folders can be
    written; ``--ckpt_path last`` checks that the last checkpoint loads."""
    use_atomic_checkpoints(trainer)
    if subcommand == "fit" and "://" not in str(trainer.default_root_dir):
        check_run_folder(trainer.default_root_dir)
        for callback in trainer.checkpoint_callbacks:
            dirpath = getattr(callback, "dirpath", None)
            if dirpath and "://" not in str(dirpath) and Path(dirpath) != Path(trainer.default_root_dir):
                check_run_folder(dirpath, key=f"{type(callback).__name__} dirpath")
    if ckpt_path == "last" and (path := last_checkpoint(trainer)) is not None:
        check_resume_checkpoint(path, "last")
