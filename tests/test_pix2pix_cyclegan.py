"""Pix2Pix and CycleGAN: the PatchGAN's receptive field, the loss options and their baselines,
the update order, translate()'s train/eval semantics, the cycle and identity terms, the replay
pools (semantics, checkpoint, bitwise resume) and the LR schedule."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
import torch.nn.functional as F
import yaml
from torch import nn

from conftest import tiny_trainer
from gan_lightning.core import StepContext
from gan_lightning.models import CycleGAN, Pix2Pix
from gan_lightning.nets.translation import PatchDiscriminator
from test_core import _fit
from tiny_pix2pix_cyclegan import TinyTranslationData, tiny_cyclegan, tiny_pix2pix

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def batch(n: int = 4, size: int = 32, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(n, 1, size, size, generator=g) * 2 - 1
    return {"a": a, "b": -a.flip(-1)}


# ---------------------------------------------------------------------------- PatchGAN
@pytest.mark.parametrize("patch_size, image_size", [(1, 128), (16, 128), (70, 128), (286, 320)])
def test_one_patch_logit_sees_exactly_patch_size_pixels(patch_size, image_size):
    """The nonzero input gradient of one central output logit spans patch_size x patch_size pixels."""
    torch.manual_seed(0)
    d = PatchDiscriminator(2, 2, patch_size, "batch").double().eval()  # eval: BatchNorm is per-pixel affine
    x = torch.randn(1, 2, image_size, image_size, dtype=torch.float64, requires_grad=True)
    out = d(x)
    centre = out.size(-1) // 2
    out[0, 0, centre, centre].backward()
    touched = x.grad.abs().sum((0, 1)) > 0
    rows, cols = touched.any(1).nonzero().flatten(), touched.any(0).nonzero().flatten()
    assert 0 < rows[0] and rows[-1] < image_size - 1  # the field lies inside the image (no padding cut)
    assert (int(rows[-1] - rows[0]) + 1, int(cols[-1] - cols[0]) + 1) == (patch_size, patch_size)
    assert int(touched.sum()) == patch_size**2  # a full square, no holes


def test_pix2pix_discriminator_is_conditional_70_patchgan_and_refuses_too_small_images():
    model = tiny_pix2pix()
    assert model.discriminator.patch_size == 70
    assert model.discriminator.net[0].in_channels == 2  # concat(input, output)
    with pytest.raises(ValueError) as error:
        tiny_pix2pix(patch_size=286)
    assert one_line(error) == "patch_size 286 needs larger images than 32 px; patch sizes that fit: 1, 16, 70"
    assert tiny_pix2pix(patch_size=16).discriminator.patch_size == 16


# ---------------------------------------------------------------------------- Pix2Pix losses
def pix2pix_terms(model: Pix2Pix, seed: int = 0):
    ctx = StepContext(batch(seed=seed), due=frozenset({"D", "G"}))
    model.prepare_step(ctx)
    return ctx, model.generator_terms(ctx)


def test_pix2pix_generator_loss_is_gan_plus_100_l1_and_each_baseline_drops_one_term():
    ctx, terms = pix2pix_terms(tiny_pix2pix())
    assert set(terms) == {"g_loss", "g_gan", "l1"}
    assert torch.allclose(terms["l1"], F.l1_loss(ctx.fake_b, ctx.b))
    assert torch.allclose(terms["g_loss"], terms["g_gan"] + 100.0 * terms["l1"])
    # GAN-only baseline (the paper's "cGAN alone")
    _, terms = pix2pix_terms(tiny_pix2pix(lambda_l1=0))
    assert torch.allclose(terms["g_loss"], terms["g_gan"]) and terms["l1"] > 0
    # L1-only baseline: the U-Net alone, no discriminator, no D phase, no D optimizer
    l1_only = tiny_pix2pix(gan_weight=0)
    _, terms = pix2pix_terms(l1_only)
    assert set(terms) == {"g_loss", "l1"} and torch.allclose(terms["g_loss"], 100.0 * terms["l1"])
    assert l1_only.discriminator is None
    assert [p.name for p in l1_only.phase_list] == ["G"] and list(l1_only.optimizer_groups()) == ["generator"]
    with pytest.raises(ValueError) as error:
        tiny_pix2pix(lambda_l1=0, gan_weight=0)
    assert "both 0" in one_line(error)
    with pytest.raises(ValueError) as error:
        tiny_pix2pix(lambda_l1=-1)
    assert "must be >= 0" in one_line(error)


def test_pix2pix_discriminator_loss_is_half_the_bce_on_real_and_fake_pairs_and_runs_before_g():
    model = tiny_pix2pix()
    assert [(p.name, p.optimizer) for p in model.phase_list] == [("D", "discriminator"), ("G", "generator")]
    ctx = StepContext(batch(), due=frozenset({"D", "G"}))
    model.prepare_step(ctx)
    real = model.discriminator(torch.cat([ctx.a, ctx.b], 1))
    fake = model.discriminator(torch.cat([ctx.a, ctx.fake_b], 1))
    expected = 0.5 * (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                      + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
    assert torch.allclose(model.discriminator_terms(ctx)["d_loss"], expected)
    assert model.data_kinds == ("paired",)
    g, d = model.configure_optimizers()
    assert (g.param_groups[0]["lr"], g.param_groups[0]["betas"]) == (2e-4, (0.5, 0.999))
    assert (d.param_groups[0]["lr"], d.param_groups[0]["betas"]) == (2e-4, (0.5, 0.999))


def test_pix2pix_l1_only_baseline_trains_without_a_discriminator(tmp_path):
    L.seed_everything(0)
    model = tiny_pix2pix(gan_weight=0)
    before = {k: v.clone() for k, v in model.generator.state_dict().items()}
    tiny_trainer(tmp_path, 3).fit(model, TinyTranslationData())
    assert model.global_step == 3
    assert any(not torch.equal(v, model.generator.state_dict()[k]) for k, v in before.items())


# ---------------------------------------------------------------------------- Pix2Pix translate
def test_pix2pix_unet_has_dropout_half_in_three_decoder_blocks():
    drops = [m for m in tiny_pix2pix().generator.modules() if isinstance(m, nn.Dropout)]
    assert [m.p for m in drops] == [0.5, 0.5, 0.5]


def test_pix2pix_translate_keeps_dropout_on_like_the_authors_and_off_on_request():
    model = tiny_pix2pix().eval()
    x = batch(4)["a"]
    running = [b.clone() for b in model.generator.buffers()]
    with pytest.raises(ValueError) as error:
        model.translate(x, direction="BtoA")
    assert "one way only" in one_line(error)
    # authors' test mode: dropout is noise; a seed makes it reproducible and leaves the global RNG alone
    state = torch.get_rng_state()
    first, again, other = model.translate(x, seed=1), model.translate(x, seed=1), model.translate(x, seed=2)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(first, again) and not torch.allclose(first, other)
    assert not torch.equal(model.translate(x), model.translate(x))  # unseeded: fresh noise each call
    # eval mode: deterministic, and each image's output does not depend on the rest of the batch
    plain = model.translate(x, dropout=False)
    assert torch.equal(plain, model.translate(x, dropout=False))
    assert torch.allclose(model.translate(x[:1], dropout=False), plain[:1], atol=1e-6)
    assert not torch.allclose(plain, first)
    assert plain.shape == x.shape and plain.abs().max() <= 1
    # neither mode touched BatchNorm's running statistics nor the module's mode
    assert all(torch.equal(a, b) for a, b in zip(running, model.generator.buffers()))
    assert not model.generator.training


# ---------------------------------------------------------------------------- CycleGAN terms
class Negate(nn.Module):
    def forward(self, x):
        return -x


def cyclegan_terms(model: CycleGAN):
    ctx = StepContext(batch(), due=frozenset({"G", "D"}))
    model.prepare_step(ctx)
    return ctx, model.generator_terms(ctx)


def adversarial(model: CycleGAN, ctx) -> torch.Tensor:
    out_b, out_a = model.discriminator(ctx.fake_b), model.discriminator_a(ctx.fake_a)
    return (out_b - 1).pow(2).mean() + (out_a - 1).pow(2).mean()  # LSGAN, no 1/2 on G's side


def test_cyclegan_cycle_and_identity_terms_follow_their_definitions():
    model = tiny_cyclegan()
    # identity generators: every cycle and identity term is zero, only the LSGAN terms remain
    model.generator, model.generator_ba = nn.Identity(), nn.Identity()
    ctx, terms = cyclegan_terms(model)
    assert all(float(terms[k]) == 0 for k in ("cycle_a", "cycle_b", "identity_a", "identity_b"))
    assert torch.allclose(terms["g_loss"], adversarial(model, ctx))
    # negating generators: the cycles close exactly (-(-x) = x), the identity terms are |2x|,
    # weighted 0.5 x lambda (the authors' convention)
    model.generator, model.generator_ba = Negate(), Negate()
    ctx, terms = cyclegan_terms(model)
    assert float(terms["cycle_a"]) == 0 and float(terms["cycle_b"]) == 0
    assert torch.allclose(terms["identity_a"], (2 * ctx.a).abs().mean())
    expected = adversarial(model, ctx) + 0.5 * 10 * ((2 * ctx.b).abs().mean() + (2 * ctx.a).abs().mean())
    assert torch.allclose(terms["g_loss"], expected)
    # a generator that is not its own inverse: the cycle term is the L1 of the round trip, x lambda
    model = tiny_cyclegan(lambda_identity=0, lambda_a=3.0)
    ctx, terms = cyclegan_terms(model)
    assert "identity_a" not in terms
    round_trip = F.l1_loss(model.generator_ba(model.generator(ctx.a)), ctx.a)
    assert float(terms["cycle_a"]) > 0 and torch.allclose(terms["cycle_a"], round_trip)
    assert torch.allclose(terms["g_loss"], adversarial(model, ctx) + 3.0 * terms["cycle_a"] + 10.0 * terms["cycle_b"])


def test_cyclegan_recipe_order_groups_and_defaults():
    model = tiny_cyclegan()
    assert [(p.name, p.optimizer) for p in model.phase_list] == [("G", "generator"), ("D", "discriminator")]
    groups = model.optimizer_groups()
    assert len(groups["generator"]) == len([*model.generator.parameters(), *model.generator_ba.parameters()])
    assert len(groups["discriminator"]) == len([*model.discriminator.parameters(),
                                                *model.discriminator_a.parameters()])
    g, d = model.configure_optimizers()
    assert (g.param_groups[0]["lr"], g.param_groups[0]["betas"]) == (2e-4, (0.5, 0.999))
    assert d.param_groups[0]["lr"] == 2e-4
    assert model.discriminator.patch_size == 70 and model.pool_a.size == 4
    assert isinstance(model.discriminator.net[3], nn.InstanceNorm2d)
    assert set(CycleGAN.data_kinds) == {"unpaired", "paired"}
    blocks = lambda m: sum(type(x).__name__ == "ResidualBlock" for x in m.generator.modules())  # noqa: E731
    assert blocks(CycleGAN(data_shape=(1, 128, 128), g_width=2, d_width=2)) == 6
    assert blocks(CycleGAN(data_shape=(1, 256, 256), g_width=2, d_width=2)) == 9
    defaults = CycleGAN(data_shape=(1, 32, 32), g_width=2, d_width=2)
    assert (defaults.lambda_a, defaults.lambda_b, defaults.lambda_identity, defaults.pool_a.size) == (10, 10, 0.5, 50)


def test_cyclegan_discriminator_loss_is_half_lsgan_per_domain_on_pooled_fakes():
    model = tiny_cyclegan(pool_size=4)
    ctx = StepContext(batch(4), due=frozenset({"G", "D"}))
    model.prepare_step(ctx)
    terms = model.discriminator_terms(ctx)  # the pool is filling: the fakes come back as they are
    real, fake = model.discriminator(ctx.b), model.discriminator(ctx.fake_b)
    assert torch.allclose(terms["d_b"], 0.5 * ((real - 1).pow(2).mean() + fake.pow(2).mean()))
    assert torch.allclose(terms["d_loss"], terms["d_a"] + terms["d_b"])


def test_cyclegan_pools_hold_past_fakes_and_feed_them_to_the_discriminators():
    torch.manual_seed(0)
    model = tiny_cyclegan(pool_size=4)
    seen: list[torch.Tensor] = []
    model.set_discriminator_augment(lambda x: seen.append(x) or x)
    first = StepContext(batch(4, seed=1), due=frozenset({"D"}))
    model.prepare_step(first)
    model.discriminator_terms(first)
    stored = torch.stack(model.pool_b.images)
    assert torch.equal(stored, first.fake_b) and torch.equal(torch.stack(model.pool_a.images), first.fake_a)
    second = StepContext(batch(16, seed=2), due=frozenset({"D"}))
    model.prepare_step(second)
    model.discriminator_terms(second)
    fed = seen[-3]  # D_B's fake input of the second call (calls: D_B real, D_B fake, D_A real, D_A fake)
    old = [i for i, image in enumerate(fed) if any(torch.equal(image, s) for s in stored)]
    own = [i for i, image in enumerate(fed) if torch.equal(image, second.fake_b[i])]
    current = [i for i, image in enumerate(fed) if any(torch.equal(image, f) for f in second.fake_b)]
    assert sorted(old + current) == list(range(16))  # each is a fake of this step or a past one
    assert old and len(own) < 16  # some were swapped for an image of the earlier step
    assert len(model.pool_b) == 4  # a fixed-size buffer


def test_cyclegan_pools_are_in_the_checkpoint_and_resume_bitwise(tmp_path):
    data = lambda: TinyTranslationData(kind="unpaired")  # noqa: E731
    straight = _fit(tiny_cyclegan, data, tmp_path / "straight", 6)
    interrupted = _fit(tiny_cyclegan, data, tmp_path / "resumed", 6, interrupt_at=3)
    saved = torch.load(tmp_path / "resumed" / "ckpt" / "last.ckpt", weights_only=False)["gan_lightning"]
    at_three = {name: saved["training_state"][name]["images"] for name in ("pool_a", "pool_b")}
    for name, images in at_three.items():
        assert images.shape == (4, 1, 32, 32)
        assert torch.equal(images, torch.stack(getattr(interrupted, name).images))
    resumed = _fit(tiny_cyclegan, data, tmp_path / "resumed", 6, ckpt_path="last")
    for name, images in at_three.items():
        final = torch.stack(getattr(straight, name).images)
        assert torch.equal(final, torch.stack(getattr(resumed, name).images))
        assert not torch.equal(final, images)  # the pool kept changing after the checkpoint


# ---------------------------------------------------------------------------- LR schedule
def test_cyclegan_lr_is_constant_for_the_first_half_then_decays_linearly_to_zero(tmp_path):
    lrs: list[tuple[float, float]] = []

    class Record(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, *args):
            lrs.append(tuple(pl_module.named_optimizer(n).param_groups[0]["lr"] for n in ("generator", "discriminator")))

    L.seed_everything(0)
    model = tiny_cyclegan(lr_decay_iters=4)
    tiny_trainer(tmp_path, 8, limit_train_batches=8, callbacks=[Record()]).fit(
        model, TinyTranslationData(kind="unpaired", num=32))
    expected = [2e-4 * f for f in (1, 1, 1, 1, 1, 0.75, 0.5, 0.25)]
    assert [g for g, _ in lrs] == pytest.approx(expected) and [d for _, d in lrs] == pytest.approx(expected)
    assert model.named_optimizer("generator").param_groups[0]["lr"] == 0.0  # at the end of training


def test_translation_configs_decay_over_the_second_half():
    for path in ("cyclegan/digits2sklearn.yaml", "pix2pix/edges2digits.yaml"):
        config = yaml.safe_load((EXPERIMENTS / path).read_text())
        assert 2 * config["model"]["init_args"]["lr_decay_iters"] == config["trainer"]["max_steps"], path


# ---------------------------------------------------------------------------- CycleGAN translate
def test_cyclegan_translates_both_ways_with_the_same_output_in_train_and_eval_mode():
    model = tiny_cyclegan()
    x = batch(2)["a"]
    assert torch.equal(model.translate(x), model.generator(x))
    assert torch.equal(model.translate(x, "BtoA"), model.generator_ba(x))
    assert not torch.equal(model.translate(x), model.translate(x, "BtoA"))
    assert torch.equal(model.eval().translate(x), model.train().translate(x))  # InstanceNorm, no dropout
    with pytest.raises(ValueError) as error:
        model.translate(x, "AtoA")
    assert one_line(error) == "direction must be 'AtoB' or 'BtoA', got 'AtoA'"
