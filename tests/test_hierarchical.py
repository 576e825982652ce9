"""The hierarchical generators (issue 27): LAPGAN, StackedGAN, GoGAN. What makes each that family: LAPGAN's
pyramid reconstructs its image and each level's G learns from its own D alone; StackedGAN's entropy term
falls when Q recovers z and its G0 switches from the real features to G1's at ``joint_after``; GoGAN's margin
ranking loss vanishes exactly when real > fake > previous by the margin, and the previous G is a frozen copy.
The every-model tests (resume, DDP, device) run them through tests/tiny_hierarchical.py."""

from __future__ import annotations

import lightning as L
import pytest
import torch

from conftest import tiny_trainer
from gan_lightning.core import StepContext
from gan_lightning.models.gogan import margin_terms
from gan_lightning.models.stackedgan import entropy_term
from gan_lightning.nets.pyramid import gaussian_pyramid, laplacian_pyramid, reconstruct, upsample
from tiny_hierarchical import TINY, TinyDigits28, _digits


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest's: one intra-op thread for tiny networks


def full_context(model, batch, iteration: int = 0) -> StepContext:
    """The step context of an iteration in which every phase runs, prepared by the model."""
    ctx = StepContext(batch, iteration, frozenset(phase.name for phase in model.phase_list), model.output().key)
    model.prepare_step(ctx)
    return ctx


# ---------------------------------------------------------------------------- LAPGAN
def test_laplacian_pyramid_reconstructs_the_image_as_the_sum_of_its_upsampled_bands():
    images = torch.randn(3, 1, 28, 28, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    pyramid = laplacian_pyramid(images, 3)
    assert [level.shape[-1] for level in pyramid] == [28, 14, 7]
    assert torch.allclose(reconstruct(pyramid), images, atol=1e-12, rtol=0)
    summed = pyramid[0] + upsample(pyramid[1]) + upsample(upsample(pyramid[2]))  # u is linear
    assert torch.allclose(summed, images, atol=1e-12, rtol=0)
    assert pyramid[1].abs().max() > 0.1  # the bands are not trivially zero
    digits = _digits()[0][:4]  # real digits in float32
    assert (reconstruct(laplacian_pyramid(digits, 3)) - digits).abs().max() < 1e-5
    assert torch.allclose(gaussian_pyramid(digits, 3)[2], torch.nn.functional.avg_pool2d(digits, 4), atol=1e-6)


def test_lapgan_each_level_g_gets_gradient_only_from_its_own_d():
    model = TINY["LAPGAN"][0]()
    images, labels = _digits()
    ctx = full_context(model, (images[:8], labels[:8]))
    for k in range(model.levels):
        model.zero_grad(set_to_none=True)
        model.generator_terms(k)(ctx)[f"g{k}_loss"].backward(retain_graph=True)
        for j in range(model.levels):
            g_grads = [p.grad for p in model.generator[f"level{j}"].parameters()]
            d_grads = [p.grad for p in model.discriminator[f"level{j}"].parameters()]
            if j == k:
                assert all(g is not None and g.abs().sum() > 0 for g in g_grads[-2:]), (k, j)
            else:
                assert all(g is None for g in g_grads + d_grads), f"G{k}'s loss reached level {j}"
        model.zero_grad(set_to_none=True)
        model.discriminator_terms(k)(ctx)[f"d{k}_loss"].backward()
        assert all(p.grad is None for p in model.generator.parameters()), f"D{k}'s loss reached a generator"
    # the finer levels' real input is the real coarser image, not a generated one
    coarse = upsample(ctx.pyramid[1])
    assert torch.allclose(ctx.fakes[0] - coarse,
                          model.generator["level0"](model.split_noise(ctx.z)[1][0], ctx.labels, coarse), atol=1e-5)


def test_lapgan_samples_chain_the_levels_and_the_grid_shows_every_level():
    model = TINY["LAPGAN"][0]()
    noise = model.sample_noise(4, rng=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 1, 2, 3])
    stages = model.generate_stages(noise, labels)
    assert model.stages() == ("level 2 (7 px)", "level 1 (14 px)", "level 0 (28 px)")
    assert [s.shape[-1] for s in stages] == [7, 14, 28]
    assert torch.equal(model.sample(noise=noise, labels=labels, use_ema=False), model.eval().generate(noise, labels))
    model.train()
    pictures, per_row = model.preview_grid(num_samples=40, nrow=4, use_ema=False)
    assert per_row == 12 and pictures.shape == (10 * 4 * 3, 1, 28, 28)  # 10 classes x 4 samples x 3 levels
    sample = model.sample(noise=model.fixed_noise[:1], labels=torch.tensor([0]), use_ema=False)
    assert torch.allclose(pictures[2], sample[0], atol=1e-6)  # the last picture of a sample is the sample
    model.eval()
    with torch.no_grad():
        coarsest = model.generate_stages(model.fixed_noise[:1], torch.tensor([0]))[0]
    model.train()
    assert torch.allclose(pictures[0], coarsest[0].repeat_interleave(4, -1).repeat_interleave(4, -2), atol=1e-6)
    with pytest.raises(ValueError, match="does not divide by 8"):
        TINY["LAPGAN"][0](levels=4)


# ---------------------------------------------------------------------------- StackedGAN
def test_stackedgan_entropy_term_falls_when_q_recovers_the_noise():
    model = TINY["StackedGAN"][0](encoder_steps=1, joint_after=1)
    z = model.sample_noise(64, rng=torch.Generator().manual_seed(0))[:, :model.z1_dim]  # U(0, 1), the authors'
    assert 0 <= z.min() and z.max() < 1 and 0.4 < z.mean() < 0.6  # z ~ U(0, 1), Q ends in a sigmoid
    with pytest.raises(ValueError, match="truncation does not apply"):
        model.sample(4, truncation=0.5)
    assert entropy_term(z, z) == 0 and entropy_term(z + 1, z) == pytest.approx(1.0)
    labels = torch.arange(64) % 10
    with torch.no_grad():
        features = model.generator["level1"](z, labels)
    q_head = model.discriminator["level1"]
    optimizer = torch.optim.Adam(q_head.parameters(), lr=1e-2)
    first = entropy_term(model.feature_discriminator(features)[1], z).item()
    for _ in range(150):
        optimizer.zero_grad()
        entropy_term(model.feature_discriminator(features)[1], z).backward()
        optimizer.step()
    last = entropy_term(model.feature_discriminator(features)[1], z).item()
    assert last < 0.5 * first, (first, last)
    # G's loss carries the entropy term at the authors' weight (10 by default)
    default = TINY["StackedGAN"][0](entropy_weight=10.0)
    images, image_labels = _digits()
    ctx = full_context(default, (images[:8], image_labels[:8]), iteration=default.encoder_steps)
    terms = default.g1_terms(ctx)
    rest = terms["g1_adversarial"] + terms["g1_condition"] + 10.0 * terms["g1_entropy"]
    assert torch.allclose(terms["g1_loss"].detach(), rest)


@pytest.mark.parametrize("iteration", ["independent", "joint"])
def test_stackedgan_entropy_gradient_reaches_each_generator_and_its_noise_path(iteration):
    """The entropy term is what keeps G from ignoring z: its gradient must reach every parameter of its own
    level's G (G0's z0 embedding included), nothing of the other level's, and G's output must move with z
    at a fixed class (G1) and at fixed features (G0)."""
    model = TINY["StackedGAN"][0](encoder_steps=1, joint_after=3)
    images, labels = _digits()
    ctx = full_context(model, (images[:8], labels[:8]), iteration=1 if iteration == "independent" else 3)
    for level, terms in (("level1", model.g1_terms), ("level0", model.g0_terms)):
        entropy_name = f"g{level[-1]}_entropy"
        model.zero_grad(set_to_none=True)
        entropy = terms(ctx)[entropy_name]
        assert entropy.grad_fn is None  # the logged value is detached; recompute it with its graph
        if level == "level1":
            loss = entropy_term(model.feature_discriminator(ctx.fake_features)[1], ctx.z1)
        else:
            loss = entropy_term(model.image_discriminator(ctx.fake)[1], ctx.z0)
        assert torch.allclose(loss, entropy)
        grads = torch.autograd.grad(loss, list(model.generator[level].parameters()), retain_graph=True,
                                    allow_unused=True)
        names = [name for name, _ in model.generator[level].named_parameters()]
        zero = [name for name, grad in zip(names, grads) if grad is None or grad.abs().sum() == 0]
        assert zero == [], f"{level}: the entropy term does not reach {zero}"
        other = model.generator["level0" if level == "level1" else "level1"]
        assert all(g is None for g in torch.autograd.grad(loss, list(other.parameters()), retain_graph=True,
                                                          allow_unused=True)), level
    model.eval()
    with torch.no_grad():
        z = model.sample_noise(16, rng=torch.Generator().manual_seed(0))
        one_class = torch.full((16,), 3)
        features = model.generator["level1"](model.split_noise(z)[0], one_class)
        assert features.std(0).mean() > 0.05 * features.abs().mean()  # G1 moves with z1 at a fixed class
        fixed = features[:1].expand(16, -1)
        pictures = model.generator["level0"](fixed, model.split_noise(z)[1])
        assert pictures.std(0).mean() > 0.05 * pictures.abs().mean()  # G0 moves with z0 at fixed features


def test_stackedgan_trains_the_encoder_first_then_independent_then_joint_levels():
    model = TINY["StackedGAN"][0](encoder_steps=2, joint_after=4)
    due = {i: sorted(p.name for p in model.phase_list if p.due(i)) for i in range(6)}
    assert due[0] == due[1] == ["E"] and due[2] == due[5] == ["D0", "D1", "G0", "G1"]
    images, labels = _digits()
    batch = (images[:8], labels[:8])
    independent = full_context(model, batch, iteration=3)
    assert torch.equal(independent.condition, model.encoder.features(images[:8]))
    joint = full_context(model, batch, iteration=4)
    assert torch.equal(joint.condition, joint.fake_features.detach())
    with pytest.raises(ValueError, match="joint_after must be >= model.encoder_steps"):
        TINY["StackedGAN"][0](encoder_steps=5, joint_after=3)


# ---------------------------------------------------------------------------- GoGAN
def test_gogan_margin_ranking_loss_is_zero_only_when_real_is_above_fake_and_the_previous_stage_by_the_margins():
    real, fake, previous = torch.tensor([3.0, 2.5]), torch.tensor([1.5, 1.2]), torch.tensor([0.0, -1.0])
    margin_term, rank_term = margin_terms(real, fake, previous, margin=1.0)
    assert margin_term == 0 and rank_term == 0
    margin_term, rank_term = margin_terms(real, fake, previous, margin=1.4)  # real - fake = 1.3 for sample 1
    assert margin_term == pytest.approx((0.0 + 0.1) / 2) and rank_term == 0  # 2.8 + 0 < 3, 2.8 - 1 < 2.5
    # the ranking term compares D(x) with D_prev(G_prev(z)) by twice the margin; D(G(z)) plays no part in it
    margin_term, rank_term = margin_terms(real, fake, torch.tensor([1.5, -1.0]), margin=1.0)  # 2 + 1.5 - 3 = 0.5
    assert margin_term == 0 and rank_term == pytest.approx(0.5 / 2)
    assert margin_terms(real, fake + 10, torch.tensor([1.5, -1.0]), margin=1.0)[1] == pytest.approx(0.5 / 2)
    margin_term, rank_term = margin_terms(fake, real, None, margin=0.5)  # fakes above reals
    assert margin_term == pytest.approx((2.0 + 1.8) / 2) and rank_term == 0


def test_gogan_stages_freeze_the_previous_generator_and_shrink_the_margin(tmp_path):
    build, data = TINY["GoGAN"]
    model = build()
    assert [model.stage(i) for i in range(7)] == [0, 0, 1, 1, 2, 2, 2]
    assert [model.stage_margin(s) for s in range(3)] == [1.0, 0.5, 0.25]
    assert not any(p.requires_grad for p in model.generator_previous.parameters())
    assert not any(p.requires_grad for p in model.discriminator_previous.parameters())
    L.seed_everything(0)
    tiny_trainer(tmp_path / "two", 2).fit(model, data())
    after_stage_0 = {k: v.clone() for k, v in model.generator.state_dict().items()}
    critic_after_stage_0 = {k: v.clone() for k, v in model.discriminator.state_dict().items()}
    model = build()
    L.seed_everything(0)
    tiny_trainer(tmp_path / "four", 4).fit(model, data())
    previous = model.generator_previous.state_dict()
    assert all(torch.equal(previous[k], after_stage_0[k]) for k in after_stage_0)  # copied at iteration 2
    critic = model.discriminator_previous.state_dict()
    assert all(torch.equal(critic[k], critic_after_stage_0[k]) for k in critic_after_stage_0)  # D_prev too
    assert any(not torch.equal(critic[k], v) for k, v in model.discriminator.state_dict().items()
               if v.is_floating_point())  # D went on training, its reference did not
    assert any(not torch.equal(previous[k], v) for k, v in model.generator.state_dict().items()
               if v.is_floating_point())  # G went on training, the reference did not
    stepped = {id(p) for opt in model.trainer.optimizers for group in opt.param_groups for p in group["params"]}
    assert not any(id(p) in stepped for p in model.generator_previous.parameters())
    assert not any(id(p) in stepped for p in model.discriminator_previous.parameters())
    assert not any(p.requires_grad for p in model.generator_previous.parameters())
    assert model.latest_terms["stage"] == 1 and model.latest_terms["d_rank"] >= 0


def test_tiny_digits_have_labels_for_the_class_conditional_levels():
    data = TinyDigits28()
    train, heldout = data.build_datasets()
    assert len(train) == 56 and len(heldout) == 8 and int(train[0][1]) in range(10)
