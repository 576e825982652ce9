"""MRGAN (Che et al. 2017): the geometric and mode regularizers, the encoder trained with G, the
regularized scheme's and MDGAN's phases (manifold and diffusion steps), images, bad options."""

from __future__ import annotations

import lightning as L
import pytest
import torch

from gan_lightning.core import StepContext
from gan_lightning.losses import nonsaturating_d, nonsaturating_g
from gan_lightning.models import MRGAN
from gan_lightning.models.mrgan import squared_distance
from tiny_fgan_mrgan import build_data, build_mrgan


def fit(model, steps: int, tmp_path, data=None):
    L.Trainer(max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False, limit_val_batches=0, accelerator="cpu",
              default_root_dir=tmp_path).fit(model, data or build_data())
    return model


def context(model, batch: int = 8, seed: int = 0) -> StepContext:
    g = torch.Generator().manual_seed(seed)
    ctx = StepContext(torch.randn(batch, 2, generator=g), due=frozenset({"D", "G", "Dm", "Gm"}))
    model.prepare_step(ctx)
    return ctx


def test_squared_distance_is_the_per_sample_squared_l2_averaged():
    x = torch.tensor([[0.0, 0.0], [1.0, 2.0]])
    y = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    assert float(squared_distance(x, y)) == pytest.approx((25 + 4) / 2)
    images = torch.ones(2, 3, 4, 4)
    assert float(squared_distance(images, torch.zeros_like(images))) == pytest.approx(48.0)


def test_generator_loss_is_gan_plus_weighted_geometric_and_mode_terms():
    L.seed_everything(0, verbose=False)
    model = build_mrgan(geometric_weight=0.3, mode_weight=0.7)
    ctx = context(model)
    torch.manual_seed(1)
    terms = model.generator_terms(ctx)
    recon = model.generator(model.encode(ctx.real))
    assert torch.allclose(terms["geometric"], squared_distance(recon, ctx.real))
    # the mode term rewards G(E(x)) that D calls real: -log D(G(E(x)))
    assert torch.allclose(terms["mode"], nonsaturating_g(model.discriminator(recon)))
    assert torch.allclose(terms["g_adversarial"], nonsaturating_g(model.discriminator(ctx.fake)))
    assert torch.allclose(terms["g_loss"], terms["g_adversarial"] + 0.3 * terms["geometric"] + 0.7 * terms["mode"])
    # both regularizers reach E through G(E(x)); the GAN term does not
    model.zero_grad()
    terms["g_adversarial"].backward(retain_graph=True)
    assert all(p.grad is None or not p.grad.any() for p in model.encoder.parameters())
    (terms["geometric"] + terms["mode"]).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())


def test_discriminator_loss_of_the_regularized_scheme_is_the_gan_loss():
    model = build_mrgan()
    ctx = context(model)
    terms = model.discriminator_terms(ctx)
    expected = nonsaturating_d(model.discriminator(ctx.real), model.discriminator(ctx.fake.detach()))
    assert torch.allclose(terms["d_loss"], expected)


def test_regularized_scheme_phases_and_groups_and_a_fit_moves_g_e_and_d(tmp_path):
    L.seed_everything(0, verbose=False)
    model = build_mrgan()
    assert [(p.name, p.optimizer) for p in model.phases()] == [("D", "discriminator"), ("G", "generator")]
    groups = {name: list(params) for name, params in model.optimizer_groups().items()}
    assert set(groups) == {"generator", "discriminator"}
    assert {id(p) for p in model.encoder.parameters()} <= {id(p) for p in groups["generator"]}
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fit(model, 3, tmp_path)
    for prefix in ("generator.", "encoder.", "discriminator."):
        assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items() if k.startswith(prefix)), prefix


def test_mdgan_manifold_and_diffusion_steps(tmp_path):
    L.seed_everything(0, verbose=False)
    model = build_mrgan(scheme="mdgan")
    assert [(p.name, p.optimizer) for p in model.phases()] == [
        ("Dm", "discriminator_manifold"), ("Gm", "generator"), ("D", "discriminator"), ("G", "generator")]
    ctx = context(model)
    recon = model.reconstruct(ctx.real).detach()
    # manifold step: D_m tells x (real) from G(E(x)) (fake)
    dm = model.manifold_discriminator_terms(ctx)["d_manifold_loss"]
    assert torch.allclose(dm, nonsaturating_d(model.discriminator_manifold(ctx.real), model.discriminator_manifold(recon)))
    gm = model.manifold_generator_terms(ctx)
    assert torch.allclose(gm["g_manifold_loss"], model.geometric_weight * gm["geometric"] + gm["mode"])
    assert torch.allclose(gm["mode"], nonsaturating_g(model.discriminator_manifold(recon)))
    # diffusion step: D_d tells G(E(x)) (as real) from G(z) (fake); G pulls G(z) towards it
    fake = model.generator(ctx.z).detach()
    dd = model.diffusion_discriminator_terms(ctx)["d_loss"]
    assert torch.allclose(dd, nonsaturating_d(model.discriminator(recon), model.discriminator(fake)))
    assert torch.allclose(model.diffusion_generator_terms(ctx)["g_loss"], nonsaturating_g(model.discriminator(fake)))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fit(model, 3, tmp_path)
    for prefix in ("generator.", "encoder.", "discriminator.", "discriminator_manifold."):
        assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items() if k.startswith(prefix)), prefix
    assert torch.isfinite(model.sample(16)).all()


def test_image_mrgan_has_a_convolutional_encoder_and_trains(tmp_path):
    L.seed_everything(0, verbose=False)
    model = MRGAN((1, 16, 16), latent_dim=8, g_width=4, d_width=4, e_width=4)
    x = torch.rand(4, 1, 16, 16) * 2 - 1
    assert model.encode(x).shape == (4, 8) and model.reconstruct(x).shape == x.shape
    images = torch.utils.data.TensorDataset(torch.rand(16, 1, 16, 16) * 2 - 1, torch.zeros(16, dtype=torch.long))
    from gan_lightning.data import MNIST5k

    data = MNIST5k(image_size=16, batch_size=8)
    data.train_set = data.heldout_set = images
    fit(model, 2, tmp_path, data)
    assert model.sample(4).shape == (4, 1, 16, 16)


def test_bad_options_fail_in_one_line():
    with pytest.raises(ValueError) as error:
        build_mrgan(scheme="manifold")
    assert "\n" not in str(error.value) and "model.scheme" in str(error.value) and "regularized, mdgan" in str(error.value)
    with pytest.raises(ValueError, match="model.mode_weight must be >= 0, got -1"):
        build_mrgan(mode_weight=-1)


def test_recipe_and_paper_defaults():
    model = MRGAN((2,), latent_dim=2)
    assert model.scheme == "regularized" and (model.geometric_weight, model.mode_weight) == (0.2, 0.4)
    assert model.discriminator_manifold is None
    assert (model.lr_g, model.lr_d, model.betas) == (1e-4, 1e-4, (0.5, 0.999))
