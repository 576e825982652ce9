"""Smoke test of benchmarks/conditional.py: its helpers on known answers, and tiny runs through its own functions."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from conftest import benchmark_script


@pytest.fixture(scope="module")
def bench():
    with benchmark_script("conditional") as module:
        yield module


def test_recipes_and_budgets_come_from_the_experiment_files(bench):
    model, data = bench.build("ACGAN")
    assert type(model).__name__ == "ACGAN" and model.hparams.g_width == 32 and model.hparams.class_weight == 1.0
    assert data.data_shape == (1, 32, 32) and data.batch_size == 64
    assert bench.default_steps("CGAN") == bench.load_recipe("CGAN", "mnist5k")["max_steps"] == 4000
    assert bench.default_steps("BiGAN") == bench.load_recipe("BiGAN", "mnist5k")["max_steps"]
    bench.DEFAULT_STEPS_FOR["BiGAN"] = 5  # a budget of the script's own overrides the recipe's
    try:
        assert bench.default_steps("BiGAN") == 5
    finally:
        del bench.DEFAULT_STEPS_FOR["BiGAN"]
    assert bench.default_steps("BiGAN", 7) == 7
    aae, _ = bench.build("AAE")
    assert aae.latent_dim == 2  # the committed recipe already has the 2-D code of the scatter figure


def test_cluster_purity_and_knn_on_known_answers(bench):
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2])
    clusters = torch.tensor([5, 5, 1, 1, 1, 1, 7, 7])  # cluster 5: {0, 0}; 1: {0, 1, 1, 1}; 7: {2, 2}
    result = bench.cluster_purity(clusters, labels, 10)
    assert result["purity"] == pytest.approx(7 / 8)
    assert result["mapping"] == {1: 1, 5: 0, 7: 2} and result["digits_covered"] == 3 and result["clusters_used"] == 3

    memory = torch.tensor([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [5.0, 5.0], [5.1, 5.0], [5.0, 5.1]])
    memory_labels = torch.tensor([3, 3, 3, 8, 8, 8])
    queries = torch.tensor([[0.05, 0.05], [4.9, 5.2], [0.0, 0.2]])
    assert bench.knn_predictions(memory, memory_labels, queries, k=3).tolist() == [3, 8, 3]
    # leave-one-out: each memory item by its nearest other item; with itself in the memory it is its own answer
    line, line_labels = torch.tensor([[0.0], [1.0], [10.0], [11.0], [13.0]]), torch.tensor([3, 3, 8, 8, 3])
    assert bench.knn_predictions(line, line_labels, None, k=1).tolist() == [3, 3, 8, 8, 8]
    assert bench.knn_predictions(line, line_labels, line, k=1).tolist() == [3, 3, 8, 8, 3]


def test_paired_comparison_is_an_exact_mcnemar_test(bench):
    first = torch.tensor([True] * 10 + [True] * 5 + [False] * 5)
    second = torch.tensor([False] * 10 + [True] * 5 + [False] * 5)  # 10 only the first, 0 only the second
    result = bench.paired_comparison(first, second)
    assert (result["first_only"], result["second_only"]) == (10, 0)
    assert result["p_value"] == pytest.approx(2 * 0.5 ** 10)
    swapped = bench.paired_comparison(second, first)
    assert (swapped["first_only"], swapped["second_only"]) == (0, 10) and swapped["p_value"] == result["p_value"]
    # 3 against 2 discordant pairs: p = 2 * P(Bin(5, 1/2) <= 2) = 1, capped at 1
    assert bench.paired_comparison(torch.tensor([1, 1, 1, 0, 0]), torch.tensor([0, 0, 0, 1, 1]))["p_value"] == 1.0
    assert bench.paired_comparison(first, first) == {"first_only": 0, "second_only": 0, "p_value": 1.0}
    assert bench.paired_row("a vs b", result)[1] == "10 / 0, p = 0.002"


def test_grids_show_every_class(bench):
    labels = torch.tensor([0] * 6 + [1] * 6 + [2] * 6)  # sorted by class, like the held-out split
    assert bench.spread_over_classes(labels, per_class=2, num_classes=3).tolist() == [0, 1, 6, 7, 12, 13]


def test_interleave_alternates_rows(bench):
    first, second = torch.zeros(4, 1, 2, 2), torch.ones(4, 1, 2, 2)
    rows = bench.interleave(first, second, per_row=2)
    assert rows[:, 0, 0, 0].tolist() == [0, 0, 1, 1, 0, 0, 1, 1]


@pytest.mark.parametrize("name", ["CGAN", "ACGAN", "InfoGAN", "SemiSupervisedGAN"])
def test_tiny_run_labelled_and_code_models(bench, digits_cache, tmp_path, name):
    result = bench.run_model(name, steps=2, images_dir=tmp_path)
    assert result["model"] == name and result["steps"] == 2
    assert result["recipe_steps"] == bench.load_recipe(name, "mnist5k")["max_steps"]
    assert result["rows"] and all(isinstance(what, str) and isinstance(num, str) for what, num in result["rows"])
    if name in ("CGAN", "ACGAN"):
        for key in ("label_agreement_ema", "label_agreement_raw"):
            assert 0.0 <= result[key] <= 1.0
        assert Path(result["grid"]).is_file()
        assert (name == "ACGAN") == ("aux_acc_heldout" in result)
        if name == "ACGAN":
            assert 0.0 <= result["aux_acc_heldout"] <= 1.0 and result["num_heldout"] == 500
    elif name == "InfoGAN":
        assert 0.1 <= result["purity"] <= 1.0  # at least the majority class's share (50 of 500)
        assert 1 <= result["digits_covered"] <= result["clusters_used"] <= 10
        assert sorted(result["grids"]) == [0, 1] and all(Path(p).is_file() for p in result["grids"].values())
    else:
        assert result["labels_per_class"] == [10] * 10
        assert 0.0 <= result["gan_accuracy"] <= 1.0 and 0.0 <= result["baseline_accuracy"] <= 1.0


@pytest.mark.parametrize("name", ["AAE", "VAEGAN", "BiGAN", "CoGAN"])
def test_tiny_run_encoder_and_coupled_models(bench, digits_cache, tmp_path, name):
    result = bench.run_model(name, steps=2, images_dir=tmp_path)
    assert result["steps"] == 2
    pictures = [v for k, v in result.items() if k.endswith(("grid", "scatter")) and isinstance(v, str)]
    assert pictures and all(Path(p).is_file() for p in pictures)
    if name == "AAE":
        assert Path(result["scatter"]).name == "aae_latents.png"
        assert len(result["code_mean"]) == 2 and math.isfinite(result["recon_mse"]) and result["recon_mse"] > 0
    elif name == "VAEGAN":
        assert result["similarity_loss"] >= 0 and result["similarity_loss_mismatched"] >= 0
        assert math.isfinite(result["recon_mse"])
    elif name == "BiGAN":
        assert 0.0 <= result["knn_trained"] <= 1.0 and 0.0 <= result["knn_random"] <= 1.0
        assert result["knn_random"] > 0.2  # random conv features + 5-NN beat chance on digits
        assert result["knn_pixels"] > 0.8  # raw pixels + 5-NN: a strong reference on MNIST
        assert 0.2 < result["loo_random"] <= 1.0 and 0.0 <= result["loo_trained"] <= 1.0
        loo = result["loo_paired"]
        assert loo["first_only"] + loo["second_only"] <= 4500 and 0.0 <= loo["p_value"] <= 1.0
        assert set(result["knn_body"]) == set(result["loo_body"]) == {"trained", "random"}
        assert result["loo_body"]["random"] > 0.2 and 0.0 <= result["body_paired"]["p_value"] <= 1.0
    else:
        assert 0.0 <= result["agreement_same_noise"] <= 1.0 and 0.0 <= result["agreement_independent"] <= 1.0


def test_report_is_one_section_with_a_row_per_measurement(bench, tmp_path):
    results = [
        {"model": "CGAN", "steps": 10, "recipe_steps": 1500, "fit_seconds": 1.0, "seconds": 2.0,
         "label_agreement_ema": 0.95, "label_agreement_raw": 0.85, "grid": str(tmp_path / "cgan_by_class.png"),
         "rows": [("agreement", "95.0%"), ("raw", "85.0%")]},
        {"model": "CoGAN", "steps": 10, "recipe_steps": 1500, "fit_seconds": 1.0, "seconds": 2.0,
         "rows": [("pairs", "50.0%")]},
    ]
    text = bench.report_text(results, "python benchmarks/conditional.py --steps 10", 120.0, (1.0, 2.0))
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert table[0] == "| Model | Paper | Recipe | Iterations (recipe) | Measured property | Number |"
    assert len(table) == 2 + 3
    assert all(line.count("|") == 7 for line in table)
    assert table[2].startswith("| CGAN | Mirza & Osindero 2014 |") and "10 (1500)" in table[2]
    assert "CGAN: the issue asks for >= 90% agreement; measured 95.0% (EMA G) / 85.0% (raw G): reached" in text
    assert "2.0 min" in text and "--steps 10" in text

    out = tmp_path / "RESULTS.md"
    out.write_text("# Benchmark results\n\n<!-- begin: other -->\nkeep me\n<!-- end: other -->\n")
    bench.replace_section(out, bench.OUT_SECTION, text)
    written = out.read_text()
    assert "keep me" in written and "<!-- begin: conditional -->" in written and table[0] in written
