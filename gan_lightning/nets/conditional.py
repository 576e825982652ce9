"""Blocks of the conditional and encoder-based families (CGAN, ACGAN, InfoGAN, AAE, VAE/GAN, BiGAN, CoGAN).

All of them are DCGAN-style (``gan_lightning.nets.dcgan``) and sized by ``upsampling_plan``,
so they work on 28 and 32 px images alike:

- ``ConditionalDCGANGenerator``: G(z, y) with a learned label embedding concatenated to z.
- ``ConditionalDCGANDiscriminator``: D(x, y), the label given either as one-hot maps stacked
  on the image channels (``"concat"``) or through a projection on D's last features
  (``"projection"``, Miyato & Koyama 2018).
- ``AuxiliaryHeadDiscriminator``: one convolutional body, a real/fake head and an auxiliary
  head (ACGAN's class head, InfoGAN's Q head).
- ``ConvEncoder``: image -> code (deterministic or Gaussian), the DCGAN discriminator's body.
- ``JointDiscriminator``: D(x, z) on image/code pairs (BiGAN / ALI).
- ``CoupledGenerators`` / ``CoupledDiscriminators``: two DCGAN networks sharing layers (CoGAN).

Networks know nothing about training: no losses and no optimizers here.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from gan_lightning.nets.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_init_, dropout_layers

Norm = Literal["batch", "none", "layer"]


def cycle_labels(num: int, num_classes: int, device=None) -> torch.Tensor:
    """Labels 0, 1, ..., K-1, 0, 1, ... for ``num`` samples: the default labels of conditional sampling."""
    return torch.arange(num, device=device) % num_classes


def check_labels(labels: torch.Tensor, num_classes: int, num: int) -> torch.Tensor:
    """``labels`` as a long vector of ``num`` entries in [0, num_classes); a clear error otherwise."""
    labels = torch.as_tensor(labels).long().flatten()
    if labels.numel() != num:
        raise ValueError(f"got {labels.numel()} labels for {num} samples")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
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


class ConvEncoder(nn.Module):
    """Image -> code of ``code_dim``: the DCGAN discriminator's body with ``code_dim`` outputs.

    ``gaussian=True`` returns ``(mean, log_variance)`` of a diagonal Gaussian q(z|x) instead.
    """

    def __init__(
        self,
        channels: int = 1,
        image_size: int = 32,
        width: int = 64,
        code_dim: int = 100,
        gaussian: bool = False,
        norm: Norm = "batch",
    ) -> None:
        super().__init__()
        self.code_dim, self.gaussian = code_dim, gaussian
        self.net = DCGANDiscriminator(channels, image_size, width, outputs=code_dim * (2 if gaussian else 1), norm=norm)

    def forward(self, x: torch.Tensor):
        out = self.net.head(self.net.features(x)).flatten(1)  # never squeezed, even for code_dim = 1
        return out.chunk(2, dim=1) if self.gaussian else out


class JointDiscriminator(nn.Module):
    """D(x, z) -> one logit per pair (BiGAN / ALI).

    x goes through the DCGAN discriminator's body to a ``hidden``-wide embedding, z through a
    two-layer MLP; the two embeddings are concatenated and scored by a two-layer MLP.
    ``dropout`` > 0 drops inputs and hidden units of every path (ALI's discriminators use 0.2).
    """

    def __init__(
        self,
        channels: int = 1,
        image_size: int = 32,
        width: int = 64,
        latent_dim: int = 100,
        hidden: int = 512,
        norm: Norm = "batch",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.x_path = DCGANDiscriminator(channels, image_size, width, outputs=hidden, norm=norm,
                                         dropout=dropout, input_dropout=dropout)
        self.z_path = nn.Sequential(
            *dropout_layers(dropout), nn.Linear(latent_dim, hidden), nn.LeakyReLU(0.2, True), *dropout_layers(dropout),
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.2, True), *dropout_layers(dropout),
        )
        self.joint = nn.Sequential(
            nn.Linear(2 * hidden, hidden), nn.LeakyReLU(0.2, True), *dropout_layers(dropout), nn.Linear(hidden, 1)
        )
        dcgan_init_(self.z_path)
        dcgan_init_(self.joint)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        hx = F.leaky_relu(self.x_path.head(self.x_path.features(x)).flatten(1), 0.2)
        hz = self.z_path(z.flatten(1))
        return self.joint(torch.cat([hx, hz], dim=1)).squeeze(1)


def _block_starts(layers: nn.Sequential, kind: type[nn.Module]) -> list[int]:
    """Indices of the layers of type ``kind`` in ``layers``: where each DCGAN block begins."""
    return [i for i, layer in enumerate(layers) if isinstance(layer, kind)]


class CoupledGenerators(nn.Module):
    """Two DCGAN generators sharing their first layers (CoGAN's weight sharing).

    ``shared`` holds every block but the last ``private_layers`` ones (high-level structure,
    one set of weights); ``private_a`` / ``private_b`` hold each domain's own last blocks
    (low-level rendering). ``forward(z)`` draws domain A; ``forward_pair(z)`` both domains
    from one pass through the shared layers.
    """

    def __init__(
        self, latent_dim: int = 100, channels: int = 1, image_size: int = 32, width: int = 64, private_layers: int = 1
    ) -> None:
        super().__init__()
        g_a = DCGANGenerator(latent_dim, channels, image_size, width)
        g_b = DCGANGenerator(latent_dim, channels, image_size, width)
        starts = _block_starts(g_a.net, nn.ConvTranspose2d)
        if not 1 <= private_layers < len(starts):
            raise ValueError(
                f"private_layers must be in [1, {len(starts) - 1}] for {image_size} px, got {private_layers}"
            )
        cut = starts[len(starts) - private_layers]
        self.latent_dim = latent_dim
        self.shared = nn.Sequential(*g_a.net[:cut])
        self.private_a = nn.Sequential(*g_a.net[cut:])
        self.private_b = nn.Sequential(*g_b.net[cut:])

    def trunk(self, z: torch.Tensor) -> torch.Tensor:
        return self.shared(z.view(z.size(0), -1, 1, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.private_a(self.trunk(z))

    def forward_pair(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(z)
        return self.private_a(h), self.private_b(h)


class CoupledDiscriminators(nn.Module):
    """Two DCGAN discriminators sharing their last layers (CoGAN's weight sharing).

    ``private_a`` / ``private_b`` are each domain's first ``private_layers`` blocks (low-level
    features); ``shared`` and ``head`` are the rest, one set of weights for both domains.
    ``forward(x, domain)`` with ``domain`` ``"a"`` or ``"b"``.
    """

    def __init__(
        self, channels: int = 1, image_size: int = 32, width: int = 64, private_layers: int = 1, norm: Norm = "batch"
    ) -> None:
        super().__init__()
        d_a = DCGANDiscriminator(channels, image_size, width, norm=norm)
        d_b = DCGANDiscriminator(channels, image_size, width, norm=norm)
        starts = _block_starts(d_a.features, nn.Conv2d)
        if not 1 <= private_layers < len(starts):
            raise ValueError(
                f"private_layers must be in [1, {len(starts) - 1}] for {image_size} px, got {private_layers}"
            )
        cut = starts[private_layers]
        self.private_a = nn.Sequential(*d_a.features[:cut])
        self.private_b = nn.Sequential(*d_b.features[:cut])
        self.shared = nn.Sequential(*d_a.features[cut:])
        self.head = d_a.head

    def forward(self, x: torch.Tensor, domain: Literal["a", "b"] = "a") -> torch.Tensor:
        if domain not in ("a", "b"):
            raise ValueError(f"domain must be 'a' or 'b', got {domain!r}")
        private = self.private_a if domain == "a" else self.private_b
        return self.head(self.shared(private(x))).flatten(1).squeeze(1)
