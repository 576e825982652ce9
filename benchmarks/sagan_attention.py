"""SAGAN's claim on MNIST5k: self-attention in G and D against the same networks without it.

Published (Zhang et al. 2019, the abstract): on ImageNet at 128 px SAGAN raised the best published
Inception score from 36.8 to 52.52 and lowered FID from 27.62 to 18.65; the paper's ablation compares
the attention block with the same spectrally normalised networks without it.

Protocol:

- recipe: SAGAN's committed ``experiments/sagan/mnist5k.yaml`` (32 px, widths 32, attention at 16x16,
  spectral norm on every layer but G's image layer, hinge loss, TTUR 1e-4 / 4e-4, betas (0, 0.9)) and the
  same recipe with ``attention: false`` (the baseline: every other layer, spectral norm, loss and optimiser
  unchanged);
- the same seeds, iterations and data for both (the block's own weights shift the initialisation of the
  layers after it); ``mnist5k_table.run_one`` (one thread): digits
  FID and class coverage of ``--num-eval`` raw-G samples against the 500 held-out digits, and the
  attention blocks' gamma at the end (how much G and D use them; 0 at the start);
- verdict: attention is better when its mean FID is lower by more than the larger seed spread (half
  the range) of the two rows.

- ``--diagnose`` (rows of their own, outside the verdict): both variants with spectral norm on G's image
  layer too (the recipe before issue 26, as the authors' residual G), whose G draws one blob repeated, with a
  verdict of their own; that recipe with attention and G without spectral norm, SNGAN's optimiser, or both;
  and the baseline without attention and without spectral norm in G, for a verdict of its own.

    python benchmarks/sagan_attention.py [--iterations 1500] [--seeds 0,1] [--workers 2] [--diagnose] [--report-only]

Runs are cached in ``benchmarks/sagan_attention/results.json`` (a rerun trains only what it lacks);
writes section ``sagan_attention`` of benchmarks/RESULTS.md and a sample grid per variant (seed 0).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
from pathlib import Path
from typing import Any

import mnist5k_table
from harness import (
    BENCHMARKS,
    RESULTS_MD,
    half_range,
    load_recipe,
    load_runs,
    parse_seeded_args,
    replace_section,
    seeded_runs_parser,
    train_missing,
    training_command,
)

OUT_DIR = BENCHMARKS / "sagan_attention"
CACHE = OUT_DIR / "results.json"
VARIANTS = {"attention": {}, "no attention": {"attention": False}}
SPECTRAL_G = "attention, G without spectral norm"
NO_ATTENTION_SPECTRAL_G = "no attention, G without spectral norm"
IMAGE_LAYER = "attention, G's image layer with spectral norm"  # the recipe before issue 26
NO_ATTENTION_IMAGE_LAYER = "no attention, G's image layer with spectral norm"
SNGAN_OPTIMISER = f"{IMAGE_LAYER}, SNGAN's optimiser"


def diagnostics() -> dict[str, dict[str, Any]]:
    """``--diagnose``'s variants (issue 26): both variants with spectral norm on G's image layer too, the recipe
    before issue 26 (as the authors' residual G), whose G draws one blob repeated; that recipe with attention and
    one of what it does unlike SNGAN's recipe, which draws digits at this budget, changed to SNGAN's: spectral
    norm in G (none at all: SNGAN's G has none), the optimiser (``experiments/sngan/mnist5k.yaml``'s), and both;
    and the baseline without attention and without spectral norm in G, for the claim there."""
    sngan = load_recipe("SNGAN", "mnist5k")["init_args"]
    optimiser = {key: sngan[key] for key in ("lr_g", "lr_d", "betas")}
    image_layer = {"g_image_layer_spectral_norm": True}
    return {IMAGE_LAYER: image_layer, NO_ATTENTION_IMAGE_LAYER: {"attention": False, **image_layer},
            SPECTRAL_G: {"g_spectral_norm": False}, SNGAN_OPTIMISER: {**image_layer, **optimiser},
            f"{SPECTRAL_G}, SNGAN's optimiser": {"g_spectral_norm": False, **optimiser},
            NO_ATTENTION_SPECTRAL_G: {"attention": False, "g_spectral_norm": False}}


def variant_settings(variant: str) -> dict[str, Any]:
    """The overrides of ``variant`` (of ``VARIANTS`` or ``diagnostics()``) to SAGAN's recipe."""
    return VARIANTS[variant] if variant in VARIANTS else diagnostics()[variant]


def slug(variant: str) -> str:
    """``"attention, SNGAN's optimiser"`` -> ``"attention_sngan_s_optimiser"``: a key or file name part."""
    return re.sub(r"[^a-z0-9]+", "_", variant.lower()).strip("_")


def run_key(variant: str, seed: int, iterations: int) -> str:
    return f"SAGAN/{slug(variant)}/seed{seed}/it{iterations}"


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    """Train one variant at one seed (``mnist5k_table``'s protocol); numbers and a grid, JSON-ready."""
    run, out = mnist5k_table.job_run(job, "SAGAN", tuple(variant_settings(job["variant"]).items()),
                                     digits_weights=job.get("digits_weights"))
    model = out["model"]
    gammas = {name: (None if net.attention is None else net.attention.gamma.item())
              for name, net in (("g", model.generator), ("d", model.discriminator))}
    return {**run, "variant": job["variant"], "kl_to_uniform": float(out["results"]["kl_to_uniform"]),
            "gamma_g": gammas["g"], "gamma_d": gammas["d"], "grid": (out["grid"] * 0.5 + 0.5).clamp(0, 1).tolist()}


# ----------------------------------------------------------------------------- report
def rows(results: dict[str, dict[str, Any]], iterations: int) -> dict[str, list[dict[str, Any]]]:
    """variant -> its runs at ``iterations``, by seed."""
    out: dict[str, list[dict[str, Any]]] = {}
    for run in sorted(results.values(), key=lambda r: r["seed"]):
        if run["iterations"] == iterations:
            out.setdefault(run["variant"], []).append(run)
    return out


def verdict(by_variant: dict[str, list[dict[str, Any]]], pair: tuple[str, str] = ("attention", "no attention"),
            title: str = "Verdict") -> str:
    """Whether attention (``pair[0]``) lowers FID by more than the seed spread against ``pair[1]``."""
    if not all(by_variant.get(v) for v in pair):
        return f"{title}: both variants are needed."
    fids = {v: [r["fid"] for r in by_variant[v]] for v in pair}
    gain = statistics.mean(fids[pair[1]]) - statistics.mean(fids[pair[0]])
    noise = max(half_range(f) for f in fids.values())
    if gain > noise:
        outcome = "**reached**: attention lowers FID by more than the seed spread"
    elif gain < -noise:
        outcome = "**not reached**: attention raises FID by more than the seed spread"
    else:
        outcome = "**not separated**: the difference is within the seed spread"
    return (f"{title}: FID gain of attention ({pair[1]} minus {pair[0]}, means) {gain:+.1f}, seed spread "
            f"{noise:.1f}: {outcome}.")


def save_grid(run: dict[str, Any]) -> Path:
    import torch
    from torchvision.utils import save_image

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"sagan_{slug(run['variant'])}.png"
    save_image(torch.tensor(run["grid"]), path, nrow=6, padding=1)
    return path


def write_report(results: dict[str, dict[str, Any]], args: argparse.Namespace, out: Path) -> str:
    by_variant = rows(results, args.iterations)
    lines = [
        "## SAGAN: self-attention against none on MNIST5k (issue 14)",
        "",
        f"Command: `{args.command}`. SAGAN's recipe (`experiments/sagan/mnist5k.yaml`) with its attention blocks "
        f"(G and D at 16x16) and with `attention: false` (otherwise the same networks, spectral norm, hinge loss "
        f"and TTUR), {args.iterations:,} iterations of batch 64, one thread per run. Digits FID (LeNet features, "
        f"lower is better) and digit classes of {args.num_eval:,} raw-G samples against the 500 held-out digits; "
        "gamma: the weight of each attention block's output at the end (0 at the start).",
        "",
        "| Variant | Seed | Digits FID | Classes (of 10) | gamma G | gamma D | Fit s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for variant in [*VARIANTS, *diagnostics()]:
        for run in by_variant.get(variant, []):
            gamma = ["-" if run[k] is None else f"{run[k]:+.3f}" for k in ("gamma_g", "gamma_d")]
            lines.append(f"| {variant} | {run['seed']} | {run['fid']:.1f} | {run['classes']} | {gamma[0]} | "
                         f"{gamma[1]} | {run['fit_seconds']:.0f} |")
        runs = by_variant.get(variant, [])
        if len(runs) > 1:
            fids = [r["fid"] for r in runs]
            lines.append(f"| **{variant}, mean ± half range** | | **{statistics.mean(fids):.1f} ± {half_range(fids):.1f}**"
                         " | | | | |")
    lines += ["", verdict(by_variant)]
    for variant, settings in diagnostics().items():
        runs = by_variant.get(variant, [])
        if not runs:
            continue
        fids, seeds = [r["fid"] for r in runs], {r["seed"] for r in runs}
        changed = ", ".join(f"{key} {value}" for key, value in settings.items())
        base = "no attention" if settings.get("attention") is False else "attention"  # the recipe's row
        same = [r["fid"] for r in by_variant.get(base, []) if r["seed"] in seeds]
        lines.append(f"- Diagnosis (`--diagnose`), {variant} ({changed}): mean FID {statistics.mean(fids):.1f} "
                     f"± {half_range(fids):.1f}, classes {', '.join(str(r['classes']) for r in runs)} (seeds "
                     f"{', '.join(str(r['seed']) for r in runs)})"
                     + (f", against {statistics.mean(same):.1f} for the recipe's '{base}' row on the same seeds"
                        if len(same) == len(seeds) else "") + ".")
    if by_variant.get(IMAGE_LAYER) and by_variant.get(NO_ATTENTION_IMAGE_LAYER):
        lines.append("- " + verdict(by_variant, (IMAGE_LAYER, NO_ATTENTION_IMAGE_LAYER),
                                    "The claim with G's image layer with spectral norm (`--diagnose`, the recipe "
                                    "before issue 26, as the authors' residual G)"))
    if by_variant.get(SPECTRAL_G) and by_variant.get(NO_ATTENTION_SPECTRAL_G):
        lines.append("- " + verdict(by_variant, (SPECTRAL_G, NO_ATTENTION_SPECTRAL_G),
                                    "The claim with G without spectral norm (`--diagnose`, not the recipe)"))
    lines += [f"- {note}" for note in args.note]
    grids = sorted(OUT_DIR.glob("*.png"))
    if grids:
        lines += ["", "Samples (raw G, seed 0, fixed noise): "
                  + " ".join(f"![{p.stem}](sagan_attention/{p.name})" for p in grids)]
    lines += ["", "PUBLISHED (Zhang et al. 2019, abstract; ImageNet 128 px, not run here): best published "
              "Inception score 36.8 -> 52.52 and FID 27.62 -> 18.65 with SAGAN."]
    text = "\n".join(lines)
    replace_section(out, "sagan_attention", text)
    return text


def parse_args(argv=None) -> argparse.Namespace:
    parser = seeded_runs_parser(__doc__.split("\n\n")[0], "training iterations (batches) per run")
    parser.set_defaults(iterations=1500)
    parser.add_argument("--diagnose", action="store_true", help="also train both variants with spectral norm on G's "
                        "image layer (the recipe before issue 26), and that recipe with G without spectral norm, "
                        "SNGAN's optimiser, or both (rows of their own, no part of the verdict)")
    parser.add_argument("--note", action="append", default=[], help="a line added to the report (repeatable)")
    parser.add_argument("--out", default=str(RESULTS_MD))
    parser.add_argument("--cache", default=str(CACHE))
    args = parse_seeded_args(parser, argv)
    args.command = training_command(__file__, argv)
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    cache = Path(args.cache)
    results = load_runs(cache)
    if not args.report_only:
        jobs = [{"variant": v, "seed": s, "iterations": args.iterations, "num_eval": args.num_eval,
                 "key": run_key(v, s, args.iterations)} for s in args.seeds
                for v in [*VARIANTS, *(diagnostics() if args.diagnose else ())]]

        def done(run: dict[str, Any], seconds: float) -> None:
            if run["seed"] == min(args.seeds):
                save_grid(run)
            print(f"{run['key']:40s} FID {run['fid']:7.1f} classes {run['classes']} ({run['fit_seconds']:.0f} s; "
                  f"{seconds:.0f} s so far)", flush=True)

        train_missing(jobs, run_one, results, cache, args.workers, done)
    print(write_report(results, args, Path(args.out)))


if __name__ == "__main__":
    os.environ.setdefault("WANDB_MODE", "offline")
    main()
