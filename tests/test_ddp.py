"""Two CPU processes through Lightning's DDP (gloo): a run that crashed resumes on two processes
bitwise equal to the uninterrupted run, and a DDP checkpoint resumes in one process too."""

import os
from pathlib import Path

import torch

from test_cli import TINY, cli

TESTS = Path(__file__).resolve().parent
DDP = ["--trainer.strategy", "ddp", "--trainer.devices", "2", "--trainer.accelerator", "cpu"]


def test_ddp_on_two_cpu_processes_then_resume_in_one(tmp_path):
    result = cli("fit", "--config", "experiments/dcgan/mnist5k.yaml", "--trainer.max_steps", "4",
                 "--trainer.default_root_dir", tmp_path, *DDP, "--trainer.logger", "false",
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


def test_a_ddp_run_that_crashed_mid_epoch_resumes_on_two_processes_bitwise_equal(tmp_path):
    """8 batches per rank and epoch: the checkpoint of iteration 20 lies in the middle of the third
    epoch; the run dies at 25, resumes from 20 on two processes and goes on to 30 (across an epoch end)."""
    run = ["fit", "--model", "DCGAN", "--data", "MNIST5k", "--model.init_args.latent_dim", "16", *TINY, *DDP,
           "--trainer.logger", "false", "--trainer.limit_train_batches", "8", "--trainer.max_steps", "30",
           "--checkpoint.every_n_train_steps", "10", "--sample_grid.every_n_steps", "1000"]
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))}
    straight = cli(*run, "--trainer.default_root_dir", tmp_path / "straight", timeout=600)
    assert straight.returncode == 0, straight.stderr[-3000:]

    folder = tmp_path / "resumed" / "checkpoints"
    crash = '{"class_path": "crash.CrashAt", "init_args": {"step": 25}}'
    crashed = cli(*run, "--trainer.default_root_dir", tmp_path / "resumed", "--trainer.callbacks+", crash,
                  env=env, timeout=600)
    assert crashed.returncode != 0 and "simulated crash after iteration 25" in crashed.stderr, crashed.stderr[-3000:]
    at_crash = torch.load(folder / "last.ckpt", weights_only=False)
    assert at_crash["global_step"] == 20 and at_crash["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"] == 2
    rng = at_crash["gan_lightning"]["rng_per_rank"]  # rank 0 wrote both ranks' RNG states
    assert len(rng) == 2 and not torch.equal(rng[0]["torch"], rng[1]["torch"])

    resumed = cli(*run, "--trainer.default_root_dir", tmp_path / "resumed", "--ckpt_path", "last", timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a = torch.load(tmp_path / "straight" / "checkpoints" / "last.ckpt", weights_only=False)
    b = torch.load(folder / "last.ckpt", weights_only=False)
    assert a["global_step"] == b["global_step"] == 30
    assert a["state_dict"].keys() == b["state_dict"].keys()
    assert [k for k in a["state_dict"] if not torch.equal(a["state_dict"][k], b["state_dict"][k])] == []
    for opt_a, opt_b in zip(a["optimizer_states"], b["optimizer_states"]):
        for state_a, state_b in zip(opt_a["state"].values(), opt_b["state"].values()):
            assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    for rank_a, rank_b in zip(a["gan_lightning"]["rng_per_rank"], b["gan_lightning"]["rng_per_rank"]):
        assert torch.equal(rank_a["torch"], rank_b["torch"])  # each rank's noise stream went on as it would have
