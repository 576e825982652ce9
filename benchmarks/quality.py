"""Quality in a fixed budget: which recipe gets the lowest digits FID on MNIST5k in N minutes?

The scale family's target (issue 14): the best recipe reaches a digits FID below 20 on MNIST5k within
30 minutes of this 2-core CPU (real training digits score about 7; DCGAN's demo 77 after 5,000 iterations).

Protocol, per model:

- recipe: ``experiments/<model>/mnist5k.yaml`` (model ``init_args``; the data's image size, channels and
  batch size; the EMA of its ``ema`` section, else the project default decay 0.999), seed ``--seed``;
- ``--set KEY=VALUE`` (repeatable): one change of the recipe, for pilots against it: a model option
  (``g_width=64``, ``lr_d=4e-4``, ``betas=[0.0,0.999]``), ``batch_size`` (the data's), or ``ema.decay`` /
  ``ema.warmup`` (the EMA's), ``max_steps`` (the trainer's) or ``diffaugment=translation,cutout``
  (``DiffAugmentCallback`` with this policy on every D input); the run's key and row name the changes;
- budget: ``--minutes`` of training on ``--threads`` threads of the CPU, or on the GPU with
  ``--accelerator gpu`` (``auto``: the GPU when there is one), by the ``--clock``: ``wall`` (wall time,
  the default; what a shared machine's other jobs slow down) or ``cpu`` (the training process's CPU
  time, ``time.process_time``: fair on a shared machine with one thread; CPU only). Evaluation time
  is not counted (it is reported apart), nor the updates of the extra EMAs. The run stops at the first
  iteration past the budget;
- ``--extra-ema DECAY`` (repeatable): more EMA copies of G beside the recipe's (same warm-up as
  ``EMACallback``), evaluated at every point: the EMA's decay compared on one training run (the EMA
  does not change training);
- evaluation every ``--eval-every`` minutes of training and at the end: digits FID
  (``evaluate_generator``, the code path of ``MetricsCallback``) of ``--num-eval`` samples of the EMA
  generator against the 500 held-out digits, and of the raw generator (EMA off).

    python benchmarks/quality.py --models ProGAN,StyleGAN2 --minutes 30 [--threads 1] [--eval-every 5]
    python benchmarks/quality.py --models DCGAN --minutes 10 --accelerator gpu
    python benchmarks/quality.py --models DCGAN --minutes 4 --clock cpu --set g_width=64 --set d_width=64

Results are cached per run in ``benchmarks/quality/results.json`` (``--report-only`` rebuilds the
text; ``--workers N`` trains N runs at once, each on its ``--threads``); writes section ``quality`` of benchmarks/RESULTS.md, an FID-vs-minutes plot and one sample grid
per run in benchmarks/quality/.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from harness import (
    BENCHMARKS,
    RESULTS_MD,
    build_mnist5k,
    load_recipe,
    load_runs,
    quiet_lightning,
    replace_section,
    save_runs,
    train_missing,
    training_command,
)

load_results = load_runs  # the cache, by the name its tests read it with

OUT_DIR = BENCHMARKS / "quality"
CACHE = OUT_DIR / "results.json"
EVAL_NOISE_SEED = 40_000
TARGET_FID = {"cpu": 20.0, "gpu": 10.0}  # issue 26: below 20 in 30 CPU minutes, below 10 in 10 GPU minutes
TARGET_MINUTES = {"cpu": 30.0, "gpu": 10.0}
GRID_SAMPLES = 64


def run_key(model: str, minutes: float, threads: int, seed: int, accelerator: str = "cpu", clock: str = "wall",
            changes: Sequence[tuple[str, str]] = ()) -> str:
    """The cache key: wall-clock runs of the recipe keep their old keys; CPU-time runs say ``cpumin``; a
    changed recipe adds its changes."""
    where = f"{threads}thr" if accelerator == "cpu" else accelerator
    key = f"{model}/{minutes:g}{'cpumin' if clock == 'cpu' else 'min'}/{where}/seed{seed}"
    return key + ("/" + ",".join(f"{name}={value}" for name, value in changes) if changes else "")


def parse_change(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` of ``--set``, checked: the key is ``batch_size``, ``ema.decay``, ``ema.warmup``,
    ``max_steps`` (the trainer's: the run ends at the budget or there, whichever comes first; what a model's
    ``lr_decay_iters`` plans its decay to), ``diffaugment`` (a DiffAugment policy: comma-separated
    ``color``, ``translation``, ``cutout``) or a model option (checked when the model is built)."""
    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name or not value:
        raise ValueError(f"--set: expected KEY=VALUE, got {text!r}")
    if name.startswith("ema.") and name not in ("ema.decay", "ema.warmup"):
        raise ValueError(f"--set: {name!r} is not an EMA option; accepted: ema.decay, ema.warmup")
    if name == "max_steps" and not (value.isdigit() and int(value) > 0):
        raise ValueError(f"--set: max_steps must be a positive integer, got {value!r}")
    if name == "diffaugment":
        from gan_lightning.augment import DIFFAUGMENT_POLICIES

        unknown = [p for p in value.split(",") if p not in DIFFAUGMENT_POLICIES]
        if unknown or not value:
            raise ValueError(f"--set: diffaugment={value!r} is not a DiffAugment policy; accepted: comma-separated "
                             f"{', '.join(DIFFAUGMENT_POLICIES)}")
    return name, value


def max_steps_of(changes: Sequence[tuple[str, str]]) -> int:
    """The trainer's ``max_steps`` a run's changes ask for; -1 (no limit but the budget) when none."""
    return next((int(value) for name, value in changes if name == "max_steps"), -1)


def diffaugment_of(changes: Sequence[tuple[str, str]]) -> str | None:
    """The DiffAugment policy a run's changes ask for (``DiffAugmentCallback``'s); None when none."""
    return next((value for name, value in changes if name == "diffaugment"), None)


def split_changes(changes: Sequence[tuple[str, str]]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """``(model options, data options, EMA options)`` of the ``--set`` changes, values read as YAML
    (numbers, booleans, lists; ``betas`` a tuple as ``load_recipe`` gives it)."""
    import yaml

    model, data, ema = {}, {}, {}
    for name, text in changes:
        value = yaml.safe_load(text)
        if isinstance(value, str):  # YAML 1.1 reads "4e-4" (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if name == "betas":
            value = tuple(float(v) for v in value)
        if name in ("max_steps", "diffaugment"):
            continue  # the trainer's (max_steps_of) and a callback's (diffaugment_of)
        if name == "batch_size":
            data[name] = int(value)
        elif name.startswith("ema."):
            ema[name[len("ema."):]] = value
        else:
            model[name] = value
    return model, data, ema


def change_label(result: dict[str, Any]) -> str:
    """The recipe's changes of a run, ``recipe`` when none."""
    return ", ".join(f"{name}={value}" for name, value in result.get("changes", [])) or "recipe"


def resolve_accelerator(name: str) -> str:
    """``cpu``, ``gpu``, or ``auto``: the GPU when torch sees a CUDA device."""
    if name == "auto":
        return "gpu" if torch.cuda.is_available() else "cpu"
    return name


def device_label(result: dict[str, Any]) -> str:
    if result.get("accelerator", "cpu") == "gpu":
        return result.get("device_name", "GPU")
    return f"CPU, {result['threads']} thread{'s' if result['threads'] > 1 else ''}"


def clock_label(result: dict[str, Any]) -> str:
    """``CPU time`` or ``wall`` (the runs before ``--clock`` were all wall-clock)."""
    return "CPU time" if result.get("clock", "wall") == "cpu" else "wall"


def build(model_name: str, changes: Sequence[tuple[str, str]] = ()):
    """``(model, data, ema_callback)``: the model's MNIST5k recipe on all 4,500 training digits, and its EMA,
    with the ``--set`` changes."""
    from gan_lightning.callbacks import EMACallback

    model_changes, data_changes, ema_changes = split_changes(changes)
    model, data = build_mnist5k(model_name, data_options=data_changes, **model_changes)
    ema = {**(load_recipe(model_name, "mnist5k")["ema"] or {"decay": 0.999}), **ema_changes}
    return model, data, EMACallback(**ema)


class ExtraEMAs:
    """EMA copies of G beside the recipe's, one per decay, updated after every iteration with
    ``EMACallback``'s warm-up (through the model's own ``update_ema``); ``evaluate`` swaps one in as the
    model's EMA generator for an evaluation."""

    def __init__(self, decays: Sequence[float]) -> None:
        from gan_lightning.callbacks import EMACallback

        self.schedules = {float(decay): EMACallback(decay=float(decay)) for decay in decays}
        self.copies: dict[float, Any] = {}

    def update(self, pl_module, global_step: int) -> None:
        import copy

        if pl_module.generator_ema is None:
            return
        for decay, schedule in self.schedules.items():
            if decay not in self.copies:  # a copy of the recipe's EMA after its first update
                self.copies[decay] = copy.deepcopy(pl_module.generator_ema)
                continue
            with self.swapped(pl_module, decay):
                pl_module.update_ema(schedule.current_decay(global_step))

    def swapped(self, pl_module, decay: float):
        import contextlib

        @contextlib.contextmanager
        def swap():
            kept = pl_module.generator_ema
            pl_module.generator_ema = self.copies[decay]
            try:
                yield
            finally:
                pl_module.generator_ema = kept
        return swap()


class TrainingBudget(L.Callback):
    """Evaluates every ``eval_every`` seconds of training and stops after ``budget`` seconds of it, by
    ``clock`` (``time.perf_counter`` by default; ``time.process_time`` for CPU time); the time spent
    evaluating (``eval_seconds``) and updating the extra EMAs (``extra_ema_seconds``) is kept apart.
    ``also(module)``: more numbers for each point of the curve (the raw G's FID, the extra EMAs');
    ``on_point(curve)``: called after each point (the run's progress file)."""

    def __init__(self, budget: float, eval_every: float, evaluate, clock=None, also=None, extra_emas=None,
                 on_point=None) -> None:
        self.budget, self.eval_every, self.evaluate = budget, eval_every, evaluate
        self.clock = clock or (lambda: time.perf_counter())
        self.also, self.extra_emas, self.on_point = also, extra_emas, on_point
        self.curve: list[dict[str, float]] = []
        self.eval_seconds = 0.0
        self.extra_ema_seconds = 0.0
        self.started = 0.0
        self.next_eval = eval_every

    def on_train_start(self, trainer, pl_module) -> None:
        self.started = self.clock()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.extra_emas is not None:
            began = self.clock()
            self.extra_emas.update(pl_module, trainer.global_step)
            self.extra_ema_seconds += self.clock() - began
        self.step(trainer, pl_module)

    def on_train_end(self, trainer, pl_module) -> None:
        """A run stopped by ``max_steps`` before its budget: its last point is measured where it stopped."""
        if not self.curve or self.curve[-1]["iteration"] != trainer.global_step:
            self.step(trainer, pl_module, final=True)

    def training_seconds(self) -> float:
        # on a GPU (wall clock): up to its queue ahead
        return self.clock() - self.started - self.eval_seconds - self.extra_ema_seconds

    def step(self, trainer, pl_module, final: bool = False) -> None:
        trained = self.training_seconds()
        done = final or trained >= self.budget
        if done or trained >= self.next_eval:
            began = self.clock()
            point = {"minutes": trained / 60, "iteration": trainer.global_step,
                     "fid": self.evaluate(pl_module, use_ema=True)}
            if self.also is not None:
                point.update(self.also(pl_module))
            self.eval_seconds += self.clock() - began
            self.curve.append(point)
            if self.on_point is not None:
                self.on_point(self.curve)
            print(f"  {trained / 60:5.1f} min, iteration {trainer.global_step}: EMA FID {point['fid']:.2f}"
                  + "".join(f", {k} {v:.2f}" for k, v in point.items() if k.startswith("fid_")), flush=True)
            while self.next_eval <= trained:
                self.next_eval += self.eval_every
        if done:
            trainer.should_stop = True


WallClockBudget = TrainingBudget  # the name before the CPU-time clock


def digits_evaluation(module, data, num_samples: int, use_ema: bool = True,
                      metrics: Sequence[str] = ("fid",)) -> dict[str, Any]:
    """This benchmark's evaluation (``evaluate_generator``, the code path of ``MetricsCallback``): ``metrics``
    (digits FID by default) of ``num_samples`` samples of the EMA generator (``use_ema``) or the raw one, drawn
    from the fixed noise seed ``EVAL_NOISE_SEED``, against the data module's 500 held-out digits, with the
    ``digits`` extractor. Other benchmarks that report "digits FID as quality.py computes it" call it."""
    from gan_lightning.evaluation import evaluate_generator

    return evaluate_generator(module, data, list(metrics), num_samples=num_samples, extractor="digits",
                              use_ema=use_ema, seed=EVAL_NOISE_SEED, progress=False)


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    """Train one model for ``job["minutes"]`` of its clock; its FID curve and final numbers."""
    import tempfile

    quiet_lightning()
    torch.set_num_threads(job["threads"])
    accelerator, clock = job.get("accelerator", "cpu"), job.get("clock", "wall")
    changes = [tuple(change) for change in job.get("changes", [])]
    L.seed_everything(job["seed"], workers=False, verbose=False)
    model, data, ema = build(job["model"], changes)
    extra = ExtraEMAs(job.get("extra_ema", []))
    policy = diffaugment_of(changes)
    if policy is not None:
        from gan_lightning.callbacks import DiffAugmentCallback

        augment = [DiffAugmentCallback(policy)]
    else:
        augment = []

    def evaluate(module, use_ema: bool) -> float:
        return float(digits_evaluation(module, data, job["num_eval"], use_ema)["fid"])

    def also(module) -> dict[str, float]:
        numbers = {"fid_raw": evaluate(module, use_ema=False)}
        for decay in extra.copies:
            with extra.swapped(module, decay):
                numbers[f"fid_ema_{decay:g}"] = evaluate(module, use_ema=True)
        return numbers

    def save_progress(curve) -> None:  # the curve so far: what an unfinished run leaves
        if job.get("progress"):
            save_runs({job["key"]: {"key": job["key"], "model": job["model"], "minutes": job["minutes"],
                                    "threads": job["threads"], "accelerator": accelerator, "clock": clock,
                                    "changes": [list(change) for change in changes], "curve": curve}},
                      Path(job["progress"]))

    budget = TrainingBudget(job["minutes"] * 60, job["eval_every"] * 60, evaluate,
                            clock=time.process_time if clock == "cpu" else None, also=also,
                            extra_emas=extra if extra.schedules else None, on_point=save_progress)
    load_start = os.getloadavg()[0]
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory(prefix="gan_lightning_quality_") as root:
        trainer = L.Trainer(max_steps=max_steps_of(changes), max_epochs=-1, logger=False, enable_checkpointing=False,
                            enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                            accelerator=accelerator, devices=1, callbacks=[ema, *augment, budget], default_root_dir=root)
        trainer.fit(model, data)
    wall, cpu = time.perf_counter() - wall_start, time.process_time() - cpu_start
    grid = model.sample(GRID_SAMPLES, use_ema=True, rng=torch.Generator().manual_seed(EVAL_NOISE_SEED))
    return {"key": job["key"], "model": job["model"], "minutes": job["minutes"], "threads": job["threads"],
            "accelerator": accelerator, "clock": clock, "changes": [list(change) for change in changes],
            "ema": {"decay": ema.decay, "warmup": ema.warmup}, "torch": torch.__version__,
            "device_name": torch.cuda.get_device_name() if accelerator == "gpu" else "CPU", "seed": job["seed"],
            "iterations": int(trainer.global_step), "curve": budget.curve,
            "fid_ema": budget.curve[-1]["fid"], "fid_raw": budget.curve[-1]["fid_raw"],
            "eval_seconds": budget.eval_seconds, "extra_ema_seconds": budget.extra_ema_seconds,
            "fit_wall_seconds": wall, "fit_cpu_seconds": cpu,
            "load_start": load_start, "load_end": os.getloadavg()[0], "num_eval": job["num_eval"],
            "grid": (grid.detach().float().cpu() * 0.5 + 0.5).clamp(0, 1).tolist()}


# ----------------------------------------------------------------------------- report
def grid_path(result: dict[str, Any], folder: Path) -> Path:
    """``<model>_<minutes>min[_gpu].png`` for the recipe on the wall clock (the names before ``--clock``),
    ``cpumin`` on the CPU-time clock, and the changes of the recipe appended, then ``_seed<N>`` for a seed
    other than 0."""
    import re

    gpu = "_gpu" if result.get("accelerator", "cpu") == "gpu" else ""
    unit = "cpumin" if result.get("clock", "wall") == "cpu" else "min"
    changes = "".join(f"_{name}{value}" for name, value in result.get("changes", []))
    changes = re.sub(r"[^A-Za-z0-9.\-_]", "", changes.replace(",", "-"))
    seed = f"_seed{result['seed']}" if result.get("seed", 0) != 0 else ""  # seed 0: the names before --seed runs
    return folder / f"{result['model'].lower()}_{result['minutes']:g}{unit}{gpu}{changes}{seed}.png"


def progress_path(run: dict[str, Any], cache: Path) -> Path:
    """Where a run in flight keeps its curve so far (beside the cache; removed when the run ends)."""
    return Path(cache).parent / "progress" / (grid_path(run, Path(".")).stem + ".json")


def unfinished_runs(results: dict[str, dict[str, Any]], cache: Path) -> dict[str, dict[str, Any]]:
    """The progress files of runs not in the cache: runs stopped (or still going) before their budget."""
    found = {}
    for path in sorted((Path(cache).parent / "progress").glob("*.json")):
        for key, run in load_runs(path).items():
            if key not in results and run["curve"]:
                found[key] = run
    return found


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
        unit = "CPU-min" if result.get("clock", "wall") == "cpu" else "min"
        changed = f", {change_label(result)}" if result.get("changes") else ""
        axis.plot([p["minutes"] for p in curve], [p["fid"] for p in curve], marker="o",
                  label=f"{result['model']}{changed}, {result['minutes']:g} {unit}, {device_label(result)}")
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
    """Per accelerator: which run reached the lowest FID within the target's minutes, and whether it is below
    the target (on the CPU, wall-clock and CPU-time minutes both count: one thread's CPU time is at most
    its wall time)."""
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
        changed = f" ({change_label(best)})" if best.get("changes") else ""
        lines.append(f"{accelerator.upper()}: lowest digits FID within {limit:g} training minutes **{point['fid']:.1f}**, "
                     f"{best['model']}{changed} at {point['minutes']:.1f} minutes (iteration {point['iteration']}, "
                     f"{device_label(best)}, {clock_label(best)} clock). The target (FID < {target:g} within "
                     f"{limit:g} minutes) is **{'reached' if point['fid'] < target else 'not reached'}**.")
    return "\n\n".join(lines)


def curve_text(curve: list[dict[str, Any]]) -> str:
    return ", ".join(f"{round(p['minutes'], 1):g}: {p['fid']:.0f}" for p in curve)


def extra_ema_text(point: dict[str, Any]) -> str:
    """``0.99: 55.1, 0.9999: 60.2``: the extra EMAs' FIDs at a point of the curve, ``-`` when none."""
    extras = sorted((float(k[len("fid_ema_"):]), v) for k, v in point.items() if k.startswith("fid_ema_"))
    return ", ".join(f"{decay:g}: {fid:.1f}" for decay, fid in extras) or "-"


def pilot_groups(results: dict[str, dict[str, Any]], unfinished: dict[str, dict[str, Any]] | None = None
                 ) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """``(recipe run, changed runs)`` for each budget (model, minutes, clock, device) where the recipe and at
    least one change of it ran: the pilots, one change each against the unchanged recipe; changed runs
    stopped before the budget (``unfinished``) join their group, compared where they stopped."""
    def budget(r):
        return (r["model"], r["minutes"], r.get("clock", "wall"), r.get("accelerator", "cpu"), r["threads"],
                r.get("seed", 0))

    candidates = [*results.values(), *({key: {**run, "unfinished": True} for key, run in (unfinished or {}).items()}
                                       .values())]
    groups = []
    for recipe in sorted((r for r in results.values() if not r.get("changes")), key=lambda r: r["key"]):
        changed = [r for r in candidates if r.get("changes") and budget(r) == budget(recipe)]
        if changed:
            groups.append((recipe, sorted(changed, key=lambda r: (bool(r.get("unfinished")), r["curve"][-1]["fid"]))))
    return groups


def nearest_point(run: dict[str, Any], minutes: float) -> dict[str, Any]:
    return min(run["curve"], key=lambda p: abs(p["minutes"] - minutes))


def pilot_table(recipe: dict[str, Any], changed: list[dict[str, Any]]) -> str:
    unit = "CPU-minutes" if recipe.get("clock", "wall") == "cpu" else "minutes"
    title = (f"Pilots: {recipe['model']}, {recipe['minutes']:g} {unit} each ({device_label(recipe)}, seed "
             f"{recipe.get('seed', 0)}); FIDs at the end of the budget; vs recipe: this row's EMA FID minus the "
             "recipe's (negative: better); a run stopped before the budget is compared with the recipe's point "
             "of the same minute.")
    header = ("| Change (one, against the recipe) | Iterations | FID, EMA G | vs recipe | FID, raw G (EMA off) | "
              "FID, other EMAs | Curve (minute: FID) |")
    lines = [title, "", header, "|---|---:|---:|---:|---:|---|---|"]
    for r in [recipe, *changed]:
        end = r["curve"][-1]
        label = change_label(r)
        if r.get("unfinished"):
            label += f" (stopped at {end['minutes']:.1f} of {r['minutes']:g})"
        delta = "-" if r is recipe else f"{end['fid'] - nearest_point(recipe, end['minutes'])['fid']:+.1f}"
        lines.append(f"| {label} | {end['iteration']} | {end['fid']:.1f} | {delta} | {end.get('fid_raw', float('nan')):.1f} | "
                     f"{extra_ema_text(end)} | {curve_text(r['curve'])} |")
    return "\n".join(lines)


def real_reference_fid(cache: Path) -> float:
    """The digits FID of 1,000 real training digits against the held-out ones (``mnist5k_table``'s reference
    row), computed once and kept beside the cache: what a generator that drew the training set would score."""
    path = Path(cache).parent / "real_reference.json"
    if not path.is_file():
        from mnist5k_table import real_reference

        save_runs({"fid": float(real_reference()["fid"])}, path)
    return float(load_runs(path)["fid"])


def write_report(results: dict[str, dict[str, Any]], args: argparse.Namespace, out: Path,
                 unfinished: dict[str, dict[str, Any]] | None = None) -> str:
    groups = pilot_groups(results, unfinished)
    in_pilots = {r["key"] for _, changed in groups for r in changed}
    rows = []
    for r in sorted((r for r in results.values() if r["key"] not in in_pilots),
                    key=lambda r: min(p["fid"] for p in r["curve"])):
        best = min(p["fid"] for p in r["curve"])
        rows.append(f"| {r['model']} | {change_label(r)} | {clock_label(r)} | {r['minutes']:g} | {device_label(r)} | "
                    f"{r['iterations']} | {r['fid_ema']:.1f} | {r['fid_raw']:.1f} | {extra_ema_text(r['curve'][-1])} | "
                    f"{best:.1f} | {curve_text(r['curve'])} | {r['eval_seconds']:.0f} | "
                    f"{r['load_start']:.1f} / {r['load_end']:.1f} |")
    stopped = "".join(f"| {r['model']} | {change_label(r)} | {clock_label(r)} | {r['minutes']:g} | "
                      f"{r['curve'][-1]['minutes']:.1f} | {r['curve'][-1]['iteration']} | {curve_text(r['curve'])} |\n"
                      for r in sorted((unfinished or {}).values(), key=lambda r: r["key"]) if r["key"] not in in_pilots)
    if stopped:
        stopped = ("Runs stopped before their budget (their progress files; the curve so far):\n\n"
                   "| Model | Change | Clock | Budget | Reached | Iterations | Curve (minute: FID) |\n"
                   "|---|---|---|---:|---:|---:|---|\n" + stopped)
    if results:
        plot_curves(results, Path(args.plots) / "fid_curves.png")
    grids = " ".join(f"![{r['model']}, {change_label(r)}](quality/{grid_path(r, Path('.')).name})"
                     for r in sorted(results.values(), key=lambda r: r["key"]))
    notes = "".join(f"- {note}\n" for note in args.note)
    pilots = "\n\n".join(pilot_table(recipe, changed) for recipe, changed in groups)
    text = f"""## Quality in a fixed budget: digits FID on MNIST5k (issues 14, 26)

Written by `benchmarks/quality.py`; do not edit by hand. Command: `{args.command}`

- Each model's committed recipe (`experiments/<model>/mnist5k.yaml`: model options, image size, batch size,
  its EMA), or the one change of it the Change column names (`--set` / `--variant`), seed 0, trained for a
  fixed number of **training minutes** (evaluation time excluded and shown apart) on the given threads of
  this 2-core CPU, or on the GPU the Device column names (`--accelerator gpu`, GPU minutes).
- Clock: **wall** (wall time; the CPU is shared with other jobs, load average at start / end in the last
  column, so these minutes buy fewer iterations at a high load) or **CPU time** (`--clock cpu`: the
  training process's CPU time, one thread, fair whatever the load; the updates of the extra EMAs are not
  counted either). The CPU target counts both: one thread's CPU time is at most its wall time.
- Evaluation: digits FID (LeNet features, not Inception FID) of 1,000 samples of the EMA generator (and of
  the raw generator, EMA off) against the 500 held-out digits. 1,000 real training digits score
  **{real_reference_fid(Path(args.cache)):.2f}** (`mnist5k_table.real_reference`): the floor of this FID with
  1,000 samples; a model far above it is not held there by the evaluation (whether 4,500 digits are too few
  to train on, D overfitting them, is not tested: MNIST5k has no more). Other EMAs (`--extra-ema`): copies of
  G averaged with other decays (same warm-up, min(decay, (1 + t) / (10 + t)), which keeps 0.999 and 0.9999
  identical before iteration 8,991) on the same training run.

| Model | Change | Clock | Minutes | Device | Iterations | FID, EMA G (end) | FID, raw G (end) | FID, other EMAs (end) | Best FID | Curve (minute: FID) | Eval s | Load |
|---|---|---|---:|---:|---:|---:|---:|---|---:|---|---:|---|
{chr(10).join(rows)}

{pilots}

{stopped}
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
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="what the budget counts: wall time (default) or the training process's CPU time "
                             "(fair on a shared machine; CPU only)")
    parser.add_argument("--set", dest="changes", action="append", default=[], metavar="KEY=VALUE",
                        help="one change of the recipe (repeatable): a model option, batch_size, ema.decay, ema.warmup, max_steps, "
                             "diffaugment (a DiffAugment policy, e.g. translation,cutout)")
    parser.add_argument("--variant", dest="variants", action="append", default=None, metavar="'KEY=VALUE ...'",
                        help="one run per --variant: the --set changes and these (space-separated; '' for the "
                             "recipe): pilots of one change each against the recipe, trained by --workers")
    parser.add_argument("--extra-ema", type=float, action="append", default=[], metavar="DECAY",
                        help="an EMA copy of G with this decay beside the recipe's, evaluated at every point (repeatable)")
    parser.add_argument("--workers", type=int, default=1, help="runs trained at once, each in its own process")
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
    if args.workers < 1:
        parser.error(f"--workers must be >= 1, got {args.workers}")
    for decay in args.extra_ema:
        if not 0.0 < decay < 1.0:
            parser.error(f"--extra-ema must be in (0, 1), got {decay}")
    try:
        args.changes = [parse_change(text) for text in args.changes]
        args.variants = [args.changes + [parse_change(text) for text in variant.split()]
                         for variant in (args.variants or [])]
    except ValueError as error:
        parser.error(str(error))
    args.accelerator = resolve_accelerator(args.accelerator)
    if args.accelerator == "gpu" and not torch.cuda.is_available() and not args.report_only:
        parser.error("--accelerator gpu: torch sees no CUDA GPU on this machine")
    if args.clock == "cpu" and args.accelerator == "gpu":
        parser.error("--clock cpu: the CPU time of a GPU run is not its training time; use --clock wall")
    args.command = training_command(__file__, argv)
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    cache = Path(args.cache)
    results = load_runs(cache)
    if not args.report_only:
        variants = args.variants or [args.changes]
        jobs = [{"model": model, "minutes": args.minutes, "threads": args.threads, "seed": args.seed,
                 "accelerator": args.accelerator, "clock": args.clock, "changes": changes,
                 "extra_ema": args.extra_ema, "eval_every": args.eval_every, "num_eval": args.num_eval,
                 "key": run_key(model, args.minutes, args.threads, args.seed, args.accelerator, args.clock, changes)}
                for model in args.models for changes in variants]
        for job in jobs:
            job["progress"] = str(progress_path(job, cache))

        def done(result, seconds) -> None:
            save_grid(result, Path(args.plots))
            progress_path(result, cache).unlink(missing_ok=True)

        def save(finished) -> None:  # merged with what another process (another run) saved meanwhile
            save_runs({**load_runs(cache), **finished}, cache)

        train_missing(jobs, run_one, results, save, workers=args.workers, on_done=done)
        results.update({key: run for key, run in load_runs(cache).items() if key not in results})
    print(write_report(results, args, Path(args.out), unfinished_runs(results, cache)))


if __name__ == "__main__":
    os.environ.setdefault("WANDB_MODE", "offline")
    main()
