"""StyleGAN2 (Karras et al. 2020): modulated/demodulated convolutions, the mapping network and its
tracked w_avg, style mixing, truncation in w space, the lazy R1 and path-length phases with their
loss and optimizer scaling, pl_mean in the checkpoint, R1 against a hand computation, and the EMA
half-life in images. The bitwise mid-epoch resume runs in tests/test_core.py (tiny_stylegan2.py)."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn

from conftest import InterruptAt, tiny_trainer
from gan_lightning.callbacks import EMACallback
from gan_lightning.core import StepContext
from gan_lightning.models import StyleGAN2
from gan_lightning.nets.stylegan2 import MappingNetwork, base_resolution, modulated_conv2d
from tiny_stylegan2 import build_data, build_model


def trained(model: StyleGAN2, steps: int, root, **options) -> L.Trainer:
    L.seed_everything(0)
    trainer = tiny_trainer(root, steps, **options)
    trainer.fit(model, build_data())
    return trainer


# ----------------------------------------------------------------------------- networks
def test_demodulated_weights_have_unit_norm_and_give_unit_variance_outputs():
    torch.manual_seed(0)
    weight, styles = torch.randn(64, 256, 3, 3), torch.rand(4, 256) * 3 + 0.1
    w = weight.unsqueeze(0) * styles[:, None, :, None, None]
    demodulated = w * (w.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8).rsqrt()
    assert torch.allclose(demodulated.square().sum(dim=(2, 3, 4)), torch.ones(4, 64), atol=1e-5)
    x = torch.randn(4, 256, 16, 16)
    out = modulated_conv2d(x, weight, styles, demodulate=True, padding=0)  # no padding: every output sees 3x3
    assert out.std().item() == pytest.approx(1.0, abs=0.05)
    assert out.std(dim=(0, 2, 3)).sub(1).abs().max() < 0.15  # every output channel, not just on average
    plain = modulated_conv2d(x, weight, styles, demodulate=False, padding=0)
    assert plain.std().item() > 5  # without demodulation the style scale comes through


@pytest.mark.parametrize("demodulate", [True, False])
def test_fused_and_unfused_modulated_convolutions_agree(demodulate):
    torch.manual_seed(0)
    x, weight, styles = torch.randn(5, 6, 9, 9), torch.randn(7, 6, 3, 3), torch.randn(5, 6)
    fused = modulated_conv2d(x, weight, styles, demodulate, padding=1, fused=True)
    unfused = modulated_conv2d(x, weight, styles, demodulate, padding=1, fused=False)
    assert fused.shape == (5, 7, 9, 9) and torch.allclose(fused, unfused, atol=1e-4)
    # per-sample: sample 0's output does not depend on sample 1's style
    other = styles.clone()
    other[1] *= 2
    assert torch.equal(modulated_conv2d(x, weight, other, demodulate, 1)[0], unfused[0])


def test_mapping_network_lr_multiplier_and_w_avg_tracking():
    torch.manual_seed(0)
    mapping = MappingNetwork(z_dim=16, w_dim=32, num_ws=5, num_layers=2)
    layer = mapping.layers[0]
    assert layer.scale == pytest.approx(0.01 / 4) and layer.lr_multiplier == 0.01  # gain 1: the authors' FC layer
    assert layer.weight.std().item() == pytest.approx(100, rel=0.1)  # N(0, 1) / lr multiplier
    assert torch.equal(mapping.w_avg, torch.zeros(32)) and "w_avg" in mapping.state_dict()
    z = torch.randn(8, 16)
    mapping.train()
    ws = mapping(z)
    assert ws.shape == (8, 5, 32) and torch.equal(ws[:, 0], ws[:, 4])  # one w broadcast to every layer
    assert torch.allclose(mapping.w_avg, 0.005 * ws[:, 0].mean(0), atol=1e-7)  # lerp(mean w, 0, 0.995)
    before = mapping.w_avg.clone()
    mapping(z, update_w_avg=False)
    assert torch.equal(mapping.w_avg, before)
    mapping.eval()
    mapping(z)
    assert torch.equal(mapping.w_avg, before)  # only training updates it


@pytest.mark.parametrize("size, base, num_ws", [(28, 7, 6), (32, 4, 8), (64, 4, 10)])
def test_shapes_base_resolution_and_number_of_ws(size, base, num_ws):
    model = build_model(data_shape=(1, size, size))
    assert base_resolution(size) == base and model.generator.num_ws == num_ws
    images = model.sample(3)
    assert images.shape == (3, 1, size, size)
    assert model.discriminator(images).shape == (3,)
    assert StyleGAN2(data_shape=(3, 32, 32), latent_dim=8, w_dim=8, channel_base=64, channel_max=4).sample(2).shape \
        == (2, 3, 32, 32)


def test_minibatch_std_groups_of_four_and_odd_batches():
    layer = build_model().discriminator.mbstd  # the shared MinibatchStdDev, group 4
    assert layer.group_size == 4
    x = torch.randn(8, 3, 2, 2)
    out = layer(x)
    assert out.shape == (8, 4, 2, 2)
    # sample i is grouped with i + 2, i + 4, i + 6 (groups of 4 over a batch of 8)
    group = x[[0, 2, 4, 6]]
    expected = group.std(dim=0, unbiased=False).mean()
    assert out[0, 3, 0, 0].item() == pytest.approx(expected.item(), rel=1e-4)
    assert torch.equal(out[0, 3], out[6, 3]) and not torch.equal(out[0, 3], out[1, 3])
    assert layer(torch.randn(6, 3, 2, 2)).shape == (6, 4, 2, 2)  # group 3 divides 6


def test_noise_inputs_have_learned_strength_and_three_modes():
    model = build_model()
    strengths = [m.noise_strength for m in model.generator.synthesis.layers]
    assert all(s.requires_grad and s.item() == 0.0 for s in strengths)  # the authors' init: 0
    for s in strengths:
        s.data.fill_(0.5)
    z = torch.randn(2, 8)
    g = model.generator.eval()
    assert not torch.equal(g(z, noise_mode="random"), g(z, noise_mode="random"))
    assert torch.equal(g(z, noise_mode="const"), g(z, noise_mode="const"))
    assert not torch.equal(g(z, noise_mode="const"), g(z, noise_mode="none"))
    with pytest.raises(ValueError, match="noise_mode"):
        g(z, noise_mode="fixed")


# ----------------------------------------------------------------------------- style mixing and truncation
def test_style_mixing_crosses_over_at_one_layer():
    model = build_model(style_mixing_prob=1.0)
    num_ws = model.generator.num_ws
    cutoffs = set()
    for seed in range(12):
        torch.manual_seed(seed)
        z = torch.randn(3, 8)
        plain = model.generator.mapping(z, update_w_avg=False)
        ws = model.mapped_ws(z)
        same = [torch.equal(ws[:, i], plain[:, i]) for i in range(num_ws)]
        cutoff = same.index(False)
        assert 1 <= cutoff < num_ws and all(same[:cutoff]) and not any(same[cutoff:])
        assert all(torch.equal(ws[:, i], ws[:, cutoff]) for i in range(cutoff, num_ws))  # one second w
        cutoffs.add(cutoff)
    assert len(cutoffs) >= 3  # the crossover layer is drawn
    never = build_model(style_mixing_prob=0.0)
    z = torch.randn(3, 8)
    ws = never.mapped_ws(z)
    assert all(torch.equal(ws[:, i], ws[:, 0]) for i in range(num_ws))


def test_style_mixing_probability_is_point_nine_by_default():
    model = build_model()
    assert model.style_mixing_prob == 0.9
    mixed = 0
    for seed in range(200):
        torch.manual_seed(seed)
        ws = model.mapped_ws(torch.randn(2, 8))
        mixed += not torch.equal(ws[:, 0], ws[:, -1])
    assert 160 <= mixed <= 195


def test_mixing_pass_does_not_move_w_avg():
    model = build_model(style_mixing_prob=1.0)
    torch.manual_seed(0)
    z = torch.randn(4, 8)
    w = model.generator.mapping(z, update_w_avg=False)[:, 0]
    model.mapped_ws(z)
    assert torch.allclose(model.generator.mapping.w_avg, 0.005 * w.mean(0), atol=1e-7)


def test_truncation_psi_in_w_space():
    model = build_model()
    mapping = model.generator.mapping
    with torch.no_grad():
        mapping.w_avg.copy_(torch.randn(8))
    z = torch.randn(5, 8)
    average = model.sample(noise=z, truncation=0.0)
    # psi=0: the same image for every z (up to float rounding of batched convolutions)
    assert (average - average[:1]).abs().max() < 1e-5
    assert (model.sample(noise=z) - model.sample(noise=z)[:1]).abs().amax(dim=(1, 2, 3))[1:].min() > 1e-3
    ws_avg = mapping.w_avg.reshape(1, 1, -1).expand(1, model.generator.num_ws, -1)
    with torch.no_grad():
        assert torch.allclose(average[:1], model.generator.eval().synthesis(ws_avg, "const"), atol=1e-6)
    model.generator.train()
    none = model.sample(noise=z)
    assert torch.equal(model.sample(noise=z, truncation=1.0), none)  # psi=1: no truncation
    assert torch.equal(model.sample(noise=z, truncation=None), none)
    half = model.sample(noise=z, truncation=0.5)
    assert not torch.equal(half, none) and not torch.equal(half, average)
    # psi scales the distance to the average in w space
    w = mapping.eval()(z)
    assert torch.allclose(mapping(z, truncation_psi=0.5) - mapping.w_avg, 0.5 * (w - mapping.w_avg), atol=1e-6)
    # the CLI's call: sample(num, labels=None, use_ema=..., truncation=psi, rng=...) is seeded
    a = model.sample(4, labels=None, use_ema=True, truncation=0.7, rng=torch.Generator().manual_seed(3))
    b = model.sample(4, labels=None, use_ema=True, truncation=0.7, rng=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="labels: StyleGAN2 takes no class labels"):
        model.sample(2, labels=torch.zeros(2, dtype=torch.long))


# ----------------------------------------------------------------------------- regularizers
def test_r1_term_against_a_hand_computation():
    model = build_model(r1_gamma=3.0)
    a = torch.randn(1, 28, 28)

    class Quadratic(nn.Module):  # D(x) = sum a * x^2, grad = 2 a x
        def forward(self, x):
            return (a * x.square()).flatten(1).sum(1)

    model.discriminator = Quadratic()
    real = torch.randn(4, 1, 28, 28)
    terms = model.r1_terms(StepContext(real))
    by_hand = (2 * a * real).square().flatten(1).sum(1).mean()
    assert terms["r1_penalty"].item() == pytest.approx(by_hand.item(), rel=1e-5)
    assert terms["dreg_loss"].item() == pytest.approx(1.5 * by_hand.item(), rel=1e-5)  # gamma / 2
    auto = build_model(r1_gamma="auto")
    assert auto.r1_gamma_for(8) == pytest.approx(0.0002 * 28 ** 2 / 8)
    assert build_model().r1_gamma == 10.0


def test_path_length_term_updates_pl_mean_by_its_decay():
    model = build_model()
    torch.manual_seed(0)
    terms = model.path_length_terms(StepContext(torch.zeros(8, 1, 28, 28)))
    length = terms["pl_length"].item()
    assert length > 0
    assert model.training_state.pl_mean.item() == pytest.approx(0.01 * length, rel=1e-5)  # lerp(0, E len, 0.01)
    assert terms["greg_loss"].item() == pytest.approx(2.0 * terms["pl_penalty"].item(), rel=1e-6)
    assert terms["greg_loss"].requires_grad
    previous = model.training_state.pl_mean.clone()
    terms = model.path_length_terms(StepContext(torch.zeros(8, 1, 28, 28)))
    expected = previous + 0.01 * (terms["pl_length"] - previous)
    assert model.training_state.pl_mean.item() == pytest.approx(expected.item(), rel=1e-5)


def test_lazy_phases_run_on_their_intervals_and_scale_loss_and_optimizer(tmp_path):
    model = build_model()  # R1 every 2, path length every 3 iterations
    runs, passed = [], []
    optimize = model.optimize

    def spy(optimizer, loss):
        passed.append(loss.detach().clone())
        optimize(optimizer, loss)

    model.optimize = spy
    for name in ("r1_terms", "path_length_terms"):
        original = getattr(model, name)

        def wrapped(ctx, original=original, name=name):
            terms = original(ctx)
            runs.append((name, ctx.iteration, terms["dreg_loss" if name == "r1_terms" else "greg_loss"].detach()))
            return terms
        setattr(model, name, wrapped)
    model._phase_list = None
    trainer = trained(model, 6, tmp_path)
    assert [(n, i) for n, i, _ in runs] == [("r1_terms", 1), ("path_length_terms", 2), ("r1_terms", 3),
                                            ("r1_terms", 5), ("path_length_terms", 5)]
    assert trainer.global_step == 6
    lazy = {phase.name: phase for phase in model.phase_list if phase.lazy}
    assert (lazy["Dreg"].interval, lazy["Greg"].interval) == (2, 3)
    # each lazy loss reaches the optimizer multiplied by its interval
    for name, _, term in runs:
        factor = 2.0 if name == "r1_terms" else 3.0
        assert any(torch.equal(loss, factor * term) for loss in passed), name
        assert not any(torch.equal(loss, term) for loss in passed), name
    g, d = model.named_optimizer("generator"), model.named_optimizer("discriminator")
    assert g.param_groups[0]["lr"] == pytest.approx(0.002 * 3 / 4)
    assert d.param_groups[0]["lr"] == pytest.approx(0.002 * 2 / 3)
    assert g.param_groups[0]["betas"] == pytest.approx((0.0, 0.99 ** 0.75))
    assert d.param_groups[0]["betas"] == pytest.approx((0.0, 0.99 ** (2 / 3)))
    assert g.param_groups[0]["eps"] == d.param_groups[0]["eps"] == 1e-8
    # G stepped 6 + 2 times, D 6 + 3 times
    assert {int(s["step"]) for s in g.state.values()} == {8} and {int(s["step"]) for s in d.state.values()} == {9}


def test_paper_defaults_recipe_and_bad_values():
    assert StyleGAN2.recipe == {"lr_g": 0.002, "lr_d": 0.002, "betas": (0.0, 0.99), "critic_steps": 1}
    model = StyleGAN2(data_shape=(1, 32, 32), channel_base=256, channel_max=8)
    assert (model.latent_dim, model.generator.mapping.w_dim, len(model.generator.mapping.layers)) == (512, 512, 8)
    assert (model.r1_gamma, model.r1_interval, model.pl_weight, model.pl_decay, model.pl_batch_shrink,
            model.pl_interval, model.style_mixing_prob) == (10.0, 16, 2.0, 0.01, 2, 4, 0.9)
    assert model.generator.mapping.w_avg_beta == 0.995 and model.discriminator.mbstd.group_size == 4
    assert "Karras" in StyleGAN2.paper
    for key, value in (("r1_gamma", "big"), ("r1_gamma", -1.0), ("r1_interval", 1), ("pl_interval", -2),
                       ("style_mixing_prob", 1.5), ("pl_batch_shrink", 0)):
        with pytest.raises(ValueError, match=key):
            build_model(**{key: value})
    with pytest.raises(ValueError, match="square"):
        build_model(data_shape=(1, 28, 32))
    phases = [p.name for p in build_model(r1_interval=0, pl_weight=0.0).phase_list]
    assert phases == ["D", "G"]  # the regularizers can be switched off (the authors' cifar config drops PL)


def test_pl_mean_is_in_the_checkpoint_and_survives_a_resume(tmp_path):
    model = build_model()
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True, every_n_train_steps=3)
    trained(model, 6, tmp_path, callbacks=[checkpoint, InterruptAt(3)], enable_checkpointing=True)
    saved = torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=False)
    pl_mean = saved["gan_lightning"]["training_state"]["pl_mean"]
    assert pl_mean.item() > 0 and torch.equal(pl_mean, model.training_state.pl_mean)  # PL ran at iteration 2
    seen = {}

    class AtStart(L.Callback):
        def on_train_start(self, trainer, pl_module):
            seen["pl_mean"] = pl_module.training_state.pl_mean.clone()

    resumed = build_model()
    assert resumed.training_state.pl_mean.item() == 0
    L.seed_everything(0)
    tiny_trainer(tmp_path, 6, callbacks=[AtStart()]).fit(resumed, build_data(), ckpt_path=str(tmp_path / "ckpt" /
                                                                                               "last.ckpt"))
    assert torch.equal(seen["pl_mean"], pl_mean)
    assert not torch.equal(resumed.training_state.pl_mean, pl_mean)  # and it moved on at iteration 5


# ----------------------------------------------------------------------------- EMA half-life in images
def test_ema_half_life_in_images_and_rampup():
    ema = EMACallback(half_life_images=64)
    assert ema.current_decay(100, 8) ** 8 == pytest.approx(0.5)  # 64 images = 8 batches of 8: half
    assert ema.current_decay(100, 32) ** 2 == pytest.approx(0.5)  # the same half-life at another batch
    ramped = EMACallback(half_life_images=10_000, rampup=0.05)
    assert ramped.current_decay(0, 32) == 0.0  # nothing seen yet: the EMA is G
    assert ramped.current_decay(100, 32) == pytest.approx(0.5 ** (32 / (100 * 32 * 0.05)))
    assert ramped.current_decay(10**6, 32) == pytest.approx(0.5 ** (32 / 10_000))
    # the existing per-iteration options keep their meaning
    assert EMACallback(0.9, warmup=False).current_decay(5) == 0.9
    assert EMACallback(0.999).current_decay(0) == pytest.approx(0.1)
    for kwargs, key in (({"half_life_images": 0}, "half_life_images"), ({"rampup": 0.05}, "half_life_images"),
                        ({"half_life_images": 10, "rampup": -1}, "rampup")):
        with pytest.raises(ValueError, match=key):
            EMACallback(**kwargs)


def test_ema_half_life_during_training(tmp_path):
    snapshots = []

    class Snapshot(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, *args):
            snapshots.append((torch.cat([p.detach().flatten() for p in pl_module.generator.parameters()]),
                              torch.cat([p.detach().flatten() for p in pl_module.generator_ema.parameters()])))

    model = build_model()
    start = torch.cat([p.detach().flatten() for p in model.generator.parameters()])
    trained(model, 2, tmp_path, callbacks=[EMACallback(half_life_images=16), Snapshot()])
    beta = 0.5 ** (8 / 16)  # batch 8
    (g1, e1), (g2, e2) = snapshots
    assert torch.allclose(e1, beta * start + (1 - beta) * g1, atol=1e-6)
    assert torch.allclose(e2, beta * e1 + (1 - beta) * g2, atol=1e-6)
    snapshots.clear()
    trained(build_model(), 1, tmp_path / "ramp", callbacks=[EMACallback(half_life_images=16, rampup=0.05),
                                                            Snapshot()])
    assert torch.equal(snapshots[0][0], snapshots[0][1])  # ramp-up: the first EMA is G itself
    # w_avg (a buffer) is copied into the EMA generator: truncation uses the tracked average
    assert torch.equal(model.generator_ema.mapping.w_avg, model.generator.mapping.w_avg)
    assert model.generator.mapping.w_avg.abs().sum() > 0


def test_short_fit_moves_weights_and_logs_finite_terms(tmp_path):
    model = build_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = trained(model, 4, tmp_path, log_every_n_steps=1)
    moved = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert any(k.startswith("generator.mapping.") for k in moved)
    assert any(k.startswith("generator.synthesis.") for k in moved)
    assert any(k.startswith("discriminator.") for k in moved)
    assert "generator.mapping.w_avg" in moved
    for name in ("d_loss", "g_loss", "dreg_loss", "r1_penalty", "greg_loss", "pl_mean"):
        assert math.isfinite(trainer.callback_metrics[name].item()), name


def test_cli_sample_truncation_is_psi(tmp_path, monkeypatch):
    """`gan-lightning sample --truncation PSI` reaches StyleGAN2.sample as psi: 0 draws one image."""
    from gan_lightning import cli

    model = build_model()
    with torch.no_grad():
        model.generator.mapping.w_avg.normal_()
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    trained(model, 1, tmp_path, callbacks=[checkpoint], enable_checkpointing=True)
    drawn = []
    import gan_lightning.callbacks as callbacks

    monkeypatch.setattr(callbacks, "write_samples", lambda samples, out, nrow, **_: drawn.append(samples) or out)
    for psi in ("0", "1"):
        cli.main(["sample", "--ckpt_path", str(tmp_path / "ckpt" / "last.ckpt"), "--num_samples", "6",
                  "--out", str(tmp_path / "grid.png"), "--truncation", psi, "--seed", "1"])
    average, plain = drawn
    # psi=0: one image (up to float rounding of batched convolutions); psi=1: as many as z
    assert (average - average[:1]).abs().max() < 1e-5
    assert (plain - plain[:1]).abs().amax(dim=(1, 2, 3))[1:].min() > 0.1
