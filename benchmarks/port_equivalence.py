"""Does a change of the training core keep every model's training the same, bit for bit?

Trains every committed ``mnist5k`` and ``ring8`` experiment for ``--steps`` iterations (its
own recipe and seed; callbacks, logging and checkpoints off) in two source trees, each in a
fresh process, and compares the weights tensor by tensor. Identical weights after the first
G steps mean the new core runs the same computation in the same order with the same random
numbers, so every number a benchmark reports from those runs is reproduced.

    git worktree add /tmp/before <old commit>
    python benchmarks/port_equivalence.py --before /tmp/before [--steps 12] [--section NAME]

Writes its section of benchmarks/RESULTS.md with ``--section``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from harness import REPO, RESULTS_MD, command_line, replace_section
TRAIN = r'''
import importlib.util, os, sys, warnings, logging
warnings.filterwarnings("ignore")
logging.getLogger("lightning").setLevel(logging.ERROR)
import torch
# gan_lightning.callbacks of this tree (the editable install maps it to the installed checkout's callbacks/)
folder = os.path.join(os.getcwd(), "callbacks")
spec = importlib.util.spec_from_file_location("gan_lightning.callbacks", os.path.join(folder, "__init__.py"),
                                              submodule_search_locations=[folder])
callbacks = importlib.util.module_from_spec(spec)
sys.modules["gan_lightning.callbacks"] = callbacks
spec.loader.exec_module(callbacks)
from gan_lightning.cli import build_cli
config, steps, out = sys.argv[1], sys.argv[2], sys.argv[3]
args = ["--config", config, "--trainer.max_steps", steps, "--trainer.logger", "false", "--trainer.callbacks", "[]",
        "--trainer.enable_progress_bar", "false", "--trainer.check_val_every_n_epoch", "1000",
        "--trainer.enable_checkpointing", "false", "--trainer.default_root_dir", out + ".run"]
cli = build_cli(args, run=False)
cli.trainer.fit(cli.model, cli.datamodule)
torch.save({k: v.detach().cpu() for k, v in cli.model.state_dict().items()}, out)
'''


def train(tree: Path, config: Path, steps: int, out: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(tree), "WANDB_MODE": "offline"}
    subprocess.run([sys.executable, "-c", TRAIN, str(config.relative_to(REPO)), str(steps), str(out)],
                   cwd=tree, env=env, check=True, capture_output=True, timeout=1800)


def compare(before: dict, after: dict) -> tuple[int, int, float]:
    keys = [k for k in before if k in after and not k.startswith("generator_ema.")]
    differ = [k for k in keys if not torch.equal(before[k], after[k])]
    worst = max((float((before[k].float() - after[k].float()).abs().max()) for k in differ), default=0.0)
    return len(keys), len(differ), worst


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="a checkout of the old core")
    parser.add_argument("--steps", type=int, default=12, help="iterations per experiment (>= 5: past n_critic)")
    parser.add_argument("--section", default=None, help="write this section of benchmarks/RESULTS.md")
    parser.add_argument("--models", default=None, help="comma-separated experiment folders (default: all)")
    parser.add_argument("--every-config", action="store_true",
                        help="every experiments/*/*.yaml, not only the mnist5k and ring8 ones")
    args = parser.parse_args(argv)
    if args.every_config:
        configs = sorted(REPO.glob("experiments/*/*.yaml"))
    else:
        configs = sorted(REPO.glob("experiments/*/mnist5k.yaml")) + sorted(REPO.glob("experiments/*/ring8.yaml"))
    if args.models:
        configs = [c for c in configs if c.parent.name in args.models.lower().split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for config in configs:
            name = f"{config.parent.name}/{config.name}"
            old, new = Path(tmp) / "before.pt", Path(tmp) / "after.pt"
            try:
                train(args.before, REPO / config.relative_to(REPO), args.steps, old)
                train(REPO, config, args.steps, new)
            except subprocess.CalledProcessError as error:
                lines = (error.stderr or b"").decode(errors="replace").strip().splitlines()
                print(f"{name}: did not train ({lines[-1] if lines else error})", flush=True)
                continue
            compared, differ, worst = compare(torch.load(old), torch.load(new))
            rows.append((name, compared, differ, worst))
            print(f"{name}: {compared} tensors, {differ} differ (max abs difference {worst:.3g})", flush=True)
    equal = sum(1 for row in rows if row[2] == 0)
    print(f"bitwise equal: {equal} of {len(rows)} experiments")
    if args.section:
        lines = ["Written by `benchmarks/port_equivalence.py`; do not edit by hand.", "", "```",
                 command_line(__file__), "```", "",
                 f"{'Every' if not args.models else 'These'} "
                 f"{'experiment' if args.every_config else '`mnist5k` and `ring8` experiments'}, {args.steps} iterations, "
                 f"old core (`--before`) vs this tree:",
                 "", "| experiment | tensors | differ | max abs difference |", "|---|---:|---:|---:|"]
        lines += [f"| {n} | {c} | {d} | {w:.3g} |" for n, c, d, w in rows]
        lines += ["", f"**{equal} of {len(rows)} experiments train bitwise the same.**"]
        replace_section(RESULTS_MD, args.section, "\n".join(lines))


if __name__ == "__main__":
    main()
