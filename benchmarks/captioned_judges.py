"""The judges of CaptionedDigits measured on real images: the check every section that uses them quotes.

``gan_lightning.evaluation.captioned.CaptionJudges`` (issue 27) judges what a text-to-image model drew,
independently of its training: a digits CNN (trained on the rendered training-split canvases), pixel
measurements of the ink's colour, box, thickness, slant and width, a background head, and an R-precision
matcher trained on the held-out split. This script fits (or loads from the cache) the judges of data seed
``--seed`` at each image size and reports each judge's accuracy on the real held-out images, the seen and
the unseen (digit, colour) combinations apart, and the matcher's R-precision (R = 1, 100 candidates) of real
images with their own captions, with another image's (shuffled: about 1 in 100), and of the real
training-split images (which the matcher never saw).

    python benchmarks/captioned_judges.py [--seed 0] [--sizes 64,32] [--report-only]

Caches the checks in ``benchmarks/captioned_judges/results.json`` (the judges themselves in the project's
cache folder); writes section ``captioned_judges`` of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
from typing import Any

from harness import (
    BENCHMARKS,
    RESULTS_MD,
    command_block,
    load_average,
    load_runs,
    replace_section,
    save_runs,
)

OUT_DIR = BENCHMARKS / "captioned_judges"
CACHE = OUT_DIR / "results.json"
SECTION = "captioned_judges"
ROWS = (("digits", "digit (CNN on training-split canvases)"),
        ("colour", "ink colour (nearest palette colour of the most saturated pixels)"),
        ("background", "background (the CNN's second head)"),
        ("thickness", "thickness (measure_digits on the ink cropped to 28 px)"),
        ("slant", "slant (the same)"),
        ("width", "width (the same; against the judged digit's class median)"),
        ("box_iou", "ink box: mean IoU with the rendered box (alpha above one half)"))


def measure(seed: int, size: int) -> dict[str, Any]:
    import torch

    from gan_lightning.evaluation.captioned import CaptionJudges

    torch.set_num_threads(1)
    return CaptionJudges.load_or_fit(seed=seed, image_size=size).check()


def report(results: dict[str, Any], seed: int, sizes: tuple[int, ...], command: str) -> str:
    checks = [(size, results[f"seed{seed}/{size}px"]) for size in sizes if f"seed{seed}/{size}px" in results]
    if not checks:
        raise SystemExit(f"no checks cached in {CACHE} for seed {seed}: run without --report-only first")
    first = checks[0][1]
    heads = " | ".join(f"{size} px: all | seen | unseen" for size, _ in checks)
    lines = [
        (f"The CaptionedDigits judges (``gan_lightning.evaluation.captioned.CaptionJudges``, data seed {seed}) on "
         f"the {first['num_heldout']} real held-out images ({first['num_unseen']} of them in the 10 (digit, colour) "
         "combinations the training split never shows: *unseen*). Accuracy of each judge against what was "
         "rendered (the same bin indices as CaptionedDigits' ``attributes``); the box as mean IoU."),
        "",
        f"| judge | {heads} |",
        "|---|" + "---|---|---|" * len(checks),
    ]
    for key, name in ROWS:
        cells = " | ".join(f"{c[key]:.3f} | {c[key + '_seen']:.3f} | {c[key + '_unseen']:.3f}" for _, c in checks)
        lines.append(f"| {name} | {cells} |")
    lines += ["", ("R-precision (Xu et al., R = 1: the own caption must score first among itself and 99 captions of "
              "other images; the matcher is trained on the held-out split's images and all their captions):"), "",
              "| images, captions | " + " | ".join(f"{size} px" for size, _ in checks) + " |",
              "|---|" + "---|" * len(checks)]
    for key, name in (("r_precision", "real held-out images, their own captions"),
                      ("r_precision_shuffled", "real held-out images, another image's caption (chance: 0.01)"),
                      ("r_precision_training_split", ("real training-split images (unseen by the matcher), their own "
                       "captions"))):
        lines.append(f"| {name} | " + " | ".join(f"{c[key]:.3f}" for _, c in checks) + " |")
    fits = "; ".join(f"{size} px: {c['fit_cpu_seconds'] / 60:.1f} CPU-minutes ({c['fit_seconds']:.0f} s wall), "
                     f"{c['fit_args']['scenes']} scenes per training digit, {c['fit_args']['digit_epochs']} CNN epochs, "
                     f"{c['fit_args']['matcher_epochs']} matcher epochs" for size, c in checks)
    load = load_average()
    lines += ["", (f"Fitting, one thread, seeded: {fits}. Machine load while writing (1/5/15 min): "
              f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}."), ""]
    lines += command_block(command)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sizes", type=lambda text: tuple(int(s) for s in text.split(",")), default=(64, 32))
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    results = load_runs(CACHE, empty={})
    if not args.report_only:
        for size in args.sizes:
            results[f"seed{args.seed}/{size}px"] = measure(args.seed, size)
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        save_runs(results, CACHE)
    command = (f"python benchmarks/captioned_judges.py --seed {args.seed} "
               f"--sizes {','.join(str(s) for s in args.sizes)}")
    text = report(results, args.seed, args.sizes, command)
    replace_section(RESULTS_MD, SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
