"""Training state that is not a parameter, declared in one place and saved with the checkpoint.

Replay pools, BEGAN's k, the path-length mean, ProGAN's alpha: anything a resumed
run needs to continue bitwise and that ``state_dict`` does not hold. ``TrainingState`` entries
are tensors, Python numbers, or objects with ``state_dict()`` / ``load_state_dict()``.
``GANModule`` saves the whole state under ``checkpoint["gan_lightning"]["training_state"]``
and restores it on load, so a model only declares its entries.
"""

from __future__ import annotations

from typing import Any

import torch


class TrainingState:
    """Named training state: ``state.declare("k", 0.0)``, then ``state.k`` reads and assigns it."""

    def __init__(self) -> None:
        object.__setattr__(self, "_entries", {})

    def declare(self, name: str, value: Any) -> Any:
        if name in self._entries:
            raise ValueError(f"training state {name!r} is declared twice")
        self._entries[name] = value
        return value

    def __getattr__(self, name: str) -> Any:
        entries = object.__getattribute__(self, "_entries")
        if name in entries:
            return entries[name]
        raise AttributeError(f"no training state {name!r}; declared: {', '.join(entries) or 'none'}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._entries:
            raise AttributeError(f"training state {name!r} is not declared; declare it first")
        current = self._entries[name]
        if hasattr(current, "load_state_dict") and not isinstance(current, torch.Tensor):
            raise AttributeError(f"training state {name!r} is an object; change it in place")
        self._entries[name] = value

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def names(self) -> list[str]:
        return list(self._entries)

    def state_dict(self) -> dict[str, Any]:
        out = {}
        for name, value in self._entries.items():
            if isinstance(value, torch.Tensor):
                out[name] = value.detach().cpu().clone()
            elif hasattr(value, "state_dict"):
                out[name] = value.state_dict()
            else:
                out[name] = value
        return out

    def load_state_dict(self, state: dict[str, Any], device: torch.device | str | None = None) -> None:
        missing = [name for name in self._entries if name not in state]
        if missing:
            raise KeyError(f"checkpoint lacks training state {', '.join(missing)}")
        for name, value in state.items():
            if name not in self._entries:
                continue  # state of an older version, no longer used
            current = self._entries[name]
            if isinstance(current, torch.Tensor):
                self._entries[name] = value.to(device or current.device)
            elif hasattr(current, "load_state_dict"):
                current.load_state_dict(value, device=device) if _takes_device(current) else current.load_state_dict(value)
            else:
                self._entries[name] = value

    def to(self, device: torch.device | str) -> "TrainingState":
        for name, value in self._entries.items():
            if isinstance(value, torch.Tensor):
                self._entries[name] = value.to(device)
            elif hasattr(value, "to"):
                value.to(device)
        return self



def mean_over_ranks(value: torch.Tensor) -> torch.Tensor:
    """The mean of ``value`` over the DDP ranks (detached; ``value`` itself in one process), so that
    state updated from batch statistics (Fisher GAN's multiplier, MAGAN's energy sums) stays the same
    on every rank. An all-reduce on the value's device: no host read."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return value.detach()
    total = value.detach().clone()
    dist.all_reduce(total)
    return total / dist.get_world_size()


def _takes_device(obj: Any) -> bool:
    import inspect

    try:
        return "device" in inspect.signature(obj.load_state_dict).parameters
    except (TypeError, ValueError):
        return False


class ReplayPool:
    """The image history buffer of Shrivastava et al. 2017, as CycleGAN uses it (size 50).

    ``query(images)`` returns a batch for D: while the pool is filling, each image goes in and
    comes back; once full, each image is, with probability 1/2, swapped for a random stored
    one (which is returned), else returned itself. ``size=0`` turns the pool off. Its draws
    come from its own generator (seeded ``seed``), so nothing else that draws random numbers
    shifts them; the generator's state and the contents are saved with the checkpoint, so a
    resumed run returns what the uninterrupted one returned.
    """

    def __init__(self, size: int = 50, seed: int = 0) -> None:
        if size < 0:
            raise ValueError(f"pool size must be >= 0, got {size}")
        self.size = size
        self.images: list[torch.Tensor] = []
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.images)

    @torch.no_grad()
    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand((), generator=self.generator).item() < 0.5:
                index = int(torch.randint(0, self.size, (), generator=self.generator).item())
                out.append(self.images[index].clone())
                self.images[index] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)

    def state_dict(self) -> dict[str, Any]:
        stacked = torch.stack(self.images).cpu() if self.images else torch.empty(0)
        return {"size": self.size, "images": stacked, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any], device: torch.device | str | None = None) -> None:
        self.size = int(state["size"])
        if "generator" in state:
            self.generator.set_state(state["generator"])
        images = state["images"]
        self.images = [image.to(device) if device is not None else image for image in images] if images.numel() else []

    def to(self, device: torch.device | str) -> "ReplayPool":
        self.images = [image.to(device) for image in self.images]
        return self

