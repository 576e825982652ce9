"""benchmarks/failing_rows.py: the tiny plain-loop and Lightning paths, the verdict logic and the report text."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_failing_rows", BENCH / "failing_rows.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield module
    torch.set_num_threads(threads)


@pytest.mark.parametrize("recipe", ["GAN", "DRAGAN (authors)", "BEGAN (paper)"])
def test_plain_loop_tiny(bench, recipe):
    run = bench.train_plain(recipe, "ring8", 0, iterations=4, eval_every=2, num_eval=50)
    assert [point[0] for point in run["curve"]] == [2, 4] and len(run["trace"]) == 2
    assert 0 <= run["modes"] <= 8 and 0.0 <= run["high_quality"] <= 1.0 and len(run["samples"]) == 50
    assert run["batch_std"] == pytest.approx(0.707, abs=0.05)  # the ring's spread, not the modes' 0.01
    if recipe.startswith("BEGAN"):
        step, k, real_loss, fake_loss = run["trace"][-1]
        assert 0.0 <= k <= 1.0 and real_loss > 0 and fake_loss > 0
    if recipe.startswith("DRAGAN"):
        assert run["trace"][-1][1] > 0  # the penalty was computed


def test_plain_loop_is_seeded(bench):
    first = bench.train_plain("DRAGAN (authors)", "ring8", 1, iterations=3, eval_every=3, num_eval=20)
    again = bench.train_plain("DRAGAN (authors)", "ring8", 1, iterations=3, eval_every=3, num_eval=20)
    assert first["samples"] == again["samples"]


def test_ours_tiny(bench):
    run = bench.run_ours("BEGAN lambda_k=0.1", "ring8", 0, iterations=3)
    assert run["iterations"] == 3 and 0 <= run["modes"] <= 8 and len(run["samples"]) == 500


def fake_run(modes, hq=0.1, trace=(100, 0.0, 0.3, 0.02)):
    return {"modes": modes, "high_quality": hq, "reverse_kl": 0.1, "seconds": 1.0, "median_distance": 0.38,
            "trace": [list(trace)], "curve": [[100, modes, hq, 0.38]], "samples": [[1.0, 0.0]], "batch_std": 0.707}


def test_verdicts(bench):
    runs = {}
    assert bench.verdict(runs, "DRAGAN") == "incomplete"
    for seed in range(3):
        runs[f"plain/DRAGAN (authors)/ring8/{seed}"] = fake_run(0, 0.0)
        runs[f"plain/BEGAN (paper)/ring8/{seed}"] = fake_run(1, 0.0)
    runs["plain/DRAGAN lambda=0/ring8/0"] = fake_run(7)
    runs["plain/BEGAN lambda_k=0.1/ring8/0"] = fake_run(2)
    assert bench.verdict(runs, "DRAGAN") == "cause shown"
    assert bench.verdict(runs, "BEGAN") == "cause shown"  # fails alike, and the fakes beat the data's L
    runs["plain/BEGAN (paper)/ring8/0"] = fake_run(1, 0.0, trace=(100, 0.0, 0.02, 0.3))
    assert bench.verdict(runs, "BEGAN") == "not shown"  # one seed whose fakes are reconstructed worse
    runs["plain/DRAGAN lambda=0/ring8/0"] = fake_run(2)
    assert bench.verdict(runs, "DRAGAN") == "not shown"  # dropping the penalty does not help
    runs["plain/DRAGAN (authors)/ring8/1"] = fake_run(6)
    runs["plain/DRAGAN lambda=0/ring8/0"] = fake_run(8)
    assert bench.verdict(runs, "DRAGAN") == "not shown"  # the authors' recipe does not fail like ours


def test_report(bench, tmp_path):
    runs = {f"plain/{name}/ring8/0": fake_run(0 if "(" in name else 5) for name in bench.RECIPES}
    runs["ours/DRAGAN lambda=0/ring8/0"] = fake_run(6)
    results = {"runs": runs, "meta": {"iterations": 1500, "seeds": 1, "variant_seeds": 1, "machine": "test",
                                      "load": "1.0", "minutes": 2.0}}
    out = tmp_path / "RESULTS.md"
    out.write_text("# Benchmark results\n\n<!-- begin: other -->\nkept\n<!-- end: other -->\n")
    text = bench.write_report(results, out)
    written = out.read_text()
    assert "<!-- begin: failing_rows -->" in written and "kept" in written
    assert "### DRAGAN: verdict **cause shown**" in text and "kodalinaveen3/DRAGAN" in text
    assert "carpedm20/BEGAN-tensorflow" in text and "python benchmarks/failing_rows.py" in text
    assert "| plain loop: DRAGAN lambda=0 | 1500 | 1 | 5.0 ± 0.0 | 10.0 ± 0.0 | 5/10 | 1 |" in text
    assert "| ours (Lightning): BEGAN lambda_k=0.1 | 1500 | not run |" in text
    assert "| ours (Lightning, section `mode_collapse`): DRAGAN | 1500 | 3 | 0.0 ± 0.0 |" in text


def test_line_projection_l1(bench):
    # best line: an axis through two modes; residual |sin θ| on one coordinate, mean over the 2 coordinates
    expected = (4 * 2 ** -0.5 + 2) / 8 / 2
    assert bench.line_projection_l1("ring8") == pytest.approx(expected, abs=1e-4)


def test_report_mnist_branches(bench, tmp_path):
    runs = {f"plain/{name}/ring8/0": fake_run(0 if "(" in name else 5) for name in bench.RECIPES}
    results = {"runs": runs, "meta": {"iterations": 1500, "seeds": 1, "variant_seeds": 1}}
    text = bench.write_report(results, tmp_path / "R.md")
    assert "Not re-measured" in text
    runs["mnist/DRAGAN lambda=0/mnist5k/0"] = {"fid": 200.0, "classes": 10, "kl_to_uniform": 0.2, "seconds": 90,
                                              "iterations": 600}
    text = bench.write_report(results, tmp_path / "R.md")
    assert "FID 200.0 and 10 class(es)" in text and "holds the row back" in text
    runs["mnist/DRAGAN lambda=0/mnist5k/0"]["classes"] = 3
    assert "not the penalty" in bench.write_report(results, tmp_path / "R.md")


def test_cache_round_trip(bench, tmp_path):
    results = {"meta": {"iterations": 3}, "runs": {"plain/GAN/ring8/0": dict(fake_run(8), samples=[[0.123456, -1.0]])}}
    path = tmp_path / "results.json"
    bench.save_results(results, path)
    loaded = bench.load_results(path)
    assert loaded["meta"] == {"iterations": 3} and loaded["runs"]["plain/GAN/ring8/0"]["samples"] == [[0.1235, -1.0]]
    assert loaded["runs"]["plain/GAN/ring8/0"]["modes"] == 8


def test_mnist_variants_name_the_setting_that_restores_the_digits(bench):
    def run(classes):
        return {"fid": 100.0 + classes, "classes": classes, "kl_to_uniform": 0.1, "seconds": 1, "iterations": 600}

    runs = {"mnist/DRAGAN lambda=0/mnist5k/0": run(1)}
    assert bench.mnist_variants_text(runs) == ""  # one run: nothing to compare
    runs["mnist/DRAGAN lambda=0, D BatchNorm/mnist5k/0"] = run(10)
    runs["mnist/DRAGAN lambda=0, DCGAN's Adam/mnist5k/0"] = run(2)
    text = bench.mnist_variants_text(runs)
    assert "D BatchNorm alone restores the digits (10 classes)" in text
    assert "DCGAN's Adam alone does not restore the digits (2 classes)" in text
    assert "| DRAGAN lambda=0, D BatchNorm | gp_weight 0.0, d_norm batch | 600 | 110.0 | 10 |" in text
    assert bench.mnist_picture("DRAGAN lambda=0") == "mnist5k_dragan_lambda0.png"
    assert bench.mnist_picture("DRAGAN lambda=0, DCGAN's Adam") == "mnist5k_dragan_lambda0_dcgan_adam.png"
