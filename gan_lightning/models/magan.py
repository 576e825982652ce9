"""MAGAN: Wang, Cully, Chang & Demiris 2017, "MAGAN: Margin Adaptation for Generative Adversarial Networks".

Recipe: EBGAN's game (``models.ebgan``: D an autoencoder whose reconstruction error is the energy,
D minimises E D(x) + E relu(m - D(G(z))), G minimises E D(G(z))) with a margin m that adapts:

1. D is pre-trained alone as an autoencoder of the real data (m = 0: the hinge term is 0, G does not
   train) for ``pretrain_epochs`` epochs; m is then set to the expected real energy, the mean of the
   last pre-training epoch's batch-mean real energies.
2. Every later epoch sums the batch-mean real and fake energies, S_real and S_fake; at its end the margin
   becomes S_real / steps when S_real / steps < m, S_real < S_fake and S_fake grew since the previous epoch
   (the first adversarial epoch only records S_fake); else it stays (``losses.magan_margin_update``).
   The margin only ever shrinks.

Defaults from the authors' code (github.com/RuohanW/magan, ``gan_release.py``, ``magan_train``): 2
pre-training epochs; the margin rule above (its ``margin_update`` and the ``t > pre_fake_sum`` check; the
paper's Algorithm 1 could not be read from this machine); no pull-away term; one D step per G step;
no BatchNorm in D (``d_norm="none"``: its ``conv_ae`` for CIFAR-10 and CelebA has strided
convolutions and LeakyReLU only, its MNIST D is an MLP autoencoder, 256-256 ReLU). Differences:
Adam lr 5e-4, betas (0.5, 0.999) where the authors use Adamax with the same lr and beta1 (the core has
no Adamax); the energy is EBGAN's mean (not summed) squared error per sample, which rescales the margin
with it; both sums are taken in D's step (the authors add the fake energy in G's step, after D's
update); the initial margin is measured while D trains in its last pre-training epoch (the authors
measure it in one more pass without training). An "epoch" is ``epoch_steps`` iterations (default: one
epoch of the training data), so short runs on large data sets can use shorter windows (the ring8 config:
100 iterations, a tenth of its epoch). G: the DCGAN generator or an MLP; D: ``nets.build_autoencoder``
as EBGAN's.

On the 2-D mixtures (``experiments/magan/ring8.yaml``, ``grid25.yaml``) the autoencoder reconstructs the data
points almost perfectly, so the margin this rule sets falls to nearly 0 (0.0005-0.008 after pre-training, EBGAN's
1.0) and G collapses to a few modes, as EBGAN does when held at such a margin (benchmarks/RESULTS.md, section
``magan_margin``); the authors measured MAGAN on images only.

State: the margin, the running sums and the previous epoch's S_fake are training state, saved with the
checkpoint (a run resumed mid-epoch continues the sums exactly). The energies are averaged over the DDP
ranks as they are added (one all-reduce on the device per iteration), so every rank holds the same
sums and margin; nothing is read on the host. Logged: ``margin`` (the margin used in this iteration's D
loss), ``energy_real`` and ``energy_fake``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch

from gan_lightning.core import Phase
from gan_lightning.core.state import mean_over_ranks
from gan_lightning.errors import SettingError
from gan_lightning.losses import ebgan_d, magan_margin_update
from gan_lightning.models.ebgan import EBGAN
from gan_lightning.models.registry import register_model


@dataclass(frozen=True)
class GatedPhase(Phase):
    """A phase that runs only on the iterations ``gate(iteration)`` allows (G after D's pre-training)."""

    gate: Callable[[int], bool] = lambda iteration: True

    def due(self, iteration: int) -> bool:
        return self.gate(iteration) and super().due(iteration)


@register_model
class MAGAN(EBGAN):
    paper = "Wang, Cully, Chang & Demiris 2017, MAGAN: Margin Adaptation for Generative Adversarial Networks"
    data_kinds = ("image", "toy2d")
    recipe: ClassVar[dict[str, Any]] = {"lr_g": 0.0005, "lr_d": 0.0005, "betas": (0.5, 0.999)}

    def __init__(
        self,
        d_norm: Literal["batch", "none", "layer"] = "none",
        pretrain_epochs: int = 2,
        epoch_steps: int | None = None,
        pullaway_weight: float = 0.0,
        **kwargs,
    ) -> None:
        """``pretrain_epochs``: epochs of D alone before the margin is first set (0: start from EBGAN's
        ``margin``). ``epoch_steps``: iterations per epoch of the margin rule (None: the training data's
        batches per epoch). EBGAN's ``margin`` is the starting margin only when ``pretrain_epochs`` is 0;
        ``pullaway_weight``: EBGAN's pull-away term, off in MAGAN (0)."""
        super().__init__(d_norm=d_norm, pullaway_weight=pullaway_weight, **kwargs)
        if pretrain_epochs < 0:
            raise ValueError(f"model.pretrain_epochs must be >= 0, got {pretrain_epochs}")
        if epoch_steps is not None and epoch_steps < 1:
            raise ValueError(f"model.epoch_steps must be >= 1 (or null: one epoch of the data), got {epoch_steps}")
        self.pretrain_epochs, self.epoch_steps = int(pretrain_epochs), epoch_steps
        self._epoch_length: int | None = None
        self._last_energies: torch.Tensor | None = None
        state = self.training_state
        state.declare("margin", torch.tensor(0.0 if self.pretrain_epochs else float(self.margin)))
        state.declare("energy_sums", torch.zeros(2))  # S_real, S_fake of the current epoch
        state.declare("previous_fake_sum", torch.tensor(math.inf))

    @property
    def epoch_length(self) -> int:
        """Iterations per epoch of the margin rule: ``epoch_steps``, else the data's batches per epoch."""
        if self._epoch_length is None:
            if self.epoch_steps is not None:
                self._epoch_length = int(self.epoch_steps)
            else:
                trainer = self.attached_trainer
                batches = trainer.num_training_batches if trainer is not None else math.inf
                if not math.isfinite(batches) or batches < 1:
                    raise SettingError("model.epoch_steps: MAGAN needs it when the data has no fixed number of "
                                       f"batches per epoch (got {batches})")
                self._epoch_length = int(batches)
        return self._epoch_length

    def on_fit_start(self) -> None:
        super().on_fit_start()
        self._epoch_length = None  # read again from this fit's data (epoch_steps: null)

    def adversarial(self, iteration: int) -> bool:
        """Whether D's pre-training is over at this 0-based iteration."""
        return iteration >= self.pretrain_epochs * self.epoch_length

    def phases(self) -> list[Phase]:
        d_phase, g_phase = super().phases()
        return [Phase(d_phase.name, d_phase.optimizer, d_phase.loss, d_phase.loss_key, d_phase.interval,
                      after=self.after_discriminator),
                GatedPhase(g_phase.name, g_phase.optimizer, g_phase.loss, g_phase.loss_key, g_phase.interval,
                           gate=self.adversarial)]

    def discriminator_loss(self, real, fake, labels=None):
        real_energy, fake_energy = self.discriminate(real), self.discriminate(fake)
        margin = self.training_state.margin
        self._last_energies = torch.stack([real_energy.mean(), fake_energy.mean()]).detach()
        return {"d_loss": ebgan_d(real_energy, fake_energy, margin.to(real_energy)),
                "energy_real": real_energy.mean(), "energy_fake": fake_energy.mean(),
                "margin": margin.detach().clone()}

    def after_discriminator(self, ctx) -> None:
        """Adds this step's energies to the epoch's sums; at an epoch's end, sets or adapts the margin."""
        state = self.training_state
        state.energy_sums = state.energy_sums + mean_over_ranks(self._last_energies).to(state.energy_sums)
        steps = self.epoch_length
        if (ctx.iteration + 1) % steps:
            return
        real_sum, fake_sum = state.energy_sums.unbind()
        epoch_end = ctx.iteration + 1
        if epoch_end == self.pretrain_epochs * steps:  # the end of D's pre-training: the expected real energy
            state.margin = (real_sum / steps).to(state.margin)
        elif epoch_end > self.pretrain_epochs * steps:
            state.margin = magan_margin_update(state.margin, real_sum, fake_sum, state.previous_fake_sum, steps)
            state.previous_fake_sum = fake_sum.to(state.previous_fake_sum)
        state.energy_sums = torch.zeros_like(state.energy_sums)
