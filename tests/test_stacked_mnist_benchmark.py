"""Smoke test of benchmarks/stacked_mnist.py: a tiny run through its own functions."""

from __future__ import annotations

import argparse
import math

import pytest

from gan_lightning.evaluation import load_digits_classifier, train_digits_classifier
from conftest import benchmark_script


@pytest.fixture(scope="module")
def bench():
    with benchmark_script("stacked_mnist") as module:
        yield module


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """A digits classifier trained for 1 epoch (the smoke run needs a fixed classifier, not a good one)."""
    path = tmp_path_factory.mktemp("digits") / "digits_classifier.pt"
    train_digits_classifier(path, epochs=1, seed=0)
    return load_digits_classifier(path)


def test_dcgan_and_pacgan_get_the_same_networks_but_the_packed_input(bench):
    dcgan = bench.build_model(bench.RunSpec(model="DCGAN", seed=0, iterations=1))
    pacgan = bench.build_model(bench.RunSpec(model="PacGAN", seed=0, iterations=1))
    assert pacgan.pack == 2 and pacgan.hparams.base == "dcgan"
    g_shapes = [p.shape for p in dcgan.generator.parameters()]
    assert g_shapes == [p.shape for p in pacgan.generator.parameters()]
    d_shapes = [tuple(p.shape) for p in dcgan.discriminator.parameters()]
    packed = [tuple(p.shape) for p in pacgan.discriminator.parameters()]
    assert d_shapes[0][1] == 3 and packed[0][1] == 6  # first conv: 3 channels vs a pack of 2 x 3
    assert d_shapes[1:] == packed[1:] and d_shapes[0][0] == packed[0][0]


def test_tiny_run_gives_a_table_a_report_section_and_grids(bench, classifier, tmp_path):
    common = dict(seed=0, iterations=3, num_samples=256, num_eval=200)
    results = [bench.run_one(bench.RunSpec(model=model, **common), classifier) for model in ("PacGAN", "DCGAN")]
    for result in results:
        metrics = result["metrics"]
        assert 1 <= metrics["modes"] <= 200
        assert 0.0 <= metrics["kl_to_uniform"] <= math.log(1000) + 1e-9
        assert result["grid"].shape == (64, 3, 28, 28)

    reference = bench.real_reference(300, classifier)
    assert reference["modes"] >= 200  # 300 uniform draws over 1,000 modes hit about 259 of them

    rows = bench.summarise(results)
    assert [row["model"] for row in rows] == ["DCGAN", "PacGAN"]  # MODELS order, not run order
    table = bench.markdown_table(rows, reference).splitlines()
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    assert header == list(bench.TABLE_COLUMNS) and len(table) == 5
    assert "reference" in table[-1] and f"| {reference['modes']} |" in table[-1]
    dcgan_modes = next(r for r in results if r["spec"].model == "DCGAN")["metrics"]["modes"]
    cells = [cell.strip() for cell in table[2].strip("|").split("|")]
    assert cells[0] == "DCGAN" and cells[1] == "3" and cells[3] == f"{dcgan_modes:.1f} ± 0.0"

    grids = bench.save_grids(results, tmp_path / "grids")
    assert sorted(grids) == ["DCGAN", "PacGAN"] and all(p.stat().st_size > 0 for p in grids.values())

    out = tmp_path / "RESULTS.md"
    out.write_text("# Benchmark results\n\n<!-- begin: other -->\nkept\n<!-- end: other -->\n")
    args = argparse.Namespace()
    bench.write_report(results, args, "python benchmarks/stacked_mnist.py --iterations 3", 12.0, (1.0, 1.0, 1.0),
                       out, grids, reference)
    text = out.read_text()
    assert "<!-- begin: other -->\nkept\n<!-- end: other -->" in text  # another script's section survives
    assert "<!-- begin: stacked_mnist -->" in text and "python benchmarks/stacked_mnist.py --iterations 3" in text
    assert "PUBLISHED" in text and "not checked against the paper" in text
    assert "| DCGAN | 78.9 |" in text and "| PacDCGAN2 | 1000 |" in text


def test_arguments(bench):
    args = bench.parse_args([])
    assert args.models == ["DCGAN", "PacGAN"] and args.num_eval == 26_000 and args.seeds >= 2
    with pytest.raises(SystemExit):
        bench.parse_args(["--models", "WGAN"])
    assert bench.parse_args(["--seeds", "2", "--only-seeds", "1"]).only_seeds == (1,)
    with pytest.raises(SystemExit):
        bench.parse_args(["--seeds", "2", "--only-seeds", "2"])  # not one of 0..1


def fake_result(bench, model, seed, modes, kl=1.0, iterations=5000):
    return {"spec": bench.RunSpec(model=model, seed=seed, iterations=iterations),
            "metrics": {"modes": modes, "kl_to_uniform": kl}, "fit_seconds": 1.0}


def test_other_models_get_their_title_budget_and_a_verdict_against_the_first(bench):
    assert bench.title(["DCGAN", "PacGAN"]) == "## Stacked MNIST (1,000 modes): DCGAN vs PacGAN2"
    assert bench.title(["DCGAN", "MRGAN"]) == "## Stacked MNIST (1,000 modes): DCGAN vs MRGAN"
    at = bench.budget_line(["DCGAN", "MRGAN"], 5000, 64, {0, 1})
    assert "each model at its recipe's budget" in at and "MRGAN 5,000" in at and "short-budget" not in at
    assert "**short-budget results** (DCGAN, MRGAN)" in bench.budget_line(["DCGAN", "MRGAN"], 1500, 64, {0, 1})
    assert "short-budget" not in bench.budget_line(["DCGAN", "PacGAN"], 1500, 64, {0, 1})  # the original wording
    assert "lambda_1 (geometric) 0.2" in bench.networks_line(["DCGAN", "MRGAN"])

    worse = [fake_result(bench, "DCGAN", s, m) for s, m in ((0, 900), (1, 904))]
    worse += [fake_result(bench, "MRGAN", s, m) for s, m in ((0, 850), (1, 846))]
    lines = bench.verdict_lines(worse)
    assert lines[0].startswith("- MRGAN vs DCGAN at 5,000 iterations: modes 848.0 vs 902.0")
    assert "**worse**" in lines[0] and lines[-1].startswith("Rule: ")
    tie = [fake_result(bench, "DCGAN", s, m) for s, m in ((0, 900), (1, 850))]
    tie += [fake_result(bench, "MRGAN", s, m) for s, m in ((0, 880), (1, 890))]
    assert "**not reached**" in bench.verdict_lines(tie)[0]
    one = [fake_result(bench, "DCGAN", 0, 900), fake_result(bench, "MRGAN", 0, 950)]
    assert bench.verdict_lines(one) == ["- MRGAN vs DCGAN at 5,000 iterations: modes 950.0 vs 900.0 (per seed 950 vs "
                                        "900), KL to uniform 1.00 vs 1.00: one seed a side, no verdict."]


def test_cached_runs_are_not_trained_again(bench, tmp_path, monkeypatch):
    spec = bench.RunSpec(model="DCGAN", seed=3, iterations=7)
    trained = []
    monkeypatch.setattr(bench, "run_one", lambda s, c: trained.append(s) or {"spec": s, "metrics": {"modes": 5}})
    cache = tmp_path / "runs.pkl"
    first = bench.cached_run(spec, None, cache)
    again = bench.cached_run(spec, None, cache)
    assert trained == [spec] and again["spec"] == spec and again["metrics"] == first["metrics"]
    bench.cached_run(bench.RunSpec(model="DCGAN", seed=4, iterations=7), None, cache)
    assert len(trained) == 2  # another spec is another run


def test_a_report_from_the_cache_says_so_instead_of_a_wall_time(bench):
    fresh = [fake_result(bench, "DCGAN", 0, 900)]
    lines = bench.machine_lines(fresh, 120.0, (1.0, 1.0, 1.0), (2.0, 2.0, 2.0))
    assert lines[0].endswith("1 thread, runs one after the other.") and "**2.0 min**" in lines[1]
    cached = [{**fake_result(bench, "DCGAN", 0, 900), "cached": True}, fake_result(bench, "MRGAN", 0, 800)]
    lines = bench.machine_lines(cached, 12.0, (1.0, 1.0, 1.0), (2.0, 2.0, 2.0))
    assert lines[0].endswith("1 thread per run.") and lines[1].startswith("- Runs read from `--cache`: 1 of 2")
