"""Preemption and Ctrl-C: on SIGTERM, SLURM's warning signal or SIGINT, finish the iteration, write the last
checkpoint, stop."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from typing import Sequence

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from gan_lightning.core import compat
from gan_lightning.errors import INTERRUPTED_STATUS


def signal_number(name: str | int) -> int:
    """``"SIGTERM"``, ``"TERM"``, ``"sigusr1"`` or a number -> the signal's number."""
    if isinstance(name, int) or str(name).isdigit():
        return int(name)
    key = str(name).upper()
    key = key if key.startswith("SIG") else f"SIG{key}"
    number = getattr(signal, key, None)
    if not isinstance(number, signal.Signals):
        raise ValueError(f"unknown signal {name!r}; e.g. SIGTERM, SIGUSR1, SIGUSR2, SIGINT")
    return int(number)


#: The exit status of a ``gan-lightning`` run stopped by a signal that is not the default 0: Ctrl-C gives the
#: shell's status of an interrupted command (130), so ``fit ... && sample ...`` does not go on; a scheduler's
#: signal (SIGTERM, SIGUSR1) exits 0, as a job that saved its state and may be requeued.
EXIT_STATUS = {int(signal.SIGINT): INTERRUPTED_STATUS}


class PreemptionCheckpoint(L.Callback):
    """Stop cleanly when the cluster announces the end of a job, or the user presses Ctrl-C.

    On one of ``signals`` the run finishes the iteration under way, stops training (``trainer.should_stop``)
    and writes the last checkpoint at that iteration (``last.ckpt`` of every ``ModelCheckpoint(save_last=True)``,
    else ``<default_root_dir>/checkpoints/preempted.ckpt``); ``fit`` then returns and the command exits with
    status 0, or 130 after Ctrl-C (``EXIT_STATUS``; :attr:`exit_status`). ``--ckpt_path last`` continues the
    run where it stopped, bitwise equal on one process to the run that was never stopped
    (tests/test_preemption.py). A second Ctrl-C before the run has stopped interrupts it at once
    (Lightning's shutdown, exit status 1, no new checkpoint; the last one written stays intact).

    Under DDP the handlers are installed on every rank and the ranks agree after each iteration
    (``reduce_boolean_decision``) whether any of them got a signal, so all stop after the same iteration.
    The handlers replace Lightning's own for these signals while the training loop runs (``on_train_start``
    to ``on_train_end``): Lightning's SIGTERM handling ends the run with an exception and no checkpoint,
    and its SLURM handler (``SLURMEnvironment(auto_requeue=True)``) saves in the middle of an iteration.

    Args:
        signals: the signals that stop the run, by name or number (default ``SIGTERM``, ``SIGUSR1`` and
            ``SIGINT``, Ctrl-C).
        requeue_signal: under SLURM (``SLURM_JOB_ID`` set), a stop caused by this signal requeues the job
            (``scontrol requeue``, from rank 0) once the checkpoint is written, as Lightning's auto-requeue
            does; ``null``: never requeue.
    """

    def __init__(self, signals: Sequence[str | int] = ("SIGTERM", "SIGUSR1", "SIGINT"),
                 requeue_signal: str | int | None = "SIGUSR1") -> None:
        names = [signals] if isinstance(signals, (str, int)) else list(signals)
        self.signals = [signal_number(name) for name in names]
        self.requeue_signal = signal_number(requeue_signal) if requeue_signal is not None else None
        self.received: int | None = None  # the signal this process got
        self.stopped_at: int | None = None  # the iteration after which the run stopped
        self.stop_signal: int | None = None  # the signal that stopped it (any rank's)
        self.checkpoint_paths: list[str] = []
        self.requeued = False
        self._previous: dict[int, object] = {}

    # ------------------------------------------------------------------ handlers
    def _handle(self, signum, frame) -> None:  # a signal handler: only note the signal
        if signum == signal.SIGINT and self.received == signal.SIGINT:
            raise KeyboardInterrupt  # Ctrl-C twice: the user does not want to wait for the iteration
        if self.received is None:
            self.received = signum

    @property
    def exit_status(self) -> int:
        """The command's exit status after this run: 130 when Ctrl-C stopped it, else 0 (``EXIT_STATUS``)."""
        return EXIT_STATUS.get(int(self.stop_signal), 0) if self.stop_signal else 0

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            rank_zero_warn("PreemptionCheckpoint: fit does not run in the main thread, so signals cannot be handled")
            return
        for number in self.signals:
            if number not in self._previous:
                self._previous[number] = signal.getsignal(number)
            signal.signal(number, self._handle)

    def uninstall(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for number, previous in self._previous.items():
                signal.signal(number, previous if previous is not None else signal.SIG_DFL)
        self._previous = {}

    # ------------------------------------------------------------------ hooks
    def on_train_start(self, trainer, pl_module) -> None:
        self.received, self.stopped_at, self.stop_signal, self.checkpoint_paths, self.requeued = None, None, None, [], False
        self.install()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.stopped_at is not None:
            return
        received = self.received or 0
        if trainer.world_size > 1:  # every rank learns that one of them got a signal (and which)
            received = int(trainer.strategy.reduce(torch.tensor(received, device=trainer.strategy.root_device), reduce_op="max"))
        if received:
            self.stopped_at, self.stop_signal = trainer.global_step, received
            trainer.should_stop = True

    def on_train_end(self, trainer, pl_module) -> None:
        try:
            if self.stopped_at is not None:
                self._save(trainer)
                self._requeue(trainer)
                name = signal.Signals(self.stop_signal).name
                last = self.checkpoint_paths[0] if self.checkpoint_paths[0].endswith("preempted.ckpt") else "last"
                then = "requeued the job" if self.requeued else f"continue with --ckpt_path {last}"
                rank_zero_info(f"{name} received: stopped after iteration {self.stopped_at} and saved "
                               f"{', '.join(self.checkpoint_paths)}; {then}")
        finally:
            self.uninstall()

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self.uninstall()

    # ------------------------------------------------------------------ the checkpoint and the requeue
    def _save(self, trainer) -> None:
        # At on_train_end: the iteration is complete (EMA and every other callback included) and a
        # checkpoint of the end of training resumes exactly (gan_lightning.core.compat, section 4).
        self.checkpoint_paths = compat.save_last_checkpoints(trainer)
        if not self.checkpoint_paths:
            path = os.path.join(trainer.default_root_dir, "checkpoints", "preempted.ckpt")
            trainer.save_checkpoint(path)
            self.checkpoint_paths = [path]

    def _requeue(self, trainer) -> None:
        job = os.environ.get("SLURM_JOB_ID")
        if self.requeue_signal is None or self.stop_signal != self.requeue_signal or not job:
            return
        if os.environ.get("SLURM_ARRAY_JOB_ID"):
            job = f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ.get('SLURM_ARRAY_TASK_ID', '')}"
        if trainer.is_global_zero:
            try:
                result = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True, timeout=60)
            except (OSError, subprocess.TimeoutExpired) as error:
                rank_zero_warn(f"PreemptionCheckpoint: could not requeue SLURM job {job}: {error}")
                return
            if result.returncode != 0:
                rank_zero_warn(f"PreemptionCheckpoint: scontrol requeue {job} failed: {result.stderr.strip()}")
                return
            self.requeued = True
