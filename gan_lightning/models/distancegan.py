"""DistanceGAN: Benaim & Wolf 2017, "One-Sided Unsupervised Domain Mapping" (NeurIPS).

Recipe: one generator G_AB, no inverse. Besides the GAN loss, G keeps the pairwise distances
of its inputs: for every pair (i, j) of the batch,

    | (d(x_i, x_j) - mu_A) / sigma_A  -  (d(G(x_i), G(x_j)) - mu_B) / sigma_B |,

averaged over the pairs i < j, with d the mean absolute difference per element and mu / sigma
the mean and standard deviation of d over pairs of images of each domain. The authors
estimate them once, from the data, before training (``set_expectation_and_std``). Here they
are a buffer (``distance_stats``: mu_A, sigma_A, mu_B, sigma_B), estimated in ``on_fit_start``
from ``trainer.datamodule.train_set`` (a seeded sample of ``stats_samples`` images per domain,
every pair among them) unless a checkpoint restored them; a resume is therefore exact and the
global RNG is not touched. ``use_self_distance``: the authors' alternative, the distance
between the two halves of one image (their code cuts along the height, ``chunk(x, 2, dim=2)``:
top against bottom; the paper speaks of left and right halves, ``self_distance_split``).
``distance_weight=0`` is the GAN-only baseline (no statistics are estimated).

Defaults, from the authors' code (github.com/sagiebenaim/DistanceGAN):
- networks: their 32 px digits models (``cyclegan_arch/mnist_to_svhn/model.py``): G = two
  stride-2 4x4 convs (64, 128), two 3x3 convs at 128, two stride-2 4x4 transposed convs,
  BatchNorm, leaky ReLU 0.05, tanh; D = stride-2 4x4 convs (64 without norm, 128, 256 with
  BatchNorm), leaky ReLU 0.05, a 4x4 valid conv to one score;
- LSGAN losses (their digits solver and ``--no_lsgan`` off in the CycleGAN-based code);
  Adam lr 2e-4, betas (0.5, 0.999); batch 16 in their digits script;
- ``distance_weight`` 1.0: ``--lambda_distance_A`` of their CycleGAN-based code (their digits
  script uses 0.05, but normalises by the spread of *batch-averaged* distances, a spread
  about sqrt(batch) times smaller, so its terms are larger);
- ``stats_samples`` 900: ``--max_items`` of their DiscoGAN-based code, which, as the paper,
  uses single images (their digits script uses 400 batches).
Their digits D step takes real and fake batches as two optimizer steps; here one step on the sum.

Translation is one-sided: ``translate(images, "AtoB")``; BtoA raises.
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch

from gan_lightning.core import Phase, StepContext
from gan_lightning.losses import lsgan_d, lsgan_g
from gan_lightning.models.base import GANModule
from gan_lightning.models.registry import register_model
from gan_lightning.nets.digits import DigitCritic, DigitTranslator
from gan_lightning.models.shared import MapsAToB
from gan_lightning.nets.layers import power_of_two_depth
from gan_lightning.nets.layers import eval_mode


def mean_abs_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """d(x_k, y_k) per row k: the mean absolute difference per element (the authors' ``distance``)."""
    return (x - y).abs().flatten(1).mean(1)


def pairwise_distances(x: torch.Tensor) -> torch.Tensor:
    """d(x_i, x_j) for the pairs i < j of the batch, in ``torch.triu_indices`` order.

    Every pair's distance from one broadcast (N, N, ...) difference, then the upper triangle picked:
    each entry is picked once, so the backward pass adds no two gradients into one place by index
    (``x[i]`` with repeated rows did: its scatter-add is not deterministic on several CPU threads or
    on a GPU, so runs and resumes differed)."""
    flat = x.flatten(1)
    every = (flat[:, None] - flat[None]).abs().mean(2)
    i, j = torch.triu_indices(x.size(0), x.size(0), offset=1, device=x.device)
    return every[i, j]


def halves(x: torch.Tensor, split: Literal["top_bottom", "left_right"]) -> tuple[torch.Tensor, torch.Tensor]:
    first, second = torch.chunk(x, 2, dim=2 if split == "top_bottom" else 3)
    return first, second


def distance_loss(source: torch.Tensor, mapped: torch.Tensor, stats: torch.Tensor, self_distance: bool = False,
                  split: Literal["top_bottom", "left_right"] = "top_bottom") -> torch.Tensor:
    """The paper's distance loss: mean over pairs of |normalised d in A - normalised d in B|.

    ``stats`` = (mu_A, sigma_A, mu_B, sigma_B). Pairs: i < j of the batch, or, with
    ``self_distance``, the two halves of each image.
    """
    mu_a, sigma_a, mu_b, sigma_b = stats
    if self_distance:
        d_a, d_b = mean_abs_distance(*halves(source, split)), mean_abs_distance(*halves(mapped, split))
    else:
        if source.size(0) < 2:
            raise ValueError("DistanceGAN's distance loss needs batches of at least 2 images (or use_self_distance)")
        d_a, d_b = pairwise_distances(source), pairwise_distances(mapped)
    return ((d_a - mu_a) / sigma_a - (d_b - mu_b) / sigma_b).abs().mean()


@torch.no_grad()
def distance_statistics(images: torch.Tensor, self_distance: bool = False,
                        split: Literal["top_bottom", "left_right"] = "top_bottom",
                        chunk: int = 64) -> tuple[float, float]:
    """(mean, std) of d over every pair of ``images`` (or over each image's two halves).

    The std is the population one (divided by the number of pairs), as the authors compute it.
    """
    images = images.flatten(1).double() if not self_distance else images.double()
    if self_distance:
        d = mean_abs_distance(*halves(images, split))
    else:
        n = images.size(0)
        if n < 2:
            raise ValueError("distance statistics need at least 2 images")
        rows = [torch.cdist(images[s:s + chunk], images, p=1) / images.size(1) for s in range(0, n, chunk)]
        full = torch.cat(rows)
        i, j = torch.triu_indices(n, n, offset=1)
        d = full[i, j]
    return float(d.mean()), float(d.std(unbiased=False))


@register_model
class DistanceGAN(MapsAToB, GANModule):
    paper = "Benaim & Wolf 2017, One-Sided Unsupervised Domain Mapping"
    data_kinds = ("unpaired",)
    recipe = {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999)}

    def __init__(
        self,
        data_shape: Sequence[int] = (3, 32, 32),
        distance_weight: float = 1.0,
        use_self_distance: bool = False,
        self_distance_split: Literal["top_bottom", "left_right"] = "top_bottom",
        stats_samples: int = 900,
        stats_seed: int = 0,
        g_width: int = 64,
        d_width: int = 64,
        **kwargs,
    ) -> None:
        """
        Args:
            data_shape: (C, H, W) of both domains; H = W a power of two >= 8.
            distance_weight: weight of the distance loss (0: the GAN-only baseline).
            use_self_distance: the distance between each image's two halves instead of between pairs of images.
            self_distance_split: ``top_bottom`` (the authors' code) or ``left_right`` (the paper's words).
            stats_samples: images per domain for mu / sigma (all their pairs).
            stats_seed: seed of the sample of images for mu / sigma.
            g_width, d_width: first-layer channels of G and D (64 in the authors' code).
        """
        super().__init__(data_shape=data_shape, latent_dim=1, **kwargs)
        channels, size = self.data_shape[0], self.data_shape[1]
        power_of_two_depth("DistanceGAN", size)
        if size % 4:
            raise ValueError(f"DistanceGAN needs images whose size is a multiple of 4, got {size}")
        if distance_weight < 0:
            raise ValueError(f"distance_weight must be >= 0, got {distance_weight}")
        if stats_samples < 2:
            raise ValueError(f"stats_samples must be >= 2, got {stats_samples}")
        if self_distance_split not in ("top_bottom", "left_right"):
            raise ValueError(f"self_distance_split must be top_bottom or left_right, got {self_distance_split!r}")
        self.distance_weight = float(distance_weight)
        self.use_self_distance = bool(use_self_distance)
        self.self_distance_split = self_distance_split
        self.stats_samples, self.stats_seed = int(stats_samples), int(stats_seed)
        self.generator = DigitTranslator(channels, channels, g_width)
        self.discriminator = DigitCritic(channels, size, d_width)
        # mu_A, sigma_A, mu_B, sigma_B; zeros (no spread) until estimated; a buffer, so in every checkpoint
        self.register_buffer("distance_stats", torch.zeros(4, dtype=torch.float64))

    # ------------------------------------------------------------------ statistics
    @property
    def has_distance_stats(self) -> bool:
        return bool(self.distance_stats[1] > 0 and self.distance_stats[3] > 0)

    def estimate_distance_stats(self, dataset) -> torch.Tensor:
        """mu / sigma of each domain from a seeded sample of ``dataset`` (dict samples with "a" and "b")."""
        n = len(dataset)
        if n < 2:
            raise ValueError(f"DistanceGAN needs at least 2 training samples to estimate distances, got {n}")
        order = torch.randperm(n, generator=torch.Generator().manual_seed(self.stats_seed))[: self.stats_samples]
        samples = [dataset[int(i)] for i in order]
        stats = []
        for key in ("a", "b"):
            images = torch.stack([torch.as_tensor(sample[key]) for sample in samples])
            stats += distance_statistics(images, self.use_self_distance, self.self_distance_split)
        if min(stats[1], stats[3]) <= 0:
            raise ValueError("DistanceGAN: a domain's distances have zero spread; mu / sigma cannot normalise them")
        self.distance_stats.copy_(torch.tensor(stats, dtype=torch.float64))
        return self.distance_stats

    def on_fit_start(self) -> None:
        super().on_fit_start()
        if self.distance_weight > 0 and not self.has_distance_stats:
            datamodule = getattr(self.trainer, "datamodule", None)
            dataset = getattr(datamodule, "train_set", None)
            if dataset is None:
                raise ValueError("DistanceGAN estimates its distance statistics from trainer.datamodule.train_set; "
                                 "fit with a GANDataModule (or call estimate_distance_stats(dataset) first)")
            self.estimate_distance_stats(dataset)

    # ------------------------------------------------------------------ training
    def prepare_step(self, ctx: StepContext) -> None:
        with torch.set_grad_enabled(ctx.runs("G")):
            ctx.fake_b = self.generator(ctx.a)

    def phases(self) -> list[Phase]:
        return self.adversarial_phases(self.discriminator_terms, self.generator_terms)

    def discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        return {"d_loss": lsgan_d(self.run_discriminator(ctx.b), self.run_discriminator(ctx.fake_b.detach()))}

    def generator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        adversarial = lsgan_g(self.run_discriminator(ctx.fake_b))
        terms = {"g_adversarial": adversarial}
        loss = adversarial
        if self.distance_weight > 0:  # on_fit_start has estimated the statistics (no host read per step)
            stats = self.distance_stats.to(ctx.a.dtype)
            distance = distance_loss(ctx.a, ctx.fake_b, stats, self.use_self_distance, self.self_distance_split)
            terms["distance"] = distance
            loss = loss + self.distance_weight * distance
        return {"g_loss": loss, **terms}

    def heldout_step(self, batch, batch_idx: int, stage: str) -> None:
        ctx = StepContext(batch)
        fake = self.generator(ctx.a)
        scores = {f"{stage}/d_real": self.run_discriminator(ctx.b).mean(),
                  f"{stage}/d_fake": self.run_discriminator(fake).mean()}
        if self.has_distance_stats and ctx.a.size(0) > 1:
            scores[f"{stage}/distance"] = distance_loss(ctx.a, fake, self.distance_stats.to(fake.dtype),
                                                        self.use_self_distance, self.self_distance_split)
        self.log_dict(scores, on_epoch=True, batch_size=ctx.a.size(0))

    def discriminate(self, x, labels=None):
        return self.run_discriminator(x)

    # ------------------------------------------------------------------ translation
    @torch.no_grad()
    def translate(self, images: torch.Tensor, direction: str = "AtoB", use_ema: bool = True) -> torch.Tensor:
        """G_AB(images) in eval mode (BatchNorm's running statistics), the EMA copy when there is one."""
        if direction != "AtoB":
            raise ValueError(f"DistanceGAN is one-sided: it maps A to B only, not {direction!r}")
        net = self.sampling_generator if use_ema else self.generator
        with eval_mode(net):
            return net(images.to(self.device))
