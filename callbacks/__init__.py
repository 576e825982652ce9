"""Lightning callbacks of gan-lightning.

This folder is installed as ``gan_lightning.callbacks`` (``package_dir`` in setup.cfg),
so import it as ``from gan_lightning.callbacks import SampleGridCallback``.
"""

from .ema import EMACallback
from .guard import DivergenceError, DivergenceGuard
from .metrics import FIDCallback, ISCallback, KIDCallback, MetricsCallback, PrecisionRecallCallback
from .samples import SampleGridCallback, write_samples

__all__ = ["EMACallback", "DivergenceGuard", "DivergenceError", "SampleGridCallback", "write_samples",
           "MetricsCallback", "FIDCallback", "KIDCallback", "ISCallback", "PrecisionRecallCallback"]
