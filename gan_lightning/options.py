"""The command-line values of our own verbs (``models``, ``sample``, ``evaluate``, ``translate``): a parser
whose errors are one line, and the checks of what argparse cannot type (ranges, devices, paths).

Every failed check raises :class:`~gan_lightning.errors.UsageError`, which the command prints as one
line (``gan-lightning: error: --KEY: VALUE is not accepted; give ...``) with exit status 2. Anything
else that goes wrong is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from pathlib import Path

from gan_lightning.errors import UsageError

#: What ``sample --out`` writes: file types both the image grid (Pillow) and the 2-D scatter plot (matplotlib) write.
PICTURE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff")
#: The largest count (samples, rows, batch size, pixels) an option takes: torch's 32-bit sizes.
MAX_COUNT = 2**31 - 1
#: The seeds ``torch.Generator.manual_seed`` takes.
SEED_RANGE = (-(2**63), 2**64 - 1)
_KIND = {"int": "a whole number", "float": "a number"}


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors raise :class:`UsageError` with one line (argparse would
    print its usage block, then the error); ``--help`` prints and exits 0 as usual."""

    def error(self, message: str):  # noqa: D401 - argparse's hook
        raise UsageError(self.one_line(message))

    def option_names(self) -> list[str]:
        return [name for action in self._actions for name in action.option_strings if name.startswith("--")
                and name != "--help"]

    def one_line(self, message: str) -> str:
        if match := re.fullmatch(r"argument (\S+?)(?:/\S+)?: invalid (\w+) value: '(.*)'", message):
            return f"{match[1]}: {match[3]!r} is not accepted; give {_KIND.get(match[2], match[2])}"
        if match := re.fullmatch(r"argument (\S+?)(?:/\S+)?: invalid choice: '(.*)' \(choose from (.*)\)", message):
            return f"{match[1]}: {match[2]!r} is not accepted; give one of {match[3]}"
        if match := re.fullmatch(r"argument (\S+?)(?:/\S+)?: expected one argument", message):
            return f"{match[1]} needs a value"
        if match := re.fullmatch(r"argument (\S+?)(?:/\S+)?: ignored explicit argument '(.*)'", message):
            return f"{match[1]} takes no value (given {match[2]!r})"
        if match := re.fullmatch(r"the following arguments are required: (.*)", message):
            return f"{self.prog} needs {match[1]} (`{self.prog} --help` lists the options)"
        if match := re.fullmatch(r"unrecognized arguments: (.*)", message):
            return f"{self.prog} has no option {match[1]}; its options: {', '.join(self.option_names())}"
        return " ".join(message.split())


def at_least(option: str, value: int | None, minimum: int, what: str, maximum: int = MAX_COUNT) -> None:
    """A count from ``minimum`` to ``maximum`` (``None`` passes: an option left out)."""
    if value is not None and not minimum <= value <= maximum:
        raise UsageError(f"{option}: {value} is not accepted; give {what} (at most {maximum})")


def finite_at_least(option: str, value: float | None, minimum: float, what: str) -> None:
    if value is not None and not (math.isfinite(value) and value >= minimum):
        raise UsageError(f"{option}: {value} is not accepted; give {what}")


def seed(option: str, value: int) -> None:
    low, high = SEED_RANGE
    if not low <= value <= high:
        raise UsageError(f"{option}: {value} is not accepted; give a whole number from {low} to {high}")


def device(option: str, name: str):
    """``torch.device(name)``, refused in one line when it is not a device name or not on this machine."""
    import torch

    try:
        chosen = torch.device(name)
    except (RuntimeError, ValueError, TypeError):
        raise UsageError(f"{option}: {name!r} is not accepted; give cpu, cuda, cuda:N or mps") from None
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if not available.get(chosen.type, True):
        raise UsageError(f"{option}: {name!r} is not accepted; this machine has no {chosen.type} device (give cpu)")
    if chosen.type == "cuda" and chosen.index is not None and chosen.index >= torch.cuda.device_count():
        raise UsageError(f"{option}: {name!r} is not accepted; this machine has {torch.cuda.device_count()} CUDA "
                         f"device(s), cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    return chosen


def _writable_folder(option: str, folder: Path, what: str, create: bool) -> None:
    """``folder`` exists (or ``create``: is created) and can be written; without ``create``, only that it
    can be created: its nearest existing ancestor is a writable folder."""
    if create:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UsageError(f"{option}: cannot create the folder {folder} ({error.strerror or error}); give {what}") from None
    existing = next(f for f in (folder, *folder.absolute().parents) if f.exists())
    if not existing.is_dir():
        raise UsageError(f"{option}: cannot create the folder {folder} ({existing} is a file); give {what}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{option}: the folder {existing} cannot be written; give {what}")


def output_picture(option: str, path: str) -> Path:
    """The picture file to write: a name with a picture extension in a folder that exists or can be
    created, and is writable (the writer creates it)."""
    what = f"a file name ending in {', '.join(PICTURE_EXTENSIONS)} in a writable folder"
    if not str(path).strip():
        raise UsageError(f"{option} is empty; give {what}")
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{option}: {path} is a folder; give {what}")
    if target.suffix.lower() not in PICTURE_EXTENSIONS:
        raise UsageError(f"{option}: {path!r} is not accepted; give {what}")
    _writable_folder(option, target.parent, what, create=False)
    if target.exists() and not os.access(target, os.W_OK):
        raise UsageError(f"{option}: {path} exists and cannot be written; give {what}")
    return target


def output_folder(option: str, path: str, create: bool = True) -> Path:
    """A folder to write into, created when missing (``create=False``: only checked that it can be)."""
    what = "a folder that can be created and written"
    if not str(path).strip():
        raise UsageError(f"{option} is empty; give {what}")
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise UsageError(f"{option}: {path} is a file; give {what}")
    _writable_folder(option, target, what, create)
    return target


def input_file(option: str, path: str | None, what: str) -> Path | None:
    """An existing file (``None`` stays ``None``)."""
    if path is None:
        return None
    if not str(path).strip():
        raise UsageError(f"{option} is empty; give {what}")
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{option}: {path} is a folder; give {what}")
    if not target.is_file():
        raise UsageError(f"{option}: {path} not found; give {what}")
    return target
