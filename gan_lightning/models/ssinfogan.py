"""ss-InfoGAN: Spurr, Aksan & Hilliges 2017, "Guiding InfoGAN with Semi-Supervision" (ECML-PKDD).

Recipe: InfoGAN (``gan_lightning.models.infogan``, unchanged) whose categorical code is tied
to the class labels through a few labelled images. Besides InfoGAN's terms -- the GAN loss
and the information loss of G's samples against the codes G was given, which trains G and
Q -- the D step adds a supervised term: Q's categorical head, on real labelled images, is
trained with the cross-entropy to their labels, weighted by ``supervised_weight``. Code value
k then means digit k, so the code is both a class-conditional input of G and, read back
through Q, a classifier of real images. The continuous codes stay unsupervised.

Only a fraction of the training labels is used (``labeled_fraction``; the paper's MNIST
settings are 0.22 %, 1 % and 10 %, ``experiments/ssinfogan/mnist5k_*.yaml``): at the start of
training a seeded, stratified pick takes max(num_classes, round(fraction x training set))
images and their labels (``num_labeled`` fixes the count instead); they live in buffers, are
saved with every checkpoint, and every D step draws its labelled batch (the data module's
batch size, or all of them when fewer) from them (``gan_lightning.models._labeled``). The
training batches' labels are never read.

Defaults: InfoGAN's (its recipe: noise 62, one 10-way categorical and 2 continuous codes,
Adam lr 2e-4 for D and Q, 1e-3 for G, beta1 0.5); ``supervised_weight`` = 2, the authors'
coefficient of the supervised term for D and Q (``info_reg_sup_coef_train`` in
``configuration.lua`` of github.com/spurra/ss-infogan). Differences from the authors' code,
said so rather than hidden: they train Q's supervised head and its unsupervised head
separately (one categorical code each) with coefficients 2 and 0.8 on the code terms of G,
and draw each batch from the labelled set with a probability that falls from 1 to the
unlabelled share over the first epochs; here the one categorical code is the supervised
one, its information term on G's samples keeps InfoGAN's weight (``info_weight``), and every
D step sees a labelled batch beside the unlabelled one. Their D learning rate is 1e-4 (ours
2e-4, InfoGAN's paper).

``classify(x)``: Q's categorical logits (``heldout_acc`` in validation is their accuracy on
the held-out labels); ``sample(labels=...)`` draws digits of the given classes; the sample
grid shows one row per code value.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from gan_lightning.core.protocol import Condition
from gan_lightning.core import StepContext
from gan_lightning.models.shared import LabeledSubset
from gan_lightning.models.registry import register_model
from gan_lightning.models.infogan import InfoGAN


@register_model
class SSInfoGAN(LabeledSubset, InfoGAN):
    paper = "Spurr et al. 2017, Guiding InfoGAN with Semi-Supervision"
    data_kinds = ("image",)

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 28, 28),
        labeled_fraction: float = 0.01,
        num_labeled: int | None = None,
        labeled_seed: int = 0,
        supervised_weight: float = 2.0,
        **kwargs,
    ) -> None:
        super().__init__(data_shape=data_shape, **kwargs)
        if not 0.0 < labeled_fraction <= 1.0:
            raise ValueError(f"model.labeled_fraction must lie in (0, 1], got {labeled_fraction}")
        if supervised_weight < 0:
            raise ValueError(f"model.supervised_weight must be >= 0, got {supervised_weight}")
        self.labeled_fraction, self.fixed_num_labeled = float(labeled_fraction), num_labeled
        self.supervised_weight = float(supervised_weight)
        # the count of a fraction is known once the data is: resized at the pick (or to a checkpoint's)
        self.init_labeled(num_labeled or self.categorical_dim, self.categorical_dim, labeled_seed)

    # ------------------------------------------------------------------ declarations
    def conditions(self) -> tuple[Condition, ...]:
        """The categorical code is the class: ``sample(labels=...)`` sets it."""
        return (Condition("class", "label", self.categorical_dim),)

    def labeled_count(self, dataset) -> int:
        if self.fixed_num_labeled is not None:
            return self.fixed_num_labeled
        return max(self.num_classes, round(self.labeled_fraction * len(dataset)))

    def on_train_start(self) -> None:
        self.pick_labeled_at_train_start()

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Q's categorical logits, (N, categorical_dim): code k is class k."""
        return self.run_discriminator(x)[1][:, : self.categorical_dim]

    def discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        """InfoGAN's D terms plus the supervised cross-entropy of Q on a labelled batch."""
        terms = super().discriminator_terms(ctx)
        images, targets = self.labeled_batch(ctx.batch_size)
        logits = self.classify(images)
        supervised = F.cross_entropy(logits, targets)
        return {**terms, "d_loss": terms["d_loss"] + self.supervised_weight * supervised,
                "d_supervised": supervised, "acc_labeled": (logits.argmax(dim=1) == targets).float().mean()}
