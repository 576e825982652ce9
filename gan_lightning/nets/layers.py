"""Discriminator layers shared by the model families: minibatch statistics, spectral norm and the
data-dependent initialisation of weight-normalised layers."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm


class MinibatchDiscrimination(nn.Module):
    """Minibatch discrimination (Salimans et al. 2016): [x_i, o(x_i)], o(x_i)_b = sum_{j!=i} exp(-||M_ib - M_jb||_1).

    M = x T reshaped to (N, num_kernels, kernel_dim); the self term exp(0) = 1 is excluded,
    so a batch of identical samples gives o = N - 1 for every kernel. Input (N, in_features),
    output (N, in_features + num_kernels).
    """

    def __init__(self, in_features: int, num_kernels: int, kernel_dim: int) -> None:
        super().__init__()
        self.in_features, self.num_kernels, self.kernel_dim = in_features, num_kernels, kernel_dim
        self.T = nn.Parameter(torch.randn(in_features, num_kernels * kernel_dim) / math.sqrt(in_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.size(1) != self.in_features:
            raise ValueError(f"expected input of shape (N, {self.in_features}), got {tuple(x.shape)}")
        m = (x @ self.T).view(x.size(0), self.num_kernels, self.kernel_dim)
        l1 = (m.unsqueeze(0) - m.unsqueeze(1)).abs().sum(dim=3)  # (N, N, num_kernels)
        features = torch.exp(-l1).sum(dim=1) - 1.0  # drop the self term exp(0)
        return torch.cat([x, features], dim=1)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, num_kernels={self.num_kernels}, kernel_dim={self.kernel_dim}"


class MinibatchStdDev(nn.Module):
    """Minibatch standard deviation (Karras et al. 2018, ProGAN): append mean_{c,h,w} std_group(x) as extra channel(s).

    Samples are split into groups of g, the largest size <= ``group_size`` that divides N
    (so g = min(group_size, N) when that divides N, down to g = 1, which gives sqrt(eps) ~ 0), with
    the original's strided grouping: sample n is in group n mod (N / g). Within each group
    the (biased) standard deviation sqrt(var + 1e-8) is taken per feature and pixel, then
    averaged over the channels of each of ``num_features`` channel slices and all pixels;
    the result is broadcast to (N, num_features, H, W) and concatenated to the input.
    """

    def __init__(self, group_size: int = 4, num_features: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        if group_size < 1 or num_features < 1:
            raise ValueError(f"group_size and num_features must be >= 1, got {group_size}, {num_features}")
        self.group_size, self.num_features, self.eps = group_size, num_features, eps

    def group_size_for(self, batch_size: int) -> int:
        group = min(self.group_size, batch_size)
        while batch_size % group:
            group -= 1
        return group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        if c % self.num_features:
            raise ValueError(f"channels ({c}) must be divisible by num_features ({self.num_features})")
        g, f = self.group_size_for(n), self.num_features
        y = x.reshape(g, n // g, f, c // f, h, w)
        y = y - y.mean(dim=0)
        std = (y.pow(2).mean(dim=0) + self.eps).sqrt()  # (n // g, f, c // f, h, w)
        stat = std.mean(dim=(2, 3, 4)).reshape(n // g, f, 1, 1)
        stat = stat.repeat(g, 1, h, w)  # row n gets the statistic of group n mod (n // g)
        return torch.cat([x, stat.to(x.dtype)], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}, num_features={self.num_features}"


def apply_spectral_norm(
    module: nn.Module,
    layer_types: Sequence[type[nn.Module]] | type[nn.Module] = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear),
) -> nn.Module:
    """Spectral normalization (Miyato et al. 2018): W <- W / sigma(W) on every ``layer_types`` layer, in place.

    Uses ``torch.nn.utils.parametrizations.spectral_norm`` (one power iteration per forward in
    train mode); layers already parametrized on ``weight`` or without a weight are skipped.
    ``module`` itself is included if it matches. Returns ``module``.
    """
    types = tuple(layer_types) if isinstance(layer_types, (list, tuple)) else (layer_types,)
    for layer in list(module.modules()):
        if not isinstance(layer, types) or getattr(layer, "weight", None) is None:
            continue
        if parametrize.is_parametrized(layer, "weight"):
            continue
        spectral_norm(layer)
    return module


@torch.no_grad()
def init_from_data_(module: nn.Module, x: torch.Tensor, eps: float = 1e-6) -> None:
    """Data-dependent initialisation (Salimans & Kingma 2016, "Weight Normalization", section 3):
    rescale every Linear / Conv2d layer of ``module``, in forward order, so that its outputs on the
    batch ``x`` have zero mean and unit variance per unit (per channel for convolutions).

    The scale goes into the weight-norm gain ``g`` where the layer is weight-normalised
    (``torch.nn.utils.parametrizations.weight_norm``), into the weight otherwise; the shift into
    the bias (layers without a bias get only the scale). Runs one forward pass in eval mode
    (no dropout / input noise) and restores the module's mode.
    """
    def rescale(layer: nn.Module, inputs, output: torch.Tensor) -> torch.Tensor:
        dims = [0, *range(2, output.dim())]
        shape = [1, -1] + [1] * (output.dim() - 2)
        mean, scale = output.mean(dims), 1.0 / (output.std(dims) + eps)
        if parametrize.is_parametrized(layer, "weight") and hasattr(layer.parametrizations.weight, "original0"):
            gain = layer.parametrizations.weight.original0  # weight norm: weight = g * v / ||v||
            gain.mul_(scale.view_as(gain))
        else:
            layer.weight.mul_(scale.view(-1, *[1] * (layer.weight.dim() - 1)))
        if layer.bias is not None:
            layer.bias.copy_((layer.bias - mean) * scale)
            return (output - mean.view(shape)) * scale.view(shape)
        return output * scale.view(shape)

    handles = [m.register_forward_hook(rescale) for m in module.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    was_training = module.training
    try:
        module.eval()
        module(x)
    finally:
        module.train(was_training)
        for handle in handles:
            handle.remove()
