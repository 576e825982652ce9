"""Layers shared by the model families: minibatch statistics (minibatch discrimination, ProGAN's
minibatch standard deviation), virtual batch normalisation, spectral norm, unit weight norm, the data-dependent
initialisation of weight-normalised layers, the equalized learning rate and pixel norm of
ProGAN (also used by StyleGAN2), maxout units (Goodfellow et al. 2013) and a plain N(0, std)
initialisation of linear layers."""

from __future__ import annotations

from contextlib import contextmanager

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
        m = (x @ self.T).view(x.size(0), self.num_kernels, self.kernel_dim).transpose(0, 1)
        l1 = torch.cdist(m, m, p=1.0)  # (num_kernels, N, N); 2-3x cheaper than broadcasting (N, N, K, C)
        features = torch.exp(-l1).sum(dim=2) - 1.0  # drop the self term exp(0)
        return torch.cat([x, features.t()], dim=1)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, num_kernels={self.num_kernels}, kernel_dim={self.kernel_dim}"


NORMS = ("batch", "virtual", "none")


class VirtualBatchNorm(nn.Module):
    """Virtual batch normalisation (Salimans et al. 2016, section 3.4): each example is normalised with the
    statistics of a reference batch, fixed once, combined with its own; the reference batch with its own only.

    The input's first ``reference_size`` rows are the reference batch (its activations under the current
    weights: the network runs it beside every batch, :func:`with_reference`), the other rows the examples.
    As openai/improved-gan (imagenet/model.py, ``VBN``): the reference statistics are mean and mean square
    over the reference rows and the spatial positions; an example's are over its own positions, weighted
    1 / (reference_size + 1) against reference_size / (reference_size + 1) for the reference; std =
    sqrt(eps + E[x^2] - E[x]^2), eps 1e-5; a learned per-channel scale and shift (1 and 0 here; the authors
    draw the scale from N(1, 0.02)). An example's output depends on the reference and on itself, never on
    the other examples of its batch; train and eval mode compute the same (no running statistics).
    Input (R + N, C) or (R + N, C, *spatial).
    """

    def __init__(self, num_features: int, reference_size: int, eps: float = 1e-5) -> None:
        super().__init__()
        if num_features < 1 or reference_size < 1:
            raise ValueError(f"VirtualBatchNorm needs num_features and reference_size >= 1, got "
                             f"{num_features}, {reference_size}")
        self.num_features, self.reference_size, self.eps = num_features, reference_size, eps
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))

    def normalised(self, x: torch.Tensor, mean: torch.Tensor, mean_sq: torch.Tensor) -> torch.Tensor:
        variance = (mean_sq - mean.square()).clamp_min(0.0)
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return (x - mean) * torch.rsqrt(variance + self.eps) * self.weight.view(shape) + self.bias.view(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = self.reference_size
        if x.dim() < 2 or x.size(1) != self.num_features or x.size(0) < size:
            raise ValueError(f"VirtualBatchNorm expects the {size} reference rows first, then the examples, with "
                             f"{self.num_features} channels; got shape {tuple(x.shape)}")
        reference, examples = x[:size], x[size:]
        spatial = tuple(range(2, x.dim()))
        ref_mean = reference.mean((0, *spatial), keepdim=True)
        ref_mean_sq = reference.square().mean((0, *spatial), keepdim=True)
        own_mean = examples.mean(spatial, keepdim=True) if spatial else examples
        own_mean_sq = examples.square().mean(spatial, keepdim=True) if spatial else examples.square()
        new = 1.0 / (size + 1.0)
        mean = new * own_mean + (1.0 - new) * ref_mean
        mean_sq = new * own_mean_sq + (1.0 - new) * ref_mean_sq
        return torch.cat([self.normalised(reference, ref_mean, ref_mean_sq),
                          self.normalised(examples, mean, mean_sq)])

    def extra_repr(self) -> str:
        return f"{self.num_features}, reference_size={self.reference_size}, eps={self.eps:g}"


def reference_noise(reference_size: int, latent_dim: int, seed: int = 0) -> torch.Tensor:
    """The reference batch of a generator with virtual batch norm: ``reference_size`` draws of N(0, I) from a
    generator of its own seeded ``seed`` (building a network does not consume the global RNG), fixed for the
    whole training as in the authors' code (a noise variable drawn once); kept as a buffer, so it is saved
    in the checkpoint and moves to the model's device."""
    return torch.randn(reference_size, latent_dim, generator=torch.Generator().manual_seed(seed))


def with_reference(net: nn.Module, reference: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``net`` on the reference batch and ``z`` together (the reference rows first, as
    :class:`VirtualBatchNorm` reads them); the outputs of ``z`` only."""
    both = torch.cat([reference.to(z.dtype).view(-1, *z.shape[1:]), z])
    return net(both)[reference.size(0):]


def norm_layer(norm: str, num_features: int, dims: int, reference_size: int = 64) -> list[nn.Module]:
    """A generator's hidden normalisation, by name (``NORMS``): BatchNorm (1-D or 2-D by ``dims``),
    :class:`VirtualBatchNorm`, or no layer at all."""
    if norm == "batch":
        return [nn.BatchNorm1d(num_features) if dims == 1 else nn.BatchNorm2d(num_features)]
    if norm == "virtual":
        return [VirtualBatchNorm(num_features, reference_size)]
    if norm == "none":
        return []
    raise ValueError(f"g_norm must be one of {', '.join(NORMS)}, got {norm!r}")


class EqualizedLinear(nn.Module):
    """Fully connected layer with the equalized learning rate (Karras et al. 2018, ProGAN, section 4.1).

    The weight is stored as N(0, 1 / lr_multiplier) and multiplied at every forward by
    ``scale = gain * lr_multiplier / sqrt(in_features)`` (He's constant), so Adam's per-parameter
    step is the same relative change for every layer. The bias starts at ``bias_init`` and is
    multiplied by ``lr_multiplier`` at run time. Defaults as the authors' code (gain sqrt(2),
    zero bias); ``lr_multiplier=0.01`` is StyleGAN's mapping network.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, gain: float = math.sqrt(2.0),
                 lr_multiplier: float = 1.0, bias_init: float = 0.0) -> None:
        super().__init__()
        if in_features < 1 or out_features < 1 or lr_multiplier <= 0:
            raise ValueError(f"EqualizedLinear needs in/out_features >= 1 and lr_multiplier > 0, got "
                             f"{in_features}, {out_features}, {lr_multiplier}")
        self.in_features, self.out_features = in_features, out_features
        self.gain, self.lr_multiplier = float(gain), float(lr_multiplier)
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_multiplier)) if bias else None
        self.scale = self.gain * self.lr_multiplier / math.sqrt(in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias * self.lr_multiplier if self.bias is not None else None
        return nn.functional.linear(x, self.weight * self.scale, bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
                f"gain={self.gain:.4g}, lr_multiplier={self.lr_multiplier:g}")


class EqualizedConv2d(nn.Module):
    """2-D convolution with the equalized learning rate (Karras et al. 2018, ProGAN, section 4.1).

    Weight ~ N(0, 1 / lr_multiplier), multiplied at every forward by
    ``scale = gain * lr_multiplier / sqrt(in_channels * kernel_size ** 2)``; bias as
    :class:`EqualizedLinear`. ``padding`` defaults to ``kernel_size // 2`` (same size, odd kernels).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int | None = None, bias: bool = True, gain: float = math.sqrt(2.0),
                 lr_multiplier: float = 1.0, bias_init: float = 0.0) -> None:
        super().__init__()
        if in_channels < 1 or out_channels < 1 or kernel_size < 1 or lr_multiplier <= 0:
            raise ValueError(f"EqualizedConv2d needs channels, kernel_size >= 1 and lr_multiplier > 0, got "
                             f"{in_channels}, {out_channels}, {kernel_size}, {lr_multiplier}")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.stride = stride
        self.padding = kernel_size // 2 if padding is None else padding
        self.gain, self.lr_multiplier = float(gain), float(lr_multiplier)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_channels,), float(bias_init) / lr_multiplier)) if bias else None
        self.scale = self.gain * self.lr_multiplier / math.sqrt(in_channels * kernel_size * kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias * self.lr_multiplier if self.bias is not None else None
        return nn.functional.conv2d(x, self.weight * self.scale, bias, stride=self.stride, padding=self.padding)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, bias={self.bias is not None}, gain={self.gain:.4g}, "
                f"lr_multiplier={self.lr_multiplier:g}")


class PixelNorm(nn.Module):
    """Pixelwise feature vector normalization (Karras et al. 2018, ProGAN, section 4.2):
    x / sqrt(mean over channels of x^2 + eps), eps 1e-8, so each pixel's feature vector has unit
    RMS (norm sqrt(C)). ``dim`` is the channel dimension (1; a latent batch (N, D) too)."""

    def __init__(self, eps: float = 1e-8, dim: int = 1) -> None:
        super().__init__()
        self.eps, self.dim = eps, dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=self.dim, keepdim=True) + self.eps)

    def extra_repr(self) -> str:
        return f"eps={self.eps:g}, dim={self.dim}"


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
    for layer in _unparametrized(module, layer_types):
        spectral_norm(layer)
    return module


def _unparametrized(
    module: nn.Module, layer_types: Sequence[type[nn.Module]] | type[nn.Module],
) -> list[nn.Module]:
    """The ``layer_types`` layers of ``module`` (itself included) that have a weight not yet parametrized."""
    types = tuple(layer_types) if isinstance(layer_types, (list, tuple)) else (layer_types,)
    return [layer for layer in module.modules() if isinstance(layer, types)
            and getattr(layer, "weight", None) is not None and not parametrize.is_parametrized(layer, "weight")]


class UnitRows(nn.Module):
    """A parametrization: the weight with each output unit's weight vector (its row, over all other
    dimensions) scaled to norm 1."""

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        norms = weight.flatten(1).norm(dim=1).clamp_min(1e-12)
        return weight / norms.view(-1, *([1] * (weight.dim() - 1)))


def apply_unit_weight_norm(
    module: nn.Module, layer_types: Sequence[type[nn.Module]] | type[nn.Module] = (nn.Linear,),
) -> nn.Module:
    """Weight normalisation with its scale fixed at 1 (Salimans & Kingma 2016 with g not trained): every
    output unit's weight vector of each ``layer_types`` layer has norm 1, in place (``UnitRows``); biases
    are left free. Layers already parametrized on ``weight`` are skipped. Returns ``module``."""
    for layer in _unparametrized(module, layer_types):
        parametrize.register_parametrization(layer, "weight", UnitRows())
    return module


def apply_scaled_weight_norm(layer: nn.Module, scale: float = 1.0) -> nn.Module:
    """Weight normalisation (Salimans & Kingma 2016) of one layer's weight, each output unit's weight vector
    ``g * v / ||v||`` with its scale g trained and started at ``scale`` (torch's ``weight_norm`` starts g at the
    weight's norm: the authors' Triple-GAN ``nn.l2normalize`` starts it at 1). Returns ``layer``."""
    from torch.nn.utils.parametrizations import weight_norm

    weight_norm(layer, "weight", dim=0)
    with torch.no_grad():
        layer.parametrizations.weight.original0.fill_(scale)
    return layer


class Maxout(nn.Module):
    """Maxout units (Goodfellow et al. 2013): the last dimension, ``pieces * units`` wide, in groups of
    ``pieces`` consecutive features, each group reduced to its maximum -> ``units`` features. It acts on
    the last dimension only, so (batch, features) and (seeds, batch, features) inputs alike."""

    def __init__(self, pieces: int) -> None:
        super().__init__()
        if pieces < 1:
            raise ValueError(f"maxout pieces must be >= 1, got {pieces}")
        self.pieces = pieces

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.size(-1) % self.pieces:
            raise ValueError(f"maxout: {x.size(-1)} features are not a multiple of {self.pieces} pieces")
        return x.unflatten(-1, (x.size(-1) // self.pieces, self.pieces)).amax(-1)

    def extra_repr(self) -> str:
        return f"pieces={self.pieces}"


@torch.no_grad()
def normal_init_(module: nn.Module, std: float) -> nn.Module:
    """Every ``nn.Linear`` of ``module``: weights N(0, std^2), biases 0 (Blocks' ``IsotropicGaussian(std)`` and
    ``Constant(0)``, the initialisation of PacGAN's toy networks). Normalisation layers keep theirs (weight 1,
    bias 0). Returns ``module``."""
    if not std > 0:
        raise ValueError(f"init std must be > 0, got {std}")
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            layer.weight.normal_(0.0, std)
            if layer.bias is not None:
                layer.bias.zero_()
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


@contextmanager
def eval_mode(*modules: nn.Module):
    """``with eval_mode(net, ...):`` the modules in eval mode; each one's mode is restored afterwards."""
    modes = [module.training for module in modules]
    for module in modules:
        module.eval()
    try:
        yield
    finally:
        for module, mode in zip(modules, modes):
            module.train(mode)


def power_of_two_depth(name: str, size: int, smallest: int = 8) -> int:
    """log2(size) of a square image size that is a power of two >= ``smallest``; a one-line error
    naming ``name`` otherwise."""
    depth = size.bit_length() - 1
    if size < smallest or 2**depth != size:
        raise ValueError(f"{name} needs square images of a power-of-two size >= {smallest} px, got {size}")
    return depth
