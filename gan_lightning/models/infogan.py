"""InfoGAN: Chen, Duan, Houthooft, Schulman, Sutskever & Abbeel 2016, "InfoGAN: Interpretable
Representation Learning by Information Maximizing Generative Adversarial Nets" (NeurIPS).

Recipe: G's input is [z, c]: incompressible noise z plus a latent code c (for MNIST one
10-way categorical code and two continuous codes, uniform on [-1, 1]). An auxiliary network
Q(c | x), which shares every convolutional layer with D and adds one hidden layer, estimates
the code back from G's samples; the variational lower bound L_I of the mutual information
I(c; G(z, c)) is maximised by G and Q, weighted by lambda = 1: min_{G,Q} max_D V(D, G) - lambda L_I.
-L_I is a cross-entropy for the categorical code and a Gaussian negative log-likelihood
(``continuous_loss="gaussian_nll"``, Q predicting a mean and a log-std per code; ``"mse"``
fixes the std) for the continuous ones. As in the authors' code, the information term is
added both to D's loss (it trains the shared body and Q's head, which are D's parameters)
and to G's loss (it trains G); the GAN part is the non-saturating loss.

InfoGAN is unsupervised: the data set's labels are never read. The information loss is
computed on G's samples only, against the codes G was given (a known bug of other
collections trains Q on real images against the ground-truth labels).

Defaults, from the paper's MNIST set-up: 62 noise dimensions, one 10-way categorical and 2
continuous codes, lambda = 1, Adam with lr 2e-4 for D (and Q) and 1e-3 for G, beta1 = 0.5,
Q's hidden layer of 128 units with BatchNorm; DCGAN-style convolutional G and D.
``continuous_weight`` scales the continuous codes' term (the paper sets lambda smaller for
continuous codes). The MNIST5k recipe uses the fixed-std form (``continuous_loss="mse"``, as
the authors' code fixes the std) with weight 0.1: with a learned std and weight 1 the
continuous code took over the digit identity (a traversal of c_1 turned 6s into 0s and 9s)
and the categorical code's cluster purity was 45.6 % after 4,000 iterations, against 59.0 %
with the recipe's setting (measured on the 500 held-out digits, seed 0).

``noise_distribution`` is the law of the incompressible noise z: ``"normal"`` (N(0, I), the
default, as every other model here) or ``"uniform"`` (U[-1, 1], the authors' MNIST code:
``Uniform(62)`` in ``launchers/run_mnist_exp.py`` of github.com/openai/InfoGAN, whose latent spec
also fixes the continuous codes' std, ``fix_std=True``, and weights every code's term by 1; with
2 codes their 0.5 * squared error summed over codes is ``continuous_loss="mse"`` with weight 1).
``benchmarks/encoders_findings.py`` measures that spec against the MNIST5k recipe.

``architecture`` picks the networks: ``"dcgan"`` (the default: DCGAN-style convolutional G and D of
``g_width`` / ``d_width``, Q's hidden layer on D's flattened conv features) or ``"authors"``, the authors'
MNIST networks (``infogan/models/regularized_gan.py``, ``network_type="mnist"``;
:mod:`gan_lightning.nets.infogan`): D conv 64 - conv 128 + BN - FC 1024 + BN with leaky ReLU 0.01, D's
logit and Q (FC 128 + BN + leaky ReLU, then the code outputs) both on that FC-1024 layer; G FC 1024 + BN -
FC (size/4)^2 x 128 + BN - deconv 64 + BN - deconv, 4x4 kernels of stride 2, for sizes divisible by 4 (28
for MNIST); ``g_width`` and ``d_width`` go unused. ``experiments/infogan/mnist5k_authors.yaml`` is the
authors' whole MNIST run (``launchers/run_mnist_exp.py``): those networks, their latent spec and code
weights, batch 128, 28 px, 5,000 iterations (50 "epochs" of 100 updates).

``traversal_grid`` draws the paper's latent-traversal figure: one row per categorical
value, one column per value of a continuous code, the other inputs held fixed.
``sample(labels=...)`` sets the categorical code to the given values.
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
import torch.nn.functional as F

from gan_lightning.losses import nonsaturating_d, nonsaturating_g
from gan_lightning.core import Phase, StepContext
from gan_lightning.models.base import GANModule
from gan_lightning.models.registry import register_model
from gan_lightning.nets import (AuxiliaryHeadDiscriminator, DCGANGenerator, InfoGANMNISTGenerator,
                                infogan_mnist_discriminator, network_kind)
from gan_lightning.nets.conditional import check_labels


@register_model
class InfoGAN(GANModule):
    smooths_real_labels = True  # D's loss is binary cross-entropy: label_smoothing applies
    top_k_applies = True  # G's adversarial loss is a mean over samples drawn from noise: top_k applies
    paper = "Chen et al. 2016, InfoGAN: Interpretable Representation Learning by Information Maximizing GANs"
    data_kinds = ("image",)
    recipe = {"lr_g": 0.001}

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 28, 28),
        noise_dim: int = 62,
        categorical_dim: int = 10,
        continuous_dim: int = 2,
        g_width: int = 64,
        d_width: int = 64,
        d_norm: Literal["batch", "none", "layer"] = "batch",
        q_hidden: int = 128,
        info_weight: float = 1.0,
        continuous_weight: float = 1.0,
        continuous_loss: Literal["gaussian_nll", "mse"] = "gaussian_nll",
        noise_distribution: Literal["normal", "uniform"] = "normal",
        architecture: Literal["dcgan", "authors"] = "dcgan",
        **kwargs,
    ) -> None:
        if noise_dim < 1 or categorical_dim < 2 or continuous_dim < 0:
            raise ValueError("InfoGAN needs noise_dim >= 1, categorical_dim >= 2 and continuous_dim >= 0")
        if continuous_loss not in ("gaussian_nll", "mse"):
            raise ValueError(f"model.continuous_loss must be 'gaussian_nll' or 'mse', got {continuous_loss!r}")
        if noise_distribution not in ("normal", "uniform"):
            raise ValueError(f"model.noise_distribution must be 'normal' or 'uniform', got {noise_distribution!r}")
        if architecture not in ("dcgan", "authors"):
            raise ValueError(f"model.architecture must be 'dcgan' or 'authors', got {architecture!r}")
        if architecture == "authors" and d_norm != "batch":
            raise ValueError(f"model.d_norm must be 'batch' with architecture 'authors' (their D has BatchNorm), "
                             f"got {d_norm!r}")
        super().__init__(data_shape=data_shape, latent_dim=noise_dim + categorical_dim + continuous_dim, **kwargs)
        network_kind(self.data_shape, "dcgan")
        channels, size = self.data_shape[0], self.data_shape[1]
        self.noise_dim, self.categorical_dim, self.continuous_dim = noise_dim, categorical_dim, continuous_dim
        self.info_weight, self.continuous_loss, self.continuous_weight = info_weight, continuous_loss, continuous_weight
        self.noise_distribution, self.architecture = noise_distribution, architecture
        q_outputs = categorical_dim + continuous_dim * (2 if continuous_loss == "gaussian_nll" else 1)
        if architecture == "authors":  # their MNIST networks; g_width and d_width go unused
            self.generator = InfoGANMNISTGenerator(self.latent_dim, channels, size)
            self.discriminator = infogan_mnist_discriminator(channels, size, q_outputs, q_hidden)
        else:
            self.generator = DCGANGenerator(self.latent_dim, channels, size, g_width)
            self.discriminator = AuxiliaryHeadDiscriminator(channels, size, d_width, q_outputs, q_hidden, d_norm)
        # Sample grids: the base class's fixed noise, with codes in place of its last columns.
        fixed = torch.Generator().manual_seed(4321)
        num = self.fixed_noise.size(0)
        continuous = torch.rand(num, continuous_dim, generator=fixed) * 2 - 1
        noise = self.fixed_noise[:, :noise_dim]
        if noise_distribution == "uniform":
            noise = torch.rand(num, noise_dim, generator=fixed) * 2 - 1
        with torch.no_grad():
            self.fixed_noise.copy_(self.join_latent(noise, torch.arange(num) % categorical_dim, continuous))

    # ------------------------------------------------------------------ latent codes
    def join_latent(self, noise: torch.Tensor, categorical: torch.Tensor, continuous: torch.Tensor) -> torch.Tensor:
        """[noise, one_hot(categorical), continuous], (N, latent_dim)."""
        one_hot = F.one_hot(categorical.long(), self.categorical_dim).to(noise.dtype)
        return torch.cat([noise, one_hot, continuous.to(noise.dtype)], dim=1)

    def split_latent(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(noise, categorical index (N,), continuous codes) of a latent batch."""
        noise, one_hot, continuous = z.split([self.noise_dim, self.categorical_dim, self.continuous_dim], dim=1)
        return noise, one_hot.argmax(dim=1), continuous

    def sample_noise(self, num, rng=None, truncation=None):
        """[z, c]: z ~ N(0, I) (truncated when asked) or U[-1, 1] (``noise_distribution``),
        categorical c uniform, continuous c ~ U[-1, 1]."""
        if self.noise_distribution == "uniform":
            # truncation has no meaning for a bounded law: U[-1, 1] is already inside any t >= 1
            shape = (num, self.noise_dim)
            draw = torch.rand(*shape, device=self.device) if rng is None else torch.rand(*shape, generator=rng)
            noise = (draw * 2 - 1).to(self.device)
        else:
            noise = super().sample_noise(num, rng, truncation)[:, : self.noise_dim]
        if rng is None:
            categorical = torch.randint(0, self.categorical_dim, (num,), device=self.device)
            continuous = torch.rand(num, self.continuous_dim, device=self.device) * 2 - 1
        else:
            categorical = torch.randint(0, self.categorical_dim, (num,), generator=rng).to(self.device)
            continuous = (torch.rand(num, self.continuous_dim, generator=rng) * 2 - 1).to(self.device)
        return self.join_latent(noise, categorical, continuous)

    def with_categorical(self, z: torch.Tensor, values) -> torch.Tensor:
        """``z`` with its categorical code set to ``values``."""
        noise, _, continuous = self.split_latent(z)
        values = check_labels(values, self.categorical_dim, z.size(0)).to(z.device)
        return self.join_latent(noise, values, continuous)

    # ------------------------------------------------------------------ losses
    def discriminate(self, x, labels=None):
        return self.run_discriminator(x)[0]

    def information_loss(self, q_out: torch.Tensor, z: torch.Tensor) -> dict[str, torch.Tensor]:
        """-L_I (up to the constant code entropy): CE on the categorical code + NLL / MSE on the continuous ones."""
        _, categorical, continuous = self.split_latent(z)
        logits = q_out[:, : self.categorical_dim]
        rest = q_out[:, self.categorical_dim:]
        terms = {"info_categorical": F.cross_entropy(logits, categorical),
                 "info_acc": (logits.argmax(dim=1) == categorical).float().mean()}
        if self.continuous_dim:
            mean = rest[:, : self.continuous_dim]
            if self.continuous_loss == "gaussian_nll":
                log_std = rest[:, self.continuous_dim:].clamp(-5.0, 5.0)
                terms["info_continuous"] = F.gaussian_nll_loss(mean, continuous, torch.exp(2 * log_std))
            else:
                terms["info_continuous"] = F.mse_loss(mean, continuous)
        else:
            terms["info_continuous"] = logits.new_zeros(())
        terms["info_loss"] = terms["info_categorical"] + self.continuous_weight * terms["info_continuous"]
        return terms

    def phases(self) -> list[Phase]:
        return self.adversarial_phases(self.discriminator_terms, self.generator_terms)

    def discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        """D (with Q's head) on the batch and G's samples; the batch's labels are never read."""
        source_real, _ = self.run_discriminator(ctx.real)
        source_fake, q_fake = self.run_discriminator(ctx.fake.detach())
        info = self.information_loss(q_fake, ctx.z)
        adversarial = nonsaturating_d(source_real, source_fake, self.real_target(source_real))
        return {"d_loss": adversarial + self.info_weight * info["info_loss"], "d_adversarial": adversarial,
                "d_real": source_real.mean(), "d_fake": source_fake.mean(), **info}

    def generator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        source_fake, q_fake = self.run_discriminator(ctx.fake)
        info = self.information_loss(q_fake, ctx.z)
        adversarial = nonsaturating_g(self.top_k_samples(source_fake))
        return {"g_loss": adversarial + self.info_weight * info["info_loss"], "g_adversarial": adversarial,
                **{f"g_{name}": value for name, value in info.items()}}

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def sample(self, num_samples=None, noise=None, labels=None, use_ema=True, truncation=None, rng=None,
               conditions=None):
        """Samples of G; ``labels`` (optional) set the categorical code of each sample."""
        if labels is not None:
            if noise is None:
                if num_samples is None:
                    raise ValueError("sample() needs num_samples or noise")
                noise = self.sample_noise(num_samples, rng=rng, truncation=truncation)
            noise = self.with_categorical(noise.to(self.device), labels)
        return super().sample(num_samples, noise, None, use_ema, truncation, rng, conditions)

    @torch.no_grad()
    def traversal_grid(
        self,
        categorical_values: int | Sequence[int] | None = None,
        continuous_index: int = 0,
        steps: int = 8,
        span: float = 2.0,
        noise: torch.Tensor | None = None,
        rng: torch.Generator | None = None,
        use_ema: bool = True,
    ) -> torch.Tensor:
        """Latent traversal: (rows * steps, C, H, W) images, row-major.

        Row r has the categorical code ``categorical_values[r]`` (default: every value);
        along a row the continuous code ``continuous_index`` runs linearly from -span to
        +span (the paper shows -2 to 2, beyond the training range [-1, 1]); the noise
        (``noise``, shape (noise_dim,) or (1, noise_dim), else drawn once from ``rng``)
        and the other continuous codes (0) are the same in every cell.
        """
        if not 0 <= continuous_index < self.continuous_dim:
            raise ValueError(f"continuous_index must be in [0, {self.continuous_dim}), got {continuous_index}")
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        if categorical_values is None:
            values = list(range(self.categorical_dim))
        elif isinstance(categorical_values, int):
            values = [categorical_values]
        else:
            values = [int(v) for v in categorical_values]
        rows = len(values)
        if noise is None:
            noise = self.sample_noise(1, rng=rng)[:, : self.noise_dim]
        noise = noise.reshape(1, self.noise_dim).to(self.device).expand(rows * steps, -1)
        categorical = check_labels(torch.tensor(values), self.categorical_dim, rows).repeat_interleave(steps)
        continuous = torch.zeros(rows * steps, self.continuous_dim)
        continuous[:, continuous_index] = torch.linspace(-span, span, steps).repeat(rows)
        z = self.join_latent(noise, categorical.to(self.device), continuous.to(self.device))
        return self.sample(noise=z, use_ema=use_ema)
