"""GoGAN: do the progressive margin stages improve on the plain margin GAN at the same budget? Digits FID.

Juefei-Xu et al. 2017 train a margin WGAN in stages: from the second stage the previous stage's G is a
frozen reference that the critic ranks below the current G, by a margin that shrinks from stage to stage;
the claim is that the later stages improve on the first. This script trains the committed recipe
(``experiments/gogan/mnist5k.yaml``: three stages of 2,000 iterations, margin 1, 0.5, 0.25, 6,000
iterations) and, at the same budget, the same model with one stage (``stage_iterations: [6000]``: the
plain margin GAN, the recipe's first stage run to the end), each at seeds 0 and 1, one thread. The two runs
of a seed are the same run up to iteration 2,000 (the first stage is the plain margin GAN). Each is
measured at the end of every stage of the recipe (iterations 2,000, 4,000, 6,000): FID on the offline
``digits`` features (the project's digits classifier), 1,000 samples against the 500 held-out digits, raw
G (the recipe has no EMA), noise seed 1234, and the classes the digits classifier finds.

    python benchmarks/gogan_stages.py [--seeds 0,1] [--stage-length 2000]
    python benchmarks/gogan_stages.py --report-only    # the section from the cache

Writes section ``gogan`` of benchmarks/RESULTS.md; caches each finished run in
benchmarks/gogan_stages/results.json (an interrupted benchmark resumes).
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
    build_mnist5k,
    command_block,
    command_line,
    fit_exactly,
    int_list,
    load_average,
    load_recipe,
    load_runs,
    mean_std,
    quiet_lightning,
    replace_section,
    save_runs,
    train_missing,
)

OUT_DIR = BENCHMARKS / "gogan_stages"
RESULTS_JSON = OUT_DIR / "results.json"
SECTION = "gogan"
EVAL_SEED = 1234
#: A mean FID change smaller than this share, or than the seeds' spread, is no verdict: a tie.
MARGIN = 0.10


def recipe_stages(stage_length: int | None = None) -> list[int]:
    """The recipe's stage lengths, or as many stages of ``stage_length`` iterations each."""
    stages = [int(n) for n in load_recipe("GoGAN", "mnist5k")["init_args"]["stage_iterations"]]
    return stages if stage_length is None else [stage_length] * len(stages)


def stage_ends(stages: list[int]) -> list[int]:
    return [sum(stages[:k + 1]) for k in range(len(stages))]


def scores(model, data) -> dict[str, float]:
    from gan_lightning.evaluation import evaluate_generator

    result = evaluate_generator(model, data, "fid,classes", num_samples=1000, extractor="digits", seed=EVAL_SEED,
                                use_ema=False, progress=False)
    return {"fid": float(result["fid"]), "classes": int(result["classes_covered"])}


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    import lightning as L

    torch.set_num_threads(1)
    quiet_lightning()
    started = time.process_time()
    ends = job["ends"]
    stages = job["stages"] if job["staged"] else [ends[-1]]
    L.seed_everything(job["seed"], verbose=False)
    options = {"margin_decay": job["margin_decay"]} if job.get("margin_decay") is not None else {}
    model, data = build_mnist5k("GoGAN", stage_iterations=stages, **options)
    measured: dict[str, dict[str, float]] = {}

    class AtStageEnds(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if trainer.global_step in ends:  # the iterations done (the core counts iterations)
                measured[str(trainer.global_step)] = scores(pl_module, data)

    seconds = fit_exactly(model, data, ends[-1], [AtStageEnds()], job["key"])
    return {"staged": job["staged"], "seed": job["seed"], "stage_iterations": stages, "at": measured,
            "fit_seconds": round(seconds, 1), "cpu_minutes": round((time.process_time() - started) / 60, 2)}


def section(runs: dict[str, Any], seeds: list[int], command: str) -> str:
    recipe = load_recipe("GoGAN", "mnist5k")
    staged = [runs[f"staged_seed{s}"] for s in seeds]
    single = [runs[f"single_seed{s}"] for s in seeds]
    stages = staged[0]["stage_iterations"]
    ends = stage_ends(stages)
    budget = ("the recipe's budget" if stages == recipe_stages() else
              f"**below the recipe's budget** of {' + '.join(map(str, recipe_stages()))} = {recipe['max_steps']} "
              f"iterations: this shared CPU's time allowed no more; the stages shortened alike")
    cpu = sum(r["cpu_minutes"] for r in staged + single)
    lines = [(f"GoGAN (Juefei-Xu et al. 2017) on MNIST5k: three margin stages "
              f"({', '.join(str(n) for n in stages)} iterations; margin 1, 0.5, 0.25; ranking weight 0.5; the "
              f"rest the recipe's) vs one stage of {ends[-1]} iterations (the plain margin GAN), {ends[-1]} "
              f"iterations each ({budget}), seeds {', '.join(map(str, seeds))}, one "
              f"thread, {cpu:.1f} CPU-minutes in all. Digits FID (the project's digits classifier's features), "
              f"1,000 samples against the 500 held-out digits, raw G (no EMA in the recipe), noise seed "
              f"{EVAL_SEED}, at the end of each stage; classes: digits the classifier finds "
              f"among the samples. The two runs of a seed are one run up to iteration {ends[0]}."), "",
             *command_block(command), "",
             "| iteration | three stages: FID (per seed) | one stage: FID (per seed) | three stages: classes | one stage: classes |",
             "|---:|---|---|---|---|"]
    for end in ends:
        a = [r["at"][str(end)] for r in staged]
        b = [r["at"][str(end)] for r in single]
        fids = [" / ".join(f"{x['fid']:.2f}" for x in side) for side in (a, b)]
        classes = [" / ".join(str(x["classes"]) for x in side) for side in (a, b)]
        lines.append(f"| {end} | {fids[0]} | {fids[1]} | {classes[0]} | {classes[1]} |")
    last = str(ends[-1])
    mean_a, _ = mean_std([r["at"][last]["fid"] for r in staged])
    mean_b, _ = mean_std([r["at"][last]["fid"] for r in single])
    wins = sum(a["at"][last]["fid"] < b["at"][last]["fid"] for a, b in zip(staged, single))
    spread = max(abs(a["at"][last]["fid"] - b["at"][last]["fid"]) for a, b in zip(staged, single))
    seed_spread = max(r["at"][last]["fid"] for r in single) - min(r["at"][last]["fid"] for r in single)
    first = [r["at"][str(ends[0])]["fid"] for r in staged]
    change = (mean_a - mean_b) / mean_b
    if abs(change) < MARGIN or abs(mean_a - mean_b) < seed_spread:
        spread_note = (f"or within the single-stage seeds' spread ({seed_spread:.2f})" if len(seeds) > 1
                       else "(one seed: no seed spread measured)")
        verdict = (f"Verdict: not reached (a tie at this budget): at iteration {last} the three stages reach a mean "
                   f"FID of {mean_a:.2f}, the single stage {mean_b:.2f} ({100 * change:+.0f} %), within "
                   f"{100 * MARGIN:.0f} % {spread_note}; the staged run is better on {wins} of {len(seeds)} "
                   f"seeds (largest paired difference {spread:.2f}).")
    elif change < 0 and wins == len(seeds):
        verdict = (f"Verdict: reached: at iteration {last} the three stages reach a mean FID of {mean_a:.2f} against "
                   f"the single stage's {mean_b:.2f} ({100 * change:+.0f} %), better on every seed"
                   f"{'' if len(seeds) > 1 else ' (one seed: no seed spread measured)'}.")
    else:
        verdict = (f"Verdict: not reached: at iteration {last} the three stages reach a mean FID of {mean_a:.2f} "
                   f"against the single stage's {mean_b:.2f} ({100 * change:+.0f} %; better on {wins} of "
                   f"{len(seeds)} seeds).")
    fixed = [runs[f"staged_decay1_seed{s}"] for s in seeds if f"staged_decay1_seed{s}" in runs]
    if fixed:  # the margin schedule is ours: the same stages with the margin kept (margin_decay 1)
        def at(end: int, name: str, form: str) -> str:
            return " / ".join(format(r["at"][str(end)][name], form) for r in fixed)

        points = "; ".join(f"{end}: FID {at(end, 'fid', '.2f')}, classes {at(end, 'classes', 'd')}" for end in ends)
        verdict += (f"\n\nThe margin schedule (halved at each stage) is ours, not a source's: the same three stages with "
                    f"the margin kept at 1 at every stage (`margin_decay: 1`, the re-implementation's fixed eps; seeds "
                    f"{', '.join(str(r['seed']) for r in fixed)}): {points}.")
    lines += ["", verdict,
              f"Stage 1's end (iteration {ends[0]}, both runs): FID {' / '.join(f'{x:.2f}' for x in first)}.",
              "", f"Machine: {staged[0].get('machine', '?')}, {staged[0].get('cpus', '?')} CPUs, shared."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int_list, default=(0, 1))
    parser.add_argument("--stage-length", type=int, default=None,
                        help="iterations of each of the three stages (default: the recipe's)")
    parser.add_argument("--workers", type=int, default=1, help="runs at once, each in its own process")
    parser.add_argument("--fixed-margin", action="store_true",
                        help="also the three stages with the margin kept (margin_decay 1): the schedule's ablation")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    seeds = list(args.seeds)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    runs = load_runs(RESULTS_JSON, empty={})
    extra = ([] if args.stage_length is None else [f"--stage-length={args.stage_length}"]) + \
        (["--fixed-margin"] if args.fixed_margin else [])
    command = command_line(__file__, [f"--seeds={','.join(map(str, seeds))}", *extra])
    if not args.report_only:
        stages = recipe_stages(args.stage_length)
        ends = stage_ends(stages)
        for key in [k for k in runs if k != "command" and runs[k]["at"] and max(map(int, runs[k]["at"])) != ends[-1]]:
            del runs[key]
        jobs = [{"key": f"{'staged' if staged else 'single'}_seed{seed}", "staged": staged, "seed": seed,
                 "stages": stages, "ends": ends} for seed in seeds for staged in (True, False)]
        if args.fixed_margin:
            jobs += [{"key": f"staged_decay1_seed{seed}", "staged": True, "seed": seed, "stages": stages,
                      "ends": ends, "margin_decay": 1.0} for seed in seeds]

        def stamped(run, _seconds):
            run.update(machine=platform.machine(), cpus=os.cpu_count(), load=round(load_average()[0], 1))

        train_missing(jobs, run_one, runs, RESULTS_JSON, workers=args.workers, on_done=stamped)
        runs["command"] = command
        save_runs(runs, RESULTS_JSON)
    text = section(runs, seeds, runs.get("command", command))
    replace_section(RESULTS_MD, SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
