"""A resume states what it resumes (README, Resume): another model class or other networks stop in one
line; changed training settings are applied and named; changed data says the resume is no longer exact."""

import copy

import pytest
import torch

from gan_lightning.cli import main
from gan_lightning.core.optim import OptimizerSettings, apply_optimizer_settings, build_optimizer, linear_decay
from test_cli import cli, stderr_lines

TINY_DCGAN = ["--model.init_args.latent_dim", "16", "--model.init_args.g_width", "8", "--model.init_args.d_width", "8",
              "--data.init_args.batch_size", "16", "--trainer.enable_progress_bar", "false",
              "--trainer.limit_val_batches", "0", "--trainer.logger", "false", "--sample_grid.every_n_steps", "1000"]
DCGAN = ["fit", "--model", "DCGAN", "--data", "MNIST5k", *TINY_DCGAN]


@pytest.fixture(scope="module")
def dcgan_run(tmp_path_factory):
    """A 4-iteration DCGAN run of the CLI: its folder."""
    root = tmp_path_factory.mktemp("dcgan")
    result = cli(*DCGAN, "--trainer.max_steps", "4", "--trainer.default_root_dir", root)
    assert result.returncode == 0, result.stderr[-3000:]
    return root


def fresh_copy(run, tmp_path):
    """A copy of the run's checkpoint, for a test that stops before training."""
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes((run / "checkpoints" / "last.ckpt").read_bytes())
    return tmp_path


def run_main(capsys, *argv):
    """``gan-lightning ARGV`` in this process: (exit status, stderr lines)."""
    try:
        main([str(a) for a in argv])
        status = 0
    except SystemExit as exit:
        status = exit.code
    return status, [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_changed_training_settings_are_applied_and_named_and_changed_data_is_called_inexact(tmp_path):
    root = tmp_path  # a run of its own: a checkpoint copied into another folder is not continued as last.ckpt
    first = cli(*DCGAN, "--trainer.max_steps", "4", "--trainer.default_root_dir", root)
    assert first.returncode == 0, first.stderr[-3000:]
    result = cli(*DCGAN, "--trainer.max_steps", "6", "--trainer.default_root_dir", root, "--ckpt_path", "last",
                 "--model.init_args.lr_g", "1e-4", "--model.init_args.betas", "[0.0, 0.9]",
                 "--model.init_args.critic_steps", "2", "--data.init_args.batch_size", "8",
                 "--data.init_args.num_workers", "1", "--sample_grid.every_n_steps", "500")
    assert result.returncode == 0, result.stderr[-3000:]
    last = root / "checkpoints" / "last.ckpt"
    notes = [line for line in stderr_lines(result) if line.startswith("gan-lightning: ")]
    assert notes == [
        f"gan-lightning: resuming DCGAN from {last} at iteration 4 with changed settings, applied: "
        "model.critic_steps 1 (recipe) -> 2, model.lr_g 0.0002 (recipe) -> 0.0001, "
        "model.betas [0.5, 0.999] (recipe) -> [0.0, 0.9], trainer.max_steps 4 -> 6, "
        "callbacks SampleGridCallback.every_n_steps 1000 -> 500",
        f"gan-lightning: the resume from {last} is no longer exact: data.batch_size 16 -> 8 (the batches differ "
        "from those the uninterrupted run would have seen)",  # num_workers changes no batch: not named
    ]
    checkpoint = torch.load(last, weights_only=False)
    assert checkpoint["global_step"] == 6
    generator, discriminator = (state["param_groups"][0] for state in checkpoint["optimizer_states"])
    assert generator["lr"] == 1e-4 and generator["betas"] == (0.0, 0.9)  # applied, not restored from the checkpoint
    assert discriminator["lr"] == 2e-4 and discriminator["betas"] == (0.0, 0.9)
    assert checkpoint["hyper_parameters"]["critic_steps"] == 2


def test_an_option_that_changes_the_networks_stops_in_one_line(dcgan_run, tmp_path, capsys):
    root = fresh_copy(dcgan_run, tmp_path)
    status, lines = run_main(capsys, *DCGAN, "--trainer.max_steps", "6", "--trainer.default_root_dir", root,
                             "--ckpt_path", root / "checkpoints" / "last.ckpt", "--model.init_args.g_width", "16")
    assert status == 2
    assert lines[-1] == (
        f"gan-lightning: error: --ckpt_path {root / 'checkpoints' / 'last.ckpt'}: this command changes the networks "
        "of the DCGAN checkpoint: model.g_width is 8 in the checkpoint, 16 in this command (generator.net.0.weight "
        "is [16, 16, 7, 7] in the checkpoint, [16, 32, 7, 7] here). Resume with --model.init_args.g_width 8, or "
        "start a new run without --ckpt_path")
    assert torch.load(root / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 4  # untouched


def test_other_data_shapes_stop_in_one_line_naming_the_data(dcgan_run, tmp_path, capsys):
    root = fresh_copy(dcgan_run, tmp_path)
    status, lines = run_main(capsys, *DCGAN, "--data.init_args.image_size", "32", "--trainer.max_steps", "6",
                             "--trainer.default_root_dir", root, "--ckpt_path", "last")
    assert status == 2
    assert "model.data_shape (from the data) is [1, 28, 28] in the checkpoint, [1, 32, 32] in this command" in lines[-1]
    assert lines[-1].endswith("Resume with the model and data settings of its run, or start a new run without "
                              "--ckpt_path")


def test_an_optimizer_of_another_kind_stops_in_one_line(dcgan_run, tmp_path, capsys):
    root = fresh_copy(dcgan_run, tmp_path)
    status, lines = run_main(capsys, *DCGAN, "--model.init_args.optimizer", "sgd", "--trainer.max_steps", "6",
                             "--trainer.default_root_dir", root, "--ckpt_path", "last")
    assert status == 2
    assert lines[-1].startswith(f"gan-lightning: error: --ckpt_path last ({root / 'checkpoints' / 'last.ckpt'}): "
                                "the generator optimizer is adam in the checkpoint, sgd in this command (the saved "
                                "adam state cannot continue as sgd); the discriminator optimizer is adam")


def test_a_checkpoint_of_another_model_stops_in_one_line_naming_both_classes(tmp_path, capsys):
    wgan = tmp_path / "wgan"
    result = cli("fit", "--model", "WGAN", "--data", "MNIST5k", *TINY_DCGAN, "--trainer.max_steps", "2",
                 "--trainer.default_root_dir", wgan)
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = wgan / "checkpoints" / "last.ckpt"
    status, lines = run_main(capsys, "fit", "--config", "experiments/dcgan/mnist5k.yaml", "--trainer.logger", "false",
                             "--trainer.default_root_dir", tmp_path / "dcgan", "--ckpt_path", checkpoint)
    assert status == 2
    assert lines[-1] == (
        f"gan-lightning: error: --ckpt_path {checkpoint} holds a WGAN checkpoint (gan_lightning.models.wgan.WGAN); "
        "this command builds DCGAN: resume it with --model WGAN and the settings of its run (its config.yaml), or "
        "start a new DCGAN run without --ckpt_path")
    status, lines = run_main(capsys, "validate", "--model", "DCGAN", "--data", "MNIST5k", *TINY_DCGAN,
                             "--trainer.default_root_dir", tmp_path / "dcgan", "--ckpt_path", checkpoint)
    assert status == 2 and "holds a WGAN checkpoint" in lines[-1] and "builds DCGAN" in lines[-1]


def test_changed_optimizer_settings_are_written_into_the_restored_state_and_nothing_else():
    params = [torch.nn.Parameter(torch.zeros(3))]
    old = OptimizerSettings(lr=2e-4, betas=(0.5, 0.999))
    optimizer = build_optimizer(params, old)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, linear_decay(100, 50))
    for _ in range(75):
        params[0].grad = torch.ones(3)
        optimizer.step()
        schedule.step()
    checkpoint = {"optimizer_states": [optimizer.state_dict()], "lr_schedulers": [schedule.state_dict()]}
    unchanged = copy.deepcopy(checkpoint)
    assert apply_optimizer_settings(unchanged, {"generator": old}, total=100, decay_iters=50) == []
    assert unchanged["optimizer_states"][0]["param_groups"] == checkpoint["optimizer_states"][0]["param_groups"]
    assert unchanged["lr_schedulers"] == checkpoint["lr_schedulers"]

    new = OptimizerSettings(lr=1e-3, betas=(0.0, 0.9), weight_decay=0.1)
    changes = apply_optimizer_settings(checkpoint, {"generator": new}, total=100, decay_iters=50)
    assert changes == ["generator lr 0.0002 -> 0.001", "generator betas (0.5, 0.999) -> (0.0, 0.9)",
                       "generator weight_decay 0 -> 0.1"]
    group = checkpoint["optimizer_states"][0]["param_groups"][0]
    assert group["lr"] == pytest.approx(1e-3 * 0.5) and group["initial_lr"] == 1e-3  # half-way down the decay
    assert checkpoint["lr_schedulers"][0]["base_lrs"] == [1e-3]
    assert group["betas"] == (0.0, 0.9) and group["weight_decay"] == 0.1
    assert torch.equal(checkpoint["optimizer_states"][0]["state"][0]["exp_avg"],
                       unchanged["optimizer_states"][0]["state"][0]["exp_avg"])  # the moments stay
