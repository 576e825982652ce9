"""Every feature extractor of the evaluation, and how an evaluation names the one it uses.

Every extractor is an ``nn.Module`` that takes images in [-1, 1], shape
``(N, C, H, W)``, and has ``features(x) -> (N, D)`` (its ``forward`` for
``InceptionExtractor`` and ``ModuleExtractor``); the classifiers also have
``logits(x)``. ``num_features`` is ``D`` when it is known before the first batch
(``None`` otherwise). The extractors stay in eval mode and never need gradients.

- ``InceptionExtractor``: torch-fidelity's InceptionV3, the port of the TF FID
  network. Weights are never downloaded: they come from ``weights_path`` or the
  torch hub cache, else ``MissingWeightsError`` says in one line where to put them.
- ``DigitsClassifier``: a LeNet-style CNN for 28 px digits, for FID-like distances and
  class coverage on digits; ``load_digits_classifier`` reads a trained one (training it on
  the bundled MNIST5k sample on first use, offline, in seconds). Both live in ``digits.py``
  with that training, the only evaluation code that reads the data sets.
- ``ModuleExtractor``: any saved module (``torch.save`` of a whole module, TorchScript,
  ``torch.export``).
- ``ClassifierLogits``: a classifier extractor's logits as its features (the real side of
  ``mode_score``, cached like any features).
- ``build_extractor`` / ``resolve_extractor``: one of these from a name or a path (the CLI's
  ``--feature_extractor``); ``extractor_name`` / ``extractor_identity``: how records and the
  real-statistics cache name it.
- ``extract_features`` / ``extract_logits``: what every metric calls on an extractor.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gan_lightning.evaluation.digits import DigitsClassifier, load_digits_classifier

INCEPTION_WEIGHTS_FILENAME = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_FEATURES = ("64", "192", "768", "2048", "logits_unbiased", "logits")


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


def default_cache_dir() -> Path:
    """``$GAN_LIGHTNING_CACHE``, else ``~/.cache/gan_lightning`` (:func:`gan_lightning.data.files.cache_dir`)."""
    from gan_lightning.data.files import cache_dir

    return cache_dir()


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


# ---------------------------------------------------------------------------- logits as features
class ClassifierLogits(nn.Module):
    """The logits of a classifier extractor (inception, digits) as its ``features``: what the real side of a
    metric that takes logits is computed (and cached) with. Named ``<classifier>-logits``."""

    def __init__(self, classifier: nn.Module) -> None:
        super().__init__()
        if not callable(getattr(classifier, "logits", None)):
            raise ValueError(f"{extractor_name(classifier)} is not a classifier extractor (no logits): "
                             "use inception or digits")
        self.classifier = classifier
        self.name = f"{extractor_name(classifier)}-logits"
        self.num_features = getattr(classifier, "num_classes", None)
        weights = getattr(classifier, "weights_path", None) or getattr(classifier, "path", None)
        if weights:
            self.weights_path = weights

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return extract_logits(self.classifier, images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features(images)


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


def resolve_extractor(extractor: str | nn.Module | None, weights: str | os.PathLike | None = None) -> nn.Module | None:
    """A name (``inception``, ``digits``, ``none``), the path of a saved module, a module, or ``None``."""
    if extractor is None or isinstance(extractor, nn.Module):
        return extractor
    if str(extractor).lower() in ("none", "raw"):
        return None
    return build_extractor(str(extractor), weights)


def _file_fingerprint(path: str | os.PathLike | None) -> dict[str, Any] | None:
    if not path:
        return None
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        return {"file": path.name}
    return {"file": path.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def extractor_name(extractor: nn.Module | None) -> str:
    """Short name of an extractor for records: ``inception``, ``digits``, ``none``, a file name or a class name."""
    if extractor is None:
        return "none"
    if isinstance(extractor, InceptionExtractor):
        return "inception" if extractor.feature_name == "2048" else f"inception-{extractor.feature_name}"
    if isinstance(extractor, DigitsClassifier):
        return "digits"
    if isinstance(extractor, ModuleExtractor):
        return Path(extractor.path).name
    return getattr(extractor, "name", type(extractor).__name__)


def extractor_identity(extractor: nn.Module | None) -> dict[str, Any]:
    """What the real features depend on: the extractor's name, layer and weights file (name, size, mtime)."""
    weights = getattr(extractor, "weights_path", None) or getattr(extractor, "path", None)
    return {
        "name": extractor_name(extractor),
        "class": None if extractor is None else f"{type(extractor).__module__}.{type(extractor).__qualname__}",
        "weights": _file_fingerprint(weights),
    }
