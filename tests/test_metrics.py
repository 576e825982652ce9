"""Metrics: the Fréchet distance against closed forms and against torch-fidelity / torchmetrics,
KID's unbiasedness, the 2-D mode metrics, the 1-NN test, class coverage, precision/recall."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from gan_lightning.data.toy2d import mixture_modes, sample_mixture
from gan_lightning.evaluation import (
    ClassCoverage,
    FrechetDistance,
    ModeCoverage2D,
    OneNNAccuracy,
    feature_statistics,
    frechet_distance,
    one_nn_accuracy,
    precision_recall,
)


class IdentityFeatures(nn.Module):
    """A feature extractor that returns its (N, D) input: metrics then see exactly the given features."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def two_feature_sets(dim: int = 16, n_real: int = 300, n_fake: int = 260, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    real = torch.randn(n_real, dim, generator=g, dtype=torch.float64)
    mixing = torch.eye(dim, dtype=torch.float64) + 0.3 * torch.randn(dim, dim, generator=g, dtype=torch.float64)
    fake = 0.4 + torch.randn(n_fake, dim, generator=g, dtype=torch.float64) @ mixing
    return real, fake


# ---------------------------------------------------------------------------- frechet_distance
@pytest.mark.parametrize("method", ["eigh", "sqrtm"])
def test_frechet_distance_diagonal_gaussians_closed_form(method):
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    var1, var2 = rng.uniform(0.1, 3.0, size=8), rng.uniform(0.1, 3.0, size=8)
    # diagonal covariances: (S1 S2)^(1/2) is the elementwise sqrt(var1 * var2)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(var1 + var2 - 2 * np.sqrt(var1 * var2))
    got = frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2), method=method)
    assert isinstance(got, float)
    assert got == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("method", ["eigh", "sqrtm"])
def test_frechet_distance_commuting_full_covariances(method):
    # S1 = Q D1 Q^T, S2 = Q D2 Q^T share eigenvectors: (S1 S2)^(1/2) = Q sqrt(D1 D2) Q^T
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    d1, d2 = rng.uniform(0.2, 2.0, size=6), rng.uniform(0.2, 2.0, size=6)
    sigma1, sigma2 = q @ np.diag(d1) @ q.T, q @ np.diag(d2) @ q.T
    mu1, mu2 = np.zeros(6), np.full(6, 0.5)
    expected = 6 * 0.25 + np.sum(d1 + d2 - 2 * np.sqrt(d1 * d2))
    assert frechet_distance(mu1, sigma1, mu2, sigma2, method=method) == pytest.approx(expected, rel=1e-9)
    # symmetric and zero against itself
    assert frechet_distance(mu2, sigma2, mu1, sigma1, method=method) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(mu1, sigma1, mu1, sigma1, method=method) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_rank_deficient_and_invalid_inputs():
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    # fewer samples than dimensions: singular covariances, still finite and equal to torch-fidelity's value
    real, fake = two_feature_sets(dim=32, n_real=20, n_fake=25)
    mu1, s1 = feature_statistics(real)
    mu2, s2 = feature_statistics(fake)
    ours = frechet_distance(mu1, s1, mu2, s2)
    theirs = fid_statistics_to_metric(
        fid_features_to_statistics(real), fid_features_to_statistics(fake), verbose=False
    )["frechet_inception_distance"]
    assert math.isfinite(ours)
    assert ours == pytest.approx(theirs, rel=1e-6)
    with pytest.raises(ValueError, match="NaN or infinite"):
        frechet_distance(mu1, s1 * float("nan"), mu2, s2)
    with pytest.raises(ValueError, match="positive semi-definite"):
        frechet_distance(mu1, -torch.eye(32), mu2, s2)
    with pytest.raises(ValueError, match="1-D"):
        frechet_distance(mu1[:3], s1, mu2, s2)


def test_feature_statistics_float64_unbiased():
    real, _ = two_feature_sets()
    mu, sigma = feature_statistics(real.float())
    assert mu.dtype == sigma.dtype == torch.float64
    np.testing.assert_allclose(mu.numpy(), real.numpy().mean(0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(sigma.numpy(), np.cov(real.numpy(), rowvar=False), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="at least 2"):
        feature_statistics(real[:1])


# ---------------------------------------------------------------------------- FrechetDistance metric
def fid_in_batches(real, fake, batch_size, extractor=None):
    metric = FrechetDistance(extractor if extractor is not None else IdentityFeatures(real.shape[1]))
    for chunk in real.split(batch_size):
        metric.update(chunk, real=True)
    for chunk in fake.split(batch_size):
        metric.update(chunk, real=False)
    return metric


def test_fid_on_given_features_matches_torch_fidelity_and_torchmetrics():
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
    from torchmetrics.image.fid import FrechetInceptionDistance, _compute_fid

    real, fake = two_feature_sets()
    ours = float(fid_in_batches(real, fake, batch_size=64).compute())

    fidelity = fid_statistics_to_metric(
        fid_features_to_statistics(real), fid_features_to_statistics(fake), verbose=False
    )["frechet_inception_distance"]

    # torchmetrics' FID with a custom feature extractor module (it exposes num_features)
    reference = FrechetInceptionDistance(feature=IdentityFeatures(real.shape[1]))
    for chunk in real.split(100):
        reference.update(chunk, real=True)
    for chunk in fake.split(100):
        reference.update(chunk, real=False)
    torchmetrics_fid = float(reference.compute())
    functional = float(_compute_fid(real.mean(0), torch.cov(real.T), fake.mean(0), torch.cov(fake.T)))

    assert ours > 1.0  # the two sets differ: a meaningful comparison
    for other in (fidelity, torchmetrics_fid, functional):
        assert ours == pytest.approx(other, rel=1e-4)


def test_fid_is_batch_size_independent_and_zero_for_identical_sets():
    real, fake = two_feature_sets()
    small = float(fid_in_batches(real, fake, batch_size=7).compute())
    large = float(fid_in_batches(real, fake, batch_size=1000).compute())
    assert small == pytest.approx(large, rel=1e-10)
    assert float(fid_in_batches(real, real, batch_size=50).compute()) == pytest.approx(0.0, abs=1e-8)


def test_fid_cached_real_statistics():
    real, fake = two_feature_sets()
    full = fid_in_batches(real, fake, batch_size=64)
    expected = float(full.compute())
    mu, sigma, num = full.real_statistics()
    assert num == real.shape[0] and mu.dtype == torch.float64
    np.testing.assert_allclose(sigma.numpy(), np.cov(real.numpy(), rowvar=False), rtol=1e-9, atol=1e-12)

    cached = FrechetDistance(IdentityFeatures(real.shape[1]))
    cached.set_real_statistics(mu, sigma, num)
    assert cached.has_real_statistics
    cached.update(fake, real=False)
    assert float(cached.compute()) == pytest.approx(expected, rel=1e-10)
    with pytest.raises(ValueError, match="clear_real_statistics"):
        cached.update(real, real=True)
    cached.reset()  # the precomputed statistics survive a reset, the generated side does not
    assert cached.has_real_statistics and int(cached.fake_num) == 0
    cached.update(fake, real=False)
    assert float(cached.compute()) == pytest.approx(expected, rel=1e-10)
    with pytest.raises(ValueError, match="expected 16 features"):
        cached.set_real_statistics(mu[:3], sigma[:3, :3], num)


def test_fid_keeps_real_features_when_asked_and_sizes_lazily():
    real, fake = two_feature_sets()
    metric = FrechetDistance(extractor=None, reset_real_features=False)  # D from the first batch
    assert metric.real_sum.numel() == 0
    metric.update(real, real=True)
    metric.update(fake, real=False)
    first = float(metric.compute())
    metric.reset()
    assert int(metric.real_num) == real.shape[0] and int(metric.fake_num) == 0
    metric.update(fake, real=False)
    assert float(metric.compute()) == pytest.approx(first, rel=1e-12)
    with pytest.raises(RuntimeError, match="at least 2 fake"):
        _fid_with_one_fake(real)


def _fid_with_one_fake(real):
    metric = FrechetDistance(IdentityFeatures(real.shape[1]))
    metric.update(real, real=True)
    metric.update(real[:1], real=False)
    return metric.compute()


@pytest.mark.filterwarnings("ignore:.*will save all extracted features:UserWarning")
def test_kid_unbiased_near_zero_for_same_distribution():
    """torchmetrics' KID (unbiased MMD^2 with the cubic kernel) with a custom feature module."""
    from torchmetrics.image.kid import KernelInceptionDistance, poly_kernel

    g = torch.Generator().manual_seed(0)
    dim, n = 16, 400
    first = torch.randn(n, dim, generator=g, dtype=torch.float64)
    second = torch.randn(n, dim, generator=g, dtype=torch.float64)
    shifted = 0.5 + torch.randn(n, dim, generator=g, dtype=torch.float64)

    def kid(a, b):
        torch.manual_seed(0)  # KID draws its subsets from the global RNG
        metric = KernelInceptionDistance(feature=IdentityFeatures(dim), subsets=20, subset_size=100)
        metric.update(a, real=True)
        metric.update(b, real=False)
        mean, _ = metric.compute()
        return float(mean)

    same, different = kid(first, second), kid(first, shifted)
    # the biased (V-statistic) MMD^2 on one subset of the same size, for scale
    a, b = first[:100], second[:100]
    biased = float(poly_kernel(a, a).mean() + poly_kernel(b, b).mean() - 2 * poly_kernel(a, b).mean())
    assert different > 0.1
    assert abs(same) < 0.05 * different
    assert abs(same) < 0.2 * biased  # the diagonal terms are left out: no positive offset


# ---------------------------------------------------------------------------- ModeCoverage2D
def mode_metrics(kind: str, points: torch.Tensor, std: float) -> dict:
    metric = ModeCoverage2D(mixture_modes(kind), std=std)
    for chunk in points.split(512):
        metric.update(chunk)
    return metric.compute()


def test_mode_coverage_true_ring8_mixture():
    points, _ = sample_mixture(mixture_modes("ring8"), 0.01, 2_500, seed=0)
    result = mode_metrics("ring8", points, 0.01)
    assert result["modes"] == 8
    # a 2-D isotropic Gaussian lies within 3 std of its centre with probability 1 - exp(-9/2) = 0.9889
    assert result["high_quality"] > 0.98
    assert result["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.008)
    assert 0.0 <= result["reverse_kl"] < 0.01
    assert isinstance(result["modes"], int) and isinstance(result["high_quality"], float)


def test_mode_coverage_collapsed_to_one_mode():
    modes = mixture_modes("ring8")
    g = torch.Generator().manual_seed(0)
    points = modes[3] + 0.01 * torch.randn(2_500, 2, generator=g)
    result = mode_metrics("ring8", points, 0.01)
    assert result["modes"] == 1
    assert result["reverse_kl"] == pytest.approx(math.log(8), rel=1e-9)


def test_mode_coverage_true_grid25_mixture_and_off_mode_points():
    points, _ = sample_mixture(mixture_modes("grid25"), 0.05, 2_500, seed=0)
    result = mode_metrics("grid25", points, 0.05)
    assert result["modes"] == 25
    assert result["high_quality"] > 0.98
    # points between the modes are low quality and capture nothing
    between = torch.full((100, 2), 1.0)
    assert mode_metrics("grid25", between, 0.05) == {"modes": 0, "high_quality": 0.0, "reverse_kl": math.inf}


# ---------------------------------------------------------------------------- OneNNAccuracy
def test_one_nn_accuracy_same_separated_and_copied():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(300, 4, generator=g)
    same = torch.randn(300, 4, generator=g)
    separated = torch.randn(300, 4, generator=g) + 10.0

    metric = OneNNAccuracy()
    for chunk in real.split(128):
        metric.update(chunk, real=True)
    for chunk in same.split(128):
        metric.update(chunk, real=False)
    same_accuracy = float(metric.compute())
    assert abs(same_accuracy - 0.5) < 0.15
    assert one_nn_accuracy(real, same, chunk_size=50)["accuracy"] == pytest.approx(same_accuracy, abs=1e-12)

    metric.reset()
    metric.update(real, real=True)
    metric.update(separated, real=False)
    assert float(metric.compute()) == pytest.approx(1.0)
    # generated points that copy the real ones: every nearest neighbour is the copy, accuracy 0
    assert one_nn_accuracy(real, real.clone())["accuracy"] == pytest.approx(0.0)


# ---------------------------------------------------------------------------- ClassCoverage
def test_class_coverage_uniform_and_collapsed():
    metric = ClassCoverage(10)
    for chunk in (torch.arange(1_000) % 10).split(128):
        metric.update(chunk)
    result = metric.compute()
    assert result == {"classes_covered": 10, "kl_to_uniform": pytest.approx(0.0, abs=1e-12)}

    metric.reset()
    metric.update(torch.full((500,), 7))
    result = metric.compute()
    assert result["classes_covered"] == 1
    assert result["kl_to_uniform"] == pytest.approx(math.log(10), rel=1e-12)

    # logits are arg-maxed; a classifier module turns inputs into logits
    logits = torch.nn.functional.one_hot(torch.tensor([0, 0, 1, 1]), 10).float()
    metric.reset()
    metric.update(logits)
    assert metric.compute() == {"classes_covered": 2, "kl_to_uniform": pytest.approx(math.log(5))}
    with_classifier = ClassCoverage(10, classifier=IdentityFeatures(10))
    with_classifier.update(logits)
    assert with_classifier.compute()["classes_covered"] == 2
    with pytest.raises(ValueError, match="class indices"):
        metric.update(torch.tensor([10]))


# ---------------------------------------------------------------------------- precision / recall
def test_precision_recall_matches_torch_fidelity():
    from torch_fidelity.metric_prc import calculate_precision_recall_full

    g = torch.Generator().manual_seed(0)
    real = torch.randn(400, 8, generator=g, dtype=torch.float64)
    fake = 0.7 * torch.randn(300, 8, generator=g, dtype=torch.float64) + 0.8
    ours = precision_recall(real, fake, k=3, chunk_size=128)
    # torch-fidelity's convention: features_1 generated, features_2 real
    precision, recall = calculate_precision_recall_full(fake, real, neighborhood=3)
    assert 0.05 < ours["precision"] < 0.999 and 0.05 < ours["recall"] < 0.999
    # torch-fidelity averages in float32; 1e-6 is far below one point (1/400)
    assert ours["precision"] == pytest.approx(precision, abs=1e-6)
    assert ours["recall"] == pytest.approx(recall, abs=1e-6)
    far = precision_recall(real, fake + 100.0, k=3)
    assert far == {"precision": 0.0, "recall": 0.0}
    with pytest.raises(ValueError, match="k must be"):
        precision_recall(real, fake[:3], k=3)


# ---------------------------------------------------------------------------- DDP synchronisation
def _ddp_worker(rank: int, world_size: int, port: int, out_path: str) -> None:
    import os

    import torch.distributed as dist

    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    torch.set_num_threads(1)
    real, fake = two_feature_sets(dim=6, n_real=200, n_fake=200)
    mine = slice(rank * 100, (rank + 1) * 100)
    results = {}
    for lazy in (False, True):
        fid = FrechetDistance(None, num_features=None if lazy else 6)
        fid.update(real[mine], real=True)
        fid.update(fake[mine], real=False)
        results[f"fid_lazy_{lazy}"] = float(fid.compute())
        results[f"num_real_lazy_{lazy}"] = fid.real_statistics()[2]
    nn_test = OneNNAccuracy()
    nn_test.update(real[mine], real=True)
    nn_test.update(fake[mine], real=False)
    results["one_nn"] = float(nn_test.compute())
    coverage = ClassCoverage(10)
    coverage.update(torch.full((5,), rank))
    results["coverage"] = coverage.compute()
    modes = ModeCoverage2D(torch.tensor([[0.0, 0.0], [1.0, 0.0]]), std=0.1)
    modes.update(torch.tensor([[float(rank), 0.0]]))
    results["modes"] = modes.compute()
    if rank == 0:
        torch.save(results, out_path)
    dist.barrier()
    dist.destroy_process_group()


def test_metrics_synchronise_across_two_processes(tmp_path):
    """Two gloo processes, each with half of the samples, get the single-process numbers."""
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out_path = tmp_path / "ddp.pt"
    mp.spawn(_ddp_worker, args=(2, port, str(out_path)), nprocs=2, join=True)
    results = torch.load(out_path, weights_only=False)

    real, fake = two_feature_sets(dim=6, n_real=200, n_fake=200)
    expected_fid = float(fid_in_batches(real, fake, batch_size=100).compute())
    for lazy in (False, True):
        assert results[f"fid_lazy_{lazy}"] == pytest.approx(expected_fid, rel=1e-9)
        assert results[f"num_real_lazy_{lazy}"] == 200
    assert results["one_nn"] == pytest.approx(one_nn_accuracy(real, fake)["accuracy"])
    assert results["coverage"] == {"classes_covered": 2, "kl_to_uniform": pytest.approx(math.log(5))}
    assert results["modes"] == {"modes": 2, "high_quality": 1.0, "reverse_kl": pytest.approx(0.0, abs=1e-12)}


def test_cholesky_fast_path_and_singular_fallback_agree_with_sqrtm():
    from gan_lightning.evaluation import feature_statistics, frechet_distance

    generator = torch.Generator().manual_seed(7)
    for num in (60, 6):  # positive definite (Cholesky path) and rank-deficient (general path)
        a = torch.randn(num, 12, generator=generator, dtype=torch.float64)
        b = torch.randn(num, 12, generator=generator, dtype=torch.float64) * 1.3 + 0.2
        stats = (*feature_statistics(a), *feature_statistics(b))
        fast, classic = frechet_distance(*stats), frechet_distance(*stats, method="sqrtm")
        assert abs(fast - classic) <= 1e-5 * max(classic, 1.0)


def test_fit_digits_classifier_learns_another_digit_domain():
    """A judge fitted on inverted digits reads inverted digits and is seeded (same seed, same weights)."""
    from gan_lightning.data.images import mnist5k_tensor
    from gan_lightning.evaluation import fit_digits_classifier
    from gan_lightning.evaluation.digits import evaluate_classifier

    images, labels = mnist5k_tensor(32, 1)
    inverted, train, test = -images, slice(0, None, 3), slice(1, None, 6)  # the set is sorted by class
    judge = fit_digits_classifier(inverted[train], labels[train], epochs=2, seed=3)
    again = fit_digits_classifier(inverted[train], labels[train], epochs=2, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(judge.state_dict().values(), again.state_dict().values()))
    assert evaluate_classifier(judge, inverted[test], labels[test]) > 0.8
    with pytest.raises(ValueError, match="as many labels as images"):
        fit_digits_classifier(images[:3], labels[:2])
