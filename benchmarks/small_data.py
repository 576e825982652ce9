"""Data efficiency: does augmenting D's inputs help most when the training set is smallest?

The published finding (Zhao et al. 2020, DiffAugment; Karras et al. 2020, ADA): with few training
images D memorises them and FID degrades; DiffAugment or ADA recover much of it, and the gain
shrinks as the set grows (FFHQ, 1k images: FID 62.16 -> 25.66 with DiffAugment).

Protocol:

- models: each one's committed MNIST recipe (``experiments/<model>/mnist5k.yaml``: model
  ``init_args`` and the data's image size / channels / batch size), e.g. DCGAN and StyleGAN2;
- data: ``MNIST5k(train_size=N)``, a class-balanced subset of N of the 4,500 training digits
  (4,500 = all of them), the same subset and the same 500 held-out digits for every run (data seed 0);
- augmentation: none, ``DiffAugmentCallback`` (color, translation, cutout: the paper's small-data
  policy) or ``AdaptiveAugmentation`` (ADA, target 0.6; ``--ada-kimg`` sets how fast p may move: the
  paper's 500 would let p reach only ~0.1 in a CPU-sized budget, the report says which value ran);
- budget: the same ``--iterations`` for every run; seeds ``--seeds`` (model initialisation and noise);
- evaluation: ``evaluate_generator`` (the code path of ``MetricsCallback``), FID with the ``digits``
  extractor (a LeNet trained on MNIST5k) of ``--num-eval`` samples of the raw generator against the
  500 held-out digits.

    python benchmarks/small_data.py [--models DCGAN,StyleGAN2] [--sizes 500,1000,4500] [--iterations N]
                                    [--seeds 0,1] [--workers 2] [--report-only]

Results are cached per run in ``benchmarks/small_data/results.json`` (a rerun trains only the runs
it lacks); writes section ``small_data`` of benchmarks/RESULTS.md and one sample grid per model
and augmentation at the smallest size in benchmarks/small_data/.
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path
from typing import Any, Sequence

import torch

from harness import (BENCHMARKS, RESULTS_MD, build_mnist5k, fit_exactly, half_range, load_runs, quiet_lightning,
                     replace_section, train_missing, training_command)

load_results = load_runs  # the cache, by the name its tests read it with

OUT_DIR = BENCHMARKS / "small_data"
CACHE = OUT_DIR / "results.json"
AUGMENTATIONS = ("none", "diffaugment", "ada")
AUGMENTATION_NAMES = {"none": "no augmentation", "diffaugment": "DiffAugment", "ada": "ADA"}
EVAL_NOISE_SEED = 30_000
DATA_SEED = 0
GRID_SAMPLES = 36

PUBLISHED = """### PUBLISHED: DiffAugment, Zhao et al. 2020 (StyleGAN2, FID; quoted, not run here)

Source: the authors' repository mit-han-lab/data-efficient-gans, `DiffAugment-stylegan2/README.md`
(its pre-trained models of the paper's FFHQ and CIFAR experiments, 256 px FFHQ).

| Data | StyleGAN2 | + DiffAugment (color, translation, cutout) |
|---|---|---|
| FFHQ 256 px, 1k images (fid50k-train) | 62.16 | 25.66 |
| FFHQ 256 px, 5k images | 26.60 | 10.45 |
| FFHQ 256 px, 10k images | 14.75 | 7.86 |
| FFHQ 256 px, 30k images | 6.16 | 5.05 |
| FFHQ 256 px, 70k images (all) | 3.81 | 4.24 |
| CIFAR-10, 10 % (fid10k) | 36.02 | 14.50 |
| CIFAR-10, 20 % | 23.08 | 12.15 |
| CIFAR-10, 100 % | 11.07 | 9.89 |

The gain falls from 36.5 FID points at 1k images to none at 70k: augmentation helps most on the
smallest sets, and may cost a little on the full one.

ADA, Karras et al. 2020 ("Training Generative Adversarial Networks with Limited Data", arXiv 2006.06676,
its abstract): CIFAR-10 is "in fact, a limited data benchmark"; ADA improves its record FID from 5.59
to 2.42. Its per-size tables were not found in a stored copy and are not quoted here.

StudioGAN's CIFAR-10 table (POSTECH-CVLab/PyTorch-StudioGAN `README.md` at commit 007871e, FID of 10k
samples against the 10k test images): DCGAN 50.281, LSGAN 67.229, GGAN (hinge) 43.008; its SAGAN,
BigGAN, DiffAugGAN and ADAGAN rows are empty ("-") in that version."""


def run_key(model: str, size: int, augmentation: str, seed: int, iterations: int) -> str:
    return f"{model}/n{size}/{augmentation}/seed{seed}/it{iterations}"


def build(model_name: str, size: int | None):
    """``(model, data)``: the model's MNIST recipe on a ``size``-digit training subset (None: all 4,500)."""
    return build_mnist5k(model_name, data_options={"seed": DATA_SEED, "train_size": size})


def augmentation_callbacks(augmentation: str, ada_kimg: float) -> list:
    from gan_lightning.callbacks import AdaptiveAugmentation, DiffAugmentCallback

    if augmentation == "none":
        return []
    if augmentation == "diffaugment":
        return [DiffAugmentCallback("color,translation,cutout")]
    if augmentation == "ada":
        return [AdaptiveAugmentation(target=0.6, kimg=ada_kimg)]
    raise ValueError(f"--augmentations: unknown {augmentation!r}; accepted: {', '.join(AUGMENTATIONS)}")


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    """Train one (model, size, augmentation, seed) and measure its digits FID."""
    import lightning as L

    from gan_lightning.evaluation import evaluate_generator

    quiet_lightning()
    torch.set_num_threads(1)
    L.seed_everything(job["seed"], workers=False, verbose=False)
    model, data = build(job["model"], job["size"])
    callbacks = augmentation_callbacks(job["augmentation"], job["ada_kimg"])
    seconds = fit_exactly(model, data, job["iterations"], callbacks, label=job["key"])
    fid = evaluate_generator(model, data, ["fid"], num_samples=job["num_eval"], extractor="digits", use_ema=False,
                             seed=EVAL_NOISE_SEED + job["seed"], progress=False)["fid"]
    grid = model.sample(GRID_SAMPLES, use_ema=False, rng=torch.Generator().manual_seed(EVAL_NOISE_SEED))
    ada_p = next((float(c.p) for c in callbacks if hasattr(c, "p")), None)
    return {"key": job["key"], "model": job["model"], "size": job["size"], "augmentation": job["augmentation"],
            "seed": job["seed"], "iterations": job["iterations"], "fid": float(fid), "fit_seconds": seconds,
            "ada_p": ada_p, "ada_kimg": job["ada_kimg"] if job["augmentation"] == "ada" else None,
            "grid": (grid.detach().float().cpu() * 0.5 + 0.5).clamp(0, 1).tolist()}


# ----------------------------------------------------------------------------- report
def save_grid(result: dict[str, Any], folder: Path | None = None) -> Path:
    from torchvision.utils import save_image

    folder = folder or OUT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{result['model'].lower()}_n{result['size']}_{result['augmentation']}.png"
    save_image(torch.tensor(result["grid"]), path, nrow=6, padding=1)
    return path


def summarise(results: dict[str, dict[str, Any]], iterations: int) -> dict[tuple[str, int, str], list[float]]:
    """(model, size, augmentation) -> FIDs over the seeds that ran at ``iterations``."""
    table: dict[tuple[str, int, str], list[float]] = {}
    for value in results.values():
        if value["iterations"] == iterations:
            table.setdefault((value["model"], value["size"], value["augmentation"]), []).append(value["fid"])
    return table


def cell(fids: Sequence[float] | None) -> str:
    if not fids:
        return "not run"
    if len(fids) == 1:
        return f"{fids[0]:.1f} (1 seed)"
    return f"{statistics.mean(fids):.1f} ± {half_range(fids):.1f}"


def gains(table, model: str, sizes: Sequence[int]) -> dict[int, tuple[float, float]]:
    """size -> (FID of no augmentation minus the better augmented FID, means over seeds; its seed spread:
    the two rows' half ranges added); only sizes with both."""
    out = {}
    for size in sizes:
        base = table.get((model, size, "none"))
        augmented = [table[(model, size, a)] for a in ("diffaugment", "ada") if (model, size, a) in table]
        if base and augmented:
            best = min(augmented, key=statistics.mean)
            out[size] = (statistics.mean(base) - statistics.mean(best), half_range(base) + half_range(best))
    return out


def verdict(table, model: str, sizes: Sequence[int]) -> str:
    """Reached: augmentation gains on the smallest set, and more than on the largest by more than the two
    gains' seed spreads; in the published direction but within the spread is said apart."""
    found = gains(table, model, sizes)
    if len(found) < 2:
        return f"- **{model}**: not enough sizes measured for a verdict."
    (small_gain, small_spread), (large_gain, large_spread) = found[min(found)], found[max(found)]
    text = ", ".join(f"{size:,} digits {gain:+.1f} (± {spread:.1f})" for size, (gain, spread) in sorted(found.items()))
    if small_gain > 0 and small_gain - large_gain > small_spread + large_spread:
        outcome = "**reached**"
    elif small_gain > 0 and small_gain > large_gain:
        outcome = "**same direction, not separated from the seed spread**"
    else:
        outcome = "**not reached**"
    return (f"- **{model}**: FID gain of the better augmentation over none (positive = better; ± the two rows' "
            f"half ranges added): {text}. The published finding (largest gain on the smallest set): {outcome}.")


def write_report(results: dict[str, dict[str, Any]], args: argparse.Namespace, out: Path) -> str:
    table = summarise(results, args.iterations)
    models = [m for m in args.models if any(key[0] == m for key in table)]
    lines = [
        "## Small data: DiffAugment and ADA on MNIST5k subsets (issue 14)",
        "",
        f"Command: `{args.command}`. Each cell: digits FID (lower is better) of {args.num_eval} samples of the raw G "
        f"against the 500 held-out digits after {args.iterations:,} iterations, mean ± half the range over seeds "
        f"{', '.join(map(str, args.seeds))}; every model with its committed MNIST recipe, one thread per run. "
        f"ADA ran with target 0.6 and kimg {args.ada_kimg:g} (the paper's 500 moves p too slowly for this budget). "
        "Real training digits score about 7 on this metric.",
        "",
        "| Model | Training digits | " + " | ".join(AUGMENTATION_NAMES[a] for a in AUGMENTATIONS) + " |",
        "|---|---|" + "---|" * len(AUGMENTATIONS),
    ]
    for model in models:
        for size in args.sizes:
            lines.append(f"| {model} | {size:,} | " + " | ".join(cell(table.get((model, size, a))) for a in AUGMENTATIONS)
                         + " |")
    ada_ps = [v["ada_p"] for v in results.values() if v["augmentation"] == "ada" and v["iterations"] == args.iterations
              and v.get("ada_p") is not None]
    seconds = [v["fit_seconds"] for v in results.values() if v["iterations"] == args.iterations]
    lines += ["", "Verdicts:"] + [verdict(table, model, args.sizes) for model in models]
    if ada_ps:
        lines.append(f"- ADA's p at the end of training: {min(ada_ps):.3f} to {max(ada_ps):.3f}.")
    if seconds:
        lines.append(f"- Fit time per run: {min(seconds):.0f} to {max(seconds):.0f} s wall (shared 2-core CPU).")
    lines += [f"- {note}" for note in args.note]
    grids = sorted(OUT_DIR.glob("*.png"))
    if grids:
        lines += ["", "Samples at the smallest size (raw G, fixed noise): "
                  + ", ".join(f"[{p.stem}](small_data/{p.name})" for p in grids) + "."]
    lines += ["", PUBLISHED]
    text = "\n".join(lines)
    replace_section(out, "small_data", text)
    return text


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="DCGAN,StyleGAN2", help="comma-separated model class names")
    parser.add_argument("--sizes", default="500,1000,4500", help="training-set sizes (of MNIST5k's 4,500)")
    parser.add_argument("--augmentations", default=",".join(AUGMENTATIONS), help=f"of {', '.join(AUGMENTATIONS)}")
    parser.add_argument("--iterations", type=int, default=800, help="training iterations (batches) per run")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--num-eval", type=int, default=1000, help="samples per FID")
    parser.add_argument("--ada-kimg", type=float, default=50.0, help="ADA: thousands of images for p to cross [0, 1]")
    parser.add_argument("--workers", type=int, default=1, help="runs trained in parallel processes")
    parser.add_argument("--report-only", action="store_true", help="rebuild the report from the cache")
    parser.add_argument("--note", action="append", default=[], help="a line added to the report (repeatable)")
    parser.add_argument("--out", default=str(RESULTS_MD))
    parser.add_argument("--cache", default=str(CACHE))
    args = parser.parse_args(argv)
    args.models = [m for m in args.models.split(",") if m]
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.seeds = [int(s) for s in args.seeds.split(",") if s]
    args.augmentations = [a for a in args.augmentations.split(",") if a]
    for augmentation in args.augmentations:
        if augmentation not in AUGMENTATIONS:
            parser.error(f"--augmentations: unknown {augmentation!r}; accepted: {', '.join(AUGMENTATIONS)}")
    if args.iterations < 1:
        parser.error(f"--iterations must be >= 1, got {args.iterations}")
    args.command = training_command(__file__, argv)
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    cache = Path(args.cache)
    results = load_runs(cache)
    if not args.report_only:
        jobs = [{"model": m, "size": n, "augmentation": a, "seed": s, "iterations": args.iterations,
                 "num_eval": args.num_eval, "ada_kimg": args.ada_kimg, "key": run_key(m, n, a, s, args.iterations)}
                for m in args.models for n in args.sizes for a in args.augmentations for s in args.seeds]

        def done(result: dict[str, Any], seconds: float) -> None:
            if result["size"] == min(args.sizes) and result["seed"] == min(args.seeds):
                save_grid(result)
            print(f"[{len(results)}] {result['key']:40s} FID {result['fid']:7.2f}  ({result['fit_seconds']:.0f} s; "
                  f"{seconds:.0f} s so far)", flush=True)

        train_missing(jobs, run_one, results, cache, args.workers, done)
    print(write_report(results, args, Path(args.out)))


if __name__ == "__main__":
    os.environ.setdefault("WANDB_MODE", "offline")
    main()
