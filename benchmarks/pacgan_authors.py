"""PacGAN2 against GAN with the authors' synthetic-data settings: only the packing differs.

Issue 26 (item 3): PacGAN's claim was ``not reached`` with the toy recipes of ``benchmarks/mode_collapse.py``
(LeakyReLU D, lr 2e-4, beta1 0.5, PyTorch's initialisation, D before G). This benchmark trains the
authors' recipe, ``experiments/pacgan/<data>_authors.yaml`` (read from fjxmlzn/PacGAN, see
``gan_lightning/models/pacgan.py``): maxout D (3 x 200 units of 5 pieces), G 4 x 400 with batch norm,
every weight N(0, 0.02), Adam lr 1e-4 with beta1 0.8, D and G updated together from the same weights,
100 packs per batch; their GAN row is the same code with one sample per pack. So both rows here are
``PacGAN`` with that recipe, ``pack`` 1 (GAN, batch 100) and ``pack`` 2 (PacGAN2, batch 200).

Protocol as ``mode_collapse.py`` and the authors' ``MetricLogger``: each seed sets the 100,000 training
points, the initial weights and the noise; after ``--iterations`` (and at every ``--eval-every``, with
noise of its own that leaves training untouched) 2,500 samples of the raw G in eval mode are scored with
``ModeCoverage2D`` (threshold 3 std): modes, high-quality %, reverse KL. No EMA (the authors have none).
The verdict is ``mode_collapse.paired_verdict`` (twice the Welch standard error over seeds) on modes
captured, PacGAN's claim. The authors train 400 epochs of 1,000 batches (400,000 iterations); the
section says what share of that ran and why.

    python benchmarks/pacgan_authors.py [--seeds 3] [--iterations N] [--eval-every N] [--data grid25]
        [--packs 1,2] [--out benchmarks/RESULTS.md] [--section pacgan_authors] [--cache FILE] [--note TEXT]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch
from harness import (
    RESULTS_MD,
    command_block,
    coverage,
    fit_exactly,
    int_list,
    load_average,
    load_pickled_runs,
    load_recipe,
    mean_std,
    notes_lines,
    quiet_lightning,
    replace_section,
    save_pickled_runs,
    training_command,
)
from mode_collapse import (
    EVAL_NOISE_SEED,
    NUM_MODES,
    PACGAN_TABLE1,
    VERDICT_RULE,
    paired_verdict,
)

AUTHORS_ITERATIONS = 400_000  # num_epoch 400 x (num_sample 100,000 / batch_size 100)
DEFAULT_SECTION = "pacgan_authors"
PACKS_PER_BATCH = 100  # the authors' batch_size counts packs
MODES_COLUMN = {"ring8": 0, "grid25": 3}  # of PACGAN_TABLE1's rows
PUBLISHED_NAME = {1: "GAN", 2: "PacGAN2", 3: "PacGAN3", 4: "PacGAN4"}


@dataclasses.dataclass(frozen=True)
class Run:
    kind: str
    pack: int
    seed: int
    iterations: int
    eval_every: int
    num_points: int = 100_000
    num_eval: int = 2_500


def build(run: Run):
    """The authors' recipe with ``run.pack``, and its data (``PACKS_PER_BATCH`` packs per batch)."""
    from gan_lightning.data import Toy2D
    from gan_lightning.models import PacGAN

    recipe = load_recipe("PacGAN", f"{run.kind}_authors")
    kwargs = dict(recipe["init_args"], data_shape=(2,), pack=run.pack)
    model = PacGAN(**kwargs)
    data = Toy2D(kind=run.kind, num_points=run.num_points, batch_size=PACKS_PER_BATCH * run.pack, seed=run.seed)
    return model, data


def score(model, run: Run, std: float) -> dict[str, Any]:
    noise = torch.Generator().manual_seed(EVAL_NOISE_SEED + run.seed)  # its own generator: training untouched
    return coverage(model.sample(run.num_eval, use_ema=False, rng=noise), run.kind, std)


def train(run: Run) -> dict[str, Any]:
    """One seeded run; the scores at every ``eval_every`` iterations and at the end, and the fit's seconds."""
    import lightning as L

    quiet_lightning()
    torch.set_num_threads(1)
    L.seed_everything(run.seed, workers=False, verbose=False)
    model, data = build(run)
    curve: dict[int, dict[str, Any]] = {}

    class Evaluate(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            step = trainer.global_step
            if run.eval_every and step % run.eval_every == 0 and step < run.iterations:
                curve[step] = score(pl_module, run, data.std)

    seconds = fit_exactly(model, data, run.iterations, [Evaluate()], f"PacGAN pack {run.pack}/{run.kind}/{run.seed}")
    curve[run.iterations] = score(model, run, data.std)
    return {"run": run, "curve": curve, "final": curve[run.iterations], "fit_seconds": seconds}


def label(pack: int) -> str:
    return "GAN (pack 1)" if pack == 1 else f"PacGAN{pack}"


def report(results: dict[Run, dict[str, Any]], args: argparse.Namespace, command: str, wall: float,
           load_start: tuple[float, ...]) -> str:
    runs = sorted(results, key=lambda r: (r.kind, r.pack, r.seed))
    iterations = args.iterations
    share = iterations / AUTHORS_ITERATIONS
    lines = [f"## {args.title}", "",
             "Written by `benchmarks/pacgan_authors.py`; do not edit by hand.", "", *command_block(command),
             ("- Recipe: `experiments/pacgan/<data>_authors.yaml`, the authors' settings read in their released code "
             "(fjxmlzn/PacGAN `synthetic_data_experiments/`, file by file in `gan_lightning/models/pacgan.py`): "
             "G 4x400 with batch norm, D 3x200 maxout units of 5 pieces, weights N(0, 0.02), Adam lr 1e-4, betas "
             "(0.8, 0.999), D and G updated together, z in R^2, 100 packs per batch. GAN is the same recipe with "
             "pack 1 (batch 100), PacGAN2 with pack 2 (batch 200): only the packing differs, as in the authors' "
             "`config.py` (`num_packing` [1, 2, 3, 4])."),
             f"- Budget: **{iterations:,} iterations per run, {100 * share:.1f} % of the authors' {AUTHORS_ITERATIONS:,}** "
             "(400 epochs of 1,000 batches). " + (args.budget_reason or ""),
             (f"- Seeds: {sorted({r.seed for r in runs})}; training points: {runs[0].num_points:,}; evaluation: "
             f"{runs[0].num_eval:,} samples of the raw G in eval mode (no EMA), noise seeded per run."),
             (f"- Machine: {platform.platform()}, {os.cpu_count()} CPUs (shared with other jobs), torch "
             f"{torch.__version__}, 1 thread, one run at a time. Wall time: **{wall / 60:.1f} min**; load average "
             f"(1 min) at start {load_start[0]:.1f}, at end {load_average()[0]:.1f}."),
             "",
             ("Metrics (`ModeCoverage2D`, threshold 3 std, as the authors' `MetricLogger`): *modes*: modes that are "
             "the nearest mode of at least one high-quality sample; *high-quality %*: samples within 3 std of their "
             "nearest mode; *reverse KL*: KL(q || uniform) of the high-quality samples' mode histogram. Mean ± "
             "sample std (ddof 1) over seeds."), ""]
    for kind in args.data:
        done = [r for r in runs if r.kind == kind]
        if not done:
            continue
        lines += [f"### {kind} ({NUM_MODES[kind]} modes)", "",
                  (f"| Model | Iterations | Modes (of {NUM_MODES[kind]}) | High-quality % | Reverse KL "
                  "| Per seed: modes / HQ % | Fit s / run |"), "|---|---:|---:|---:|---:|---:|---:|"]
        values: dict[int, list[float]] = {}
        for pack in args.packs:
            finals = [results[r] for r in done if r.pack == pack]
            if not finals:
                continue
            metrics = [f["final"] for f in finals]
            values[pack] = [float(m["modes"]) for m in metrics]
            modes, hq = mean_std(values[pack]), mean_std([100 * m["high_quality"] for m in metrics])
            rkl = mean_std([m["reverse_kl"] for m in metrics])
            per_seed = ", ".join(f"{m['modes']}/{100 * m['high_quality']:.0f}" for m in metrics)
            fit = sum(f["fit_seconds"] for f in finals) / len(finals)
            lines.append(f"| {label(pack)} | {iterations} | {modes[0]:.1f} ± {modes[1]:.1f} | {hq[0]:.1f} ± "
                         f"{hq[1]:.1f} | {rkl[0]:.2f} ± {rkl[1]:.2f} | {per_seed} | {fit:.0f} |")
        steps = sorted({s for r in done for s in results[r]["curve"]})
        if len(steps) > 1:
            lines += ["", "Modes (mean over seeds) along training, raw G:", "",
                      "| Model | " + " | ".join(f"{s:,}" for s in steps) + " |",
                      "|---|" + "---:|" * len(steps)]
            for pack in args.packs:
                curves = [results[r]["curve"] for r in done if r.pack == pack]
                if curves:
                    cells = [f"{sum(c[s]['modes'] for c in curves) / len(curves):.1f}" for s in steps]
                    lines.append(f"| {label(pack)} | " + " | ".join(cells) + " |")
        published = [f"{PUBLISHED_NAME[p]} {PACGAN_TABLE1[PUBLISHED_NAME[p]][MODES_COLUMN[kind]]}"
                     for p in args.packs if p in PUBLISHED_NAME]
        lines += ["", (f"Published modes (PacGAN Table 1, the authors' repository `synthetic_data_experiments/results/"
                  f"Table1.png`, 400,000 iterations, mean ± standard error over 10 trials): {', '.join(published)}."),
                  ""]
        for pack in args.packs:
            if pack == 1 or pack not in values or 1 not in values or min(len(values[pack]), len(values[1])) < 2:
                continue
            v = paired_verdict(values[pack], values[1])
            shown = "not reached (worse)" if v["verdict"] == "worse" else v["verdict"]
            lines += [f"Rule (`paired_verdict`): {VERDICT_RULE}.", "",
                      (f"Verdict: {label(pack)} vs GAN on {kind}, modes captured (PacGAN's claim), raw G, "
                       f"{len(values[pack])} seeds, {iterations:,} iterations: {v['model_mean']:.1f} vs "
                       f"{v['baseline_mean']:.1f}, difference {v['difference']:+.1f}, 2 x SE "
                       f"{2 * v['standard_error']:.1f}: **{shown}**."), ""]
    lines += notes_lines(args.note)
    text = "\n".join(lines)
    replace_section(args.out, args.section, text)
    return text


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    parser.add_argument("--iterations", type=int, default=AUTHORS_ITERATIONS,
                        help=f"iterations per run (default: the authors' {AUTHORS_ITERATIONS:,})")
    parser.add_argument("--eval-every", type=int, default=0, help="also score G every N iterations (0: at the end only)")
    parser.add_argument("--data", default="grid25", help="comma-separated: grid25,ring8 (default grid25)")
    parser.add_argument("--num-points", type=int, default=100_000, help="training points (default 100,000)")
    parser.add_argument("--num-eval", type=int, default=2_500, help="evaluation samples (default 2,500)")
    parser.add_argument("--packs", type=int_list, default=(1, 2), help="packing degrees (default 1,2; 1 is GAN)")
    parser.add_argument("--out", type=Path, default=RESULTS_MD)
    parser.add_argument("--section", default=DEFAULT_SECTION)
    parser.add_argument("--title", default="PacGAN2 vs GAN with the authors' settings (issue 26)")
    parser.add_argument("--budget-reason", default="", help="why the budget is below the authors' (in the report)")
    parser.add_argument("--cache", type=Path, default=None, help="pickle of finished runs: a rerun trains only the rest")
    parser.add_argument("--note", action="append", default=[], help="a line added to the report (repeatable)")
    args = parser.parse_args(argv)
    args.data = [d.strip() for d in args.data.split(",") if d.strip()]
    if any(d not in NUM_MODES for d in args.data):
        parser.error(f"--data: choose from {', '.join(NUM_MODES)}")
    if args.seeds < 1 or args.iterations < 1 or any(p < 1 for p in args.packs):
        parser.error("--seeds, --iterations and --packs must be >= 1")
    if args.iterations < AUTHORS_ITERATIONS and not args.budget_reason:
        parser.error(f"--iterations {args.iterations} is below the authors' {AUTHORS_ITERATIONS:,}: say why in "
                     "--budget-reason (the section prints it)")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    command = training_command(__file__, argv, report_options=("--note", "--budget-reason"))
    cache = load_pickled_runs(args.cache, empty={"results": {}, "wall": 0.0})
    runs = [Run(kind, pack, seed, args.iterations, args.eval_every, args.num_points, args.num_eval)
            for kind in args.data for seed in range(args.seeds) for pack in args.packs]
    load_start = cache.get("load_start") or load_average()
    cache["load_start"] = load_start
    for index, run in enumerate(runs):
        if run in cache["results"]:
            continue
        started = time.perf_counter()
        result = train(run)
        cache["results"][run] = result
        cache["wall"] += time.perf_counter() - started
        final = result["final"]
        print(f"[{index + 1}/{len(runs)}] {label(run.pack):13s} {run.kind} seed {run.seed}: modes {final['modes']} "
              f"hq {100 * final['high_quality']:.1f}% rkl {final['reverse_kl']:.3f} fit {result['fit_seconds']:.0f}s "
              f"load {load_average()[0]:.1f}", flush=True)
        if args.cache is not None:
            save_pickled_runs(cache, args.cache)
    results = {run: cache["results"][run] for run in runs}
    report(results, args, command, cache["wall"], load_start)
    print(f"wrote section {args.section} of {args.out}", flush=True)


if __name__ == "__main__":
    main()
