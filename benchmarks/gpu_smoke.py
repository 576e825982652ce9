"""Every experiment config, a few iterations on the GPU: does it train there, how fast, in how much memory?

Each config of ``experiments/*/*.yaml`` trains ``--iterations`` iterations in a process of its own,
built by the CLI's own builder (``gan_lightning.cli.build_cli``: the shared defaults, the config, the
default callbacks: EMA, sample grid, divergence guard, checkpoints) with
``--trainer.accelerator gpu --trainer.devices 1 --trainer.logger false``; logging, sample grids and
checkpoints are due every ``--every`` iterations, so they run during the smoke test too.
``--jobs`` configs run at a time on the one GPU (their speeds then share it: iterations/s are a
smoke figure, not a benchmark).

One row per config: ``ok`` or the last line of its error, iterations/s over the iterations after the
first ``--every`` (compilation, cuDNN's algorithm search), peak GPU memory, and the host-device
synchronisations seen in iterations where no logger or callback is due (``torch.cuda.
set_sync_debug_mode("warn")`` over those iterations, the first ``--every`` left out): 0 expected,
else the first place. Configs whose data is not on this machine (a missing folder: CelebA) are
rows of their own, not failures.

Exit status 1 when a config that has its data fails, or syncs between due iterations (unless
``--allow-syncs``). Without a CUDA GPU: one line saying so, exit 0. ``--device cpu`` runs the same
code on the CPU as a smoke test of this script (no sync check there).

    python benchmarks/gpu_smoke.py [--iterations 30] [--every 10] [--jobs 8] [--configs dcgan,began] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from harness import REPO, load_runs, save_runs
NO_GPU_LINE = "gpu_smoke: no CUDA GPU on this machine; the GPU smoke test did not run"
SYNC_WARNING = "synchronizing"  # torch's sync debug warning: "called a synchronizing CUDA operation"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=30, help="iterations per config")
    parser.add_argument("--every", type=int, default=10,
                        help="logging, sample grids and checkpoints every this many iterations; the first this many "
                             "are warm-up (not timed, no sync check)")
    parser.add_argument("--jobs", type=int, default=8, help="configs trained at the same time")
    parser.add_argument("--configs", default=None,
                        help="comma-separated model folders, config paths or 'gpu' (the paper-sized overlays of "
                             "experiments/gpu/, each on its experiment) (default: every experiments/*/*.yaml)")
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda",
                        help="cpu: a smoke test of this script, not a measurement")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per config")
    parser.add_argument("--allow-syncs", action="store_true", help="report synchronisations, do not fail on them")
    parser.add_argument("--out", type=Path, default=None, help="also write the table (Markdown) to this file")
    parser.add_argument("--one", type=Path, default=None, help=argparse.SUPPRESS)  # a child: one config
    parser.add_argument("--result", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.iterations <= args.every or args.every < 1:
        parser.error("--iterations must be larger than --every, and --every >= 1")
    return args


def experiment_configs(selection: str | None) -> list[Path]:
    """``--configs``: model folders, config paths, or ``gpu`` (the paper-sized overlays, each run on its
    CPU-sized experiment: ``cli.config_files``); default every ``experiments/*/*.yaml``."""
    from gan_lightning.cli import PAPER_SIZED

    configs = sorted((REPO / "experiments").glob("*/*.yaml"))
    if not selection:
        return configs
    chosen = []
    for item in selection.split(","):
        path = Path(item)
        if path.suffix == ".yaml":
            chosen.append(path if path.is_absolute() else REPO / path)
        elif item.lower() == "gpu":
            chosen += sorted(PAPER_SIZED.glob("*/*.yaml"))
        else:
            chosen += [c for c in configs if c.parent.name == item.lower()]
    return chosen


# ----------------------------------------------------------------------------- one config (child process)
def make_watch(every: int, iterations: int, cuda: bool):
    """A callback: times the iterations after the warm-up and watches for syncs in the quiet ones."""
    import lightning as L

    from gan_lightning.core import compat

    class Watch(L.Callback):
        def __init__(self) -> None:
            self.syncs: list[tuple[int, str]] = []
            self.window: int | None = None
            self.marks: dict[str, float] = {}

        def clock(self) -> float:
            if cuda:
                torch.cuda.synchronize()
            return time.perf_counter()

        def quiet(self, trainer, pl_module, batch_idx: int) -> bool:
            i = trainer.global_step
            return (i >= every and (i + 1) % every != 0 and i < iterations - 1
                    and batch_idx < trainer.num_training_batches - 1 and not compat.logging_due(pl_module))

        def close(self) -> None:
            if self.window is not None and cuda:
                torch.cuda.set_sync_debug_mode("default")
            self.window = None

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            self.close()
            if trainer.global_step == every:
                self.marks["start"] = self.clock()
            if cuda and self.quiet(trainer, pl_module, batch_idx):
                self.window = trainer.global_step
                torch.cuda.set_sync_debug_mode("warn")

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            if trainer.global_step == iterations:
                self.close()
                self.marks["end"] = self.clock()

        def on_train_end(self, trainer, pl_module) -> None:
            self.close()

        def on_exception(self, trainer, pl_module, exception) -> None:
            self.close()

    watch = Watch()
    previous = warnings.showwarning

    def showwarning(message, category, filename, lineno, file=None, line=None):
        if watch.window is not None and SYNC_WARNING in str(message):
            watch.syncs.append((watch.window, f"{filename}:{lineno}"))
        else:
            previous(message, category, filename, lineno, file, line)

    warnings.showwarning = showwarning
    warnings.filterwarnings("always", message=f".*{SYNC_WARNING}.*")
    return watch


def run_one(config: Path, args) -> dict:
    """Train one config; the row of the table."""
    from gan_lightning.cli import build_cli, check_lightning_args, config_files
    from gan_lightning.errors import UsageError

    row = {"config": str(config.relative_to(REPO)) if config.is_relative_to(REPO) else str(config)}
    cuda = args.device == "cuda"
    try:
        files = config_files(config)
    except UsageError as error:  # an overlay without its experiment: an error of the config, not missing data
        return {**row, "status": "error", "error": str(error).strip().splitlines()[0]}
    root = tempfile.mkdtemp(prefix="gpu_smoke_")
    try:
        argv = [*(part for file in files for part in ("--config", str(file))),
                "--trainer.accelerator", "gpu" if cuda else "cpu", "--trainer.devices", "1",
                "--trainer.max_steps", str(args.iterations), "--trainer.logger", "false",
                "--trainer.default_root_dir", root, "--trainer.log_every_n_steps", str(args.every),
                "--trainer.enable_progress_bar", "false", "--trainer.check_val_every_n_epoch", "1000",
                "--sample_grid.every_n_steps", str(args.every), "--checkpoint.every_n_train_steps", str(args.every)]
        check_lightning_args(argv)
        cli = build_cli(argv, run=False)
        watch = make_watch(args.every, args.iterations, cuda)
        cli.trainer.callbacks.insert(0, watch)
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        cli.trainer.fit(cli.model, cli.datamodule)
    except UsageError as error:  # one line for the user: a missing data folder is "no data"
        text = str(error).strip().splitlines()[0]
        missing = "not found" in text or "does not exist" in text or "no such" in text.lower()
        return {**row, "status": "no data" if missing else "error", "error": text}
    except Exception as error:  # noqa: BLE001 - every failure is a row
        lines = [line for line in f"{type(error).__name__}: {error}".strip().splitlines() if line.strip()]
        return {**row, "status": "error", "error": lines[-1][:300]}
    done = cli.trainer.global_step
    if done != args.iterations or set(watch.marks) != {"start", "end"}:
        return {**row, "status": "error", "error": f"trained {done} of {args.iterations} iterations"}
    seconds = watch.marks["end"] - watch.marks["start"]
    return {**row, "status": "ok", "iterations_per_s": (args.iterations - args.every) / seconds,
            "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
            "syncs": len(watch.syncs), "first_sync": watch.syncs[0][1] if watch.syncs else ""}


# ----------------------------------------------------------------------------- all configs
def spawn(config: Path, args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "row.json"
        command = [sys.executable, str(Path(__file__).resolve()), "--one", str(config), "--result", str(result),
                   "--iterations", str(args.iterations), "--every", str(args.every), "--device", args.device]
        env = {**os.environ, "WANDB_MODE": "disabled", "PYTHONUNBUFFERED": "1"}
        try:
            done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            return {"config": str(config.relative_to(REPO)), "status": "error",
                    "error": f"no result after {args.timeout:.0f} s"}
        if result.is_file():
            return load_runs(result)
        tail = [line for line in (done.stderr or done.stdout).strip().splitlines() if line.strip()]
        return {"config": str(config.relative_to(REPO)), "status": "error",
                "error": (tail[-1] if tail else f"exit status {done.returncode}")[:300]}


def table(rows: list[dict], header: str) -> str:
    lines = [header, "", "| config | result | iterations/s | peak GPU memory | syncs between due iterations |",
             "|---|---|---:|---:|---|"]
    for row in rows:
        if row["status"] == "ok":
            memory = f"{row['peak_gpu_mb']:,.0f} MiB" if row.get("peak_gpu_mb") is not None else "-"
            syncs = "0" if not row["syncs"] else f"{row['syncs']} (first: {row['first_sync']})"
            lines.append(f"| {row['config']} | ok | {row['iterations_per_s']:.1f} | {memory} | {syncs} |")
        else:
            lines.append(f"| {row['config']} | {row['status']}: {row['error'].replace('|', '/')} | - | - | - |")
    ok = sum(row["status"] == "ok" for row in rows)
    failed = sum(row["status"] == "error" for row in rows)
    missing = sum(row["status"] == "no data" for row in rows)
    syncing = sum(row["status"] == "ok" and row["syncs"] > 0 for row in rows)
    lines += ["", f"**{ok} of {len(rows)} configs train; {failed} fail; {missing} lack their data; "
                  f"{syncing} synchronise between due iterations.**"]
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.one is not None:
        row = run_one(args.one, args)
        save_runs(row, args.result, drop=())
        return 0
    if args.device == "cuda" and not torch.cuda.is_available():
        print(NO_GPU_LINE)
        return 0
    configs = experiment_configs(args.configs)
    name = torch.cuda.get_device_name() if args.device == "cuda" else "CPU (smoke test of the script)"
    header = (f"{len(configs)} experiment configs, {args.iterations} iterations each (logging, sample grids and "
              f"checkpoints every {args.every}), {args.jobs} at a time; {name}, torch {torch.__version__}")
    print(header, flush=True)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        rows = list(pool.map(lambda config: spawn(config, args), configs))
    text = table(rows, header)
    print("\n".join(text.splitlines()[2:]))
    if args.out is not None:
        args.out.write_text(text + "\n")
    failed = any(row["status"] == "error" for row in rows)
    syncing = any(row["status"] == "ok" and row["syncs"] > 0 for row in rows) and not args.allow_syncs
    return 1 if failed or syncing else 0


if __name__ == "__main__":
    sys.exit(main())
