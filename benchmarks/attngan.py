"""AttnGAN's measured claims on CaptionedDigits: word attention inside its digit's box; R-precision vs StackGAN.

Published (Xu et al. 2018, "AttnGAN", section 5 and figures 4-5): the attention maps of the words put
each word where the generator draws what it names (shown qualitatively, no number); on CUB and COCO
AttnGAN's R-precision is far above StackGAN's (table 3, not comparable numbers here).

Protocol:

- **word attention** (two-digit scenes): AttnGAN's committed two-digit recipe
  (``experiments/attngan/captioned_digits_two.yaml``: CaptionedDigits ``digits_per_image: 2``, its DAMSM
  pre-trained on the two-digit captions) draws, for ``--num-eval`` held-out two-digit captions (seeded z,
  raw G in eval mode), the last stage's word-attention maps (one (h, w) map per word, G's attention at its
  last stage's input). For each digit word of a caption (``zero`` ... ``nine``; CaptionedDigits'
  ``word_digit`` says which digit it names) the share of the map's mass that falls inside that digit's
  box (the held-out scene's ink box; cells weighted by their overlap with the box) is compared with
  the box's share of the canvas (what uniform attention gives) and, as the shuffled control, with the
  same map's share inside the *other* digit's box. The colour words are measured the same way. The same
  measure on DAMSM's own word-region attention over the *real* held-out images checks the text-image
  model G is trained against.
- **R-precision** (one-digit scenes): AttnGAN's committed one-digit recipe
  (``experiments/attngan/captioned_digits.yaml``) against StackGAN **Stage I** (``experiments/stackgan/
  captioned_digits_stage1.yaml``, 32 px; no Stage II: CPU time), each drawing one image per held-out
  caption (seeded z, raw G); the judge is ``CaptionJudges.r_precision`` (gan_lightning.evaluation.captioned:
  a matcher trained on the held-out split only, never the training DAMSM or caption encoder; R = 1 among
  ``--candidates`` captions); AttnGAN's first stage (32 px) is scored too, and the real held-out images
  are the ceiling.

Training: one thread, seed 0, checkpoints every 100 iterations kept outside the repository
(``<cache>/benchmarks/attngan/<run>/``), so an interrupted run resumes where it stopped, and a later,
larger budget continues the same run. The section says each run's iterations against its recipe's.

    python benchmarks/attngan.py --train attngan_two [--iterations 3000]    # one run (start several at once)
    python benchmarks/attngan.py [--iterations attngan_two=3000,attngan_one=3000,stackgan_one=2000]
                                 [--num-eval 1000] [--candidates 100]           # evaluate and write the section

Evaluations are cached in ``benchmarks/attngan/results.json``; writes section ``attngan`` of
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from harness import (
    BENCHMARKS,
    RESULTS_MD,
    command_block,
    command_line,
    kept_checkpoints,
    load_line,
    load_recipe,
    load_runs,
    model_from_recipe,
    quiet_lightning,
    replace_section,
    save_runs,
)

OUT_DIR = BENCHMARKS / "attngan"
CACHE = OUT_DIR / "results.json"
SECTION = "attngan"
EVERY = 100  # iterations between kept checkpoints
#: run -> (model, recipe file)
RUNS = {"attngan_two": ("AttnGAN", "captioned_digits_two"), "attngan_one": ("AttnGAN", "captioned_digits"),
        "stackgan_one": ("StackGAN", "captioned_digits_stage1")}


def checkpoint_dir(run: str) -> Path:
    from gan_lightning.data.files import cache_dir

    return cache_dir() / "benchmarks" / "attngan" / run


def checkpoints(run: str) -> dict[int, Path]:
    """The kept checkpoints of ``run``: iteration -> file."""
    return kept_checkpoints(checkpoint_dir(run))


def caption_encoder_file(state: dict[str, Any]) -> str | None:
    """The cached ``caption_encoder_v*.pt`` whose text encoder a model's state dict (or checkpoint's) holds,
    ``None`` when the model has no caption encoder (AttnGAN: its DAMSM) or none of the cached files matches."""
    import torch

    from gan_lightning.pretrained import default_caption_encoder_path

    ours = {k[len("text_encoder."):]: v for k, v in state.items() if k.startswith("text_encoder.")}
    for path in sorted(default_caption_encoder_path().parent.glob("caption_encoder_v*.pt")):
        text = torch.load(path, map_location="cpu", weights_only=False)["text"]
        if text.keys() == ours.keys() and all(torch.equal(ours[k], v) for k, v in text.items()):
            return path.name
    return None


def check_encoder(run: str, checkpoint: Path) -> None:
    """A StackGAN run resumes only on the project's current caption encoder (a checkpoint carries its own:
    resuming one trained on another encoder would go on with that one)."""
    import torch

    from gan_lightning.pretrained import default_caption_encoder_path

    if RUNS[run][0] != "StackGAN":
        return
    found = caption_encoder_file(torch.load(checkpoint, map_location="cpu", weights_only=False)["state_dict"])
    if found != default_caption_encoder_path().name:
        raise SystemExit(f"{run}: {checkpoint} holds caption encoder {found or 'not one of the cached files'}, not "
                         f"{default_caption_encoder_path().name}: move {checkpoint.parent} aside to train it again")


def build(run: str, seed: int = 0):
    """(model, data) of ``run``'s recipe, seeded."""
    import lightning as L

    from gan_lightning.data import CaptionedDigits

    model_name, recipe_name = RUNS[run]
    recipe = load_recipe(model_name, recipe_name)
    data = CaptionedDigits(**recipe["data_args"])
    L.seed_everything(seed, verbose=False)
    model = model_from_recipe(model_name, recipe, data.data_shape)
    return model, data, recipe


def train(run: str, iterations: int) -> None:
    """Train ``run`` to ``iterations``, from its latest kept checkpoint below that if any; each kept
    checkpoint's CPU and wall seconds since this segment's start go to ``training_<run>.json``."""
    import lightning as L
    import torch
    from lightning.pytorch.callbacks import Callback, ModelCheckpoint

    torch.set_num_threads(1)
    quiet_lightning()
    done = {step: path for step, path in checkpoints(run).items() if step <= iterations}
    start = max(done, default=0)
    if start == iterations:
        print(f"{run}: {iterations} iterations already trained", flush=True)
        return
    if start:
        check_encoder(run, done[start])
    cpu, wall = time.process_time(), time.perf_counter()
    log_file = OUT_DIR / f"training_{run}.json"

    def record(step: int) -> None:
        log = load_runs(log_file, empty={})
        log.setdefault(run, []).append({"from": start, "to": step, "cpu_seconds": time.process_time() - cpu,
                                        "wall_seconds": time.perf_counter() - wall})
        save_runs(log, log_file)

    class Costs(Callback):
        def on_train_batch_end(self, trainer, *args) -> None:
            if trainer.global_step % EVERY == 0 or trainer.global_step == iterations:
                record(trainer.global_step)

    model, data, _ = build(run)
    folder = checkpoint_dir(run)
    folder.mkdir(parents=True, exist_ok=True)
    keep = ModelCheckpoint(dirpath=folder, filename="{step}", every_n_train_steps=EVERY, save_top_k=-1,
                           auto_insert_metric_name=True)
    trainer = L.Trainer(max_steps=iterations, logger=False, enable_checkpointing=True, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0, accelerator="cpu", devices=1,
                        callbacks=[keep, Costs()], default_root_dir=str(folder))
    trainer.fit(model, data, ckpt_path=str(done[start]) if start else None)
    last = folder / f"step={trainer.global_step}.ckpt"
    if not last.is_file():  # the checkpoint callback skips the run's last step
        trainer.save_checkpoint(last)
    print(f"{run}: {start} -> {trainer.global_step} iterations, {time.process_time() - cpu:.0f} CPU s", flush=True)


# ----------------------------------------------------------------------------- evaluation
def trained(run: str, iterations: int):
    """(model in eval mode, data, recipe) of ``run`` at its kept checkpoint of ``iterations``."""
    import torch

    path = checkpoints(run).get(iterations)
    if path is None:
        raise FileNotFoundError(f"{run}: no checkpoint at {iterations} iterations in {checkpoint_dir(run)} "
                                f"(kept: {sorted(checkpoints(run))}); train it: --train {run} --iterations {iterations}")
    model, data, recipe = build(run)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=False)["state_dict"])
    return model.eval(), data, recipe


def held_out(data, num: int, keys) -> dict[str, Any]:
    """``num`` held-out items (a seeded pick: the held-out indices run class by class), stacked by ``keys``."""
    import torch

    data.setup("fit")
    order = torch.randperm(len(data.heldout_set), generator=torch.Generator().manual_seed(0))  # every digit class
    items = [data.heldout_set[i] for i in sorted(order[:num].tolist())]
    return {key: torch.stack([item[key] for item in items]) for key in keys}


def box_weights(boxes, height: int, width: int):
    """(N, height, width): the share of each cell of an (height, width) grid over the canvas inside each box
    (N, 4: x0, y0, x1, y1 in [0, 1])."""
    import torch

    def overlap(low, high, cells):
        edges = torch.arange(cells + 1, dtype=torch.float32) / cells
        return (torch.minimum(high[:, None], edges[None, 1:]) - torch.maximum(low[:, None], edges[None, :-1])
                ).clamp_min(0.0) * cells

    return overlap(boxes[:, 1], boxes[:, 3], height)[:, :, None] * overlap(boxes[:, 0], boxes[:, 2], width)[:, None, :]


def box_shares(maps, captions, word_digit, boxes, words) -> dict[str, Any]:
    """For every word of ``words`` that names a digit (``word_digit`` >= 0): the share of its map's mass
    (maps (N, L, h, w), >= 0) inside its own digit's box and inside the other digit's box, and both boxes'
    shares of the canvas. Returns means and the share of words whose mass per area is larger in their own box."""
    import torch

    from gan_lightning.data.captions import VOCABULARY

    ids = torch.tensor([VOCABULARY.index(w) for w in words])
    h, w = maps.shape[-2:]
    weights = torch.stack([box_weights(boxes[:, k], h, w) for k in range(2)], 1)  # (N, 2, h, w)
    mass = maps.flatten(2).sum(2).clamp_min(1e-12)  # (N, L)
    inside = torch.einsum("nlhw,nkhw->nlk", maps, weights) / mass[..., None]  # (N, L, 2)
    area = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])  # (N, 2)
    chosen = torch.isin(captions, ids) & (word_digit >= 0) & (mass > 1e-12)
    rows, cols = chosen.nonzero(as_tuple=True)
    own_k = word_digit[rows, cols]
    own, other = inside[rows, cols, own_k], inside[rows, cols, 1 - own_k]
    own_area, other_area = area[rows, own_k], area[rows, 1 - own_k]
    denser = (own / own_area > other / other_area).float()
    difference = own / own_area - other / other_area  # per word: paired, the same map in both boxes

    def standard_error(values) -> float:
        return float(values.std() / len(values) ** 0.5) if len(values) > 1 else float("nan")

    return {"words": len(rows), "own": float(own.mean()), "own_area": float(own_area.mean()),
            "other": float(other.mean()), "other_area": float(other_area.mean()),
            "own_per_area": float((own / own_area).mean()), "own_per_area_se": standard_error(own / own_area),
            "other_per_area": float((other / other_area).mean()), "difference": float(difference.mean()),
            "difference_se": standard_error(difference), "denser_in_own": float(denser.mean())}


def damsm_maps(model, images, captions):
    """DAMSM's word-region attention (N, L, 8, 8) of each real image against its own caption (the frozen
    encoders G trained against; eq. 9 of the paper, ``gan_lightning.losses.damsm.region_context``)."""
    import torch

    from gan_lightning.losses.damsm import region_context

    with torch.no_grad():
        _, words, valid = model.encode(captions)
        regions, _ = model.image_encoder.eval()(images)
        maps = [region_context(words[i:i + 1], regions[i:i + 1], valid[i:i + 1], model.gammas[0])[1][0, 0]
                for i in range(len(images))]
    return torch.stack(maps).view(len(images), captions.size(1), *regions.shape[-2:])


def attention_job(iterations: int, num_eval: int) -> dict[str, Any]:
    import torch

    from gan_lightning.data.captions import COLOURS, DIGIT_WORDS

    torch.set_num_threads(1)
    model, data, recipe = trained("attngan_two", iterations)
    evaluation = held_out(data, num_eval, ("image", "caption", "boxes", "word_digit"))
    noise = model.sample_noise(len(evaluation["caption"]), rng=torch.Generator().manual_seed(1))
    images, maps = model.attention(evaluation["caption"], noise, use_ema=False)
    result = {"iterations": iterations, "recipe_iterations": recipe["max_steps"], "num_eval": len(images),
              "map_side": list(maps.shape[-2:])}
    real_maps = damsm_maps(model, evaluation["image"], evaluation["caption"])
    for name, words in (("digit", DIGIT_WORDS), ("colour", tuple(COLOURS))):
        result[f"g_{name}"] = box_shares(maps, evaluation["caption"], evaluation["word_digit"], evaluation["boxes"],
                                         words)
        result[f"damsm_{name}"] = box_shares(real_maps, evaluation["caption"], evaluation["word_digit"],
                                             evaluation["boxes"], words)
    result["picture"] = attention_picture(images[:8], maps[:8], evaluation, DIGIT_WORDS)
    return result


def attention_picture(images, maps, evaluation, digit_words) -> str:
    """Rows: the sample, the attention map of its first and second digit word (upsampled), the real scene."""
    import torch
    import torch.nn.functional as F
    from harness import save_grid

    from gan_lightning.data.captions import VOCABULARY

    ids = torch.tensor([VOCABULARY.index(w) for w in digit_words])
    tiles = []
    for n in range(len(images)):
        found = (torch.isin(evaluation["caption"][n], ids) & (evaluation["word_digit"][n] >= 0)).nonzero().flatten()
        row = [images[n]]
        for position in found[:2].tolist():
            heat = F.interpolate(maps[n, position][None, None], size=images.shape[-2:], mode="nearest")[0]
            row.append((heat / heat.max().clamp_min(1e-12)).mul(2).sub(1).expand(3, -1, -1))
        row += [torch.full_like(images[n], -1.0)] * (3 - len(row)) + [evaluation["image"][n]]
        tiles += row
    return save_grid(torch.stack(tiles), OUT_DIR / "attention.png", nrow=4)


def r_precision_job(run: str, iterations: int, num_eval: int, candidates: int) -> dict[str, Any]:
    import torch

    from gan_lightning.evaluation.captioned import CaptionJudges

    torch.set_num_threads(1)
    judges = CaptionJudges.load_or_fit(seed=0, image_size=64)
    model, data, recipe = trained(run, iterations)
    evaluation = held_out(data, num_eval, ("image", "caption"))
    noise = model.sample_noise(len(evaluation["caption"]), rng=torch.Generator().manual_seed(1))
    drawn = model.sample(noise=noise, conditions={"caption": evaluation["caption"]}, stages=True, use_ema=False)
    result = {"run": run, "iterations": iterations, "recipe_iterations": recipe["max_steps"],
              "num_eval": len(noise), "candidates": candidates, "batch_size": recipe["data_args"].get("batch_size"),
              "caption_encoder": caption_encoder_file(model.state_dict())}
    for k, images in enumerate(drawn):
        result[f"stage{k + 1}"] = {"side": images.size(-1),
                                   "r_precision": judges.r_precision(images, evaluation["caption"],
                                                                     candidates=candidates, seed=0)}
    return result


def real_r_precision(num_eval: int, candidates: int) -> dict[str, Any]:
    from gan_lightning.data import CaptionedDigits
    from gan_lightning.evaluation.captioned import CaptionJudges

    judges = CaptionJudges.load_or_fit(seed=0, image_size=64)
    evaluation = held_out(CaptionedDigits(**load_recipe("AttnGAN", "captioned_digits")["data_args"]), num_eval,
                          ("image", "caption"))
    return {"r_precision": judges.r_precision(evaluation["image"], evaluation["caption"], candidates=candidates,
                                              seed=0),
            "check": {k: float(v) for k, v in judges.check().items() if isinstance(v, (int, float))}}


def budgets(text: str) -> dict[str, int]:
    out = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        if name not in RUNS or not value.isdigit():
            raise SystemExit(f"--iterations: {part!r} is not run=iterations with run one of {', '.join(RUNS)}")
        out[name] = int(value)
    return out


# ----------------------------------------------------------------------------- report
def training_cost(run: str, iterations: int) -> dict[str, float]:
    """CPU and wall seconds of training ``run`` to ``iterations`` (the segments it was resumed through;
    each from the process start, set-up included)."""
    log = load_runs(OUT_DIR / f"training_{run}.json", empty={}).get(run, [])
    entry = next((e for e in reversed(log) if e["to"] == iterations), None)
    if entry is None:
        return {"cpu": float("nan"), "wall": float("nan")}
    before = training_cost(run, entry["from"]) if entry["from"] else {"cpu": 0.0, "wall": 0.0}
    return {"cpu": before["cpu"] + entry["cpu_seconds"], "wall": before["wall"] + entry["wall_seconds"]}


def budget_phrase(iterations: int, recipe: int) -> str:
    if iterations >= recipe:
        return f"{iterations} iterations (the recipe's {recipe})"
    return f"{iterations} iterations, **below the recipe's {recipe}** (the time this shared 2-core machine allowed)"


def attention_verdict(g: dict[str, float]) -> str:
    """Reached when a digit word's attention per area is above uniform (1) and above the other digit's box,
    each by more than twice its standard error over the words."""
    numbers = (f"per area {g['own_per_area']:.2f} in its own box (uniform: 1; twice the standard error "
               f"{2 * g['own_per_area_se']:.2f}), {g['other_per_area']:.2f} in the other digit's box, paired "
               f"difference {g['difference']:+.2f} (twice its standard error {2 * g['difference_se']:.2f}), denser in "
               f"its own box for {100 * g['denser_in_own']:.0f}% of {g['words']} words")
    if g["own_per_area"] - 1 > 2 * g["own_per_area_se"] and g["difference"] > 2 * g["difference_se"]:
        return f"**reached**: a digit word's attention falls inside its own digit's box more than uniform attention and more than inside the other digit's box ({numbers})"
    above_uniform = g["own_per_area"] - 1 > 2 * g["own_per_area_se"]
    above_other = g["difference"] > 2 * g["difference_se"]
    failed = " nor ".join(what for what, ok in (("more than uniform attention", above_uniform),
                                                ("more than inside the other digit's box", above_other)) if not ok)
    return f"**not reached**: a digit word's attention falls inside its own digit's box no {failed}, beyond the noise ({numbers})"


def r_precision_verdict(attn: float, stack: float, num: int, candidates: int) -> str:
    """Reached when AttnGAN's R-precision is above StackGAN's by more than twice the difference's binomial
    standard error (one seed each: the spread over images, not over seeds)."""
    noise = 2 * ((attn * (1 - attn) + stack * (1 - stack)) / num) ** 0.5
    numbers = (f"R-precision {attn:.3f} vs {stack:.3f}, difference {attn - stack:+.3f}, twice its binomial standard "
               f"error {noise:.3f} over {num} captions; chance {1 / candidates:.3f}; one seed each")
    if attn - stack > noise:
        return f"Verdict: **reached**: AttnGAN's 64 px images match their captions more often than StackGAN Stage I's ({numbers})."
    if stack - attn > noise:
        return f"Verdict: **not reached**: StackGAN Stage I's images match their captions more often ({numbers})."
    return f"Verdict: **not reached**: the difference is within the noise ({numbers})."


def report(results: dict[str, Any], plan: dict[str, int], args, command: str) -> str:
    lines = [("AttnGAN (Xu et al. 2018) on CaptionedDigits: where a word's attention falls on two-digit scenes, and "
              "R-precision against StackGAN on one-digit scenes. One thread, seed 0, raw G (no EMA) in eval mode, "
              "one seeded z per held-out caption.")]
    attention = results.get(f"attention/{plan.get('attngan_two')}/{args.num_eval}")
    if attention:
        cost = training_cost("attngan_two", attention["iterations"])
        lines += ["", ("**Word attention inside the digit's box** (two-digit scenes, "
                  "`experiments/attngan/captioned_digits_two.yaml`, "
                  f"{budget_phrase(attention['iterations'], attention['recipe_iterations'])}, "
                  f"{cost['cpu'] / 60:.1f} CPU-minutes of training, {cost['wall'] / 60:.0f} wall minutes on a shared "
                  f"machine; DAMSM pre-trained on the two-digit captions). {attention['num_eval']} held-out captions; "
                  f"G's last-stage word attention ({attention['map_side'][0]} x {attention['map_side'][1]} per word); "
                  "share of each word's attention mass inside its own digit's box, inside the other digit's box "
                  "(the shuffled control), and each box's share of the canvas (uniform attention); per area: the "
                  "share divided by the box's area (1: uniform)."), "",
                  ("| attention | words | own box: share | own box: area | per area | other box: share | "
                   "other box: area | per area | own - other per area (2 s.e.) | denser in own box |"),
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for key, label in (("g_digit", "G, digit words"), ("g_colour", "G, colour words"),
                           ("damsm_digit", "DAMSM on real images, digit words"),
                           ("damsm_colour", "DAMSM on real images, colour words")):
            r = attention[key]
            lines.append(f"| {label} | {r['words']} | {r['own']:.3f} | {r['own_area']:.3f} | {r['own_per_area']:.2f} "
                         f"| {r['other']:.3f} | {r['other_area']:.3f} | {r['other_per_area']:.2f} "
                         f"| {r['difference']:+.2f} ({2 * r['difference_se']:.2f}) | {100 * r['denser_in_own']:.0f}% |")
        damsm_digit, damsm_colour = attention["damsm_digit"], attention["damsm_colour"]
        lines += ["", (f"The DAMSM G is trained against, on the real held-out scenes: a colour word's attention is "
                       f"{damsm_colour['own_per_area']:.2f} x uniform inside its digit's box, a digit word's "
                       f"{damsm_digit['own_per_area']:.2f} x (paired difference with the other box "
                       f"{damsm_digit['difference']:+.2f}): the word-to-region signal of G's DAMSM loss is "
                       + ("one of colours, not of which digit is where." if damsm_digit["difference"]
                          <= 2 * damsm_digit["difference_se"] else "there for digit words too."))]
        lines += ["", f"Verdict (G's digit words): {attention_verdict(attention['g_digit'])}.",
                  (f"Pictures: `{attention['picture']}` (rows: sample, attention of its first and second digit word, "
                   "the real scene).")]
    rows = [results.get(f"rprecision/{run}/{plan.get(run)}/{args.num_eval}/{args.candidates}")
            for run in ("attngan_one", "stackgan_one")]
    real = results.get(f"rprecision/real/{args.num_eval}/{args.candidates}")
    if all(rows) and real:
        lines += ["", (f"**R-precision** (one-digit scenes, {rows[0]['num_eval']} held-out captions, R = 1 among "
                  f"{args.candidates} captions; judge: `CaptionJudges.r_precision`, a matcher trained on the held-out "
                  "split only, never the training DAMSM or caption encoder). StackGAN is **Stage I only** (32 px; "
                  "no Stage II was trained: CPU time)."), "",
                  "| model | images | iterations | batch | training CPU-min | R-precision |", "|---|---|---|---|---|---|"]
        for row, name in zip(rows, ("AttnGAN", "StackGAN Stage I")):
            cost = training_cost(row["run"], row["iterations"])
            for k in range(1, 3):
                stage = row.get(f"stage{k}")
                if stage:
                    what = f"stage {k} ({stage['side']} px)"
                    lines.append(f"| {name} | {what} | {budget_phrase(row['iterations'], row['recipe_iterations'])} | "
                                 f"{row.get('batch_size', '?')} | {cost['cpu'] / 60:.1f} | {stage['r_precision']:.3f} |")
        lines.append(f"| real held-out images (the ceiling) | 64 px | - | - | - | {real['r_precision']:.3f} |")
        if rows[0]["iterations"] == rows[1]["iterations"] and all(r.get("batch_size") for r in rows):
            lines += ["", (f"Both at {rows[0]['iterations']} iterations of their recipes' batches "
                           f"({rows[0]['batch_size']} and {rows[1]['batch_size']}: StackGAN Stage I saw "
                           f"{rows[1]['batch_size'] / rows[0]['batch_size']:.1f} x the images, each of its iterations "
                           "is cheaper).")]
        elif all(r.get("batch_size") for r in rows):
            seen = [r["iterations"] * r["batch_size"] for r in rows]
            lines += ["", (f"Iterations of their recipes' batches: AttnGAN {rows[0]['iterations']} x "
                           f"{rows[0]['batch_size']} = {seen[0]:,} images, StackGAN Stage I {rows[1]['iterations']} x "
                           f"{rows[1]['batch_size']} = {seen[1]:,} ({seen[1] / seen[0]:.1f} x AttnGAN's; each of its "
                           "iterations is cheaper).")]
        encoder = rows[1].get("caption_encoder")
        if encoder:
            aside = checkpoint_dir("stackgan_one").with_name("stackgan_one_v1_encoder")
            lines += ["", (f"StackGAN Stage I's caption encoder: `{encoder}` (the project's, as in "
                           "`benchmarks/stackgan.py`)." + (
                               " An earlier run on `caption_encoder_v1.pt` (the sentence loss alone), which this "
                               "section's earlier versions scored, is kept aside and not scored here "
                               f"(`<cache>/benchmarks/attngan/{aside.name}/`)." if aside.is_dir() else ""))]
        attn, stack = rows[0]["stage2"]["r_precision"], rows[1]["stage1"]["r_precision"]
        lines += ["", r_precision_verdict(attn, stack, rows[0]["num_eval"], args.candidates)]
        check = real["check"]
        quoted = ", ".join(f"{k} {check[k]:.3f}" for k in ("r_precision", "r_precision_shuffled",
                                                            "r_precision_training_split", "digits") if k in check)
        lines.append(f"The judges' own check (`CaptionJudges.check()`, real held-out images): {quoted}.")
    lines += ["", load_line(), ""]
    lines += command_block(command)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", choices=sorted(RUNS), help="train this run only (to --iterations)")
    parser.add_argument("--iterations", default="attngan_two=3000,attngan_one=3000,stackgan_one=2000",
                        help="with --train: a number; else run=iterations,... to evaluate")
    parser.add_argument("--num-eval", type=int, default=1000)
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--skip", default="", help="parts not measured this time: attention, rprecision")
    args = parser.parse_args()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    if args.train:
        train(args.train, int(args.iterations))
        return
    quiet_lightning()
    plan = budgets(args.iterations)
    results = load_runs(CACHE, empty={})
    jobs = []
    if "attention" not in args.skip and "attngan_two" in plan:
        jobs.append((f"attention/{plan['attngan_two']}/{args.num_eval}",
                     lambda: attention_job(plan["attngan_two"], args.num_eval)))
    if "rprecision" not in args.skip:
        jobs += [(f"rprecision/{run}/{plan[run]}/{args.num_eval}/{args.candidates}",
                  lambda run=run: r_precision_job(run, plan[run], args.num_eval, args.candidates))
                 for run in ("attngan_one", "stackgan_one") if run in plan]
        jobs.append((f"rprecision/real/{args.num_eval}/{args.candidates}",
                     lambda: real_r_precision(args.num_eval, args.candidates)))
    for key, job in jobs:
        if key not in results:
            started = time.perf_counter()
            results[key] = job()
            save_runs(results, CACHE)
            print(f"{key}: {time.perf_counter() - started:.0f} s", flush=True)
    text = report(results, plan, args, command_line(__file__))
    replace_section(RESULTS_MD, SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
