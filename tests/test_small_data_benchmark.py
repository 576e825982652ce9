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


# ---------------------------------------------------------------------------- learning curves (--eval-every)
CURVE = ["--models", "DCGAN", "--sizes", "200", "--iterations", "8", "--eval-every", "4", "--seeds", "0",
         "--num-eval", "40", "--augmentations", "ada"]
ADA_KEY = small_data.curve_key("DCGAN", 200, "ada", 0, 8, 4)


def _curve(folder, *extra):
    out = folder / "RESULTS.md"
    small_data.main(CURVE + ["--out", str(out), "--out-dir", str(folder), *extra])
    return small_data.load_results(folder / "results_curve.json"), out.read_text()


def test_a_curve_ends_as_the_unmeasured_run_and_resumes_bitwise_after_an_interruption(tmp_path, monkeypatch):
    straight, text = _curve(tmp_path / "straight")
    curve = straight[ADA_KEY]
    assert sorted(straight) == [ADA_KEY] and curve["complete"]
    assert [p["iterations"] for p in curve["points"]] == [4, 8] and curve["fid"] == curve["points"][-1]["fid"]
    assert curve["points"][0]["ada_p"] > 0 and curve["ada_p"] == curve["points"][-1]["ada_p"]  # p moves every 4
    # the measurements draw from a fork of the RNG: the run at 8 iterations is the one small_data trains
    plain = small_data.run_one({"model": "DCGAN", "size": 200, "augmentation": "ada", "seed": 0, "iterations": 8,
                                "num_eval": 40, "ada_kimg": 50.0, "key": "plain"})
    assert (plain["fid"], plain["ada_p"]) == (curve["fid"], curve["ada_p"])
    assert "<!-- begin: small_data_curve -->" in text and "| Augmentation | 4 | 8 |" in text
    assert "no verdict yet: no augmentation, DiffAugment not measured at 8 iterations" in text
    assert (tmp_path / "straight" / "curve" / "dcgan_n200_ada_seed0_it8.png").is_file()

    measure, calls = small_data.measure_fid, []

    class Interrupted(Exception):
        pass

    def interrupted(*args):  # the run ends in its second measurement, after the checkpoint at 4
        calls.append(1)
        if len(calls) == 2:
            raise Interrupted
        return measure(*args)

    monkeypatch.setattr(small_data, "measure_fid", interrupted)
    with pytest.raises(Interrupted):
        _curve(tmp_path / "resumed")
    partial = small_data.load_results(tmp_path / "resumed" / "results_curve.json")[ADA_KEY]
    assert not partial["complete"] and [p["iterations"] for p in partial["points"]] == [4]
    resumed, _ = _curve(tmp_path / "resumed")
    assert len(calls) == 3  # the point at 8 only: the point at 4 came from the cache and the checkpoint
    assert [(p["iterations"], p["fid"], p["ada_p"]) for p in resumed[ADA_KEY]["points"]] == \
        [(p["iterations"], p["fid"], p["ada_p"]) for p in curve["points"]]


    # a longer curve continued from a finished shorter one (its points and checkpoint) is the straight one
    monkeypatch.setattr(small_data, "measure_fid", measure)
    short = tmp_path / "continued"
    small_data.main(CURVE[:5] + ["4"] + CURVE[6:] + ["--out", str(short / "R.md"), "--out-dir", str(short)])
    continued, text = _curve(short, "--continue-from", "4", "--section", "longer")
    assert continued[ADA_KEY]["continued_from"] == small_data.curve_key("DCGAN", 200, "ada", 0, 4, 4)
    assert [(p["iterations"], p["fid"], p["ada_p"]) for p in continued[ADA_KEY]["points"]] == \
        [(p["iterations"], p["fid"], p["ada_p"]) for p in curve["points"]]
    assert "<!-- begin: longer -->" in text and "small_data_curve" not in text


def _curve_run(augmentation, points, seed=0, kimg=50.0):
    kimg = kimg if augmentation == "ada" else None
    return {small_data.curve_key("DCGAN", 500, augmentation, seed, 3000, 1000, kimg): {
        "model": "DCGAN", "size": 500, "augmentation": augmentation, "seed": seed, "iterations": 3000, "every": 1000,
        "ada_kimg": kimg, "command": "python benchmarks/small_data.py", "complete": True, "fit_seconds": 9.0,
        "points": [{"iterations": i * 1000, "fid": f, "ada_p": None if kimg is None else 0.1} for i, f in points]}}


def test_the_curve_verdict_compares_at_the_budget_and_extrapolates_the_last_interval(tmp_path):
    args = small_data.parse_args(["--models", "DCGAN", "--iterations", "3000", "--eval-every", "1000", "--seeds", "0,1",
                                  "--out-dir", str(tmp_path)])
    results = {**_curve_run("none", [(1, 100.0), (2, 60.0), (3, 50.0)]),
               **_curve_run("diffaugment", [(1, 150.0), (2, 90.0), (3, 70.0)]),
               **_curve_run("ada", [(1, 200.0), (2, 120.0), (3, 110.0)])}
    table = small_data.curve_points(results, args)
    assert small_data.slope(table[("DCGAN", 500, "none")]) == -10.0
    # over the last 1,000 iterations where measured (not the last of several shorter intervals), else the last one
    assert small_data.slope({500: [10.0], 1000: [8.0], 1500: [4.0], 2000: [0.0]}) == -8.0
    assert small_data.slope({0: [10.0], 400: [6.0]}) == -10.0 and small_data.slope({0: [1.0]}) is None
    text = "\n".join(small_data.curve_verdict(table, "DCGAN", 500, 3000))
    assert "(DiffAugment, 70.0, 1 seed(s)) against none (50.0, 1 seed(s)): gain -20.0 (one seed" in text
    assert "**does not beat none**" in text
    # DiffAugment falls 20 per 1,000 against none's 10: level in 20 / 10 * 1,000 more iterations
    assert "level with none at about 5,000 iterations (1.7 times 3,000)" in text
    assert "ADA (kimg 50): 60.0 above none at 3,000 and not falling faster than none" in text
    # an arm of another kimg is a row of its own, and the verdict weighs it: 45 beats none's 50 (one seed)
    results.update(_curve_run("ada", [(2, 80.0), (3, 45.0)], kimg=500.0))
    assert small_data.curve_key("DCGAN", 500, "ada", 0, 3000, 1000, 500.0) == \
        "DCGAN/n500/ada-kimg500/seed0/it3000/every1000"
    table = small_data.curve_points(results, args)
    text = "\n".join(small_data.curve_verdict(table, "DCGAN", 500, 3000))
    assert "(ADA (kimg 500), 45.0, 1 seed(s))" in text and "**ahead of none on one seed** (no verdict" in text
    report = small_data.write_curve_report(results, args, tmp_path / "RESULTS.md")
    assert "| ADA (kimg 500) | not run | 80.0 (1 seed) | 45.0 (1 seed) |" in report
    assert "| p of ADA (kimg 500), by seed |  | 0.10 | 0.10 |" in report
    assert "DCGAN with DiffAugment / ADA to 3,000 iterations" in report and "`max_steps`: 5,000 iterations" in report
    # a second seed: the better arm ahead by 5, within the spread (none 50 / 40, DiffAugment 70 / 10: 5 + 30)
    results.update(_curve_run("none", [(3, 40.0)], seed=1) | _curve_run("diffaugment", [(3, 10.0)], seed=1)
                   | _curve_run("ada", [(3, 110.0)], seed=1))
    del results[small_data.curve_key("DCGAN", 500, "ada", 0, 3000, 1000, 500.0)]
    text = "\n".join(small_data.curve_verdict(small_data.curve_points(results, args), "DCGAN", 500, 3000))
    assert "gain +5.0 (within the two rows' half ranges added (35.0))" in text
    assert "**not separated from none**" in text
