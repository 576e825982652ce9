"""Two CPU processes through Lightning's DDP (gloo), then a one-process resume of their checkpoint."""

import torch

from test_cli import TINY, cli


def test_ddp_on_two_cpu_processes_then_resume_in_one(tmp_path):
    result = cli("fit", "--config", "experiments/dcgan/mnist5k.yaml", "--trainer.max_steps", "4",
                 "--trainer.default_root_dir", tmp_path, "--trainer.strategy", "ddp", "--trainer.devices", "2",
                 "--trainer.accelerator", "cpu", "--trainer.logger", "false",
                 *TINY, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["iter_000004.png"]  # rank 0 only
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["last.ckpt"]
    saved = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)
    assert saved["global_step"] == 4  # iterations, not optimizer steps, across 2 processes
    assert any(k.startswith("generator_ema.") for k in saved["state_dict"])

    result = cli("fit", "--config", "experiments/dcgan/mnist5k.yaml", "--trainer.max_steps", "6",
                 "--trainer.default_root_dir", tmp_path, "--ckpt_path", "last", "--trainer.logger", "false", *TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    assert torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 6
