"""Lightning callbacks of gan-lightning.

This folder is installed as ``gan_lightning.callbacks`` (``package_dir`` in setup.cfg),
so import it as ``from gan_lightning.callbacks import SampleGridCallback``.
"""

from .augment import AdaptiveAugmentation, DiffAugmentCallback, InstanceNoise
from .diagnostics import VanishingGradients
from .ema import EMACallback
from .guard import DivergenceError, DivergenceGuard
from .latents import LatentScatterCallback, save_latent_scatter
from .metrics import FIDCallback, ISCallback, KIDCallback, MetricsCallback, PrecisionRecallCallback
from .progress import ProgressBar
from .preemption import PreemptionCheckpoint
from .samples import SampleGridCallback, write_samples

__all__ = ["DiffAugmentCallback", "AdaptiveAugmentation", "InstanceNoise",
           "EMACallback", "DivergenceGuard", "DivergenceError", "SampleGridCallback", "write_samples",
           "LatentScatterCallback", "save_latent_scatter",
           "MetricsCallback", "FIDCallback", "KIDCallback", "ISCallback", "PrecisionRecallCallback", "ProgressBar",
           "PreemptionCheckpoint", "VanishingGradients"]
