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
