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

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from gan_lightning.nets.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_init_

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
    body features, through one hidden layer (Linear, BatchNorm, LeakyReLU 0.2) when
    ``aux_hidden`` > 0 (InfoGAN's Q network) or directly (ACGAN's class head).
    """

    def __init__(
        self,
        channels: int = 1,
        image_size: int = 32,
        width: int = 64,
        aux_outputs: int = 10,
        aux_hidden: int = 0,
        norm: Norm = "batch",
    ) -> None:
        super().__init__()
        self.body = DCGANDiscriminator(channels, image_size, width, norm=norm)
        dim = self.body.feature_dim
        if aux_hidden > 0:
            hidden_norm = [nn.BatchNorm1d(aux_hidden)] if norm == "batch" else []
            self.aux_head = nn.Sequential(
                nn.Linear(dim, aux_hidden), *hidden_norm, nn.LeakyReLU(0.2, True), nn.Linear(aux_hidden, aux_outputs)
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
