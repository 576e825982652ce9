"""The feature extractor of an evaluation: from a name, a file or a module, and how records name it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from torch import nn

from gan_lightning.metrics import DigitsClassifier, InceptionExtractor, ModuleExtractor, build_extractor


def resolve_extractor(extractor: str | nn.Module | None, weights: str | os.PathLike | None = None) -> nn.Module | None:
    """A name (``inception``, ``digits``, ``none``), the path of a saved module, a module, or ``None``."""
    if extractor is None or isinstance(extractor, nn.Module):
        return extractor
    if str(extractor).lower() in ("none", "raw"):
        return None
    return build_extractor(str(extractor), weights)


def _file_fingerprint(path: str | os.PathLike | None) -> dict[str, Any] | None:
    if not path:
        return None
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        return {"file": path.name}
    return {"file": path.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def extractor_name(extractor: nn.Module | None) -> str:
    """Short name of an extractor for records: ``inception``, ``digits``, ``none``, a file name or a class name."""
    if extractor is None:
        return "none"
    if isinstance(extractor, InceptionExtractor):
        return "inception" if extractor.feature_name == "2048" else f"inception-{extractor.feature_name}"
    if isinstance(extractor, DigitsClassifier):
        return "digits"
    if isinstance(extractor, ModuleExtractor):
        return Path(extractor.path).name
    return getattr(extractor, "name", type(extractor).__name__)


def extractor_identity(extractor: nn.Module | None) -> dict[str, Any]:
    """What the real features depend on: the extractor's name, layer and weights file (name, size, mtime)."""
    weights = getattr(extractor, "weights_path", None) or getattr(extractor, "path", None)
    return {
        "name": extractor_name(extractor),
        "class": None if extractor is None else f"{type(extractor).__module__}.{type(extractor).__qualname__}",
        "weights": _file_fingerprint(weights),
    }
