"""Feature extractors for the evaluation metrics.

Every extractor is an ``nn.Module`` that takes images in [-1, 1], shape
``(N, C, H, W)``, and has ``features(x) -> (N, D)`` (its ``forward`` for
``InceptionExtractor`` and ``ModuleExtractor``); the classifiers also have
``logits(x)``. ``num_features`` is ``D`` when it is known before the first batch
(``None`` otherwise). The extractors stay in eval mode and never need gradients.

- ``InceptionExtractor``: torch-fidelity's InceptionV3, the port of the TF FID
  network. Weights are never downloaded: they come from ``weights_path`` or the
  torch hub cache, else ``MissingWeightsError`` says where to put them.
- ``DigitsClassifier``: a LeNet-style CNN trained on the bundled MNIST5k sample
  (offline, in seconds), for FID-like distances and class coverage on digits.
- ``ModuleExtractor``: any saved module (``torch.save`` of a whole module, TorchScript,
  ``torch.export``).
- ``build_extractor``: one of these from a name or a path (the CLI's ``--feature_extractor``).
"""

from __future__ import annotations

import functools
import os
import pickle
import sys
import time
import zipfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

INCEPTION_WEIGHTS_FILENAME = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_FEATURES = ("64", "192", "768", "2048", "logits_unbiased", "logits")
DIGITS_CLASSIFIER_FILENAME = "digits_classifier.pt"
DIGITS_CLASSIFIER_FORMAT = "gan_lightning.digits_classifier/1"


class MissingWeightsError(FileNotFoundError):
    """The weights of a pretrained feature extractor are not on this machine."""


# ---------------------------------------------------------------------------- helpers
def to_uint8_images(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats -> uint8 in 0..255 (rounded, clamped; uint8 passes as is); gray images become RGB."""
    if images.dim() != 4:
        raise ValueError(f"expected images of shape (N, C, H, W), got {tuple(images.shape)}")
    if images.dtype != torch.uint8:
        images = ((images.float() + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    elif images.shape[1] != 3:
        raise ValueError(f"expected 1 or 3 image channels, got {images.shape[1]}")
    return images


def extract_features(extractor: nn.Module | None, inputs: torch.Tensor) -> torch.Tensor:
    """``(N, D)`` features of ``inputs``: ``extractor.features(x)`` when it has that method, else ``extractor(x)``.

    With ``extractor=None`` the inputs already are features (flattened to ``(N, -1)``).
    The extractor is put in eval mode and run without gradients.
    """
    if extractor is None:
        return inputs.reshape(inputs.shape[0], -1) if inputs.dim() != 2 else inputs
    if extractor.training:
        extractor.eval()
    method = getattr(extractor, "features", None)
    with torch.no_grad():
        # torchvision models have a `features` *submodule* (4-D maps): only a method counts here
        if callable(method) and not isinstance(method, nn.Module):
            output = method(inputs)
        else:
            output = extractor(inputs)
    if isinstance(output, (tuple, list)):
        output = output[0]
    if not isinstance(output, torch.Tensor) or output.dim() != 2 or output.shape[0] != inputs.shape[0]:
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise ValueError(
            f"feature extractor {type(extractor).__name__} must return (N, D) features for N={inputs.shape[0]} "
            f"inputs, got {shape}"
        )
    return output


def extract_logits(classifier: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """``(N, num_classes)`` logits: ``classifier.logits(x)`` when it has that method, else ``classifier(x)``."""
    if classifier.training:
        classifier.eval()
    method = getattr(classifier, "logits", None)
    with torch.no_grad():
        if callable(method) and not isinstance(method, nn.Module):
            return method(inputs)
        return classifier(inputs)


class _FrozenModule(nn.Module):
    """A module that stays in eval mode whatever ``.train()`` its parent receives."""

    def train(self, mode: bool = True):
        for child in self.children():
            try:
                child.train(False)
            except (NotImplementedError, RuntimeError):  # exported programs refuse mode changes
                pass
        self.training = False
        return self


# ---------------------------------------------------------------------------- Inception
def inception_cache_path() -> Path:
    """Where torch-fidelity looks for the Inception weights: ``$TORCH_HOME/hub/checkpoints/<file>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS_FILENAME


def resolve_local_weights(given: str | os.PathLike | None, cache: Path, what: str, needed_for: str,
                          how_to_pass: str, source: str) -> Path:
    """A weights file that must already be on this machine: ``given``, else ``cache`` (the torch hub
    cache). ``MissingWeightsError`` in one line naming the file and where it goes; never downloads.

    ``what``: the weights' name ("Inception"); ``needed_for``: who needs which file; ``how_to_pass``:
    the option that gives a path; ``source``: where to fetch the file once, with internet.
    """
    if given is not None:
        path = Path(given).expanduser()
        if path.is_file():
            return path
        problem = f"the file given as weights, {path}, does not exist"
    elif cache.is_file():
        return cache
    else:
        problem = "no weights file was given and the torch hub cache has none"
    raise MissingWeightsError(
        f"{what} weights not found: {problem}. {needed_for}, file '{cache.name}'. Put that file at {cache} "
        f"(the torch hub cache, $TORCH_HOME/hub/checkpoints/), or {how_to_pass}. Nothing is downloaded "
        f"(this machine may be offline); fetch it once where there is internet, from {source}."
    )


def resolve_inception_weights(weights_path: str | os.PathLike | None = None) -> Path:
    """The Inception weights file to load: ``weights_path``, else the torch hub cache file.

    Raises ``MissingWeightsError`` (never downloads) when the file is not there.
    """
    return resolve_local_weights(
        weights_path, inception_cache_path(), "Inception",
        "FID/KID/IS with the Inception network need torch-fidelity's InceptionV3 weights",
        "pass its location with `--weights PATH` (Python: InceptionExtractor(weights_path=PATH))",
        "the torch-fidelity v0.2.0 release assets")


class InceptionExtractor(_FrozenModule):
    """torch-fidelity's ``FeatureExtractorInceptionV3`` (the TF-FID InceptionV3) on [-1, 1] images.

    Images are quantised to uint8 (as a saved PNG would be), gray images repeated
    to RGB; torch-fidelity then resizes them to 299 px with TF1's bilinear resize.

    Args:
        weights_path: the weights file; ``None``: the torch hub cache file. Missing
            -> ``MissingWeightsError`` (no download).
        features: the layer returned by ``features()``/``forward``: ``"2048"`` (pool3, FID/KID),
            ``"768"``, ``"192"``, ``"64"`` or ``"logits_unbiased"``.
        internal_dtype: ``"float32"`` or ``"float64"`` inside the network; float64 makes
            features independent of the batch size (torch-fidelity issue #43).
    """

    def __init__(
        self,
        weights_path: str | os.PathLike | None = None,
        features: str = "2048",
        internal_dtype: str = "float32",
    ) -> None:
        super().__init__()
        features = str(features)
        if features not in INCEPTION_FEATURES or features == "logits":
            raise ValueError(
                f"InceptionExtractor: features must be one of 64, 192, 768, 2048, logits_unbiased; got {features!r}"
            )
        path = resolve_inception_weights(weights_path)
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        layers = [features] if features == "logits_unbiased" else [features, "logits_unbiased"]
        try:
            self.network = FeatureExtractorInceptionV3(
                "inception-v3-compat",
                layers,
                feature_extractor_weights_path=str(path),
                feature_extractor_internal_dtype=internal_dtype,
            )
        except (RuntimeError, KeyError, ValueError, EOFError, pickle.UnpicklingError) as error:
            raise RuntimeError(f"InceptionExtractor: could not load the weights in {path}: {error}") from error
        self.layers = layers
        self.feature_name = features
        self.weights_path = str(path)
        self.num_features = 1008 if features == "logits_unbiased" else int(features)
        self.num_classes = 1008

    def features_and_logits(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One pass: ``(features (N, D), logits_unbiased (N, 1008))``."""
        outputs = self.network(to_uint8_images(images))
        if len(self.layers) == 1:
            return outputs[0], outputs[0]
        return outputs[0], outputs[1]

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(images)[0]

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Logits without the fc bias (``logits_unbiased``, what the Inception Score uses), (N, 1008)."""
        return self.features_and_logits(images)[1]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features(images)


# ---------------------------------------------------------------------------- digits classifier
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


def default_cache_dir() -> Path:
    """``$GAN_LIGHTNING_CACHE``, else ``~/.cache/gan_lightning``."""
    return Path(os.environ.get("GAN_LIGHTNING_CACHE") or Path.home() / ".cache" / "gan_lightning").expanduser()


def default_digits_classifier_path() -> Path:
    return default_cache_dir() / DIGITS_CLASSIFIER_FILENAME


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
                f"gan_lightning.metrics.train_digits_classifier({str(path)!r}) or leave the path out to use "
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


# ---------------------------------------------------------------------------- any saved module
def _archive_kind(path: Path) -> str:
    """``"export"`` (torch.export.save), ``"torchscript"`` (torch.jit.save) or ``"pickle"`` (torch.save)."""
    if not zipfile.is_zipfile(path):
        return "pickle"
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    if any(name.endswith("/archive_format") for name in names):
        return "export"
    if any(name.endswith("/constants.pkl") or "/code/" in name for name in names):
        return "torchscript"
    return "pickle"


class ModuleExtractor(_FrozenModule):
    """Features from a saved module: ``torch.save(module, path)``, TorchScript (``torch.jit.save``)
    or an exported program (``torch.export.save``, with a dynamic batch dimension).

    The module receives the images as they are (floats in [-1, 1], ``(N, C, H, W)``)
    and must return ``(N, D)`` features. Loading a pickled module runs code from
    the file: use files you trust.
    """

    def __init__(self, path: str | os.PathLike, num_features: int | None = None) -> None:
        super().__init__()
        path = Path(path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"feature extractor file {path} does not exist (expected an nn.Module saved with "
                "torch.save(module, path) or a TorchScript file)"
            )
        try:
            kind = _archive_kind(path)
            if kind == "export":
                module = torch.export.load(str(path)).module()
            elif kind == "torchscript":
                module = torch.jit.load(str(path), map_location="cpu")
            else:
                module = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as error:  # a text file, a truncated archive, pickle garbage: the file, not our code
            first = " ".join(str(error).split()[:30]) or type(error).__name__
            raise ValueError(f"feature extractor file {path} cannot be loaded as a saved module "
                             f"({type(error).__name__}: {first})") from error
        if not isinstance(module, nn.Module):
            raise TypeError(
                f"{path} holds a {type(module).__name__}, not an nn.Module: save the whole module "
                "(torch.save(module, path)) or a TorchScript file, not a state dict"
            )
        for parameter in module.parameters():  # ScriptModules have no requires_grad_()
            parameter.requires_grad_(False)
        try:
            module.eval()
        except (NotImplementedError, RuntimeError):  # exported programs fix their mode at export time
            pass
        self.module = module
        self.path = str(path)
        self.num_features = num_features if num_features is not None else getattr(module, "num_features", None)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        output = self.module(images)
        if isinstance(output, (tuple, list)):
            output = output[0]
        if not isinstance(output, torch.Tensor) or output.dim() != 2:
            shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
            raise ValueError(
                f"feature extractor {self.path} must return (N, D) features, got {shape} "
                f"for input {tuple(images.shape)}"
            )
        return output

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self(images)


# ---------------------------------------------------------------------------- by name
EXTRACTOR_NAMES = ("inception", "digits")


def build_extractor(name_or_path: str, weights: str | os.PathLike | None = None) -> nn.Module:
    """``"inception"`` (``weights``: the Inception weights file), ``"digits"`` (``weights``: a
    digits classifier file, default: the cached one) or the path of a saved module."""
    if name_or_path == "inception":
        return InceptionExtractor(weights_path=weights)
    if name_or_path == "digits":
        return load_digits_classifier(weights)
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return ModuleExtractor(path)
    raise ValueError(
        f"unknown feature extractor {name_or_path!r}: use one of {', '.join(EXTRACTOR_NAMES)} "
        "or the path of a saved nn.Module / TorchScript file"
    )
