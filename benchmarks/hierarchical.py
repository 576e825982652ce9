"""The measured claims of the hierarchical generators (issue 27), at a CPU pilot budget.

- LAPGAN vs a single-scale DCGAN: each from its committed recipe (``experiments/lapgan/mnist5k.yaml``,
  ``experiments/dcgan/mnist5k.yaml``: 28 px, batch 64, widths 32), seed 0, the same number of iterations,
  EMA G (decay 0.999); FID on the offline ``digits`` features (1,000 samples against the 500 held-out
  digits) and the classes the digits classifier finds. Equal size: LAPGAN's coarsest MLP G is narrowed to
  (384, 384) so that its three generators together have as many parameters as DCGAN's (within 3 %); the
  parameter counts are in the table (LAPGAN's three discriminators are larger than DCGAN's one).
- StackedGAN with entropy weight 0 vs 10 (``experiments/stackedgan/mnist5k.yaml``, batch 100), seed 0, the
  same iterations (encoder pre-training included): 1,000 samples, 100 per asked digit (EMA G); class
  agreement (the digits classifier, an independent judge, not the model's encoder, vs the asked digit)
  and diversity: the mean pairwise distance of the judge's features among the samples of one asked
  digit, over the same for 40 held-out real digits of that class (1.0: as diverse as the data), averaged
  over the digits.

Budget: well under the recipes' (5,000 iterations): ``--steps`` iterations per run (default 400), with
StackedGAN's encoder pre-training and joint phase scaled into the same budget (``--encoder-steps``,
``--joint-after``); one thread, one run after the other. A pilot, not the papers' budgets: the section
says so.

    python benchmarks/hierarchical.py [--steps 400] [--out benchmarks/RESULTS.md]

Writes the section ``hierarchical`` of ``--out`` and caches finished runs in
``benchmarks/hierarchical_runs.json`` (``--report-only`` rebuilds the section from it).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from typing import Any

import torch

from harness import (BENCHMARKS, RESULTS_MD, build_mnist5k, command_block, command_line, fit_exactly, in_batches,
                     load_runs, quiet_lightning, replace_section, save_runs, split_tensors)

SECTION = "hierarchical"
CACHE = BENCHMARKS / "hierarchical_runs.json"
EVAL_SEED = 1234
PER_CLASS = 100
#: A difference smaller than this share (one seed each) is no verdict: a tie.
MARGIN = 0.10


def parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def train(name: str, steps: int, **overrides):
    import lightning as L

    from gan_lightning.callbacks import EMACallback

    quiet_lightning()
    L.seed_everything(0, workers=False, verbose=False)
    model, data = build_mnist5k(name, **overrides)
    seconds = fit_exactly(model, data, steps, [EMACallback(decay=0.999)], name)
    return model.eval(), data, seconds


def fid_and_classes(model, data) -> dict[str, float]:
    from gan_lightning.evaluation import evaluate_generator

    scores = evaluate_generator(model, data, "fid,classes", num_samples=1000, extractor="digits", seed=EVAL_SEED)
    return {"fid": float(scores["fid"]), "classes": int(scores["classes_covered"])}


#: LAPGAN's coarsest MLP narrowed from the recipe's (512, 512) so that its G has as many parameters as the
#: DCGAN recipe's (347k, within 3 %); the DCGAN recipe as committed.
EQUAL_SIZE = {"LAPGAN": {"g_hidden": (384, 384)}, "DCGAN": {}}


def run_pyramid(name: str, steps: int) -> dict[str, Any]:
    model, data, seconds = train(name, steps, **EQUAL_SIZE[name])
    generator = model.generator
    discriminator = model.discriminator
    return {"model": name, "steps": steps, "fit_seconds": round(seconds, 1), **fid_and_classes(model, data),
            "g_params": parameters(generator), "d_params": parameters(discriminator)}


def judge_features(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    from gan_lightning.evaluation import load_digits_classifier

    judge = load_digits_classifier().eval()
    with torch.no_grad():
        features = in_batches(judge.features, images)
        logits = judge.head(features)
    return features, logits.argmax(1)


def mean_pairwise_distance(features: torch.Tensor) -> float:
    distances = torch.cdist(features, features)
    n = features.size(0)
    return float(distances.sum() / (n * (n - 1)))


def run_stacked(entropy_weight: float, steps: int, encoder_steps: int, joint_after: int) -> dict[str, Any]:
    model, data, seconds = train("StackedGAN", steps, entropy_weight=entropy_weight, encoder_steps=encoder_steps,
                                 joint_after=joint_after)
    labels = torch.arange(10).repeat_interleave(PER_CLASS)
    generator = torch.Generator().manual_seed(EVAL_SEED)
    samples = torch.cat([model.sample(250, labels=labels[s:s + 250], rng=generator) for s in range(0, 1000, 250)])
    features, predicted = judge_features(samples)
    real, real_labels = split_tensors(data, "heldout")
    real_features, _ = judge_features(real)
    ratios = []
    for digit in range(10):
        fake = mean_pairwise_distance(features[labels == digit])
        true = mean_pairwise_distance(real_features[real_labels == digit][:40])
        ratios.append(fake / true)
    images, targets = split_tensors(data, "heldout")
    encoder_acc = float((in_batches(model.encoder, images).argmax(1) == targets).float().mean())
    return {"model": "StackedGAN", "entropy_weight": entropy_weight, "steps": steps, "encoder_steps": encoder_steps,
            "joint_after": joint_after, "fit_seconds": round(seconds, 1),
            "agreement": float((predicted == labels).float().mean()),
            "worst_digit_agreement": min(float((predicted[labels == d] == d).float().mean()) for d in range(10)),
            "diversity": sum(ratios) / 10, "least_diverse_digit": min(ratios), "encoder_heldout_acc": encoder_acc,
            **fid_and_classes(model, data)}


def section(runs: dict[str, Any], command: str) -> str:
    lap, dc = runs["LAPGAN"], runs["DCGAN"]
    s0, s10 = runs["StackedGAN_entropy0"], runs["StackedGAN_entropy10"]
    lines = [
        "## Hierarchical generators (issue 27): LAPGAN vs DCGAN, StackedGAN's entropy loss",
        "",
        f"A CPU pilot: {lap['steps']} iterations per run against the recipes' 5,000, seed 0, one thread "
        f"(the budget of this section is about 15 CPU-minutes). EMA G (decay 0.999); FID on the offline "
        "`digits` features, 1,000 samples against the 500 held-out digits; classes found by the digits "
        "classifier. Machine: " + platform.machine() + ", shared by other jobs.",
        "",
        *command_block(command),
        "",
        "LAPGAN: the recipe with its coarsest MLP G narrowed to (384, 384) units, for a G of DCGAN's size.",
        "",
        "| model | iterations | G parameters | D parameters | digits FID | classes | fit seconds |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for run in (lap, dc):
        lines.append(f"| {run['model']} | {run['steps']} | {run['g_params']:,} | {run['d_params']:,} | "
                     f"{run['fid']:.1f} | {run['classes']} | {run['fit_seconds']:.0f} |")
    change = (lap["fid"] - dc["fid"]) / dc["fid"]
    if abs(change) < MARGIN:
        verdict = f"within {100 * MARGIN:.0f} % of each other, one seed: a tie at this budget, no verdict"
    else:
        verdict = (f"the pyramid is {'better' if change < 0 else 'worse'} by {100 * abs(change):.0f} % at this budget "
                   f"(**{'reached' if change < 0 else 'not reached'}**)")
    lines += ["", (f"LAPGAN vs single-scale DCGAN at {lap['steps']} iterations: digits FID {lap['fid']:.1f} vs "
                   f"{dc['fid']:.1f}, {verdict} (LAPGAN is class-conditional, DCGAN is not)."), ""]
    lines += [
        (f"StackedGAN, entropy weight 0 vs 10 (the authors' 10), {s10['steps']} iterations each "
         f"({s10['encoder_steps']} of encoder pre-training, joint from iteration {s10['joint_after']}): "
         "class agreement of the digits classifier with the asked digit (1,000 samples, 100 per digit) and "
         "diversity = mean pairwise distance of the classifier's features among one digit's samples over the "
         "same among 40 held-out real digits of that class (1.0: as diverse as the data), averaged over digits. "
         "Reached: more diverse by 10 % or more with weight 10, class agreement within 5 points of weight 0's."),
        "",
        ("| entropy weight | class agreement | worst digit | diversity | least diverse digit | digits FID | "
         "encoder held-out acc | fit seconds |"),
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in (s0, s10):
        lines.append(f"| {run['entropy_weight']:g} | {100 * run['agreement']:.1f} % | "
                     f"{100 * run['worst_digit_agreement']:.0f} % | {run['diversity']:.2f} | "
                     f"{run['least_diverse_digit']:.2f} | {run['fid']:.1f} | {100 * run['encoder_heldout_acc']:.1f} % | "
                     f"{run['fit_seconds']:.0f} |")
    gain = (s10["diversity"] - s0["diversity"]) / s0["diversity"]
    kept = s10["agreement"] >= s0["agreement"] - 0.05
    if not kept:
        verdict = "the class agreement is lost (more than 5 points lower) (**not reached**)"
    elif abs(gain) < MARGIN:
        verdict = f"diversities within {100 * MARGIN:.0f} % of each other, one seed: a tie at this budget, no verdict"
    else:
        verdict = (f"the entropy loss makes the samples {'more' if gain > 0 else 'less'} diverse by "
                   f"{100 * abs(gain):.0f} % at this budget, the class agreement kept "
                   f"(**{'reached' if gain > 0 else 'not reached'}**)")
    lines += ["", (f"StackedGAN's entropy loss: diversity {s10['diversity']:.2f} with weight 10 vs "
                   f"{s0['diversity']:.2f} with 0, class agreement {100 * s10['agreement']:.1f} % vs "
                   f"{100 * s0['agreement']:.1f} %: {verdict}.")]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--encoder-steps", type=int, default=100)
    parser.add_argument("--joint-after", type=int, default=250)
    parser.add_argument("--out", default=str(RESULTS_MD))
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    runs = load_runs(CACHE, {})
    jobs = {"LAPGAN": lambda: run_pyramid("LAPGAN", args.steps), "DCGAN": lambda: run_pyramid("DCGAN", args.steps),
            "StackedGAN_entropy0": lambda: run_stacked(0.0, args.steps, args.encoder_steps, args.joint_after),
            "StackedGAN_entropy10": lambda: run_stacked(10.0, args.steps, args.encoder_steps, args.joint_after)}
    for key, job in jobs.items():
        if args.report_only or (key in runs and runs[key]["steps"] == args.steps):
            continue
        started = time.perf_counter()
        runs[key] = job()
        print(f"{key}: {runs[key]} ({time.perf_counter() - started:.0f} s)", flush=True)
        save_runs(runs, CACHE)
    quoted = [arg for arg in (sys.argv[1:] if argv is None else argv) if arg != "--report-only"]  # what made the runs
    replace_section(args.out, SECTION, section(runs, command_line(__file__, quoted)))
    print(f"wrote section {SECTION!r} of {args.out}")


if __name__ == "__main__":
    main()
