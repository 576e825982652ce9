"""How much does running a GAN through gan-lightning cost over a hand-written PyTorch loop?

The same DCGAN (``gan_lightning.nets.DCGANGenerator`` / ``DCGANDiscriminator``), the
same data (the bundled MNIST5k training split, padded to 32 px), the same batch size
and the same number of iterations, trained two ways in one process:

  plain:          a hand-written loop in the style of the classic PyTorch DCGAN example.
                  Per batch: D step on the real batch and on ``G(z).detach()`` with the
                  non-saturating BCE-with-logits loss, then a G step on the same fake
                  batch. Adam 2e-4, betas (0.5, 0.999). A ``DataLoader`` with the same
                  batch size, ``shuffle=True`` and ``drop_last=True``.
  gan-lightning:  ``lightning.Trainer(max_steps=N, ...).fit(DCGAN(...), MNIST5k(...))``
                  with logger, checkpointing, progress bar, model summary and validation off.

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

Known difference in the work done: gan-lightning's ``toggled_optimizer`` sets
``requires_grad=False`` on D's parameters during the G step, so its G backward does
not compute gradients of D's weights; the classic example computes them (and throws
them away). ``--plain-freeze-d`` makes the plain loop do the same as gan-lightning,
which isolates the framework overhead from that algorithmic difference.

The last line printed is ``ratio (gan-lightning time / plain time): X.XX`` (median time
per iteration of gan-lightning over median time per iteration of the plain loop).

    python benchmarks/loop_overhead.py [--iterations 60] [--rounds 2] [--warmup 5] ...
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
import warnings

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

import lightning as L

from gan_lightning.data import MNIST5k
from gan_lightning.models import DCGAN
from gan_lightning.nets import DCGANDiscriminator, DCGANGenerator

LATENT_DIM = 100
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock = CLOCKS["wall"]  # main() sets it from --clock


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=60, help="training iterations (batches) per run")
    parser.add_argument("--rounds", type=int, default=2, help="timed runs of each path, alternating")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--width", type=int, default=64, help="g_width and d_width of the DCGAN networks")
    parser.add_argument("--warmup", type=int, default=5, help="first iterations of every run that are not timed")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch.set_num_threads for both")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall: time.perf_counter; cpu: time.process_time of this process, which other "
                             "processes on a busy machine do not inflate (meaningful with --threads 1 only)")
    parser.add_argument("--plain-freeze-d", action="store_true",
                        help="plain loop: no gradients for D's weights in the G step (as gan-lightning's toggling)")
    args = parser.parse_args(argv)
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
def run_plain(args: argparse.Namespace, train_set) -> tuple[float, float]:
    torch.manual_seed(args.seed)
    # Built in the order DCGAN.__init__ builds them: identical initial weights.
    net_g = DCGANGenerator(LATENT_DIM, 1, args.image_size, args.width)
    net_d = DCGANDiscriminator(1, args.image_size, args.width)
    net_g.train()
    net_d.train()
    opt_g = torch.optim.Adam(net_g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(net_d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, drop_last=True,
                        num_workers=0, generator=torch.Generator().manual_seed(args.seed))

    starts: list[float] = []
    ends: list[float] = []
    iteration = 0
    while iteration < args.iterations:
        for real, _ in loader:
            starts.append(clock())
            z = torch.randn(real.size(0), LATENT_DIM)
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


def run_lightning(args: argparse.Namespace, prepared: MNIST5k) -> tuple[float, float]:
    L.seed_everything(args.seed, verbose=False)
    model = DCGAN(data_shape=(1, args.image_size, args.image_size), latent_dim=LATENT_DIM,
                  g_width=args.width, d_width=args.width)
    data = MNIST5k(image_size=args.image_size, channels=1, batch_size=args.batch_size, seed=args.seed)
    # The split built once in main(): MNIST5k.setup() keeps data sets that are already there,
    # so every run trains on the same tensors without re-parsing the digits (seconds, untimed anyway).
    data.train_set, data.heldout_set = prepared.train_set, prepared.heldout_set
    timer = IterationTimer()
    trainer = L.Trainer(
        max_steps=args.iterations,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        accelerator="cpu",
        devices=1,
        callbacks=[timer],
    )
    trainer.fit(model, data)
    if len(timer.ends) != args.iterations:
        raise RuntimeError(f"gan-lightning ran {len(timer.ends)} iterations, expected {args.iterations}")
    if timer.threads != args.threads:
        print(f"warning: torch used {timer.threads} threads inside Lightning, expected {args.threads}")
    return time_per_iteration(timer.starts, timer.ends, args.warmup)


# ----------------------------------------------------------------------------- main
def quiet_lightning() -> None:
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "lightning_utilities"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*GPU available but not used.*")
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")


def main(argv=None) -> None:
    args = parse_args(argv)
    global clock
    clock = CLOCKS[args.clock]
    quiet_lightning()
    torch.set_num_threads(args.threads)

    # The same training split gan-lightning trains on (MNIST5k at image_size, held-out part removed).
    data = MNIST5k(image_size=args.image_size, channels=1, batch_size=args.batch_size, seed=args.seed)
    data.setup("fit")
    train_set = data.train_set

    load_before = os.getloadavg()[0]
    print(f"DCGAN {args.image_size} px, width {args.width}, batch {args.batch_size}, "
          f"{args.iterations} iterations per run ({args.warmup} untimed), {args.rounds} rounds, "
          f"{args.threads} threads, {args.clock} clock, torch {torch.__version__}, lightning {L.__version__}"
          + (", plain loop freezes D in the G step" if args.plain_freeze_d else "")
          + f"; load average {load_before:.1f} on {os.cpu_count()} cores")

    plain_runs: list[tuple[float, float]] = []
    lightning_runs: list[tuple[float, float]] = []

    def report(round_index: int, name: str, run: tuple[float, float]) -> None:
        mean, median = run
        print(f"round {round_index} {name:<14} {1.0 / mean:6.2f} it/s  ({mean * 1000:7.1f} ms/it; "
              f"median iteration {median * 1000:7.1f} ms)", flush=True)

    for round_index in range(1, args.rounds + 1):
        plain_runs.append(run_plain(args, train_set))
        report(round_index, "plain:", plain_runs[-1])
        lightning_runs.append(run_lightning(args, data))
        report(round_index, "gan-lightning:", lightning_runs[-1])

    load_after = os.getloadavg()[0]
    if args.clock == "wall" and max(load_before, load_after) > (os.cpu_count() or 1) + 1.0:  # ours count too
        print(f"warning: load average {load_before:.1f} before / {load_after:.1f} after on {os.cpu_count()} cores: "
              "other processes share the CPU and the wall-clock timings are noisy "
              "(a steadier check: --threads 1 --clock cpu)")
    plain = statistics.median(mean for mean, _ in plain_runs)
    lightning = statistics.median(mean for mean, _ in lightning_runs)
    plain_iter = statistics.median(median for _, median in plain_runs)
    lightning_iter = statistics.median(median for _, median in lightning_runs)
    print(f"median plain:          {1.0 / plain:6.2f} it/s  ({plain * 1000:7.1f} ms/it)")
    print(f"median gan-lightning:  {1.0 / lightning:6.2f} it/s  ({lightning * 1000:7.1f} ms/it)")
    print(f"median-iteration ratio (gan-lightning / plain, less sensitive to short stalls): "
          f"{lightning_iter / plain_iter:.2f}")
    print(f"ratio (gan-lightning time / plain time): {lightning / plain:.2f}")


if __name__ == "__main__":
    main()
