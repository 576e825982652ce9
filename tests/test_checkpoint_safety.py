"""Checkpoints survive a crash mid-write; a corrupt `last.ckpt` and an unwritable run folder are
reported in one line at start (exit status 2), not after the first hour."""

import os
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.fabric.plugins import TorchCheckpointIO
from lightning.pytorch.plugins.io import AsyncCheckpointIO

from gan_lightning import checkpoints
from gan_lightning.checkpoints import (
    AtomicCheckpointIO, CheckpointError, atomic_torch_save, check_resume_checkpoint, check_run_folder,
    use_atomic_checkpoints,
)
from gan_lightning.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).with_name("gan-lightning")


def cli(*args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB")}
    return subprocess.run([str(EXE), *map(str, args)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def small_checkpoint(path: Path, step: int, mtime: float | None = None) -> Path:
    torch.save({"state_dict": {"w": torch.full((4,), float(step))}, "global_step": step}, path)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def test_a_write_that_fails_midway_leaves_the_old_checkpoint_intact(tmp_path, monkeypatch):
    target = small_checkpoint(tmp_path / "last.ckpt", step=10)
    before = target.read_bytes()
    real_save = torch.save

    def dies_midway(obj, file, *args, **kwargs):
        real_save(obj, file, *args, **kwargs)  # the bytes are written...
        file.truncate(100)  # ...then half of them are lost, and the machine "dies"
        raise OSError("power cut")

    monkeypatch.setattr(torch, "save", dies_midway)
    with pytest.raises(OSError, match="power cut"):
        atomic_torch_save({"state_dict": {"w": torch.zeros(4)}, "global_step": 20}, target)
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert torch.load(target, weights_only=False)["global_step"] == 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]  # no temporary file left behind


def test_a_killed_writer_leaves_only_a_temporary_file_that_is_not_a_checkpoint(tmp_path, monkeypatch):
    target = small_checkpoint(tmp_path / "last.ckpt", step=10)
    before = target.read_bytes()

    def killed(obj, file, *args, **kwargs):
        file.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt  # not an Exception: what a SIGINT mid-write raises

    monkeypatch.setattr(torch, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        atomic_torch_save({"state_dict": {}}, target)
    assert target.read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp"))


def test_atomic_checkpoint_io_writes_readable_checkpoints_and_is_the_cli_default(tmp_path):
    io = AtomicCheckpointIO()
    io.save_checkpoint({"state_dict": {"w": torch.arange(3)}, "global_step": 3}, tmp_path / "sub" / "a.ckpt")
    assert io.load_checkpoint(tmp_path / "sub" / "a.ckpt")["global_step"] == 3
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["a.ckpt"]

    trainer = L.Trainer(logger=False, enable_progress_bar=False, default_root_dir=tmp_path)
    assert type(trainer.strategy.checkpoint_io) is TorchCheckpointIO
    use_atomic_checkpoints(trainer)
    assert isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO)
    custom = L.Trainer(logger=False, enable_progress_bar=False, plugins=[AsyncCheckpointIO()])
    use_atomic_checkpoints(custom)
    assert isinstance(custom.strategy.checkpoint_io, AsyncCheckpointIO)  # a user's own plugin is kept

    from gan_lightning.cli import build_cli

    built = build_cli(["--model", "GAN", "--data", "Toy2D", "--trainer.logger", "false",
                       "--trainer.default_root_dir", str(tmp_path / "run")], run=False)
    assert isinstance(built.trainer.strategy.checkpoint_io, AtomicCheckpointIO)


def test_a_corrupt_checkpoint_names_the_newest_intact_one_in_its_folder(tmp_path):
    now = time.time()
    small_checkpoint(tmp_path / "epoch=0-step=10.ckpt", 10, now - 300)
    newest = small_checkpoint(tmp_path / "epoch=0-step=20.ckpt", 20, now - 200)
    (tmp_path / "epoch=0-step=30.ckpt").write_bytes(b"")  # newer, but empty
    last = tmp_path / "last.ckpt"
    last.write_bytes(newest.read_bytes()[:-200])  # truncated
    with pytest.raises(CheckpointError) as error:
        check_resume_checkpoint(last, "last")
    message = str(error.value)
    assert message.startswith(f"--ckpt_path last: checkpoint {last} is corrupt (")
    assert message.endswith(f"the newest intact checkpoint in {tmp_path} is {newest}: resume with --ckpt_path {newest}")
    assert "\n" not in message
    check_resume_checkpoint(newest, "last")  # an intact one passes

    for path in tmp_path.glob("epoch=*"):
        path.unlink()
    with pytest.raises(CheckpointError, match="has no intact checkpoint: start afresh without --ckpt_path"):
        check_resume_checkpoint(last, "last")


def test_fit_with_a_corrupt_last_checkpoint_exits_2_naming_the_intact_one(tmp_path):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    intact = small_checkpoint(folder / "epoch=0-step=4.ckpt", 4)
    (folder / "last.ckpt").write_bytes(intact.read_bytes()[:1000])
    result = cli("fit", "--model", "GAN", "--data", "Toy2D", "--trainer.logger", "false",
                 "--trainer.default_root_dir", tmp_path, "--trainer.max_steps", "2", "--ckpt_path", "last")
    assert result.returncode == 2, result.stderr[-3000:]
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"gan-lightning: error: --ckpt_path last: checkpoint {folder / 'last.ckpt'} is corrupt")
    assert line.endswith(f"resume with --ckpt_path {intact}")
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["epoch=0-step=4.ckpt", "last.ckpt"]  # nothing trained


def test_fit_into_a_folder_that_cannot_be_created_exits_2_at_start(tmp_path):
    (tmp_path / "file.txt").write_text("a file, not a folder")  # fails as root too, unlike chmod
    root = tmp_path / "file.txt" / "run"
    result = cli("fit", "--model", "GAN", "--data", "Toy2D", "--trainer.logger", "false",
                 "--trainer.default_root_dir", root, "--trainer.max_steps", "2")
    assert result.returncode == 2, result.stderr[-3000:]
    line = result.stderr.strip().splitlines()[-1]
    assert line == (f"gan-lightning: error: --trainer.default_root_dir {root}: cannot create the run folder "
                    f"(Not a directory); give a folder that can be created and written")
    assert "Traceback" not in result.stderr


def test_run_folder_that_cannot_be_written_or_has_no_space_is_refused(tmp_path, monkeypatch):
    check_run_folder(tmp_path / "fresh" / "run")
    assert (tmp_path / "fresh" / "run").is_dir() and not list((tmp_path / "fresh" / "run").iterdir())  # probe deleted

    blocked = tmp_path / "blocked"
    (blocked / f".gan-lightning-write-probe.{os.getpid()}").mkdir(parents=True)  # the probe cannot be written
    with pytest.raises(UsageError, match=f"--trainer.default_root_dir {blocked}: cannot write into the run folder"):
        check_run_folder(blocked)

    class Usage:
        free = 5 * 2**20

    monkeypatch.setattr(checkpoints.shutil, "disk_usage", lambda path: Usage)
    with pytest.raises(UsageError) as error:
        check_run_folder(tmp_path / "full")
    assert str(error.value) == (
        f"--trainer.default_root_dir {tmp_path / 'full'}: only 5.0 MiB free on its disk, at least 100 MiB needed "
        "for checkpoints and logs; free some space or give a folder on another disk"
    )
