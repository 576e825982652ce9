"""MAGAN on the 2-D mixtures: why its G collapses there (issue 26). Margins, energies and modes.

Section ``paper_pairs_budget_ae`` found MAGAN's G on 1-3 modes of every seed at its recipe's 10,000
iterations, where EBGAN (the same autoencoder D with a fixed margin of 1.0) covers 20-24 of 25. This script
asks whether the margin is the cause. It trains, on ring8 and grid25 with PacGAN's toy networks (as
``benchmarks/mode_collapse.py`` does, same data, seeds and evaluation):

- ``MAGAN``: the committed recipe (``experiments/magan/<data>.yaml``): D pre-trained for 2 epochs, the
  margin set to the real energy, then adapted;
- ``EBGAN, MAGAN's settings, margin M``: EBGAN with everything MAGAN's recipe sets (no BatchNorm in D,
  no pull-away term, Adam lr 5e-4, betas (0.5, 0.999), the same G and D sizes and ``code_dim``) but a
  fixed margin M: M = 1.0 (EBGAN's) and M = 0.002 (the size of the margin MAGAN's pre-training sets
  on these data);
- ``MAGAN, code_dim 1``: the recipe with a one-number code, an autoencoder that cannot learn the identity
  of the plane.

Every run logs, every 100 iterations, D's margin and mean energies of 500 fixed real points and 500 fakes
(fixed noise), so the section plots how the margin and the energies move. Raw G, 2,500 samples scored with
``ModeCoverage2D`` (modes, high-quality %) as in ``mode_collapse.py``.

    python benchmarks/magan_margin.py [--seeds 0,1,2] [--iterations 10000] [--workers 2]
    python benchmarks/magan_margin.py --report-only    # the section from the cache

Writes section ``magan_margin`` of benchmarks/RESULTS.md and ``benchmarks/magan_margin/*.png``; caches
each finished run in benchmarks/magan_margin/results.json (an interrupted benchmark resumes).
"""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch
from harness import (
    BENCHMARKS,
    RESULTS_MD,
    command_block,
    coverage,
    fit_exactly,
    load_average,
    load_runs,
    mean_std,
    notes_lines,
    parse_seeded_args,
    quiet_lightning,
    replace_section,
    save_runs,
    seeded_runs_parser,
    train_missing,
    training_command,
)
from mode_collapse import DEFAULT_D_HIDDEN, DEFAULT_G_HIDDEN, DEFAULT_LATENT_DIM, RunSpec, model_kwargs

OUT_DIR = BENCHMARKS / "magan_margin"
RESULTS_JSON = OUT_DIR / "results.json"
SECTION = "magan_margin"
KINDS = ("ring8", "grid25")
G_HIDDEN, D_HIDDEN, LATENT_DIM = DEFAULT_G_HIDDEN, DEFAULT_D_HIDDEN, DEFAULT_LATENT_DIM  # mode_collapse.py's toy sizes
TRACE_EVERY, TRACE_POINTS = 100, 500
# This script's evaluation noise: torch.Generator seeded EVAL_NOISE_SEED + seed (mode_collapse.py's is 10,000 + seed;
# with it, this script's MAGAN samples are bitwise mode_collapse.py's: the training is the same, trace and all).
EVAL_NOISE_SEED = 1234
LIMITS = {"ring8": 1.6, "grid25": 5.0}  # the plots' half-width: the mixture's extent

#: short name (``--variants``) -> (label in the section, model, init args changed from its committed recipe).
MAGAN_SETTINGS = {"d_norm": "none", "pullaway_weight": 0.0, "lr_g": 0.0005, "lr_d": 0.0005, "betas": [0.5, 0.999]}
VARIANTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "magan": ("MAGAN (recipe)", "MAGAN", {}),
    "ebgan_margin_1": ("EBGAN, MAGAN's settings, margin 1.0", "EBGAN", {**MAGAN_SETTINGS, "margin": 1.0}),
    "ebgan_margin_0.002": ("EBGAN, MAGAN's settings, margin 0.002", "EBGAN", {**MAGAN_SETTINGS, "margin": 0.002}),
    "magan_code_1": ("MAGAN, code_dim 1", "MAGAN", {"code_dim": 1}),
}
LABELS = {label: name for name, (label, _, _) in VARIANTS.items()}


def build(job: dict[str, Any]):
    from gan_lightning import models

    _, model, changes = VARIANTS[LABELS[job["variant"]]]
    kwargs = model_kwargs(RunSpec(model, job["kind"], job["seed"], job["iterations"]))  # the recipe at the toy sizes
    kwargs.update(changes)
    return getattr(models, model)(**kwargs)


def make_trace_callback(real: torch.Tensor, noise: torch.Tensor, trace: list[dict[str, float]]):
    import lightning as L

    class Trace(L.Callback):
        """Every ``TRACE_EVERY`` iterations: the margin D's loss uses and the mean energies of fixed points."""

        def __init__(self) -> None:
            self.iterations = 0

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
            self.iterations += 1
            if self.iterations % TRACE_EVERY:
                return
            state = module.training_state
            margin = float(state.margin) if "margin" in state else float(module.margin)
            modes = [(net, net.training) for net in (module.generator, module.discriminator)]
            for net, _ in modes:  # eval: a BatchNorm's running statistics stay the training's
                net.eval()
            with torch.no_grad():
                fake = module.generator(noise)
                trace.append({"iteration": self.iterations, "margin": margin,
                              "energy_real": float(module.discriminate(real).mean()),
                              "energy_fake": float(module.discriminate(fake).mean())})
            for net, training in modes:
                net.train(training)

    return Trace()


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    import lightning as L

    from gan_lightning.data import Toy2D

    quiet_lightning()
    torch.set_num_threads(1)
    L.seed_everything(job["seed"], workers=False, verbose=False)
    data = Toy2D(kind=job["kind"], num_points=100_000, batch_size=100, seed=job["seed"])
    model = build(job)
    fixed = torch.Generator().manual_seed(job["seed"] + 99)
    data.setup("fit")
    points = data.train_set.tensors[0]
    real = points[torch.randperm(len(points), generator=fixed)[:TRACE_POINTS]]
    noise = torch.randn(TRACE_POINTS, LATENT_DIM, generator=fixed)
    trace: list[dict[str, float]] = []
    fit_seconds = fit_exactly(model, data, job["iterations"], [make_trace_callback(real, noise, trace)],
                              f"{job['variant']}/{job['kind']}/seed {job['seed']}")
    samples = model.sample(2500, use_ema=False, rng=torch.Generator().manual_seed(EVAL_NOISE_SEED + job["seed"]))
    scores = coverage(samples, job["kind"], data.std)
    return {"key": job["key"], "variant": job["variant"], "kind": job["kind"], "seed": job["seed"],
            "iterations": job["iterations"], "modes": scores["modes"], "high_quality": scores["high_quality"],
            "trace": trace, "samples": samples[:500].round(decimals=4).tolist(), "fit_seconds": fit_seconds}


def jobs_of(args) -> list[dict[str, Any]]:
    labels = [VARIANTS[name][0] for name in args.variants]
    return [{"key": f"{label}|{kind}|{seed}|{args.iterations}", "variant": label, "kind": kind, "seed": seed,
             "iterations": args.iterations}
            for seed in args.seeds for label in labels for kind in args.data]


def plot(results: dict[str, Any], args, folder: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    names = []
    seed = args.seeds[0]
    for kind in args.data:
        runs = [results.get(f"{VARIANTS[name][0]}|{kind}|{seed}|{args.iterations}") for name in args.variants]
        runs = [run for run in runs if run is not None]
        if not runs:
            continue
        fig, axes = plt.subplots(2, len(runs), figsize=(3.6 * len(runs), 7), squeeze=False)
        for column, run in enumerate(runs):
            trace = run["trace"]
            steps = [t["iteration"] for t in trace]
            top = axes[0][column]
            for key, style in (("margin", "k-"), ("energy_real", "g-"), ("energy_fake", "r-")):
                top.plot(steps, [max(t[key], 1e-6) for t in trace], style, label=key.replace("_", " "), lw=1)
            top.set_yscale("log")
            top.set_title(run["variant"], fontsize=8)
            top.set_xlabel("iteration")
            if column == 0:
                top.legend(fontsize=7)
            points = torch.tensor(run["samples"])
            bottom = axes[1][column]
            bottom.scatter(points[:, 0], points[:, 1], s=2, alpha=0.5)
            bottom.set_title(f"seed {seed}: {run['modes']} modes, {100 * run['high_quality']:.0f} % HQ", fontsize=8)
            bottom.set_xlim(-LIMITS[kind], LIMITS[kind])
            bottom.set_ylim(-LIMITS[kind], LIMITS[kind])
            bottom.set_aspect("equal")
        fig.suptitle(f"{kind}: margin and mean energies (log scale; fixed 500 real points and noise), samples")
        fig.tight_layout()
        name = f"{kind}.png"
        fig.savefig(folder / name, dpi=80)
        plt.close(fig)
        names.append(name)
    return names


def report(results: dict[str, Any], args, wall: float | None) -> str:
    lines = ["## MAGAN on the 2-D mixtures: the margin its rule sets, and what it does to G (issue 26)", "",
             "Written by `benchmarks/magan_margin.py`; do not edit by hand.", "",
             *command_block(training_command(__file__, args.argv)),
             f"- {args.iterations:,} iterations (MAGAN's and EBGAN's recipes' budget), batches of 100, seeds "
             f"{args.seeds}; PacGAN's toy networks (G {list(G_HIDDEN)}, D {list(D_HIDDEN)}, latent dim 2) and "
             "the data and evaluation of `mode_collapse.py` (raw G, 2,500 samples, `ModeCoverage2D`, 3 std), but "
             f"evaluation noise seeded {EVAL_NOISE_SEED} + seed (`mode_collapse.py`: 10,000 + seed), so the MAGAN "
             "rows differ from section `paper_pairs_budget_ae`'s by the noise alone (the same training).",
             f"- MAGAN's settings: {MAGAN_SETTINGS} (MAGAN's recipe; EBGAN's own recipe has BatchNorm in D, "
             "pull-away 0.1 and lr 2e-4); every recipe's `code_dim` is 2.",
             f"- Trace: every {TRACE_EVERY} iterations the margin in D's loss and D's mean energy (squared "
             f"reconstruction error) on {TRACE_POINTS} fixed real points and {TRACE_POINTS} fakes of fixed noise.",
             f"- Machine: {platform.platform()}, 2 CPUs, 1 thread per run; load average when this was "
             f"written {load_average()[0]:.1f}."
             + (f" Wall time of the last invocation: {wall / 60:.1f} min." if wall else ""), ""]
    for kind in args.data:
        lines += [f"### {kind}", "", "| Variant | Modes | High-quality % | Per seed: modes / HQ % | "
                  "Margin at the end | Real energy at the end | Fake energy at the end | Fit s / run |",
                  "|---|---:|---:|---|---:|---:|---:|---:|"]
        for variant in (VARIANTS[name][0] for name in args.variants):
            runs = [results[k] for k in (f"{variant}|{kind}|{s}|{args.iterations}" for s in args.seeds) if k in results]
            if not runs:
                continue
            modes, hq = mean_std([r["modes"] for r in runs]), mean_std([100 * r["high_quality"] for r in runs])
            ends = [r["trace"][-1] for r in runs]
            median = lambda key: sorted(e[key] for e in ends)[len(ends) // 2]  # noqa: E731
            lines.append(f"| {variant} | {modes[0]:.1f} ± {modes[1]:.1f} | {hq[0]:.1f} ± {hq[1]:.1f} | "
                         + ", ".join(f"{r['modes']}/{100 * r['high_quality']:.0f}" for r in runs)
                         + f" | {median('margin'):.4f} | {median('energy_real'):.4f} | {median('energy_fake'):.4f} | "
                         f"{sum(r['fit_seconds'] for r in runs) / len(runs):.0f} |")
        lines += ["", "Energies and margin: the median over seeds. Mean ± sample std over seeds.", ""]
    folder = args.cache.parent
    for name in plot(results, args, folder):
        lines.append(f"![{name[:-4]}]({folder.name}/{name})")
    lines += ["", *notes_lines(args.note)]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = seeded_runs_parser(__doc__.split("\n\n")[0], "iterations per run (default: MAGAN's recipe, 10,000)")
    parser.set_defaults(seeds="0,1,2")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"comma-separated variants (default: all): {', '.join(VARIANTS)}")
    parser.add_argument("--data", default=",".join(KINDS), help="comma-separated: ring8,grid25")
    parser.add_argument("--cache", type=Path, default=RESULTS_JSON, help="JSON of the finished runs")
    parser.add_argument("--out", type=Path, default=RESULTS_MD, help="the markdown file whose section is written")
    parser.add_argument("--note", action="append", default=[],
                        help="a line added to the section's notes (repeatable; not part of the command it quotes)")
    args = parse_seeded_args(parser, argv, recipe=("MAGAN", "grid25"))
    args.argv = sys.argv[1:] if argv is None else list(argv)
    unknown = [v for v in args.variants.split(",") if v not in VARIANTS]
    if unknown:
        parser.error(f"--variants: unknown {unknown}; choose from {', '.join(VARIANTS)}")
    args.variants = args.variants.split(",")
    args.data = args.data.split(",")
    if any(kind not in KINDS for kind in args.data):
        parser.error(f"--data: {args.data}; choose from {', '.join(KINDS)}")
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    results = load_runs(args.cache, empty={})
    started = time.perf_counter()
    if not args.report_only:
        train_missing(jobs_of(args), run_one, results, lambda runs: save_runs(runs, args.cache, one_line_below=2),
                      workers=args.workers,
                      on_done=lambda run, s: print(f"{run['key']}: modes {run['modes']}, HQ "
                                                   f"{100 * run['high_quality']:.1f} %, margin "
                                                   f"{run['trace'][-1]['margin']:.4f} ({s:.0f} s)", flush=True))
    replace_section(args.out, SECTION, report(results, args, None if args.report_only
                                                 else time.perf_counter() - started))


if __name__ == "__main__":
    main()
