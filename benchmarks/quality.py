"""Quality in a fixed wall-clock budget: which recipe gets the lowest digits FID on MNIST5k in N minutes?

The scale family's target (issue 14): the best recipe reaches a digits FID below 20 on MNIST5k within
30 minutes of this 2-core CPU (real training digits score about 7; DCGAN's demo 77 after 5,000 iterations).

Protocol, per model:

- recipe: ``experiments/<model>/mnist5k.yaml`` (model ``init_args``; the data's image size, channels and
  batch size; the EMA of its ``ema`` section, else the project default decay 0.999), seed ``--seed``;
- budget: ``--minutes`` of training wall time on ``--threads`` threads of the CPU, or on the GPU with
  ``--accelerator gpu`` (``auto``: the GPU when there is one); evaluation time is not counted (it is
  reported apart). The run stops at the first iteration past the budget;
- evaluation every ``--eval-every`` minutes of training and at the end: digits FID
  (``evaluate_generator``, the code path of ``MetricsCallback``) of ``--num-eval`` samples of the EMA
  generator against the 500 held-out digits; at the end also the raw generator's.

    python benchmarks/quality.py --models ProGAN,StyleGAN2 --minutes 30 [--threads 1] [--eval-every 5]
    python benchmarks/quality.py --models DCGAN --minutes 10 --accelerator gpu

Results are cached per run in ``benchmarks/quality/results.json`` (``--report-only`` rebuilds the
text); writes section ``quality`` of benchmarks/RESULTS.md, an FID-vs-minutes plot and one sample grid
per run in benchmarks/quality/.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch

from harness import (BENCHMARKS, RESULTS_MD, build_mnist5k, load_recipe, load_runs, quiet_lightning, replace_section,
                     train_missing, training_command)

load_results = load_runs  # the cache, by the name its tests read it with

OUT_DIR = BENCHMARKS / "quality"
CACHE = OUT_DIR / "results.json"
EVAL_NOISE_SEED = 40_000
TARGET_FID = {"cpu": 20.0, "gpu": 10.0}  # issue 26: below 20 in 30 CPU minutes, below 10 in 10 GPU minutes
TARGET_MINUTES = {"cpu": 30.0, "gpu": 10.0}
GRID_SAMPLES = 64


def run_key(model: str, minutes: float, threads: int, seed: int, accelerator: str = "cpu") -> str:
    where = f"{threads}thr" if accelerator == "cpu" else accelerator
    return f"{model}/{minutes:g}min/{where}/seed{seed}"


def resolve_accelerator(name: str) -> str:
    """``cpu``, ``gpu``, or ``auto``: the GPU when torch sees a CUDA device."""
    if name == "auto":
        return "gpu" if torch.cuda.is_available() else "cpu"
    return name


def device_label(result: dict[str, Any]) -> str:
    if result.get("accelerator", "cpu") == "gpu":
        return result.get("device_name", "GPU")
    return f"CPU, {result['threads']} thread{'s' if result['threads'] > 1 else ''}"


def build(model_name: str):
    """``(model, data, ema_callback)``: the model's MNIST5k recipe on all 4,500 training digits, and its EMA."""
    from gan_lightning.callbacks import EMACallback

    model, data = build_mnist5k(model_name)
    return model, data, EMACallback(**(load_recipe(model_name, "mnist5k")["ema"] or {"decay": 0.999}))


class WallClockBudget(L.Callback):
    """Evaluates every ``eval_every`` seconds of training and stops after ``budget`` seconds of it;
    the time spent evaluating is kept apart (``eval_seconds``)."""

    def __init__(self, budget: float, eval_every: float, evaluate) -> None:
        self.budget, self.eval_every, self.evaluate = budget, eval_every, evaluate
        self.curve: list[dict[str, float]] = []
        self.eval_seconds = 0.0
        self.started = 0.0
        self.next_eval = eval_every

    def on_train_start(self, trainer, pl_module) -> None:
        self.started = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.step(trainer, pl_module)

    def training_seconds(self) -> float:
        return time.perf_counter() - self.started - self.eval_seconds  # on a GPU: up to its queue ahead

    def step(self, trainer, pl_module) -> None:
        trained = self.training_seconds()
        done = trained >= self.budget
        if done or trained >= self.next_eval:
            began = time.perf_counter()
            fid = self.evaluate(pl_module, use_ema=True)
            self.eval_seconds += time.perf_counter() - began
            self.curve.append({"minutes": trained / 60, "iteration": trainer.global_step, "fid": fid})
            print(f"  {trained / 60:5.1f} min, iteration {trainer.global_step}: EMA FID {fid:.2f}", flush=True)
            while self.next_eval <= trained:
                self.next_eval += self.eval_every
        if done:
            trainer.should_stop = True


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    """Train one model for ``job["minutes"]`` of wall time; its FID curve and final numbers."""
    import tempfile

    from gan_lightning.evaluation import evaluate_generator

    quiet_lightning()
    torch.set_num_threads(job["threads"])
    accelerator = job.get("accelerator", "cpu")
    L.seed_everything(job["seed"], workers=False, verbose=False)
    model, data, ema = build(job["model"])

    def evaluate(module, use_ema: bool) -> float:
        return float(evaluate_generator(module, data, ["fid"], num_samples=job["num_eval"], extractor="digits",
                                        use_ema=use_ema, seed=EVAL_NOISE_SEED, progress=False)["fid"])

    budget = WallClockBudget(job["minutes"] * 60, job["eval_every"] * 60, evaluate)
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="gan_lightning_quality_") as root:
        trainer = L.Trainer(max_steps=-1, max_epochs=-1, logger=False, enable_checkpointing=False,
                            enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                            accelerator=accelerator, devices=1, callbacks=[ema, budget], default_root_dir=root)
        trainer.fit(model, data)
    raw_fid = evaluate(model, use_ema=False)
    grid = model.sample(GRID_SAMPLES, use_ema=True, rng=torch.Generator().manual_seed(EVAL_NOISE_SEED))
    return {"key": job["key"], "model": job["model"], "minutes": job["minutes"], "threads": job["threads"],
            "accelerator": accelerator, "torch": torch.__version__,
            "device_name": torch.cuda.get_device_name() if accelerator == "gpu" else "CPU", "seed": job["seed"], "iterations": int(trainer.global_step), "curve": budget.curve,
            "fid_ema": budget.curve[-1]["fid"], "fid_raw": raw_fid, "eval_seconds": budget.eval_seconds,
            "load_start": load_start, "load_end": os.getloadavg()[0], "num_eval": job["num_eval"],
            "grid": (grid.detach().float().cpu() * 0.5 + 0.5).clamp(0, 1).tolist()}


# ----------------------------------------------------------------------------- report
def grid_path(result: dict[str, Any], folder: Path) -> Path:
    gpu = "_gpu" if result.get("accelerator", "cpu") == "gpu" else ""
    return folder / f"{result['model'].lower()}_{result['minutes']:g}min{gpu}.png"


def save_grid(result: dict[str, Any], folder: Path = OUT_DIR) -> Path:
    from torchvision.utils import save_image

    folder.mkdir(parents=True, exist_ok=True)
    path = grid_path(result, folder)
    save_image(torch.tensor(result["grid"]), path, nrow=8, padding=1)
    return path


def plot_curves(results: dict[str, dict[str, Any]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for result in sorted(results.values(), key=lambda r: r["key"]):
        curve = result["curve"]
        axis.plot([p["minutes"] for p in curve], [p["fid"] for p in curve], marker="o",
                  label=f"{result['model']}, {result['minutes']:g} min, {device_label(result)}")
    for accelerator in sorted({r.get("accelerator", "cpu") for r in results.values()}):
        axis.axhline(TARGET_FID[accelerator], color="k", linestyle="--" if accelerator == "cpu" else ":",
                     linewidth=1, label=f"{accelerator.upper()} target {TARGET_FID[accelerator]:g}")
    axis.set_yscale("log")
    axis.set_xlabel("training minutes (evaluation excluded)")
    axis.set_ylabel("digits FID, EMA G (log)")
    axis.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def verdict(results: dict[str, dict[str, Any]]) -> str:
    """Per accelerator: which run reached the lowest FID within the target's minutes, and whether it is below the target."""
    if not results:
        return "No run yet."
    lines = []
    for accelerator in ("cpu", "gpu"):
        runs = [r for r in results.values() if r.get("accelerator", "cpu") == accelerator]
        if not runs:
            continue
        limit, target = TARGET_MINUTES[accelerator], TARGET_FID[accelerator]
        points = [(p, r) for r in runs for p in r["curve"] if p["minutes"] <= limit + 0.5]
        if not points:
            lines.append(f"{accelerator.upper()}: no evaluation within {limit:g} minutes yet.")
            continue
        point, best = min(points, key=lambda pair: pair[0]["fid"])
        lines.append(f"{accelerator.upper()}: lowest digits FID within {limit:g} training minutes **{point['fid']:.1f}**, "
                     f"{best['model']} at {point['minutes']:.1f} minutes (iteration {point['iteration']}, "
                     f"{device_label(best)}). The target (FID < {target:g} within {limit:g} minutes) is "
                     f"**{'reached' if point['fid'] < target else 'not reached'}**.")
    return "\n\n".join(lines)


def write_report(results: dict[str, dict[str, Any]], args: argparse.Namespace, out: Path) -> str:
    rows = []
    for r in sorted(results.values(), key=lambda r: min(p["fid"] for p in r["curve"])):
        curve = ", ".join(f"{p['minutes']:.0f}: {p['fid']:.0f}" for p in r["curve"])
        best = min(p["fid"] for p in r["curve"])
        rows.append(f"| {r['model']} | {r['minutes']:g} | {device_label(r)} | {r['iterations']} | {r['fid_ema']:.1f} | "
                    f"{r['fid_raw']:.1f} | {best:.1f} | {curve} | {r['eval_seconds']:.0f} | "
                    f"{r['load_start']:.1f} / {r['load_end']:.1f} |")
    if results:
        plot_curves(results, Path(args.plots) / "fid_curves.png")
    grids = " ".join(f"![{r['model']}](quality/{grid_path(r, Path('.')).name})"
                     for r in sorted(results.values(), key=lambda r: r["key"]))
    notes = "".join(f"- {note}\n" for note in args.note)
    text = f"""## Quality in a wall-clock budget: digits FID on MNIST5k (issue 14)

Written by `benchmarks/quality.py`; do not edit by hand. Command: `{args.command}`

- Each model's committed recipe (`experiments/<model>/mnist5k.yaml`: model options, image size, batch size,
  its EMA), seed 0, trained for a fixed number of **training minutes** (evaluation time excluded and shown
  apart) on the given threads of this 2-core CPU, shared with other jobs (load average at start / end in the
  last column), or on the GPU the Device column names (`--accelerator gpu`, GPU minutes).
- Evaluation: digits FID (LeNet features, not Inception FID) of 1,000 samples of the EMA generator (and of
  the raw generator at the end) against the 500 held-out digits. Real training digits score about 7;
  DCGAN's demo reaches 77 after 5,000 iterations.

| Model | Minutes | Device | Iterations | FID, EMA G (end) | FID, raw G (end) | Best FID | Curve (minute: FID) | Eval s | Load |
|---|---:|---:|---:|---:|---:|---:|---|---:|---|
{chr(10).join(rows)}

{verdict(results)}

{notes}
![FID curves](quality/fid_curves.png)

Samples of the EMA generator at the end (64, fixed noise): {grids}
"""
    return replace_section(out, "quality", text)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="ProGAN", help="comma-separated model class names with an mnist5k recipe")
    parser.add_argument("--minutes", type=float, default=30.0, help="training minutes per run (default 30)")
    parser.add_argument("--eval-every", type=float, default=5.0, help="minutes of training between evaluations")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run (default 1)")
    parser.add_argument("--accelerator", choices=["cpu", "gpu", "auto"], default="cpu",
                        help="train on the CPU (default), the GPU, or the GPU when there is one")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-eval", type=int, default=1000, help="samples per FID")
    parser.add_argument("--report-only", action="store_true", help="rebuild the report from the cache")
    parser.add_argument("--note", action="append", default=[], help="a line added to the report (repeatable)")
    parser.add_argument("--out", default=str(RESULTS_MD))
    parser.add_argument("--cache", default=str(CACHE))
    parser.add_argument("--plots", default=str(OUT_DIR), help="folder of the FID plot and sample grids")
    args = parser.parse_args(argv)
    args.models = [m for m in args.models.split(",") if m]
    for name, value in (("--minutes", args.minutes), ("--eval-every", args.eval_every)):
        if not value > 0:
            parser.error(f"{name} must be > 0, got {value}")
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    args.accelerator = resolve_accelerator(args.accelerator)
    if args.accelerator == "gpu" and not torch.cuda.is_available() and not args.report_only:
        parser.error("--accelerator gpu: torch sees no CUDA GPU on this machine")
    args.command = training_command(__file__, argv)
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    cache = Path(args.cache)
    results = load_runs(cache)
    if not args.report_only:
        jobs = [{"model": model, "minutes": args.minutes, "threads": args.threads, "seed": args.seed,
                 "accelerator": args.accelerator, "eval_every": args.eval_every, "num_eval": args.num_eval,
                 "key": run_key(model, args.minutes, args.threads, args.seed, args.accelerator)}
                for model in args.models]
        train_missing(jobs, run_one, results, cache,
                      on_done=lambda result, seconds: save_grid(result, Path(args.plots)))
    print(write_report(results, args, Path(args.out)))


if __name__ == "__main__":
    os.environ.setdefault("WANDB_MODE", "offline")
    main()
