"""MAD-GAN-Sim (MADGAN ``objective="similarity"``): the margin term on D's feature similarity is
larger for generators that draw the same points than for distinct ones, its gradient pushes the
generators apart, and the variant trains."""

from __future__ import annotations

import copy

import lightning as L
import pytest
import torch
from conftest import tiny_trainer

from gan_lightning.data import Toy2D
from gan_lightning.models import MADGAN

TINY = {"data_shape": (2,), "latent_dim": 4, "g_hidden": (16, 16), "d_hidden": (16, 16)}


def model(**overrides):
    torch.manual_seed(0)
    return MADGAN(objective="similarity", **{**TINY, **overrides})


def cross_similarity(m, z):
    feats = [torch.nn.functional.normalize(m.features(g(z)), dim=1) for g in m.generator.generators]
    return float((feats[0] * feats[1]).sum(1).mean())


def test_term_is_larger_for_identical_generators_than_for_distinct_ones():
    distinct = model(num_generators=2).eval()
    identical = copy.deepcopy(distinct)
    identical.generator.generators[1].load_state_dict(identical.generator.generators[0].state_dict())
    z = torch.randn(64, 4, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        same, apart = identical.similarity_term(z), distinct.similarity_term(z)
    # identical generators: psi_ij = 1, so every hinge is at least the margin
    assert float(same) >= identical.similarity_margin - 1e-6
    assert float(same) > float(apart)


def test_its_gradient_pushes_the_generators_apart():
    m = model(num_generators=2).eval()
    m.generator.generators[1].load_state_dict(m.generator.generators[0].state_dict())
    with torch.no_grad():  # nearly identical: a small perturbation breaks the tie
        for p in m.generator.generators[1].parameters():
            p.add_(0.01 * torch.randn_like(p))
    z = torch.randn(64, 4, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        before_term, before_cross = float(m.similarity_term(z)), cross_similarity(m, z)
    optimizer = torch.optim.Adam(m.generator.parameters(), lr=0.01)  # G only: D's features stay fixed
    for _ in range(20):
        optimizer.zero_grad()
        m.similarity_term(z).backward()
        optimizer.step()
    with torch.no_grad():
        after_term, after_cross = float(m.similarity_term(z)), cross_similarity(m, z)
    assert before_term > 0.5 and after_term < 0.05, (before_term, after_term)
    # the two generators' features went from nearly parallel to far apart
    assert before_cross > 0.99 and after_cross < 0.5, (before_cross, after_cross)


def test_similarity_variant_has_a_binary_d_and_trains(tmp_path):
    L.seed_everything(0)
    m = model()
    assert m.discriminator.head.out_features == 1
    tiny_trainer(tmp_path, 4).fit(m, Toy2D(num_points=400, batch_size=30))
    terms = m.latest_terms
    assert {"g_adversarial", "g_similarity", "d_loss"} <= set(terms)
    assert torch.isfinite(terms["g_loss"]) and float(terms["g_similarity"]) >= 0
    assert m.sample(6).shape == (6, 2)


def test_bad_objective_names_the_key():
    with pytest.raises(ValueError, match="model.objective must be 'classifier' or 'similarity', got 'sim'"):
        MADGAN(objective="sim", **TINY)
    with pytest.raises(ValueError, match="model.objective 'similarity' needs model.num_generators >= 2, got 1"):
        MADGAN(objective="similarity", num_generators=1, **TINY)
