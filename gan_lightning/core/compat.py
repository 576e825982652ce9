"""The Lightning workarounds, in one place; tests/test_compat.py fails when an upgrade breaks one.

1. Iterations, not optimizer steps. Under manual optimization Lightning adds one to
   ``global_step`` for every ``optimizer.step()``; our contract counts iterations (batches),
   so ``--trainer.max_steps``, ``every_n_train_steps`` and the logged step mean batches for
   every model. :func:`counts_one_iteration` corrects the counter after each training step.
2. Backward passes that reach one network only. Each phase's backward touches only the
   networks of its optimizer, which plain DDP rejects (Lightning #20328). The public spelling
   is ``--trainer.strategy ddp_find_unused_parameters_true``; :func:`allow_partial_backward`
   makes a plain ``ddp`` strategy behave the same, so old commands keep working.
3. Fast toggling. Lightning's ``toggle_optimizer`` walks every parameter of every optimizer
   twice per phase; :class:`OptimizerToggle` keeps the parameter lists once and flips
   ``requires_grad`` on the other groups only.
4. Logging only when it is written. ``self.log`` costs about as much as a small network's
   step (it validates and stores every value in Lightning's result collection); the loggers
   only write every ``log_every_n_steps`` iterations, so :func:`logging_due` tells the core
   when a logged value can reach a logger or the progress bar.
"""

from __future__ import annotations

import functools
import random
from contextlib import contextmanager
from typing import Any, Callable, Sequence

import numpy as np
import torch


# ---------------------------------------------------------------------------- 1. iteration counting
def optimizer_step_progress(module) -> Any | None:
    """The manual-optimization step progress of a fitting trainer, else None."""
    trainer = module._trainer
    if trainer is None or not trainer.training:
        return None
    return trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress


def counts_one_iteration(step_fn: Callable) -> Callable:
    """Wrap a ``training_step`` so that one call advances ``global_step`` by exactly one."""
    if getattr(step_fn, "__counts_one_iteration__", False):
        return step_fn

    @functools.wraps(step_fn)
    def training_step(self, *args, **kwargs):
        progress = optimizer_step_progress(self)
        before = progress.total.completed if progress is not None else 0
        output = step_fn(self, *args, **kwargs)
        if progress is not None:
            correction = before + 1 - progress.total.completed
            if correction:
                for tracker in (progress.total, progress.current):
                    tracker.ready += correction
                    tracker.completed += correction
        return output

    training_step.__counts_one_iteration__ = True
    return training_step


def logging_due(module) -> bool:
    """Whether values logged in this training step reach the loggers / the progress bar."""
    trainer = module._trainer
    if trainer is None:
        return False
    return bool(trainer._logger_connector.should_update_logs)


# ---------------------------------------------------------------------------- 2. DDP
def allow_partial_backward(trainer) -> None:
    """Turn on ``find_unused_parameters`` for a DDP strategy (before it wraps the module)."""
    from lightning.pytorch.strategies import DDPStrategy

    strategy = trainer.strategy if trainer is not None else None
    if isinstance(strategy, DDPStrategy):
        strategy._ddp_kwargs["find_unused_parameters"] = True


# ---------------------------------------------------------------------------- 3. toggling
class OptimizerToggle:
    """``with toggle(name):`` only the parameters of optimizer group ``name`` require grad.

    Built once from the group -> parameters table; parameters frozen by the user
    (``requires_grad=False`` before training) stay frozen.
    """

    def __init__(self, groups: dict[str, Sequence[torch.nn.Parameter]]) -> None:
        self.groups = {name: [p for p in params if p.requires_grad] for name, params in groups.items()}
        self.others: dict[str, list[torch.nn.Parameter]] = {}
        for name, params in self.groups.items():
            seen = {id(p) for p in params}
            others = []
            for other, other_params in self.groups.items():
                for p in other_params if other != name else ():
                    if id(p) not in seen:
                        seen.add(id(p))
                        others.append(p)
            self.others[name] = others

    @contextmanager
    def __call__(self, name: str):
        frozen = self.others[name]
        for p in frozen:
            p.requires_grad_(False)
        try:
            yield
        finally:
            for p in frozen:
                p.requires_grad_(True)


# ---------------------------------------------------------------------------- RNG in checkpoints
def capture_rng_state() -> dict[str, Any]:
    """Global RNG states in types that ``torch.load(weights_only=True)`` accepts."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    numpy_state = {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                   "has_gauss": int(has_gauss), "cached": float(cached)}
    state = {"torch": torch.get_rng_state(), "numpy": numpy_state, "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
