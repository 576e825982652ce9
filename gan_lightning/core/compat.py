"""The Lightning workarounds and every use of a Lightning internal, in one place (checked with 2.6.6).

Each section names the Lightning behaviour it works around and the test that fails when an
upgrade breaks it. Nothing else in the project reads a private attribute of Lightning.

1. Iterations, not optimizer steps. Under manual optimization Lightning adds one to
   ``global_step`` for every ``optimizer.step()`` (Lightning #17958); our contract counts
   iterations (batches), so ``--trainer.max_steps``, ``every_n_train_steps`` and the logged step
   mean batches for every model. :func:`counts_one_iteration` corrects the counter after each
   training step (``fit_loop.epoch_loop.manual_optimization.optim_step_progress``).
   Pinned by tests/test_compat.py::test_the_step_progress_we_correct_is_where_lightning_counts_optimizer_steps.
2. Backward passes that reach one network only. Each phase's backward touches only the
   networks of its optimizer, which plain DDP rejects (Lightning #20328). The public spelling
   is ``--trainer.strategy ddp_find_unused_parameters_true``; :func:`allow_partial_backward`
   makes a plain ``ddp`` strategy behave the same (``DDPStrategy._ddp_kwargs``).
   Pinned by tests/test_compat.py::test_a_plain_ddp_strategy_gets_find_unused_parameters.
3. Fast toggling. Lightning's ``toggle_optimizer`` walks every parameter of every optimizer
   twice per phase; :class:`OptimizerToggle` keeps the parameter lists once and flips
   ``requires_grad`` on the other groups only (public API only).
   Pinned by tests/test_compat.py::test_optimizer_toggle_freezes_the_other_groups_and_restores_them.
4. Logging only when it is written. ``self.log`` costs about as much as a small network's
   step (it validates and stores every value in Lightning's result collection); the loggers
   only write every ``log_every_n_steps`` iterations, so :func:`logging_due` tells the core
   when a logged value can reach a logger (``Trainer._logger_connector.should_update_logs``).
   Pinned by tests/test_compat.py::test_terms_reach_the_logger_every_log_every_n_steps_with_their_latest_values.
5. Direct steps. ``manual_backward`` and ``LightningOptimizer.step`` dispatch five hooks to
   every callback per update (``on_before_backward``, ``on_after_backward``,
   ``on_before_optimizer_step`` and the module's) through the precision plugin: about a
   tenth of a millisecond per update, 5 % of a small network's iteration. When nothing
   listens (no callback or module override of those hooks, full or bf16 precision without a
   gradient scaler, a single-device or DDP strategy, no profiler), :func:`direct_steps_allowed`
   lets the core call ``backward`` and the torch optimizer itself, with the strategy's own
   pre/post-backward (DDP's unused-parameter bookkeeping) kept; the result is bitwise the same.
   Pinned by tests/test_compat.py::test_direct_steps_equal_lightnings_and_give_way_to_a_listening_callback.
6. The NVML probe on every Adam step. ``import lightning`` sets
   ``PYTORCH_NVML_BASED_CUDA_CHECK=1`` (fork safety on GPU machines); with a CUDA build of
   torch on a machine without a GPU, torch then loads NVML again (``dlopen``) in every
   Adam/AdamW step's capture health check, 0.4 ms each. :func:`drop_nvml_check_without_gpu`
   (called by ``GANModule.setup``, never on import) removes the variable when NVML finds no GPU.
   Pinned by tests/test_compat.py::test_the_nvml_check_is_dropped_only_where_nvml_finds_no_gpu.
7. RNG states in checkpoints, in types ``torch.load(weights_only=True)`` accepts (no internals).
8. The end of training. Lightning resumes a checkpoint written when training stopped with the
   wrong loop counters (an epoch cut short counts as finished; a finished epoch's batch counters
   are not reset): :func:`end_of_training_loop_state` rewrites them, and
   :func:`remember_rng_at_stop` wraps ``fit_loop.on_advance_end`` to keep the RNG states of the
   moment the loop stopped. Pinned by tests/test_compat.py::test_lightning_closes_an_epoch_that_max_steps_cuts_short,
   ::test_lightning_keeps_the_batch_counters_of_the_epoch_that_ended_training and
   ::test_the_rng_of_the_end_of_training_checkpoint_is_taken_when_the_last_iteration_ended.
9. Every rank's RNG in the checkpoint (``all_gather_object``, public). Pinned by tests/test_core_ddp.py.
10. Samplers that shard. Lightning wraps every training sampler that is not a
    ``DistributedSampler`` (``use_distributed_sampler=True``), hiding its methods: a
    :class:`ShardingSampler` is one. Pinned by tests/test_compat.py::test_lightning_leaves_a_sampler_that_shards_by_itself_alone.
11. A last checkpoint now. ``ModelCheckpoint`` has no public "save now"; :func:`save_last_checkpoints`
    uses its ``_save_last_checkpoint``, ``_monitor_candidates`` and ``_last_global_step_saved``.
    Pinned by tests/test_compat.py::test_save_last_checkpoints_writes_each_last_checkpoint_once_per_iteration.
12. Where a module stands. ``LightningModule.trainer`` raises when no trainer is attached, and
    there is no public "is a trainer attached" nor "runs under Fabric": :func:`trainer_of` reads
    ``_trainer``, :func:`under_fabric` ``_fabric``; :func:`batches_done_this_epoch` reads the fit
    loop's batch progress (mid-epoch resume of the data loaders). Pinned by tests/test_resume.py.
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
    trainer = trainer_of(module)
    if trainer is None or not trainer.training:
        return None
    return trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress


def counts_one_iteration(step_fn: Callable) -> Callable:
    """Wrap a ``training_step`` so that one call advances ``global_step`` by exactly one (and set the
    module's ``_in_training_step`` while it runs)."""
    if getattr(step_fn, "__counts_one_iteration__", False):
        return step_fn

    @functools.wraps(step_fn)
    def training_step(self, *args, **kwargs):
        progress = optimizer_step_progress(self)
        before = progress.total.completed if progress is not None else 0
        self._in_training_step = True
        try:
            output = step_fn(self, *args, **kwargs)
        finally:
            self._in_training_step = False
        if progress is not None:
            correction = before + 1 - progress.total.completed
            if correction:
                for tracker in (progress.total, progress.current):
                    tracker.ready += correction
                    tracker.completed += correction
        return output

    training_step.__counts_one_iteration__ = True
    return training_step


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


# ---------------------------------------------------------------------------- 4. logging when it is written
def logging_due(module) -> bool:
    """Whether values logged in this training step reach the loggers / the progress bar."""
    trainer = trainer_of(module)
    if trainer is None:
        return False
    return bool(trainer._logger_connector.should_update_logs)


# ---------------------------------------------------------------------------- 5. direct steps
STEP_HOOKS = ("on_before_backward", "on_after_backward", "on_before_optimizer_step")


def direct_steps_allowed(module, own_hooks: type) -> bool:
    """Whether the core may run ``backward`` and ``optimizer.step`` without Lightning's wrappers.

    True only when the wrappers would do nothing but dispatch hooks nobody overrides:
    ``own_hooks`` is the class whose overrides of :data:`STEP_HOOKS` are known to be idle
    without a gradient scaler (the core's ``GANModule``).
    """
    import lightning.pytorch as pl
    from lightning.pytorch.plugins.precision import MixedPrecision, Precision
    from lightning.pytorch.profilers import PassThroughProfiler
    from lightning.pytorch.strategies import DDPStrategy, SingleDeviceStrategy

    trainer = trainer_of(module)
    if trainer is None or under_fabric(module) or module.automatic_optimization:
        return False
    plugin = trainer.precision_plugin
    if not (type(plugin) is Precision or (type(plugin) is MixedPrecision and plugin.scaler is None)):
        return False
    if type(trainer.strategy) not in (SingleDeviceStrategy, DDPStrategy):
        return False
    if not isinstance(trainer.profiler, PassThroughProfiler):
        return False
    for callback in trainer.callbacks:
        if any(getattr(type(callback), hook) is not getattr(pl.Callback, hook) for hook in STEP_HOOKS):
            return False
    for hook in (*STEP_HOOKS, "backward"):
        if getattr(type(module), hook) not in (getattr(pl.LightningModule, hook), getattr(own_hooks, hook)):
            return False
    return True


def direct_backward(module, loss: torch.Tensor) -> None:
    """``manual_backward`` without its hook dispatch (see :func:`direct_steps_allowed`)."""
    strategy = module.trainer.strategy
    strategy.pre_backward(loss)  # DDP: prepare the reducer for parameters this loss does not reach
    loss.backward()
    strategy.post_backward(loss)


# ---------------------------------------------------------------------------- 6. NVML probe
def drop_nvml_check_without_gpu() -> bool:
    """Unset ``PYTORCH_NVML_BASED_CUDA_CHECK`` when NVML finds no GPU; returns whether it did."""
    import os

    if os.environ.get("PYTORCH_NVML_BASED_CUDA_CHECK") != "1":
        return False
    count_nvml = getattr(torch.cuda, "_device_count_nvml", None)
    try:
        found = count_nvml() if count_nvml is not None else 1
    except Exception:  # an NVML error: leave the variable alone
        return False
    if found > 0:
        return False
    del os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"]
    return True


# ---------------------------------------------------------------------------- 7. RNG in checkpoints
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


# ---------------------------------------------------------------------------- 8. the end of training
# The checkpoint written when training ends (``save_last`` at ``on_train_end``) records loop
# counters that Lightning does not resume from correctly, so extending a finished run
# (``--trainer.max_steps`` raised, ``--ckpt_path last``) trained on other batches than the
# straight run:
# - training stopped in the middle of an epoch (``max_steps``, or ``trainer.should_stop``: a
#   preemption): Lightning still closes that epoch (epoch-end hooks, epoch counted as completed),
#   so the resume starts the *next* epoch and skips the rest of the interrupted one;
# - training stopped at the end of an epoch: the batch counters of that epoch are not reset, so
#   the resume runs the next epoch as if its first batches were done (one batch, then the next epoch).
# :func:`end_of_training_loop_state` rewrites those counters in the checkpoint as a checkpoint of
# the last iteration's ``on_train_batch_end`` would have them; :func:`remember_rng_at_stop`
# keeps the RNG states of the moment the loop stopped, before the end-of-fit hooks draw from them.
def between_epochs(trainer) -> bool:
    """Whether the fit loop has closed its last epoch and not started another (the end of training)."""
    epochs = trainer.fit_loop.epoch_progress.total
    return epochs.ready == epochs.started == epochs.processed == epochs.completed > 0


def epoch_cut_short(trainer) -> bool:
    """Whether the fit loop has closed an epoch that stopped before its last batch."""
    batches = trainer.fit_loop.epoch_loop.batch_progress
    return (between_epochs(trainer) and not batches.is_last_batch
            and 0 < batches.current.ready < trainer.num_training_batches)


def end_of_training_loop_state(trainer, checkpoint: dict[str, Any]) -> None:
    """Rewrite the loop counters of a checkpoint saved after training stopped (between epochs) so
    that a resume goes on where the uninterrupted run goes on: an epoch cut short counts as not
    processed (the resume continues it at its next batch, Lightning's "restarted mid-epoch"
    state); after a whole epoch, the batch counters are those of the next epoch's start."""
    fit_loop = checkpoint.get("loops", {}).get("fit_loop")
    batches = trainer.fit_loop.epoch_loop.batch_progress
    if fit_loop is None or not between_epochs(trainer) or batches.current.ready == 0:
        return
    if epoch_cut_short(trainer):
        for counts in (fit_loop["epoch_progress"]["total"], fit_loop["epoch_progress"]["current"]):
            counts["processed"] -= 1
            counts["completed"] -= 1
        checkpoint["epoch"] = max(int(checkpoint.get("epoch", 1)) - 1, 0)
    else:
        saved = fit_loop["epoch_loop.batch_progress"]
        saved["current"] = {key: 0 for key in saved["current"]}
        saved["is_last_batch"] = False


def remember_rng_at_stop(trainer) -> None:
    """Snapshot the RNG states when each epoch of ``trainer.fit`` ends: a part epoch (training
    stopped in it) before its epoch-end hooks run, a whole one after them, that is at the
    point where an uninterrupted run would go on with the next batch. Installed once per trainer."""
    loop = trainer.fit_loop
    loop._gan_lightning_rng_at_stop = None
    if getattr(loop.on_advance_end, "__remembers_rng__", False):
        return
    advance_end = loop.on_advance_end

    @functools.wraps(advance_end)
    def on_advance_end(*args, **kwargs):
        cut = not (loop.epoch_loop.batch_progress.is_last_batch
                   or loop.epoch_loop.batch_progress.current.ready >= trainer.num_training_batches)
        if cut:
            loop._gan_lightning_rng_at_stop = (trainer.global_step, capture_rng_state())
        try:
            return advance_end(*args, **kwargs)
        finally:
            if not cut:
                loop._gan_lightning_rng_at_stop = (trainer.global_step, capture_rng_state())

    on_advance_end.__remembers_rng__ = True
    loop.on_advance_end = on_advance_end


def rng_state_for_checkpoint(trainer) -> dict[str, Any]:
    """The RNG states a checkpoint saved now should hold: the snapshot of :func:`remember_rng_at_stop`
    when the fit loop is between epochs at the snapshot's iteration (the checkpoint of the end of
    training), else the current states."""
    snapshot = getattr(trainer.fit_loop, "_gan_lightning_rng_at_stop", None) if trainer is not None else None
    if snapshot is not None and snapshot[0] == trainer.global_step:
        epochs = trainer.fit_loop.epoch_progress.total
        if epochs.ready == epochs.started == epochs.processed == epochs.completed:
            return snapshot[1]
    return capture_rng_state()


# ---------------------------------------------------------------------------- 9. every rank's RNG
def gather_rng_states(state: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Every rank's RNG states in rank order (``torch.distributed.all_gather_object``), or None
    outside a process group of two or more. A collective: every rank must call it."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return None
    states: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(states, state)
    return states


# ---------------------------------------------------------------------------- 10. samplers that shard
class ShardingSampler(torch.utils.data.DistributedSampler):
    """Base of a sampler that gives each DDP rank its own shard itself.

    Lightning wraps every training sampler that is not a ``DistributedSampler`` in its
    ``DistributedSamplerWrapper`` (``use_distributed_sampler=True``, the default), which hides
    the sampler's own methods (``resume``) and state from the loader. A subclass of
    ``DistributedSampler`` is left as it is. Subclasses set ``num_replicas`` and ``rank``
    themselves; ``DistributedSampler.__init__`` (which asks the process group) is not called.
    """

    def __init__(self, num_replicas: int = 1, rank: int = 0) -> None:  # noqa: D107 - no super().__init__
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is not in [0, {num_replicas})")
        self.num_replicas, self.rank, self.epoch = num_replicas, rank, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch


# ---------------------------------------------------------------------------- 11. a last checkpoint now
def save_last_checkpoints(trainer) -> list[str]:
    """Have every ``ModelCheckpoint(save_last=True)`` of ``trainer`` write its last checkpoint now,
    as it would itself (its file name, its bookkeeping: ``last_model_path``, and no second write
    of the same iteration at ``on_train_end``), unless it already saved at this iteration.
    Returns the paths of the last checkpoints. A collective under DDP: every rank must call it.

    ModelCheckpoint has no public "save now": this uses its ``_save_last_checkpoint``,
    ``_monitor_candidates`` and ``_last_global_step_saved``.
    """
    from lightning.pytorch.callbacks import ModelCheckpoint

    paths = []
    for callback in trainer.checkpoint_callbacks:
        if not isinstance(callback, ModelCheckpoint) or not callback.save_last:
            continue
        if callback._last_global_step_saved != trainer.global_step or not callback.last_model_path:
            callback._save_last_checkpoint(trainer, callback._monitor_candidates(trainer))
        paths.append(callback.last_model_path)
    return paths


# ---------------------------------------------------------------------------- 12. where a module stands
def trainer_of(module):
    """The trainer ``module`` is attached to, or None (``LightningModule.trainer`` raises instead)."""
    return getattr(module, "_trainer", None)


def under_fabric(module) -> bool:
    """Whether ``module`` runs under Lightning Fabric rather than a Trainer."""
    return getattr(module, "_fabric", None) is not None


def batches_done_this_epoch(trainer) -> int:
    """Batches of the current epoch the training loop has finished (0 without a trainer)."""
    if trainer is None:
        return 0
    return trainer.fit_loop.epoch_loop.batch_progress.current.processed
