"""benchmarks/fgan.py and benchmarks/mrgan.py: the tiny run path, the mass-per-mode arithmetic, the
verdict logic and the report text (no long training)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fgan():
    return load("fgan")


@pytest.fixture(scope="module")
def mrgan():
    return load("mrgan")


def test_gaussian_mass_per_mode(fgan):
    wide = fgan.gaussian_mass_per_mode(0.0, 2.06)
    assert wide[0] == pytest.approx(wide[1]) and 0.3 < wide[0] < 0.4
    narrow = fgan.gaussian_mass_per_mode(-2.0, 0.5)
    assert narrow[0] == pytest.approx(0.9973, abs=1e-4) and narrow[1] < 1e-6


def test_fgan_tiny_run_and_report(fgan, tmp_path, monkeypatch):
    run = fgan.run_1d("kl", 0, 3)
    assert run["iterations"] == 3 and len(run["mass"]) == 2 and run["std"] > 0
    results = {
        "1d/kl/0": {"mean": 0.0, "std": 2.0, "mass": [0.36, 0.36], "seconds": 1, "iterations": 600},
        "1d/reverse_kl/0": {"mean": -2.0, "std": 0.6, "mass": [0.99, 0.0], "seconds": 1, "iterations": 600},
        "ring8/kl/0": {"modes": 8, "high_quality": 0.4, "reverse_kl": 0.1, "seconds": 1, "iterations": 1500,
                       "samples": [[1.0, 0.0]]},
    }
    lines = fgan.verdicts(results)
    assert len(lines) == 2 and all("**reached**" in line for line in lines)
    results["1d/reverse_kl/1"] = {"mean": 0.0, "std": 2.0, "mass": [0.36, 0.36], "seconds": 1, "iterations": 600}
    assert "**not reached**" in fgan.verdicts(results)[1]
    exact = {"kl": {"mean": 0.0, "std": 2.06, "mass": [0.36, 0.36]}}
    out = tmp_path / "RESULTS.md"
    text = fgan.write_report(results, exact, "python benchmarks/fgan.py", 60.0, out)
    assert "<!-- begin: fgan -->" in out.read_text()
    assert "| kl | 0.00, 2.00 | 0.36/0.36 | 0.00, 2.06 | 0.36/0.36 |" in text
    assert "| reverse_kl |" in text and "| kl | 1500 | 1 | 8 | 40.0 | 0.10 | 1 |" in text
    assert "python benchmarks/fgan.py" in text and "1.0 min" in text


def test_mrgan_verdicts_and_report(mrgan, tmp_path):
    results = {"ring8/MRGAN/0": {"modes": 8, "high_quality": 0.2, "reverse_kl": 0.1, "seconds": 5,
                                 "iterations": 1500, "samples": [[1.0, 0.0]]},
               "grid25/MRGAN/0": {"modes": 10, "high_quality": 0.1, "reverse_kl": 0.1, "seconds": 5,
                                  "iterations": 1500, "samples": [[0.0, 0.0]]},
               "stacked/MRGAN/0": {"modes": 950, "kl": 0.3, "seconds": 5, "iterations": 1500}}
    ring = mrgan.verdict(results, "ring8", "GAN")
    assert "**reached**" in ring and "seed 0: 0 vs 2" in ring  # committed GAN seed 0: 6 of 8 modes
    assert "**not reached**" in mrgan.verdict(results, "grid25", "GAN")  # 10 < GAN's 11
    assert "seed 0: 50 vs 107" in mrgan.verdict(results, "stacked", "DCGAN")
    # a baseline rerun here replaces the committed row
    results["ring8/GAN/0"] = {"modes": 8, "high_quality": 0.5, "reverse_kl": 0.0, "seconds": 3, "iterations": 1500}
    assert "**not reached**" in mrgan.verdict(results, "ring8", "GAN")
    out = tmp_path / "RESULTS.md"
    text = mrgan.write_report(results, "python benchmarks/mrgan.py", 120.0, out)
    assert "<!-- begin: mrgan -->" in out.read_text()
    assert "| MRGAN (regularized) | 0 | 1500 | 8 | 0 | 20.0 | this run | 5 |" in text
    assert "| GAN | 0 | 1500 | 8 | 0 | 50.0 | rerun here | 3 |" in text
    assert "| DCGAN | 0 | 1500 | 893 | 107 | 0.92 | committed row | - |" in text
    assert "**Below the recipes' budgets**" in text and "`stacked_mnist_budget`" in text  # where the full runs are


def test_mrgan_is_an_option_of_the_existing_benchmarks_not_a_default():
    mode_collapse, stacked = load("mode_collapse"), load("stacked_mnist")
    assert "MRGAN" in mode_collapse.MODELS and "MRGAN" not in mode_collapse.DEFAULT_MODELS
    assert mode_collapse.parse_args(["--models", "MRGAN", "--data", "ring8"]).models == ["MRGAN"]
    assert "MRGAN" not in mode_collapse.parse_args([]).models
    assert stacked.parse_args(["--models", "MRGAN"]).models == ["MRGAN"]
    assert stacked.parse_args([]).models == ["DCGAN", "PacGAN"]
    kwargs = stacked.model_kwargs(stacked.RunSpec(model="MRGAN", seed=0, iterations=1))
    assert kwargs["data_shape"] == (3, 28, 28) and kwargs["scheme"] == "regularized"
