"""StackGAN++: does the colour-consistency term make the branches' images agree in colour? On CaptionedDigits.

Zhang et al. 2018 (StackGAN++, Section 4.2) add to G's loss a colour-consistency term between consecutive
branches (the finer image's mean colour and colour covariance against the coarser one's), so that the
images a tree G draws of one (z, caption) at its scales share their colours. This script trains the
committed recipe (``experiments/stackganv2/captioned_digits.yaml``: branches 16, 32 and 64 px) with
``colour_weight`` 50 (the authors' ``*_3stages_color.yml``) and with ``colour_weight: 0`` (the off switch:
the authors' text-to-image ``birds_3stages.yml``), seed 0, the same iterations, one thread, raw G (the
recipe has no EMA), and draws, for each of the first ``--samples`` held-out captions, the three
branches' images from the same z (seeded) with both models, in two ways:

- **eval mode**, as ``sample`` draws them (BatchNorm's running statistics; c = mu);
- **training mode**, as the term sees them in a training step (BatchNorm's statistics of each batch of the
  recipe's batch size, c = mu + sigma * eps with seeded eps), on a copy of G so that nothing is updated.

It measures, per image, for the pairs 16/32 px and 32/64 px, each image's statistics over its own pixels
at its own size, as the term takes them (a gap is 0 exactly where the term is 0):

- **mean gap**: ||mean colour (fine) - mean colour (coarse)||_2 (RGB, images in [-1, 1]);
- **covariance gap**: ||colour covariance over pixels (fine) - (coarse)||_F
  (``gan_lightning.losses.stacked.colour_gap``);

and, as the scale against which a gap is small or large, the same gaps between the 64 px images of two
different captions (caption i against i + 1, the same model): what unrelated images differ by. How far
the running statistics are from a batch's (is the eval-mode G the training-mode G?): per branch, the
mean-colour shift between the eval-mode and the training-mode image of one (z, caption), and over G's
BatchNorm layers, |batch mean - running mean| / running std and batch variance / running variance.

Training is resumable: each setting keeps a checkpoint at each measured iteration
(``<cache>/benchmarks/stackganv2_colour/<setting>/step=N.ckpt``, ``cache`` as
``gan_lightning.data.files.cache_dir``) and a later command with more ``--iterations`` trains on from the
last one (the project's checkpoints hold the RNG states: the resumed run is the uninterrupted one).

    python benchmarks/stackganv2_colour.py [--iterations 2000] [--measure-at 150,500,1000] [--samples 500]
    python benchmarks/stackganv2_colour.py --report-only    # the section from the cache

Writes section ``stackganv2`` of benchmarks/RESULTS.md; caches each measurement in
benchmarks/stackganv2_colour/results.json, pictures beside it.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch
from harness import (
    BENCHMARKS,
    RESULTS_MD,
    command_block,
    command_line,
    int_list,
    kept_checkpoints,
    load_average,
    load_recipe,
    load_runs,
    quiet_lightning,
    replace_section,
    save_grid,
    save_runs,
    stack_split,
)

OUT_DIR = BENCHMARKS / "stackganv2_colour"
RESULTS_JSON = OUT_DIR / "results.json"
SECTION = "stackganv2"
RECIPE = ("StackGANv2", "captioned_digits")
SAMPLE_SEED = 1
#: the two runs: the recipe's colour weight (the authors' ``*_3stages_color.yml``: 50), and the term off.
SETTINGS = {"colour_on": 50.0, "colour_off": 0.0}
MODES = ("eval", "train")
#: the measure's version: a cached measurement of another one is measured again from its checkpoint
#: (2: each image's statistics at its own size, as the term takes them; 1 averaged the finer image down first).
MEASURE = 2


def checkpoint_dir(setting: str) -> Path:
    from gan_lightning.data.files import cache_dir

    return cache_dir() / "benchmarks" / "stackganv2_colour" / setting


def checkpoints(setting: str) -> dict[int, Path]:
    """The kept checkpoints of ``setting``: iteration -> file."""
    return kept_checkpoints(checkpoint_dir(setting))


def build(setting: str):
    """(model, data, recipe) of ``setting``, seeded as the run starts."""
    import lightning as L

    from gan_lightning import models
    from gan_lightning.data import CaptionedDigits

    recipe = load_recipe(*RECIPE)
    data = CaptionedDigits(**recipe["data_args"])
    L.seed_everything(0, verbose=False)
    init = {**recipe["init_args"], "colour_weight": SETTINGS[setting], "data_shape": data.data_shape}
    return getattr(models, RECIPE[0])(**init), data, recipe


def train(setting: str, milestones: list[int]) -> dict[str, float] | None:
    """Train ``setting`` to ``max(milestones)`` from its latest kept checkpoint below, keeping one at each
    milestone; returns this leg's (from, to, CPU seconds, wall seconds), None when nothing was left to train."""
    import lightning as L
    from lightning.pytorch.callbacks import Callback

    torch.set_num_threads(1)
    quiet_lightning()
    final = max(milestones)
    done = {step: path for step, path in checkpoints(setting).items() if step <= final}
    start = max(done, default=0)
    if start == final:
        return None
    folder = checkpoint_dir(setting)
    folder.mkdir(parents=True, exist_ok=True)

    class KeepAt(Callback):
        def on_train_batch_end(self, trainer, *args) -> None:
            if trainer.global_step in milestones:
                trainer.save_checkpoint(folder / f"step={trainer.global_step}.ckpt")

    model, data, _ = build(setting)
    cpu, wall = time.process_time(), time.perf_counter()
    trainer = L.Trainer(max_steps=final, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0, accelerator="cpu", devices=1,
                        callbacks=[KeepAt()], default_root_dir=str(folder))
    trainer.fit(model, data, ckpt_path=str(done[start]) if start else None)
    if trainer.global_step != final:
        raise RuntimeError(f"{setting}: trained to {trainer.global_step} iterations, expected {final}")
    leg = {"from": start, "to": final, "cpu_seconds": round(time.process_time() - cpu, 1),
           "wall_seconds": round(time.perf_counter() - wall, 1)}
    print(f"{setting}: {start} -> {final} iterations, {leg['cpu_seconds']:.0f} CPU s", flush=True)
    return leg


def train_mode_branches(model, z: torch.Tensor, captions: torch.Tensor, batch: int, augment: bool = True):
    """The branches' images as a training step draws them: a copy of G in training mode (each batch of
    ``batch`` normalised by its own statistics, c = mu + sigma * eps with seeded eps; ``augment=False``:
    c = mu, BatchNorm's batch statistics alone); nothing of the model nor the global RNG changes. Also the BatchNorm layers' batch statistics of the first batch
    against their running statistics: (mean |m_b - m_r| / sqrt(v_r), mean v_b / v_r) over layers and channels."""
    g = copy.deepcopy(model.generator).train()
    g.ca.augment = augment
    norms = [m for m in g.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    drift = []

    def hook(module, inputs, _output):
        x = inputs[0].transpose(0, 1).flatten(1)
        std = module.running_var.add(module.eps).sqrt()
        drift.append(((x.mean(1) - module.running_mean).abs() / std).mean().item())
        drift.append((x.var(1, unbiased=False) / module.running_var.add(module.eps)).mean().item())

    handles = [m.register_forward_hook(hook) for m in norms]
    chunks = []
    with torch.no_grad(), torch.random.fork_rng():
        torch.manual_seed(SAMPLE_SEED)
        for k, (zs, cs) in enumerate(zip(z.split(batch), captions.split(batch))):
            chunks.append(g(zs, model.embed(cs))[0])
            if k == 0:
                for handle in handles:
                    handle.remove()
    shift, ratio = drift[0::2], drift[1::2]
    return [torch.cat(b) for b in zip(*chunks)], (sum(shift) / len(shift), sum(ratio) / len(ratio))


def measure(setting: str, step: int, samples: int, picture: bool) -> dict[str, Any]:
    """Both modes' gaps of ``setting``'s checkpoint at ``step``."""
    from gan_lightning.losses.stacked import colour_gap, pixel_mean_covariance

    torch.set_num_threads(1)
    model, data, recipe = build(setting)
    model.load_state_dict(torch.load(checkpoints(setting)[step], map_location="cpu", weights_only=False)["state_dict"])
    data.setup("fit")
    heldout = stack_split(data.heldout_set, ["caption"])
    captions = heldout["caption"][:samples]
    z = model.sample_noise(len(captions), rng=torch.Generator().manual_seed(SAMPLE_SEED))
    with torch.no_grad():
        drawn = {"eval": model.sample(noise=z, conditions={"caption": captions}, stages=True, use_ema=False)}
    batch = recipe["data_args"]["batch_size"]
    drawn["train"], (mean_shift, var_ratio) = train_mode_branches(model, z, captions, batch)
    batch_statistics_only = train_mode_branches(model, z, captions, batch, augment=False)[0]
    result: dict[str, Any] = {"iterations": step, "colour_weight": SETTINGS[setting], "samples": len(captions),
                              "recipe_iterations": recipe["max_steps"], "gaps": {}}
    for mode, branches in drawn.items():
        gaps = {}
        for i in range(1, len(branches)):
            mean, cov = colour_gap(branches[i], branches[i - 1])
            gaps[f"{model.sizes[i - 1]}/{model.sizes[i]}"] = {"mean": float(mean.mean()), "cov": float(cov.mean())}
        last = branches[-1]
        mean, cov = colour_gap(last, last.roll(1, dims=0))
        gaps[f"unrelated {model.sizes[-1]}/{model.sizes[-1]}"] = {"mean": float(mean.mean()), "cov": float(cov.mean())}
        result["gaps"][mode] = gaps
    def shift(a, b):
        return float((pixel_mean_covariance(a)[0] - pixel_mean_covariance(b)[0]).norm(dim=1).mean())

    result["eval_train_shift"] = {f"{size} px": shift(e, t) for size, e, t in zip(model.sizes, drawn["eval"], drawn["train"])}
    result["eval_batchnorm_shift"] = {f"{size} px": shift(e, t)
                                      for size, e, t in zip(model.sizes, drawn["eval"], batch_statistics_only)}
    result["batchnorm"] = {"mean_shift": mean_shift, "var_ratio": var_ratio}
    if picture:
        for mode, branches in drawn.items():
            last = branches[-1]
            up = [torch.nn.functional.interpolate(b[:8], size=last.shape[-2:], mode="nearest") for b in branches]
            result[f"picture_{mode}"] = save_grid(torch.stack(up, dim=1).flatten(0, 1),
                                                  OUT_DIR / f"{setting}_{mode}.png", nrow=2 * len(branches))
    return result


STATISTICS = {"mean": "mean colour", "cov": "colour covariance"}


def verdict_of(on: dict[str, Any], off: dict[str, Any]) -> tuple[str, str]:
    """(in short, in full): the verdict at one milestone: a (pair, statistic) counts as closer with the term when its gap is smaller
    than without in both modes (eval and training); reached when every one is, in part when some are."""
    pairs = [p for p in on["gaps"]["eval"] if not p.startswith("unrelated")]
    cells = [(p, stat) for p in pairs for stat in STATISTICS]
    closer = [(p, stat) for p, stat in cells
              if all(on["gaps"][m][p][stat] < off["gaps"][m][p][stat] for m in MODES)]
    words = {"eval": "eval mode", "train": "training mode"}
    detail = "; ".join(
        f"{words[m]}: " + ", ".join(f"{p} px {stat} {off['gaps'][m][p][stat] / max(on['gaps'][m][p][stat], 1e-12):.2f}x"
                                     for p, stat in cells) for m in MODES)
    ratios = f"(the gap without the term over the gap with it; {detail})"
    steps = on["iterations"]
    if len(closer) == len(cells):
        return "reached", (f"Verdict: reached at {steps} iterations: with the term every pair of consecutive branches "
                           f"agrees more closely in mean colour and colour covariance, in both modes {ratios}.")
    if closer:
        named = " and ".join(f"the {STATISTICS[stat]} of the {p.replace('/', ' to ')} px branches" for p, stat in closer)
        return f"reached on {named} only", (
            f"Verdict: reached on {named} only, at {steps} iterations: closer with the term in both modes there, in the "
            f"other statistics and pairs not in both {ratios}.")
    return "not reached", (f"Verdict: not reached at {steps} iterations: no pair of branches is closer in a statistic "
                           f"with the term in both modes {ratios}.")


def section(runs: dict[str, Any], command: str) -> str:
    on_runs, off_runs = runs["colour_on"], runs["colour_off"]
    steps = sorted(int(s) for s in on_runs if s in off_runs)
    final = steps[-1]
    on, off = on_runs[str(final)], off_runs[str(final)]
    recipe = on["recipe_iterations"]
    legs = runs.get("training", {})
    timed = {k: [leg for leg in legs.get(k, []) if leg["to"] <= final] for k in SETTINGS}

    def cpu(key: str) -> str:
        minutes = sum(leg["cpu_seconds"] for leg in timed[key]) / 60
        start = min((leg["from"] for leg in timed[key]), default=final)
        return f"{minutes:.1f}" + (f" (iterations {start}-{final}; the first {start} untimed)" if start else "")

    budget = ("the recipe's budget" if final == recipe else
              f"**below the recipe's budget** of {recipe} iterations: the shared 2-core CPU's time for this "
              f"benchmark (about 40 CPU-minutes in all) allowed no more; the checkpoints are kept, so a later "
              f"command with `--iterations {recipe}` trains on from {final}")
    lines = [(f"StackGAN++ (Zhang et al. 2018) on CaptionedDigits, the colour-consistency term on (`colour_weight` "
              f"{on['colour_weight']:g}, the authors' unconditional `*_3stages_color.yml` value) vs off "
              f"(`colour_weight` 0, their text-to-image `birds_3stages.yml`), each trained {final} iterations "
              f"({budget}); measured at {', '.join(map(str, steps))} iterations; seed 0, batch 64, one thread, raw "
              f"G; {cpu('colour_on')} + {cpu('colour_off')} CPU-minutes of training. {on['samples']} "
              f"held-out captions, one seeded z each, the same (z, caption) for both models, drawn in **eval "
              f"mode** (as `sample` draws them: BatchNorm's running statistics, c = mu) and in **training mode** "
              f"(as the term sees them in a step: each batch of 64 normalised by its own statistics, c = mu + "
              f"sigma eps, seeded). Gap per image, each image's statistics over its own pixels as the term takes them "
              f"(0 exactly where the term is 0; the earlier version of this section averaged the finer image down "
              f"first, which also counts its detail as a covariance gap): mean-colour gap ||mu_fine - mu_coarse||_2 and covariance gap ||C_fine - C_coarse||_F (images in [-1, 1]), "
              f"averaged over the images. Scale: the same gaps between the 64 px images of two different "
              f"captions."), "",
             *command_block(command), "",
             "Mean-colour gap (term on / term off):", "",
             "| iterations | branches | eval mode, on | eval mode, off | training mode, on | training mode, off |",
             "|---|---|---|---|---|---|"]
    for stat, title in (("mean", None), ("cov", "Covariance gap (term on / term off):")):
        if title:
            lines += ["", title, "",
                      ("| iterations | branches | eval mode, on | eval mode, off | training mode, on | "
                      "training mode, off |"), "|---|---|---|---|---|---|"]
        for step in steps:
            a, b = on_runs[str(step)]["gaps"], off_runs[str(step)]["gaps"]
            for pair in a["eval"]:
                lines.append(f"| {step} | {pair} px | {a['eval'][pair][stat]:.4f} | {b['eval'][pair][stat]:.4f} | "
                             f"{a['train'][pair][stat]:.4f} | {b['train'][pair][stat]:.4f} |")
    lines += ["", ("Eval mode against training mode (is the sampled G the trained G?): per branch, the mean-colour "
                   "shift ||mu_eval - mu_train||_2 of one (z, caption), in all (BatchNorm's batch statistics and c's "
                   "noise) and from BatchNorm alone (c = mu in both); over G's BatchNorm layers (first batch of 64), "
                   "mean |batch mean - running mean| / running std and mean batch variance / running variance:"), "",
              ("| iterations | setting | shift 16 / 32 / 64 px, in all | shift 16 / 32 / 64 px, BatchNorm alone | "
              "BN mean shift / std | BN var ratio |"),
              "|---|---|---|---|---|---|"]
    for step in steps:
        for key, run in (("on", on_runs[str(step)]), ("off", off_runs[str(step)])):
            every = " / ".join(f"{s:.3f}" for s in run["eval_train_shift"].values())
            alone = " / ".join(f"{s:.3f}" for s in run["eval_batchnorm_shift"].values())
            lines.append(f"| {step} | term {key} | {every} | {alone} | {run['batchnorm']['mean_shift']:.3f} | "
                         f"{run['batchnorm']['var_ratio']:.3f} |")
    verdict = verdict_of(on, off)[1]
    earlier = [verdict_of(on_runs[str(step)], off_runs[str(step)])[0] for step in steps[:-1]]
    if earlier:
        verdict += " Earlier: " + "; ".join(f"at {step} iterations, {word}" for step, word in zip(steps, earlier)) + "."
    lines += ["", verdict, "", ("One seed per setting: no seed spread is measured. Where the paper makes the claim: "
                                "the authors turn the term on in their unconditional cfgs only (`COLOR_LOSS` 50, "
                                "`B_CONDITION` False); their text-to-image cfg leaves it at 0. This StackGANv2 is "
                                "caption-conditioned only (no unconditional mode), so the term is measured here with "
                                "captions, outside the paper's setting."), "",
              (f"The three branches (16, 32, 64 px, shown at 64 px) of the first 8 captions at {final} iterations, "
               f"eval mode: term on `{on['picture_eval']}`, term off `{off['picture_eval']}`; training mode: term "
               f"on `{on['picture_train']}`, term off `{off['picture_train']}`. Machine: {on.get('machine', '?')}, "
               f"{on.get('cpus', '?')} CPUs, load {on.get('load', '?')} when it ended.")]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=load_recipe(*RECIPE)["max_steps"])
    parser.add_argument("--measure-at", type=int_list, default=(150, 500, 1000),
                        help="iterations (below --iterations) at which to keep a checkpoint and measure too")
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--settings", default=",".join(SETTINGS), help="which settings to train and measure now")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    runs = load_runs(RESULTS_JSON, empty={})
    milestones = sorted({s for s in args.measure_at if s < args.iterations} | {args.iterations})
    command = command_line(__file__, [f"--iterations={args.iterations}",
                                      f"--measure-at={','.join(map(str, milestones[:-1]))}",
                                      f"--samples={args.samples}"])
    if not args.report_only:
        for step in milestones:  # both settings to each milestone, one after the other: a stop loses least
            for setting in args.settings.split(","):
                leg = train(setting, [m for m in milestones if m <= step])
                if leg:
                    runs.setdefault("training", {}).setdefault(setting, []).append(leg)
                    save_runs(runs, RESULTS_JSON)
                measured = runs.setdefault(setting, {})
                cached = measured.get(str(step), {})
                if cached.get("samples") == args.samples and cached.get("measure") == MEASURE:
                    continue
                result = measure(setting, step, args.samples, picture=step == args.iterations)
                result.update(machine=platform.machine(), cpus=os.cpu_count(), load=round(load_average()[0], 1),
                              measure=MEASURE)
                measured[str(step)] = result
                save_runs(runs, RESULTS_JSON)
        runs["command"] = command
        save_runs(runs, RESULTS_JSON)
    if any(key not in runs for key in SETTINGS):
        raise SystemExit(f"runs missing in {RESULTS_JSON}: run without --report-only first")
    text = section(runs, runs.get("command", command))
    replace_section(RESULTS_MD, SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
