"""Every model, importable by its class name: ``from gan_lightning.models import DCGAN``."""

from gan_lightning.models.base import GANModule
from gan_lightning.models.dcgan import DCGAN
from gan_lightning.models.gan import GAN

__all__ = ["GANModule", "GAN", "DCGAN", "known_models"]


def known_models() -> dict[str, type[GANModule]]:
    """Every concrete ``GANModule`` subclass defined in ``gan_lightning.models``, by class name."""
    found: dict[str, type[GANModule]] = {}
    stack = list(GANModule.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith("gan_lightning.models") and not cls.__name__.startswith("_"):
            found[cls.__name__] = cls
    return dict(sorted(found.items()))
