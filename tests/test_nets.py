import pytest
import torch

from gan_lightning.nets import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator, upsampling_plan


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_networks_have_the_right_shapes(size, channels):
    g = DCGANGenerator(latent_dim=20, channels=channels, image_size=size, width=8)
    d = DCGANDiscriminator(channels=channels, image_size=size, width=8)
    images = g(torch.randn(3, 20))
    assert images.shape == (3, channels, size, size)
    assert images.min() >= -1 and images.max() <= 1  # tanh output
    assert d(images).shape == (3,)
    assert DCGANDiscriminator(channels, size, 8, outputs=11)(images).shape == (3, 11)


def test_upsampling_plan_and_bad_sizes():
    assert upsampling_plan(28) == (7, 2)
    assert upsampling_plan(32) == (4, 3)
    assert upsampling_plan(64) == (4, 4)
    with pytest.raises(ValueError, match="image_size"):
        upsampling_plan(30)


@pytest.mark.parametrize("shape", [(2,), (1, 28, 28), (3, 32, 32)])
def test_mlp_networks_shapes_and_output_range(shape):
    g, d = MLPGenerator(8, shape, (16,), batch_norm=False), MLPDiscriminator(shape, (16,))
    x = g(torch.randn(5, 8) * 100)
    assert x.shape == (5, *shape)
    assert d(x).shape == (5,)
    if len(shape) > 1:
        assert x.abs().max() <= 1  # images are bounded by tanh
    else:
        assert x.abs().max() > 1  # 2-D points are not squashed


def test_mlp_generator_batch_norm_is_on_by_default_and_optional():
    with_norm = MLPGenerator(2, (2,), (16, 16))
    without = MLPGenerator(2, (2,), (16, 16), batch_norm=False)
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in with_norm.modules()) == 2
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in without.modules())


def test_gaussian_noise_acts_in_training_only():
    from gan_lightning.nets.mlp import GaussianNoise

    torch.manual_seed(0)
    x = torch.zeros(20000)
    noise = GaussianNoise(0.5)
    assert abs(float(noise.train()(x).std()) - 0.5) < 0.01
    assert torch.equal(noise.eval()(x), x)
    with pytest.raises(ValueError, match="std"):
        GaussianNoise(-1.0)


def test_discriminator_regularisers_are_optional_and_keep_default_keys():
    shape = (1, 28, 28)
    assert list(MLPDiscriminator(shape, (16, 8)).state_dict()) == [
        "features.1.weight", "features.1.bias", "features.3.weight", "features.3.bias", "head.weight", "head.bias"]
    noisy = MLPDiscriminator(shape, (16, 8), outputs=10, hidden_activation="relu", input_noise=0.6, hidden_noise=0.5)
    stds = [m.std for m in noisy.modules() if type(m).__name__ == "GaussianNoise"]
    assert stds == [0.6, 0.5, 0.5]  # before each of the 3 linear layers
    assert sum(isinstance(m, torch.nn.ReLU) for m in noisy.modules()) == 2
    x = torch.rand(4, *shape)
    noisy.eval()
    assert torch.equal(noisy(x), noisy(x)) and noisy(x).shape == (4, 10)

    plain, dropped = DCGANDiscriminator(1, 32, 8), DCGANDiscriminator(1, 32, 8, dropout=0.5, input_dropout=0.2)
    assert sum(isinstance(m, torch.nn.Dropout) for m in plain.modules()) == 0
    assert [m.p for m in dropped.modules() if isinstance(m, torch.nn.Dropout)] == [0.2, 0.5, 0.5, 0.5]
    assert next(iter(plain.state_dict())) == "features.0.weight"  # checkpoints of the default keep their keys
    assert next(iter(dropped.state_dict())) == "features.1.weight"  # after the input dropout
    dropped.train()
    assert not torch.equal(dropped(torch.ones(2, 1, 32, 32)), dropped(torch.ones(2, 1, 32, 32)))
    with pytest.raises(ValueError, match="dropout"):
        DCGANDiscriminator(1, 32, 8, dropout=1.0)

    from gan_lightning.nets import JointDiscriminator

    joint_plain, joint = JointDiscriminator(1, 32, 8, 4, 16), JointDiscriminator(1, 32, 8, 4, 16, dropout=0.2)
    assert [key for key in joint_plain.state_dict() if not key.startswith("x_path")] == [
        "z_path.0.weight", "z_path.0.bias", "z_path.2.weight", "z_path.2.bias",
        "joint.0.weight", "joint.0.bias", "joint.2.weight", "joint.2.bias"]
    assert sum(isinstance(m, torch.nn.Dropout) for m in joint_plain.modules()) == 0
    # x path: input + 3 conv layers at 32 px; z path: input + 2 hidden; joint: 1 hidden
    assert sum(isinstance(m, torch.nn.Dropout) for m in joint.modules()) == 4 + 3 + 1  # each its own layer
    assert joint_plain.state_dict().keys() != joint.state_dict().keys()
    assert joint.eval()(torch.zeros(2, 1, 32, 32), torch.zeros(2, 4)).shape == (2,)
    with pytest.raises(ValueError, match="unknown activation 'tanhh'.*relu"):
        MLPDiscriminator(shape, (8,), hidden_activation="tanhh")
