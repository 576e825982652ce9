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
