"""GPU throughput: images/s of a plain PyTorch loop and of gan-lightning, side by side, per setting.

Two networks, each trained both ways on the MNIST5k training split resized to 64 px and resident
on the GPU (batches by indexing a per-epoch permutation seeded by ``seed + epoch``, gan-lightning's
``--data.init_args.device_resident true``), batch ``--batch-size`` (128), Adam lr 2e-4 (fused):

  dcgan:      DCGAN, width 64, z in R^100: small kernels, a launch-bound iteration on a big GPU;
  stylegan2:  StyleGAN2's networks at 64 px (``channel_base`` 16384, z and w in R^512), the
              non-saturating logistic loss, no lazy regularisation, no style mixing, in both paths
              (the same work): an iteration where the GPU, not Python, is the limit.

Per case, for each precision of ``--precisions`` (``32-true``, ``bf16-mixed``; ``16-mixed`` adds a
gradient scaler) and each compile setting of ``--compile``:

  off:              eager; channels_last weights and batches in both paths;
  on:               ``torch.compile`` (inductor) of G and D in both paths, layouts left to inductor
                    (hand-made channels_last breaks compiled ``convolution_backward`` on CUDA:
                    pytorch/pytorch#171622, ``assert_size_stride`` in the plain DCGAN path at 64 px,
                    bf16, torch 2.11; gan-lightning's ``compile`` does the same);
  reduce-overhead:  gan-lightning's ``--model.compile reduce-overhead`` (CUDA graphs of G's and D's
                    forward and backward, fused optimizers), against the plain *eager* loop of the
                    same precision: the speed-up a user gets from the option (aim: 2x on dcgan).

  plain:          a hand-written loop: D step on the real batch and ``G(z).detach()``, then a G step
                  on the same fakes with D's weights frozen (what gan-lightning's phases do), the
                  non-saturating loss of ``gan_lightning.losses``.
  gan-lightning:  ``Trainer(accelerator="gpu", devices=1, precision=..., benchmark=True)`` fitting the
                  model with ``optimizer_implementation="fused"``; logger, checkpointing, progress bar,
                  model summary and validation off.

What is timed: the first ``--warmup`` iterations of each run (compilation, cuDNN's algorithm search)
are timed on their own; then ``--iterations`` iterations between two ``torch.cuda.synchronize()``
calls; images/s = batch size x iterations / seconds. Both paths of a row run one after the other in
this process, plain first, so their ratio is measured side by side. ``--section NAME`` writes the
table to that section of benchmarks/RESULTS.md with the GPU's name and the torch version.

Without a CUDA GPU the script prints one line saying so and exits 0. ``--device cpu`` runs the same
code on the CPU as a smoke test (its numbers mean nothing).

    python benchmarks/gpu_throughput.py [--cases dcgan,stylegan2] [--precisions 32-true,bf16-mixed]
        [--compile off,on,reduce-overhead] [--iterations 200] [--warmup 30] [--section gpu_throughput]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import torch

from harness import RESULTS_MD, command_line, quiet_lightning, replace_section

NO_GPU_LINE = "gpu_throughput: no CUDA GPU on this machine; the GPU benchmark did not run"
CASES = ("dcgan", "stylegan2")
PRECISIONS = ("32-true", "bf16-mixed", "16-mixed")
COMPILE = ("off", "on", "reduce-overhead")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated: {', '.join(CASES)}")
    parser.add_argument("--precisions", default="32-true,bf16-mixed", help=f"comma-separated: {', '.join(PRECISIONS)}")
    parser.add_argument("--compile", default=",".join(COMPILE), help=f"comma-separated: {', '.join(COMPILE)}")
    parser.add_argument("--iterations", type=int, default=200, help="timed iterations of each run")
    parser.add_argument("--warmup", type=int, default=30, help="iterations before the timed ones (compilation)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--width", type=int, default=64, help="g_width and d_width of the DCGAN networks")
    parser.add_argument("--compile-backend", default="inductor", help="torch.compile backend of both paths")
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda",
                        help="cpu: a smoke test of this script, not a measurement")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--section", default=None, help="write the table to this section of benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    for name, allowed in (("cases", CASES), ("precisions", PRECISIONS), ("compile", COMPILE)):
        values = [v for v in getattr(args, name).split(",") if v]
        bad = [v for v in values if v not in allowed]
        if bad or not values:
            parser.error(f"--{name}: {bad[0] if bad else 'nothing'!r} is not one of {', '.join(allowed)}")
        setattr(args, name, values)
    if args.iterations < 1 or args.warmup < 1:
        parser.error("--iterations and --warmup must be >= 1")
    return args


@dataclass(frozen=True)
class Setting:
    case: str
    precision: str
    compile: str  # off, on, reduce-overhead


class Clock:
    """Wall-clock timestamps taken after the device has finished the queued work."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def __call__(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()


def autocast(precision: str, device: torch.device):
    dtype = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(precision)
    return torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None)


def build_model(args, setting: Setting, channels: int, compile_setting: str):
    """The gan-lightning model of the case; its networks are the plain loop's too."""
    from gan_lightning.models import DCGAN, StyleGAN2

    compile = {"off": False, "on": True, "reduce-overhead": "reduce-overhead"}[compile_setting]
    fast = dict(channels_last=True, compile=compile, compile_options={"backend": args.compile_backend},
                optimizer_implementation="fused")
    shape = (channels, args.image_size, args.image_size)
    if setting.case == "dcgan":
        return DCGAN(data_shape=shape, latent_dim=100, g_width=args.width, d_width=args.width, **fast)
    return StyleGAN2(data_shape=shape, latent_dim=512, w_dim=512, style_mixing_prob=0.0, r1_interval=0,
                     pl_weight=0.0, lr_g=2e-4, lr_d=2e-4, **fast)


# ----------------------------------------------------------------------------- plain PyTorch
def run_plain(args, setting: Setting, images: torch.Tensor, device: torch.device, clock: Clock) -> tuple[float, float]:
    """(seconds of the warm-up iterations, seconds of the timed iterations)."""
    from gan_lightning.losses import nonsaturating_d, nonsaturating_g

    torch.manual_seed(args.seed)
    model = build_model(args, setting, images.size(1), "off")
    net_g, net_d, latent_dim = model.generator, model.discriminator, model.latent_dim
    compiled = setting.compile == "on"
    layout = torch.preserve_format if compiled else torch.channels_last  # compiled: inductor's (#171622)
    net_g.to(device, memory_format=layout).train()
    net_d.to(device, memory_format=layout).train()
    if compiled:
        net_g.compile(backend=args.compile_backend)
        net_d.compile(backend=args.compile_backend)
    betas = model.betas
    opt_g = torch.optim.Adam(net_g.parameters(), lr=model.lr_g, betas=betas, fused=True)
    opt_d = torch.optim.Adam(net_d.parameters(), lr=model.lr_d, betas=betas, fused=True)
    scaler = torch.amp.GradScaler(device.type, enabled=setting.precision == "16-mixed")
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
            order = torch.randperm(len(data), generator=torch.Generator().manual_seed(args.seed + epoch))
            order = order.to(device, non_blocking=True)
        real = data.index_select(0, order[k * args.batch_size:(k + 1) * args.batch_size])
        if not compiled:
            real = real.contiguous(memory_format=torch.channels_last)
        with autocast(setting.precision, device):
            z = torch.randn(args.batch_size, latent_dim, device=device)
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
def run_lightning(args, setting: Setting, prepared, device: torch.device, clock: Clock) -> tuple[float, float]:
    import lightning as L

    from gan_lightning.data import MNIST5k

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
    model = build_model(args, setting, prepared.channels, setting.compile)
    data = MNIST5k(image_size=args.image_size, channels=prepared.channels, batch_size=args.batch_size,
                   seed=args.seed, device_resident=True)
    data.train_set, data.heldout_set = prepared.train_set, prepared.heldout_set  # built once in main()
    timer = Timer()
    trainer = L.Trainer(
        accelerator="gpu" if device.type == "cuda" else "cpu", devices=1, precision=setting.precision,
        max_steps=args.warmup + args.iterations, benchmark=device.type == "cuda", logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
        num_sanity_val_steps=0, callbacks=[timer],
    )
    trainer.fit(model, data)
    if timer.batches != args.warmup + args.iterations or set(timer.marks) != {"start", "warm", "end"}:
        raise RuntimeError(f"gan-lightning ran {timer.batches} iterations, expected {args.warmup + args.iterations}")
    return timer.marks["warm"] - timer.marks["start"], timer.marks["end"] - timer.marks["warm"]


# ----------------------------------------------------------------------------- main
def settings_of(args) -> list[Setting]:
    return [Setting(case, precision, compile) for case in args.cases for precision in args.precisions
            for compile in args.compile]


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
    header = (f"{args.image_size} px, batch {args.batch_size}, fused Adam, device-resident MNIST5k ({len(images)} "
              f"images); {args.warmup} warm-up + {args.iterations} timed iterations per run; {name}, "
              f"torch {torch.__version__}")
    print(header, flush=True)

    clock = Clock(device)
    plain_cache: dict[tuple[str, str, str], tuple[float, float]] = {}

    def plain(setting: Setting) -> tuple[float, float]:
        # reduce-overhead is compared with the plain eager loop of its case and precision
        compile = "off" if setting.compile == "reduce-overhead" else setting.compile
        key = (setting.case, setting.precision, compile)
        if key not in plain_cache:
            torch._dynamo.reset()  # each run compiles from scratch (the networks' code objects are shared)
            plain_cache[key] = run_plain(args, Setting(*key), images, device, clock)
        return plain_cache[key]

    columns = f"{'case':<10}{'precision':<12}{'compile':<17}{'plain img/s':>12}{'gan-lightning img/s':>21}{'ratio':>7}"
    print(columns, flush=True)
    rows = []
    for setting in settings_of(args):
        plain_warm, plain_timed = plain(setting)
        torch._dynamo.reset()
        ours_warm, ours_timed = run_lightning(args, setting, prepared, device, clock)
        plain_rate = args.batch_size * args.iterations / plain_timed
        ours_rate = args.batch_size * args.iterations / ours_timed
        rows.append((setting, plain_rate, ours_rate, plain_warm, ours_warm))
        against = "plain eager" if setting.compile == "reduce-overhead" else "plain"
        print(f"{setting.case:<10}{setting.precision:<12}{setting.compile:<17}{plain_rate:>12.1f}{ours_rate:>21.1f}"
              f"{ours_rate / plain_rate:>7.2f}   (vs {against}; warm-up {plain_warm:.0f} s / {ours_warm:.0f} s)",
              flush=True)
    if args.section:
        lines = ["Written by `benchmarks/gpu_throughput.py`; do not edit by hand.", "", "```",
                 command_line(__file__), "```", "", header, "",
                 "| case | precision | compile | plain images/s | gan-lightning images/s | ratio |",
                 "|---|---|---|---:|---:|---:|"]
        for setting, plain_rate, ours_rate, _, _ in rows:
            versus = " (vs plain eager)" if setting.compile == "reduce-overhead" else ""
            lines.append(f"| {setting.case} | {setting.precision} | {setting.compile} | {plain_rate:,.0f} | "
                         f"{ours_rate:,.0f} | {ours_rate / plain_rate:.2f}{versus} |")
        replace_section(RESULTS_MD, args.section, "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
