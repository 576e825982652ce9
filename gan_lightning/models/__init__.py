"""Every model, importable by its class name: ``from gan_lightning.models import DCGAN``.

Each model registers itself in its own file (``@register_model``, :mod:`gan_lightning.models.registry`);
this package imports its modules once (:func:`~gan_lightning.models.registry.discover`) and offers
every registered model under its name.
"""

from gan_lightning.models.base import GANModule
from gan_lightning.models.registry import discover, known_models, register_model, unregister_model

discover()
globals().update(known_models())

__all__ = ["GANModule", "known_models", "register_model", "unregister_model", *known_models()]


def __getattr__(name: str):
    """Models registered after this package was imported (a plugin, a user's module) by their name too."""
    models = known_models()
    if name in models:
        return models[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
