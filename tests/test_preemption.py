"""Preemption and Ctrl-C (README, Preemption and Ctrl-C): on SIGTERM, SLURM's warning signal or SIGINT, a run finishes
the iteration under way, writes last.ckpt at it and exits with status 0 (130 after Ctrl-C); --ckpt_path last
goes on, bitwise equal on one process to the run that was never stopped."""

import os
import re
import signal
import stat
import subprocess
import time

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from conftest import tiny_dcgan, tiny_trainer
from gan_lightning.callbacks import EMACallback, PreemptionCheckpoint
from gan_lightning.callbacks.preemption import signal_number
from test_cli import EXE, ROOT, TINY, cli

# Checkpoints every 2 iterations: the first last.ckpt says training runs; 40 leaves time for the signal.
RUN = ["fit", "--model", "DCGAN", "--data", "MNIST5k", "--model.init_args.latent_dim", "16", *TINY,
       "--trainer.logger", "false", "--trainer.max_steps", "40", "--checkpoint.every_n_train_steps", "2",
       "--sample_grid.every_n_steps", "1000"]


def load(path):
    return torch.load(path, weights_only=False)


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """The last checkpoint of RUN never stopped."""
    root = tmp_path_factory.mktemp("straight")
    result = cli(*RUN, "--trainer.default_root_dir", root)
    assert result.returncode == 0, result.stderr[-3000:]
    return load(root / "checkpoints" / "last.ckpt")


def stop_with_a_signal(root, signum, extra=(), process_group=False):
    """RUN in ``root`` (with ``--ckpt_path last``, as a requeued SLURM job starts: the first start has no
    checkpoint yet), sent ``signum`` once its first checkpoint is written: to the process, or to its
    whole process group as a terminal's Ctrl-C is (DataLoader workers included). Returns
    ``(exit status, stderr, the iteration it stopped after)``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB")}
    command = [str(EXE), *map(str, RUN), *extra, "--trainer.default_root_dir", str(root), "--ckpt_path", "last"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=process_group)
    deadline = time.monotonic() + 300
    while not (root / "checkpoints" / "last.ckpt").is_file():  # training has started
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[1][-3000:]
        time.sleep(0.02)
    if process_group:
        os.killpg(process.pid, signum)
    else:
        process.send_signal(signum)
    _, stderr = process.communicate(timeout=300)
    name = signal.Signals(signum).name
    match = re.search(rf"{name} received: stopped after iteration (\d+) and saved (\S+); continue with --ckpt_path last",
                      stderr)
    assert match, stderr[-3000:]
    return process.returncode, stderr, int(match[1])


def assert_resumes_bitwise(root, straight, extra=()):
    resumed = cli(*RUN, *extra, "--trainer.default_root_dir", root, "--ckpt_path", "last")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "changed settings" not in resumed.stderr and "no longer exact" not in resumed.stderr  # the same command
    a, b = straight, load(root / "checkpoints" / "last.ckpt")
    assert a["global_step"] == b["global_step"] == 40
    assert any(k.startswith("generator_ema.") for k in a["state_dict"])
    assert [k for k in a["state_dict"] if not torch.equal(a["state_dict"][k], b["state_dict"][k])] == []
    for opt_a, opt_b in zip(a["optimizer_states"], b["optimizer_states"]):
        for state_a, state_b in zip(opt_a["state"].values(), opt_b["state"].values()):
            assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)


def test_sigterm_to_a_fit_saves_the_iteration_exits_0_and_the_resume_is_bitwise_equal(tmp_path, straight):
    root = tmp_path / "preempted"
    status, stderr, stopped = stop_with_a_signal(root, signal.SIGTERM)
    assert status == 0, stderr[-3000:]
    assert "Traceback" not in stderr
    assert 2 <= stopped < 40
    assert load(root / "checkpoints" / "last.ckpt")["global_step"] == stopped
    assert_resumes_bitwise(root, straight)


def test_ctrl_c_saves_the_iteration_exits_130_and_the_resume_is_bitwise_equal(tmp_path, straight):
    # Ctrl-C in a terminal: SIGINT to the process group, a DataLoader worker process included
    workers = ["--data.init_args.num_workers", "1"]
    root = tmp_path / "interrupted"
    status, stderr, stopped = stop_with_a_signal(root, signal.SIGINT, workers, process_group=True)
    assert status == 130, stderr[-3000:]  # the shell's status of an interrupted command
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert 2 <= stopped < 40
    assert load(root / "checkpoints" / "last.ckpt")["global_step"] == stopped
    assert_resumes_bitwise(root, straight, workers)


def test_a_second_ctrl_c_before_the_run_stops_interrupts_at_once():
    preemption = PreemptionCheckpoint()
    preemption._handle(signal.SIGINT, None)
    assert preemption.received == signal.SIGINT
    with pytest.raises(KeyboardInterrupt):
        preemption._handle(signal.SIGINT, None)
    other = PreemptionCheckpoint()
    other._handle(signal.SIGTERM, None)
    other._handle(signal.SIGTERM, None)  # a scheduler repeating its signal still waits for the iteration
    assert other.received == signal.SIGTERM


def test_exit_status_is_130_after_ctrl_c_and_0_after_a_schedulers_signal():
    preemption = PreemptionCheckpoint()
    assert preemption.exit_status == 0
    preemption.stop_signal = int(signal.SIGINT)
    assert preemption.exit_status == 130
    preemption.stop_signal = int(signal.SIGTERM)
    assert preemption.exit_status == 0


class SignalAt(L.Callback):
    """Sends ``signum`` to this process after iteration ``step`` (before the preemption callback looks)."""

    def __init__(self, signum, step):
        self.signum, self.step = signum, step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
            os.kill(os.getpid(), self.signum)


@pytest.fixture
def slurm(tmp_path, monkeypatch):
    """A SLURM job 4242 whose `scontrol` only records its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scontrol = bin_dir / "scontrol"
    scontrol.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "scontrol.log"}\n')
    scontrol.chmod(scontrol.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    monkeypatch.delenv("SLURM_ARRAY_JOB_ID", raising=False)
    return tmp_path / "scontrol.log"


@pytest.mark.parametrize("signum, requeued", [(signal.SIGUSR1, True), (signal.SIGTERM, False)],
                         ids=["SIGUSR1-requeues", "SIGTERM-does-not"])
def test_under_slurm_the_requeue_signal_saves_stops_and_requeues_the_job(tmp_path, slurm, mnist5k, signum, requeued):
    preemption = PreemptionCheckpoint()
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True, every_n_train_steps=1000)
    trainer = tiny_trainer(tmp_path, 20, callbacks=[SignalAt(signum, 3), preemption, EMACallback(decay=0.9), checkpoint],
                           enable_checkpointing=True)
    before = signal.getsignal(signum)
    trainer.fit(tiny_dcgan(), mnist5k)
    assert trainer.global_step == 3 and preemption.stopped_at == 3 and preemption.stop_signal == signum
    assert preemption.checkpoint_paths == [str(tmp_path / "ckpt" / "last.ckpt")]
    assert load(tmp_path / "ckpt" / "last.ckpt")["global_step"] == 3
    assert (slurm.read_text() if slurm.exists() else "") == ("requeue 4242\n" if requeued else "")
    assert preemption.requeued is requeued
    assert signal.getsignal(signum) is before  # the handler is put back when training ends


def test_without_a_last_checkpoint_the_preemption_checkpoint_has_its_own_file(tmp_path, mnist5k):
    preemption = PreemptionCheckpoint(signals=["SIGUSR2"], requeue_signal=None)
    trainer = tiny_trainer(tmp_path, 20, callbacks=[SignalAt(signal.SIGUSR2, 2), preemption])
    trainer.fit(tiny_dcgan(), mnist5k)
    path = tmp_path / "checkpoints" / "preempted.ckpt"
    assert trainer.global_step == 2 and preemption.checkpoint_paths == [str(path)]
    assert load(path)["global_step"] == 2


def test_signals_are_named_with_or_without_sig_or_numbered():
    term, usr1 = int(signal.SIGTERM), int(signal.SIGUSR1)
    assert [signal_number(s) for s in ("SIGTERM", "term", "sigusr1", usr1, str(usr1))] == [term, term, usr1, usr1, usr1]
    with pytest.raises(ValueError, match="unknown signal 'SIGFOO'"):
        PreemptionCheckpoint(signals=["SIGFOO"])
