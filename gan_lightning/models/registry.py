"""The model registry: a model registers itself where it is defined, with ``@register_model``.

``known_models()`` is what ``gan-lightning models``, the CLI's class names and the every-model
tests read. It holds every model of the package (each module of ``gan_lightning.models`` is
imported once, by :func:`discover`, and registers its own classes: a new model file needs no
edit anywhere else) and the models of installed packages that declare an entry point in the
group ``gan_lightning.models`` (``[options.entry_points] gan_lightning.models = mine = my_pkg.models``),
besides any class registered by code that has run (a user's module imported before the CLI parses).
"""

from __future__ import annotations

import importlib
import pkgutil
import warnings
from typing import TypeVar

ENTRY_POINT_GROUP = "gan_lightning.models"
_MODELS: dict[str, type] = {}
_discovered = False

Model = TypeVar("Model", bound=type)


def register_model(cls: Model) -> Model:
    """Class decorator: make ``cls`` (a ``GANModule`` subclass) a known model under its class name."""
    from gan_lightning.models.base import GANModule

    if not (isinstance(cls, type) and issubclass(cls, GANModule)):
        raise TypeError(f"register_model takes GANModule subclasses, got {cls!r}")
    name = cls.__name__
    known = _MODELS.get(name)
    same = known is not None and (known.__module__, known.__qualname__) == (cls.__module__, cls.__qualname__)
    if known is not None and not same:
        raise ValueError(f"two models are named {name}: {known.__module__}.{known.__qualname__} and "
                         f"{cls.__module__}.{cls.__qualname__}; rename one")
    _MODELS[name] = cls
    return cls


def unregister_model(name: str) -> None:
    """Forget the model ``name`` (a plugin being reloaded, a test's temporary model)."""
    _MODELS.pop(name, None)


def discover() -> None:
    """Import every module of ``gan_lightning.models`` and every ``gan_lightning.models`` entry point, once."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    package = importlib.import_module("gan_lightning.models")
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            entry.load()
        except Exception as error:  # noqa: BLE001 - a broken plugin must not break the built-in models
            warnings.warn(f"gan-lightning: the model plugin {entry.name!r} ({entry.value}) did not load: {error}",
                          stacklevel=2)


def known_models() -> dict[str, type]:
    """Every registered model, by class name (sorted)."""
    discover()
    return dict(sorted(_MODELS.items()))
