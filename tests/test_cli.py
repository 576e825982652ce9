"""The gan-lightning command, run as users run it (a subprocess of the installed console script),
and, in-process, what its LightningCLI builds from the shared defaults (gan_lightning/defaults.yaml)."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from PIL import Image

from gan_lightning.callbacks import DivergenceGuard, EMACallback, PreemptionCheckpoint, SampleGridCallback
from gan_lightning.cli import DEFAULT_CALLBACKS, build_cli
from gan_lightning.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).with_name("gan-lightning")
TINY = ["--model.init_args.g_width", "8", "--model.init_args.d_width", "8", "--data.init_args.batch_size", "16",
        "--trainer.enable_progress_bar", "false", "--trainer.log_every_n_steps", "2", "--trainer.limit_val_batches", "0"]


def cli(*args, cwd=ROOT, env=None, timeout=300):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB")}
    full_env.update(env or {})
    return subprocess.run([str(EXE), *map(str, args)], cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One short CLI fit of the default experiment, with W&B left to decide its mode by itself."""
    root = tmp_path_factory.mktemp("run")
    result = cli("fit", "--config", "experiments/dcgan/mnist5k.yaml", "--trainer.max_steps", "6",
                 "--trainer.default_root_dir", root, *TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    return root, result


def test_fit_writes_checkpoint_samples_and_an_offline_wandb_run(trained_run):
    root, _ = trained_run
    assert (root / "checkpoints" / "last.ckpt").is_file()
    assert (root / "samples" / "iter_000006.png").is_file()
    runs = list((root / "wandb").glob("offline-run-*"))
    assert len(runs) == 1  # no key and no network: offline by itself, no prompt
    records = next(runs[0].glob("run-*.wandb")).read_bytes()
    assert b"d_loss" in records and b"g_loss" in records  # scalars
    assert b"lr_g" in records  # hyperparameters
    assert list((runs[0] / "files" / "media" / "images").glob("samples_*.png"))  # sample images


def test_a_run_prints_none_of_the_messages_that_do_not_apply(trained_run):
    _, result = trained_run
    output = result.stdout + result.stderr
    assert "`Trainer.fit` stopped: `max_steps=6` reached." in output  # the run's own messages are there
    assert "args parameter is intended to run from within Python" not in output  # LightningCLI's
    assert "litlogger" not in output  # Lightning's tip for its cloud logger


def stderr_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def test_model_given_data_it_does_not_take_fails_in_one_line(tmp_path):
    from gan_lightning.models import known_models

    result = cli("fit", "--model", "DCGAN", "--data", "Toy2D", "--trainer.logger", "false",
                 "--trainer.default_root_dir", tmp_path)
    assert result.returncode == 2
    lines = stderr_lines(result)
    assert len(lines) <= 2, result.stderr  # the error, after Lightning's "Seed set to 0"
    error = lines[-1]
    assert error.startswith("gan-lightning: error: DCGAN takes image data, not Toy2D's toy2d samples of shape (2,)")
    takers = error.split("; models for toy2d data: ")[1].split(", ")
    assert takers == [name for name, cls in known_models().items() if "toy2d" in cls.data_kinds]
    assert "GAN" in takers and "WGANGP" in takers and "DCGAN" not in takers


@pytest.mark.parametrize(
    "args, error",
    [
        (["--model.lr_g", "abc"], "invalid value for model.lr_g: 'abc' (expected a float)"),
        (["--model.critic_steps", "0"], "DCGAN: model.critic_steps must be >= 1, got 0"),  # the model's own check
    ],
)
def test_bad_model_values_fail_in_one_line(args, error, tmp_path):
    result = cli("fit", "--model", "DCGAN", "--data", "MNIST5k", *args, "--trainer.logger", "false",
                 "--trainer.default_root_dir", tmp_path)
    assert result.returncode == 2
    lines = stderr_lines(result)
    assert len(lines) <= 2, result.stderr
    assert lines[-1] == f"gan-lightning: error: {error}"


@pytest.mark.parametrize(
    "args, error",
    [
        (["--trainer.max_steps", "many"], "invalid value for trainer.max_steps: 'many' (expected an int)"),
        (["--model.optimizer", "lion"],
         "invalid value for model.optimizer: 'lion' (expected one of 'adam', 'adamw', 'rmsprop', 'sgd')"),
        (["--data.batch_size", "1.5"], "invalid value for data.batch_size: '1.5' (expected an int)"),
        (["--seed_everything", "x"], "invalid value for seed_everything: 'x' (expected a bool or an int)"),
        (["--model.lr", "1"], "model: DCGAN has no option 'lr'; its options: latent_dim, g_width, d_width,"),
    ],
)
def test_parser_errors_become_one_line(args, error):
    with pytest.raises(UsageError) as raised:
        build_cli(["--model", "DCGAN", "--data", "MNIST5k", *args], run=False, instantiate=False)
    assert str(raised.value).startswith(error)
    assert "\n" not in str(raised.value)


def test_a_run_without_a_config_gets_the_default_callbacks(tmp_path):
    run = build_cli(["fit", "--model", "DCGAN", "--data", "MNIST5k", "--model.g_width", "8", "--model.d_width", "8",
                     "--data.batch_size", "16", "--trainer.max_steps", "2", "--trainer.limit_val_batches", "0",
                     "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
                     "--trainer.default_root_dir", str(tmp_path)])
    callbacks = {type(callback): callback for callback in run.trainer.callbacks}
    assert callbacks[EMACallback].decay == 0.999
    assert callbacks[SampleGridCallback].every_n_steps == 250 and callbacks[SampleGridCallback].num_samples == 64
    assert DivergenceGuard in callbacks
    assert callbacks[PreemptionCheckpoint].signals == [signal.SIGTERM, signal.SIGUSR1, signal.SIGINT]
    checkpoint = run.trainer.checkpoint_callback
    assert type(checkpoint) is ModelCheckpoint and checkpoint.save_last and checkpoint.save_top_k == -1
    assert run.model.generator_ema is not None  # EMACallback switched the EMA generator on
    assert (tmp_path / "samples" / "iter_000002.png").is_file()
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()


def resolved_callbacks(*args) -> list[tuple[str, dict]]:
    config = build_cli(["--model", "GAN", "--data", "Toy2D", *args], run=False, instantiate=False).config
    return [(c.class_path.rsplit(".", 1)[-1], dict(c.init_args or {})) for c in config.trainer.callbacks]


def test_default_callbacks_change_key_by_key_and_give_way_to_listed_ones(tmp_path):
    names = ["PreemptionCheckpoint", "EMACallback", "SampleGridCallback", "DivergenceGuard", "ProgressBar",
             "ModelCheckpoint"]
    assert [name for name, _ in resolved_callbacks()] == names
    assert [c.rsplit(".", 1)[-1] for c in DEFAULT_CALLBACKS.values()] == names
    changed = dict(resolved_callbacks("--sample_grid.every_n_steps", "7", "--checkpoint.every_n_train_steps", "9"))
    assert changed["SampleGridCallback"]["every_n_steps"] == 7 and changed["SampleGridCallback"]["num_samples"] == 64
    assert changed["ModelCheckpoint"]["every_n_train_steps"] == 9 and changed["ModelCheckpoint"]["save_last"] is True
    # a listed callback of a default class takes the default one's place (complete lists of older configs)
    config = tmp_path / "listed.yaml"
    config.write_text("trainer:\n  callbacks:\n    - class_path: gan_lightning.callbacks.SampleGridCallback\n"
                      "      init_args: {every_n_steps: 3}\n")
    listed = resolved_callbacks("--config", str(config))
    assert [name for name, _ in listed] == ["PreemptionCheckpoint", "EMACallback", "DivergenceGuard", "ProgressBar",
                                            "SampleGridCallback", "ModelCheckpoint"]
    assert listed[4][1]["every_n_steps"] == 3
    assert resolved_callbacks("--default_callbacks", "false") == []
    no_checkpoint = resolved_callbacks("--trainer.enable_checkpointing", "false")
    assert [name for name, _ in no_checkpoint] == names[1:5]  # neither the checkpoint nor the preemption one
    no_bar = resolved_callbacks("--trainer.enable_progress_bar", "false")
    assert [name for name, _ in no_bar] == names[:4] + names[5:]


def test_sample_from_a_checkpoint(trained_run, tmp_path):
    root, _ = trained_run
    out = tmp_path / "grid.png"
    result = cli("sample", "--ckpt_path", root / "checkpoints" / "last.ckpt", "--num_samples", "16", "--out", out,
                 "--nrow", "4", "--seed", "3", "--truncation", "1.5")
    assert result.returncode == 0, result.stderr
    assert Image.open(out).size == (4 * 30 + 2, 4 * 30 + 2)  # 28 px images with 2 px padding
    again = tmp_path / "again.png"
    cli("sample", "--ckpt_path", root / "checkpoints" / "last.ckpt", "--num_samples", "16", "--out", again,
        "--nrow", "4", "--seed", "3", "--truncation", "1.5")
    assert out.read_bytes() == again.read_bytes()  # seeded


def test_resume_from_last_continues_the_iteration_count(trained_run):
    root, _ = trained_run
    result = cli("fit", "--config", "experiments/dcgan/mnist5k.yaml", "--trainer.max_steps", "8",
                 "--trainer.default_root_dir", root, "--ckpt_path", "last", *TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Restored all states" in result.stderr + result.stdout
    assert torch.load(root / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 8


def test_validate_reports_heldout_discriminator_scores(trained_run):
    root, _ = trained_run
    result = cli("validate", "--config", "experiments/dcgan/mnist5k.yaml", "--trainer.default_root_dir", root,
                 "--ckpt_path", root / "checkpoints" / "last.ckpt", "--trainer.logger", "false",
                 "--trainer.limit_val_batches", "2", *TINY[:-2])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "val/d_real" in result.stdout and "val/d_fake" in result.stdout


def test_models_lists_every_model_with_its_paper():
    result = cli("models")
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 0
    assert any(line.startswith("DCGAN") and "Radford" in line for line in lines)
    assert any(line.startswith("GAN ") and "Goodfellow" in line for line in lines)
    from gan_lightning.models import known_models

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for name in known_models():  # every model: a line with its experiment folder, a README table row
        line = next(line for line in lines if line.split()[0] == name)
        assert f"[experiments/{name.lower()}: " in line and ".yaml" in line, line
        assert f"| `{name}` |" in readme, f"README's Models table has no row for {name}"


def test_model_and_data_classes_resolve_without_a_config(tmp_path):
    result = cli("fit", "--model", "GAN", "--data", "Toy2D", "--trainer.max_steps", "2", "--trainer.logger", "false",
                 "--trainer.default_root_dir", tmp_path, "--trainer.enable_progress_bar", "false")
    assert result.returncode == 0, result.stderr[-3000:]
    assert list((tmp_path / "checkpoints").glob("*.ckpt"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["fit", "--model", "NoSuchGAN", "--data", "MNIST5k"], "unknown model 'NoSuchGAN'; known models: "),
        (["fit", "--model", "DCGAN", "--data", "Imagenet"], "unknown data module 'Imagenet'; known data modules: MNIST5k"),
        (["fit", "--config", "nowhere.yaml"], "config file not found: nowhere.yaml"),
        (["sample", "--ckpt_path", "missing.ckpt"], "checkpoint not found: missing.ckpt"),
        (["translate", "--ckpt_path", "missing.ckpt", "--input", "README.md", "--out", "unused"],
         "checkpoint not found: missing.ckpt"),
        (["fly"], "unknown verb 'fly'"),
    ],
)
def test_bad_input_fails_with_one_clear_message(args, message):
    result = cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    if "known models" in message:
        assert ", DCGAN, " in result.stderr and ", GAN, " in result.stderr


def test_corrupt_checkpoint_is_reported_as_corrupt(tmp_path, trained_run):
    root, _ = trained_run
    corrupt = tmp_path / "corrupt.ckpt"
    corrupt.write_bytes((root / "checkpoints" / "last.ckpt").read_bytes()[:5000])  # truncated
    for args in (["sample", "--ckpt_path", corrupt],
                 ["fit", "--config", "experiments/dcgan/mnist5k.yaml", "--ckpt_path", corrupt]):
        result = cli(*args)
        assert result.returncode == 2
        assert f"checkpoint {corrupt} is corrupt" in result.stderr
        assert "Traceback" not in result.stderr


def test_help_lists_every_verb():
    result = cli("--help")
    for verb in ("fit", "validate", "test", "models", "sample", "evaluate", "translate"):
        assert f"  {verb}" in result.stdout
