"""A resumed run equals the uninterrupted one, bit for bit (CPU, same seed)."""

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from conftest import InterruptAt, tiny_dcgan, tiny_trainer
from gan_lightning.callbacks import EMACallback
from gan_lightning.data import MNIST5k


def run(root, ckpt_path=None, interrupt_at=None):
    L.seed_everything(0)
    model = tiny_dcgan(lr_decay_iters=6)  # a schedule, so the scheduler state must resume too
    callbacks = [EMACallback(decay=0.9), ModelCheckpoint(dirpath=root / "ckpt", save_last=True, every_n_train_steps=interrupt_at or 1000)]
    if interrupt_at:
        callbacks.append(InterruptAt(interrupt_at))
    trainer = tiny_trainer(root, 20, callbacks=callbacks, enable_checkpointing=True)
    trainer.fit(model, MNIST5k(batch_size=16), ckpt_path=ckpt_path)
    return model, trainer


# limit_train_batches=5: an epoch is 5 iterations, so 10 ends an epoch and 7 is mid-epoch
@pytest.mark.parametrize("first_part", [10, 7], ids=["epoch-boundary", "mid-epoch"])
def test_resumed_run_is_bitwise_equal_to_the_straight_run(tmp_path, first_part):
    straight, _ = run(tmp_path / "straight")
    _, interrupted = run(tmp_path / "resumed", interrupt_at=first_part)
    assert interrupted.global_step == first_part
    resumed, trainer = run(tmp_path / "resumed", ckpt_path="last")
    assert trainer.global_step == 20
    a, b = straight.state_dict(), resumed.state_dict()
    assert a.keys() == b.keys()
    assert any(k.startswith("generator_ema.") for k in a)
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    for opt_a, opt_b in zip(straight.optimizers(), resumed.optimizers()):
        for state_a, state_b in zip(opt_a.optimizer.state.values(), opt_b.optimizer.state.values()):
            assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
        assert opt_a.param_groups[0]["lr"] == opt_b.param_groups[0]["lr"]


def test_a_different_seed_gives_different_weights(tmp_path):
    """Guards the test above: equality must come from the resume, not from training doing nothing."""
    a, _ = run(tmp_path / "a", interrupt_at=4)
    L.seed_everything(1)
    b = tiny_dcgan(lr_decay_iters=6)
    tiny_trainer(tmp_path / "b", 20, callbacks=[InterruptAt(4)]).fit(b, MNIST5k(batch_size=16))
    assert not torch.equal(a.generator.net[0].weight, b.generator.net[0].weight)


class DrawsAtTheEnd(L.Callback):
    """End-of-epoch and end-of-fit work that draws from the global RNG (a grid from fresh noise, say):
    it must not shift the noise of a run that continues afterwards."""

    def on_train_epoch_end(self, trainer, pl_module):
        torch.rand(8)

    def on_train_end(self, trainer, pl_module):
        torch.rand(8)


def run_to(root, max_steps, ckpt_path=None, lr_decay_iters=0, record=None):
    """A run with a budget of ``max_steps`` whose checkpoint is written only when training ends (save_last)."""
    L.seed_everything(0)
    model = tiny_dcgan(lr_decay_iters=lr_decay_iters)
    callbacks = [EMACallback(decay=0.9), DrawsAtTheEnd(),
                 ModelCheckpoint(dirpath=root / "ckpt", save_last=True, every_n_train_steps=1000)]
    if record is not None:
        callbacks.insert(0, record)
    trainer = tiny_trainer(root, max_steps, callbacks=callbacks, enable_checkpointing=True)
    trainer.fit(model, MNIST5k(batch_size=16), ckpt_path=ckpt_path)
    return model, trainer


def assert_same_training_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and any(k.startswith("generator_ema.") for k in sa)
    assert [k for k in sa if not torch.equal(sa[k], sb[k])] == []
    for opt_a, opt_b in zip(a.optimizers(), b.optimizers()):
        for state_a, state_b in zip(opt_a.optimizer.state.values(), opt_b.optimizer.state.values()):
            assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)


@pytest.fixture(scope="module")
def straight_20(tmp_path_factory):
    return run_to(tmp_path_factory.mktemp("straight"), 20)[0]


# An epoch is 5 iterations: a first budget of 7 ends mid-epoch, one of 10 at an epoch's end.
@pytest.mark.parametrize("first_budget", [7, 10], ids=["mid-epoch", "epoch-boundary"])
def test_extending_a_finished_run_is_bitwise_equal_to_the_straight_run(tmp_path, straight_20, first_budget):
    _, first = run_to(tmp_path, first_budget)
    saved = torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=False)
    assert saved["global_step"] == first_budget  # written at on_train_end, after the end-of-fit hooks
    extended, trainer = run_to(tmp_path, 20, ckpt_path="last")
    assert trainer.global_step == 20
    assert_same_training_state(straight_20, extended)


class LearningRates(L.Callback):
    def __init__(self):
        self.seen = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.seen[trainer.global_step] = [opt.param_groups[0]["lr"] for opt in trainer.optimizers]


def test_extending_a_run_with_lr_decay_replans_the_decay_for_the_new_budget(tmp_path):
    """lr_decay_iters decays over the last iterations of max_steps: a run extended from 10 to 20
    iterations decayed over 4..10, then goes on as a 20-iteration run goes on from iteration 10 (full
    learning rate up to iteration 14, then the decay to 0 at 20). The first 10 iterations differ from
    the straight run's, so the weights do too (README, Resume)."""
    straight_lrs, first_lrs, extended_lrs = LearningRates(), LearningRates(), LearningRates()
    straight, _ = run_to(tmp_path / "straight", 20, lr_decay_iters=6, record=straight_lrs)
    run_to(tmp_path / "extended", 10, lr_decay_iters=6, record=first_lrs)
    extended, _ = run_to(tmp_path / "extended", 20, ckpt_path="last", lr_decay_iters=6, record=extended_lrs)
    base = 2e-4
    assert first_lrs.seen[9] == pytest.approx([base / 6] * 2)  # the first run decayed to its own end
    assert straight_lrs.seen[9] == [base] * 2
    assert sorted(extended_lrs.seen) == list(range(10, 20))
    # every resumed iteration, the first included, at the lr of the straight 20-iteration run
    assert {step: extended_lrs.seen[step] for step in range(10, 20)} == {step: straight_lrs.seen[step]
                                                                       for step in range(10, 20)}
    assert extended_lrs.seen[10] == [base] * 2 and extended_lrs.seen[19] == pytest.approx([base / 6] * 2)
    assert not torch.equal(straight.generator.net[0].weight, extended.generator.net[0].weight)
