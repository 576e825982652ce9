"""benchmarks/gan_parzen.py: the Gaussian baseline's samples, the paired verdict, and the section it writes
(small made-up data; no training)."""

from __future__ import annotations

import argparse

import pytest
import torch
from conftest import benchmark_script


@pytest.fixture(scope="module")
def bench():
    with benchmark_script("gan_parzen") as module:
        yield module


def test_the_gaussian_baseline_has_the_training_digits_mean_and_covariance(bench):
    generator = torch.Generator().manual_seed(0)
    mixing = torch.randn(4, 4, generator=generator)
    train = torch.randn(3000, 4, generator=generator) @ mixing + torch.tensor([1.0, -2.0, 0.5, 3.0])
    samples = bench.gaussian_samples(train, 20000, seed=1).double()
    assert samples.shape == (20000, 4)
    assert torch.allclose(samples.mean(0), train.double().mean(0), atol=0.1)
    assert torch.allclose(samples.T.cov(), train.double().T.cov(), rtol=0.1, atol=0.1)
    assert torch.equal(samples, bench.gaussian_samples(train, 20000, seed=1).double())  # seeded
    top = bench.gaussian_samples(train, 20000, seed=1, components=1).double()
    centred = top - top.mean(0)
    assert torch.linalg.matrix_rank(centred.T @ centred, rtol=1e-6) == 1  # only the top principal component


def test_the_verdict_needs_every_seed_beyond_twice_its_paired_standard_error(bench):
    assert bench.paired_difference([3.0, 5.0, 4.0], [1.0, 2.0, 3.0]) == pytest.approx((2.0, (1 / 3) ** 0.5))
    assert bench.verdict([(10.0, 2.0), (5.0, 2.0)]) == "reached"
    assert bench.verdict([(10.0, 2.0), (3.0, 2.0)]) == "not reached (not separated)"
    assert bench.verdict([(-10.0, 2.0), (-5.0, 2.0)]) == "not reached (below)"
    with pytest.raises(ValueError, match="no seeds"):
        bench.verdict([])
    with pytest.raises(ValueError, match="equally long"):
        bench.paired_difference([1.0, 2.0], [1.0])


def test_estimate_and_the_section(bench, monkeypatch):
    generator = torch.Generator().manual_seed(0)
    real = torch.rand(40, 6, generator=generator)
    split = {"validation": real[:20], "test": real[20:]}
    good = bench.estimate(real + 0.01 * torch.randn(40, 6, generator=generator), split)  # centres near the digits
    poor = bench.estimate(torch.rand(40, 6, generator=generator) + 3.0, split)  # centres far from them
    assert len(good["per_digit"]) == 20 and good["num_centres"] == 40
    assert good["log_likelihood"] > poor["log_likelihood"] and poor["sigma"] > good["sigma"]
    assert sum(good["per_digit"]) / 20 == pytest.approx(good["log_likelihood"], abs=1e-3)
    args = argparse.Namespace(iterations=1500, seeds=[0, 1], num_samples=40)
    results = {"references": {"gaussian_full": poor, "gaussian_pca": {**poor, "log_likelihood": poor["log_likelihood"] - 1},
                              "training_digits": good},
               "runs": {f"GAN/seed{s}/it1500/n40": {"seed": s, "iterations": 1500, "num_samples": 40, "fit_seconds": 60.0,
                                                    "estimate": good} for s in (0, 1)}}
    text = bench.report(results, args)
    assert text.startswith("## GAN by its paper's measure")
    assert f"| GAN, seed 0 | 1,500 iterations, raw G | 40 | {good['log_likelihood']:.1f} ± " in text
    assert "- At the recipe's 1,500 iterations: GAN minus the better Gaussian (Gaussian, full covariance)" in text
    assert "**reached**" in text and "Theis" in text and "225 ± 2" in text
    assert "python benchmarks/gan_parzen.py" in text  # the command of runs cached without one
    longer = {f"GAN/seed{s}/it5000/n40": {"seed": s, "iterations": 5000, "num_samples": 40, "fit_seconds": 9.0,
                                          "estimate": poor, "command": "python benchmarks/gan_parzen.py --iterations 5000"}
              for s in (0, 1)}
    text = bench.report({**results, "runs": {**results["runs"], **longer}}, args)
    assert text.index("At the recipe's 1,500 iterations") < text.index("At 5,000 iterations (3.33 x the recipe's 1,500)")
    assert text.count("**reached**") == 1 and "**not reached (not separated)**" in text  # poor = the Gaussian itself
    assert "python benchmarks/gan_parzen.py --iterations 5000" in text
    results["runs"]["GAN/seed1/it1500/n40"]["estimate"] = poor  # seed 1 no better than the Gaussian
    assert "**not reached (not separated)**" in bench.report(results, args)
    del results["runs"]["GAN/seed0/it1500/n40"], results["runs"]["GAN/seed1/it1500/n40"]
    assert "Verdict" not in bench.report(results, args)  # no GAN run: no verdict
