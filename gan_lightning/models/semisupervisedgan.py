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
from torch.utils.data import Dataset, Subset, TensorDataset

from gan_lightning.losses import feature_matching_loss, nonsaturating_d
from gan_lightning.core import StepContext
from gan_lightning.models.base import GANModule
from gan_lightning.nets import (
    DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator, init_from_data_, network_kind,
)


def stratified_pick(labels, num_labeled: int, num_classes: int, seed: int = 0) -> torch.Tensor:
    """Sorted indices of ``num_labeled`` examples, num_labeled // num_classes per class (the first
    num_labeled % num_classes classes get one more), drawn with a generator seeded by ``seed``."""
    labels = torch.as_tensor(labels).long().flatten()
    if num_labeled < num_classes:
        raise ValueError(f"num_labeled ({num_labeled}) must be at least num_classes ({num_classes})")
    per_class, extra = divmod(num_labeled, num_classes)
    generator = torch.Generator().manual_seed(seed)
    picked = []
    for cls in range(num_classes):
        members = torch.nonzero(labels == cls).flatten()
        wanted = per_class + (1 if cls < extra else 0)
        if len(members) < wanted:
            raise ValueError(f"class {cls} has {len(members)} examples, fewer than the {wanted} to label")
        picked.append(members[torch.randperm(len(members), generator=generator)[:wanted]])
    return torch.cat(picked).sort().values


def dataset_labels(dataset: Dataset) -> torch.Tensor:
    """Every label of a data set of (x, label) pairs; fast for (subsets of) tensor data sets."""
    if isinstance(dataset, Subset):
        return dataset_labels(dataset.dataset)[torch.as_tensor(dataset.indices, dtype=torch.long)]
    if isinstance(dataset, TensorDataset) and len(dataset.tensors) > 1:
        return dataset.tensors[1].long().flatten()
    first = dataset[0]
    if not isinstance(first, (list, tuple)) or len(first) < 2:
        raise ValueError("SemiSupervisedGAN needs a labelled training set of (image, label) pairs")
    return torch.tensor([int(dataset[i][1]) for i in range(len(dataset))])


def dataset_images(dataset: Dataset, index) -> torch.Tensor:
    """The images of ``dataset`` at ``index`` (a tensor or sequence of ints), stacked."""
    return torch.stack([torch.as_tensor(dataset[i][0]) for i in torch.as_tensor(index).tolist()])


class SemiSupervisedGAN(GANModule):
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
        if num_classes < 2:
            raise ValueError(f"model.num_classes must be >= 2, got {num_classes}")
        if num_labeled < num_classes:
            raise ValueError(f"model.num_labeled ({num_labeled}) must be at least num_classes ({num_classes})")
        if architecture not in ("mlp", "dcgan"):
            raise ValueError(f"model.architecture must be 'mlp' or 'dcgan', got {architecture!r}")
        network_kind(self.data_shape, architecture)
        self.num_classes, self.num_labeled, self.labeled_seed = num_classes, num_labeled, labeled_seed
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
        # The labelled subset: buffers, so it is saved with the model; index -1 means "not chosen yet".
        self.register_buffer("labeled_index", torch.full((num_labeled,), -1, dtype=torch.long))
        self.register_buffer("labeled_images", torch.zeros(num_labeled, *self.data_shape))
        self.register_buffer("labeled_targets", torch.zeros(num_labeled, dtype=torch.long))

    # ------------------------------------------------------------------ the labelled subset
    @property
    def has_labeled(self) -> bool:
        return bool((self.labeled_index >= 0).all())

    @torch.no_grad()
    def set_labeled(self, images: torch.Tensor, targets: torch.Tensor, index: torch.Tensor | None = None) -> None:
        """Use these ``num_labeled`` images and labels as the labelled subset."""
        targets = torch.as_tensor(targets).long().flatten()
        if images.size(0) != self.num_labeled or targets.numel() != self.num_labeled:
            raise ValueError(f"expected {self.num_labeled} labelled images and labels, "
                             f"got {images.size(0)} and {targets.numel()}")
        if int(targets.min()) < 0 or int(targets.max()) >= self.num_classes:
            raise ValueError(f"labels must lie in [0, {self.num_classes})")
        self.labeled_images.copy_(images)
        self.labeled_targets.copy_(targets)
        self.labeled_index.copy_(torch.arange(self.num_labeled) if index is None else torch.as_tensor(index))

    def select_labeled(self, dataset: Dataset) -> torch.Tensor:
        """Pick the labelled subset of ``dataset`` (seeded, stratified); returns the chosen indices."""
        labels = dataset_labels(dataset)
        index = stratified_pick(labels, self.num_labeled, self.num_classes, self.labeled_seed)
        images = dataset_images(dataset, index)
        self.set_labeled(images, labels[index], index)
        return index

    def on_train_start(self) -> None:
        if not self.has_labeled:  # a fresh run; a resumed one keeps the subset and weights of its checkpoint
            dataset = self.trainer.train_dataloader.dataset
            self.select_labeled(dataset)
            if self.data_init:
                self.initialise_from_data(dataset)

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
        if not self.has_labeled:
            raise RuntimeError("SemiSupervisedGAN has no labelled subset: train it with a Trainer, or call set_labeled")
        # ``labels`` (the batch's) are deliberately ignored: only the stored subset is supervised.
        pick = torch.randperm(self.num_labeled, device=self.device)[: min(real.size(0), self.num_labeled)]
        labeled_logits = self.run_discriminator(self.labeled_images[pick])
        targets = self.labeled_targets[pick]
        supervised = F.cross_entropy(labeled_logits, targets)
        real_logit, fake_logit = self.discriminate(real), self.discriminate(fake)
        unsupervised = nonsaturating_d(real_logit, fake_logit)
        return {"d_loss": supervised + self.unsupervised_weight * unsupervised,
                "d_supervised": supervised, "d_unsupervised": unsupervised,
                "acc_labeled": (labeled_logits.argmax(dim=1) == targets).float().mean(),
                "d_real": torch.sigmoid(real_logit).mean(), "d_fake": torch.sigmoid(fake_logit).mean()}

    def generator_loss(self, real, fake, labels=None):
        def features(x):
            return self.run_discriminator(x, method="features").flatten(1)

        return {"g_loss": feature_matching_loss(features(real), features(fake))}

    # ------------------------------------------------------------------ evaluation
    def _log_accuracy(self, batch, name: str) -> None:
        ctx = StepContext(batch)
        if ctx.labels is None:
            return
        accuracy = (self.classify(ctx.real).argmax(dim=1) == ctx.labels).float().mean()
        self.log(name, accuracy, on_epoch=True, on_step=False, batch_size=ctx.batch_size)

    def validation_step(self, batch, batch_idx):
        super().validation_step(batch, batch_idx)
        self._log_accuracy(batch, "heldout_acc")

    def test_step(self, batch, batch_idx):
        super().test_step(batch, batch_idx)
        self._log_accuracy(batch, "test/heldout_acc")
