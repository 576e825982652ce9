"""The regularizers of the stacked text-to-image generators (StackGAN, StackGAN++): pure functions.

- :func:`conditioning_kl`: conditioning augmentation's KL(N(mu, sigma^2) || N(0, I)), as the authors'
  ``KL_loss`` (StackGAN-Pytorch ``code/miscc/utils.py``, StackGAN-v2 ``code/trainer.py``): the *mean* over
  batch and condition entries of -0.5 (1 + logvar - mu^2 - exp(logvar)).
- :func:`pixel_mean_covariance` and :func:`colour_consistency`: StackGAN++'s colour-consistency term
  (StackGAN-v2 ``code/trainer.py``, ``compute_mean_covariance`` and ``train_Gnet``): each image's mean
  colour mu (C) and colour covariance over its pixels (C x C); the term is
  ``mean_weight * MSE(mu_fine, mu_coarse) + cov_weight * MSE(cov_fine, cov_coarse)``, the coarser image
  detached (the authors' weights: COLOR_LOSS for the means, 5 x COLOR_LOSS for the covariances);
  :func:`colour_gap`: the same statistics as a per-image measure (benchmarks/stackganv2_colour.py).
- :func:`matching_d_terms`: StackGAN's matching-aware D loss from the (conditional, unconditional) logits
  of the real, wrong and fake pairs (StackGAN-Pytorch ``code/miscc/utils.py``, ``compute_discriminator_loss``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def conditioning_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """-0.5 * mean(1 + logvar - mu^2 - exp(logvar)): 0 exactly when mu = 0 and logvar = 0, positive otherwise."""
    return -0.5 * (1.0 + logvar - mu.pow(2) - logvar.exp()).mean()


def pixel_mean_covariance(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean colour (N, C), colour covariance over the pixels (N, C, C)) of images (N, C, H, W)."""
    flat = images.flatten(2)
    mean = flat.mean(2)
    centred = flat - mean.unsqueeze(2)
    return mean, centred @ centred.transpose(1, 2) / flat.size(2)


def colour_consistency(fine: torch.Tensor, coarse: torch.Tensor, mean_weight: float = 1.0,
                       cov_weight: float = 5.0) -> torch.Tensor:
    """How far ``fine``'s pixel statistics are from ``coarse``'s (detached): 0 for images equal up to
    resolution (``fine`` is ``coarse`` with each pixel repeated), positive when colours or contrast differ."""
    mean_fine, cov_fine = pixel_mean_covariance(fine)
    mean_coarse, cov_coarse = pixel_mean_covariance(coarse.detach())
    return mean_weight * F.mse_loss(mean_fine, mean_coarse) + cov_weight * F.mse_loss(cov_fine, cov_coarse)


def colour_gap(fine: torch.Tensor, coarse: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image, how far two scales of it disagree in colour: (||mean_fine - mean_coarse||_2,
    ||cov_fine - cov_coarse||_F) (each (N,)), each image's statistics over its own pixels at its own size,
    as :func:`colour_consistency` takes them (StackGAN++'s colour consistency, measured; images in [-1, 1]):
    0 exactly where the term is 0, so resolution alone (each coarser pixel repeated) leaves no gap. (Averaging
    ``fine`` down first would not: it removes the fine image's own detail from its covariance, and reports a
    covariance gap for a pixel permutation of the repeated image, whose term is 0.)"""
    mean_fine, cov_fine = pixel_mean_covariance(fine)
    mean_coarse, cov_coarse = pixel_mean_covariance(coarse)
    return (mean_fine - mean_coarse).norm(dim=1), (cov_fine - cov_coarse).flatten(1).norm(dim=1)


def bce(logits: torch.Tensor, real: bool) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, float(real)))


def matching_d_terms(d_out, wrong_out, fake_out, uncond_weight: float) -> dict[str, torch.Tensor]:
    """The authors' matching-aware D terms from (conditional, unconditional) logits of the real, wrong and
    fake pairs: without an unconditional head, real + (wrong + fake) / 2 (StackGAN, ``compute_discriminator_loss``)."""
    (real, real_u), (wrong, _), (fake, fake_u) = d_out, wrong_out, fake_out
    terms = {"d_real": bce(real, True), "d_wrong": bce(wrong, False), "d_fake": bce(fake, False)}
    if real_u is None or uncond_weight == 0:
        return {"d_loss": terms["d_real"] + 0.5 * (terms["d_wrong"] + terms["d_fake"]), **terms}
    terms.update(d_real_uncond=bce(real_u, True), d_fake_uncond=bce(fake_u, False))
    loss = (terms["d_real"] + terms["d_real_uncond"]) / 2 + (terms["d_fake"] + terms["d_wrong"]
                                                             + terms["d_fake_uncond"]) / 3
    return {"d_loss": loss, **terms}
