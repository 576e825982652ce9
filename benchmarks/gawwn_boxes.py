"""GAWWN's claim on CaptionedDigits: conditioning on a box puts the described digit where asked.

Published (Reed et al. 2016, "Learning What and Where to Draw", section 5 and figures 4-5): on CUB the
box-conditional GAWWN draws the bird inside the given box and follows the box as it moves; the paper
shows it qualitatively (no box-overlap number).

Protocol:

- data: CaptionedDigits at 32 px on the black background only (``backgrounds: [black]``), so that
  the ink of a drawn digit can be found by thresholding; the held-out split's captions and boxes;
- models: GAWWN's committed recipe (``experiments/gawwn/captioned_digits.yaml``) and, as the text-only
  model, GAN-INT-CLS's (``experiments/ganintcls/captioned_digits.yaml``), both at 32 px, batch 16,
  the same seeds, iterations and data, one thread; both use the project's cached caption encoder;
- measure: for each of ``--num-eval`` held-out (caption, box) pairs, GAWWN draws with both, GAN-INT-CLS
  with the caption only (raw G, eval mode, seeded noise); the output's ink box is the bounding box of
  its pixels whose brightest channel is above half intensity; the score is the IoU of the asked box
  and the ink box (0 when no pixel is inked): ``ink_boxes`` and ``box_iou`` of
  ``gan_lightning.evaluation.captioned`` (the CaptionedDigits judges' box, which is this one on black). The
  same measure on the real held-out images against their own boxes checks the measure itself;
- verdict: GAWWN places better when its mean IoU exceeds GAN-INT-CLS's by more than the larger seed
  spread (half the range) of the two rows.

    python benchmarks/gawwn_boxes.py [--iterations 800] [--seeds 0,1] [--num-eval 256] [--report-only]

Runs are cached in ``benchmarks/gawwn_boxes/results.json``; writes section ``gawwn_boxes`` of
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from harness import (
    BENCHMARKS,
    RESULTS_MD,
    command_block,
    fit_exactly,
    half_range,
    load_line,
    load_recipe,
    load_runs,
    model_from_recipe,
    quiet_lightning,
    replace_section,
    train_missing,
    training_command,
)

from gan_lightning.evaluation.captioned import box_iou, ink_boxes

OUT_DIR = BENCHMARKS / "gawwn_boxes"
CACHE = OUT_DIR / "results.json"
MODELS = ("GAWWN", "GANINTCLS")
IMAGE_SIZE, BATCH = 32, 16


def captioned_data():
    """The benchmark's data, the same for every run (the seed varies the models)."""
    from gan_lightning.data import CaptionedDigits

    return CaptionedDigits(image_size=IMAGE_SIZE, batch_size=BATCH, seed=0, backgrounds=["black"])


def held_out(num: int) -> dict[str, Any]:
    import torch

    data = captioned_data()
    data.setup("fit")
    items = [data.heldout_set[i] for i in range(min(num, len(data.heldout_set)))]
    return {key: torch.stack([item[key] for item in items]) for key in ("image", "caption", "box")}


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    import torch

    quiet_lightning()
    torch.set_num_threads(1)
    torch.manual_seed(job["seed"])
    recipe = load_recipe(job["model"], "captioned_digits")
    model = model_from_recipe(job["model"], recipe, (3, IMAGE_SIZE, IMAGE_SIZE))
    cpu = time.process_time()
    seconds = fit_exactly(model, captioned_data(), job["iterations"], label=job["key"])
    cpu = time.process_time() - cpu
    from gan_lightning.pretrained import default_caption_encoder_path

    evaluation = held_out(job["num_eval"])
    conditions = {"caption": evaluation["caption"]}
    if job["model"] == "GAWWN":
        conditions["box"] = evaluation["box"]
    noise = model.sample_noise(len(evaluation["box"]), rng=torch.Generator().manual_seed(1000 + job["seed"]))
    samples = model.sample(noise=noise, use_ema=False, conditions=conditions)
    found, inked = ink_boxes(samples)
    iou = box_iou(evaluation["box"], found, inked)
    return {"key": job["key"], "model": job["model"], "seed": job["seed"], "iterations": job["iterations"],
            "num_eval": len(iou), "iou_mean": float(iou.mean()), "iou_median": float(iou.median()),
            "inked": float(inked.float().mean()), "fit_seconds": seconds, "cpu_seconds": cpu,
            "caption_encoder": default_caption_encoder_path().name}


def real_check(num: int) -> dict[str, float]:
    """The measure on the real held-out images against their own boxes."""
    evaluation = held_out(num)
    found, inked = ink_boxes(evaluation["image"])
    iou = box_iou(evaluation["box"], found, inked)
    return {"iou_mean": float(iou.mean()), "iou_median": float(iou.median()), "num_eval": len(iou)}


# ----------------------------------------------------------------------------- report
def verdict(rows: dict[str, list[dict[str, Any]]]) -> str:
    if not all(rows.get(m) for m in MODELS):
        return "Verdict: both models are needed."
    means = {m: [r["iou_mean"] for r in rows[m]] for m in MODELS}
    gain = statistics.mean(means["GAWWN"]) - statistics.mean(means["GANINTCLS"])
    noise = max(half_range(v) for v in means.values())
    if gain > noise:
        outcome = "**reached**: GAWWN's drawn digits overlap the asked box more than the text-only model's, by more than the seed spread"
    elif gain < -noise:
        outcome = "**not reached**: the text-only model's digits overlap the asked box more"
    else:
        outcome = "**not reached**: the difference is within the seed spread"
    return f"Verdict: {outcome} (mean IoU {gain:+.3f}, seed spread {noise:.3f})."


def budget_note(iterations: int, recipes: dict[str, int], batches: dict[str, int]) -> str:
    """How ``iterations`` of batch ``BATCH`` stand against the recipes' max_steps and batches (model -> value)."""
    steps = ", ".join(f"{model} {n}" for model, n in recipes.items())
    other = ", ".join(f"{model}'s {n}" for model, n in batches.items() if n != BATCH)
    batch = f"; batch {BATCH} for both, not {other}" if other else ""
    if all(iterations >= n for n in recipes.values()):
        return f"the recipes' max_steps: {steps}{batch}"
    return f"**below the recipes' budget**, their max_steps: {steps}{batch}; to fit the CPU time"


def report(results: dict[str, Any], args, command: str) -> str:
    rows: dict[str, list[dict[str, Any]]] = {}
    for run in sorted(results.values(), key=lambda r: r["seed"]):
        if run["iterations"] == args.iterations and run["num_eval"] == min(args.num_eval, run["num_eval"]):
            rows.setdefault(run["model"], []).append(run)
    check = real_check(args.num_eval)
    recipes = {m: load_recipe(m, "captioned_digits") for m in MODELS}
    steps = {m: recipe["max_steps"] for m, recipe in recipes.items()}
    batches = {m: recipe["data_args"]["batch_size"] for m, recipe in recipes.items()}
    cpu = sum(r["cpu_seconds"] for runs in rows.values() for r in runs)
    encoders = sorted({r.get("caption_encoder", "not recorded") for runs in rows.values() for r in runs})
    lines = [
        ("GAWWN (box + text) vs GAN-INT-CLS (text only) on CaptionedDigits, 32 px, black background: IoU of the "
        "asked box with the drawn digit's ink box (pixels whose brightest channel is above half intensity), "
        f"{args.num_eval} held-out (caption, box) pairs, raw G in eval mode. Budget: {args.iterations} iterations "
        f"of batch {BATCH} per run ({budget_note(args.iterations, steps, batches)}), {cpu / 60:.1f} CPU-minutes "
        f"of training in all, one thread, seeds {', '.join(str(s) for s in args.seeds)}; caption encoder "
        f"{', '.join(f'`{e}`' for e in encoders)}."),
        "",
        "| model | seeds | mean IoU (per seed) | median IoU (per seed) | inked samples | fit s |",
        "|---|---|---|---|---|---|",
    ]
    for model in MODELS:
        runs = rows.get(model, [])
        if not runs:
            continue
        per = ", ".join(f"{r['iou_mean']:.3f}" for r in runs)
        med = ", ".join(f"{r['iou_median']:.3f}" for r in runs)
        mean = statistics.mean(r["iou_mean"] for r in runs)
        inked = statistics.mean(r["inked"] for r in runs)
        seconds = statistics.mean(r["fit_seconds"] for r in runs)
        lines.append(f"| {model} | {len(runs)} | {mean:.3f} ({per}) | {med} | {inked:.2f} | {seconds:.0f} |")
    lines += [(f"| real held-out images (the measure's check) | - | {check['iou_mean']:.3f} | "
              f"{check['iou_median']:.3f} | - | - |"), "", verdict(rows), ""]
    lines += [load_line(), ""]
    lines += command_block(command)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=800)
    parser.add_argument("--seeds", type=lambda text: tuple(int(s) for s in text.split(",")), default=(0, 1))
    parser.add_argument("--num-eval", type=int, default=256)
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    quiet_lightning()
    results = load_runs(CACHE, empty={})
    if not args.report_only:
        from gan_lightning.pretrained import caption_encoder

        caption_encoder()  # trained once and cached before the runs (not in their CPU time)
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        jobs = [{"key": f"{model}/seed{seed}/it{args.iterations}", "model": model, "seed": seed,
                 "iterations": args.iterations, "num_eval": args.num_eval}
                for seed in args.seeds for model in MODELS]
        train_missing(jobs, run_one, results, CACHE,
                      on_done=lambda run, s: print(f"{run['key']}: IoU {run['iou_mean']:.3f} ({s:.0f} s)", flush=True))
    text = report(results, args, training_command(__file__))
    replace_section(RESULTS_MD, "gawwn_boxes", text)
    print(text)


if __name__ == "__main__":
    main()
