"""ProGAN's and StyleGAN's claims on MNIST5k (issue 26): progressive growing against the same networks trained
at full resolution, and the style-based generator against the progressive baseline.

Published:

- ProGAN (Karras et al. 2018, section 3, Figure 4 and Table 1's "+ progressive growing" rows): growing
  from 4 px trains faster and to better quality than the same networks and losses trained at the final
  resolution from the start.
- StyleGAN (Karras et al. 2019, Table 1): the style-based generator (row F) reaches a lower FID than the
  progressive baseline (row A, ProGAN): FFHQ 4.40 vs 8.04.

Protocol:

- recipes: ``experiments/progan/mnist5k.yaml`` (growing 4 -> 32 px, the last fade-in ends at iteration 480),
  the same recipe with ``progressive: false`` (all levels at alpha 1 from the first iteration; same
  networks, losses, optimiser, EMA) and ``experiments/stylegan/mnist5k.yaml``; all on the 4,500 MNIST5k
  training digits at 32 px, batch 32, each run trained once to the last of ``--points`` (default: the two
  recipes' budgets, ProGAN's 800 and StyleGAN's 1,500 iterations) and evaluated at every point on the way
  (the evaluation forks the random state, so training goes on as if it had not run). Seeds ``--seeds``,
  one thread, one run after the other in this process;
- a variant: StyleGAN's recipe with R1 gamma 0.01, the weight the authors give 32 px images (stylegan2-ada-pytorch
  ``train.py``, cfg ``cifar``), where the recipe keeps FFHQ's 10 (NVlabs/stylegan ``train.py``);
- the EMA generator of each recipe (``quality.build``: ProGAN decay 0.999 with the project's warm-up,
  StyleGAN a half-life of 10,000 images);
- evaluation: ``quality.digits_evaluation`` (digits FID as benchmarks/quality.py computes it, plus the
  classes the digits classifier finds) of ``--num-eval`` EMA-G samples against the 500 held-out digits;
  the raw G's FID beside it; StyleGAN's EMA G also with fresh noise inputs per sample (``random_noise_inputs``:
  the authors' FID protocol, where ``sample`` uses the fixed noise maps);
- verdicts (``harness.beyond_spread``: a mean lower by more than the larger seed spread, half the range):
  ProGAN **reached** when growing beats no growing at every point, **reached in part** at some, **not
  reached** at none; StyleGAN **reached** when it beats ProGAN's recipe at StyleGAN's budget.

- ``--diagnose SEEDS``: StyleGAN's recipe with one change each (``DIAGNOSTICS``: no style mixing; twice the
  width of G and D), on those seeds, in a table of their own beside the recipe's run of the same seed;
  ``--diagnostic "StyleGAN, twice the width"`` (repeatable) trains only the ones it names.

    python benchmarks/progressive.py [--points 800,1500] [--seeds 0,1] [--num-eval 1000] [--diagnose 0] [--report-only]

Runs are cached in ``benchmarks/progressive/results.json`` (one run per model and seed, saved as it ends:
an interrupted benchmark resumes); one sample grid per model (seed 0, the last point) in
benchmarks/progressive/; writes section ``progressive`` of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import inspect
import statistics
import time
from collections.abc import Sequence
from typing import Any

import lightning as L
import quality
import torch
from harness import (
    BENCHMARKS,
    RESULTS_MD,
    beyond_spread,
    command_block,
    fit_exactly,
    half_range,
    int_list,
    load_line,
    load_recipe,
    load_runs,
    measured_apart,
    quiet_lightning,
    replace_section,
    save_grid,
    shown_path,
    train_missing,
    training_command,
)

OUT_DIR = BENCHMARKS / "progressive"
CACHE = OUT_DIR / "results.json"
SECTION = "progressive"
GROWING, FLAT, STYLE = "ProGAN", "ProGAN, no growing", "StyleGAN"
# the R1 weight the authors give 32 px images (stylegan2-ada-pytorch train.py, cfg 'cifar': gamma 0.01; the
# StyleGAN recipe keeps the FFHQ 1024 px value 10)
STYLE_R1 = "StyleGAN, R1 gamma 0.01"
# variant -> (model, recipe changes in quality.py's ``--set`` form)
VARIANTS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    GROWING: ("ProGAN", ()),
    FLAT: ("ProGAN", (("progressive", "false"),)),
    STYLE: ("StyleGAN", ()),
    STYLE_R1: ("StyleGAN", (("r1_gamma", "0.01"),)),
}
# ``--diagnose`` (issue 26: StyleGAN's samples alike across z, its FID rising from 800 to 1,500 iterations): the
# recipe with one change each, beside the recipe's own run of the same seed, outside the verdicts
DIAGNOSTICS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "StyleGAN, no style mixing": ("StyleGAN", (("style_mixing_prob", "0.0"),)),
    "StyleGAN, twice the width": ("StyleGAN", (("fmap_base", "1024"), ("fmap_max", "64"))),
}
GRID_SAMPLES = 64


def slug(variant: str) -> str:
    return variant.lower().replace(",", "").replace(" ", "_")


def run_key(variant: str, seed: int, points: Sequence[int]) -> str:
    return f"{slug(variant)}/seed{seed}/at{'-'.join(str(p) for p in points)}"


class EvaluateAt(L.Callback):
    """Evaluates the model after each of ``points`` iterations (``evaluate(module) -> dict``) as
    ``harness.fit_measured`` measures (``measured_apart``: a forked random state, the modules' modes restored), and
    keeps the training seconds (evaluation not counted) up to each point."""

    def __init__(self, points: Sequence[int], evaluate) -> None:
        self.points, self.evaluate = sorted(set(points)), evaluate
        self.curve: list[dict[str, Any]] = []
        self.started = self.eval_seconds = 0.0

    def on_train_start(self, trainer, pl_module) -> None:
        self.started = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step not in self.points:
            return
        began = time.perf_counter()
        point = {"iteration": int(trainer.global_step), "train_seconds": began - self.started - self.eval_seconds,
                 **measured_apart(pl_module, self.evaluate)}
        self.eval_seconds += time.perf_counter() - began
        self.curve.append(point)
        print(f"  iteration {point['iteration']}: EMA FID {point['fid']:.1f}, raw {point['fid_raw']:.1f}, "
              f"classes {point['classes']}", flush=True)


def takes_noise_mode(module) -> bool:
    return "noise_mode" in inspect.signature(module.sample).parameters


@contextlib.contextmanager
def random_noise_inputs(module):
    """``module.sample`` with ``noise_mode="random"`` (a fresh N(0, 1) map per sample and layer, drawn from the
    global random state seeded with ``quality.EVAL_NOISE_SEED``) in place of its default fixed maps: the
    authors' FID draws its StyleGAN samples so (``randomize_noise=True`` in NVlabs/stylegan's
    ``metrics/frechet_inception_distance.py``), while ``sample`` and so the project's evaluation use the
    fixed maps (``noise_mode="const"``, the authors' ``generate`` examples)."""
    with torch.random.fork_rng():
        torch.manual_seed(quality.EVAL_NOISE_SEED)
        module.sample = functools.partial(type(module).sample, module, noise_mode="random")
        try:
            yield module
        finally:
            del module.sample


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    """Train one variant to its last point, evaluating at each; its curve, parameter counts and grid."""
    quiet_lightning()
    torch.set_num_threads(1)
    model_name, changes = {**VARIANTS, **DIAGNOSTICS}[job["variant"]]
    L.seed_everything(job["seed"], workers=False, verbose=False)
    model, data, ema = quality.build(model_name, changes)

    def evaluate(module) -> dict[str, Any]:
        ema_side = quality.digits_evaluation(module, data, job["num_eval"], True, ("fid", "classes"))
        raw = quality.digits_evaluation(module, data, job["num_eval"], False)
        point = {"fid": float(ema_side["fid"]), "classes": int(ema_side["classes_covered"]),
                 "fid_raw": float(raw["fid"])}
        if takes_noise_mode(module):  # StyleGAN: also with fresh noise inputs per sample, as the authors' FID
            with random_noise_inputs(module):
                random = quality.digits_evaluation(module, data, job["num_eval"], True, ("fid", "classes"))
            point.update(fid_random_noise=float(random["fid"]), classes_random_noise=int(random["classes_covered"]))
        return point

    evaluator = EvaluateAt(job["points"], evaluate)
    wall = fit_exactly(model, data, max(job["points"]), callbacks=[ema, evaluator], label=job["variant"])
    if job["seed"] == job["grid_seed"]:
        images = model.sample(GRID_SAMPLES, use_ema=True, rng=torch.Generator().manual_seed(quality.EVAL_NOISE_SEED))
        save_grid(images, grid_file(job["variant"], job), nrow=8)  # in [-1, 1], as write_samples takes them
    state = getattr(model, "training_state", None)
    return {"key": job["key"], "variant": job["variant"], "model": model_name, "seed": job["seed"],
            "points": list(job["points"]), "num_eval": job["num_eval"], "curve": evaluator.curve,
            "g_params": sum(p.numel() for p in model.generator.parameters()),
            "d_params": sum(p.numel() for p in model.discriminator.parameters()),
            "ema": {"decay": ema.decay, "warmup": ema.warmup, "half_life_images": ema.half_life_images},
            "final_resolution": int(state.resolution) if model_name == "ProGAN" else None,
            "fit_wall_seconds": wall, "eval_seconds": evaluator.eval_seconds}


def grid_file(variant: str, job: dict[str, Any]):
    return OUT_DIR / f"{slug(variant)}_seed{job['seed']}_it{max(job['points'])}.png"


# ----------------------------------------------------------------------------- report
def point_runs(results: dict[str, Any], variant: str, point: int, args) -> list[dict[str, Any]]:
    """``{"seed", "fid", "classes", "fid_raw", "train_seconds"}`` of each seed's run of ``variant`` at ``point``."""
    found = []
    for seed in args.seeds:
        run = results.get(run_key(variant, seed, args.points))
        entry = next((p for p in run["curve"] if p["iteration"] == point), None) if run else None
        if entry is not None:
            found.append({"seed": seed, **entry})
    return found


def comparison(results, ours: str, theirs: str, point: int, args) -> str | None:
    """``beyond_spread`` of ``ours`` against ``theirs`` at ``point`` (EMA FID), None while a seed is missing."""
    a, b = point_runs(results, ours, point, args), point_runs(results, theirs, point, args)
    if len(a) < len(args.seeds) or len(b) < len(args.seeds):
        return None
    return beyond_spread([r["fid"] for r in a], [r["fid"] for r in b])


def progan_verdict(outcomes: dict[int, str | None]) -> str | None:
    """reached (growing better at every point), reached in part (at some), not reached (at none); None while
    a point is missing."""
    if not outcomes or any(o is None for o in outcomes.values()):
        return None
    better = sum(o == "better" for o in outcomes.values())
    return "reached" if better == len(outcomes) else "reached in part" if better else "not reached"


def mean_text(values: Sequence[float]) -> str:
    return f"{statistics.mean(values):.1f} ± {half_range(values):.1f}"


def report(results: dict[str, Any], args) -> str:
    recipes = {name: load_recipe(name, "mnist5k")["max_steps"] for name in ("ProGAN", "StyleGAN")}
    lines = [
        ("ProGAN (Karras et al. 2018: progressive growing trains faster and to better quality than the same networks "
        "at full resolution, section 3 and Figure 4) and StyleGAN (Karras et al. 2019, Table 1: the style-based G "
        "below the progressive baseline, FFHQ FID 4.40 vs 8.04) on MNIST5k at 32 px, batch 32: the recipes "
        "`experiments/progan/mnist5k.yaml` (growing 4 -> 32 px, last fade-in ending at iteration 480), the same with "
        "`progressive: false` (every level at alpha 1 from the first iteration) and `experiments/stylegan/mnist5k.yaml`, "
        f"each trained once to {max(args.points):,} iterations and evaluated at {', '.join(f'{p:,}' for p in args.points)} "
        f"(recipe budgets: ProGAN {recipes['ProGAN']:,}, StyleGAN {recipes['StyleGAN']:,}), seeds "
        f"{', '.join(map(str, args.seeds))}, one thread per run. Digits FID (benchmarks/quality.py's evaluation; "
        f"lower is better) of {args.num_eval:,} EMA-G samples against the 500 held-out digits, with the classes the "
        "digits classifier finds among them; the raw G's FID beside it. Training seconds: wall time to the point, "
        "evaluation not counted."), "",
        ("| iterations | model | G / D parameters | per seed: EMA digits FID (classes) | EMA FID mean ± half range "
        "| raw G FID mean ± half range | training seconds (mean) |"),
        "|---|---|---|---|---|---|---|"]
    for point in args.points:
        for variant in VARIANTS:
            runs = point_runs(results, variant, point, args)
            if not runs:
                continue
            first = results[run_key(variant, runs[0]["seed"], args.points)]
            lines.append(f"| {point:,} | {variant} | {first['g_params']:,} / {first['d_params']:,} | "
                         + ", ".join(f"{r['fid']:.1f} ({r['classes']})" for r in runs)
                         + f" | {mean_text([r['fid'] for r in runs])} | {mean_text([r['fid_raw'] for r in runs])} | "
                         f"{statistics.mean(r['train_seconds'] for r in runs):.0f} |")
            fresh = [r for r in runs if "fid_random_noise" in r]
            if fresh:
                lines.append(f"| {point:,} | {variant}, fresh noise inputs per sample | | "
                             + ", ".join(f"{r['fid_random_noise']:.1f} ({r['classes_random_noise']})" for r in fresh)
                             + f" | {mean_text([r['fid_random_noise'] for r in fresh])} | | |")
    grids = [f"{variant}: `{shown_path(grid_file(variant, {'seed': args.grid_seed, 'points': args.points}))}`"
             for variant in [*VARIANTS, *DIAGNOSTICS] if grid_file(variant, {"seed": args.grid_seed, "points": args.points}).is_file()]
    if grids:
        lines += ["", f"Sample grids (EMA G, seed {args.grid_seed}, {max(args.points):,} iterations): "
                      + "; ".join(grids) + "."]
    outcomes = {point: comparison(results, GROWING, FLAT, point, args) for point in args.points}
    verdict = progan_verdict(outcomes)
    if verdict is not None:
        lines += ["", "ProGAN, growing against no growing (EMA FID, beyond the larger seed spread): "
                  + "; ".join(f"at {p:,} iterations {o}" for p, o in outcomes.items())
                  + f". Verdict (ProGAN): **{verdict}**."]
    budget = recipes["StyleGAN"]
    if budget in args.points:
        outcome = comparison(results, STYLE, GROWING, budget, args)
        if outcome is not None:
            word = "reached" if outcome == "better" else "not reached"
            lines += ["", (f"StyleGAN against ProGAN's recipe at StyleGAN's {budget:,} iterations (EMA FID, beyond the "
                          f"larger seed spread): {outcome}. Verdict (StyleGAN): **{word}**.")]
        r1 = {other: comparison(results, STYLE_R1, other, budget, args) for other in (STYLE, GROWING)}
        if None not in r1.values():
            lines += ["", (f"A variant, not the verdict: StyleGAN with R1 gamma 0.01 (the authors' weight for 32 px "
                          "images, stylegan2-ada-pytorch `train.py` cfg `cifar`; the recipe keeps FFHQ's 10) at "
                          f"{budget:,} iterations against the recipe: {r1[STYLE]}; against ProGAN's recipe: "
                          f"{r1[GROWING]}.")]
        fixed = comparison(results, STYLE, FLAT, budget, args)
        if fixed is not None:
            lines += ["", ("Not the verdict, a control: StyleGAN's recipe does not grow (the authors' `structure='fixed'`; "
                          "their Table 1 grows both rows), so StyleGAN against ProGAN without growing at "
                          f"{budget:,} iterations: {fixed}.")]
    lines += diagnosis_lines(results, args)
    lines += ["", load_line(), ""]
    lines += command_block(training_command(__file__, getattr(args, "argv", None)))
    return "\n".join(lines).rstrip() + "\n"


def diagnosis_lines(results: dict[str, Any], args) -> list[str]:
    """The ``--diagnose`` runs (whatever seeds are cached), each beside the recipe's run of the same seed."""
    def at(run: dict[str, Any] | None, point: int) -> dict[str, Any] | None:
        return next((p for p in run["curve"] if p["iteration"] == point), None) if run else None

    rows = []
    for point in args.points:
        for variant, (_, changes) in DIAGNOSTICS.items():
            runs = sorted((r for r in results.values() if r.get("variant") == variant and r["points"] == list(args.points)
                           and at(r, point)), key=lambda r: r["seed"])
            if not runs:
                continue
            ours = [at(r, point) for r in runs]
            recipe = [at(results.get(run_key(STYLE, r["seed"], args.points)), point) for r in runs]
            rows.append(f"| {point:,} | {variant} ({', '.join(f'{k} {v}' for k, v in changes)}) | "
                        f"{runs[0]['g_params']:,} / {runs[0]['d_params']:,} | "
                        + ", ".join(f"{r['seed']}: {p['fid']:.1f} ({p['classes']})" for r, p in zip(runs, ours)) + " | "
                        + ", ".join(f"{p['fid_raw']:.1f}" for p in ours) + " | "
                        + ", ".join(f"{p['fid']:.1f} ({p['classes']})" if p else "-" for p in recipe)
                        + f" | {statistics.mean(p['train_seconds'] for p in ours):.0f} |")
    if not rows:
        return []
    return ["", "Diagnosis (`--diagnose`, not the verdicts): StyleGAN's recipe with one change, beside the recipe's "
            "own run of the same seed:", "",
            "| iterations | variant (change) | G / D parameters | per seed: EMA digits FID (classes) | raw G FID | "
            "recipe, same seed: EMA FID (classes) | training seconds (mean) |", "|---|---|---|---|---|---|---|", *rows]


def planned_jobs(args) -> list[dict[str, Any]]:
    """Every variant on ``args.seeds``, the ``DIAGNOSTICS`` (those ``args.diagnostic`` names, else all) on
    ``args.diagnose``'s seeds."""
    def job(variant: str, seed: int) -> dict[str, Any]:
        return {"key": run_key(variant, seed, args.points), "variant": variant, "seed": seed,
                "points": list(args.points), "num_eval": args.num_eval, "grid_seed": args.grid_seed}

    chosen = getattr(args, "diagnostic", None) or list(DIAGNOSTICS)
    return ([job(variant, seed) for seed in args.seeds for variant in VARIANTS]
            + [job(variant, seed) for seed in args.diagnose for variant in DIAGNOSTICS if variant in chosen])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int_list, default=None,
                        help="iterations to evaluate at (default: the ProGAN and StyleGAN recipes' max_steps)")
    parser.add_argument("--seeds", type=int_list, default=(0, 1))
    parser.add_argument("--num-eval", type=int, default=1000, help="samples per FID")
    parser.add_argument("--grid-seed", type=int, default=0, help="the seed whose runs draw the sample grids")
    parser.add_argument("--diagnose", type=int_list, default=(), metavar="SEEDS",
                        help="also train the StyleGAN diagnosis variants (DIAGNOSTICS) on these seeds, e.g. 0")
    parser.add_argument("--diagnostic", action="append", choices=list(DIAGNOSTICS), default=None,
                        help="train only this diagnosis variant on --diagnose's seeds (repeatable; default: all); "
                             "the section lists every cached one")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    args.argv = argv
    args.points = sorted(set(args.points or (load_recipe(m, "mnist5k")["max_steps"] for m in ("ProGAN", "StyleGAN"))))
    args.seeds = list(args.seeds)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    results = load_runs(CACHE, empty={})
    if not args.report_only:
        jobs = planned_jobs(args)
        train_missing(jobs, run_one, results, CACHE,
                      on_done=lambda run, s: print(f"{run['key']}: EMA FID {run['curve'][-1]['fid']:.1f} "
                                                   f"({s:.0f} s so far)", flush=True))
    text = report(results, args)
    replace_section(RESULTS_MD, SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
