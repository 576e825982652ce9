"""AAE with label information (Makhzani et al. 2015, section 4) and the semi-supervised AAE (section 5):
the mixture prior, D's label slots, and on a tiny 3-class image set (seeded) that labelled codes land in
their class's component and that the semi-supervised classifier beats chance."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch
from conftest import tiny_trainer
from torch.utils.data import TensorDataset

from gan_lightning.core import StepContext
from gan_lightning.data.base import GANDataModule
from gan_lightning.models import AAE, SemiSupervisedAAE
from gan_lightning.models.aae import mixture_prior


def bars(num: int, seed: int) -> TensorDataset:
    """16 px images of 3 classes: a bright horizontal bar in the class's third of the image, noise 0.1."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(num) % 3
    images = -torch.ones(num, 1, 16, 16)
    for c in range(3):
        images[labels == c, :, 5 * c: 5 * c + 4, :] = 1.0
    return TensorDataset(images + 0.1 * torch.randn(images.shape, generator=generator), labels)


class Bars(GANDataModule):
    data_shape = (1, 16, 16)

    def __init__(self, batch_size: int = 24, seed: int = 0) -> None:
        super().__init__(batch_size=batch_size, seed=seed)

    def build_datasets(self):
        return bars(240, self.seed), bars(60, self.seed + 1)


def nearest_component(codes: torch.Tensor, num_components: int) -> torch.Tensor:
    angles = torch.arange(num_components) * (2 * math.pi / num_components)
    directions = torch.stack([angles.cos(), angles.sin()], dim=1)
    return (codes @ directions.T).argmax(dim=1)


def test_mixture_prior_puts_component_k_on_its_ray():
    normal = torch.randn(4000, 2, generator=torch.Generator().manual_seed(0))
    for k in range(4):
        points = mixture_prior(normal, torch.full((4000,), k), 4)
        angle = math.atan2(float(points[:, 1].mean()), float(points[:, 0].mean()))
        assert abs(math.remainder(angle - k * math.pi / 2, 2 * math.pi)) < 0.02
        assert float(points.norm(dim=1).mean()) == pytest.approx(1.4, abs=0.1)
        assert (nearest_component(points, 4) == k).float().mean() > 0.95


def test_label_slots_and_d_input():
    model = AAE(data_shape=(1, 16, 16), latent_dim=2, g_width=8, e_width=8, code_hidden=(16, 16), prior="mixture",
                label_information=True, num_classes=3, label_fraction=0.5)
    assert model.discriminator.features[1].in_features == 2 + 4  # code + 3 classes + "no label"
    codes = torch.zeros(6, 2)
    slots = model.batch_slots(torch.tensor([2, 1, 0, 2, 1, 0]), codes)
    assert slots.tolist() == [2, 1, 0, 3, 3, 3]
    assert model.with_label_slots(codes, slots)[:, 2:].argmax(1).tolist() == [2, 1, 0, 3, 3, 3]
    prior = model.prior_codes(torch.tensor([0, 1, 2] * 200))
    assert (nearest_component(prior, 3) == torch.tensor([0, 1, 2] * 200)).float().mean() > 0.95
    assert model.sample(6).shape == (6, 1, 16, 16)


def test_bad_label_options_name_the_key():
    with pytest.raises(ValueError, match="model.label_information needs model.prior 'mixture'"):
        AAE(label_information=True)
    with pytest.raises(ValueError, match="model.latent_dim must be 2, got 8"):
        AAE(prior="mixture", latent_dim=8)
    with pytest.raises(ValueError, match="model.prior must be 'gaussian' or 'mixture', got 'swiss'"):
        AAE(prior="swiss")


def test_labelled_codes_land_in_their_classes_component(tmp_path):
    L.seed_everything(0)
    model = AAE(data_shape=(1, 16, 16), latent_dim=2, g_width=8, e_width=8, code_hidden=(32, 32), prior="mixture",
                label_information=True, num_classes=3, lr_g=2e-3, lr_d=2e-3, lr_e=2e-3)
    tiny_trainer(tmp_path, 120, limit_train_batches=10).fit(model, Bars())
    images, labels = bars(60, 7).tensors
    model.eval()
    with torch.no_grad():
        hits = (nearest_component(model.encode(images), 3) == labels).float().mean()
    assert hits > 0.8, float(hits)  # chance: 1/3


def test_semi_supervised_classifier_beats_chance(tmp_path):
    L.seed_everything(0)
    model = SemiSupervisedAAE(data_shape=(1, 16, 16), latent_dim=2, num_classes=3, g_width=8, e_width=8,
                              code_hidden=(32, 32), num_labeled=6)
    assert [p.name for p in model.phase_list] == ["recon", "D", "Dcat", "G", "sup"]
    tiny_trainer(tmp_path, 40, limit_train_batches=10).fit(model, Bars())
    assert model.labeled_targets.bincount().tolist() == [2, 2, 2]  # 6 labels, stratified
    images, labels = bars(60, 7).tensors
    model.eval()
    with torch.no_grad():
        accuracy = (model.classify(images).argmax(1) == labels).float().mean()
    assert accuracy > 0.8, float(accuracy)  # chance: 1/3
    assert set(model.latest_terms) >= {"recon_loss", "d_loss", "dcat_loss", "g_loss", "sup_loss"}
    assert StepContext((images, labels)).batch_size == 60
    assert model.sample(3, labels=torch.tensor([0, 1, 2])).shape == (3, 1, 16, 16)
