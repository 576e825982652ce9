"""The metrics chapter's measured claims (issue 28): the birthday-paradox support estimate of DCGAN and of a
deliberately collapsed generator on MNIST5k, and Parzen-window against AIS log-likelihoods of the same
generators, showing where they disagree.

Generators. DCGAN trained by its committed experiment (``experiments/dcgan/mnist5k.yaml``: 5,000
iterations at batch 64, its EMA generator; ``gan-lightning fit`` on one CPU thread under ``nice``),
evaluated at the checkpoints of ``--checkpoints`` (iterations), and a **collapsed** generator: the final
DCGAN with its noise shrunk, G(0.05 z), z ~ N(0, I), so every sample lies near G(0) (a generator of the
same architecture whose support is deliberately small; it is still a latent-variable model, so AIS applies).

Measured per generator, against MNIST5k's 500 held-out digits (``gan_lightning.evaluation``, seed 0):

- ``birthday`` on the ``digits`` features (``--num-samples`` samples; batch sizes 10-320, 200 batches
  each; near-duplicate threshold: the 1 % quantile of the real digits' nearest-neighbour distances),
  with the same estimate on the real held-out digits as the scale;
- ``parzen`` in pixel space (``--feature_extractor none``: the protocol of Goodfellow et al. 2014) and on
  the ``digits`` features: sigma chosen on half the held-out digits, the mean log-likelihood of the other
  half, nats per image;
- ``ais`` (Wu et al. 2017) in pixel space: ``--ais-real`` held-out digits, ``--ais-chains`` chains of
  ``--ais-steps`` annealing steps, observation noise ``--ais-sigma`` (pixels in [-1, 1]);
- ``mmd`` and ``memorization`` on the ``digits`` features, for the record.

Finished evaluations are cached in ``benchmarks/metrics_chapter/runs.json`` (``--report-only``
rebuilds the section from it); training goes to ``runs/metrics_chapter/`` (not committed) and is
skipped when its last checkpoint is there.

    python benchmarks/metrics_chapter.py [--steps 5000] [--checkpoints 1000,2000,5000] [--report-only]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from report import load_runs, replace_section, save_runs, training_command

REPO = Path(__file__).resolve().parent.parent
EXPERIMENT = REPO / "experiments" / "dcgan" / "mnist5k.yaml"
RUN_DIR = REPO / "runs" / "metrics_chapter" / "dcgan_mnist5k"
CACHE = REPO / "benchmarks" / "metrics_chapter" / "runs.json"
SECTION = "metrics_chapter"
SHRINK = 0.05
BATCH_SIZES = [10, 20, 40, 80, 160, 320]


# ----------------------------------------------------------------------------- generators
def train(steps: int) -> float:
    """``gan-lightning fit`` of the committed experiment, one thread, ``nice``; returns the seconds it took."""
    if checkpoint_for(steps) is not None:
        return 0.0
    # niceness 10 in all (the script may already run under nice: no second increment on top of it)
    increment = max(0, 10 - os.nice(0))
    command = ["nice", "-n", str(increment), str(Path(sys.executable).with_name("gan-lightning")), "fit", "--config",
               str(EXPERIMENT), "--trainer.max_steps", str(steps), "--trainer.default_root_dir", str(RUN_DIR),
               "--trainer.logger", "false", "--trainer.accelerator", "cpu"]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    print(" ".join(command), flush=True)
    started = time.perf_counter()
    subprocess.run(command, check=True, env=environment, cwd=REPO)
    return time.perf_counter() - started


def checkpoint_for(iteration: int) -> Path | None:
    """The checkpoint written at ``iteration`` (``epoch=E-step=N.ckpt``, N counting iterations)."""
    found = sorted((RUN_DIR / "checkpoints").glob(f"epoch=*-step={iteration}.ckpt"))
    return found[-1] if found else None


class ShrunkNoise:
    """A generator whose noise is multiplied by ``scale`` before G: G(scale z), z ~ N(0, I). With a small
    scale every sample lies near G(0): a collapsed generator that is still a latent-variable model."""

    def __init__(self, model: Any, scale: float) -> None:
        self.model, self.scale = model, scale
        self.device = model.device
        self.generator, self.generator_ema = model.generator, model.generator_ema
        self.sampling_generator = model.sampling_generator
        self.translates = False

    def conditions(self) -> tuple:
        return ()

    def sample_noise(self, num: int, rng=None, truncation=None):
        return self.model.sample_noise(num, rng=rng, truncation=truncation)

    def generate(self, z, labels=None, net=None):
        return self.model.generate(z * self.scale, net=net)

    def sample(self, num: int, labels=None, use_ema: bool = True, rng=None):
        return self.model.sample(noise=self.sample_noise(num, rng) * self.scale, use_ema=use_ema)


# ----------------------------------------------------------------------------- evaluation
def evaluate(name: str, model: Any, args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from gan_lightning.data import MNIST5k
    from gan_lightning.evaluation import evaluate_generator

    torch.set_num_threads(1)
    data = MNIST5k(image_size=28, channels=1)
    common = dict(num_samples=args.num_samples, batch_size=250, seed=0, progress=False)
    started = time.perf_counter()
    features = evaluate_generator(
        model, data, "birthday,parzen,mmd,memorization", extractor="digits", **common,
        metric_options={"birthday_batch_sizes": BATCH_SIZES, "birthday_trials": 200})
    pixels = evaluate_generator(
        model, data, "parzen,ais", extractor=None, **common,
        metric_options={"ais_sigma": args.ais_sigma, "ais_steps": args.ais_steps, "ais_chains": args.ais_chains,
                        "ais_num_real": args.ais_real, "ais_leapfrog_steps": 5})
    keep = ("birthday_support", "birthday_real_support", "birthday_batch_size", "birthday_duplicate_rate",
            "birthday_threshold", "birthday_rates", "mmd", "memorization_ratio", "memorization_fraction")
    run = {key: features[key] for key in keep}
    run.update({f"digits_{key}": features[key] for key in ("parzen_log_likelihood", "parzen_std_error", "parzen_sigma")})
    run.update({f"pixel_{key}": pixels[key] for key in ("parzen_log_likelihood", "parzen_std_error", "parzen_sigma")})
    run.update({key: pixels[key] for key in ("ais_log_likelihood", "ais_std_error", "ais_num_real")})
    run.update({"key": name, "num_samples": args.num_samples, "num_real": features["num_real"],
                "ais_sigma": args.ais_sigma, "ais_steps": args.ais_steps, "ais_chains": args.ais_chains,
                "seconds": time.perf_counter() - started})
    print(f"{name}: birthday {run['birthday_support']:.4g}, parzen (pixels) {run['pixel_parzen_log_likelihood']:.1f}, "
          f"ais {run['ais_log_likelihood']:.1f} ({run['seconds']:.0f} s)", flush=True)
    return run


def generators(args: argparse.Namespace):
    """``(name, loader)`` of each generator to evaluate, in the report's order."""
    from gan_lightning.checkpoints import load_model

    def trained(iteration: int):
        return lambda: load_model(checkpoint_for(iteration), map_location="cpu")

    for iteration in args.checkpoints:
        yield f"DCGAN, {iteration} iterations", trained(iteration)
    last = max(args.checkpoints)
    yield f"collapsed: DCGAN {last} it., G({SHRINK} z)", lambda: ShrunkNoise(trained(last)(), SHRINK)


# ----------------------------------------------------------------------------- report
def _ranks(values: list[float]) -> list[int]:
    order = sorted(range(len(values)), key=lambda i: -values[i])
    ranks = [0] * len(values)
    for place, index in enumerate(order, 1):
        ranks[index] = place
    return ranks


def report(runs: dict[str, dict[str, Any]], names: list[str], args: argparse.Namespace, train_seconds: float) -> str:
    rows = [runs[name] for name in names if name in runs]
    if not rows:
        return "## Metrics chapter: birthday paradox, Parzen vs AIS (issue 28)\n\nNo finished evaluation yet."
    real_support = rows[0]["birthday_real_support"]

    def support(value: float) -> str:
        return "inf (no duplicate)" if math.isinf(value) else f"{value:,.0f}"

    lines = [
        "## Metrics chapter: birthday paradox, Parzen vs AIS (issue 28)",
        "",
        f"`{training_command(__file__)}`",
        "",
        f"DCGAN by `experiments/dcgan/mnist5k.yaml` (its EMA generator), evaluated at the iterations below, and a "
        f"collapsed generator (the final DCGAN's noise shrunk, G({SHRINK} z)); MNIST5k's {rows[0]['num_real']} "
        f"held-out digits as the real side, {rows[0]['num_samples']} samples per generator, seed 0, one CPU thread "
        f"({platform.processor() or platform.machine()}). Training: {train_seconds / 60:.0f} min under `nice` "
        "(0 when the checkpoints were already there).",
        "",
        "| generator | birthday support (digits features) | s at ~50 % (rate) | Parzen, pixels (nats) | "
        "Parzen, digits features | AIS, pixels (nats) | MMD² (digits) | memorization ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in rows:
        lines.append(
            f"| {run['key']} | {support(run['birthday_support'])} | {run['birthday_batch_size']} "
            f"({run['birthday_duplicate_rate']:.2f}) | {run['pixel_parzen_log_likelihood']:.1f} ± "
            f"{run['pixel_parzen_std_error']:.1f} (σ {run['pixel_parzen_sigma']:.3g}) | "
            f"{run['digits_parzen_log_likelihood']:.1f} ± {run['digits_parzen_std_error']:.1f} | "
            f"{run['ais_log_likelihood']:.1f} ± {run['ais_std_error']:.1f} | {run['mmd']:.4f} | "
            f"{run['memorization_ratio']:.2f} |")
    lines += [
        "",
        f"Real held-out digits, the same birthday estimate: {support(real_support)} (the scale the threshold "
        f"allows: {rows[0]['birthday_threshold']:.3g} in digits-feature distance).",
        "",
        "Duplicate rates per batch size (digits features):",
        "",
        "| generator | " + " | ".join(f"s={s}" for s in BATCH_SIZES) + " |",
        "|---|" + "---|" * len(BATCH_SIZES),
    ]
    for run in rows:
        rates = run["birthday_rates"]
        lines.append(f"| {run['key']} | " + " | ".join(f"{rates[str(s)]:.2f}" if str(s) in rates else "-"
                                                       for s in BATCH_SIZES) + " |")
    parzen = [run["pixel_parzen_log_likelihood"] for run in rows]
    ais = [run["ais_log_likelihood"] for run in rows]
    parzen_ranks, ais_ranks = _ranks(parzen), _ranks(ais)
    disagreements = [f"{rows[i]['key']} vs {rows[j]['key']}" for i in range(len(rows)) for j in range(i + 1, len(rows))
                     if (parzen[i] - parzen[j]) * (ais[i] - ais[j]) < 0]
    parzen_order = ", ".join(f"{run['key']}: {rank}" for run, rank in zip(rows, parzen_ranks))
    ais_order = ", ".join(f"{run['key']}: {rank}" for run, rank in zip(rows, ais_ranks))
    lines += [
        "",
        f"Rankings (1 = highest log-likelihood): Parzen (pixels) {parzen_order}; AIS {ais_order}.",
        ("Pairs the two estimates order oppositely: " + "; ".join(disagreements) + "."
         if disagreements else "The two estimates order every pair of generators the same way here."),
        f"AIS: {rows[0]['ais_num_real']} held-out digits, {rows[0]['ais_chains']} chains x {rows[0]['ais_steps']} "
        f"steps, observation noise σ = {rows[0]['ais_sigma']} (pixels in [-1, 1]); a stochastic lower bound "
        "whose value depends strongly on σ. Parzen: σ fit on half the held-out digits (Theis et al. 2016: "
        "unreliable in high dimension, can rank models opposite to their likelihoods).",
        "",
        "Published: Arora & Zhang 2017 report near-duplicates in batches of a few hundred samples for DCGAN on "
        "CelebA (support ~ s², of the order of the training set); Wu et al. 2017 find Parzen estimates far from "
        "AIS on MNIST GANs. Here the threshold is automatic (a real-data quantile), not a human judgement.",
    ]
    if args.note:
        lines += ["", args.note]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=5000, help="training iterations (the experiment's budget)")
    parser.add_argument("--checkpoints", default="1000,2000,5000",
                        help="iterations whose checkpoints are evaluated (multiples of 1000, at most --steps)")
    parser.add_argument("--num-samples", type=int, default=2000)
    parser.add_argument("--ais-real", type=int, default=32)
    parser.add_argument("--ais-chains", type=int, default=8)
    parser.add_argument("--ais-steps", type=int, default=500)
    parser.add_argument("--ais-sigma", type=float, default=0.2)
    parser.add_argument("--report-only", action="store_true", help="rebuild the section from the cache")
    parser.add_argument("--note", default=None, help="a line added under the section")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "RESULTS.md"))
    args = parser.parse_args(argv)
    args.checkpoints = sorted(int(value) for value in args.checkpoints.split(","))
    if max(args.checkpoints) > args.steps:
        parser.error(f"--checkpoints go up to {max(args.checkpoints)}, beyond --steps {args.steps}")

    runs = load_runs(CACHE)
    train_seconds = float(runs.get("_training", {}).get("seconds", 0.0))
    names = []
    for name, load in generators(args):
        names.append(name)
        if args.report_only or name in runs:
            continue
        if checkpoint_for(args.steps) is None:
            train_seconds = train(args.steps)
            runs["_training"] = {"seconds": train_seconds, "steps": args.steps}
            save_runs(runs, CACHE)
        runs[name] = evaluate(name, load(), args)
        save_runs(runs, CACHE)
    text = report(runs, names, args, train_seconds)
    replace_section(args.out, SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
