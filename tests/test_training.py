"""The base GANModule: iteration counting, D/G alternation, clipping, schedules."""

import math
import warnings

import lightning as L
import pytest
import torch

from conftest import tiny_dcgan, tiny_trainer
from gan_lightning.data import Toy2D
from gan_lightning.models import GAN


class StepLog(L.Callback):
    def __init__(self):
        self.calls, self.outputs = 0, []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.calls += 1
        self.outputs.append(outputs)


@pytest.mark.parametrize("critic_steps", [1, 3])
def test_max_steps_counts_iterations_whatever_the_schedule(tmp_path, mnist5k, critic_steps):
    log = StepLog()
    model = tiny_dcgan(critic_steps=critic_steps)
    trainer = tiny_trainer(tmp_path, max_steps=7, callbacks=[log])
    trainer.fit(model, mnist5k)
    assert log.calls == 7  # batches, not optimizer steps
    assert trainer.global_step == 7
    g_steps = sum("g_loss" in out for out in log.outputs)
    assert g_steps == 7 // critic_steps  # G steps on every critic_steps-th batch
    opt_g, opt_d = model.optimizers()
    assert opt_d.optimizer.state[next(iter(model.discriminator.parameters()))]["step"] == 7
    assert opt_g.optimizer.state[next(iter(model.generator.parameters()))]["step"] == g_steps


def test_generator_is_frozen_on_critic_only_iterations(tmp_path, mnist5k):
    model = tiny_dcgan(critic_steps=4)
    before = [p.detach().clone() for p in model.generator.parameters()]
    tiny_trainer(tmp_path, max_steps=3).fit(model, mnist5k)  # iterations 0..2: D only
    assert all(torch.equal(a, b) for a, b in zip(before, model.generator.parameters()))


def test_losses_are_finite_and_each_player_improves_against_a_fixed_opponent(tmp_path):
    data = Toy2D(kind="ring8", num_points=2000, batch_size=100)
    # D alone (G frozen by lr 0) learns to tell the ring from G's blob: d_loss falls.
    L.seed_everything(0)  # seeded: from an unlucky initialisation (e.g. seed 3) G's loss barely moves in 60 steps
    log = StepLog()
    model = GAN(data_shape=(2,), latent_dim=4, g_hidden=(32,), d_hidden=(32, 32), lr_g=0.0, lr_d=5e-3)
    tiny_trainer(tmp_path, max_steps=60, callbacks=[log], limit_train_batches=None).fit(model, data)
    d = [out["d_loss"].item() for out in log.outputs]
    assert all(math.isfinite(v) for v in d)
    assert sum(d[-10:]) / 10 < 0.7 * sum(d[:10]) / 10
    # G alone (D frozen) moves its samples to where D says "real": g_loss falls.
    L.seed_everything(0)
    log = StepLog()
    model = GAN(data_shape=(2,), latent_dim=4, g_hidden=(32,), d_hidden=(32, 32), lr_g=2e-2, lr_d=0.0)
    tiny_trainer(tmp_path, max_steps=60, callbacks=[log], limit_train_batches=None).fit(model, data)
    g = [out["g_loss"].item() for out in log.outputs]
    assert all(math.isfinite(v) for v in g)
    assert sum(g[-10:]) / 10 < 0.9 * sum(g[:10]) / 10, (sum(g[-10:]), sum(g[:10]))


def test_gradient_clipping_bounds_each_update(tmp_path, mnist5k):
    model = tiny_dcgan(optimizer="sgd", lr_g=1.0, lr_d=1.0, grad_clip_norm=1e-3)
    before = torch.cat([p.detach().flatten().clone() for p in model.discriminator.parameters()])
    tiny_trainer(tmp_path, max_steps=1).fit(model, mnist5k)
    after = torch.cat([p.detach().flatten() for p in model.discriminator.parameters()])
    assert 0 < (after - before).norm() <= 1e-3 * 1.0001  # SGD lr 1: step = clipped gradient


def test_linear_lr_decay_reaches_zero_at_max_steps(tmp_path, mnist5k):
    model = tiny_dcgan(lr_decay_iters=4)
    tiny_trainer(tmp_path, max_steps=8).fit(model, mnist5k)
    opt_g, opt_d = model.optimizers()
    assert opt_g.param_groups[0]["lr"] == pytest.approx(0.0)
    assert opt_d.param_groups[0]["lr"] == pytest.approx(0.0)


def test_a_schedule_of_an_optimizer_that_waits_for_its_phase_raises_no_torch_warning(tmp_path, mnist5k):
    # G steps every 2nd iteration (n_critic 2) while its learning rate follows the iteration count: torch's
    # "lr_scheduler.step() before optimizer.step()" warning (about epoch schedules) would be a false alarm
    model = tiny_dcgan(critic_steps=2, lr_decay_iters=4)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        tiny_trainer(tmp_path, max_steps=8).fit(model, mnist5k)
    assert not [w for w in seen if "lr_scheduler.step()" in str(w.message)]
    assert model.optimizers()[0].param_groups[0]["lr"] == pytest.approx(0.0)  # the schedule still ran to its end


def test_lr_decay_without_max_steps_is_a_clear_error(tmp_path, mnist5k):
    model = tiny_dcgan(lr_decay_iters=4)
    with pytest.raises(ValueError, match="max_steps"):
        tiny_trainer(tmp_path, max_steps=-1, max_epochs=1).fit(model, mnist5k)


def test_truncated_noise_stays_inside_the_threshold():
    z = tiny_dcgan().sample_noise(500, truncation=0.5)
    assert z.abs().max() <= 0.5 and z.shape == (500, 16)
    with pytest.raises(ValueError, match="truncation"):
        tiny_dcgan().sample_noise(2, truncation=0)


def test_bad_model_arguments_name_the_key():
    with pytest.raises(ValueError, match="critic_steps"):
        tiny_dcgan(critic_steps=0)
    with pytest.raises(ValueError, match="square images"):
        tiny_dcgan(data_shape=(2,))


def test_mixed_precision_through_lightnings_precision_flag(tmp_path, mnist5k):
    log = StepLog()
    model = tiny_dcgan()
    tiny_trainer(tmp_path, max_steps=3, callbacks=[log], precision="bf16-mixed").fit(model, mnist5k)
    assert len(log.outputs) == 3
    assert all(math.isfinite(out["d_loss"].item()) and math.isfinite(out["g_loss"].item()) for out in log.outputs)
    assert model.generator.net[0].weight.dtype == torch.float32  # master weights stay fp32
