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
