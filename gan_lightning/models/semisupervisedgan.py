"""Semi-supervised GAN: Salimans, Goodfellow, Zaremba, Cheung, Radford & Chen 2016, "Improved
Techniques for Training GANs" (NeurIPS), section 5.

Recipe: D is a K-class classifier with logits l_1..l_K; the "fake" class K+1 has its logit
fixed to 0, so D(x) = P(real | x) = Z(x) / (Z(x) + 1) with Z(x) = sum_k exp l_k(x), and
logit(D(x)) = logsumexp_k l_k(x) (the logsumexp trick). D minimises
L_supervised + L_unsupervised: the cross-entropy of the K logits on the few labelled
examples, plus the GAN loss -log D(x) - log(1 - D(G(z))) on unlabelled real data and fakes.
G is trained by feature matching, ||E f(x) - E f(G(z))||^2 on D's last hidden layer f.

Only ``num_labeled`` labels are ever used (100 by default: 10 per class, the paper's MNIST
setting): at the start of training a seeded, stratified pick (``stratified_pick``) chooses
them from the training set and stores those images and labels in buffers (so they are in
every checkpoint and a resumed run keeps them); every D step draws its supervised mini-batch
from them. The labels of the training batches are never read. ``set_labeled`` sets the
labelled subset by hand instead.

Defaults, the paper's MNIST networks (``architecture="mlp"``): D an MLP 1000-500-250-250-250
with ReLU, weight normalisation on every layer, Gaussian noise on its input (std 0.6 on our
[-1, 1] pixels: the paper's 0.3 on [0, 1]) and on every hidden layer's output (std 0.5), and
the data-dependent initialisation of weight normalisation (``initialise_from_data``, run once
at the start of a fresh fit on 500 training images); G an MLP 500-500 with softplus and
BatchNorm. Adam with beta1 = 0.5 and lr 3e-4 (the authors' CIFAR-10 rate; their MNIST
rate of 3e-3 was unstable at our batch size of 64: held-out accuracy swung between 43 % and
71 % over 1,000 iterations, measured). ``architecture="dcgan"`` gives DCGAN-style
convolutional networks instead, with optional dropout in D (``d_dropout``,
``d_input_dropout``; the CIFAR-10 D of the authors' code uses 0.5 and 0.2). D has no
BatchNorm: it would mix the labelled, unlabelled and fake batches' statistics.
``num_classes`` = 10.

Logged: ``d_supervised``, ``d_unsupervised``, ``acc_labeled`` while training and
``heldout_acc`` (D's classification accuracy on the held-out split) in validation.
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm as apply_weight_norm
from torch.utils.data import Dataset

from gan_lightning.losses import feature_matching_loss, nonsaturating_d
from gan_lightning.models.shared import (  # noqa: F401  (re-exported: older imports)
    LabeledSubset, dataset_images, dataset_labels, stratified_pick,
)
from gan_lightning.models.base import GANModule
from gan_lightning.models.registry import register_model
from gan_lightning.nets import (
    DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator, init_from_data_, network_kind,
)


@register_model
class SemiSupervisedGAN(LabeledSubset, GANModule):
    smooths_real_labels = True  # D's loss is binary cross-entropy: label_smoothing applies
    paper = "Salimans et al. 2016, Improved Techniques for Training GANs (semi-supervised)"
    data_kinds = ("image",)
    recipe = {"lr_g": 0.0003, "lr_d": 0.0003}

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 100,
        num_classes: int = 10,
        num_labeled: int = 100,
        labeled_seed: int = 0,
        architecture: Literal["mlp", "dcgan"] = "mlp",
        g_hidden: Sequence[int] = (500, 500),
        d_hidden: Sequence[int] = (1000, 500, 250, 250, 250),
        d_input_noise: float = 0.6,
        d_hidden_noise: float = 0.5,
        g_width: int = 64,
        d_width: int = 64,
        d_norm: Literal["batch", "none", "layer"] = "none",
        weight_norm: bool = True,
        data_init: bool = True,
        d_dropout: float = 0.0,
        d_input_dropout: float = 0.0,
        unsupervised_weight: float = 1.0,
        **kwargs,
    ) -> None:
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, **kwargs)
        if architecture not in ("mlp", "dcgan"):
            raise ValueError(f"model.architecture must be 'mlp' or 'dcgan', got {architecture!r}")
        network_kind(self.data_shape, architecture)
        self.init_labeled(num_labeled, num_classes, labeled_seed)
        self.unsupervised_weight, self.data_init = unsupervised_weight, data_init
        if architecture == "mlp":  # the paper's MNIST networks
            self.generator = MLPGenerator(latent_dim, self.data_shape, g_hidden, hidden_activation="softplus")
            self.discriminator = MLPDiscriminator(self.data_shape, d_hidden, num_classes, "relu",
                                                  d_input_noise, d_hidden_noise)
        else:
            channels, size = self.data_shape[0], self.data_shape[1]
            self.generator = DCGANGenerator(latent_dim, channels, size, g_width)
            self.discriminator = DCGANDiscriminator(channels, size, d_width, outputs=num_classes, norm=d_norm,
                                                    dropout=d_dropout, input_dropout=d_input_dropout)
        if weight_norm:
            for layer in self.discriminator.modules():
                if isinstance(layer, (nn.Conv2d, nn.Linear)):
                    apply_weight_norm(layer)

    def on_train_start(self) -> None:
        # a fresh run; a resumed one keeps the subset and weights of its checkpoint
        if self.pick_labeled_at_train_start() and self.data_init:
            self.initialise_from_data(self.trainer.train_dataloader.dataset)

    def initialise_from_data(self, dataset: Dataset, num_images: int = 500) -> None:
        """The paper's data-dependent initialisation of D (``init_from_data_``) on ``num_images``
        training images (a pick seeded by ``labeled_seed``). Without it the noise layers of the
        MLP discriminator drown the signal of its default-initialised weights (logits with a
        std of about 0.003 on real digits, measured) and D never learns to classify."""
        pick = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(self.labeled_seed))[:num_images]
        init_from_data_(self.discriminator, dataset_images(dataset, pick).to(self.device))

    # ------------------------------------------------------------------ losses
    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """D's K class logits, (N, num_classes)."""
        return self.run_discriminator(x)

    def discriminate(self, x, labels=None):
        """logit(P(real | x)) = logsumexp of the K class logits (the fake class's logit is 0)."""
        return torch.logsumexp(self.run_discriminator(x), dim=1)

    def discriminator_loss(self, real, fake, labels=None):
        # ``labels`` (the batch's) are deliberately ignored: only the stored subset is supervised.
        images, targets = self.labeled_batch(real.size(0))
        labeled_logits = self.run_discriminator(images)
        supervised = F.cross_entropy(labeled_logits, targets)
        real_logit, fake_logit = self.discriminate(real), self.discriminate(fake)
        unsupervised = nonsaturating_d(real_logit, fake_logit, self.real_target(real_logit))
        return {"d_loss": supervised + self.unsupervised_weight * unsupervised,
                "d_supervised": supervised, "d_unsupervised": unsupervised,
                "acc_labeled": (labeled_logits.argmax(dim=1) == targets).float().mean(),
                "d_real": torch.sigmoid(real_logit).mean(), "d_fake": torch.sigmoid(fake_logit).mean()}

    def generator_loss(self, real, fake, labels=None):
        def features(x):
            return self.run_discriminator(x, method="features").flatten(1)

        return {"g_loss": feature_matching_loss(features(real), features(fake))}
