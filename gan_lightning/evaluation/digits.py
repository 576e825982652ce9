"""Training the digits classifier (``DigitsClassifier``, the ``digits`` extractor) on the bundled MNIST5k sample.

The one module of the evaluation that imports training data (``gan_lightning.data``), and only inside
its functions. ``load_digits_classifier`` (``extractors.py``) calls ``train_digits_classifier`` when the
cached file is missing.

- ``train_digits_classifier``: MNIST5k's training split, seeded, written to a file with its held-out
  accuracy.
- ``fit_digits_classifier``: the same recipe on any digit images (judges of another digit domain).
- ``evaluate_classifier``: accuracy of a classifier on labelled images.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gan_lightning.evaluation.extractors import DIGITS_CLASSIFIER_FORMAT, DigitsClassifier, to_digit_images


def _random_shift(images: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image by up to ``max_shift`` px (the background, -1, fills the border)."""
    n, _, height, width = images.shape
    padded = F.pad(images, (max_shift,) * 4, value=-1.0)
    offsets = torch.randint(0, 2 * max_shift + 1, (n, 2), generator=generator)
    rows = (offsets[:, 0, None] + torch.arange(height))[:, :, None]
    cols = (offsets[:, 1, None] + torch.arange(width))[:, None, :]
    return padded[torch.arange(n)[:, None, None], 0, rows, cols].unsqueeze(1)


def evaluate_classifier(
    classifier: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 500
) -> float:
    """Accuracy of ``classifier`` on ``images`` (eval mode, no gradients)."""
    was_training = classifier.training
    classifier.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            logits = classifier(images[start : start + batch_size])
            correct += int((logits.argmax(dim=1) == labels[start : start + batch_size]).sum())
    classifier.train(was_training)
    return correct / max(len(images), 1)


@functools.lru_cache(maxsize=1)
def _mnist5k_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST5k at 28 px in [-1, 1], read once per process (parsing it takes seconds)."""
    from gan_lightning.data.images import mnist5k_tensor

    return mnist5k_tensor(28, 1)


def _fit_digits_classifier(train_x, train_y, epochs, seed, batch_size, lr, verbose) -> DigitsClassifier:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        model = DigitsClassifier()
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        steps_per_epoch = (len(train_x) + batch_size - 1) // batch_size
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs * steps_per_epoch, 1))
        model.train()
        for epoch in range(epochs):
            order = torch.randperm(len(train_x), generator=generator)
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                x = _random_shift(train_x[batch], 2, generator)
                loss = F.cross_entropy(model(x), train_y[batch])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
            if verbose:
                print(f"digits classifier: epoch {epoch + 1}/{epochs}, last loss {loss.item():.4f}", file=sys.stderr)
    return model.eval()


def fit_digits_classifier(images: torch.Tensor, labels: torch.Tensor, epochs: int = 8, seed: int = 0,
                          batch_size: int = 64, lr: float = 2e-3) -> DigitsClassifier:
    """A ``DigitsClassifier`` fitted on any digit images (N, C, H, W) in [-1, 1] with their labels, the
    recipe of ``train_digits_classifier`` (one thread, seeded, the global RNG left alone); eval mode.

    Used for judges trained on another domain of digits (inverted, coloured, ...) than MNIST5k.
    """
    if len(images) != len(labels) or len(images) == 0:
        raise ValueError(f"need as many labels as images (> 0), got {len(images)} images, {len(labels)} labels")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _fit_digits_classifier(to_digit_images(images.float()), torch.as_tensor(labels).long(), epochs, seed,
                                      batch_size, lr, False)
    finally:
        torch.set_num_threads(threads)


def train_digits_classifier(
    out_path: str | os.PathLike,
    epochs: int = 8,
    seed: int = 0,
    heldout_fraction: float = 0.1,
    batch_size: int = 64,
    lr: float = 2e-3,
    verbose: bool = False,
) -> dict:
    """Train ``DigitsClassifier`` on MNIST5k and save it to ``out_path``.

    Seeded and deterministic (trained on one thread, so the thread count does not matter): the split
    (stratified per class, ``gan_lightning.data.base.split_heldout``, the one the
    MNIST5k data module uses), the initial weights, the batch order, the
    augmentation (random shifts of up to 2 px) and dropout all come from ``seed``;
    the global RNG state is left as it was. Adam, cosine-decayed learning rate.

    The file holds ``state_dict`` plus metadata (accuracy, seed, epochs, split).
    Returns ``{"accuracy": held-out accuracy, "path": str, "seconds": training time,
    "num_train": ..., "num_heldout": ...}``.
    """
    from gan_lightning.data.base import split_heldout

    started = time.perf_counter()
    images, labels = _mnist5k_digits()
    train_part, held_part = split_heldout(list(range(len(labels))), labels.tolist(), heldout_fraction, seed)
    train_idx = torch.as_tensor(train_part.indices if held_part is not None else train_part, dtype=torch.long)
    held_idx = torch.as_tensor(held_part.indices if held_part is not None else [], dtype=torch.long)
    train_x, train_y = images[train_idx], labels[train_idx]
    held_x, held_y = images[held_idx], labels[held_idx]

    threads = torch.get_num_threads()
    # One thread: this small network gains little from more, a busy machine makes OpenMP's
    # spinning threads many times slower, and results do not depend on the thread count.
    torch.set_num_threads(1)
    try:
        model = _fit_digits_classifier(train_x, train_y, epochs, seed, batch_size, lr, verbose)
    finally:
        torch.set_num_threads(threads)
    accuracy = evaluate_classifier(model, held_x, held_y) if len(held_x) else float("nan")
    seconds = time.perf_counter() - started

    out_path = Path(out_path).expanduser()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": DIGITS_CLASSIFIER_FORMAT,
        "state_dict": model.state_dict(),
        "accuracy": accuracy,
        "seed": seed,
        "epochs": epochs,
        "heldout_fraction": heldout_fraction,
        "num_train": len(train_x),
        "num_heldout": len(held_x),
    }
    # write then rename: several processes (DDP ranks) may train it at the same time
    partial = out_path.with_name(f"{out_path.name}.{os.getpid()}.partial")
    torch.save(payload, partial)
    os.replace(partial, out_path)
    return {
        "accuracy": accuracy,
        "path": str(out_path),
        "seconds": seconds,
        "num_train": len(train_x),
        "num_heldout": len(held_x),
    }
