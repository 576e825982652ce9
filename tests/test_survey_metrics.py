"""The survey's metrics (issue 28), each against an independent reference on a small case: Gaussian MMD
(a direct numpy formula), Mode Score (a hand-computed case and torchmetrics' IS), Wasserstein (brute
force over permutations, scipy in 1-D), Parzen (a scipy log-sum-exp of Gaussian densities), AIS (the
exact marginal of a linear-Gaussian generator), the birthday-paradox estimate (sets with a known
number of distinct points), memorisation (a generator that copies training samples vs one that does
not), the FCN-score (a numpy confusion matrix); and each metric through the registry, with its options
checked."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist
from scipy.special import logsumexp
from scipy.stats import multivariate_normal, wasserstein_distance
from torch import nn

from gan_lightning.evaluation import (
    EvaluationSettings,
    GeneratorMetrics,
    ais_log_likelihood,
    annealing_schedule,
    birthday_paradox,
    class_metrics,
    duplicate_rates,
    evaluate_generator,
    evaluate_pairs,
    exact_wasserstein,
    fcn_scores,
    feature_wasserstein,
    gaussian_mmd,
    known_metrics,
    metric_class,
    metric_keys,
    mode_score,
    parzen_log_likelihoods,
    parzen_window,
    real_features,
    sliced_wasserstein,
    wasserstein_1d,
)
from gan_lightning.evaluation.registry import PairedMetric

NEW_FEATURE = ["mmd", "mode_score", "wasserstein", "parzen", "ais", "birthday", "memorization"]


pytestmark = pytest.mark.usefixtures("one_thread")


def gaussians(n: int, m: int, dim: int, shift: float = 0.5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(n, dim, generator=generator, dtype=torch.float64),
            torch.randn(m, dim, generator=generator, dtype=torch.float64) + shift)


def suite_values(names: str, real: torch.Tensor, fake: torch.Tensor, batch: int = 17, **options) -> dict:
    """The registered metrics fed as ``evaluate_generator`` feeds them: the real features installed, the
    generated ones in batches of ``batch``."""
    suite = GeneratorMetrics(names, None, seed=3, **options)
    suite.set_real(real_features(real.float(), None, None, cache=False)[0])
    for start in range(0, fake.shape[0], batch):
        suite.update(fake[start : start + batch].float())
    return suite.compute()


# ---------------------------------------------------------------------------- the registry
def test_the_new_metrics_are_registered_with_their_kinds_and_names():
    feature = list(known_metrics("feature"))
    assert feature[:7] == ["fid", "kid", "is", "pr", "1nn", "classes", "modes"] and feature[7:14] == NEW_FEATURE
    assert "fcn" in known_metrics("paired") and issubclass(metric_class("fcn_score"), PairedMetric)
    assert metric_class("fcn").compares == "labels" and metric_class("psnr").compares == "target"
    # records (a method's name, rates per batch size) are printed, not logged nor averaged per class
    assert "wasserstein_method" in metric_keys("wasserstein")
    assert metric_keys("wasserstein,birthday", numbers_only=True) == [
        "wasserstein", "birthday_support", "birthday_real_support", "birthday_batch_size",
        "birthday_duplicate_rate", "birthday_threshold"]
    # per class: the feature metrics that need nothing of the real data but its features
    assert class_metrics(NEW_FEATURE + ["fid"]) == ["mmd", "wasserstein", "parzen", "birthday", "fid"]


@pytest.mark.parametrize("names, options, message", [
    ("mmd", {"mmd_bandwidth": -1.0}, "mmd_bandwidth=-1.0 is not accepted: a positive kernel width, or null"),
    ("wasserstein", {"wasserstein_method": "earth"}, "wasserstein_method='earth' is not accepted: one of auto, exact, sliced"),
    ("wasserstein", {"wasserstein_p": 3}, "wasserstein_p=3 is not accepted: 1 or 2"),
    ("parzen", {"parzen_sigmas": [0.1, -2]}, "parzen_sigmas=[0.1, -2] is not accepted: a list of positive"),
    ("birthday", {"birthday_batch_sizes": [1, 10]}, "birthday_batch_sizes=[1, 10] is not accepted: a list of integer"),
    ("memorization", {"memorization_quantile": 1.5}, "memorization_quantile=1.5 is not accepted"),
])
def test_bad_options_fail_with_one_line_naming_key_value_and_what_is_accepted(names, options, message):
    with pytest.raises(ValueError) as error:
        GeneratorMetrics(names, None, **options)
    assert message in str(error.value) and "\n" not in str(error.value)


# ---------------------------------------------------------------------------- MMD
def numpy_mmd(x: np.ndarray, y: np.ndarray, sigma: float) -> float:
    def kernel(a, b):
        return np.exp(-((a[:, None, :] - b[None, :, :]) ** 2).sum(-1) / (2 * sigma**2))

    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    n, m = len(x), len(y)
    return ((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
            - 2 * kxy.mean())


def test_mmd_matches_a_direct_numpy_formula_with_the_median_heuristic_bandwidth():
    real, fake = gaussians(60, 45, 5)
    median = float(np.median(pdist(np.concatenate([real.numpy(), fake.numpy()]))))
    result = gaussian_mmd(real, fake)
    assert result["mmd_bandwidth"] == pytest.approx(median, rel=1e-12)
    assert result["mmd"] == pytest.approx(numpy_mmd(real.numpy(), fake.numpy(), median), rel=1e-10)
    assert gaussian_mmd(real, fake, bandwidth=0.7)["mmd"] == pytest.approx(numpy_mmd(real.numpy(), fake.numpy(), 0.7), rel=1e-10)
    # unbiased: about 0 for two samples of one distribution, clearly positive for shifted ones
    same = gaussian_mmd(*gaussians(300, 300, 5, shift=0.0, seed=1))["mmd"]
    assert abs(same) < 0.01 < gaussian_mmd(*gaussians(300, 300, 5, shift=1.0, seed=1))["mmd"]


def test_mmd_registered_fed_in_batches_equals_one_call_and_the_subset_is_seeded():
    real, fake = gaussians(80, 70, 4)
    values = suite_values("mmd", real, fake, mmd_median_points=50)
    # the median heuristic on 50 of the 150 pooled points: drawn from the evaluation's seed (3)
    expected = gaussian_mmd(real.float(), fake.float(), median_points=50, seed=3)
    assert values["mmd"] == pytest.approx(expected["mmd"], rel=1e-9)
    assert values["mmd_bandwidth"] == expected["mmd_bandwidth"]
    state = torch.random.get_rng_state()
    assert suite_values("mmd", real, fake, mmd_median_points=50)["mmd_bandwidth"] == expected["mmd_bandwidth"]
    assert torch.equal(state, torch.random.get_rng_state())  # the global RNG is untouched


# ---------------------------------------------------------------------------- Wasserstein
def test_exact_wasserstein_matches_brute_force_over_permutations_and_scipy_in_one_dimension():
    x, y = gaussians(6, 6, 3, shift=1.0, seed=2)
    for p in (1, 2):
        best = min(np.mean([np.linalg.norm((x[i] - y[j]).numpy()) ** p for i, j in enumerate(order)])
                   for order in itertools.permutations(range(6))) ** (1 / p)
        assert exact_wasserstein(x, y, p) == pytest.approx(best, rel=1e-12)
    line_x, line_y = gaussians(40, 40, 1, shift=0.3, seed=3)
    assert exact_wasserstein(line_x, line_y) == pytest.approx(
        wasserstein_distance(line_x[:, 0].numpy(), line_y[:, 0].numpy()), rel=1e-12)


def test_sliced_wasserstein_equals_the_exact_one_on_a_line_and_the_1d_distance_matches_scipy():
    line_x, line_y = gaussians(50, 50, 1, shift=0.4, seed=4)
    for p in (1, 2):  # every direction of a line is +-1: the sliced distance is the distance
        assert sliced_wasserstein(line_x, line_y, projections=8, p=p) == pytest.approx(
            exact_wasserstein(line_x, line_y, p), rel=1e-12)
    u, v = gaussians(3 * 7, 3 * 11, 1, seed=5)  # unequal sizes: the quantile functions, exactly
    rows_u, rows_v = u.view(3, 7), v.view(3, 11)
    for row_u, row_v, value in zip(rows_u, rows_v, wasserstein_1d(rows_u, rows_v, 1)):
        assert float(value) == pytest.approx(wasserstein_distance(row_u.numpy(), row_v.numpy()), rel=1e-12)
    # sliced <= exact in higher dimension (projections are 1-Lipschitz)
    x, y = gaussians(30, 30, 6, shift=1.0, seed=6)
    assert sliced_wasserstein(x, y, 64) < exact_wasserstein(x, y)


def test_wasserstein_says_which_method_it_used():
    x, y = gaussians(40, 40, 3, seed=7)
    assert feature_wasserstein(x, y)["wasserstein_method"] == "exact"
    assert feature_wasserstein(x, y[:30])["wasserstein_method"] == "sliced"  # unequal sizes
    assert feature_wasserstein(x, y, exact_max=39)["wasserstein_method"] == "sliced"  # too large
    with pytest.raises(ValueError, match="'exact' needs as many generated as real samples, got 30 and 40"):
        feature_wasserstein(x, y[:30], method="exact")
    values = suite_values("wasserstein", x, y)
    assert values["wasserstein_method"] == "exact"
    assert values["wasserstein"] == pytest.approx(exact_wasserstein(x, y), rel=1e-6)
    sliced = suite_values("wasserstein", x, y, wasserstein_method="sliced", wasserstein_projections=32)
    assert sliced["wasserstein"] == pytest.approx(sliced_wasserstein(x.float(), y.float(), 32, seed=3), rel=1e-9)


# ---------------------------------------------------------------------------- Mode Score
def test_mode_score_on_a_hand_computed_case():
    generated = torch.tensor([[0.9, 0.1], [0.2, 0.8]], dtype=torch.float64)
    real = torch.tensor([0.5, 0.5], dtype=torch.float64)
    marginal = generated.mean(0)  # (0.55, 0.45)
    by_hand = math.exp(
        0.5 * (0.9 * math.log(0.9 / 0.55) + 0.1 * math.log(0.1 / 0.45) + 0.2 * math.log(0.2 / 0.55)
               + 0.8 * math.log(0.8 / 0.45))
        - (0.55 * math.log(0.55 / 0.5) + 0.45 * math.log(0.45 / 0.5)))
    assert float(marginal[0]) == pytest.approx(0.55)
    assert mode_score(generated.log(), real.log().expand(3, 2)) == pytest.approx(by_hand, rel=1e-12)


def test_mode_score_is_the_inception_score_when_the_label_marginals_agree_and_less_otherwise():
    from torchmetrics.image.inception import InceptionScore

    logits = torch.randn(64, 10, generator=torch.Generator().manual_seed(0)) * 3
    inception = InceptionScore(feature=nn.Identity(), splits=1)
    inception.update(logits)
    is_value = float(inception.compute()[0])
    marginal = torch.softmax(logits.double(), 1).mean(0)
    assert mode_score(logits, marginal.log().unsqueeze(0)) == pytest.approx(is_value, rel=1e-5)
    skewed = torch.tensor([[4.0] + [0.0] * 9])  # a real marginal the samples do not follow
    assert mode_score(logits, skewed) < is_value


class LogitsExtractor(nn.Module):
    """A 'classifier' whose logits are the first 4 values of the (flattened) input."""

    num_classes = 4

    def features(self, x):
        return x.flatten(1)

    def logits(self, x):
        return x.flatten(1)[:, :4]


def test_mode_score_registered_reads_the_real_marginal_from_the_real_samples_logits():
    generator = torch.Generator().manual_seed(1)
    fake, real = torch.randn(50, 1, 2, 2, generator=generator) * 2, torch.randn(30, 1, 2, 2, generator=generator)
    extractor = LogitsExtractor()
    suite = GeneratorMetrics("mode_score", extractor)
    assert suite.real_inputs == ["logits"]
    suite.set_real_input("logits", real.flatten(1))
    for start in range(0, 50, 20):
        suite.update(fake[start : start + 20])
    assert suite.compute()["mode_score"] == pytest.approx(mode_score(fake.flatten(1), real.flatten(1)), rel=1e-9)
    with pytest.raises(ValueError, match="the mode score needs a classifier extractor"):
        GeneratorMetrics("mode_score", None)


# ---------------------------------------------------------------------------- Parzen
def test_parzen_matches_a_scipy_log_sum_exp_and_chooses_sigma_on_the_validation_part():
    centres, points = gaussians(25, 12, 3, shift=0.2, seed=8)
    sigma = 0.6
    reference = np.array([
        logsumexp([multivariate_normal(c, sigma**2 * np.eye(3)).logpdf(x) for c in centres.numpy()]) - math.log(25)
        for x in points.numpy()])
    squared = torch.cdist(points, centres).pow(2)
    assert parzen_log_likelihoods(squared, sigma, 3).numpy() == pytest.approx(reference, rel=1e-10)

    validation, test = points[:6], points[6:]
    grid = [0.2, 0.4, 0.8, 1.6]
    best = max(grid, key=lambda s: float(parzen_log_likelihoods(torch.cdist(validation, centres).pow(2), s, 3).mean()))
    result = parzen_window(centres, validation, test, grid)
    assert result["parzen_sigma"] == best
    test_values = parzen_log_likelihoods(torch.cdist(test, centres).pow(2), best, 3)
    assert result["parzen_log_likelihood"] == pytest.approx(float(test_values.mean()), rel=1e-12)
    assert result["parzen_std_error"] == pytest.approx(float(test_values.std() / math.sqrt(6)), rel=1e-12)


def test_parzen_registered_splits_the_real_samples_and_prefers_the_right_model():
    real, near = gaussians(200, 300, 2, shift=0.0, seed=9)
    _, far = gaussians(10, 300, 2, shift=2.0, seed=10)
    good = suite_values("parzen", real, near)
    bad = suite_values("parzen", real, far)
    assert good["parzen_log_likelihood"] > bad["parzen_log_likelihood"]
    # a 2-D standard normal has log-likelihood -(log 2 pi + 1) = -2.84 per point on average
    assert good["parzen_log_likelihood"] == pytest.approx(-(math.log(2 * math.pi) + 1), abs=0.25)


# ---------------------------------------------------------------------------- AIS
def linear_gaussian(seed: int = 1, latent: int = 2, dim: int = 5, sigma: float = 0.3, num: int = 8):
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(dim, latent, generator=generator, dtype=torch.float64)
    bias = 0.5 * torch.randn(dim, generator=generator, dtype=torch.float64)
    x = (torch.randn(num, latent, generator=generator, dtype=torch.float64) @ weight.T + bias
         + sigma * torch.randn(num, dim, generator=generator, dtype=torch.float64))
    # x = W z + b + noise, z ~ N(0, I): x ~ N(b, W W^T + sigma^2 I), log p(x) in closed form
    exact = multivariate_normal(bias.numpy(), (weight @ weight.T).numpy() + sigma**2 * np.eye(dim)).logpdf(x.numpy())
    return weight, bias, x, exact


def test_ais_recovers_the_closed_form_likelihood_of_a_linear_gaussian_generator():
    """Tolerance: 1,000 annealing steps, 16 chains, 5 leapfrog steps; mean error within 0.05 nats, every
    one of the 8 points within 0.35 nats (the spread of a 16-chain estimate), in about a second."""
    weight, bias, x, exact = linear_gaussian()
    estimate = ais_log_likelihood(lambda z: z @ weight.T + bias, x, (2,), 0.3, num_steps=1000, num_chains=16,
                                  generator=torch.Generator().manual_seed(0)).numpy()
    assert abs(np.mean(estimate - exact)) < 0.05
    assert np.max(np.abs(estimate - exact)) < 0.35
    # a short schedule is worse: AIS is a stochastic lower bound that tightens with more steps
    short = ais_log_likelihood(lambda z: z @ weight.T + bias, x, (2,), 0.3, num_steps=10, num_chains=16,
                               generator=torch.Generator().manual_seed(0)).numpy()
    assert np.mean(short - exact) < np.mean(estimate - exact) - 0.2
    schedule = annealing_schedule(10)
    assert float(schedule[0]) == 0.0 and float(schedule[-1]) == 1.0 and bool((schedule.diff() > 0).all())


class LinearModel(nn.Module):
    """An unconditional 'GANModule' with a linear generator G(z) = W z + b (float64)."""

    device = torch.device("cpu")
    generator_ema = None

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        super().__init__()
        self.generator = nn.Linear(weight.shape[1], weight.shape[0]).double()
        with torch.no_grad():
            self.generator.weight.copy_(weight)
            self.generator.bias.copy_(bias)

    @property
    def sampling_generator(self):
        return self.generator

    def conditions(self):
        return ()

    def sample_noise(self, num, rng=None, truncation=None):
        return torch.randn(num, self.generator.in_features, generator=rng, dtype=torch.float64)

    def generate(self, z, labels=None, net=None):
        return (net or self.generator)(z)

    def sample(self, num, labels=None, use_ema=True, rng=None):
        return self.generate(self.sample_noise(num, rng))


def test_ais_registered_reads_the_model_and_the_real_samples_not_generated_ones():
    weight, bias, x, exact = linear_gaussian()
    options = {"ais_sigma": 0.3, "ais_steps": 1000, "ais_chains": 16, "ais_num_real": 8}
    results = evaluate_generator(LinearModel(weight, bias), x, "ais", num_samples=10, progress=False,
                                 extractor=None, metric_options=options)
    assert results["ais_num_real"] == 8 and results["num_samples"] == 0  # no samples drawn for it
    assert results["ais_log_likelihood"] == pytest.approx(float(np.mean(exact)), abs=0.05)
    assert results["ais_std_error"] == pytest.approx(float(np.std(exact, ddof=1) / math.sqrt(8)), rel=0.1)
    with pytest.raises(ValueError, match="ais_sigma=0 is not accepted: a positive noise std"):
        evaluate_generator(LinearModel(weight, bias), x, "ais", progress=False, metric_options={"ais_sigma": 0})


# ---------------------------------------------------------------------------- birthday paradox
def repeated_points(distinct: int, copies: int, seed: int) -> torch.Tensor:
    """``distinct`` points of a 8-D normal, each ``copies`` times with a jitter far below any threshold."""
    generator = torch.Generator().manual_seed(seed)
    points = torch.randn(distinct, 8, generator=generator, dtype=torch.float64).repeat(copies, 1)
    return points + 1e-6 * torch.randn(points.shape, generator=generator, dtype=torch.float64)


@pytest.mark.parametrize("distinct", [50, 200])
def test_birthday_recovers_a_known_number_of_distinct_points(distinct):
    real = gaussians(500, 1, 8, seed=11)[0]
    generated = repeated_points(distinct, 40, seed=12)
    sizes = [4, 6, 8, 12, 16, 24, 32]
    result = birthday_paradox(real, generated, sizes, trials=1000, quantile=0.01, seed=0)
    for size, rate in result["birthday_rates"].items():  # the birthday formula, within binomial noise
        expected = 1 - math.prod(1 - i / distinct for i in range(int(size)))
        assert rate == pytest.approx(expected, abs=4 * math.sqrt(0.25 / 1000) + 0.02), size
    assert result["birthday_support"] == pytest.approx(distinct, rel=0.25)
    assert 0.3 <= result["birthday_duplicate_rate"] <= 0.7
    # samples of the real distribution: (almost) no near-duplicates at these sizes, a support of another order
    fresh = gaussians(2000, 1, 8, seed=13)[0]
    assert birthday_paradox(real, fresh, sizes, trials=200)["birthday_support"] > 100 * distinct


def test_birthday_registered_threshold_and_rates():
    real = gaussians(300, 1, 8, seed=14)[0]
    generated = repeated_points(30, 10, seed=15)
    values = suite_values("birthday", real, generated, birthday_batch_sizes=[4, 8, 16, 400], birthday_trials=300)
    assert set(values["birthday_rates"]) == {"4", "8", "16"}  # 400 > the 300 samples: left out
    rates = duplicate_rates(generated.float(), values["birthday_threshold"], [4, 8, 16], 300, seed=3)
    assert values["birthday_rates"] == {str(size): rate for size, rate in rates.items()}
    assert values["birthday_support"] == pytest.approx(30, rel=0.35)
    # many samples: each batch's own distances instead of one N x N matrix, the same rates
    from gan_lightning.evaluation import birthday

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(birthday, "CLOSE_PAIRS_LIMIT", 10)
        assert duplicate_rates(generated.float(), values["birthday_threshold"], [4, 8, 16], 300, seed=3) == rates
    with pytest.raises(ValueError, match="no batch size of \\[500\\] is between 2 and the 300 generated samples"):
        suite_values("birthday", real, generated, birthday_batch_sizes=[500])


# ---------------------------------------------------------------------------- memorisation
class Replay(nn.Module):
    """A 'generator' that returns the given images in order (a copier of training samples, or fresh data)."""

    device = torch.device("cpu")

    def __init__(self, images: torch.Tensor) -> None:
        super().__init__()
        self.images, self.position = images, 0

    def sample(self, num, labels=None, use_ema=True, rng=None):
        batch = self.images[self.position : self.position + num]
        self.position += num
        return batch


def test_memorization_flags_a_generator_that_copies_training_samples(mnist5k, tmp_path):
    mnist5k.setup("fit")
    train = torch.stack([mnist5k.train_set[i][0] for i in range(300)])
    heldout = torch.stack([mnist5k.heldout_set[i][0] for i in range(len(mnist5k.heldout_set))])
    # pixel space (no extractor); every training digit is a reference (num_train: all)
    settings = EvaluationSettings(num_samples=200, num_real=200, extractor=None, progress=False, cache_dir=tmp_path)
    # the real samples are a seeded subset of 200 of the 500 held-out digits: the fresh generator replays others
    used = set(torch.randperm(len(heldout), generator=torch.Generator().manual_seed(0))[:200].tolist())
    fresh = heldout[[i for i in range(len(heldout)) if i not in used]]
    copier = evaluate_generator(Replay(train), mnist5k, "memorization", settings)
    honest = evaluate_generator(Replay(fresh), mnist5k, "memorization", settings)
    assert copier["num_train"] == len(mnist5k.train_set) and copier["train_cache"] == "miss"
    assert honest["train_cache"] == "hit"
    assert copier["memorization_distance"] < 1e-4 and copier["memorization_fraction"] > 0.95
    assert copier["memorization_ratio"] < 0.01
    assert 0.8 < honest["memorization_ratio"] < 1.25 and honest["memorization_fraction"] < 0.15
    with pytest.raises(ValueError, match="no held-out split besides its training split"):
        evaluate_generator(Replay(train), train, "memorization", settings)


def test_memorization_medians_are_the_usual_median_of_an_even_count():
    """The median of an even count is the mean of the two middle values (numpy's; torch's median() takes the lower
    one): ratio 2.5 / 2.0, not 2.0 / 1.0."""
    from gan_lightning.evaluation.memorization import memorization_scores

    generated, heldout = torch.tensor([4.0, 1.0, 3.0, 2.0]), torch.tensor([3.0, 1.0])
    scores = memorization_scores(generated, heldout)
    assert scores["memorization_distance"] == float(np.median(generated.numpy())) == 2.5
    assert scores["memorization_heldout_distance"] == float(np.median(heldout.numpy())) == 2.0
    assert scores["memorization_ratio"] == 1.25


# ---------------------------------------------------------------------------- FCN-score
def test_fcn_scores_match_a_numpy_confusion_matrix():
    from gan_lightning.evaluation.segmentation import confusion_matrix

    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 4, (5, 6, 6), generator=generator)  # class 4 never appears: left out
    predicted = torch.where(torch.rand(5, 6, 6, generator=generator) < 0.6, labels,
                            torch.randint(0, 5, (5, 6, 6), generator=generator))
    truth, guess = labels.flatten().numpy(), predicted.flatten().numpy()
    classes = sorted(set(truth) | set(guess))
    ious = [np.sum((truth == c) & (guess == c)) / np.sum((truth == c) | (guess == c)) for c in classes]
    class_acc = [np.mean(guess[truth == c] == c) for c in sorted(set(truth))]
    scores = fcn_scores(confusion_matrix(predicted, labels, 5))
    assert scores["fcn_pixel_acc"] == pytest.approx(np.mean(truth == guess), rel=1e-12)
    assert scores["fcn_class_acc"] == pytest.approx(np.mean(class_acc), rel=1e-12)
    assert scores["fcn_miou"] == pytest.approx(np.mean(ious), rel=1e-12)


class ReadsChannels(nn.Module):
    """A judge that reads the class of each pixel from the image's channels (logits = the image)."""

    num_classes = 3

    def forward(self, images):
        return images


class ReadsCorner(nn.Module):
    """A classifier judge: the class logits are the image's top-left pixel's channels."""

    num_classes = 3

    def forward(self, images):
        return images[:, :, 0, 0]


def test_fcn_registered_judges_the_outputs_against_the_input_labels():
    generator = torch.Generator().manual_seed(1)
    label_maps = torch.randint(0, 3, (8, 5, 5), generator=generator)
    batches = [{"label": label_maps[:5], "class": label_maps[:5, 0, 0]},
               {"label": label_maps[5:], "class": label_maps[5:, 0, 0]}]

    def painter(labels):  # a perfect label -> image model for this judge
        return torch.nn.functional.one_hot(labels, 3).permute(0, 3, 1, 2).float() * 2 - 1

    def wrong(labels):  # paints class 1 as class 2
        return painter(torch.where(labels == 1, 2, labels))

    perfect = evaluate_pairs(painter, batches, "fcn", source="label", target="label", labels="label",
                             judge=ReadsChannels())
    assert perfect == {"fcn_pixel_acc": 1.0, "fcn_class_acc": 1.0, "fcn_miou": 1.0, "num_pairs": 8}
    swapped = evaluate_pairs(wrong, batches, "fcn", source="label", target="label", labels="label",
                             judge=ReadsChannels())
    from gan_lightning.evaluation.segmentation import confusion_matrix

    assert swapped["fcn_pixel_acc"] == pytest.approx(float((label_maps != 1).double().mean()))
    assert {k: swapped[k] for k in ("fcn_class_acc", "fcn_miou")} == pytest.approx(
        {k: v for k, v in fcn_scores(confusion_matrix(torch.where(label_maps == 1, 2, label_maps), label_maps, 3)).items()
         if k != "fcn_pixel_acc"})
    # a classifier judge: one class per image, against the input's class label
    per_image = evaluate_pairs(painter, batches, "fcn", source="label", target="label", labels="class",
                               judge=ReadsCorner())
    assert per_image["fcn_pixel_acc"] == 1.0
    with pytest.raises(ValueError, match="fcn needs a judge"):
        evaluate_pairs(painter, batches, "fcn", source="label", target="label", labels="label")
    with pytest.raises(ValueError, match="compares the outputs with their inputs' labels"):
        evaluate_pairs(painter, batches, "fcn", source="label", target="label", judge=ReadsChannels())
