"""WGAN-LP: Petzka, Fischer & Lukovnicov 2018, "On the regularization of Wasserstein GANs" (ICLR).

Recipe: WGAN-GP's critic and training (``models.wgangp``) with the one-sided Lipschitz penalty
lambda * E[max(0, ||grad C(x_hat)||_2 - 1)^2] in place of the two-sided (||grad C(x_hat)||_2 - 1)^2:
a 1-Lipschitz critic needs gradient norms of at most 1, not exactly 1, so norms below 1 are not
penalised (``losses.gradient_penalty(one_sided=True)``). x_hat is drawn as in WGAN-GP, uniformly on
lines between a real and a fake sample (one factor per sample).

Defaults: lambda = 10 (``gp_weight``), WGAN-GP's value, so that beside WGAN-GP the two models differ
in the one-sided term only. Not verified against the paper: its text could not be read from this
machine and no authors' code was found (searched the code, docs and pages indexes), so its exact lambda per experiment is unchecked; set ``gp_weight`` to follow it. Everything
else is WGAN-GP's Algorithm 1: Adam lr 1e-4, betas (0, 0.9), n_critic = 5, no BatchNorm in the critic
(``d_norm="none"``); DCGAN networks for images, MLPs for vectors.

Logged: ``wasserstein`` (E C(x) - E C(G(z))) and ``gp`` (the unweighted one-sided penalty).
"""

from __future__ import annotations

from gan_lightning.models.registry import register_model
from gan_lightning.models.wgangp import WGANGP


@register_model
class WGANLP(WGANGP):
    paper = "Petzka, Fischer & Lukovnicov 2018, On the regularization of Wasserstein GANs"
    one_sided_penalty = True
