"""The digits classifier (``DigitsClassifier``, the ``digits`` extractor): its network, its cached file
and its training on the bundled MNIST5k sample.

The one module of the evaluation that imports training data (``gan_lightning.data``), and only inside
its functions. ``load_digits_classifier`` calls ``train_digits_classifier`` when the cached file is
missing; ``extractors.py`` builds the ``digits`` extractor from it.

- ``DigitsClassifier``, ``to_digit_images``: the LeNet and the 28 px grey digits it reads.
- ``load_digits_classifier``: the cached (or given) file, trained first when missing.
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

from gan_lightning.core.rng import seeded_rng

DIGITS_CLASSIFIER_FILENAME = "digits_classifier.pt"
DIGITS_CLASSIFIER_FORMAT = "gan_lightning.digits_classifier/1"


# ---------------------------------------------------------------------------- the classifier
def to_digit_images(images: torch.Tensor) -> torch.Tensor:
    """Any (N, C, H, W) images in [-1, 1] -> (N, 1, 28, 28) gray digits.

    Channels are averaged. 30/32/34/36 px images are centre-cropped, undoing the
    border padding ``mnist5k_tensor`` adds at those sizes (no interpolation blur);
    other sizes are resized (bilinear, antialiased).
    """
    if images.dim() != 4:
        raise ValueError(f"expected images of shape (N, C, H, W), got {tuple(images.shape)}")
    if images.dtype == torch.uint8:
        images = images.float().div(127.5).sub(1.0)
    if images.shape[1] != 1:
        images = images.mean(dim=1, keepdim=True)
    height, width = images.shape[-2:]
    if (height, width) == (28, 28):
        return images
    if height == width and height in (30, 32, 34, 36):
        start = (height - 28) // 2
        return images[..., start : start + 28, start : start + 28]
    return F.interpolate(images, size=(28, 28), mode="bilinear", align_corners=False, antialias=True)


class DigitsClassifier(nn.Module):
    """LeNet-style CNN for 28x28 gray digits in [-1, 1] (other sizes/channels are converted).

    conv5x5(16) - pool - conv5x5(32) - pool - fc(128) - fc(10). ``features`` is the
    128-d penultimate activation (after ReLU), ``forward``/``logits`` the 10 logits.
    """

    num_features = 128
    num_classes = 10

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 14 x 14
            nn.Conv2d(16, 32, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 5 x 5
            nn.Flatten(),
            nn.Linear(32 * 5 * 5, self.num_features),
            nn.ReLU(),
        )
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(self.num_features, self.num_classes)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(to_digit_images(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(images)))

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        return self(images)


def default_digits_classifier_path() -> Path:
    from gan_lightning.data.files import cache_dir

    return cache_dir() / DIGITS_CLASSIFIER_FILENAME


def load_digits_classifier(path: str | os.PathLike | None = None, map_location="cpu") -> DigitsClassifier:
    """A trained ``DigitsClassifier`` in eval mode, without gradients.

    From ``path`` when given (it must exist); else from the default cache file
    (``$GAN_LIGHTNING_CACHE/digits_classifier.pt``, default
    ``~/.cache/gan_lightning/``), which is trained on MNIST5k first (a few
    seconds, message on stderr) when it is missing.
    """
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"digits classifier file {path} does not exist; train one with "
                f"gan_lightning.evaluation.train_digits_classifier({str(path)!r}) or leave the path out to use "
                f"(and train on first use) {default_digits_classifier_path()}"
            )
    else:
        path = default_digits_classifier_path()
        if not path.is_file():
            print(
                f"gan-lightning: no digits classifier at {path}; training one on MNIST5k "
                "(offline, about half a minute on 2 CPU cores)...",
                file=sys.stderr,
            )
            report = train_digits_classifier(path)
            print(
                f"gan-lightning: digits classifier saved to {path} "
                f"(held-out accuracy {report['accuracy']:.4f}, {report['seconds']:.1f} s)",
                file=sys.stderr,
            )
    payload = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != DIGITS_CLASSIFIER_FORMAT:
        raise ValueError(f"{path} is not a digits classifier saved by train_digits_classifier")
    model = DigitsClassifier()
    model.load_state_dict(payload["state_dict"])
    model.accuracy = payload.get("accuracy")
    model.weights_path = str(path)
    model.requires_grad_(False)
    return model.eval()


# ---------------------------------------------------------------------------- its training


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
    with seeded_rng(seed):
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
    from gan_lightning.data.files import save_atomically

    save_atomically(payload, out_path)  # several processes (DDP ranks) may train it at the same time
    return {
        "accuracy": accuracy,
        "path": str(out_path),
        "seconds": seconds,
        "num_train": len(train_x),
        "num_heldout": len(held_x),
    }
