"""f-divergences for f-GAN (Nowozin, Cseke & Tomioka 2016, Tables 1 and 2).

D_f(P || Q) = E_Q[f(p/q)] >= sup_T E_P[T(x)] - E_Q[f*(T(x))], with equality at T*(x) = f'(p(x)/q(x)).
The discriminator outputs an unconstrained V(x); the output activation g_f maps it into the
domain of the conjugate f*, T = g_f(V). Each entry below holds, as in the paper's tables:

- ``generator`` f(u) (Table 1), ``derivative`` f'(u) (the optimal T, Table 1's last column),
- ``activation`` g_f(v) and ``conjugate`` f*(t) (Table 2), and ``conjugate_of_activation``
  f*(g_f(v)) in a form that stays finite for every v (the composed closed form, not the
  two functions one after the other, which overflow or take log(0) for large |v|).

Names: ``kl``, ``reverse_kl``, ``pearson``, ``neyman``, ``squared_hellinger``,
``jensen_shannon``, ``gan``. With the table's f, ``jensen_shannon`` is 2 JS(P, Q) (Table 1
lists JS with a factor 1/2 that its f does not carry) and ``gan`` is 2 JS(P, Q) - log 4.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

Fn = Callable[[torch.Tensor], torch.Tensor]
LOG2 = math.log(2.0)


@dataclass(frozen=True)
class FDivergence:
    name: str
    generator: Fn
    derivative: Fn
    activation: Fn
    conjugate: Fn
    conjugate_of_activation: Fn
    conjugate_domain: tuple[float, float]  # open interval of t where f*(t) is finite


def _xlogx(u: torch.Tensor) -> torch.Tensor:
    return torch.where(u > 0, u * torch.log(u.clamp_min(1e-300)), torch.zeros_like(u))


DIVERGENCES: dict[str, FDivergence] = {
    "kl": FDivergence(
        "kl", generator=_xlogx, derivative=lambda u: 1 + torch.log(u),
        activation=lambda v: v, conjugate=lambda t: torch.exp(t - 1),
        conjugate_of_activation=lambda v: torch.exp(v - 1), conjugate_domain=(-math.inf, math.inf)),
    "reverse_kl": FDivergence(
        "reverse_kl", generator=lambda u: -torch.log(u), derivative=lambda u: -1 / u,
        activation=lambda v: -torch.exp(-v), conjugate=lambda t: -1 - torch.log(-t),
        conjugate_of_activation=lambda v: v - 1, conjugate_domain=(-math.inf, 0.0)),
    "pearson": FDivergence(
        "pearson", generator=lambda u: (u - 1) ** 2, derivative=lambda u: 2 * (u - 1),
        activation=lambda v: v, conjugate=lambda t: t ** 2 / 4 + t,
        conjugate_of_activation=lambda v: v ** 2 / 4 + v, conjugate_domain=(-math.inf, math.inf)),
    "neyman": FDivergence(
        "neyman", generator=lambda u: (1 - u) ** 2 / u, derivative=lambda u: 1 - u ** -2,
        activation=lambda v: 1 - torch.exp(-v), conjugate=lambda t: 2 - 2 * torch.sqrt(1 - t),
        conjugate_of_activation=lambda v: 2 - 2 * torch.exp(-v / 2), conjugate_domain=(-math.inf, 1.0)),
    "squared_hellinger": FDivergence(
        "squared_hellinger", generator=lambda u: (torch.sqrt(u) - 1) ** 2, derivative=lambda u: 1 - u ** -0.5,
        activation=lambda v: 1 - torch.exp(-v), conjugate=lambda t: t / (1 - t),
        conjugate_of_activation=lambda v: torch.exp(v) - 1, conjugate_domain=(-math.inf, 1.0)),
    "jensen_shannon": FDivergence(
        "jensen_shannon", generator=lambda u: -(u + 1) * torch.log((1 + u) / 2) + _xlogx(u),
        derivative=lambda u: torch.log(2 * u / (1 + u)),
        activation=lambda v: LOG2 - F.softplus(-v), conjugate=lambda t: -torch.log(2 - torch.exp(t)),
        conjugate_of_activation=lambda v: F.softplus(v) - LOG2, conjugate_domain=(-math.inf, LOG2)),
    "gan": FDivergence(
        "gan", generator=lambda u: _xlogx(u) - (u + 1) * torch.log(u + 1), derivative=lambda u: torch.log(u / (u + 1)),
        activation=lambda v: -F.softplus(-v), conjugate=lambda t: -torch.log(1 - torch.exp(t)),
        conjugate_of_activation=lambda v: F.softplus(v), conjugate_domain=(-math.inf, 0.0)),
}


def get_divergence(name: str) -> FDivergence:
    """The table entry ``name``; a one-line ValueError lists the accepted names."""
    if name not in DIVERGENCES:
        raise ValueError(f"model.divergence: unknown f-divergence {name!r}; accepted: {', '.join(DIVERGENCES)}")
    return DIVERGENCES[name]


def f_divergence(p: torch.Tensor, q: torch.Tensor, name: str) -> torch.Tensor:
    """The exact D_f(P || Q) = sum_x q(x) f(p(x) / q(x)) of two discrete distributions with q > 0."""
    return (q * get_divergence(name).generator(p / q)).sum()


def variational_bound(real_v: torch.Tensor, fake_v: torch.Tensor, name: str) -> torch.Tensor:
    """F(V) = E_P[g_f(V(x))] - E_Q[f*(g_f(V(x)))] from D's raw outputs on real and generated samples."""
    divergence = get_divergence(name)
    return divergence.activation(real_v).mean() - divergence.conjugate_of_activation(fake_v).mean()


def fgan_d(real_v: torch.Tensor, fake_v: torch.Tensor, name: str) -> torch.Tensor:
    """D's loss: -F(V) (D maximises the variational lower bound of D_f)."""
    return -variational_bound(real_v, fake_v, name)


def fgan_g(fake_v: torch.Tensor, name: str, objective: str = "trick") -> torch.Tensor:
    """G's loss. ``"trick"`` (section 3.2 of the paper): -E_Q[g_f(V(G(z)))]; ``"saturating"``:
    -E_Q[f*(g_f(V(G(z))))], the term of F(V) that depends on G (G minimises F)."""
    divergence = get_divergence(name)
    if objective == "trick":
        return -divergence.activation(fake_v).mean()
    if objective == "saturating":
        return -divergence.conjugate_of_activation(fake_v).mean()
    raise ValueError(f"model.generator_objective: unknown {objective!r}; accepted: trick, saturating")
