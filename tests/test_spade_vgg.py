"""SPADE's optional VGG loss (``vgg_weight`` > 0) through the shared ``PerceptualLoss``
(gan_lightning/losses/perceptual.py, built on the SRGAN branch): it needs that module, so it lives
apart from tests/test_spade.py. Random VGG19 weights are made at run time (none are bundled)."""

from __future__ import annotations

import lightning as L
import torch

from conftest import tiny_trainer
from gan_lightning.core import StepContext
from tiny_spade import build_data, build_model, rectangles


def random_vgg19(path):
    import torchvision

    torch.manual_seed(0)
    torch.save(torchvision.models.vgg19(weights=None).state_dict(), path)
    return str(path)


def test_vgg_loss_term_weighted_and_trained(tmp_path):
    from gan_lightning.losses.perceptual import PerceptualLoss
    from gan_lightning.models.spade import VGG_LAYER_WEIGHTS, VGG_LAYERS

    weights = random_vgg19(tmp_path / "vgg19.pth")
    L.seed_everything(0)
    model = build_model(vgg_weight=10.0, vgg_weights=weights)
    assert not any("vgg" in key for key in model.state_dict())  # the frozen VGG is not saved with SPADE
    labels, images = rectangles(4, 16, 3)
    ctx = StepContext({"label": labels, "image": images}, due=frozenset({"D", "G"}))
    model.prepare_step(ctx)
    terms = model.generator_terms(ctx)
    reference = PerceptualLoss(VGG_LAYERS, VGG_LAYER_WEIGHTS, weights=weights, criterion="l1")
    assert torch.allclose(terms["g_vgg"], reference(ctx.fake, images), atol=1e-5)
    assert torch.allclose(terms["g_loss"], terms["g_gan"] + 10 * terms["g_feat"] + 10 * terms["g_vgg"], atol=1e-4)
    assert float(reference(images, images)) == 0.0
    tiny_trainer(tmp_path, 2).fit(model, build_data())
