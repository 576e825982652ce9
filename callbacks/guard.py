"""Stop training at the first non-finite loss, before anything is checkpointed."""

from __future__ import annotations

import math

import lightning as L
import torch


class DivergenceError(RuntimeError):
    """Raised when a loss becomes NaN or infinite."""


class DivergenceGuard(L.Callback):
    """Checks the losses returned by ``training_step`` every ``check_every_n_steps`` iterations.

    On a NaN / Inf it raises :class:`DivergenceError` naming the iteration and the loss.
    Lightning runs checkpoint callbacks after all others, so the raise happens before
    any checkpoint of the diverged weights is written: the last good one stays intact.
    """

    def __init__(self, check_every_n_steps: int = 1) -> None:
        self.check_every_n_steps = check_every_n_steps

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if not isinstance(outputs, dict) or trainer.global_step % self.check_every_n_steps:
            return
        values = {k: v for k, v in outputs.items() if isinstance(v, torch.Tensor) and v.numel() == 1}
        if not values:
            return
        finite = torch.isfinite(torch.stack([v.float() for v in values.values()]))
        if bool(finite.all()):
            return
        bad = ", ".join(f"{k} = {float(v)}" for k, v in values.items() if not math.isfinite(float(v)))
        last = trainer.checkpoint_callback.last_model_path if trainer.checkpoint_callback else ""
        kept = f"the last good checkpoint is kept at {last}" if last else "no checkpoint had been written yet"
        raise DivergenceError(
            f"Training diverged at iteration {trainer.global_step}: {bad}. Stopped before checkpointing; {kept}. "
            "Lower the learning rates, add a regularizer, or resume from that checkpoint with another seed."
        )
