"""The fast path for accelerators: channels_last, ``torch.compile``, and clipping under mixed precision.

Every option is off by default; ``GANModule`` takes them as base arguments, so every model has them:

- ``--model.channels_last true``: 4-D weights (and every 4-D float tensor of a batch) in NHWC
  layout, which tensor cores prefer for convolutions. Applied in ``configure_model``, before
  the optimizers are built (a parameter keeps its identity, only its strides change), and to
  each training batch in ``on_train_batch_start``, on the training device.
- ``--model.compile true`` (generator and discriminator) or ``--model.compile '[generator]'``:
  ``nn.Module.compile`` of each named network, in place, so the module attributes stay plain
  modules and ``state_dict`` keys do not change (no ``_orig_mod.`` prefix): checkpoints of a
  compiled run load without compiling. ``--model.compile_options '{backend: ...}'`` passes
  settings on to ``torch.compile``. The first iterations pay the compilation.
- ``--model.compile reduce-overhead`` (or another of torch.compile's modes: ``default``,
  ``max-autotune``, ``max-autotune-no-cudagraphs``): the generator and the discriminator in that
  mode. ``reduce-overhead`` and ``max-autotune`` replay each network's forward and backward as
  CUDA graphs (one launch instead of one per kernel: the lever for small networks, whose GPU
  iteration is bound by kernel launches), so the core marks the start of every iteration
  (``torch.compiler.cudagraph_mark_step_begin``) and, with ``optimizer_implementation: auto``,
  builds fused optimizers (one kernel per step). On a CPU the modes compile without graphs.
- With ``torch.compile``, ``channels_last`` is left to inductor, which lays convolutions out in
  NHWC itself (its layout optimisation): weights and batches made channels_last by hand hit
  torch's wrong stride prediction for ``convolution_backward`` on CUDA (pytorch/pytorch#171622,
  ``assert_size_stride`` fails in the backward of a compiled DCGAN at 64 px, bf16, torch 2.11), so
  ``channels_last`` applies to the networks that are not compiled only.
- ``--model.optimizer_implementation fused`` (or ``foreach``, ``single_tensor``): the default
  implementation of every optimizer; ``--model.optimizers '{generator: {implementation: ...}}'``
  sets one network's.
- ``--trainer.precision bf16-mixed`` or ``16-mixed``: Lightning's ``MixedPrecision`` plugin.

Mixed precision under manual optimization, with several optimizers
--------------------------------------------------------------------
Lightning runs the whole ``training_step`` under ``torch.autocast`` (bf16 or fp16). With
``bf16-mixed`` there is no gradient scaler and nothing else changes. With ``16-mixed`` the
plugin owns one ``torch.amp.GradScaler`` shared by all optimizers, and each phase of
``GANModule.optimize`` goes through it:

1. ``self.manual_backward(loss)``: the plugin's ``pre_backward`` multiplies the loss by the
   current scale S before backward, so the phase's gradients are S times too large;
2. ``optimizer.step()`` (a ``LightningOptimizer``): the plugin's ``optimizer_step`` calls
   ``scaler.unscale_(optimizer)`` (gradients divided by S, inf/NaN recorded for *this*
   optimizer), then the ``on_before_optimizer_step`` hooks, then ``scaler.step(optimizer)``,
   which skips this optimizer's update when its gradients were not finite, then
   ``scaler.update()``.

So ``scaler.update()`` runs once per optimizer step, not once per iteration: with D and G
the scale is updated twice per iteration. That is right for alternating phases, where each
backward pass is followed by its own step: every step is checked on its own gradients, an
overflow in D's backward skips D's update only and halves S before G's backward, and the
growth counter counts optimizer steps (S doubles after ``growth_interval`` = 2000 finite
*steps*, about 1000 iterations with one D and one G step each). The scaler's state is saved
in the checkpoint by Lightning and restored on resume.

Gradient clipping (``grad_clip_norm``) must see unscaled gradients. In manual optimization
``self.clip_gradients`` runs before ``optimizer.step()``, that is, before the plugin's
``unscale_``: it would clip the gradients scaled by S (a bound S = 65536 times too tight) and
Lightning does not warn. ``GANModule.clip_gradients`` therefore, when a scaler is active,
only records the request, and ``GANModule.on_before_optimizer_step`` clips once the plugin
has unscaled (:class:`DeferredClipping`). A fused optimizer unscales inside its own step and
cannot be clipped under ``16-mixed`` (Lightning raises, naming the fused optimizer).

On a CPU, Lightning replaces ``16-mixed`` by ``bf16-mixed`` (with a warning); fp16 with a
scaler runs on a CPU only with an explicit ``plugins=[MixedPrecision("16-mixed", "cpu")]``,
which the tests use to check the scaler path without a GPU.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

DEFAULT_COMPILED = ("generator", "discriminator")
#: torch.compile's modes; ``--model.compile MODE`` compiles the default networks in that mode.
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
CUDAGRAPH_MODES = ("reduce-overhead", "max-autotune")


# ---------------------------------------------------------------------------- channels_last
def _channels_last(tensor: torch.Tensor) -> torch.Tensor:
    if tensor.dim() == 4 and tensor.is_floating_point():
        return tensor.contiguous(memory_format=torch.channels_last)
    return tensor


def channels_last_batch_(batch: Any) -> Any:
    """Every 4-D float tensor (images) of a list or dict batch in channels_last layout, in place (the entries
    are replaced); labels and other tensors stay as they are. A bare tensor batch cannot change in place and
    is left alone (a convolution with channels_last weights converts its input itself).

    In place, from ``on_train_batch_start``: a LightningModule that overrides ``on_after_batch_transfer``
    makes Lightning warn on every run with a data module, and the step receives this very batch object.
    """
    if isinstance(batch, list):
        for i, item in enumerate(batch):
            batch[i] = _channels_last(item) if isinstance(item, torch.Tensor) else channels_last_batch_(item)
    elif isinstance(batch, dict):
        for key, item in batch.items():
            batch[key] = _channels_last(item) if isinstance(item, torch.Tensor) else channels_last_batch_(item)
    return batch


def is_channels_last(tensor: torch.Tensor) -> bool:
    return tensor.dim() == 4 and tensor.is_contiguous(memory_format=torch.channels_last)


# ---------------------------------------------------------------------------- torch.compile
def networks_to_compile(module: nn.Module, compile: bool | Sequence[str] | None) -> list[str]:
    """The names of the networks ``compile`` asks for: ``True`` or a mode name (``reduce-overhead``) means
    the generator and the discriminator."""
    if compile is None or compile is False:
        return []
    if compile is True or compile in COMPILE_MODES:
        names = [name for name in DEFAULT_COMPILED if isinstance(getattr(module, name, None), nn.Module)]
    elif isinstance(compile, str):
        names = [compile]
    else:
        names = [str(name) for name in compile]
    networks = [name for name, child in module.named_children() if any(True for _ in child.parameters())]
    for name in names:
        if not isinstance(getattr(module, name, None), nn.Module):
            raise ValueError(f"model.compile: {type(module).__name__} has no network {name!r}; "
                             f"its networks: {', '.join(networks)}")
    return names


def compile_settings(compile: bool | str | Sequence[str] | None, options: dict[str, Any] | None) -> dict[str, Any]:
    """The ``torch.compile`` keyword arguments: ``options`` with the mode ``compile`` names (if it names one)."""
    settings = dict(options or {})
    if isinstance(compile, str) and compile in COMPILE_MODES:
        given = settings.setdefault("mode", compile)
        if given != compile:
            raise ValueError(f"model.compile is {compile!r} but model.compile_options has mode {given!r}; give one")
    return settings


def uses_cudagraphs(compile: bool | str | Sequence[str] | None, options: dict[str, Any] | None) -> bool:
    """Whether the compiled networks replay CUDA graphs (on a CUDA device): a mode that captures them."""
    return compile not in (None, False) and compile_settings(compile, options).get("mode") in CUDAGRAPH_MODES


def is_compiled(network: nn.Module) -> bool:
    """Whether ``network.compile()`` has been called on it (``nn.Module.compile`` keeps it in place)."""
    return getattr(network, "_compiled_call_impl", None) is not None


def compile_networks(module: nn.Module, names: Sequence[str], options: dict[str, Any] | None = None) -> None:
    """``nn.Module.compile(**options)`` on each named network, once: the attribute stays the same module,
    so parameters, optimizers and ``state_dict`` keys are unchanged."""
    for name in names:
        network = getattr(module, name)
        if not is_compiled(network):
            network.compile(**(options or {}))


# ---------------------------------------------------------------------------- mixed precision
def grad_scaler(module) -> "torch.amp.GradScaler | None":
    """The active gradient scaler of the module's trainer (``16-mixed``), else None."""
    from gan_lightning.core import compat

    trainer = compat.trainer_of(module)
    if trainer is None:
        return None
    scaler = getattr(trainer.precision_plugin, "scaler", None)
    return scaler if scaler is not None and scaler.is_enabled() else None


def torch_optimizer(optimizer) -> torch.optim.Optimizer:
    """The torch optimizer under a ``LightningOptimizer``."""
    return getattr(optimizer, "optimizer", optimizer)


class DeferredClipping:
    """Clipping requests held until the gradient scaler has unscaled the optimizer's gradients.

    ``request(optimizer, value, algorithm)`` from ``clip_gradients`` (before the step);
    ``pop(optimizer)`` from ``on_before_optimizer_step``, which Lightning's mixed-precision
    plugin calls right after ``scaler.unscale_(optimizer)``.
    """

    def __init__(self) -> None:
        self._pending: dict[int, tuple[Any, Any]] = {}

    def request(self, optimizer, gradient_clip_val, gradient_clip_algorithm) -> None:
        self._pending[id(torch_optimizer(optimizer))] = (gradient_clip_val, gradient_clip_algorithm)

    def pop(self, optimizer) -> tuple[Any, Any] | None:
        return self._pending.pop(id(torch_optimizer(optimizer)), None)
