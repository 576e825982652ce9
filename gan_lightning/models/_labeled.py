"""The labelled subset of the semi-supervised models (SemiSupervisedGAN, TripleGAN, SSInfoGAN).

Only ``num_labeled`` labels of the training set are ever read: at the start of a fresh fit a
seeded, stratified pick (``stratified_pick``) chooses them, and their images and labels go into
buffers (``labeled_index``, ``labeled_images``, ``labeled_targets``), so they are saved in every
checkpoint and a resumed run keeps them. The labels of the training batches are never read.
``labeled_batch(n)`` draws a random labelled mini-batch from the subset; ``set_labeled`` sets the
subset by hand. In validation (test) the model's ``classify`` logits are scored against the
held-out labels: ``heldout_acc`` (``test/heldout_acc``).

The subset's size may be known only once the data is (``SSInfoGAN``'s labelled fraction): the
buffers are then resized at the pick, and to the checkpoint's size when one is loaded.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import Dataset

from gan_lightning.core import StepContext
from gan_lightning.errors import SettingError


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
    from gan_lightning.evaluation.per_class import source_labels

    try:
        return source_labels(dataset)
    except ValueError:
        raise SettingError("a semi-supervised model needs a labelled training set of (image, label) pairs; this data "
                           "module gives none (ImageFolder gives labels with one sub-folder per class)") from None


def dataset_images(dataset: Dataset, index) -> torch.Tensor:
    """The images of ``dataset`` at ``index`` (a tensor or sequence of ints), stacked."""
    return torch.stack([torch.as_tensor(dataset[i][0]) for i in torch.as_tensor(index).tolist()])


class LabeledSubset:
    """Mixin of a ``GANModule``: the labelled subset in buffers. Call ``init_labeled`` in ``__init__``."""

    num_classes: int
    labeled_seed: int

    def init_labeled(self, num_labeled: int, num_classes: int, labeled_seed: int = 0) -> None:
        if num_classes < 2:
            raise ValueError(f"model.num_classes must be >= 2, got {num_classes}")
        if num_labeled < num_classes:
            raise ValueError(f"model.num_labeled ({num_labeled}) must be at least num_classes ({num_classes})")
        self.num_classes, self.labeled_seed = num_classes, labeled_seed
        # index -1 means "not chosen yet"
        self.register_buffer("labeled_index", torch.full((num_labeled,), -1, dtype=torch.long))
        self.register_buffer("labeled_images", torch.zeros(num_labeled, *self.data_shape))
        self.register_buffer("labeled_targets", torch.zeros(num_labeled, dtype=torch.long))

    @property
    def num_labeled(self) -> int:
        return int(self.labeled_index.numel())

    @property
    def has_labeled(self) -> bool:
        return bool((self.labeled_index >= 0).all())

    def resize_labeled(self, num_labeled: int) -> None:
        """Empty buffers for a subset of ``num_labeled`` (before a pick or a checkpoint's subset)."""
        if num_labeled != self.num_labeled:
            device = self.labeled_index.device
            self.labeled_index = torch.full((num_labeled,), -1, dtype=torch.long, device=device)
            self.labeled_images = torch.zeros(num_labeled, *self.data_shape, device=device)
            self.labeled_targets = torch.zeros(num_labeled, dtype=torch.long, device=device)

    def labeled_count(self, dataset: Dataset) -> int:
        """How many labels to pick from ``dataset`` (a fixed number; SSInfoGAN: a fraction of it)."""
        return self.num_labeled

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
        self.resize_labeled(self.labeled_count(dataset))
        index = stratified_pick(labels, self.num_labeled, self.num_classes, self.labeled_seed)
        self.set_labeled(dataset_images(dataset, index), labels[index], index)
        return index

    def labeled_batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(images, labels) of ``min(size, num_labeled)`` distinct random members of the subset."""
        if not self.has_labeled:
            raise RuntimeError(f"{type(self).__name__} has no labelled subset: train it with a Trainer, "
                               "or call set_labeled")
        pick = torch.randperm(self.num_labeled, device=self.labeled_index.device)[: min(size, self.num_labeled)]
        return self.labeled_images[pick], self.labeled_targets[pick]

    def pick_labeled_at_train_start(self) -> bool:
        """On a fresh run, pick the subset from the training set; True when it picked (not on resume)."""
        if self.has_labeled:  # a resumed run keeps the subset of its checkpoint
            return False
        self.select_labeled(self.trainer.train_dataloader.dataset)
        return True

    # ------------------------------------------------------------------ held-out accuracy
    def _log_accuracy(self, batch, name: str) -> None:
        """Accuracy of ``classify`` (class logits) on a held-out batch's labels."""
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

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # runs before the state dict is loaded: take the checkpoint's subset size
        saved = checkpoint.get("state_dict", {}).get("labeled_index")
        if saved is not None:
            self.resize_labeled(int(saved.numel()))
        super().on_load_checkpoint(checkpoint)
