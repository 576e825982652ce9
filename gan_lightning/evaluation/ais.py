"""AIS log-likelihood of a generator (``ais``; Wu, Burda, Salakhutdinov & Grosse 2017, "On the Quantitative
Analysis of Decoder-Based Generative Models").

A GAN defines no density; with a Gaussian observation model it does:

    p(x) = integral p(z) N(x; G(z), sigma^2 I) dz,        p(z) = N(0, I),

and annealed importance sampling (Neal 2001) estimates it. For each real x, ``ais_chains`` chains start
from exact samples of the prior and move through the geometric path

    f_t(z) = p(z) p(x | z)^beta_t,     0 = beta_0 < beta_1 < ... < beta_T = 1   (T = ``ais_steps``)

to the posterior p(z | x) with one Hamiltonian Monte Carlo transition per step (``ais_leapfrog_steps``
leapfrog steps, a Metropolis-Hastings test; each chain's step size is adapted towards an acceptance rate
of 0.65, as in the authors' code). A chain's log-weight is sum_t (beta_t - beta_{t-1}) log p(x | z_{t-1});
the estimate is the log-mean-exp of the chains' weights. It is a stochastic lower bound of log p(x) in
expectation (Jensen), tight as T grows. ``beta_t``: the sigmoid spacing of Wu et al. (``ais_schedule``
``sigmoid``, delta 4) or evenly spaced (``linear``).

What it depends on: the observation noise ``ais_sigma`` (in data units: images in [-1, 1]), which the
authors chose on validation data: the log-likelihood changes a lot with it (report it with the number);
the real samples are the first ``ais_num_real`` of the evaluation's held-out real samples, in the data's
own space (pixels), never features. The defaults are small (a test runs in seconds); a measurement wants
more steps (Wu et al.: thousands) and chains (16). Results: ``ais_log_likelihood`` (mean over the real
samples, nats per sample), its standard error ``ais_std_error`` and ``ais_num_real``.

The sampler reads the generator itself (``takes == "model"``): the EMA generator by default, in eval
mode, an unconditional model drawing z ~ N(0, I) (``sample_noise``); every random draw comes from a
``torch.Generator`` seeded from the evaluation's ``seed`` (and the rank under DDP, where each rank takes
every world_size-th real sample and the sums are gathered).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import Tensor
from torchmetrics import Metric

from gan_lightning.evaluation.distributed import distributed_rank_and_size, rank_seed
from gan_lightning.evaluation.registry import EvalMetric, MetricContext, checked_option, register_metric

SCHEDULES = ("sigmoid", "linear")
TARGET_ACCEPTANCE = 0.65  # Wu et al. (and the HMC literature)


def annealing_schedule(num_steps: int, kind: str = "sigmoid", delta: float = 4.0) -> Tensor:
    """beta_0 = 0 < ... < beta_T = 1 (T + 1 values, float64): sigmoid-spaced (Wu et al.) or linear."""
    if num_steps < 1:
        raise ValueError(f"ais: needs at least 1 annealing step, got {num_steps}")
    positions = torch.linspace(-1.0, 1.0, num_steps + 1, dtype=torch.float64)
    if kind == "linear":
        return (positions + 1.0) / 2.0
    if kind == "sigmoid":
        values = torch.sigmoid(delta * positions)
        return (values - values[0]) / (values[-1] - values[0])
    raise ValueError(f"ais: schedule must be one of {', '.join(SCHEDULES)}, got {kind!r}")


def _normal(shape: tuple[int, ...], generator: torch.Generator, like: Tensor) -> Tensor:
    # a CPU generator drives every draw (reproducible on any device): draw there, then move
    return torch.randn(shape, generator=generator, dtype=torch.float64).to(like.device, like.dtype)


def ais_log_likelihood(
    decoder: Callable[[Tensor], Tensor],
    x: Tensor,
    latent_shape: tuple[int, ...],
    sigma: float,
    num_steps: int = 200,
    num_chains: int = 4,
    leapfrog_steps: int = 5,
    step_size: float = 0.05,
    schedule: str = "sigmoid",
    generator: torch.Generator | None = None,
) -> Tensor:
    """AIS estimates of log p(x_i) (nats, (N,)) under ``p(z) = N(0, I)`` (``latent_shape`` per sample) and
    ``p(x | z) = N(x; decoder(z), sigma^2 I)``; ``x``: (N, ...) as ``decoder`` returns them."""
    if sigma <= 0:
        raise ValueError(f"ais: sigma must be > 0, got {sigma}")
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    num = x.shape[0]
    targets = x.reshape(num, -1).repeat_interleave(num_chains, dim=0)  # chains of one x side by side
    dim = targets.shape[1]
    latent_dim = math.prod(latent_shape)
    batch = num * num_chains
    dtype = targets.dtype if targets.is_floating_point() else torch.float32
    targets = targets.to(dtype)
    log_normaliser = -0.5 * dim * math.log(2.0 * math.pi * sigma**2)

    def log_likelihood_and_gradient(z: Tensor) -> tuple[Tensor, Tensor]:
        with torch.enable_grad():
            z = z.detach().requires_grad_(True)
            outputs = decoder(z.view(batch, *latent_shape)).reshape(batch, -1).to(dtype)
            log_likelihood = -(targets - outputs).pow(2).sum(dim=1) / (2.0 * sigma**2) + log_normaliser
            (gradient,) = torch.autograd.grad(log_likelihood.sum(), z)
        return log_likelihood.detach(), gradient.detach()

    betas = annealing_schedule(num_steps, schedule).tolist()
    z = _normal((batch, latent_dim), generator, targets)
    log_likelihood, gradient = log_likelihood_and_gradient(z)
    log_weights = torch.zeros(batch, dtype=torch.float64, device=targets.device)
    step = torch.full((batch, 1), float(step_size), dtype=dtype, device=targets.device)
    acceptance = torch.full((batch, 1), TARGET_ACCEPTANCE, dtype=dtype, device=targets.device)
    for previous, beta in zip(betas[:-1], betas[1:]):
        log_weights += (beta - previous) * log_likelihood.to(torch.float64)

        # one HMC transition leaving p(z) p(x | z)^beta invariant; energy U = |z|^2 / 2 - beta log p(x | z)
        def energy_gradient(z_: Tensor, grad_: Tensor) -> Tensor:
            return z_ - beta * grad_

        momentum = _normal((batch, latent_dim), generator, targets)
        start_energy = 0.5 * z.pow(2).sum(1) - beta * log_likelihood + 0.5 * momentum.pow(2).sum(1)
        new_z, new_momentum = z, momentum - 0.5 * step * energy_gradient(z, gradient)
        for leap in range(leapfrog_steps):
            new_z = new_z + step * new_momentum
            new_log_likelihood, new_gradient = log_likelihood_and_gradient(new_z)
            factor = 1.0 if leap < leapfrog_steps - 1 else 0.5
            new_momentum = new_momentum - factor * step * energy_gradient(new_z, new_gradient)
        end_energy = 0.5 * new_z.pow(2).sum(1) - beta * new_log_likelihood + 0.5 * new_momentum.pow(2).sum(1)
        uniform = torch.rand(batch, generator=generator, dtype=torch.float64).to(targets.device)
        accept = (uniform.log() < (start_energy - end_energy).to(torch.float64)) & torch.isfinite(end_energy)
        keep = accept.unsqueeze(1)
        z = torch.where(keep, new_z, z)
        log_likelihood = torch.where(accept, new_log_likelihood, log_likelihood)
        gradient = torch.where(keep, new_gradient, gradient)
        # per-chain step size towards the target acceptance rate (a running mean of the chain's own)
        acceptance = 0.9 * acceptance + 0.1 * keep.to(dtype)
        step = (step * torch.where(acceptance > TARGET_ACCEPTANCE, 1.02, 0.98)).clamp(1e-4, 0.5)
    log_weights = log_weights.view(num, num_chains)
    return torch.logsumexp(log_weights, dim=1) - math.log(num_chains)


class AISLogLikelihood(Metric):
    """Sums of the AIS log-likelihoods of this rank's real samples (``add``), summed across DDP ranks by
    ``compute()`` -> ``{"ais_log_likelihood", "ais_std_error", "ais_num_real"}``."""

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("total", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("total_squares", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, log_likelihoods: Tensor) -> None:
        values = log_likelihoods.detach().to(self.total.device, torch.float64)
        self.total += values.sum()
        self.total_squares += values.pow(2).sum()
        self.count += values.numel()

    def compute(self) -> dict[str, float]:
        count = int(self.count)
        if count == 0:
            raise RuntimeError("ais: no real samples")
        mean = float(self.total) / count
        variance = max(float(self.total_squares) / count - mean**2, 0.0) * count / max(count - 1, 1)
        return {"ais_log_likelihood": mean, "ais_std_error": math.sqrt(variance / count), "ais_num_real": count}


def _integer(minimum: int):
    return lambda value: isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _positive(value: Any) -> bool:
    return not isinstance(value, bool) and 0 < float(value) < math.inf


@register_metric
class AIS(EvalMetric):
    """AIS log-likelihood of held-out real samples under the generator with Gaussian observation noise
    (Wu et al. 2017): ``ais_chains`` HMC chains over ``ais_steps`` annealing steps per sample."""

    name = "ais"
    aliases = ("ais_log_likelihood",)
    outputs = ("ais_log_likelihood", "ais_std_error", "ais_num_real")
    takes = "model"
    real_inputs = ("samples",)
    reports_num_samples = False
    options = {"ais_sigma": 0.1, "ais_steps": 200, "ais_chains": 4, "ais_leapfrog_steps": 5, "ais_step_size": 0.05,
               "ais_num_real": 16, "ais_schedule": "sigmoid"}

    def __init__(self, context: MetricContext) -> None:
        super().__init__(context)
        options = context.options
        self.sigma = float(checked_option(options, "ais_sigma", _positive, "a positive noise std (data units)"))
        self.num_steps = checked_option(options, "ais_steps", _integer(1), "an integer >= 1")
        self.num_chains = checked_option(options, "ais_chains", _integer(1), "an integer >= 1")
        self.leapfrog_steps = checked_option(options, "ais_leapfrog_steps", _integer(1), "an integer >= 1")
        self.step_size = float(checked_option(options, "ais_step_size", _positive, "a positive initial step size"))
        self.num_real = checked_option(options, "ais_num_real", _integer(1), "an integer >= 1")
        self.schedule = checked_option(options, "ais_schedule", lambda v: v in SCHEDULES, f"one of {', '.join(SCHEDULES)}")
        model = context.model
        if model is None or not callable(getattr(model, "generate", None)) or not callable(getattr(model, "sample_noise", None)):
            raise ValueError("ais needs the model evaluated (a GANModule: generate(z) and sample_noise)")
        declared = model.conditions() if callable(getattr(model, "conditions", None)) else ()
        if declared or getattr(model, "translates", False):
            raise ValueError(f"ais estimates p(x) of an unconditional generator G(z); {type(model).__name__} is "
                             "conditioned on labels or inputs")
        # held in a tuple: an attribute would make the model a submodule of the metric (moved and listed with it)
        self.evaluated = (model,)
        self.use_ema, self.seed = context.use_ema, context.seed
        self.metric = AISLogLikelihood()
        self.real: Tensor | None = None

    def set_real_input(self, name: str, values: Tensor) -> None:
        self.real = values[: self.num_real]

    def compute(self, num_generated: int) -> dict[str, Any]:
        from gan_lightning.nets.layers import eval_mode

        if self.real is None:
            raise RuntimeError("ais: the real samples were not set")
        rank, world_size = distributed_rank_and_size()
        model = self.evaluated[0]
        net = model.sampling_generator if self.use_ema and hasattr(model, "sampling_generator") else model.generator
        latent_shape = tuple(model.sample_noise(1, rng=torch.Generator().manual_seed(0)).shape[1:])
        mine = self.real[rank::world_size].to(model.device)
        if mine.shape[0]:
            with eval_mode(net):
                values = ais_log_likelihood(
                    lambda z: model.generate(z, net=net), mine, latent_shape, self.sigma, self.num_steps,
                    self.num_chains, self.leapfrog_steps, self.step_size, self.schedule,
                    torch.Generator().manual_seed(rank_seed(self.seed, rank)))
            self.metric.update(values)
        return self.metric.compute()
