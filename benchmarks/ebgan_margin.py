"""EBGAN's margin on images (issue 26): why the MNIST5k recipe drew a grey texture, and which margin draws digits.

EBGAN's D is an autoencoder whose per-sample energy is here the *mean* squared reconstruction error over the
pixels (images in [-1, 1]), and D pushes each fake's energy up to the margin m. The paper tuned m per data set
for its own (summed) reconstruction error and released no code, so the project chose m; at m = 1.0 (a fake
reconstructed with pixels off by 1, half the range, in the mean square) D holds G's samples at that energy and
they stay one tiled texture for every z (the section's rows give the energies).

Protocol:

- EBGAN's committed ``experiments/ebgan/mnist5k.yaml`` (32 px, widths 32, code 64, BatchNorm autoencoder D,
  pull-away weight 0.1, Adam 2e-4 (0.5, 0.999), batch 64) with only ``margin`` changed, one run per margin
  and seed, ``--iterations`` iterations, one thread each (``mnist5k_table.run_one``);
- digits FID and class coverage of ``--num-eval`` raw-G samples against the 500 held-out digits (the
  measure of section ``magan_images``), beside ``--baselines`` (default DCGAN: the GAN of EBGAN's paper
  claim, its committed recipe, the same G) at the same iterations and seeds; D's last real and fake energies and the pull-away term (1: every
  fake's code points the same way) show what D did; a sample grid per run in ``benchmarks/ebgan_margin/``;
- ``--magan-settings``: EBGAN at those fixed margins with what MAGAN's image recipe changes besides its margin rule
  (D without BatchNorm, no pull-away term, Adam 5e-4: ``MAGAN_KEYS``), to tell MAGAN's rule from its other settings;
  ``--magan-one-at-a-time``: the same with each of the three (``MAGAN_GROUPS``) alone, to tell which of them does it;
  ``--magan-all-but-one``: with two of the three, each group left at EBGAN's value in turn, to tell which pair does it.

    python benchmarks/ebgan_margin.py --margins 1.0,0.3,0.1,0.03 --iterations 1500 --seeds 0 [--workers 2]
    python benchmarks/ebgan_margin.py --margins ... --iterations 500 --seeds 0 --report-only
    python benchmarks/ebgan_margin.py --magan-settings 0.1 --iterations 1500 --seeds 0  # MAGAN's other settings
    python benchmarks/ebgan_margin.py --magan-settings 0.1 --magan-one-at-a-time 0.1 --iterations 1500 --seeds 0
    python benchmarks/ebgan_margin.py --magan-settings 0.1 --magan-all-but-one 0.1 --iterations 1500 --seeds 0

Runs are cached in ``benchmarks/ebgan_margin/results.json``; writes section ``ebgan_margin`` of
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import statistics
from typing import Any

import mnist5k_table
from harness import (BENCHMARKS, REPO, command_block, half_range, load_line, load_recipe, parse_seeded_args,
                     recipe_path, save_grid, seeded_runs_parser, seeded_section, training_command)

OUT_DIR = BENCHMARKS / "ebgan_margin"
CACHE = OUT_DIR / "results.json"
SECTION = "ebgan_margin"
TERMS = ("energy_real", "energy_fake", "pullaway")
# what MAGAN's image recipe changes in EBGAN's besides the margin rule (experiments/magan/mnist5k.yaml and MAGAN's
# defaults): D's normalisation, the pull-away term, the optimiser
MAGAN_KEYS = ("d_norm", "pullaway_weight", "lr_g", "lr_d", "betas")
# the same settings in the three groups ``--magan-one-at-a-time`` changes one by one (and ``--magan-all-but-one``
# leaves at EBGAN's value one by one)
MAGAN_GROUPS = {"d_norm": ("d_norm",), "pullaway": ("pullaway_weight",), "optimiser": ("lr_g", "lr_d", "betas")}
# the option that runs each subset of those groups, and its runs' ``settings`` name (``magan_settings``)
SUBSETS = {"magan_one_at_a_time": "MAGAN-{}", "magan_all_but_one": "MAGAN-but-{}"}


def run_key(margin: float, seed: int, iterations: int, settings: str | None = None) -> str:
    return f"EBGAN/margin{margin:g}/{settings.lower() + '-settings/' if settings else ''}seed{seed}/it{iterations}"


def grid_path(margin: float, seed: int, iterations: int, settings: str | None = None):
    return OUT_DIR / f"margin{margin:g}{'_' + settings.lower() if settings else ''}_seed{seed}_it{iterations}.png"


def magan_settings(settings: str = "MAGAN") -> dict[str, Any]:
    """MAGAN's image recipe's values of ``MAGAN_KEYS`` (the class default where the file sets none); for
    ``settings`` ``"MAGAN-<group>"``, only those of that ``MAGAN_GROUPS`` group; for ``"MAGAN-but-<group>"``, all
    but that group's."""
    import inspect

    from gan_lightning.models import MAGAN

    recipe = load_recipe("MAGAN", "mnist5k")["init_args"]
    defaults = inspect.signature(MAGAN.__init__).parameters
    group = settings.partition("-")[2]
    keys = (MAGAN_KEYS if settings == "MAGAN" else MAGAN_GROUPS[group] if not group.startswith("but-")
            else tuple(key for key in MAGAN_KEYS if key not in MAGAN_GROUPS[group.removeprefix("but-")]))
    return {key: recipe[key] if key in recipe else defaults[key].default for key in keys}


def changed_words(settings: str = "MAGAN") -> str:
    """``"d_norm none, pullaway_weight 0.0, ..."``: what ``settings`` change in EBGAN's recipe."""
    recipe = load_recipe("EBGAN", "mnist5k")["init_args"]
    return ", ".join(f"{key} {tuple(value) if key == 'betas' else value}"
                     for key, value in magan_settings(settings).items() if recipe.get(key) != value)


def baseline_key(model: str, seed: int, iterations: int) -> str:
    return f"{model}/recipe/seed{seed}/it{iterations}"


def baseline_grid_path(model: str, seed: int, iterations: int):
    return OUT_DIR / f"{model.lower()}_seed{seed}_it{iterations}.png"


def runs_of(results: dict[str, Any], args, field: str, value: Any, settings: str | None = None) -> list[dict[str, Any]]:
    """The cached runs with ``field`` (``margin`` or ``baseline``) equal to ``value`` and with another model's
    ``settings`` (None: the recipe's own) at ``args``' iterations and seeds, by seed."""
    return sorted((r for r in results.values() if r.get(field) == value and r.get("settings") == settings
                   and r["iterations"] == args.iterations and r["seed"] in args.seeds), key=lambda r: r["seed"])


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    if job.get("baseline"):  # another model's committed recipe, unchanged
        run, out = mnist5k_table.job_run(job, job["baseline"])
        save_grid(out["grid"], baseline_grid_path(job["baseline"], job["seed"], job["iterations"]), nrow=6)
        return {**run, "baseline": job["baseline"]}
    settings = job.get("settings")
    changes = tuple(magan_settings(settings).items()) if settings else ()
    run, out = mnist5k_table.job_run(job, "EBGAN", (("margin", job["margin"]), *changes))
    logged = out["model"].latest_terms  # no pull-away entry when its weight is 0 (MAGAN's settings)
    terms = {name: float(logged[name]) if name in logged else None for name in TERMS}
    save_grid(out["grid"], grid_path(job["margin"], job["seed"], job["iterations"], settings), nrow=6)
    return {**run, "margin": job["margin"], **terms, **({"settings": settings} if settings else {})}


def parse_margins(text: str, option: str = "--margins") -> list[float]:
    try:
        margins = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        margins = []
    if not margins or min(margins) <= 0:
        raise SystemExit(f"{option}: expected comma-separated numbers > 0, got {text!r}")
    return margins


def report(results: dict[str, Any], args) -> str:
    recipe = load_recipe("EBGAN", "mnist5k")
    chosen = float(recipe["init_args"]["margin"])
    lines = ["## EBGAN's margin on images: MNIST5k (issue 26)", "",
             f"EBGAN (Zhao et al. 2017) on MNIST5k with its committed recipe (`experiments/ebgan/mnist5k.yaml`, "
             f"whose margin is {chosen:g}) and only the margin changed: {args.iterations:,} iterations (the recipe's "
             f"{recipe['max_steps']:,}), seed{'s' if len(args.seeds) > 1 else ''} "
             f"{', '.join(map(str, args.seeds))}, one thread per run. Energy: the "
             "per-sample mean squared reconstruction error of D's autoencoder (images in [-1, 1]); D pushes each "
             "fake's energy up to the margin. Digits FID (lower is better) and classes of "
             f"{args.num_eval:,} raw-G samples against the 500 held-out digits (1,000 real training digits score "
             "7.01); D's real and fake energies and the pull-away term (cos^2 of fake codes, 1 = all alike) at "
             "the last iteration.", "",
             "| margin | per seed: digits FID (classes) | mean FID ± half range | real energy | fake energy | "
             "pull-away | fit s (wall) | samples |", "|---:|---|---:|---:|---:|---:|---:|---|"]
    def margin_row(label: str, alt: str, runs: list[dict[str, Any]], grid) -> float:
        values = [r["fid"] for r in runs]
        average = {name: (statistics.mean(r[name] for r in runs) if all(r.get(name) is not None for r in runs)
                          else None) for name in TERMS}

        def cell(name: str, digits: int) -> str:
            return "-" if average[name] is None else f"{average[name]:.{digits}f}"

        lines.append(f"| {label} | " + ", ".join(f"{r['fid']:.1f} ({r['classes']})" for r in runs)
                     + f" | {statistics.mean(values):.1f} ± {half_range(values):.1f} | {cell('energy_real', 4)} | "
                     f"{cell('energy_fake', 4)} | {cell('pullaway', 3)} | "
                     f"{statistics.mean(r['fit_seconds'] for r in runs):.0f} | ![{alt}](ebgan_margin/{grid.name}) |")
        return statistics.mean(values)

    means, magan_runs = {}, {}
    for margin in args.margins:
        runs = runs_of(results, args, "margin", margin)
        if runs:
            means[margin] = margin_row(f"{margin:g}{' (recipe)' if margin == chosen else ''}", f"margin {margin:g}",
                                       runs, grid_path(margin, runs[0]["seed"], args.iterations))
    changed = changed_words()
    for margin in args.magan_settings:
        runs = runs_of(results, args, "margin", margin, "MAGAN")
        if runs:
            margin_row(f"{margin:g}, MAGAN's settings ({changed})", f"margin {margin:g}, MAGAN's settings", runs,
                       grid_path(margin, runs[0]["seed"], args.iterations, "MAGAN"))
            magan_runs[margin] = runs
    single_runs = {}  # (margin, settings): runs, for one group of MAGAN's settings alone or all groups but one
    for option, pattern in SUBSETS.items():
        for margin in getattr(args, option):
            for group in MAGAN_GROUPS:
                settings, alone = pattern.format(group), pattern == SUBSETS["magan_one_at_a_time"]
                runs = runs_of(results, args, "margin", margin, settings)
                if runs:
                    margin_row(f"{margin:g}, MAGAN's {changed_words(settings)}"
                               + (" only" if alone else f" (not its {group})"),
                               f"margin {margin:g}, MAGAN's {group + ' only' if alone else 'all but ' + group}", runs,
                               grid_path(margin, runs[0]["seed"], args.iterations, settings))
                    single_runs[(margin, settings)] = runs
    baselines = {}
    for model in args.baselines:
        runs = runs_of(results, args, "baseline", model)
        if runs:
            values = [r["fid"] for r in runs]
            baselines[model] = statistics.mean(values)
            lines.append(f"| {model}'s recipe (baseline) | " + ", ".join(f"{r['fid']:.1f} ({r['classes']})" for r in runs)
                         + f" | {baselines[model]:.1f} ± {half_range(values):.1f} | - | - | - | "
                         f"{statistics.mean(r['fit_seconds'] for r in runs):.0f} | "
                         f"![{model}](ebgan_margin/{baseline_grid_path(model, runs[0]['seed'], args.iterations).name}) |")
    if means:
        best = min(means, key=means.get)
        lines += ["", f"- Lowest mean digits FID: margin {best:g} ({means[best]:.1f})"
                  + (f"; the recipe's margin {chosen:g}: {means[chosen]:.1f}." if chosen in means and chosen != best
                     else " (the recipe's margin)." if best == chosen else ".")]
        if chosen in means:
            lines += [f"- EBGAN's recipe against {model}'s at the same {args.iterations:,} iterations: {means[chosen]:.1f} "
                      f"vs {fid:.1f} digits FID ({'lower' if means[chosen] < fid else 'not lower'}; one iteration of "
                      "EBGAN's autoencoder D costs several of DCGAN's: fit seconds above)." for model, fid in baselines.items()]
    if (magan_runs or single_runs) and lines[-1].startswith("|"):  # the sentences after the table, not in it
        lines.append("")
    for margin, runs in magan_runs.items():
        lines.append(f"- EBGAN at the fixed margin {margin:g} with MAGAN's image recipe's other settings ({changed}; "
                     "no pre-training, no margin rule): "
                     + ", ".join(f"{r['fid']:.1f} ({r['classes']} class{'es' if r['classes'] != 1 else ''})" for r in runs)
                     + (f", against {means[margin]:.1f} with EBGAN's own settings at that margin" if margin in means
                        else "")
                     + ". MAGAN's recipe (section `magan_images`) is these settings with the margin rule and D's "
                     "pre-training.")
    for (margin, settings), runs in single_runs.items():
        lines.append(f"- EBGAN at the fixed margin {margin:g} with "
                     f"{'two of' if '-but-' in settings else 'one of'} MAGAN's settings, "
                     f"{changed_words(settings)}, the rest EBGAN's: "
                     + ", ".join(f"{r['fid']:.1f} ({r['classes']} class{'es' if r['classes'] != 1 else ''})" for r in runs)
                     + (f", against {means[margin]:.1f} with EBGAN's own settings" if margin in means else "")
                     + (f" and {statistics.mean(r['fid'] for r in magan_runs[margin]):.1f} with all three"
                        if margin in magan_runs else "") + ".")
    lines += ["", load_line(), ""]
    lines += command_block(training_command(__file__))
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None) -> None:
    parser = seeded_runs_parser(__doc__.splitlines()[0], "iterations per run (default: the recipe's)")
    parser.add_argument("--margins", default="1.0,0.3,0.1,0.03", help="comma-separated margins (> 0)")
    parser.add_argument("--baselines", default="DCGAN", help="comma-separated models whose committed MNIST5k recipe "
                        "runs beside, unchanged, at the same iterations and seeds ('' for none)")
    parser.add_argument("--magan-settings", default="", help="comma-separated margins at which EBGAN also runs with "
                        "MAGAN's image recipe's D normalisation, pull-away weight and optimiser ('' for none)")
    parser.add_argument("--magan-one-at-a-time", default="", help="comma-separated margins at which EBGAN also runs "
                        "with each one of those three MAGAN settings alone ('' for none)")
    parser.add_argument("--magan-all-but-one", default="", help="comma-separated margins at which EBGAN also runs "
                        "with two of those three MAGAN settings, each left out in turn ('' for none)")
    parser.set_defaults(seeds="0")
    args = parse_seeded_args(parser, argv, recipe=("EBGAN", "mnist5k"))
    args.margins = parse_margins(args.margins)
    args.magan_settings = parse_margins(args.magan_settings, "--magan-settings") if args.magan_settings else []
    args.magan_one_at_a_time = (parse_margins(args.magan_one_at_a_time, "--magan-one-at-a-time")
                                if args.magan_one_at_a_time else [])
    args.magan_all_but_one = (parse_margins(args.magan_all_but_one, "--magan-all-but-one")
                              if args.magan_all_but_one else [])
    args.baselines = [m for m in args.baselines.split(",") if m]
    for model in args.baselines:  # a one-line error before any training
        if not recipe_path(model, "mnist5k").is_file():
            parser.error(f"--baselines: {model!r} has no {recipe_path(model, 'mnist5k').relative_to(REPO)}")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    jobs = [{"key": run_key(margin, seed, args.iterations), "margin": margin, "seed": seed,
             "iterations": args.iterations, "num_eval": args.num_eval}
            for seed in args.seeds for margin in args.margins]
    jobs += [{"key": run_key(margin, seed, args.iterations, "MAGAN"), "margin": margin, "settings": "MAGAN",
              "seed": seed, "iterations": args.iterations, "num_eval": args.num_eval}
             for seed in args.seeds for margin in args.magan_settings]
    jobs += [{"key": run_key(margin, seed, args.iterations, pattern.format(group)), "margin": margin,
              "settings": pattern.format(group), "seed": seed, "iterations": args.iterations, "num_eval": args.num_eval}
             for option, pattern in SUBSETS.items() for seed in args.seeds for margin in getattr(args, option)
             for group in MAGAN_GROUPS]
    jobs += [{"key": baseline_key(model, seed, args.iterations), "baseline": model, "seed": seed,
              "iterations": args.iterations, "num_eval": args.num_eval}
             for seed in args.seeds for model in args.baselines]
    print(seeded_section(args, jobs, run_one, CACHE, SECTION, report))


if __name__ == "__main__":
    main()
