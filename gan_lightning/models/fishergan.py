"""Fisher GAN: Mroueh & Sercu 2017, "Fisher GAN" (NeurIPS).

Recipe: an IPM critic f (unbounded output) maximises E_P f - E_Q f under the second-order-moment
constraint (E_P f^2 + E_Q f^2) / 2 = 1, enforced with an augmented Lagrangian (the paper's eq. 9):
the critic maximises E_P f - E_Q f + lambda * Omega - rho / 2 * Omega^2, Omega = 1 - (E_P f^2 + E_Q f^2) / 2
(``losses.fisher_d``, minimised as its negative), and after each critic step the Lagrange multiplier
takes a gradient step lambda <- lambda - rho * Omega (``losses.fisher_lagrange_update``). G minimises
-E_Q f.

Defaults from the authors' code (github.com/tomsercu/FisherGAN, ``main.py`` and ``README.md``): rho = 1e-6,
both the quadratic penalty's weight and lambda's learning rate (``--rho``; ``Lambda.data += rho * grad``);
lambda starts at 0; Adam lr 2e-4 for both networks, betas (0.5, 0.999) (the README's CIFAR-10 and LSUN
commands: ``--adam --lrG 2e-4 --lrD 2e-4 --Diters 2``, beta1 0.5 from ``main.py``); critic_steps 2
(``--Diters 2``); the DCGAN critic with BatchNorm (``models/dcgan.py``; ``d_norm="batch"``) for
images, MLPs for vectors. Not reproduced: the authors' weight decay, 1e-6 on the critic's features
and 1e-3 on its last linear layer v (two decays in one critic; the experiment configs put 1e-6 on the
whole critic through ``optimizers.discriminator.weight_decay``), the optional 100 critic steps at
the start (``--hiDiterStart``, off in the README commands) and the README's extra 3x3 layers
(``--G_extra_layers 2``, ``--D_extra_layers 2``): the networks are the package's DCGAN ones.

State: lambda is training state (``training_state.lagrange``), saved with the checkpoint, so a resumed
run continues it exactly; under DDP its step uses Omega averaged over the ranks (one all-reduce on the
device), so every rank holds the same lambda. Logged: ``ipm`` (E_P f - E_Q f), ``constraint`` (Omega)
and ``lagrange`` (the lambda used in this iteration's critic loss).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from gan_lightning.core.state import mean_over_ranks
from gan_lightning.losses import (
    fisher_constraint,
    fisher_d,
    fisher_lagrange_update,
    wasserstein_g,
)
from gan_lightning.models.registry import register_model
from gan_lightning.models.shared import ShapedGAN


@register_model
class FisherGAN(ShapedGAN):
    paper = "Mroueh & Sercu 2017, Fisher GAN"
    data_kinds = ("image", "toy2d")
    recipe: ClassVar[dict[str, Any]] = {"lr_g": 0.0002, "lr_d": 0.0002, "betas": (0.5, 0.999), "critic_steps": 2}

    def __init__(self, rho: float = 1e-6, **kwargs) -> None:
        super().__init__(**kwargs)
        if not rho > 0:
            raise ValueError(f"model.rho must be > 0 (the penalty weight and lambda's learning rate), got {rho}")
        self.rho = float(rho)
        # The Lagrange multiplier: training state, saved with the checkpoint.
        self.training_state.declare("lagrange", torch.tensor(0.0))
        self.generator, self.discriminator = self.shaped_networks()
        self._last_constraint: torch.Tensor | None = None

    @property
    def lagrange(self) -> torch.Tensor:
        return self.training_state.lagrange

    def discriminator_loss(self, real, fake, labels=None):
        real_out, fake_out = self.discriminate(real), self.discriminate(fake)
        constraint = fisher_constraint(real_out, fake_out)
        self._last_constraint = constraint.detach()  # lambda's step, after the critic's (after_discriminator_step)
        return {"d_loss": fisher_d(real_out, fake_out, self.lagrange, self.rho),
                "ipm": real_out.mean() - fake_out.mean(), "constraint": constraint,
                "lagrange": self.lagrange.detach().clone()}

    def generator_loss(self, real, fake, labels=None):
        return {"g_loss": wasserstein_g(self.discriminate(fake))}

    def after_discriminator_step(self) -> None:
        if self._last_constraint is None:
            return
        constraint = mean_over_ranks(self._last_constraint)
        self.lagrange.copy_(fisher_lagrange_update(self.lagrange, constraint, self.rho))
        self._last_constraint = None
