"""DiscoGAN: Kim et al. 2017, "Learning to Discover Cross-Domain Relations with Generative
Adversarial Networks" (ICML).

Two generators, G_AB: A -> B and G_BA: B -> A, and two discriminators, D_B (real B or G_AB(a)?)
and D_A (real A or G_BA(b)?), trained on *unpaired* samples: the only terms that join the two
domains are the reconstructions a ~ G_BA(G_AB(a)) and b ~ G_AB(G_BA(b)). No term compares
G_AB(a) with the b drawn beside it (one popular collection adds such a paired pixel loss, which
makes the model supervised; here the loss does not depend on how a and b are paired in a batch,
and a test shows it).

Networks (the paper's section 4 and the authors' ``discogan/model.py``): each generator is an
encoder-decoder of ``depth`` = 4 stride-2 4x4 convolutions (64-128-256-512 channels, LeakyReLU
0.2, BatchNorm from the second) mirrored by 4 stride-2 transposed convolutions (BatchNorm, ReLU;
the authors' decoder uses ReLU, not leaky), no biases; the output is tanh here (the authors'
sigmoid on [0, 1] images; our images are in [-1, 1]). Each discriminator is the generator's
encoder followed by one convolution over what is left of the image (4x4 at the authors' 64 px)
to a single logit. PyTorch's default initialisation, as in the authors' code. At 32 px, ``depth`` 3
keeps the authors' 4x4 bottleneck (``experiments/discogan/digits_inverted.yaml``); at depth 4 (2x2)
G lost the digit on MNIST -> inverted MNIST with or without the reconstruction term.

Loss (the authors' ``discogan/image_translation.py``; every default below is from it):
- D, per domain: 0.5 BCE(D(real), 1) + 0.5 BCE(D(fake), 0); the two domains are summed.
- G, per direction A -> B -> A: (1 - rate) (0.1 BCE(D_B(G_AB(a)), 1) + 0.9 FM) + rate MSE(G_BA(G_AB(a)), a),
  and the same for B -> A -> B; the two are summed. FM (feature matching) is the squared
  difference of the batch-mean features of real and fake images after each of D's hidden
  layers but the first (``feature_matching`` = 0.9 is its share of the adversarial term; 0
  gives the paper's plain GAN term). The reconstruction is MSE, as in the authors' code.
- rate: ``curriculum_weight`` = 0.01 for the first ``curriculum_iters`` = 10,000 iterations (a
  strong GAN term at first), then ``cycle_weight`` = 0.5. ``cycle_weight = 0`` turns the
  reconstruction off at every iteration, leaving two independent GANs (the authors' "gan"
  architecture, in both directions): the benchmark's "without cycle" baseline.
- Schedule: D steps on iterations i with i % ``update_interval`` == 0, G on the others
  (``update_interval`` = 3: one D step per two G steps); 1 runs D then G on every iteration.
- Optimizers: one Adam over both generators, one over both discriminators, lr 2e-4, betas
  (0.5, 0.999), weight decay 1e-5. Batch 64 and 64 px images in the paper.

``translate(images, direction)`` runs G_AB (``"AtoB"``) or G_BA (``"BtoA"``) in eval mode, i.e.
with BatchNorm's running statistics, so an image's translation does not depend on the other
images of the batch (the authors' script translates in train mode, with batch statistics).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gan_lightning.core import Phase, StepContext
from gan_lightning.models.shared import TwoGeneratorTranslation
from gan_lightning.models.base import GANModule
from gan_lightning.models.registry import register_model
from gan_lightning.nets.unpaired import DiscoDiscriminators, DiscoGenerator


def _check_size(image_size: int, depth: int) -> None:
    if depth < 1 or image_size % (2**depth) != 0:
        raise ValueError(f"DiscoGAN needs an image size divisible by 2^depth = {2**depth}, got {image_size}")


@dataclass(frozen=True)
class AlternatingPhase(Phase):
    """A phase on the iterations i with ``(i % period == 0) == on_multiples`` (the authors' update_interval)."""

    period: int = 1
    on_multiples: bool = True

    def due(self, iteration: int) -> bool:
        return (iteration % self.period == 0) == self.on_multiples


def feature_matching(real: Sequence[torch.Tensor], fake: Sequence[torch.Tensor]) -> torch.Tensor:
    """Sum over layers of the mean squared difference of the batch-mean real and fake features."""
    return sum((r.mean(0) - f.mean(0)).pow(2).mean() for r, f in zip(real, fake))


@register_model
class DiscoGAN(TwoGeneratorTranslation, GANModule):
    paper = "Kim et al. 2017, Learning to Discover Cross-Domain Relations with GANs"
    data_kinds = ("unpaired",)
    recipe = {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "weight_decay": 1e-5}

    def __init__(
        self,
        data_shape: Sequence[int] = (3, 64, 64),
        g_width: int = 64,
        d_width: int = 64,
        depth: int = 4,
        cycle_weight: float = 0.5,
        curriculum_weight: float = 0.01,
        curriculum_iters: int = 10000,
        feature_matching: float = 0.9,
        update_interval: int = 3,
        **kwargs,
    ) -> None:
        super().__init__(data_shape=data_shape, latent_dim=1, **kwargs)
        channels, size = self.data_shape[0], self.data_shape[-1]
        _check_size(size, depth)
        for name, value in (("cycle_weight", cycle_weight), ("curriculum_weight", curriculum_weight),
                            ("feature_matching", feature_matching)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"model.{name} must be in [0, 1], got {value}")
        if update_interval < 1:
            raise ValueError(f"model.update_interval must be >= 1, got {update_interval}")
        if self.critic_steps != 1:
            raise ValueError("model.critic_steps does not apply to DiscoGAN: its schedule is model.update_interval "
                             "(D on every update_interval-th iteration, G on the others)")
        self.cycle_weight, self.curriculum_weight = cycle_weight, curriculum_weight
        self.curriculum_iters, self.feature_matching = curriculum_iters, feature_matching
        self.update_interval = update_interval
        self.generator = nn.ModuleDict({"ab": DiscoGenerator(channels, g_width, depth),
                                        "ba": DiscoGenerator(channels, g_width, depth)})
        self.discriminator = DiscoDiscriminators(channels, size, d_width, depth)

    # ------------------------------------------------------------------ schedule
    def phases(self) -> list[Phase]:
        if self.update_interval == 1:
            return [Phase("D", "discriminator", self.discriminator_terms),
                    Phase("G", "generator", self.generator_terms)]
        return [AlternatingPhase("D", "discriminator", self.discriminator_terms, period=self.update_interval),
                AlternatingPhase("G", "generator", self.generator_terms, period=self.update_interval,
                                 on_multiples=False)]

    def reconstruction_rate(self, iteration: int) -> float:
        """The reconstruction's weight (the adversarial term gets 1 minus it) at ``iteration``."""
        if self.cycle_weight == 0:
            return 0.0
        return self.curriculum_weight if iteration < self.curriculum_iters else self.cycle_weight

    def prepare_step(self, ctx: StepContext) -> None:
        with torch.set_grad_enabled(ctx.runs("G")):
            ctx.fake_b, ctx.fake_a = self.generator["ab"](ctx.a), self.generator["ba"](ctx.b)

    # ------------------------------------------------------------------ losses
    def discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        terms = {}
        for domain, real, fake in (("a", ctx.a, ctx.fake_a), ("b", ctx.b, ctx.fake_b)):
            real_logits = self.run_discriminator(real, domain)
            fake_logits = self.run_discriminator(fake.detach(), domain)
            terms[f"d_loss_{domain}"] = 0.5 * (
                F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
        return {"d_loss": terms["d_loss_a"] + terms["d_loss_b"], **terms}

    def adversarial_term(self, real: torch.Tensor, fake: torch.Tensor, domain: str) -> torch.Tensor:
        """0.1 BCE(D(fake), 1) + 0.9 feature matching (shares set by ``feature_matching``)."""
        fake_logits, fake_features = self.run_discriminator(fake, domain, method="features")
        gan = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
        if self.feature_matching == 0:
            return gan
        with torch.no_grad():
            _, real_features = self.run_discriminator(real, domain, method="features")
        return (1 - self.feature_matching) * gan + self.feature_matching * feature_matching(real_features,
                                                                                            fake_features)

    def generator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        """Each direction's adversarial term on its translation plus the reconstruction of its own input."""
        rate = self.reconstruction_rate(ctx.iteration)
        adversarial_b = self.adversarial_term(ctx.b, ctx.fake_b, "b")  # G_AB(a) against real B
        adversarial_a = self.adversarial_term(ctx.a, ctx.fake_a, "a")
        terms = {"adversarial_a": adversarial_a, "adversarial_b": adversarial_b}
        g_loss = (1 - rate) * (adversarial_a + adversarial_b)
        if rate > 0:
            terms["reconstruction_a"] = F.mse_loss(self.generator["ba"](ctx.fake_b), ctx.a)
            terms["reconstruction_b"] = F.mse_loss(self.generator["ab"](ctx.fake_a), ctx.b)
            g_loss = g_loss + rate * (terms["reconstruction_a"] + terms["reconstruction_b"])
        return {"g_loss": g_loss, **terms}
