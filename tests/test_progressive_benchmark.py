"""benchmarks/progressive.py: the verdicts its section writes from the runs (ProGAN: growing against no growing at
every point; StyleGAN: against ProGAN's recipe at StyleGAN's budget), and that evaluating inside a run leaves its
training unchanged."""

from __future__ import annotations

import argparse

import lightning as L
import pytest
import torch
from conftest import benchmark_script
from tiny_progan import build_data, build_model


@pytest.fixture(scope="module")
def bench():
    with benchmark_script("progressive") as module:
        yield module


ARGS = argparse.Namespace(points=[800, 1500], seeds=[0, 1], num_eval=1000, grid_seed=99)


def runs(bench, fids: dict[str, dict[int, tuple[float, float]]], seeds=(0, 1)):
    """Cached runs with EMA FID ``fids[variant][point][seed index]``."""
    out = {}
    for variant, by_point in fids.items():
        for index, seed in enumerate(seeds):
            key = bench.run_key(variant, seed, ARGS.points)
            curve = [{"iteration": p, "train_seconds": 10.0 * p, "fid": values[index], "fid_raw": values[index] + 5,
                      "classes": 10} for p, values in sorted(by_point.items())]
            if variant == bench.STYLE:  # StyleGAN's points also have the FID with fresh noise inputs
                for point in curve:
                    point.update(fid_random_noise=point["fid"] - 20, classes_random_noise=9)
            out[key] = {"key": key, "variant": variant, "seed": seed, "points": ARGS.points, "curve": curve,
                        "g_params": 1000, "d_params": 2000}
    return out


def test_progan_verdict_counts_the_points_where_growing_is_better(bench):
    assert bench.progan_verdict({800: "better", 1500: "better"}) == "reached"
    assert bench.progan_verdict({800: "better", 1500: "not separated"}) == "reached in part"
    assert bench.progan_verdict({800: "worse", 1500: "not separated"}) == "not reached"
    assert bench.progan_verdict({800: "better", 1500: None}) is None  # a point without all seeds: no verdict


def test_the_section_writes_both_verdicts_from_the_seed_spreads(bench):
    fids = {bench.GROWING: {800: (100.0, 110.0), 1500: (80.0, 90.0)},
            bench.FLAT: {800: (200.0, 220.0), 1500: (85.0, 95.0)},  # at 1500: gap 5, spread 5: not separated
            bench.STYLE: {800: (300.0, 310.0), 1500: (50.0, 60.0)}}
    text = bench.report(runs(bench, fids), ARGS)
    assert "| 800 | ProGAN | 1,000 / 2,000 | 100.0 (10), 110.0 (10) | 105.0 ± 5.0 | 110.0 ± 5.0 | 8000 |" in text
    assert "| 1,500 | ProGAN, no growing | 1,000 / 2,000 | 85.0 (10), 95.0 (10) | 90.0 ± 5.0 |" in text
    assert ("ProGAN, growing against no growing (EMA FID, beyond the larger seed spread): at 800 iterations better; "
            "at 1,500 iterations not separated. Verdict (ProGAN): **reached in part**.") in text
    assert "| 1,500 | StyleGAN, fresh noise inputs per sample | | 30.0 (9), 40.0 (9) | 35.0 ± 5.0 | | |" in text
    assert "StyleGAN against ProGAN's recipe at StyleGAN's 1,500 iterations" in text
    assert "better. Verdict (StyleGAN): **reached**." in text
    assert "against ProGAN without growing at 1,500 iterations: better" in text
    fids[bench.STYLE][1500] = (120.0, 130.0)
    fids[bench.FLAT][1500] = (60.0, 62.0)
    text = bench.report(runs(bench, fids), ARGS)
    assert "at 1,500 iterations worse. Verdict (ProGAN): **reached in part**." in text
    assert "worse. Verdict (StyleGAN): **not reached**." in text


def test_no_verdict_while_a_seed_is_missing(bench):
    fids = {bench.GROWING: {800: (100.0,), 1500: (80.0,)}, bench.FLAT: {800: (200.0,), 1500: (85.0,)},
            bench.STYLE: {800: (300.0,), 1500: (50.0,)}}
    text = bench.report(runs(bench, fids, seeds=(0,)), ARGS)
    assert "| 800 | ProGAN | 1,000 / 2,000 | 100.0 (10) | 100.0 ± 0.0 |" in text
    assert "Verdict" not in text


def test_evaluating_inside_a_run_leaves_its_training_unchanged(bench):
    from harness import fit_exactly

    from gan_lightning.callbacks import EMACallback

    def train(points):
        L.seed_everything(0, verbose=False)
        model = build_model()

        def evaluate(module):  # draws from the global random state, as sampling noise would
            return {"fid": float(torch.rand(())), "fid_raw": 0.0, "classes": int(torch.randint(10, ()))}

        evaluator = bench.EvaluateAt(points, evaluate)
        fit_exactly(model, build_data(), 5, callbacks=[EMACallback(), evaluator])
        return model.state_dict(), evaluator.curve

    plain, _ = train([])
    evaluated, curve = train([2, 4])
    assert [point["iteration"] for point in curve] == [2, 4]
    assert [key for key in plain if not torch.equal(plain[key], evaluated[key])] == []


def test_the_r1_variant_is_compared_with_the_recipe_and_with_progan(bench):
    assert bench.VARIANTS[bench.STYLE_R1] == ("StyleGAN", (("r1_gamma", "0.01"),))
    fids = {bench.GROWING: {800: (100.0, 110.0), 1500: (80.0, 90.0)},
            bench.FLAT: {800: (200.0, 220.0), 1500: (85.0, 95.0)},
            bench.STYLE: {800: (300.0, 310.0), 1500: (150.0, 160.0)}}
    assert "A variant" not in bench.report(runs(bench, fids), ARGS)  # not run: no sentence
    fids[bench.STYLE_R1] = {800: (120.0, 125.0), 1500: (60.0, 64.0)}
    text = bench.report(runs(bench, fids), ARGS)
    assert "| 1,500 | StyleGAN, R1 gamma 0.01 | 1,000 / 2,000 | 60.0 (10), 64.0 (10) | 62.0 ± 2.0 |" in text
    assert "at 1,500 iterations against the recipe: better; against ProGAN's recipe: better." in text
    assert "Verdict (StyleGAN): **not reached**." in text  # the verdict stays the recipe's


def test_diagnosis_runs_sit_beside_the_recipes_run_of_the_same_seed_outside_the_verdicts(bench):
    no_mixing = "StyleGAN, no style mixing"
    assert bench.DIAGNOSTICS[no_mixing] == ("StyleGAN", (("style_mixing_prob", "0.0"),))
    fids = {bench.GROWING: {800: (100.0, 110.0), 1500: (80.0, 90.0)},
            bench.FLAT: {800: (200.0, 220.0), 1500: (85.0, 95.0)},
            bench.STYLE: {800: (300.0, 310.0), 1500: (150.0, 160.0)}}
    plain = bench.report(runs(bench, fids), ARGS)
    assert "Diagnosis" not in plain  # no diagnosis run: no table
    cached = runs(bench, fids)
    cached.update(runs(bench, {no_mixing: {800: (90.0,), 1500: (70.0,)}}, seeds=(1,)))  # seed 1 only
    text = bench.report(cached, ARGS)
    assert "| 1,500 | StyleGAN, no style mixing (style_mixing_prob 0.0) | 1,000 / 2,000 | 1: 70.0 (10) | 75.0 | " \
           "160.0 (10) | 15000 |" in text  # beside the recipe's seed 1, not seed 0
    assert "| 800 | StyleGAN, no style mixing (style_mixing_prob 0.0) |" in text
    assert text.split("Diagnosis")[0] == plain.split("Machine load")[0].rstrip("\n") + "\n\n"  # verdicts unchanged
    jobs = bench.planned_jobs(argparse.Namespace(**vars(ARGS), diagnose=[1]))
    assert sorted(job["variant"] for job in jobs if job["seed"] == 1) == sorted([*bench.VARIANTS, *bench.DIAGNOSTICS])
    assert sorted(job["variant"] for job in jobs if job["seed"] == 0) == sorted(bench.VARIANTS)  # none on seed 0
    wider = "StyleGAN, twice the width"
    jobs = bench.planned_jobs(argparse.Namespace(**vars(ARGS), diagnose=[1], diagnostic=[wider]))  # one of them
    assert sorted(job["variant"] for job in jobs if job["seed"] == 1) == sorted([*bench.VARIANTS, wider])
