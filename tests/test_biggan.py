"""BigGAN (Brock et al. 2019) class conditioning: class-conditional BN on [shared embedding, z chunk],
the hierarchical latent, the projection discriminator, orthogonal regularization, spectral norm,
truncation, the recipe and a short fit. The bitwise mid-epoch resume, the D entry point and DDP
run in tests/test_core*.py through tests/tiny_biggan.py."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from gan_lightning.core.protocol import Condition
from gan_lightning.losses import orthogonal_regularization
from gan_lightning.models import BigGAN
from gan_lightning.nets.biggan import ConditionalBatchNorm2d
from tiny_biggan import build_data, build_model


def cbn_inputs(model: BigGAN, run) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(the first linear's input, the conditioning vector each G block's first CBN saw) during ``run()``."""
    seen: dict[str, torch.Tensor] = {}
    hooks = [model.generator.linear.register_forward_pre_hook(lambda m, args: seen.__setitem__("linear", args[0]))]
    for k, block in enumerate(model.generator.blocks):
        hooks.append(block.bn1.register_forward_pre_hook(lambda m, args, k=k: seen.__setitem__(k, args[1])))
    try:
        run()
    finally:
        for hook in hooks:
            hook.remove()
    return seen["linear"], [seen[k] for k in range(len(model.generator.blocks))]


# ----------------------------------------------------------------------------- conditional BN
def test_conditional_bn_gain_and_bias_are_linear_maps_of_the_condition():
    torch.manual_seed(0)
    cbn = ConditionalBatchNorm2d(6, 5)
    x, c = torch.randn(4, 6, 3, 3), torch.randn(4, 5)
    normalised = F.batch_norm(x, None, None, training=True, eps=1e-5)
    gain = 1 + c @ cbn.gain.weight.t()
    bias = c @ cbn.bias.weight.t()
    expected = normalised * gain[:, :, None, None] + bias[:, :, None, None]
    assert torch.allclose(cbn(x, c), expected, atol=1e-5)
    assert cbn.gain.bias is None and cbn.bias.bias is None and not cbn.bn.affine
    # at c = 0 it is a plain BatchNorm without affine: the condition is what moves it
    assert torch.allclose(cbn(x, torch.zeros(4, 5)), normalised, atol=1e-5)


def test_different_classes_give_different_samples_for_the_same_z():
    model = build_model()
    z = torch.randn(1, 16, generator=torch.Generator().manual_seed(3)).repeat(10, 1)
    images = model.sample(noise=z, labels=torch.arange(10)).flatten(1)
    distances = torch.cdist(images, images)
    off_diagonal = distances[~torch.eye(10, dtype=torch.bool)]
    assert off_diagonal.min() > 1e-3  # every pair of classes differs
    again = model.sample(noise=z, labels=torch.arange(10)).flatten(1)
    assert torch.equal(images, again)  # and the same (z, class) gives the same image


def test_each_block_is_conditioned_on_the_shared_embedding_and_its_own_z_chunk():
    model = build_model()
    z, labels = torch.randn(5, 16), torch.tensor([0, 3, 3, 7, 9])
    first, conditions = cbn_inputs(model, lambda: model.sample(noise=z, labels=labels))
    generator = model.generator
    assert generator.num_chunks == 4 and generator.chunk_dim == 4  # the linear + 3 blocks at 32 px
    embedding = generator.shared(labels)
    assert torch.equal(first, z[:, :4])
    assert len(conditions) == 3
    for k, c in enumerate(conditions):
        assert torch.equal(c, torch.cat([embedding, z[:, 4 * (k + 1):4 * (k + 2)]], dim=1)), k
    # the second CBN of each block sees the same vector
    block = generator.blocks[1]
    assert block.bn2.gain.in_features == block.bn1.gain.in_features == 8 + 4


@pytest.mark.parametrize("chunk", [1, 2, 3])
def test_a_z_chunk_reaches_its_own_block_and_no_earlier_one(chunk):
    model = build_model()
    z, labels = torch.randn(4, 16), torch.arange(4)
    changed = z.clone()
    changed[:, 4 * chunk:4 * (chunk + 1)] += 1.0
    block_outputs = []
    for noise in (z, changed):
        outputs = {}
        hooks = [block.register_forward_hook(lambda m, a, out, k=k: outputs.__setitem__(k, out))
                 for k, block in enumerate(model.generator.blocks)]
        model.sample(noise=noise, labels=labels)
        for hook in hooks:
            hook.remove()
        block_outputs.append(outputs)
    for k in range(3):
        same = torch.equal(block_outputs[0][k], block_outputs[1][k])
        assert same == (k < chunk - 1), k  # chunk j (j >= 1) conditions block j - 1 and onwards


def test_non_hierarchical_g_feeds_all_of_z_to_the_linear_and_the_class_alone_to_the_blocks():
    model = build_model(hierarchical=False)
    z, labels = torch.randn(3, 16), torch.tensor([1, 2, 3])
    first, conditions = cbn_inputs(model, lambda: model.sample(noise=z, labels=labels))
    assert torch.equal(first, z)
    assert all(torch.equal(c, model.generator.shared(labels)) for c in conditions)


def test_latent_dim_must_split_into_the_chunks():
    with pytest.raises(ValueError, match="latent_dim 18 must split evenly into 4 chunks"):
        build_model(latent_dim=18)
    assert build_model(latent_dim=18, hierarchical=False).sample(2).shape == (2, 1, 32, 32)
    # 28 px: a 7x7 start and two blocks, three chunks
    model = BigGAN(data_shape=(1, 28, 28), latent_dim=12, g_width=2, d_width=2, shared_dim=4)
    assert model.generator.num_chunks == 3 and model.sample(3).shape == (3, 1, 28, 28)


# ----------------------------------------------------------------------------- projection D
def test_projection_term_is_the_inner_product_of_the_class_embedding_and_phi():
    model = build_model()
    d = model.discriminator.eval()  # eval: no power iteration between the calls
    x, labels = torch.randn(6, 1, 32, 32), torch.tensor([0, 1, 2, 2, 5, 9])
    with torch.no_grad():
        phi = d.features(x)
        by_hand = d.linear(phi).squeeze(1) + (d.embed.weight[labels] * phi).sum(dim=1)
        out = d(x, labels)
        assert phi.shape == (6, 16) and out.shape == (6,)
        assert torch.allclose(out, by_hand, atol=1e-5)
        # the class moves the score by exactly <embed(y) - embed(y'), phi>
        other = (labels + 1) % 10
        shift = ((d.embed.weight[labels] - d.embed.weight[other]) * phi).sum(dim=1)
        assert torch.allclose(out - d(x, other), shift, atol=1e-4)
        assert shift.abs().max() > 1e-3
        # phi is a sum over positions of non-negative features
        assert (phi >= 0).all()


# ----------------------------------------------------------------------------- orthogonal regularization
def test_orthogonal_regularization_value_by_hand():
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0], [0.0, 1.0]])
    # W W^T = [[5, 11, 2], [11, 25, 4], [2, 4, 1]]: off-diagonal squares 2 * (121 + 4 + 16)
    assert orthogonal_regularization([w]).item() == pytest.approx(282.0)
    conv = torch.arange(24.0).reshape(2, 3, 2, 2) / 10  # (out, in, k, k) viewed as (out, in*k*k)
    flat = conv.reshape(2, -1)
    assert orthogonal_regularization([conv, w]).item() == pytest.approx(2 * (flat[0] @ flat[1]).item() ** 2 + 282.0)


def test_orthogonal_regularization_is_zero_for_orthogonal_rows_whatever_their_norms():
    q, _ = torch.linalg.qr(torch.randn(8, 5, generator=torch.Generator().manual_seed(0)))
    rows = (q.t() * torch.tensor([[1.0], [2.0], [0.5], [3.0], [1.0]]))  # 5 orthogonal rows of different norms
    assert orthogonal_regularization([rows]).item() == pytest.approx(0.0, abs=1e-8)
    # the paper's point: only off-diagonal entries count (||W W^T - I|| would not be 0 here)
    assert (rows @ rows.t() - torch.eye(5)).norm() > 1
    assert orthogonal_regularization([rows + 0.1]).item() > 1e-3


def test_orthogonal_regularization_gradient_is_twice_the_authors_ortho_step():
    w = torch.randn(4, 6, generator=torch.Generator().manual_seed(1), requires_grad=True)
    orthogonal_regularization([w]).backward()
    with torch.no_grad():
        authors = 2 * ((w @ w.t()) * (1 - torch.eye(4))) @ w  # utils.ortho's gradient per unit strength
    assert torch.allclose(w.grad, 2 * authors, atol=1e-5)


def test_g_regularized_weights_exclude_the_shared_embedding_and_one_axis_parameters():
    model = build_model()
    chosen = model.ortho_parameters()
    names = {id(p): name for name, p in model.generator.named_parameters()}
    chosen_names = {names[id(p)] for p in chosen}
    assert "shared.weight" not in chosen_names
    every_2d = {name for name, p in model.generator.named_parameters() if p.dim() >= 2}
    assert chosen_names == every_2d - {"shared.weight"}
    # spectrally normalised layers: the weight before normalisation, as the authors' code regularises
    assert "linear.parametrizations.weight.original" in chosen_names
    assert "blocks.0.bn1.gain.parametrizations.weight.original" in chosen_names
    assert all(p.dim() >= 2 for p in chosen)
    by_hand = sum(orthogonal_regularization([p]) for p in chosen) * 1e-4
    assert model.orthogonal_penalty().item() == pytest.approx(by_hand.item(), rel=1e-6)
    assert model.orthogonal_penalty().item() > 0


def test_generator_loss_adds_the_penalty_and_beta_zero_removes_it():
    from gan_lightning.core import StepContext

    model = build_model(ortho_beta=1e-2)
    ctx = StepContext((torch.randn(4, 1, 32, 32), torch.arange(4)), due=frozenset({"D", "G"}))
    model.prepare_step(ctx)
    terms = model.generator_terms(ctx)
    assert terms["g_ortho"].item() == pytest.approx(model.orthogonal_penalty().item(), rel=1e-6)
    assert terms["g_loss"].item() == pytest.approx(terms["g_adv"].item() + terms["g_ortho"].item(), rel=1e-5)
    model.ortho_beta = 0.0
    terms = model.generator_terms(ctx)
    assert "g_ortho" not in terms and torch.equal(terms["g_loss"], terms["g_adv"])
    with pytest.raises(ValueError, match="model.ortho_beta must be >= 0, got -1"):
        build_model(ortho_beta=-1)


# ----------------------------------------------------------------------------- spectral norm
def is_sn(module: nn.Module) -> bool:
    return parametrize.is_parametrized(module, "weight") and \
        "SpectralNorm" in type(module.parametrizations.weight[0]).__name__


def test_spectral_norm_on_every_layer_of_g_and_d_but_not_gs_shared_embedding():
    model = build_model()
    for net in (model.generator, model.discriminator):
        layers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        assert len(layers) >= 10 and all(is_sn(m) for m in layers), type(net).__name__
    assert is_sn(model.discriminator.embed)  # D's projection embedding (the authors' SNEmbedding)
    assert not is_sn(model.generator.shared)


def sn_weights(net: nn.Module) -> list[torch.Tensor]:
    """The weights before spectral normalisation of every spectrally normalised layer of ``net``."""
    return [m.parametrizations.weight.original.detach() for m in net.modules() if is_sn(m)]


def test_init_n02_draws_normal_weights_ortho_orthogonal_ones_and_a_bad_name_is_refused():
    normal = build_model(init="N02", g_width=8, d_width=8)
    for net in (normal.generator, normal.discriminator):
        weights = torch.cat([w.flatten() for w in sn_weights(net)])
        assert abs(weights.std().item() - 0.02) < 0.001 and abs(weights.mean().item()) < 0.001
        assert all(float(m.bias.detach().abs().max()) == 0 for m in net.modules() if getattr(m, "bias", None) is not None
                   and isinstance(m, (nn.Conv2d, nn.Linear)))
    assert abs(normal.generator.shared.weight.std().item() - 0.02) < 0.005  # the shared embedding too
    ortho = build_model(g_width=8, d_width=8)
    w = ortho.discriminator.blocks[1].conv1.parametrizations.weight.original.detach().flatten(1)  # (32, 288)
    assert torch.allclose(w @ w.t(), torch.eye(32), atol=1e-5)
    with pytest.raises(ValueError, match=r"model.init 'xavier': accepted values are ortho, N02"):
        build_model(init="xavier")


def test_recipe_init_gives_adam_the_relative_step_of_the_authors_widths():
    """Issue 26: under spectral norm only W's direction counts, so Adam's step (~lr per entry) moves it by
    lr / rms(W) per step. Orthogonal rows of a narrow layer have large entries (1 / sqrt(fan_in)): at the
    recipe's width 8 the median rms is 0.059 in D (3x the authors' 32 px width, 0.021), and D's class
    embedding learned too slowly to tell the labels apart in 1,000 iterations (benchmarks/RESULTS.md,
    section biggan_probe). The recipe takes the authors' CIFAR script's ``--G_init N02 --D_init N02``."""
    from harness import build_mnist5k, load_recipe

    def median_rms(net: nn.Module) -> float:
        return float(torch.tensor([w.pow(2).mean().sqrt() for w in sn_weights(net)]).median())

    torch.manual_seed(0)
    model, _ = build_mnist5k("BigGAN")
    assert median_rms(model.discriminator) < 0.025 and median_rms(model.generator) < 0.025
    assert load_recipe("BigGAN", "mnist5k")["init_args"].get("init") == "N02"
    narrow_ortho, _ = build_mnist5k("BigGAN", init="ortho")
    assert median_rms(narrow_ortho.discriminator) > 0.05  # what the recipe had before


# ----------------------------------------------------------------------------- truncation
def test_truncation_redraws_every_entry_of_every_chunk():
    model = build_model()
    z = model.sample_noise(20000, rng=torch.Generator().manual_seed(0), truncation=1.0)
    assert z.shape == (20000, 16) and z.abs().max() <= 1.0
    # redrawn, not clamped: no mass at the bound, and the truncated normal's spread
    assert (z.abs() > 0.999).float().mean() < 0.01
    expected_std = math.sqrt(1 - 2 * math.exp(-0.5) / math.sqrt(2 * math.pi) / math.erf(1 / math.sqrt(2)))
    for k in range(4):
        chunk = z[:, 4 * k:4 * (k + 1)]
        assert abs(chunk.std().item() - expected_std) < 0.01, k
    with pytest.raises(ValueError, match="truncation must be > 0"):
        model.sample_noise(2, truncation=0.0)


def test_truncated_sampling_feeds_truncated_chunks_to_every_block():
    model = build_model()
    first, conditions = cbn_inputs(model, lambda: model.sample(64, truncation=0.3,
                                                               rng=torch.Generator().manual_seed(0)))
    assert first.abs().max() <= 0.3
    for c in conditions:
        assert c[:, 8:].abs().max() <= 0.3  # the chunk; the class embedding (first 8) is not truncated
    _, loose = cbn_inputs(model, lambda: model.sample(64, rng=torch.Generator().manual_seed(0)))
    assert max(c[:, 8:].abs().max() for c in loose) > 1.0
    a = model.sample(4, truncation=0.5, rng=torch.Generator().manual_seed(1))
    assert torch.equal(a, model.sample(4, truncation=0.5, rng=torch.Generator().manual_seed(1)))


# ----------------------------------------------------------------------------- recipe, sampling, fit
def test_recipe_is_the_authors_cifar_script_and_defaults():
    assert BigGAN.recipe == {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.0, 0.999), "critic_steps": 4}
    model = BigGAN()
    assert (model.lr_g, model.lr_d, model.betas, model.critic_steps) == (2e-4, 2e-4, (0.0, 0.999), 4)
    assert model.latent_dim == 128 and model.generator.chunk_dim == 32 and model.generator.features == 256
    assert model.generator.shared.embedding_dim == 128 and model.ortho_beta == 1e-4
    assert model.conditions() == (Condition("class", "label", 10),) and not model.translates
    assert "Brock" in BigGAN.paper and BigGAN.data_kinds == ("image",)
    with pytest.raises(ValueError, match="model.data_shape"):
        BigGAN(data_shape=(2,))


def test_preview_grid_has_one_row_per_class():
    model = build_model()
    grid, nrow = model.preview_grid(num_samples=64, nrow=8)
    assert grid.shape == (80, 1, 32, 32) and nrow == 8
    rows = grid.view(10, 8, -1)
    assert not torch.equal(rows[0], rows[1])
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 10\)"):
        model.sample(2, labels=torch.tensor([0, 10]))


def test_short_fit_steps_d_every_batch_g_every_critic_steps_with_uniform_fake_classes(tmp_path):
    L.seed_everything(0)
    model = build_model()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    fake_classes = []
    prepare = model.prepare_step

    def spy(ctx):
        prepare(ctx)
        fake_classes.append(ctx.fake_labels)
        assert torch.equal(ctx.labels, ctx.batch[1])  # D's real term uses the data's labels

    model.prepare_step = spy
    trainer = L.Trainer(max_steps=4, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0, accelerator="cpu", devices=1,
                        default_root_dir=str(tmp_path), log_every_n_steps=1)
    trainer.fit(model, build_data())
    g, d = model.named_optimizer("generator"), model.named_optimizer("discriminator")
    assert g.param_groups[0]["betas"] == d.param_groups[0]["betas"] == (0.0, 0.999)
    assert {int(s["step"]) for s in d.state.values()} == {4} and {int(s["step"]) for s in g.state.values()} == {2}
    moved = {name for name, p in model.named_parameters() if not torch.equal(before[name], p.detach())}
    assert any(n.startswith("generator.shared") for n in moved) and any(n.startswith("discriminator.embed") for n in
                                                                        moved)
    assert len(fake_classes) == 4 and len(torch.cat(fake_classes).unique()) > 5
    for name in ("d_loss", "g_loss", "g_adv", "g_ortho"):
        assert torch.isfinite(trainer.callback_metrics[name]), name
