"""How much faster are N seeds of a toy recipe trained as one batched model than N separate runs?

The same N runs (``benchmarks/mode_collapse.py``'s: the model's ``experiments/<model>/<data>.yaml``
recipe, PacGAN's toy networks G 4x400 / D 3x200, z in R^2, batch 100, EMA of G), trained two
ways in one process, one thread:

  separate:  ``mode_collapse.train_one`` for each seed, one after the other (``seed_everything``,
             ``Toy2D``, the model, ``Trainer.fit``), as ``mode_collapse.py`` runs them by default;
  batched:   ``mode_collapse.train_seeds_batched``: all seeds as one model (``benchmarks/batched.py``),
             as ``mode_collapse.py --batched-seeds`` runs them.

Timed: everything each way takes to train the N runs (building models and data, Trainer
set-up, the training loops), in wall time and in CPU time of this process (``time.process_time``,
which other processes on a shared machine barely change); the training loops alone are shown
too. A short untimed warm-up of both comes first (imports, first calls). Then the script checks
that both ways trained the same runs: the max abs difference over every weight, BatchNorm
buffer and EMA weight of the N runs.

The last line is ``speed-up (separate time / batched time): X.XX``, by ``--clock`` (default cpu).
Writes its section (``batched_seeds``) of benchmarks/RESULTS.md.

    python benchmarks/batched_seeds.py [--seeds 10] [--iterations 300] [--model GAN] [--data ring8]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time
from pathlib import Path

import torch

import mode_collapse
from harness import RESULTS_MD, command_line, int_list, load_average, replace_section

DEFAULT_SEEDS = 10
DEFAULT_ITERATIONS = 300
SECTION = "batched_seeds"


def timed(fn):
    """``fn()``, its wall seconds and the CPU seconds of this process."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def state_difference(a, b) -> float:
    sa, sb = a.state_dict(), b.state_dict()
    if sa.keys() != sb.keys():
        raise RuntimeError("the batched and the separate models have different state keys")
    return max((sa[k].double() - sb[k].double()).abs().max().item() for k in sa)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=DEFAULT_SEEDS, help=f"seeds 0..N-1 (default {DEFAULT_SEEDS})")
    parser.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS,
                        help=f"iterations (batches) per run (default {DEFAULT_ITERATIONS})")
    parser.add_argument("--model", default="GAN", help="a model benchmarks/batched.py supports (default GAN)")
    parser.add_argument("--data", default="ring8", choices=mode_collapse.DATA_KINDS)
    parser.add_argument("--num-points", type=int, default=100_000, help="training points (default 100k)")
    parser.add_argument("--g-hidden", type=int_list, default=mode_collapse.DEFAULT_G_HIDDEN)
    parser.add_argument("--d-hidden", type=int_list, default=mode_collapse.DEFAULT_D_HIDDEN)
    parser.add_argument("--threads", type=int, default=1, help="torch threads, both ways (default 1)")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu", help="clock of the last line (default cpu)")
    parser.add_argument("--out", type=Path, default=RESULTS_MD)
    args = parser.parse_args(argv)
    from batched import SUPPORTED_MODELS

    if args.model not in SUPPORTED_MODELS:
        parser.error(f"--model {args.model}: benchmarks/batched.py supports {', '.join(SUPPORTED_MODELS)}")
    if args.seeds < 1 or args.iterations < 1:
        parser.error("--seeds and --iterations must be >= 1")
    return args


def main(argv=None) -> dict[str, float]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    specs = [mode_collapse.RunSpec(model=args.model, kind=args.data, seed=seed, iterations=args.iterations,
                                   num_points=args.num_points, g_hidden=tuple(args.g_hidden),
                                   d_hidden=tuple(args.d_hidden), threads=args.threads)
             for seed in range(args.seeds)]
    runs = f"{args.seeds} seeds x {args.iterations} iterations"
    load = load_average()[0]
    print(f"{args.model} on {args.data}: {runs} (batch {specs[0].batch_size}, G {list(args.g_hidden)}, "
          f"D {list(args.d_hidden)}, EMA of G), {args.threads} thread(s), load average {load:.1f}", flush=True)

    warm = [dataclasses.replace(specs[0], seed=seed, iterations=2) for seed in (0, 1)]
    mode_collapse.train_one(warm[0])
    mode_collapse.train_seeds_batched(warm)

    (batched, _, batched_fit), batched_wall, batched_cpu = timed(lambda: mode_collapse.train_seeds_batched(specs))
    print(f"batched ({runs}): wall {batched_wall:.1f} s (training loop {batched_fit:.1f} s), "
          f"cpu {batched_cpu:.1f} s", flush=True)
    separate, separate_wall, separate_cpu = timed(lambda: [mode_collapse.train_one(spec) for spec in specs])
    separate_fit = sum(fit for _, _, fit in separate)
    print(f"separate runs ({runs}): wall {separate_wall:.1f} s (Trainer.fit {separate_fit:.1f} s), "
          f"cpu {separate_cpu:.1f} s", flush=True)

    difference = max(state_difference(model, got) for (model, _, _), got in zip(separate, batched))
    print(f"max abs difference batched vs separate: {difference:.3g} (every weight, BatchNorm buffer and "
          f"EMA weight of the {args.seeds} runs)")
    figures = {"wall": separate_wall / batched_wall, "cpu": separate_cpu / batched_cpu,
               "loop": separate_fit / batched_fit, "difference": difference}
    print(f"speed-up wall {figures['wall']:.2f}, cpu {figures['cpu']:.2f}, training loops alone (wall) "
          f"{figures['loop']:.2f}")

    end_load = load_average()[0]
    replace_section(args.out, SECTION, "\n".join([
        "## Many seeds in one process: batched vs separate runs",
        "",
        "Written by `benchmarks/batched_seeds.py`; do not edit by hand.",
        "",
        "```sh",
        command_line(__file__, argv),
        "```",
        "",
        f"The same {args.seeds} runs of `mode_collapse.py` (the model's {args.data} recipe, G "
        f"{list(args.g_hidden)}, D {list(args.d_hidden)}, batch {specs[0].batch_size}, EMA of G), trained as "
        "separate Lightning runs one after the other and as one batched model (`benchmarks/batched.py`, "
        "`mode_collapse.py --batched-seeds`), one after the other in one process, "
        f"{args.threads} thread(s). Times include building the models, data and trainers; the training "
        "loops alone (wall) in the last speed-up column. *Max abs difference*: over every weight, BatchNorm "
        "buffer and EMA weight of the runs, batched vs separate.",
        "",
        "Why not N times faster: on a CPU each seed's arithmetic is done either way. Profiled when this "
        "script was written (`torch.profiler`, 10 seeds), the batched loop spends about half its time in "
        "matrix products and a quarter in Adam's element-wise updates, work a separate run does too; "
        "batching saves the per-iteration cost of ten Lightning loops and their small Python-dispatched "
        "operations. A GPU, which one toy run leaves mostly idle, would gain more (not measured here).",
        "",
        "| Model | Data | Seeds | Iterations | Separate wall s | Batched wall s | Speed-up (wall) "
        "| Separate CPU s | Batched CPU s | Speed-up (CPU) | Speed-up (training loops) | Max abs difference |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {args.model} | {args.data} | {args.seeds} | {args.iterations} | {separate_wall:.1f} | {batched_wall:.1f} "
        f"| **{figures['wall']:.2f}** | {separate_cpu:.1f} | {batched_cpu:.1f} | **{figures['cpu']:.2f}** "
        f"| {figures['loop']:.2f} | {difference:.3g} |",
        "",
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs shared with other jobs (load average "
        f"{load:.1f} at start, {end_load:.1f} at end), torch {torch.__version__}.",
    ]))
    print(f"wrote section {SECTION} of {args.out}")
    print(f"speed-up (separate time / batched time): {figures[args.clock]:.2f}")
    return figures


if __name__ == "__main__":
    main()
