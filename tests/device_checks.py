"""Two CPU stand-ins for what a GPU run enforces (CI has no GPU; these bugs crash or stall on one).

- :class:`DefaultDeviceTrap`: a tensor that the project's own code creates without saying where
  (``torch.tensor(0.0)``, ``torch.zeros(())``, ``torch.arange(n)``) lands on the *default* device, the
  CPU, while the model lives on the GPU; the first op that mixes the two fails there (6 of 78
  experiment configs crashed so on an H200). Under the trap such a tensor lands on ``meta``
  instead, so the same op fails on a CPU too ("Tensor on device meta is not on the expected device
  cpu!"). Tensors drawn from an explicit ``torch.Generator`` (host-side randomness, moved by the
  caller) and ``as_tensor`` of a tensor (which keeps its device) are left alone; code outside the
  project (torch, Lightning, torchmetrics) is not trapped.
- :class:`HostReads`: counts what makes the host wait for the GPU, from any code (Lightning's
  included) during training iterations, per iteration: reads (``item()``, ``bool()``, ``float()``,
  ``int()``, ``tolist()``, ``numpy()``, ``cpu()``, printing a tensor, ops whose output size depends on
  the data: ``nonzero``, ``masked_select``, boolean-mask indexing) and uploads that torch follows
  with a stream synchronisation (``.to(device)`` or ``copy_`` of a host tensor without
  ``non_blocking=True``, ``torch.tensor(data, device=device)``, ``tensor.new_tensor(data)``). It
  tells host tensors from device ones as a GPU run would have them: on the host are draws from an
  explicit ``torch.Generator``,
  tensors made without a device outside the project (the step counts of torch's optimizers; the
  trap sees to the project's own), tensors made on ``device="cpu"`` (the project spells the host
  so; the run's device is a ``torch.device``), and what is computed from host tensors alone. Reads
  made while the next batch is fetched, and Lightning's move of the batch to the device (non-blocking
  on CUDA), are not counted.

Both open a window per training iteration from the first ``on_train_batch_start`` callback hook
(:class:`IterationWindow` must be the first callback) and close it when the iteration is over:
the trap after the module's own ``on_train_batch_end`` (every callback of the iteration ran inside
it), the counter at the start of the next iteration (Lightning's own end-of-batch logging included).
"""

from __future__ import annotations

import sys
from collections import Counter

import lightning as L
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._device import _device_constructors

PROJECT_MODULES = ("gan_lightning",)  # the package and its callbacks (installed as gan_lightning.callbacks)
CONSTRUCTORS = _device_constructors()
KEEPS_DEVICE_OF_TENSOR = {torch.as_tensor, torch.asarray}
HOST = "_gan_lightning_host"  # set on tensors that a GPU run would hold on the host

_TENSOR = torch.Tensor
READS = {
    _TENSOR.item, _TENSOR.__bool__, _TENSOR.__float__, _TENSOR.__int__, _TENSOR.__index__, _TENSOR.tolist,
    _TENSOR.numpy, _TENSOR.cpu, _TENSOR.__repr__, _TENSOR.__format__, _TENSOR.nonzero, torch.nonzero,
    _TENSOR.masked_select, torch.masked_select,
}
FETCHING = ("torch.utils.data", "lightning.pytorch.loops.fetchers")
# Lightning's move of the batch to the device: non_blocking=True on CUDA (on a CPU it passes nothing)
BATCH_TRANSFER = ("lightning.fabric.utilities.apply_func",)


def _caller_module(depth: int = 2) -> str:
    return sys._getframe(depth).f_globals.get("__name__", "")


def _from(modules: tuple[str, ...], depth: int = 3) -> bool:
    return _caller_module(depth).startswith(modules)


def _is_host_draw(func, kwargs) -> bool:
    return kwargs.get("generator") is not None


class DefaultDeviceTrap(TorchFunctionMode):
    """While active, project code's tensors created without ``device=`` land on ``meta``."""

    def __init__(self, modules: tuple[str, ...] = PROJECT_MODULES) -> None:
        super().__init__()
        self.modules = modules  # whose code is trapped
        self.trapped: Counter[str] = Counter()  # where: "module:function" -> tensors sent to meta

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if (func in CONSTRUCTORS and kwargs.get("device") is None and not _is_host_draw(func, kwargs)
                and not (func in KEEPS_DEVICE_OF_TENSOR and args and isinstance(args[0], torch.Tensor))
                and _from(self.modules)):
            frame = sys._getframe(1)
            self.trapped[f"{frame.f_globals.get('__name__')}:{frame.f_code.co_name}"] += 1
            kwargs["device"] = "meta"
        return func(*args, **kwargs)


def _host_spelled(device) -> bool:
    """The host as the project spells it: the string ``"cpu"`` (the device of a run is a ``torch.device``)."""
    return isinstance(device, str) and device.split(":")[0] == "cpu"


def _is_host(tensor) -> bool:
    return isinstance(tensor, torch.Tensor) and getattr(tensor, HOST, False)


def _tensors(args, kwargs) -> list[torch.Tensor]:
    found = []
    for value in (*args, *kwargs.values()):
        if isinstance(value, torch.Tensor):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            found.extend(v for v in value if isinstance(v, torch.Tensor))
    return found


def _target_device(func, args, kwargs):
    """The device a ``Tensor.to`` call asks for (None: the same device)."""
    if func is _TENSOR.cuda:
        return "cuda"
    target = kwargs.get("device")
    for arg in args[1:]:
        if isinstance(arg, (str, torch.device)):
            target = arg
        elif isinstance(arg, torch.Tensor):
            target = arg.device
    return target


def _mark_host(func, args, kwargs, out) -> None:
    """Mark what a GPU run would hold on the host: draws from an explicit generator, tensors made
    without a device by code outside the project (the trap turns the project's to ``meta``) or
    on ``device="cpu"``, and what is computed from host tensors alone."""
    if not isinstance(out, torch.Tensor) or out.device.type != "cpu" or _is_host(out):
        return
    if func in CONSTRUCTORS:
        host = _is_host_draw(func, kwargs) or _host_spelled(kwargs.get("device")) or (
            kwargs.get("device") is None and not (func in KEEPS_DEVICE_OF_TENSOR and args
                                                  and isinstance(args[0], torch.Tensor)))
    elif func in (_TENSOR.to, _TENSOR.cuda):
        target = _target_device(func, args, kwargs)
        host = _host_spelled(target) or (target is None and _is_host(args[0]))
    elif func in (_TENSOR.cpu, _TENSOR.numpy):
        host = True
    else:
        inputs = _tensors(args, kwargs)
        host = bool(inputs) and all(_is_host(t) for t in inputs)
    if host:
        try:
            setattr(out, HOST, True)
        except (AttributeError, RuntimeError):  # a view or a parameter that refuses attributes
            pass


class HostReads(TorchFunctionMode):
    """Counts the host's waits for the device per training iteration (``reads[iteration]`` -> places).

    A wait: reading a device tensor on the host (``item``, ``bool``, ``float``, ``tolist``, ``cpu``,
    ``.to("cpu")``, printing, data-dependent sizes), or copying a host tensor to the device without
    ``non_blocking=True`` (``.to(device)``, ``copy_``, ``torch.tensor(data, device=device)``), which
    torch follows with a stream synchronisation.
    """

    def __init__(self) -> None:
        super().__init__()
        self.iteration: int | None = None
        self.reads: dict[int, list[str]] = {}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        waits = self.iteration is not None and self._waits(func, args, kwargs)
        out = func(*args, **kwargs)
        _mark_host(func, args, kwargs, out)
        if waits:
            self.reads.setdefault(self.iteration, []).append(self._where())
        return out

    @staticmethod
    def _waits(func, args, kwargs) -> bool:
        subject = args[0] if args and isinstance(args[0], torch.Tensor) else None
        if func in (torch.tensor, torch.as_tensor, torch.asarray):  # data from the host to a device
            device = kwargs.get("device")
            return device is not None and not _host_spelled(device) and not isinstance(subject, torch.Tensor)
        if subject is None:
            return False
        if func is _TENSOR.new_tensor:  # data from the host to the subject's device
            return not _is_host(subject)
        if func in (_TENSOR.to, _TENSOR.cuda):
            target = _target_device(func, args, kwargs)
            if target is None:
                return False
            if _is_host(subject):  # an upload
                return not _host_spelled(target) and not kwargs.get("non_blocking", False)
            return _host_spelled(target)  # a download
        if func is _TENSOR.copy_:
            source = args[1] if len(args) > 1 else kwargs.get("src")
            return (_is_host(source) and not _is_host(subject) and not kwargs.get("non_blocking", False)) or (
                _is_host(subject) and isinstance(source, torch.Tensor) and not _is_host(source))
        if _is_host(subject):
            return False
        if func in (_TENSOR.__getitem__, _TENSOR.__setitem__):
            index = args[1] if len(args) > 1 else None
            indices = index if isinstance(index, tuple) else (index,)
            return any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in indices)
        return func in READS

    @staticmethod
    def _where() -> str:
        frame, first = sys._getframe(2), None
        while frame is not None:
            name = frame.f_globals.get("__name__", "")
            if name.startswith(FETCHING) or name.startswith(BATCH_TRANSFER) and frame.f_code.co_name == "batch_to":
                return "fetching"
            if first is None and not name.startswith("torch") and name != __name__:
                first = f"{name}:{frame.f_code.co_name}:{frame.f_lineno}"
            frame = frame.f_back
        return first or "torch"

    def counted(self) -> dict[int, list[str]]:
        """Reads per iteration, those made while fetching data left out."""
        kept = {i: [w for w in where if w != "fetching"] for i, where in self.reads.items()}
        return {i: where for i, where in kept.items() if where}


class IterationWindow(L.Callback):
    """Opens the trap and/or the counter for each training iteration; must be the first callback."""

    def __init__(self, trap: DefaultDeviceTrap | None = None, reads: HostReads | None = None) -> None:
        self.trap, self.reads = trap, reads
        self._trap_open = False
        self._reads_open = False

    def setup(self, trainer, pl_module, stage) -> None:
        close = self._close_trap
        original = pl_module.on_train_batch_end

        def on_train_batch_end(*args, **kwargs):  # the module's hook runs after every callback's
            try:
                return original(*args, **kwargs)
            finally:
                close()

        pl_module.on_train_batch_end = on_train_batch_end

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.reads is not None:
            if not self._reads_open:
                self.reads.__enter__()
                self._reads_open = True
            self.reads.iteration = trainer.global_step
        if self.trap is not None:
            self.trap.__enter__()
            self._trap_open = True

    def _close_trap(self) -> None:
        if self._trap_open:
            self._trap_open = False
            self.trap.__exit__(None, None, None)

    def _close_reads(self) -> None:
        if self._reads_open:
            self._reads_open = False
            self.reads.iteration = None
            self.reads.__exit__(None, None, None)

    def on_train_end(self, trainer, pl_module) -> None:
        self._close_trap()
        self._close_reads()

    def on_exception(self, trainer, pl_module, exception) -> None:
        self._close_trap()
        self._close_reads()
