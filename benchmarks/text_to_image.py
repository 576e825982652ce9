"""GAN-INT-CLS's four variants and TAC-GAN on CaptionedDigits: what the drawn images show of their captions.

Published (Reed et al. 2016, "Generative Adversarial Text to Image Synthesis", section 5 and tables
/ figures 3-4): on CUB and Oxford-102 the matching-aware discriminator (GAN-CLS) and the interpolated
captions (GAN-INT) each help, and GAN-INT-CLS, both, draws images that match their text best; on
unseen categories too (the held-out classes); interpolating between two captions at fixed noise
changes the drawn image smoothly from one to the other. Dash et al. 2017 (TAC-GAN) add an auxiliary
class head to GAN-CLS's D and report better class-discriminability than GAN-INT-CLS.

Protocol:

- data: CaptionedDigits as the committed recipes have it (``experiments/ganintcls/captioned_digits.yaml``,
  ``experiments/tacgan/captioned_digits.yaml``: batch 64, seed 0) at ``--image-size`` (the recipes' 64 px,
  or 32 px: the same images averaged down, a quarter of the CPU): held out, 10 % of the images and every
  image of 10 (digit, colour) combinations the training split never shows;
- models: GAN-INT-CLS's recipe with ``variant`` gan, gan-cls, gan-int, gan-int-cls, and TAC-GAN's recipe,
  each trained ``--iterations`` iterations (the same for all), one thread, seeded; G and D saved every
  ``--save-every`` iterations in ``benchmarks/text_to_image/checkpoints/`` (not committed) so that the
  evaluation runs apart from the training (and an interrupted run resumes);
- judges: ``gan_lightning.evaluation.captioned.CaptionJudges`` (independent of training: a digits CNN,
  pixel measurements of colour, background, thickness, slant and width, and an image/text matcher fitted
  on the held-out split, never the models' caption encoder); their scores of the real held-out images
  are each measure's check;
- measures, on every held-out image's caption (its first caption of epoch 0), one z each (seeded, the
  same z for every model), raw G in eval mode, seen and unseen combinations apart: the asked digit's
  accuracy, each attribute's accuracy, and R-precision (R = 1, 100 candidates);
- interpolation: pairs of held-out captions that differ in one word (thin vs bold, or one colour vs
  another: the same template with the attribute's word swapped), their embeddings mixed in
  ``INTERP_STEPS`` steps at a fixed z; along each path, the measured attribute (thickness in pixels, or the
  share of ink pixels nearer the second colour than the first); a path is monotone when no step goes down
  and it ends above its start; Spearman's rho of the measure against the step, averaged over the paths;
  the same measures on the real held-out images check them.

    python benchmarks/text_to_image.py [--iterations 1000] [--save-every 200] [--image-size 32] [--eval-step N]
                                       [--seeds 0] [--workers 2] [--only NAMES] [--train-only | --evaluate-only]
    python benchmarks/text_to_image.py --report-only     # rebuild the section from the caches

Writes section ``text_to_image`` of benchmarks/RESULTS.md; caches in benchmarks/text_to_image/
(``training.json``: the runs; ``results.json``: their measures), the interpolation picture
``benchmarks/text_to_image/interpolation.png``.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path
from typing import Any

from harness import (
    BENCHMARKS,
    RESULTS_MD,
    command_block,
    fit_exactly,
    load_line,
    load_recipe,
    load_runs,
    model_from_recipe,
    quiet_lightning,
    replace_section,
    save_runs,
    train_missing,
    training_command,
)

from gan_lightning.pretrained import CAPTION_ENCODER_FILENAME

OUT_DIR = BENCHMARKS / "text_to_image"
TRAINING = OUT_DIR / "training.json"
RESULTS = OUT_DIR / "results.json"
CHECKPOINTS = OUT_DIR / "checkpoints"
SECTION = "text_to_image"
VARIANTS = ("gan", "gan-cls", "gan-int", "gan-int-cls")
#: (run name, model, variant); TAC-GAN first: the longest run starts first in the pool
RUNS = (("TAC-GAN", "TACGAN", None), *((f"GANINTCLS {v}", "GANINTCLS", v) for v in reversed(VARIANTS)))


#: The caption encoder the first runs used: DAMSM's sentence loss alone (their keys and files carry no tag).
ENCODER_V1 = "caption_encoder_v1"
#: The runs' caption encoder by default: the project's (``pretrained.CAPTION_ENCODER_FILENAME``).
DEFAULT_ENCODER = Path(CAPTION_ENCODER_FILENAME).stem
ENCODER_WORDS = {ENCODER_V1: "v1, DAMSM's sentence loss alone",
                 "caption_encoder_v2": "v2, DAMSM's sentence loss and the class term against digit prototypes"}


def run_key(name: str, size: int, seed: int, iterations: int, encoder: str = ENCODER_V1) -> str:
    return f"{name}/{size}px/seed{seed}/it{iterations}" + ("" if encoder == ENCODER_V1 else f"/{encoder}")


def checkpoint_path(name: str, size: int, seed: int, iterations: int, step: int, encoder: str = ENCODER_V1) -> Path:
    """Where a run of ``iterations`` on caption encoder ``encoder`` saves G and D at ``step``."""
    tag = "" if encoder == ENCODER_V1 else f"_{encoder}"
    return CHECKPOINTS / f"{name.replace(' ', '_')}_{size}px_seed{seed}_it{iterations}{tag}_step{step}.pt"


def picture(name: str, encoder: str, iterations: int = 1000) -> str:
    """The file name of picture ``name`` (samples, interpolation) of the runs on ``encoder`` (and of
    ``iterations`` when not the first sections' 1,000, so that a longer set of runs keeps its own)."""
    stem = name if encoder == ENCODER_V1 else f"{name}_{encoder}"
    return f"{stem}.png" if iterations == 1000 else f"{stem}_it{iterations}.png"


def encoder_file(encoder: str) -> str:
    """The cached caption encoder file named ``encoder`` (``caption_encoder_v1`` / ``_v2``)."""
    from gan_lightning.data.files import cache_dir

    return str(cache_dir() / f"{encoder}.pt")


def captioned_data(model: str, size: int):
    """The recipe's CaptionedDigits at ``size`` px (64: the recipe's; 32: its images averaged down)."""
    from gan_lightning.data import CaptionedDigits

    return CaptionedDigits(**{**load_recipe(model, "captioned_digits")["data_args"], "image_size": size})


def build(model: str, variant: str | None, size: int, encoder: str = ENCODER_V1):
    recipe = load_recipe(model, "captioned_digits")
    data = captioned_data(model, size)
    overrides = {"variant": variant} if variant else {}
    overrides["text_encoder"] = encoder_file(encoder)
    return model_from_recipe(model, recipe, data.data_shape, **overrides), data


def saver(name: str, size: int, seed: int, iterations: int, every: int, encoder: str):
    """A callback that saves G's and D's weights (the caption encoder is the project's cached one) every
    ``every`` iterations, with the CPU seconds spent so far."""
    import lightning as L

    from gan_lightning.data.files import save_atomically

    class Save(L.Callback):
        def __init__(self) -> None:
            self.cpu, self.wall = time.process_time(), time.perf_counter()

        def on_train_batch_end(self, trainer, module, *args) -> None:
            step = trainer.global_step
            if step % every == 0:
                save_atomically({"generator": module.generator.state_dict(),
                                 "discriminator": module.discriminator.state_dict(), "step": step,
                                 "cpu_seconds": time.process_time() - self.cpu,
                                 "fit_seconds": time.perf_counter() - self.wall}, checkpoint_path(name, size, seed, iterations, step, encoder))

    return Save()


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    import torch

    quiet_lightning()
    torch.set_num_threads(1)
    torch.manual_seed(job["seed"])
    model, data = build(job["model"], job["variant"], job["image_size"], job["encoder"])
    cpu = time.process_time()
    callback = saver(job["name"], job["image_size"], job["seed"], job["iterations"], job["save_every"], job["encoder"])
    seconds = fit_exactly(model, data, job["iterations"], callbacks=[callback], label=job["key"])
    return {"key": job["key"], "name": job["name"], "model": job["model"], "variant": job["variant"],
            "seed": job["seed"], "image_size": job["image_size"], "iterations": job["iterations"], "fit_seconds": seconds,
            "encoder": job["encoder"],
            "cpu_seconds": time.process_time() - cpu,
            "recipe_iterations": load_recipe(job["model"], "captioned_digits")["max_steps"]}


def train(args) -> dict[str, Any]:
    from gan_lightning.pretrained import caption_encoder

    if args.encoder == DEFAULT_ENCODER:
        caption_encoder()  # trained once and cached before the runs (not in their CPU time)
    else:
        caption_encoder(encoder_file(args.encoder))  # one line when the file is missing
    CHECKPOINTS.mkdir(parents=True, exist_ok=True)
    jobs = [{"key": run_key(name, args.image_size, seed, args.iterations, args.encoder), "name": name, "model": model,
             "variant": variant, "seed": seed, "image_size": args.image_size, "iterations": args.iterations,
             "save_every": args.save_every, "encoder": args.encoder}
            for seed in args.seeds for name, model, variant in RUNS]
    if args.only:
        jobs = [job for job in jobs if job["name"] in args.only]
    runs = load_runs(TRAINING, empty={})
    for job in jobs:  # a run whose last checkpoint is saved is done (another process may have trained it)
        path = checkpoint_path(job["name"], job["image_size"], job["seed"], job["iterations"], job["iterations"],
                               job["encoder"])
        if job["key"] not in runs and path.is_file():
            import torch

            saved = torch.load(path, map_location="cpu", weights_only=True)
            runs[job["key"]] = {**{k: job[k] for k in ("key", "name", "model", "variant", "seed", "image_size",
                                                        "iterations", "encoder")},
                                "cpu_seconds": saved["cpu_seconds"], "fit_seconds": saved.get("fit_seconds"),
                                "recipe_iterations": load_recipe(job["model"], "captioned_digits")["max_steps"]}

    def save(results: dict[str, Any]) -> None:  # merged with what another process saved meanwhile
        save_runs({**load_runs(TRAINING, empty={}), **results}, TRAINING)

    save(runs)
    return train_missing(jobs, run_one, runs, save, workers=args.workers,
                         on_done=lambda run, s: print(f"{run['key']}: trained, {run['cpu_seconds']:.0f} CPU-s "
                                                      f"({s:.0f} s)", flush=True))


# ----------------------------------------------------------------------------- evaluation
ATTRIBUTES = ("thickness", "slant", "width", "colour", "background")  # CaptionedDigits' ``attributes`` order
MEASURES = ("digit", *ATTRIBUTES)
SUBSETS = (("all", "all held-out captions"), ("seen", "seen (digit, colour) combinations"),
           ("unseen", "unseen (digit, colour) combinations"))
CANDIDATES = 100
CHANCE_BAND = 0.2  # a digit accuracy below it: about the 0.1 of guessing among 10 digits
INTERP_STEPS = 8
INTERP_PATHS = 48  # per attribute and model
DIVERSITY_CAPTIONS, DIVERSITY_DRAWS = 32, 8
SATURATED = ("red", "green", "blue", "yellow", "magenta", "cyan", "orange")  # white ink has no chroma


def held_out(size: int) -> dict[str, Any]:
    """The held-out split as tensors: image, caption (its epoch-0 caption), label, attributes, unseen."""
    from harness import stack_split

    data = captioned_data("GANINTCLS", size)
    data.setup("fit")
    return stack_split(data.heldout_set, ["image", "caption", "label", "attributes", "unseen"])


def load_trained(name: str, model: str, variant: str | None, size: int, seed: int, iterations: int, step: int,
                 encoder: str = ENCODER_V1):
    """The run's model at ``step``: G and D from its checkpoint, the caption encoder it was trained with."""
    import torch

    from gan_lightning.pretrained import caption_encoder

    module, _ = build(model, variant, size, encoder)
    saved = torch.load(checkpoint_path(name, size, seed, iterations, step, encoder), map_location="cpu",
                       weights_only=True)
    module.generator.load_state_dict(saved["generator"])
    module.discriminator.load_state_dict(saved["discriminator"])
    module.text_encoder.load_state_dict(caption_encoder(encoder_file(encoder)).state_dict())
    module.text_encoder_ready.fill_(1)
    return module.eval(), saved


def draw(module, captions, seed: int):
    """Raw G's images (eval mode) for ``captions``, one seeded z each, in batches."""
    import torch

    z = module.sample_noise(captions.size(0), rng=torch.Generator().manual_seed(seed))
    return torch.cat([module.sample(noise=z[i:i + 256], use_ema=False, conditions={"caption": captions[i:i + 256]})
                      for i in range(0, captions.size(0), 256)])


def scores(judges, images, split) -> dict[str, Any]:
    """The judges' reading of ``images`` against the held-out captions they were drawn for: accuracy of
    the digit and of each attribute, R-precision, per subset; per-image correctness for paired tests."""
    import torch

    digits = judges.digits(images)
    attributes = judges.attributes(images)
    correct = {"digit": (digits == split["label"])}
    for i, name in enumerate(ATTRIBUTES):
        correct[name] = attributes[name] == split["attributes"][:, i]
    unseen = split["unseen"].bool()
    rows = {}
    for subset, _ in SUBSETS:
        mask = torch.ones_like(unseen) if subset == "all" else (unseen if subset == "unseen" else ~unseen)
        row = {name: float(value[mask].float().mean()) for name, value in correct.items()}
        row["caption_accuracy"] = sum(row[name] for name in MEASURES) / len(MEASURES)
        row["r_precision"] = float(judges.r_precision(images[mask], split["caption"][mask],
                                                      candidates=min(CANDIDATES, int(mask.sum())), seed=0))
        row["n"] = int(mask.sum())
        rows[subset] = row
    per_image = torch.stack([correct[name].float() for name in MEASURES], 1)
    counts = torch.bincount(digits, minlength=10)
    return {"rows": rows, "digit_correct": "".join(str(int(v)) for v in correct["digit"]),
            "correct_counts": "".join(str(int(v)) for v in per_image.sum(1)),
            "top_digit_share": float(counts.max()) / len(digits)}


def diversity(module, split) -> float:
    """Mean per-pixel standard deviation over ``DIVERSITY_DRAWS`` z at each of the first held-out captions."""

    captions = split["caption"][:DIVERSITY_CAPTIONS].repeat_interleave(DIVERSITY_DRAWS, 0)
    images = draw(module, captions, seed=3000)
    return float(images.view(DIVERSITY_CAPTIONS, DIVERSITY_DRAWS, -1).std(1).mean())


# ----------------------------------------------------------------------------- interpolation measures
def chroma(images):
    """Max minus min channel of images in [-1, 1], in [0, 1]: 0 on the grey textures and black, the ink's
    colour where the digit is (the backgrounds are grey, the inks saturated)."""
    rgb = images.add(1.0).div(2.0).clamp(0.0, 1.0)
    return rgb.amax(1) - rgb.amin(1)


def thickness_values(images, colour: str, long_side: float):
    """Stroke thickness (2 x ink area / skeleton length, ``measure_digits``) of the ink drawn in ``colour``,
    as the judges measure it before binning: the ink's alpha for that colour (``ink_alpha``), cropped to its
    box and scaled to ``long_side`` (``digits_28px``); NaN where nothing is inked."""
    import numpy as np
    import torch

    from gan_lightning.data.captions import COLOURS, measure_digits
    from gan_lightning.evaluation.captioned import digits_28px, ink_alpha

    colours = torch.full((images.size(0),), list(COLOURS).index(colour), dtype=torch.long)
    digits = digits_28px(ink_alpha(images, colours), long_side)
    thickness = measure_digits(digits)["thickness"]
    return np.where((digits > 127).flatten(1).sum(1).numpy() >= 4, thickness, np.nan)


def colour_share(images, first: str, second: str):
    """Per image, the share of its inked pixels (chroma above 0.25) nearer ``second``'s palette colour
    than ``first``'s (RGB distance); NaN where nothing is inked."""
    import numpy as np
    import torch

    from gan_lightning.data.captions import COLOURS

    rgb = images.add(1.0).div(2.0).clamp(0.0, 1.0)
    ink = chroma(images) > 0.25
    a, b = (torch.tensor(COLOURS[c]).view(1, 3, 1, 1) for c in (first, second))
    nearer = (rgb - b).norm(dim=1) < (rgb - a).norm(dim=1)
    count = ink.flatten(1).sum(1).float()
    share = (nearer & ink).flatten(1).sum(1).float() / count.clamp_min(1.0)
    return np.where(count.numpy() > 0, share.numpy(), np.nan)


THICKNESS_SYNONYMS = {"thin": ("thin", "slim", "light"), "bold": ("bold", "thick", "heavy")}
COLOUR_PAIR = ("red", "blue")


def with_word(words: list[str], choices, replacement: str) -> list[str] | None:
    """``words`` with the one word of ``choices`` replaced; None when there is none."""
    found = [i for i, w in enumerate(words) if w in choices]
    if len(found) != 1:
        return None
    return words[:found[0]] + [replacement] + words[found[0] + 1:]


def interpolation_pairs(split, attribute: str, count: int) -> list[dict[str, Any]]:
    """Up to ``count`` pairs of captions of held-out images that differ in one word: ``thickness`` (the
    caption's thickness word as thin, then as bold; saturated inks only) or ``colour`` (red, then blue;
    red or blue images only): the first ``count`` held-out images whose caption allows it."""
    from gan_lightning.data.captions import COLOURS, detokenize

    colours = list(COLOURS)
    pairs = []
    for index in range(split["caption"].size(0)):
        words = detokenize(split["caption"][index]).replace(",", " ,").split()
        colour = colours[int(split["attributes"][index, 3])]
        if attribute == "thickness" and colour in SATURATED:
            every = THICKNESS_SYNONYMS["thin"] + THICKNESS_SYNONYMS["bold"]
            ends = [with_word(words, every, "thin"), with_word(words, every, "bold")]
        elif attribute == "colour" and colour in COLOUR_PAIR:
            ends = [with_word(words, COLOUR_PAIR, c) for c in COLOUR_PAIR]
        else:
            continue
        if ends[0] is not None and ends[1] is not None:
            pairs.append({"index": index, "colour": colour, "texts": [" ".join(e) for e in ends]})
        if len(pairs) == count:
            break
    return pairs


def interpolate(module, pairs, seed: int):
    """(paths, steps, C, H, W): G's images along each pair's caption embeddings mixed in ``INTERP_STEPS``
    steps, one fixed z per path."""
    import torch

    from gan_lightning.data.captions import tokenize
    from gan_lightning.nets.layers import eval_mode

    first = module.embed(torch.stack([tokenize(p["texts"][0]) for p in pairs]))
    second = module.embed(torch.stack([tokenize(p["texts"][1]) for p in pairs]))
    weights = torch.linspace(0.0, 1.0, INTERP_STEPS).view(1, -1, 1)
    mixed = (first[:, None] * (1 - weights) + second[:, None] * weights).flatten(0, 1)
    z = module.sample_noise(len(pairs), rng=torch.Generator().manual_seed(seed)).repeat_interleave(INTERP_STEPS, 0)
    with torch.no_grad(), eval_mode(module.generator):
        images = module.generator(z, mixed)
    return images.view(len(pairs), INTERP_STEPS, *images.shape[1:])


def path_values(attribute: str, images, pair, long_side: float) -> list[float]:
    if attribute == "thickness":
        return [float(v) for v in thickness_values(images, pair["colour"], long_side)]
    return [float(v) for v in colour_share(images, *COLOUR_PAIR)]


def spearman(values: list[float]) -> float:
    """Spearman's rho of ``values`` against their step; NaN where a value is missing or all are equal."""
    import math

    from scipy.stats import spearmanr

    if any(math.isnan(v) for v in values) or len(set(values)) < 2:
        return math.nan
    return float(spearmanr(range(len(values)), values).statistic)


def interpolation(module, split, long_side: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per attribute: whether each path is monotone (a string of 0 / 1) and its rho (None where the measure
    is missing); and the images of the first path of each (the picture)."""
    import math

    out, firsts = {}, {}
    for attribute in ("thickness", "colour"):
        pairs = interpolation_pairs(split, attribute, INTERP_PATHS)
        paths = interpolate(module, pairs, seed=4000)
        values = [path_values(attribute, images, pair, long_side) for images, pair in zip(paths, pairs)]
        rhos = [spearman(row) for row in values]
        out[attribute] = {"monotone": "".join(str(int(monotone(row))) for row in values),
                          "rho": [None if math.isnan(r) else round(r, 4) for r in rhos]}
        firsts[attribute] = paths[0]
    return out, firsts


def real_checks(split, long_side: float) -> dict[str, Any]:
    """The interpolation measures on the real held-out images: thickness of thin- vs bold-captioned
    images (the share of (thin, bold) pairs where the bold one measures thicker), the blue share of red
    and of blue images."""
    import numpy as np

    from gan_lightning.data.captions import COLOURS

    colours = list(COLOURS)
    named = [colours[int(c)] for c in split["attributes"][:, 3]]
    thick = {0: [], 1: []}
    for index, colour in enumerate(named):
        if colour in SATURATED:
            value = thickness_values(split["image"][index:index + 1], colour, long_side)[0]
            if not np.isnan(value):
                thick[int(split["attributes"][index, 0])].append(value)
    thin, bold = np.array(thick[0]), np.array(thick[1])
    ordered = float((bold[None, :] > thin[:, None]).mean() + 0.5 * (bold[None, :] == thin[:, None]).mean())
    shares = {}
    for colour in COLOUR_PAIR:
        picked = [i for i, name in enumerate(named) if name == colour]
        shares[colour] = float(np.nanmean(colour_share(split["image"][picked], *COLOUR_PAIR)))
    return {"thin_mean": float(thin.mean()), "bold_mean": float(bold.mean()), "bold_thicker": ordered,
            "thin_n": len(thin), "bold_n": len(bold), "blue_share": shares}


def evaluate(args) -> dict[str, Any]:
    """Measures of every trained run at ``args.eval_step`` (cached by run and step), the real images'
    scores, the judges' own check, the pictures."""
    import torch
    from harness import save_grid

    from gan_lightning.evaluation.captioned import CaptionJudges

    torch.set_num_threads(1)
    results = load_runs(RESULTS, empty={})
    step = args.eval_step or args.iterations
    size = args.image_size
    split = held_out(size)
    judges = CaptionJudges.load_or_fit(seed=0, image_size=split["image"].size(-1))
    if f"real/{size}px" not in results:
        results[f"real/{size}px"] = {"scores": scores(judges, split["image"], split), "check": judges.check(),
                           "interpolation_check": real_checks(split, judges.long_side),
                           "unseen": "".join(str(int(v)) for v in split["unseen"])}
        save_runs(results, RESULTS)
    rows, pictures = [split["image"][:8]], []
    for seed in args.seeds:
        for name, model, variant in sorted(RUNS, key=lambda run: DISPLAY.index(run[0])):
            key = f"{run_key(name, size, seed, args.iterations, args.encoder)}/step{step}"
            if not checkpoint_path(name, size, seed, args.iterations, step, args.encoder).is_file():
                print(f"{key}: no checkpoint yet", flush=True)
                continue
            module, saved = load_trained(name, model, variant, size, seed, args.iterations, step, args.encoder)
            if "interpolation" not in results.get(key, {}):  # missing, or only the course's scores of a longer run
                started = time.perf_counter()
                images = draw(module, split["caption"], seed=1000 + seed)
                paths, firsts = interpolation(module, split, judges.long_side)
                results[key] = {"name": name, "seed": seed, "step": step, "iterations": args.iterations,
                                "train_cpu_seconds": saved["cpu_seconds"], "scores": scores(judges, images, split),
                                "diversity": diversity(module, split), "interpolation": paths,
                                "eval_seconds": time.perf_counter() - started}
                save_runs(results, RESULTS)
                print(f"{key}: evaluated", flush=True)
            else:
                _, firsts = interpolation(module, split, judges.long_side)
            if seed == args.seeds[0]:
                rows.append(draw(module, split["caption"][:8], seed=1000 + seed))
                pictures += [firsts["thickness"], firsts["colour"]]
            for earlier in range(args.save_every, step, args.save_every):  # the run's course: scores only
                key = f"{run_key(name, size, seed, args.iterations, args.encoder)}/step{earlier}"
                if key not in results and checkpoint_path(name, size, seed, args.iterations, earlier, args.encoder).is_file():
                    module, saved = load_trained(name, model, variant, size, seed, args.iterations, earlier, args.encoder)
                    measured = scores(judges, draw(module, split["caption"], seed=1000 + seed), split)
                    results[key] = {"name": name, "seed": seed, "step": earlier, "iterations": args.iterations,
                                    "train_cpu_seconds": saved["cpu_seconds"],
                                    "scores": {"rows": measured["rows"], "top_digit_share": measured["top_digit_share"]}}
                    save_runs(results, RESULTS)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    save_grid(torch.cat(rows), OUT_DIR / picture("samples", args.encoder, args.iterations), nrow=8)
    if pictures:
        save_grid(torch.cat(pictures), OUT_DIR / picture("interpolation", args.encoder, args.iterations), nrow=INTERP_STEPS)
    return results


# ----------------------------------------------------------------------------- report
LABELS = {"TAC-GAN": "TAC-GAN", **{f"GANINTCLS {v}": v.upper() for v in VARIANTS}}
CHECKED = ("digits", *ATTRIBUTES, "r_precision", "r_precision_shuffled")  # the judges' check quoted
DISPLAY = (*(f"GANINTCLS {v}" for v in VARIANTS), "TAC-GAN")  # the paper's order, then TAC-GAN
PAPER_ORDER = "GAN-INT-CLS best, GAN-CLS and GAN-INT next, GAN last (Reed et al. 2016, section 5 and figure 3)"


def monotone(values: list[float]) -> bool:
    """No step goes down and the last value is above the first (the asked direction)."""
    import math

    if any(math.isnan(v) for v in values):
        return False
    return all(b >= a for a, b in itertools.pairwise(values)) and values[-1] > values[0]


def paired_se(first: list[float], second: list[float], mask: list[bool]) -> float:
    """Standard error of the mean per-image difference of two models' scores (the same captions)."""
    import statistics

    diffs = [a - b for a, b, keep in zip(first, second, mask) if keep]
    return statistics.stdev(diffs) / len(diffs) ** 0.5 if len(diffs) > 1 else float("nan")


def ranked(runs: dict[str, dict[str, Any]], subset: str, measure: str) -> list[str]:
    names = [n for n in runs if n != "TAC-GAN"]
    return sorted(names, key=lambda n: -runs[n]["scores"]["rows"][subset][measure])


def tacgan_recipe_note(encoder: str) -> str:
    """Which TAC-GAN recipe the section's TAC-GAN row was trained with: the runs on caption encoder v1 all
    predate the fix of its G updates per D update (``gan_lightning/models/tacgan.py``'s docstring)."""
    if encoder == ENCODER_V1:
        return ("TAC-GAN's row predates the fix of its CPU recipe: trained with the authors' two G updates per D "
                "update, which collapse G at the recipe's widths 32 to one texture for every caption "
                "(`gan_lightning/models/tacgan.py`); section `text_to_image_v2` has TAC-GAN after the fix.")
    g_steps = load_recipe("TACGAN", "captioned_digits")["init_args"]["g_steps"]
    return (f"TAC-GAN's recipe updates G {'once' if g_steps == 1 else f'{g_steps} times'} per D update (`g_steps` "
            f"{g_steps}); the authors' two G updates per D update collapse G at the recipe's widths 32 (theirs: 64) to "
            "one texture for every caption (`gan_lightning/models/tacgan.py`; this section's TAC-GAN row before "
            "the fix, in git history).")


def short_budget_reason(results: dict[str, Any], args, recipe: int) -> str:
    """Why a section's runs are shorter than the recipe's: the same runs at the recipe's budget are in the cache
    (reported apart), or this encoder is no longer the default one, or no time was left for them."""
    seed = args.seeds[0]
    if all(f"{run_key(name, args.image_size, seed, recipe, args.encoder)}/step{recipe}" in results for name in DISPLAY):
        return (f"a shorter run kept for comparison: the same runs at the recipe's {recipe} iterations are reported "
                f"in a section of their own, `--iterations {recipe}` in its command")
    if args.encoder != DEFAULT_ENCODER:
        return (f"not rerun at the recipe's budget: this caption encoder is no longer the default one "
                f"(the default `--encoder` is {DEFAULT_ENCODER})")
    return "the shared 2-core CPU and the session's time allowed no more"


def report(results: dict[str, Any], args, command: str) -> str:
    import math
    import statistics

    from harness import paired_comparison

    step = args.eval_step or args.iterations
    seed = args.seeds[0]
    runs = {name: results[key] for name in DISPLAY
            if (key := f"{run_key(name, args.image_size, seed, args.iterations, args.encoder)}/step{step}") in results}
    real = results.get(f"real/{args.image_size}px")
    if real is None or not runs:
        return "No run evaluated yet: run `python benchmarks/text_to_image.py` first."
    recipe = load_recipe("GANINTCLS", "captioned_digits")["max_steps"]
    budget = (f"{args.iterations} iterations each, the recipes' budget" if args.iterations == recipe else
              f"{args.iterations} iterations each, **below the recipe's budget** of {recipe} iterations "
              f"({short_budget_reason(results, args, recipe)})")
    if step != args.iterations:
        budget += f", evaluated at iteration {step} (the checkpoint saved then)"
    cpu = sum(run["train_cpu_seconds"] for run in runs.values()) / 60
    size_text = ("64 px, the recipes' size" if args.image_size == 64 else
                 f"{args.image_size} px (the recipes' 64 px images averaged down, as CaptionedDigits makes them: a "
                 f"quarter of the pixels, so that the five runs fit this CPU)")
    n = {subset: real["scores"]["rows"][subset]["n"] for subset, _ in SUBSETS}
    lines = [
        (f"GAN-INT-CLS (Reed et al. 2016) in its four variants (GAN, GAN-CLS: matching-aware D, GAN-INT: "
         f"interpolated captions, GAN-INT-CLS: both) and TAC-GAN (Dash et al. 2017: GAN-CLS with an auxiliary "
         f"class head) on CaptionedDigits at {size_text}, the committed recipes (`experiments/ganintcls/captioned_digits.yaml`, "
         f"`experiments/tacgan/captioned_digits.yaml`) at {budget}, on caption encoder {ENCODER_WORDS[args.encoder]} "
         f"(`--encoder {args.encoder}`); batch 64, seed {seed}, one thread, "
         f"{cpu:.1f} CPU-minutes of training in all. Each of the {n['all']} held-out images' captions "
         f"({n['seen']} of seen (digit, colour) combinations, {n['unseen']} of the 10 combinations training never "
         f"shows) drawn once (raw G, eval mode, the same z for every model), read by the independent judges "
         f"(`gan_lightning.evaluation.captioned.CaptionJudges`: a digits CNN, pixel measurements, and an "
         f"image/text matcher fitted on the held-out split for R-precision, R = 1 among {CANDIDATES} captions)."),
        "",
        "The judges' own check (their accuracy on real held-out images): "
        + ", ".join(f"{k} {real['check'][k]:.3f}" for k in CHECKED if k in real["check"])
        + " (`python benchmarks/captioned_judges.py` writes them all, seen and unseen apart).",
        "",
    ]
    header = ("| images | asked digit | " + " | ".join(ATTRIBUTES) + " | caption accuracy (mean of the 6) | "
              "R-precision |")
    for subset, title in SUBSETS:
        lines += [f"**{title.capitalize()}** ({n[subset]} captions):", "", header, "|---" * (len(MEASURES) + 3) + "|"]
        for name, row in [("real held-out images (the measures' check)", real["scores"]["rows"][subset]),
                          *((LABELS[k], v["scores"]["rows"][subset]) for k, v in runs.items())]:
            cells = " | ".join(f"{row[m]:.3f}" for m in MEASURES)
            lines.append(f"| {name} | {cells} | {row['caption_accuracy']:.3f} | {row['r_precision']:.3f} |")
        lines.append("")
    # ranking of the four variants
    variants = [k for k in runs if k != "TAC-GAN"]
    at_chance = all(run["scores"]["rows"]["all"]["digit"] < CHANCE_BAND for run in runs.values())
    top_r = max(run["scores"]["rows"][subset]["r_precision"] for run in runs.values() for subset, _ in SUBSETS)
    unseen = [u == "1" for u in real["unseen"]]
    masks = {"all": [True] * len(unseen), "seen": [not u for u in unseen], "unseen": unseen}
    verdict_parts = []
    if len(variants) == len(VARIANTS):
        lines.append(f"Ranking of the four variants (the paper's: {PAPER_ORDER}):")
        lines.append("")
        for subset, title in SUBSETS:
            by_acc, by_r = ranked(runs, subset, "caption_accuracy"), ranked(runs, subset, "r_precision")
            first, second = by_acc[0], by_acc[1]
            gap = (runs[first]["scores"]["rows"][subset]["caption_accuracy"]
                   - runs[second]["scores"]["rows"][subset]["caption_accuracy"])
            se = paired_se([int(c) for c in runs[first]["scores"]["correct_counts"]],
                           [int(c) for c in runs[second]["scores"]["correct_counts"]], masks[subset]) / len(MEASURES)
            r1, r2 = (runs[k]["scores"]["rows"][subset]["r_precision"] for k in by_r[:2])
            r_se = math.sqrt((r1 * (1 - r1) + r2 * (1 - r2)) / n[subset])
            lines.append(
                f"- {title}: caption accuracy {' > '.join(LABELS[k] for k in by_acc)} (first over second "
                f"{gap:+.3f}, paired standard error {se:.3f}); R-precision {' > '.join(LABELS[k] for k in by_r)} "
                f"(first over second {r1 - r2:+.3f}, standard error {r_se:.3f}).")
            verdict_parts.append((subset, by_acc[0], gap > 2 * se, by_r[0], r1 - r2 > 2 * r_se))
        lines.append("")
        best = "GANINTCLS gan-int-cls"
        first_all = next(p for p in verdict_parts if p[0] == "all")
        acc_first, r_first = first_all[1] == best, first_all[3] == best
        acc_clear, r_clear = acc_first and first_all[2], r_first and first_all[4]
        if acc_clear and r_clear:
            outcome = ("**reached**: GAN-INT-CLS ranks first on caption accuracy and on R-precision over all "
                       "held-out captions, each by more than twice its standard error")
        elif acc_clear or r_clear:
            outcome = (f"**reached on {'caption accuracy' if acc_clear else 'retrieval'} only**"
                       + ("" if acc_clear else " (R-precision is retrieval)") + ": GAN-INT-CLS ranks "
                       f"first on it over all held-out captions by more than twice the standard error; on "
                       f"{'R-precision' if acc_clear else 'caption accuracy'} "
                       + ("it is first too, but by less than twice the standard error"
                          if (r_first if acc_clear else acc_first) else
                          f"the first is {LABELS[first_all[3] if acc_clear else first_all[1]]}"))
        elif acc_first or r_first:
            outcome = (f"**not reached**: GAN-INT-CLS ranks first on "
                       f"{'caption accuracy and R-precision' if acc_first and r_first else 'caption accuracy' if acc_first else 'R-precision'}"
                       f" over all held-out captions, but by less than twice the standard error")
        else:
            outcome = (f"**not reached**: over all held-out captions {LABELS[first_all[1]]} ranks first on caption "
                       f"accuracy and {LABELS[first_all[3]]} on R-precision")
        unseen_part = next(p for p in verdict_parts if p[0] == "unseen")
        lines.append(f"Verdict on the paper's ordering: {outcome}; on the unseen combinations the first is "
                     f"{LABELS[unseen_part[1]]} (caption accuracy) and {LABELS[unseen_part[3]]} (R-precision). "
                     f"One seed: the standard errors are those of the held-out captions, not of training."
                     + (" At this budget every model draws the asked digit at chance (below the check's "
                        f"{CHANCE_BAND}): the ranking rests on the attributes drawn before the digit's shape, "
                        "colour above all." if at_chance else "")
                     + (f" Every model's R-precision is at most {top_r:.3f} (chance: {1 / CANDIDATES:.3f}; real "
                        f"images: {real['scores']['rows']['all']['r_precision']:.3f}): the matcher finds little of "
                        "any caption in these images." if top_r < 0.1 else ""))
        lines.append("")
    # TAC-GAN vs GAN-INT-CLS on the asked digit
    if "TAC-GAN" in runs and "GANINTCLS gan-int-cls" in runs:
        tac, gic = runs["TAC-GAN"]["scores"], runs["GANINTCLS gan-int-cls"]["scores"]
        test = paired_comparison(torch_bool(tac["digit_correct"]), torch_bool(gic["digit_correct"]))
        ta, ga = tac["rows"]["all"]["digit"], gic["rows"]["all"]["digit"]
        significant = ta > ga and test["p_value"] < 0.05
        # "more often" must mean drawing the digit, not a difference between two guesses: TAC-GAN above chance too
        if significant and ta >= CHANCE_BAND:
            verdict = "**reached**: the auxiliary class head draws the asked digit more often."
        else:
            verdict = ("**not reached**: TAC-GAN does not draw the asked digit "
                       + ("above chance, whatever the paired difference" if significant else "significantly more often")
                       + (f"; both are at chance (below {CHANCE_BAND}): at this budget the comparison says nothing "
                          "of what the class head adds." if max(ta, ga) < CHANCE_BAND else "."))
        base = ""
        if "GANINTCLS gan-cls" in runs:  # TAC-GAN's own base: GAN-CLS's D without the class head
            cls = runs["GANINTCLS gan-cls"]["scores"]
            against = paired_comparison(torch_bool(tac["digit_correct"]), torch_bool(cls["digit_correct"]))
            base = (f"; against GAN-CLS (the same D without the class head) {ta:.3f} vs "
                    f"{cls['rows']['all']['digit']:.3f}, McNemar p = {against['p_value']:.3g}")
        lines.append(
            f"TAC-GAN vs GAN-INT-CLS on the asked digit (all held-out captions): {ta:.3f} vs {ga:.3f} "
            f"(TAC-GAN alone right on {test['first_only']}, GAN-INT-CLS alone on {test['second_only']}, McNemar "
            f"p = {test['p_value']:.3g}{base}). Verdict: {verdict}")
        lines.append("")
    if "TAC-GAN" in runs:
        lines += [tacgan_recipe_note(args.encoder), ""]
    # suspects: chance, collapse
    lines += [("Checks for a defect (a digit at chance, one output for all captions): the asked digit below "
              f"{CHANCE_BAND} is about chance (1 in 10); the share of the most frequent judged digit (1.0: one "
              "digit for every caption); diversity at fixed text (mean per-pixel standard deviation over "
              f"{DIVERSITY_DRAWS} z at each of {DIVERSITY_CAPTIONS} captions, images in [-1, 1])."), "",
              "| model | asked digit | most frequent judged digit's share | diversity at fixed text |",
              "|---|---|---|---|",
              (f"| real held-out images | {real['scores']['rows']['all']['digit']:.3f} | "
              f"{real['scores']['top_digit_share']:.3f} | - |")]
    for name, run in runs.items():
        lines.append(f"| {LABELS[name]} | {run['scores']['rows']['all']['digit']:.3f} | "
                     f"{run['scores']['top_digit_share']:.3f} | {run['diversity']:.3f} |")
    lines.append("")
    if at_chance:
        share = min(run["scores"]["top_digit_share"] for run in runs.values())
        lines += [("Every model draws the asked digit at chance and its images are mostly judged one digit (that "
                   f"digit's share {share:.3f} or more, the table), from "
                   "the first checkpoint to the last (the runs' course below), while its colour accuracy rises: the "
                   "runs learn the caption's colour first and have formed no digit shape yet at this budget (the "
                   "pictures). Not a defect of the losses, as far as compared: against the authors' "
                   "`main_cls_int.lua` (reedscot/icml2016), D's loss is real + cls_weight x wrong + (1 - cls_weight) "
                   "x fake (binary cross-entropy), G's is the cross-entropy of its fakes on 1.5 x batch with the "
                   "midpoints of the batch's two halves weighted interp_weight (averaged over all 1.5 x batch), "
                   "fresh noise for G: the same here; the wrong image is the batch's next one, not one of another "
                   "class (ganintcls.py says so)."), ""]
    # the runs' course
    steps = list(range(args.save_every, step + 1, args.save_every))
    course = {name: {s: results.get(f"{run_key(name, args.image_size, seed, args.iterations, args.encoder)}/step{s}") for s in steps}
              for name in runs}
    if len(steps) > 1:
        lines += [(f"The runs' course (all held-out captions; the checkpoints saved every {args.save_every} iterations): "
                  "caption accuracy, and in brackets colour accuracy / asked digit."), "",
                  "| model | " + " | ".join(f"iteration {s}" for s in steps) + " |", "|---" * (len(steps) + 1) + "|"]
        for name, by_step in course.items():
            cells = [(f"{r['scores']['rows']['all']['caption_accuracy']:.3f} ({r['scores']['rows']['all']['colour']:.3f}"
                      f" / {r['scores']['rows']['all']['digit']:.3f})") if r else "-" for r in by_step.values()]
            lines.append(f"| {LABELS[name]} | " + " | ".join(cells) + " |")
        lines.append("")
    # interpolation
    check = real["interpolation_check"]
    lines += [
        (f"Interpolation: for held-out captions that differ in one word (the caption's thickness word as thin, then "
         f"bold; or its colour red, then blue), the two caption embeddings mixed in {INTERP_STEPS} steps at one "
         f"fixed z; along each path, the measured thickness (the judges' thickness before binning: 2 x ink area / "
         f"skeleton length of the asked colour's ink alpha, scaled as a 28 px digit) or the share of inked pixels "
         f"(chroma above 0.25) nearer blue than red. A path is monotone when no step goes down and it ends above "
         f"where it starts; rho: Spearman's correlation of the measure with the step, averaged over the paths "
         f"where the measure exists."),
        "",
        (f"The measures' check on real held-out images: thickness {check['thin_mean']:.2f} px on {check['thin_n']} "
         f"thin-captioned vs {check['bold_mean']:.2f} on {check['bold_n']} bold-captioned images (a bold image "
         f"measures thicker than a thin one in {check['bold_thicker']:.0%} of pairs); share of ink nearer blue: "
         f"{check['blue_share']['red']:.3f} on red images, {check['blue_share']['blue']:.3f} on blue ones."),
        "",
        "| model | thin to bold: paths | monotone | mean rho | red to blue: paths | monotone | mean rho |",
        "|---|---|---|---|---|---|---|",
    ]
    shares = {}
    for name, run in runs.items():
        cells = []
        for attribute in ("thickness", "colour"):
            flags, rhos = run["interpolation"][attribute]["monotone"], run["interpolation"][attribute]["rho"]
            share = flags.count("1") / len(flags)
            valid = [r for r in rhos if r is not None]
            mean_rho = statistics.fmean(valid) if valid else math.nan
            shares[(name, attribute)] = (share, mean_rho)
            cells += [str(len(flags)), f"{share:.2f}", f"{mean_rho:+.2f} ({len(valid)} measured)"]
        lines.append(f"| {LABELS[name]} | " + " | ".join(cells) + " |")
    lines.append("")
    if ("GANINTCLS gan-int-cls", "thickness") in shares:
        thick, colour = shares[("GANINTCLS gan-int-cls", "thickness")], shares[("GANINTCLS gan-int-cls", "colour")]
        held = [a for a, (share, _) in (("thin to bold", thick), ("red to blue", colour)) if share >= 0.5]
        outcome = ("**reached**" if len(held) == 2 else f"**reached on {held[0]} only**" if held else "**not reached**")
        lines.append(
            f"Verdict on the interpolation (GAN-INT-CLS; the claim holds for an attribute where at least half its "
            f"paths are monotone): "
            f"{outcome}: thin to bold monotone on {thick[0]:.0%} of paths (mean rho {thick[1]:+.2f}), red to blue "
            f"on {colour[0]:.0%} (mean rho {colour[1]:+.2f}).")
        lines.append("")
    lines += [(f"Pictures: `benchmarks/text_to_image/{picture('samples', args.encoder, args.iterations)}` (the first 8 held-out captions: real, then each "
              f"model in the order {', '.join(LABELS[k] for k in runs)}); "
              f"`benchmarks/text_to_image/{picture('interpolation', args.encoder, args.iterations)}` (per model, in that order, its first thin-to-bold path "
              f"then its first red-to-blue path, {INTERP_STEPS} steps per row)."), ""]
    lines += [load_line(), ""]
    lines += command_block(command)
    return "\n".join(lines)


def torch_bool(flags: str):
    """A string of 0 / 1 (as the cache keeps per-image flags) as a bool tensor."""
    import torch

    return torch.tensor([c == "1" for c in flags], dtype=torch.bool)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--save-every", type=int, default=200)
    parser.add_argument("--image-size", type=int, default=32, choices=(32, 64),
                        help="CaptionedDigits' canvas (the recipes': 64; 32 costs a quarter of the pixels)")
    parser.add_argument("--seeds", type=lambda text: tuple(int(s) for s in text.split(",")), default=(0,))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--eval-step", type=int, default=None,
                        help="evaluate the checkpoints saved at this iteration (default: the last)")
    parser.add_argument("--only", type=lambda text: tuple(t.strip() for t in text.split(",")), default=(),
                        help="train only these runs (names as 'GANINTCLS gan', 'TAC-GAN'; comma-separated)")
    parser.add_argument("--train-only", action="store_true")
    parser.add_argument("--evaluate-only", action="store_true",
                        help="evaluate the checkpoints already saved, train nothing (the training may still run)")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--section", default=SECTION,
                        help="the RESULTS.md section written (default %(default)s; another keeps a second set of runs)")
    parser.add_argument("--encoder", default=DEFAULT_ENCODER, choices=tuple(ENCODER_WORDS),
                        help="the runs' caption encoder, a cached file (default: the project's, %(default)s)")
    args = parser.parse_args()
    quiet_lightning()
    if not (args.report_only or args.evaluate_only):
        train(args)
    if args.train_only:
        return
    results = load_runs(RESULTS, empty={}) if args.report_only else evaluate(args)
    command = training_command(__file__, report_switches=("--report-only", "--evaluate-only"))
    text = report(results, args, command)
    replace_section(RESULTS_MD, args.section, text)
    print(text)


if __name__ == "__main__":
    main()
