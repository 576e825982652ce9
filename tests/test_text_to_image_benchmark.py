"""benchmarks/text_to_image.py: the reason its section gives for a budget below the recipe's."""

from __future__ import annotations

import argparse

import pytest

from conftest import benchmark_script


@pytest.fixture(scope="module")
def bench():
    with benchmark_script("text_to_image") as module:
        yield module


def test_a_short_budget_names_why(bench):
    args = argparse.Namespace(seeds=[0], image_size=32, encoder=bench.DEFAULT_ENCODER)
    full = {f"{bench.run_key(name, 32, 0, 3000, bench.DEFAULT_ENCODER)}/step3000": {} for name in bench.DISPLAY}
    assert "reported in a section of their own, `--iterations 3000`" in bench.short_budget_reason(full, args, 3000)
    partly = dict(list(full.items())[:-1])  # one model short: not the same runs
    assert bench.short_budget_reason(partly, args, 3000) == "the shared 2-core CPU and the session's time allowed no more"
    old = argparse.Namespace(seeds=[0], image_size=32, encoder=bench.ENCODER_V1)
    assert bench.ENCODER_V1 != bench.DEFAULT_ENCODER
    assert "no longer the default one (the default `--encoder` is caption_encoder_v2)" in bench.short_budget_reason(
        {}, old, 3000)
