"""The vanishing-gradient experiment of Arjovsky & Bottou 2017 (figure 2) on MNIST5k.

Published: a DCGAN trained for 1, 10 and 25 epochs, then G fixed and a discriminator trained from
scratch; the norm of the gradient of G's original (minimax) cost log(1 - D(G(z))) decays quickly, "in
the best case 5 orders of magnitude after 4000 discriminator iterations" (figure 2); the alternative
cost -log D(G(z)) keeps (and grows) its gradient, at the price of instability (figure 3).

Protocol: the committed ``experiments/dcgan/mnist5k.yaml`` recipe (28 px, widths 32, batch 64,
Adam 2e-4 (0.5, 0.999)), trained ``--epochs`` epochs of the 4,500 training digits each (one run per
budget, seed 0), then ``--alone`` iterations (the paper's 4,000) of D alone, from its initial
weights and a fresh optimizer (``VanishingGradients(freeze_g_at=...)``: G's learning rate 0); both
gradient norms are read on 64 fixed noise vectors every ``--every`` iterations, the first on the
new D. Verdict per run: the minimax norm at the end is below a tenth of its value at the freeze,
and the non-saturating norm at the end is at least half of its value at the freeze.

    python benchmarks/vanishing_gradients.py [--epochs 1,10,25] [--alone 4000] [--workers 2] [--report-only]

Runs are cached in ``benchmarks/vanishing_gradients/results.json``; writes section
``vanishing_gradients`` of benchmarks/RESULTS.md and ``benchmarks/vanishing_gradients/norms.png``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from harness import (BENCHMARKS, RESULTS_MD, build_mnist5k, fit_exactly, int_list, load_runs, quiet_lightning,
                     replace_section, train_missing, training_command)

OUT_DIR = BENCHMARKS / "vanishing_gradients"
CACHE = OUT_DIR / "results.json"


def run_key(epochs: int, alone: int, every: int) -> str:
    return f"DCGAN/epochs{epochs}/alone{alone}/every{every}"


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    """Train ``epochs`` epochs, then D alone for ``alone`` iterations; the readings."""
    import lightning as L
    import torch

    from gan_lightning.callbacks import VanishingGradients

    torch.set_num_threads(1)
    quiet_lightning()
    L.seed_everything(job["seed"])
    options = {"seed": job["seed"], **({"train_size": job["train_size"]} if job.get("train_size") else {})}
    model, data = build_mnist5k("DCGAN", "mnist5k", data_options=options)
    data.setup("fit")
    per_epoch = len(data.train_dataloader())
    freeze = job["epochs"] * per_epoch
    diagnostic = VanishingGradients(freeze_g_at=freeze, every_n_steps=job["every"], num_samples=64)
    seconds = fit_exactly(model, data, freeze + job["alone"], callbacks=[diagnostic], label=job["key"])
    readings = [row for row in diagnostic.history if row[0] >= freeze]
    return {"key": job["key"], "epochs": job["epochs"], "iterations_per_epoch": per_epoch, "freeze_g_at": freeze,
            "alone": job["alone"], "seed": job["seed"], "fit_seconds": seconds,
            "readings": [{"iteration": i, "minimax": a, "nonsaturating": b} for i, a, b in readings]}


def verdict(run: dict[str, Any]) -> tuple[bool, bool]:
    """(minimax fell below a tenth, non-saturating kept at least half) from the freeze to the end."""
    first, last = run["readings"][0], run["readings"][-1]
    return last["minimax"] < 0.1 * first["minimax"], last["nonsaturating"] >= 0.5 * first["nonsaturating"]


def plot(runs: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharex=True)
    for run in runs:
        steps = [r["iteration"] - run["freeze_g_at"] for r in run["readings"]]
        for ax, key in zip(axes, ("minimax", "nonsaturating")):
            ax.plot(steps, [r[key] for r in run["readings"]], label=f"{run['epochs']} epoch(s)")
    for ax, title in zip(axes, ("minimax: log(1 - D(G(z)))", "non-saturating: -log D(G(z))")):
        ax.set_yscale("log")
        ax.set_xlabel("iterations of D alone")
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("||grad of G's cost||")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(results: dict[str, Any], args: argparse.Namespace) -> str:
    runs = sorted((r for r in results.values() if r["epochs"] in args.epochs and r["alone"] == args.alone
                   and r["readings"] and r["readings"][-1]["iteration"] - r["freeze_g_at"] == args.alone),
                  key=lambda r: r["epochs"])
    picture = args.cache.parent / "norms.png"
    if runs:
        plot(runs, picture)
    marks = [0, args.alone // 4, args.alone // 2, args.alone]
    lines = ["## The vanishing-gradient experiment (Arjovsky & Bottou 2017, issue 28)", "",
             f"Command: `{args.command}`. DCGAN's committed recipe (`experiments/dcgan/mnist5k.yaml`: 28 px, widths 32, "
             "batch 64, Adam 2e-4 (0.5, 0.999)), seed 0, trained the given epochs, then G frozen (learning rate 0, "
             f"`gan_lightning.callbacks.VanishingGradients`) and D trained alone from its initial weights and a "
             f"fresh optimizer (the paper's D \"from scratch\") for {args.alone:,} iterations (column 0: the new D); "
             "the norm of the gradient of G's cost with respect to G's parameters on 64 fixed noise vectors, "
             "networks in training mode (BatchNorm on the batch), both costs on the same D. One thread per run.", "",
             "| G trained | cost | " + " | ".join(f"D alone {m:,}" for m in marks) + " | end / start | verdict |",
             "|---|---|" + "---:|" * len(marks) + "---:|---|"]
    for run in runs:
        by_step = {r["iteration"] - run["freeze_g_at"]: r for r in run["readings"]}
        fell, kept = verdict(run)
        for key, ok, claim in (("minimax", fell, "falls below 1/10"), ("nonsaturating", kept, "keeps at least 1/2")):
            values = [f"{by_step[m][key]:.3g}" if m in by_step else "-" for m in marks]
            ratio = by_step[args.alone][key] / by_step[0][key]
            lines.append(f"| {run['epochs']} epoch(s) ({run['freeze_g_at']:,} it.) | {key} | " + " | ".join(values)
                         + f" | {ratio:.3g} | {claim}: {'yes' if ok else 'no'} |")
    met = [all(verdict(r)) for r in runs]
    outcome = "reached" if met and all(met) else "reached in part" if any(met) else "not reached"
    lines += ["", f"Claim (the minimax cost's gradient vanishes as D is trained alone, the non-saturating cost's "
                  f"does not): **{outcome}** ({sum(met)} of {len(met)} runs). Published: \"in the best case 5 orders "
                  f"of magnitude after 4000 discriminator iterations\" (figure 2).", "",
              f"![gradient norms while D trains alone]({Path(os.path.relpath(picture, args.out.parent)).as_posix()})", "",
              "Fit seconds: " + ", ".join(f"{r['epochs']} epoch(s) {r['fit_seconds']:.0f}" for r in runs) + "."]
    text = "\n".join(lines)
    replace_section(args.out, "vanishing_gradients", text)
    return text


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int_list, default=(1, 10, 25), help="epochs of G and D before the freeze")
    parser.add_argument("--alone", type=int, default=4000, help="iterations of D alone (the paper's 4,000)")
    parser.add_argument("--every", type=int, default=100, help="iterations between readings")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-size", type=int, default=None, help="training digits (default: all 4,500; tests)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--report-only", action="store_true", help="rewrite the section from the cache")
    parser.add_argument("--out", type=Path, default=RESULTS_MD)
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args(argv)
    args.command = training_command(__file__, argv)
    results = load_runs(args.cache)
    if not args.report_only:
        jobs = [{"key": run_key(e, args.alone, args.every) + (f"/train{args.train_size}" if args.train_size else ""),
                 "epochs": e, "alone": args.alone, "every": args.every, "seed": args.seed,
                 "train_size": args.train_size} for e in args.epochs]
        results = train_missing(jobs, run_one, results, args.cache, workers=args.workers)
    print(write_report(results, args))


if __name__ == "__main__":
    main()
