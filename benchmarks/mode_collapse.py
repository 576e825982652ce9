"""Mode collapse on the toy 2-D mixtures: PacGAN's synthetic protocol for every toy-capable model.

Protocol (Lin et al. 2018, section 5.1, which follows VEEGAN, Srivastava et al. 2017):

- data: ``Toy2D`` ``ring8`` (8 Gaussians on the unit circle, std 0.01) and ``grid25``
  (25 Gaussians on {-4,-2,0,2,4}^2, std 0.05); 100k training points, batch 100;
- networks: the same for every model, PacGAN's toy sizes by default (G: 4 hidden layers
  of 400, D: 3 hidden layers of 200, z in R^2);
- everything else is each model's committed recipe: the ``init_args`` of
  ``experiments/<model>/<data>.yaml`` (loss, optimizer, learning rates, betas, critic steps,
  penalties, normalisation, pack size, ...), with only ``latent_dim``, ``g_hidden`` and
  ``d_hidden`` overridden by the shared sizes above;
- evaluation: 2,500 samples of the *raw* generator (the headline tables), in eval mode,
  after the last iteration, and, in a second table, of the EMA copy (decay 0.999, same
  noise; ``--no-ema`` drops it; the EMA never feeds back into training), scored with
  ``gan_lightning.evaluation.ModeCoverage2D``: modes captured (a mode counts when at least one
  sample within 3 std is nearest to it), fraction of high-quality samples (within 3 std of
  their nearest mode), reverse KL of the high-quality samples' mode histogram to uniform;
- seeds 0..N-1; each seed sets the training set, the initial weights and the noise; tables
  show mean ± sample standard deviation (ddof = 1) over seeds.

Iterations are batches (``trainer.max_steps``, as everywhere in gan-lightning): a model
with ``critic_steps = 5`` (WGAN, WGAN-GP, WGAN-div) takes a G step on every 5th one. The
default budget is sized so that the full default run (13 models x 2 data sets x 3 seeds)
fits in 30 minutes on a 2-core CPU; see benchmarks/RESULTS.md for the measured costs.
UnrolledGAN is ``unroll_steps + 1`` times dearer per G step and runs with its own, smaller
budget (``--iterations-for``). The committed recipes run 10,000 iterations (WGAN, WGAN-GP,
WGAN-div, WGAN-LP: 25,000; Fisher GAN: 20,000), so the default budget gives short-budget
results, not a reproduction of the papers'; a section compares each row's budget with its own
recipe's ``max_steps`` and says which rows ran below it (``recipe_budget_sentence``).

Runs are single-threaded (``torch.set_num_threads(1)``); ``--workers N`` runs N of them in
parallel processes (default 1: on the shared 2-core machine this was written on, 2 workers
were no faster, see ``BUDGET_NOTE``). ``--batched-seeds`` trains the seeds of each (model,
data set) as one batched model (``benchmarks/batched.py``; GAN, LSGAN, WGAN, WGAN-GP, PacGAN,
RelativisticGAN, WGAN-div, FisherGAN): the same runs, trained faster (``benchmarks/batched_seeds.py`` measures how much);
``--batch-supported`` batches those models' seeds and runs the others' one at a time.

Recipe changes: ``--set MODEL.key=value`` (repeatable) changes one init arg of MODEL's recipe for this
run (the key must be an init arg of the recipe or of the class; the value is read as YAML). The changes
are part of each run's key (``RunSpec.overrides``: a changed run is never taken for the plain recipe's
cached run, the unchanged models keep theirs) and the section names the rows that carry them.

Verdicts: ``--versus LSGAN=GAN,WGAN=GAN`` adds, per pair of ``PAPER_PAIRS`` (a model and the baseline its
paper beats, with the measure the paper's claim maps to), the means, their difference and the verdict of
one rule, ``paired_verdict`` (``VERDICT_RULE``: reached when better by more than twice the Welch standard
error over seeds). ``--verdicts-from SECTION`` trains nothing: it writes ``--section`` with the verdicts on
the per-seed column that SECTION of ``--out`` printed.

    python benchmarks/mode_collapse.py [--seeds 3] [--iterations N] [--models GAN,PacGAN]
        [--data ring8,grid25] [--out benchmarks/RESULTS.md] [--workers 2] [--batched-seeds | --batch-supported]
        [--versus MODEL=BASELINE,...] [--verdicts-from SECTION] [--set MODEL.key=value ...]

Writes the Markdown report (``--out``) and one PNG per data set with every model's
final samples (first seed) over the true modes, in ``benchmarks/mode_collapse/``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any, Collection, Sequence

import numpy as np
import torch

from harness import (BENCHMARKS, RESULTS_MD, command_block, coverage, fit_exactly, init_values, int_list, load_average,
                     load_pickled_runs, load_recipe, mean_std, model_budgets, notes_lines, pooled, quiet_lightning,
                     replace_section, save_pickled_runs, training_command)

DEFAULT_MODELS = ("GAN", "LSGAN", "WGAN", "WGANGP", "WGANDiv", "DRAGAN", "SNGAN", "RelativisticGAN",
                  "EBGAN", "BEGAN", "UnrolledGAN", "MADGAN", "PacGAN")
# Accepted by --models beside the defaults (benchmarks/mrgan.py runs MRGAN with this protocol; the
# loss-family models of issue 28 run in their own section, loss_family_new; VEEGAN in section veegan).
MODELS = DEFAULT_MODELS + ("MRGAN", "WGANLP", "FisherGAN", "MAGAN", "VEEGAN")
DATA_KINDS = ("ring8", "grid25")
NUM_MODES = {"ring8": 8, "grid25": 25}
# Axis limits of the scatter plots: the mixture plus a margin.
PLOT_LIMITS = {"ring8": 1.6, "grid25": 6.0}

# Defaults, chosen from measured per-iteration costs (BUDGET_NOTE below, also in RESULTS.md).
DEFAULT_ITERATIONS = 1500
DEFAULT_ITERATIONS_FOR = {"UnrolledGAN": 450}
DEFAULT_G_HIDDEN = (400, 400, 400, 400)
DEFAULT_D_HIDDEN = (200, 200, 200)
DEFAULT_LATENT_DIM = 2
DEFAULT_SECTION = "mode_collapse"  # of benchmarks/RESULTS.md, see benchmarks/harness.py
EVAL_NOISE_SEED = 10_000  # evaluation noise: torch.Generator seeded EVAL_NOISE_SEED + seed
EMA_DECAY = 0.999


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One training run: a model on a data set with a seed and a budget."""

    model: str
    kind: str
    seed: int
    iterations: int
    num_points: int = 100_000
    batch_size: int = 100
    num_eval: int = 2_500
    latent_dim: int = DEFAULT_LATENT_DIM
    g_hidden: tuple[int, ...] = DEFAULT_G_HIDDEN
    d_hidden: tuple[int, ...] = DEFAULT_D_HIDDEN
    ema: bool = True
    threads: int = 1
    # ``--set MODEL.key=value`` changes of this run's recipe: sorted (key, YAML text) pairs. Part of the
    # run's identity (equality, hash, the --cache key): a changed run is never the plain recipe's run.
    # Default (): runs cached before the field existed unpickle to () and keep their key.
    overrides: tuple[tuple[str, str], ...] = ()


# ----------------------------------------------------------------------------- recipes
def model_kwargs(spec: RunSpec) -> dict[str, Any]:
    """The recipe's ``init_args`` with only the shared sizes (and the data shape) overridden."""
    kwargs = load_recipe(spec.model, spec.kind)["init_args"]
    kwargs.update(data_shape=(2,), latent_dim=spec.latent_dim,
                  g_hidden=list(spec.g_hidden), d_hidden=list(spec.d_hidden))
    kwargs.update(override_values(spec.overrides))
    return kwargs


def override_values(overrides: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """``(key, YAML text)`` pairs of ``--set`` as init arguments (``0.5`` a float, ``unit`` a string), read as
    a recipe's are (``harness.init_values``)."""
    import yaml

    return init_values({key: yaml.safe_load(text) for key, text in overrides})


def accepted_keys(model: str, kinds: Sequence[str]) -> list[str]:
    """What ``--set MODEL.key=value`` accepts: the init args of MODEL's recipes and of its class."""
    import inspect

    from gan_lightning import models

    keys = {name for name, parameter in inspect.signature(getattr(models, model).__init__).parameters.items()
            if name != "self" and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)}
    for kind in kinds:
        keys.update(load_recipe(model, kind)["init_args"])
    return sorted(keys)


def parse_sets(items: Sequence[str], models: Sequence[str], kinds: Sequence[str]) -> dict[str, tuple[tuple[str, str], ...]]:
    """``--set MODEL.key=value`` (repeatable) -> {model: sorted (key, value text) pairs}; ValueError (one
    line naming the item, its key or value and what is accepted) on a bad item."""
    import yaml

    changes: dict[str, dict[str, str]] = {}
    for item in items:
        head, eq, text = item.partition("=")
        model, dot, key = head.strip().partition(".")
        if not eq or not dot or not key.strip() or not text.strip():
            raise ValueError(f"--set {item!r}: expected MODEL.key=value, e.g. VEEGAN.reconstructor=unit")
        key, text = key.strip(), text.strip()
        if model not in models:
            raise ValueError(f"--set {item!r}: model {model!r} is not in --models; choose from {', '.join(models)}")
        accepted = accepted_keys(model, kinds)
        if key not in accepted:
            raise ValueError(f"--set {item!r}: {model} has no init arg {key!r} (value {text!r}); "
                             f"accepted: {', '.join(accepted)}")
        try:
            yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise ValueError(f"--set {item!r}: value {text!r} of {model}.{key} is not YAML "
                             f"({str(error).splitlines()[0]})") from None
        changes.setdefault(model, {})[key] = text
    return {model: tuple(sorted(pairs.items())) for model, pairs in changes.items()}


def overrides_text(overrides: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f"`{key}={text}`" for key, text in overrides)


def build_model(spec: RunSpec):
    from gan_lightning import models

    return getattr(models, spec.model)(**model_kwargs(spec))


# ----------------------------------------------------------------------------- one run
def train_one(spec: RunSpec) -> tuple[Any, float, float]:
    """Train ``spec.model`` for ``spec.iterations`` batches, seeded ``spec.seed``; returns the
    model, the data set's std and the fit's wall seconds."""
    import lightning as L

    from gan_lightning.data import Toy2D

    quiet_lightning()
    torch.set_num_threads(spec.threads)
    L.seed_everything(spec.seed, workers=False, verbose=False)
    data = Toy2D(kind=spec.kind, num_points=spec.num_points, batch_size=spec.batch_size, seed=spec.seed)
    model = build_model(spec)
    callbacks = []
    if spec.ema:
        from gan_lightning.callbacks import EMACallback

        callbacks.append(EMACallback(decay=EMA_DECAY))
    fit_seconds = fit_exactly(model, data, spec.iterations, callbacks,
                              f"{spec.model}/{spec.kind}/seed {spec.seed}")
    return model, data.std, fit_seconds


def run_one(spec: RunSpec) -> dict[str, Any]:
    """Train ``spec.model`` for ``spec.iterations`` batches; score 2,500 raw-G samples.

    Returns the spec, the metrics (``"raw"`` and, with ``spec.ema``, ``"ema"``), the
    samples as a float32 array and the wall times of building + fit and of fit alone.
    """
    started = time.perf_counter()
    model, std, fit_seconds = train_one(spec)
    return score_run(spec, model, std, fit_seconds, time.perf_counter() - started)


def score_run(spec: RunSpec, model, std: float, fit_seconds: float, seconds: float) -> dict[str, Any]:
    """The result of a trained run: ``ModeCoverage2D`` of the raw G (and of its EMA), samples, times."""
    noise = torch.Generator().manual_seed(EVAL_NOISE_SEED + spec.seed)
    samples = model.sample(spec.num_eval, use_ema=False, rng=noise)  # eval mode inside
    result = {"spec": spec, "raw": coverage(samples, spec.kind, std),
              "samples": samples.detach().float().cpu().numpy(), "std": std,
              "fit_seconds": fit_seconds, "seconds": seconds,
              "g_steps": sum(1 for i in range(spec.iterations) if (i + 1) % model.critic_steps == 0)}
    if spec.ema:
        noise = torch.Generator().manual_seed(EVAL_NOISE_SEED + spec.seed)
        result["ema"] = coverage(model.sample(spec.num_eval, use_ema=True, rng=noise), spec.kind, std)
    return result


def train_seeds_batched(specs: Sequence[RunSpec]) -> tuple[list[Any], float, float]:
    """The runs of ``specs`` (one spec per seed, equal but for the seed) trained as one batched
    model (``benchmarks/batched.py``), each seed as ``train_one`` would train it; returns the
    models (one per spec), the data set's std and the batched fit's wall seconds."""
    from batched import fit_seeds
    from gan_lightning.data import Toy2D

    first = specs[0]
    if any(dataclasses.replace(spec, seed=first.seed) != first for spec in specs):
        raise ValueError("batched seeds: the specs must differ in their seed only")
    quiet_lightning()
    torch.set_num_threads(first.threads)
    models, fit_seconds = fit_seeds(
        lambda: build_model(first),
        lambda seed: Toy2D(kind=first.kind, num_points=first.num_points, batch_size=first.batch_size, seed=seed),
        [spec.seed for spec in specs], first.iterations, ema_decay=EMA_DECAY if first.ema else None)
    return models, Toy2D(kind=first.kind).std, fit_seconds


def run_seeds_batched(specs: Sequence[RunSpec]) -> list[dict[str, Any]]:
    """``run_one`` of every spec, the seeds trained as one batched model (``train_seeds_batched``);
    each run's times are the batched ones divided by the number of seeds."""
    started = time.perf_counter()
    models, std, fit_seconds = train_seeds_batched(specs)
    share = (time.perf_counter() - started) / len(specs)
    return [score_run(spec, model, std, fit_seconds / len(specs), share) for spec, model in zip(specs, models)]


def seed_groups(specs: Sequence[RunSpec]) -> list[list[RunSpec]]:
    """``specs`` grouped by everything but the seed, in order of first appearance."""
    groups: dict[RunSpec, list[RunSpec]] = {}
    for spec in specs:
        groups.setdefault(dataclasses.replace(spec, seed=0), []).append(spec)
    return list(groups.values())


def run_separately(specs: Sequence[RunSpec]) -> list[dict[str, Any]]:
    return [run_one(spec) for spec in specs]


def run_task(task: tuple[bool, list[RunSpec]]) -> list[dict[str, Any]]:
    """A task of ``run_all``: ``(batched, specs)``, the seeds of one group as one batched model or one run."""
    batched, specs = task
    return run_seeds_batched(specs) if batched else run_separately(specs)


def tasks_of(specs: Sequence[RunSpec], batched_seeds: bool | Collection[str]) -> list[tuple[bool, list[RunSpec]]]:
    """``run_all``'s tasks: the seed groups of the batched models (``batched_seeds``: all of them, or
    those named), every other run a task of its own."""
    tasks = []
    for group in seed_groups(specs):
        if batched_seeds is True or (batched_seeds and group[0].model in batched_seeds):
            tasks.append((True, group))
        else:
            tasks += [(False, [spec]) for spec in group]
    return tasks


def run_all(specs: Sequence[RunSpec], workers: int, log=print, batched_seeds: bool | Collection[str] = False,
            on_task=None) -> list[dict[str, Any]]:
    """Every spec, ``workers`` at a time (spawned processes; in-process when ``workers == 1``).

    ``batched_seeds``: the seeds of each (model, data set) train together as one batched model
    (``run_seeds_batched``), one such group per task; otherwise every run is a task of its own. A
    collection of model names batches the seeds of those models only (``--batch-supported``).
    ``on_task(results)``: called with a finished task's results (e.g. to cache them)."""
    results = []
    loads = []

    def report(result: dict[str, Any]) -> None:
        spec, raw = result["spec"], result["raw"]
        loads.append(load_average()[0])
        log(f"[{len(results) + 1}/{len(specs)}] {spec.model:16s} {spec.kind:6s} seed {spec.seed} "
            f"iters {spec.iterations:6d}  modes {raw['modes']:2d}  hq {100 * raw['high_quality']:5.1f}%  "
            f"rkl {raw['reverse_kl']:.3f}  fit {result['fit_seconds']:6.1f}s  load {loads[-1]:.1f}")
        results.append(result)

    for task_results in pooled(run_task, tasks_of(specs, batched_seeds), workers):
        for result in task_results:
            report(result)
        if on_task is not None:
            on_task(task_results)
    for result in results:
        result["load"] = loads
    return results


def load_cache(path: Path | None) -> dict[str, Any]:
    """``{"results": {spec: result}, "wall": seconds, "load_start": ...}`` of an interrupted run of the
    same command (``--cache``, a pickle: the results hold their samples); empty without one."""
    return load_pickled_runs(path, empty={"results": {}})


# ----------------------------------------------------------------------------- tables
def summarise(results: Sequence[dict[str, Any]], kind: str, which: str = "raw") -> list[dict[str, Any]]:
    """One row per model (in ``MODELS`` order) for data set ``kind``: mean / std over seeds."""
    rows = []
    order = {name: i for i, name in enumerate(MODELS)}
    by_model: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        if result["spec"].kind == kind and which in result:
            by_model.setdefault(result["spec"].model, []).append(result)
    for model in sorted(by_model, key=lambda name: order.get(name, len(order))):
        runs = sorted(by_model[model], key=lambda r: r["spec"].seed)
        metrics = [r[which] for r in runs]
        total = NUM_MODES[kind]
        rows.append({
            "model": model,
            "seeds": len(runs),
            "iterations": runs[0]["spec"].iterations,
            "g_steps": runs[0]["g_steps"],
            "modes": mean_std([m["modes"] for m in metrics]),
            "high_quality": mean_std([100 * m["high_quality"] for m in metrics]),
            "reverse_kl": mean_std([m["reverse_kl"] for m in metrics]),
            "all_modes": sum(m["modes"] == total for m in metrics),
            "per_seed": [(m["modes"], 100 * m["high_quality"]) for m in metrics],
            "seconds": statistics.fmean(r["fit_seconds"] for r in runs),
        })
    return rows


TABLE_COLUMNS = ("Model", "Iterations (G steps)", "Modes (of {total})", "High-quality %", "Reverse KL",
                 "Seeds with all modes", "Per seed: modes / HQ %", "Fit s / run")


def _pm(pair: tuple[float, float], digits: int) -> str:
    mean, std = pair
    if math.isinf(mean):
        return "inf"
    if math.isnan(std):  # one seed: no spread to show
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def markdown_table(rows: Sequence[dict[str, Any]], kind: str) -> str:
    """The Markdown table of ``summarise`` rows."""
    header = [c.format(total=NUM_MODES[kind]) for c in TABLE_COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    for row in rows:
        cells = [row["model"], f"{row['iterations']} ({row['g_steps']})", _pm(row["modes"], 1),
                 _pm(row["high_quality"], 1), _pm(row["reverse_kl"], 2),
                 f"{row['all_modes']}/{row['seeds']}",
                 ", ".join(f"{modes}/{hq:.0f}" for modes, hq in row["per_seed"]), f"{row['seconds']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- published numbers
# Quoted from memory (no copy of the papers is reachable from where this benchmark was written);
# cells we are not sure of say "see paper". Check against the papers before citing them.
PACGAN_TABLE1 = {
    # model: (ring modes, ring HQ %, ring reverse KL, grid modes, grid HQ %, grid reverse KL)
    "GAN": ("6.3 ± 0.5", "98.2 ± 0.2", "0.45 ± 0.09", "17.3 ± 0.8", "94.8 ± 0.7", "0.70 ± 0.07"),
    "ALI": ("6.6 ± 0.3", "97.6 ± 0.4", "0.36 ± 0.04", "24.1 ± 0.4", "95.7 ± 0.6", "0.14 ± 0.03"),
    "PacGAN2": ("7.9 ± 0.1", "95.6 ± 2.0", "0.07 ± 0.03", "23.8 ± 0.7", "91.3 ± 0.8", "0.13 ± 0.04"),
    "PacGAN3": ("7.8 ± 0.1", "97.7 ± 0.3", "0.07 ± 0.02", "24.6 ± 0.4", "94.2 ± 0.4", "0.06 ± 0.02"),
    "PacGAN4": ("7.8 ± 0.1", "95.9 ± 1.4", "0.07 ± 0.02", "24.8 ± 0.2", "93.6 ± 0.6", "0.04 ± 0.01"),
}
VEEGAN_TABLE1 = {
    # model: (ring modes, ring HQ %, grid modes, grid HQ %)
    "GAN": ("1", "99.3", "3.3", "0.5"),
    "ALI": ("2.8", "0.13", "15.8", "1.6"),
    "Unrolled GAN": ("7.6", "35.6", "23.6", "16"),
    "VEEGAN": ("8", "52.9", "24.6", "40"),
}


def published_section() -> str:
    lines = [
        "## PUBLISHED numbers (quoted, not run here)",
        "",
        "These rows are copied from the papers' tables **from memory** (no copy of the papers "
        "was reachable when this file's generator was written) and were not produced by this "
        "benchmark. A cell we were not sure of would read \"see paper\"; check the papers "
        "before citing any of them.",
        "",
        "### PUBLISHED: PacGAN, Lin et al. 2018, Table 1 (mean ± standard error over their 10 trials)",
        "",
        "Same protocol as ours: ring std 0.01, grid std 0.05, 2,500 samples, G 4x400, D 3x200, "
        "z in R^2, batch 100; but their D uses maxout units, and their training length and "
        "number of trials are theirs (see paper).",
        "",
        "| Model (PUBLISHED) | Ring modes (of 8) | Ring high-quality % | Ring reverse KL "
        "| Grid modes (of 25) | Grid high-quality % | Grid reverse KL |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {name} | " + " | ".join(cells) + " |" for name, cells in PACGAN_TABLE1.items()]
    lines += [
        "",
        "### PUBLISHED: VEEGAN, Srivastava et al. 2017, Table 1 (2-D columns)",
        "",
        "**Different set-up**: VEEGAN's mixtures (in particular the grid's standard deviation), "
        "its number of evaluation samples, its networks and its training length differ from "
        "PacGAN's and ours (see paper), so these numbers are not comparable with the rows above "
        "cell by cell. VEEGAN reports no reverse KL.",
        "",
        "| Model (PUBLISHED) | Ring modes (of 8) | Ring high-quality % | Grid modes (of 25) "
        "| Grid high-quality % |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {name} | " + " | ".join(cells) + " |" for name, cells in VEEGAN_TABLE1.items()]
    return "\n".join(lines)


PUBLISHED_NAMES = {"GAN": "GAN", "PacGAN": "PacGAN2"}  # our class -> its row in PACGAN_TABLE1 (pack 2)


def gap_to_published(results: Sequence[dict[str, Any]], kinds: Sequence[str]) -> str:
    """Our raw-G means beside PacGAN's Table 1 for the models both have, and the gap (ours - theirs)."""
    columns = {"ring8": (0, 1, 2), "grid25": (3, 4, 5)}
    lines = ["### Gap to the published rows (PacGAN, Table 1; ours: raw G, mean over our seeds)", "",
             "| Model | Data | Iterations | Modes: ours / published (gap) | High-quality %: ours / published (gap) "
             "| Reverse KL: ours / published (gap) |", "|---|---|---:|---|---|---|"]
    for kind in kinds:
        for row in summarise(results, kind):
            name = PUBLISHED_NAMES.get(row["model"])
            if name is None:
                continue
            cells = []
            for key, column, digits in zip(("modes", "high_quality", "reverse_kl"), columns[kind], (1, 1, 2)):
                published = PACGAN_TABLE1[name][column]
                theirs = float(published.split(" ")[0])
                ours = row[key][0]
                gap = "inf" if math.isinf(ours) else f"{ours - theirs:+.{digits}f}"
                cells.append(f"{'inf' if math.isinf(ours) else f'{ours:.{digits}f}'} / {published} ({gap})")
            lines.append(f"| {row['model']} ({name}) | {kind} | {row['iterations']} | " + " | ".join(cells) + " |")
    lines += ["", "PacGAN's protocol trains 400 epochs of the 100,000 points at batch 100 (400,000 iterations); "
              "the iterations column says what share of that ran here. The published cells are quoted from "
              "memory (see below)."]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- paper pairs: verdicts
@dataclasses.dataclass(frozen=True)
class PaperPair:
    """A model against the baseline its paper beats, and the measure of this protocol its claim maps to."""

    model: str
    baseline: str
    measure: str  # "modes" or "high_quality" of the raw G (higher is better for both)
    paper: str
    claim: str


MEASURES = {"modes": "modes captured", "high_quality": "high-quality %"}
# The measure of each pair is the paper's claim, chosen before the runs: mode coverage for the papers that
# claim fewer missing modes, the high-quality fraction for those that claim better or steadier samples.
PAPER_PAIRS = {(pair.model, pair.baseline): pair for pair in (
    PaperPair("LSGAN", "GAN", "high_quality", "Mao et al. 2017",
              "the least-squares loss gives higher-quality samples and steadier training than the GAN loss"),
    PaperPair("WGAN", "GAN", "modes", "Arjovsky et al. 2017",
              "the Wasserstein critic (weight clipping) trains G without the GAN loss's mode collapse"),
    PaperPair("UnrolledGAN", "GAN", "modes", "Metz et al. 2017, 2-D mixture",
              "unrolling D's updates in G's loss covers more modes of the 2-D mixture than a GAN"),
    PaperPair("MADGAN", "GAN", "modes", "Ghosh et al. 2018",
              "several generators with a (K+1)-way D cover more modes than one GAN"),
    PaperPair("EBGAN", "GAN", "high_quality", "Zhao et al. 2017",
              "an energy-based autoencoder D with a margin trains G more stably than a GAN, to better samples"),
    PaperPair("MAGAN", "EBGAN", "high_quality", "Wang et al. 2017",
              "a margin adapted to the expected real energy trains G to better samples than EBGAN's fixed margin"),
    PaperPair("WGANGP", "WGAN", "modes", "Gulrajani et al. 2017, toy data sets",
              "the gradient penalty lets the critic fit the mixture where weight clipping fails, so G covers "
              "its modes"),
    PaperPair("WGANDiv", "WGANGP", "high_quality", "Wu et al. 2018",
              "the Wasserstein divergence, free of the Lipschitz constraint, gives better samples than WGAN-GP"),
    PaperPair("FisherGAN", "WGANGP", "high_quality", "Mroueh & Sercu 2017",
              "the second-moment constraint trains the critic stably and fast: better samples than WGAN-GP "
              "at the same, short budget"),
    PaperPair("RelativisticGAN", "GAN", "high_quality", "Jolicoeur-Martineau 2019",
              "a relativistic D gives better samples than the standard GAN's"),
    PaperPair("DRAGAN", "GAN", "modes", "Kodali et al. 2017",
              "a gradient penalty around the real data keeps D from the sharp gradients that collapse G: more "
              "modes than a GAN"),
    PaperPair("BEGAN", "GAN", "modes", "Berthelot et al. 2017",
              "the equilibrium-controlled autoencoder D keeps G's samples diverse: more modes than a GAN"),
    PaperPair("MRGAN", "GAN", "modes", "Che et al. 2017, 2-D mixture",
              "the geometric and mode regularizers make G miss fewer modes than a GAN"),
    PaperPair("VEEGAN", "GAN", "modes", "Srivastava et al. 2017, Table 1",
              "the reconstructor's autoencoder loss over the noise keeps G from dropping modes of the 2-D "
              "mixtures that a GAN drops"),
)}
VERDICT_RULE = ("**reached** when the model's mean beats the baseline's by more than twice the standard error "
                "of the difference (Welch: sqrt(s_m^2/n_m + s_b^2/n_b), s the sample std over seeds, ddof 1); "
                "**not reached** otherwise, and *worse* when the baseline's mean beats the model's by more "
                "than twice that error")


def paired_verdict(model_values: Sequence[float], baseline_values: Sequence[float]) -> dict[str, Any]:
    """The verdict rule (``VERDICT_RULE``, higher is better): the means, their difference (model - baseline),
    the Welch standard error of the difference, and ``"reached"``, ``"not reached"`` or ``"worse"``."""
    if len(model_values) < 2 or len(baseline_values) < 2:
        raise ValueError(f"verdict: need 2 or more seeds on each side, got {len(model_values)} and "
                         f"{len(baseline_values)}")
    model_mean, model_std = mean_std(model_values)
    base_mean, base_std = mean_std(baseline_values)
    difference = model_mean - base_mean
    error = math.sqrt(model_std ** 2 / len(model_values) + base_std ** 2 / len(baseline_values))
    margin = 2 * error * (1 + 1e-9)  # a difference of exactly twice the error (e.g. -2/3 vs 2/3) is a tie, not rounding's
    word = "reached" if difference > margin else "worse" if difference < -margin else "not reached"
    return {"model_mean": model_mean, "baseline_mean": base_mean, "difference": difference,
            "standard_error": error, "verdict": word}


def versus_pairs(text: str) -> list[PaperPair]:
    """``--versus MODEL=BASELINE[,...]``: the pairs of ``PAPER_PAIRS`` named."""
    pairs = []
    for item in (part.strip() for part in text.split(",") if part.strip()):
        model, _, baseline = item.partition("=")
        pair = PAPER_PAIRS.get((model.strip(), baseline.strip()))
        if pair is None:
            raise argparse.ArgumentTypeError(
                f"--versus: unknown pair {item!r}; choose from "
                + ", ".join(f"{m}={b}" for m, b in PAPER_PAIRS))
        pairs.append(pair)
    return pairs


def per_seed_values(results: Sequence[dict[str, Any]], kind: str) -> dict[str, dict[str, list[float]]]:
    """``{model: {"modes": [...], "high_quality": [...]}}`` of the raw G on ``kind``, seeds in order
    (high quality in %)."""
    return {row["model"]: {"modes": [float(modes) for modes, _ in row["per_seed"]],
                           "high_quality": [hq for _, hq in row["per_seed"]]}
            for row in summarise(results, kind)}


def per_seed_values_of_section(body: str, kind: str) -> dict[str, dict[str, list[float]]]:
    """The same values read back from a section's first (raw G) table for ``kind``: its per-seed column
    ``modes/HQ %`` (HQ rounded to whole percent, as printed)."""
    heading = {"ring8": "### Ours: 2D-ring", "grid25": "### Ours: 2D-grid"}[kind]
    start = body.find(heading)
    if start < 0:
        return {}
    values = {}
    table = False
    for line in body[start:].splitlines()[1:]:
        if not line.startswith("|"):
            if table:
                break
            continue
        table = True
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells[0] in ("Model", "---") or set(cells[0]) <= {"-"}:
            continue
        pairs = [item.split("/") for item in cells[6].split(", ")]
        values[cells[0]] = {"modes": [float(m) for m, _ in pairs], "high_quality": [float(h) for _, h in pairs]}
    return values


def versus_lines(values: dict[str, dict[str, dict[str, list[float]]]], pairs: Sequence[PaperPair],
                 kinds: Sequence[str]) -> list[str]:
    """The verdict paragraph: the rule, a table row per (pair, data set), a sentence per pair.
    ``values``: ``{kind: per_seed_values(...)}``."""
    lines = ["### Verdicts: each model against its paper's baseline", "",
             f"Rule (`paired_verdict`): {VERDICT_RULE}. Raw G, same seeds, budget and networks on both sides.", "",
             "| Pair | Data | Measure | Model mean | Baseline mean | Difference | 2 x SE | Verdict |",
             "|---|---|---|---:|---:|---:|---:|---|"]
    sentences = []
    for pair in pairs:
        outcomes = {}
        for kind in kinds:
            table = values.get(kind, {})
            if pair.model not in table or pair.baseline not in table:
                continue
            v = paired_verdict(table[pair.model][pair.measure], table[pair.baseline][pair.measure])
            outcomes[kind] = v["verdict"]
            shown = "not reached (worse)" if v["verdict"] == "worse" else v["verdict"]
            lines.append(f"| {pair.model} vs {pair.baseline} | {kind} | {MEASURES[pair.measure]} "
                         f"| {v['model_mean']:.1f} | {v['baseline_mean']:.1f} | {v['difference']:+.1f} "
                         f"| {2 * v['standard_error']:.1f} | {shown} |")
        if not outcomes:
            continue
        reached = [kind for kind, word in outcomes.items() if word == "reached"]
        worse = [kind for kind, word in outcomes.items() if word == "worse"]
        if len(reached) == len(outcomes):
            word = "**reached**"
        elif reached:
            word = f"**reached on {' and '.join(reached)} only**"
        else:
            word = "**not reached**"
        if worse:
            word += f" (worse on {' and '.join(worse)})"
        sentences.append(f"- {pair.model} vs {pair.baseline} ({pair.paper}: {pair.claim}), measured as "
                         f"{MEASURES[pair.measure]}: {word}.")
    return lines + [""] + sentences


# ----------------------------------------------------------------------------- plots
def plot_samples(results: Sequence[dict[str, Any]], kind: str, path: Path, columns: int = 5) -> Path:
    """Small multiples: each model's samples of its first seed over the true modes (red x)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gan_lightning.data.toy2d import mixture_modes

    order = {name: i for i, name in enumerate(MODELS)}
    firsts: dict[str, dict[str, Any]] = {}
    for result in results:
        spec = result["spec"]
        if spec.kind == kind and (spec.model not in firsts or spec.seed < firsts[spec.model]["spec"].seed):
            firsts[spec.model] = result
    chosen = [firsts[name] for name in sorted(firsts, key=lambda name: order.get(name, len(order)))]
    rows = max(1, math.ceil(len(chosen) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(2.6 * columns, 2.8 * rows), dpi=100, squeeze=False)
    modes = mixture_modes(kind).numpy()
    limit = PLOT_LIMITS[kind]
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, result in zip(axes.flat, chosen):
        points, raw = result["samples"], result["raw"]
        ax.set_axis_on()
        ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.35, color="tab:blue", linewidths=0)
        ax.scatter(modes[:, 0], modes[:, 1], s=18, marker="x", color="tab:red", linewidths=1)
        ax.set_xlim(-limit, limit)
        ax.set_ylim(-limit, limit)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        outside = int((np.abs(points) > limit).any(axis=1).sum())
        note = f", {outside} off-plot" if outside else ""
        ax.set_title(f"{result['spec'].model}\n{raw['modes']}/{NUM_MODES[kind]} modes, "
                     f"{100 * raw['high_quality']:.0f}% HQ{note}", fontsize=8)
    fig.suptitle(f"{kind}: 2,500 samples of the raw generator after training (seed "
                 f"{min(r['spec'].seed for r in chosen) if chosen else 0}); red x: true modes", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------- report
BUDGET_NOTE = """## How the default budget was chosen

Measured on the machine this script was written on (2 CPU cores shared with other jobs,
load average 1.5 to 6), one thread per run, before choosing the defaults:

- Cost per iteration with G 4x400 / D 3x200 in `lightning.Trainer`: about 20-25 ms for the
  one-critic models at load ~5 and about 13 ms at load ~1.5; a hand-written PyTorch loop of
  the same GAN step took 15 ms at load ~5, so the networks, not the framework, dominate.
  Relative to GAN (= 1): WGAN 0.6, WGAN-GP / PacGAN 0.9, LSGAN / WGAN-div / SNGAN /
  Relativistic 1.0, DRAGAN / EBGAN 1.1-1.2, BEGAN 1.25, MADGAN (3 generators) 1.4,
  UnrolledGAN (5 unrolled Adam steps of D per G step) about 4.5-5.
- G 4x128 / D 3x128 was only 1.7-2x cheaper per iteration (the fixed per-step cost
  dominates) and learned less per iteration, so the shared sizes stay PacGAN's.
- 2 parallel worker processes were no faster than 1 (4 runs of 400-600 iterations: 39-55 s
  with 1 worker, 52-62 s with 2, each run's fit time doubled): the other jobs kept the
  second core busy. Hence `--workers 1` by default; on an idle machine try `--workers 2`.
- 13 models x 2 data sets x 3 seeds = 78 runs in 30 minutes on a quiet machine leaves
  about 1,500 iterations per run (UnrolledGAN 450, about the same compute).
- Generator batch norm: the first version of this benchmark used MLP generators without it
  and no recipe put a single sample within 3 std of a ring mode in 1,000 iterations; GAN
  still had 0/8 modes after 5,000 (in gan-lightning and in a plain PyTorch loop alike).
  PacGAN's toy generator has batch norm after every hidden layer; with it (now the
  `MLPGenerator` default) the same plain GAN loop reached 8/8 ring modes with 42 % (lr 2e-4,
  3,000 iterations) and 77 % (lr 1e-4, 5,000 iterations) high-quality samples, and 22/25 grid
  modes with 8 % after 3,000 (lr 1e-4). **The default budget is therefore still short of
  convergence**, above all for the grid's high-quality fraction: it ranks how fast the
  recipes find the modes. `--iterations 10000` (the committed recipes' budget) takes about
  seven times as long; the second section ("longer budget") is such a run for fewer models."""

def write_report(results: Sequence[dict[str, Any]], args: argparse.Namespace, command: str,
                 wall_seconds: float, load_start: Sequence[float], out: Path,
                 plots: dict[str, Path]) -> str:
    loads = results[0]["load"] if results else []
    load_end = load_average()
    specs = [r["spec"] for r in results]
    first = specs[0]
    budgets = {}
    for spec in specs:
        budgets.setdefault(spec.model, spec.iterations)
    default_budget = args.iterations
    others = {m: n for m, n in budgets.items() if n != default_budget}
    lines = [
        f"## {args.title}",
        "",
        "Written by `benchmarks/mode_collapse.py` (PacGAN's synthetic protocol); do not edit by hand.",
        "",
        *command_block(command),
        f"- Iteration budget: **{default_budget} iterations (batches of {first.batch_size})** per run"
        + (", except " + ", ".join(f"**{m}: {n}**" for m, n in others.items()) if others else "")
        + ". Models with k critic steps take a G step every k-th iteration (G steps in brackets below). "
        + recipe_budget_sentence(results),
        f"- Seeds: {sorted({s.seed for s in specs})}; training points: {first.num_points:,}; "
        f"evaluation: {first.num_eval:,} samples of the **raw generator** in eval mode (the headline "
        "tables" + ("; the EMA generator's, same noise, in the second table of each data set" if args.ema else "")
        + "), noise seeded per run.",
        f"- Networks (all models): G hidden {list(first.g_hidden)}, D hidden {list(first.d_hidden)}, "
        f"latent dim {first.latent_dim}"
        + (" (PacGAN's toy sizes)." if (tuple(first.g_hidden), tuple(first.d_hidden), first.latent_dim)
           == (DEFAULT_G_HIDDEN, DEFAULT_D_HIDDEN, DEFAULT_LATENT_DIM) else " (NOT PacGAN's 4x400 / 3x200 / 2).")
        + " Everything else: the `init_args` of `experiments/<model>/<data>.yaml`"
        + (" except the `--set` changes below." if getattr(args, "overrides", None) else "."),
        *([f"- Recipe changes (`--set`): every **{model}** row (all seeds and data sets) trains its recipe "
           f"with {overrides_text(pairs)}." for model, pairs in args.overrides.items()]
          + [f"- Plain recipes (no `--set`): {', '.join(plain)} rows."
             for plain in [[m for m in dict.fromkeys(s.model for s in specs) if m not in args.overrides]] if plain]
          if getattr(args, "overrides", None) else []),
        f"- Machine: {platform.platform()}, {os.cpu_count()} CPUs (shared with other jobs), torch "
        f"{torch.__version__}, {first.threads} thread per run, {args.workers} runs in parallel"
        + (" (a run: the seeds of one model and data set, trained as one batched model)." if args.batched_seeds
           else "."),
        *(["- `--batched-seeds`: the seeds of each model and data set trained as one batched model "
           "(`benchmarks/batched.py`), each seed as its separate run would train it (same initial weights, "
           "noise, data order and optimizer state); *Fit s / run* is the batched fit's time divided by "
           "the seeds."] if args.batched_seeds else []),
        *([(f"- `--batch-supported`: the seeds of {', '.join(getattr(args, 'batched', None) or ['no model'])} "
            "trained as one batched model per data set (`benchmarks/batched.py`), each seed as its separate run "
            "would train it (same initial weights, noise, data order and optimizer state; their *Fit s / run* "
            "is the batched fit's time divided by the seeds); every other model's seeds ran one at a time, "
            "as separate runs.")] if getattr(args, "batch_supported", False) else []),
        f"- Wall time of the whole run: **{wall_seconds / 60:.1f} min**. Load average (1 min) at "
        f"start {load_start[0]:.1f}, at end {load_end[0]:.1f}, over the run (sampled as runs finished) "
        + (f"min {min(loads):.1f} / mean {statistics.fmean(loads):.1f} / max {max(loads):.1f}"
           if loads else "n/a")
        + f" on {os.cpu_count()} cores: other processes shared the CPU, so the times are upper bounds.",
        "",
        "Metrics (`ModeCoverage2D`, threshold 3 std): *modes*: modes that are the nearest mode of at "
        "least one high-quality sample; *high-quality %*: samples within 3 std of their nearest mode; "
        "*reverse KL*: KL(q || uniform) of the high-quality samples' mode histogram q. Mean ± sample "
        "std (ddof 1) over seeds (no ± with one seed); a reverse KL of inf means a seed had no high-quality sample at all. For a 2-D Gaussian, P(within 3 std) = 1 - exp(-4.5) = 98.9 %, so "
        "even perfect samples score about 98.9 % high quality.",
        "",
    ]
    for kind in args.data:
        rows = summarise(results, kind)
        if not rows:
            continue
        title = {"ring8": "2D-ring (8 modes, std 0.01)", "grid25": "2D-grid (25 modes, std 0.05)"}[kind]
        lines += [f"### Ours: {title}", "", markdown_table(rows, kind), ""]
        if args.ema:
            lines += ["EMA generator (decay 0.999), same runs and noise:", "",
                      markdown_table(summarise(results, kind, "ema"), kind), ""]
        if kind in plots:
            rel = os.path.relpath(plots[kind], out.parent)
            lines += [f"![{kind} samples]({rel})", ""]
    if getattr(args, "versus", None):
        lines += versus_lines({kind: per_seed_values(results, kind) for kind in args.data}, args.versus, args.data)
        lines += ["", budget_statement(results), ""]
    lines += notes_lines(getattr(args, "note", None))
    if args.section == DEFAULT_SECTION:
        lines += [BUDGET_NOTE, "", published_section(), ""]
    elif getattr(args, "published", False):
        lines += [gap_to_published(results, args.data), "", published_section(), ""]
    text = "\n".join(lines)
    replace_section(out, args.section, text)
    return text


def recipe_budgets(results: Sequence[dict[str, Any]]) -> dict[tuple[str, str], tuple[int, int]]:
    """``{(model, data set): (iterations run, the recipe's max_steps)}`` of ``results``, in order of first
    appearance (the recipe: ``experiments/<model>/<data>.yaml``)."""
    budgets: dict[tuple[str, str], tuple[int, int]] = {}
    for result in results:
        spec = result["spec"]
        if (spec.model, spec.kind) not in budgets:
            budgets[spec.model, spec.kind] = (spec.iterations, load_recipe(spec.model, spec.kind)["max_steps"])
    return budgets


def recipe_budget_sentence(results: Sequence[dict[str, Any]]) -> str:
    """The section's budget against each run's own recipe: the recipes' ``max_steps``, and which rows ran below
    them (short-budget rows), at them, or above them. Never calls a row short that ran its recipe's budget, nor
    a row at the recipe's budget that ran below it."""
    budgets = recipe_budgets(results)

    def by_model(which) -> str:  # "GAN (ring8, grid25)" or "WGANGP on ring8 (1,500 of 25,000)"
        rows: dict[str, list[str]] = {}
        for (model, kind), (ran, recipe) in budgets.items():
            if which(ran, recipe):
                rows.setdefault(model, []).append(kind if ran == recipe else f"{kind}: {ran:,} of {recipe:,}")
        return ", ".join(f"{model} ({', '.join(kinds)})" for model, kinds in rows.items())

    recipes: dict[str, list[int]] = {}
    for (model, _), (_, recipe) in budgets.items():
        if recipe not in recipes.setdefault(model, []):
            recipes[model].append(recipe)
    sentence = ("The committed recipes (`max_steps` of experiments/<model>/<data>.yaml) train "
                + ", ".join(f"{model} {' / '.join(f'{n:,}' for n in steps)}" for model, steps in recipes.items())
                + " iterations.")
    below, at, above = (by_model(lambda ran, recipe: ran < recipe), by_model(lambda ran, recipe: ran == recipe),
                        by_model(lambda ran, recipe: ran > recipe))
    if not below and not above:
        return sentence + " Every run here trains its own recipe's budget: these are **not** short-budget results."
    if not at and not above:
        return sentence + " Every run here is below its recipe's budget: these are short-budget results."
    parts = [f"below their recipe's budget (short-budget rows): {below}" if below else "",
             f"at their recipe's budget: {at}" if at else "",
             f"above their recipe's budget: {above}" if above else ""]
    return sentence + " Rows " + "; ".join(part for part in parts if part) + "."


def budget_statement(results: Sequence[dict[str, Any]]) -> str:
    """Why a paper-pairs run is shorter than the recipes: what they would cost at the fit times measured here
    (and, when no run is below its recipe's budget, only that)."""
    if all(ran >= recipe for ran, recipe in recipe_budgets(results).values()):
        return (f"Budget: no run below its recipe's budget. {recipe_budget_sentence(results)} The verdicts are for "
                "the recipes' training lengths.")
    recipes, at_recipe = {}, 0.0
    for result in results:
        spec = result["spec"]
        steps = recipes.setdefault((spec.model, spec.kind), load_recipe(spec.model, spec.kind)["max_steps"])
        at_recipe += result["fit_seconds"] / spec.iterations * steps
    fit = sum(result["fit_seconds"] for result in results)
    budgets = sorted({result["spec"].iterations for result in results})
    per_model: dict[str, list[int]] = {}
    for (model, _), steps in recipes.items():
        if steps not in per_model.setdefault(model, []):
            per_model[model].append(steps)
    listed = ", ".join(f"{model} {' / '.join(f'{n:,}' for n in steps)}" for model, steps in per_model.items())
    return (f"Budget: {' / '.join(f'{n:,}' for n in budgets)} iterations per run, **below the committed recipes' "
            f"budgets** ({listed} iterations). At the fit times measured here ({fit / 60:.1f} minutes of "
            f"fitting, wall time, one thread, for these {len(results)} runs), the recipes' budgets would take "
            f"about {at_recipe / 60:.0f} minutes, more than this shared 2-core machine had for it; the verdicts "
            "are for this short budget, not for the papers' training lengths.")


def write_verdicts_from_section(args: argparse.Namespace, command: str) -> str:
    """``--verdicts-from``: the verdicts of ``args.versus`` on the per-seed values printed in another section
    of ``args.out``, written as ``args.section`` without training anything."""
    from report import read_section

    body = read_section(args.out, args.verdicts_from)
    if body is None:
        raise SystemExit(f"--verdicts-from: {args.out} has no section {args.verdicts_from!r}")
    values = {kind: per_seed_values_of_section(body, kind) for kind in args.data}
    lines = [f"## {args.title}", "",
             ("Written by `benchmarks/mode_collapse.py --verdicts-from`; do not edit by hand. Nothing was trained "
              f"for it: the values are the per-seed column (*Per seed: modes / HQ %*, raw G) of section "
              f"`{args.verdicts_from}`, as printed there (high-quality % rounded to whole percent), whose runs "
              "and command that section states."), "",
             *command_block(command),
             *versus_lines(values, args.versus, args.data), ""]
    lines += notes_lines(getattr(args, "note", None))
    text = "\n".join(lines)
    replace_section(args.out, args.section, text)
    return text


# ----------------------------------------------------------------------------- command line
def parse_args(argv=None) -> argparse.Namespace:
    from batched import SUPPORTED_MODELS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS,
                        help=f"training iterations (batches) per run (default {DEFAULT_ITERATIONS})")
    parser.add_argument("--iterations-for", type=model_budgets,
                        default=",".join(f"{m}={n}" for m, n in DEFAULT_ITERATIONS_FOR.items()),
                        help="per-model budgets, MODEL=N[,MODEL=N] (default: "
                             + ",".join(f"{m}={n}" for m, n in DEFAULT_ITERATIONS_FOR.items())
                             + "); pass '' to give every model --iterations")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS),
                        help=f"comma-separated model class names (default: all but {', '.join(MODELS[len(DEFAULT_MODELS):])})")
    parser.add_argument("--data", default=",".join(DATA_KINDS), help="comma-separated: ring8,grid25")
    parser.add_argument("--out", type=Path, default=RESULTS_MD)
    parser.add_argument("--section", default=DEFAULT_SECTION,
                        help=f"section of --out to (re)write (default {DEFAULT_SECTION}; the budget note and the "
                             "published tables go only there)")
    parser.add_argument("--title", default="Mode collapse on the 2-D Gaussian mixtures",
                        help="heading of the section")
    parser.add_argument("--plots", type=Path, default=BENCHMARKS / "mode_collapse",
                        help="folder of the PNGs (one per data set)")
    parser.add_argument("--num-points", type=int, default=100_000, help="training points (default 100k)")
    parser.add_argument("--num-eval", type=int, default=2_500, help="evaluation samples (default 2,500)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--g-hidden", type=int_list, default=DEFAULT_G_HIDDEN)
    parser.add_argument("--d-hidden", type=int_list, default=DEFAULT_D_HIDDEN)
    parser.add_argument("--latent-dim", type=int, default=DEFAULT_LATENT_DIM)
    parser.add_argument("--workers", type=int, default=1, help="runs in parallel, one thread each (default 1)")
    parser.add_argument("--ema", action=argparse.BooleanOptionalAction, default=True,
                        help="also keep an EMA of G (decay 0.999) and report its metrics (default on)")
    parser.add_argument("--note", action="append", default=[],
                        help="a line added to the report (repeatable; not part of the command it quotes)")
    parser.add_argument("--published", action="store_true",
                        help="also in a --section other than the default: the published tables and the gap of our "
                             "GAN / PacGAN rows to them")
    parser.add_argument("--cache", type=Path, default=None,
                        help="pickle of the finished runs (written after each task): a rerun of the same command "
                             "trains only the runs it lacks, so an interrupted benchmark resumes")
    parser.add_argument("--batched-seeds", action="store_true",
                        help="train the seeds of each (model, data set) as one batched model in one process "
                             "(benchmarks/batched.py: each seed as its separate run would train it, faster); "
                             f"for {', '.join(SUPPORTED_MODELS)}")
    parser.add_argument("--versus", type=versus_pairs, default=[],
                        help="MODEL=BASELINE[,...]: a verdict per pair, the paper's claim on its measure (pairs: "
                             + ", ".join(f"{m}={b}" for m, b in PAPER_PAIRS) + ")")
    parser.add_argument("--verdicts-from", metavar="SECTION", default=None,
                        help="train nothing: write --section with the --versus verdicts on the per-seed values "
                             "printed in SECTION of --out")
    parser.add_argument("--batch-supported", action="store_true",
                        help="--batched-seeds for the models it supports, the others' seeds one run at a time")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="MODEL.key=value",
                        help="change an init arg of MODEL's recipe for this run (repeatable; the key must be an "
                             "init arg of the recipe or the class; the value is read as YAML); part of the runs' "
                             "cache key and printed in the section")
    args = parser.parse_args(argv)
    if isinstance(args.iterations_for, str):
        args.iterations_for = model_budgets(args.iterations_for)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    args.data = [d.strip() for d in args.data.split(",") if d.strip()]
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {', '.join(MODELS)}")
    bad = [d for d in args.data if d not in DATA_KINDS]
    if bad:
        parser.error(f"unknown data sets {bad}; choose from {', '.join(DATA_KINDS)}")
    if args.seeds < 1 or args.iterations < 1 or args.workers < 1:
        parser.error("--seeds, --iterations and --workers must be >= 1")
    if args.batched_seeds:
        unsupported = [m for m in args.models if m not in SUPPORTED_MODELS]
        if unsupported:
            parser.error(f"--batched-seeds does not support {', '.join(unsupported)}; it supports "
                         f"{', '.join(SUPPORTED_MODELS)} (pass --models, or run those without --batched-seeds)")
    if args.verdicts_from is not None and not args.versus:
        parser.error("--verdicts-from needs --versus MODEL=BASELINE[,...]")
    if args.batch_supported and args.batched_seeds:
        parser.error("--batch-supported and --batched-seeds: pass one of them")
    try:
        args.overrides = parse_sets(args.sets, args.models, args.data)
    except ValueError as error:
        parser.error(str(error))
    args.batched = True if args.batched_seeds else (
        [m for m in args.models if m in SUPPORTED_MODELS] if args.batch_supported else False)
    return args


def make_specs(args: argparse.Namespace) -> list[RunSpec]:
    """Every (model, data, seed) run, dearest first so the parallel workers finish together."""
    specs = [
        RunSpec(model=model, kind=kind, seed=seed, iterations=args.iterations_for.get(model, args.iterations),
                num_points=args.num_points, batch_size=args.batch_size, num_eval=args.num_eval,
                latent_dim=args.latent_dim, g_hidden=tuple(args.g_hidden), d_hidden=tuple(args.d_hidden),
                ema=args.ema, overrides=getattr(args, "overrides", {}).get(model, ()))
        for kind in args.data for model in args.models for seed in range(args.seeds)
    ]
    return sorted(specs, key=lambda s: (s.model != "UnrolledGAN", -s.iterations))


def main(argv=None) -> None:
    args = parse_args(argv)
    command = training_command(__file__, argv)
    if args.verdicts_from is not None:
        write_verdicts_from_section(args, command)
        print(f"wrote section {args.section} of {args.out} from section {args.verdicts_from}", flush=True)
        return
    for model in args.models:  # fail before training when a recipe is missing
        for kind in args.data:
            load_recipe(model, kind)
    specs = make_specs(args)
    how = ("seeds batched per (model, data set)" if args.batched_seeds else
           f"seeds batched for {', '.join(args.batched) or 'no model'}, the others one at a time"
           if args.batch_supported else "one at a time")
    cache = load_cache(args.cache)
    todo = [spec for spec in specs if spec not in cache["results"]]
    print(f"{len(specs)} runs ({how}, {len(specs) - len(todo)} cached), {args.workers} in parallel: {command}",
          flush=True)
    load_start = cache.get("load_start") or load_average()
    started = time.perf_counter()

    def keep(task_results: list[dict[str, Any]]) -> None:
        cache["results"].update((result["spec"], result) for result in task_results)
        cache["wall"] = cache.get("wall", 0.0) + time.perf_counter() - keep.since
        keep.since = time.perf_counter()
        cache["load_start"] = load_start
        if args.cache is not None:
            save_pickled_runs(cache, args.cache)

    keep.since = started
    fresh = run_all(todo, args.workers, log=lambda line: print(line, flush=True), batched_seeds=args.batched,
                    on_task=keep)
    wall = cache.get("wall", time.perf_counter() - started) if args.cache else time.perf_counter() - started
    by_spec = {**cache["results"], **{result["spec"]: result for result in fresh}}
    results = [by_spec[spec] for spec in specs]
    lists = {id(result["load"]): result["load"] for result in results if "load" in result}
    loads = [load for values in lists.values() for load in values]  # each invocation's samples once
    for result in results:
        result["load"] = loads
    plots = {kind: plot_samples(results, kind, args.plots / f"{kind}.png") for kind in args.data}
    write_report(results, args, command, wall, load_start, args.out, plots)
    print(f"wall time {wall / 60:.1f} min; wrote {args.out} and {', '.join(map(str, plots.values()))}", flush=True)


if __name__ == "__main__":
    main()
