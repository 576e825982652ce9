"""StackGAN++: does the colour-consistency term make the branches' images agree in colour? On CaptionedDigits.

Zhang et al. 2018 (StackGAN++, Section 4.2) add to G's loss a colour-consistency term between consecutive
branches (the finer image's mean colour and colour covariance against the coarser one's), so that the
images a tree G draws of one (z, caption) at its scales share their colours. This script trains the
committed recipe (``experiments/stackganv2/captioned_digits.yaml``: branches 16, 32 and 64 px,
``colour_weight`` 50) and the same recipe with ``colour_weight: 0`` (the off switch), seed 0, the same
iterations, one thread, raw G (the recipe has no EMA), and draws, for each of the first ``--samples``
held-out captions, the three branches' images from the same z (seeded) with both models. It measures,
per image, for the pairs 16/32 px and 32/64 px, the finer image averaged down to the coarser size:

- **mean gap**: ||mean colour (fine) - mean colour (coarse)||_2 (RGB, images in [-1, 1]);
- **covariance gap**: ||colour covariance over pixels (fine) - (coarse)||_F
  (``gan_lightning.losses.stacked.colour_gap``);

and, as the scale against which a gap is small or large, the same gaps between the 64 px images of two
different captions (caption i against i + 1, the same model): what unrelated images differ by.

    python benchmarks/stackganv2_colour.py [--iterations 2000] [--samples 500]
    python benchmarks/stackganv2_colour.py --report-only    # the section from the cache

Writes section ``stackganv2`` of benchmarks/RESULTS.md; caches each finished run in
benchmarks/stackganv2_colour/results.json (an interrupted benchmark resumes), pictures beside it.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from typing import Any

import torch
from harness import (
    BENCHMARKS,
    RESULTS_MD,
    command_block,
    command_line,
    fit_exactly,
    load_average,
    load_recipe,
    load_runs,
    model_from_recipe,
    quiet_lightning,
    replace_section,
    save_grid,
    save_runs,
    stack_split,
    train_missing,
)

OUT_DIR = BENCHMARKS / "stackganv2_colour"
RESULTS_JSON = OUT_DIR / "results.json"
SECTION = "stackganv2"
RECIPE = ("StackGANv2", "captioned_digits")
SAMPLE_SEED = 1
#: the two runs: the recipe's colour weight, and the term off.
SETTINGS = {"colour_on": None, "colour_off": 0.0}


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    import lightning as L

    from gan_lightning.data import CaptionedDigits
    from gan_lightning.losses.stacked import colour_gap

    torch.set_num_threads(1)
    quiet_lightning()
    started = time.process_time()
    recipe = load_recipe(*RECIPE)
    weight = recipe["init_args"]["colour_weight"] if job["colour_weight"] is None else job["colour_weight"]
    data = CaptionedDigits(**recipe["data_args"])
    L.seed_everything(0, verbose=False)
    model = model_from_recipe(RECIPE[0], recipe, (3, data.image_size, data.image_size), colour_weight=weight)
    seconds = fit_exactly(model, data, job["iterations"], label=job["key"])
    data.setup("fit")
    heldout = stack_split(data.heldout_set, ["caption"])
    captions = heldout["caption"][:job["samples"]]
    z = model.sample_noise(len(captions), rng=torch.Generator().manual_seed(SAMPLE_SEED))
    with torch.no_grad():
        branches = model.sample(noise=z, conditions={"caption": captions}, stages=True, use_ema=False)
    gaps = {}
    for i in range(1, len(branches)):
        mean, cov = colour_gap(branches[i], branches[i - 1])
        gaps[f"{model.sizes[i - 1]}/{model.sizes[i]}"] = {"mean": float(mean.mean()), "cov": float(cov.mean())}
    last = branches[-1]
    mean, cov = colour_gap(last, last.roll(1, dims=0))
    gaps["unrelated 64/64"] = {"mean": float(mean.mean()), "cov": float(cov.mean())}
    up = [torch.nn.functional.interpolate(b[:8], size=last.shape[-2:], mode="nearest") for b in branches]
    grid = save_grid(torch.stack(up, dim=1).flatten(0, 1), OUT_DIR / f"{job['key']}.png", nrow=2 * len(branches))
    return {"colour_weight": weight, "iterations": job["iterations"], "recipe_iterations": recipe["max_steps"],
            "samples": len(captions), "gaps": gaps, "fit_seconds": round(seconds, 1),
            "cpu_minutes": round((time.process_time() - started) / 60, 2), "picture": grid}


def section(runs: dict[str, Any], command: str) -> str:
    on, off = runs["colour_on"], runs["colour_off"]
    iterations, recipe = on["iterations"], on["recipe_iterations"]
    budget = ("the recipe's budget" if iterations == recipe else
              f"**below the recipe's budget** of {recipe} iterations: this shared CPU's time allowed no more")
    lines = [(f"StackGAN++ (Zhang et al. 2018) on CaptionedDigits, the colour-consistency term on (`colour_weight` "
              f"{on['colour_weight']:g}, the recipe) vs off (`colour_weight` 0), each trained {iterations} "
              f"iterations ({budget}); seed 0, batch 64, one thread, raw G; {on['cpu_minutes']:.1f} + "
              f"{off['cpu_minutes']:.1f} CPU-minutes. {on['samples']} held-out captions, one seeded z each, the "
              f"same (z, caption) for both models. Gap per image, the finer branch averaged down to the coarser "
              f"size: mean-colour gap ||mu_fine - mu_coarse||_2 and covariance gap ||C_fine - C_coarse||_F "
              f"(images in [-1, 1]), averaged over the images. Scale: the same gaps between the 64 px images of "
              f"two different captions."), "",
             *command_block(command), "",
             "| branches | mean gap, term on | mean gap, term off | covariance gap, term on | covariance gap, term off |",
             "|---|---|---|---|---|"]
    for pair in on["gaps"]:
        a, b = on["gaps"][pair], off["gaps"][pair]
        lines.append(f"| {pair} px | {a['mean']:.4f} | {b['mean']:.4f} | {a['cov']:.4f} | {b['cov']:.4f} |")
    pairs = [p for p in on["gaps"] if not p.startswith("unrelated")]
    closer = [p for p in pairs if on["gaps"][p]["mean"] < off["gaps"][p]["mean"]
              and on["gaps"][p]["cov"] < off["gaps"][p]["cov"]]
    ratio = {p: (off["gaps"][p]["mean"] / max(on["gaps"][p]["mean"], 1e-12),
                 off["gaps"][p]["cov"] / max(on["gaps"][p]["cov"], 1e-12)) for p in pairs}
    detail = "; ".join(f"{p} px: without the term {r[0]:.2f}x the mean gap and {r[1]:.2f}x the covariance gap"
                       for p, r in ratio.items())
    if len(closer) == len(pairs):
        verdict = (f"Verdict: reached: with the term every pair of consecutive branches agrees more closely in "
                   f"colour, in both statistics ({detail}).")
    elif closer:
        named = " and ".join(p.replace("/", " to ") for p in closer)
        verdict = (f"Verdict: reached on the {named} px branches only (the other pairs: not closer in both "
                   f"statistics) ({detail}).")
    else:
        verdict = f"Verdict: not reached: the term does not bring the branches' colours closer ({detail})."
    lines += ["", verdict, "", ("One seed per setting: no seed spread is measured. The images are drawn as `sample` "
                                "draws them, in eval mode (BatchNorm's running statistics), while the term acts on "
                                "the training-mode images of each batch; the gap of training-mode images was not "
                                "measured."), "",
              (f"The three branches (16, 32, 64 px, shown at 64 px) of the first 8 captions: term on "
              f"`{on['picture']}`, term off `{off['picture']}`. Machine: {on.get('machine', '?')}, "
              f"{on.get('cpus', '?')} CPUs, load {on.get('load', '?')} when it ended.")]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=load_recipe(*RECIPE)["max_steps"])
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--workers", type=int, default=1, help="runs at once, each in its own process")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    runs = load_runs(RESULTS_JSON, empty={})
    command = command_line(__file__, [f"--iterations={args.iterations}", f"--samples={args.samples}"])
    if not args.report_only:
        stale = [k for k in SETTINGS if k in runs and runs[k]["iterations"] != args.iterations]
        for key in stale:
            del runs[key]
        jobs = [{"key": key, "colour_weight": weight, "iterations": args.iterations, "samples": args.samples}
                for key, weight in SETTINGS.items()]

        def stamped(run, _seconds):
            run.update(machine=platform.machine(), cpus=os.cpu_count(), load=round(load_average()[0], 1))

        train_missing(jobs, run_one, runs, RESULTS_JSON, workers=args.workers, on_done=stamped)
        runs["command"] = command
        save_runs(runs, RESULTS_JSON)
    if any(key not in runs for key in SETTINGS):
        raise SystemExit(f"runs missing in {RESULTS_JSON}: run without --report-only first")
    text = section(runs, runs.get("command", command))
    replace_section(RESULTS_MD, SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
