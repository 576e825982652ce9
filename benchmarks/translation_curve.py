"""Learning curves of an unpaired translation row and its baseline (issue 26, item 3): label preservation (DTN:
the judge's accuracy on G(source)) every ``--every`` iterations, to the recipe's budget and past it, so that a
claim not reached at the recipe's budget comes with its trend (budget or not); StarGAN: the digit judge on
G(x, c) with one attribute flipped, against the recipe without its reconstruction term; ``--seed 0,1,2`` repeats the
curves with other seeds and adds the seeds' spread and a verdict over them.

The rows, data, judges and measures are ``benchmarks/translation.py``'s (``ROWS`` of ``--model``: the model and
its baseline without the cycle / reconstruction / f-constancy term; the held-out split cut in a judge half and an
eval half; the LeNet judge of the target domain; ``measure_cycle``, ``measure_dtn`` or ``measure_stargan``; StarGAN's
baseline is ``CURVE_ROWS``), one thread. A cycle
row's point is measured twice: with BatchNorm on its running statistics (eval mode, as ``translate`` and section
``translation`` do) and on the batch's own statistics (batches of 250, a copy of the model in train mode: as the
authors' DiscoGAN script translates), so that a gap between the two shows a BatchNorm defect rather than a budget.

StarGAN's measure builds a CycleGAN to count its parameters, and so draws from the global random state. Since commit
13c9b56 ``harness.fit_measured`` forks that state around every measure, so a measured run trains as the unmeasured
one; StarGAN's seed-0 curves were measured before it, and their training after each point is not the unmeasured
run's (the recipe's curve at 3,000 iterations, 52.5 %, against section ``translation``'s run of the same recipe,
52.1 %). So were any curves measured before it whose measure draws (a batch-statistics point of a generator with
noise or dropout in train mode would).

Each run is checkpointed at every measured point (git-ignored ``runs/translation_curve/``) and resumes from its
last one; its points are kept in ``benchmarks/translation/curves.json`` as they are measured.

    python benchmarks/translation_curve.py --model DiscoGAN --steps 6000 --every 250
    python benchmarks/translation_curve.py --model DiscoGAN --steps 6000 --every 250 --only "DiscoGAN"  # one row
    python benchmarks/translation_curve.py --model DiscoGAN --steps 6000 --every 250 --report-only
    python benchmarks/translation_curve.py --model DiscoGAN --steps 6000 --every 250 --set depth=3  # a recipe change
    python benchmarks/translation_curve.py --model DTN --steps 1500 --every 250 --seed 0,1,2  # three seeds
    python benchmarks/translation_curve.py --model StarGAN --every 250 --set g_width=16 --set d_width=32  # old widths

Writes section ``translation_curve_<model>`` (lower case; ``_<key><value>`` added per ``--set``) of
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import platform
from pathlib import Path
from typing import Any

import torch
import yaml

import translation
from harness import (BENCHMARKS, RESULTS_MD, as_cached, cached_curve, command_block, fit_measured, int_list, load_recipe, load_runs,
                     mean_std, model_from_recipe, parity_halves, quiet_lightning, recent_slope, replace_section,
                     save_run, stack_split, training_command)

CACHE = BENCHMARKS / "translation" / "curves.json"
RUNS = BENCHMARKS.parent / "runs" / "translation_curve"


@dataclasses.dataclass(frozen=True)
class Curve:
    """What the curve of one kind of row measures: ``score`` (the digit kept, the claim's measure) and ``other``
    (the term's own error), their words, whether BatchNorm's batch statistics are measured too, and (rows
    without them) how the score is read."""

    score: str
    other: str
    score_words: str
    other_column: str
    term: str
    batch_stats: bool
    how: str = ("the target-domain judge gives G(a) the digit of a (chance 10 %), BatchNorm on its running statistics "
                "(eval mode, as section `translation`)")


CURVES = {
    "cycle": Curve("label_preservation", "cycle_l1", "label preservation", "cycle L1", "its reconstruction term", True),
    "dtn": Curve("judge_accuracy", "f_constancy", "judge accuracy on G(source)", "f-constancy error",
                 "its f-constancy term", False),
    "stargan": Curve("label_preservation", "reconstruction_l1", "label preservation", "reconstruction L1",
                     "its reconstruction term", False,
                     "the digit judge (fitted on real images of every attribute mix) gives G(x, c), c the attributes "
                     "of x with one flipped, the digit of x (chance 10 %), as section `translation` measures it (G "
                     "has InstanceNorm only: no running statistics)"),
}

# Baselines measured only as curves (section ``translation`` has StarGAN's row alone): the same recipe without the
# term the claim is about.
CURVE_ROWS = (
    translation.Row("StarGAN without reconstruction", "StarGAN", "digit_attributes", "stargan", {"rec_weight": 0.0},
                    True),
)


def run_key(label: str, seed: int) -> str:
    """A run's key in ``CACHE`` (and its checkpoint folder's name): the row's label, its seed added but for 0."""
    return label if seed == 0 else f"{label}, seed {seed}"


def runs_by_seed(runs: dict[str, Any], label: str) -> dict[int, dict[str, Any]]:
    """The cached runs of the row ``label``, by seed."""
    return {run["seed"]: run for run in runs.values() if run.get("label") == label}


class BatchStatistics:
    """``translate`` of a copy of ``model`` with its generators in train mode (BatchNorm on the batch's own
    statistics, under ``no_grad``): the trained model and its running statistics are left as they are."""

    def __init__(self, model) -> None:
        self.generators = copy.deepcopy(model.generator)  # the generators only: not the trainer the model holds

    @torch.no_grad()
    def translate(self, images: torch.Tensor, direction: str = "AtoB") -> torch.Tensor:
        net = self.generators[{"AtoB": "ab", "BtoA": "ba"}[direction]]
        net.train()
        return net(images)


def rows_of(model: str, changes: dict[str, Any] | None = None) -> list[translation.Row]:
    """``model``'s unpaired-translation rows of section ``translation``; with ``changes`` (``--set``), each row
    with those init args changed too and its label saying so (``DiscoGAN [depth=3]``)."""
    every_row = (*translation.ROWS, *CURVE_ROWS)
    rows = [row for row in every_row if row.model == model and row.measure in CURVES]
    if not rows:
        known = sorted({row.model for row in every_row if row.measure in CURVES})
        raise SystemExit(f"--model: {model!r} has no unpaired-translation rows; choose from {', '.join(known)}")
    if not changes:
        return rows
    tag = " [" + ", ".join(f"{key}={value}" for key, value in sorted(changes.items())) + "]"
    return [dataclasses.replace(row, label=row.label + tag, overrides={**row.overrides, **changes}) for row in rows]


def parse_changes(items: list[str], model: str) -> dict[str, Any]:
    """``--set key=value`` (repeatable): init args of ``model`` (values read as YAML: ``3`` an int); a key the
    model does not take, or an item without ``=``, is a one-line error."""
    import inspect

    from gan_lightning import models

    accepted = set(inspect.signature(getattr(models, model).__init__).parameters) - {"self", "args", "kwargs"}
    changes = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key.strip() not in accepted:
            raise SystemExit(f"--set: {item!r} is not KEY=VALUE with KEY an init arg of {model} "
                             f"({', '.join(sorted(accepted))})")
        changes[key.strip()] = yaml.safe_load(value)
    return changes


def section_name(model: str, changes: dict[str, Any]) -> str:
    return "translation_curve_" + model.lower() + "".join(
        f"_{key}{value}".replace(".", "p").replace("-", "m") for key, value in sorted(changes.items()))


def run_curve(row: translation.Row, steps: int, every: int, seed: int) -> dict[str, Any]:
    """Train ``row`` for ``steps`` iterations, measuring every ``every`` (eval mode and batch statistics); the
    points go into ``CACHE`` as they are measured, checkpoints into ``RUNS``; resumes from the last one."""
    import lightning as L

    quiet_lightning()
    torch.set_num_threads(1)
    recipe = load_recipe(row.model, row.experiment)
    settings = {"label": row.label, "model": row.model, "overrides": row.overrides, "baseline": row.baseline,
                "every": every, "seed": seed, "recipe_steps": recipe["max_steps"],
                # a recipe edit is another run; as the cache's JSON reads it back (tuples as lists)
                "model_args": as_cached({**recipe["init_args"], **row.overrides})}
    key = run_key(row.label, seed)
    folder = RUNS / translation.slug(key)
    cached = cached_curve(CACHE, key, settings, steps, folder)
    if cached.complete:
        return load_runs(CACHE, {})[key]
    data = translation.build_data(recipe, seed)
    judge_half, eval_half = parity_halves(stack_split(data.heldout_set))
    judge, ceiling = translation.judge_for(row, judge_half, eval_half, seed)

    curve, measured = CURVES[row.measure], translation.MEASURES[row.measure]

    def measure(module) -> dict[str, float]:
        values = measured(translation.Setting(module, data, judge_half, eval_half, judge))
        if curve.batch_stats:
            batch = measured(translation.Setting(BatchStatistics(module), data, judge_half, eval_half, judge))
            values.update({f"{curve.score}_batch_stats": batch[curve.score],
                           f"{curve.other}_batch_stats": batch[curve.other]})
        return values

    def save(points: list[dict[str, Any]], seconds: float) -> None:
        save_run(CACHE, key, {**settings, "judge_on_real": ceiling, "fit_seconds": seconds, "points": points})
        print(f"{key} at {points[-1]['iteration']}: "
              + ", ".join(f"{k} {v:.4g}" for k, v in points[-1].items()), flush=True)

    L.seed_everything(seed, workers=False, verbose=False)
    model = model_from_recipe(row.model, recipe, data.data_shape, **row.overrides)
    fit_measured(model, data, steps, every, folder, measure, cached.points, save, spent=cached.spent, label=key)
    return load_runs(CACHE, {})[key]


def pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def report(model: str, runs: dict[str, Any], command: str, changes: dict[str, Any] | None = None) -> str:
    all_rows = rows_of(model, changes)
    cache = runs
    seeded = {row.label: runs_by_seed(runs, row.label) for row in all_rows}
    rows = [row for row in all_rows if seeded[row.label]]
    if not rows:
        raise SystemExit(f"no cached curve of {model} in {CACHE}")
    curve = CURVES[rows[0].measure]
    seed = min(set.intersection(*(set(seeded[row.label]) for row in rows)), default=min(seeded[rows[0].label]))
    runs = {row.label: seeded[row.label][seed] for row in rows if seed in seeded[row.label]}
    rows = [row for row in rows if row.label in runs]
    main, base = (next((r for r in rows if not r.baseline), None), next((r for r in rows if r.baseline), None))
    first = runs[rows[0].label]
    budget = first["recipe_steps"]
    iterations = sorted({p["iteration"] for row in rows for p in runs[row.label]["points"]})
    args = load_recipe(model, rows[0].experiment)["init_args"]
    differ = {key: value for key, value in (changes or {}).items() if args.get(key) != value}
    same = {key: value for key, value in (changes or {}).items() if key not in differ}
    changed = ((" (recipe changed: " + ", ".join(f"`{k}: {v}`" for k, v in sorted(differ.items())) + ")" if differ else "")
               + (" (" + ", ".join(f"`{k}: {v}`" for k, v in sorted(same.items())) + ", the recipe's own)" if same else ""))
    if curve.batch_stats:
        measures = ("Label preservation: the target-domain judge gives G(a) the digit of a (chance 10 %); *running*: "
                    "BatchNorm on its running statistics (eval mode, as section `translation`); *batch*: on the "
                    "statistics of the translated batch (batches of 250, train mode, as the authors' DiscoGAN script "
                    "translates).")
    else:
        measures = (f"{curve.score_words[0].upper()}{curve.score_words[1:]}: {curve.how}; {curve.other_column}: "
                    "as section `translation` measures it.")
    lines = [
        f"## {model}{changed}: {curve.score_words} by iteration, with and without {curve.term} (issue 26)",
        "",
        "Written by `benchmarks/translation_curve.py`; do not edit by hand.",
        "",
        *command_block(command),
        f"Rows, data, judges and measures of section `translation` (`experiments/{model.lower()}/"
        f"{rows[0].experiment}.yaml`, seed {first['seed']}, one thread, {platform.machine()}, torch "
        f"{torch.__version__}); measured every {first['every']} iterations on the eval half of the held-out "
        f"split, to the recipe's budget ({budget:,} iterations, its `max_steps`)"
        f"{' and past it' if iterations[-1] > budget else ''}. {measures} Fit seconds: "
        + ", ".join(f"{row.label} {runs[row.label]['fit_seconds']:.0f}" for row in rows)
        + " (wall, measuring excluded).",
        "",
    ]
    head = ["iteration"]
    for row in rows:
        head += ([f"{row.label}: running", "batch", curve.other_column] if curve.batch_stats
                 else [row.label, curve.other_column])
    lines += ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for it in iterations:
        cells = [f"{it:,}" + (" (recipe)" if it == budget else "")]
        for row in rows:
            p = next((q for q in runs[row.label]["points"] if q["iteration"] == it), None)
            values = ([pct(p[curve.score])] + ([pct(p[f"{curve.score}_batch_stats"])] if curve.batch_stats else [])
                      + [f"{p[curve.other]:.3f}"]) if p else ["-"] * (3 if curve.batch_stats else 2)
            cells += values
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    if main and base:
        m_points, b_points = runs[main.label]["points"], runs[base.label]["points"]
        at = {p["iteration"]: p for p in m_points}, {p["iteration"]: p for p in b_points}
        common = sorted(set(at[0]) & set(at[1]))

        def batch_words(m: dict[str, Any], b: dict[str, Any], colon: str) -> str:
            if not curve.batch_stats:
                return ""
            return (f" (batch statistics{colon} {pct(m[f'{curve.score}_batch_stats'])}"
                    f" vs {pct(b[f'{curve.score}_batch_stats'])})")

        if budget in common:
            m, b = at[0][budget], at[1][budget]
            lines.append(f"- At the recipe's {budget:,} iterations: {pct(m[curve.score])} with the term vs "
                         f"{pct(b[curve.score])} without{batch_words(m, b, ':')}.")
        if common:
            end = common[-1]
            m, b = at[0][end], at[1][end]
            ahead = [it for it in common if at[0][it][curve.score] > at[1][it][curve.score] + 0.05]
            lines.append(f"- At {end:,} iterations, the last point: {pct(m[curve.score])} vs "
                         f"{pct(b[curve.score])}{batch_words(m, b, '')}; with the term ahead by more than 5 points "
                         f"at {len(ahead)} of {len(common)} points.")
            slope = recent_slope(m_points, curve.score)
            best = max(m_points, key=lambda p: p[curve.score])
            lines.append(f"- Trend with the term over its last 4 points: {100 * slope:+.1f} points per 1,000 "
                         f"iterations (least squares); its best point {pct(best[curve.score])} at "
                         f"{best['iteration']:,}.")
            if curve.batch_stats:
                gap = max(abs(p[curve.score] - p[f"{curve.score}_batch_stats"]) for p in m_points)
                lines.append(f"- Running vs batch statistics, with the term: at most {100 * gap:.1f} points apart "
                             "over the curve.")
        variants = [] if changes else variants_of(cache, main.label, base.label, budget, curve)
        helped = [v for v in variants if v["with"] > v["without"] + 0.05]
        cause = None
        if helped:
            v = helped[0]
            cause = (f"with `{v['change']}` the term keeps the digit, {pct(v['with'])} vs {pct(v['without'])} (seed 0, "
                     f"section `{section_name(model, v['changes'])}`): the recipe's "
                     + ", ".join(f"`{key}: {args.get(key)}`" for key in v["changes"])
                     + " keeps it without the term")
        seeds = sorted(set(seeded[main.label]) & set(seeded[base.label]))
        if len(seeds) > 1:
            lines += ["", *seeds_table(curve, seeded[main.label], seeded[base.label], seeds, budget, cause)]
        elif budget in common:
            lines += ["", verdict_line(at[0][budget][curve.score], at[1][budget][curve.score],
                                       runs[main.label]["judge_on_real"], budget, cause)]
        if variants:
            lines += ["", f"Variants of the recipe (`--set`, seed 0), at the recipe's {budget:,} iterations:", "",
                      "| change | with the term | without | difference |", "|---|---:|---:|---:|"]
            lines += [f"| `{v['change']}` | {pct(v['with'])} | {pct(v['without'])} | "
                      f"{100 * (v['with'] - v['without']):+.1f} |" for v in variants]
    return "\n".join(lines)


def variants_of(cache: dict[str, Any], main_label: str, base_label: str, budget: int,
                curve: Curve) -> list[dict[str, Any]]:
    """The seed-0 curves of the recipe with a ``--set`` change (rows labelled ``DTN [tid_weight=0]``), each
    change's runs with and without the term at the recipe's budget."""
    found = []
    for run in cache.values():
        label = run.get("label", "")
        if run.get("seed") != 0 or not label.startswith(main_label + " ["):
            continue
        tag = label[len(main_label) + 1:]
        base = next((r for r in cache.values() if r.get("label") == f"{base_label} {tag}" and r.get("seed") == 0), None)
        score = [{p["iteration"]: p[curve.score] for p in r["points"]}.get(budget) for r in (run, base or {"points": []})]
        if None in score:
            continue
        changes = dict(item.split("=", 1) for item in tag.strip("[]").split(", "))
        found.append({"change": tag.strip("[]"), "changes": {k: yaml.safe_load(v) for k, v in changes.items()},
                      "with": score[0], "without": score[1]})
    return sorted(found, key=lambda v: v["change"])


def seeds_table(curve: Curve, with_term: dict[int, dict[str, Any]], without: dict[int, dict[str, Any]],
                seeds: list[int], budget: int, cause: str | None = None) -> list[str]:
    """Each seed's two runs at the recipe's budget and over their common points; the verdict over the seeds."""
    lines = [f"Seeds {', '.join(map(str, seeds))} (each seed's curves as the table above; the data split, judge and "
             "initialisation follow the seed):", "",
             "| seed | with the term | without | difference | with the term ahead by more than 5 points | "
             "mean difference over the points |", "|---:|---:|---:|---:|---:|---:|"]
    ends, differences = [], []
    for seed in seeds:
        at = ({p["iteration"]: p[curve.score] for p in with_term[seed]["points"]},
              {p["iteration"]: p[curve.score] for p in without[seed]["points"]})
        common = sorted(set(at[0]) & set(at[1]))
        if budget not in common:
            lines.append(f"| {seed} | - | - | - | - | - |")
            continue
        gaps = [at[0][it] - at[1][it] for it in common]
        ends.append((at[0][budget], at[1][budget]))
        differences.append(at[0][budget] - at[1][budget])
        lines.append(f"| {seed} | {pct(at[0][budget])} | {pct(at[1][budget])} | {100 * differences[-1]:+.1f} | "
                     f"{sum(g > 0.05 for g in gaps)} of {len(gaps)} | {100 * sum(gaps) / len(gaps):+.1f} |")
    if len(ends) < 2:
        return lines
    ceiling = sum(with_term[s]["judge_on_real"] for s in seeds) / len(seeds)
    return lines + ["", seeds_verdict([e[0] for e in ends], [e[1] for e in ends], ceiling, budget, cause)]


def seeds_verdict(with_term: list[float], without: list[float], ceiling: float, budget: int,
                  cause: str | None = None) -> str:
    """The claim's verdict over seeds at the recipe's budget: reached when the term is ahead by more than 5 points
    on average and by more than twice the standard error of the paired differences; not reached with its cause
    when the baseline is at the judge's ceiling, or when ``cause`` (a variant of the recipe where the term keeps
    the digit) says which setting of the recipe does the term's work."""
    differences = [w - b for w, b in zip(with_term, without)]
    mean, std = mean_std(differences)
    se = std / len(differences) ** 0.5
    words = (f"{pct(sum(with_term) / len(with_term))} vs {pct(sum(without) / len(without))} on average over "
             f"{len(differences)} seeds at the recipe's {budget:,} iterations (difference {100 * mean:+.1f} points, "
             f"standard error {100 * se:.1f})")
    if mean > 0.05 and mean > 2 * se:
        return f"Verdict over the seeds: the term keeps the digit more often, {words} (**reached**)."
    if sum(without) / len(without) >= ceiling - 0.05:
        return (f"Verdict over the seeds: **not reached, cause shown**: {words}, the baseline within 5 points of the "
                f"judge's {pct(ceiling)} on real targets.")
    if cause:
        return f"Verdict over the seeds: **not reached, cause shown**: {words}; {cause}."
    return f"Verdict over the seeds: {words} (**not reached**)."


def verdict_line(with_term: float, without: float, ceiling: float, budget: int, cause: str | None = None) -> str:
    """The claim's verdict at the recipe's budget (section ``translation``'s rule: ahead by more than 5 points),
    and its cause when the baseline is itself within 5 points of the judge's ceiling (the measure saturates) or
    when ``cause`` names a variant of the recipe where the term keeps the digit."""
    words = f"{pct(with_term)} vs {pct(without)} at the recipe's {budget:,} iterations"
    if with_term > without + 0.05:
        return f"Verdict: the term keeps the digit more often, {words} (**reached**)."
    if without >= ceiling - 0.05:
        return (f"Verdict: **not reached, cause shown**: {words}, the baseline within 5 points of the judge's "
                f"{pct(ceiling)} on real targets: G keeps the digit without the term, so label preservation cannot "
                "show the term's effect on this task.")
    if cause:
        return f"Verdict: **not reached, cause shown**: {words}; {cause}."
    return f"Verdict: {words} (**not reached**)."


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="DiscoGAN", help="a model with unpaired-translation rows")
    parser.add_argument("--steps", type=int, default=None, help="iterations per run (default: the recipe's)")
    parser.add_argument("--every", type=int, default=250)
    parser.add_argument("--seed", type=int_list, default=(0,), help="seeds, comma-separated (0,1,2): one curve "
                        "pair each; the report adds the seeds' spread and a verdict over them")
    parser.add_argument("--only", default="", help="train only this row's label (the others from the cache)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="change an init arg of the model's recipe in every row (repeatable; labels say so)")
    parser.add_argument("--out", type=Path, default=RESULTS_MD)
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    changes = parse_changes(args.set, args.model)
    rows = rows_of(args.model, changes)
    steps = args.steps or load_recipe(args.model, rows[0].experiment)["max_steps"]
    if not args.seed or min(args.seed) < 0:
        parser.error(f"--seed: give one or more seeds >= 0, comma-separated, got {','.join(map(str, args.seed))!r}")
    if steps < 1 or args.every < 1 or steps % args.every:
        parser.error(f"--steps ({steps}) must be a positive multiple of --every ({args.every})")
    if args.only and args.only not in {row.label for row in rows}:
        parser.error(f"--only: {args.only!r} is not a row of {args.model}: {', '.join(r.label for r in rows)}")
    if not args.report_only:
        for row in rows:
            if not args.only or row.label == args.only:
                for seed in args.seed:
                    run_curve(row, steps, args.every, seed)
    text = report(args.model, load_runs(CACHE, {}), training_command(__file__, argv, report_options=("--only",)), changes)
    replace_section(args.out, section_name(args.model, changes), text)
    print(f"wrote section {section_name(args.model, changes)} of {args.out}")


if __name__ == "__main__":
    main()
