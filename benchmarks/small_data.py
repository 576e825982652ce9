"""Data efficiency: does augmenting D's inputs help most when the training set is smallest?

The published finding (Zhao et al. 2020, DiffAugment; Karras et al. 2020, ADA): with few training
images D memorises them and FID degrades; DiffAugment or ADA recover much of it, and the gain
shrinks as the set grows (FFHQ, 1k images: FID 62.16 -> 25.66 with DiffAugment).

Protocol:

- models: each one's committed MNIST recipe (``experiments/<model>/mnist5k.yaml``: model
  ``init_args`` and the data's image size / channels / batch size), e.g. DCGAN and StyleGAN2;
- data: ``MNIST5k(train_size=N)``, a class-balanced subset of N of the 4,500 training digits
  (4,500 = all of them), the same subset and the same 500 held-out digits for every run (data seed 0);
- augmentation: none, ``DiffAugmentCallback`` (color, translation, cutout: the paper's small-data
  policy) or ``AdaptiveAugmentation`` (ADA, target 0.6; ``--ada-kimg`` sets how fast p may move: the
  paper's 500 would let p reach only ~0.1 in a CPU-sized budget, the report says which value ran);
- budget: the same ``--iterations`` for every run; seeds ``--seeds`` (model initialisation and noise);
- evaluation: ``evaluate_generator`` (the code path of ``MetricsCallback``), FID with the ``digits``
  extractor (a LeNet trained on MNIST5k) of ``--num-eval`` samples of the raw generator against the
  500 held-out digits.

    python benchmarks/small_data.py [--models DCGAN,StyleGAN2] [--sizes 500,1000,4500] [--iterations N]
                                    [--seeds 0,1] [--workers 2] [--report-only]

Results are cached per run in ``benchmarks/small_data/results.json`` (a rerun trains only the runs
it lacks); writes section ``small_data`` of benchmarks/RESULTS.md and one sample grid per model
and augmentation at the smallest size in benchmarks/small_data/.

Learning curves (``--eval-every N``): each run is also measured (the same FID) every N iterations
and at the end; every point goes into ``benchmarks/small_data/results_curve.json`` as it is measured,
with a checkpoint of the run after it (``benchmarks/small_data/checkpoints/``, not committed), so an
interrupted curve resumes from its last point (bitwise: the core's checkpoints hold the RNG states
and ADA's p). The measurement draws from a fork of the RNG: a curve's run trains as the run without
measurements does. ``--ada-kimg 50,500``: one ADA arm per speed. ``--continue-from N``: a longer curve starts
from the same run's finished curve to N iterations (its points and checkpoint). Writes section
``small_data_curve`` (or ``--section``)::

    python benchmarks/small_data.py --models DCGAN --sizes 500 --iterations 5000 --eval-every 500 --seeds 0,1
                                    --ada-kimg 50,500
    python benchmarks/small_data.py --models DCGAN --sizes 500 --iterations 8000 --eval-every 500
                                    --continue-from 5000 --seeds 0 --augmentations none,ada,diffaugment
                                    --ada-kimg 500,50 --section small_data_curve_beyond
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from pathlib import Path
from typing import Any, Sequence

import torch

from harness import (BENCHMARKS, RESULTS_MD, build_mnist5k, command_block, fit_exactly, half_range, kept_checkpoints,
                     load_line, load_recipe, load_runs, quiet_lightning, replace_section, save_runs, train_missing,
                     training_command)

load_results = load_runs  # the cache, by the name its tests read it with

OUT_DIR = BENCHMARKS / "small_data"
CACHE = OUT_DIR / "results.json"
CURVE_CACHE = OUT_DIR / "results_curve.json"
AUGMENTATIONS = ("none", "diffaugment", "ada")
AUGMENTATION_NAMES = {"none": "no augmentation", "diffaugment": "DiffAugment", "ada": "ADA"}
DEFAULT_ADA_KIMG = 50.0
EVAL_NOISE_SEED = 30_000
DATA_SEED = 0
GRID_SAMPLES = 36

PUBLISHED = """### PUBLISHED: DiffAugment, Zhao et al. 2020 (StyleGAN2, FID; quoted, not run here)

Source: the authors' repository mit-han-lab/data-efficient-gans, `DiffAugment-stylegan2/README.md`
(its pre-trained models of the paper's FFHQ and CIFAR experiments, 256 px FFHQ).

| Data | StyleGAN2 | + DiffAugment (color, translation, cutout) |
|---|---|---|
| FFHQ 256 px, 1k images (fid50k-train) | 62.16 | 25.66 |
| FFHQ 256 px, 5k images | 26.60 | 10.45 |
| FFHQ 256 px, 10k images | 14.75 | 7.86 |
| FFHQ 256 px, 30k images | 6.16 | 5.05 |
| FFHQ 256 px, 70k images (all) | 3.81 | 4.24 |
| CIFAR-10, 10 % (fid10k) | 36.02 | 14.50 |
| CIFAR-10, 20 % | 23.08 | 12.15 |
| CIFAR-10, 100 % | 11.07 | 9.89 |

The gain falls from 36.5 FID points at 1k images to none at 70k: augmentation helps most on the
smallest sets, and may cost a little on the full one.

ADA, Karras et al. 2020 ("Training Generative Adversarial Networks with Limited Data", arXiv 2006.06676,
its abstract): CIFAR-10 is "in fact, a limited data benchmark"; ADA improves its record FID from 5.59
to 2.42. Its per-size tables were not found in a stored copy and are not quoted here.

StudioGAN's CIFAR-10 table (POSTECH-CVLab/PyTorch-StudioGAN `README.md` at commit 007871e, FID of 10k
samples against the 10k test images): DCGAN 50.281, LSGAN 67.229, GGAN (hinge) 43.008; its SAGAN,
BigGAN, DiffAugGAN and ADAGAN rows are empty ("-") in that version."""


def run_key(model: str, size: int, augmentation: str, seed: int, iterations: int) -> str:
    return f"{model}/n{size}/{augmentation}/seed{seed}/it{iterations}"


def build(model_name: str, size: int | None):
    """``(model, data)``: the model's MNIST recipe on a ``size``-digit training subset (None: all 4,500)."""
    return build_mnist5k(model_name, data_options={"seed": DATA_SEED, "train_size": size})


def augmentation_callbacks(augmentation: str, ada_kimg: float) -> list:
    from gan_lightning.callbacks import AdaptiveAugmentation, DiffAugmentCallback

    if augmentation == "none":
        return []
    if augmentation == "diffaugment":
        return [DiffAugmentCallback("color,translation,cutout")]
    if augmentation == "ada":
        return [AdaptiveAugmentation(target=0.6, kimg=ada_kimg)]
    raise ValueError(f"--augmentations: unknown {augmentation!r}; accepted: {', '.join(AUGMENTATIONS)}")


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    """Train one (model, size, augmentation, seed) and measure its digits FID."""
    import lightning as L

    quiet_lightning()
    torch.set_num_threads(1)
    L.seed_everything(job["seed"], workers=False, verbose=False)
    model, data = build(job["model"], job["size"])
    callbacks = augmentation_callbacks(job["augmentation"], job["ada_kimg"])
    seconds = fit_exactly(model, data, job["iterations"], callbacks, label=job["key"])
    return {**run_fields(job), "fid": measure_fid(model, data, job), "fit_seconds": seconds,
            "ada_p": ada_p_of(callbacks), "grid": grid_of(model)}


def run_fields(job: dict[str, Any]) -> dict[str, Any]:
    return {"key": job["key"], "model": job["model"], "size": job["size"], "augmentation": job["augmentation"],
            "seed": job["seed"], "iterations": job["iterations"],
            "ada_kimg": job["ada_kimg"] if job["augmentation"] == "ada" else None}


def measure_fid(model, data, job: dict[str, Any]) -> float:
    """The digits FID of ``num_eval`` samples of the raw G (un-augmented: sampling never calls D) against
    the held-out digits, from a fork of the RNG (training goes on as if it had not run)."""
    from gan_lightning.evaluation import evaluate_generator

    with torch.random.fork_rng(devices=[]):
        return float(evaluate_generator(model, data, ["fid"], num_samples=job["num_eval"], extractor="digits",
                                        use_ema=False, seed=EVAL_NOISE_SEED + job["seed"], progress=False)["fid"])


def ada_p_of(callbacks) -> float | None:
    return next((float(c.p) for c in callbacks if hasattr(c, "p")), None)


def grid_of(model) -> list:
    grid = model.sample(GRID_SAMPLES, use_ema=False, rng=torch.Generator().manual_seed(EVAL_NOISE_SEED))
    return (grid.detach().float().cpu() * 0.5 + 0.5).clamp(0, 1).tolist()


# ----------------------------------------------------------------------------- learning curves
def curve_key(model: str, size: int, augmentation: str, seed: int, iterations: int, every: int,
              ada_kimg: float | None = DEFAULT_ADA_KIMG) -> str:
    return f"{run_key(model, size, arm(augmentation, ada_kimg), seed, iterations)}/every{every}"


def checkpoint_folder(root: Path, key: str) -> Path:
    return root / key.replace("/", "_")


def continue_shorter(job: dict[str, Any], results: dict[str, Any], folder: Path) -> None:
    """Start ``job``'s curve from the same run's finished curve to ``continue_from`` iterations: its points and
    a copy of its last checkpoint (the same run as a fresh one where nothing in the recipe depends on the
    budget: DCGAN's constant learning rates; tested)."""
    shorter = job["continue_from"]
    key = curve_key(job["model"], job["size"], job["augmentation"], job["seed"], shorter, job["every"],
                    job["ada_kimg"])
    checkpoint = kept_checkpoints(checkpoint_folder(Path(job["checkpoints"]), key)).get(shorter)
    if not results.get(key, {}).get("complete") or checkpoint is None:
        raise RuntimeError(f"--continue-from {shorter}: {key} is not finished with its checkpoint kept in "
                           f"{checkpoint_folder(Path(job['checkpoints']), key)}")
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(checkpoint, folder / checkpoint.name)
    results[job["key"]] = {**run_fields(job), "every": job["every"], "command": job["command"], "continued_from": key,
                           "points": [dict(point) for point in results[key]["points"]], "complete": False}


def run_curve(job: dict[str, Any], results: dict[str, Any], save) -> dict[str, Any]:
    """Train one run to ``iterations``, its FID every ``every`` iterations and at the end; resumes from the
    run's last checkpoint. Each point goes into ``results[key]["points"]`` and ``save(results)`` at once."""
    import lightning as L

    quiet_lightning()
    torch.set_num_threads(1)
    key, every, iterations = job["key"], job["every"], job["iterations"]
    folder = checkpoint_folder(Path(job["checkpoints"]), key)
    kept = kept_checkpoints(folder)
    if not kept and job.get("continue_from"):
        continue_shorter(job, results, folder)
        save(results)
        kept = kept_checkpoints(folder)
    start = max(kept, default=0)
    record = results.get(key) or {**run_fields(job), "every": every, "command": job["command"], "points": [],
                                  "complete": False}
    record["points"] = [point for point in record["points"] if point["iterations"] <= start]
    if start and [point["iterations"] for point in record["points"]][-1:] != [start]:
        raise RuntimeError(f"{key}: checkpoint at {start} iterations but no point measured there; remove {folder}")
    trained_before = record["points"][-1]["fit_seconds"] if start else 0.0
    L.seed_everything(job["seed"], workers=False, verbose=False)
    model, data = build(job["model"], job["size"])
    callbacks = augmentation_callbacks(job["augmentation"], job["ada_kimg"])

    class Points(L.Callback):
        """After every ``every``-th iteration and the last: the FID, the point saved, then a checkpoint."""

        def __init__(self) -> None:
            self.clock = time.perf_counter()
            self.trained = trained_before

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            step = trainer.global_step
            if step % every and step != iterations:
                return
            self.trained += time.perf_counter() - self.clock
            measured = time.perf_counter()
            point = {"iterations": step, "fid": measure_fid(pl_module, data, job), "fit_seconds": self.trained,
                     "ada_p": ada_p_of(callbacks)}
            point["eval_seconds"] = time.perf_counter() - measured
            record["points"] = [p for p in record["points"] if p["iterations"] < step] + [point]
            results[key] = record
            save(results)
            print(f"  {key} {step:6d} it: FID {point['fid']:7.2f} ({self.trained:.0f} s training)", flush=True)
            folder.mkdir(parents=True, exist_ok=True)
            trainer.save_checkpoint(folder / f"step={step}.ckpt")
            for old, path in kept_checkpoints(folder).items():
                if old < step:
                    path.unlink()
            self.clock = time.perf_counter()

    trainer = L.Trainer(max_steps=iterations, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0, accelerator="cpu", devices=1,
                        callbacks=[*callbacks, Points()], default_root_dir=str(folder))
    if start < iterations:
        trainer.fit(model, data, ckpt_path=str(kept[start]) if start else None)
        if trainer.global_step != iterations:
            raise RuntimeError(f"{key}: trained {trainer.global_step} iterations, expected {iterations}")
    else:
        model.load_state_dict(torch.load(kept[start], map_location="cpu", weights_only=False)["state_dict"])
    final = record["points"][-1]
    record.update({"fid": final["fid"], "fit_seconds": final["fit_seconds"], "ada_p": final["ada_p"],
                   "complete": True, "grid": grid_of(model)})
    results[key] = record
    save(results)
    return record


# ----------------------------------------------------------------------------- report
def save_grid(result: dict[str, Any], folder: Path | None = None) -> Path:
    from torchvision.utils import save_image

    folder = folder or OUT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{result['model'].lower()}_n{result['size']}_{result['augmentation']}.png"
    save_image(torch.tensor(result["grid"]), path, nrow=6, padding=1)
    return path


def summarise(results: dict[str, dict[str, Any]], iterations: int) -> dict[tuple[str, int, str], list[float]]:
    """(model, size, augmentation) -> FIDs over the seeds that ran at ``iterations``."""
    table: dict[tuple[str, int, str], list[float]] = {}
    for value in results.values():
        if value["iterations"] == iterations:
            table.setdefault((value["model"], value["size"], value["augmentation"]), []).append(value["fid"])
    return table


def cell(fids: Sequence[float] | None) -> str:
    if not fids:
        return "not run"
    if len(fids) == 1:
        return f"{fids[0]:.1f} (1 seed)"
    return f"{statistics.mean(fids):.1f} ± {half_range(fids):.1f}"


def gains(table, model: str, sizes: Sequence[int]) -> dict[int, tuple[float, float]]:
    """size -> (FID of no augmentation minus the better augmented FID, means over seeds; its seed spread:
    the two rows' half ranges added); only sizes with both."""
    out = {}
    for size in sizes:
        base = table.get((model, size, "none"))
        augmented = [table[(model, size, a)] for a in ("diffaugment", "ada") if (model, size, a) in table]
        if base and augmented:
            best = min(augmented, key=statistics.mean)
            out[size] = (statistics.mean(base) - statistics.mean(best), half_range(base) + half_range(best))
    return out


def verdict(table, model: str, sizes: Sequence[int]) -> str:
    """Reached: augmentation gains on the smallest set, and more than on the largest by more than the two
    gains' seed spreads; in the published direction but within the spread is said apart."""
    found = gains(table, model, sizes)
    if len(found) < 2:
        return f"- **{model}**: not enough sizes measured for a verdict."
    (small_gain, small_spread), (large_gain, large_spread) = found[min(found)], found[max(found)]
    text = ", ".join(f"{size:,} digits {gain:+.1f} (± {spread:.1f})" for size, (gain, spread) in sorted(found.items()))
    if small_gain > 0 and small_gain - large_gain > small_spread + large_spread:
        outcome = "**reached**"
    elif small_gain > 0 and small_gain > large_gain:
        outcome = "**same direction, not separated from the seed spread**"
    else:
        outcome = "**not reached**"
    return (f"- **{model}**: FID gain of the better augmentation over none (positive = better; ± the two rows' "
            f"half ranges added): {text}. The published finding (largest gain on the smallest set): {outcome}.")


def write_report(results: dict[str, dict[str, Any]], args: argparse.Namespace, out: Path) -> str:
    table = summarise(results, args.iterations)
    models = [m for m in args.models if any(key[0] == m for key in table)]
    lines = [
        "## Small data: DiffAugment and ADA on MNIST5k subsets (issue 14)",
        "",
        f"Command: `{args.command}`. Each cell: digits FID (lower is better) of {args.num_eval} samples of the raw G "
        f"against the 500 held-out digits after {args.iterations:,} iterations, mean ± half the range over seeds "
        f"{', '.join(map(str, args.seeds))}; every model with its committed MNIST recipe, one thread per run. "
        f"ADA ran with target 0.6 and kimg {args.ada_kimg:g} (the paper's 500 moves p too slowly for this budget). "
        "Real training digits score about 7 on this metric.",
        "",
        "| Model | Training digits | " + " | ".join(AUGMENTATION_NAMES[a] for a in AUGMENTATIONS) + " |",
        "|---|---|" + "---|" * len(AUGMENTATIONS),
    ]
    for model in models:
        for size in args.sizes:
            lines.append(f"| {model} | {size:,} | " + " | ".join(cell(table.get((model, size, a))) for a in AUGMENTATIONS)
                         + " |")
    ada_ps = [v["ada_p"] for v in results.values() if v["augmentation"] == "ada" and v["iterations"] == args.iterations
              and v.get("ada_p") is not None]
    seconds = [v["fit_seconds"] for v in results.values() if v["iterations"] == args.iterations]
    lines += ["", "Verdicts:"] + [verdict(table, model, args.sizes) for model in models]
    if ada_ps:
        lines.append(f"- ADA's p at the end of training: {min(ada_ps):.3f} to {max(ada_ps):.3f}.")
    if seconds:
        lines.append(f"- Fit time per run: {min(seconds):.0f} to {max(seconds):.0f} s wall (shared 2-core CPU).")
    lines += [f"- {note}" for note in args.note]
    grids = sorted(OUT_DIR.glob("*.png"))
    if grids:
        lines += ["", "Samples at the smallest size (raw G, fixed noise): "
                  + ", ".join(f"[{p.stem}](small_data/{p.name})" for p in grids) + "."]
    lines += ["", PUBLISHED]
    text = "\n".join(lines)
    replace_section(out, "small_data", text)
    return text


def arm(augmentation: str, ada_kimg: float | None) -> str:
    """A curve's arm: its augmentation, and ADA's kimg where it is not the default ``ada-kimgK``."""
    return augmentation if augmentation != "ada" or ada_kimg == DEFAULT_ADA_KIMG else f"ada-kimg{ada_kimg:g}"


def arm_name(name: str) -> str:
    if name in AUGMENTATION_NAMES:
        return AUGMENTATION_NAMES[name] + (f" (kimg {DEFAULT_ADA_KIMG:g})" if name == "ada" else "")
    return f"ADA (kimg {name.removeprefix('ada-kimg')})"


def arm_order(name: str) -> tuple[int, float]:
    return (AUGMENTATIONS.index(name), 0.0) if name in AUGMENTATIONS else (len(AUGMENTATIONS),
                                                                          float(name.removeprefix("ada-kimg")))


def curve_runs(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> list[dict[str, Any]]:
    """The cached curves of this budget, interval and these seeds."""
    return [value for value in results.values() if value["iterations"] == args.iterations
            and value["every"] == args.eval_every and value["seed"] in args.seeds]


def curve_points(results: dict[str, dict[str, Any]], args: argparse.Namespace
                 ) -> dict[tuple[str, int, str], dict[int, list[float]]]:
    """(model, size, arm) -> iterations -> FIDs over the seeds measured there (this budget and interval)."""
    table: dict[tuple[str, int, str], dict[int, list[float]]] = {}
    for value in curve_runs(results, args):
        row = table.setdefault((value["model"], value["size"], arm(value["augmentation"], value["ada_kimg"])), {})
        for point in value["points"]:
            row.setdefault(point["iterations"], []).append(point["fid"])
    return table


def slope(row: dict[int, list[float]], window: int = 1000) -> float | None:
    """FID change per 1,000 iterations (seed means) over the curve's last ``window`` iterations, from its last
    point to the last one at least ``window`` before it (the point before the last where none is); None below
    two points."""
    steps = sorted(row)
    if len(steps) < 2:
        return None
    before = [step for step in steps if step <= steps[-1] - window]
    start = before[-1] if before else steps[-2]
    return (statistics.mean(row[steps[-1]]) - statistics.mean(row[start])) / (steps[-1] - start) * 1000


def curve_verdict(table, model: str, size: int, iterations: int) -> list[str]:
    """Does the better augmentation (of every arm measured) beat none at ``iterations``, beyond the seed spread;
    where each curve goes (its slope over the last 1,000 iterations, and where a linear extrapolation of the
    slopes puts a crossing with none)."""
    arms = sorted({name for m, n, name in table if (m, n) == (model, size)} | set(AUGMENTATIONS), key=arm_order)
    rows = {name: table.get((model, size, name), {}) for name in arms}
    missing = [arm_name(name) for name in AUGMENTATIONS if iterations not in rows[name]]
    if missing:
        return [(f"- **{model}, {size:,} digits**: no verdict yet: {', '.join(missing)} not measured at "
                 f"{iterations:,} iterations.")]
    final = {name: rows[name][iterations] for name in arms if iterations in rows[name]}
    base = final["none"]
    best = min((name for name in final if name != "none"), key=lambda name: statistics.mean(final[name]))
    gain = statistics.mean(base) - statistics.mean(final[best])
    seeds = min(len(base), len(final[best]))
    spread = half_range(base) + half_range(final[best])
    if seeds < 2:
        beyond = "one seed: the seed spread is not measured"
        outcome = ("**ahead of none on one seed** (no verdict without the seed spread)" if gain > 0
                   else "**does not beat none**")
    elif gain > spread:
        beyond, outcome = f"beyond the two rows' half ranges added ({spread:.1f})", "**beats none**"
    elif gain > 0:
        beyond, outcome = f"within the two rows' half ranges added ({spread:.1f})", "**not separated from none**"
    else:
        beyond, outcome = f"the two rows' half ranges added: {spread:.1f}", "**does not beat none**"
    lines = [(f"- **{model}, {size:,} digits, at {iterations:,} iterations**: the better augmentation "
              f"({arm_name(best)}, {statistics.mean(final[best]):.1f}, {len(final[best])} seed(s)) against none "
              f"({statistics.mean(base):.1f}, {len(base)} seed(s)): gain {gain:+.1f} ({beyond}): "
              f"augmentation {outcome}.")]
    trends = [f"{arm_name(name)} {slope(rows[name]):+.1f}" for name in final if slope(rows[name]) is not None]
    if trends:
        lines.append("- Where the curves go (FID change per 1,000 iterations over the last 1,000, seed means): "
                     + ", ".join(trends) + ".")
    base_slope = slope(rows["none"])
    for name, fids in final.items():
        own = slope(rows[name])
        if name == "none" or own is None or base_slope is None:
            continue
        gap = statistics.mean(fids) - statistics.mean(base)
        if gap > 0 and own < base_slope:
            cross = iterations + gap / (base_slope - own) * 1000
            lines.append(f"- {arm_name(name)}: {gap:.1f} above none at {iterations:,}; a linear extrapolation of the "
                         f"last 1,000 iterations' slopes ({own:+.1f} against {base_slope:+.1f} per 1,000) puts it level with "
                         f"none at about {cross:,.0f} iterations ({cross / iterations:.1f} times {iterations:,}).")
        elif gap > 0:
            lines.append(f"- {arm_name(name)}: {gap:.1f} above none at {iterations:,} and not falling faster than "
                         f"none over the last 1,000 iterations ({own:+.1f} against {base_slope:+.1f} per 1,000): no crossing "
                         "in a linear extrapolation.")
        elif own > base_slope:
            lines.append(f"- {arm_name(name)}: {-gap:.1f} below none at {iterations:,}, but rising against none over "
                         f"the last 1,000 iterations ({own:+.1f} against {base_slope:+.1f} per 1,000): the gap narrows.")
        else:
            lines.append(f"- {arm_name(name)}: {-gap:.1f} below none at {iterations:,}, the gap steady or widening "
                         f"over the last 1,000 iterations ({own:+.1f} against {base_slope:+.1f} per 1,000).")
    return lines


def write_curve_report(results: dict[str, dict[str, Any]], args: argparse.Namespace, out: Path,
                       earlier: dict[str, dict[str, Any]] | None = None) -> str:
    """Section ``small_data_curve``; ``earlier``: section small_data's cache, whose runs at an iteration the
    curves measured are set beside them."""
    table = curve_points(results, args)
    runs = curve_runs(results, args)
    groups = sorted({(model, size) for model, size, _ in table},
                    key=lambda g: (args.models.index(g[0]) if g[0] in args.models else 99, g[1]))
    steps = sorted({step for row in table.values() for step in row})
    commands = sorted({value["command"] for value in runs})
    lines = [
        (f"## Small data, learning curves: {', '.join(m for m, _ in groups) or 'no model'} with DiffAugment / ADA "
         f"to {args.iterations:,} iterations (issue 26 item 3)"),
        "",
        *(command_block(commands[0]) if len(commands) == 1 else
          ["Commands (each run's own is in its cache entry):", "", "```sh", *commands,
           "```", ""]),
        (f"Digits FID (lower is better) of {args.num_eval} samples of the raw G (not augmented: sampling never calls "
         f"D) against the 500 held-out digits, measured every {args.eval_every:,} iterations of one run per seed "
         f"and arm (seeds {', '.join(map(str, args.seeds))}; mean ± half the range where two or more), to "
         f"{args.iterations:,} iterations, with each model's committed MNIST recipe (`experiments/<model>/"
         "mnist5k.yaml`: its model arguments and batch size), one thread per run, the same "
         "500-digit subset and held-out digits as section small_data. DiffAugment: color, translation, cutout "
         "(the authors' small-data policy); ADA: the bgc pipeline, target 0.6, p moved every 4 iterations, kimg "
         "as the row says (the paper's is 500; section small_data ran 50). The measurement draws from a fork of "
         "the RNG: each curve's run trains as the run without measurements does (tested)."),
        "",
    ]
    for model, size in groups:
        arms = sorted({name for m, n, name in table if (m, n) == (model, size)}, key=arm_order)
        budget = load_recipe(model, "mnist5k")["max_steps"]
        lines += [(f"**{model}, {size:,} training digits** (FID by iteration; the recipe's budget, its `max_steps`: "
                   f"{budget:,} iterations)"), "",
                  "| Augmentation | " + " | ".join(f"{step:,}" for step in steps) + " |",
                  "|---|" + "---|" * len(steps)]
        for name in arms:
            row = table[(model, size, name)]
            lines.append(f"| {arm_name(name)} | " + " | ".join(cell(row.get(step)) for step in steps) + " |")
        for name in (n for n in arms if n.startswith("ada")):
            ps: dict[int, list[float]] = {}
            for value in runs:
                if (value["model"], value["size"], arm(value["augmentation"], value["ada_kimg"])) == (model, size, name):
                    for point in value["points"]:
                        ps.setdefault(point["iterations"], []).append(point["ada_p"])
            lines.append(f"| p of {arm_name(name)}, by seed | " + " | ".join(
                " / ".join(f"{p:.2f}" for p in ps.get(step, [])) for step in steps) + " |")
        lines += ["", "Verdict:"] + curve_verdict(table, model, size, args.iterations)
        for step in steps:
            beside = []
            for name in arms:
                then = [v["fid"] for v in (earlier or {}).values() if (v["model"], v["size"], v["iterations"]) ==
                        (model, size, step) and arm(v["augmentation"], v.get("ada_kimg")) == name
                        and v["seed"] in args.seeds]
                if then and step in table[(model, size, name)]:
                    beside.append(f"{arm_name(name)} {cell(table[(model, size, name)][step])} here, "
                                  f"{cell(then)} there")
            if beside:
                lines.append(f"- At {step:,} iterations, against section small_data's runs of the same seeds "
                             f"(trained with an older version of the code; the runs are not the same bitwise): "
                             + "; ".join(beside) + ".")
        lines.append("")
    unfinished = [f"{v['key']} (to {v['points'][-1]['iterations'] if v['points'] else 0:,})"
                  for v in runs if not v.get("complete")]
    if unfinished:
        lines.append(f"- Not finished (their points so far are shown): {', '.join(unfinished)}.")
    done = [v for v in runs if v.get("complete")]
    if done:
        lines.append(f"- Training time per finished run: {min(v['fit_seconds'] for v in done):.0f} to "
                     f"{max(v['fit_seconds'] for v in done):.0f} s wall (one thread, shared 2-core CPU; measurements "
                     "apart).")
    lines += [f"- {note}" for note in args.note]
    grids = sorted((Path(args.out_dir) / "curve").glob(f"*_it{args.iterations}.png"))
    if grids:
        lines += ["", "Samples at the end (raw G, fixed noise): "
                  + ", ".join(f"[{p.stem}](small_data/curve/{p.name})" for p in grids) + "."]
    lines += ["", load_line()]
    text = "\n".join(lines)
    replace_section(out, args.section, text)
    return text


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="DCGAN,StyleGAN2", help="comma-separated model class names")
    parser.add_argument("--sizes", default="500,1000,4500", help="training-set sizes (of MNIST5k's 4,500)")
    parser.add_argument("--augmentations", default=",".join(AUGMENTATIONS), help=f"of {', '.join(AUGMENTATIONS)}")
    parser.add_argument("--iterations", type=int, default=800, help="training iterations (batches) per run")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--num-eval", type=int, default=1000, help="samples per FID")
    parser.add_argument("--ada-kimg", default=f"{DEFAULT_ADA_KIMG:g}",
                        help="ADA: thousands of images for p to cross [0, 1]; with --eval-every, several "
                             "(comma-separated) are arms of their own")
    parser.add_argument("--workers", type=int, default=1, help="runs trained in parallel processes")
    parser.add_argument("--report-only", action="store_true", help="rebuild the report from the cache")
    parser.add_argument("--note", action="append", default=[], help="a line added to the report (repeatable)")
    parser.add_argument("--continue-from", type=int, default=0,
                        help="with --eval-every: start each curve from the same run's finished curve to this many "
                             "iterations (its points and last checkpoint)")
    parser.add_argument("--section", default="small_data_curve", help="with --eval-every: the section written")
    parser.add_argument("--eval-every", type=int, default=0,
                        help="learning curves: also measure every N iterations, cached and resumable, into section "
                             "small_data_curve (0: the end only, section small_data)")
    parser.add_argument("--out", default=str(RESULTS_MD))
    parser.add_argument("--cache", default=None, help="the run cache (default: results.json, or results_curve.json "
                                                       "with --eval-every, in --out-dir)")
    parser.add_argument("--out-dir", default=str(OUT_DIR), help="sample grids, curve checkpoints, default caches")
    args = parser.parse_args(argv)
    args.models = [m for m in args.models.split(",") if m]
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.seeds = [int(s) for s in args.seeds.split(",") if s]
    args.augmentations = [a for a in args.augmentations.split(",") if a]
    for augmentation in args.augmentations:
        if augmentation not in AUGMENTATIONS:
            parser.error(f"--augmentations: unknown {augmentation!r}; accepted: {', '.join(AUGMENTATIONS)}")
    if args.iterations < 1:
        parser.error(f"--iterations must be >= 1, got {args.iterations}")
    if args.eval_every < 0 or args.eval_every > args.iterations:
        parser.error(f"--eval-every must be in [0, --iterations], got {args.eval_every}")
    if args.continue_from and not (args.eval_every and args.continue_from < args.iterations
                                   and args.continue_from % args.eval_every == 0):
        parser.error(f"--continue-from needs --eval-every, a multiple of it below --iterations; got {args.continue_from}")
    if args.eval_every and args.workers != 1:
        parser.error(f"--eval-every trains one run at a time: --workers must be 1, got {args.workers}")
    try:
        args.ada_kimgs = [float(k) for k in args.ada_kimg.split(",") if k]
    except ValueError:
        parser.error(f"--ada-kimg: expected comma-separated numbers, got {args.ada_kimg!r}")
    if not args.ada_kimgs or min(args.ada_kimgs) <= 0 or (len(args.ada_kimgs) > 1 and not args.eval_every):
        parser.error(f"--ada-kimg: numbers > 0, several only with --eval-every; got {args.ada_kimg!r}")
    args.ada_kimg = args.ada_kimgs[0]
    if args.cache is None:
        args.cache = str(Path(args.out_dir) / (CURVE_CACHE.name if args.eval_every else CACHE.name))
    args.command = training_command(__file__, argv)
    return args


def main_curves(args: argparse.Namespace) -> None:
    cache, out_dir = Path(args.cache), Path(args.out_dir)
    results = load_runs(cache)
    if not args.report_only:
        arms = [(a, k) for a in args.augmentations for k in (args.ada_kimgs if a == "ada" else [None])]
        jobs = [{"model": m, "size": n, "augmentation": a, "seed": s, "iterations": args.iterations,
                 "every": args.eval_every, "num_eval": args.num_eval, "ada_kimg": k, "command": args.command,
                 "continue_from": args.continue_from,
                 "checkpoints": str(out_dir / "checkpoints"),
                 "key": curve_key(m, n, a, s, args.iterations, args.eval_every, k)}
                for m in args.models for n in args.sizes for s in args.seeds for a, k in arms]
        todo = [job for job in jobs if not results.get(job["key"], {}).get("complete")]
        print(f"{len(jobs)} curves, {len(jobs) - len(todo)} finished, {len(todo)} to train", flush=True)
        for job in todo:
            record = run_curve(job, results, lambda runs: save_runs(runs, cache))
            if job["size"] == min(args.sizes):
                name = f"{arm(job['augmentation'], job['ada_kimg'])}_seed{job['seed']}_it{job['iterations']}"
                save_grid({**record, "augmentation": name}, out_dir / "curve")
            print(f"{job['key']}: FID {record['fid']:.2f} ({record['fit_seconds']:.0f} s training)", flush=True)
    print(write_curve_report(results, args, Path(args.out), load_runs(out_dir / CACHE.name)))


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.eval_every:
        main_curves(args)
        return
    cache = Path(args.cache)
    results = load_runs(cache)
    if not args.report_only:
        jobs = [{"model": m, "size": n, "augmentation": a, "seed": s, "iterations": args.iterations,
                 "num_eval": args.num_eval, "ada_kimg": args.ada_kimg, "key": run_key(m, n, a, s, args.iterations)}
                for m in args.models for n in args.sizes for a in args.augmentations for s in args.seeds]

        def done(result: dict[str, Any], seconds: float) -> None:
            if result["size"] == min(args.sizes) and result["seed"] == min(args.seeds):
                save_grid(result, Path(args.out_dir))
            print(f"[{len(results)}] {result['key']:40s} FID {result['fid']:7.2f}  ({result['fit_seconds']:.0f} s; "
                  f"{seconds:.0f} s so far)", flush=True)

        train_missing(jobs, run_one, results, cache, args.workers, done)
    print(write_report(results, args, Path(args.out)))


if __name__ == "__main__":
    os.environ.setdefault("WANDB_MODE", "offline")
    main()
