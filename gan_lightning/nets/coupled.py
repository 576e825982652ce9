"""CoGAN's coupled networks: two DCGAN generators (discriminators) that share layers.

Networks know nothing about training: no losses and no optimizers here.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from gan_lightning.nets.dcgan import DCGANDiscriminator, DCGANGenerator

Norm = Literal["batch", "none", "layer"]


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
