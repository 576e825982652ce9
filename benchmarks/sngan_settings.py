"""SNGAN's claim on MNIST5k: spectral normalisation keeps D trainable across optimiser settings where the
same D without it degrades.

Published (Miyato et al. 2018, section 4.1, Table 1 and Figure 1): on CIFAR-10 and STL-10 with the standard
CNN, spectral normalisation gives good inception scores in all six optimiser settings A-F, while the other
normalisations (weight clipping, weight normalisation, batch and layer normalisation, the gradient penalty)
fail in the aggressive ones (learning rate 1e-3: D, E, F).

Protocol:

- recipe: SNGAN's committed ``experiments/sngan/mnist5k.yaml`` (32 px, widths 32, D without BatchNorm, hinge
  loss) and the same with ``spectral_norm: false`` (the baseline: the same networks, loss and optimiser, no
  normalisation of D), each in three of Table 1's settings: C (the recipe's: Adam 2e-4, betas (0.5, 0.999),
  n_dis 1), D (1e-3, (0.5, 0.9), n_dis 5) and F (1e-3, (0.9, 0.999), n_dis 5);
- the recipe's iterations (D steps; G steps one per n_dis), the same seeds, one thread per run,
  ``mnist5k_table.run_one``: digits FID and class coverage of ``--num-eval`` raw-G samples against the 500
  held-out digits;
- verdict per setting: one is better when its mean FID is lower by more than the larger seed spread (half
  the range) of the two; the claim is **reached** when spectral normalisation is better in at least one of
  the aggressive settings (D, F) and worse in none.

    python benchmarks/sngan_settings.py [--iterations 1500] [--seeds 0,1] [--report-only]

Runs are cached in ``benchmarks/sngan_settings/results.json``; writes section ``sngan_settings`` of
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

OUT_DIR = BENCHMARKS / "sngan_settings"
CACHE = OUT_DIR / "results.json"
SECTION = "sngan_settings"
#: Miyato et al. 2018, Table 1: (learning rate, beta1, beta2, n_dis); C is the recipe's.
SETTINGS = {"C": (2e-4, 0.5, 0.999, 1), "D": (1e-3, 0.5, 0.9, 5), "F": (1e-3, 0.9, 0.999, 5)}
AGGRESSIVE = ("D", "F")
VARIANTS = {"spectral norm": True, "none": False}


def run_key(setting: str, variant: str, seed: int, iterations: int) -> str:
    return f"SNGAN/{setting}/{variant.replace(' ', '_')}/seed{seed}/it{iterations}"


def overrides(setting: str, variant: str) -> tuple[tuple[str, Any], ...]:
    lr, beta1, beta2, n_dis = SETTINGS[setting]
    return (("lr_g", lr), ("lr_d", lr), ("betas", (beta1, beta2)), ("critic_steps", n_dis),
            ("spectral_norm", VARIANTS[variant]))


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    run, out = mnist5k_table.job_run(job, "SNGAN", overrides(job["setting"], job["variant"]))
    return {**run, "setting": job["setting"], "variant": job["variant"], "g_steps": out["g_steps"]}


def fids(results: dict[str, Any], setting: str, variant: str, iterations: int) -> list[float]:
    return [run["fid"] for run in sorted(results.values(), key=lambda r: r["seed"])
            if run["setting"] == setting and run["variant"] == variant and run["iterations"] == iterations]


def verdict(outcomes: dict[str, str]) -> str:
    better = [s for s in AGGRESSIVE if outcomes.get(s) == "better"]
    worse = [s for s, o in outcomes.items() if o == "worse"]
    if len(outcomes) < len(SETTINGS):
        return "Verdict: every setting is needed."
    reached = better and not worse
    return ("Verdict: " + ("**reached**" if reached else "**not reached**") + ": spectral normalisation better in "
            + (", ".join(better) or "no aggressive setting") + ", worse in " + (", ".join(worse) or "none") + ".")


def report(results: dict[str, Any], args) -> str:
    recipe = load_recipe("SNGAN", "mnist5k")
    lines = [f"SNGAN (Miyato et al. 2018) against the same networks without spectral normalisation, in three of the "
             f"paper's Table 1 optimiser settings, on MNIST5k (`experiments/sngan/mnist5k.yaml`: 32 px, widths "
             f"{recipe['init_args']['g_width']}, D without BatchNorm, hinge loss), {args.iterations:,} iterations "
             f"(the recipe's {recipe['max_steps']:,}; D steps, G steps one per n_dis), seeds "
             f"{', '.join(map(str, args.seeds))}, one thread per run. Digits FID (lower is better) and classes of "
             f"{args.num_eval:,} raw-G samples against the 500 held-out digits.", "",
             "| setting (lr, beta1, beta2, n_dis) | D | per seed: digits FID (classes) | mean FID ± half range | "
             "spectral norm vs none |", "|---|---|---|---|---|"]
    outcomes = {}
    for setting, (lr, beta1, beta2, n_dis) in SETTINGS.items():
        measured = {v: fids(results, setting, v, args.iterations) for v in VARIANTS}
        if all(len(m) == len(args.seeds) for m in measured.values()):
            outcomes[setting] = beyond_spread(measured["spectral norm"], measured["none"])
        for variant in VARIANTS:
            runs = [r for r in sorted(results.values(), key=lambda r: r["seed"]) if r["setting"] == setting
                    and r["variant"] == variant and r["iterations"] == args.iterations]
            if not runs:
                continue
            values = [r["fid"] for r in runs]
            lines.append(f"| {setting} ({lr:g}, {beta1}, {beta2}, {n_dis}) | {variant} | "
                         + ", ".join(f"{r['fid']:.1f} ({r['classes']})" for r in runs)
                         + f" | {statistics.mean(values):.1f} ± {half_range(values):.1f} | "
                         + (outcomes.get(setting, "-") if variant == "spectral norm" else "") + " |")
    lines += ["", verdict(outcomes), "",
              "PUBLISHED (Miyato et al. 2018, Figure 1, CIFAR-10, standard CNN; not run here): spectral "
              "normalisation keeps its inception score across A-F; the unnormalised baselines collapse in the "
              "settings with learning rate 1e-3.", ""]
    lines += [load_line(), ""]
    lines += command_block(training_command(__file__))
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None) -> None:
    parser = seeded_runs_parser(__doc__.splitlines()[0], "iterations per run (default: the recipe's)")
    args = parse_seeded_args(parser, argv, recipe=("SNGAN", "mnist5k"))
    jobs = [{"key": run_key(setting, variant, seed, args.iterations), "setting": setting, "variant": variant,
             "seed": seed, "iterations": args.iterations, "num_eval": args.num_eval}
            for seed in args.seeds for setting in SETTINGS for variant in VARIANTS]
    print(seeded_section(args, jobs, run_one, CACHE, SECTION, report))


if __name__ == "__main__":
    main()
