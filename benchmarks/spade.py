"""SPADE vs a pix2pix baseline on the same label maps, judged by the mIoU of a segmenter (issue 15).

Data: ``SegmentationPairs`` (source ``digits``: MNIST5k digits composited on crops of scikit-learn's
photos, 32 px, label 0 background / 1 + digit class, 11 classes; each digit painted in its class
colour), seed 0, held-out split raised to 30 %. The held-out split is cut in two by index parity:
the *judge* half trains the segmenter (``gan_lightning.evaluation.fit_segmenter``: real image -> label
map), the *eval* half's label maps are what the models translate. No segmenter image was seen by a
GAN, and no translated label map by the segmenter.

Models, each from its committed experiment's ``init_args`` and the same number of iterations
(``--steps``), batch 16, seed 0, one thread:
- SPADE: ``experiments/spade/digits.yaml`` (G from the one-hot label map through SPADE blocks);
- Pix2Pix: ``experiments/pix2pix/edges2digits.yaml`` (U-Net + PatchGAN + 100 x L1, widths 32), whose
  input is the *colour* label map (``colorize``, one colour per class: pix2pix's own setting on
  Cityscapes labels); ``lr_decay_iters`` half of the iterations, as its experiment. The paired data
  is a thin wrapper (``ColourLabelPairs``) around the same ``SegmentationPairs`` items:
  ``{"a": colorize(label), "b": image}``; pix2pix.py is untouched.

Measured: the segmenter's mIoU and pixel accuracy on each model's outputs against the input label
maps (the SPADE paper's protocol, with a small segmenter instead of DRN/DeepLab), and the same on
the real eval images (the ceiling). The claim: SPADE's mIoU above pix2pix's. Pictures:
``benchmarks/spade/grid.png``, rows of label | pix2pix | SPADE | real.

    python benchmarks/spade.py [--steps N] [--models SPADE,Pix2Pix] [--out benchmarks/RESULTS.md] [--report-only]
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from harness import (BENCHMARKS, RESULTS_MD, command_line, fit_exactly, load_recipe, load_runs, model_from_recipe,
                     parity_halves, quiet_lightning, replace_section, save_runs)
OUT_DIR = BENCHMARKS / "spade"
HELDOUT_FRACTION = 0.3
MODELS = ("SPADE", "Pix2Pix")
EXPERIMENTS = {"SPADE": "digits", "Pix2Pix": "edges2digits"}
#: SPADE paper, Table 1: mIoU of a segmenter on the outputs (pix2pixHD is the paper's baseline).
PUBLISHED = "Cityscapes 62.3 vs 58.3, ADE20K 38.5 vs 20.3, ADE20K-outdoor 30.8 vs 17.4, COCO-Stuff 37.4 vs 14.6"


# ----------------------------------------------------------------------------- data
class _ColourPairs(Dataset):
    """``{"a": colour label map, "b": image}`` for every ``{"label", "image"}`` item of ``items``."""

    def __init__(self, items: Dataset, num_classes: int) -> None:
        self.items, self.num_classes = items, num_classes

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, key: int) -> dict[str, torch.Tensor]:
        from gan_lightning.data import colorize

        item = self.items[key]
        return {"a": colorize(item["label"][None], self.num_classes)[0], "b": item["image"]}


def colour_label_pairs(segmentation):
    """A paired data module (``data_kind`` paired) over ``segmentation``'s very items, the label map in colour."""
    from gan_lightning.data import GANDataModule

    class ColourLabelPairs(GANDataModule):
        data_kind = "paired"
        train_sampler_class = type(segmentation).train_sampler_class

        def __init__(self) -> None:
            super().__init__(batch_size=segmentation.batch_size, seed=segmentation.seed)
            self.data_shape = (3, *segmentation.data_shape[1:])

        def build_datasets(self):
            segmentation.setup()
            held = segmentation.heldout_set
            return (_ColourPairs(segmentation.train_set, segmentation.label_classes),
                    _ColourPairs(held, segmentation.label_classes) if held is not None else None)

    return ColourLabelPairs()


def build_data(seed: int, batch_size: int, limit: int | None):
    from gan_lightning.data import SegmentationPairs

    recipe = load_recipe("SPADE", EXPERIMENTS["SPADE"])
    args = {**recipe["data_args"], "heldout_fraction": HELDOUT_FRACTION, "seed": seed, "batch_size": batch_size}
    data = SegmentationPairs(**args)
    data.setup()
    if limit:  # the tiny path of the tests: fewer items
        data.train_set.labels, data.train_set.images = data.train_set.labels[:limit], data.train_set.images[:limit]
    return data


def halves(heldout, limit: int | None) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(judge half, eval half) of the held-out split, by index parity."""
    items = [heldout[i] for i in range(len(heldout))]
    labels, images = torch.stack([i["label"] for i in items]), torch.stack([i["image"] for i in items])
    judge, evaluation = parity_halves({"label": labels, "image": images})
    if limit:
        judge = {k: v[:limit] for k, v in judge.items()}
        evaluation = {k: v[:limit] for k, v in evaluation.items()}
    return judge, evaluation


# ----------------------------------------------------------------------------- running
def build_model(name: str, data, steps: int, tiny: bool):
    # Pix2Pix: the experiment decays the learning rate over the second half
    overrides = {"lr_decay_iters": steps // 2} if name == "Pix2Pix" else {}
    if tiny:
        overrides.update({"g_width": 4, "d_width": 4} if name == "Pix2Pix"
                         else {"g_width": 2, "d_width": 4, "hidden": 4})
    return model_from_recipe(name, load_recipe(name, EXPERIMENTS[name]), data.data_shape, **overrides)


def translate_all(name: str, model, labels: torch.Tensor, num_classes: int, batch_size: int = 250) -> torch.Tensor:
    from gan_lightning.data import colorize

    outputs = []
    for start in range(0, len(labels), batch_size):
        batch = labels[start : start + batch_size]
        if name == "Pix2Pix":  # the authors' test mode (dropout on), seeded
            outputs.append(model.translate(colorize(batch, num_classes), seed=start))
        else:
            outputs.append(model.translate(batch, seed=start))
    return torch.cat(outputs).cpu()


def run(models: list[str], steps: int, seed: int, tiny: bool = False, segmenter_epochs: int = 20) -> dict[str, Any]:
    import lightning as L

    from gan_lightning.evaluation import fit_segmenter, segmentation_scores

    quiet_lightning()
    torch.set_num_threads(1)
    total_cpu = time.process_time()
    limit = 64 if tiny else None
    data = build_data(seed, 16, limit)
    judge_half, eval_half = halves(data.heldout_set, 32 if tiny else None)
    classes = data.label_classes
    started, cpu_started = time.perf_counter(), time.process_time()
    segmenter = fit_segmenter(judge_half["image"], judge_half["label"], classes, epochs=1 if tiny else segmenter_epochs,
                              seed=seed)
    results: dict[str, Any] = {
        "segmenter_seconds": round(time.perf_counter() - started, 1),
        "segmenter_cpu_seconds": round(time.process_time() - cpu_started, 1), "num_judge": len(judge_half["label"]),
        "segmenter_epochs": 1 if tiny else segmenter_epochs, "num_eval": len(eval_half["label"]),
        "num_train": len(data.train_set), "steps": steps,
        "real": segmentation_scores(segmenter, eval_half["image"], eval_half["label"]), "models": {}}
    outputs = {}
    for name in models:
        L.seed_everything(seed, workers=False, verbose=False)
        model = build_model(name, data, steps, tiny)
        train_data = data if name == "SPADE" else colour_label_pairs(data)
        cpu_started = time.process_time()
        seconds = fit_exactly(model, train_data, steps, label=name)
        cpu_seconds = time.process_time() - cpu_started
        model.eval()
        outputs[name] = translate_all(name, model, eval_half["label"], classes)
        scores = segmentation_scores(segmenter, outputs[name], eval_half["label"])
        results["models"][name] = {"fit_seconds": round(seconds, 1), "fit_cpu_seconds": round(cpu_seconds, 1),
                                   "miou": scores["miou"],
                                   "pixel_acc": scores["pixel_acc"], "iou": scores["iou"],
                                   "parameters_g": sum(p.numel() for p in model.generator.parameters())}
    if not tiny:
        save_grid(eval_half, outputs, classes)
    results["total_cpu_seconds"] = round(time.process_time() - total_cpu, 1)
    return results


def save_grid(eval_half: dict[str, torch.Tensor], outputs: dict[str, torch.Tensor], classes: int,
              count: int = 16) -> Path:
    """Rows of label | pix2pix | SPADE | real for ``count`` eval items spread over the split (every digit)."""
    from torchvision.utils import save_image

    from gan_lightning.data import colorize

    pick = torch.linspace(0, len(eval_half["label"]) - 1, count).round().long()
    columns = [colorize(eval_half["label"][pick], classes)]
    columns += [outputs[name][pick] for name in ("Pix2Pix", "SPADE") if name in outputs]
    columns.append(eval_half["image"][pick])
    grid = torch.stack(columns, dim=1).flatten(0, 1)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / "grid.png"
    save_image(grid * 0.5 + 0.5, path, nrow=len(columns) * 2, padding=1)
    return path


# ----------------------------------------------------------------------------- report
def verdict(results: dict[str, Any]) -> str:
    models = results.get("models", {})
    if not {"SPADE", "Pix2Pix"} <= set(models):
        return "- SPADE vs pix2pix: not measured (both rows are needed)."
    spade, pix = models["SPADE"]["miou"], models["Pix2Pix"]["miou"]
    reached = spade > pix
    return (f"- SPADE vs pix2pix, mIoU of the segmenter on the outputs: SPADE {100 * spade:.1f} vs pix2pix "
            f"{100 * pix:.1f} (real images {100 * results['real']['miou']:.1f}), {results['steps']} iterations each: "
            f"claim (SPADE above pix2pix) {'reached' if reached else 'not reached'}.")


def write_report(results: dict[str, Any], command: str, out: Path) -> str:
    models = results.get("models", {})
    lines = [
        "## SPADE vs pix2pix on label maps (issue 15)", "",
        f"Command: `{command}` ({platform.processor() or platform.machine()}, torch {torch.__version__}, one thread). "
        f"Budget: {results['steps']} iterations of batch 16 per model on CPU (a CPU-sized budget, far below the "
        f"paper's 200 epochs; the experiments' own widths: SPADE g_width 8 / hidden 32, pix2pix widths 32). Data: "
        f"`SegmentationPairs` digits source (MNIST5k digits on photo crops, 11 label classes, 32 px), "
        f"{results['num_train']} training pairs; held-out 30 % cut in two: the segmenter (`fit_segmenter`, "
        f"{results.get('segmenter_epochs', 8)} epochs) "
        f"trains on {results['num_judge']} real pairs, both models translate the other {results['num_eval']} label "
        f"maps. Pix2Pix reads the colour label map, SPADE the one-hot map. Raw numbers: `benchmarks/spade/results.json`; "
        f"picture: `benchmarks/spade/grid.png` (label | pix2pix | SPADE | real).", "",
        verdict(results), "",
        "| model | mIoU | pixel accuracy | G parameters | training CPU time (wall) |", "|---|---|---|---|---|",
    ]
    for name in ("Pix2Pix", "SPADE"):
        if name in models:
            r = models[name]
            lines.append(f"| {name} | {100 * r['miou']:.1f} | {100 * r['pixel_acc']:.1f} | "
                         f"{r['parameters_g'] / 1e6:.2f} M | {r.get('fit_cpu_seconds', r['fit_seconds']):.0f} s "
                         f"({r['fit_seconds']:.0f} s) |")
    real = results["real"]
    lines += [f"| real images (ceiling) | {100 * real['miou']:.1f} | {100 * real['pixel_acc']:.1f} | | |", "",
              f"Whole run: {results.get('total_cpu_seconds', 0) / 60:.1f} min of CPU time on one thread (data, "
              f"segmenter, both models, measures); wall times are longer on the shared machine.", "",
              f"PUBLISHED (Park et al. 2019, Table 1, mIoU, SPADE vs pix2pixHD): {PUBLISHED} (SPADE's column "
              f"checked against the paper's listing on paperswithcode / hyper.ai; the pix2pixHD column not re-checked)."]
    text = "\n".join(lines)
    replace_section(out, "spade", text)
    return text


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated: SPADE, Pix2Pix")
    parser.add_argument("--steps", type=int, default=300, help="training iterations of each model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--segmenter-epochs", type=int, default=20, help="epochs of the mIoU segmenter")
    parser.add_argument("--out", type=Path, default=RESULTS_MD)
    parser.add_argument("--results", type=Path, default=OUT_DIR / "results.json", help="the raw results (JSON cache)")
    parser.add_argument("--tiny", action="store_true", help="seconds-long smoke run (tests): tiny nets, few items")
    parser.add_argument("--report-only", action="store_true", help="rewrite the section from --results, train nothing")
    args = parser.parse_args(argv)
    args.model_list = [m for m in args.models.split(",") if m]
    unknown = [m for m in args.model_list if m not in MODELS]
    if unknown:
        parser.error(f"--models: unknown {', '.join(unknown)}; known: {', '.join(MODELS)}")
    if args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    command = command_line(__file__, argv)
    if args.report_only:
        results = load_runs(args.results)
        if not results:
            raise SystemExit(f"{args.results}: no cached results to rebuild the section from")
        command = results.get("command", command)
    else:
        results = run(args.model_list, args.steps, args.seed, tiny=args.tiny, segmenter_epochs=args.segmenter_epochs)
        results["command"] = command
        save_runs(results, args.results, drop=())
    write_report(results, command, args.out)
    print(verdict(results))
    print(f"wrote section 'spade' of {args.out}")


if __name__ == "__main__":
    main()
