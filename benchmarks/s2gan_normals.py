"""S^2-GAN: do images drawn through a structure carry a recoverable, plausible 3D surface? On SurfaceDigits.

Wang & Gupta 2016 (S^2-GAN) measure whether the Style-GAN's images follow the structure they were drawn
from: a normals predictor (their FCN) trained on real images recovers the normals from the generated
images, and the angular error to the normals the image was drawn from is reported (mean, median, and the
share of pixels within 11.25, 22.5 and 30 degrees). SurfaceDigits makes the ground truth exact (each
image is Lambertian shading of its digit's normals times a real texture), so this benchmark can ask it,
and ask the one-stage question fairly.

- **The instrument**: a ``NormalFCN`` (``gan_lightning.nets.s2gan``, width ``INSTRUMENT_WIDTH``) fitted here,
  apart from every GAN, on the real *training* pairs (image -> normals, mean of 1 - cos), seeded; its error
  on the real *held-out* images against their true normals is the measure's check.
- **S^2-GAN**: the committed recipes (``experiments/s2gan/surface_digits_structure.yaml`` then
  ``surface_digits_style.yaml``: 2,000 iterations each; the Style-GAN trains on real normals and is chained
  to the trained Structure G for sampling, as the recipe's ``structure_ckpt_path``), seed 0, raw G.
- **One-stage GAN**: a DCGAN on the SurfaceDigits images alone (3 x 32 px, Adam 2e-4 (0.5, 0.999), batch 64,
  seed 0), G widened to ``g_width`` 43 so that it has about as many parameters as S^2-GAN's two Gs together,
  D at ``d_width`` 16 (S^2-GAN's Ds); measured after 2,000 iterations (the Style-GAN's) and after 4,000
  (both S^2-GAN stages together).

Measures, 500 samples per model (noise seed 1; the held-out split has 500 images), on the instrument's
recovered normals n_hat = FCN(image):
1. **follows its structure** (S^2-GAN only: the paper's measure): the angle between n_hat and the Structure
   G's normals of the same sample (mean, median, shares within 11.25 / 22.5 / 30 degrees, and the mean
   over the pixels where those normals tilt more than 10 degrees: the strokes); also the Style G alone
   given the real held-out normals;
2. **a plausible surface** (fair to both: a one-stage GAN draws no normals): the Fréchet distance between
   the recovered maps (each area-averaged to 8 x 8 x 3 numbers) and the real *training* normal maps; the
   real held-out images' recovered maps and the true held-out maps are the floor (500 maps each, as the
   models'); a flat or collapsed set of maps scores far from it;
3. **relief**: the share of pixels whose n_hat tilts more than 10 degrees from (0, 0, 1) (the true held-out
   normals: the real share).

    python benchmarks/s2gan_normals.py [--workers 4] [--iterations N]   # N per S^2-GAN stage (default: the recipes')
    python benchmarks/s2gan_normals.py --report-only    # the section from the cache
    python benchmarks/s2gan_normals.py --batchnorm-d    # the same protocol, the Structure-GAN's D with BatchNorm

Writes section ``s2gan`` of benchmarks/RESULTS.md; caches the measures in benchmarks/s2gan_normals/results.json
and the trained weights in benchmarks/s2gan_normals/weights/ (not committed; an interrupted run resumes).

``--batchnorm-d`` is the record of the collapse diagnosis (gan_lightning/models/s2gan.py's docstring): with the
recipes' D (the authors' plan, no BatchNorm) the Structure G collapses to nearly one map at this CPU width. It
runs the same protocol with one change, the Structure-GAN's D: the project's DCGAN D with BatchNorm
(``BATCHNORM_D``: ``d_plan: dcgan``, ``d_norm: batch``, not the authors'), without the authors' margin rule and
dropout before its last layer (the recipe's ``d_dropout`` 0.2 kept); the Style-GAN, the one-stage DCGAN, the
instrument and the measures are those above, each trained again in its own cache. Writes its own section
``s2gan_batchnorm_d`` (section ``s2gan`` stays the verdict on the recipes), caches in
benchmarks/s2gan_normals/batchnorm_d/.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from harness import (
    BENCHMARKS,
    RESULTS_MD,
    command_block,
    command_line,
    fit_exactly,
    load_average,
    load_recipe,
    load_runs,
    model_from_recipe,
    quiet_lightning,
    replace_section,
    save_grid,
    save_runs,
    stack_split,
    train_missing,
)

OUT_DIR = BENCHMARKS / "s2gan_normals"
#: The Structure-GAN's D of the ``--batchnorm-d`` record, changed from the recipe (the collapse diagnosis's run)
BATCHNORM_D = {"d_plan": "dcgan", "d_norm": "batch", "update_margin": 0.0, "d_head_dropout": 0.0}
#: Each record: its section of RESULTS.md, its cache folder, and its Structure-GAN's changes from the recipe
RECORDS = {"s2gan": {"folder": OUT_DIR, "structure": {}},
           "s2gan_batchnorm_d": {"folder": OUT_DIR / "batchnorm_d", "structure": BATCHNORM_D}}
STRUCTURE, STYLE = ("S2GAN", "surface_digits_structure"), ("S2GAN", "surface_digits_style")
DCGAN_WIDTHS = {"g_width": 43, "d_width": 16}
INSTRUMENT_WIDTH, INSTRUMENT_EPOCHS = 48, 12
SAMPLES, SAMPLE_SEED = 500, 1
RELIEF_DEGREES = 10.0
FEATURE_SIZE = 8


def surface_data():
    from gan_lightning.data import SurfaceDigits

    return SurfaceDigits(**load_recipe(*STRUCTURE)["data_args"])


#: Each record's paragraph on why it exists, after its verdict
WHY = {"s2gan": ("Why the Structure G collapses was looked for in short seeded runs of the Structure-GAN alone, "
                 "switching the authors' settings on one at a time (their D plan, margin rule, dropout before D's "
                 "last layer, uniform noise, half-real half-fake D batches, Adam warm-up): their runs and numbers are "
                 "in the docstring of gan_lightning/models/s2gan.py; this run has the first three, the recipe's "
                 "defaults."),
       "s2gan_batchnorm_d": (
           "Why this record: with the recipes' D (the authors' plan, no BatchNorm; section `s2gan`) the Structure G "
           "collapses to nearly one map at this CPU width. Short seeded runs of the Structure-GAN alone, switching "
           "the authors' settings on one at a time, put the collapse on a D without BatchNorm at this width, the "
           "authors' included (their runs and numbers: the docstring of gan_lightning/models/s2gan.py). This record "
           "runs section `s2gan`'s protocol with that one change, the Structure-GAN's D (the project's DCGAN D with "
           "BatchNorm, not the authors', without their margin rule and dropout before D's last layer; "
           "`--batchnorm-d`), and asks whether S^2-GAN reaches the claim once its Structure G does not collapse. It "
           "is not a verdict on the model's default recipe (the authors' D): section `s2gan` is.")}


def weights_folder(record: str) -> Path:
    return RECORDS[record]["folder"] / "weights"


def results_json(record: str) -> Path:
    return RECORDS[record]["folder"] / "results.json"


def save_fit(model, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}, path)
    return str(path)


def train_job(job: dict[str, Any]) -> dict[str, Any]:
    """One fit: the Structure-GAN, the Style-GAN (on real normals), the DCGAN, or the instrument."""
    import lightning as L

    torch.set_num_threads(1)
    quiet_lightning()
    started = time.process_time()
    data = surface_data()
    shape = data.data_shape
    L.seed_everything(0, verbose=False)
    kind, saved, weights = job["key"], {}, weights_folder(job["record"])
    if kind == "instrument":
        return {**fit_instrument(data, weights), "cpu_minutes": round((time.process_time() - started) / 60, 2)}
    if kind in ("structure", "style"):
        recipe = load_recipe(*(STRUCTURE if kind == "structure" else STYLE))
        extra = {"structure_ckpt_path": "random"} if kind == "style" else RECORDS[job["record"]]["structure"]
        model = model_from_recipe("S2GAN", recipe, shape, **extra)
        iterations = job["iterations"]
        seconds = fit_exactly(model, data, iterations, label=kind)
        saved[str(iterations)] = save_fit(model, weights / f"{kind}.ckpt")
    else:
        from gan_lightning.models import DCGAN

        recipe = load_recipe(*STYLE)
        model = DCGAN(data_shape=shape, latent_dim=100, lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), **DCGAN_WIDTHS)
        ends = job["ends"]

        class SaveAt(L.Callback):
            def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
                if trainer.global_step in ends:
                    saved[str(trainer.global_step)] = save_fit(pl_module, weights / f"dcgan_{trainer.global_step}.ckpt")

        iterations = ends[-1]
        seconds = fit_exactly(model, data, iterations, [SaveAt()], label=kind)
    return {"iterations": iterations, "weights": saved, "fit_seconds": round(seconds, 1),
            "g_params": sum(p.numel() for p in model.generator.parameters() if p.requires_grad or kind != "style"),
            "cpu_minutes": round((time.process_time() - started) / 60, 2)}


def fit_instrument(data, weights: Path) -> dict[str, Any]:
    """The NormalFCN fitted on the real training pairs (Adam 1e-3, batch 64, seeded), saved; its held-out error."""
    from gan_lightning.models.s2gan import normal_error
    from gan_lightning.nets.s2gan import NormalFCN

    data.setup("fit")
    train = stack_split(data.train_set, ["image", "normals"])
    torch.manual_seed(0)
    fcn = NormalFCN(data.data_shape[0], INSTRUMENT_WIDTH)
    optimiser = torch.optim.Adam(fcn.parameters(), lr=1e-3, betas=(0.5, 0.999))
    generator = torch.Generator().manual_seed(0)
    count = len(train["image"])
    for _ in range(INSTRUMENT_EPOCHS):
        for batch in torch.randperm(count, generator=generator).split(64):
            loss = normal_error(fcn(train["image"][batch]), train["normals"][batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    weights.mkdir(parents=True, exist_ok=True)
    torch.save(fcn.state_dict(), weights / "instrument.pt")
    return {"weights": {"0": str(weights / "instrument.pt")}, "epochs": INSTRUMENT_EPOCHS, "train_pairs": count}


def angle_stats(predicted: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """Per-pixel angles (degrees) between unit normal maps: mean, median, shares within 11.25 / 22.5 / 30
    degrees, and the mean over the target's relief pixels (tilted more than RELIEF_DEGREES)."""
    angles = torch.rad2deg(torch.acos((predicted * target).sum(1).clamp(-1.0, 1.0)))
    tilted = target[:, 2] < math.cos(math.radians(RELIEF_DEGREES))
    flat = angles.flatten()
    return {"mean": float(flat.mean()), "median": float(flat.median()), "relief_mean": float(angles[tilted].mean()),
            **{f"within_{t}": float((flat < t).float().mean()) for t in (11.25, 22.5, 30)}}


def map_features(normals: torch.Tensor) -> torch.Tensor:
    """A normal map as FEATURE_SIZE x FEATURE_SIZE x 3 numbers (area-averaged), for the Fréchet distance."""
    return F.adaptive_avg_pool2d(normals, FEATURE_SIZE).flatten(1).double()


def surface_distance(normals: torch.Tensor, reference: tuple[torch.Tensor, torch.Tensor]) -> float:
    """Fréchet distance between normal maps and the reference statistics (``map_features``)."""
    from gan_lightning.evaluation.fid import feature_statistics, frechet_distance

    mu, sigma = feature_statistics(map_features(normals))
    return frechet_distance(mu, sigma, *reference)


def spread(normals: torch.Tensor) -> float:
    """How much normal maps differ from one another: the per-pixel standard deviation over the maps, averaged
    over pixels and channels (0: every map the same, a collapsed G)."""
    return float(normals.std(dim=0).mean())


def relief(normals: torch.Tensor) -> float:
    """The share of pixels whose normal tilts more than RELIEF_DEGREES from (0, 0, 1)."""
    return float((normals[:, 2] < math.cos(math.radians(RELIEF_DEGREES))).float().mean())


def measure(runs: dict[str, Any], record: str) -> dict[str, Any]:
    from gan_lightning.models import DCGAN, S2GAN
    from gan_lightning.nets.s2gan import NormalFCN

    torch.set_num_threads(1)
    data = surface_data()
    data.setup("fit")
    from gan_lightning.evaluation.fid import feature_statistics

    train = stack_split(data.train_set, ["normals"])["normals"]
    reference = feature_statistics(map_features(train))
    held = stack_split(data.heldout_set, ["image", "normals"])
    fcn = NormalFCN(data.data_shape[0], INSTRUMENT_WIDTH)
    fcn.load_state_dict(torch.load(runs["instrument"]["weights"]["0"]))
    fcn.eval()

    def recovered(images):
        with torch.no_grad():
            return torch.cat([fcn(x) for x in images.split(250)])

    style = S2GAN(**{**load_recipe(*STYLE)["init_args"], "data_shape": data.data_shape})
    style.load_state_dict(torch.load(runs["style"]["weights"][str(runs["style"]["iterations"])],
                                     weights_only=False)["state_dict"])
    style.load_structure(runs["structure"]["weights"][str(runs["structure"]["iterations"])])
    z = style.sample_noise(SAMPLES, rng=torch.Generator().manual_seed(SAMPLE_SEED))
    normals, images = style.sample(noise=z, stages=True, use_ema=False)
    with torch.no_grad():
        style.eval()
        z_held = style.sample_noise(len(held["normals"]), rng=torch.Generator().manual_seed(SAMPLE_SEED + 1))
        rendered_real = style.style(held["normals"], z_held[:, style.structure_dim:])
    rows = {"real held-out images": {"images": held["image"], "truth": held["normals"]},
            "S2-GAN (Structure G, then Style G)": {"images": images, "truth": normals},
            "Style G alone, on the real held-out normals": {"images": rendered_real, "truth": held["normals"]}}
    for end, path in runs["dcgan"]["weights"].items():
        dcgan = DCGAN(data_shape=data.data_shape, latent_dim=100, **DCGAN_WIDTHS)
        dcgan.load_state_dict(torch.load(path, weights_only=False)["state_dict"])
        zd = dcgan.sample_noise(SAMPLES, rng=torch.Generator().manual_seed(SAMPLE_SEED))
        rows[f"one-stage DCGAN, {end} iterations"] = {"images": dcgan.sample(noise=zd, use_ema=False), "truth": None}
    out = {}
    for name, row in rows.items():
        n_hat = recovered(row["images"])
        out[name] = {"follows": angle_stats(n_hat, row["truth"]) if row["truth"] is not None else None,
                     "surface_distance": surface_distance(n_hat, reference), "relief": relief(n_hat),
                     "samples": len(n_hat)}
    for name, maps in (("true real held-out normals", held["normals"]), ("S2-GAN's Structure G normals", normals)):
        out[name] = {"follows": None, "surface_distance": surface_distance(maps, reference), "relief": relief(maps),
                     "samples": len(maps), "drawn": True}
    out["spread"] = {"structure_g": spread(normals), "real_heldout": spread(held["normals"])}
    dcgan_last = rows[f"one-stage DCGAN, {max(runs['dcgan']['weights'], key=int)} iterations"]["images"]
    picture = torch.cat([normals[:8], images[:8].expand(-1, 3, -1, -1),
                         dcgan_last[:8].expand(-1, 3, -1, -1), held["image"][:8].expand(-1, 3, -1, -1)])
    grid = save_grid(picture, RECORDS[record]["folder"] / "samples.png", nrow=8)
    return {"rows": out, "picture": grid, "heldout": len(held["image"]), "train_maps": len(train)}


def d_settings(record: str = "s2gan") -> str:
    """The D settings that the collapse diagnosis turned on (the model's defaults unless the recipe sets them);
    a record that changes the Structure-GAN's D names both stages' Ds."""
    import inspect

    from gan_lightning.models import S2GAN

    defaults = {k: v.default for k, v in inspect.signature(S2GAN.__init__).parameters.items()}

    def described(args: dict[str, Any]) -> str:
        plan = ("the authors' D plan" if args["d_plan"] == "authors" else
                "the DCGAN D plan" + (" with BatchNorm (not the authors')" if args["d_norm"] == "batch" else "")
                + f", dropout {args['d_dropout']:g} after every layer")
        head = (f"dropout {args['d_head_dropout']:g} before its last layer" if args["d_head_dropout"] > 0
                else "no dropout before its last layer")
        margin = (f"the authors' margin rule {args['update_margin']:g} (D skips its update when its real or fake "
                  f"error is below it, G when one is above 1 minus it)" if args["update_margin"] > 0
                  else "no margin rule (D and G update every iteration)")
        return f"{plan}, {head}, {margin}"

    structure = {**defaults, **load_recipe(*STRUCTURE)["init_args"]}
    changes = RECORDS[record]["structure"]
    if not changes:
        return described(structure)
    return (f"the Structure-GAN's D: {described({**structure, **changes})}; the Style-GAN's D, as its recipe: "
            f"{described({**defaults, **load_recipe(*STYLE)['init_args']})}")


def section(runs: dict[str, Any], command: str, record: str = "s2gan") -> str:
    m = runs["measures"]["rows"]
    s, y, d, ins = runs["structure"], runs["style"], runs["dcgan"], runs["instrument"]
    rs, ry = load_recipe(*STRUCTURE)["max_steps"], load_recipe(*STYLE)["max_steps"]
    budget = ("the recipes' budgets" if (s["iterations"], y["iterations"]) == (rs, ry)
              else f"**below the recipes' budgets** ({rs} and {ry} iterations)")
    cpu = sum(r["cpu_minutes"] for r in (s, y, d, ins) if r["cpu_minutes"] is not None)
    cut = ("" if "planned_iterations" not in d else
           f" (its run to {d['planned_iterations']} iterations was stopped at the deadline: measured at the "
           f"checkpoints it had saved, CPU time not counted)")
    lines = [(f"S^2-GAN (Wang & Gupta 2016) on SurfaceDigits (32 px): the Structure-GAN {s['iterations']} iterations, "
              f"the Style-GAN {y['iterations']} iterations ({budget}), seed 0, raw G; {d_settings(record)}; G parameters "
              f"{s['g_params']:,} + {y['g_params']:,}. One-stage baseline: a DCGAN on the images alone, G "
              f"{d['g_params']:,} parameters (widths {DCGAN_WIDTHS['g_width']} / {DCGAN_WIDTHS['d_width']}), seed 0, "
              f"measured at {' and '.join(sorted(d['weights'], key=int))} iterations{cut}. {cpu:.1f} CPU-minutes in all, "
              f"one thread per run. The instrument: a NormalFCN (width {INSTRUMENT_WIDTH}) fitted for {ins['epochs']} "
              f"epochs on the {ins['train_pairs']} real training (image, normals) pairs only, independent of every "
              f"GAN; {SAMPLES} samples per model (noise seed {SAMPLE_SEED}), angles in degrees."), "",
             *command_block(command), "",
             ("The paper's measure (recovered normals against the normals the image was drawn from; the "
              "instrument's own error is the first row):"), "",
             "| images | mean angle | median angle | within 11.25 | within 22.5 | within 30 | mean angle on the strokes |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    m = {k: v for k, v in m.items() if k != "spread"}
    for name, row in m.items():
        f = row["follows"]
        if f is not None:
            lines.append(f"| {name} | {f['mean']:.1f} | {f['median']:.1f} | {100 * f['within_11.25']:.1f} % | "
                         f"{100 * f['within_22.5']:.1f} % | {100 * f['within_30']:.1f} % | {f['relief_mean']:.1f} |")
    lines += ["", ("The measure fair to both (a one-stage GAN draws no normals): the Fréchet distance between the "
                   f"recovered normal maps ({FEATURE_SIZE} x {FEATURE_SIZE} x 3 area averages) and the "
                   f"{runs['measures']['train_maps']} real training normal maps, and the relief (pixels tilted more "
                   f"than {RELIEF_DEGREES:g} degrees); rows marked *drawn* are normal maps themselves, not recovered "
                   "from images:"), "",
              "| images | surface distance (Fréchet, normal maps) | relief |", "|---|---:|---:|"]
    for name, row in m.items():
        label = f"{name} (*drawn*)" if row.get("drawn") else name
        lines.append(f"| {label} | {row['surface_distance']:.3f} | {100 * row['relief']:.1f} % |")
    real = m["real held-out images"]
    s2 = m["S2-GAN (Structure G, then Style G)"]
    dc = {k: v for k, v in m.items() if k.startswith("one-stage")}
    best_dc = min(v["surface_distance"] for v in dc.values())
    follows = s2["follows"]
    plausible = s2["surface_distance"] < best_dc
    verdict = (f"Verdict: {'reached' if plausible else 'not reached'}: the normals recovered from S^2-GAN's images "
               f"lie at a surface distance of {s2['surface_distance']:.3f} from the real normal maps against "
               f"{best_dc:.3f} for the one-stage DCGAN's best (real held-out images: {real['surface_distance']:.3f}); "
               f"S^2-GAN's images follow their own structure to {follows['mean']:.1f} degrees on average "
               f"({follows['relief_mean']:.1f} on the strokes), the instrument's error on real held-out images being "
               f"{real['follows']['mean']:.1f} ({real['follows']['relief_mean']:.1f} on the strokes).")
    spread_rows = runs["measures"]["rows"].get("spread")
    if spread_rows is not None:
        collapsed = spread_rows["structure_g"] < 0.25 * spread_rows["real_heldout"]
        verdict += (f" The Structure G's normal maps differ from one another by {spread_rows['structure_g']:.3f} "
                    f"(per-pixel standard deviation over the samples; the real held-out maps: "
                    f"{spread_rows['real_heldout']:.3f})"
                    + (": it has collapsed to nearly one map, and the surface distance of S^2-GAN is that of one "
                       "map (its picture below)." if collapsed else
                       ": below the real maps' but not collapsed to one map." if spread_rows["structure_g"]
                       < 0.75 * spread_rows["real_heldout"] else "."))
    lines += ["", verdict, "", WHY[record], "", "One seed per model: no seed spread is measured.", "",
              (f"Structure G normals, S^2-GAN images, DCGAN images, real images (8 each): "
               f"`{runs['measures']['picture']}`. Machine: {platform.machine()}, shared.")]
    return "\n".join(lines)


def measure_now(runs: dict[str, Any], ends: list[int], command: str, record: str) -> dict[str, Any]:
    """The measures from the finished fits and the DCGAN checkpoints saved so far."""
    from gan_lightning.models import DCGAN

    missing = [key for key in ("structure", "style", "instrument") if key not in runs]
    if missing:
        raise SystemExit(f"--measure-now: the fits {', '.join(missing)} have not finished ({results_json(record)})")
    if "dcgan" not in runs:
        weights = weights_folder(record)
        saved = {str(end): str(weights / f"dcgan_{end}.ckpt") for end in ends
                 if (weights / f"dcgan_{end}.ckpt").is_file()}
        if not saved:
            raise SystemExit("--measure-now: the DCGAN has saved no checkpoint yet")
        shape = surface_data().data_shape
        g_params = sum(p.numel() for p in DCGAN(data_shape=shape, latent_dim=100, **DCGAN_WIDTHS).generator.parameters())
        runs["dcgan"] = {"iterations": max(map(int, saved)), "planned_iterations": ends[-1], "weights": saved,
                         "fit_seconds": None, "g_params": g_params, "cpu_minutes": None}
    runs["measures"] = measure(runs, record)
    runs["measures"].update(machine=platform.machine(), cpus=os.cpu_count(), load=round(load_average()[0], 1))
    runs["command"] = command
    save_runs(runs, results_json(record))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=1, help="fits at once, each in its own process")
    parser.add_argument("--iterations", type=int, default=None,
                        help="iterations of each S^2-GAN stage (default: the recipes'); the DCGAN is measured "
                             "after as many and after twice as many")
    parser.add_argument("--batchnorm-d", action="store_true",
                        help="the same protocol with the Structure-GAN's D the DCGAN D with BatchNorm (not the "
                             "authors'; the collapse diagnosis's run): its own section s2gan_batchnorm_d and cache")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--train-only", action="store_true", help="the fits, not the measures")
    parser.add_argument("--measure-now", action="store_true",
                        help="measure with the fits cached so far, the DCGAN at the checkpoints it has saved "
                             "(an unfinished DCGAN run: the section says so)")
    args = parser.parse_args()
    record = "s2gan_batchnorm_d" if args.batchnorm_d else "s2gan"
    cache = results_json(record)
    cache.parent.mkdir(parents=True, exist_ok=True)
    runs = load_runs(cache, empty={})
    stages = (load_recipe(*STRUCTURE)["max_steps"], load_recipe(*STYLE)["max_steps"])
    if args.iterations is not None:
        stages = (args.iterations, args.iterations)
    command = command_line(__file__, ([] if args.iterations is None else [f"--iterations={args.iterations}"])
                           + (["--batchnorm-d"] if args.batchnorm_d else []))
    if args.measure_now:
        runs = measure_now(runs, [stages[1], sum(stages)], command, record)
    elif not args.report_only:
        ends = [stages[1], sum(stages)]
        for key, wanted in (("structure", stages[0]), ("style", stages[1]), ("dcgan", ends[-1])):
            if key in runs and runs[key]["iterations"] != wanted:
                runs.pop(key)
                runs.pop("measures", None)
        missing = [k for k in ("structure", "style", "dcgan", "instrument") if k in runs
                   and not all(Path(p).is_file() for p in runs[k]["weights"].values())]
        if "measures" not in runs:  # to be measured again: a fit whose weights are gone is trained again
            for key in missing:
                del runs[key]
        jobs = [{"key": "dcgan", "ends": ends}, {"key": "style", "iterations": stages[1]},
                {"key": "structure", "iterations": stages[0]}, {"key": "instrument"}]
        train_missing([{**job, "record": record} for job in jobs], train_job, runs, cache, workers=args.workers)
        if args.train_only:
            return
        if "measures" not in runs:
            runs["measures"] = measure(runs, record)
            runs["measures"].update(machine=platform.machine(), cpus=os.cpu_count(), load=round(load_average()[0], 1))
        runs["command"] = command
        save_runs(runs, cache)
    text = section(runs, runs.get("command", command), record)
    replace_section(RESULTS_MD, record, text)
    print(text)


if __name__ == "__main__":
    main()
