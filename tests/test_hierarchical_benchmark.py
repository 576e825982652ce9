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


def point(iteration: int, diversity: float, agreement: float = 0.5, q_error: float = 0.0833, read: int = 0) -> dict:
    return {"iteration": iteration, "agreement": agreement, "worst_digit_agreement": 0.1, "diversity": diversity,
            "least_diverse_digit": 0.2, "fid": 100.0, "classes": 10, "encoder_heldout_acc": 0.9,
            "q1_error": q_error, "q0_error": q_error, "q1_dims_read": read, "q0_dims_read": 0}


def runs(lap_fid: float, dc_fid: float, diversity0: float, diversity10: float, reached: int = 5000,
         lap_swd=(5.0, 6.0, 7.0), dc_swd=(5.0, 6.0, 7.0)) -> dict:
    pyramid = {"steps": 500, "g_params": 1000, "d_params": 10, "classes": 10, "fit_seconds": 1.0}
    stacked = {"model": "StackedGAN", "steps": 5000, "encoder_steps": 500, "joint_after": 3000, "every": 500,
               "fit_seconds": 1.0}
    run0 = [point(i, 0.1) for i in range(500, reached, 500)] + [point(reached, diversity0)]
    run10 = [point(i, 0.1) for i in range(500, reached, 500)] + [point(reached, diversity10, q_error=0.05, read=7)]
    return {"LAPGAN": {**pyramid, "model": "LAPGAN", "fid": lap_fid, "swd": list(lap_swd)},
            "DCGAN": {**pyramid, "model": "DCGAN", "fid": dc_fid, "swd": list(dc_swd)},
            "real": {"model": "real", "steps": 0, "swd": [1.0, 1.0, 1.0]},
            "StackedGAN_entropy0": {**stacked, "entropy_weight": 0.0, **run0[-1], "trajectory": run0},
            "StackedGAN_entropy10": {**stacked, "entropy_weight": 10.0, **run10[-1],
                                     "trajectory": run10 + ([point(reached + 500, 0.9)] if reached < 5000 else [])}}


def test_the_section_states_each_verdict_from_the_numbers(bench):
    text = bench.section(runs(50.0, 80.0, 0.4, 0.7, lap_swd=(4.0, 5.0, 6.0)), "python benchmarks/hierarchical.py")
    assert "digits FID 50.0 vs 80.0: LAPGAN better by 38 %." in text
    assert "SWD of the 28 px band 4.0 vs 5.0: LAPGAN better by 20 %." in text
    assert "SWD of the 7 px low-pass 6.0 vs 7.0: LAPGAN better by 14 %." in text
    assert "LAPGAN better on every measure (**reached** at this budget, one seed)" in text
    assert "| real | - | - | - | - | - | 1.0 | 1.0 | 1.0 | - |" in text
    assert "diversity 0.70 with weight 10 vs 0.40 with 0" in text
    assert "more diverse by 75 % at this budget, the class agreement kept (**reached**)" in text
    assert "5,000 iterations, the recipe's budget" in text and "below the recipe" not in text
    assert "Wall seconds of training and measuring: " in text  # finished: no "so far"
    assert "entries of z read: 7 of z1's, 0 of z0's" in text and "the Q heads read z back" in text
    text = bench.section(runs(90.0, 80.0, 0.7, 0.4), "python benchmarks/hierarchical.py")
    assert "digits FID 90.0 vs 80.0: LAPGAN worse by 12 %." in text
    assert "LAPGAN worse on at least one measure (**not reached** at this budget, one seed)" in text
    assert "less diverse by 43 % at this budget, the class agreement kept (**not reached**)" in text
    text = bench.section(runs(50.0, 80.0, 0.4, 0.7, lap_swd=(9.0, 5.0, 9.0)), "python benchmarks/hierarchical.py")
    assert ("**reached on digits FID and SWD of the 14 px band only**: LAPGAN worse on SWD of the 28 px band, "
            "SWD of the 7 px low-pass (at this budget, one seed)") in text
    text = bench.section(runs(78.0, 80.0, 0.40, 0.43), "python benchmarks/hierarchical.py")  # within 10 %: no verdict
    assert "digits FID 78.0 vs 80.0: LAPGAN within 10 %: a tie." in text
    assert "diversities within 10 % of each other, one seed: a tie at this budget, no verdict" in text
    assert "reached**" not in text


def test_the_section_says_plainly_when_stackedgan_stopped_below_the_recipe(bench):
    text = bench.section(runs(50.0, 80.0, 0.4, 0.7, reached=2500), "python benchmarks/hierarchical.py")
    assert "**2,500 iterations, below the recipe's 5,000**" in text
    assert "Wall seconds of training and measuring so far: " in text
    assert "| 3000 |" not in text  # only the iterations both runs reached
    assert "| 2500 | independent | 0.40 | 0.70 | 50.0 % | 50.0 % | 0.0500 | 0.0500 | 7 / 0 |" in text
    assert "| 500 | encoder only |" in text


def test_the_section_says_when_q_reads_nothing_of_z_whatever_the_verdict(bench):
    blind = runs(50.0, 80.0, 0.4, 0.7)
    blind["StackedGAN_entropy10"]["trajectory"][-1].update(q1_error=0.0833, q0_error=0.0826, q1_dims_read=0)
    text = bench.section(blind, "python benchmarks/hierarchical.py")
    assert "more diverse by 75 % at this budget, the class agreement kept (**reached**)" in text
    assert "Q1 0.0833, Q0 0.0826 (1/12 = 0.0833); entries of z read: 0 of z1's, 0 of z0's" in text
    assert "the Q heads do not read z back from G's output" in text and "not the paper's mechanism" in text


def test_more_diversity_bought_with_the_class_agreement_is_not_reached(bench):
    lost = runs(50.0, 80.0, 0.4, 0.7)
    lost["StackedGAN_entropy10"]["trajectory"][-1]["agreement"] = 0.3  # 20 points below weight 0's 50 %
    text = bench.section(lost, "python benchmarks/hierarchical.py")
    assert "the class agreement is lost (more than 5 points lower) (**not reached**)" in text


def test_band_swd_is_zero_for_the_same_images_and_finds_noise_in_the_finest_band(bench):
    from tiny_hierarchical import _digits

    images = _digits()[0][:48]
    assert [d.shape for d in bench.band_descriptors(images)] == [(48 * 16, 49), (48 * 16, 49), (48, 49)]
    same = bench.band_swd(images, images)
    assert same == pytest.approx([0.0, 0.0, 0.0], abs=1e-9)
    assert bench.band_swd(images, images + 0.5) == pytest.approx([0.0, 0.0, 0.0], abs=1e-3)  # normalised per set
    noisy = images + 0.3 * torch.randn(images.shape, generator=torch.Generator().manual_seed(0))
    swd = bench.band_swd(images, noisy)
    assert min(swd) > 10.0 and swd[0] > max(swd[1:]), swd  # white noise: most of it in the finest band


def test_q_readings_count_the_entries_of_z_a_q_head_reads(bench):
    from tiny_hierarchical import TINY

    model = TINY["StackedGAN"][0]()
    untrained = bench.q_readings(model)
    assert untrained["q1_dims_read"] == untrained["q0_dims_read"] == 0
    assert 0.06 < untrained["q1_error"] < 0.11 and 0.06 < untrained["q0_error"] < 0.11  # about 1/12: a guess

    class Copy(torch.nn.Module):  # G1 writes z1 into its features, and Q1 reads the first two entries back
        def forward(self, z, labels):
            return torch.cat([z, z.new_zeros(z.size(0), 16 - z.size(1))], dim=1)

    model.generator["level1"] = Copy()
    model.feature_discriminator = lambda features: (features[:, 0], torch.cat(
        [features[:, :2], features.new_full((features.size(0), model.z1_dim - 2), 0.5)], dim=1))
    read = bench.q_readings(model)
    assert read["q1_dims_read"] == 2 and read["q1_error"] == pytest.approx((model.z1_dim - 2) / model.z1_dim / 12,
                                                                            rel=0.1)


def test_a_stackedgan_run_resumes_from_its_last_kept_checkpoint_not_past_its_steps(tmp_path):
    from harness import resume_checkpoint

    assert resume_checkpoint(tmp_path / "missing", 5000) is None
    for step in (500, 1500, 1000):
        (tmp_path / f"step={step}.ckpt").write_bytes(b"")
    (tmp_path / "last.ckpt").write_bytes(b"")  # not a kept step=N.ckpt
    assert resume_checkpoint(tmp_path, 5000) == tmp_path / "step=1500.ckpt"
    assert resume_checkpoint(tmp_path, 1500) == tmp_path / "step=1500.ckpt"
    assert resume_checkpoint(tmp_path, 1000) is None  # a longer run's last checkpoint is not resumed
