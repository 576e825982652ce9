"""Blocks of the conditional families (CGAN, ACGAN, InfoGAN).

All of them are DCGAN-style (``gan_lightning.nets.dcgan``) and sized by ``upsampling_plan``,
so they work on 28 and 32 px images alike:

- ``ConditionalDCGANGenerator``: G(z, y) with a learned label embedding concatenated to z.
- ``ConditionalDCGANDiscriminator``: D(x, y), the label given either as one-hot maps stacked
  on the image channels (``"concat"``) or through a projection on D's last features
  (``"projection"``, Miyato & Koyama 2018).
- ``AuxiliaryHeadDiscriminator``: one convolutional body, a real/fake head and an auxiliary
  head (ACGAN's class head, InfoGAN's Q head).

Networks know nothing about training: no losses and no optimizers here.
"""

from __future__ import annotations

import math
from typing import Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gan_lightning.nets.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_init_
from gan_lightning.nets.mlp import GaussianNoise
from gan_lightning.nets.layers import apply_scaled_weight_norm, apply_unit_weight_norm

Norm = Literal["batch", "none", "layer"]


def cycle_labels(num: int, num_classes: int, device=None) -> torch.Tensor:
    """Labels 0, 1, ..., K-1, 0, 1, ... for ``num`` samples: the default labels of conditional sampling."""
    return torch.arange(num, device=device) % num_classes


def check_labels(labels: torch.Tensor, num_classes: int, num: int, values: bool = True) -> torch.Tensor:
    """``labels`` as a long vector of ``num`` entries in [0, num_classes); a clear error otherwise.

    ``values=False`` checks the count only: reading the values makes the host wait for a GPU, so a
    training step leaves it out for its own batches' labels (the embedding still refuses an id out
    of range); labels a user gives (sampling, evaluation) are read."""
    labels = torch.as_tensor(labels).long().flatten()
    if labels.numel() != num:
        raise ValueError(f"got {labels.numel()} labels for {num} samples")
    if values and labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}); got values from {int(labels.min())} "
                         f"to {int(labels.max())}")
    return labels


class ConditionalDCGANGenerator(nn.Module):
    """G(z, y): the DCGAN generator fed [z, embedding(y)].

    A learned embedding of the label is the one-hot code of Mirza & Osindero followed by a
    linear map; ``embed_dim`` sets its size (default: ``num_classes``).
    """

    def __init__(
        self,
        latent_dim: int = 100,
        num_classes: int = 10,
        channels: int = 1,
        image_size: int = 32,
        width: int = 64,
        embed_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.embed_dim = embed_dim or num_classes
        self.embedding = nn.Embedding(num_classes, self.embed_dim)
        self.net = DCGANGenerator(latent_dim + self.embed_dim, channels, image_size, width)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([z.flatten(1), self.embedding(labels)], dim=1))


class ConditionalDCGANDiscriminator(nn.Module):
    """D(x, y) -> one logit per sample.

    ``conditioning="concat"``: the label as ``num_classes`` one-hot maps appended to the image
    channels (the input-level concatenation of Mirza & Osindero, for convolutions).
    ``conditioning="projection"``: logit = head(phi(x)) + <embed(y), phi(x)> on D's flattened last
    features phi (Miyato & Koyama 2018).
    """

    def __init__(
        self,
        channels: int = 1,
        image_size: int = 32,
        width: int = 64,
        num_classes: int = 10,
        conditioning: Literal["concat", "projection"] = "concat",
        norm: Norm = "batch",
    ) -> None:
        super().__init__()
        if conditioning not in ("concat", "projection"):
            raise ValueError(f"conditioning must be 'concat' or 'projection', got {conditioning!r}")
        self.num_classes, self.conditioning = num_classes, conditioning
        in_channels = channels + num_classes if conditioning == "concat" else channels
        self.net = DCGANDiscriminator(in_channels, image_size, width, norm=norm)
        self.embedding = nn.Embedding(num_classes, self.net.feature_dim) if conditioning == "projection" else None
        if self.embedding is not None:
            nn.init.normal_(self.embedding.weight, 0.0, 0.02)

    def _input(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.conditioning != "concat":
            return x
        maps = F.one_hot(labels, self.num_classes).to(x.dtype)[:, :, None, None]
        return torch.cat([x, maps.expand(-1, -1, x.size(2), x.size(3))], dim=1)

    def features(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """D's last hidden feature map, (N, C, b, b)."""
        return self.net.features(self._input(x, labels))

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        h = self.features(x, labels)
        logits = self.net.head(h).flatten(1).squeeze(1)
        if self.embedding is not None:
            logits = logits + (self.embedding(labels) * h.flatten(1)).sum(dim=1)
        return logits


class AuxiliaryHeadDiscriminator(nn.Module):
    """One DCGAN body, two heads: ``forward(x) -> (source_logits (N,), aux (N, aux_outputs))``.

    The source head is the DCGAN discriminator's own; the auxiliary head reads the flattened
    body features, through one hidden layer (Linear, BatchNorm, LeakyReLU of ``slope``, 0.2) when
    ``aux_hidden`` > 0 (InfoGAN's Q network) or directly (ACGAN's class head).
    ``body``: another body in place of the DCGAN one (e.g. InfoGAN's MNIST body,
    :class:`~gan_lightning.nets.infogan.InfoGANMNISTBody`): any module with ``features(x)``,
    ``head(h)`` and ``feature_dim``; ``channels``, ``image_size`` and ``width`` then go unused.
    """

    def __init__(
        self,
        channels: int = 1,
        image_size: int = 32,
        width: int = 64,
        aux_outputs: int = 10,
        aux_hidden: int = 0,
        norm: Norm = "batch",
        body: nn.Module | None = None,
        slope: float = 0.2,
    ) -> None:
        super().__init__()
        self.body = DCGANDiscriminator(channels, image_size, width, norm=norm) if body is None else body
        dim = self.body.feature_dim
        if aux_hidden > 0:
            hidden_norm = [nn.BatchNorm1d(aux_hidden)] if norm == "batch" else []
            self.aux_head = nn.Sequential(
                nn.Linear(dim, aux_hidden), *hidden_norm, nn.LeakyReLU(slope, True), nn.Linear(aux_hidden, aux_outputs)
            )
        else:
            self.aux_head = nn.Linear(dim, aux_outputs)
        dcgan_init_(self.aux_head)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body.features(x)

    def heads(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(source logits, auxiliary outputs) from body features ``h``."""
        return self.body.head(h).flatten(1).squeeze(1), self.aux_head(h.flatten(1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.heads(self.features(x))


# ---------------------------------------------------------------------------- triplegan
class LabelConcatGenerator(nn.Module):
    """G(z, y): an MLP whose every layer also sees the one-hot label (the authors' MLPConcatLayer).
    ``output_norm``: the output layer weight-normalised, its trained scale started at 1
    (``apply_scaled_weight_norm``: the authors' ``nn.l2normalize`` on G's last layer)."""

    def __init__(self, latent_dim: int, num_classes: int, data_shape: Sequence[int],
                 hidden: Sequence[int] = (500, 500), output_norm: bool = False) -> None:
        super().__init__()
        self.num_classes, self.data_shape = num_classes, tuple(data_shape)
        widths = [latent_dim, *hidden]
        self.hidden = nn.ModuleList(
            nn.ModuleDict({"linear": nn.Linear(w_in + num_classes, w_out), "norm": nn.BatchNorm1d(w_out)})
            for w_in, w_out in zip(widths[:-1], widths[1:]))
        self.out = nn.Linear(widths[-1] + num_classes, math.prod(self.data_shape))
        if output_norm:
            apply_scaled_weight_norm(self.out)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        y = F.one_hot(labels.long(), self.num_classes).to(z.dtype)
        h = z.flatten(1)
        for layer in self.hidden:
            h = F.softplus(layer["norm"](layer["linear"](torch.cat([h, y], dim=1))))
        return torch.tanh(self.out(torch.cat([h, y], dim=1))).view(z.size(0), *self.data_shape)


class LabelConcatDiscriminator(nn.Module):
    """D(x, y) -> one logit: an MLP whose every layer also sees the one-hot label, with Gaussian
    noise on its input and after every hidden layer in training mode. ``unit_norm``: every unit's
    weight vector, the output's too, held at norm 1 (``apply_unit_weight_norm``)."""

    def __init__(self, data_shape: Sequence[int], num_classes: int,
                 hidden: Sequence[int] = (1000, 500, 250, 250, 250), input_noise: float = 0.6,
                 hidden_noise: float = 0.5, unit_norm: bool = False) -> None:
        super().__init__()
        self.num_classes = num_classes
        widths = [math.prod(data_shape), *hidden]
        self.input_noise = GaussianNoise(input_noise)
        self.hidden = nn.ModuleList(nn.Linear(w_in + num_classes, w_out) for w_in, w_out in zip(widths[:-1], widths[1:]))
        self.hidden_noise = GaussianNoise(hidden_noise)
        self.out = nn.Linear(widths[-1] + num_classes, 1)
        if unit_norm:
            apply_unit_weight_norm(self)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        y = F.one_hot(labels.long(), self.num_classes).to(x.dtype)
        h = self.input_noise(x.flatten(1))
        for linear in self.hidden:
            h = self.hidden_noise(F.relu(linear(torch.cat([h, y], dim=1))))
        return self.out(torch.cat([h, y], dim=1)).squeeze(1)


class TripleClassifier(nn.Module):
    """The authors' MNIST classifier C: five 3x3 / 5x5 convolutions with BatchNorm and ReLU, two
    max-pools with dropout, global average pooling, a linear layer to the class logits."""

    def __init__(self, channels: int, num_classes: int, width: int = 32, dropout: float = 0.5) -> None:
        super().__init__()

        def conv(c_in, c_out, kernel, padding):
            return [nn.Conv2d(c_in, c_out, kernel, padding=padding), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]

        w = width
        self.features = nn.Sequential(
            *conv(channels, w, 5, 0), nn.MaxPool2d(2), nn.Dropout(dropout),
            *conv(w, 2 * w, 3, 1),
            *conv(2 * w, 2 * w, 3, 0), nn.MaxPool2d(2), nn.Dropout(dropout),
            *conv(2 * w, 4 * w, 3, 1),
            *conv(4 * w, 4 * w, 3, 1),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(4 * w, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
