"""Networks of StackGAN (Zhang et al. 2017) and StackGAN++ (Zhang et al. 2018), after the authors' code
(hanzhanggit/StackGAN-Pytorch ``code/model.py``; hanzhanggit/StackGAN-v2 ``code/model.py``).

- :class:`ConditioningAugmentation`: the text embedding -> (mu, logvar) of a Gaussian over the condition c
  (v1: linear + ReLU; v2: linear + GLU), c = mu + sigma * eps in training. In eval mode c = mu (the
  authors draw eps at sampling too): samples and held-out scores are then a function of z alone.
- :class:`StageIGenerator`: [z, c] -> linear + BN + ReLU to 4 px (``8 width`` channels) -> nearest x2 +
  3x3 conv + BN + ReLU blocks, halving the channels -> 3x3 conv + tanh (``STAGE1_G``).
- :class:`StageIIGenerator`: Stage I's image (Stage I frozen: no gradient, always in eval mode) ->
  3x3 conv + ReLU, two stride-2 4x4 convs (to a quarter of Stage I's size, ``4 width`` channels) ->
  [features, c replicated] -> 3x3 conv + BN + ReLU -> residual blocks -> up blocks to the image
  size -> 3x3 conv + tanh (``STAGE2_G``).
- :class:`StackDiscriminator`: strided 4x4 convs to 4 px (BN after all but the first), then a
  conditional head ([features, condition replicated 4 x 4] -> 3x3 conv + BN + leaky ReLU -> 4x4 conv)
  and, optionally, an unconditional one (a 4x4 conv on the features): the authors' ``D_GET_LOGITS``
  (v1) and ``D_NET64`` ... (v2), which return both logits. Logits, not the authors' sigmoids.
- :class:`TreeGenerator` (StackGAN++'s ``G_NET``): [z, c] -> linear + BN + GLU to 4 px (``16 width``
  channels) -> gated up blocks to the first branch's size; each further branch: [hidden, c replicated]
  -> gated 3x3 conv -> residual blocks -> gated up block; every branch's hidden map -> 3x3 conv + tanh,
  an image per scale, all sharing the features below them.
- :class:`BranchDiscriminators`: one :class:`StackDiscriminator` per branch, called by branch index.

Initialisation: v1 N(0, 0.02) weights (``miscc/utils.py`` ``weights_init``); v2 orthogonal conv and
linear weights (``trainer.py`` ``weights_init``); BatchNorm weights N(1, 0.02) in both.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import nn

from gan_lightning.nets.dcgan import dcgan_init_
from gan_lightning.nets.text import ReplicateJoin


def conv3x3(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False)


def _activation(gated: bool) -> nn.Module:
    return nn.GLU(dim=1) if gated else nn.ReLU(True)


def joint_block(c_in: int, c_out: int, gated: bool = False) -> nn.Sequential:
    """3x3 conv + BN + ReLU (v2: to twice the channels, then GLU), same size."""
    width = 2 * c_out if gated else c_out
    return nn.Sequential(conv3x3(c_in, width), nn.BatchNorm2d(width), _activation(gated))


def up_block(c_in: int, c_out: int, gated: bool = False) -> nn.Sequential:
    """Nearest x2, then :func:`joint_block` (the authors' ``upBlock``)."""
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), *joint_block(c_in, c_out, gated))


class ResidualBlock(nn.Module):
    """x + [3x3 conv, BN, ReLU (v2: gated), 3x3 conv, BN](x); v1 ends with a ReLU, v2 without."""

    def __init__(self, channels: int, gated: bool = False) -> None:
        super().__init__()
        self.block = nn.Sequential(*joint_block(channels, channels, gated), conv3x3(channels, channels),
                                   nn.BatchNorm2d(channels))
        self.out = nn.Identity() if gated else nn.ReLU(True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(x + self.block(x))


def _doublings(name: str, size: int, base: int) -> int:
    steps = round(math.log2(size / base))
    if base * 2**steps != size or steps < 0:
        raise ValueError(f"{name} needs a power of two times {base} px, got {size}")
    return steps


def init_weights_(module: nn.Module, orthogonal: bool = False) -> None:
    """v1: N(0, 0.02) conv / linear weights; v2: orthogonal ones; BatchNorm (1d and 2d) weights N(1, 0.02)."""
    dcgan_init_(module)
    for m in module.modules():
        if orthogonal and isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.orthogonal_(m.weight, 1.0)
        elif isinstance(m, nn.BatchNorm1d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class ConditioningAugmentation(nn.Module):
    """phi(t) -> (c, mu, logvar): mu and logvar from one linear layer (v1: + ReLU; v2: to twice as many, + GLU);
    c = mu + exp(logvar / 2) * eps, eps ~ N(0, I), in training; c = mu in eval mode. ``augment=False``
    (the paper's ablation without CA): c = mu always, the same layer as a plain nonlinear projection."""

    def __init__(self, embedding_dim: int, condition_dim: int, gated: bool = False, augment: bool = True) -> None:
        super().__init__()
        self.condition_dim, self.augment = condition_dim, augment
        width = 4 * condition_dim if gated else 2 * condition_dim
        self.fc = nn.Sequential(nn.Linear(embedding_dim, width), _activation(gated) if gated else nn.ReLU())

    def moments(self, embedding: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar), no draw."""
        mu, logvar = self.fc(embedding).chunk(2, dim=1)
        return mu, logvar

    def forward(self, embedding: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.moments(embedding)
        if not (self.training and self.augment):
            return mu, mu, logvar
        return mu + torch.randn_like(mu) * logvar.mul(0.5).exp(), mu, logvar


class StageIGenerator(nn.Module):
    """G_I(z, phi(t)) -> (image (N, C, size, size), mu, logvar)."""

    def __init__(self, latent_dim: int, embedding_dim: int, condition_dim: int, channels: int, size: int,
                 width: int = 32, augment: bool = True) -> None:
        super().__init__()
        ups = _doublings("StageIGenerator", size, 4)
        top = width * 2**ups
        self.top = top
        self.ca = ConditioningAugmentation(embedding_dim, condition_dim, augment=augment)
        self.fc = nn.Sequential(nn.Linear(latent_dim + condition_dim, top * 16, bias=False),
                                nn.BatchNorm1d(top * 16), nn.ReLU(True))
        self.ups = nn.Sequential(*[up_block(top // 2**i, top // 2**(i + 1)) for i in range(ups)])
        self.image = nn.Sequential(conv3x3(width, channels), nn.Tanh())
        init_weights_(self)

    def forward(self, z: torch.Tensor, embedding: torch.Tensor):
        c, mu, logvar = self.ca(embedding)
        h = self.fc(torch.cat([z, c], dim=1)).view(-1, self.top, 4, 4)
        return self.image(self.ups(h)), mu, logvar


class StageIIGenerator(nn.Module):
    """G_II(G_I(z, phi(t)), phi(t)) -> (Stage I's image, Stage II's image, mu, logvar) (its own CA's).

    ``stage1`` is frozen: its parameters take no gradient and it stays in eval mode whatever ``train()``
    says (its BatchNorm statistics do not move either)."""

    def __init__(self, stage1: StageIGenerator, embedding_dim: int, condition_dim: int, channels: int,
                 stage1_size: int, size: int, width: int = 32, num_residual: int = 2, augment: bool = True) -> None:
        super().__init__()
        if stage1_size % 4 or stage1_size < 8:
            raise ValueError(f"StageIIGenerator: Stage I's size must be a multiple of 4 and >= 8, got {stage1_size}")
        ups = _doublings("StageIIGenerator", size, stage1_size // 4)
        self.stage1 = stage1.requires_grad_(False).eval()
        hidden = 4 * width
        self.ca = ConditioningAugmentation(embedding_dim, condition_dim, augment=augment)
        self.encoder = nn.Sequential(
            conv3x3(channels, width), nn.ReLU(True),
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.ReLU(True),
            nn.Conv2d(2 * width, hidden, 4, 2, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU(True))
        self.join = ReplicateJoin()
        self.joint = joint_block(hidden + condition_dim, hidden)
        self.residual = nn.Sequential(*[ResidualBlock(hidden) for _ in range(num_residual)])
        widths = [max(hidden // 2**i, 4) for i in range(ups + 1)]
        self.ups = nn.Sequential(*[up_block(widths[i], widths[i + 1]) for i in range(ups)])
        self.image = nn.Sequential(conv3x3(widths[-1], channels), nn.Tanh())
        init_weights_(self.encoder), init_weights_(self.ca), init_weights_(self.joint)
        init_weights_(self.residual), init_weights_(self.ups), init_weights_(self.image)

    def train(self, mode: bool = True) -> StageIIGenerator:
        super().train(mode)
        self.stage1.eval()
        return self

    def forward(self, z: torch.Tensor, embedding: torch.Tensor):
        with torch.no_grad():
            low = self.stage1(z, embedding)[0]
        c, mu, logvar = self.ca(embedding)
        h = self.joint(self.join(self.encoder(low), c))
        return low, self.image(self.ups(self.residual(h))), mu, logvar


class StackDiscriminator(nn.Module):
    """D(x, condition) -> (conditional logits (N,), unconditional logits (N,) or None).

    Strided 4x4 convs from ``size`` to 4 px, ``width`` channels doubling (at most ``8 width``); the
    conditional head joins the condition (mu, ``condition_dim``) replicated over the 4 x 4 map."""

    def __init__(self, channels: int, size: int, condition_dim: int, width: int = 64,
                 unconditional: bool = False) -> None:
        super().__init__()
        downs = _doublings("StackDiscriminator", size, 4)
        if downs < 1:
            raise ValueError(f"StackDiscriminator needs images of 8 px or more, got {size}")
        layers: list[nn.Module] = []
        c = channels
        for i in range(downs):
            out = width * 2 ** min(i, 3)
            layers.append(nn.Conv2d(c, out, 4, 2, 1, bias=False))
            if i > 0:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.LeakyReLU(0.2, True))
            c = out
        self.features = nn.Sequential(*layers)
        self.join = ReplicateJoin()
        self.conditional = nn.Sequential(conv3x3(c + condition_dim, c), nn.BatchNorm2d(c), nn.LeakyReLU(0.2, True),
                                         nn.Conv2d(c, 1, 4, 4))
        self.unconditional = nn.Conv2d(c, 1, 4, 4) if unconditional else None
        init_weights_(self)

    def forward(self, x: torch.Tensor, condition: torch.Tensor):
        h = self.features(x)
        cond = self.conditional(self.join(h, condition)).flatten()
        return cond, (self.unconditional(h).flatten() if self.unconditional is not None else None)


class TreeGenerator(nn.Module):
    """StackGAN++'s G: (z, phi(t)) -> ([an image per branch, coarse to fine], mu, logvar).

    Branch i draws at ``sizes[i]`` (each twice the one before) from hidden features shared with the
    branches below it."""

    def __init__(self, latent_dim: int, embedding_dim: int, condition_dim: int, channels: int,
                 sizes: Sequence[int], width: int = 32, num_residual: int = 2) -> None:
        super().__init__()
        sizes = [int(s) for s in sizes]
        if any(b != 2 * a for a, b in itertools.pairwise(sizes)):
            raise ValueError(f"TreeGenerator: each branch doubles the size of the one before, got {sizes}")
        ups = _doublings("TreeGenerator", sizes[0], 4)
        top = 16 * width
        self.top = top
        self.ca = ConditioningAugmentation(embedding_dim, condition_dim, gated=True)
        self.fc = nn.Sequential(nn.Linear(latent_dim + condition_dim, 2 * top * 16, bias=False),
                                nn.BatchNorm1d(2 * top * 16), nn.GLU(dim=1))
        self.first = nn.Sequential(*[up_block(top // 2**i, top // 2**(i + 1), gated=True) for i in range(ups)])
        hidden = [top // 2**(ups + i) for i in range(len(sizes))]
        if hidden[-1] < 1:
            raise ValueError(f"TreeGenerator: width {width} is too small for {len(sizes)} branches from 4 px")
        self.join = ReplicateJoin()
        self.next = nn.ModuleList(
            nn.Sequential(joint_block(hidden[i] + condition_dim, hidden[i], gated=True),
                          *[ResidualBlock(hidden[i], gated=True) for _ in range(num_residual)],
                          up_block(hidden[i], hidden[i + 1], gated=True))
            for i in range(len(sizes) - 1))
        self.images = nn.ModuleList(nn.Sequential(conv3x3(h, channels), nn.Tanh()) for h in hidden)
        init_weights_(self, orthogonal=True)

    def forward(self, z: torch.Tensor, embedding: torch.Tensor):
        c, mu, logvar = self.ca(embedding)
        h = self.first(self.fc(torch.cat([c, z], dim=1)).view(-1, self.top, 4, 4))
        images = [self.images[0](h)]
        for branch, to_image in zip(self.next, self.images[1:]):
            h = branch[1:](branch[0](self.join(h, c)))
            images.append(to_image(h))
        return images, mu, logvar


class BranchDiscriminators(nn.Module):
    """One :class:`StackDiscriminator` (both heads) per branch size: ``forward(x, condition, branch)``."""

    def __init__(self, channels: int, sizes: Sequence[int], condition_dim: int, width: int = 64) -> None:
        super().__init__()
        self.branches = nn.ModuleList(StackDiscriminator(channels, s, condition_dim, width, unconditional=True)
                                      for s in sizes)
        for d in self.branches:
            init_weights_(d, orthogonal=True)

    def forward(self, x: torch.Tensor, condition: torch.Tensor, branch: int):
        return self.branches[branch](x, condition)
