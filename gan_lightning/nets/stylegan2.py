"""StyleGAN2's networks in pure PyTorch (no custom CUDA ops): mapping, synthesis, residual D.

Facts from the authors' stylegan2-ada-pytorch (training/networks.py), rewritten here:

- equalized learning rate everywhere: weights drawn N(0, 1) (divided by the layer's lr multiplier)
  and scaled at run time by ``lr_multiplier / sqrt(fan_in)``; biases scaled by the lr multiplier;
  leaky ReLU (0.2) outputs multiplied by sqrt(2);
- mapping network: z normalised to unit second moment, ``num_layers`` fully connected layers of
  width ``w_dim`` with lr multiplier 0.01, w broadcast to ``num_ws`` layers; ``w_avg`` (a buffer)
  tracks the mean w with beta 0.995 in training mode; truncation psi lerps towards it;
- modulated convolution: per-sample weights ``w * style`` (style = affine(w), bias init 1), then
  demodulation ``/ sqrt(sum w^2 + 1e-8)`` per output channel (unit-variance outputs for
  unit-variance inputs); run as the authors' unfused path (activations scaled before and after a
  shared convolution) or, ``fused=True``, as one grouped convolution;
- per-layer noise inputs ``strength * n`` (strength initialised to 0), n ~ N(0, 1) per pixel, or a
  fixed buffer (``noise_mode="const"``, what the authors' generate.py uses), or none;
- "skip" generator (each resolution's ToRGB, a 1x1 modulated conv without demodulation, is added
  to the upsampled image) and "resnet" discriminator (two 3x3 convs, 1x1 skip, sum * sqrt(0.5));
  the epilogue has minibatch standard deviation (group 4, 1 channel), a 3x3 conv and two FC layers;
- resampling with the [1, 3, 3, 1] FIR filter. Differences from the authors, kept small: an
  upsampling layer upsamples with the filter and then convolves (the authors fuse a transposed
  conv with the filter), a downsampling layer filters-and-subsamples before its conv; no fp16
  clamping. Image sizes other than powers of two start from an odd base (28 px: 7 -> 14 -> 28).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gan_lightning.nets.layers import EqualizedConv2d, EqualizedLinear, MinibatchStdDev

_LRELU_GAIN = math.sqrt(2.0)


def base_resolution(size: int) -> int:
    """The constant input's size: ``size`` halved while it stays even and above 4 (32 -> 4, 28 -> 7)."""
    base = size
    while base % 2 == 0 and base > 4:
        base //= 2
    return base


def _fir_filter() -> torch.Tensor:
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0])
    kernel = torch.outer(taps, taps)
    return kernel / kernel.sum()


def upsample2x(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """2x upsampling with the 4x4 FIR ``kernel`` (zero-insertion then filtering, gain 4): (H, W) -> (2H, 2W)."""
    channels = x.size(1)
    weight = (kernel * 4).to(x.dtype)[None, None].expand(channels, 1, 4, 4)
    return F.conv_transpose2d(x, weight, stride=2, padding=1, groups=channels)


def downsample2x(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """2x downsampling with the 4x4 FIR ``kernel`` (filter, keep every second pixel): (H, W) -> (H/2, W/2)."""
    channels = x.size(1)
    weight = kernel.to(x.dtype)[None, None].expand(channels, 1, 4, 4)
    return F.conv2d(x, weight, stride=2, padding=1, groups=channels)


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    """The authors' activation: leaky ReLU 0.2 times sqrt(2) (the equalized layers keep gain 1)."""
    return F.leaky_relu(x, 0.2) * _LRELU_GAIN


class _Linear(EqualizedLinear):
    """The shared ``EqualizedLinear`` with gain 1 (the authors' fully connected layer); ``activation``
    applies their activation after it."""

    def __init__(self, in_features: int, out_features: int, bias_init: float = 0.0, lr_multiplier: float = 1.0,
                 activation: bool = False) -> None:
        super().__init__(in_features, out_features, gain=1.0, lr_multiplier=lr_multiplier, bias_init=bias_init)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = super().forward(x)
        return _lrelu(x) if self.activation else x


class _Conv(EqualizedConv2d):
    """The shared ``EqualizedConv2d`` with gain 1; ``down=True`` filters and halves the input first, and
    ``activation`` applies the authors' activation after it."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 activation: bool = True, down: bool = False) -> None:
        super().__init__(in_channels, out_channels, kernel_size, bias=bias, gain=1.0)
        self.activation, self.down = activation, down
        self.register_buffer("fir", _fir_filter(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.down:
            x = downsample2x(x, self.fir)
        x = super().forward(x)
        return _lrelu(x) if self.activation else x


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True,
                     padding: int = 0, fused: bool = False) -> torch.Tensor:
    """Per-sample convolution with ``weight * styles`` (scaled over input channels), demodulated so that
    each output channel's weights have unit L2 norm.

    ``fused=True``: build the per-sample weights and run one grouped convolution over the batch.
    ``fused=False`` (default; the authors' training path): scale the activations by the styles,
    convolve with the shared weight, scale by the demodulation coefficients: the same result,
    and several times faster on CPU, where grouped convolutions are slow."""
    batch, in_channels, height, width = x.shape
    out_channels, _, kh, kw = weight.shape
    if not fused:
        x = F.conv2d(x * styles.reshape(batch, in_channels, 1, 1), weight, padding=padding)
        if demodulate:
            # sum over (I, k, k) of (w * s)^2 = s^2 @ sum_k w^2
            dcoefs = (styles.square() @ weight.square().sum(dim=(2, 3)).t() + 1e-8).rsqrt()
            x = x * dcoefs.reshape(batch, out_channels, 1, 1)
        return x
    w = weight.unsqueeze(0) * styles.reshape(batch, 1, in_channels, 1, 1)  # [N, O, I, k, k]
    if demodulate:
        w = w * (w.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8).rsqrt()
    out = F.conv2d(x.reshape(1, batch * in_channels, height, width),
                   w.reshape(batch * out_channels, in_channels, kh, kw), padding=padding, groups=batch)
    return out.reshape(batch, out_channels, *out.shape[2:])


class _SynthesisLayer(nn.Module):
    """Modulated 3x3 conv (optionally after 2x upsampling), noise input, bias, leaky ReLU."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool = False,
                 noise_seed: int = 0) -> None:
        super().__init__()
        self.affine = _Linear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.noise_strength = nn.Parameter(torch.zeros(()))
        # the fixed noise of noise_mode="const" (drawn from its own generator: building G leaves the global RNG alone)
        self.register_buffer("noise_const", torch.randn(resolution, resolution,
                                                        generator=torch.Generator().manual_seed(noise_seed)))
        self.register_buffer("fir", _fir_filter(), persistent=False)
        self.up, self.resolution = up, resolution

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        if self.up:
            x = upsample2x(x, self.fir)
        x = modulated_conv2d(x, self.weight, self.affine(w), demodulate=True, padding=1)
        if noise_mode == "random":
            x = x + torch.randn(x.size(0), 1, self.resolution, self.resolution, device=x.device,
                                dtype=x.dtype) * self.noise_strength
        elif noise_mode == "const":
            x = x + self.noise_const.to(x.dtype) * self.noise_strength
        return F.leaky_relu(x + self.bias.reshape(1, -1, 1, 1), 0.2) * _LRELU_GAIN


class _ToRGB(nn.Module):
    """1x1 modulated conv without demodulation (style scaled by 1/sqrt(fan_in)), plus bias."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int) -> None:
        super().__init__()
        self.affine = _Linear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1.0 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        return modulated_conv2d(x, self.weight, styles, demodulate=False) + self.bias.reshape(1, -1, 1, 1)


class MappingNetwork(nn.Module):
    """z -> w: unit-second-moment z, ``num_layers`` FC layers (lr multiplier 0.01), w broadcast to ``num_ws``.

    ``w_avg`` (a buffer, so it is in every checkpoint and the EMA copy) tracks the batch mean of w
    with beta ``w_avg_beta`` in training mode when ``update_w_avg``; ``truncation_psi`` != 1
    returns ``w_avg + psi (w - w_avg)``.
    """

    def __init__(self, z_dim: int, w_dim: int, num_ws: int, num_layers: int = 8, lr_multiplier: float = 0.01,
                 w_avg_beta: float = 0.995) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"mapping_layers must be >= 1, got {num_layers}")
        self.z_dim, self.w_dim, self.num_ws, self.w_avg_beta = z_dim, w_dim, num_ws, w_avg_beta
        features = [z_dim] + [w_dim] * num_layers
        self.layers = nn.Sequential(*[_Linear(features[i], features[i + 1], lr_multiplier=lr_multiplier,
                                                       activation=True) for i in range(num_layers)])
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor, truncation_psi: float = 1.0, update_w_avg: bool = True) -> torch.Tensor:
        x = z * (z.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()
        w = self.layers(x)
        if self.training and update_w_avg:
            self.w_avg.copy_(w.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        ws = w.unsqueeze(1).repeat(1, self.num_ws, 1)
        if truncation_psi != 1:
            ws = self.w_avg.lerp(ws, truncation_psi)
        return ws


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] -> image: a learned constant at the base resolution, then 2x blocks up to ``size``."""

    def __init__(self, w_dim: int, channels: int, size: int, channel_base: int, channel_max: int) -> None:
        super().__init__()
        base = base_resolution(size)
        self.resolutions = [base * 2 ** i for i in range(int(math.log2(size // base)) + 1)]
        width = {res: max(1, min(channel_base // res, channel_max)) for res in self.resolutions}
        self.const = nn.Parameter(torch.randn(width[base], base, base))
        self.layers = nn.ModuleList()  # conv layers in w order
        self.torgb = nn.ModuleList()
        for i, res in enumerate(self.resolutions):
            if i == 0:
                self.layers.append(_SynthesisLayer(width[res], width[res], w_dim, res, noise_seed=0))
            else:
                previous = self.resolutions[i - 1]
                self.layers.append(_SynthesisLayer(width[previous], width[res], w_dim, res, up=True,
                                                   noise_seed=2 * i - 1))
                self.layers.append(_SynthesisLayer(width[res], width[res], w_dim, res, noise_seed=2 * i))
            self.torgb.append(_ToRGB(width[res], channels, w_dim))
        self.num_ws = len(self.layers) + 1  # ToRGB of each block reads the next block's first w; the last one its own
        self.register_buffer("fir", _fir_filter(), persistent=False)

    def forward(self, ws: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        if noise_mode not in ("random", "const", "none"):
            raise ValueError(f"noise_mode must be 'random', 'const' or 'none', got {noise_mode!r}")
        x = self.const.unsqueeze(0).expand(ws.size(0), -1, -1, -1)
        image, index = None, 0
        for i in range(len(self.resolutions)):
            convs = 1 if i == 0 else 2
            for layer in self.layers[index:index + convs]:
                x = layer(x, ws[:, index], noise_mode)
                index += 1
            rgb = self.torgb[i](x, ws[:, index])
            image = rgb if image is None else upsample2x(image, self.fir) + rgb
        return image


class StyleGAN2Generator(nn.Module):
    """Mapping + synthesis. ``forward(z, truncation_psi, noise_mode)``; training code calls the two parts."""

    def __init__(self, z_dim: int, w_dim: int, channels: int, size: int, mapping_layers: int = 8,
                 mapping_lr_multiplier: float = 0.01, w_avg_beta: float = 0.995, channel_base: int = 16384,
                 channel_max: int = 512) -> None:
        super().__init__()
        self.synthesis = SynthesisNetwork(w_dim, channels, size, channel_base, channel_max)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim, w_dim, self.num_ws, mapping_layers, mapping_lr_multiplier, w_avg_beta)

    def forward(self, z: torch.Tensor, truncation_psi: float = 1.0, noise_mode: str = "random") -> torch.Tensor:
        return self.synthesis(self.mapping(z, truncation_psi), noise_mode)


class _DiscriminatorBlock(nn.Module):
    """Residual block: 3x3 conv, 3x3 conv with 2x downsampling, 1x1 downsampled skip; sum * sqrt(0.5)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv0 = _Conv(in_channels, in_channels, 3)
        self.conv1 = _Conv(in_channels, out_channels, 3, down=True)
        self.skip = _Conv(in_channels, out_channels, 1, bias=False, activation=False, down=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.skip(x) + self.conv1(self.conv0(x))) * math.sqrt(0.5)


class StyleGAN2Discriminator(nn.Module):
    """FromRGB, residual blocks from ``size`` down to the base resolution, then the epilogue
    (minibatch std, 3x3 conv, FC, FC to one logit)."""

    def __init__(self, channels: int, size: int, channel_base: int = 16384, channel_max: int = 512,
                 mbstd_group_size: int = 4) -> None:
        super().__init__()
        base = base_resolution(size)
        resolutions = [base * 2 ** i for i in range(int(math.log2(size // base)) + 1)][::-1]  # size ... base
        width = {res: max(1, min(channel_base // res, channel_max)) for res in resolutions}
        self.fromrgb = _Conv(channels, width[size], 1)
        self.blocks = nn.Sequential(*[_DiscriminatorBlock(width[res], width[res // 2]) for res in resolutions[:-1]])
        c = width[base]
        self.mbstd = MinibatchStdDev(mbstd_group_size, 1)
        self.conv = _Conv(c + 1, c, 3)
        self.fc = _Linear(c * base * base, c, activation=True)
        self.out = _Linear(c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.fromrgb(x))
        x = self.conv(self.mbstd(x))
        return self.out(self.fc(x.flatten(1))).squeeze(1)
