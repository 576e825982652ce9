"""benchmarks/hierarchical.py: its measures on known answers, the equal-size LAPGAN, and the verdicts its
section writes from the runs (no training here; the committed section comes from the real runs)."""

from __future__ import annotations

import pytest
import torch

from conftest import benchmark_script


@pytest.fixture(scope="module")
def bench():
    with benchmark_script("hierarchical") as module:
        yield module


def test_mean_pairwise_distance_on_known_points(bench):
    points = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]])
    assert bench.mean_pairwise_distance(points) == pytest.approx((5 + 0 + 5) * 2 / 6)
    assert bench.mean_pairwise_distance(torch.ones(4, 3)) == 0


def test_lapgan_of_the_benchmark_has_dcgans_generator_size(bench):
    lapgan, _ = bench.build_mnist5k("LAPGAN", **bench.EQUAL_SIZE["LAPGAN"])
    dcgan, _ = bench.build_mnist5k("DCGAN")
    ratio = bench.parameters(lapgan.generator) / bench.parameters(dcgan.generator)
    assert 0.97 < ratio < 1.03, ratio


def runs(lap_fid: float, dc_fid: float, diversity0: float, diversity10: float) -> dict:
    pyramid = {"steps": 500, "g_params": 1000, "d_params": 10, "classes": 10, "fit_seconds": 1.0}
    stacked = {"steps": 500, "encoder_steps": 100, "joint_after": 300, "agreement": 0.5, "worst_digit_agreement": 0.1,
               "least_diverse_digit": 0.2, "fid": 100.0, "encoder_heldout_acc": 0.9, "fit_seconds": 1.0}
    return {"LAPGAN": {**pyramid, "model": "LAPGAN", "fid": lap_fid},
            "DCGAN": {**pyramid, "model": "DCGAN", "fid": dc_fid},
            "StackedGAN_entropy0": {**stacked, "entropy_weight": 0.0, "diversity": diversity0},
            "StackedGAN_entropy10": {**stacked, "entropy_weight": 10.0, "diversity": diversity10}}


def test_the_section_states_each_verdict_from_the_numbers(bench):
    text = bench.section(runs(50.0, 80.0, 0.4, 0.7), "python benchmarks/hierarchical.py")
    assert "digits FID 50.0 vs 80.0, the pyramid is better by 38 % at this budget (**reached**)" in text
    assert "diversity 0.70 with weight 10 vs 0.40 with 0" in text
    assert "more diverse by 75 % at this budget, the class agreement kept (**reached**)" in text
    text = bench.section(runs(90.0, 80.0, 0.7, 0.4), "python benchmarks/hierarchical.py")
    assert "the pyramid is worse by 12 % at this budget (**not reached**)" in text
    assert "less diverse by 43 % at this budget, the class agreement kept (**not reached**)" in text
    text = bench.section(runs(78.0, 80.0, 0.40, 0.43), "python benchmarks/hierarchical.py")  # within 10 %: no verdict
    assert "within 10 % of each other, one seed: a tie at this budget, no verdict" in text
    assert "diversities within 10 % of each other, one seed: a tie at this budget, no verdict" in text
    assert "reached**" not in text


def test_more_diversity_bought_with_the_class_agreement_is_not_reached(bench):
    lost = runs(50.0, 80.0, 0.4, 0.7)
    lost["StackedGAN_entropy10"]["agreement"] = 0.3  # 20 points below weight 0's 50 %
    text = bench.section(lost, "python benchmarks/hierarchical.py")
    assert "the class agreement is lost (more than 5 points lower) (**not reached**)" in text
