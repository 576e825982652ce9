"""benchmarks/sngan_settings.py: the per-setting comparison and the verdict it writes (no training here)."""

from __future__ import annotations

import pytest

from conftest import benchmark_script


@pytest.fixture(scope="module")
def bench():
    with benchmark_script("sngan_settings") as module:
        yield module


def test_compare_needs_a_gap_beyond_the_seed_spread(bench):
    assert bench.beyond_spread([50.0, 52.0], [80.0, 90.0]) == "better"
    assert bench.beyond_spread([80.0, 90.0], [50.0, 52.0]) == "worse"
    assert bench.beyond_spread([50.0, 70.0], [55.0, 65.0]) == "not separated"  # gap 0, spread 10


def test_verdict_reached_only_when_better_in_an_aggressive_setting_and_worse_in_none(bench):
    assert "**reached**" in bench.verdict({"C": "not separated", "D": "better", "F": "not separated"})
    assert "**not reached**" in bench.verdict({"C": "worse", "D": "better", "F": "better"})
    assert "**not reached**" in bench.verdict({"C": "better", "D": "not separated", "F": "not separated"})
    assert bench.verdict({"C": "better"}) == "Verdict: every setting is needed."


def test_settings_are_table_1s_and_reach_the_model(bench):
    assert bench.SETTINGS["C"] == (2e-4, 0.5, 0.999, 1)  # the recipe's
    options = dict(bench.overrides("F", "none"))
    assert options == {"lr_g": 1e-3, "lr_d": 1e-3, "betas": (0.9, 0.999), "critic_steps": 5, "spectral_norm": False}
