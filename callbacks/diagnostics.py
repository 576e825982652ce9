"""Diagnostics of training dynamics: the vanishing-gradient experiment of Arjovsky & Bottou 2017.

From a YAML::

    trainer:
      callbacks:
        - class_path: gan_lightning.callbacks.VanishingGradients
          init_args: {freeze_g_at: 1000, every_n_steps: 50}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning as L
import torch

from gan_lightning.losses import minimax_g, nonsaturating_g


class VanishingGradients(L.Callback):
    """Freeze G, train D alone, and watch the gradient G would get (Arjovsky & Bottou 2017, figure 2).

    From iteration ``freeze_g_at`` on, G's learning rate is 0 (its parameters stay) and D trains alone;
    with ``reset_d`` (the paper's "we train a discriminator from scratch") D starts again from the
    weights it had at the start of the run, with a fresh optimizer state, so D approaches the optimal
    discriminator for the fixed G (the reading at the freeze is then the new D's). Every ``every_n_steps`` iterations, counted
    from ``freeze_g_at`` (from the start without one), the norm of the gradient of G's loss with respect to G's parameters is measured
    on ``num_samples`` fixed noise vectors, for the original minimax loss ``log(1 - D(G(z)))``, which
    the paper shows vanishes as D improves, and for the non-saturating ``-log D(G(z))``, which does not.
    Both networks stay in their training mode (BatchNorm on the batch, as in the iterations), their
    buffers (BatchNorm statistics, spectral-norm vectors) are put back afterwards and the draws come
    from a seeded generator, so training is the run it would be without the callback.

    The readings are logged (``grad_norm_minimax``, ``grad_norm_nonsaturating``), kept in ``history``
    (iteration, minimax, non-saturating; one more at the end of the fit) and saved with the checkpoint; ``out`` writes them as JSON at
    the end of the fit. It applies to models whose D gives logits for binary cross-entropy
    (``smooths_real_labels``), unconditional or class-conditional.

    Args:
        freeze_g_at: the first iteration of D alone (None: G is never frozen; only the readings).
        reset_d: D from its initial weights at the freeze (False: D continues as it is).
        every_n_steps: iterations between readings.
        num_samples: noise vectors of each reading.
        out: a JSON file for ``history`` (None: none written).
    """

    def __init__(self, freeze_g_at: int | None = None, every_n_steps: int = 50, num_samples: int = 64,
                 out: str | None = None, reset_d: bool = True) -> None:
        if freeze_g_at is not None and freeze_g_at < 0:
            raise ValueError(f"VanishingGradients.freeze_g_at must be >= 0 (or null: never), got {freeze_g_at}")
        if every_n_steps < 1:
            raise ValueError(f"VanishingGradients.every_n_steps must be >= 1, got {every_n_steps}")
        if num_samples < 1:
            raise ValueError(f"VanishingGradients.num_samples must be >= 1, got {num_samples}")
        self.freeze_g_at, self.every_n_steps, self.num_samples = freeze_g_at, every_n_steps, num_samples
        self.out, self.reset_d = out, bool(reset_d)
        self.history: list[tuple[int, float, float]] = []
        self.initial_d: dict[str, torch.Tensor] | None = None  # D's starting weights, until the freeze

    def setup(self, trainer, pl_module, stage: str) -> None:
        if not getattr(pl_module, "smooths_real_labels", False) or pl_module.translates:
            raise ValueError(f"VanishingGradients measures G's binary cross-entropy losses on D's logits; "
                             f"{type(pl_module).__name__}'s D is not trained that way")

    def frozen(self, iteration: int) -> bool:
        return self.freeze_g_at is not None and iteration >= self.freeze_g_at

    def on_fit_start(self, trainer, pl_module) -> None:
        if self.reset_d and self.freeze_g_at is not None and trainer.global_step == 0 and self.initial_d is None:
            self.initial_d = {k: v.detach().cpu().clone() for k, v in pl_module.discriminator.state_dict().items()}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if not self.frozen(trainer.global_step):
            return
        for group in pl_module.named_optimizer("generator").param_groups:  # every iteration: a resume restores lr
            group["lr"] = 0.0
        if trainer.global_step == self.freeze_g_at and self.initial_d is not None:  # D from scratch
            pl_module.discriminator.load_state_dict(self.initial_d)
            pl_module.named_optimizer("discriminator").state.clear()
            self.initial_d = None
            if self.history and self.history[-1][0] == trainer.global_step:  # the freeze's reading: the new D's
                self.history[-1] = (trainer.global_step, *self.measure(pl_module))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        iteration = trainer.global_step  # iterations done
        due = (iteration - (self.freeze_g_at or 0)) % self.every_n_steps == 0  # counted from the freeze
        if due and (not self.history or self.history[-1][0] != iteration):
            minimax, nonsaturating = self.measure(pl_module)
            self.history.append((iteration, minimax, nonsaturating))
            pl_module.log_dict({"grad_norm_minimax": minimax, "grad_norm_nonsaturating": nonsaturating},
                               on_step=True, on_epoch=False)

    def measure(self, pl_module) -> tuple[float, float]:
        """(||grad_G log(1 - D(G(z)))||, ||grad_G -log D(G(z))||) on the fixed noise."""
        z = pl_module.sample_noise(self.num_samples, rng=torch.Generator().manual_seed(0)).to(pl_module.device)
        labels = None
        if pl_module.class_condition is not None:
            labels = torch.arange(self.num_samples, device=pl_module.device) % pl_module.class_condition.size
        params = list(pl_module.generator.parameters())
        flags = [p.requires_grad for p in params]  # the optimizer toggle's, put back afterwards
        devices = [pl_module.device.index or 0] if pl_module.device.type == "cuda" else []
        norms = []
        buffers = [b.detach().clone() for net in (pl_module.generator, pl_module.discriminator) for b in net.buffers()]
        try:
            with torch.enable_grad(), torch.random.fork_rng(devices=devices):
                for p in params:
                    p.requires_grad_(True)
                for loss_fn in (minimax_g, nonsaturating_g):
                    logits = pl_module.discriminate(pl_module.generate(z, labels), labels)
                    logits = logits[0] if isinstance(logits, (tuple, list)) else logits
                    grads = [g for g in torch.autograd.grad(loss_fn(logits), params, allow_unused=True) if g is not None]
                    norms.append(float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))))
        finally:
            for p, flag in zip(params, flags):
                p.requires_grad_(flag)
            with torch.no_grad():
                current = [b for net in (pl_module.generator, pl_module.discriminator) for b in net.buffers()]
                for buffer, saved in zip(current, buffers):
                    buffer.copy_(saved)
        return norms[0], norms[1]

    def on_train_end(self, trainer, pl_module) -> None:
        if not self.history or self.history[-1][0] != trainer.global_step:  # a last reading at the end
            self.history.append((trainer.global_step, *self.measure(pl_module)))
        if self.out and trainer.is_global_zero:
            Path(self.out).parent.mkdir(parents=True, exist_ok=True)
            rows = [{"iteration": i, "minimax": a, "nonsaturating": b} for i, a, b in self.history]
            Path(self.out).write_text(json.dumps({"freeze_g_at": self.freeze_g_at, "readings": rows}, indent=1) + "\n")

    def state_dict(self) -> dict[str, Any]:
        return {"history": list(self.history), "initial_d": self.initial_d}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = [tuple(row) for row in state_dict["history"]]
        self.initial_d = state_dict.get("initial_d")
