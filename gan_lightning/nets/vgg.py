"""VGG19 feature maps for perceptual losses (SRGAN's content loss, SPADE's VGG loss).

``VGGFeatures`` is torchvision's ``vgg19().features`` (Simonyan & Zisserman 2015, configuration E),
cut after the deepest layer asked for, frozen and in eval mode. Layers are named as in the
SRGAN and SPADE papers, ``relu<block>_<conv>`` (``relu5_4`` is SRGAN's "VGG54"); their indices in
``features`` are in ``VGG19_LAYERS`` (relu2_2 = 8, relu3_4 = 17, relu5_4 = 35).

Inputs are images in [-1, 1] (grey images are repeated to RGB); ``normalize=True`` maps them to the
ImageNet statistics the torchvision weights were trained with.

Weights are never downloaded: ``weights`` is the path of a torchvision ``vgg19`` state_dict
(``IMAGENET1K_V1``, file ``vgg19-dcbbb84c.pth``; only its ``features.*`` entries are read, so a
state_dict of the features alone works too), or ``None`` for that file in the torch hub cache
(``$TORCH_HOME/hub/checkpoints/``). A missing file raises ``MissingWeightsError`` in one line that
names the file and where it goes, as for the Inception weights.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from gan_lightning.evaluation.extractors import resolve_local_weights

VGG19_WEIGHTS_FILENAME = "vgg19-dcbbb84c.pth"
VGG19_WEIGHTS_URL = "https://download.pytorch.org/models/vgg19-dcbbb84c.pth"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# convolutions per block of VGG19 (configuration E); a 2x2 max-pool follows every block
_BLOCKS = (2, 2, 4, 4, 4)


def _layer_indices() -> dict[str, int]:
    """``relu<b>_<c>`` -> index in torchvision's ``vgg19().features`` (conv, ReLU pairs, then a pool per block)."""
    indices, position = {}, 0
    for block, convs in enumerate(_BLOCKS, start=1):
        for conv in range(1, convs + 1):
            indices[f"relu{block}_{conv}"] = position + 1
            position += 2
        position += 1  # the max-pool
    return indices


#: Layer name -> index in ``torchvision.models.vgg19().features``.
VGG19_LAYERS: dict[str, int] = _layer_indices()


def vgg19_cache_path() -> Path:
    """Where the torchvision VGG19 weights sit in the torch hub cache."""
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG19_WEIGHTS_FILENAME


def resolve_vgg19_weights(weights: str | os.PathLike | None = None) -> Path:
    """The VGG19 weights file: ``weights``, else the torch hub cache file; ``MissingWeightsError`` (never downloads)."""
    return resolve_local_weights(
        weights, vgg19_cache_path(), "VGG19", "Perceptual (VGG) losses need torchvision's ImageNet VGG19 state_dict",
        "pass its path as the weights (e.g. --model.vgg_weights PATH)", VGG19_WEIGHTS_URL)


def check_layers(layers: Sequence[str]) -> tuple[str, ...]:
    """The layer names as a tuple; one-line ValueError for an unknown name or an empty list."""
    if isinstance(layers, str):
        layers = (layers,)
    layers = tuple(layers)
    if not layers:
        raise ValueError("VGGFeatures: layers must name at least one layer (relu1_1 ... relu5_4)")
    for name in layers:
        if name not in VGG19_LAYERS:
            raise ValueError(f"VGGFeatures: unknown layer {name!r}; known: {', '.join(VGG19_LAYERS)}")
    return layers


def vgg19_features(last_index: int) -> nn.Sequential:
    """torchvision's ``vgg19().features`` up to and including ``last_index`` (random weights)."""
    from torchvision.models.vgg import cfgs, make_layers

    return make_layers(cfgs["E"], batch_norm=False)[: last_index + 1]


class VGGFeatures(nn.Module):
    """Frozen VGG19 feature maps of images in [-1, 1].

    Args:
        layers: names of the feature maps returned, in this order (``relu1_1`` ... ``relu5_4``).
        weights: path of a torchvision vgg19 state_dict; None: ``vgg19-dcbbb84c.pth`` in the torch hub cache.
        normalize: map [-1, 1] inputs to ImageNet statistics (torchvision's weights expect them).

    ``forward(x)`` returns a list of tensors, one per entry of ``layers``. The network is cut after
    the deepest requested layer, its parameters do not require gradients and it stays in eval mode
    (``train()`` is a no-op); gradients still flow to the input.
    """

    def __init__(self, layers: Sequence[str] = ("relu2_2",), weights: str | os.PathLike | None = None,
                 normalize: bool = True) -> None:
        super().__init__()
        self.layers = check_layers(layers)
        self.indices = [VGG19_LAYERS[name] for name in self.layers]
        self.normalize = bool(normalize)
        path = resolve_vgg19_weights(weights)
        self.network = vgg19_features(max(self.indices))
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except (RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as error:
            raise RuntimeError(f"VGGFeatures: could not read the weights in {path}: {error}") from error
        state = state.get("state_dict", state) if isinstance(state, dict) else state
        features = {key[len("features."):]: value for key, value in state.items() if key.startswith("features.")}
        wanted = self.network.state_dict().keys()
        missing = [key for key in wanted if key not in features]
        if missing:
            raise RuntimeError(f"VGGFeatures: {path} is not a torchvision vgg19 state_dict "
                               f"(no features.{missing[0]})")
        try:
            self.network.load_state_dict({key: features[key] for key in wanted})
        except RuntimeError as error:
            raise RuntimeError(f"VGGFeatures: {path} does not fit VGG19: {error}") from error
        self.weights_path = str(path)
        self.network.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        super().train(False)

    def train(self, mode: bool = True) -> "VGGFeatures":
        return self  # frozen: always in eval mode

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.size(1) not in (1, 3):
            raise ValueError(f"VGGFeatures: expected images (N, 1 or 3, H, W), got shape {tuple(x.shape)}")
        if x.size(1) == 1:
            x = x.expand(-1, 3, -1, -1)
        if self.normalize:
            x = ((x + 1.0) * 0.5 - self.mean.to(x)) / self.std.to(x)
        return x

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.prepare(x)
        wanted = {index: None for index in self.indices}
        for index, layer in enumerate(self.network):
            x = layer(x)
            if index in wanted:
                wanted[index] = x  # a ReLU's output; the next layer (conv or pool) makes a new tensor
        return [wanted[index] for index in self.indices]
