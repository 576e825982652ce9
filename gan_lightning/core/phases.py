"""An iteration is a list of phases (StyleGAN2-ADA's ``Gmain``/``Greg``/``Dmain``/``Dreg``).

A :class:`Phase` names the optimizer it steps, the loss it minimises and how often it runs.
The core (``GANModule.training_step``) builds one :class:`StepContext` per batch, lets the
model prepare it, then runs every phase that is due, in order, each inside its optimizer's
toggle. A phase's loss reads the context and may leave results in it for later phases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch

LossFn = Callable[["StepContext"], Mapping[str, torch.Tensor]]


@dataclass(frozen=True)
class Phase:
    """One update of one optimizer.

    Args:
        name: short name, e.g. ``"D"``, ``"G"``, ``"Dreg"``; unique within a model.
        optimizer: name of the optimizer group it steps (a key of ``optimizer_groups()``).
        loss: ``loss(ctx) -> {term: tensor}``; every term is logged, ``loss_key`` is minimised.
        loss_key: the term to minimise; default ``"<name lower>_loss"`` (``d_loss``, ``g_loss``).
        interval: run on iterations ``i`` (0-based) with ``(i + 1) % interval == 0``: n_critic
            for G, and lazy regularization every k iterations.
        lazy: lazy regularization (Karras et al. 2020, appendix B): the loss is multiplied by
            ``interval``, and the optimizer this phase steps gets lr * c and betas ** c with
            c = interval / (interval + 1), once, when the optimizers are built.
        after: called with the context after the optimizer step (e.g. WGAN's weight clipping).
        update_when: ``update_when(ctx) -> bool``, called after the loss: False skips this phase's update in this
            iteration (no backward, no optimizer step, no ``after``: the network's weights and its
            optimizer's state stay exactly as they were; the terms are still logged). A Python bool:
            a rule that reads a device value makes the host wait for the device (S2GAN's margin
            rule reads one per iteration, and says so); None: always update.
    """

    name: str
    optimizer: str
    loss: LossFn
    loss_key: str | None = None
    interval: int = 1
    lazy: bool = False
    after: Callable[["StepContext"], None] | None = None
    update_when: Callable[["StepContext"], bool] | None = None

    def __post_init__(self) -> None:
        if self.interval < 1:
            raise ValueError(f"phase {self.name!r}: interval must be >= 1, got {self.interval}")
        if self.lazy and self.interval < 2:
            raise ValueError(f"phase {self.name!r}: a lazy phase needs interval >= 2, got {self.interval}")

    @property
    def key(self) -> str:
        return self.loss_key or f"{self.name.lower()}_loss"

    def due(self, iteration: int) -> bool:
        return (iteration + 1) % self.interval == 0

    @property
    def gain(self) -> float:
        """The factor on this phase's loss: ``interval`` for a lazy phase, else 1."""
        return float(self.interval) if self.lazy else 1.0


@dataclass(frozen=True)
class WindowedPhase(Phase):
    """A phase that runs only on iterations ``start <= i < stop`` (``stop`` None: to the end): SRGAN's
    pre-training, StackedGAN's encoder pre-training, GoGAN's stages."""

    start: int = 0
    stop: int | None = None

    def due(self, iteration: int) -> bool:
        inside = iteration >= self.start and (self.stop is None or iteration < self.stop)
        return inside and super().due(iteration)


class StepContext:
    """What one training iteration knows: the batch, its noise, and what earlier phases computed.

    Built by the core from the batch:
    - a tensor batch: ``real``; a ``(images, labels)`` tuple: ``real`` and ``labels``;
    - a dict batch (paired / unpaired images, attributes, text): every key is an attribute,
      and ``real`` is the entry the model's output declares (``real_key``: ``Output.key``), else
      its ``"real"`` or ``"image"`` entry when there is one.
    ``iteration`` is the 0-based training iteration, ``due`` the names of the phases that run.
    Phases and ``prepare_step`` add their own entries (``ctx.z``, ``ctx.fake``, ...).
    """

    def __init__(self, batch: Any, iteration: int = 0, due: frozenset[str] = frozenset(),
                 real_key: str | None = None) -> None:
        self.batch = batch
        self.iteration = iteration
        self.due = due
        self.labels: torch.Tensor | None = None
        if isinstance(batch, Mapping):
            for key, value in batch.items():
                setattr(self, str(key), value)
            real = batch[real_key] if real_key is not None and real_key in batch else batch.get(
                "real", batch.get("image"))
            if real is not None:
                self.real = real
        elif isinstance(batch, (list, tuple)):
            self.real = batch[0]
            self.labels = batch[1] if len(batch) > 1 else None
        else:
            self.real = batch

    def runs(self, phase_name: str) -> bool:
        """True when the phase ``phase_name`` runs in this iteration."""
        return phase_name in self.due

    @property
    def batch_size(self) -> int:
        return int(self.real.size(0))

    def __getattr__(self, name: str) -> Any:  # only called for missing attributes
        known = ", ".join(sorted(k for k in vars(self) if k != "batch"))
        raise AttributeError(f"the step context has no {name!r} (an earlier phase or prepare_step sets it); "
                             f"it has: {known}")
