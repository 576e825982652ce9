"""The one harness of benchmarks/: what the benchmark scripts share, written once.

A benchmark script is a thin user of gan_lightning's public API and of this module: it states its
protocol (what it trains, what it measures, the text of its section) and takes the rest from here.
Scripts run from the repository root as ``python benchmarks/<name>.py``; Python searches a script's
own folder first, so ``from harness import ...`` needs no path set-up (the tests get benchmarks/ and
tests/ from ``pythonpath`` in setup.cfg). No script imports another's private helper: what two
scripts need lives here (tests/test_benchmark_scripts.py checks both).

- **Sections of benchmarks/RESULTS.md**: each script owns one or more, from ``<!-- begin: NAME -->``
  to ``<!-- end: NAME -->``, rewrites them and leaves the others alone (``replace_section``,
  ``read_section``); a section quotes the command that trained what it shows (``command_line``,
  ``training_command``, ``command_block``) and the machine's load (``load_average``).
- **The run cache**: finished runs in a JSON file, run key -> result (``load_runs`` / ``save_runs``; a
  pickle where runs hold arrays: ``load_pickled_runs`` / ``save_pickled_runs``), replaced atomically
  after every run, so an interrupted benchmark resumes and ``--report-only`` rebuilds a section from
  the committed cache. No script reads or writes a cache file itself
  (tests/test_benchmark_scripts.py).
- **Pooled training**: ``train_missing`` trains the runs a cache lacks (or all of them again), in
  spawned processes when asked (``pooled``), saving each as it ends.
- **Recipes and one run**: ``load_recipe`` reads ``experiments/<model>/<data>.yaml``; ``model_from_recipe``,
  ``mnist5k_data`` and ``build_mnist5k`` make a model and its data from it; ``fit_exactly`` trains exactly N
  iterations; ``quiet_lightning`` silences Lightning's chatter.
- **Seed spreads and measures several scripts take**: ``half_range``, ``mean_std``, ``coverage``,
  ``in_batches``, ``stack_split``, ``parity_halves``, ``split_tensors``, ``infogan_codes``,
  ``cluster_purity``, ``paired_comparison``, ``knn_predictions``, ``supervised_step``, ``save_grid``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import functools
import json
import logging
import math
import os
import pickle
import re
import shlex
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS = REPO / "benchmarks"
RESULTS_MD = BENCHMARKS / "RESULTS.md"
EXPERIMENTS = REPO / "experiments"


# ----------------------------------------------------------------------------- sections of RESULTS.md
HEADER = (
    "# Benchmark results\n\n"
    "Every section below is written by the script it names (run from the repository root); "
    "do not edit by hand: rerun the script.\n"
)


def _markers(name: str) -> tuple[str, str]:
    if not name or "-->" in name or "\n" in name:
        raise ValueError(f"bad section name {name!r}")
    return f"<!-- begin: {name} -->", f"<!-- end: {name} -->"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` for one read-modify-write (benchmarks run side by side rewrite sections of one
    file); the lock file lives in the temporary folder, named by the path, so the repository gains no file."""
    import fcntl
    import hashlib

    key = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"gan-lightning-{key}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def replace_section(path: str | Path, name: str, text: str) -> str:
    """Write ``text`` as section ``name`` of ``path`` (created with a header when missing); returns the file.
    Sections keep the order in which they were first written. The read and the (atomic) write hold a lock on
    ``path``: benchmarks writing their sections at the same moment lose none."""
    path = Path(path)
    with _locked(path):
        return _replace_section(path, name, text)


def _replace_section(path: Path, name: str, text: str) -> str:
    begin, end = _markers(name)
    block = f"{begin}\n{text.strip()}\n{end}\n"
    current = path.read_text() if path.is_file() else HEADER
    start = current.find(begin)
    if start >= 0:
        stop = current.find(end, start)
        if stop < 0:
            raise ValueError(f"{path}: section {name!r} has no end marker {end!r}")
        stop += len(end)
        if current[stop:stop + 1] == "\n":
            stop += 1
        updated = current[:start] + block + current[stop:]
    else:
        updated = current.rstrip("\n") + "\n\n" + block
    _replace_atomically(path, updated)
    return updated


def read_section(path: str | Path, name: str) -> str | None:
    """The text of section ``name`` of ``path``, or None when it has none."""
    path = Path(path)
    if not path.is_file():
        return None
    begin, end = _markers(name)
    current = path.read_text()
    start = current.find(begin)
    if start < 0:
        return None
    stop = current.find(end, start)
    return current[start + len(begin):stop].strip("\n")


def command_line(script: str | Path, argv: Sequence[str] | None = None) -> str:
    """``python benchmarks/<script> ARGS`` as run from the repository root (ARGS: ``argv`` or sys.argv[1:])."""
    path = Path(script).resolve()
    relative = path.relative_to(path.parent.parent).as_posix()
    args = list(sys.argv[1:] if argv is None else argv)
    return "python " + " ".join(shlex.quote(a) for a in [relative] + args)


def training_command(script: str | Path, argv: Sequence[str] | None = None,
                     report_switches: Sequence[str] = ("--report-only",),
                     report_options: Sequence[str] = ("--note",)) -> str:
    """``command_line`` without the switches and options that only rebuild the report (``--report-only``,
    ``--note TEXT`` / ``--note=TEXT``): the command that trains what the report shows."""
    given = list(sys.argv[1:] if argv is None else argv)
    kept, skip = [], False
    for token in given:
        if skip:
            skip = False
        elif token in report_options:
            skip = True
        elif token not in report_switches and not any(token.startswith(f"{o}=") for o in report_options):
            kept.append(token)
    return command_line(script, kept)


def notes_lines(notes: Sequence[str] | None) -> list[str]:
    """A section's ``--note`` lines as its "Notes:" list (nothing when there are none)."""
    return ["Notes:", ""] + [f"- {note}" for note in notes] + [""] if notes else []


def command_block(command: str) -> list[str]:
    """The lines of a section that quote the command it was written by, as a shell block."""
    return ["Command:", "", "```sh", command, "```", ""]


def load_average() -> tuple[float, float, float]:
    """The 1-, 5- and 15-minute load averages (NaN where the system has none): the sections say how busy
    the shared machine was, because their times are wall times."""
    return os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3


# ----------------------------------------------------------------------------- the run cache
def load_line() -> str:
    """The sentence a section ends with: the machine's load averages when it was written (its times are wall times
    on a shared machine)."""
    load = load_average()
    return f"Machine load while writing (1/5/15 min): {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}."


def _replace_atomically(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` through a ``.partial`` file: an interruption leaves the previous file,
    never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    if isinstance(data, bytes):
        partial.write_bytes(data)
    else:
        partial.write_text(data)
    partial.replace(path)


def kept_checkpoints(folder: str | Path) -> dict[int, Path]:
    """The ``step=N.ckpt`` files a benchmark keeps in ``folder``, or Lightning's ``ModelCheckpoint`` names ending
    in ``-step=N.ckpt``: iteration -> file, in order (none: empty; ``last.ckpt`` and versioned copies such as
    ``step=N-v1.ckpt`` are left out)."""
    found = {}
    for path in Path(folder).glob("*.ckpt"):
        match = re.search(r"(?:^|-)step=(\d+)\.ckpt$", path.name)
        if match:
            found[int(match.group(1))] = path
    return dict(sorted(found.items()))


def load_runs(path: str | Path, empty: Any = None) -> Any:
    """A benchmark's JSON cache of finished runs (run key -> result), or a copy of ``empty`` ({} by
    default) when there is none yet."""
    path = Path(path)
    if path.is_file():
        return json.loads(path.read_text())
    return {} if empty is None else copy.deepcopy(empty)


def _json_lines(value: Any, one_line_below: int, sort_keys: bool, depth: int = 0) -> str:
    """JSON of ``value`` indented by one space a level, as ``json.dumps(indent=1)`` writes it, but every
    container ``one_line_below`` levels down or deeper on one line (string keys only)."""
    if depth >= one_line_below or not isinstance(value, (dict, list)) or not value:
        return json.dumps(value, sort_keys=sort_keys)
    pad = " " * (depth + 1)
    if isinstance(value, dict):
        items = sorted(value.items()) if sort_keys else value.items()
        lines = [f"{pad}{json.dumps(str(key))}: {_json_lines(item, one_line_below, sort_keys, depth + 1)}"
                 for key, item in items]
        return "{\n" + ",\n".join(lines) + "\n" + " " * depth + "}"
    lines = [pad + _json_lines(item, one_line_below, sort_keys, depth + 1) for item in value]
    return "[\n" + ",\n".join(lines) + "\n" + " " * depth + "]"


def as_cached(value: Any) -> Any:
    """``value`` as the JSON run cache reads it back (tuples as lists, keys as strings): what a cached entry is
    compared with to tell the same run from another."""
    return json.loads(json.dumps(value))


def save_runs(results: dict[str, Any], path: str | Path, drop: Sequence[str] = ("grid",), sort_keys: bool = True,
              one_line_below: int | None = None) -> None:
    """Write the cache of finished runs, atomically, without the ``drop`` fields of each run (pictures,
    saved apart). JSON indented by one space, keys sorted unless ``sort_keys`` is False (a report that
    reads the runs in the order they ran); ``one_line_below=N``: what lies N levels down or deeper on
    one line (a cache of many runs with sample coordinates stays small and diffs by run)."""
    slim = {key: ({k: v for k, v in value.items() if k not in drop} if isinstance(value, dict) else value)
            for key, value in results.items()}
    if one_line_below is None:
        text = json.dumps(slim, indent=1, sort_keys=sort_keys)
    else:
        text = _json_lines(slim, one_line_below, sort_keys)
    _replace_atomically(Path(path), text + "\n")


def save_run(path: str | Path, key: str, run: dict[str, Any], within: str | None = None,
             drop: Sequence[str] = ("grid",)) -> dict[str, Any]:
    """One run into the JSON cache at ``path`` under ``key`` (under ``cache[within][key]`` when ``within`` is
    given): the file reread first (another process may have saved its runs meanwhile), then saved
    (``save_runs`` with ``drop``). Returns the cache as saved."""
    runs = load_runs(path, {})
    (runs.setdefault(within, {}) if within is not None else runs)[key] = run
    save_runs(runs, path, drop=drop)
    return runs


def load_pickled_runs(path: str | Path | None, empty: Any = None) -> Any:
    """A cache of finished runs kept as a pickle (runs holding arrays or dataclass keys), or a copy of
    ``empty`` ({} by default) when ``path`` is None or not there yet."""
    if path is None or not Path(path).is_file():
        return {} if empty is None else copy.deepcopy(empty)
    with open(path, "rb") as handle:
        return pickle.load(handle)


def save_pickled_runs(results: Any, path: str | Path) -> None:
    """``results`` as a pickle at ``path``, atomically."""
    _replace_atomically(Path(path), pickle.dumps(results))


# ----------------------------------------------------------------------------- pooled training
def pooled(function: Callable[[Any], Any], tasks: Sequence[Any], workers: int = 1) -> Iterator[Any]:
    """``function(task)`` of every task, yielded as each ends: in this process with one worker (or one
    task), else in ``workers`` spawned processes (``function`` must then be importable: a module-level
    function of a script or of this module)."""
    if workers > 1 and len(tasks) > 1:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            yield from pool.imap_unordered(function, tasks)
    else:
        yield from map(function, tasks)


def seeded_runs_parser(description: str, iterations_help: str) -> argparse.ArgumentParser:
    """The arguments of a benchmark that trains its missing seeded runs (``train_missing``) and writes its
    section: ``--iterations`` (default None: the caller's; ``parse_seeded_args`` fills the recipe's),
    ``--seeds``, ``--num-eval``, ``--workers``, ``--report-only``; the caller adds its own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--iterations", type=int, default=None, help=iterations_help)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--num-eval", type=int, default=1000, help="samples per FID")
    parser.add_argument("--workers", type=int, default=1, help="runs trained in parallel processes")
    parser.add_argument("--report-only", action="store_true", help="rebuild the section from the cache")
    return parser


def parse_seeded_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None,
                      recipe: tuple[str, str] | None = None) -> argparse.Namespace:
    """``parser.parse_args(argv)`` with ``seeds`` a list of ints and ``iterations`` the ``recipe`` (model,
    kind)'s ``max_steps`` when not given; a bad value ends in the parser's one-line error."""
    args = parser.parse_args(argv)
    try:
        args.seeds = [int(s) for s in args.seeds.split(",") if s]
    except ValueError:
        parser.error(f"--seeds: expected comma-separated integers, got {args.seeds!r}")
    if args.iterations is None and recipe is not None:
        args.iterations = load_recipe(*recipe)["max_steps"]
    if args.iterations is None or args.iterations < 1 or args.num_eval < 2 or not args.seeds:
        parser.error(f"--iterations must be >= 1 (got {args.iterations}), --num-eval >= 2 (got {args.num_eval}) "
                     "and --seeds non-empty")
    return args


def _keyed(run_one: Callable[[dict[str, Any]], dict[str, Any]], job: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return job["key"], run_one(job)


def train_missing(jobs: Sequence[dict[str, Any]], run_one: Callable[[dict[str, Any]], dict[str, Any]],
                  results: dict[str, Any], cache: str | Path | Callable[[dict[str, Any]], None], workers: int = 1,
                  on_done: Callable[[dict[str, Any], float], None] | None = None,
                  retrain: bool = False) -> dict[str, Any]:
    """Run ``run_one`` on each job whose ``key`` is not in ``results`` yet (every job with ``retrain``), in
    ``workers`` spawned processes when more than one (``pooled``); each finished run goes into
    ``results`` under its job's key and into the cache at once, so an interruption loses only the runs
    in flight, then ``on_done(run, seconds_so_far)``. ``cache``: the JSON file (``save_runs``), or a
    function that saves ``results`` where the cache has another layout."""
    todo = list(jobs) if retrain else [job for job in jobs if job["key"] not in results]
    print(f"{len(jobs)} runs, {len(jobs) - len(todo)} cached, {len(todo)} to train", flush=True)
    save = cache if callable(cache) else functools.partial(save_runs, path=cache)
    started = time.perf_counter()
    for key, run in pooled(functools.partial(_keyed, run_one), todo, workers):
        results[key] = run
        save(results)
        if on_done is not None:
            on_done(run, time.perf_counter() - started)
    return results


def seeded_section(args: argparse.Namespace, jobs: Sequence[dict[str, Any]],
                   run_one: Callable[[dict[str, Any]], dict[str, Any]], cache: str | Path, section: str,
                   report: Callable[[dict[str, Any], argparse.Namespace], str]) -> str:
    """The body of a seeded-runs benchmark (``seeded_runs_parser``): load the JSON ``cache``, train the
    ``jobs`` it lacks unless ``args.report_only`` (each run's FID printed as it ends), write ``section`` of
    RESULTS.md from ``report(results, args)`` and return that text."""
    Path(cache).parent.mkdir(parents=True, exist_ok=True)
    results = load_runs(cache, empty={})
    if not args.report_only:
        train_missing(jobs, run_one, results, cache, workers=args.workers,
                      on_done=lambda run, s: print(f"{run['key']}: FID {run['fid']:.1f} ({s:.0f} s)", flush=True))
    text = report(results, args)
    replace_section(RESULTS_MD, section, text)
    return text


# ----------------------------------------------------------------------------- recipes and one run
# PyYAML follows YAML 1.1, where "5e-05" (no dot) is a string; LightningCLI's typed parsing
# reads it as the float it is meant to be, and so do we.
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _as_number(value: Any) -> Any:
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        return float(value)
    if isinstance(value, list):
        return [_as_number(item) for item in value]
    return value


def recipe_path(model: str, kind: str) -> Path:
    return EXPERIMENTS / model.lower() / f"{kind}.yaml"


def init_values(raw: dict[str, Any]) -> dict[str, Any]:
    """Init arguments read from YAML, ready to pass to a model: numbers as numbers (YAML 1.1 reads "5e-05"
    as a string), ``betas`` a tuple (YAML has only lists; LightningCLI converts by the annotation)."""
    values = {name: _as_number(value) for name, value in raw.items()}
    if "betas" in values:
        values["betas"] = tuple(values["betas"])
    return values


def load_recipe(model: str, kind: str) -> dict[str, Any]:
    """The committed experiment file of ``model`` on ``kind``:
    ``{"init_args", "max_steps", "data_class", "data_args", "ema"}`` (``ema``: the file's ``ema``
    section, the EMA generator's options, or None).

    ``init_args`` are ready to pass to the model: numbers as numbers, ``betas`` a tuple (YAML
    has only lists; LightningCLI converts by the annotation, and so does this for the one
    tuple-typed model argument)."""
    import yaml

    path = recipe_path(model, kind)
    if not path.is_file():
        raise FileNotFoundError(f"no recipe for {model} on {kind}: {path} is missing")
    config = yaml.safe_load(path.read_text())
    model_section = config["model"]
    if model_section["class_path"].rsplit(".", 1)[-1] != model:
        raise ValueError(f"{path}: model.class_path is {model_section['class_path']!r}, expected {model}")
    init_args = init_values(model_section.get("init_args") or {})
    data_section = config.get("data") or {}
    return {"init_args": init_args,
            "max_steps": int(config.get("trainer", {}).get("max_steps", -1)),
            "data_class": str(data_section.get("class_path", "")).rsplit(".", 1)[-1],
            "data_args": dict(data_section.get("init_args") or {}),
            "ema": config.get("ema")}


def model_from_recipe(name: str, recipe: dict[str, Any], data_shape: Sequence[int], **overrides):
    """Model class ``name`` of ``gan_lightning.models`` with the recipe's ``init_args``, ``overrides``
    changed from them, and the data shape linked as the CLI links it."""
    from gan_lightning import models

    return getattr(models, name)(**{**recipe["init_args"], **overrides, "data_shape": tuple(data_shape)})


def mnist5k_data(model: str, kind: str = "mnist5k", **options):
    """The ``MNIST5k`` data module of ``experiments/<model>/<kind>.yaml``'s data section (image size,
    channels, batch size), ``options`` (seed, train_size, ...) changed from it."""
    from gan_lightning.data import MNIST5k

    recipe = load_recipe(model, kind)
    if recipe["data_class"] != "MNIST5k":
        raise ValueError(f"{recipe_path(model, kind)}: data is {recipe['data_class']}, expected MNIST5k")
    return MNIST5k(**{**recipe["data_args"], **options})


def build_mnist5k(model: str, kind: str = "mnist5k", data_options: dict[str, Any] | None = None, **overrides):
    """``(model, data)``: ``experiments/<model>/<kind>.yaml``'s model on its ``MNIST5k`` data
    (``data_options``: seed, train_size, ... changed from the recipe's; ``overrides``: model options)."""
    data = mnist5k_data(model, kind, **(data_options or {}))
    return model_from_recipe(model, load_recipe(model, kind), data.data_shape, **overrides), data


def quiet_lightning() -> None:
    """Lightning's info logs and its warnings about a benchmark's set-up (few data-loader workers, a run
    shorter than the logging interval, no logger, the GPU it was told not to use) off."""
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning", "lightning_utilities"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*is smaller than the logging interval.*")
    warnings.filterwarnings("ignore", message=".*GPU available but not used.*")
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    warnings.filterwarnings("ignore", message=".*log_every_n_steps.*")
    warnings.filterwarnings("ignore", category=UserWarning, module="lightning")


def fit_exactly(model, data, iterations: int, callbacks=(), label: str = "", ckpt_path: str | Path | None = None) -> float:
    """``trainer.fit`` for exactly ``iterations`` batches on one CPU process, nothing written but a
    temporary folder (and what a ``ModelCheckpoint`` among ``callbacks`` keeps); ``ckpt_path``: resume
    from that checkpoint. Returns the fit's wall seconds."""
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint

    with tempfile.TemporaryDirectory(prefix="gan_lightning_benchmark_") as root:
        trainer = L.Trainer(
            max_steps=iterations, logger=False, enable_progress_bar=False,
            enable_checkpointing=any(isinstance(c, ModelCheckpoint) for c in callbacks),
            enable_model_summary=False, limit_val_batches=0, accelerator="cpu", devices=1,
            callbacks=list(callbacks), default_root_dir=root,
        )
        started = time.perf_counter()
        trainer.fit(model, data, ckpt_path=str(ckpt_path) if ckpt_path else None)
        seconds = time.perf_counter() - started
    if trainer.global_step != iterations:
        raise RuntimeError(f"{label or type(model).__name__}: trained {trainer.global_step} iterations, "
                           f"expected {iterations}")
    return seconds


def resume_checkpoint(folder: str | Path, steps: int) -> Path | None:
    """The ``step=N.ckpt`` a run of ``steps`` iterations resumes from: the latest kept in ``folder`` when it is not
    past ``steps``, else None (a longer run's checkpoints are not resumed: a schedule tied to ``max_steps`` would
    make its prefix another run)."""
    kept = kept_checkpoints(folder)
    last = max(kept, default=None)
    return kept[last] if last is not None and last <= steps else None


@dataclasses.dataclass
class CachedCurve:
    """What a learning curve's cache holds for one run: ``points`` measured up to the asked steps, the fit
    seconds ``spent`` on them, and ``complete`` (its last point at the asked steps: nothing to train)."""

    points: list[dict[str, Any]]
    spent: float
    complete: bool


def cached_curve(cache: str | Path, key: str, settings: dict[str, Any], steps: int, folder: str | Path | None = None,
                 extendable: Sequence[str] = (), points_key: str = "points", within: str | None = None) -> CachedCurve:
    """The cached curve ``key`` of ``cache`` (of ``cache[within]`` when given) when it was trained with ``settings``
    (``extendable``: settings a longer run of the same curve may change, as its planned steps): its points up to
    ``steps``. A curve trained with other settings counts for nothing, and its checkpoints (in ``folder``) are
    removed: they are not this run's."""
    runs = load_runs(cache, {})
    cached = (runs.get(within, {}) if within is not None else runs).get(key, {})
    same = all(cached.get(name) == value for name, value in settings.items() if name not in extendable)
    if not same and folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
    points = [point for point in cached.get(points_key, []) if same and point["iteration"] <= steps]
    return CachedCurve(points, cached.get("fit_seconds", 0.0) if same else 0.0,
                       bool(points) and points[-1]["iteration"] == steps)


def measured_apart(module, measure: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    """``measure(module)`` as a training run's measure: inside a forked random state, the CPU's and every visible
    CUDA device's (a measure that draws leaves training's random stream as it was), and with each submodule's
    train / eval mode restored after."""
    import torch

    modes = [(sub, sub.training) for sub in module.modules()]
    try:
        with torch.random.fork_rng(devices=list(range(torch.cuda.device_count()))):
            return measure(module)
    finally:
        for sub, training in modes:
            sub.training = training


def fit_measured(model, data, steps: int, every: int, folder: str | Path, measure: Callable[[Any], dict[str, Any]],
                 points: list[dict[str, Any]], on_point: Callable[[list[dict[str, Any]], float], None],
                 spent: float = 0.0, label: str = "", callbacks: Sequence[Any] = ()) -> float:
    """Train ``model`` to ``steps`` iterations, ``measure(model)`` after every ``every``-th one not yet in
    ``points`` (dicts with an ``"iteration"``): ``{"iteration", **measure(model)}`` appended, then
    ``on_point(points, fit_seconds)`` (save them: an interruption loses no measured point). A checkpoint of every
    measured iteration is kept in ``folder`` and the fit resumes from ``resume_checkpoint(folder, steps)`` (the
    core's bitwise resume). Fit seconds exclude measuring and add to ``spent`` (the seconds of earlier, resumed
    calls). Each submodule's train / eval mode is restored after a measure, and torch's CPU random state too (a
    measured run trains as the unmeasured one). ``callbacks`` run before the measure (an EMA callback: the measure
    sees this iteration's EMA). Returns the fit seconds."""
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint

    done = {point["iteration"] for point in points}
    resume = resume_checkpoint(folder, steps)
    seconds = [spent if resume is not None else 0.0]

    class Measure(L.Callback):
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            iteration = trainer.global_step
            if iteration % every or iteration in done:
                return
            seconds[0] += time.perf_counter() - started[0]
            points.append({"iteration": iteration, **measured_apart(module, measure)})
            points.sort(key=lambda point: point["iteration"])
            done.add(iteration)
            on_point(points, round(seconds[0], 1))
            started[0] = time.perf_counter()

    checkpoint = ModelCheckpoint(dirpath=folder, filename="{step}", every_n_train_steps=every, save_top_k=-1)
    trainer = L.Trainer(max_steps=steps, logger=False, enable_progress_bar=False, enable_model_summary=False,
                        limit_val_batches=0, accelerator="cpu", devices=1, default_root_dir=str(folder),
                        callbacks=[*callbacks, Measure(), checkpoint])
    started = [time.perf_counter()]
    trainer.fit(model, data, ckpt_path=str(resume) if resume is not None else None)
    if trainer.global_step != steps:
        raise RuntimeError(f"{label or type(model).__name__}: trained {trainer.global_step} iterations, "
                           f"expected {steps}")
    return seconds[0] + time.perf_counter() - started[0]


def recipe_budget_words(budgets: dict[str, int], kind: str) -> str:
    """What the runs' ``budgets`` (model -> iterations) are against their recipes' ``max_steps``
    (``experiments/<model>/<kind>.yaml``): short-budget results, naming the models below, or the recipes' own."""
    recipes = {model: int(load_recipe(model, kind)["max_steps"]) for model in budgets}
    short = [model for model, steps in budgets.items() if steps < recipes[model]]
    listed = ", ".join(f"{model} {steps:,}" for model, steps in recipes.items())
    if short:
        return f"The committed recipes train {listed} iterations: **short-budget results** ({', '.join(short)})."
    return f"The committed recipes train {listed} iterations: each model at its recipe's budget."


def int_list(text: str) -> tuple[int, ...]:
    """``--g-hidden 400,400``: comma-separated integers."""
    return tuple(int(part) for part in text.split(",") if part.strip())


def model_budgets(text: str) -> dict[str, int]:
    """``--iterations-for UnrolledGAN=450,EBGAN=100``: per-model iteration budgets."""
    import argparse

    budgets = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        if not value:
            raise argparse.ArgumentTypeError(f"--iterations-for expects MODEL=N[,MODEL=N], got {item!r}")
        budgets[name.strip()] = int(value)
    return budgets


# ----------------------------------------------------------------------------- seed spreads
def recent_slope(points: Sequence[dict[str, Any]], key: str, last: int = 4) -> float:
    """Least-squares slope of ``key`` over the last ``last`` of ``points`` (dicts with an ``"iteration"``), per
    1,000 iterations; nan with fewer than two points. A learning curve's recent trend."""
    tail = list(points)[-last:]
    if len(tail) < 2:
        return math.nan
    xs = [point["iteration"] / 1000 for point in tail]
    ys = [point[key] for point in tail]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def half_range(values: Sequence[float]) -> float:
    """Half the range of ``values``: the seed spread the benchmark tables print as ``mean ± half range``."""
    return (max(values) - min(values)) / 2


def beyond_spread(ours: Sequence[float], theirs: Sequence[float]) -> str:
    """``better``, ``worse`` or ``not separated``: the mean of ``ours`` against that of ``theirs`` (lower is
    better: FID), beyond the larger seed spread (``half_range``) of the two."""
    gain = sum(theirs) / len(theirs) - sum(ours) / len(ours)
    noise = max(half_range(ours), half_range(theirs))
    return "better" if gain > noise else "worse" if gain < -noise else "not separated"


def mean_std(values: Iterable[float], one_value: float = math.nan) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1) of ``values`` over seeds; the deviation of a single
    value is ``one_value``; with an infinite value, (inf, nan)."""
    values = [float(v) for v in values]
    if any(math.isinf(v) for v in values):
        return math.inf, math.nan
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else one_value)


# ----------------------------------------------------------------------------- measures several scripts take
def coverage(points, kind: str, std: float) -> dict[str, Any]:
    """``ModeCoverage2D`` of ``points`` on the ``kind`` mixture: modes, high_quality, reverse_kl."""
    from gan_lightning.data.toy2d import mixture_modes
    from gan_lightning.evaluation import ModeCoverage2D

    metric = ModeCoverage2D(mixture_modes(kind), std)
    metric.update(points.detach().float().cpu())
    return metric.compute()


def in_batches(function: Callable[[Any], Any], images, batch_size: int = 250):
    """``function`` over ``images`` in batches, without gradients, outputs concatenated (the first of a
    tuple output)."""
    import torch

    outputs = []
    with torch.no_grad():
        for start in range(0, images.size(0), batch_size):
            out = function(images[start: start + batch_size])
            outputs.append(out[0] if isinstance(out, (tuple, list)) else out)
    return torch.cat(outputs)


def stack_split(dataset, keys: Sequence[str] | None = None) -> dict[str, Any]:
    """A split of dict samples stacked into tensors, key by key (``keys``: only those the samples have)."""
    import torch

    items = [dataset[i] for i in range(len(dataset))]
    names = [key for key in (items[0] if keys is None else keys) if key in items[0]]
    return {key: torch.stack([torch.as_tensor(item[key]) for item in items]) for key in names}


def parity_halves(split: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(judge half, eval half) of a held-out split, by index parity: judges train on one half, the
    models are measured on the other."""
    return ({k: v[0::2] for k, v in split.items()}, {k: v[1::2] for k, v in split.items()})


def split_tensors(datamodule, split: str):
    """(images, labels) of the data module's ``train`` or ``heldout`` split."""
    import torch

    from gan_lightning.evaluation import source_labels

    datamodule.setup("fit")
    dataset = datamodule.train_set if split == "train" else datamodule.heldout_set
    images = torch.stack([torch.as_tensor(dataset[i][0]) for i in range(len(dataset))])
    return images, source_labels(dataset)


def infogan_codes(model, images):
    """The categorical code InfoGAN's Q head reads from each image (the argmax of its logits)."""
    return in_batches(lambda x: model.discriminator(x)[1][:, : model.categorical_dim], images).argmax(dim=1)


def cluster_purity(assignments, labels, num_clusters: int) -> dict[str, Any]:
    """Purity of ``assignments`` against ``labels``: each cluster votes its majority label."""
    import torch

    mapping, correct = {}, 0
    for cluster in range(num_clusters):
        members = labels[assignments == cluster]
        if len(members):
            counts = torch.bincount(members, minlength=int(labels.max()) + 1)
            mapping[cluster] = int(counts.argmax())
            correct += int(counts.max())
    return {"purity": correct / len(labels), "mapping": mapping,
            "digits_covered": len(set(mapping.values())), "clusters_used": len(mapping)}


def paired_comparison(first_correct, second_correct) -> dict[str, Any]:
    """Two classifiers scored on the same examples: how many only the first / only the second gets
    right, and the exact two-sided McNemar p-value (binomial test of those two counts)."""
    first_correct, second_correct = first_correct.bool(), second_correct.bool()
    first_only = int((first_correct & ~second_correct).sum())
    second_only = int((second_correct & ~first_correct).sum())
    n = first_only + second_only
    tail = sum(math.comb(n, i) for i in range(min(first_only, second_only) + 1)) / 2 ** n if n else 1.0
    return {"first_only": first_only, "second_only": second_only, "p_value": min(1.0, 2 * tail)}


KNN_K = 5


def knn_predictions(train_features, train_labels, test_features, k: int = KNN_K):
    """k-NN (Euclidean, majority vote, ties to the nearest) predictions; features standardised with
    the memory's mean / std per dimension. ``test_features=None``: leave-one-out over the memory
    (each memory item classified by the others)."""
    import torch

    mean, std = train_features.mean(0), train_features.std(0).clamp_min(1e-8)
    train_features = (train_features - mean) / std
    if test_features is None:
        distances = torch.cdist(train_features, train_features).fill_diagonal_(math.inf)
    else:
        distances = torch.cdist((test_features - mean) / std, train_features)
    nearest = distances.topk(k, largest=False).indices  # sorted by distance
    votes = train_labels[nearest]
    predictions = []
    for row in votes:
        counts = torch.bincount(row, minlength=10)
        best = counts.max()
        predictions.append(next(int(v) for v in row if counts[v] == best))  # tie: the nearest of the tied labels
    return torch.tensor(predictions)


def supervised_step(classifier, optimizer, images, targets, batch: int) -> None:
    """One step of a classifier on a random labelled batch (drawn as ``SemiSupervisedGAN.discriminator_loss``
    draws it): the supervised baselines of the semi-supervised rows."""
    import torch
    import torch.nn.functional as F

    pick = torch.randperm(images.size(0))[:batch]
    loss = F.cross_entropy(classifier(images[pick]), targets[pick])
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def shown_path(path: str | Path) -> str:
    """``path`` relative to the repository when it is inside it (as a section links it)."""
    path = Path(path).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def save_grid(images, path: str | Path, nrow: int) -> str:
    """A sample grid PNG (``write_samples``); returns its path as a section shows it."""
    from gan_lightning.callbacks import write_samples

    return shown_path(write_samples(images, Path(path), nrow=nrow))
