"""WGAN-LP, Fisher GAN and MAGAN: the term that makes each of them what it is, on tiny 2-D models."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch
from conftest import tiny_trainer
from test_core import RESUMABLE, _fit, assert_bitwise_equal
from torch import nn

from gan_lightning.data import Toy2D
from gan_lightning.losses import (
    fisher_constraint,
    fisher_d,
    fisher_lagrange_update,
    gradient_penalty,
    magan_margin_update,
)
from gan_lightning.models import MAGAN, WGANGP, WGANLP, FisherGAN

TINY = {"data_shape": (2,), "latent_dim": 2, "g_hidden": (16, 16), "d_hidden": (16, 16)}


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest's: one intra-op thread for tiny networks


def toy_data() -> Toy2D:
    return Toy2D(num_points=400, batch_size=32)


# ---------------------------------------------------------------------------- WGAN-LP
def linear_critic(norm: float) -> nn.Module:
    """C(x) = w . x with ||w|| = norm: its input gradient has that norm everywhere."""
    critic = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[0.6, 0.8]]) * norm)
    return critic


def test_one_sided_penalty_leaves_gradients_below_one_alone_and_matches_above():
    real, fake = torch.randn(16, 2, generator=torch.Generator().manual_seed(0)), torch.zeros(16, 2)
    flat = linear_critic(0.5)  # 1-Lipschitz, gradient norm 0.5
    assert gradient_penalty(flat, real, fake, one_sided=True).item() == 0.0
    assert gradient_penalty(flat, real, fake).item() == pytest.approx(0.25)  # WGAN-GP pushes it up to 1
    steep = linear_critic(3.0)
    assert gradient_penalty(steep, real, fake, one_sided=True).item() == pytest.approx(4.0)
    assert gradient_penalty(steep, real, fake).item() == pytest.approx(4.0)


def test_wganlp_critic_loss_has_no_penalty_where_wgangp_has_one():
    torch.manual_seed(0)
    lp, gp = WGANLP(**TINY), WGANGP(**TINY)
    gp.load_state_dict(lp.state_dict())
    with torch.no_grad():  # a critic with tiny input gradients (norm << 1)
        for model in (lp, gp):
            model.discriminator.head.weight.mul_(1e-3)
    real, fake = torch.randn(32, 2), torch.randn(32, 2)
    torch.manual_seed(1)
    lp_terms = lp.discriminator_loss(real, fake)
    torch.manual_seed(1)
    gp_terms = gp.discriminator_loss(real, fake)
    assert lp_terms["gp"].item() == 0.0
    assert gp_terms["gp"].item() > 0.9
    assert torch.allclose(gp_terms["d_loss"] - lp_terms["d_loss"], 10.0 * gp_terms["gp"])
    assert WGANLP.recipe == WGANGP.recipe and lp.gp_weight == 10.0


# ---------------------------------------------------------------------------- Fisher GAN
def test_fisher_loss_is_the_negated_augmented_lagrangian():
    real, fake = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.0, -1.0, 1.0])
    constraint = 1 - 0.5 * ((1 + 4 + 9) / 3 + (0 + 1 + 1) / 3)
    assert fisher_constraint(real, fake).item() == pytest.approx(constraint)
    lagrange, rho = torch.tensor(0.3, requires_grad=True), 0.5
    loss = fisher_d(real, fake, lagrange, rho)
    assert loss.item() == pytest.approx(-((2.0 - 0.0) + 0.3 * constraint - 0.25 * constraint ** 2))
    assert not loss.requires_grad  # lambda is not trained by the critic's optimizer


def test_fisher_multiplier_moves_as_the_constraint_says():
    lagrange = torch.tensor(0.0)
    loud = fisher_constraint(torch.full((8,), 2.0), torch.full((8,), 2.0))  # second moment 4 > 1: Omega < 0
    quiet = fisher_constraint(torch.full((8,), 0.1), torch.full((8,), 0.1))  # second moment 0.01 < 1: Omega > 0
    assert loud.item() == pytest.approx(-3.0) and quiet.item() == pytest.approx(0.99)
    assert fisher_lagrange_update(lagrange, loud, 1e-6).item() == pytest.approx(3e-6)
    assert fisher_lagrange_update(lagrange, quiet, 1e-6).item() == pytest.approx(-0.99e-6)


def test_fishergan_steps_lambda_after_each_critic_step_and_saves_it(tmp_path):
    L.seed_everything(0)
    model = FisherGAN(rho=0.1, **TINY)
    real, fake = torch.randn(32, 2), torch.randn(32, 2)
    terms = model.discriminator_loss(real, fake)
    model.after_discriminator_step()
    assert model.lagrange.item() == pytest.approx(-0.1 * terms["constraint"].item())
    assert terms["lagrange"].item() == 0.0  # the value the loss used
    trained = _fit(lambda: FisherGAN(rho=0.1, **TINY), toy_data, tmp_path, 4, interrupt_at=4)
    saved = torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=False)["gan_lightning"]["training_state"]
    assert saved["lagrange"].item() == trained.lagrange.item() != 0.0


# ---------------------------------------------------------------------------- MAGAN
def margin_after(real_sum: float, fake_sum: float, previous_fake_sum: float, margin: float = 1.0) -> float:
    value = magan_margin_update(torch.tensor(margin), torch.tensor(real_sum), torch.tensor(fake_sum),
                                torch.tensor(previous_fake_sum), steps=10)
    return value.item()


def test_magan_margin_shrinks_only_under_the_papers_conditions():
    assert margin_after(5.0, 8.0, 7.0) == pytest.approx(0.5)  # E_real 0.5 < m, S_real < S_fake, S_fake grew
    assert margin_after(12.0, 20.0, 7.0) == 1.0  # E_real 1.2 >= m: the margin never grows
    assert margin_after(5.0, 4.0, 3.0) == 1.0  # S_real >= S_fake
    assert margin_after(5.0, 8.0, 9.0) == 1.0  # S_fake fell since the previous epoch
    assert margin_after(5.0, 8.0, math.inf) == 1.0  # the first adversarial epoch only records S_fake


def short_magan() -> MAGAN:
    return MAGAN(pretrain_epochs=1, epoch_steps=2, **TINY)


def test_magan_pretrains_d_then_sets_and_adapts_the_margin(tmp_path):
    L.seed_everything(0)
    model = short_magan()
    generator = {k: v.detach().clone() for k, v in model.generator.named_parameters()}  # (not BN's statistics)
    energies = []

    class Energies(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            energies.append((outputs["energy_real"].item(), outputs["margin"].item(), trainer.global_step,
                             all(torch.equal(v, dict(pl_module.generator.named_parameters())[k]) for k, v in generator.items())))

    tiny_trainer(tmp_path, 6, callbacks=[Energies()]).fit(model, toy_data())
    # iterations 1-2: D alone (margin 0, G untouched); then G trains
    assert [(margin, still) for _, margin, _, still in energies[:2]] == [(0.0, True), (0.0, True)]
    assert not energies[2][3]
    # the margin after pre-training: the mean of its last epoch's real energies, used from iteration 3 on
    expected = (energies[0][0] + energies[1][0]) / 2
    assert energies[2][1] == pytest.approx(expected, rel=1e-6)
    state = model.training_state
    assert math.isfinite(state.previous_fake_sum.item())  # the first adversarial epoch recorded S_fake
    assert state.margin.item() <= expected  # it only ever shrinks
    assert torch.equal(state.energy_sums, torch.zeros(2))  # reset at the epoch's end (iteration 6)


def test_magan_resumes_bitwise_across_margin_updates_and_stays_on_the_device(tmp_path):
    straight = _fit(short_magan, toy_data, tmp_path / "straight", 7, every=3)
    (checkpoint,) = (tmp_path / "straight" / "ckpt").glob("*step=3.ckpt")
    resumed = _fit(short_magan, toy_data, tmp_path / "resumed", 7, ckpt_path=checkpoint)
    assert_bitwise_equal(straight, resumed)
    assert straight.training_state.energy_sums.abs().sum() > 0  # mid-epoch sums travelled with the checkpoint
    from test_device import EVERY, ITERATIONS, due_iterations, run_under_checks

    RESUMABLE["MAGANShort"] = (short_magan, toy_data)  # margin set after iteration 2, updated after 4 and 6
    try:
        trap, reads, _, epoch_starts = run_under_checks("MAGANShort", tmp_path / "device")
    finally:
        del RESUMABLE["MAGANShort"]
    assert dict(trap.trapped) == {}
    quiet = set(range(ITERATIONS)) - due_iterations(ITERATIONS, EVERY, epoch_starts)
    assert {1, 3} <= quiet  # the margin's epoch ends (iterations 2 and 4, 1-based) are among them
    assert {i: where for i, where in reads.counted().items() if i in quiet} == {}


def test_magan_epoch_is_the_datas_when_epoch_steps_is_null(tmp_path):
    L.seed_everything(0)
    model = MAGAN(pretrain_epochs=1, **TINY)
    seen = []

    class Margins(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            seen.append((outputs["energy_real"].item(), outputs["margin"].item()))

    tiny_trainer(tmp_path, 6, callbacks=[Margins()]).fit(model, toy_data())  # 5 batches an epoch
    assert model.epoch_length == 5
    assert [margin for _, margin in seen[:5]] == [0.0] * 5
    assert seen[5][1] == pytest.approx(sum(energy for energy, _ in seen[:5]) / 5, rel=1e-6)
    with pytest.raises(ValueError, match="model.epoch_steps must be >= 1"):
        MAGAN(epoch_steps=0, **TINY)
