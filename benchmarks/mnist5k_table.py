"""MNIST5k table: `digits` FID and class coverage of every stability-family model at one budget.

Protocol:

- models: GAN, DCGAN and the loss / stability family (LSGAN, WGAN, WGANGP, WGANDiv, DRAGAN,
  SNGAN, RelativisticGAN, EBGAN, BEGAN, UnrolledGAN, MADGAN, PacGAN), each with its committed
  recipe: the model ``init_args`` of ``experiments/<model>/mnist5k.yaml`` (read by
  ``harness.load_recipe``) and that file's data options (image size, channels, batch
  size) for ``MNIST5k`` (5,000 real MNIST digits, 500 held out);
- budget: the same number of iterations (batches) for every model (``--iterations``), except
  UnrolledGAN, EBGAN and BEGAN, 10-20 times dearer per iteration, which get their own smaller
  one (``--iterations-for``), said in the report; models with 5 critic steps take a G step
  every 5th iteration;
- evaluation: ``gan_lightning.evaluation.evaluate_generator`` (the code path of
  ``MetricsCallback`` and ``gan-lightning evaluate``), metrics ``fid`` and ``classes`` with the
  ``digits`` extractor (a LeNet trained on MNIST5k), ``--num-eval`` samples of the *raw*
  generator in eval mode after the last iteration against the 500 held-out digits;
- one seed (0), single-threaded, runs one after the other in this process.

    python benchmarks/mnist5k_table.py [--iterations N] [--iterations-for UnrolledGAN=N] [--models GAN,DCGAN]

Writes section ``mnist5k`` of benchmarks/RESULTS.md and one small sample grid PNG per model
in benchmarks/mnist5k/.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time
from pathlib import Path
from typing import Any, Sequence

import torch

from harness import (BENCHMARKS, RESULTS_MD, build_mnist5k, command_block, command_line, fit_exactly, load_average,
                     load_recipe, mnist5k_data, model_budgets, quiet_lightning, recipe_budget_words, replace_section)

MODELS = ("GAN", "DCGAN", "LSGAN", "WGAN", "WGANGP", "WGANDiv", "DRAGAN", "SNGAN", "RelativisticGAN",
          "EBGAN", "BEGAN", "UnrolledGAN", "MADGAN", "PacGAN")
OPTIONAL_MODELS = ("MAGAN",)  # with --models only (MAGAN vs EBGAN, section magan_images), not in the default table
RECIPE = "mnist5k"
DEFAULT_ITERATIONS = 600  # chosen from measured costs, see BUDGET_NOTE
# 10-20 times dearer per iteration than the rest (autoencoder D at 32 px; 5 unrolled D steps), see BUDGET_NOTE
DEFAULT_ITERATIONS_FOR = {"EBGAN": 100, "BEGAN": 100, "UnrolledGAN": 100}
NUM_EVAL = 1000
SEED = 0
EVAL_NOISE_SEED = 30_000
GRID_SAMPLES = 36


@dataclasses.dataclass(frozen=True)
class RunSpec:
    model: str
    iterations: int
    seed: int = SEED
    num_eval: int = NUM_EVAL
    threads: int = 1
    digits_weights: str | None = None  # digits classifier file; None: the cached one (trained on first use)
    overrides: tuple[tuple[str, Any], ...] = ()  # model options changed from the recipe, e.g. (("attention", False),)


def data_options(model: str) -> dict[str, Any]:
    """``image_size``, ``channels``, ``batch_size`` of the recipe's ``MNIST5k`` data section."""
    data = mnist5k_data(model, RECIPE)
    return {"image_size": data.image_size, "channels": data.channels, "batch_size": data.batch_size}


def build(spec: RunSpec, **overrides):
    """``(model, data module)`` of the recipe (``overrides``: model options changed from it), the data shape
    linked as the CLI does."""
    return build_mnist5k(spec.model, RECIPE, {"seed": spec.seed}, **overrides)


def run_one(spec: RunSpec) -> dict[str, Any]:
    """Train ``spec.model`` for ``spec.iterations`` batches; digits FID and class coverage of its samples."""
    import lightning as L

    from gan_lightning.evaluation import evaluate_generator

    quiet_lightning()
    torch.set_num_threads(spec.threads)
    L.seed_everything(spec.seed, workers=False, verbose=False)
    model, data = build(spec, **dict(spec.overrides))
    fit_seconds = fit_exactly(model, data, spec.iterations, label=spec.model)
    results = evaluate_generator(
        model, data, ["fid", "classes"], num_samples=spec.num_eval, extractor="digits", use_ema=False,
        seed=EVAL_NOISE_SEED + spec.seed, progress=False, weights=spec.digits_weights,
    )
    grid = model.sample(GRID_SAMPLES, use_ema=False, rng=torch.Generator().manual_seed(EVAL_NOISE_SEED))
    return {"spec": spec, "results": results, "grid": grid.detach().float().cpu(), "model": model,
            "image_size": data.image_size, "batch_size": data.batch_size,
            "g_steps": sum(1 for i in range(spec.iterations) if (i + 1) % model.critic_steps == 0),
            "fit_seconds": fit_seconds}


def job_run(job: dict[str, Any], model: str, overrides: tuple[tuple[str, Any], ...] = (),
            digits_weights: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """One ``train_missing`` job (``key``, ``seed``, ``iterations``, ``num_eval``) of ``model`` with ``overrides``,
    through ``run_one``: (the run's cache fields every such benchmark keeps: the job's key, seed and iterations,
    digits FID, classes covered, fit seconds; ``run_one``'s whole output, for what a benchmark adds)."""
    spec = RunSpec(model=model, iterations=job["iterations"], seed=job["seed"], num_eval=job["num_eval"],
                   overrides=tuple(overrides), digits_weights=digits_weights)
    out = run_one(spec)
    return ({"key": job["key"], "seed": job["seed"], "iterations": job["iterations"],
             "fid": float(out["results"]["fid"]), "classes": int(out["results"]["classes_covered"]),
             "fit_seconds": out["fit_seconds"]}, out)


def real_reference(num_eval: int = NUM_EVAL, digits_weights: str | None = None) -> dict[str, Any]:
    """The same metrics for ``num_eval`` real *training* digits (a seeded random subset) in place of
    samples: what a generator that reproduced the training set would score."""
    from gan_lightning.data import MNIST5k
    from gan_lightning.evaluation import evaluate_generator

    data = MNIST5k(image_size=28, seed=SEED)
    data.setup()
    order = torch.randperm(len(data.train_set), generator=torch.Generator().manual_seed(EVAL_NOISE_SEED))
    images = torch.stack([data.train_set[i][0] for i in order[:num_eval].tolist()])

    class RealDigits(torch.nn.Module):  # evaluate_generator's model interface over fixed images
        device = torch.device("cpu")

        def __init__(self) -> None:
            super().__init__()
            self.offset = 0

        def sample(self, count, labels=None, use_ema=False, rng=None):
            self.offset += count
            return images[self.offset - count:self.offset]

    return evaluate_generator(RealDigits(), data, ["fid", "classes"], num_samples=len(images), extractor="digits",
                              use_ema=False, seed=EVAL_NOISE_SEED, progress=False, weights=digits_weights)


# ----------------------------------------------------------------------------- report
TABLE_COLUMNS = ("Model", "Iterations (G steps)", "Image px", "FID (digits)", "Classes (of 10)",
                 "KL to uniform", "Fit s")


def markdown_table(results: Sequence[dict[str, Any]], reference: dict[str, Any] | None = None) -> str:
    order = {name: i for i, name in enumerate(MODELS + OPTIONAL_MODELS)}
    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(TABLE_COLUMNS) - 1)) + "|"]
    for result in sorted(results, key=lambda r: order.get(r["spec"].model, len(order))):
        spec, values = result["spec"], result["results"]
        cells = [spec.model, f"{spec.iterations} ({result['g_steps']})", str(result["image_size"]),
                 f"{values['fid']:.2f}", str(values["classes_covered"]), f"{values['kl_to_uniform']:.3f}",
                 f"{result['fit_seconds']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    if reference is not None:
        lines.append(f"| *real training digits (reference)* | - | 28 | {reference['fid']:.2f} | "
                     f"{reference['classes_covered']} | {reference['kl_to_uniform']:.3f} | - |")
    return "\n".join(lines)


def save_grids(results: Sequence[dict[str, Any]], folder: Path) -> dict[str, Path]:
    from gan_lightning.callbacks import write_samples

    return {r["spec"].model: write_samples(r["grid"], folder / f"{r['spec'].model.lower()}.png", nrow=6)
            for r in results}


BUDGET_NOTE = """How the budget was chosen: per-iteration costs measured before choosing it with short runs
(25 less 5, or 50 less 10, iterations) of each recipe on this machine at load average about 3
(2 cores shared with other jobs), one thread, in ms per iteration: GAN 42, PacGAN 90,
DCGAN 95-105, WGAN 126, SNGAN 149, LSGAN 172, WGAN-GP 174, MADGAN 198, RelativisticGAN 199,
DRAGAN 236, WGAN-div 311; UnrolledGAN 1,663, EBGAN 1,889, BEGAN 1,949 (their 32 px
autoencoder D has full-resolution 3x3 convolutions; UnrolledGAN runs 5 extra D steps per
iteration); about 3-4 s of fixed cost per run, and a Stacked MNIST run at the same load showed
costs about 20 % above these. A first run at 250 iterations (40 for the three dear ones, 15
minutes) left most models short of digits; the default is now 600 iterations for the first
eleven and 100 for the three dear ones, about 30 minutes. The committed recipes train
1,500-5,000 iterations, so these are still short-budget numbers: they rank how fast the
recipes learn the digits, not where they end up, and the three models at 100 iterations are
not comparable with the others."""


def write_report(results: Sequence[dict[str, Any]], reference: dict[str, Any] | None, args: argparse.Namespace,
                 command: str, wall_seconds: float, load_start: Sequence[float], out: Path,
                 grids: dict[str, Path]) -> str:
    load_end = load_average()
    budgets = {r["spec"].model: r["spec"].iterations for r in results}
    others = {m: n for m, n in budgets.items() if n != args.iterations}
    first = results[0]
    record = first["results"]
    lines = [
        "## MNIST5k: digits FID and class coverage per model",
        "",
        "Written by `benchmarks/mnist5k_table.py`; do not edit by hand.",
        "",
        *command_block(command),
        f"- Budget: **{args.iterations} iterations** per model"
        + (", except " + ", ".join(f"**{m}: {n}**" for m, n in others.items())
           if others else "")
        + (" (dearer per iteration, see the note below; not comparable with the rest)" if others else "")
        + "; G steps in brackets (5-critic models take a G step every 5th iteration). "
        + recipe_budget_words(budgets, RECIPE),
        "- Recipes: every model's `init_args` and data options (image size, batch size) from "
        "`experiments/<model>/mnist5k.yaml`; seed 0 (one seed: no error bars).",
        f"- Evaluation: `evaluate_generator` with metrics `fid`, `classes` and the `digits` extractor: "
        f"{record['num_samples']:,} samples of the **raw generator** in eval mode vs {record['num_real']} real "
        f"digits ({record['real_split']} split); FID of the classifier's 128-d features (not Inception FID); "
        "classes: digit classes predicted among the samples, KL(class histogram || uniform)."
        + (f" The reference row puts {reference['num_samples']:,} real training digits (28 px) in place of the "
           "samples." if reference is not None else ""),
        f"- Machine: {platform.platform()}, {os.cpu_count()} CPUs (shared with other jobs), torch "
        f"{torch.__version__}, {first['spec'].threads} thread, runs one after the other.",
        f"- Wall time of the whole run: **{wall_seconds / 60:.1f} min**; load average (1 min) at start "
        f"{load_start[0]:.1f}, at end {load_end[0]:.1f}.",
        "",
        markdown_table(results, reference),
        "",
        "Samples (raw generator, 36 each, same noise seed):",
        "",
    ]
    lines += [" ".join(f"![{m}]({os.path.relpath(p, out.parent)})" for m, p in grids.items()), ""]
    if args.section == "mnist5k":  # how the default budget was chosen
        lines.append(BUDGET_NOTE)
    text = "\n".join(lines)
    replace_section(out, args.section, text)
    return text


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS,
                        help=f"training iterations (batches) per model (default {DEFAULT_ITERATIONS})")
    parser.add_argument("--iterations-for", type=model_budgets,
                        default=",".join(f"{m}={n}" for m, n in DEFAULT_ITERATIONS_FOR.items()),
                        help="per-model budgets, MODEL=N[,MODEL=N]; pass '' to give every model --iterations")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated model class names")
    parser.add_argument("--num-eval", type=int, default=NUM_EVAL, help=f"generated samples scored (default {NUM_EVAL})")
    parser.add_argument("--no-reference", dest="reference", action="store_false",
                        help="skip the real-digits reference row")
    parser.add_argument("--out", type=Path, default=RESULTS_MD)
    parser.add_argument("--section", default="mnist5k", help="the RESULTS.md section written (default mnist5k)")
    parser.add_argument("--plots", type=Path, default=BENCHMARKS / "mnist5k",
                        help="folder of the sample grids (one PNG per model)")
    args = parser.parse_args(argv)
    if isinstance(args.iterations_for, str):
        args.iterations_for = model_budgets(args.iterations_for)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in args.models if m not in MODELS + OPTIONAL_MODELS]
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {', '.join(MODELS + OPTIONAL_MODELS)}")
    if args.iterations < 1 or args.num_eval < 2:
        parser.error("--iterations must be >= 1 and --num-eval >= 2")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(1)
    command = command_line(__file__, argv)
    for model in args.models:  # fail before training when a recipe is missing
        load_recipe(model, RECIPE)
        data_options(model)
    specs = [RunSpec(model=m, iterations=args.iterations_for.get(m, args.iterations), num_eval=args.num_eval)
             for m in args.models]
    print(f"{len(specs)} runs: {command}", flush=True)
    load_start = load_average()
    started = time.perf_counter()
    results = []
    for i, spec in enumerate(specs):
        result = run_one(spec)
        results.append(result)
        values = result["results"]
        print(f"[{i + 1}/{len(specs)}] {spec.model:16s} iters {spec.iterations:5d}  fid {values['fid']:8.2f}  "
              f"classes {values['classes_covered']:2d}  kl {values['kl_to_uniform']:.3f}  "
              f"fit {result['fit_seconds']:.0f}s", flush=True)
    reference = real_reference(args.num_eval) if args.reference else None
    wall = time.perf_counter() - started
    grids = save_grids(results, args.plots)
    write_report(results, reference, args, command, wall, load_start, args.out, grids)
    print(f"wall time {wall / 60:.1f} min; wrote {args.out} and {len(grids)} grids in {args.plots}", flush=True)


if __name__ == "__main__":
    main()
