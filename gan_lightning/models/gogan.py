"""GoGAN: Juefei-Xu, Boddeti & Savvides 2017, "Gang of GANs: Generative Adversarial Networks with
Maximum Margin Ranking" (arXiv:1704.04865).

Recipe: a WGAN whose critic loss has a margin, trained in stages. In the first stage the critic
minimises the margin loss ``max(0, eps + D(G(z)) - D(x))`` (a real sample must outscore a fake by
``eps``); at each later stage the stage before's generator and critic become a frozen reference
(G_prev, D_prev) and the critic also minimises the **ranking** loss
``max(0, 2 eps_s + D_prev(G_prev(z)) - D(x))``: the new critic must score real samples above what the
previous stage's critic gave the previous stage's fakes, by twice the margin, so each stage's critic is
stronger than the last (the paper's "progressively strengthen the discriminator"). G minimises -D(G(z))
(WGAN's generator loss) throughout.

What the paper leaves open, and what we chose:

- **the sources**: the paper's text was not at hand here (the recipe above is the issue's summary of
  it). The authors' released code is of the paper's later version, RankGAN (Dey, Juefei-Xu, Boddeti &
  Savvides 2018; human-analysis/RankGAN, whose README cites this paper), a different system: G pre-trained
  as a VAE's decoder (stage 0), D trained alone with a hinge margin (stage 1), then ranking stages in which
  the current critic ranks real samples above a marker, the previous stage's fakes below another and the
  current fakes below those (``losses/gogan_loss.py`` ``rankerD``, ``train.py``), with a gradient penalty
  and G's learning rate 1e-7 (``config.py``): the adversarial stages fine-tune a VAE, they do not train G
  from noise. Not ported (no VAE stage here); the one public implementation of the staged GAN itself
  found in the code index is a TensorFlow re-implementation (its repository not named by the index), from which we
  take, as a re-implementation's values and not the paper's: the margin
  eps = 1 (``margin``), weight clipping at 0.1 (``clip_value``; WGAN's is 0.01, with which a critic's
  outputs stay far below a margin of 1 and the margin never binds), the ranking term's weight 0.5
  (``rank_weight``), 5 critic steps per G step, RMSProp, and the next stage's G starting from the
  previous stage's G (and D from D) rather than from scratch;
- **the ranking term**: the re-implementation's ``D2_loss``: ``relu(D1_fake + 2 * epsilon - D2_real)``,
  the previous stage's critic on the previous stage's fakes against the new critic on real samples, weight
  ``l_rank`` 0.5. (Until 2026-12-05 this file ranked the current G's fakes above G_prev's instead, a form
  no source has: that term rewards D for scoring the current fakes high, and at the recipe's 6,000
  iterations the staged run fell to 3 digit classes and FID 734 against the one-stage run's 10 and 331:
  ``benchmarks/gogan_stages.py``, section ``gogan``);
- **the reference**: the re-implementation keeps training its stage-1 pair beside stage 2; we freeze the
  previous stage's G and D when the next stage starts (a reference per stage, for any number of stages);
- **the margin schedule**: the margin shrinks by stage (the issue); the re-implementation has two stages
  and a fixed eps; we halve it at every stage, eps_s = ``margin`` * ``margin_decay`` ** s
  (``margin_decay`` 0.5), for both terms of stage s;
- **the stages as data**: ``stage_iterations`` lists each stage's length in iterations; the last
  stage goes on to the end of training (the default 3 stages of 2,000 iterations);
- **the reference's mode**: G_prev draws in eval mode (its BatchNorm statistics as copied), from the
  same z as G in that iteration, and D_prev scores it, with no gradient; both are registered sub-modules
  outside every optimizer (``generator_previous``, ``discriminator_previous``), so they are saved in the
  checkpoint and a resume is bitwise;
- **the networks and optimiser**: WGAN's (:class:`~gan_lightning.models.wgan.WGAN`): the DCGAN
  networks for images, MLPs for vectors, RMSProp 5e-5 (Arjovsky et al., Algorithm 1).

Logged: ``d_margin`` (the margin term), ``d_rank`` (the ranking term, 0 in the first stage),
``wasserstein`` = E D(x) - E D(G(z)), and ``stage``.
"""

from __future__ import annotations

import copy
from typing import Sequence

import torch
import torch.nn.functional as F

from gan_lightning.core import Phase, StepContext
from gan_lightning.losses import wasserstein_g, weight_clip_
from gan_lightning.models.registry import register_model
from gan_lightning.models.wgan import WGAN
from gan_lightning.nets.layers import eval_mode


def margin_terms(real: torch.Tensor, fake: torch.Tensor, previous: torch.Tensor | None,
                 margin: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(margin term, ranking term) of GoGAN's critic: mean max(0, margin + D(G(z)) - D(x)) and
    mean max(0, 2 margin + D_prev(G_prev(z)) - D(x)) (zero when there is no previous stage); ``real`` and
    ``fake`` are the critic's outputs, ``previous`` the previous stage's critic's on its generator's fakes.

    Both are 0 exactly when D(x) > D(G(z)) + margin and D(x) > D_prev(G_prev(z)) + 2 margin for every sample."""
    margin_term = F.relu(margin + fake - real).mean()
    rank_term = F.relu(2 * margin + previous - real).mean() if previous is not None else fake.new_zeros(())
    return margin_term, rank_term


@register_model
class GoGAN(WGAN):
    """Gang of GANs: a margin critic, trained in stages, each critic ranking real samples above the previous
    stage's critic's score of the previous stage's fakes.

    Args:
        stage_iterations: each stage's length in iterations; the last stage goes on to the end of training.
        margin: the first stage's margin eps_0.
        margin_decay: the margin's factor from one stage to the next (eps_s = margin * margin_decay ** s).
        rank_weight: weight of the ranking term.
        clip_value: the critic's weight clipping (WGAN's; see the module docstring for 0.1).
    """

    paper = "Juefei-Xu, Boddeti & Savvides 2017, Gang of GANs: Generative Adversarial Networks with Maximum Margin Ranking"
    data_kinds = ("image", "toy2d")
    recipe = {"optimizer": "rmsprop", "lr_g": 5e-05, "lr_d": 5e-05, "critic_steps": 5}

    def __init__(
        self,
        stage_iterations: Sequence[int] = (2000, 2000, 2000),
        margin: float = 1.0,
        margin_decay: float = 0.5,
        rank_weight: float = 0.5,
        clip_value: float = 0.1,
        **kwargs,
    ) -> None:
        super().__init__(clip_value=clip_value, **kwargs)
        stages = [int(n) for n in stage_iterations]
        if not stages or any(n < 1 for n in stages):
            raise ValueError(f"model.stage_iterations must be a non-empty list of stage lengths >= 1, got "
                             f"{list(stage_iterations)}")
        if not margin > 0:
            raise ValueError(f"model.margin must be > 0, got {margin}")
        if not 0 < margin_decay <= 1:
            raise ValueError(f"model.margin_decay must be in (0, 1] (the margin's factor per stage), got {margin_decay}")
        if rank_weight < 0:
            raise ValueError(f"model.rank_weight must be >= 0, got {rank_weight}")
        self.stage_iterations, self.margin, self.margin_decay = stages, float(margin), float(margin_decay)
        self.rank_weight = float(rank_weight)
        # the stage starts: a stage's G becomes the reference at the start of the next one
        self.stage_starts = [sum(stages[:s]) for s in range(1, len(stages))]
        self.generator_previous = copy.deepcopy(self.generator).requires_grad_(False)
        self.discriminator_previous = copy.deepcopy(self.discriminator).requires_grad_(False)

    def stage(self, iteration: int) -> int:
        """The stage (0-based) of a 0-based iteration."""
        return sum(iteration >= start for start in self.stage_starts)

    def stage_margin(self, stage: int) -> float:
        return self.margin * self.margin_decay ** stage

    @torch.no_grad()
    def freeze_reference(self) -> None:
        """The current G and D become the frozen reference (parameters and buffers copied in place)."""
        for reference, current in ((self.generator_previous, self.generator),
                                   (self.discriminator_previous, self.discriminator)):
            for target, source in zip(reference.state_dict().values(), current.state_dict().values()):
                target.copy_(source)

    def prepare_step(self, ctx: StepContext) -> None:
        if ctx.iteration in self.stage_starts:
            self.freeze_reference()
        ctx.stage = self.stage(ctx.iteration)
        super().prepare_step(ctx)
        ctx.previous = None
        if ctx.stage > 0 and ctx.runs("D"):  # D_prev's score of G_prev's fakes, from this iteration's z
            with torch.no_grad(), eval_mode(self.generator_previous), eval_mode(self.discriminator_previous):
                ctx.previous = self.run_discriminator(self.generator_previous(ctx.z), net="discriminator_previous")

    def discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        real_out, fake_out = self.discriminate(ctx.real), self.discriminate(ctx.fake.detach())
        margin_term, rank_term = margin_terms(real_out, fake_out, ctx.previous, self.stage_margin(ctx.stage))
        return {"d_loss": margin_term + self.rank_weight * rank_term, "d_margin": margin_term.detach(),
                "d_rank": rank_term.detach(), "wasserstein": (real_out.mean() - fake_out.mean()).detach(),
                "stage": real_out.new_full((), float(ctx.stage)).detach()}

    def generator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        return {"g_loss": wasserstein_g(self.discriminate(ctx.fake))}

    def phases(self) -> list[Phase]:
        return self.adversarial_phases(self.discriminator_terms, self.generator_terms,
                                       after_discriminator=lambda ctx: weight_clip_(self.discriminator, self.clip_value))
