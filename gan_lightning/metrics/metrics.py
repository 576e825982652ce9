"""Evaluation metrics in torchmetrics' ``Metric`` shape (``update`` / ``compute`` / ``reset``).

States are registered with ``add_state`` and a ``dist_reduce_fx``, so they are
synchronised across DDP processes by ``compute()`` (call it on every rank).

- ``FrechetDistance``: FID over any feature extractor, float64 sums, cacheable real statistics.
- ``OneNNAccuracy``: leave-one-out 1-nearest-neighbour two-sample test (Lopez-Paz & Oquab 2017).
- ``ClassCoverage``: classes a classifier finds among generated samples, KL to uniform.
- ``StackedModes``: Stacked MNIST modes (of 1,000) covered, KL to uniform (PacGAN, VEEGAN).
- ``ModeCoverage2D``: modes captured / high-quality samples / reverse KL on the toy
  mixtures (VEEGAN, PacGAN).
- ``precision_recall``: improved precision and recall (Kynkäänniemi et al. 2019), a function;
  ``PrecisionRecall`` the same as a metric object.

Metrics that take an ``extractor`` apply it to what ``update`` receives (images
in [-1, 1]); with ``extractor=None`` the inputs are the features themselves.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from gan_lightning.metrics.extractors import extract_features, extract_logits
from gan_lightning.metrics.frechet import frechet_distance


def _result(value: float, device: torch.device) -> Tensor:
    # MPS has no float64
    dtype = torch.float32 if device.type == "mps" else torch.float64
    return torch.tensor(value, dtype=dtype, device=device)


def _pairwise_distances(rows: Tensor, columns: Tensor, chunk_size: int):
    """Yield ``(start, distances)`` blocks of the float64 Euclidean distance matrix, ``chunk_size`` rows at a time."""
    columns = columns.to(torch.float64)
    for start in range(0, rows.shape[0], chunk_size):
        block = rows[start : start + chunk_size].to(torch.float64)
        yield start, torch.cdist(block, columns, compute_mode="donot_use_mm_for_euclid_dist")


# ---------------------------------------------------------------------------- FID
class FrechetDistance(Metric):
    """Fréchet distance between real and generated feature distributions (FID with any extractor).

    ``update(images, real)`` extracts features and adds them to float64 sums
    (``sum x`` and ``sum x x^T`` per side), so the result does not depend on how
    the samples were split into batches and DDP sums the states. ``compute()``
    forms the unbiased covariances and calls ``frechet_distance`` (float64,
    symmetric eigen-decomposition); it returns a 0-d float64 tensor.

    Real statistics can be cached: ``real_statistics()`` returns ``(mu, sigma, n)``
    (synchronised across ranks), ``set_real_statistics(mu, sigma, n)`` installs
    them; they then replace the real-side states, survive ``reset()``, and
    ``update(..., real=True)`` is refused until ``clear_real_statistics()``.

    Args:
        extractor: ``nn.Module`` mapping inputs to ``(N, D)`` features (its ``features``
            method when it has one); ``None``: inputs are features.
        num_features: ``D``; default ``extractor.num_features``; when neither is known
            the states are sized by the first ``update`` (every rank must then see
            at least one batch before ``compute``).
        reset_real_features: ``False`` keeps the real-side sums through ``reset()``.
    """

    is_differentiable = False
    higher_is_better = False
    full_state_update = False

    def __init__(
        self,
        extractor: nn.Module | None = None,
        num_features: int | None = None,
        reset_real_features: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.extractor = extractor
        if num_features is None and extractor is not None:
            num_features = getattr(extractor, "num_features", None)
        self.num_features = num_features
        self.reset_real_features = reset_real_features
        dim = num_features or 0
        for side in ("real", "fake"):
            self.add_state(f"{side}_sum", torch.zeros(dim, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state(f"{side}_outer_sum", torch.zeros(dim, dim, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state(f"{side}_num", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self._real_override: tuple[Tensor, Tensor, int] | None = None

    def update(self, images: Tensor, real: bool) -> None:
        if real and self._real_override is not None:
            raise ValueError(
                "FrechetDistance: real statistics were set with set_real_statistics(); "
                "call clear_real_statistics() before updating with real samples"
            )
        features = extract_features(self.extractor, images).to(torch.float64)
        side = "real" if real else "fake"
        total, outer = getattr(self, f"{side}_sum"), getattr(self, f"{side}_outer_sum")
        if total.numel() == 0:  # sized by the first batch
            dim = features.shape[1]
            total = torch.zeros(dim, dtype=torch.float64, device=features.device)
            outer = torch.zeros(dim, dim, dtype=torch.float64, device=features.device)
        if features.shape[1] != total.shape[0]:
            raise ValueError(f"FrechetDistance: expected {total.shape[0]} features, got {features.shape[1]}")
        # In place: one (D, D) float64 product per batch and no temporaries of that size.
        total.add_(features.sum(dim=0))
        outer.addmm_(features.T, features)
        setattr(self, f"{side}_sum", total)
        setattr(self, f"{side}_outer_sum", outer)
        setattr(self, f"{side}_num", getattr(self, f"{side}_num") + features.shape[0])

    @staticmethod
    def _statistics(total: Tensor, outer: Tensor, num: Tensor, side: str) -> tuple[Tensor, Tensor, int]:
        n = int(num)
        if n < 2:
            raise RuntimeError(f"FrechetDistance: needs at least 2 {side} samples, got {n}")
        mu = total / n
        sigma = (outer - n * torch.outer(mu, mu)) / (n - 1)
        return mu, sigma, n

    def _real(self) -> tuple[Tensor, Tensor, int]:
        if self._real_override is not None:
            return self._real_override
        return self._statistics(self.real_sum, self.real_outer_sum, self.real_num, "real")

    def compute(self) -> Tensor:
        mu_real, sigma_real, _ = self._real()
        mu_fake, sigma_fake, _ = self._statistics(self.fake_sum, self.fake_outer_sum, self.fake_num, "fake")
        return _result(frechet_distance(mu_real, sigma_real, mu_fake, sigma_fake), self.device)

    def real_statistics(self) -> tuple[Tensor, Tensor, int]:
        """``(mu, sigma, n)`` of the real side (float64, CPU), gathered over all ranks."""
        if self._real_override is not None:
            mu, sigma, n = self._real_override
        else:
            with self.sync_context():
                mu, sigma, n = self._real()
        return mu.cpu(), sigma.cpu(), n

    def fake_statistics(self) -> tuple[Tensor, Tensor, int]:
        """``(mu, sigma, n)`` of the generated side (float64, CPU), gathered over all ranks."""
        with self.sync_context():
            mu, sigma, n = self._statistics(self.fake_sum, self.fake_outer_sum, self.fake_num, "fake")
        return mu.cpu(), sigma.cpu(), n

    def set_real_statistics(self, mu, sigma, num: int) -> None:
        """Use precomputed real statistics (e.g. from a cache file) instead of real samples.

        They are global already: not summed over ranks, kept through ``reset()``.
        """
        mu = torch.as_tensor(mu, dtype=torch.float64).detach().cpu()
        sigma = torch.as_tensor(sigma, dtype=torch.float64).detach().cpu()
        if mu.dim() != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
            raise ValueError(
                f"set_real_statistics: expected mu (D,) and sigma (D, D), got {tuple(mu.shape)} and {tuple(sigma.shape)}"
            )
        if self.num_features is not None and mu.shape[0] != self.num_features:
            raise ValueError(f"set_real_statistics: expected {self.num_features} features, got {mu.shape[0]}")
        if int(num) < 2:
            raise ValueError(f"set_real_statistics: needs statistics of at least 2 samples, got {num}")
        self._real_override = (mu, sigma, int(num))

    def clear_real_statistics(self) -> None:
        self._real_override = None

    @property
    def has_real_statistics(self) -> bool:
        """Whether the real side is ready (precomputed statistics or at least 2 real samples on this rank)."""
        return self._real_override is not None or int(self.real_num) >= 2

    def reset(self) -> None:
        if self.reset_real_features:
            super().reset()
            return
        kept = {name: getattr(self, name) for name in ("real_sum", "real_outer_sum", "real_num")}
        super().reset()
        for name, value in kept.items():
            setattr(self, name, value)


# ---------------------------------------------------------------------------- 1-NN two-sample test
def one_nn_accuracy(real_features: Tensor, fake_features: Tensor, chunk_size: int = 1024) -> dict[str, float]:
    """Leave-one-out 1-NN two-sample test (Lopez-Paz & Oquab, ICLR 2017), Euclidean, float64.

    Every point of the union takes the label (real / generated) of its nearest
    other point; returns ``{"accuracy": ..., "real_accuracy": ..., "fake_accuracy": ...}``
    where ``accuracy`` is the mean of the two per-set accuracies (equal to the plain
    accuracy for equal set sizes, and still 0.5 at chance when they differ).
    0.5: the sets cannot be told apart; 1.0: fully separable; well below 0.5:
    the generated points sit on top of the real ones (memorisation).
    """
    if real_features.dim() != 2 or fake_features.dim() != 2 or real_features.shape[1] != fake_features.shape[1]:
        raise ValueError(
            f"one_nn_accuracy: expected (N, D) and (M, D) features, got {tuple(real_features.shape)} "
            f"and {tuple(fake_features.shape)}"
        )
    n_real, n_fake = real_features.shape[0], fake_features.shape[0]
    if n_real < 2 or n_fake < 2:
        raise ValueError(f"one_nn_accuracy: needs at least 2 samples per set, got {n_real} real and {n_fake} fake")
    points = torch.cat([real_features, fake_features.to(real_features.device)])
    is_real = torch.zeros(points.shape[0], dtype=torch.bool, device=points.device)
    is_real[:n_real] = True
    correct = torch.empty_like(is_real)
    for start, distances in _pairwise_distances(points, points, chunk_size):
        rows = torch.arange(distances.shape[0], device=points.device)
        distances[rows, rows + start] = math.inf  # leave one out
        nearest = distances.argmin(dim=1)
        correct[start : start + distances.shape[0]] = is_real[nearest] == is_real[start : start + distances.shape[0]]
    real_accuracy = float(correct[:n_real].double().mean())
    fake_accuracy = float(correct[n_real:].double().mean())
    return {
        "accuracy": 0.5 * (real_accuracy + fake_accuracy),
        "real_accuracy": real_accuracy,
        "fake_accuracy": fake_accuracy,
    }


class OneNNAccuracy(Metric):
    """Leave-one-out 1-NN accuracy between real and generated features; 0.5 is ideal, 1.0 fully separable.

    Recommended by Borji's survey ("Pros and cons of GAN evaluation measures") as a
    two-sample test that flags both mode dropping and memorisation. Features are
    kept (``cat`` states): mind the memory for large sets. ``compute()`` returns the
    balanced accuracy (see ``one_nn_accuracy``); use equal set sizes as the paper does.

    Args:
        extractor: see ``FrechetDistance``; ``None``: inputs are features (flattened).
    """

    is_differentiable = False
    higher_is_better = False
    full_state_update = False

    def __init__(self, extractor: nn.Module | None = None, chunk_size: int = 1024, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.extractor = extractor
        self.chunk_size = chunk_size
        self.add_state("real_features", [], dist_reduce_fx="cat")
        self.add_state("fake_features", [], dist_reduce_fx="cat")

    def update(self, images: Tensor, real: bool) -> None:
        features = extract_features(self.extractor, images)
        (self.real_features if real else self.fake_features).append(features)

    def compute(self) -> Tensor:
        # a list of batches before synchronisation, one tensor after it
        if len(self.real_features) == 0 or len(self.fake_features) == 0:
            raise RuntimeError("OneNNAccuracy: needs real and generated samples")
        result = one_nn_accuracy(dim_zero_cat(self.real_features), dim_zero_cat(self.fake_features), self.chunk_size)
        return _result(result["accuracy"], self.device)


# ---------------------------------------------------------------------------- class coverage
class ClassCoverage(Metric):
    """How a classifier sees the generated samples: classes covered and KL(p_hat || uniform).

    ``update`` takes predicted class indices ``(N,)``, logits / probabilities
    ``(N, num_classes)`` (arg-maxed), or images when a ``classifier`` is given
    (its ``logits`` method when it has one, else its forward). ``compute()`` returns
    ``{"classes_covered": int, "kl_to_uniform": float}`` with p_hat the histogram of
    predicted classes: 0 for a uniform histogram, log(num_classes) when every sample
    lands in one class.
    """

    is_differentiable = False
    higher_is_better = None
    full_state_update = False

    def __init__(self, num_classes: int, classifier: nn.Module | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if num_classes < 1:
            raise ValueError(f"ClassCoverage: num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.classifier = classifier
        self.add_state("counts", torch.zeros(num_classes, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, inputs: Tensor) -> None:
        if self.classifier is not None:
            inputs = extract_logits(self.classifier, inputs)
        if inputs.dim() == 2:
            predictions = inputs.argmax(dim=1)
        elif inputs.dim() == 1 and not inputs.is_floating_point():
            predictions = inputs.long()
        else:
            raise ValueError(
                "ClassCoverage.update expects class indices (N,), logits (N, num_classes) or, with a classifier, "
                f"images; got shape {tuple(inputs.shape)} and dtype {inputs.dtype}"
            )
        if predictions.numel() and (int(predictions.min()) < 0 or int(predictions.max()) >= self.num_classes):
            raise ValueError(f"ClassCoverage: class indices must be in [0, {self.num_classes})")
        self.counts += torch.bincount(predictions, minlength=self.num_classes).to(self.counts.device)

    def compute(self) -> dict[str, Any]:
        total = int(self.counts.sum())
        if total == 0:
            raise RuntimeError("ClassCoverage: no samples")
        p_hat = self.counts.double() / total
        present = p_hat > 0
        kl = float((p_hat[present] * (p_hat[present] * self.num_classes).log()).sum())
        return {"classes_covered": int(present.sum()), "kl_to_uniform": max(kl, 0.0)}


# ---------------------------------------------------------------------------- stacked MNIST
class StackedModes(Metric):
    """Modes of Stacked MNIST covered by generated samples, and KL(p_hat || uniform) over the 1,000 modes.

    The protocol of Metz et al. 2017 (Unrolled GAN), VEEGAN and PacGAN (Table 2): each of the
    three channels of a sample is classified by a digits classifier (``load_digits_classifier()``,
    the ``digits`` extractor); the mode is ``100 * d1 + 10 * d2 + d3``. ``compute()`` returns
    ``{"modes": int, "kl_to_uniform": float}``: the number of modes with at least one sample,
    and sum_k p_k log(p_k * 1000) of the histogram p of predicted modes (0 for a uniform
    histogram, log(1000) = 6.91 when every sample is the same mode).

    ``update`` takes images ``(N, 3, H, W)`` in [-1, 1] when a ``classifier`` is given
    (each channel is passed to it as a gray ``(N, 1, H, W)`` image), or predicted digits
    ``(N, 3)`` / mode indices ``(N,)`` (integers) without one.
    """

    is_differentiable = False
    higher_is_better = None
    full_state_update = False
    num_modes = 1000

    def __init__(self, classifier: nn.Module | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.classifier = classifier
        self.add_state("counts", torch.zeros(self.num_modes, dtype=torch.long), dist_reduce_fx="sum")

    def stacked_labels(self, images: Tensor) -> Tensor:
        """Mode index ``100 d1 + 10 d2 + d3`` of each ``(3, H, W)`` image, (N,)."""
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"StackedModes: expected images (N, 3, H, W), got {tuple(images.shape)}")
        digits = [extract_logits(self.classifier, images[:, c : c + 1]).argmax(dim=1) for c in range(3)]
        return 100 * digits[0] + 10 * digits[1] + digits[2]

    def update(self, inputs: Tensor) -> None:
        if self.classifier is not None and inputs.is_floating_point():
            modes = self.stacked_labels(inputs)
        elif inputs.dim() == 2 and inputs.shape[1] == 3 and not inputs.is_floating_point():
            modes = 100 * inputs[:, 0] + 10 * inputs[:, 1] + inputs[:, 2]
        elif inputs.dim() == 1 and not inputs.is_floating_point():
            modes = inputs
        else:
            raise ValueError(
                "StackedModes.update expects mode indices (N,), per-channel digits (N, 3) or, with a classifier, "
                f"images (N, 3, H, W); got shape {tuple(inputs.shape)} and dtype {inputs.dtype}"
            )
        modes = modes.long()
        if modes.numel() and (int(modes.min()) < 0 or int(modes.max()) >= self.num_modes):
            raise ValueError(f"StackedModes: mode indices must be in [0, {self.num_modes})")
        self.counts += torch.bincount(modes, minlength=self.num_modes).to(self.counts.device)

    def compute(self) -> dict[str, Any]:
        total = int(self.counts.sum())
        if total == 0:
            raise RuntimeError("StackedModes: no samples")
        p_hat = self.counts.double() / total
        present = p_hat > 0
        kl = float((p_hat[present] * (p_hat[present] * self.num_modes).log()).sum())
        return {"modes": int(present.sum()), "kl_to_uniform": max(kl, 0.0)}


# ---------------------------------------------------------------------------- toy 2-D mixtures
class ModeCoverage2D(Metric):
    """Mode-collapse metrics of the toy Gaussian mixtures (VEEGAN, Srivastava et al. 2017;
    PacGAN, Lin et al. 2018, section 5.1).

    What is computed, for generated points ``x`` and mode centres ``m_1..m_K``:

    - each point is assigned to its nearest mode (Euclidean distance);
    - it is *high quality* when that distance is at most ``threshold * std``
      (``threshold`` = 3: "within three standard deviations");
    - ``modes``: the number of modes that are the nearest mode of at least one
      high-quality point;
    - ``high_quality``: the fraction of all points that are high quality;
    - ``reverse_kl``: KL(q || p) = sum_k q_k log(q_k K), with q the histogram of the
      nearest modes of the *high-quality* points only (normalised to sum to 1) and
      p uniform over the K modes (the true mixture weights). Low-quality points
      are left out, as in the PacGAN authors' evaluation code (their histogram
      counts only points within the threshold). 0 means the high-quality points
      spread evenly, log K that they all sit on one mode; ``inf`` when there is
      no high-quality point at all.

    The same definitions hold in any dimension: ``modes`` is ``(K, D)``, points ``(N, D)``.
    ``compute()`` returns ``{"modes": int, "high_quality": float, "reverse_kl": float}``.
    """

    is_differentiable = False
    higher_is_better = None
    full_state_update = False

    def __init__(self, modes: Tensor, std: float, threshold: float = 3.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        modes = torch.as_tensor(modes, dtype=torch.float32)
        if modes.dim() != 2:
            raise ValueError(f"ModeCoverage2D: modes must be (K, D), got {tuple(modes.shape)}")
        if std <= 0:
            raise ValueError(f"ModeCoverage2D: std must be > 0, got {std}")
        self.register_buffer("modes", modes, persistent=False)
        self.std = float(std)
        self.threshold = float(threshold)
        self.add_state("mode_counts", torch.zeros(len(modes), dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("num_samples", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, points: Tensor) -> None:
        points = points.reshape(points.shape[0], -1)
        if points.shape[1] != self.modes.shape[1]:
            raise ValueError(f"ModeCoverage2D: points have {points.shape[1]} dimensions, modes {self.modes.shape[1]}")
        distances = torch.cdist(points.to(torch.float64), self.modes.to(points.device, torch.float64))
        nearest_distance, nearest_mode = distances.min(dim=1)
        good = nearest_distance <= self.threshold * self.std
        counts = torch.bincount(nearest_mode[good], minlength=self.modes.shape[0])
        self.mode_counts += counts.to(self.mode_counts.device)
        self.num_samples += points.shape[0]

    def compute(self) -> dict[str, Any]:
        total = int(self.num_samples)
        if total == 0:
            raise RuntimeError("ModeCoverage2D: no samples")
        good = int(self.mode_counts.sum())
        if good == 0:
            reverse_kl = math.inf
        else:
            q = self.mode_counts.double() / good
            present = q > 0
            reverse_kl = max(float((q[present] * (q[present] * len(q)).log()).sum()), 0.0)
        return {"modes": int((self.mode_counts > 0).sum()), "high_quality": good / total, "reverse_kl": reverse_kl}


# ---------------------------------------------------------------------------- precision / recall
def _kth_neighbour_radii(features: Tensor, k: int, chunk_size: int) -> Tensor:
    radii = torch.empty(features.shape[0], dtype=torch.float64, device=features.device)
    for start, distances in _pairwise_distances(features, features, chunk_size):
        # the k+1-th smallest distance: the point itself (0) comes first
        radii[start : start + distances.shape[0]] = distances.kthvalue(k + 1, dim=1).values
    return radii


def _fraction_inside(points: Tensor, centres: Tensor, radii: Tensor, chunk_size: int) -> float:
    inside = 0
    for _, distances in _pairwise_distances(points, centres, chunk_size):
        inside += int((distances <= radii.unsqueeze(0)).any(dim=1).sum())
    return inside / points.shape[0]


def precision_recall(
    real_features: Tensor, fake_features: Tensor, k: int = 3, chunk_size: int = 1024
) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al., NeurIPS 2019), Euclidean, float64.

    The real manifold is the union of balls around each real feature with the
    distance to its k-th nearest real neighbour as radius (likewise for the
    generated one). Precision: the fraction of generated points inside the real
    manifold; recall: the fraction of real points inside the generated manifold.
    Returns ``{"precision": float, "recall": float}``.
    """
    if real_features.dim() != 2 or fake_features.dim() != 2 or real_features.shape[1] != fake_features.shape[1]:
        raise ValueError(
            f"precision_recall: expected (N, D) and (M, D) features, got {tuple(real_features.shape)} "
            f"and {tuple(fake_features.shape)}"
        )
    if not 1 <= k < min(real_features.shape[0], fake_features.shape[0]):
        raise ValueError(
            f"precision_recall: k must be in [1, smaller set size) = [1, "
            f"{min(real_features.shape[0], fake_features.shape[0])}), got {k}"
        )
    fake_features = fake_features.to(real_features.device)
    real_radii = _kth_neighbour_radii(real_features, k, chunk_size)
    fake_radii = _kth_neighbour_radii(fake_features, k, chunk_size)
    return {
        "precision": _fraction_inside(fake_features, real_features, real_radii, chunk_size),
        "recall": _fraction_inside(real_features, fake_features, fake_radii, chunk_size),
    }


class PrecisionRecall(Metric):
    """Improved precision / recall (Kynkäänniemi et al. 2019) on features kept as ``cat`` states.

    ``update(features, real)`` adds features of one side; ``compute()`` returns
    ``precision_recall``'s dict, with k lowered to fit when a side has at most k samples.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, k: int = 3, chunk_size: int = 1024, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.k = k
        self.chunk_size = chunk_size
        self.add_state("real_features", [], dist_reduce_fx="cat")
        self.add_state("fake_features", [], dist_reduce_fx="cat")

    def update(self, features: Tensor, real: bool) -> None:
        (self.real_features if real else self.fake_features).append(features)

    def compute(self) -> dict[str, float]:
        real, fake = dim_zero_cat(self.real_features), dim_zero_cat(self.fake_features)
        k = min(self.k, real.shape[0] - 1, fake.shape[0] - 1)
        return precision_recall(real, fake, k=k, chunk_size=self.chunk_size)
