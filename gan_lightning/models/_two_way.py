"""What the two-generator translators with a ``generator`` ModuleDict ``{"ab", "ba"}`` share
(DiscoGAN, DualGAN): ``translate`` in both directions and the held-out cycle L1."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from gan_lightning.core import StepContext
from gan_lightning.nets.layers import eval_mode


class TwoGeneratorTranslation:
    """Mixin for a ``GANModule`` whose ``generator`` is ``nn.ModuleDict({"ab": G_AB, "ba": G_BA})``."""

    @torch.no_grad()
    def translate(self, images: torch.Tensor, direction: Literal["AtoB", "BtoA"] = "AtoB",
                  use_ema: bool = False) -> torch.Tensor:
        """G_AB(images) (``AtoB``) or G_BA(images) (``BtoA``), in eval mode; ``use_ema``: the EMA copy."""
        key = {"AtoB": "ab", "BtoA": "ba"}.get(direction)
        if key is None:
            raise ValueError(f"direction must be 'AtoB' or 'BtoA', got {direction!r}")
        nets = self.generator_ema if use_ema and self.generator_ema is not None else self.generator
        net = nets[key]
        with eval_mode(net):
            return net(images.to(self.device))

    def _heldout_step(self, batch, batch_idx: int, stage: str) -> None:
        """Cycle L1 on held-out images, A -> B -> A and B -> A -> B."""
        ctx = StepContext(batch)
        cycle_a = F.l1_loss(self.translate(self.translate(ctx.a), "BtoA"), ctx.a)
        cycle_b = F.l1_loss(self.translate(self.translate(ctx.b, "BtoA")), ctx.b)
        self.log_dict({f"{stage}/cycle_a": cycle_a, f"{stage}/cycle_b": cycle_b}, on_epoch=True,
                      batch_size=ctx.a.size(0))
