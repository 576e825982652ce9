"""benchmarks/metrics_chapter.py without its training: the collapsed generator is collapsed and still a
latent-variable model, and the report says where Parzen and AIS order generators oppositely."""

from __future__ import annotations

import argparse
import math

import pytest
import torch

from conftest import BENCHMARKS, benchmark_script, tiny_dcgan


@pytest.fixture
def chapter(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the script imports report.py from its own folder
    with benchmark_script("metrics_chapter") as module:
        yield module


def test_shrunk_noise_collapses_the_samples_and_keeps_the_latent_model(chapter):
    model = tiny_dcgan()
    collapsed = chapter.ShrunkNoise(model, 0.05)
    rng = torch.Generator().manual_seed(0)
    spread = model.sample(64, rng=rng).std(dim=0).mean()
    shrunk = collapsed.sample(64, rng=torch.Generator().manual_seed(0))
    assert shrunk.shape == (64, 1, 28, 28) and shrunk.std(dim=0).mean() < 0.2 * spread
    z = torch.randn(3, model.latent_dim)
    assert torch.equal(collapsed.generate(z, net=model.generator), model.generate(0.05 * z, net=model.generator))
    assert collapsed.conditions() == () and not collapsed.translates


def run(key: str, parzen: float, ais: float, support: float) -> dict:
    return {"key": key, "birthday_support": support, "birthday_real_support": 40000.0, "birthday_batch_size": 20,
            "birthday_duplicate_rate": 0.5, "birthday_threshold": 0.9, "birthday_rates": {"10": 0.1, "20": 0.5},
            "mmd": 0.01, "memorization_ratio": 1.0, "memorization_fraction": 0.05, "digits_parzen_log_likelihood": -200.0,
            "digits_parzen_std_error": 1.0, "digits_parzen_sigma": 0.5, "pixel_parzen_log_likelihood": parzen,
            "pixel_parzen_std_error": 2.0, "pixel_parzen_sigma": 0.4, "ais_log_likelihood": ais, "ais_std_error": 3.0,
            "ais_num_real": 32, "num_samples": 2000, "num_real": 500, "ais_sigma": 0.2, "ais_steps": 500,
            "ais_chains": 8, "seconds": 1.0}


def test_report_tables_and_where_the_two_likelihoods_disagree(chapter):
    runs = {"A": run("A", -100.0, -900.0, 300.0), "B": run("B", -150.0, -800.0, math.inf)}
    text = chapter.report(runs, ["A", "B"], argparse.Namespace(note="a note"), 600.0)
    assert "| A | 300 | 20 (0.50) | -100.0 ± 2.0 (σ 0.4) |" in text
    assert "| B | inf (no duplicate) |" in text
    assert "Pairs the two estimates order oppositely: A vs B." in text
    assert "Training: 10 min" in text and text.rstrip().endswith("a note")
    same = chapter.report({"A": run("A", -100.0, -800.0, 1.0), "B": run("B", -150.0, -900.0, 2.0)}, ["A", "B"],
                          argparse.Namespace(note=None), 0.0)
    assert "order every pair of generators the same way" in same
