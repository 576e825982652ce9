"""Adversarial losses as pure functions of discriminator outputs (logits or critic scores).

Each ``*_d`` returns the discriminator's loss, each ``*_g`` the generator's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def nonsaturating_d(real_logits: torch.Tensor, fake_logits: torch.Tensor,
                    real_label: float | torch.Tensor = 1.0) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))) (Goodfellow et al. 2014); ``real_label`` < 1 (a number, or one target per
    real logit) is one-sided label smoothing."""
    target = real_label if isinstance(real_label, torch.Tensor) else torch.full_like(real_logits, real_label)
    real = F.binary_cross_entropy_with_logits(real_logits, target)
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def nonsaturating_g(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(G(z)): the non-saturating generator loss of Goodfellow et al. 2014, section 3."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def minimax_g(fake_logits: torch.Tensor) -> torch.Tensor:
    """log(1 - D(G(z))): the original minimax generator loss (saturates early in training)."""
    return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


# ----------------------------------------------------------------------------- least squares
def lsgan_d(real_out: torch.Tensor, fake_out: torch.Tensor, a: float = 0.0, b: float = 1.0) -> torch.Tensor:
    """LSGAN (Mao et al. 2017): 0.5*E[(D(x)-b)^2] + 0.5*E[(D(G(z))-a)^2]; a = fake target, b = real target."""
    return 0.5 * (real_out - b).pow(2).mean() + 0.5 * (fake_out - a).pow(2).mean()


def lsgan_g(fake_out: torch.Tensor, c: float = 1.0) -> torch.Tensor:
    """LSGAN (Mao et al. 2017): 0.5*E[(D(G(z))-c)^2]; c = the value G wants D to give its samples."""
    return 0.5 * (fake_out - c).pow(2).mean()


# ----------------------------------------------------------------------------- Wasserstein / hinge
def wasserstein_d(real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
    """WGAN critic (Arjovsky et al. 2017): E[C(G(z))] - E[C(x)] (minimized, i.e. the negated W1 estimate)."""
    return fake_out.mean() - real_out.mean()


def wasserstein_g(fake_out: torch.Tensor) -> torch.Tensor:
    """WGAN generator (Arjovsky et al. 2017): -E[C(G(z))]."""
    return -fake_out.mean()


def hinge_d(real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
    """Hinge D loss (Lim & Ye 2017; Miyato et al. 2018): E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]."""
    return F.relu(1.0 - real_out).mean() + F.relu(1.0 + fake_out).mean()


def hinge_g(fake_out: torch.Tensor) -> torch.Tensor:
    """Hinge G loss (Lim & Ye 2017; Miyato et al. 2018): -E[D(G(z))]."""
    return -fake_out.mean()


# ----------------------------------------------------------------------------- relativistic
_RELATIVISTIC_KINDS = ("bce", "ls", "hinge")


def _wins(diff: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-element loss for "this side should score above the other": softplus(-d), (d-1)^2 or relu(1-d)."""
    if kind == "bce":
        return F.softplus(-diff)  # -log sigmoid(d)
    if kind == "ls":
        return (diff - 1.0).pow(2)
    return F.relu(1.0 - diff)


def _loses(diff: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-element loss for "this side should score below the other": softplus(d), (d+1)^2 or relu(1+d)."""
    if kind == "bce":
        return F.softplus(diff)  # -log(1 - sigmoid(d))
    if kind == "ls":
        return (diff + 1.0).pow(2)
    return F.relu(1.0 + diff)


def _relativistic(winner: torch.Tensor, loser: torch.Tensor, kind: str, average: bool) -> torch.Tensor:
    if kind not in _RELATIVISTIC_KINDS:
        raise ValueError(f"relativistic kind must be one of {_RELATIVISTIC_KINDS}, got {kind!r}")
    if average:
        # Both terms of the relativistic average loss: the winner against the loser's mean,
        # and the loser against the winner's mean.
        return _wins(winner - loser.mean(), kind).mean() + _loses(loser - winner.mean(), kind).mean()
    if winner.shape != loser.shape:
        raise ValueError(
            f"paired relativistic loss needs equal shapes, got {tuple(winner.shape)} and {tuple(loser.shape)}"
        )
    # Paired form: the second term f_lose(loser - winner) equals f_win(winner - loser) element-wise,
    # so the single term below is the paper's RSGAN loss (a two-term version would be exactly twice it).
    return _wins(winner - loser, kind).mean()


def relativistic_d(
    real_out: torch.Tensor, fake_out: torch.Tensor, kind: str = "bce", average: bool = True
) -> torch.Tensor:
    """Relativistic D loss (Jolicoeur-Martineau 2018): average: E f+(C(x_r) - E C(x_f)) + E f-(C(x_f) - E C(x_r)).

    ``kind`` picks (f+, f-): ``"bce"`` (RaSGAN) -log sig(d), -log(1 - sig(d)); ``"ls"`` (RaLSGAN)
    (d - 1)^2, (d + 1)^2; ``"hinge"`` (RaHinge) relu(1 - d), relu(1 + d).
    ``average=False`` is the paired form E f+(C(x_r) - C(x_f)) over aligned pairs (RSGAN for
    ``"bce"``; ``"ls"`` / ``"hinge"`` use the same paired difference); its second term would
    equal the first, so it is counted once. Paired inputs must have equal shapes.
    """
    return _relativistic(real_out, fake_out, kind, average)


def relativistic_g(
    real_out: torch.Tensor, fake_out: torch.Tensor, kind: str = "bce", average: bool = True
) -> torch.Tensor:
    """Relativistic G loss (Jolicoeur-Martineau 2018): E f+(C(x_f) - E C(x_r)) + E f-(C(x_r) - E C(x_f)).

    Same ``kind`` and ``average`` conventions as :func:`relativistic_d`; paired form
    E f+(C(x_f) - C(x_r)) (RSGAN: -log sig(C(x_f) - C(x_r))).
    """
    return _relativistic(fake_out, real_out, kind, average)


# ----------------------------------------------------------------------------- energy based
def ebgan_d(real_energy: torch.Tensor, fake_energy: torch.Tensor, margin: float) -> torch.Tensor:
    """EBGAN D loss (Zhao et al. 2016): E[D(x)] + E[relu(m - D(G(z)))], D(.) the energy (e.g. reconstruction error)."""
    return real_energy.mean() + F.relu(margin - fake_energy).mean()


def ebgan_g(fake_energy: torch.Tensor) -> torch.Tensor:
    """EBGAN G loss (Zhao et al. 2016): E[D(G(z))]."""
    return fake_energy.mean()


def pullaway(embeddings: torch.Tensor) -> torch.Tensor:
    """EBGAN pull-away term (Zhao et al. 2016): 1/(N(N-1)) * sum_{i != j} cos^2(s_i, s_j), samples flattened."""
    n = embeddings.size(0)
    if n < 2:
        raise ValueError(f"pullaway needs at least 2 samples, got {n}")
    unit = F.normalize(embeddings.flatten(1), dim=1)
    cos_sq = (unit @ unit.t()).pow(2)
    off_diagonal = cos_sq.sum() - cos_sq.diagonal().sum()
    return off_diagonal / (n * (n - 1))


# ----------------------------------------------------------------------------- boundary equilibrium
def l1_reconstruction(x: torch.Tensor, recon: torch.Tensor, reduce: bool = True) -> torch.Tensor:
    """Autoencoder L1 loss (BEGAN, Berthelot et al. 2017): L(v) = mean|v - D(v)| per sample, averaged over the batch.

    ``reduce=False`` returns the per-sample losses, shape (N,).
    """
    per_sample = (x - recon).abs().flatten(1).mean(dim=1)
    return per_sample.mean() if reduce else per_sample


def began_d(real_recon_loss: torch.Tensor, fake_recon_loss: torch.Tensor, k: float | torch.Tensor) -> torch.Tensor:
    """BEGAN D loss (Berthelot et al. 2017): L(x) - k_t * L(G(z))."""
    return real_recon_loss - k * fake_recon_loss


def began_g(fake_recon_loss: torch.Tensor) -> torch.Tensor:
    """BEGAN G loss (Berthelot et al. 2017): L(G(z))."""
    return fake_recon_loss


def _float64(*values: torch.Tensor | float) -> list[torch.Tensor]:
    """The values as float64 tensors on the device of the first tensor among them (numbers follow it)."""
    device = next((v.device for v in values if isinstance(v, torch.Tensor)), torch.device("cpu"))
    return [torch.as_tensor(v).detach().to(device=device, dtype=torch.float64) for v in values]


def began_k_update(k: torch.Tensor | float, real_loss: torch.Tensor | float, fake_loss: torch.Tensor | float,
                   gamma: float, lambda_k: float) -> torch.Tensor:
    """BEGAN control (Berthelot et al. 2017): k_{t+1} = clamp(k_t + lambda_k * (gamma * L(x) - L(G(z))), 0, 1).

    In float64 on the losses' device, so the host never waits for it (a 0-dim float64 tensor)."""
    k, real, fake = _float64(k, real_loss, fake_loss)
    return (k + lambda_k * (gamma * real - fake)).clamp(0.0, 1.0)


def began_convergence(real_loss: torch.Tensor | float, fake_loss: torch.Tensor | float,
                      gamma: float) -> torch.Tensor:
    """BEGAN convergence measure (Berthelot et al. 2017): M = L(x) + |gamma * L(x) - L(G(z))|
    (float64, on the device)."""
    real, fake = _float64(real_loss, fake_loss)
    return real + (gamma * real - fake).abs()


def fisher_constraint(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Fisher GAN's constraint (Mroueh & Sercu 2017, eq. 9): Omega = 1 - (E_P f^2 + E_Q f^2) / 2,
    zero when the critic's second moment over the two distributions is 1."""
    return 1.0 - 0.5 * (real_scores.pow(2).mean() + fake_scores.pow(2).mean())


def fisher_d(real_scores: torch.Tensor, fake_scores: torch.Tensor, lagrange: torch.Tensor | float,
             rho: float) -> torch.Tensor:
    """Fisher GAN critic loss (Mroueh & Sercu 2017, eq. 9, the augmented Lagrangian, negated to be minimised):
    -(E_P f - E_Q f + lambda * Omega - rho / 2 * Omega^2), Omega = :func:`fisher_constraint`.
    ``lagrange`` (lambda) is a constant here; its own update is :func:`fisher_lagrange_update`."""
    constraint = fisher_constraint(real_scores, fake_scores)
    lagrange = lagrange.detach() if isinstance(lagrange, torch.Tensor) else lagrange
    ipm = real_scores.mean() - fake_scores.mean()
    return -(ipm + lagrange * constraint - 0.5 * rho * constraint.pow(2))


def fisher_lagrange_update(lagrange: torch.Tensor, constraint: torch.Tensor, rho: float) -> torch.Tensor:
    """Fisher GAN's multiplier step (Mroueh & Sercu 2017, Algorithm 1): lambda <- lambda - rho * Omega, a
    gradient step of the Lagrangian in lambda with learning rate rho (the critic ascends, lambda descends).
    Omega > 0 (second moment below 1) lowers lambda, Omega < 0 raises it. On lambda's device and dtype."""
    return lagrange - rho * constraint.detach().to(lagrange)


def magan_margin_update(margin: torch.Tensor, real_sum: torch.Tensor, fake_sum: torch.Tensor,
                        previous_fake_sum: torch.Tensor, steps: int) -> torch.Tensor:
    """MAGAN's margin at the end of an epoch (Wang et al. 2017; the authors' ``magan_train``): with
    S_real, S_fake the epoch's sums of batch-mean real and fake energies over ``steps`` batches,
    m <- S_real / steps when S_real / steps < m, S_real < S_fake and S_fake grew since the previous epoch;
    m unchanged otherwise (the margin only ever shrinks). Computed on the device, no host read."""
    expected_real = real_sum / steps
    shrink = (expected_real < margin) & (real_sum < fake_sum) & (fake_sum > previous_fake_sum)
    return torch.where(shrink, expected_real.to(margin), margin)


def sigmoid_class_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """An auxiliary classifier's loss as TAC-GAN's authors compute it: sigmoid cross-entropy of each class logit
    against the one-hot class (``logits`` (N, classes), ``labels`` (N,) class indices)."""
    return F.binary_cross_entropy_with_logits(logits, F.one_hot(labels, logits.size(1)).to(logits.dtype))
