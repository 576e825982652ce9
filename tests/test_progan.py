"""ProGAN (Karras et al. 2018): the growth schedule, its layers (equalized lr, pixel norm, minibatch
stddev), the loss with its drift term, the optimizer reset, a bitwise resume in the middle of a
fade-in, sampling at the data's resolution, and the errors of bad options."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.nn import functional as F

from conftest import InterruptAt, tiny_trainer
from gan_lightning.losses import gradient_penalty
from gan_lightning.models.progan import GrowthStage, faded_reals, growth_stage
from gan_lightning.nets import EqualizedConv2d, EqualizedLinear, MinibatchStdDev, PixelNorm
from tiny_progan import build_data, build_model


# ---------------------------------------------------------------------------- schedule
def test_growth_stage_follows_images_seen():
    # 32 px: stable 4, fade 8, stable 8, fade 16, stable 16, fade 32, stable 32 for ever
    def stage(n):
        return growth_stage(n, 32, stable_images=100, fade_images=50)

    assert stage(0) == GrowthStage(0, 4, 1.0)
    assert stage(99) == GrowthStage(0, 4, 1.0)
    assert stage(100) == GrowthStage(1, 8, 0.0)
    assert stage(120) == GrowthStage(1, 8, pytest.approx(0.4))
    assert stage(149) == GrowthStage(1, 8, pytest.approx(0.98))
    assert stage(150) == GrowthStage(2, 8, 1.0)
    assert stage(275) == GrowthStage(3, 16, pytest.approx(0.5))
    assert stage(400) == GrowthStage(5, 32, 0.0)
    assert stage(450) == GrowthStage(6, 32, 1.0)
    assert stage(10**9) == GrowthStage(6, 32, 1.0)
    # alpha rises linearly inside a fade-in and never leaves [0, 1)
    alphas = [stage(n).alpha for n in range(100, 150)]
    assert alphas == pytest.approx([k / 50 for k in range(50)])
    # no fade-in: the new level comes in at once
    assert growth_stage(100, 8, 100, 0) == GrowthStage(2, 8, 1.0)


def test_training_follows_the_schedule_and_logs_resolution_and_alpha(tmp_path):
    L.seed_everything(0)
    model = build_model(stable_images=16, fade_images=32)  # batch 8: 2 stable, 4 fading, then 8 px
    logged = []

    class Record(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            logged.append((float(outputs["resolution"]), float(outputs["alpha"]), pl_module.training_state.phase,
                           pl_module.training_state.images_seen))

    tiny_trainer(tmp_path, 8, callbacks=[Record()]).fit(model, build_data())
    assert [entry[:3] for entry in logged] == [
        (4, 1, 0), (4, 1, 0), (8, 0, 1), (8, 0.25, 1), (8, 0.5, 1), (8, 0.75, 1), (8, 1, 2), (8, 1, 2)]
    assert [entry[3] for entry in logged] == [8 * (k + 1) for k in range(8)]


def test_reals_are_box_filtered_and_blended_like_the_generator():
    x = torch.randn(2, 1, 16, 16)
    at8 = F.avg_pool2d(x, 2)
    assert torch.equal(faded_reals(x, 8, 1.0), at8)
    coarse = F.interpolate(F.avg_pool2d(at8, 2), scale_factor=2, mode="nearest")
    assert torch.allclose(faded_reals(x, 8, 0.0), coarse)
    assert torch.allclose(faded_reals(x, 8, 0.25), coarse + 0.25 * (at8 - coarse))
    assert torch.equal(faded_reals(x, 16, 1.0), x)


# ---------------------------------------------------------------------------- layers
def test_equalized_layers_scale_unit_weights_by_he_constant_at_run_time():
    torch.manual_seed(0)
    conv = EqualizedConv2d(16, 32, 3)
    x = torch.randn(4, 16, 8, 8)
    scale = math.sqrt(2.0) / math.sqrt(16 * 3 * 3)
    assert conv.scale == pytest.approx(scale)
    assert 0.9 < conv.weight.std().item() < 1.1  # stored as N(0, 1): Adam steps are alike for every layer
    assert torch.allclose(conv(x), F.conv2d(x, conv.weight * scale, conv.bias, padding=1), atol=1e-6)
    # the gradient of the stored weight is the effective weight's times the scale
    conv(x).square().sum().backward()
    effective = (conv.weight * scale).detach().requires_grad_(True)
    F.conv2d(x, effective, conv.bias.detach(), padding=1).square().sum().backward()
    assert torch.allclose(conv.weight.grad, effective.grad * scale, rtol=1e-4, atol=1e-6)
    # He's constant keeps activations at unit scale: output variance ~ gain^2 / 2 for a ReLU-free input
    out = EqualizedConv2d(64, 64, 3, gain=1.0, bias=False)(torch.randn(8, 64, 16, 16))
    assert 0.8 < out[..., 1:-1, 1:-1].var().item() < 1.2
    linear = EqualizedLinear(50, 7, gain=1.0, lr_multiplier=0.01, bias_init=1.0)
    assert linear.scale == pytest.approx(0.01 / math.sqrt(50))
    z = torch.randn(3, 50)
    assert torch.allclose(linear(z), z @ (linear.weight * linear.scale).t() + 1.0, atol=1e-6)
    with pytest.raises(ValueError, match="lr_multiplier"):
        EqualizedLinear(4, 4, lr_multiplier=0)


def test_pixel_norm_gives_every_pixel_a_unit_rms_feature_vector():
    torch.manual_seed(0)
    x = torch.randn(3, 6, 5, 5) * torch.rand(3, 1, 5, 5) * 10
    out = PixelNorm()(x)
    assert torch.allclose(out.pow(2).mean(dim=1), torch.ones(3, 5, 5), atol=1e-5)
    assert torch.allclose(out.norm(dim=1), torch.full((3, 5, 5), math.sqrt(6)), atol=1e-4)
    assert torch.allclose(PixelNorm()(x * 7.0), out, atol=1e-5)  # scale invariant
    z = torch.randn(4, 9)
    assert torch.allclose(PixelNorm()(z).pow(2).mean(dim=1), torch.ones(4), atol=1e-5)


def test_discriminator_appends_the_minibatch_stddev_channel_before_its_last_block():
    model = build_model()
    layer = model.discriminator.final[0]
    assert isinstance(layer, MinibatchStdDev) and layer.group_size == 4
    seen = {}
    layer.register_forward_hook(lambda module, args, out: seen.update(x=args[0], out=out))
    x = torch.randn(8, 1, 4, 4)
    model.discriminator(x, 0, 1.0)
    inp, out = seen["x"], seen["out"]
    assert out.shape[1] == inp.shape[1] + 1
    groups = inp.view(4, 2, *inp.shape[1:])  # sample n is in group n mod 2
    expected = (groups.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))
    assert torch.allclose(out[:, -1, 0, 0], expected.repeat(4), atol=1e-6)
    no_mbstd = build_model(mbstd_group_size=0)
    assert not any(isinstance(m, MinibatchStdDev) for m in no_mbstd.discriminator.modules())


def test_generator_fades_in_the_new_level_between_the_two_outputs():
    model = build_model()
    z = torch.randn(4, 8)
    g = model.generator
    old = F.interpolate(g(z, 0, 1.0), scale_factor=2, mode="nearest")
    new = g(z, 1, 1.0)
    assert torch.allclose(g(z, 1, 0.0), old, atol=1e-6)
    assert torch.allclose(g(z, 1, 0.3), old + 0.3 * (new - old), atol=1e-6)


# ---------------------------------------------------------------------------- loss
def test_discriminator_loss_is_wgan_gp_plus_the_drift_term():
    model = build_model()
    real, fake = torch.randn(8, 1, 4, 4), torch.randn(8, 1, 4, 4)

    def loss(**options):
        built = build_model(**options)  # same seeded weights as ``model``
        torch.manual_seed(1)  # the same interpolation factors each time
        return built.discriminator_loss(real, fake)

    terms = loss()
    real_out, fake_out = model.discriminate(real), model.discriminate(fake)
    torch.manual_seed(1)
    gp = gradient_penalty(model.discriminate, real, fake)
    drift = real_out.pow(2).mean()
    assert terms["drift"].item() == pytest.approx(drift.item(), rel=1e-5)
    assert terms["gp"].item() == pytest.approx(gp.item(), rel=1e-5)
    expected = fake_out.mean() - real_out.mean() + 10.0 * gp + 0.001 * drift
    assert terms["d_loss"].item() == pytest.approx(expected.item(), rel=1e-5)
    heavier = loss(drift_weight=0.5)
    assert (heavier["d_loss"] - terms["d_loss"]).item() == pytest.approx(0.499 * drift.item(), rel=1e-4)
    assert terms["resolution"].item() == 4 and terms["alpha"].item() == 1.0


# ---------------------------------------------------------------------------- resume and optimizer reset
def _fit(root, steps, ckpt_path=None, interrupt_at=None, **options):
    L.seed_everything(0)
    model = build_model(stable_images=16, fade_images=24, **options)  # 0-1 stable, 2-4 fading, 5- at 8 px
    callbacks = [ModelCheckpoint(dirpath=root / "ckpt", save_last=True, every_n_train_steps=interrupt_at or 1000)]
    if interrupt_at:
        callbacks.append(InterruptAt(interrupt_at))
    tiny_trainer(root, steps, callbacks=callbacks, enable_checkpointing=True).fit(model, build_data(),
                                                                                  ckpt_path=ckpt_path)
    return model


def test_resume_in_the_middle_of_a_fade_in_is_bitwise(tmp_path):
    straight = _fit(tmp_path / "straight", 7)
    _fit(tmp_path / "resumed", 7, interrupt_at=4)
    saved = torch.load(tmp_path / "resumed" / "ckpt" / "last.ckpt", weights_only=False)["gan_lightning"]
    state = saved["training_state"]
    assert state["phase"] == 1 and state["resolution"] == 8 and 0 < state["alpha"] < 1  # mid-fade-in
    assert state["images_seen"] == 32
    resumed = _fit(tmp_path / "resumed", 7, ckpt_path="last")
    assert resumed.global_step == 7
    assert resumed.training_state.state_dict() == straight.training_state.state_dict()
    a, b = straight.state_dict(), resumed.state_dict()
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    for name in ("generator", "discriminator"):
        sa, sb = straight.named_optimizer(name).state, resumed.named_optimizer(name).state
        assert len(sa) == len(sb) > 0
        for x, y in zip(sa.values(), sb.values()):
            assert all(torch.equal(x[k], y[k]) for k in x)
    noise = torch.randn(4, 8)
    assert torch.equal(straight.sample(noise=noise), resumed.sample(noise=noise))
    # training moved the new level's weights (equality is not from doing nothing)
    fresh = build_model()
    assert not torch.equal(fresh.generator.to_rgb[1].weight, straight.generator.to_rgb[1].weight)


def test_adam_is_reset_at_every_new_growth_stage_unless_turned_off(tmp_path):
    def steps_taken(model):
        state = model.named_optimizer("discriminator").state
        return {int(s["step"]) for s in state.values()}

    reset = _fit(tmp_path / "reset", 7)
    assert steps_taken(reset) == {2}  # iterations 5 and 6, since the stable 8 px stage began
    kept = _fit(tmp_path / "kept", 7, reset_optimizers=False)
    # the 8 px layers stepped since the fade-in began (5), the 4 px ones from the start (7)
    assert steps_taken(kept) == {5, 7}



def test_without_growing_training_starts_and_stays_at_full_depth_with_alpha_1(tmp_path):
    model = build_model(progressive=False)  # 16 px: 3 levels, the last stable phase is 4
    state = model.training_state
    assert (state.phase, state.resolution, state.alpha, model.level) == (4, 16, 1.0, 2)
    assert model.stage_at(0) == model.stage_at(10**6) == GrowthStage(4, 16, 1.0)
    L.seed_everything(0)
    seen = []

    class Record(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            seen.append((float(outputs["resolution"]), float(outputs["alpha"]), pl_module.training_state.phase))

    tiny_trainer(tmp_path, 5, callbacks=[Record()]).fit(model, build_data())
    assert seen == [(16.0, 1.0, 4)] * 5
    assert state.images_seen == 40
    # every level trained from the first iteration (growing leaves the 16 px layers untouched by then),
    # and Adam was never reset (no new stage): 5 steps on every parameter of D
    assert not torch.equal(build_model().generator.to_rgb[2].weight, model.generator.to_rgb[2].weight)
    assert {int(s["step"]) for s in model.named_optimizer("discriminator").state.values()} == {5}
    grown = build_model()
    tiny_trainer(tmp_path / "grown", 5).fit(grown, build_data())
    assert torch.equal(build_model().generator.to_rgb[2].weight, grown.generator.to_rgb[2].weight)


# ---------------------------------------------------------------------------- sampling
def test_sample_is_at_the_data_resolution_at_every_stage():
    model = build_model(data_shape=(1, 32, 32))
    noise = torch.randn(3, 8)
    for resolution, alpha in [(4, 1.0), (8, 0.5), (16, 1.0), (32, 0.25), (32, 1.0)]:
        model.training_state.resolution, model.training_state.alpha = resolution, alpha
        images = model.sample(noise=noise)
        assert images.shape == (3, 1, 32, 32)
        level = int(math.log2(resolution)) - 2
        own = model.generator(noise, level, alpha)
        assert torch.allclose(F.avg_pool2d(images, 32 // resolution), own, atol=1e-6)  # nearest upsampling


# ---------------------------------------------------------------------------- options
@pytest.mark.parametrize("options, key", [
    ({"data_shape": (1, 28, 28)}, "data_shape"),
    ({"data_shape": (1, 2, 2)}, "data_shape"),
    ({"stable_images": 0}, "stable_images"),
    ({"fade_images": -1}, "fade_images"),
    ({"fmap_max": 0}, "fmap_max"),
    ({"mbstd_group_size": -2}, "mbstd_group_size"),
    ({"gp_weight": -1.0}, "gp_weight"),
    ({"drift_weight": -0.1}, "drift_weight"),
])
def test_bad_options_name_the_key_and_the_value(options, key):
    with pytest.raises(ValueError, match=f"model.{key}") as error:
        build_model(**options)
    assert str(next(iter(options.values()))).replace(" ", "") in str(error.value).replace(" ", "")
    assert "\n" not in str(error.value)


def test_recipe_is_the_papers():
    model = build_model()
    assert model.recipe == {"lr_g": 1e-3, "lr_d": 1e-3, "betas": (0.0, 0.99), "critic_steps": 1}
    optimizers = [model.optimizer_settings(name) for name in ("generator", "discriminator")]
    assert all(s.lr == 1e-3 and tuple(s.betas) == (0.0, 0.99) for s in optimizers)
