"""StackGAN and StackGAN++: conditioning augmentation's KL, Stage II on a frozen Stage I (loaded from a Stage I
checkpoint), the matching-aware D terms, StackGAN++'s colour consistency, grids of every stage side by side,
and ``gan-lightning sample --text`` for both."""

from __future__ import annotations

import math

import lightning as L
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_trainer
from test_core import _fit, assert_bitwise_equal
from tiny_stackgan import build_data, build_stage1, build_stage2, build_v2

from gan_lightning.core import StepContext
from gan_lightning.errors import SettingError
from gan_lightning.losses.stacked import (
    colour_consistency,
    colour_gap,
    conditioning_kl,
    matching_d_terms,
)


def batch(n=6, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"image": torch.rand(n, 3, size, size, generator=g) * 2 - 1,
            "caption": torch.randint(2, 60, (n, 18), generator=g)}


def context(model, data):
    ctx = StepContext(data, due=frozenset({"D", "G"}), real_key="image")
    model.prepare_step(ctx)
    return ctx


def fit_stage1(tmp_path, steps=2):
    L.seed_everything(0)
    model = build_stage1()
    trainer = tiny_trainer(tmp_path / "stage1", steps, limit_val_batches=0)
    trainer.fit(model, build_data())
    ckpt = tmp_path / "stage1.ckpt"
    trainer.save_checkpoint(ckpt)
    return model, ckpt


# ---------------------------------------------------------------------------- conditioning augmentation
def test_the_conditioning_kl_is_zero_exactly_at_the_standard_normal_and_positive_elsewhere():
    zeros = torch.zeros(4, 8)
    assert conditioning_kl(zeros, zeros).item() == 0.0
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(4, 8, generator=g), torch.randn(4, 8, generator=g)
    assert conditioning_kl(mu, zeros) > 0 and conditioning_kl(zeros, logvar) > 0
    # the authors' KL_loss: a mean over the entries of -0.5 (1 + logvar - mu^2 - exp(logvar))
    expected = (-0.5 * (1 + logvar - mu**2 - logvar.exp())).mean()
    assert torch.allclose(conditioning_kl(mu, logvar), expected)
    assert math.isclose(conditioning_kl(torch.ones(4, 8), zeros).item(), 0.5)  # mu = 1: mu^2 / 2


def test_conditioning_augmentation_draws_around_mu_in_training_and_gives_mu_in_eval():
    model = build_stage1()
    ca, embedding = model.generator.ca, torch.randn(5, model.text_encoder.dim)
    mu, _ = ca.moments(embedding)
    c, mu_again, _ = ca.train()(embedding)
    assert torch.equal(mu, mu_again) and not torch.equal(c, mu)
    c, _, _ = ca.eval()(embedding)
    assert torch.equal(c, mu)
    # G's loss carries kl_weight (2, the authors' COEFF.KL) x the KL of its own mu and logvar
    ctx = context(model, batch())
    terms = model.generator_terms(ctx)
    assert model.kl_weight == 2.0
    assert torch.allclose(terms["g_loss"], terms["g_adversarial"] + 2.0 * conditioning_kl(ctx.mu, ctx.logvar))


def test_without_conditioning_augmentation_c_is_mu_in_training_and_g_has_no_kl_term():
    for build in (build_stage1, build_stage2):
        model = build(conditioning_augmentation=False)
        model.train()
        ca, embedding = model.generator.ca, torch.randn(5, model.text_encoder.dim)
        c, mu, _ = ca(embedding)
        assert ca.training and torch.equal(c, mu)  # no noise: the paper's ablation without CA
        ctx = context(model, batch(size=32))
        terms = model.generator_terms(ctx)
        assert terms["kl"] > 0 and torch.equal(terms["g_loss"], terms["g_adversarial"])
    # on (the default): the same draw differs from mu, and the KL is in G's loss
    model = build_stage1().train()
    c, mu, _ = model.generator.ca(torch.randn(5, model.text_encoder.dim))
    assert not torch.equal(c, mu)
    with pytest.raises(SettingError, match=r"^model.conditioning_augmentation must be true or false, got 'no'$"):
        build_stage1(conditioning_augmentation="no")


# ---------------------------------------------------------------------------- the matching-aware D
def test_matching_aware_d_terms_are_the_authors():
    real, wrong, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, 1.0]), torch.tensor([-3.0, 0.0])
    softplus = F.softplus
    stage1 = matching_d_terms((real, None), (wrong, None), (fake, None), 1.0)
    expected = softplus(-real).mean() + 0.5 * (softplus(wrong).mean() + softplus(fake).mean())
    assert torch.allclose(stage1["d_loss"], expected)
    real_u, fake_u = torch.tensor([1.0, 0.0]), torch.tensor([0.0, -2.0])
    stage2 = matching_d_terms((real, real_u), (wrong, real_u), (fake, fake_u), 1.0)
    expected = ((softplus(-real).mean() + softplus(-real_u).mean()) / 2
                + (softplus(fake).mean() + softplus(wrong).mean() + softplus(fake_u).mean()) / 3)
    assert torch.allclose(stage2["d_loss"], expected)


def test_stage1_d_sees_real_images_averaged_down_and_wrong_pairs_with_the_next_caption():
    model = build_stage1()
    data = batch()
    ctx = context(model, data)
    assert ctx.real.shape == (6, 3, 16, 16) and ctx.fake.shape == (6, 3, 16, 16)
    assert torch.allclose(ctx.real, F.avg_pool2d(data["image"], 2), atol=1e-6)
    terms = model.discriminator_terms(ctx)
    condition = ctx.mu.detach()
    wrong = model.discriminator(ctx.real, condition.roll(-1, dims=0))[0]
    assert torch.allclose(terms["d_wrong"], F.softplus(wrong).mean(), atol=1e-6)
    assert "d_real_uncond" not in terms  # Stage I's D has no unconditional head


# ---------------------------------------------------------------------------- Stage II on a frozen Stage I
def test_stage2_loads_stage1_and_its_caption_encoder_from_the_checkpoint(tmp_path):
    stage1, ckpt = fit_stage1(tmp_path)
    model = build_stage2(stage1_ckpt_path=str(ckpt), text_encoder=None)
    assert not int(model.stage1_ready)
    model.load_stage1(str(ckpt))
    saved = stage1.generator_ema if stage1.generator_ema is not None else stage1.generator
    assert all(torch.equal(a, b) for a, b in zip(model.generator.stage1.state_dict().values(),
                                                 saved.state_dict().values()))
    assert all(torch.equal(a, b) for a, b in zip(model.text_encoder.state_dict().values(),
                                                 stage1.text_encoder.state_dict().values()))
    assert int(model.stage1_ready) and int(model.text_encoder_ready)


def test_stage2_settings_that_cannot_work_are_one_line_errors(tmp_path):
    with pytest.raises(SettingError, match=r"^model.stage1_ckpt_path: Stage II \(model.stage 2\) needs the checkpoint"):
        build_stage2(stage1_ckpt_path=None)
    with pytest.raises(SettingError, match=r"^model.stage1_ckpt_path: only Stage II"):
        build_stage1(stage1_ckpt_path="x.ckpt")
    with pytest.raises(SettingError, match=r"^model.stage must be 1 or 2, got 3"):
        build_stage1(stage=3)
    missing = str(tmp_path / "missing.ckpt")
    with pytest.raises(SettingError, match=rf"^model.stage1_ckpt_path: no file '{missing}'; give the checkpoint"):
        build_stage2(stage1_ckpt_path=missing).load_stage1(missing)
    _, ckpt = fit_stage1(tmp_path)
    with pytest.raises(SettingError, match=r"^model.g_width: 8 here, 4 in the checkpoint .* of a StackGAN Stage I fit \(model.stage 1\); set it as"):
        build_stage2(stage1_ckpt_path=str(ckpt), g_width=8).load_stage1(str(ckpt))


def test_stage1_takes_no_gradient_and_does_not_change_in_a_stage2_fit(tmp_path):
    _, ckpt = fit_stage1(tmp_path)
    L.seed_everything(0)
    model = build_stage2(stage1_ckpt_path=str(ckpt))
    model.load_stage1(str(ckpt))
    before = {k: v.clone() for k, v in model.generator.stage1.state_dict().items()}
    own = {k: v.clone() for k, v in model.generator.state_dict().items() if not k.startswith("stage1.")}
    assert not any(p.requires_grad for p in model.generator.stage1.parameters())
    # a G step's loss reaches Stage II's own parameters, never Stage I's
    model.train()
    assert not model.generator.stage1.training  # frozen BatchNorm statistics too
    ctx = context(model, batch())
    model.generator_terms(ctx)["g_loss"].backward()
    assert all(p.grad is None for p in model.generator.stage1.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.generator.encoder.parameters())
    model.zero_grad(set_to_none=True)
    tiny_trainer(tmp_path / "stage2", 3, limit_val_batches=0).fit(model, build_data())
    after = model.generator.stage1.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    moved = [k for k, v in model.generator.state_dict().items()
             if k in own and v.is_floating_point() and not torch.equal(v, own[k])]
    assert moved  # Stage II itself trained
    optimised = {id(p) for group in model.named_optimizer("generator").param_groups for p in group["params"]}
    assert not optimised & {id(p) for p in model.generator.stage1.parameters()}


def test_stage1_resumes_bitwise_mid_epoch(tmp_path):
    """The every-model test runs Stage II (on a random Stage I); Stage I the same way here."""
    straight = _fit(build_stage1, build_data, tmp_path / "straight", 6, every=3)
    (checkpoint,) = (tmp_path / "straight" / "ckpt").glob("*step=3.ckpt")
    resumed = _fit(build_stage1, build_data, tmp_path / "resumed", 6, ckpt_path=checkpoint)
    assert resumed.global_step == 6
    assert_bitwise_equal(straight, resumed)


# ---------------------------------------------------------------------------- StackGAN++
def test_colour_consistency_is_zero_for_images_equal_up_to_resolution_and_positive_otherwise():
    g = torch.Generator().manual_seed(0)
    coarse = torch.rand(4, 3, 8, 8, generator=g, dtype=torch.float64) * 2 - 1
    fine = F.interpolate(coarse, scale_factor=2, mode="nearest")  # coarse at twice the resolution
    assert torch.equal(F.avg_pool2d(fine, 2), coarse)  # ... and coarse is its downsampled copy
    assert colour_consistency(fine, coarse, 50.0, 250.0).item() == pytest.approx(0.0, abs=1e-12)
    shifted = fine + 0.1  # another mean colour
    assert colour_consistency(shifted, coarse, 50.0, 250.0).item() == pytest.approx(50 * 0.01, rel=1e-9)
    detailed = fine + 0.2 * torch.randn(fine.shape, generator=g, dtype=torch.float64)  # other covariances
    assert colour_consistency(detailed, coarse, 0.0, 250.0) > 0
    # the coarser image is detached: only the finer one is pulled
    coarse_grad, fine_grad = coarse.clone().requires_grad_(), shifted.clone().requires_grad_()
    colour_consistency(fine_grad, coarse_grad).backward()
    assert coarse_grad.grad is None and fine_grad.grad.abs().sum() > 0


def test_colour_gap_is_zero_up_to_resolution_and_measures_each_images_mean_and_covariance_shift():
    g = torch.Generator().manual_seed(0)
    coarse = torch.rand(4, 3, 8, 8, generator=g, dtype=torch.float64) * 2 - 1
    fine = F.interpolate(coarse, scale_factor=2, mode="nearest")
    mean, cov = colour_gap(fine, coarse)  # no gap from resolution alone
    assert mean.shape == cov.shape == (4,)
    assert torch.allclose(mean, torch.zeros(4, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(cov, torch.zeros(4, dtype=torch.float64), atol=1e-12)
    shift = torch.tensor([0.3, 0.0, -0.4], dtype=torch.float64).view(1, 3, 1, 1)
    mean, cov = colour_gap(fine + shift, coarse)  # another mean colour, the same covariance
    assert torch.allclose(mean, torch.full((4,), 0.5, dtype=torch.float64)) and cov.abs().max() < 1e-12
    mean, cov = colour_gap(2 * fine, coarse)  # twice the contrast: the covariance four times
    cov_coarse = colour_gap(coarse, torch.zeros_like(coarse))[1]  # ||C_coarse - 0||_F
    assert torch.allclose(cov, 3 * cov_coarse)
    # the term's own statistics: the repeated image's pixels in another order (the same colours, another
    # arrangement) leave the term at 0, and so the gap (averaged down first, its covariance would shrink)
    order = torch.randperm(16 * 16, generator=g)
    shuffled = fine.flatten(2)[:, :, order].view_as(fine)
    assert colour_consistency(shuffled, coarse, 50.0, 250.0).item() == pytest.approx(0.0, abs=1e-12)
    mean, cov = colour_gap(shuffled, coarse)
    assert mean.abs().max() < 1e-12 and cov.abs().max() < 1e-12
    assert (F.avg_pool2d(shuffled, 2).flatten(2).var(2) < coarse.flatten(2).var(2)).all()  # what averaging would do


def test_stackganv2_draws_every_branch_and_sums_a_d_loss_per_branch_and_the_colour_terms():
    model = build_v2(colour_weight=50.0)
    assert model.sizes == [8, 16, 32] and model.uncond_weight == 1.0
    ctx = context(model, batch())
    assert [f.shape[-1] for f in ctx.fakes] == [8, 16, 32] and [r.shape[-1] for r in ctx.reals] == [8, 16, 32]
    d = model.discriminator_terms(ctx)
    assert torch.allclose(d["d_loss"], d["d1_loss"] + d["d2_loss"] + d["d3_loss"])
    # branch 1: real + wrong + fake of both heads; the wrong pair's image is real for the unconditional head
    real, real_u = model.discriminator(ctx.reals[0], ctx.mu, 0)
    wrong, wrong_u = model.discriminator(ctx.reals[0], ctx.mu.roll(-1, dims=0), 0)
    fake, fake_u = model.discriminator(ctx.fakes[0].detach(), ctx.mu, 0)
    sp = F.softplus
    expected = (sp(-real).mean() + sp(-real_u).mean() + sp(wrong).mean() + sp(-wrong_u).mean()
                + sp(fake).mean() + sp(fake_u).mean())
    assert torch.allclose(d["d1_loss"], expected, atol=1e-6)
    g = model.generator_terms(ctx)
    colour = [colour_consistency(ctx.fakes[i], ctx.fakes[i - 1], 50.0, 250.0) for i in (1, 2)]
    assert torch.allclose(g["colour12"], colour[0]) and torch.allclose(g["colour23"], colour[1])
    total = g["g1_adversarial"] + g["g2_adversarial"] + g["g3_adversarial"] + sum(colour) + 2.0 * g["kl"]
    assert torch.allclose(g["g_loss"], total, atol=1e-6)
    # the default: off, as the authors' text-to-image cfg (birds_3stages.yml sets no COLOR_LOSS: 0)
    default = build_v2()
    assert default.colour_weight == 0.0
    terms = default.generator_terms(context(default, batch()))
    assert not [k for k in terms if k.startswith("colour")]
    assert torch.allclose(terms["g_loss"], terms["g1_adversarial"] + terms["g2_adversarial"] + terms["g3_adversarial"]
                          + 2.0 * terms["kl"], atol=1e-6)


# ---------------------------------------------------------------------------- stages side by side
@pytest.mark.parametrize("build", [build_stage2, build_v2], ids=["StackGAN", "StackGANv2"])
def test_the_sample_grid_shows_every_stage_side_by_side(build):
    model = build()
    captions = torch.randint(2, 60, (2, 18), generator=torch.Generator().manual_seed(1))
    stages = model.sample(noise=model.fixed_noise[:3], conditions={"caption": captions.repeat(2, 1)[:3]},
                          stages=True)
    assert len(stages) == len(model.stages()) and stages[-1].shape[-1] == 32
    assert torch.equal(stages[-1], model.sample(noise=model.fixed_noise[:3],
                                                conditions={"caption": captions.repeat(2, 1)[:3]}))
    pictures, per_row = model.preview_grid(num_samples=6, nrow=3, inputs={"caption": captions})
    k = len(model.stages())
    assert per_row == 3 * k and pictures.shape == (6 * k, 3, 32, 32)
    first = model.sample(noise=model.fixed_noise[:3], conditions={"caption": captions[:1].repeat(3, 1)}, stages=True)
    for i, stage in enumerate(first):  # the first sample's stages, enlarged, side by side
        assert torch.allclose(pictures[i], F.interpolate(stage, size=32, mode="nearest")[0], atol=1e-6)
    assert build_stage1().stages() == ()  # Stage I alone: one image, no stages


def test_sample_draws_the_caption_given_on_the_command_line_for_both(tmp_path, capsys):
    from PIL import Image

    from gan_lightning.callbacks.samples import CAPTION_MARGIN
    from gan_lightning.cli import main

    for name, build in (("stage2", build_stage2), ("v2", build_v2)):
        L.seed_everything(0)
        model = build()
        trainer = tiny_trainer(tmp_path / name, 1, limit_val_batches=0)
        trainer.fit(model, build_data())
        ckpt = tmp_path / f"{name}.ckpt"
        trainer.save_checkpoint(ckpt)
        out = tmp_path / f"{name}.png"
        main(["sample", "--ckpt_path", str(ckpt), "--num_samples", "4", "--nrow", "2", "--seed", "3",
              "--out", str(out), "--text", "a thin blue three on grass"])
        # 2 x 2 of 32 px, 2 px apart, the caption written left of each row
        assert np.asarray(Image.open(out)).shape[:2] == (2 * 34 + 2, CAPTION_MARGIN + 2 * 34 + 2)
        assert "wrote 4 samples of 1 caption" in capsys.readouterr().out
