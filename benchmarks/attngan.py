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

Training: one thread, seed 0, checkpoints every 250 iterations kept outside the repository
(``<cache>/benchmarks/attngan/<run>/``), so an interrupted run resumes where it stopped, and a later,
larger budget continues the same run. The section says each run's iterations against its recipe's.

    python benchmarks/attngan.py --train attngan_two [--iterations 3000]    # one run (start several at once)
    python benchmarks/attngan.py [--iterations attngan_two=3000,attngan_one=3000,stackgan_one=2000]
                                 [--num-eval 500] [--candidates 100]           # evaluate and write the section

Evaluations are cached in ``benchmarks/attngan/results.json``; writes section ``attngan`` of
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from pathlib import Path
from typing import Any

from harness import (
    BENCHMARKS,
    RESULTS_MD,
    command_block,
    command_line,
    load_average,
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
EVERY = 250  # iterations between kept checkpoints
#: run -> (model, recipe file)
RUNS = {"attngan_two": ("AttnGAN", "captioned_digits_two"), "attngan_one": ("AttnGAN", "captioned_digits"),
        "stackgan_one": ("StackGAN", "captioned_digits_stage1")}


def checkpoint_dir(run: str) -> Path:
    from gan_lightning.data.files import cache_dir

    return cache_dir() / "benchmarks" / "attngan" / run


def checkpoints(run: str) -> dict[int, Path]:
    """The kept checkpoints of ``run``: iteration -> file."""
    found = {}
    for path in checkpoint_dir(run).glob("step=*.ckpt"):
        match = re.fullmatch(r"step=(\d+)\.ckpt", path.name)
        if match:
            found[int(match.group(1))] = path
    return found


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
    """Train ``run`` to ``iterations``, from its latest kept checkpoint below that if any."""
    import lightning as L
    import torch
    from lightning.pytorch.callbacks import ModelCheckpoint

    torch.set_num_threads(1)
    quiet_lightning()
    done = {step: path for step, path in checkpoints(run).items() if step <= iterations}
    start = max(done, default=0)
    if start == iterations:
        print(f"{run}: {iterations} iterations already trained", flush=True)
        return
    model, data, _ = build(run)
    folder = checkpoint_dir(run)
    folder.mkdir(parents=True, exist_ok=True)
    keep = ModelCheckpoint(dirpath=folder, filename="{step}", every_n_train_steps=EVERY, save_top_k=-1,
                           auto_insert_metric_name=True)
    trainer = L.Trainer(max_steps=iterations, logger=False, enable_checkpointing=True, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0, accelerator="cpu", devices=1,
                        callbacks=[keep], default_root_dir=str(folder))
    cpu, wall = time.process_time(), time.perf_counter()
    trainer.fit(model, data, ckpt_path=str(done[start]) if start else None)
    if trainer.global_step % EVERY:
        trainer.save_checkpoint(folder / f"step={trainer.global_step}.ckpt")
    log_file = OUT_DIR / f"training_{run}.json"
    log = load_runs(log_file, empty={})
    log.setdefault(run, []).append({"from": start, "to": trainer.global_step, "cpu_seconds": time.process_time() - cpu,
                                    "wall_seconds": time.perf_counter() - wall})
    save_runs(log, log_file)
    print(f"{run}: {start} -> {trainer.global_step} iterations, {time.process_time() - cpu:.0f} CPU s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", choices=sorted(RUNS), help="train this run only (to --iterations)")
    parser.add_argument("--iterations", default="attngan_two=3000,attngan_one=3000,stackgan_one=2000",
                        help="with --train: a number; else run=iterations,... to evaluate")
    parser.add_argument("--num-eval", type=int, default=500)
    parser.add_argument("--candidates", type=int, default=100)
    args = parser.parse_args()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    if args.train:
        train(args.train, int(args.iterations))
        return


if __name__ == "__main__":
    main()
