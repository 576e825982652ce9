"""InfoGAN's MNIST networks as the authors built them (github.com/openai/InfoGAN,
``infogan/models/regularized_gan.py``, ``network_type="mnist"``; layers from ``infogan/misc/custom_ops.py``).

- D's body: conv 4x4 stride 2 (64) - leaky ReLU - conv 4x4 stride 2 (128) - BatchNorm - leaky ReLU -
  fully connected 1024 - BatchNorm - leaky ReLU; leaky slope 0.01 (``leaky_rectify``); D's head: fully
  connected 1 on that last hidden layer. Q (``encoder_template``) shares the whole body, last hidden
  layer included: fully connected 128 - BatchNorm - leaky ReLU - fully connected to the codes' outputs
  (:class:`~gan_lightning.nets.conditional.AuxiliaryHeadDiscriminator` with this body).
- G: fully connected 1024 - BatchNorm - ReLU - fully connected (size/4)^2 x 128 - BatchNorm - ReLU -
  deconv 4x4 stride 2 (64) - BatchNorm - ReLU - deconv 4x4 stride 2 (channels); 28 px for MNIST.
- Every layer has a bias (theirs do, BatchNorm after them or not); TF's ``SAME`` padding of a 4x4
  stride-2 conv / deconv on even sizes is padding 1 here. Weights N(0, 0.02) (their convolutions draw
  a truncated normal), BatchNorm weights N(1, 0.02), biases 0: ``dcgan_init_(..., batchnorm1d=True)``.
- Output: theirs is a sigmoid (``MeanBernoulli`` on pixels in [0, 1]); here tanh on [-1, 1], this
  package's image range: tanh(a) = 2 sigmoid(2a) - 1, the same family up to the scale of the last layer.

Networks know nothing about training: no losses and no optimizers here.
"""

from __future__ import annotations

import torch
from torch import nn

from gan_lightning.nets.conditional import AuxiliaryHeadDiscriminator
from gan_lightning.nets.dcgan import dcgan_init_
from gan_lightning.nets.layers import norm_layer

AUTHORS_SLOPE = 0.01  # leaky_rectify's leakiness, infogan/misc/custom_ops.py


def _quarter(image_size: int) -> int:
    if image_size < 4 or image_size % 4:
        raise ValueError(f"InfoGAN's MNIST networks need image_size divisible by 4 (28 for MNIST), got {image_size}")
    return image_size // 4


class InfoGANMNISTBody(nn.Module):
    """D's body (``features``: image -> its last hidden layer, ``feature_dim`` = ``hidden``) and D's head
    (``head``: fully connected to one logit)."""

    def __init__(self, channels: int = 1, image_size: int = 28, width: int = 64, hidden: int = 1024,
                 slope: float = AUTHORS_SLOPE) -> None:
        super().__init__()
        base = _quarter(image_size)
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(slope, True),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.BatchNorm2d(2 * width), nn.LeakyReLU(slope, True),
            nn.Flatten(), nn.Linear(2 * width * base * base, hidden), *norm_layer("batch", hidden, 1),
            nn.LeakyReLU(slope, True),
        )
        self.feature_dim = hidden
        self.head = nn.Linear(hidden, 1)
        dcgan_init_(self, batchnorm1d=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)


def infogan_mnist_discriminator(channels: int = 1, image_size: int = 28, q_outputs: int = 12, q_hidden: int = 128,
                                width: int = 64, hidden: int = 1024) -> AuxiliaryHeadDiscriminator:
    """D with Q on its last hidden layer: ``forward(x) -> (source logits (N,), Q's outputs (N, q_outputs))``."""
    net = AuxiliaryHeadDiscriminator(aux_outputs=q_outputs, aux_hidden=q_hidden, slope=AUTHORS_SLOPE,
                                     body=InfoGANMNISTBody(channels, image_size, width, hidden))
    dcgan_init_(net.aux_head, batchnorm1d=True)
    return net


class InfoGANMNISTGenerator(nn.Module):
    """z -> image: two fully connected layers (``hidden``, then (size/4)^2 x ``width``), two 4x4 stride-2
    deconvolutions (``width // 2``, then ``channels``); BatchNorm + ReLU after all but the last; tanh."""

    def __init__(self, latent_dim: int = 74, channels: int = 1, image_size: int = 28, width: int = 128,
                 hidden: int = 1024) -> None:
        super().__init__()
        base = _quarter(image_size)
        self.latent_dim = latent_dim
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden), *norm_layer("batch", hidden, 1), nn.ReLU(True),
            nn.Linear(hidden, width * base * base), *norm_layer("batch", width * base * base, 1), nn.ReLU(True),
            nn.Unflatten(1, (width, base, base)),
            nn.ConvTranspose2d(width, width // 2, 4, 2, 1), *norm_layer("batch", width // 2, 2), nn.ReLU(True),
            nn.ConvTranspose2d(width // 2, channels, 4, 2, 1), nn.Tanh(),
        )
        dcgan_init_(self, batchnorm1d=True)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.flatten(1))
