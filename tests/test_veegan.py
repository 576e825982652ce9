"""VEEGAN: the reconstructor's terms, the stochastic codes D sees, and a short seeded fit on ring8."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from conftest import tiny_trainer

from gan_lightning.core import StepContext
from gan_lightning.data import Toy2D
from gan_lightning.models import VEEGAN

TINY = {"data_shape": (2,), "latent_dim": 6, "g_hidden": (16, 16), "d_hidden": (16, 16), "f_hidden": (16, 16)}


def step_context(model, real):
    ctx = StepContext(real, due=frozenset({"D", "G"}))
    model.prepare_step(ctx)
    return ctx


def grads(module):
    return [p.grad for p in module.parameters()]


@pytest.mark.parametrize("kind", ["gaussian", "unit", "deterministic"])
def test_reconstructor_gets_only_the_reconstruction_and_generator_both_terms(kind):
    torch.manual_seed(0)
    model = VEEGAN(reconstructor=kind, **TINY)
    ctx = step_context(model, torch.randn(32, 2))
    terms = model.generator_terms(ctx)
    # F's gradient of the adversarial term alone is zero (Algorithm 1: F sees the reconstruction only)
    model.zero_grad()
    terms["g_adversarial"].backward(retain_graph=True)
    assert all(g is None or torch.count_nonzero(g) == 0 for g in grads(model.reconstructor))
    assert any(g is not None and torch.count_nonzero(g) > 0 for g in grads(model.generator))
    model.zero_grad()
    terms["z_recon"].backward()
    assert all(torch.count_nonzero(g) > 0 for g in grads(model.reconstructor) if g is not None)
    assert float(terms["g_loss"]) == pytest.approx(float(terms["g_adversarial"] + terms["z_recon"]))


def test_noise_reconstruction_matches_its_formulas():
    torch.manual_seed(1)
    z, x = torch.randn(8, 6), torch.randn(8, 2)
    unit = VEEGAN(reconstructor="unit", **TINY)
    expected = ((z - unit.reconstructor(x)) ** 2).sum(1).mean()
    assert torch.allclose(unit.noise_reconstruction(z, x), expected)
    gaussian = VEEGAN(reconstructor="gaussian", **TINY)
    mean, raw = gaussian.reconstructor(x).chunk(2, dim=1)
    scale = torch.nn.functional.softplus(raw) + 1e-6
    nll = -torch.distributions.Normal(mean, scale).log_prob(z).sum(1).mean() - 6 * 0.5 * torch.log(torch.tensor(2 * torch.pi))
    assert torch.allclose(gaussian.noise_reconstruction(z, x), nll, atol=1e-5)


def test_data_pairs_carry_a_drawn_code_unless_deterministic():
    x = torch.randn(16, 2)
    for kind, random in (("gaussian", True), ("unit", True), ("deterministic", False)):
        model = VEEGAN(reconstructor=kind, **TINY)
        first, second = model.encode_sample(x), model.encode_sample(x)
        assert (not torch.equal(first, second)) is random, kind
        assert first.shape == (16, 6) and model.encode(x).shape == (16, 6)


def test_reconstructor_adversarial_option_adds_fs_term():
    torch.manual_seed(0)
    model = VEEGAN(reconstructor_adversarial=True, **TINY)
    ctx = step_context(model, torch.randn(32, 2))
    terms = model.generator_terms(ctx)
    assert float(terms["g_loss"]) == pytest.approx(float(terms["g_adversarial"] + terms["z_recon"] + terms["f_adversarial"]))
    model.zero_grad()
    terms["f_adversarial"].backward()
    assert any(g is not None and torch.count_nonzero(g) > 0 for g in grads(model.reconstructor))


def test_bad_reconstructor_names_the_key():
    with pytest.raises(ValueError, match="model.reconstructor must be 'gaussian', 'unit' or 'deterministic', got 'vae'"):
        VEEGAN(reconstructor="vae", **TINY)
    with pytest.raises(ValueError, match="model.reconstruction_weight must be >= 0, got -1"):
        VEEGAN(reconstruction_weight=-1, **TINY)


def test_short_fit_on_ring8_lowers_the_noise_reconstruction(tmp_path):
    L.seed_everything(0)
    torch.set_num_threads(1)
    model = VEEGAN(**TINY)
    data = Toy2D(num_points=2000, batch_size=100)
    z = torch.randn(200, 6, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        before = float(model.noise_reconstruction(z, model.generator(z)))
    tiny_trainer(tmp_path, 60, limit_train_batches=20).fit(model, data)
    with torch.no_grad():
        after = float(model.noise_reconstruction(z, model.generator(z)))
    assert after < before - 0.5, (before, after)
    assert model.sample(10).shape == (10, 2)
