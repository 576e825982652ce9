"""DCGAN's claim on MNIST5k: the convolutional G and D of the paper's guidelines learn images better than the
fully connected GAN they replace, at the same budget.

Published (Radford et al. 2016, section 3 and figures 2-3): the all-convolutional G and D with batch
normalisation, ReLU / leaky ReLU and no fully connected hidden layers train stably and give samples of a quality
the earlier fully connected GANs (Goodfellow et al. 2014) did not reach.

Protocol:

- recipes: ``experiments/dcgan/mnist5k.yaml`` and ``experiments/gan/mnist5k.yaml`` (the MLP GAN, the baseline),
  both trained for DCGAN's recipe budget (``--iterations``, default its ``max_steps``; the GAN recipe's own is
  shorter, so the baseline gets more than its recipe), batch 64, the same seeds, one thread per run,
  ``mnist5k_table.run_one``: digits FID and class coverage of ``--num-eval`` raw-G samples against the 500
  held-out digits;
- verdict: ``harness.beyond_spread`` (DCGAN's mean FID lower by more than the larger seed spread): **reached**
  when better, **not reached** otherwise.

    python benchmarks/dcgan_vs_mlp.py [--iterations 5000] [--seeds 0,1] [--workers 2] [--report-only]

Runs are cached in ``benchmarks/dcgan_vs_mlp/results.json``; writes section ``dcgan_vs_mlp`` of
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import statistics
from typing import Any

import mnist5k_table
from harness import (
    BENCHMARKS,
    beyond_spread,
    command_block,
    half_range,
    load_line,
    load_recipe,
    parse_seeded_args,
    seeded_runs_parser,
    seeded_section,
    training_command,
)

OUT_DIR = BENCHMARKS / "dcgan_vs_mlp"
CACHE = OUT_DIR / "results.json"
SECTION = "dcgan_vs_mlp"
MODELS = ("DCGAN", "GAN")


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    run, _ = mnist5k_table.job_run(job, job["model"])
    return {**run, "model": job["model"]}


def report(results: dict[str, Any], args) -> str:
    runs = {m: [r for r in sorted(results.values(), key=lambda r: r["seed"])
                if r["model"] == m and r["iterations"] == args.iterations and r["seed"] in args.seeds] for m in MODELS}
    budgets = {m: load_recipe(m, "mnist5k")["max_steps"] for m in MODELS}
    lines = [f"DCGAN (Radford et al. 2016) against the fully connected GAN it replaces, on MNIST5k (28 px, batch 64): "
             f"the committed recipes `experiments/dcgan/mnist5k.yaml` and `experiments/gan/mnist5k.yaml`, both "
             f"{args.iterations:,} iterations (DCGAN's recipe: {budgets['DCGAN']:,}; GAN's: {budgets['GAN']:,}), seeds "
             f"{', '.join(map(str, args.seeds))}, one thread per run. Digits FID (lower is better) and classes of "
             f"{args.num_eval:,} raw-G samples against the 500 held-out digits.", "",
             "| model | per seed: digits FID (classes) | mean FID ± half range | fit seconds per run |",
             "|---|---|---|---|"]
    for model in MODELS:
        if runs[model]:
            fids = [r["fid"] for r in runs[model]]
            lines.append(f"| {model} | " + ", ".join(f"{r['fid']:.1f} ({r['classes']})" for r in runs[model])
                         + f" | {statistics.mean(fids):.1f} ± {half_range(fids):.1f} | "
                         f"{statistics.mean(r['fit_seconds'] for r in runs[model]):.0f} |")
    if all(len(runs[m]) == len(args.seeds) for m in MODELS):
        outcome = beyond_spread([r["fid"] for r in runs["DCGAN"]], [r["fid"] for r in runs["GAN"]])
        word = "**reached**" if outcome == "better" else "**not reached**"
        lines += ["", f"Verdict: {word}: DCGAN's mean digits FID against the MLP GAN's: {outcome} (beyond the larger "
                      "seed spread, half the range)."]
    lines += ["", load_line(), ""]
    lines += command_block(training_command(__file__))
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None) -> None:
    parser = seeded_runs_parser(__doc__.splitlines()[0], "iterations per run (default: DCGAN's recipe's)")
    args = parse_seeded_args(parser, argv, recipe=("DCGAN", "mnist5k"))
    jobs = [{"key": f"{model}/seed{seed}/it{args.iterations}", "model": model, "seed": seed,
             "iterations": args.iterations, "num_eval": args.num_eval} for seed in args.seeds for model in MODELS]
    print(seeded_section(args, jobs, run_one, CACHE, SECTION, report))


if __name__ == "__main__":
    main()
