"""DiscoGAN, DualGAN and UNIT: truly unpaired losses, their schedules and recipes, DualGAN's
critics (clipping, gradient penalty without BatchNorm), UNIT's shared layers and latent, and
the translation protocol."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from conftest import tiny_trainer
from gan_lightning.core.protocol import Condition
from gan_lightning.core import StepContext
from gan_lightning.models import UNIT, DiscoGAN, DualGAN, known_models
from tiny_unpaired import SIZE, TINY, TinyUnpaired

NAMES = sorted(TINY)


def batch(seed: int = 0, n: int = 6) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"a": torch.rand(n, 1, SIZE, SIZE, generator=g) * 2 - 1, "b": torch.rand(n, 1, SIZE, SIZE, generator=g) * 2 - 1}


def terms(model, data: dict, phases=("D", "G"), iteration: int = 5) -> dict[str, torch.Tensor]:
    """Every loss term of one iteration on ``data``, computed as the core computes them (no step)."""
    ctx = StepContext(data, iteration, frozenset(phases))
    model.prepare_step(ctx)
    out = {}
    for phase in model.phase_list:
        if phase.name in phases:
            out.update({k: v.detach() for k, v in phase.loss(ctx).items()})
    return out


# ---------------------------------------------------------------------------- registration, protocol
def test_registered_as_unpaired_translation_models_with_their_recipes():
    for name, cls in (("DiscoGAN", DiscoGAN), ("DualGAN", DualGAN), ("UNIT", UNIT)):
        assert known_models()[name] is cls
        assert cls.data_kinds == ("unpaired",) and cls.paper
        model = TINY[name][0]()
        assert model.translates and model.conditions() == (Condition("image", "a"),) and model.output().key == "b"
    settings = {name: TINY[name][0]().optimizer_settings("generator") for name in NAMES}
    assert (settings["DiscoGAN"].lr, settings["DiscoGAN"].betas, settings["DiscoGAN"].weight_decay) == (
        2e-4, (0.5, 0.999), 1e-5)
    assert (settings["DualGAN"].optimizer, settings["DualGAN"].lr) == ("rmsprop", 5e-5)
    assert TINY["DualGAN"][0]().critic_steps == 2
    assert (settings["UNIT"].lr, settings["UNIT"].betas, settings["UNIT"].weight_decay) == (1e-4, (0.5, 0.999), 1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_translate_both_directions_keeps_shape_mode_and_range(name):
    model = TINY[name][0]()
    model.train()
    x = batch()["a"]
    for direction in ("AtoB", "BtoA"):
        out = model.translate(x, direction)
        assert out.shape == x.shape and not out.requires_grad
        assert out.abs().max() <= 1.0
    assert model.training and all(m.training for m in model.generator.modules())  # mode restored
    with pytest.raises(ValueError, match="direction"):
        model.translate(x, "AtoC")


@pytest.mark.parametrize("name", NAMES)
def test_one_image_translates_alike_alone_and_in_a_batch(name):
    model = TINY[name][0]()
    terms(model, batch(1))  # a training pass first (BatchNorm statistics, if any, have moved)
    x = batch(2)["a"]
    alone = torch.cat([model.translate(x[i:i + 1]) for i in range(len(x))])
    assert torch.allclose(alone, model.translate(x), atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_the_loss_does_not_depend_on_how_a_and_b_are_paired(name, monkeypatch):
    """Shuffling b within the batch leaves every loss term unchanged; a paired pixel loss would change."""
    model = TINY[name][0]()
    if name == "UNIT":  # the latent noise is drawn per row: compare without it
        monkeypatch.setattr(model, "sample_latent", lambda mu: mu)
    data = batch(3)
    shuffled = {"a": data["a"], "b": data["b"][torch.tensor([3, 0, 5, 1, 4, 2])]}
    torch.manual_seed(0)
    before = terms(model, data)
    torch.manual_seed(0)
    after = terms(model, shuffled)
    assert before.keys() == after.keys()
    for key in before:
        assert torch.allclose(before[key], after[key], rtol=1e-4, atol=1e-6), key
    # the test can fail: a term comparing G_AB(a) with its batch partner b changes under the shuffle
    fake_b = model.translate(data["a"])
    assert not torch.allclose(F.l1_loss(fake_b, data["b"]), F.l1_loss(fake_b, shuffled["b"]))


@pytest.mark.parametrize("name", NAMES)
def test_cycle_weight_zero_removes_the_cycle_terms(name):
    with_cycle, without = terms(TINY[name][0](), batch()), terms(TINY[name][0](cycle_weight=0.0), batch())
    cycle_keys = {k for k in with_cycle if k.startswith(("cycle", "reconstruction_"))}
    assert cycle_keys and not cycle_keys & set(without)


@pytest.mark.parametrize("name", NAMES)
def test_heldout_step_logs_cycle_l1_of_both_directions(name, tmp_path):
    model = TINY[name][0]()
    results = tiny_trainer(tmp_path, 1, limit_val_batches=2).validate(model, TinyUnpaired(), verbose=False)
    assert {"val/cycle_a", "val/cycle_b"} <= set(results[0])


# ---------------------------------------------------------------------------- DiscoGAN
def test_discogan_reconstructions_compare_each_input_with_its_own_round_trip():
    model = TINY["DiscoGAN"][0](curriculum_iters=0)
    data = batch(4)
    got = terms(model, data, phases=("G",))
    with torch.no_grad():
        ab, ba = model.generator["ab"], model.generator["ba"]
        assert torch.allclose(got["reconstruction_a"], F.mse_loss(ba(ab(data["a"])), data["a"]), rtol=1e-5)
        assert torch.allclose(got["reconstruction_b"], F.mse_loss(ab(ba(data["b"])), data["b"]), rtol=1e-5)
    rate = model.cycle_weight
    adversarial = got["adversarial_a"] + got["adversarial_b"]
    reconstruction = got["reconstruction_a"] + got["reconstruction_b"]
    assert torch.allclose(got["g_loss"], (1 - rate) * adversarial + rate * reconstruction, rtol=1e-5)


def test_discogan_schedule_curriculum_and_feature_matching_share():
    model = TINY["DiscoGAN"][0](curriculum_iters=4)
    d, g = model.phase_list
    assert [d.due(i) for i in range(6)] == [True, False, False, True, False, False]  # D on i % 3 == 0
    assert [g.due(i) for i in range(6)] == [False, True, True, False, True, True]  # G on the others
    assert [model.reconstruction_rate(i) for i in (0, 3, 4, 100)] == [0.01, 0.01, 0.5, 0.5]
    assert TINY["DiscoGAN"][0](cycle_weight=0.0).reconstruction_rate(0) == 0.0
    every = TINY["DiscoGAN"][0](update_interval=1)
    assert all(phase.due(i) for phase in every.phase_list for i in range(4))
    # feature_matching = 0: the adversarial term is the plain BCE of D on the translation
    plain = TINY["DiscoGAN"][0](feature_matching=0.0)
    data = batch(5)
    got = terms(plain, data, phases=("G",))
    with torch.no_grad():
        logits = plain.discriminator(plain.generator["ab"](data["a"]), "b")
    assert torch.allclose(got["adversarial_b"], F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits)))
    with pytest.raises(ValueError, match="cycle_weight"):
        TINY["DiscoGAN"][0](cycle_weight=2.0)
    with pytest.raises(ValueError, match="update_interval"):
        TINY["DiscoGAN"][0](critic_steps=5)  # n_critic would be silently ignored


def test_discogan_networks_follow_the_authors_layout():
    model = DiscoGAN(data_shape=(3, 64, 64))
    convs = [m for m in model.generator["ab"].modules() if isinstance(m, nn.Conv2d)]
    deconvs = [m for m in model.generator["ab"].modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512] and all(c.stride == (2, 2) for c in convs)
    assert [c.out_channels for c in deconvs] == [256, 128, 64, 3]
    assert model.discriminator(torch.zeros(2, 3, 64, 64), "a").shape == (2, 1)  # one logit per image


# ---------------------------------------------------------------------------- DualGAN
def norm_layers(module: nn.Module) -> list[nn.Module]:
    kinds = (nn.BatchNorm1d, nn.BatchNorm2d, nn.InstanceNorm2d, nn.LayerNorm, nn.GroupNorm)
    return [m for m in module.modules() if isinstance(m, kinds)]


def test_dualgan_gradient_penalised_critic_has_no_batchnorm_and_small_eps():
    model = TINY["DualGAN"][0](critic="gp")
    norms = norm_layers(model.discriminator)
    assert norms, "the critic has norm layers to check"
    assert not any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in norms)
    assert all(m.eps <= 1e-5 for m in norm_layers(model))  # no BatchNorm2d(c, 0.8): eps is not momentum
    with pytest.raises(ValueError, match="batch"):
        TINY["DualGAN"][0](critic="gp", critic_norm="batch")
    got = terms(model, batch())
    assert got["gp_a"] > 0 and got["gp_b"] > 0
    assert torch.allclose(got["d_loss"], -(got["wasserstein_a"] + got["wasserstein_b"])
                          + 10.0 * (got["gp_a"] + got["gp_b"]), rtol=1e-4, atol=1e-5)


def test_dualgan_clipped_critic_stays_in_the_box_and_steps_twice_per_translator_step(tmp_path):
    model = TINY["DualGAN"][0](critic="clip", clip_value=0.01, lr_d=1e-2)
    d, g = model.phase_list
    assert [d.due(i) for i in range(4)] == [True] * 4 and [g.due(i) for i in range(4)] == [False, True, False, True]
    tiny_trainer(tmp_path, 3).fit(model, TinyUnpaired())
    params = torch.cat([p.detach().flatten() for p in model.discriminator.parameters()])
    assert params.abs().max() <= 0.01 + 1e-8 and params.abs().max() > 0.009  # clipped, and reached the box
    got = terms(model, batch(), phases=("G",))
    assert torch.allclose(got["g_loss"], got["adversarial"] + 1000.0 * (got["cycle_a"] + got["cycle_b"]),
                          rtol=1e-5)


# ---------------------------------------------------------------------------- UNIT
def test_unit_shares_the_last_encoder_and_first_generator_layers():
    nets = TINY["UNIT"][0]().generator
    shared_enc_a, shared_enc_b = list(nets.encoder_a[-1].parameters()), list(nets.encoder_b[-1].parameters())
    assert shared_enc_a and all(p is q for p, q in zip(shared_enc_a, shared_enc_b))
    shared_dec_a, shared_dec_b = list(nets.decoder_a[0].parameters()), list(nets.decoder_b[0].parameters())
    assert shared_dec_a and all(p is q for p, q in zip(shared_dec_a, shared_dec_b))
    private = {id(p) for p in nets.encoder_a[0].parameters()} & {id(p) for p in nets.encoder_b[0].parameters()}
    assert not private  # the front layers are the domains' own
    private = {id(p) for p in nets.decoder_a[1].parameters()} & {id(p) for p in nets.decoder_b[1].parameters()}
    assert not private
    # one step on domain A alone moves the shared layers B uses as well
    model = TINY["UNIT"][0]()
    before = nets.encoder_b[-1][0].body[0].weight.clone()
    model.generator.encoder_b[-1][0].body[0].weight.data.add_(1.0)
    assert torch.equal(model.generator.encoder_a[-1][0].body[0].weight, model.generator.encoder_b[-1][0].body[0].weight)
    assert not torch.equal(before, model.generator.encoder_a[-1][0].body[0].weight)


def test_unit_losses_carry_the_papers_weights_and_translate_uses_the_latent_mean(monkeypatch):
    model = TINY["UNIT"][0]()
    assert (model.gan_weight, model.kl_weight, model.reconstruction_weight, model.cycle_kl_weight,
            model.cycle_weight) == (10.0, 0.1, 100.0, 0.1, 100.0)
    got = terms(model, batch(6), phases=("D", "G"))
    expected = (10.0 * got["adversarial"] + 0.1 * got["kl"] + 100.0 * got["reconstruction"] + 0.1 * got["cycle_kl"]
                + 100.0 * got["cycle"])
    assert torch.allclose(got["g_loss"], expected, rtol=1e-5)
    assert torch.allclose(got["d_loss"], 10.0 * (got["d_loss_a"] + got["d_loss_b"]), rtol=1e-5)
    # without noise, the KL term is the mean squared latent mean of both domains
    monkeypatch.setattr(model, "sample_latent", lambda mu: mu)
    data = batch(6)
    got = terms(model, data, phases=("G",))
    with torch.no_grad():
        mu_a, mu_b = model.generator.encode(data["a"], "a"), model.generator.encode(data["b"], "b")
        assert torch.allclose(got["kl"], mu_a.pow(2).mean() + mu_b.pow(2).mean(), rtol=1e-5)
        translated = model.generator.decode(mu_a, "b")
    torch.manual_seed(1)
    first = model.translate(data["a"])
    torch.manual_seed(2)
    assert torch.equal(first, model.translate(data["a"])) and torch.allclose(first, translated, atol=1e-6)


def test_unit_lsgan_is_the_authors_formula_without_the_half():
    """master networks.py MsImageDis: D mean((D(fake))^2) + mean((D(real) - 1)^2), G mean((D(fake) - 1)^2),
    each times gan_w: so gan_weight 1 with gan_loss lsgan is their configs' gan_w 1 (no hidden 1/2)."""
    from tiny_unpaired import tiny_unit

    model = tiny_unit(gan_loss="lsgan", gan_weight=1.0, kl_weight=0.01, reconstruction_weight=10.0,
                      cycle_kl_weight=0.01, cycle_weight=10.0)
    real, fake = torch.randn(5, 1, 2, 2), torch.randn(5, 1, 2, 2)
    assert torch.allclose(model._d_loss(real, fake), fake.pow(2).mean() + (real - 1).pow(2).mean())
    assert torch.allclose(model._g_loss(fake), (fake - 1).pow(2).mean())
    got = terms(model, batch(6), phases=("D", "G"))
    expected = (got["adversarial"] + 0.01 * got["kl"] + 10.0 * got["reconstruction"] + 0.01 * got["cycle_kl"]
                + 10.0 * got["cycle"])
    assert torch.allclose(got["g_loss"], expected, rtol=1e-5)


def test_unit_reparameterization_adds_unit_gaussian_noise_in_training():
    model = TINY["UNIT"][0]()
    mu = torch.zeros(4000, 1)
    z = model.sample_latent(mu)
    assert abs(float(z.mean())) < 0.1 and abs(float(z.std()) - 1.0) < 0.1
    ctx = StepContext(batch(7), 0, frozenset({"D"}))
    model.prepare_step(ctx)
    assert not torch.equal(ctx.z_a, ctx.mu_a)  # training draws z around the mean
