"""What a GPU run enforces, checked on a CPU: every model, with every default callback, creates its
tensors on the model's device, and iterations where no logger or callback is due never make the
host wait for the device (tests/device_checks.py says how each is made visible without a GPU)."""

from __future__ import annotations

import lightning as L
import pytest
import torch
import yaml
from lightning.pytorch.loggers import CSVLogger

from device_checks import PROJECT_MODULES, DefaultDeviceTrap, HostReads, IterationWindow
from gan_lightning.cli import DEFAULT_CALLBACKS, DEFAULTS_FILE, _import_class
from gan_lightning.models import known_models
from test_core import RESUMABLE

EVERY = 3  # logging, sample grids and checkpoints are due after iterations 3 and 6 (1-based)
ITERATIONS = 7  # the 7th is the last: everything is due there too


def default_callbacks(root, every: int) -> list[L.Callback]:
    """The CLI's default callbacks with the values of gan_lightning/defaults.yaml, due every ``every`` iterations."""
    defaults = yaml.safe_load(DEFAULTS_FILE.read_text())
    settings = {key: dict(defaults.get(key) or {}) for key in DEFAULT_CALLBACKS}
    settings["sample_grid"].update(every_n_steps=every, num_samples=16)
    settings["checkpoint"].update(every_n_train_steps=every, dirpath=str(root / "checkpoints"))
    settings["progress_bar"].update(min_interval_s=0.0)  # redraws every iteration: its reads are counted
    return [_import_class(path)(**settings[key]) for key, path in DEFAULT_CALLBACKS.items()]


def due_iterations(trainer_steps: int, every: int, epoch_starts: set[int]) -> set[int]:
    """0-based iterations after which a logger or callback is due, and the last of each epoch (Lightning
    closes the epoch after it and resets its logged results: tiny data sets have short epochs)."""
    ends = {start - 1 for start in epoch_starts if start > 0}
    return {i for i in range(trainer_steps) if (i + 1) % every == 0 or i == trainer_steps - 1} | ends


def run_under_checks(name: str, root, trapped=PROJECT_MODULES) -> tuple[DefaultDeviceTrap, HostReads, dict, set[int]]:
    build, data = RESUMABLE[name]
    L.seed_everything(0)
    model = build()
    trap, reads = DefaultDeviceTrap(trapped), HostReads()
    outputs: dict[int, dict] = {}
    epoch_starts: set[int] = set()

    class KeepOutputs(L.Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            epoch_starts.add(trainer.global_step)

        def on_train_batch_end(self, trainer, pl_module, out, batch, batch_idx):
            outputs[trainer.global_step - 1] = out

    trainer = L.Trainer(
        max_steps=ITERATIONS, limit_val_batches=0, logger=CSVLogger(root), log_every_n_steps=EVERY,
        callbacks=[IterationWindow(trap, reads), KeepOutputs(), *default_callbacks(root, EVERY)],
        enable_model_summary=False, default_root_dir=str(root), accelerator="cpu", devices=1, deterministic=True,
    )
    trainer.fit(model, data())
    assert trainer.global_step == ITERATIONS
    return trap, reads, outputs, epoch_starts


@pytest.mark.parametrize("name", sorted(RESUMABLE))
def test_tensors_on_the_model_device_and_no_host_reads_between_due_iterations(name, tmp_path):
    trap, reads, outputs, epoch_starts = run_under_checks(name, tmp_path)
    assert dict(trap.trapped) == {}, f"{name}: tensors created without a device (on a GPU: on the CPU)"
    for iteration, terms in outputs.items():
        bad = {k: str(v.device) if isinstance(v, torch.Tensor) else type(v).__name__
               for k, v in (terms or {}).items() if not (isinstance(v, torch.Tensor) and v.device.type == "cpu")}
        assert bad == {}, f"{name}, iteration {iteration}: loss values not on the model's device"
    quiet = set(range(ITERATIONS)) - due_iterations(ITERATIONS, EVERY, epoch_starts)
    # a model may read once per iteration in a method it names in ``host_reads_by_design`` (and documents:
    # S2GAN's margin rule); at most once per iteration, and nowhere else
    declared = getattr(RESUMABLE[name][0]().__class__, "host_reads_by_design", ())

    def by_design(where: str) -> bool:
        parts = where.split(":")  # module:function:line, or "torch"
        return len(parts) == 3 and parts[1] in declared

    counted = {i: where for i, where in reads.counted().items() if i in quiet}
    waits = {i: [w for w in where if not by_design(w)] for i, where in counted.items()}
    assert {i: where for i, where in waits.items() if where} == {}, \
        f"{name}: the host waited for the device in iterations where nothing was due"
    assert all(sum(map(by_design, where)) <= 1 for where in counted.values()), f"{name}: more than one read by design"


def test_the_trap_catches_a_constant_made_without_a_device(tmp_path):
    """The check itself can fail: a loss term built with torch.tensor(...) is caught, as a GPU would."""
    from gan_lightning.models import DCGAN

    class Sloppy(DCGAN):
        def discriminator_loss(self, real, fake, labels=None):
            terms = super().discriminator_loss(real, fake, labels)
            return {**terms, "constant": torch.tensor(1.0)}

    RESUMABLE["Sloppy"] = (lambda: Sloppy(data_shape=(1, 28, 28), latent_dim=8, g_width=8, d_width=8),
                           RESUMABLE["DCGAN"][1])
    try:
        with pytest.raises(RuntimeError, match="meta"):
            run_under_checks("Sloppy", tmp_path, trapped=(*PROJECT_MODULES, __name__))
    finally:
        del RESUMABLE["Sloppy"]


def test_the_counter_sees_a_read_in_every_iteration(tmp_path):
    from gan_lightning.models import DCGAN

    class Reads(DCGAN):
        def generator_loss(self, real, fake, labels=None):
            terms = super().generator_loss(real, fake, labels)
            if terms["g_loss"] > 100:  # a Python `if` on a tensor: the host waits for it
                pass
            return terms

    RESUMABLE["Reads"] = (lambda: Reads(data_shape=(1, 28, 28), latent_dim=8, g_width=8, d_width=8),
                          RESUMABLE["DCGAN"][1])
    try:
        _, reads, _, _ = run_under_checks("Reads", tmp_path)
    finally:
        del RESUMABLE["Reads"]
    assert set(reads.counted()) == set(range(ITERATIONS))
    assert all(any("generator_loss" in where for where in reads.counted()[i]) for i in range(ITERATIONS))


def test_every_registered_model_is_checked():
    assert set(known_models()) <= set(RESUMABLE)
