"""Super-resolution x4 (issue 15): SRResNet vs bicubic, SRGAN vs SRResNet, and digits recognised after 7 -> 28 px.

Three claims of Ledig et al. 2017, measured offline at a CPU budget:

1. **SRResNet vs bicubic** (the paper's Table 2): SRResNet, trained on the pixel MSE, beats bicubic
   upscaling on PSNR and SSIM of held-out crops (photos: 32 px crops of scikit-learn's china and flower
   for training, matplotlib's grace_hopper held out).
2. **SRGAN vs SRResNet** (Tables 2 and 4, Figure 6): SRGAN, initialised from that SRResNet and trained on
   content + 1e-3 adversarial loss, gives up PSNR for a high-frequency energy closer to the HR images':
   both are reported. High-frequency energy: the share of an image's spectral power (grey, mean removed,
   2-D FFT) above the LR images' Nyquist frequency (1 / (2 x scale) cycles per pixel), the band bicubic
   cannot restore, averaged over the crops; its ratio to the HR crops' value (1 = the HR spectrum).
   The content loss is the paper's VGG54 only when VGG19 weights are on this machine (``--vgg-weights``
   or the torch hub cache); otherwise the MSE content loss (the paper's SRGAN-MSE), and the report says so.
3. **MNIST5k 7 -> 28 px**: a digit classifier trained on real 28 px training digits reads the held-out
   digits after bicubic upscaling, SRResNet and SRGAN (and the HR digits: the ceiling).

Each model is one run of ``SRGAN`` with ``pretrain_steps`` = the SRResNet budget: the generator is
copied at the switch (the SRResNet), the same run goes on as SRGAN (the paper's initialisation).
Results are cached in ``benchmarks/superres/results.json``; ``--report-only`` rewrites the section.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from harness import (BENCHMARKS, RESULTS_MD, command_line, fit_exactly, load_runs, quiet_lightning, replace_section,
                     save_runs, stack_split)

OUT = BENCHMARKS / "superres"
RESULTS = OUT / "results.json"
SECTION = "superres"
KEYS = ("lr", "hr", "label")  # of a super-resolution sample (the digits' have a label)


# ---------------------------------------------------------------------------- measures
def high_frequency_share(images: torch.Tensor, scale: int) -> torch.Tensor:
    """Per image: the share of spectral power (grey, mean removed) above 1 / (2 scale) cycles per pixel."""
    grey = images.float().mean(dim=1)
    grey = grey - grey.mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.fft2(grey).abs().pow(2)
    fy = torch.fft.fftfreq(grey.shape[-2]).abs().view(-1, 1)
    fx = torch.fft.fftfreq(grey.shape[-1]).abs().view(1, -1)
    high = torch.maximum(fy, fx) > 0.5 / scale  # outside the LR image's band (per axis)
    total = power.flatten(1).sum(1).clamp_min(1e-12)
    return (power * high).flatten(1).sum(1) / total


def paired_numbers(output: torch.Tensor, hr: torch.Tensor, scale: int) -> dict[str, float]:
    from gan_lightning.evaluation.paired import psnr, ssim

    hf, hf_hr = high_frequency_share(output, scale).mean(), high_frequency_share(hr, scale).mean()
    return {"psnr": float(psnr(output, hr)), "ssim": float(ssim(output, hr)), "hf_share": float(hf),
            "hf_ratio": float(hf / hf_hr)}


@torch.no_grad()
def upscale(generator, lr: torch.Tensor, batch: int = 100) -> torch.Tensor:
    generator.eval()
    return torch.cat([generator(lr[i:i + batch]) for i in range(0, len(lr), batch)])


class SnapshotAt:
    """A callback that copies the generator when ``iteration`` iterations are done (the SRResNet)."""

    def __new__(cls, iteration: int):
        import lightning as L

        class _Snapshot(L.Callback):
            def __init__(self) -> None:
                self.generator = None

            def on_train_batch_end(self, trainer, module, *args) -> None:
                if trainer.global_step == iteration and self.generator is None:
                    self.generator = copy.deepcopy(module.generator).cpu()

        return _Snapshot()


def train(model, data, pretrain: int, gan: int, label: str) -> tuple[Any, Any, float]:
    """(SRResNet generator at ``pretrain`` iterations, SRGAN generator after ``gan`` more, wall seconds)."""
    snapshot = SnapshotAt(pretrain)
    seconds = fit_exactly(model, data, pretrain + gan, callbacks=[snapshot], label=label)
    if snapshot.generator is None:
        raise RuntimeError(f"{label}: no snapshot at iteration {pretrain}")
    return snapshot.generator, model.generator, seconds


def model_options(args, channels: int, size: int, content: str, vgg: str | None) -> dict[str, Any]:
    return dict(data_shape=(channels, size, size), scale=4, g_width=args.g_width, num_blocks=args.num_blocks,
                d_width=args.d_width, d_hidden=args.d_hidden, content_loss=content, vgg_weights=vgg,
                lr_drop_after=None, lr_g=args.lr, lr_d=args.lr)


def vgg_available(path: str | None) -> str | None:
    from gan_lightning.nets.vgg import vgg19_cache_path

    if path:
        return path if Path(path).is_file() else None
    return str(vgg19_cache_path()) if vgg19_cache_path().is_file() else None


def run_photos(args) -> dict[str, Any]:
    import lightning as L

    from gan_lightning.data.superres import SuperResolution, bicubic_upscale
    from gan_lightning.models import SRGAN

    vgg = vgg_available(args.vgg_weights)
    content = "vgg54" if vgg else "mse"
    L.seed_everything(args.seed)
    data = SuperResolution(hr_size=args.hr_size, scale=4, crops_per_epoch=args.batch_size * 50,
                           heldout_crops=args.heldout_crops, batch_size=args.batch_size, seed=args.seed)
    model = SRGAN(pretrain_steps=args.pretrain_steps, **model_options(args, 3, args.hr_size, content, vgg))
    srresnet, srgan, seconds = train(model, data, args.pretrain_steps, args.gan_steps, "photos")
    held = stack_split(data.heldout_set, KEYS)
    outputs = {"bicubic": bicubic_upscale(held["lr"], 4), "SRResNet": upscale(srresnet, held["lr"]),
               "SRGAN": upscale(srgan, held["lr"])}
    numbers = {name: paired_numbers(out, held["hr"], 4) for name, out in outputs.items()}
    numbers["HR"] = paired_numbers(held["hr"], held["hr"], 4) | {"psnr": None, "ssim": 1.0}
    save_grid(held, outputs, OUT / "photos.png", count=6)
    return {"numbers": numbers, "content_loss": content, "vgg_weights": vgg, "fit_seconds": seconds,
            "heldout_crops": len(held["hr"])}


def run_digits(args) -> dict[str, Any]:
    import lightning as L

    from gan_lightning.data.superres import SuperResolutionDigits, bicubic_upscale
    from gan_lightning.evaluation.digits import fit_digits_classifier
    from gan_lightning.models import SRGAN

    L.seed_everything(args.seed)
    data = SuperResolutionDigits(scale=4, batch_size=args.digit_batch_size, seed=args.seed)
    model = SRGAN(pretrain_steps=args.digit_pretrain_steps, **model_options(args, 1, 28, "mse", None))
    srresnet, srgan, seconds = train(model, data, args.digit_pretrain_steps, args.digit_gan_steps, "digits")
    data.setup()
    train_set, held = stack_split(data.train_set, KEYS), stack_split(data.heldout_set, KEYS)
    started = time.perf_counter()
    judge = fit_digits_classifier(train_set["hr"], train_set["label"], epochs=args.judge_epochs, seed=args.seed)
    judge_seconds = time.perf_counter() - started
    outputs = {"bicubic": bicubic_upscale(held["lr"], 4), "SRResNet": upscale(srresnet, held["lr"]),
               "SRGAN": upscale(srgan, held["lr"]), "HR": held["hr"]}
    numbers = {}
    with torch.no_grad():
        for name, images in outputs.items():
            logits = judge.logits(images) if hasattr(judge, "logits") else judge(images)
            accuracy = float((logits.argmax(1) == held["label"]).float().mean())
            numbers[name] = {"accuracy": accuracy, **paired_numbers(images, held["hr"], 4)}
    save_grid(held, {k: v for k, v in outputs.items() if k != "HR"}, OUT / "digits.png", count=10)
    return {"numbers": numbers, "content_loss": "mse", "fit_seconds": seconds, "judge_seconds": judge_seconds,
            "heldout": len(held["hr"]), "train": len(train_set["hr"])}


def save_grid(held: dict[str, torch.Tensor], outputs: dict[str, torch.Tensor], path: Path, count: int) -> None:
    """Rows of LR (nearest, enlarged) | bicubic | SRResNet | SRGAN | HR for ``count`` held-out items spread
    over the set (the digits' held-out split is sorted by class: every class shows)."""
    from torchvision.utils import save_image

    size = held["hr"].shape[-1]
    pick = torch.linspace(0, len(held["hr"]) - 1, count).round().long()
    lr = F.interpolate(held["lr"][pick], size=size, mode="nearest")
    columns = [lr, *(outputs[k][pick] for k in ("bicubic", "SRResNet", "SRGAN")), held["hr"][pick]]
    grid = torch.stack(columns, dim=1).flatten(0, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(grid.add(1).div(2).clamp(0, 1), path, nrow=len(columns), padding=2, pad_value=1.0)


# ---------------------------------------------------------------------------- report
def verdicts(results: dict[str, Any]) -> list[str]:
    lines = []
    photos = results.get("photos")
    if photos:
        n = photos["numbers"]
        beat = n["SRResNet"]["psnr"] > n["bicubic"]["psnr"] and n["SRResNet"]["ssim"] > n["bicubic"]["ssim"]
        lines.append(
            f"- SRResNet vs bicubic on {photos['heldout_crops']} held-out photo crops: PSNR "
            f"{n['SRResNet']['psnr']:.2f} vs {n['bicubic']['psnr']:.2f} dB, SSIM {n['SRResNet']['ssim']:.3f} vs "
            f"{n['bicubic']['ssim']:.3f}: **{'reached' if beat else 'not reached'}** (the claim: SRResNet above bicubic on both).")
        closer = abs(n["SRGAN"]["hf_ratio"] - 1) < abs(n["SRResNet"]["hf_ratio"] - 1)
        lower = n["SRGAN"]["psnr"] < n["SRResNet"]["psnr"]
        state = "reached" if closer and lower else "partly reached" if closer or lower else "not reached"
        lines.append(
            f"- SRGAN vs SRResNet ({photos['content_loss']} content loss): PSNR {n['SRGAN']['psnr']:.2f} vs "
            f"{n['SRResNet']['psnr']:.2f} dB, high-frequency energy {n['SRGAN']['hf_ratio']:.2f} vs "
            f"{n['SRResNet']['hf_ratio']:.2f} of the HR crops' (1 = HR): **{state}** (the trade: lower PSNR "
            f"{'yes' if lower else 'no'}, spectrum closer to HR {'yes' if closer else 'no'}).")
    digits = results.get("digits")
    if digits:
        n = digits["numbers"]
        best = max(n["SRResNet"]["accuracy"], n["SRGAN"]["accuracy"])
        lines.append(
            f"- MNIST5k 7 -> 28 px, digit-classifier accuracy on {digits['heldout']} held-out digits: SRResNet "
            f"{n['SRResNet']['accuracy']:.1%}, SRGAN {n['SRGAN']['accuracy']:.1%} vs bicubic "
            f"{n['bicubic']['accuracy']:.1%} (HR {n['HR']['accuracy']:.1%}): "
            f"**{'reached' if best > n['bicubic']['accuracy'] else 'not reached'}** (the claim: SR read right more often than bicubic).")
    return lines


def table(numbers: dict[str, dict[str, float]], accuracy: bool = False) -> str:
    head = "| method | PSNR (dB) | SSIM | high-freq. share | vs HR |" + (" accuracy |" if accuracy else "")
    rule = "|---|---|---|---|---|" + ("---|" if accuracy else "")
    rows = [head, rule]
    for name in ("bicubic", "SRResNet", "SRGAN", "HR"):
        if name not in numbers:
            continue
        n = numbers[name]
        psnr = "inf" if n["psnr"] is None or n["psnr"] == float("inf") or name == "HR" else f"{n['psnr']:.2f}"
        row = f"| {name} | {psnr} | {n['ssim']:.3f} | {n['hf_share']:.4f} | {n['hf_ratio']:.2f} |"
        rows.append(row + (f" {n['accuracy']:.1%} |" if accuracy else ""))
    return "\n".join(rows)


def report_text(results: dict[str, Any]) -> str:
    settings = results.get("settings", {})
    runs = []
    for part in ("photos", "digits"):
        if part in results:
            runs.append(f"{part}: `{results[part].get('command', results.get('command', '?'))}` "
                        f"({results[part].get('budget', settings.get('budget', ''))}; "
                        f"{results[part].get('wall_minutes', results.get('wall_minutes', 0)):.1f} min wall)")
    parts = ["## Super-resolution x4 (issue 15)", "",
             f"Runs ({results.get('machine', '?')}, one thread, shared 2-core machine): " + "; ".join(runs) + ". "
             "CPU-sized budgets, far below the paper's (10^6 SRResNet + 2 x 10^5 SRGAN iterations on 350k "
             "ImageNet images, 96 px crops). Each model: one `SRGAN` run, "
             "the generator copied at the switch is the SRResNet. PSNR/SSIM on RGB in [0, 1], no border shaved "
             "(the paper: Y channel, 4 px shaved); high-frequency share: spectral power above the LR Nyquist "
             "frequency (1/8 cycle per pixel) over all power, grey, mean removed; 'vs HR' is its ratio to the "
             "HR images' share.", "", *verdicts(results), ""]
    photos = results.get("photos")
    if photos:
        note = ("VGG54 content loss (VGG19 weights found locally)" if photos["content_loss"] == "vgg54" else
                "no VGG19 weights on this machine: the MSE content loss (the paper's SRGAN-MSE) + 1e-3 adversarial; "
                "the paper's SRGAN is SRGAN-VGG54")
        parts += [f"Photos, {photos['heldout_crops']} held-out 32 px crops of grace_hopper ({note}; training "
                  f"{photos['fit_seconds'] / 60:.1f} min):", "", table(photos["numbers"]), "",
                  "![LR | bicubic | SRResNet | SRGAN | HR](superres/photos.png)", "",
                  "*Held-out crops: LR (enlarged) | bicubic | SRResNet | SRGAN | HR.*", ""]
    digits = results.get("digits")
    if digits:
        parts += [f"MNIST5k, {digits['heldout']} held-out digits, 7 px LR -> 28 px (MSE content; judge: "
                  f"`fit_digits_classifier` on the {digits['train']} real 28 px training digits; training "
                  f"{digits['fit_seconds'] / 60:.1f} min):", "", table(digits["numbers"], accuracy=True), "",
                  "![LR | bicubic | SRResNet | SRGAN | HR](superres/digits.png)", "",
                  "*Held-out digits: LR (enlarged) | bicubic | SRResNet | SRGAN | HR.*", ""]
    for earlier in results.get("photos_earlier", []):
        n = earlier["numbers"]
        parts += [f"Tried before, photos: `{earlier.get('command')}` ({earlier.get('budget')}): PSNR bicubic "
                  f"{n['bicubic']['psnr']:.2f}, SRResNet {n['SRResNet']['psnr']:.2f}, SRGAN {n['SRGAN']['psnr']:.2f} dB; "
                  f"SSIM {n['bicubic']['ssim']:.3f}, {n['SRResNet']['ssim']:.3f}, {n['SRGAN']['ssim']:.3f}; "
                  f"high-frequency energy vs HR {n['SRResNet']['hf_ratio']:.2f} (SRResNet), "
                  f"{n['SRGAN']['hf_ratio']:.2f} (SRGAN).", ""]
    parts.append("PUBLISHED (Ledig et al. 2017, Table 4, x4, Set14, Y channel): bicubic 25.99 dB / SSIM 0.7486, "
                 "SRResNet 28.49 / 0.8184, SRGAN 26.02 / 0.7397; not comparable with the numbers above "
                 "(other images, budget and protocol), quoted for the direction of the trade.")
    return "\n".join(parts)


def write_report(results: dict[str, Any], out: Path) -> None:
    replace_section(out, SECTION, report_text(results))


# ---------------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pretrain-steps", type=int, default=300, help="SRResNet iterations on the photos")
    parser.add_argument("--gan-steps", type=int, default=150, help="SRGAN iterations on the photos after them")
    parser.add_argument("--digit-pretrain-steps", type=int, default=150)
    parser.add_argument("--digit-gan-steps", type=int, default=75)
    parser.add_argument("--hr-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--digit-batch-size", type=int, default=32)
    parser.add_argument("--heldout-crops", type=int, default=64)
    parser.add_argument("--g-width", type=int, default=16, help="generator width (paper 64)")
    parser.add_argument("--num-blocks", type=int, default=4, help="residual blocks (paper 16)")
    parser.add_argument("--d-width", type=int, default=16, help="discriminator first width (paper 64)")
    parser.add_argument("--d-hidden", type=int, default=128, help="discriminator dense width (paper 1024)")
    parser.add_argument("--judge-epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1e-4, help="both learning rates (paper 1e-4)")
    parser.add_argument("--vgg-weights", default=None, help="VGG19 state_dict (default: the torch hub cache, if there)")
    parser.add_argument("--parts", default="photos,digits", help="photos, digits or both")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS_MD)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--report-only", action="store_true", help="rewrite the section from results.json")
    args = parser.parse_args(argv)
    unknown = [p for p in args.parts.split(",") if p not in ("photos", "digits")]
    if unknown:
        parser.error(f"--parts: unknown {unknown[0]!r}; known: photos, digits")
    return args


def budget_text(args, part: str = "photos,digits") -> str:
    parts = [f"generator width {args.g_width}, {args.num_blocks} residual blocks (paper 64, 16), D width "
             f"{args.d_width}, dense {args.d_hidden} (paper 64, 1024)"]
    if "photos" in part:
        parts.append(f"photos: {args.pretrain_steps} SRResNet + {args.gan_steps} SRGAN iterations, batch "
                     f"{args.batch_size}, {args.hr_size} px crops")
    if "digits" in part:
        parts.append(f"digits: {args.digit_pretrain_steps} + {args.digit_gan_steps} iterations, batch "
                     f"{args.digit_batch_size}, judge {args.judge_epochs} epochs")
    parts.append(f"Adam {args.lr:g} (0.9, 0.999; paper 1e-4), adversarial weight 1e-3")
    return "; ".join(parts)


def main(argv=None) -> None:
    args = parse_args(argv)
    results = load_runs(args.results)
    if not args.report_only:
        quiet_lightning()
        torch.set_num_threads(1)
        started = time.perf_counter()
        for part in args.parts.split(","):
            part_started = time.perf_counter()
            if part in results:  # an earlier budget's numbers stay in the report, as what was tried
                earlier = dict(results[part], command=results[part].get("command", results.get("command")),
                               budget=results[part].get("budget", results.get("settings", {}).get("budget")))
                results.setdefault(f"{part}_earlier", []).append(earlier)
            results[part] = run_photos(args) if part == "photos" else run_digits(args)
            results[part].update(command=command_line(__file__, argv), budget=budget_text(args, part),
                                 wall_minutes=(time.perf_counter() - part_started) / 60)
            print(f"{part}: {json.dumps(results[part]['numbers'])}", flush=True)
        results.update(command=command_line(__file__, argv), settings={"budget": budget_text(args)},
                       machine=f"{platform.processor() or platform.machine()}, torch {torch.__version__}",
                       wall_minutes=(time.perf_counter() - started) / 60)
        save_runs(results, args.results, drop=(), sort_keys=False)
    write_report(results, args.out)
    print(f"wrote section {SECTION!r} of {args.out}")


if __name__ == "__main__":
    main()
