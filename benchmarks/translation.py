"""The measured claims of the image-to-image family (issue 13), each against its baseline.

Every row trains one model from its committed experiment (``experiments/<model>/<data>.yaml``:
model ``init_args``, data section, ``max_steps``), seed 0, single-threaded, with the data set's
held-out split raised to 30 % (``heldout_fraction 0.3``) so that the judges have data of their own.
The held-out split is cut in two halves by index parity: the *judge* half trains the frozen judges,
the *eval* half is what the models translate. No judge sees an image the GAN trained on, and no
translated input is one a judge trained on.

Judges (``fit_digits_classifier``: the LeNet digits classifier of ``gan_lightning.evaluation``, 40 epochs,
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
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from harness import (BENCHMARKS, RESULTS_MD, command_line, fit_exactly, load_recipe, load_runs, model_from_recipe,
                     parity_halves, quiet_lightning, replace_section, stack_split, train_missing)
HELDOUT_FRACTION = 0.3
OUT_DIR = BENCHMARKS / "translation"


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
def build_data(recipe: dict[str, Any], seed: int):
    module = importlib.import_module("gan_lightning.data")
    args = {**recipe["data_args"], "heldout_fraction": HELDOUT_FRACTION, "seed": seed}
    data = getattr(module, recipe["data_class"])(**args)
    data.setup("fit")
    return data


def fit_judge(images: torch.Tensor, labels: torch.Tensor, seed: int = 0) -> nn.Module:
    from gan_lightning.evaluation.digits import fit_digits_classifier

    return fit_digits_classifier(images, labels, epochs=40, seed=seed)


@torch.no_grad()
def accuracy(judge: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    from gan_lightning.evaluation.digits import evaluate_classifier

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


def attribute_judge(images: torch.Tensor, attributes: torch.Tensor, seed: int = 0, epochs: int = 8) -> nn.Module:
    """A small multi-label CNN (one logit per attribute) fitted on real attribute images, seeded, one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            channels, k = images.shape[1], attributes.shape[1]
            net = nn.Sequential(nn.Conv2d(channels, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
                                nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                nn.Linear(64, k))
            optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
            g = torch.Generator().manual_seed(seed)
            for _ in range(epochs):
                order = torch.randperm(len(images), generator=g)
                for start in range(0, len(order), 64):
                    batch = order[start:start + 64]
                    loss = F.binary_cross_entropy_with_logits(net(images[batch]), attributes[batch].float())
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
    finally:
        torch.set_num_threads(threads)
    return net.eval()


def attribute_accuracy(judge: nn.Module, images: torch.Tensor, attributes: torch.Tensor) -> tuple[float, float]:
    """(mean per-attribute accuracy, share of images with every attribute right)."""
    with torch.no_grad():
        right = (judge(images) > 0) == attributes.bool()
    return float(right.float().mean()), float(right.all(1).float().mean())


def flip_one(attributes: torch.Tensor) -> torch.Tensor:
    """Target attributes: image i gets attribute i mod K flipped (every attribute equally often)."""
    target = attributes.clone()
    index = torch.arange(len(target)) % target.shape[1]
    target[torch.arange(len(target)), index] = 1 - target[torch.arange(len(target)), index]
    return target


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def measure_stargan(s: Setting) -> dict[str, float]:
    x, c = s.eval_half["image"], s.eval_half["attributes"]
    judge = attribute_judge(s.judge_half["image"], s.judge_half["attributes"])
    target = flip_one(c)
    out = translate_all(s.model, x, attributes=target)
    back = translate_all(s.model, out, attributes=c)
    per_attribute, all_right = attribute_accuracy(judge, out, target)
    ceiling_per, ceiling_all = attribute_accuracy(judge, x, c)
    from gan_lightning.models import CycleGAN

    recipe = load_recipe("CycleGAN", "digits2sklearn")["init_args"]
    cyclegan = CycleGAN(data_shape=tuple(x.shape[1:]), **{k: v for k, v in recipe.items() if k.endswith("width")
                                                           or k == "num_blocks"})
    domains = 2 ** c.shape[1]
    star = count_parameters(s.model.generator) + count_parameters(s.model.discriminator)
    return {"attribute_accuracy": per_attribute, "all_attributes_right": all_right,
            "attribute_judge_on_real": ceiling_per, "attribute_judge_all_on_real": ceiling_all,
            "label_preservation": accuracy(s.judge, out, s.eval_half["label"]),
            "reconstruction_l1": float((back - x).abs().mean()),
            "parameters": star, "domains": domains,
            "cyclegan_parameters_all_pairs": count_parameters(cyclegan) * domains * (domains - 1) // 2}


MEASURES["stargan"] = measure_stargan

ROWS = (
    Row("Pix2Pix (L1 + cGAN)", "Pix2Pix", "edges2digits", "paired"),
    Row("U-Net, L1 only", "Pix2Pix", "edges2digits", "paired", {"gan_weight": 0.0}, True),
    Row("U-Net, cGAN only", "Pix2Pix", "edges2digits", "paired", {"lambda_l1": 0.0}, True),
    Row("CycleGAN", "CycleGAN", "digits2sklearn", "cycle"),
    Row("CycleGAN without cycle", "CycleGAN", "digits2sklearn", "cycle", {"lambda_a": 0.0, "lambda_b": 0.0}, True),
    Row("DiscoGAN", "DiscoGAN", "digits_inverted", "cycle"),
    Row("DiscoGAN without reconstruction", "DiscoGAN", "digits_inverted", "cycle", {"cycle_weight": 0.0}, True),
    Row("DualGAN", "DualGAN", "digits_inverted", "cycle"),
    Row("DualGAN without reconstruction", "DualGAN", "digits_inverted", "cycle", {"cycle_weight": 0.0}, True),
    Row("UNIT", "UNIT", "digits_inverted", "cycle"),
    Row("UNIT without cycle", "UNIT", "digits_inverted", "cycle", {"cycle_weight": 0.0, "cycle_kl_weight": 0.0}, True),
    Row("StarGAN", "StarGAN", "digit_attributes", "stargan"),
    Row("DistanceGAN", "DistanceGAN", "digits_inverted", "distance"),
    Row("GAN only (one-sided)", "DistanceGAN", "digits_inverted", "distance", {"distance_weight": 0.0}, True),
    Row("DTN", "DTN", "digits_sklearn", "dtn"),
    Row("DTN without f-constancy", "DTN", "digits_sklearn", "dtn", {"const_weight": 0.0}, True),
    Row("PLDT", "PLDT", "digits_colored", "pldt"),
    Row("PLDT without pair D", "PLDT", "digits_colored", "pldt", {"pair_discriminator": False}, True),
)


# ----------------------------------------------------------------------------- running
def judge_for(row: Row, judge_half: dict[str, torch.Tensor], eval_half: dict[str, torch.Tensor], seed: int):
    """The digit judge of the row's target domain and its accuracy on real eval-half target images."""
    if "image" in judge_half:  # attribute data: the digit judge reads every attribute mix
        judge = fit_judge(judge_half["image"], judge_half["label"], seed)
        return judge, accuracy(judge, eval_half["image"], eval_half["label"])
    judge = fit_judge(judge_half["b"], target_labels(judge_half, "b"), seed)
    return judge, accuracy(judge, eval_half["b"], target_labels(eval_half, "b"))


def run_row(row: Row, steps: int | None, seed: int) -> dict[str, Any]:
    import lightning as L

    quiet_lightning()
    torch.set_num_threads(1)
    recipe = load_recipe(row.model, row.experiment)
    data = build_data(recipe, seed)
    judge_half, eval_half = parity_halves(stack_split(data.heldout_set))
    judge, ceiling = judge_for(row, judge_half, eval_half, seed)
    L.seed_everything(seed, workers=False, verbose=False)
    model = model_from_recipe(row.model, recipe, data.data_shape, **row.overrides)
    iterations = steps or recipe["max_steps"]
    seconds = fit_exactly(model, data, iterations, label=row.label)
    model.eval()
    started = time.perf_counter()
    metrics = MEASURES[row.measure](Setting(model, data, judge_half, eval_half, judge))
    save_grid(row, model, eval_half)
    return {"label": row.label, "model": row.model, "experiment": row.experiment, "overrides": row.overrides,
            "baseline": row.baseline, "iterations": iterations, "fit_seconds": round(seconds, 1),
            "measure_seconds": round(time.perf_counter() - started, 1), "judge_on_real": ceiling,
            "num_eval": len(next(iter(eval_half.values()))), **metrics}


def save_grid(row: Row, model, eval_half: dict[str, torch.Tensor], count: int = 16) -> Path:
    """Inputs beside their translations: ``count`` eval-half inputs spread evenly over the split
    (it is ordered by class, so every digit shows)."""
    from torchvision.utils import save_image

    size = len(next(iter(eval_half.values())))
    pick = torch.linspace(0, size - 1, count).round().long()
    if "image" in eval_half:
        x, c = eval_half["image"][pick], eval_half["attributes"][pick]
        columns = [x] + [translate_all(model, x, attributes=flip_column(c, i)) for i in range(c.shape[1])]
    else:
        x = eval_half["a"][pick]
        columns = [x, translate_all(model, x)]
        if "b" in eval_half and row.measure in ("paired", "pldt"):
            columns.append(eval_half["b"][pick])
    channels = max(col.shape[1] for col in columns)
    columns = [col.expand(-1, channels, -1, -1) for col in columns]
    grid = torch.stack(columns, dim=1).flatten(0, 1)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"{slug(row.label)}.png"
    save_image(grid * 0.5 + 0.5, path, nrow=len(columns) * 4, padding=1)
    return path


def flip_column(attributes: torch.Tensor, index: int) -> torch.Tensor:
    target = attributes.clone()
    target[:, index] = 1 - target[:, index]
    return target


def slug(label: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in label.lower()).strip("_").replace("__", "_")


# ----------------------------------------------------------------------------- report
RESULTS_JSON = OUT_DIR / "results.json"


def pct(value: float) -> str:
    return f"{100 * value:.1f} %"


TABLES: dict[str, tuple[str, list[tuple[str, str, Callable[[float], str]]]]] = {
    "paired": ("Pix2Pix, edges -> digit (paired; truth known)", [
        ("L1 to truth", "l1", lambda v: f"{v:.3f}"), ("PSNR dB", "psnr", lambda v: f"{v:.2f}"),
        ("judge accuracy", "judge_accuracy", pct), ("sharpness (truth = 1)", "sharpness", lambda v: f"{v:.2f}")]),
    "cycle": ("Unpaired translation (CycleGAN: MNIST -> scikit-learn digits; DiscoGAN, DualGAN, UNIT: MNIST -> "
              "inverted MNIST), label preservation (chance 10 %)", [
        ("label preservation", "label_preservation", pct), ("cycle L1", "cycle_l1", lambda v: f"{v:.3f}")]),
    "stargan": ("StarGAN, one generator for every attribute mix", [
        ("attribute accuracy", "attribute_accuracy", pct), ("all attributes right", "all_attributes_right", pct),
        ("label preservation", "label_preservation", pct), ("reconstruction L1", "reconstruction_l1", lambda v: f"{v:.3f}"),
        ("G + D parameters", "parameters", lambda v: f"{v / 1e6:.2f} M"),
        ("one CycleGAN per domain pair", "cyclegan_parameters_all_pairs", lambda v: f"{v / 1e6:.1f} M")]),
    "distance": ("DistanceGAN, one-sided MNIST -> inverted", [
        ("distance correlation", "distance_correlation", lambda v: f"{v:.3f}"),
        ("label preservation", "label_preservation", pct)]),
    "dtn": ("DTN, MNIST -> scikit-learn digits (f: the MNIST digits classifier)", [
        ("judge accuracy on G(source)", "judge_accuracy", pct), ("f-constancy error", "f_constancy", lambda v: f"{v:.3f}")]),
    "pldt": ("PLDT, digit -> coloured digit (paired associations)", [
        ("label agreement", "label_agreement", pct), ("L1 to the associated target", "l1", lambda v: f"{v:.3f}")]),
}


def table(measure: str, results: dict[str, dict[str, Any]]) -> str:
    title, columns = TABLES[measure]
    rows = [results[row.label] for row in ROWS if row.measure == measure and row.label in results]
    if not rows:
        return ""
    head = ["row", "iterations", *[name for name, _, _ in columns], "judge on real targets"]
    lines = [f"**{title}**", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["label"] + (" (baseline)" if r["baseline"] else ""), str(r["iterations"]),
                 *[fmt(r[key]) for _, key, fmt in columns], pct(r["judge_on_real"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdicts(results: dict[str, dict[str, Any]]) -> list[str]:
    """One line per paper claim, read off the numbers (only for rows that were run)."""
    r, out = results, []

    def have(*labels):
        return all(label in r for label in labels)

    if have("Pix2Pix (L1 + cGAN)", "U-Net, L1 only"):
        full, l1 = r["Pix2Pix (L1 + cGAN)"], r["U-Net, L1 only"]
        sharper = full["sharpness"] > l1["sharpness"]
        similar = full["judge_accuracy"] >= l1["judge_accuracy"] - 0.02
        out.append(f"- Pix2Pix: L1 + cGAN sharpness {full['sharpness']:.2f} vs L1 only {l1['sharpness']:.2f} "
                   f"({'sharper' if sharper else 'NOT sharper'}), judge accuracy {pct(full['judge_accuracy'])} vs "
                   f"{pct(l1['judge_accuracy'])} ({'similar or better' if similar else 'lower'}): claim "
                   f"{'reached' if sharper and similar else 'not reached'}.")
    for model in ("CycleGAN", "DiscoGAN", "DualGAN", "UNIT"):
        base = next((row.label for row in ROWS if row.model == model and row.baseline), None)
        if base and have(model, base):
            with_cycle, without = r[model]["label_preservation"], r[base]["label_preservation"]
            out.append(f"- {model}: label preservation {pct(with_cycle)} with its cycle term vs {pct(without)} without "
                       f"(chance 10 %): claim {'reached' if with_cycle > without + 0.05 else 'not reached'}.")
    if have("StarGAN"):
        s = r["StarGAN"]
        out.append(f"- StarGAN: translations carry the asked attributes {pct(s['attribute_accuracy'])} of the time "
                   f"(judge on real images {pct(s['attribute_judge_on_real'])}), keep the digit "
                   f"{pct(s['label_preservation'])} (judge on real images {pct(s['judge_on_real'])}"
                   f"{'; at chance: the digit is NOT kept at this budget' if s['label_preservation'] < 0.2 else ''}); "
                   f"{s['parameters'] / 1e6:.2f} M parameters for {s['domains']} domains vs "
                   f"{s['cyclegan_parameters_all_pairs'] / 1e6:.0f} M for one CycleGAN per pair.")
    if have("DistanceGAN", "GAN only (one-sided)"):
        d, g = r["DistanceGAN"], r["GAN only (one-sided)"]
        better = d["distance_correlation"] > g["distance_correlation"]
        kept = d["label_preservation"] - g["label_preservation"]
        out.append(f"- DistanceGAN: distance correlation {d['distance_correlation']:.3f} vs {g['distance_correlation']:.3f} "
                   f"GAN only ({'higher' if better else 'NOT higher'}); label preservation "
                   f"{pct(d['label_preservation'])} vs {pct(g['label_preservation'])} "
                   f"({'higher' if kept > 0.005 else 'no gain' if kept > -0.005 else 'lower'}): claim "
                   f"{'reached' if better and kept > 0.005 else 'reached on distances only' if better else 'not reached'}.")
    if have("DTN", "DTN without f-constancy"):
        d, b = r["DTN"], r["DTN without f-constancy"]
        out.append(f"- DTN: judge accuracy on G(source) {pct(d['judge_accuracy'])} vs {pct(b['judge_accuracy'])} without "
                   f"f-constancy; f-constancy error {d['f_constancy']:.3f} vs {b['f_constancy']:.3f}: claim "
                   f"{'reached' if d['judge_accuracy'] > b['judge_accuracy'] + 0.05 else 'not reached'}.")
    if have("PLDT", "PLDT without pair D"):
        p, b = r["PLDT"], r["PLDT without pair D"]
        out.append(f"- PLDT: label agreement {pct(p['label_agreement'])} with the pair discriminator vs "
                   f"{pct(b['label_agreement'])} without: claim "
                   f"{'reached' if p['label_agreement'] > b['label_agreement'] + 0.05 else 'not reached'}.")
    return out


def write_report(results: dict[str, dict[str, Any]], command: str, out: Path) -> None:
    parts = [
        "## Image-to-image translation (issue 13)", "",
        f"Last run: `{command}` ({platform.processor() or platform.machine()}, torch {torch.__version__}, one thread "
        "per model); rows not rerun come from `benchmarks/translation/results.json` (every row of the first full run "
        "`python benchmarks/translation.py --workers 2`; a rerun of the Pix2Pix, DistanceGAN and StarGAN rows reproduced them to the last digit). Each row: its committed experiment, seed 0, the experiment's `max_steps` unless the table says "
        f"otherwise; held-out split {int(HELDOUT_FRACTION * 100)} % of the data, cut in two: judges train on one "
        "half (real target-domain images), the models translate the other. Judges: the LeNet digits classifier "
        "(`gan_lightning.metrics.fit_digits_classifier`) on real target images; the last column is its accuracy "
        "on real eval-half targets (the ceiling). Pictures: `benchmarks/translation/<row>.png` (input | output "
        "[| truth]).", "",
        *verdicts(results), "",
    ]
    for measure in TABLES:
        text = table(measure, results)
        if text:
            parts += [text, ""]
    seconds = sum(r["fit_seconds"] for r in results.values())
    parts.append(f"Training time of all rows: {seconds / 60:.0f} min.")
    replace_section(out, "translation", "\n".join(parts))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="", help="comma-separated model classes (default: every row)")
    parser.add_argument("--steps", type=int, default=None, help="iterations per row (default: each experiment's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1, help="rows trained in parallel processes")
    parser.add_argument("--out", type=Path, default=RESULTS_MD)
    parser.add_argument("--report-only", action="store_true", help="rewrite the section from results.json, train nothing")
    args = parser.parse_args(argv)
    known = sorted({row.model for row in ROWS})
    wanted = [m for m in args.models.split(",") if m]
    unknown = [m for m in wanted if m not in known]
    if unknown:
        parser.error(f"--models: unknown {', '.join(unknown)}; known: {', '.join(known)}")
    if args.steps is not None and args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")
    args.rows = [row for row in ROWS if not wanted or row.model in wanted]
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    command = command_line(__file__, argv)
    results = load_runs(RESULTS_JSON)
    if not args.report_only:  # the rows asked for train again; the others stay as cached
        jobs = [{"key": row.label, "row": row, "steps": args.steps, "seed": args.seed} for row in args.rows]
        train_missing(jobs, run_job, results, RESULTS_JSON, args.workers, retrain=True,
                      on_done=lambda result, seconds: print(f"{result['label']}: {result}", flush=True))
    write_report(results, command, args.out)
    print(f"wrote section 'translation' of {args.out}")


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    return run_row(job["row"], job["steps"], job["seed"])


if __name__ == "__main__":
    main()
