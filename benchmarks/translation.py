"""The measured claims of the image-to-image family (issue 13), each against its baseline.

Every row trains one model from its committed experiment (``experiments/<model>/<data>.yaml``:
model ``init_args``, data section, ``max_steps``), seed 0, single-threaded, with the data set's
held-out split raised to 30 % (``heldout_fraction 0.3``) so that the judges have data of their own.
The held-out split is cut in two halves by index parity: the *judge* half trains the frozen judges,
the *eval* half is what the models translate. No judge sees an image the GAN trained on, and no
translated input is one a judge trained on.

Judges (``fit_digits_classifier``: the LeNet digits classifier of ``gan_lightning.metrics``, trained
on real target-domain images of the judge half with their digit labels; StarGAN's attribute judge is
a small multi-label CNN on the same half). Each table gives the judge's accuracy on real eval-half
target images as the ceiling.

- Pix2Pix (edges -> digit, paired): per-pixel L1 and PSNR against the true digit, the digit judge's
  accuracy on the outputs (an FCN-score analogue), and sharpness: the outputs' mean squared image
  gradient over the true digits' (1 = as sharp as the truth). Baselines: the L1-only U-Net
  (``gan_weight 0``) and the cGAN-only U-Net (``lambda_l1 0``). The paper's claim: L1 + cGAN is sharper
  than L1 alone at similar accuracy.
- CycleGAN, DiscoGAN, DualGAN, UNIT (unpaired): label preservation (the target-domain judge gives
  G(a) the label of a) and the cycle L1 |F(G(a)) - a|; baseline: the same model without its
  cycle / reconstruction term, which should fall towards chance (10 %).
- StarGAN: attribute accuracy of translations to a target attribute vector (the attribute judge),
  label preservation, reconstruction L1 |G(G(x, c'), c) - x|, and the parameter count against one
  CycleGAN per pair of domains.
- DistanceGAN: Pearson correlation of pairwise L1 distances before and after the mapping, and label
  preservation, against GAN only (``distance_weight 0``).
- DTN: the judge's accuracy on G(source) and the f-constancy error ||f(x) - f(G(x))||^2, against
  DTN without the f-constancy term.
- PLDT: label agreement of G(source) with its associated target, with and without the pair
  discriminator.

    python benchmarks/translation.py [--models Pix2Pix,CycleGAN] [--steps N] [--out benchmarks/RESULTS.md]

Writes the Markdown section ``translation`` of ``--out`` and sample grids in ``benchmarks/translation/``.
"""

from __future__ import annotations

import argparse
import importlib
import math
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mode_collapse import _quiet, fit_exactly, load_recipe  # noqa: E402  (benchmarks/ is not a package)
from report import command_line, replace_section  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
HELDOUT_FRACTION = 0.3
OUT_DIR = REPO / "benchmarks" / "translation"


# ----------------------------------------------------------------------------- rows
@dataclass(frozen=True)
class Row:
    """One trained model: ``label`` in the table, its model class, its experiment's data name,
    option overrides that make it a baseline, and the family of measures."""

    label: str
    model: str
    experiment: str
    measure: str
    overrides: dict[str, Any] = field(default_factory=dict)
    baseline: bool = False


ROWS: tuple[Row, ...] = ()  # filled below, after the measures


# ----------------------------------------------------------------------------- data and judges
def stack(dataset) -> dict[str, torch.Tensor]:
    """A split's dict samples stacked into tensors, key by key."""
    items = [dataset[i] for i in range(len(dataset))]
    return {key: torch.stack([torch.as_tensor(item[key]) for item in items]) for key in items[0]}


def halves(split: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(judge half, eval half) of a held-out split, by index parity."""
    return ({k: v[0::2] for k, v in split.items()}, {k: v[1::2] for k, v in split.items()})


def build_data(recipe: dict[str, Any], seed: int):
    module = importlib.import_module("gan_lightning.data")
    args = {**recipe["data_args"], "heldout_fraction": HELDOUT_FRACTION, "seed": seed}
    data = getattr(module, recipe["data_class"])(**args)
    data.setup("fit")
    return data


def fit_judge(images: torch.Tensor, labels: torch.Tensor, seed: int = 0) -> nn.Module:
    from gan_lightning.metrics.extractors import fit_digits_classifier

    return fit_digits_classifier(images, labels, seed=seed)


@torch.no_grad()
def accuracy(judge: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    from gan_lightning.metrics.extractors import evaluate_classifier

    return evaluate_classifier(judge, images, labels)


@torch.no_grad()
def translate_all(model, images: torch.Tensor, batch_size: int = 250, **options) -> torch.Tensor:
    return torch.cat([model.translate(images[i:i + batch_size], **{
        k: (v[i:i + batch_size] if isinstance(v, torch.Tensor) and v.dim() > 1 else v) for k, v in options.items()})
        .cpu() for i in range(0, len(images), batch_size)])


def psnr(output: torch.Tensor, target: torch.Tensor) -> float:
    """Mean PSNR in dB of images in [-1, 1] (peak-to-peak 2)."""
    mse = (output - target).pow(2).flatten(1).mean(1).clamp_min(1e-12)
    return float((10 * torch.log10(4.0 / mse)).mean())


def gradient_energy(images: torch.Tensor) -> torch.Tensor:
    """Mean squared finite-difference image gradient, per image."""
    dx = images[..., :, 1:] - images[..., :, :-1]
    dy = images[..., 1:, :] - images[..., :-1, :]
    return dx.pow(2).flatten(1).mean(1) + dy.pow(2).flatten(1).mean(1)


def distance_correlation(inputs: torch.Tensor, outputs: torch.Tensor, pairs: int = 4000, seed: int = 0) -> float:
    """Pearson correlation between ||x_i - x_j||_1 and ||G(x_i) - G(x_j)||_1 over random pairs."""
    g = torch.Generator().manual_seed(seed)
    i, j = torch.randint(len(inputs), (pairs,), generator=g), torch.randint(len(inputs), (pairs,), generator=g)
    keep = i != j
    a = (inputs[i[keep]] - inputs[j[keep]]).abs().flatten(1).mean(1)
    b = (outputs[i[keep]] - outputs[j[keep]]).abs().flatten(1).mean(1)
    return float(torch.corrcoef(torch.stack([a, b]))[0, 1])


# ----------------------------------------------------------------------------- measures
@dataclass
class Setting:
    """What every measure gets: the trained model, the data module, the two held-out halves and the
    digit judge of the target domain."""

    model: Any
    data: Any
    judge_half: dict[str, torch.Tensor]
    eval_half: dict[str, torch.Tensor]
    judge: nn.Module | None


def target_labels(split: dict[str, torch.Tensor], side: str) -> torch.Tensor:
    """Digit labels of one side ("a" or "b") of a split; paired splits may carry one "label"."""
    for key in (f"label_{side}", "label"):
        if key in split:
            return split[key]
    raise KeyError(f"the held-out split has no digit labels for side {side!r} (keys: {', '.join(split)})")


def measure_paired(s: Setting) -> dict[str, float]:
    a, b = s.eval_half["a"], s.eval_half["b"]
    out = translate_all(s.model, a)
    return {"l1": float((out - b).abs().mean()), "psnr": psnr(out, b),
            "judge_accuracy": accuracy(s.judge, out, target_labels(s.eval_half, "b")),
            "sharpness": float(gradient_energy(out).mean() / gradient_energy(b).mean())}


def measure_cycle(s: Setting) -> dict[str, float]:
    a = s.eval_half["a"]
    out = translate_all(s.model, a, direction="AtoB")
    back = translate_all(s.model, out, direction="BtoA")
    return {"label_preservation": accuracy(s.judge, out, target_labels(s.eval_half, "a")),
            "cycle_l1": float((back - a).abs().mean())}


def measure_distance(s: Setting) -> dict[str, float]:
    a = s.eval_half["a"]
    out = translate_all(s.model, a)
    return {"distance_correlation": distance_correlation(a, out),
            "label_preservation": accuracy(s.judge, out, target_labels(s.eval_half, "a"))}


def measure_dtn(s: Setting) -> dict[str, float]:
    a = s.eval_half["a"]
    out = translate_all(s.model, a)
    with torch.no_grad():
        f_error = float((s.model.f(a) - s.model.f(out)).pow(2).sum(1).mean())
    return {"judge_accuracy": accuracy(s.judge, out, target_labels(s.eval_half, "a")), "f_constancy": f_error}


def measure_pldt(s: Setting) -> dict[str, float]:
    a, b = s.eval_half["a"], s.eval_half["b"]
    out = translate_all(s.model, a)
    return {"label_agreement": accuracy(s.judge, out, target_labels(s.eval_half, "b")),
            "l1": float((out - b).abs().mean())}


MEASURES: dict[str, Callable[[Setting], dict[str, float]]] = {
    "paired": measure_paired, "cycle": measure_cycle, "distance": measure_distance, "dtn": measure_dtn,
    "pldt": measure_pldt,
}
