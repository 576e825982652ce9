"""Perceptual losses: distances between VGG19 feature maps (Johnson et al. 2016; SRGAN's content loss,
pix2pixHD / SPADE's VGG loss).

``PerceptualLoss(layers, layer_weights, weights, criterion)(x, y)`` = sum over the layers of
``layer_weight * criterion(phi_l(x), phi_l(y))`` with ``phi`` the frozen
:class:`~gan_lightning.nets.vgg.VGGFeatures` (mean over all entries of each map). ``y`` is the target:
its features are computed without gradients. Examples:

- SRGAN's VGG54 (Ledig et al. 2017, eq. 5, features rescaled by 1/12.75):
  ``PerceptualLoss(("relu5_4",), (1 / 12.75**2,), criterion="mse")``;
- SPADE's VGG loss (NVlabs/SPADE ``models/networks/loss.py`` ``VGGLoss``):
  ``PerceptualLoss(("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"), (1/32, 1/16, 1/8, 1/4, 1), criterion="l1")``.
"""

from __future__ import annotations

import os
from typing import Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gan_lightning.nets.vgg import VGGFeatures, check_layers

CRITERIA = {"l1": F.l1_loss, "mse": F.mse_loss}


class PerceptualLoss(nn.Module):
    """Weighted distance between VGG19 feature maps of ``x`` and of the target ``y`` (both in [-1, 1]).

    Args:
        layers: VGG19 layer names (``relu1_1`` ... ``relu5_4``).
        layer_weights: one weight per layer (default: 1 each).
        weights: path of a torchvision vgg19 state_dict; None: the torch hub cache (see ``VGGFeatures``).
        criterion: ``"l1"`` or ``"mse"``, averaged over every entry of a feature map.
    """

    def __init__(self, layers: Sequence[str], layer_weights: Sequence[float] | None = None,
                 weights: str | os.PathLike | None = None, criterion: Literal["l1", "mse"] = "l1") -> None:
        super().__init__()
        layers = check_layers(layers)
        if criterion not in CRITERIA:
            raise ValueError(f"PerceptualLoss: criterion must be 'l1' or 'mse', got {criterion!r}")
        layer_weights = tuple(float(w) for w in (layer_weights if layer_weights is not None else [1.0] * len(layers)))
        if len(layer_weights) != len(layers):
            raise ValueError(f"PerceptualLoss: {len(layer_weights)} layer_weights for {len(layers)} layers "
                             f"({', '.join(layers)}); give one weight per layer")
        self.layers, self.layer_weights, self.criterion = layers, layer_weights, criterion
        self.features = VGGFeatures(layers, weights=weights)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if x.shape != y.shape:
            raise ValueError(f"PerceptualLoss: x and y differ in shape, {tuple(x.shape)} vs {tuple(y.shape)}")
        with torch.no_grad():
            targets = self.features(y)
        distance = CRITERIA[self.criterion]
        total = x.new_zeros(())
        for weight, fx, fy in zip(self.layer_weights, self.features(x), targets):
            total = total + weight * distance(fx, fy)
        return total
