"""VGGFeatures and PerceptualLoss with random VGG19 weights made at run time (no weights ship)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gan_lightning.losses.perceptual import PerceptualLoss
from gan_lightning.evaluation.extractors import MissingWeightsError
from gan_lightning.nets.vgg import VGG19_LAYERS, VGG19_WEIGHTS_FILENAME, VGGFeatures


def random_vgg19(path, with_classifier: bool = False):
    """A random torchvision vgg19 state_dict at ``path``: its ``features.*`` entries, the part VGGFeatures
    reads (the whole model's file is 548 MB); ``with_classifier``: plus stand-ins for the other entries."""
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(0)
    state = {f"features.{k}": v for k, v in make_layers(cfgs["E"]).state_dict().items()}
    if with_classifier:
        state.update({"classifier.0.weight": torch.zeros(2, 2), "classifier.0.bias": torch.zeros(2)})
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory):
    return random_vgg19(tmp_path_factory.mktemp("vgg") / "vgg19.pth")


def test_layer_indices_match_torchvision_vgg19():
    from torchvision.models.vgg import cfgs, make_layers

    features = make_layers(cfgs["E"])
    assert VGG19_LAYERS["relu2_2"] == 8 and VGG19_LAYERS["relu3_4"] == 17 and VGG19_LAYERS["relu5_4"] == 35
    assert [VGG19_LAYERS[f"relu{b}_1"] for b in range(1, 6)] == [1, 6, 11, 20, 29]  # SPADE's slices
    assert len(VGG19_LAYERS) == 16
    for name, index in VGG19_LAYERS.items():
        assert isinstance(features[index], nn.ReLU), name
        assert isinstance(features[index - 1], nn.Conv2d), name
    # the block's conv count: relu<b>_<c> is the c-th conv after the (b-1)-th pool
    pools = [i for i, layer in enumerate(features) if isinstance(layer, nn.MaxPool2d)]
    for name, index in VGG19_LAYERS.items():
        block, conv = (int(v) for v in name[4:].split("_"))
        assert sum(p < index for p in pools) == block - 1
        start = pools[block - 2] + 1 if block > 1 else 0
        assert (index - start + 1) // 2 == conv


def test_features_match_torchvision_and_network_is_truncated(vgg_file):
    from torchvision.models.vgg import cfgs, make_layers

    net = VGGFeatures(("relu3_4", "relu1_2"), weights=vgg_file)
    assert len(net.network) == 18  # cut after relu3_4
    reference = make_layers(cfgs["E"])
    reference.load_state_dict({k[9:]: v for k, v in torch.load(vgg_file).items()})
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    normalised = ((x + 1) / 2 - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor(
        [0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    out = net(x)
    assert torch.allclose(out[0], reference[:18](normalised), atol=1e-5)
    assert torch.allclose(out[1], reference[:4](normalised), atol=1e-5)
    assert out[0].shape == (2, 256, 8, 8) and out[1].shape == (2, 64, 32, 32)
    # frozen, eval, but differentiable in its input
    assert not any(p.requires_grad for p in net.parameters())
    assert net.train().training is False
    x.requires_grad_(True)
    net(x)[0].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_state_dict_with_other_entries_loads(tmp_path):
    path = random_vgg19(tmp_path / "full.pth", with_classifier=True)
    net = VGGFeatures(("relu5_4",), weights=path)
    assert len(net.network) == 36
    assert net(torch.zeros(1, 1, 16, 16))[0].shape == (1, 512, 1, 1)  # grey input repeated to RGB


def test_perceptual_loss_zero_on_identical_inputs_positive_otherwise(vgg_file):
    torch.manual_seed(1)
    x, y = torch.rand(2, 3, 24, 24) * 2 - 1, torch.rand(2, 3, 24, 24) * 2 - 1
    for criterion in ("l1", "mse"):
        loss = PerceptualLoss(("relu1_1", "relu2_1", "relu3_1"), (1 / 32, 1 / 16, 1 / 8), weights=vgg_file,
                              criterion=criterion)
        assert loss(x, x.clone()).item() == 0.0
        assert loss(x, y).item() > 0.0
    # layer weights scale the terms
    single = PerceptualLoss(("relu2_2",), weights=vgg_file, criterion="mse")
    scaled = PerceptualLoss(("relu2_2",), (1 / 12.75 ** 2,), weights=vgg_file, criterion="mse")
    assert torch.allclose(scaled(x, y) * 12.75 ** 2, single(x, y), rtol=1e-5)


def test_missing_weights_is_one_line_naming_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(MissingWeightsError) as info:
        VGGFeatures()
    message = str(info.value)
    assert "\n" not in message and VGG19_WEIGHTS_FILENAME in message and str(tmp_path / "hub") in message
    with pytest.raises(MissingWeightsError, match="nowhere.pth"):
        PerceptualLoss(("relu5_4",), weights=tmp_path / "nowhere.pth")


def test_bad_arguments_name_the_value(vgg_file):
    with pytest.raises(ValueError, match="relu6_1"):
        VGGFeatures(("relu6_1",), weights=vgg_file)
    with pytest.raises(ValueError, match="criterion"):
        PerceptualLoss(("relu1_1",), weights=vgg_file, criterion="l3")
    with pytest.raises(ValueError, match="one weight per layer"):
        PerceptualLoss(("relu1_1", "relu2_1"), (1.0,), weights=vgg_file)
