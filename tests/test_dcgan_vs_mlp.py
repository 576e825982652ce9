"""benchmarks/dcgan_vs_mlp.py: the verdict its section writes from the runs, and harness.beyond_spread (no training)."""

from __future__ import annotations

import argparse

import pytest

from conftest import benchmark_script


@pytest.fixture(scope="module")
def bench():
    with benchmark_script("dcgan_vs_mlp") as module:
        yield module


def runs(dcgan, gan):
    return {f"{m}/seed{s}/it5000": {"model": m, "seed": s, "iterations": 5000, "fid": f, "classes": 10,
                                    "fit_seconds": 1.0}
            for m, fids in (("DCGAN", dcgan), ("GAN", gan)) for s, f in enumerate(fids)}


def test_the_verdict_needs_a_gap_beyond_the_seed_spread(bench):
    args = argparse.Namespace(iterations=5000, seeds=[0, 1], num_eval=1000)
    text = bench.report(runs((40.0, 50.0), (300.0, 320.0)), args)
    assert "| DCGAN | 40.0 (10), 50.0 (10) | 45.0 ± 5.0 | 1 |" in text
    assert "Verdict: **reached**: DCGAN's mean digits FID against the MLP GAN's: better" in text
    text = bench.report(runs((40.0, 300.0), (150.0, 160.0)), args)  # gap 15, spread 130
    assert "Verdict: **not reached**" in text and "not separated" in text
    assert "Verdict" not in bench.report(runs((40.0,), (300.0, 320.0)), args)  # a seed missing: no verdict
    assert bench.beyond_spread([300.0, 320.0], [40.0, 50.0]) == "worse"


def test_the_shared_seeded_arguments_default_to_the_recipe_and_refuse_bad_seeds(bench):
    from harness import parse_seeded_args, seeded_runs_parser

    args = parse_seeded_args(seeded_runs_parser("x", "iterations"), ["--seeds", "2,5"], recipe=("DCGAN", "mnist5k"))
    assert args.seeds == [2, 5] and args.iterations == bench.load_recipe("DCGAN", "mnist5k")["max_steps"]
    assert parse_seeded_args(seeded_runs_parser("x", "i"), ["--iterations", "7"], recipe=("DCGAN", "mnist5k")).iterations == 7
    for bad in (["--seeds", "a,b"], ["--iterations", "0"], []):  # [] : no iterations and no recipe
        with pytest.raises(SystemExit):
            parse_seeded_args(seeded_runs_parser("x", "i"), bad)
