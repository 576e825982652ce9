"""How much does running a GAN through gan-lightning cost over a hand-written PyTorch loop?

Three cases (``--cases``, default all three), each trained two ways in one process with the
same networks, data, batch size and number of iterations:

  small:  DCGAN networks of width ``--width`` (default 8) on 28 px MNIST5k digits, batch 32:
          the case where a framework's fixed cost per iteration shows most;
  dcgan:  the default DCGAN (width 64) on MNIST5k padded to 32 px, batch 64;
  toy:    the mode-collapse benchmark's networks (G: MLP 4 x 400, D: MLP 3 x 200, z in R^2)
          on the ``ring8`` mixture, batch 100.

``--image-size``, ``--batch-size`` and ``--width`` override the small case (and, with
``--cases dcgan``, the default DCGAN case). The two ways:

  plain:          a hand-written loop in the style of the classic PyTorch DCGAN example.
                  Per batch: D step on the real batch and on ``G(z).detach()`` with the
                  non-saturating BCE-with-logits loss, then a G step on the same fake
                  batch. Adam 2e-4, betas (0.5, 0.999). A ``DataLoader`` with the same
                  batch size, ``shuffle=True`` and ``drop_last=True``.
  gan-lightning:  ``lightning.Trainer(max_steps=N, ...).fit(model, data)`` as a user runs it:
                  the progress bar every CLI run gets (``gan_lightning.callbacks.ProgressBar``)
                  and a logger (CSV, or W&B offline with ``--logger wandb``) on at the default
                  ``log_every_n_steps``; checkpointing, the model summary and validation off.

The runs alternate (plain, gan-lightning, plain, gan-lightning, ...), ``--rounds`` of each.

What is timed
-------------
Per-iteration timestamps, taken the same way in both paths:

  * plain: ``start[i]`` once batch ``i`` has come out of the DataLoader, ``end[i]``
    after the G optimizer step of that batch;
  * gan-lightning: ``start[i]`` in a Callback's ``on_train_batch_start`` (Lightning has
    fetched batch ``i``), ``end[i]`` in its ``on_train_batch_end``.

The first ``--warmup`` iterations of every run are not timed. A run's time per
iteration is ``(end[N-1] - start[warmup]) / (N - warmup)``: the training loop only
(no Trainer construction, no setup, no teardown), including everything that happens
between batches (fetching the next batch, and in Lightning its hooks, logging and
progress tracking). Model building, data loading and Trainer/fit setup are excluded
in both paths. The ratio uses these means (median over the rounds). Each round line
also shows the median of the single iterations' cycle times (``start[i+1] - start[i]``),
and a "median-iteration ratio" line compares those: less sensitive to a short stall,
but blind to work done every n-th step.

On a machine that other processes keep busy, wall-clock times with several threads
swing widely (OpenMP threads wait on each other; the script warns when the load
average is high). ``--threads 1 --clock cpu`` times the CPU time of this process
instead (``time.process_time``), which those processes barely change.

Both paths build the networks right after seeding with the same seed, so they start
from identical weights; the noise streams and data orders are seeded too (the orders
differ between the two paths: gan-lightning uses its epoch-seeded sampler).

Known difference in the work done: gan-lightning's optimizer toggle (``core.compat.OptimizerToggle``) sets
``requires_grad=False`` on D's parameters during the G step, so its G backward does
not compute gradients of D's weights; the classic example computes them (and throws
them away). ``--plain-freeze-d`` makes the plain loop do the same as gan-lightning,
which isolates the framework overhead from that algorithmic difference.

Each case prints ``case NAME ratio (gan-lightning time / plain time): X.XX`` (median time per
iteration of gan-lightning over that of the plain loop); the last line printed is the worst
case's, ``ratio (gan-lightning time / plain time): X.XX``.

    python benchmarks/loop_overhead.py [--cases small,dcgan,toy] [--iterations 60] [--rounds 2] ...
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from typing import Callable

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

import lightning as L

from gan_lightning.callbacks import ProgressBar
from gan_lightning.data import MNIST5k, Toy2D
from gan_lightning.models import DCGAN, GAN
from gan_lightning.nets import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from harness import quiet_lightning

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock = CLOCKS["wall"]  # main() sets it from --clock
CASES = ("small", "dcgan", "toy")


@dataclasses.dataclass
class Case:
    """One network/data setting, built the same way for both paths."""

    name: str
    latent_dim: int
    batch_size: int
    build_networks: Callable[[], tuple[torch.nn.Module, torch.nn.Module]]  # the plain loop's (G, D)
    build_model: Callable[[], L.LightningModule]  # the same networks inside a gan-lightning model
    data: L.LightningDataModule  # set up once; its training split feeds both paths
    description: str


def make_case(name: str, args: argparse.Namespace) -> Case:
    if name == "toy":
        hidden_g, hidden_d = (400,) * 4, (200,) * 3
        data = Toy2D(kind="ring8", batch_size=100, seed=args.seed)
        data.setup("fit")
        return Case(
            name, 2, 100,
            lambda: (MLPGenerator(2, (2,), hidden_g), MLPDiscriminator((2,), hidden_d)),
            lambda: GAN(data_shape=(2,), latent_dim=2, g_hidden=hidden_g, d_hidden=hidden_d),
            data, "toy 2-D MLPs (G 4x400, D 3x200, z in R^2), ring8, batch 100")
    small = name == "small"
    size = args.image_size if args.image_size else (28 if small else 32)
    width = args.width if args.width else (8 if small else 64)
    batch = args.batch_size if args.batch_size else (32 if small else 64)
    data = MNIST5k(image_size=size, channels=1, batch_size=batch, seed=args.seed)
    data.setup("fit")
    return Case(
        name, 100, batch,
        lambda: (DCGANGenerator(100, 1, size, width), DCGANDiscriminator(1, size, width)),
        lambda: DCGAN(data_shape=(1, size, size), latent_dim=100, g_width=width, d_width=width),
        data, f"DCGAN {size} px, width {width}, batch {batch}")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of {', '.join(CASES)}")
    parser.add_argument("--iterations", type=int, default=60, help="training iterations (batches) per run")
    parser.add_argument("--rounds", type=int, default=2, help="timed runs of each path, alternating")
    parser.add_argument("--batch-size", type=int, default=None, help="image cases (default: 32 small, 64 dcgan)")
    parser.add_argument("--image-size", type=int, default=None, help="image cases (default: 28 small, 32 dcgan)")
    parser.add_argument("--width", type=int, default=None, help="DCGAN g/d width (default: 8 small, 64 dcgan)")
    parser.add_argument("--warmup", type=int, default=5, help="first iterations of every run that are not timed")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch.set_num_threads for both")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall: time.perf_counter; cpu: time.process_time of this process, which other "
                             "processes on a busy machine do not inflate (meaningful with --threads 1 only)")
    parser.add_argument("--logger", choices=("csv", "wandb", "none"), default="csv",
                        help="gan-lightning's logger (wandb runs offline); none turns logging off")
    parser.add_argument("--no-progress-bar", action="store_true", help="turn gan-lightning's progress bar off")
    parser.add_argument("--plain-freeze-d", action="store_true",
                        help="plain loop: no gradients for D's weights in the G step (as gan-lightning's toggling)")
    args = parser.parse_args(argv)
    args.cases = [c for c in args.cases.split(",") if c]
    unknown = [c for c in args.cases if c not in CASES]
    if unknown:
        parser.error(f"--cases: unknown case {unknown[0]!r}; cases: {', '.join(CASES)}")
    if args.iterations <= args.warmup:
        parser.error(f"--iterations ({args.iterations}) must be larger than --warmup ({args.warmup})")
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    return args


def time_per_iteration(starts: list[float], ends: list[float], warmup: int) -> tuple[float, float]:
    """(mean, median) seconds per timed iteration.

    mean: from the start of iteration ``warmup`` to the end of the last one, divided by the
    number of timed iterations (this is what the ratio uses). median: of the per-iteration
    cycle times ``start[i+1] - start[i]`` (the last one ``end - start``); less sensitive
    to other processes stealing the CPU for a moment, blind to work done every n-th step.
    """
    mean = (ends[-1] - starts[warmup]) / (len(ends) - warmup)
    cycles = [b - a for a, b in zip(starts[warmup:], starts[warmup + 1:])] + [ends[-1] - starts[-1]]
    return mean, statistics.median(cycles)


# ----------------------------------------------------------------------------- (a) plain PyTorch
def run_plain(case: Case, args: argparse.Namespace) -> tuple[float, float]:
    torch.manual_seed(args.seed)
    net_g, net_d = case.build_networks()  # built in the order the model builds them: identical weights
    net_g.train()
    net_d.train()
    opt_g = torch.optim.Adam(net_g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(net_d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    loader = DataLoader(case.data.train_set, batch_size=case.batch_size, shuffle=True, drop_last=True,
                        num_workers=0, generator=torch.Generator().manual_seed(args.seed))

    starts: list[float] = []
    ends: list[float] = []
    iteration = 0
    while iteration < args.iterations:
        for batch in loader:
            real = batch[0] if isinstance(batch, (list, tuple)) else batch
            starts.append(clock())
            z = torch.randn(real.size(0), case.latent_dim)
            fake = net_g(z)

            # D step: maximise log D(x) + log(1 - D(G(z)))
            opt_d.zero_grad(set_to_none=True)
            real_logits = net_d(real)
            fake_logits = net_d(fake.detach())
            d_loss = (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                      + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
            d_loss.backward()
            opt_d.step()

            # G step (non-saturating): maximise log D(G(z)) on the same fake batch
            if args.plain_freeze_d:
                net_d.requires_grad_(False)
            opt_g.zero_grad(set_to_none=True)
            g_logits = net_d(fake)
            g_loss = F.binary_cross_entropy_with_logits(g_logits, torch.ones_like(g_logits))
            g_loss.backward()
            opt_g.step()
            if args.plain_freeze_d:
                net_d.requires_grad_(True)

            ends.append(clock())
            iteration += 1
            if iteration == args.iterations:
                break
    return time_per_iteration(starts, ends, args.warmup)


# ----------------------------------------------------------------------------- (b) gan-lightning
class IterationTimer(L.Callback):
    """Timestamps at the start and end of every training batch."""

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.threads: int | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.starts.append(clock())

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.ends.append(clock())
        self.threads = torch.get_num_threads()


def make_logger(kind: str, root: str):
    if kind == "none":
        return False
    if kind == "wandb":
        from lightning.pytorch.loggers import WandbLogger

        os.environ.setdefault("WANDB_MODE", "offline")
        os.environ.setdefault("WANDB_SILENT", "true")
        return WandbLogger(project="loop-overhead", save_dir=root)
    from lightning.pytorch.loggers import CSVLogger

    return CSVLogger(root)


def run_lightning(case: Case, args: argparse.Namespace) -> tuple[float, float]:
    L.seed_everything(args.seed, verbose=False)
    model = case.build_model()
    timer = IterationTimer()
    with tempfile.TemporaryDirectory() as root:
        trainer = L.Trainer(
            max_steps=args.iterations,
            logger=make_logger(args.logger, root),
            enable_checkpointing=False,
            enable_progress_bar=not args.no_progress_bar,
            enable_model_summary=False,
            limit_val_batches=0,
            accelerator="cpu",
            devices=1,
            # the progress bar every CLI run gets (gan_lightning/defaults.yaml)
            callbacks=[timer] + ([] if args.no_progress_bar else [ProgressBar()]),
            default_root_dir=root,
        )
        trainer.fit(model, case.data)
    if len(timer.ends) != args.iterations:
        raise RuntimeError(f"gan-lightning ran {len(timer.ends)} iterations, expected {args.iterations}")
    if timer.threads != args.threads:
        print(f"warning: torch used {timer.threads} threads inside Lightning, expected {args.threads}")
    return time_per_iteration(timer.starts, timer.ends, args.warmup)


# ----------------------------------------------------------------------------- main
def measure(case: Case, args: argparse.Namespace) -> float:
    """Alternating rounds of both paths; prints each round and the case's ratio line, returns the ratio."""
    plain_runs: list[tuple[float, float]] = []
    lightning_runs: list[tuple[float, float]] = []

    def report(round_index: int, name: str, run: tuple[float, float]) -> None:
        mean, median = run
        print(f"  round {round_index} {name:<14} {1.0 / mean:7.2f} it/s  ({mean * 1000:7.2f} ms/it; "
              f"median iteration {median * 1000:7.2f} ms)", flush=True)

    print(f"case {case.name}: {case.description}", flush=True)
    for round_index in range(1, args.rounds + 1):
        plain_runs.append(run_plain(case, args))
        report(round_index, "plain:", plain_runs[-1])
        lightning_runs.append(run_lightning(case, args))
        report(round_index, "gan-lightning:", lightning_runs[-1])
    plain = statistics.median(mean for mean, _ in plain_runs)
    lightning = statistics.median(mean for mean, _ in lightning_runs)
    plain_iter = statistics.median(median for _, median in plain_runs)
    lightning_iter = statistics.median(median for _, median in lightning_runs)
    print(f"  median plain: {plain * 1000:.2f} ms/it, gan-lightning: {lightning * 1000:.2f} ms/it "
          f"(+{(lightning - plain) * 1000:.2f} ms); median-iteration ratio {lightning_iter / plain_iter:.2f}")
    print(f"case {case.name} ratio (gan-lightning time / plain time): {lightning / plain:.2f}", flush=True)
    return lightning / plain


def main(argv=None) -> None:
    args = parse_args(argv)
    global clock
    clock = CLOCKS[args.clock]
    quiet_lightning()
    torch.set_num_threads(args.threads)

    load_before = os.getloadavg()[0]
    print(f"{args.iterations} iterations per run ({args.warmup} untimed), {args.rounds} rounds, "
          f"{args.threads} threads, {args.clock} clock, torch {torch.__version__}, lightning {L.__version__}; "
          f"gan-lightning with progress bar {'off' if args.no_progress_bar else 'on'} and logger {args.logger}"
          + (", plain loop freezes D in the G step" if args.plain_freeze_d else "")
          + f"; load average {load_before:.1f} on {os.cpu_count()} cores")
    ratios = {name: measure(make_case(name, args), args) for name in args.cases}
    load_after = os.getloadavg()[0]
    if args.clock == "wall" and max(load_before, load_after) > (os.cpu_count() or 1) + 1.0:  # ours count too
        print(f"warning: load average {load_before:.1f} before / {load_after:.1f} after on {os.cpu_count()} cores: "
              "other processes share the CPU and the wall-clock timings are noisy "
              "(a steadier check: --threads 1 --clock cpu)")
    worst = max(ratios, key=ratios.get)
    print(f"worst case: {worst}")
    print(f"ratio (gan-lightning time / plain time): {ratios[worst]:.2f}")


if __name__ == "__main__":
    main()
