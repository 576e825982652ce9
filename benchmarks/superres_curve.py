"""SRResNet's learning curve against bicubic (issue 26, item 3): held-out PSNR and SSIM every ``--every``
iterations of the SRResNet phase (pixel MSE), for network sizes and learning rates side by side, so that the
claim not reached in section ``superres`` (SRResNet below bicubic after 1,800 iterations of a width-16,
4-block network) comes with its trend: the paper's 64 channels and 16 blocks, longer.

Protocol of ``benchmarks/superres.py``'s photos part: 32 px HR crops of scikit-learn's china and flower (x4: 8 px
LR), grace_hopper held out (64 fixed crops), batch 16, Adam (0.9, 0.999), seed 0, one thread; PSNR / SSIM on RGB
in [0, 1] (``superres.paired_numbers``). An arm ``WIDTHxBLOCKS@LR`` (e.g. ``64x16@1e-4``, the paper's) is one
``SRGAN`` run whose SRResNet phase lasts the whole run (``pretrain_steps`` = ``--steps``: D never trains).

Each arm is checkpointed at every measured point (git-ignored ``runs/superres_curve/``) and resumes from its
last one; its points are kept in ``benchmarks/superres/curves.json`` as they are measured.

    python benchmarks/superres_curve.py --arms 16x4@1e-3,64x16@1e-4 --steps 10000 --every 500
    python benchmarks/superres_curve.py --arms 64x16@1e-4 --only 64x16@1e-4 ...   # one arm per process
    python benchmarks/superres_curve.py --arms 16x4@1e-3,64x16@1e-4 --report-only
    python benchmarks/superres_curve.py --arms 16x4@1e-3,64x16@1e-4 --steps 10000 --every 500 --fit-check 16x4@1e-3

Writes section ``superres_curve`` of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import platform
import re
from pathlib import Path
from typing import Any

import torch

import superres
from harness import (BENCHMARKS, RESULTS_MD, cached_curve, command_block, fit_measured, load_recipe, load_runs, quiet_lightning,
                     recent_slope, replace_section, save_run, stack_split, training_command)

CACHE = BENCHMARKS / "superres" / "curves.json"
RUNS = BENCHMARKS.parent / "runs" / "superres_curve"
SECTION = "superres_curve"
PLATEAU = 0.1  # dB per 1,000 iterations: a slower trend is a plateau, not a climb to extrapolate


def parse_arm(text: str) -> dict[str, Any]:
    """``WIDTHxBLOCKS@LR`` -> {"arm", "g_width", "num_blocks", "lr"}; a one-line error otherwise."""
    match = re.fullmatch(r"(\d+)x(\d+)@([0-9.eE+-]+)", text.strip())
    if not match or int(match.group(1)) < 1 or int(match.group(2)) < 1 or float(match.group(3)) <= 0:
        raise argparse.ArgumentTypeError(f"--arms: {text!r} is not WIDTHxBLOCKS@LR (e.g. 64x16@1e-4)")
    return {"arm": text.strip(), "g_width": int(match.group(1)), "num_blocks": int(match.group(2)),
            "lr": float(match.group(3))}


def photo_data(seed: int, batch_size: int = 16, hr_size: int = 32, heldout_crops: int = 64):
    from gan_lightning.data.superres import SuperResolution

    data = SuperResolution(hr_size=hr_size, scale=4, crops_per_epoch=batch_size * 50, heldout_crops=heldout_crops,
                           batch_size=batch_size, seed=seed)
    data.setup("fit")
    return data


def run_folder(key: str) -> Path:
    """The checkpoint folder of the run ``key`` (an arm or a fit check run)."""
    return RUNS / re.sub(r"[^0-9a-zA-Z]+", "_", key)


def arm_model(arm: dict[str, Any], steps: int):
    """The SRGAN whose SRResNet phase is the arm's ``steps`` iterations (D is built, never trained)."""
    from gan_lightning.models import SRGAN

    options = argparse.Namespace(g_width=arm["g_width"], num_blocks=arm["num_blocks"], d_width=16, d_hidden=128,
                                 lr=arm["lr"])
    return SRGAN(pretrain_steps=steps, **superres.model_options(options, 3, 32, "mse", None))


def kept_model(arm: dict[str, Any], key: str, steps: int, option: str, hint: str):
    """``arm_model`` with the weights of run ``key``'s checkpoint at ``steps``; a one-line error naming ``option``
    and ``hint`` when it was not kept."""
    path = run_folder(key) / f"step={steps}.ckpt"
    if not path.is_file():
        raise SystemExit(f"{option}: no checkpoint {path} ({hint})")
    model = arm_model(arm, steps)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=False)["state_dict"])
    return model


def run_arm(arm: dict[str, Any], steps: int, every: int, seed: int, key: str | None = None) -> dict[str, Any]:
    """Train one arm's SRResNet for ``steps`` iterations, held-out PSNR / SSIM every ``every`` (cached as
    measured, checkpointed, resumed from the last checkpoint), kept under ``key`` (default: the arm's name; its
    ``rerun_key`` for a second run of the same settings)."""
    import lightning as L

    from gan_lightning.data.superres import bicubic_upscale

    quiet_lightning()
    torch.set_num_threads(1)
    key = key or arm["arm"]
    settings = {**arm, "every": every, "seed": seed, "batch_size": 16, "hr_size": 32, "steps": steps}
    folder = run_folder(key)
    cached = cached_curve(CACHE, key, settings, steps, folder, extendable=("steps",))  # a longer run extends
    if cached.complete:
        return load_runs(CACHE, {})[key]
    L.seed_everything(seed)  # as superres.run_photos: before the data module draws
    data = photo_data(seed)
    held = stack_split(data.heldout_set, superres.KEYS)
    bicubic = superres.paired_numbers(bicubic_upscale(held["lr"], 4), held["hr"], 4)
    model = arm_model(arm, steps)

    def measure(module) -> dict[str, float]:
        out = superres.upscale(module.generator, held["lr"])
        numbers = superres.paired_numbers(out, held["hr"], 4)
        return {"psnr": numbers["psnr"], "ssim": numbers["ssim"]}

    def save(points: list[dict[str, Any]], seconds: float) -> None:
        save_run(CACHE, key, {**settings, "bicubic": {"psnr": bicubic["psnr"], "ssim": bicubic["ssim"]},
                              "g_parameters": sum(p.numel() for p in model.generator.parameters()),
                              "fit_seconds": seconds, "points": points})
        p = points[-1]
        print(f"{key} at {p['iteration']}: PSNR {p['psnr']:.2f} SSIM {p['ssim']:.3f} "
              f"(bicubic {bicubic['psnr']:.2f} / {bicubic['ssim']:.3f})", flush=True)

    fit_measured(model, data, steps, every, folder, measure, cached.points, save, spent=cached.spent, label=key)
    return load_runs(CACHE, {})[key]


def rerun_key(arm: dict[str, Any]) -> str:
    return f"{arm['arm']} rerun"


def arm_checkpoint_key(arm: dict[str, Any], steps: int, every: int, seed: int) -> str:
    """The run whose checkpoint at ``steps`` holds the arm's network: the arm's own where it was kept, else the arm
    trained again from scratch with the same settings (``rerun_key``: cached, checkpointed and resumed as the arms;
    on one thread its points equal the first run's, which ``rerun_lines`` checks)."""
    if (run_folder(arm["arm"]) / f"step={steps}.ckpt").is_file():
        return arm["arm"]
    run_arm(arm, steps, every, seed, key=rerun_key(arm))
    return rerun_key(arm)


class BicubicTargets(torch.utils.data.Dataset):
    """A training set of (LR, HR) crops whose target is bicubic(LR), the baseline itself, in place of HR: how
    closely the arm learns that one fixed linear map in the budget."""

    def __init__(self, pairs, scale: int) -> None:
        self.pairs, self.scale = pairs, scale

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, key: int) -> dict[str, torch.Tensor]:
        from gan_lightning.data.superres import bicubic_upscale

        lr = self.pairs[key]["lr"]
        return {"lr": lr, "hr": bicubic_upscale(lr[None], self.scale)[0]}


FIT_TARGETS = ("hr", "bicubic")


def fit_check_key(arm: dict[str, Any], target: str) -> str:
    return f"{arm['arm']} fit check, target {target}"


def fit_check(arm: dict[str, Any], steps: int, every: int, seed: int) -> dict[str, Any]:
    """Two runs of the arm (``--fit-check``), each measured every ``every`` iterations on 64 fixed crops of its
    own training photos and on the held-out crops: trained on HR (as ``run_arm``: is it below bicubic on the
    photos it trains on too, or only on the held-out one?) and trained on bicubic(LR) (``BicubicTargets``: how
    close it comes to that fixed map). Cached (key ``fit_check_key``), checkpointed and resumed as the arms."""
    import lightning as L

    from gan_lightning.data.superres import CropPairs, bicubic_upscale
    from gan_lightning.evaluation.paired import psnr

    quiet_lightning()
    torch.set_num_threads(1)
    out = {}
    for target in FIT_TARGETS:
        key = fit_check_key(arm, target)
        settings = {**arm, "target": target, "every": every, "seed": seed, "batch_size": 16, "hr_size": 32,
                    "steps": steps}
        folder = run_folder(key)
        cached = cached_curve(CACHE, key, settings, steps, folder, extendable=("steps",))
        if cached.complete:
            out[target] = load_runs(CACHE, {})[key]
            continue
        L.seed_everything(seed)
        data = photo_data(seed)
        if target == "bicubic":
            data.train_set = BicubicTargets(data.train_set, 4)
        held = stack_split(data.heldout_set, superres.KEYS)
        own = stack_split(CropPairs([data.load(path) for path in data.sources()[0]], 32, 4, 64, seed, train=False),
                          superres.KEYS)
        bicubic = {name: bicubic_upscale(crops["lr"], 4) for name, crops in (("train", own), ("heldout", held))}
        baseline = {"bicubic_train": float(psnr(bicubic["train"], own["hr"])),
                    "bicubic_heldout": float(psnr(bicubic["heldout"], held["hr"]))}
        model = arm_model(arm, steps)

        def measure(module) -> dict[str, float]:
            mine = superres.upscale(module.generator, own["lr"])
            return {"train_psnr": float(psnr(mine, own["hr"])), "train_psnr_to_bicubic": float(psnr(mine, bicubic["train"])),
                    "heldout_psnr": float(psnr(superres.upscale(module.generator, held["lr"]), held["hr"]))}

        def save(points: list[dict[str, Any]], seconds: float, key=key, settings=settings) -> None:
            save_run(CACHE, key, {**settings, **baseline, "fit_seconds": seconds, "points": points})
            p = points[-1]
            print(f"{key} at {p['iteration']}: training crops {p['train_psnr']:.2f} (to bicubic "
                  f"{p['train_psnr_to_bicubic']:.2f}), held-out {p['heldout_psnr']:.2f}", flush=True)

        fit_measured(model, data, steps, every, folder, measure, cached.points, save, spent=cached.spent, label=key)
        out[target] = load_runs(CACHE, {})[key]
    return out


def pooled_psnr(output: torch.Tensor, target: torch.Tensor) -> float:
    """The PSNR (dB) of the mean squared error over all of ``output`` (images in [-1, 1], mapped to [0, 1]): one
    number for a set of crops, as the PSNR of one whole image is, where ``psnr`` averages per-crop PSNRs."""
    import math

    mse = float(((output.clamp(-1, 1) - target) / 2).square().mean())
    return 10 * math.log10(1.0 / mse)


def upscale_tiled(generator, lr: torch.Tensor, tile: int, scale: int = 4) -> torch.Tensor:
    """``generator`` applied to ``lr`` (N, C, H, W) in tiles of ``tile`` x ``tile`` LR pixels (the last row and
    column of tiles smaller where ``tile`` does not divide H or W), the outputs put together: the whole image as
    the network saw its training crops."""
    height, width = lr.shape[-2:]
    out = lr.new_zeros(*lr.shape[:2], height * scale, width * scale)
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            part = lr[..., top:top + tile, left:left + tile]
            out[..., top * scale:(top + part.shape[-2]) * scale, left * scale:(left + part.shape[-1]) * scale] = (
                superres.upscale(generator, part))
    return out


def whole_image_check(arm: dict[str, Any], steps: int, seed: int, key: str | None = None,
                      option: str = "--whole-image") -> dict[str, Any]:
    """PSNR of the network of run ``key`` (default: the fit check's HR-trained run) at ``steps`` (its kept
    checkpoint) and of bicubic on the whole held-out photo (one image, cut to a multiple of 4: the paper's per-image
    PSNR on whole test images) and pooled over the 64 held-out crops, beside the mean of per-crop PSNRs the curves
    report; and the network on the whole photo in tiles of its training crops' LR size (``upscale_tiled``): whether
    it carries to inputs larger than those. Saved into that run's entry."""
    from gan_lightning.data.superres import bicubic_downscale, bicubic_upscale, to_unit_range
    from gan_lightning.evaluation.paired import psnr

    torch.set_num_threads(1)
    key = key or fit_check_key(arm, "hr")
    hint = (f"run --fit-check with --fit-check-steps {steps} first" if key == fit_check_key(arm, "hr")
            else "train the arm to --steps first")
    model = kept_model(arm, key, steps, option, hint)
    data = photo_data(seed)
    held = stack_split(data.heldout_set, superres.KEYS)
    photo = data.load(data.sources()[1][0])
    photo = photo[: photo.shape[0] // 4 * 4, : photo.shape[1] // 4 * 4]
    hr, lr = to_unit_range(photo)[None], to_unit_range(bicubic_downscale(photo, 4))[None]
    crops = {"network": superres.upscale(model.generator, held["lr"]), "bicubic": bicubic_upscale(held["lr"], 4)}
    whole = {"network": superres.upscale(model.generator, lr), "bicubic": bicubic_upscale(lr, 4)}
    tile = held["lr"].shape[-1]  # the training crops' LR size (hr_size / 4)
    result = {"iteration": steps, "size": list(photo.shape[:2]), "tile": tile,
              "tiled_network": float(psnr(upscale_tiled(model.generator, lr, tile).clamp(-1, 1), hr)),
              **{f"whole_{name}": float(psnr(out.clamp(-1, 1), hr)) for name, out in whole.items()},
              **{f"pooled_{name}": pooled_psnr(out, held["hr"]) for name, out in crops.items()},
              **{f"mean_{name}": float(psnr(out.clamp(-1, 1), held["hr"])) for name, out in crops.items()}}
    return save_run(CACHE, key, {**load_runs(CACHE, {})[key], "whole": result})[key]


def fit_check_lines(runs: dict[str, Any], arm: str) -> list[str]:
    """The fit check of ``arm``, when both its runs are cached: a table by iteration and what it shows."""
    on_hr, on_bicubic = (runs.get(f"{arm} fit check, target {target}") for target in FIT_TARGETS)
    if not on_hr or not on_bicubic:
        return []
    lines = ["", f"Fit check of {arm} (`--fit-check`, seed {on_hr['seed']}): PSNR on 64 fixed crops of its own "
                 "training photos and on the held-out crops, trained on HR as above, and trained on bicubic(LR), the "
                 "baseline itself, as its target (PSNR to that target on the training crops):", "",
             "| iteration | trained on HR: training crops | trained on HR: held-out | trained on bicubic(LR): to its "
             "target |", "|---:|---:|---:|---:|"]
    by_iteration = {p["iteration"]: p for p in on_bicubic["points"]}
    for p in on_hr["points"]:
        other = by_iteration.get(p["iteration"])
        lines.append(f"| {p['iteration']:,} | {p['train_psnr']:.2f} | {p['heldout_psnr']:.2f} | "
                     + (f"{other['train_psnr_to_bicubic']:.2f}" if other else "-") + " |")
    lines.append(f"| bicubic | {on_hr['bicubic_train']:.2f} | {on_hr['bicubic_heldout']:.2f} | - |")
    end, mimic = on_hr["points"][-1], on_bicubic["points"][-1]
    below = end["train_psnr"] < on_hr["bicubic_train"]
    lines += ["", f"- Trained on HR, at {end['iteration']:,} iterations: {end['train_psnr']:.2f} dB on its own training "
                  f"photos against bicubic's {on_hr['bicubic_train']:.2f} ("
                  + ("below bicubic on the photos it trains on too: at this point the gap is not generalisation "
                     "from two photos" if below else "above bicubic on its training photos: at this point the "
                     "held-out gap is generalisation") + ").",
              f"- Trained on bicubic(LR) itself, at {mimic['iteration']:,} iterations: {mimic['train_psnr_to_bicubic']:.2f} "
              f"dB to that target, where bicubic's own error to HR on the same crops is {on_hr['bicubic_train']:.2f} dB"
              + (": in this budget the arm reproduces even the fixed bicubic map less closely than bicubic matches HR."
                 if mimic["train_psnr_to_bicubic"] < on_hr["bicubic_train"] else ".")]
    return lines + whole_lines(on_hr.get("whole"), "`--whole-image`", "the HR-trained run")


def whole_lines(whole: dict[str, Any] | None, option: str, what: str) -> list[str]:
    """The whole-image check of a run (``what``, measured by ``option``), when it was made: the three measures of
    network and bicubic and what the gaps show."""
    if not whole:
        return []
    height, width = whole["size"]
    lines = ["", f"Whole-image check ({option}) of {what} at {whole['iteration']:,} iterations: held-out PSNR as the "
                 "mean of the 64 crops' PSNRs (the curves' measure), as the PSNR of their pooled squared error, and on "
                 f"the whole held-out photo ({width} x {height} px, one image: the paper's per-image PSNR on whole test "
                 "images):", "",
             "| measure | SRResNet | bicubic | SRResNet minus bicubic |", "|---|---:|---:|---:|"]
    for name, words in (("mean", "mean of per-crop PSNRs"), ("pooled", "pooled over the crops"),
                        ("whole", "whole photo")):
        ours, theirs = whole[f"{name}_network"], whole[f"{name}_bicubic"]
        lines.append(f"| {words} | {ours:.2f} | {theirs:.2f} | {ours - theirs:+.2f} |")
    if "tiled_network" in whole:
        ours, theirs = whole["tiled_network"], whole["whole_bicubic"]
        lines.append(f"| whole photo, in {whole['tile']} px LR tiles (the training crops' size) | {ours:.2f} | "
                     f"{theirs:.2f} | {ours - theirs:+.2f} |")
    gaps = {name: whole[f"{name}_network"] - whole[f"{name}_bicubic"] for name in ("mean", "pooled", "whole")}
    lines += ["", f"- The curves' gap to bicubic, {gaps['mean']:+.2f} dB as the mean of per-crop PSNRs, is "
                  f"{gaps['pooled']:+.2f} dB pooled over the same crops and {gaps['whole']:+.2f} dB on the whole "
                  "photo: the mean of per-crop PSNRs weighs a flat crop, which bicubic reproduces almost exactly, "
                  "as much as a textured one" + (", and most of the gap is that weighting." if
                                                abs(gaps["whole"]) < abs(gaps["mean"]) / 2 else ".")
              + (" On the whole photo the network is above bicubic." if gaps["whole"] > 0 else "")]
    if "tiled_network" in whole and whole["tiled_network"] - whole["whole_network"] > 1.0:
        lines.append(f"- In tiles of its training crops' size the whole photo reads {whole['tiled_network']:.2f} dB, "
                     f"{whole['tiled_network'] - whole['whole_network']:.2f} dB above the same network on it in one "
                     "piece: the network does not carry to inputs larger than its training crops.")
    return lines


def rerun_lines(runs: dict[str, Any], arm: str) -> list[str]:
    """An arm's rerun (``--whole-image-arm`` where the first run's checkpoints were lost), when made: whether its
    points equal the first run's, and its whole-image check."""
    again, first = runs.get(f"{arm} rerun"), runs.get(arm)
    if not again:
        return []
    theirs = {p["iteration"]: p for p in (first or {}).get("points", [])}
    shared = [(p, theirs[p["iteration"]]) for p in again["points"] if p["iteration"] in theirs]
    end = again["points"][-1]["iteration"]
    if not shared:
        same = f"no point of the first run to compare ({len(again['points'])} points, to {end:,} iterations)"
    else:
        gap = max(max(abs(p["psnr"] - q["psnr"]), abs(p["ssim"] - q["ssim"])) for p, q in shared)
        same = (f"{len(shared)} points to {end:,} iterations, " + ("every PSNR and SSIM equal to the first run's"
                if gap == 0 else f"the largest difference from the first run's PSNR or SSIM {gap:.2g}"))
    lines = ["", f"Rerun of {arm} (`--whole-image-arm`: the first run's checkpoints were lost, so the arm was trained "
                 f"again from scratch with the same settings, seed {again['seed']}): {same}."]
    return lines + whole_lines(again.get("whole"), "`--whole-image-arm`", f"{arm} (the rerun)")


def border_check(arm: dict[str, Any], steps: int, seed: int) -> dict[str, Any]:
    """PSNR of the arm's SRResNet at ``steps`` (its kept checkpoint) and of bicubic on the held-out crops with 0, 4
    and 8 border pixels shaved, on 32 px crops and on 96 px crops of the same held-out photo (the network is
    convolutional): whether the gap to bicubic sits at the crops' borders. Saved into the arm's cache entry."""
    from gan_lightning.data.superres import bicubic_upscale
    from gan_lightning.evaluation.paired import psnr

    torch.set_num_threads(1)
    model = kept_model(arm, arm["arm"], steps, "--border-check", "train the arm to --steps first")
    rows = []
    for hr_size in (32, 96):
        held = stack_split(photo_data(seed, hr_size=hr_size).heldout_set, superres.KEYS)
        out, bicubic = superres.upscale(model.generator, held["lr"]).clamp(-1, 1), bicubic_upscale(held["lr"], 4)
        for shave in (0, 4, 8):
            inner = slice(shave, hr_size - shave)
            rows.append({"hr_size": hr_size, "shave": shave,
                         "psnr": float(psnr(out[..., inner, inner], held["hr"][..., inner, inner])),
                         "bicubic": float(psnr(bicubic[..., inner, inner], held["hr"][..., inner, inner]))})
    run = {**load_runs(CACHE, {})[arm["arm"]], "border": {"iteration": steps, "rows": rows}}
    return save_run(CACHE, arm["arm"], run)[arm["arm"]]


def border_lines(run: dict[str, Any]) -> list[str]:
    """The border check of an arm, when it was run: a table of PSNR with borders shaved."""
    check = run.get("border")
    if not check:
        return []
    lines = ["", f"Border check of {run['arm']} at {check['iteration']:,} iterations (`--border-check`): held-out "
                 "PSNR with 0, 4 and 8 border pixels shaved, on the section's 32 px crops and on 96 px crops of the "
                 "same held-out photo:", "", "| crops | shaved | SRResNet | bicubic | gap |", "|---:|---:|---:|---:|---:|"]
    for row in check["rows"]:
        lines.append(f"| {row['hr_size']} px | {row['shave']} | {row['psnr']:.2f} | {row['bicubic']:.2f} | "
                     f"{row['bicubic'] - row['psnr']:+.2f} |")
    return lines


def arm_lines(run: dict[str, Any]) -> list[str]:
    """The verdict of one arm: where it ends against bicubic, the first point above it, the recent trend and,
    when below and still climbing, the iterations that trend would need (a straight line: an optimistic
    extrapolation, curves flatten)."""
    points, bicubic = run["points"], run["bicubic"]
    end = points[-1]
    above = [p["iteration"] for p in points if p["psnr"] > bicubic["psnr"] and p["ssim"] > bicubic["ssim"]]
    window = max(4, len(points) // 2)  # the curve's second half: a few noisy points give no trend
    rate = recent_slope(points, "psnr", last=window)
    since = points[-window]["iteration"] if len(points) >= window else points[0]["iteration"]
    short = (f" (**stopped at {end['iteration']:,} of the {run['steps']:,} planned**, resumable from its checkpoint)"
             if end["iteration"] < run["steps"] else "")
    text = (f"- {run['arm']} ({run['g_parameters']:,} G parameters){short}: at {end['iteration']:,} iterations PSNR "
            f"{end['psnr']:.2f} vs bicubic {bicubic['psnr']:.2f} dB, SSIM {end['ssim']:.3f} vs {bicubic['ssim']:.3f}; ")
    if above:
        text += f"above bicubic on both from {above[0]:,} iterations (**reached**)."
    else:
        text += (f"below bicubic at every point (**not reached**); PSNR trend from {since:,} iterations on "
                 f"(least squares) {rate:+.2f} dB per 1,000")
        gap = bicubic["psnr"] - end["psnr"]
        text += (f" iterations: about {1000 * gap / rate:,.0f} more iterations to bicubic's PSNR if it held (a straight "
                 "line; curves flatten, so a lower bound)." if rate >= PLATEAU else
                 f" iterations: a plateau (under {PLATEAU} dB per 1,000), below bicubic by {gap:.2f} dB at the end.")
    return [text]


def report(arms: list[dict[str, Any]], runs: dict[str, Any], command: str) -> str:
    present = [arm["arm"] for arm in arms if arm["arm"] in runs]
    if not present:
        raise SystemExit(f"no cached curve of {', '.join(a['arm'] for a in arms)} in {CACHE}")
    first = runs[present[0]]
    recipe_steps = load_recipe("SRGAN", "photos")["init_args"]["pretrain_steps"]
    lines = [
        "## SRResNet vs bicubic by iteration: network size and learning rate (issue 26)",
        "",
        "Written by `benchmarks/superres_curve.py`; do not edit by hand.",
        "",
        *command_block(command),
        "Section `superres`'s photos protocol: 32 px HR crops (x4 from 8 px) of scikit-learn's china and flower, "
        "grace_hopper held out (64 fixed crops), batch 16, Adam (0.9, 0.999), the pixel-MSE SRResNet phase only, "
        f"seed {first['seed']}, one thread ({platform.machine()}, torch {torch.__version__}); PSNR / SSIM on RGB in "
        f"[0, 1] every {first['every']} iterations. Arms `WIDTHxBLOCKS@LR`: the paper's SRResNet is 64x16 at Adam "
        "1e-4 (10^6 iterations on 350k ImageNet images, 96 px crops); section `superres` ran 16x4 at 1e-3 for "
        f"1,800. The recipe (`experiments/srgan/photos.yaml`) trains its SRResNet {recipe_steps:,} iterations: every "
        "arm here runs far past it. Fit seconds: "
        + ", ".join(f"{name} {runs[name]['fit_seconds']:.0f}" for name in present) + " (wall, measuring excluded).",
        "",
    ]
    iterations = sorted({p["iteration"] for name in present for p in runs[name]["points"]})
    head = ["iteration", *[f"{name} PSNR / SSIM" for name in present]]
    lines += ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for it in iterations:
        cells = [f"{it:,}"]
        for name in present:
            p = next((q for q in runs[name]["points"] if q["iteration"] == it), None)
            cells.append(f"{p['psnr']:.2f} / {p['ssim']:.3f}" if p else "-")
        lines.append("| " + " | ".join(cells) + " |")
    bicubic = first["bicubic"]
    lines.append("| bicubic | " + " | ".join(f"{bicubic['psnr']:.2f} / {bicubic['ssim']:.3f}" for _ in present) + " |")
    lines.append("")
    for name in present:
        lines += arm_lines(runs[name])
    for name in present:
        lines += border_lines(runs[name])
    for name in present:
        lines += whole_lines(runs[name].get("whole"), "`--whole-image-arm`", name)
        lines += rerun_lines(runs, name)
    for name in present:
        lines += fit_check_lines(runs, name)
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arms", default="16x4@1e-3,64x16@1e-4",
                        help="comma-separated WIDTHxBLOCKS@LR (default: section superres's 16x4@1e-3 and the paper's 64x16@1e-4)")
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--every", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default="", help="train only this arm (the others from the cache)")
    parser.add_argument("--out", type=Path, default=RESULTS_MD)
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--border-check", default="", metavar="ARM",
                        help="also measure this arm's checkpoint at --steps with borders shaved (32 and 96 px crops)")
    parser.add_argument("--fit-check", default="", metavar="ARM",
                        help="also train this arm on HR and on bicubic(LR), measured on its own training photos too")
    parser.add_argument("--fit-check-steps", type=int, default=1500, help="iterations of each --fit-check run")
    parser.add_argument("--fit-check-every", type=int, default=250, help="measured every this many iterations")
    parser.add_argument("--whole-image", action="store_true", help="also measure the fit check's HR-trained network "
                        "at --fit-check-steps on the whole held-out photo and pooled over its crops")
    parser.add_argument("--whole-image-arm", default="", metavar="ARM",
                        help="also measure this arm's network at --steps on the whole held-out photo and pooled over "
                        "its crops (its kept checkpoint; where that was lost, the arm is trained again from scratch "
                        "as 'ARM rerun', resumable, and its points compared with the first run's)")
    args = parser.parse_args(argv)
    try:
        arms = [parse_arm(text) for text in args.arms.split(",") if text.strip()]
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    if args.steps < 1 or args.every < 1 or args.steps % args.every:
        parser.error(f"--steps ({args.steps}) must be a positive multiple of --every ({args.every})")
    if args.only and args.only not in {arm["arm"] for arm in arms}:
        parser.error(f"--only: {args.only!r} is not one of --arms ({args.arms})")
    if not args.report_only:
        for arm in arms:
            if not args.only or arm["arm"] == args.only:
                run_arm(arm, args.steps, args.every, args.seed)
    if args.border_check:
        arm = next((arm for arm in arms if arm["arm"] == args.border_check), None)
        if arm is None:
            parser.error(f"--border-check: {args.border_check!r} is not one of --arms ({args.arms})")
        border_check(arm, args.steps, args.seed)
    if args.fit_check:
        arm = next((arm for arm in arms if arm["arm"] == args.fit_check), None)
        if arm is None:
            parser.error(f"--fit-check: {args.fit_check!r} is not one of --arms ({args.arms})")
        if args.fit_check_every < 1 or args.fit_check_steps < 1 or args.fit_check_steps % args.fit_check_every:
            parser.error(f"--fit-check-steps ({args.fit_check_steps}) must be a positive multiple of "
                         f"--fit-check-every ({args.fit_check_every})")
        fit_check(arm, args.fit_check_steps, args.fit_check_every, args.seed)
        if args.whole_image:
            whole_image_check(arm, args.fit_check_steps, args.seed)
    elif args.whole_image:
        parser.error("--whole-image measures the --fit-check ARM's network: name it")
    if args.whole_image_arm:
        arm = next((arm for arm in arms if arm["arm"] == args.whole_image_arm), None)
        if arm is None:
            parser.error(f"--whole-image-arm: {args.whole_image_arm!r} is not one of --arms ({args.arms})")
        if not args.report_only:
            key = arm_checkpoint_key(arm, args.steps, args.every, args.seed)
            whole_image_check(arm, args.steps, args.seed, key=key, option="--whole-image-arm")
    command = training_command(__file__, argv, report_options=("--only", "--border-check", "--whole-image-arm"))
    replace_section(args.out, SECTION, report(arms, load_runs(CACHE, {}), command))
    print(f"wrote section {SECTION} of {args.out}")


if __name__ == "__main__":
    main()
