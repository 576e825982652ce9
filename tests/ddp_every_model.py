"""Run by tests/test_core_ddp.py: every model (and the two test-only core models) trains a few
iterations under Lightning's DDP on 2 CPU processes (gloo), one fit after another in one job.

Rank 0 writes one line per model to the file named by argv[1]: the name, whether the weights
moved, and whether both ranks ended with the same weights (DDP averaged their gradients).
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import lightning as L
import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parent))
warnings.filterwarnings("ignore")

from test_core import RESUMABLE  # noqa: E402


def main(out: str, names: list[str]) -> None:
    lines = []
    for name in names:
        build, data = RESUMABLE[name]
        L.seed_everything(0)
        model = build()
        before = {k: v.detach().clone() for k, v in model.state_dict().items() if v.is_floating_point()}
        trainer = L.Trainer(
            max_steps=3, limit_train_batches=3, limit_val_batches=0, logger=False, enable_progress_bar=False,
            enable_model_summary=False, enable_checkpointing=False, accelerator="cpu", devices=2, strategy="ddp",
            default_root_dir=str(Path(out).parent / name),
        )
        trainer.fit(model, data())
        params = torch.cat([p.detach().flatten() for p in model.parameters()])
        gathered = [torch.zeros_like(params) for _ in range(dist.get_world_size())]
        dist.all_gather(gathered, params)
        moved = any(not torch.equal(v, model.state_dict()[k]) for k, v in before.items())
        lines.append({"name": name, "moved": moved, "ranks_equal": all(torch.equal(gathered[0], g) for g in gathered),
                      "global_step": trainer.global_step})
    if trainer.is_global_zero:
        Path(out).write_text("\n".join(json.dumps(line) for line in lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2].split(","))
