"""The Lightning workarounds of gan_lightning.core.compat: each test fails if a Lightning upgrade breaks one."""

import lightning as L
import torch
from lightning.pytorch.strategies import DDPStrategy

from conftest import tiny_dcgan, tiny_trainer
from gan_lightning.core import compat


def test_the_step_progress_we_correct_is_where_lightning_counts_optimizer_steps(tmp_path, mnist5k):
    model = tiny_dcgan()
    seen = []

    class Probe(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            seen.append(compat.optimizer_step_progress(pl_module).total.completed)

    tiny_trainer(tmp_path, 3, callbacks=[Probe()]).fit(model, mnist5k)
    assert seen == [1, 2, 3]  # D and G both stepped, yet one count per iteration


def test_a_plain_ddp_strategy_gets_find_unused_parameters():
    strategy = DDPStrategy()
    assert "find_unused_parameters" not in strategy._ddp_kwargs

    class FakeTrainer:
        pass

    trainer = FakeTrainer()
    trainer.strategy = strategy
    compat.allow_partial_backward(trainer)
    assert strategy._ddp_kwargs["find_unused_parameters"] is True


def test_the_public_spelling_of_that_strategy_exists():
    from lightning.pytorch.strategies import StrategyRegistry

    assert "ddp_find_unused_parameters_true" in StrategyRegistry


def test_optimizer_toggle_freezes_the_other_groups_and_restores_them():
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    frozen_by_user = torch.nn.Parameter(torch.zeros(1), requires_grad=False)
    toggle = compat.OptimizerToggle({"a": [*a.parameters(), frozen_by_user], "b": list(b.parameters())})
    with toggle("a"):
        assert all(p.requires_grad for p in a.parameters())
        assert not any(p.requires_grad for p in b.parameters())
    assert all(p.requires_grad for p in b.parameters()) and not frozen_by_user.requires_grad
    shared = torch.nn.Linear(2, 2)
    toggle = compat.OptimizerToggle({"ae": [*a.parameters(), *shared.parameters()], "e": list(shared.parameters())})
    with toggle("e"):  # a parameter in two groups stays trainable when either group is toggled on
        assert all(p.requires_grad for p in shared.parameters())
        assert not any(p.requires_grad for p in a.parameters())


def test_terms_reach_the_logger_every_log_every_n_steps_with_their_latest_values(tmp_path, mnist5k):
    from lightning.pytorch.loggers import CSVLogger

    model = tiny_dcgan(critic_steps=3)
    logged = []
    original = model.log

    def spy(name, value, *args, **kwargs):
        logged.append((len(outputs), name, float(value)))  # the iteration now running
        return original(name, value, *args, **kwargs)

    model.log = spy
    outputs = []

    class Keep(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, out, batch, batch_idx):
            outputs.append(out)

    trainer = tiny_trainer(tmp_path, 8, callbacks=[Keep()], logger=CSVLogger(tmp_path), log_every_n_steps=4)
    trainer.fit(model, mnist5k)
    steps = sorted({step for step, _, _ in logged})
    assert steps == [3, 7]  # iterations 4 and 8 (0-based 3 and 7), nothing in between
    at_7 = {name: value for step, name, value in logged if step == 7}
    assert at_7["d_loss"] == float(outputs[7]["d_loss"])
    # G stepped on iterations 2 and 5 (critic_steps 3): iteration 7 logs G's latest loss, from 5
    assert "g_loss" not in outputs[7] and at_7["g_loss"] == float(outputs[5]["g_loss"])


def test_the_progress_bar_redraws_on_time_and_on_the_last_batch():
    from gan_lightning.callbacks import ProgressBar

    bar = ProgressBar(min_interval_s=3600)
    bar._trainer = None
    bar._enabled = True
    assert hasattr(L.pytorch.callbacks.TQDMProgressBar, "_should_update")  # the hook we override
    assert bar._should_update(1, 100) is True  # first draw
    assert bar._should_update(2, 100) is False  # too soon
    assert bar._should_update(100, 100) is True  # the last batch always draws
    assert ProgressBar(min_interval_s=0)._should_update(5, 100) is True


# ---------------------------------------------------------------------------- the end of training
class EndOfTraining(L.Callback):
    """Records the loop counters at on_train_end and the RNG state of each iteration's end."""

    def __init__(self):
        self.rng_after_batch = {}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.rng_after_batch[trainer.global_step] = torch.get_rng_state()

    def on_train_epoch_end(self, trainer, pl_module):
        torch.rand(4)  # epoch-end work that draws from the RNG

    def on_train_end(self, trainer, pl_module):
        torch.rand(4)
        epochs, batches = trainer.fit_loop.epoch_progress.total, trainer.fit_loop.epoch_loop.batch_progress
        self.epochs = (epochs.ready, epochs.started, epochs.processed, epochs.completed)
        self.batches_in_epoch, self.is_last_batch = batches.current.ready, batches.is_last_batch
        self.cut_short, self.between = compat.epoch_cut_short(trainer), compat.between_epochs(trainer)
        self.rng_for_checkpoint = compat.rng_state_for_checkpoint(trainer)["torch"]


def test_lightning_closes_an_epoch_that_max_steps_cuts_short(tmp_path, mnist5k):
    """What compat.end_of_training_loop_state undoes: 7 iterations of 5-batch epochs stop 2 batches
    into the second epoch, yet Lightning counts that epoch as completed (a resume from this state
    would start the third). If an upgrade stops doing so, epoch_cut_short is False and the rewrite idle."""
    probe = EndOfTraining()
    tiny_trainer(tmp_path, 7, callbacks=[probe]).fit(tiny_dcgan(), mnist5k)
    assert probe.epochs == (2, 2, 2, 2)
    assert (probe.batches_in_epoch, probe.is_last_batch) == (2, False)
    assert probe.cut_short and probe.between


def test_lightning_keeps_the_batch_counters_of_the_epoch_that_ended_training(tmp_path, mnist5k):
    """The other half: 10 iterations end the second epoch with its counters at 5 batches, which a resume
    would carry into the third epoch (one batch, then the fourth)."""
    probe = EndOfTraining()
    tiny_trainer(tmp_path, 10, callbacks=[probe]).fit(tiny_dcgan(), mnist5k)
    assert probe.epochs == (2, 2, 2, 2)
    assert (probe.batches_in_epoch, probe.is_last_batch) == (5, True)
    assert probe.between and not probe.cut_short


def test_the_rng_of_the_end_of_training_checkpoint_is_taken_when_the_last_iteration_ended(tmp_path, mnist5k):
    """remember_rng_at_stop wraps FitLoop.on_advance_end, which runs the epoch-end hooks of the epoch
    the loop stopped in: its snapshot is the state after the last iteration, not after those hooks."""
    probe = EndOfTraining()
    trainer = tiny_trainer(tmp_path, 7, callbacks=[probe])
    trainer.fit(tiny_dcgan(), mnist5k)  # GANModule.setup installs the snapshot
    assert torch.equal(probe.rng_for_checkpoint, probe.rng_after_batch[7])
    assert not torch.equal(torch.get_rng_state(), probe.rng_after_batch[7])  # the hooks did draw


def test_lightning_leaves_a_sampler_that_shards_by_itself_alone():
    from torch.utils.data import DataLoader

    from gan_lightning.data import EpochSeededSampler

    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", logger=False, enable_progress_bar=False)
    ours = DataLoader(range(10), sampler=EpochSeededSampler(10, num_replicas=2, rank=1))
    plain = DataLoader(range(10), shuffle=True)
    assert not trainer._data_connector._requires_distributed_sampler(ours)
    assert trainer._data_connector._requires_distributed_sampler(plain)  # this one Lightning would wrap


def test_save_last_checkpoints_writes_each_last_checkpoint_once_per_iteration(tmp_path, mnist5k):
    from lightning.fabric.plugins import TorchCheckpointIO
    from lightning.pytorch.callbacks import ModelCheckpoint

    class CountingIO(TorchCheckpointIO):
        saved = []

        def save_checkpoint(self, checkpoint, path, storage_options=None):
            self.saved.append((checkpoint["global_step"], str(path)))
            super().save_checkpoint(checkpoint, path, storage_options)

    class SaveAt(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if trainer.global_step == 2:
                self.paths = compat.save_last_checkpoints(trainer)
                assert compat.save_last_checkpoints(trainer) == self.paths  # the same iteration: no second write

    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True, every_n_train_steps=1000)
    save_at = SaveAt()
    trainer = tiny_trainer(tmp_path, 2, callbacks=[save_at, checkpoint], enable_checkpointing=True,
                           plugins=[CountingIO()])
    trainer.fit(tiny_dcgan(), mnist5k)
    last = str(tmp_path / "ckpt" / "last.ckpt")
    assert save_at.paths == [last] and checkpoint.last_model_path == last
    assert CountingIO.saved == [(2, last)]  # ModelCheckpoint's on_train_end did not write it again


def _fit_weights(tmp_path, mnist5k, callbacks=(), **trainer_kwargs):
    L.seed_everything(0)
    model = tiny_dcgan()
    tiny_trainer(tmp_path, 4, callbacks=list(callbacks), **trainer_kwargs).fit(model, mnist5k)
    return model, torch.cat([p.detach().flatten() for p in model.parameters()])


def test_direct_steps_equal_lightnings_and_give_way_to_a_listening_callback(tmp_path, mnist5k):
    calls = []

    class Listener(L.Callback):
        def on_after_backward(self, trainer, pl_module):
            calls.append("after_backward")

        def on_before_optimizer_step(self, trainer, pl_module, optimizer):
            calls.append("before_step")

    direct, direct_weights = _fit_weights(tmp_path / "direct", mnist5k)
    wrapped, wrapped_weights = _fit_weights(tmp_path / "wrapped", mnist5k, [Listener()])
    assert direct._direct_steps is True and wrapped._direct_steps is False
    assert calls.count("after_backward") == calls.count("before_step") == 8  # D and G, 4 iterations
    assert torch.equal(direct_weights, wrapped_weights)
    assert direct.global_step == wrapped.global_step == 4


def test_direct_steps_stay_off_under_a_profiler(tmp_path, mnist5k):
    profiled, _ = _fit_weights(tmp_path / "profiled", mnist5k, profiler="simple")
    assert profiled._direct_steps is False


def test_the_nvml_check_is_dropped_only_where_nvml_finds_no_gpu(monkeypatch):
    for found, dropped in ((-1, True), (0, True), (1, False)):
        monkeypatch.setenv("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
        monkeypatch.setattr(torch.cuda, "_device_count_nvml", lambda found=found: found)
        assert compat.drop_nvml_check_without_gpu() is dropped
        assert ("PYTORCH_NVML_BASED_CUDA_CHECK" in __import__("os").environ) is not dropped
    monkeypatch.delenv("PYTORCH_NVML_BASED_CUDA_CHECK")
    assert compat.drop_nvml_check_without_gpu() is False  # not set: nothing to do
