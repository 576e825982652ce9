"""Self-attention over the positions of a feature map (Zhang, Goodfellow, Metaxas & Odena 2019, SAGAN).

The paper's block (section 3): with 1x1 convolutions f (keys), g (queries), h (values) and v
(back to the input's channels), every output position j attends to all positions i,

    beta_{j,i} = softmax_i(f(x_i)^T g(x_j)),   o_j = v(sum_i beta_{j,i} h(x_i)),   y = gamma * o + x,

with gamma a learnable scalar initialised to 0, so the block starts as the identity and the
network first relies on local (convolutional) evidence, then learns how much non-local evidence
to use.

Sizes follow the authors' code (brain-research/self-attention-gan, ``non_local.py``,
``sn_non_local_block_sim``), as StudioGAN and BigGAN-PyTorch do: f and g have C/8 channels, h
has C/2 and v maps C/2 back to C; none has a bias; the key and value maps are max-pooled 2x2
(stride 2), so each position attends to HW/4 pooled positions (4x less memory and compute than
the paper's formula, which heykeetae/Self-Attention-GAN implements without pooling: pass
``pool_keys=False``); Xavier-uniform initial weights. ``spectral_norm=True`` normalises all four
convolutions, as the authors do in both G and D.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gan_lightning.nets.layers import apply_spectral_norm


class SelfAttention2d(nn.Module):
    """(N, C, H, W) -> (N, C, H, W): ``x + gamma * attention(x)``; identity at initialisation (gamma = 0).

    ``pool_keys``: max-pool the keys and values 2x2 (the reference implementations; H and W must
    be even), or attend to every position (the paper's formula). ``attention(x)`` returns the
    weights, (N, H*W, number of key positions), each row a distribution over the key positions.
    """

    def __init__(self, channels: int, spectral_norm: bool = False, pool_keys: bool = True) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        key_channels, value_channels = max(1, channels // 8), max(1, channels // 2)
        self.channels, self.pool_keys = channels, pool_keys
        self.query = nn.Conv2d(channels, key_channels, 1, bias=False)  # the paper's g
        self.key = nn.Conv2d(channels, key_channels, 1, bias=False)  # f
        self.value = nn.Conv2d(channels, value_channels, 1, bias=False)  # h
        self.out = nn.Conv2d(value_channels, channels, 1, bias=False)  # v
        self.gamma = nn.Parameter(torch.zeros(()))
        for conv in (self.query, self.key, self.value, self.out):
            nn.init.xavier_uniform_(conv.weight)
        if spectral_norm:
            apply_spectral_norm(self)

    def _pooled(self, x: torch.Tensor) -> torch.Tensor:
        if not self.pool_keys:
            return x
        if x.size(-1) % 2 or x.size(-2) % 2:
            raise ValueError(f"pool_keys needs an even height and width, got {tuple(x.shape[-2:])}; "
                             "use pool_keys=False (or another resolution)")
        return F.max_pool2d(x, 2)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """beta: (N, H*W, K), row j the softmax over the K key positions of query j's scores."""
        queries = self.query(x).flatten(2).transpose(1, 2)  # (N, HW, C/8)
        keys = self._pooled(self.key(x)).flatten(2)  # (N, C/8, K)
        return torch.softmax(queries @ keys, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = self.attention(x)
        values = self._pooled(self.value(x)).flatten(2)  # (N, C/2, K)
        attended = (values @ weights.transpose(1, 2)).reshape(x.size(0), -1, *x.shape[2:])  # (N, C/2, H, W)
        return x + self.gamma * self.out(attended)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, pool_keys={self.pool_keys}"
