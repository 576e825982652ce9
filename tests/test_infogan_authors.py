"""InfoGAN's MNIST networks as the authors built them (``architecture="authors"``, gan_lightning/nets/infogan.py):
shapes, Q on D's last hidden layer, the layers and parameter counts of github.com/openai/InfoGAN's
``infogan/models/regularized_gan.py`` (``network_type="mnist"``), and the 5,000-iteration recipe."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

from gan_lightning.models import InfoGAN
from gan_lightning.nets import InfoGANMNISTBody, InfoGANMNISTGenerator

ROOT = Path(__file__).resolve().parents[1]


def conv(k: int, c_in: int, c_out: int) -> int:  # custom_conv2d / custom_deconv2d: k x k weights + a bias
    return k * k * c_in * c_out + c_out


def fc(n_in: int, n_out: int) -> int:  # custom_fully_connected: matrix + bias
    return n_in * n_out + n_out


def bn(c: int) -> int:  # conv_batch_norm / fc_batch_norm: gamma + beta
    return 2 * c


# The authors' layer list, 28 px, 1 channel (regularized_gan.py, lines 32-65).
AUTHORS_D_BODY = conv(4, 1, 64) + conv(4, 64, 128) + bn(128) + fc(7 * 7 * 128, 1024) + bn(1024)
AUTHORS_D_HEAD = fc(1024, 1)
AUTHORS_G = fc(74, 1024) + bn(1024) + fc(1024, 7 * 7 * 128) + bn(7 * 7 * 128) + conv(4, 128, 64) + bn(64) + conv(4, 64, 1)


def authors_q(outputs: int) -> int:
    return fc(1024, 128) + bn(128) + fc(128, outputs)


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def authors_model(**overrides) -> InfoGAN:
    torch.manual_seed(0)
    return InfoGAN(data_shape=(1, 28, 28), architecture="authors", **overrides)


def test_shapes_and_output_range():
    model = authors_model(continuous_loss="mse")
    z = model.sample_noise(6, rng=torch.Generator().manual_seed(0))
    x = model.generator(z)
    assert x.shape == (6, 1, 28, 28) and x.abs().max() <= 1  # tanh
    source, q = model.discriminator(x)
    assert source.shape == (6,) and q.shape == (6, 10 + 2)
    assert model.discriminator.body.features(x).shape == (6, 1024)
    assert authors_model().discriminator(x)[1].shape == (6, 10 + 2 * 2)  # gaussian_nll: a mean and a log-std per code


def test_parameter_counts_equal_the_authors_layer_list():
    # Their Q always has 10 + 2 * 2 outputs (a Gaussian's flat dim is 2 per code, the std half unread with
    # fix_std=True): our gaussian_nll head; the mse head (fixed std) drops the 2 outputs they never read.
    for loss, q_outputs in (("gaussian_nll", 14), ("mse", 12)):
        model = authors_model(continuous_loss=loss)
        d = model.discriminator
        assert count(d.body.features) == AUTHORS_D_BODY == 6_558_144
        assert count(d.body.head) == AUTHORS_D_HEAD
        assert count(d.aux_head) == authors_q(q_outputs)
        assert count(d) == AUTHORS_D_BODY + AUTHORS_D_HEAD + authors_q(q_outputs)
        assert count(model.generator) == AUTHORS_G == 6_652_481


def test_layers_kernels_strides_slopes_and_batchnorm_placement():
    model = authors_model(continuous_loss="mse")
    d, g = model.discriminator, model.generator
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    deconvs = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    for layer in convs + deconvs:
        assert (layer.kernel_size, layer.stride, layer.padding) == ((4, 4), (2, 2), (1, 1))
    assert [c.out_channels for c in convs] == [64, 128] and [c.out_channels for c in deconvs] == [64, 1]
    assert {m.negative_slope for m in d.modules() if isinstance(m, nn.LeakyReLU)} == {0.01}
    # D: no BN after the first conv; BN after conv 128 and FC 1024; Q: BN after its FC 128
    kinds = [type(m).__name__ for m in d.body.features]
    assert kinds == ["Conv2d", "LeakyReLU", "Conv2d", "BatchNorm2d", "LeakyReLU", "Flatten", "Linear", "BatchNorm1d",
                     "LeakyReLU"]
    assert [type(m).__name__ for m in d.aux_head] == ["Linear", "BatchNorm1d", "LeakyReLU", "Linear"]
    # G: BN + ReLU after every layer but the last, then tanh
    g_kinds = [type(m).__name__ for m in g.net if not isinstance(m, nn.Unflatten)]
    assert g_kinds == ["Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d", "ReLU", "ConvTranspose2d",
                       "BatchNorm2d", "ReLU", "ConvTranspose2d", "Tanh"]
    # BN weights drawn N(1, 0.02) (their conv_batch_norm's gamma), 1-D ones included; biases start at 0
    for norm in [m for m in list(d.modules()) + list(g.modules()) if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]:
        assert norm.weight.std() > 0.005 and abs(norm.weight.mean() - 1) < 0.02
    assert all(int(torch.count_nonzero(m.bias.detach())) == 0 for m in d.modules() if isinstance(m, (nn.Linear, nn.Conv2d)))


def test_q_reads_ds_last_hidden_layer():
    """Q's output is a function of D's FC-1024 layer alone: D's source head does not move it, the FC 1024 does."""
    model = authors_model(continuous_loss="mse").eval()
    d = model.discriminator
    x = torch.randn(5, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(d(x)[1], d.aux_head(d.body.features(x)))
    before = d(x)[1]
    with torch.no_grad():
        d.body.head.weight.add_(1.0)
    torch.testing.assert_close(d(x)[1], before)
    with torch.no_grad():
        d.body.features[6].weight.mul_(2.0)  # the FC 1024
    assert not torch.allclose(d(x)[1], before)


def test_information_and_adversarial_gradients_reach_the_shared_body():
    model = authors_model(continuous_loss="mse", noise_distribution="uniform")
    real = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    z = model.sample_noise(8, rng=torch.Generator().manual_seed(1))
    source, q = model.discriminator(model.generator(z))
    info = model.information_loss(q, z)["info_loss"]
    assert math.isfinite(float(info.detach())) and source.shape == (8,)
    info.backward()
    fc1024 = model.discriminator.body.features[6].weight
    assert fc1024.grad is not None and fc1024.grad.abs().sum() > 0  # L_I trains the shared body
    assert model.discriminator.body.head.weight.grad is None  # ... not D's source head
    assert model.generator.net[0].weight.grad.abs().sum() > 0  # and G
    assert model.discriminator(real)[0].shape == (8,)


def test_bad_arguments_are_one_line_errors():
    with pytest.raises(ValueError, match="model.architecture must be 'dcgan' or 'authors', got 'mlp'"):
        InfoGAN(data_shape=(1, 28, 28), architecture="mlp")
    with pytest.raises(ValueError, match="model.d_norm must be 'batch' with architecture 'authors'"):
        InfoGAN(data_shape=(1, 28, 28), architecture="authors", d_norm="none")
    with pytest.raises(ValueError, match="divisible by 4"):
        InfoGANMNISTGenerator(74, 1, 30)
    with pytest.raises(ValueError, match="divisible by 4"):
        InfoGANMNISTBody(1, 30)


def test_default_architecture_is_unchanged():
    torch.manual_seed(0)
    model = InfoGAN(data_shape=(1, 32, 32), g_width=8, d_width=8)
    assert model.architecture == "dcgan"
    assert type(model.generator).__name__ == "DCGANGenerator"
    assert type(model.discriminator.body).__name__ == "DCGANDiscriminator"
    assert {m.negative_slope for m in model.discriminator.modules() if isinstance(m, nn.LeakyReLU)} == {0.2}
    assert float(model.discriminator.aux_head[1].weight.detach().min()) == 1.0  # its BatchNorm1d keeps weight 1, as before


def test_the_authors_recipe():
    """experiments/infogan/mnist5k_authors.yaml: their nets, latent spec, code weights, Adam, 28 px, batch 128, 5,000."""
    config = yaml.safe_load((ROOT / "experiments/infogan/mnist5k_authors.yaml").read_text())
    args = config["model"]["init_args"]
    assert (args["architecture"], args["noise_distribution"], args["continuous_loss"]) == ("authors", "uniform", "mse")
    assert (args["info_weight"], args["continuous_weight"], args["lr_d"], args["lr_g"]) == (1.0, 1.0, 2e-4, 1e-3)
    assert (args["noise_dim"], args["categorical_dim"], args["continuous_dim"], args["betas"][0]) == (62, 10, 2, 0.5)
    assert config["data"]["init_args"]["image_size"] == 28 and config["data"]["init_args"]["batch_size"] == 128
    assert config["trainer"]["max_steps"] == 5000  # 50 epochs x 100 updates (launchers/run_mnist_exp.py)
