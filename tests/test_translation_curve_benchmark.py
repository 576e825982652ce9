"""benchmarks/translation_curve.py: its trend, its report and the batch-statistics copy, without training."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from conftest import benchmark_script


@pytest.fixture(scope="module")
def bench():
    with benchmark_script("translation_curve") as module:
        yield module


def point(iteration, running, batch=None, cycle=0.1):
    return {"iteration": iteration, "label_preservation": running, "cycle_l1": cycle,
            "label_preservation_batch_stats": running if batch is None else batch, "cycle_l1_batch_stats": cycle}


def fake_runs(main_points, base_points):
    common = {"model": "DiscoGAN", "every": 1000, "seed": 0, "recipe_steps": 2000, "judge_on_real": 0.94,
              "fit_seconds": 10.0}
    return {"DiscoGAN": {**common, "label": "DiscoGAN", "baseline": False, "points": main_points},
            "DiscoGAN without reconstruction": {**common, "label": "DiscoGAN without reconstruction",
                                                "baseline": True, "points": base_points}}


def test_trend_is_the_least_squares_slope_of_the_last_points(bench):
    points = [point(1000 * i, v) for i, v in enumerate([0.9, 0.1, 0.2, 0.3, 0.4], start=1)]
    assert bench.recent_slope(points, "label_preservation") == pytest.approx(0.1)  # the first point left out
    assert math.isnan(bench.recent_slope(points[:1], "label_preservation"))


def test_report_gives_the_budget_row_the_last_point_and_the_gap(bench):
    runs = fake_runs([point(1000, 0.2), point(2000, 0.3, batch=0.6), point(3000, 0.5)],
                     [point(1000, 0.2), point(2000, 0.25), point(3000, 0.2)])
    text = bench.report("DiscoGAN", runs, "python benchmarks/translation_curve.py --steps 3000")
    assert "| 2,000 (recipe) | 30.0 % | 60.0 % | 0.100 | 25.0 % | 25.0 % | 0.100 |" in text
    assert "- At the recipe's 2,000 iterations: 30.0 % with the term vs 25.0 % without" in text
    assert "with the term ahead by more than 5 points at 1 of 3 points" in text  # 0.3 vs 0.25 is not > 5 points
    assert "at most 30.0 points apart" in text and "+15.0 points per 1,000 iterations" in text
    with pytest.raises(SystemExit):
        bench.report("DiscoGAN", {}, "")
    with pytest.raises(SystemExit):
        bench.rows_of("Pix2Pix")  # paired: no curve of this kind


def test_batch_statistics_translate_a_copy_and_leave_running_statistics_alone(bench):
    class Model:
        generator = nn.ModuleDict({"ab": nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2)),
                                   "ba": nn.Sequential(nn.Conv2d(2, 1, 1), nn.BatchNorm2d(1))})

    model = Model()
    model.generator.eval()
    before = model.generator["ab"][1].running_mean.clone()
    images = torch.randn(8, 1, 4, 4) * 3 + 5
    out = bench.BatchStatistics(model).translate(images)
    assert torch.equal(model.generator["ab"][1].running_mean, before) and not model.generator.training
    per_channel = out.mean(dim=(0, 2, 3))
    assert torch.allclose(per_channel, torch.zeros(2), atol=1e-5)  # normalised by the batch's own statistics


def test_a_curve_is_measured_cached_and_resumed_to_the_same_point(bench, tmp_path, monkeypatch):
    import json

    monkeypatch.setattr(bench, "CACHE", tmp_path / "curves.json")
    monkeypatch.setattr(bench, "RUNS", tmp_path / "runs")
    row = bench.rows_of("DiscoGAN")[0]
    first = bench.run_curve(row, steps=4, every=2, seed=0)
    assert [p["iteration"] for p in first["points"]] == [2, 4] and first["recipe_steps"] == 2000
    assert 0.0 <= first["points"][-1]["label_preservation_batch_stats"] <= 1.0
    folder = tmp_path / "runs" / "discogan"
    assert sorted(p.name for p in folder.glob("*.ckpt")) == ["step=2.ckpt", "step=4.ckpt"]

    cached = json.loads((tmp_path / "curves.json").read_text())  # interrupted after iteration 2
    cached["DiscoGAN"]["points"] = cached["DiscoGAN"]["points"][:1]
    (tmp_path / "curves.json").write_text(json.dumps(cached))
    (folder / "step=4.ckpt").unlink()
    resumed = bench.run_curve(row, steps=4, every=2, seed=0)
    assert resumed["points"] == first["points"]  # from the checkpoint of iteration 2: the same point 4
    assert bench.run_curve(row, steps=4, every=2, seed=0) == resumed  # complete: nothing trained again


def test_set_changes_every_row_and_names_it(bench):
    changes = bench.parse_changes(["depth=3"], "DiscoGAN")
    assert changes == {"depth": 3}
    rows = bench.rows_of("DiscoGAN", changes)
    assert [row.label for row in rows] == ["DiscoGAN [depth=3]", "DiscoGAN without reconstruction [depth=3]"]
    assert rows[1].overrides == {"cycle_weight": 0.0, "depth": 3} and rows[0].overrides == {"depth": 3}
    assert bench.section_name("DiscoGAN", changes) == "translation_curve_discogan_depth3"
    assert bench.section_name("DiscoGAN", {}) == "translation_curve_discogan"
    for bad in (["depth"], ["nonsense=1"]):
        with pytest.raises(SystemExit, match="--set"):
            bench.parse_changes(bad, "DiscoGAN")


def test_a_recipe_edit_makes_another_run(bench, tmp_path, monkeypatch):
    import json

    monkeypatch.setattr(bench, "CACHE", tmp_path / "curves.json")
    monkeypatch.setattr(bench, "RUNS", tmp_path / "runs")
    row = bench.rows_of("DiscoGAN")[0]
    first = bench.run_curve(row, steps=2, every=2, seed=0)
    assert first["model_args"]["depth"] == 3 and first["model_args"]["betas"] == [0.5, 0.999]
    assert bench.run_curve(row, steps=2, every=2, seed=0) == first  # read back as it was saved: the same run
    cached = json.loads((tmp_path / "curves.json").read_text())
    cached["DiscoGAN"]["model_args"]["depth"] = 4  # as if trained under an earlier recipe
    cached["DiscoGAN"]["points"][0]["label_preservation"] = -1.0
    (tmp_path / "curves.json").write_text(json.dumps(cached))
    again = bench.run_curve(row, steps=2, every=2, seed=0)
    assert again["model_args"]["depth"] == 3 and again["points"][0]["label_preservation"] >= 0.0  # trained anew


def test_the_title_tells_a_recipe_change_from_the_recipes_own_value(bench):
    points = [point(2000, 0.5)]
    for depth, words in ((4, "(recipe changed: `depth: 4`)"), (3, "(`depth: 3`, the recipe's own)")):
        runs = {f"{label} [depth={depth}]": {**run, "label": f"{label} [depth={depth}]"}
                for label, run in fake_runs(points, points).items()}
        title = bench.report("DiscoGAN", runs, "python x", {"depth": depth}).splitlines()[0]
        assert title == f"## DiscoGAN {words}: label preservation by iteration, with and without its reconstruction term (issue 26)"


def test_the_verdict_names_a_saturated_measure_as_its_cause(bench):
    assert "(**reached**)" in bench.verdict_line(0.6, 0.2, 0.94, 2000)
    saturated = bench.verdict_line(0.933, 0.933, 0.936, 2000)
    assert saturated.startswith("Verdict: **not reached, cause shown**: 93.3 % vs 93.3 % at the recipe's 2,000")
    assert bench.verdict_line(0.04, 0.08, 0.936, 2000) == ("Verdict: 4.0 % vs 8.0 % at the recipe's 2,000 "
                                                          "iterations (**not reached**).")


def dtn_point(iteration, accuracy, f_error=100.0):
    return {"iteration": iteration, "judge_accuracy": accuracy, "f_constancy": f_error}


def dtn_runs(by_seed):
    """Cached DTN runs: ``{seed: (main points, baseline points)}`` under the keys ``run_curve`` gives them."""
    runs = {}
    for seed, (main_points, base_points) in by_seed.items():
        for label, baseline, points in (("DTN", False, main_points), ("DTN without f-constancy", True, base_points)):
            key = label if seed == 0 else f"{label}, seed {seed}"
            runs[key] = {"label": label, "model": "DTN", "baseline": baseline, "every": 250, "seed": seed,
                         "recipe_steps": 1500, "judge_on_real": 0.99, "fit_seconds": 5.0, "points": points}
    return runs


def test_dtn_curves_measure_the_judge_and_the_f_term_without_batch_statistics(bench):
    rows = bench.rows_of("DTN")
    assert [row.label for row in rows] == ["DTN", "DTN without f-constancy"]
    assert bench.CURVES[rows[0].measure].score == "judge_accuracy" and not bench.CURVES["dtn"].batch_stats
    text = bench.report("DTN", dtn_runs({0: ([dtn_point(1500, 0.9, 50.0)], [dtn_point(1500, 0.8, 300.0)])}), "python x")
    assert text.splitlines()[0] == ("## DTN: judge accuracy on G(source) by iteration, with and without its "
                                    "f-constancy term (issue 26)")
    assert "| iteration | DTN | f-constancy error | DTN without f-constancy | f-constancy error |" in text
    assert "| 1,500 (recipe) | 90.0 % | 50.000 | 80.0 % | 300.000 |" in text
    assert "- At the recipe's 1,500 iterations: 90.0 % with the term vs 80.0 % without." in text
    assert "batch" not in text.split("| iteration")[1]  # no batch-statistics columns or sentences
    assert "(**reached**)" in text and "Seeds" not in text  # one seed: the one-run verdict


def test_more_seeds_add_their_table_and_a_verdict_over_them(bench):
    curves = {0: ([dtn_point(750, 0.80), dtn_point(1500, 0.85)], [dtn_point(750, 0.70), dtn_point(1500, 0.84)]),
              1: ([dtn_point(750, 0.90), dtn_point(1500, 0.88)], [dtn_point(750, 0.80), dtn_point(1500, 0.80)]),
              2: ([dtn_point(750, 0.75), dtn_point(1500, 0.86)], [dtn_point(750, 0.75), dtn_point(1500, 0.83)])}
    text = bench.report("DTN", dtn_runs(curves), "python x")
    assert "| 1,500 (recipe) | 85.0 % | 100.000 | 84.0 % | 100.000 |" in text  # the curve table is seed 0's
    assert "| 1 | 88.0 % | 80.0 % | +8.0 | 2 of 2 | +9.0 |" in text
    assert "| 2 | 86.0 % | 83.0 % | +3.0 | 0 of 2 | +1.5 |" in text
    # differences +1, +8, +3 points: mean +4.0, below 5 points
    assert ("Verdict over the seeds: 86.3 % vs 82.3 % on average over 3 seeds at the recipe's 1,500 iterations "
            "(difference +4.0 points, standard error 2.1) (**not reached**).") in text
    assert "(**reached**)" in bench.seeds_verdict([0.9, 0.92, 0.95], [0.8, 0.8, 0.82], 0.99, 1500)
    assert "(**not reached**)" in bench.seeds_verdict([0.9, 0.6], [0.5, 0.8], 0.99, 1500)  # ahead, but not beyond 2 SE
    assert "cause shown" in bench.seeds_verdict([0.95, 0.96], [0.95, 0.95], 0.99, 1500)


def test_another_seed_is_another_run_beside_seed_0(bench, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "CACHE", tmp_path / "curves.json")
    monkeypatch.setattr(bench, "RUNS", tmp_path / "runs")
    row = bench.rows_of("DiscoGAN")[0]
    zero = bench.run_curve(row, steps=2, every=2, seed=0)
    one = bench.run_curve(row, steps=2, every=2, seed=1)
    cached = bench.load_runs(tmp_path / "curves.json")
    assert sorted(cached) == ["DiscoGAN", "DiscoGAN, seed 1"] and (zero["seed"], one["seed"]) == (0, 1)
    assert cached["DiscoGAN"] == zero  # seed 1 left seed 0's run as it was
    assert sorted(p.name for p in tmp_path.joinpath("runs").iterdir()) == ["discogan", "discogan_seed_1"]
    assert set(bench.runs_by_seed(cached, "DiscoGAN")) == {0, 1}


def test_bad_seeds_are_one_line_errors(bench, capsys):
    for bad in ("", "-1"):
        with pytest.raises(SystemExit):
            bench.main(["--model", "DTN", "--seed", bad, "--report-only"])
        assert "--seed" in capsys.readouterr().err


def test_a_variant_where_the_term_works_is_shown_as_the_cause(bench):
    curves = {0: ([dtn_point(1500, 0.85)], [dtn_point(1500, 0.84)]),
              1: ([dtn_point(1500, 0.82)], [dtn_point(1500, 0.86)])}
    runs = dtn_runs(curves)
    for label, baseline, score in (("DTN [tid_weight=0]", False, 0.82), ("DTN without f-constancy [tid_weight=0]", True,
                                                                       0.06)):
        runs[label] = {**runs["DTN"], "label": label, "baseline": baseline, "points": [dtn_point(1500, score)]}
    text = bench.report("DTN", runs, "python x")
    assert "| `tid_weight=0` | 82.0 % | 6.0 % | +76.0 |" in text
    assert ("**not reached, cause shown**: 83.5 % vs 85.0 % on average over 2 seeds at the recipe's 1,500 "
            "iterations (difference -1.5 points, standard error 2.5); with `tid_weight=0` the term keeps the digit, "
            "82.0 % vs 6.0 % (seed 0, section `translation_curve_dtn_tid_weight0`): the recipe's `tid_weight: 15.0` "
            "keeps it without the term.") in text
    variant = bench.report("DTN", runs, "python x", {"tid_weight": 0})  # the variant's own section: no variants table
    assert "Variants" not in variant and "(**reached**)" in variant
    assert variant.splitlines()[0].startswith("## DTN (recipe changed: `tid_weight: 0`)")
    runs["DTN without f-constancy [tid_weight=0]"]["points"] = [dtn_point(1500, 0.80)]  # the term no help there either
    assert "cause shown" not in bench.report("DTN", runs, "python x")


def test_stargan_curves_measure_the_digit_against_the_recipe_without_reconstruction(bench):
    rows = bench.rows_of("StarGAN")
    assert [(row.label, row.overrides, row.baseline) for row in rows] == [
        ("StarGAN", {}, False), ("StarGAN without reconstruction", {"rec_weight": 0.0}, True)]
    assert rows[1] not in bench.translation.ROWS  # a curve-only baseline: section translation keeps its rows
    curve = bench.CURVES["stargan"]
    assert (curve.score, curve.other, curve.batch_stats) == ("label_preservation", "reconstruction_l1", False)
    point = {"iteration": 3000, "label_preservation": 0.6, "reconstruction_l1": 0.1}
    common = {"model": "StarGAN", "every": 250, "seed": 0, "recipe_steps": 3000, "judge_on_real": 0.84,
              "fit_seconds": 5.0}
    runs = {"StarGAN": {**common, "label": "StarGAN", "baseline": False, "points": [point]},
            "StarGAN without reconstruction": {**common, "label": "StarGAN without reconstruction", "baseline": True,
                                               "points": [{**point, "label_preservation": 0.1,
                                                           "reconstruction_l1": 0.9}]}}
    text = bench.report("StarGAN", runs, "python x")
    assert "| 3,000 (recipe) | 60.0 % | 0.100 | 10.0 % | 0.900 |" in text
    assert "c the attributes of x with one flipped" in text and "BatchNorm" not in text
    assert "(**reached**)" in text
