"""benchmarks/RESULTS.md is shared by several benchmark scripts: each owns one section.

A section runs from ``<!-- begin: NAME -->`` to ``<!-- end: NAME -->``; a script rewrites its
own section and leaves the others alone, so running one benchmark never erases another's
results. Sections keep the order in which they were first written.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

HEADER = (
    "# Benchmark results\n\n"
    "Every section below is written by the script it names (run from the repository root); "
    "do not edit by hand: rerun the script.\n"
)


def _markers(name: str) -> tuple[str, str]:
    if not name or "-->" in name or "\n" in name:
        raise ValueError(f"bad section name {name!r}")
    return f"<!-- begin: {name} -->", f"<!-- end: {name} -->"


def replace_section(path: str | Path, name: str, text: str) -> str:
    """Write ``text`` as section ``name`` of ``path`` (created with a header when missing); returns the file."""
    path = Path(path)
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
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(updated)
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


def half_range(values: Sequence[float]) -> float:
    """Half the range of ``values``: the seed spread the benchmark tables print as ``mean ± half range``."""
    return (max(values) - min(values)) / 2


def load_runs(path: str | Path) -> dict[str, dict[str, Any]]:
    """A benchmark's cache of finished runs (run key -> result); empty when there is none yet."""
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else {}


def save_runs(results: dict[str, dict[str, Any]], path: str | Path, drop: Sequence[str] = ("grid",)) -> None:
    """Write the cache of finished runs without the ``drop`` fields (pictures, saved apart), atomically:
    an interruption leaves the previous file, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    slim = {key: {k: v for k, v in value.items() if k not in drop} for key, value in results.items()}
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(slim, indent=1, sort_keys=True) + "\n")
    partial.replace(path)


def train_missing(jobs: Sequence[dict[str, Any]], run_one: Callable[[dict[str, Any]], dict[str, Any]],
                  results: dict[str, dict[str, Any]], cache: str | Path, workers: int = 1,
                  on_done: Callable[[dict[str, Any], float], None] | None = None) -> dict[str, dict[str, Any]]:
    """Run ``run_one`` on each job whose ``key`` is not in ``results`` yet (in ``workers`` spawned
    processes when more than one; ``run_one`` must then be importable); each finished run goes into
    ``results`` and the cache at once, so an interruption loses only the runs in flight, then
    ``on_done(run, seconds_so_far)``."""
    todo = [job for job in jobs if job["key"] not in results]
    print(f"{len(jobs)} runs, {len(jobs) - len(todo)} cached, {len(todo)} to train", flush=True)
    started = time.perf_counter()

    def finished(run: dict[str, Any]) -> None:
        results[run["key"]] = run
        save_runs(results, cache)
        if on_done is not None:
            on_done(run, time.perf_counter() - started)

    if workers > 1 and len(todo) > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(workers) as pool:
            for run in pool.imap_unordered(run_one, todo):
                finished(run)
    else:
        for job in todo:
            finished(run_one(job))
    return results
