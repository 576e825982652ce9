"""GPU throughput of the fast path: images/s of a plain PyTorch loop and of gan-lightning, side by side.

DCGAN at 64 px (``gan_lightning.nets`` networks, width 64, z in R^100), batch 128, on the
MNIST5k training split resized to 64 px, both paths with the same optimizations:

  * mixed precision: ``bf16-mixed`` (``--precision``; ``16-mixed`` adds a gradient scaler,
    updated after every optimizer step in both paths, as Lightning does);
  * channels_last weights and batches;
  * ``torch.compile`` of G and D (``nn.Module.compile``, inductor unless ``--compile-backend``);
  * fused Adam (lr 2e-4, betas (0.5, 0.999));
  * the training split resident on the GPU, batches by indexing a per-epoch permutation
    seeded by ``seed + epoch`` (gan-lightning's ``--data.init_args.device_resident true``).

  plain:          a hand-written loop: D step on the real batch and ``G(z).detach()``, then a G
                  step on the same fakes with D's weights frozen (what gan-lightning's phases do),
                  the non-saturating loss of ``gan_lightning.losses``.
  gan-lightning:  ``Trainer(accelerator="gpu", devices=1, precision=..., benchmark=True)`` fitting
                  ``DCGAN(channels_last=True, compile=True, optimizer_implementation="fused")`` on
                  ``MNIST5k(image_size=64, batch_size=128, device_resident=True)``; logger,
                  checkpointing, progress bar, model summary and validation off.

What is timed: the first ``--warmup`` iterations of each path (they compile G and D, and let
cuDNN pick its algorithms) are timed on their own and reported as "compile + warm-up"; then
``--iterations`` iterations are timed between two ``torch.cuda.synchronize()`` calls, and
images/s = batch size x iterations / seconds (real images consumed; each iteration also
generates a batch). Inductor caches compiled kernels on disk, so the path that runs second
(gan-lightning) usually compiles faster than the first. The defaults take about a minute or two
of compilation and seconds of training on one recent GPU, well under 5 minutes.

Without a CUDA GPU the script prints one line saying so and exits 0. ``--device cpu`` runs
the same code on the CPU as a smoke test (its numbers mean nothing).

    python benchmarks/gpu_throughput.py [--iterations 300] [--warmup 30] [--no-compile] ...
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings

import torch

NO_GPU_LINE = "gpu_throughput: no CUDA GPU on this machine; the GPU benchmark did not run"
LATENT_DIM = 100


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=300, help="timed iterations of each path")
    parser.add_argument("--warmup", type=int, default=30, help="iterations before the timed ones (compilation)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--width", type=int, default=64, help="g_width and d_width of the DCGAN networks")
    parser.add_argument("--precision", choices=["bf16-mixed", "16-mixed", "32-true"], default="bf16-mixed")
    parser.add_argument("--no-compile", action="store_true", help="no torch.compile in either path")
    parser.add_argument("--compile-backend", default="inductor", help="torch.compile backend of both paths")
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda",
                        help="cpu: a smoke test of this script, not a measurement")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.iterations < 1 or args.warmup < 1:
        parser.error("--iterations and --warmup must be >= 1")
    return args


class Clock:
    """Wall-clock timestamps taken after the device has finished the queued work."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def __call__(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()


def autocast(args, device: torch.device):
    dtype = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(args.precision)
    return torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None)


# ----------------------------------------------------------------------------- plain PyTorch
def run_plain(args, images: torch.Tensor, device: torch.device, clock: Clock) -> tuple[float, float]:
    """(seconds of the warm-up iterations, seconds of the timed iterations)."""
    from gan_lightning.losses import nonsaturating_d, nonsaturating_g
    from gan_lightning.nets import DCGANDiscriminator, DCGANGenerator

    torch.manual_seed(args.seed)
    channels = images.size(1)
    net_g = DCGANGenerator(LATENT_DIM, channels, args.image_size, args.width)
    net_d = DCGANDiscriminator(channels, args.image_size, args.width)
    net_g.to(device, memory_format=torch.channels_last).train()
    net_d.to(device, memory_format=torch.channels_last).train()
    if not args.no_compile:
        net_g.compile(backend=args.compile_backend)
        net_d.compile(backend=args.compile_backend)
    opt_g = torch.optim.Adam(net_g.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=True)
    opt_d = torch.optim.Adam(net_d.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=True)
    scaler = torch.amp.GradScaler(device.type, enabled=args.precision == "16-mixed")
    data = images.to(device)
    per_epoch = len(data) // args.batch_size
    order = None

    def step(optimizer, loss) -> None:
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    def iteration(i: int) -> None:
        nonlocal order
        epoch, k = divmod(i, per_epoch)
        if k == 0:
            order = torch.randperm(len(data), generator=torch.Generator().manual_seed(args.seed + epoch)).to(device)
        real = data.index_select(0, order[k * args.batch_size:(k + 1) * args.batch_size])
        real = real.contiguous(memory_format=torch.channels_last)
        with autocast(args, device):
            z = torch.randn(args.batch_size, LATENT_DIM, device=device)
            fake = net_g(z)
            step(opt_d, nonsaturating_d(net_d(real), net_d(fake.detach())))
            net_d.requires_grad_(False)
            step(opt_g, nonsaturating_g(net_d(fake)))
            net_d.requires_grad_(True)

    start = clock()
    for i in range(args.warmup):
        iteration(i)
    warm = clock()
    for i in range(args.warmup, args.warmup + args.iterations):
        iteration(i)
    end = clock()
    return warm - start, end - warm


# ----------------------------------------------------------------------------- gan-lightning
def run_lightning(args, prepared, device: torch.device, clock: Clock) -> tuple[float, float]:
    import lightning as L

    from gan_lightning.data import MNIST5k
    from gan_lightning.models import DCGAN

    class Timer(L.Callback):
        def __init__(self) -> None:
            self.marks: dict[str, float] = {}
            self.batches = 0

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            if trainer.global_step == 0:
                self.marks["start"] = clock()
            elif trainer.global_step == args.warmup:
                self.marks["warm"] = clock()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            self.batches += 1
            if trainer.global_step == args.warmup + args.iterations:
                self.marks["end"] = clock()

    L.seed_everything(args.seed, verbose=False)
    model = DCGAN(data_shape=(prepared.channels, args.image_size, args.image_size), latent_dim=LATENT_DIM,
                  g_width=args.width, d_width=args.width, channels_last=True, compile=not args.no_compile,
                  compile_options={"backend": args.compile_backend}, optimizer_implementation="fused")
    data = MNIST5k(image_size=args.image_size, channels=prepared.channels, batch_size=args.batch_size,
                   seed=args.seed, device_resident=True)
    data.train_set, data.heldout_set = prepared.train_set, prepared.heldout_set  # built once in main()
    timer = Timer()
    trainer = L.Trainer(
        accelerator="gpu" if device.type == "cuda" else "cpu", devices=1, precision=args.precision,
        max_steps=args.warmup + args.iterations, benchmark=device.type == "cuda", logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
        num_sanity_val_steps=0, callbacks=[timer],
    )
    trainer.fit(model, data)
    if timer.batches != args.warmup + args.iterations or set(timer.marks) != {"start", "warm", "end"}:
        raise RuntimeError(f"gan-lightning ran {timer.batches} iterations, expected {args.warmup + args.iterations}")
    return timer.marks["warm"] - timer.marks["start"], timer.marks["end"] - timer.marks["warm"]


# ----------------------------------------------------------------------------- main
def quiet_lightning() -> None:
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "lightning_utilities"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print(NO_GPU_LINE)
        return 0
    device = torch.device(args.device)
    quiet_lightning()
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    from gan_lightning.data import MNIST5k
    from gan_lightning.data.resident import collate_all

    prepared = MNIST5k(image_size=args.image_size, channels=1, batch_size=args.batch_size, seed=args.seed)
    prepared.setup("fit")
    images = collate_all(prepared.train_set)[0]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (smoke test, not a measurement)"
    compiled = "no torch.compile" if args.no_compile else f"torch.compile ({args.compile_backend})"
    print(f"DCGAN {args.image_size} px, width {args.width}, batch {args.batch_size}, {args.precision}, channels_last, "
          f"{compiled}, fused Adam, device-resident MNIST5k ({len(images)} images); {args.warmup} warm-up + "
          f"{args.iterations} timed iterations per path; {name}, torch {torch.__version__}", flush=True)

    clock = Clock(device)
    results = {}
    for path, run in (("plain", lambda: run_plain(args, images, device, clock)),
                      ("gan-lightning", lambda: run_lightning(args, prepared, device, clock))):
        torch._dynamo.reset()  # each path compiles from scratch (the networks' code objects are shared)
        results[path] = run()
    print(f"{'path':<15}{'images/s':>12}{'ms/iteration':>15}   compile + warm-up ({args.warmup} iterations)")
    rates = {}
    for path, (warm, timed) in results.items():
        per_iteration = timed / args.iterations
        rates[path] = args.batch_size / per_iteration
        print(f"{path:<15}{rates[path]:>12.1f}{per_iteration * 1000:>15.2f}   {warm:.1f} s "
              f"(about {max(warm - args.warmup * per_iteration, 0.0):.1f} s over steady-state iterations)")
    print(f"ratio (gan-lightning images/s / plain images/s): {rates['gan-lightning'] / rates['plain']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
