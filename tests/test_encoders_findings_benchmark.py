"""Smoke test of benchmarks/encoders_findings.py: tiny probed runs through its own functions, the
cache -> report path, and the verdict logic on known answers."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import benchmark_script

TINY_OVERRIDES = {"InfoGAN": dict(g_width=8, d_width=8, q_hidden=16), "BiGAN": dict(g_width=8, d_width=8, e_width=8, joint_hidden=16)}


@pytest.fixture(scope="module")
def bench():
    with benchmark_script("encoders_findings") as module:
        yield module


@pytest.fixture(scope="module")
def tiny_runs(bench):
    """Two probed runs of 2 iterations (narrow networks), probed at 0, 1 and 2."""
    runs = {}
    for name, model in (("infogan_authors_s1", "InfoGAN"), ("bigan_recipe_s0", "BiGAN")):
        spec = bench.RUNS[name]
        bench.RUNS[f"tiny_{name}"] = {**spec, "overrides": {**spec["overrides"], **TINY_OVERRIDES[model]}}
        try:
            runs[name] = {**bench.run_one(f"tiny_{name}", 2, 1), "name": name}
        finally:
            del bench.RUNS[f"tiny_{name}"]
    return runs


def test_probed_runs_measure_at_every_probe_point(tiny_runs):
    info, bigan = tiny_runs["infogan_authors_s1"], tiny_runs["bigan_recipe_s0"]
    assert list(info["curve"]) == list(bigan["curve"]) == ["0", "1", "2"]
    point = info["curve"]["2"]
    assert 0.1 <= point["heldout"]["purity"] <= 1 and 1 <= point["heldout"]["digits_covered"] <= 10
    assert len(point["heldout"]["unclaimed"]) == 10 - point["heldout"]["digits_covered"]
    assert info["overrides"]["noise_distribution"] == "uniform" and info["seed"] == 1
    for point in bigan["curve"].values():
        assert len(point["knn5_bits"]) == len(point["nn1_bits"]) == 500
        assert point["knn5"] == pytest.approx(point["knn5_bits"].count("1") / 500)
        assert 0.1 < point["nn1_hidden"] <= 1


def test_cache_rebuilds_both_sections(bench, tiny_runs, tmp_path):
    cache = {name: run for name, run in tiny_runs.items()}
    cache["_commands"] = {name: f"python benchmarks/encoders_findings.py --runs {name}" for name in tiny_runs}
    path = tmp_path / "results.json"
    path.write_text(json.dumps(cache))
    out = tmp_path / "RESULTS.md"
    bench.main(["--report-only", "--cache", str(path), "--out", str(out)])
    text = out.read_text()
    assert "<!-- begin: findings_infogan -->" in text and "<!-- begin: findings_bigan -->" in text
    assert "**Verdict: not reached**" in text  # two iterations reach neither claim
    assert "--runs infogan_authors_s1" in text and "| 0 (random E) |" in text and "91.50 %" in text


def _info(arm, seed, purity):
    return {"arm": arm, "seed": seed, "steps": 10, "curve": {"10": {"heldout": {"purity": purity}}}}


def test_infogan_verdict_on_known_answers(bench):
    verdict = bench.infogan_verdict([_info("recipe", 0, 0.60), _info("recipe", 1, 0.70),
                                     _info("authors", 0, 0.66), _info("authors", 1, 0.80)])
    assert verdict["text"] == "not reached" and verdict["best"] == 0.80
    assert verdict["seed_spread"]["recipe"] == pytest.approx(0.10) and verdict["seed_spread"]["authors"] == pytest.approx(0.14)
    assert verdict["arm_gap"] == {0: pytest.approx(0.06), 1: pytest.approx(0.10)}
    assert verdict["noise"] == pytest.approx(0.14)  # the widest seed spread beats 2 standard errors (0.061)
    assert bench.infogan_verdict([_info("recipe", 0, 0.95)])["text"] == "reached"
    # runs of different lengths are compared where all were probed; an arm of one seed has no spread
    longer = _info("recipe", 1, 0.99)
    longer["steps"], longer["curve"]["20"] = 20, {"heldout": {"purity": 0.99}}
    longer["curve"]["10"]["heldout"]["purity"] = 0.50
    verdict = bench.infogan_verdict([_info("recipe", 0, 0.60), longer, _info("authors", 0, 0.70)])
    assert verdict["common_steps"] == 10 and verdict["text"] == "not reached" and verdict["best"] == 0.70
    assert verdict["seed_spread"] == {"recipe": pytest.approx(0.10)} and verdict["arm_gap"] == {0: pytest.approx(0.10)}
    assert verdict["noise"] == pytest.approx(0.10)
    close = bench.infogan_verdict([_info("recipe", 0, 0.50), _info("authors", 0, 0.58)])
    assert close["noise"] == pytest.approx(2 * ((0.25 + 0.58 * 0.42) / 500) ** 0.5)  # no seed spread: 2 standard errors


def _bigan(random_bits, trained_bits):
    def point(bits):
        share = bits.count("1") / len(bits)
        return {"knn5": share, "nn1": share, "nn1_hidden": share, "knn5_bits": bits, "nn1_bits": bits}

    return {"steps": 5, "curve": {"0": point(random_bits), "5": point(trained_bits)}}


def test_bigan_verdict_needs_a_significant_gain_over_random(bench):
    random = "1" * 80 + "0" * 20
    better = "1" * 80 + "1" * 15 + "0" * 5  # 15 digits only the trained encoder gets right, 0 the other way
    slightly = "1" * 80 + "11" + "0" * 18
    worse = "0" * 10 + "1" * 70 + "0" * 20
    assert bench.bigan_verdict(_bigan(random, better))["text"] == "reached"
    assert bench.bigan_verdict(_bigan(random, slightly))["text"] == "not reached"  # p = 0.5
    assert bench.bigan_verdict(_bigan(random, worse))["text"] == "not reached"
    end = bench.bigan_verdict(_bigan(random, better))["end"]
    assert end["delta_knn5"] == pytest.approx(0.15) and end["mcnemar_knn5"]["first_only"] == 15


def test_probes_do_not_change_training(bench):
    """A probed run ends with the same weights, bitwise, as the same run without probes (the probe runs
    in eval mode under no_grad and draws no random numbers: a curve is one run's, not a perturbed one)."""
    spec = bench.RUNS["bigan_recipe_s0"]
    bench.RUNS["tiny_bigan"] = {**spec, "overrides": TINY_OVERRIDES["BiGAN"]}
    try:
        probed = bench.run_one("tiny_bigan", 3, 1, keep_model=True)
        plain = bench.run_one("tiny_bigan", 3, 0, keep_model=True)
    finally:
        del bench.RUNS["tiny_bigan"]
    assert list(probed["curve"]) == ["0", "1", "2", "3"] and plain["curve"] == {}
    probed_state, plain_state = probed["model"].state_dict(), plain["model"].state_dict()
    assert probed_state.keys() == plain_state.keys()
    for key, value in probed_state.items():
        assert torch.equal(value, plain_state[key]), key


def _net(purities: dict[int, float], partial: bool = False):
    run = {"arm": "authorsnet", "seed": 0, "steps": max(purities),
           "curve": {str(k): {"heldout": {"purity": v, "unclaimed": {}}} for k, v in purities.items()}}
    return {**run, "partial": True, "target_steps": 5000} if partial else run


def test_authors_budget_curve_and_its_straight_line(bench):
    at = bench.authors_budget(_net({0: 0.1, 1000: 0.70, 2000: 0.80, 3000: 0.85}))
    assert at["steps"] == 3000 and at["purity"] == 0.85 and not at["partial"]
    assert at["slope"] == pytest.approx(0.05)  # 5 points per 1,000 over the last 1,000 iterations
    assert at["needed"] == pytest.approx(2000)  # 10 points to 95 % at 5 per 1,000
    flat = bench.authors_budget(_net({0: 0.1, 1000: 0.80, 2000: 0.79}, partial=True))
    assert flat["needed"] == float("inf") and flat["partial"] and flat["target"] == 5000
    assert bench.authors_budget(_net({0: 0.1, 500: 0.96}))["needed"] == 0.0
    dip = bench.authors_budget(_net({0: 0.1, 1000: 0.94, 2000: 0.94, 3000: 0.84}))
    assert (dip["peak"], dip["peak_step"], dip["purity"]) == (0.94, 1000, 0.84)  # the first of equal bests
    text = bench.authorsnet_curve([_net({0: 0.1, 1000: 0.94, 2000: 0.84})],
                                  {"at_budget": {0: bench.authors_budget(_net({0: 0.1, 1000: 0.94, 2000: 0.84}))}})
    assert "Its best probe: 94.0 % at 1,000 iterations (1.0 points below 95 %" in text and "ends 10.0 points below it" in text
    assert "it moves -10.0 points per 1,000: no straight line from there reaches 95 %" in text


def test_infogan_verdict_with_the_authors_networks(bench):
    runs = [_info("recipe", 0, 0.45), _info("authors", 0, 0.47), _net({0: 0.1, 10: 0.75, 20: 0.90})]
    for run in runs[:2]:
        run["curve"]["10"]["heldout"]["unclaimed"] = {"7": 9}
    verdict = bench.infogan_verdict(runs)
    assert verdict["common_steps"] == 10 and verdict["authorsnet_gap"] == {0: pytest.approx(0.30)}
    assert verdict["arm_gap"] == {0: pytest.approx(0.02)} and verdict["text"] == "not reached"
    assert verdict["at_budget"][0]["purity"] == 0.90
    reached = bench.infogan_verdict([_info("recipe", 0, 0.45), _net({0: 0.1, 10: 0.75, 20: 0.95})])
    assert reached["text"] == "reached" and reached["best"] == 0.75  # at the authors' budget, not the common one
    text = bench.infogan_cause(runs, verdict)
    assert "+30.0 points over the recipe (seed 0), beyond that noise" in text
    assert "reach 90.0 % after 20 iterations, 5.0 points short of the paper" in text
    assert "Too short for a slope over 1,000 iterations." in text  # 20 iterations: no probe 1,000 back
    assert "it climbs 5.0 points per 1,000: a straight line would reach 95 % after at least 2,000 more" in (
        bench.authorsnet_curve([runs[0], _net({0: 0.1, 10: 0.5, 1000: 0.80, 2000: 0.85})],
                               bench.infogan_verdict([runs[0], _net({0: 0.1, 10: 0.5, 1000: 0.80, 2000: 0.85})])))


def test_with_two_seeds_at_the_authors_settings_the_verdict_gives_each_seed_and_their_spread(bench):
    one = _net({0: 0.1, 10: 0.75, 20: 0.90})
    runs = [_info("recipe", 0, 0.45), _info("authors", 0, 0.47), one]
    for run in runs[:2]:
        run["curve"]["10"]["heldout"]["unclaimed"] = {}
    assert "Not measured: one seed at the authors' settings" in bench.infogan_cause(runs, bench.infogan_verdict(runs))
    runs.append({**_net({0: 0.2, 10: 0.60, 20: 0.58}), "seed": 1})
    text = bench.infogan_cause(runs, bench.infogan_verdict(runs))
    assert "one seed at the authors' settings" not in text
    assert ("more than 2 seeds at the authors' settings, where the seed alone moves the end purity by 32.0 points "
            "(seed 0: best 90.0 % at 20, end 90.0 %; seed 1: best 60.0 % at 10, end 58.0 %)") in text


def test_a_resumed_run_ends_as_the_uninterrupted_one(bench, tmp_path):
    """--checkpoints: a run stopped after its probe at 1 and rerun to 2 ends with the uninterrupted run's curve
    and weights, bitwise; the cache holds the partial run meanwhile."""
    spec = bench.RUNS["infogan_authors_s1"]
    bench.RUNS["tiny_resume"] = {**spec, "overrides": {**spec["overrides"], **TINY_OVERRIDES["InfoGAN"]}}
    cache = tmp_path / "results.json"
    try:
        whole = bench.run_one("tiny_resume", 2, 1, keep_model=True)
        first = bench.run_one("tiny_resume", 1, 1, cache=cache, checkpoints=tmp_path / "ck", command="cmd")
        assert sorted(p.name for p in (tmp_path / "ck" / "tiny_resume").iterdir()) == ["step=1.ckpt"]
        stopped = {**first, "partial": True, "target_steps": 2}  # as a 2-iteration run killed after iteration 1
        cache.write_text(json.dumps({"tiny_resume": stopped}))
        resumed = bench.run_one("tiny_resume", 2, 1, keep_model=True, cache=cache, checkpoints=tmp_path / "ck")
    finally:
        del bench.RUNS["tiny_resume"]
    assert resumed["curve"] == whole["curve"] and list(resumed["curve"]) == ["0", "1", "2"]
    assert resumed["fit_seconds"] > first["fit_seconds"]
    state, expected = resumed["model"].state_dict(), whole["model"].state_dict()
    for key, value in expected.items():
        assert torch.equal(state[key], value), key
