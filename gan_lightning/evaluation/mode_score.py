"""Mode Score (``mode_score``; Che et al. 2017, "Mode Regularized Generative Adversarial Networks").

With a classifier's p(y|x) on the generated samples, p(y) = E_x p(y|x) their label marginal and p*(y)
the label marginal of the *real* samples (the same classifier's mean prediction on them, so it works
for the digits classifier's 10 classes and Inception's 1008 alike):

    Mode Score = exp( E_x KL(p(y|x) || p(y)) - KL(p(y) || p*(y)) )
               = Inception Score (one split) * exp(-KL(p(y) || p*(y)))

The first term is the Inception Score's (confident and varied predictions); the second penalises a
generated label histogram that differs from the real one (dropped or over-produced classes), which
the Inception Score ignores. A note on the formula: written with p* in the first KL,
``E_x KL(p(y|x) || p*) - KL(p(y) || p*)``, the two p* terms cancel (both equal -sum_y p(y) log p*(y)
in expectation), leaving exactly log IS whatever p* is; the form above, with the generated marginal in
the first KL, is the one under which p* matters, and is what is computed here.

The classifier is the evaluation's extractor (its ``logits``: ``digits`` or ``inception``), as for
``is``; the real marginal comes from its logits of the evaluation's real samples (``real_inputs``
``logits``: cached like features). No splits: one score over all samples (``is`` averages 10 splits,
so ``mode_score`` equals ``is_mean`` only approximately even when the histograms agree).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric

from gan_lightning.evaluation.extractors import extractor_name
from gan_lightning.evaluation.registry import EvalMetric, MetricContext, register_metric


def mode_score_from_sums(probability_sum: Tensor, plogp_sum: Tensor, count: int, real_marginal: Tensor) -> float:
    """The Mode Score from the sums over the generated samples of p(y|x) (K,) and of sum_y p log p, their
    ``count``, and the real label marginal p* (K,)."""
    if count < 1:
        raise RuntimeError("mode_score: no generated samples")
    marginal = probability_sum.to(torch.float64) / count
    real_marginal = real_marginal.to(marginal.device, torch.float64)
    real_marginal = real_marginal / real_marginal.sum()
    present = marginal > 0
    marginal_entropy = -float((marginal[present] * marginal[present].log()).sum())
    kl_to_real = float((marginal[present] * (marginal[present].log() - real_marginal[present].log())).sum())
    # E_x KL(p(y|x) || p(y)) = E_x sum p log p - sum p(y) log p(y)
    log_score = float(plogp_sum) / count + marginal_entropy - kl_to_real
    return math.exp(log_score)


def mode_score(logits: Tensor, real_logits: Tensor) -> float:
    """Mode Score of generated-sample logits (N, K) against the real samples' logits (M, K)."""
    log_probabilities = torch.log_softmax(logits.to(torch.float64), dim=1)
    probabilities = log_probabilities.exp()
    real_marginal = torch.softmax(real_logits.to(torch.float64), dim=1).mean(dim=0)
    return mode_score_from_sums(probabilities.sum(0), (probabilities * log_probabilities).sum(), logits.shape[0],
                                real_marginal)


class ModeScoreSums(Metric):
    """The generated side of the Mode Score as sums (class probabilities, sum p log p, count), summed across DDP
    ranks by ``compute()``; ``set_real_marginal(p*)`` installs the real side."""

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, num_classes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("probability_sum", torch.zeros(num_classes, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("plogp_sum", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")
        self.real_marginal: Tensor | None = None

    def set_real_marginal(self, marginal: Tensor) -> None:
        self.real_marginal = marginal.detach().to("cpu", torch.float64)

    def update(self, logits: Tensor) -> None:
        if logits.shape[1] != self.probability_sum.shape[0]:
            raise ValueError(f"mode_score: expected {self.probability_sum.shape[0]} class logits, got {logits.shape[1]}")
        log_probabilities = torch.log_softmax(logits.to(torch.float64), dim=1)
        probabilities = log_probabilities.exp()
        self.probability_sum += probabilities.sum(0)
        self.plogp_sum += (probabilities * log_probabilities).sum()
        self.count += logits.shape[0]

    def compute(self) -> Tensor:
        if self.real_marginal is None:
            raise RuntimeError("mode_score: the real label marginal was not set")
        value = mode_score_from_sums(self.probability_sum, self.plogp_sum, int(self.count), self.real_marginal)
        return torch.tensor(value, dtype=torch.float64)


@register_metric
class ModeScore(EvalMetric):
    """Mode Score (Che et al. 2017): the Inception Score times exp(-KL(generated || real label marginal))."""

    name = "mode_score"
    outputs = ("mode_score",)
    takes = "logits"
    real_inputs = ("logits",)
    data_kinds = ("images",)

    def __init__(self, context: MetricContext) -> None:
        super().__init__(context)
        num_classes = getattr(context.extractor, "num_classes", None)
        if not callable(getattr(context.extractor, "logits", None)) or not num_classes:
            raise ValueError("the mode score needs a classifier extractor (inception or digits), "
                             f"not {extractor_name(context.extractor)}")
        self.metric = ModeScoreSums(int(num_classes))

    def set_real_input(self, name: str, values: Tensor) -> None:
        self.metric.set_real_marginal(torch.softmax(values.to(torch.float64), dim=1).mean(dim=0))

    def update(self, logits: Tensor) -> None:
        self.metric.update(logits)

    def compute(self, num_generated: int) -> dict[str, Any]:
        return {"mode_score": float(self.metric.compute())}
