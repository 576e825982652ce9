"""Shared fixtures: tiny models and trainers that run in seconds on 2 CPU cores."""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

import lightning as L
import pytest
import torch

os.environ.setdefault("WANDB_MODE", "offline")
# Caches (digits classifier, real statistics) of this test session, not the user's; removed when it ends.
if "GAN_LIGHTNING_CACHE" not in os.environ:
    os.environ["GAN_LIGHTNING_CACHE"] = tempfile.mkdtemp(prefix="gan_lightning_test_cache_")
    atexit.register(shutil.rmtree, os.environ["GAN_LIGHTNING_CACHE"], ignore_errors=True)
os.environ.setdefault("WANDB_SILENT", "true")
# Tiny networks: one thread is as fast, and predictable on a busy 2-core machine.
torch.set_num_threads(1)


BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@contextlib.contextmanager
def benchmark_script(name: str):
    """``benchmarks/<name>.py`` imported as a module (benchmarks/ is not a package), for the module's tests."""
    spec = importlib.util.spec_from_file_location(f"{name}_benchmark", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def run_without_gpu(name: str) -> list[str]:
    """``python benchmarks/<name>.py`` in a process that sees no CUDA device: its stdout lines (exit 0 asserted)."""
    import subprocess

    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(BENCHMARKS.parent)}
    result = subprocess.run([sys.executable, str(BENCHMARKS / f"{name}.py")], capture_output=True, text=True,
                            timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.splitlines()


@pytest.fixture(scope="module")
def digits_cache(tmp_path_factory):
    """A digits classifier trained for 1 epoch in a cache of its own, set as GAN_LIGHTNING_CACHE
    for the module (smoke runs of the benchmarks need a fixed classifier, not a good one)."""
    from gan_lightning.evaluation import train_digits_classifier

    root = tmp_path_factory.mktemp("gan_lightning_cache")
    train_digits_classifier(root / "digits_classifier.pt", epochs=1, seed=0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GAN_LIGHTNING_CACHE", str(root))
        yield root


@pytest.fixture
def one_thread():
    """One intra-op thread for a test of small CPU forwards: on a shared 2-core machine a second thread
    only adds synchronisation (OpenMP's spinning threads made such tests up to 10x slower, and a
    double-backward 14 ms vs 3 s, as soon as another process was busy). Modules take it with
    ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def dcgan_checkpoint(tmp_path_factory):
    """The last checkpoint of a tiny DCGAN trained 3 iterations on MNIST5k (for the verbs' tests)."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    from gan_lightning.data import MNIST5k

    root = tmp_path_factory.mktemp("dcgan")
    checkpoint = ModelCheckpoint(dirpath=root / "ckpt", save_last=True)
    trainer = tiny_trainer(root, 3, [checkpoint], enable_checkpointing=True)
    trainer.fit(tiny_dcgan(), MNIST5k(image_size=28, batch_size=16))
    return root / "ckpt" / "last.ckpt"


class SeededProbe(torch.nn.Module):
    """A feature extractor and classifier of fixed random weights (drawn from ``seed``): ``features``
    tanh(linear) of ``num_features``, ``logits`` of ``num_classes``, for images of ``in_features`` pixels."""

    def __init__(self, in_features: int, num_features: int, num_classes: int, seed: int) -> None:
        super().__init__()
        self.num_features, self.num_classes = num_features, num_classes
        generator = torch.Generator().manual_seed(seed)
        self.to_features = torch.nn.Linear(in_features, num_features)
        self.to_logits = torch.nn.Linear(in_features, num_classes)
        for parameter in self.parameters():
            parameter.data = torch.randn(parameter.shape, generator=generator)

    def features(self, images):
        return torch.tanh(self.to_features(images.flatten(1)))

    def logits(self, images):
        return self.to_logits(images.flatten(1))


def run_evaluate(capsys, *args) -> tuple[int, str, str]:
    """``gan-lightning evaluate ARGS`` in this process: (exit status, stdout, stderr)."""
    from gan_lightning.cli import main

    code = 0
    try:
        main(["evaluate", *map(str, args)])
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


class InterruptAt(L.Callback):
    """Stops the run after iteration ``step``, as a killed job would after its last checkpoint."""

    def __init__(self, step):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
            trainer.should_stop = True


def tiny_dcgan(**overrides):
    from gan_lightning.models import DCGAN

    kwargs = dict(data_shape=(1, 28, 28), latent_dim=16, g_width=8, d_width=8)
    kwargs.update(overrides)
    return DCGAN(**kwargs)


def tiny_trainer(root, max_steps, callbacks=(), **overrides) -> L.Trainer:
    kwargs = dict(
        max_steps=max_steps, limit_train_batches=5, limit_val_batches=0, logger=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=str(root),
        callbacks=list(callbacks), deterministic=True, accelerator="cpu", devices=1,
        enable_checkpointing=False,
    )
    kwargs.update(overrides)
    return L.Trainer(**kwargs)


@pytest.fixture
def mnist5k():
    from gan_lightning.data import MNIST5k

    return MNIST5k(image_size=28, batch_size=16)
