"""f-GAN (Nowozin et al. 2016): every divergence's activation and conjugate against closed forms,
the variational bound reaching the true divergence, the losses, the 1-D mixture data and short fits."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch

from gan_lightning.data import Mixture1D, mass_per_mode
from gan_lightning.losses import nonsaturating_d, nonsaturating_g
from gan_lightning.losses.fdivergence import (
    DIVERGENCES, f_divergence, fgan_d, fgan_g, get_divergence, variational_bound,
)
from gan_lightning.models import FGAN
from tiny_fgan_mrgan import build_data, build_fgan

NAMES = list(DIVERGENCES)
# Table 2 of the paper, written out once more here (f*(t) closed forms and the domain of t).
CONJUGATES = {
    "kl": lambda t: math.exp(t - 1),
    "reverse_kl": lambda t: -1 - math.log(-t),
    "pearson": lambda t: t * t / 4 + t,
    "neyman": lambda t: 2 - 2 * math.sqrt(1 - t),
    "squared_hellinger": lambda t: t / (1 - t),
    "jensen_shannon": lambda t: -math.log(2 - math.exp(t)),
    "gan": lambda t: -math.log(1 - math.exp(t)),
}


def test_the_table_has_the_papers_seven_divergences():
    assert NAMES == ["kl", "reverse_kl", "pearson", "neyman", "squared_hellinger", "jensen_shannon", "gan"]


@pytest.mark.parametrize("name", NAMES)
def test_conjugate_is_the_legendre_transform_of_f(name):
    """f*(t) = sup_u u t - f(u): at t = f'(u0) the sup is attained at u0, and no u on a dense grid beats it."""
    d = get_divergence(name)
    u_grid = torch.logspace(-4, 3, 200_001, dtype=torch.float64)
    for u0 in (0.3, 0.7, 1.0, 2.0, 4.0):
        u0 = torch.tensor(u0, dtype=torch.float64)
        t = d.derivative(u0)
        closed = CONJUGATES[name](float(t))
        assert float(d.conjugate(t)) == pytest.approx(closed, rel=1e-9, abs=1e-12)
        assert closed == pytest.approx(float(u0 * t - d.generator(u0)), rel=1e-9, abs=1e-12)
        numeric = float((u_grid * t - d.generator(u_grid)).max())
        assert numeric <= closed + 1e-9 and numeric == pytest.approx(closed, abs=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_activation_lands_in_the_conjugate_domain_and_the_composed_form_matches(name):
    d = get_divergence(name)
    low, high = d.conjugate_domain
    v = torch.linspace(-30, 30, 601, dtype=torch.float64)
    t = d.activation(v)
    assert bool(((t > low) & (t < high)).all())
    moderate = torch.linspace(-4, 4, 81, dtype=torch.float64)
    assert torch.allclose(d.conjugate_of_activation(moderate), d.conjugate(d.activation(moderate)), rtol=1e-9)
    assert bool(torch.isfinite(d.conjugate_of_activation(torch.tensor([-80.0, 80.0]))).all()) or name == "kl"


P = torch.tensor([0.1, 0.2, 0.3, 0.15, 0.25], dtype=torch.float64)
Q = torch.tensor([0.3, 0.1, 0.1, 0.3, 0.2], dtype=torch.float64)


def discrete_bound(v: torch.Tensor, name: str) -> torch.Tensor:
    """F(V) = sum_x p(x) g_f(V(x)) - sum_x q(x) f*(g_f(V(x))) for two discrete distributions."""
    d = get_divergence(name)
    return (P * d.activation(v)).sum() - (Q * d.conjugate_of_activation(v)).sum()


@pytest.mark.parametrize("name", NAMES)
def test_optimising_the_discriminator_reaches_the_true_divergence(name):
    exact = float(f_divergence(P, Q, name))
    closed = {"kl": float((P * (P / Q).log()).sum()), "reverse_kl": float((Q * (Q / P).log()).sum()),
              "pearson": float(((P - Q) ** 2 / Q).sum()), "neyman": float(((P - Q) ** 2 / P).sum()),
              "squared_hellinger": float(((P.sqrt() - Q.sqrt()) ** 2).sum())}
    m = (P + Q) / 2
    js = float(0.5 * (P * (P / m).log()).sum() + 0.5 * (Q * (Q / m).log()).sum())
    closed.update(jensen_shannon=2 * js, gan=2 * js - math.log(4))
    assert exact == pytest.approx(closed[name], rel=1e-9)
    # V free on the 5 points, trained by gradient ascent on the bound (what D does)
    v = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([v], lr=0.05)
    start = float(discrete_bound(v.detach(), name))
    for _ in range(3000):
        optimizer.zero_grad()
        (-discrete_bound(v, name)).backward()
        optimizer.step()
    reached = float(discrete_bound(v, name))
    assert start < exact - 1e-3  # the optimisation had something to do
    assert reached <= exact + 1e-9 and reached == pytest.approx(exact, abs=2e-4)
    # the optimal T is f'(p/q): g_f(V) equals it at the optimum
    assert torch.allclose(get_divergence(name).activation(v.detach()), get_divergence(name).derivative(P / Q),
                          atol=2e-2)


@pytest.mark.parametrize("name", NAMES)
def test_the_bound_is_a_lower_bound_for_any_discriminator(name):
    g = torch.Generator().manual_seed(0)
    exact = float(f_divergence(P, Q, name))
    for _ in range(20):
        v = torch.randn(5, generator=g, dtype=torch.float64) * 2
        assert float(discrete_bound(v, name)) <= exact + 1e-12


def test_losses_from_batches_and_the_gan_row_is_the_gan_loss():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(64, generator=g), torch.randn(64, generator=g)
    for name in NAMES:
        d = get_divergence(name)
        bound = d.activation(real).mean() - d.conjugate_of_activation(fake).mean()
        assert torch.allclose(variational_bound(real, fake, name), bound)
        assert torch.allclose(fgan_d(real, fake, name), -bound)
        assert torch.allclose(fgan_g(fake, name), -d.activation(fake).mean())
        assert torch.allclose(fgan_g(fake, name, "saturating"), -d.conjugate_of_activation(fake).mean())
    # the GAN row: D's loss is the usual BCE, G's trick loss the non-saturating -log D(G(z))
    assert torch.allclose(fgan_d(real, fake, "gan"), nonsaturating_d(real, fake), atol=1e-6)
    assert torch.allclose(fgan_g(fake, "gan"), nonsaturating_g(fake), atol=1e-6)
    # Jensen-Shannon and GAN differ by a constant only
    assert torch.allclose(fgan_d(real, fake, "jensen_shannon") - fgan_d(real, fake, "gan"),
                          torch.tensor(-math.log(4.0)), atol=1e-6)


def test_bad_divergence_and_objective_fail_in_one_line():
    with pytest.raises(ValueError) as error:
        FGAN((2,), divergence="wasserstein")
    message = str(error.value)
    assert "\n" not in message and "'wasserstein'" in message and "divergence" in message
    assert all(name in message for name in NAMES)
    with pytest.raises(ValueError, match="generator_objective.*'nope'.*trick, saturating"):
        FGAN((2,), generator_objective="nope")
    with pytest.raises(ValueError, match="model.generator.*'mixture'"):
        FGAN((2,), generator="mixture")


def test_model_loss_terms_use_the_chosen_divergence():
    model = build_fgan(divergence="pearson")
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    terms = model.discriminator_loss(real, fake)
    expected = fgan_d(model.discriminator(real), model.discriminator(fake), "pearson")
    assert torch.allclose(terms["d_loss"], expected) and torch.allclose(terms["divergence_estimate"], -expected)
    assert torch.allclose(model.generator_loss(real, fake)["g_loss"], fgan_g(model.discriminator(fake), "pearson"))


def test_gaussian_generator_is_a_gaussian_with_learned_mean_and_std():
    model = FGAN((1,), generator="gaussian", latent_dim=1, gaussian_init=(0.5, 2.0))
    assert sorted(n for n, _ in model.generator.named_parameters()) == ["log_std", "mean"]
    x = model.sample(20_000, rng=torch.Generator().manual_seed(0))
    assert x.shape == (20_000, 1)
    assert float(x.mean()) == pytest.approx(0.5, abs=0.05) and float(x.std()) == pytest.approx(2.0, rel=0.03)
    with pytest.raises(ValueError, match="latent_dim must be >= the data dimension 2"):
        FGAN((2,), generator="gaussian", latent_dim=1)


def test_mixture1d_data_and_mass_per_mode():
    data = Mixture1D(means=(-2.0, 2.0), stds=(0.5, 0.5), weights=(1, 3), num_points=4000, seed=0)
    data.setup()
    x, labels = data.train_set.tensors
    assert x.shape == (4000, 1) and data.data_shape == (1,) and data.data_kind == "toy1d"
    assert float((labels == 1).double().mean()) == pytest.approx(0.75, abs=0.03)
    assert float(x[labels == 0].mean()) == pytest.approx(-2.0, abs=0.05)
    mass = mass_per_mode(x, data.means, data.stds)
    assert mass[0] == pytest.approx(0.25, abs=0.03) and mass[1] == pytest.approx(0.75, abs=0.03)
    assert mass_per_mode(torch.full((10, 1), 2.0), data.means, data.stds) == [0.0, 1.0]
    with pytest.raises(ValueError, match="data.stds must be > 0"):
        Mixture1D(stds=(0.5, 0.0))
    with pytest.raises(ValueError, match="one entry per component"):
        Mixture1D(means=(0.0,), stds=(1.0, 1.0))


def fit(model, data, steps: int, tmp_path):
    L.Trainer(max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False, limit_val_batches=0, accelerator="cpu",
              default_root_dir=tmp_path).fit(model, data)
    return model


def test_kl_spreads_a_gaussian_over_both_modes_and_reverse_kl_moves_it_to_one(tmp_path):
    """The paper's section 4 effect after 200 steps (seeded): KL widens Q towards the mixture's std
    (2.06), reverse KL keeps it narrower, on its way to one mode's (0.5)."""
    torch.set_num_threads(1)
    stds = {}
    for name in ("kl", "reverse_kl"):
        L.seed_everything(0, verbose=False)
        model = FGAN((1,), divergence=name, generator="gaussian", latent_dim=1, d_hidden=(32, 32),
                     gaussian_init=(0.3, 1.0), lr_g=0.02, lr_d=0.005)
        fit(model, Mixture1D(num_points=2000, seed=0), 200, tmp_path / name)
        stds[name] = float(model.generator.log_std.exp())
    assert stds["kl"] > 1.3 and stds["reverse_kl"] < stds["kl"] - 0.2


def test_short_fit_on_2d_points_with_each_divergence(tmp_path):
    for name in NAMES:
        L.seed_everything(0, verbose=False)
        model = build_fgan(divergence=name)
        before = {k: v.clone() for k, v in model.state_dict().items()}
        fit(model, build_data(), 3, tmp_path / name)
        assert torch.isfinite(model.sample(16)).all()
        assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())
