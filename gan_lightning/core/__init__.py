"""The training core under every model: phases, the step context, named optimizers,
declared training state, and the few Lightning workarounds, each in its own module.

``gan_lightning.models.base.GANModule`` puts them together; model files use them through it.
"""

from gan_lightning.core.optim import OptimizerSettings, build_optimizer
from gan_lightning.core.phases import Phase, StepContext, WindowedPhase
from gan_lightning.core.state import ReplayPool, TrainingState

__all__ = ["Phase", "WindowedPhase", "StepContext", "OptimizerSettings", "build_optimizer", "TrainingState", "ReplayPool"]
