"""Discriminator regularizers and training tricks as pure functions.

Penalties take the discriminator as a callable (``x -> scores``; wrap a conditional
one in a lambda) and return an unweighted scalar: the caller multiplies by its lambda.
Input-gradient penalties detach their inputs, differentiate D's summed output
with ``create_graph=True`` (so the penalty backpropagates into D's parameters) and
take gradient norms over all non-batch dimensions of each sample.
Random draws take an optional ``torch.Generator``; values are drawn on the
generator's device and moved to the data's, so the functions are device-agnostic.
``HistoricalAverages`` is the one piece with state: the running means historical averaging
compares the parameters with (the core keeps it in the training state).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

import torch
from torch import nn

Discriminator = Callable[[torch.Tensor], torch.Tensor]


def _rand(shape: Sequence[int], like: torch.Tensor, generator: torch.Generator | None, normal: bool = False):
    """U[0, 1) (or N(0, 1)) of ``shape`` with ``like``'s dtype and device, drawn from ``generator`` if given."""
    draw = torch.randn if normal else torch.rand
    if generator is None:
        return draw(tuple(shape), dtype=like.dtype, device=like.device)
    values = draw(tuple(shape), generator=generator, dtype=like.dtype, device=generator.device)
    return values.to(like.device)


def _per_sample_uniform(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One U[0, 1) factor per sample, shaped (N, 1, ..., 1) to broadcast over x."""
    return _rand((x.size(0),) + (1,) * (x.dim() - 1), x, generator)


def _input_gradient(discriminator: Discriminator, x: torch.Tensor) -> torch.Tensor:
    """dD/dx at ``x`` (detached from its history), flattened to (N, -1), kept in the graph."""
    x = x.detach().requires_grad_(True)
    scores = discriminator(x)
    (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
    return grad.flatten(1)


@torch.no_grad()
def weight_clip_(module: nn.Module, clip: float) -> nn.Module:
    """WGAN weight clipping (Arjovsky et al. 2017): every parameter w <- clamp(w, -c, c), in place."""
    for param in module.parameters():
        param.clamp_(-clip, clip)
    return module


def gradient_penalty(
    discriminator: Discriminator,
    real: torch.Tensor,
    fake: torch.Tensor,
    center: float = 1.0,
    generator: torch.Generator | None = None,
    one_sided: bool = False,
) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E[(||grad D(x_hat)||_2 - center)^2], x_hat = eps*x_r + (1-eps)*x_f.

    eps ~ U[0, 1) is drawn once per sample (shape (N, 1, ..., 1)); the norm is over all
    non-batch dimensions of each sample. ``center=0`` gives the zero-centred variant.
    ``one_sided=True`` is WGAN-LP's Lipschitz penalty (Petzka et al. 2018):
    E[max(0, ||grad D(x_hat)||_2 - center)^2], which leaves gradients of norm below ``center`` alone.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    real, fake = real.detach(), fake.detach()
    eps = _per_sample_uniform(real, generator)
    interpolates = eps * real + (1.0 - eps) * fake
    grad_norm = _input_gradient(discriminator, interpolates).norm(2, dim=1)
    excess = (grad_norm - center).clamp(min=0.0) if one_sided else grad_norm - center
    return excess.pow(2).mean()


def dragan_penalty(
    discriminator: Discriminator,
    real: torch.Tensor,
    noise_scale: float = 0.5,
    center: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """DRAGAN (Kodali et al. 2017): E[(||grad D(x_hat)||_2 - center)^2], x_hat = x + alpha*(x_p - x).

    The perturbation follows the authors' reference code: x_p = x + c * std(x) * u with
    c = ``noise_scale`` (0.5), std(x) the scalar standard deviation of the whole batch and
    u ~ U[0, 1) element-wise (one-sided noise); alpha ~ U[0, 1) once per sample.
    Draw order from ``generator``: u first, then alpha.
    """
    real = real.detach()
    noise = _rand(real.shape, real, generator)
    perturbed = real + noise_scale * real.std() * noise
    alpha = _per_sample_uniform(real, generator)
    x_hat = real + alpha * (perturbed - real)
    grad_norm = _input_gradient(discriminator, x_hat).norm(2, dim=1)
    return (grad_norm - center).pow(2).mean()


def wgan_div_penalty(
    discriminator: Discriminator,
    real: torch.Tensor,
    fake: torch.Tensor,
    k: float = 2.0,
    p: float = 6.0,
) -> torch.Tensor:
    """WGAN-div (Wu et al. 2018): k/2 * (E||grad D(x_r)||^p + E||grad D(x_f)||^p), k=2 and p=6 from the paper.

    The paper's objective is k * E||grad D(x_hat)||^p with x_hat drawn from real, fake and
    interpolated points; this follows its official code, which evaluates the gradient
    at the real and at the fake points separately and averages the two terms.
    The returned value already includes k.
    """
    real_norm = _input_gradient(discriminator, real).norm(2, dim=1)
    fake_norm = _input_gradient(discriminator, fake).norm(2, dim=1)
    return k * (real_norm.pow(p).mean() + fake_norm.pow(p).mean()) / 2.0


def r1_penalty(discriminator: Discriminator, real: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): E_x_real ||grad_x D(x)||_2^2, without the paper's gamma/2 factor."""
    return _input_gradient(discriminator, real).pow(2).sum(dim=1).mean()


def r2_penalty(discriminator: Discriminator, fake: torch.Tensor) -> torch.Tensor:
    """R2 (Mescheder et al. 2018): E_x_fake ||grad_x D(x)||_2^2, without the paper's gamma/2 factor."""
    return _input_gradient(discriminator, fake).pow(2).sum(dim=1).mean()


def instance_noise(x: torch.Tensor, std: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Instance noise (Sønderby et al. 2016): x + std * n, n ~ N(0, I), applied to D's inputs (real and fake)."""
    if std == 0:
        return x
    return x + std * _rand(x.shape, x, generator, normal=True)


def historical_average_penalty(params: Iterable[torch.Tensor], averages: Iterable[torch.Tensor]) -> torch.Tensor:
    """Historical averaging (Salimans et al. 2016): sum_i ||theta_i - mean_t theta_i[t]||_2^2 (averages detached)."""
    terms = [(param - average.detach()).pow(2).sum() for param, average in zip(params, averages, strict=True)]
    if not terms:
        raise ValueError("historical_average_penalty needs at least one parameter")
    return torch.stack(terms).sum()


@torch.no_grad()
def update_historical_average_(
    averages: Sequence[torch.Tensor], params: Iterable[torch.Tensor], count: int
) -> int:
    """Running mean of past parameters (Salimans et al. 2016): avg <- avg + (theta - avg) / (count + 1), in place.

    ``count`` is how many parameter snapshots ``averages`` already holds (0: it becomes a copy of
    ``params``); returns the new count, ``count + 1``.
    """
    for average, param in zip(averages, params, strict=True):
        average.add_((param.detach() - average) / (count + 1))
    return count + 1


class HistoricalAverages:
    """The running mean of each optimizer group's parameters over its updates (historical averaging,
    Salimans et al. 2016): ``penalty(group, params)`` is ``sum_i ||theta_i - mean_t theta_i[t]||^2`` (0
    before the group's first update), ``update(group, params)`` adds the parameters after an update.
    The means stay on the parameters' device; the counts are Python numbers (no device read)."""

    def __init__(self) -> None:
        self.averages: dict[str, list[torch.Tensor]] = {}
        self.counts: dict[str, int] = {}

    def penalty(self, group: str, params: list[torch.Tensor]) -> torch.Tensor:
        if group not in self.averages:
            return params[0].new_zeros(())
        return historical_average_penalty(params, self.averages[group])

    @torch.no_grad()
    def update(self, group: str, params: list[torch.Tensor]) -> None:
        if group not in self.averages:
            self.averages[group] = [param.detach().clone() for param in params]
            self.counts[group] = 1
            return
        self.counts[group] = update_historical_average_(self.averages[group], params, self.counts[group])

    def state_dict(self) -> dict[str, Any]:
        return {"averages": {group: [t.detach().cpu().clone() for t in tensors] for group, tensors in self.averages.items()},
                "counts": dict(self.counts)}

    def load_state_dict(self, state: dict[str, Any], device: torch.device | str | None = None) -> None:
        self.averages = {group: [t.to(device) if device is not None else t for t in tensors]
                         for group, tensors in state["averages"].items()}
        self.counts = dict(state["counts"])

    def to(self, device: torch.device | str) -> "HistoricalAverages":
        self.averages = {group: [t.to(device) for t in tensors] for group, tensors in self.averages.items()}
        return self


def feature_matching_loss(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """Feature matching (Salimans et al. 2016): ||E f(x) - E f(G(z))||_2^2, batch means, real features detached."""
    difference = real_features.detach().mean(dim=0) - fake_features.mean(dim=0)
    return difference.pow(2).sum()


def orthogonal_regularization(weights: Iterable[torch.Tensor]) -> torch.Tensor:
    """BigGAN's orthogonal regularization (Brock et al. 2019, eq. 3), unweighted: the caller multiplies by beta.

    sum over W of ||W W^T * (1 - I)||_F^2, each W viewed as (out, rest): only the off-diagonal
    entries (the dot products between different filters) are pushed to 0, not the filters' norms.
    The authors' ``utils.ortho`` adds ``2 * strength * (W W^T * (1 - I)) W`` to the gradient, which is
    the gradient of ``strength / 2`` times this value: their ``--G_ortho s`` is ``beta = s / 2`` here.
    """
    total = None
    for weight in weights:
        matrix = weight.reshape(weight.size(0), -1)
        gram = matrix @ matrix.t()
        off_diagonal = gram - torch.diag_embed(torch.diagonal(gram))
        term = off_diagonal.pow(2).sum()
        total = term if total is None else total + term
    if total is None:
        raise ValueError("orthogonal_regularization got no weights")
    return total
