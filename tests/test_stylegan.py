"""StyleGAN v1 (Karras et al. 2019): AdaIN replaces each channel's instance statistics with the
style's, style mixing at p=1 uses two ws, truncation stops at the cutoff, R1 in D's loss every
iteration, and the authors' defaults. The bitwise mid-epoch resume, DDP and device checks run in the
every-model tests (tiny_stylegan.py)."""

from __future__ import annotations

import pytest
import torch
from tiny_stylegan import build_model

from gan_lightning.core import StepContext
from gan_lightning.losses import nonsaturating_d, r1_penalty
from gan_lightning.models import StyleGAN
from gan_lightning.nets.stylegan import AdaIN, StyleGANGenerator


def test_adain_output_statistics_are_the_styles_bias_and_scale():
    torch.manual_seed(0)
    adain = AdaIN(channels=5, w_dim=7)
    w = torch.randn(3, 7)
    x = torch.randn(3, 5, 8, 8) * torch.rand(3, 5, 1, 1) * 4 + torch.randn(3, 5, 1, 1) * 3
    out = adain(x, w)
    scale, bias = adain.style(w)
    assert scale.shape == bias.shape == (3, 5) and bias.abs().min() > 1e-3  # a non-trivial style
    assert torch.allclose(out.mean(dim=(2, 3)), bias, atol=1e-5)
    assert torch.allclose(out.std(dim=(2, 3), unbiased=False), scale.abs(), atol=1e-4)
    # the input's own per-channel mean and scale are gone: shifting and scaling x changes nothing
    assert torch.allclose(adain(x * 7.0 - 2.0, w), out, atol=1e-4)
    # a different w gives other statistics
    other = adain(x, torch.randn(3, 7))
    assert not torch.allclose(other.mean(dim=(2, 3)), bias, atol=1e-2)


def test_style_mixing_at_probability_one_uses_two_ws():
    model = build_model(style_mixing_prob=1.0)  # 16 px: 6 ws
    net = model.generator.train()
    torch.manual_seed(5)
    z = torch.randn(4, 8)
    state = torch.get_rng_state()
    mixed = model.mapped_ws(z)
    # the same draws by hand: the crossover layer, the mixing coin, the second z
    torch.set_rng_state(state)
    cutoff = int(torch.randint(1, net.num_ws, ()).item())
    assert torch.rand(()).item() < 1.0
    z2 = torch.randn_like(z)
    with torch.no_grad():
        first, second = net.mapping(z, update_w_avg=False), net.mapping(z2, update_w_avg=False)
    assert 1 <= cutoff < net.num_ws
    assert torch.equal(mixed[:, :cutoff], first[:, :cutoff]) and torch.equal(mixed[:, cutoff:], second[:, cutoff:])
    assert not torch.allclose(first[:, 0], second[:, 0])
    with torch.no_grad():
        # make every style count (the noise weights start at 0; the styles already do)
        images = [net.synthesis(ws, noise_mode="const") for ws in (mixed, first, second)]
    assert (images[0] - images[1]).abs().max() > 1e-3 and (images[0] - images[2]).abs().max() > 1e-3
    # p=0: one w for every layer
    unmixed = build_model(style_mixing_prob=0.0)
    ws = unmixed.mapped_ws(z)
    assert torch.equal(ws, ws[:, :1].expand_as(ws))


def test_truncation_reaches_only_the_first_cutoff_layers():
    torch.manual_seed(0)
    net = StyleGANGenerator(8, 8, 1, 16, mapping_layers=2, fmap_base=32, fmap_max=8, truncation_cutoff=4)
    net.mapping.w_avg.normal_()
    ws = net.mapping(torch.randn(3, 8))
    truncated = net.truncate(ws, 0.0)
    assert torch.equal(truncated[:, :4], net.mapping.w_avg.expand(3, 4, 8))
    assert torch.equal(truncated[:, 4:], ws[:, 4:])
    half = net.truncate(ws, 0.7)
    assert torch.allclose(half[:, :4], net.mapping.w_avg + 0.7 * (ws[:, :4] - net.mapping.w_avg))
    assert torch.equal(net.truncate(ws, 1.0), ws)
    net.truncation_cutoff = None
    assert torch.equal(net.truncate(ws, 0.0), net.mapping.w_avg.expand(3, 6, 8))


def test_r1_is_part_of_the_discriminator_loss_every_iteration():
    model = build_model()
    assert [p.name for p in model.phase_list] == ["D", "G"]
    torch.manual_seed(1)
    ctx = StepContext(torch.randn(8, 1, 16, 16))
    ctx.fake = torch.randn(8, 1, 16, 16)
    terms = model.discriminator_terms(ctx)
    real_logits, fake_logits = model.discriminator(ctx.real), model.discriminator(ctx.fake)
    penalty = r1_penalty(model.discriminator, ctx.real)
    assert penalty > 0 and terms["r1_gamma"].item() == 10.0
    assert torch.allclose(terms["d_loss"], nonsaturating_d(real_logits, fake_logits, 1.0) + 5.0 * penalty)
    assert [p.name for p in build_model(r1_interval=4).phase_list] == ["D", "Dreg", "G"]  # lazy, as StyleGAN2
    assert [p.name for p in build_model(r1_interval=0).phase_list] == ["D", "G"]
    assert "r1_penalty" not in build_model(r1_gamma=0.0).discriminator_terms(ctx)


def test_authors_defaults_and_bad_values():
    assert StyleGAN.recipe == {"lr_g": 0.001, "lr_d": 0.001, "betas": (0.0, 0.99), "critic_steps": 1}
    model = StyleGAN(data_shape=(1, 32, 32), fmap_base=64, fmap_max=8)
    g = model.generator
    assert (model.latent_dim, g.mapping.w_dim, len(g.mapping.layers), g.mapping.w_avg_beta) == (512, 512, 8, 0.995)
    assert g.mapping.layers[0].lr_multiplier == 0.01
    assert (model.style_mixing_prob, g.truncation_cutoff, model.r1_gamma, model.r1_interval) == (0.9, 8, 10.0, 1)
    assert g.num_ws == 8 and torch.equal(g.synthesis.const, torch.ones(8, 4, 4))  # 2 log2(32) - 2; ones
    noise = g.synthesis.layers[3].noise.weight
    assert noise.shape == (8,) and not noise.any()  # per channel, from 0
    with pytest.raises(ValueError, match="power-of-two"):
        build_model(data_shape=(1, 28, 28))
    for key, value in (("r1_gamma", "big"), ("r1_interval", -1), ("style_mixing_prob", 2.0),
                       ("truncation_cutoff", -1)):
        with pytest.raises(ValueError, match=key):
            build_model(**{key: value})
