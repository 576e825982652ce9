"""benchmarks/small_data.py: its runs, its cache and the verdict logic (tiny budgets)."""

import pytest

import small_data


def test_one_tiny_run_trains_on_the_subset_and_measures_fid(tmp_path, monkeypatch):
    monkeypatch.setattr(small_data, "OUT_DIR", tmp_path / "grids")
    out, cache = tmp_path / "RESULTS.md", tmp_path / "results.json"
    small_data.main(["--models", "DCGAN", "--sizes", "200", "--augmentations", "none,ada", "--iterations", "2",
                     "--seeds", "0", "--num-eval", "40", "--out", str(out), "--cache", str(cache)])
    results = small_data.load_results(cache)
    assert sorted(results) == ["DCGAN/n200/ada/seed0/it2", "DCGAN/n200/none/seed0/it2"]
    assert all(r["fid"] > 0 for r in results.values())
    assert results["DCGAN/n200/ada/seed0/it2"]["ada_p"] is not None
    assert results["DCGAN/n200/none/seed0/it2"]["ada_p"] is None
    assert (tmp_path / "grids" / "dcgan_n200_ada.png").is_file()
    text = out.read_text()
    assert "| DCGAN | 200 |" in text and "not run" in text  # DiffAugment was not asked for
    assert "PUBLISHED: DiffAugment" in text and "62.16" in text


def _fake(model, size, augmentation, fid, seed=0):
    return {small_data.run_key(model, size, augmentation, seed, 10): {
        "model": model, "size": size, "augmentation": augmentation, "seed": seed, "iterations": 10,
        "fid": fid, "fit_seconds": 1.0, "ada_p": None}}


def test_the_verdict_asks_for_the_largest_gain_on_the_smallest_set_beyond_the_seed_spread():
    results = {}
    for size, none, diff, ada in ((500, 80.0, 50.0, 60.0), (4500, 40.0, 38.0, 41.0)):
        results.update(_fake("M", size, "none", none) | _fake("M", size, "diffaugment", diff) | _fake("M", size, "ada", ada))
    table = small_data.summarise(results, 10)
    assert small_data.gains(table, "M", [500, 4500]) == {500: (30.0, 0.0), 4500: (2.0, 0.0)}
    assert "**reached**" in small_data.verdict(table, "M", [500, 4500])
    # a second seed spreads the 500-digit rows: gains 30 and 2 now differ by less than the spreads (15 + 15)
    results.update(_fake("M", 500, "none", 110.0, seed=1) | _fake("M", 500, "diffaugment", 80.0, seed=1)
                   | _fake("M", 500, "ada", 90.0, seed=1))
    spread = small_data.summarise(results, 10)
    assert small_data.gains(spread, "M", [500]) == {500: (30.0, 30.0)}
    text = small_data.verdict(spread, "M", [500, 4500])
    assert "**same direction, not separated from the seed spread**" in text and "+30.0 (± 30.0)" in text
    results.update(_fake("M", 4500, "diffaugment", 0.0))  # now the big set gains more
    assert "**not reached**" in small_data.verdict(small_data.summarise(results, 10), "M", [500, 4500])
    assert "not enough sizes" in small_data.verdict(table, "Other", [500, 4500])


def test_cells_say_how_many_seeds_they_average():
    assert small_data.cell([10.0, 14.0]) == "12.0 ± 2.0"
    assert small_data.cell([10.0]) == "10.0 (1 seed)"
    assert small_data.cell(None) == "not run"


def test_bad_options_are_refused_in_one_line():
    with pytest.raises(SystemExit):
        small_data.parse_args(["--augmentations", "mixup"])
