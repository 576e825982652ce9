"""What a model is conditioned on and what it outputs: declarations the rest of the system reads.

A model declares, from its own arguments (``GANModule.conditions()`` and ``GANModule.output()``):

- its **conditions**, each a :class:`Condition`: what G takes besides noise (nothing: an
  unconditional model), of a ``kind`` (``class``, ``attributes``, ``text``, ``boxes``,
  ``keypoints``; ``image`` or ``label_map`` for a model that maps an input: image-to-image,
  super-resolution, SPADE) found in a batch under ``key``, of ``size`` (classes, attributes,
  vocabulary, boxes, keypoints);
- its **output**, an :class:`Output`: ``image`` (C, H, W), ``images`` (several resolutions),
  ``video`` (C, T, H, W), ``voxels`` (C, D, H, W), ``tokens`` (L,) ids of a ``vocab_size``
  vocabulary, or ``vector`` (D,) points; real ones found in a batch under ``key``;
- when G draws intermediate images on its way to its output, its **stages**
  (``GANModule.stages()``: their names, coarse to fine; ``generate_stages`` returns them).

The step context (which batch entry is ``real``, which are conditions), ``sample`` (which
conditions it needs), the sample grid (:func:`grid_pictures`: frames of a video as a row, tokens
as a strip of coloured cells; :func:`stage_pictures`: each sample's stages side by side), the EMA
(none for a model that maps inputs, as their papers), the CLI verbs and evaluation read these
declarations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import torch

ConditionKind = Literal["class", "attributes", "text", "boxes", "keypoints", "image", "label_map"]
OutputKind = Literal["image", "images", "video", "voxels", "tokens", "vector"]
CONDITION_KINDS: tuple[str, ...] = ConditionKind.__args__
OUTPUT_KINDS: tuple[str, ...] = OutputKind.__args__
#: Conditions that are inputs to map, not noise to sample from: their models translate.
INPUT_KINDS = ("image", "label_map")


@dataclass(frozen=True)
class Condition:
    """One thing G is conditioned on.

    Args:
        kind: one of :data:`CONDITION_KINDS`.
        key: where a batch holds it: a key of a dict batch, or ``"label"`` for the second element
            of an ``(x, y)`` tuple batch.
        size: the number of classes, attributes, vocabulary entries, boxes or keypoints (0: not counted).
    """

    kind: ConditionKind
    key: str
    size: int = 0

    def __post_init__(self) -> None:
        if self.kind not in CONDITION_KINDS:
            raise ValueError(f"condition kind {self.kind!r} is not one of {', '.join(CONDITION_KINDS)}")
        if self.size < 0:
            raise ValueError(f"condition {self.key!r}: size must be >= 0, got {self.size}")

    @property
    def is_input(self) -> bool:
        """An input G maps (an image, a label map) rather than a code beside the noise."""
        return self.kind in INPUT_KINDS


@dataclass(frozen=True)
class Output:
    """What G outputs, one sample at a time.

    Args:
        kind: one of :data:`OUTPUT_KINDS`.
        shape: one sample's shape: (C, H, W) for an image, (C, T, H, W) for a video, (C, D, H, W)
            for voxels, (L,) for tokens, (D,) for a vector.
        key: where a batch holds real samples (``image`` or ``real`` of a dict batch, the first
            element of a tuple batch, or the batch itself).
        vocab_size: tokens: the number of ids.
    """

    kind: OutputKind
    shape: tuple[int, ...]
    key: str = "image"
    vocab_size: int = 0

    def __post_init__(self) -> None:
        if self.kind not in OUTPUT_KINDS:
            raise ValueError(f"output kind {self.kind!r} is not one of {', '.join(OUTPUT_KINDS)}")
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        ranks = {"image": 3, "video": 4, "voxels": 4, "tokens": 1, "vector": 1}
        if self.kind in ranks and len(self.shape) != ranks[self.kind]:
            raise ValueError(f"a {self.kind} output has {ranks[self.kind]} dimensions per sample, "
                             f"got shape {self.shape}")
        if self.kind == "tokens" and self.vocab_size < 2:
            raise ValueError(f"a tokens output needs vocab_size >= 2, got {self.vocab_size}")

    @property
    def is_image(self) -> bool:
        return self.kind == "image"


def output_for_shape(data_shape: Sequence[int]) -> Output:
    """The output a model of ``data_shape`` has unless it declares another: an image (C, H, W) or a vector (D,)."""
    shape = tuple(int(d) for d in data_shape)
    if len(shape) == 3:
        return Output("image", shape)
    if len(shape) == 1:
        return Output("vector", shape)
    raise ValueError(f"data_shape {shape} is neither an image (C, H, W) nor a vector (D,): the model must declare "
                     "its output (GANModule.output())")


def class_condition(conditions: Sequence[Condition]) -> Condition | None:
    """The ``class`` condition among ``conditions`` (None: there is none)."""
    return next((c for c in conditions if c.kind == "class"), None)


# ---------------------------------------------------------------------------- pictures of any output
def _token_colours(vocab_size: int) -> torch.Tensor:
    """A fixed colour in [-1, 1] per token id (hues around the circle), (vocab_size, 3), on the host."""
    import colorsys

    return torch.tensor([colorsys.hsv_to_rgb(i / vocab_size, 0.75, 0.95) for i in range(vocab_size)],
                        device="cpu").mul(2.0).sub(1.0)


def grid_pictures(samples: torch.Tensor, output: Output, nrow: int) -> tuple[torch.Tensor, int]:
    """``(images, images per row)`` that show ``samples`` of ``output`` in a picture grid.

    Images as they are; a video as one row of its T frames per sample; voxels as the maximum over
    depth; tokens as one strip of coloured cells per sample (4 x 4 pixels per token, one colour per
    id); vectors as they are (the sample-grid callback draws 2-D points as a scatter plot)."""
    if output.kind == "video":
        frames = samples.movedim(2, 1)  # (N, T, C, H, W)
        return frames.reshape(-1, *frames.shape[2:]), frames.size(1)
    if output.kind == "voxels":
        return samples.amax(dim=2), nrow
    if output.kind == "tokens":
        colours = _token_colours(output.vocab_size).to(samples.device)
        cells = colours[samples.long().clamp(0, output.vocab_size - 1)]  # (N, L, 3)
        strip = cells.permute(0, 2, 1).unsqueeze(2)  # (N, 3, 1, L)
        return strip.repeat_interleave(4, dim=2).repeat_interleave(4, dim=3), 1
    return samples, nrow


def stage_pictures(stages: Sequence[torch.Tensor], nrow: int) -> tuple[torch.Tensor, int]:
    """``(images, images per row)`` that show each sample's stages side by side (coarse to fine, as
    ``GANModule.stages()`` names them), each stage enlarged to the last one's size (nearest: its pixels
    stay visible): a grid of ``nrow`` samples a row becomes one of ``nrow * len(stages)`` pictures."""
    size = stages[-1].shape[-2:]
    enlarged = [torch.nn.functional.interpolate(s, size=size, mode="nearest") if s.shape[-2:] != size else s
                for s in stages]
    return torch.stack(enlarged, dim=1).flatten(0, 1), nrow * len(stages)
