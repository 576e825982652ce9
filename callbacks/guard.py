"""Stop training at the first non-finite loss, before anything is checkpointed."""

from __future__ import annotations

import math
import numbers

import lightning as L
import torch

from gan_lightning.core import compat


class DivergenceError(RuntimeError):
    """Raised when a loss becomes NaN or infinite."""


class DivergenceGuard(L.Callback):
    """Watches the loss values ``training_step`` returns and stops at the first NaN / Inf.

    Every iteration the values are checked where they live (on the GPU: a few tiny kernels, no
    waiting); the first iteration with a non-finite value and its values are kept there too. The
    host reads the verdict, one synchronisation, only when something could act on a diverged state:

    - before every checkpoint is written (``on_save_checkpoint``: the periodic ones, ``last.ckpt``
      at the end, a preemption's), so no checkpoint ever holds diverged weights;
    - on the iterations a logger writes (``log_every_n_steps``), where Lightning waits anyway;
    - every ``check_every_n_steps`` iterations when it is set, and when training ends.

    On a NaN / Inf it raises :class:`DivergenceError` naming the first bad iteration and its values;
    the last good checkpoint stays intact. Loss values that are not tensors on the module's device
    are a bug of the model, but a value that reaches the guard elsewhere (or as a number) is still
    checked, after a copy to the device.
    """

    def __init__(self, check_every_n_steps: int | None = None) -> None:
        if check_every_n_steps is not None and check_every_n_steps < 1:
            raise ValueError(f"DivergenceGuard.check_every_n_steps must be >= 1 or null, got {check_every_n_steps}")
        self.check_every_n_steps = check_every_n_steps
        self._reset()

    def _reset(self) -> None:
        self._bad_iteration: torch.Tensor | None = None  # on the device: the first bad iteration, -1 while none
        self._bad_set: torch.Tensor | None = None  # on the device: which of _names held the first bad values
        self._bad_values: dict[tuple[str, ...], torch.Tensor] = {}
        self._names: list[tuple[str, ...]] = []

    def on_train_start(self, trainer, pl_module) -> None:
        self._reset()

    @staticmethod
    def loss_values(outputs, device: torch.device) -> dict[str, torch.Tensor]:
        """The one-element loss values of a step's outputs, as float scalars on ``device``."""
        if not isinstance(outputs, dict):
            return {}
        values = {}
        for name, value in outputs.items():
            if isinstance(value, torch.Tensor) and value.numel() == 1:
                values[name] = value.detach().reshape(()).to(device=device, dtype=torch.float32)
            elif isinstance(value, numbers.Real) and not isinstance(value, bool):
                values[name] = torch.tensor(float(value), device=device)
        return values

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        values = self.loss_values(outputs, pl_module.device)
        if values:
            self.watch(values, trainer.global_step)
        every = self.check_every_n_steps
        if compat.logging_due(pl_module) or (every is not None and trainer.global_step % every == 0):
            self.check(trainer)

    def watch(self, values: dict[str, torch.Tensor], iteration: int) -> None:
        """Record, on the device, whether ``values`` (of ``iteration``) are the first non-finite ones."""
        names = tuple(values)
        stacked = torch.stack(list(values.values()))
        if self._bad_iteration is None:
            self._bad_iteration = torch.full((), -1, dtype=torch.long, device=stacked.device)
            self._bad_set = torch.zeros((), dtype=torch.long, device=stacked.device)
        if names not in self._names:
            self._names.append(names)
        first = ~torch.isfinite(stacked).all() & (self._bad_iteration < 0)
        self._bad_iteration = torch.where(first, iteration, self._bad_iteration)
        self._bad_set = torch.where(first, self._names.index(names), self._bad_set)
        self._bad_values[names] = torch.where(first, stacked, self._bad_values.get(names, stacked))

    def check(self, trainer) -> None:
        """Read the verdict (a host-device synchronisation); raise :class:`DivergenceError` on a bad one."""
        if self._bad_iteration is None:
            return
        iteration = int(self._bad_iteration)
        if iteration < 0:
            return
        names = self._names[int(self._bad_set)]
        values = self._bad_values[names].tolist()
        bad = ", ".join(f"{name} = {value}" for name, value in zip(names, values) if not math.isfinite(value))
        last = trainer.checkpoint_callback.last_model_path if trainer.checkpoint_callback else ""
        kept = f"the last good checkpoint is kept at {last}" if last else "no checkpoint had been written yet"
        raise DivergenceError(
            f"Training diverged at iteration {iteration}: {bad}. Stopped before checkpointing; {kept}. "
            "Lower the learning rates, add a regularizer, or resume from that checkpoint with another seed."
        )

    def on_save_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        self.check(trainer)

    def on_train_end(self, trainer, pl_module) -> None:
        self.check(trainer)
