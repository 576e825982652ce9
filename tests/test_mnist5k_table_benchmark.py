"""Smoke test of benchmarks/mnist5k_table.py: recipes, a tiny run and the report, through its own functions."""

from __future__ import annotations

import argparse

import pytest

from conftest import benchmark_script


@pytest.fixture(scope="module")
def bench():
    with benchmark_script("mnist5k_table") as module:
        yield module


def test_recipes_come_from_the_experiment_files(bench):
    assert bench.data_options("GAN") == {"image_size": 28, "channels": 1, "batch_size": 64}
    assert bench.data_options("WGANGP")["image_size"] == 32
    model, data = bench.build(bench.RunSpec(model="WGAN", iterations=1))
    assert model.critic_steps == 5 and model.hparams.lr_d == pytest.approx(5e-5)
    assert model.data_shape == tuple(data.data_shape) == (1, 32, 32)
    args = bench.parse_args([])
    assert args.models == list(bench.MODELS) and len(bench.MODELS) == 14
    assert set(args.iterations_for) <= set(bench.MODELS)


def test_tiny_run_gives_a_table_grids_and_a_report_section(bench, digits_cache, tmp_path):
    weights = str(digits_cache / "digits_classifier.pt")
    results = [bench.run_one(bench.RunSpec(model=model, iterations=iters, num_eval=64, digits_weights=weights))
               for model, iters in (("WGAN", 5), ("GAN", 3))]
    for result in results:
        values = result["results"]
        assert values["fid"] > 0 and 1 <= values["classes_covered"] <= 10
        assert values["num_samples"] == 64 and values["feature_extractor"] == "digits" and values["ema"] is False
        assert result["grid"].shape[0] == bench.GRID_SAMPLES
    assert results[0]["g_steps"] == 1  # WGAN: one G step per 5 critic steps
    reference = bench.real_reference(64, digits_weights=weights)
    assert reference["num_samples"] == 64 and reference["classes_covered"] >= 8
    assert reference["fid"] < min(r["results"]["fid"] for r in results)  # real digits beat 3-5 iterations of training

    table = bench.markdown_table(results, reference).splitlines()
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    assert header == list(bench.TABLE_COLUMNS) and len(table) == 2 + 2 + 1
    first = [cell.strip() for cell in table[2].strip("|").split("|")]
    assert first[0] == "GAN" and first[1] == "3 (3)" and first[2] == "28"  # MODELS order
    assert "reference" in table[-1]

    grids = bench.save_grids(results, tmp_path / "grids")
    assert all(path.stat().st_size > 0 for path in grids.values())
    out = tmp_path / "RESULTS.md"
    out.write_text("# Benchmark results\n\n<!-- begin: other -->\nkept\n<!-- end: other -->\n")
    args = argparse.Namespace(iterations=3, section="mnist5k")
    bench.write_report(results, reference, args, "python benchmarks/mnist5k_table.py --iterations 3", 5.0,
                       (1.0, 1.0, 1.0), out, grids)
    text = out.read_text()
    assert "<!-- begin: other -->\nkept\n<!-- end: other -->" in text
    assert "<!-- begin: mnist5k -->" in text and "**WGAN: 5**" in text  # the budget that differs is named
    assert "**short-budget results** (" in text and "How the budget was chosen" in text
    bench.write_report(results, reference, argparse.Namespace(iterations=3, section="other"), "python x", 5.0,
                       (1.0, 1.0, 1.0), out, grids)
    other = out.read_text().split("<!-- begin: other -->")[1].split("<!-- end: other -->")[0]
    assert "<!-- begin: mnist5k -->" in out.read_text() and "How the budget was chosen" not in other
