"""SAGAN (Zhang et al. 2019): the self-attention block, where it sits in G and D, spectral norm in
both networks, the hinge loss, the TTUR recipe reaching the optimizers, sampling and a short fit."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from gan_lightning.data import MNIST5k
from gan_lightning.models import SAGAN
from gan_lightning.nets import SelfAttention2d

TINY = dict(latent_dim=8, g_width=8, d_width=8)


def tiny(size: int = 32, **overrides) -> SAGAN:
    return SAGAN(data_shape=(1, size, size), **{**TINY, **overrides})


def random_images(size: int = 32, num: int = 32) -> MNIST5k:
    """A data module of random images in [-1, 1] (the checks here need no digits)."""
    images = torch.rand(num, 1, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    dataset = torch.utils.data.TensorDataset(images, torch.zeros(num, dtype=torch.long))
    data = MNIST5k(image_size=size, batch_size=8)
    data.train_set, data.heldout_set = dataset, dataset
    return data


def with_gamma(block: SelfAttention2d, value: float) -> SelfAttention2d:
    with torch.no_grad():
        block.gamma.fill_(value)
    return block


# ----------------------------------------------------------------------------- the attention block
@pytest.mark.parametrize("spectral_norm", [False, True])
def test_block_is_the_identity_at_initialisation(spectral_norm):
    torch.manual_seed(0)
    block = SelfAttention2d(16, spectral_norm=spectral_norm)
    x = torch.randn(3, 16, 8, 8)
    assert block.gamma.shape == () and block.gamma.item() == 0.0 and block.gamma.requires_grad
    assert torch.equal(block(x), x)
    assert not torch.equal(with_gamma(block, 0.5)(x), x)


@pytest.mark.parametrize("pool_keys, keys", [(True, 4 * 6), (False, 8 * 12)])
def test_attention_weights_are_a_distribution_over_positions(pool_keys, keys):
    torch.manual_seed(0)
    block = SelfAttention2d(16, pool_keys=pool_keys)
    weights = block.attention(torch.randn(2, 16, 8, 12))
    assert weights.shape == (2, 8 * 12, keys)  # one row per query position; pooled keys: HW/4
    assert (weights >= 0).all()
    assert torch.allclose(weights.sum(dim=-1), torch.ones(2, 8 * 12), atol=1e-6)


@pytest.mark.parametrize("channels, height, width", [(16, 8, 8), (4, 6, 10), (64, 16, 16), (3, 2, 2)])
def test_output_shape_and_layer_sizes(channels, height, width):
    block = with_gamma(SelfAttention2d(channels), 1.0)
    assert block(torch.randn(2, channels, height, width)).shape == (2, channels, height, width)
    # the authors' sizes: f, g to C/8, h to C/2, v back to C (at least one channel each)
    assert block.query.out_channels == block.key.out_channels == max(1, channels // 8)
    assert block.value.out_channels == block.out.in_channels == max(1, channels // 2)
    assert block.out.out_channels == channels
    assert all(conv.bias is None for conv in (block.query, block.key, block.value, block.out))


def test_pooled_keys_need_even_sizes():
    with pytest.raises(ValueError, match="even height and width"):
        SelfAttention2d(8)(torch.randn(1, 8, 7, 7))
    assert SelfAttention2d(8, pool_keys=False)(torch.randn(1, 8, 7, 7)).shape == (1, 8, 7, 7)


def test_gradient_reaches_gamma_and_then_the_attention_convolutions():
    torch.manual_seed(0)
    block = SelfAttention2d(16, spectral_norm=True)
    x = torch.randn(2, 16, 8, 8)
    block(x).pow(2).sum().backward()
    assert block.gamma.grad is not None and block.gamma.grad.abs() > 0
    block.zero_grad()
    with_gamma(block, 0.3)(x).pow(2).sum().backward()
    for conv in (block.query, block.key, block.value, block.out):
        grad = conv.parametrizations.weight.original.grad
        assert grad is not None and grad.abs().sum() > 0


@pytest.mark.parametrize("pool_keys", [True, False])
def test_a_position_sees_the_far_corner_once_gamma_is_nonzero(pool_keys):
    """Self-attention's point: one layer connects every pair of positions (a 3x3 conv does not)."""
    torch.manual_seed(0)
    block = with_gamma(SelfAttention2d(16, pool_keys=pool_keys), 1.0)
    conv = nn.Conv2d(16, 16, 3, padding=1)
    x = torch.randn(1, 16, 12, 12)
    far = x.clone()
    far[..., 0, 0] += 10.0  # change the top-left position only
    with torch.no_grad():
        assert (block(far) - block(x))[..., -1, -1].abs().max() > 1e-4  # bottom-right output moved
        assert torch.equal(conv(far)[..., -1, -1], conv(x)[..., -1, -1])  # a convolution's did not
        # at gamma = 0 nothing non-local reaches it either: the block starts local
        with_gamma(block, 0.0)
        assert torch.equal(block(far)[..., -1, -1], far[..., -1, -1])


# ----------------------------------------------------------------------------- the networks
def sn_layers(module: nn.Module):
    weighted = [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    return weighted, [m for m in weighted if parametrize.is_parametrized(m, "weight")
                      and "SpectralNorm" in type(m.parametrizations.weight[0]).__name__]


@pytest.mark.parametrize("size", [28, 32, 64])
def test_spectral_norm_on_every_layer_of_g_and_d_but_g_s_image_layer(size):
    model = tiny(size, g_image_layer_spectral_norm=True)  # the authors' residual G: every layer
    for net in (model.generator, model.discriminator):
        weighted, normalised = sn_layers(net)
        assert normalised == weighted and len(weighted) >= 6, type(net).__name__
        attention = [m for m in net.modules() if isinstance(m, SelfAttention2d)]
        assert len(attention) == 1 and all(m in normalised for m in attention[0].children())
    model = tiny(size)  # the default, as heykeetae's DCGAN-style G: all but the image layer
    weighted, normalised = sn_layers(model.generator)
    image_layer = model.generator.net[-2]
    assert isinstance(image_layer, torch.nn.ConvTranspose2d) and image_layer.out_channels == 1
    assert [m for m in weighted if m not in normalised] == [image_layer] and len(normalised) >= 5
    weighted, normalised = sn_layers(model.discriminator)
    assert normalised == weighted
    weighted, normalised = sn_layers(tiny(32, g_spectral_norm=False).generator)
    assert normalised == [] and weighted


def test_the_mnist_recipe_leaves_g_s_image_layer_unnormalised():
    import yaml

    from gan_lightning.cli import EXPERIMENTS

    init_args = yaml.safe_load((EXPERIMENTS / "sagan" / "mnist5k.yaml").read_text())["model"]["init_args"]
    model = SAGAN(data_shape=(1, 32, 32), **init_args)
    weighted, normalised = sn_layers(model.generator)
    assert [m for m in weighted if m not in normalised] == [model.generator.net[-2]]


def attention_input_sizes(model: SAGAN) -> tuple[tuple, tuple]:
    seen = {}

    def remember(name):
        def hook(module, args):
            seen[name] = args[0].shape
        return hook

    hooks = [net.attention.register_forward_pre_hook(remember(name))
             for name, net in (("G", model.generator), ("D", model.discriminator))]
    model.discriminator(model.sample(2))
    for hook in hooks:
        hook.remove()
    return tuple(seen["G"][1:]), tuple(seen["D"][1:])


@pytest.mark.parametrize("size, resolution, g_channels, d_channels", [
    (32, None, 8, 8), (32, 8, 16, 16), (28, None, 8, 8), (64, 16, 16, 16),
])
def test_attention_sits_at_the_same_resolution_in_g_and_d(size, resolution, g_channels, d_channels):
    model = tiny(size, attention_resolution=resolution)
    expected = resolution or size // 2  # default: G's second-to-last level
    assert model.generator.attention_resolution == model.discriminator.attention_resolution == expected
    g_shape, d_shape = attention_input_sizes(model)
    assert g_shape == (g_channels, expected, expected) and d_shape == (d_channels, expected, expected)


def test_bad_attention_resolution_lists_the_allowed_ones():
    with pytest.raises(ValueError, match=r"one of \[4, 8, 16\]"):
        tiny(32, attention_resolution=32)
    with pytest.raises(ValueError, match=r"even sizes.*one of \[14\]"):
        tiny(28, attention_resolution=7)  # 7x7 cannot be pooled 2x2
    assert tiny(28, attention_resolution=7, pool_keys=False).generator.attention_resolution == 7


def _without_attention(net: nn.Module) -> list[torch.Tensor]:
    """``net``'s parameters and buffers in order, those of its attention block left out."""
    block = net.attention
    skip = set() if block is None else {id(t) for t in [*block.parameters(), *block.buffers()]}
    return [t for t in [*net.parameters(), *net.buffers()] if id(t) not in skip]


def test_attention_false_is_the_same_networks_without_the_block():
    """The ablation baseline: no attention module, no gamma logged, and otherwise the same networks:
    with the same weights its G and D compute what SAGAN's do while gamma is 0 (its initial value)."""
    with_block, without = tiny(32), tiny(32, attention=False)
    for net in (without.generator, without.discriminator):
        assert net.attention is None and not any(isinstance(m, SelfAttention2d) for m in net.modules())
        weighted, normalised = sn_layers(net)
        unnormalised = [net.net[-2]] if net is without.generator else []  # spectral norm stays where it was
        assert [m for m in weighted if m not in normalised] == unnormalised
    for source, target in ((with_block.generator, without.generator), (with_block.discriminator, without.discriminator)):
        pairs = list(zip(_without_attention(source), _without_attention(target), strict=True))
        assert all(a.shape == b.shape for a, b in pairs)
        with torch.no_grad():
            for a, b in pairs:
                b.copy_(a)
    with_block.eval(), without.eval()
    z = torch.randn(4, 8, generator=torch.Generator().manual_seed(0))
    images = with_block.generator(z)
    assert torch.equal(images, without.generator(z))
    assert torch.equal(with_block.discriminator(images), without.discriminator(images))
    # once gamma moves, the block changes G's output: the switch is what differs
    with_gamma(with_block.generator.attention, 0.5)
    assert not torch.allclose(with_block.generator(z), images)
    real, fake = torch.zeros(2, 1, 32, 32), torch.ones(2, 1, 32, 32)
    assert "d_attention_gamma" not in without.discriminator_loss(real, fake)
    assert set(without.generator_loss(real, fake)) == {"g_loss"}


# ----------------------------------------------------------------------------- losses and recipe
def test_hinge_losses_of_d_and_g():
    model = tiny()
    real, fake = torch.zeros(3, 1, 32, 32), torch.ones(3, 1, 32, 32)
    scores = {id(real): torch.tensor([2.0, 0.5, -1.0]), id(fake): torch.tensor([-2.0, 0.0, 1.0])}
    model.discriminate = lambda x, labels=None: scores[id(x)]
    d_terms = model.discriminator_loss(real, fake)
    # E relu(1 - D(x)) = (0 + 0.5 + 2) / 3, E relu(1 + D(G(z))) = (0 + 1 + 2) / 3
    assert d_terms["d_loss"].item() == pytest.approx(2.5 / 3 + 1.0)
    assert d_terms["d_attention_gamma"].item() == 0.0
    g_terms = model.generator_loss(real, fake)
    assert g_terms["g_loss"].item() == pytest.approx(1.0 / 3)  # -E D(G(z)) = -(-2 + 0 + 1) / 3


def test_recipe_is_the_papers_ttur():
    assert SAGAN.recipe == {"lr_g": 1e-4, "lr_d": 4e-4, "betas": (0.0, 0.9), "critic_steps": 1}
    model = tiny()
    assert (model.optimizer_name, model.lr_g, model.lr_d, model.betas, model.critic_steps) == \
        ("adam", 1e-4, 4e-4, (0.0, 0.9), 1)
    assert model.latent_dim == 8 and SAGAN().latent_dim == 128 and "Zhang" in SAGAN.paper
    assert SAGAN.data_kinds == ("image",) and model.conditions() == () and model.output().kind == "image"


# ----------------------------------------------------------------------------- sampling and a short fit
def test_sample_shapes_and_seeded_samples():
    model = tiny(28)
    assert model.sample(5).shape == (5, 1, 28, 28)
    assert torch.equal(model.sample(3, rng=torch.Generator().manual_seed(1)),
                       model.sample(3, rng=torch.Generator().manual_seed(1)))
    model.enable_ema()  # the EMA copy of a spectrally normalised G samples too
    assert model.sample(2).shape == (2, 1, 28, 28)
    grid, nrow = model.preview_grid(num_samples=16)
    assert grid.shape == (16, 1, 28, 28) and nrow == 8
    assert SAGAN(data_shape=(3, 64, 64), g_width=4, d_width=4).sample(2).shape == (2, 3, 64, 64)


def test_short_fit_moves_both_networks_and_gamma_with_the_recipes_optimizers(tmp_path):
    L.seed_everything(0)
    model = tiny()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    trainer = L.Trainer(max_steps=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0, accelerator="cpu", devices=1,
                        default_root_dir=str(tmp_path), log_every_n_steps=1)
    trainer.fit(model, random_images())
    assert trainer.global_step == 3
    g, d = model.named_optimizer("generator"), model.named_optimizer("discriminator")
    assert isinstance(g, torch.optim.Adam) and isinstance(d, torch.optim.Adam)
    assert g.param_groups[0]["lr"] == 1e-4 and d.param_groups[0]["lr"] == 4e-4
    assert g.param_groups[0]["betas"] == d.param_groups[0]["betas"] == (0.0, 0.9)
    # one D step per G step: each optimizer stepped three times
    assert all(int(state["step"]) == 3 for opt in (g, d) for state in opt.state.values())
    moved = {name for name, p in model.named_parameters() if not torch.equal(before[name], p.detach())}
    assert any(name.startswith("generator.") for name in moved)
    assert any(name.startswith("discriminator.") for name in moved)
    gammas = {name for name in before if name.endswith(".gamma")}
    assert len(gammas) == 2 and gammas <= moved  # attention switched on in G and D
    for name, value in trainer.callback_metrics.items():
        assert torch.isfinite(value).all(), name
    assert "g_attention_gamma" in trainer.callback_metrics and "d_attention_gamma" in trainer.callback_metrics
