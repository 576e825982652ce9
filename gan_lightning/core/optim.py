"""Named optimizers: one per network group, each with its own settings (TTUR, per-network betas).

``GANModule`` resolves each group's :class:`OptimizerSettings` from the model arguments
(``optimizer``, ``lr_g`` / ``lr_d``, ``betas``, ``momentum``, ``weight_decay``), the model's
recipe, and the per-network table ``optimizers: {name: {lr: ..., betas: ...}}`` of a YAML.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping

import torch

OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
SETTINGS = ("optimizer", "lr", "betas", "momentum", "weight_decay", "implementation")
IMPLEMENTATIONS = ("auto", "foreach", "fused", "single_tensor")


@dataclass(frozen=True)
class OptimizerSettings:
    optimizer: str = "adam"
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    momentum: float = 0.0
    weight_decay: float = 0.0
    implementation: str = "auto"

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {self.optimizer!r}")
        if self.implementation not in IMPLEMENTATIONS:
            raise ValueError(f"implementation must be one of {', '.join(IMPLEMENTATIONS)}; got {self.implementation!r}")
        if not 0 <= self.lr < float("inf"):
            raise ValueError(f"lr must be >= 0, got {self.lr}")
        for key in ("momentum", "weight_decay"):
            if not 0 <= getattr(self, key) < float("inf"):
                raise ValueError(f"{key} must be >= 0, got {getattr(self, key)}")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas}")
        object.__setattr__(self, "betas", (float(self.betas[0]), float(self.betas[1])))

    def updated(self, group: str, overrides: Mapping[str, Any]) -> "OptimizerSettings":
        unknown = sorted(set(overrides) - set(SETTINGS))
        if unknown:
            raise ValueError(f"model.optimizers.{group}: unknown setting {unknown[0]!r}; "
                             f"accepted: {', '.join(SETTINGS)}")
        values = dict(overrides)
        if "betas" in values:
            values["betas"] = tuple(values["betas"])
        return replace(self, **values)

    def lazy(self, interval: int) -> "OptimizerSettings":
        """Lazy regularization every ``interval`` steps: lr * c and betas ** c, c = k / (k + 1)."""
        c = interval / (interval + 1)
        return replace(self, lr=self.lr * c, betas=(self.betas[0] ** c, self.betas[1] ** c))


def build_optimizer(params: Iterable[torch.nn.Parameter], settings: OptimizerSettings) -> torch.optim.Optimizer:
    params = list(params)
    if not params:
        raise ValueError("an optimizer group has no parameters")
    impl = {}
    if settings.implementation == "foreach":
        impl = {"foreach": True}
    elif settings.implementation == "fused":
        impl = {"fused": True}
    elif settings.implementation == "single_tensor":
        impl = {"foreach": False}
    if settings.optimizer == "adam":
        return torch.optim.Adam(params, lr=settings.lr, betas=settings.betas, weight_decay=settings.weight_decay, **impl)
    if settings.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=settings.lr, betas=settings.betas, weight_decay=settings.weight_decay,
                                 **impl)
    impl.pop("fused", None) if settings.optimizer == "rmsprop" and not hasattr(torch.optim.RMSprop, "_fused") else None
    if settings.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=settings.lr, momentum=settings.momentum,
                                   weight_decay=settings.weight_decay, **impl)
    return torch.optim.SGD(params, lr=settings.lr, momentum=settings.momentum, weight_decay=settings.weight_decay,
                           **impl)


def linear_decay(total: int, decay_iters: int):
    """The LR factor of ``lr_decay_iters``: 1, then linearly down to 0 over the last
    ``decay_iters`` of ``total`` iterations (``GANModule.configure_optimizers``' schedule)."""
    start = max(total - decay_iters, 0)

    def factor(iteration: int) -> float:
        return 1.0 if iteration < start else max(0.0, (total - iteration) / max(total - start, 1))

    return factor


def replan_linear_decay(checkpoint: dict[str, Any], total: int, decay_iters: int) -> bool:
    """Resuming with another ``max_steps`` than the checkpoint's run: set the learning rates the
    checkpoint restores to the new plan's values at the iteration it resumes, so the first
    resumed iteration already follows the new schedule (the optimizer would otherwise restore
    the old plan's last value: 0 when the old run had finished its decay). Returns whether it changed them.
    """
    saved_total = checkpoint.get("gan_lightning", {}).get("max_steps")
    if saved_total is None or saved_total == total:
        return False
    factor = linear_decay(total, decay_iters)
    for optimizer, scheduler in zip(checkpoint.get("optimizer_states", []), checkpoint.get("lr_schedulers", [])):
        lrs = [base * factor(scheduler["last_epoch"]) for base in scheduler["base_lrs"]]
        for group, lr in zip(optimizer["param_groups"], lrs):
            group["lr"] = lr
        scheduler["_last_lr"] = lrs
    return True


def apply_optimizer_settings(checkpoint: dict[str, Any], settings: Mapping[str, OptimizerSettings],
                             total: int | None = None, decay_iters: int = 0) -> list[str]:
    """Resuming with changed optimisation settings: write ``settings`` (the resumed model's, one per
    optimizer, in the checkpoint's order) into the optimizer states and LR schedules ``checkpoint``
    restores, wherever they differ from those the checkpoint's run had; the optimizers' moments and
    step counts stay. A restored optimizer would otherwise bring back its old learning rate and betas.

    Learning rates under ``lr_decay_iters`` (LambdaLR): the schedule's base rate is replaced and the
    current rate set to the new base times the schedule's factor at the saved iteration (of the plan
    of ``total`` iterations). Nothing is written when nothing differs: a resume with unchanged
    settings restores exactly what was saved. Returns one phrase per change (``generator lr 0.0002 -> 0.0001``).
    """
    optimizers = checkpoint.get("optimizer_states") or []
    schedulers = checkpoint.get("lr_schedulers") or []
    factor = linear_decay(total, decay_iters) if decay_iters and total is not None and total >= 0 else None
    changes: list[str] = []
    for index, (name, wanted) in enumerate(settings.items()):
        if index >= len(optimizers):
            break
        scheduler = schedulers[index] if index < len(schedulers) else None
        for position, group in enumerate(optimizers[index]["param_groups"]):
            has_schedule = scheduler is not None and "base_lrs" in scheduler
            old_lr = float(scheduler["base_lrs"][position] if has_schedule else group["lr"])
            if old_lr != float(wanted.lr):
                if has_schedule:
                    scheduler["base_lrs"][position] = wanted.lr
                    group["initial_lr"] = wanted.lr
                    scale = factor(scheduler["last_epoch"]) if factor is not None else group["lr"] / max(old_lr, 1e-30)
                    group["lr"] = wanted.lr * scale
                    if "_last_lr" in scheduler:
                        scheduler["_last_lr"][position] = group["lr"]
                else:
                    group["lr"] = wanted.lr
                changes.append(f"{name} lr {old_lr:g} -> {wanted.lr:g}")
            if "betas" in group and tuple(float(b) for b in group["betas"]) != wanted.betas:
                changes.append(f"{name} betas {tuple(group['betas'])} -> {wanted.betas}")
                group["betas"] = wanted.betas
            for key in ("momentum", "weight_decay"):
                if key in group and float(group[key]) != float(getattr(wanted, key)):
                    changes.append(f"{name} {key} {group[key]:g} -> {getattr(wanted, key):g}")
                    group[key] = getattr(wanted, key)
    return changes
