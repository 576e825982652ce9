"""benchmarks/ebgan_margin.py: one run with the margin changed, its cache fields and grid, and the report."""

from __future__ import annotations

import argparse

import pytest
import torch

from conftest import benchmark_script


@pytest.fixture(scope="module")
def bench():
    with benchmark_script("ebgan_margin") as module:
        yield module


def fake_run(margin, seed, fid, classes=5, iterations=1500):
    return {"key": f"EBGAN/margin{margin:g}/seed{seed}/it{iterations}", "margin": margin, "seed": seed,
            "iterations": iterations, "fid": fid, "classes": classes, "fit_seconds": 1.0,
            "energy_real": 0.05, "energy_fake": 0.2, "pullaway": 0.4}


def test_a_run_trains_the_recipe_with_only_the_margin_changed(bench, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "OUT_DIR", tmp_path)
    job = {"key": bench.run_key(0.25, 0, 2), "margin": 0.25, "seed": 0, "iterations": 2, "num_eval": 20}
    run = bench.run_one(job)
    assert run["key"] == "EBGAN/margin0.25/seed0/it2" and run["margin"] == 0.25 and run["iterations"] == 2
    assert {"fid", "classes", "energy_real", "energy_fake", "pullaway"} <= set(run)
    assert 0.0 <= run["pullaway"] <= 1.0 + 1e-6 and run["energy_real"] >= 0.0
    assert (tmp_path / "margin0.25_seed0_it2.png").is_file()

    seen = {}
    original = bench.mnist5k_table.job_run

    def spy(job, model, overrides=(), **kwargs):
        seen.update(model=model, overrides=overrides)
        return original(job, model, overrides, **kwargs)

    monkeypatch.setattr(bench.mnist5k_table, "job_run", spy)
    bench.run_one({**job, "margin": 0.5, "key": bench.run_key(0.5, 0, 2)})
    assert seen == {"model": "EBGAN", "overrides": (("margin", 0.5),)}  # the recipe, the margin alone changed


def test_the_report_marks_the_recipes_margin_and_names_the_lowest_fid(bench):
    results = {r["key"]: r for r in (fake_run(1.0, 0, 875.7, 8), fake_run(0.1, 0, 120.0, 10),
                                     fake_run(0.1, 1, 140.0, 9), fake_run(0.3, 0, 300.0))}
    results["DCGAN/recipe/seed0/it1500"] = {"key": "DCGAN/recipe/seed0/it1500", "baseline": "DCGAN", "seed": 0,
                                            "iterations": 1500, "fid": 99.5, "classes": 9, "fit_seconds": 1.0}
    args = argparse.Namespace(margins=[1.0, 0.3, 0.1], seeds=[0, 1], iterations=1500, num_eval=1000,
                              baselines=["DCGAN"], magan_settings=[], magan_one_at_a_time=[], magan_all_but_one=[])
    recipe_margin = bench.load_recipe("EBGAN", "mnist5k")["init_args"]["margin"]
    text = bench.report(results, args)
    assert text.startswith("## EBGAN's margin on images")
    assert "| 0.1" + (" (recipe)" if recipe_margin == 0.1 else "") + " | 120.0 (10), 140.0 (9) | 130.0 ± 10.0 |" in text
    assert "![margin 0.1](ebgan_margin/margin0.1_seed0_it1500.png)" in text
    assert "Lowest mean digits FID: margin 0.1 (130.0)" in text
    assert f"whose margin is {recipe_margin:g}" in text and f"| {recipe_margin:g} (recipe) |" in text
    assert "ebgan_margin.py" in text
    assert "| DCGAN's recipe (baseline) | 99.5 (9) | 99.5 ± 0.0 | - | - | - | 1 | ![DCGAN](ebgan_margin/dcgan_seed0_it1500.png) |" in text
    if recipe_margin == 0.1:
        assert "- EBGAN's recipe against DCGAN's at the same 1,500 iterations: 130.0 vs 99.5 digits FID (not lower;" in text


def test_a_baseline_runs_its_own_recipe_unchanged(bench, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "OUT_DIR", tmp_path)
    seen = {}

    def fake_job_run(job, model, overrides=(), **kwargs):
        seen.update(model=model, overrides=overrides)
        return {"key": job["key"], "seed": 0, "iterations": 2, "fid": 1.0, "classes": 1, "fit_seconds": 0.1}, {
            "grid": torch.zeros(4, 1, 8, 8)}

    monkeypatch.setattr(bench.mnist5k_table, "job_run", fake_job_run)
    run = bench.run_one({"key": bench.baseline_key("DCGAN", 0, 2), "baseline": "DCGAN", "seed": 0, "iterations": 2,
                         "num_eval": 20})
    assert seen == {"model": "DCGAN", "overrides": ()} and run["baseline"] == "DCGAN" and "margin" not in run
    assert (tmp_path / "dcgan_seed0_it2.png").is_file()
    with pytest.raises(SystemExit):
        bench.main(["--baselines", "NoSuchModel", "--report-only"])


def fake_training(bench, tmp_path, monkeypatch) -> dict:
    """Runs write their grids under ``tmp_path`` and train nothing; returns what the last run was given."""
    monkeypatch.setattr(bench, "OUT_DIR", tmp_path)
    seen = {}

    def fake_job_run(job, model, overrides=(), **kwargs):
        seen.update(model=model, overrides=dict(overrides))
        return {"key": job["key"], "seed": 0, "iterations": 2, "fid": 1.0, "classes": 1, "fit_seconds": 0.1}, {
            "grid": torch.zeros(4, 1, 8, 8), "model": type("M", (), {"latest_terms": {"energy_real": 0.1}})()}

    monkeypatch.setattr(bench.mnist5k_table, "job_run", fake_job_run)
    return seen


def test_bad_margins_are_one_line_errors(bench):
    assert bench.parse_margins("1.0, 0.1") == [1.0, 0.1]
    for bad in ("", "0", "-1", "a"):
        with pytest.raises(SystemExit, match="--margins"):
            bench.parse_margins(bad)


def test_magan_settings_runs_ebgan_with_magans_other_settings_in_rows_of_their_own(bench, tmp_path, monkeypatch):
    settings = bench.magan_settings()
    magan = bench.load_recipe("MAGAN", "mnist5k")["init_args"]
    assert settings["d_norm"] == magan["d_norm"] == "none" and settings["pullaway_weight"] == 0.0
    assert settings["lr_g"] == magan["lr_g"] and settings["lr_d"] == magan["lr_d"]
    monkeypatch.setattr(bench, "OUT_DIR", tmp_path)
    seen = {}
    original = bench.mnist5k_table.job_run

    def spy(job, model, overrides=(), **kwargs):
        seen.update(model=model, overrides=dict(overrides))
        return original(job, model, overrides, **kwargs)

    monkeypatch.setattr(bench.mnist5k_table, "job_run", spy)
    key = bench.run_key(0.1, 0, 2, "MAGAN")
    run = bench.run_one({"key": key, "margin": 0.1, "settings": "MAGAN", "seed": 0, "iterations": 2, "num_eval": 20})
    assert key == "EBGAN/margin0.1/magan-settings/seed0/it2" and run["settings"] == "MAGAN"
    assert seen["model"] == "EBGAN" and seen["overrides"] == {"margin": 0.1, **settings}
    assert run["pullaway"] is None and run["energy_real"] >= 0.0  # no pull-away term at weight 0: nothing logged
    assert (tmp_path / "margin0.1_magan_seed0_it2.png").is_file()

    results = {r["key"]: r for r in (fake_run(0.1, 0, 57.2, 10),)}
    results[key] = {**fake_run(0.1, 0, 650.0, 3), "key": key, "settings": "MAGAN", "iterations": 1500, "pullaway": None}
    args = argparse.Namespace(margins=[0.1], seeds=[0], iterations=1500, num_eval=1000, baselines=[],
                              magan_settings=[0.1], magan_one_at_a_time=[], magan_all_but_one=[])
    text = bench.report(results, args)
    assert "| 0.1 (recipe) | 57.2 (10) |" in text  # the recipe's row keeps its own run
    assert ("| 0.1, MAGAN's settings (d_norm none, pullaway_weight 0.0, lr_g 0.0005, lr_d 0.0005) | 650.0 (3) | "
            "650.0 ± 0.0 | 0.0500 | 0.2000 | - | 1 |") in text
    assert ("- EBGAN at the fixed margin 0.1 with MAGAN's image recipe's other settings (d_norm none, pullaway_weight "
            "0.0, lr_g 0.0005, lr_d 0.0005; no pre-training, no margin rule): 650.0 (3 classes), against 57.2 with "
            "EBGAN's own settings at that margin.") in text
    alone = bench.report({key: results[key]}, args)  # no recipe row at that margin: the sentence still follows a blank
    assert "| - | 1 | ![margin 0.1, MAGAN's settings](ebgan_margin/margin0.1_magan_seed0_it1500.png) |\n\n- EBGAN" in alone
    assert "against 57.2" not in alone
    with pytest.raises(SystemExit):
        bench.parse_margins("0,x", "--magan-settings")


def test_magan_one_at_a_time_changes_one_group_per_run_with_its_own_rows(bench, tmp_path, monkeypatch):
    assert bench.magan_settings("MAGAN-d_norm") == {"d_norm": "none"}
    assert bench.magan_settings("MAGAN-pullaway") == {"pullaway_weight": 0.0}
    assert set(bench.magan_settings("MAGAN-optimiser")) == {"lr_g", "lr_d", "betas"}
    assert bench.changed_words("MAGAN-optimiser") == "lr_g 0.0005, lr_d 0.0005"  # EBGAN's betas are MAGAN's
    together = {}
    for group in bench.MAGAN_GROUPS:
        together.update(bench.magan_settings(f"MAGAN-{group}"))
    assert together == bench.magan_settings()  # the three groups are all of MAGAN's settings, none twice

    seen = fake_training(bench, tmp_path, monkeypatch)
    key = bench.run_key(0.1, 0, 2, "MAGAN-pullaway")
    run = bench.run_one({"key": key, "margin": 0.1, "settings": "MAGAN-pullaway", "seed": 0, "iterations": 2,
                         "num_eval": 20})
    assert key == "EBGAN/margin0.1/magan-pullaway-settings/seed0/it2"
    assert seen == {"model": "EBGAN", "overrides": {"margin": 0.1, "pullaway_weight": 0.0}}
    assert run["settings"] == "MAGAN-pullaway" and (tmp_path / "margin0.1_magan-pullaway_seed0_it2.png").is_file()

    results = {r["key"]: r for r in (fake_run(0.1, 0, 57.2, 10),)}
    for group, fid in (("d_norm", 700.0), ("optimiser", 90.0)):
        one = bench.run_key(0.1, 0, 1500, f"MAGAN-{group}")
        results[one] = {**fake_run(0.1, 0, fid, 2), "key": one, "settings": f"MAGAN-{group}"}
    args = argparse.Namespace(margins=[0.1], seeds=[0], iterations=1500, num_eval=1000, baselines=[],
                              magan_settings=[], magan_one_at_a_time=[0.1], magan_all_but_one=[])
    text = bench.report(results, args)
    assert "| 0.1, MAGAN's d_norm none only | 700.0 (2) | 700.0 ± 0.0 |" in text
    assert "| 0.1, MAGAN's lr_g 0.0005, lr_d 0.0005 only | 90.0 (2) |" in text
    assert "MAGAN's pullaway_weight" not in text  # no run of that group: no row
    assert ("\n- EBGAN at the fixed margin 0.1 with one of MAGAN's settings, d_norm none, the rest EBGAN's: "
            "700.0 (2 classes), against 57.2 with EBGAN's own settings.\n") in text
    alone = bench.report({one: results[one]}, args)  # no other row: the sentences still follow a blank line
    assert "_seed0_it1500.png) |\n\n- EBGAN at the fixed margin 0.1 with one of MAGAN's settings, lr_g" in alone


def test_magan_all_but_one_leaves_one_group_at_ebgans_value_per_run(bench, tmp_path, monkeypatch):
    for group, keys in bench.MAGAN_GROUPS.items():
        two = bench.magan_settings(f"MAGAN-but-{group}")
        assert set(two) == set(bench.MAGAN_KEYS) - set(keys)  # the other two groups, all their keys
        assert {**two, **bench.magan_settings(f"MAGAN-{group}")} == bench.magan_settings()
    assert bench.changed_words("MAGAN-but-optimiser") == "d_norm none, pullaway_weight 0.0"

    seen = fake_training(bench, tmp_path, monkeypatch)
    key = bench.run_key(0.1, 0, 2, "MAGAN-but-optimiser")
    run = bench.run_one({"key": key, "margin": 0.1, "settings": "MAGAN-but-optimiser", "seed": 0, "iterations": 2,
                         "num_eval": 20})
    assert key == "EBGAN/margin0.1/magan-but-optimiser-settings/seed0/it2"
    assert seen == {"model": "EBGAN", "overrides": {"margin": 0.1, "d_norm": "none", "pullaway_weight": 0.0}}
    assert run["settings"] == "MAGAN-but-optimiser"
    assert (tmp_path / "margin0.1_magan-but-optimiser_seed0_it2.png").is_file()

    results = {r["key"]: r for r in (fake_run(0.1, 0, 57.2, 10),)}
    for settings, fid in (("MAGAN", 821.1), ("MAGAN-but-d_norm", 40.0), ("MAGAN-but-pullaway", 800.0)):
        one = bench.run_key(0.1, 0, 1500, settings)
        results[one] = {**fake_run(0.1, 0, fid, 2), "key": one, "settings": settings}
    args = argparse.Namespace(margins=[0.1], seeds=[0], iterations=1500, num_eval=1000, baselines=[],
                              magan_settings=[0.1], magan_one_at_a_time=[], magan_all_but_one=[0.1])
    text = bench.report(results, args)
    assert "| 0.1, MAGAN's pullaway_weight 0.0, lr_g 0.0005, lr_d 0.0005 (not its d_norm) | 40.0 (2) |" in text
    assert "| 0.1, MAGAN's d_norm none, lr_g 0.0005, lr_d 0.0005 (not its pullaway) | 800.0 (2) |" in text
    assert "(not its optimiser)" not in text  # no run of that pair: no row
    assert ("\n- EBGAN at the fixed margin 0.1 with two of MAGAN's settings, d_norm none, lr_g 0.0005, lr_d 0.0005, "
            "the rest EBGAN's: 800.0 (2 classes), against 57.2 with EBGAN's own settings and 821.1 with all three.\n"
            ) in text
    with pytest.raises(SystemExit, match="--magan-all-but-one"):
        bench.main(["--magan-all-but-one", "0", "--report-only"])
