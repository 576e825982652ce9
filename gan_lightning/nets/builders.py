"""One place that picks a model's networks from the shape of its data.

Vectors (``data_shape`` of rank 1, e.g. the 2-D toy mixtures) get fully connected
networks sized by ``g_hidden`` / ``d_hidden``; square images (C, H, H) get the DCGAN
networks sized by ``g_width`` / ``d_width``. Every model family that accepts both kinds
of data builds its networks here, so the benchmark sizes them alike by the same options.
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
from torch import nn

from gan_lightning.nets.autoencoder import Activation, Autoencoder, ConvAutoencoder, MLPAutoencoder, Norm
from gan_lightning.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from gan_lightning.nets.layers import apply_spectral_norm
from gan_lightning.nets.mlp import MLPDiscriminator, MLPGenerator

Architecture = Literal["auto", "mlp", "dcgan"]


def network_kind(data_shape: Sequence[int], architecture: Architecture = "auto") -> Literal["mlp", "dcgan"]:
    """``mlp`` for vectors, ``dcgan`` for square images; ``architecture`` forces one (MLPs also take images)."""
    shape = tuple(int(d) for d in data_shape)
    if architecture not in ("auto", "mlp", "dcgan"):
        raise ValueError(f"architecture must be 'auto', 'mlp' or 'dcgan', got {architecture!r}")
    kind = architecture if architecture != "auto" else ("mlp" if len(shape) == 1 else "dcgan")
    if kind == "dcgan" and (len(shape) != 3 or shape[1] != shape[2]):
        raise ValueError(f"DCGAN networks need square images (C, H, H); data_shape is {shape}")
    return kind


def build_generator(
    data_shape: Sequence[int],
    latent_dim: int,
    g_hidden: Sequence[int] = (400, 400, 400, 400),
    g_width: int = 64,
    architecture: Architecture = "auto",
    g_norm: Literal["batch", "virtual", "none"] = "batch",
) -> nn.Module:
    """G for ``data_shape``: ``MLPGenerator`` (sized by ``g_hidden``) or ``DCGANGenerator`` (by ``g_width``);
    ``g_norm``: their hidden normalisation (``batch``, ``virtual`` batch norm or ``none``)."""
    shape = tuple(int(d) for d in data_shape)
    if network_kind(shape, architecture) == "mlp":
        return MLPGenerator(latent_dim, shape, tuple(g_hidden), norm=g_norm)
    return DCGANGenerator(latent_dim, shape[0], shape[1], g_width, norm=g_norm)


def build_discriminator(
    data_shape: Sequence[int],
    d_hidden: Sequence[int] = (200, 200, 200),
    d_width: int = 64,
    d_outputs: int = 1,
    spectral_norm: bool = False,
    d_norm: Norm = "batch",
    pack: int = 1,
    architecture: Architecture = "auto",
    minibatch_features: int = 0,
    minibatch_kernel_dim: int = 5,
    d_maxout_pieces: int = 0,
) -> nn.Module:
    """D for ``data_shape``: ``MLPDiscriminator`` (sized by ``d_hidden``) or ``DCGANDiscriminator`` (by ``d_width``).

    ``d_outputs``: D's output size (1: one score per sample, squeezed). ``spectral_norm``: wrap
    every D layer (Miyato et al. 2018). ``d_norm``: the hidden normalization of the DCGAN D (the
    MLP D has none). ``pack``: D sees ``pack`` samples concatenated along the first (channel /
    feature) dimension (PacGAN). ``minibatch_features`` > 0: minibatch discrimination before D's last
    layer, that many kernels of ``minibatch_kernel_dim``. ``d_maxout_pieces`` > 0: the MLP D's hidden units
    are maxout units of that many pieces (PacGAN's toy D); the DCGAN D does not take it.
    """
    shape = tuple(int(d) for d in data_shape)
    if pack < 1:
        raise ValueError(f"pack must be >= 1, got {pack}")
    packed = (shape[0] * pack,) + shape[1:]
    if network_kind(shape, architecture) == "mlp":
        discriminator: nn.Module = MLPDiscriminator(packed, tuple(d_hidden), outputs=d_outputs,
                                                    minibatch_features=minibatch_features,
                                                    minibatch_kernel_dim=minibatch_kernel_dim,
                                                    maxout_pieces=d_maxout_pieces)
    else:
        if d_maxout_pieces:
            raise ValueError(f"maxout units are for the MLP discriminator of vector data; data_shape {shape} "
                             f"gets the DCGAN one (d_maxout_pieces must be 0)")
        discriminator = DCGANDiscriminator(packed[0], shape[1], d_width, outputs=d_outputs, norm=d_norm,
                                           minibatch_features=minibatch_features,
                                           minibatch_kernel_dim=minibatch_kernel_dim)
    if spectral_norm:
        apply_spectral_norm(discriminator)
    return discriminator


def build_networks(
    data_shape: Sequence[int],
    latent_dim: int,
    g_hidden: Sequence[int] = (400, 400, 400, 400),
    d_hidden: Sequence[int] = (200, 200, 200),
    g_width: int = 64,
    d_width: int = 64,
    d_outputs: int = 1,
    spectral_norm: bool = False,
    d_norm: Norm = "batch",
    pack: int = 1,
    architecture: Architecture = "auto",
    g_norm: Literal["batch", "virtual", "none"] = "batch",
    minibatch_features: int = 0,
    minibatch_kernel_dim: int = 5,
    d_maxout_pieces: int = 0,
) -> tuple[nn.Module, nn.Module]:
    """(generator, discriminator) for ``data_shape``; see :func:`build_generator` and :func:`build_discriminator`.

    ``g_hidden`` / ``d_hidden`` size the MLPs, ``g_width`` / ``d_width`` the DCGAN networks;
    the other pair is ignored.
    """
    generator = build_generator(data_shape, latent_dim, g_hidden, g_width, architecture, g_norm)
    discriminator = build_discriminator(
        data_shape, d_hidden, d_width, d_outputs, spectral_norm, d_norm, pack, architecture, minibatch_features,
        minibatch_kernel_dim, d_maxout_pieces,
    )
    return generator, discriminator


def build_autoencoder(
    data_shape: Sequence[int],
    d_hidden: Sequence[int] = (200, 200, 200),
    d_width: int = 64,
    code_dim: int | None = None,
    norm: Norm = "batch",
    activation: Activation = "leaky_relu",
) -> Autoencoder:
    """An autoencoder discriminator: MLP for vectors (``d_hidden``), convolutional for images (``d_width``).

    ``code_dim=None``: 64 for images; for vectors one less than the data dimension (at least 1),
    a bottleneck that keeps the autoencoder from learning the identity on low-dimensional data.
    """
    shape = tuple(int(d) for d in data_shape)
    if network_kind(shape) == "mlp":
        code = code_dim if code_dim is not None else max(1, shape[0] - 1)
        return MLPAutoencoder(shape, tuple(d_hidden), code, activation)
    return ConvAutoencoder(shape[0], shape[1], d_width, code_dim if code_dim is not None else 64, norm, activation)


# ---------------------------------------------------------------------------- madgan
class MultiGenerator(nn.Module):
    """K generators behind one ``forward(z)``: sample n is drawn by generator n mod K."""

    def __init__(self, generators: Sequence[nn.Module]) -> None:
        super().__init__()
        if len(generators) < 1:
            raise ValueError("MultiGenerator needs at least one generator")
        self.generators = nn.ModuleList(generators)

    @property
    def num_generators(self) -> int:
        return len(self.generators)

    def assignment(self, num: int, device=None) -> torch.Tensor:
        """Index of the generator that draws each of ``num`` samples, (num,)."""
        return torch.arange(num, device=device) % self.num_generators

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        k = self.num_generators
        parts = [(i, g(z[i::k])) for i, g in enumerate(self.generators) if z[i::k].size(0) > 0]
        first = parts[0][1]
        out = first.new_empty((z.size(0),) + tuple(first.shape[1:]))
        for i, samples in parts:
            out[i::k] = samples
        return out
