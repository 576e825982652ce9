"""The stabilisation toolbox as options of every model: one-sided label smoothing (instance noise is in
test_augment.py, beside the other D-input transforms)."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch

from conftest import tiny_trainer
from gan_lightning.losses import nonsaturating_d
from gan_lightning.models import DCGAN, GAN, WGANGP, known_models
from test_core import tiny_data, tiny_model

SMOOTHING = sorted(name for name, cls in known_models().items() if cls.smooths_real_labels)


def test_the_models_that_smooth_labels_are_the_binary_cross_entropy_ones():
    assert SMOOTHING == ["AAE", "ACGAN", "BiGAN", "CGAN", "CoGAN", "DCGAN", "DRAGAN", "GAN", "InfoGAN", "MRGAN",
                         "PacGAN", "Pix2Pix", "SRGAN", "SSInfoGAN", "SemiSupervisedGAN", "StyleGAN2", "UNIT",
                         "UnrolledGAN"]


@pytest.mark.parametrize("name", SMOOTHING)
def test_every_such_model_trains_d_on_the_smoothed_real_target(name, tmp_path, monkeypatch):
    """Each D update of a model that declares it asks ``real_target`` for its real samples' target."""
    L.seed_everything(0)
    model = tiny_model(name, label_smoothing=[0.8, 1.0])
    targets = []
    original = model.real_target
    monkeypatch.setattr(model, "real_target", lambda logits: targets.append(original(logits)) or targets[-1])
    tiny_trainer(tmp_path, 3, limit_val_batches=0).fit(model, tiny_data(name))
    assert targets, f"{name} never asked for the real target"
    drawn = torch.cat([t.flatten() for t in targets])
    assert drawn.min() >= 0.8 and drawn.max() <= 1.0 and drawn.std() > 0  # one draw per real logit


def test_a_fixed_target_moves_d_s_optimum_on_reals_to_it():
    """BCE against 0.9: the real term's gradient vanishes where sigmoid(logit) = 0.9, not at +infinity."""
    model = GAN(data_shape=(2,), label_smoothing=0.9)
    logits = torch.full((4,), math.log(0.9 / 0.1), requires_grad=True)
    fake = torch.full((4,), -50.0)
    nonsaturating_d(logits, fake, model.real_target(logits)).backward()
    assert logits.grad.abs().max() < 1e-6
    plain = torch.full((4,), math.log(0.9 / 0.1), requires_grad=True)
    nonsaturating_d(plain, fake, GAN(data_shape=(2,)).real_target(plain)).backward()
    assert (plain.grad < -0.01).all()  # without smoothing D still pushes the real logits up


def test_bad_label_smoothing_values_and_models_without_real_targets_are_one_line_errors():
    accepted = r"a number in \(0, 1\] \(e.g. 0.9\) or \[low, high\] with 0 < low <= high <= 1"
    for value, shown in [(0.0, "0.0"), (1.5, "1.5"), ([0.9, 0.8], r"\[0.9, 0.8\]"), ([0.5], r"\[0.5\]")]:
        with pytest.raises(ValueError, match=f"model.label_smoothing must be {accepted} .*, got {shown}"):
            GAN(data_shape=(2,), label_smoothing=value)
    with pytest.raises(ValueError, match="model.label_smoothing: WGANGP's D is not trained with binary cross-entropy"):
        WGANGP(data_shape=(2,), label_smoothing=0.9)
    # DCGAN's real_label is the old spelling of a fixed label_smoothing
    assert DCGAN(data_shape=(1, 28, 28), g_width=8, d_width=8, real_label=0.9).label_smoothing == 0.9
    with pytest.raises(ValueError, match="model.real_label is label_smoothing's old spelling; give one of the two"):
        DCGAN(data_shape=(1, 28, 28), g_width=8, d_width=8, real_label=0.9, label_smoothing=0.8)
