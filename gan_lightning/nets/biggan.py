"""BigGAN networks (Brock, Donahue & Simonyan 2019), sized for 28-32 px images.

Facts taken from the paper and the authors' PyTorch code (ajbrock/BigGAN-PyTorch, ``BigGAN.py``
and ``layers.py``); the code here is written anew:

- ``ConditionalBatchNorm2d``: BatchNorm without its own affine, then a per-sample gain
  ``1 + W_g c`` and bias ``W_b c``, both bias-free (spectrally normalised) linear maps of the
  conditioning vector ``c`` (the authors' ``ccbn``).
- ``BigGANGenerator``: z (or its first chunk) -> linear -> (4 or 7)^2 map, then one residual
  up-block per doubling (CBN-ReLU-up-conv3x3-CBN-ReLU-conv3x3, 1x1-conv shortcut of the upsampled
  input), then BN-ReLU-conv3x3-tanh (the output BN is an ordinary one, as the authors').
  The class enters through a *shared* embedding (``shared_dim``, 128 in the authors' code), and
  with ``hierarchical=True`` z is split into one chunk for the first linear and one per block;
  block k's CBN sees ``c = [embedding(y), z_k]``. The authors' 32 px arch: width ``4 * ch`` in
  every block (ch = 64: 256 channels).
- ``BigGANDiscriminator``: residual down-blocks (conv3x3-ReLU-conv3x3, average pooling; the first
  block without the pre-activation ReLU), ``4 * ch`` channels, the first two blocks halving the
  size (the authors' 32 px arch: 32 -> 16 -> 8, then two blocks at 8x8), ReLU and global *sum*
  pooling to phi(x), then the projection output of Miyato & Koyama 2018:
  ``D(x, y) = linear(phi(x)) + <embed(y), phi(x)>``.
- Spectral norm on every conv and linear of both networks and on D's class embedding; G's shared
  embedding has none (the authors: SN there "seems to randomly cripple G").
- Initialisation ``init``: ``"ortho"`` orthogonal (the paper; the authors' default ``G_init``/``D_init``)
  or ``"N02"`` N(0, 0.02) (the authors' CIFAR script, ``--G_init N02 --D_init N02``), of every conv,
  linear and embedding weight before spectral normalisation (``BigGAN.py``, ``init_weights``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gan_lightning.nets.dcgan import upsampling_plan
from gan_lightning.nets.layers import apply_spectral_norm

INITS = ("ortho", "N02")


def biggan_init_(module: nn.Module, init: str = "ortho") -> None:
    """The authors' ``G_init`` / ``D_init`` for every conv, linear and embedding layer (before spectral
    normalisation): ``"ortho"`` orthogonal weights, ``"N02"`` N(0, 0.02); zero biases."""
    if init not in INITS:
        raise ValueError(f"model.init {init!r}: accepted values are {', '.join(INITS)}")
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)):
            if init == "ortho":
                nn.init.orthogonal_(m.weight)
            else:
                nn.init.normal_(m.weight, 0.0, 0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)


class ConditionalBatchNorm2d(nn.Module):
    """BN(x) * (1 + gain(c)) + bias(c): gains and biases are linear maps of the conditioning vector c."""

    def __init__(self, num_features: int, cond_dim: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(num_features, eps=eps, momentum=momentum, affine=False)
        self.gain = nn.Linear(cond_dim, num_features, bias=False)
        self.bias = nn.Linear(cond_dim, num_features, bias=False)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        gain = 1.0 + self.gain(c)[:, :, None, None]
        return self.bn(x) * gain + self.bias(c)[:, :, None, None]


class GBlock(nn.Module):
    """Residual up-block: CBN-ReLU-up2-conv3x3-CBN-ReLU-conv3x3 plus conv1x1(up2(x))."""

    def __init__(self, in_channels: int, out_channels: int, cond_dim: int) -> None:
        super().__init__()
        self.bn1 = ConditionalBatchNorm2d(in_channels, cond_dim)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.bn2 = ConditionalBatchNorm2d(out_channels, cond_dim)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x, c)), scale_factor=2)
        h = self.conv2(F.relu(self.bn2(self.conv1(h), c)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2))


class DBlock(nn.Module):
    """Residual down-block: [ReLU]-conv3x3-ReLU-conv3x3-[avgpool] plus a (1x1-conv, pooled) shortcut.

    The first block of D has no pre-activation and pools before its shortcut conv; the others
    convolve, then pool (the authors' ``DBlock.shortcut``).
    """

    def __init__(self, in_channels: int, out_channels: int, preactivation: bool = True, downsample: bool = True):
        super().__init__()
        self.preactivation, self.downsample = preactivation, downsample
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels or downsample else None

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 2) if self.downsample else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(x) if self.preactivation else x
        h = self._pool(self.conv2(F.relu(self.conv1(h))))
        if self.shortcut is None:
            return h + x
        skip = self._pool(self.shortcut(x)) if self.preactivation else self.shortcut(self._pool(x))
        return h + skip


class BigGANGenerator(nn.Module):
    """G(z, y): class-conditional residual generator with a shared class embedding and a hierarchical z.

    ``latent_dim`` must split evenly into ``num_chunks`` (blocks + 1) when ``hierarchical``.
    ``forward(z, labels)``; ``forward_embedded(z, class_embedding)`` takes the embedding itself
    (class interpolation).
    """

    def __init__(
        self,
        latent_dim: int = 128,
        num_classes: int = 10,
        channels: int = 1,
        image_size: int = 32,
        width: int = 64,
        shared_dim: int = 128,
        hierarchical: bool = True,
        spectral_norm: bool = True,
        init: str = "ortho",
    ) -> None:
        super().__init__()
        self.base, doublings = upsampling_plan(image_size)
        self.hierarchical = hierarchical
        self.num_chunks = doublings + 1 if hierarchical else 1
        if latent_dim % self.num_chunks:
            raise ValueError(f"model.latent_dim {latent_dim} must split evenly into {self.num_chunks} chunks (one for "
                             f"the first linear and one per each of the {doublings} G blocks) with hierarchical=True")
        self.latent_dim, self.chunk_dim = latent_dim, latent_dim // self.num_chunks
        self.features = 4 * width  # the authors' 32 px arch: ch * 4 in every block
        cond_dim = shared_dim + (self.chunk_dim if hierarchical else 0)
        self.shared = nn.Embedding(num_classes, shared_dim)
        self.linear = nn.Linear(self.chunk_dim if hierarchical else latent_dim, self.features * self.base ** 2)
        self.blocks = nn.ModuleList(GBlock(self.features, self.features, cond_dim) for _ in range(doublings))
        self.output = nn.Sequential(nn.BatchNorm2d(self.features), nn.ReLU(), nn.Conv2d(self.features, channels, 3,
                                                                                        padding=1))
        biggan_init_(self, init)
        if spectral_norm:
            apply_spectral_norm(self)  # convs and linears; the shared embedding stays as it is

    def chunks(self, z: torch.Tensor) -> list[torch.Tensor]:
        """z split into the first linear's input and one conditioning chunk per block (hierarchical)."""
        z = z.flatten(1)
        if not self.hierarchical:
            return [z]
        return list(torch.split(z, self.chunk_dim, dim=1))

    def forward_embedded(self, z: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        first, *rest = self.chunks(z)
        conditions = [torch.cat([embedding, chunk], dim=1) for chunk in rest] or [embedding] * len(self.blocks)
        h = self.linear(first).view(z.size(0), self.features, self.base, self.base)
        for block, c in zip(self.blocks, conditions):
            h = block(h, c)
        return torch.tanh(self.output(h))

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.forward_embedded(z, self.shared(labels))


class BigGANDiscriminator(nn.Module):
    """D(x, y) = linear(phi(x)) + <embed(y), phi(x)>, phi = ReLU + global sum pooling of residual blocks."""

    def __init__(self, channels: int = 1, num_classes: int = 10, image_size: int = 32, width: int = 64,
                 num_blocks: int = 4, num_downsamples: int = 2, spectral_norm: bool = True,
                 init: str = "ortho") -> None:
        super().__init__()
        if image_size % 2 ** num_downsamples:
            raise ValueError(f"image_size {image_size} cannot be halved {num_downsamples} times by D")
        features = 4 * width
        self.blocks = nn.Sequential(*(
            DBlock(channels if i == 0 else features, features, preactivation=i > 0, downsample=i < num_downsamples)
            for i in range(num_blocks)))
        self.linear = nn.Linear(features, 1)
        self.embed = nn.Embedding(num_classes, features)
        biggan_init_(self, init)
        if spectral_norm:
            apply_spectral_norm(self, (nn.Conv2d, nn.Linear, nn.Embedding))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """phi(x), (N, features): ReLU then the sum over positions."""
        return F.relu(self.blocks(x)).sum(dim=(2, 3))

    def head(self, phi: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The unconditional term psi(phi) plus the projection <embed(y), phi>, (N,)."""
        return self.linear(phi).squeeze(1) + (self.embed(labels) * phi).sum(dim=1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x), labels)
