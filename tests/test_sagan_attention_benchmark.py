"""benchmarks/sagan_attention.py: the verdict's arithmetic, and a tiny run of both variants through the report."""

from __future__ import annotations

import pytest

from conftest import benchmark_script


@pytest.fixture(scope="module")
def bench():
    with benchmark_script("sagan_attention") as module:
        yield module


def runs(fids: dict[str, list[float]]) -> dict[str, list[dict]]:
    return {variant: [{"fid": fid, "seed": seed} for seed, fid in enumerate(values)] for variant, values in fids.items()}


def test_verdict_compares_the_gain_with_the_seed_spread(bench):
    # gain 100 - 80 = 20 > spread max(5, 2): reached
    assert "**reached**" in bench.verdict(runs({"attention": [75, 85], "no attention": [98, 102]}))
    # gain -20: attention worse beyond the spread
    assert "**not reached**" in bench.verdict(runs({"attention": [98, 102], "no attention": [75, 85]}))
    # gain 4 within the spread 10
    text = bench.verdict(runs({"attention": [86, 106], "no attention": [95, 105]}))
    assert "**not separated**" in text and "+4.0" in text and "10.0" in text
    assert "both variants" in bench.verdict(runs({"attention": [80]}))


def test_bad_arguments_name_the_option(bench, capsys):
    with pytest.raises(SystemExit):
        bench.parse_args(["--seeds", "a,b"])
    err = capsys.readouterr().err
    assert "--seeds: expected comma-separated integers, got 'a,b'" in err
    with pytest.raises(SystemExit):
        bench.parse_args(["--iterations", "0"])
    assert "--iterations must be >= 1 (got 0)" in capsys.readouterr().err


def test_tiny_run_of_both_variants_and_the_report(bench, digits_cache, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "OUT_DIR", tmp_path / "grids")
    weights = str(digits_cache / "digits_classifier.pt")
    results = {}
    for variant in bench.VARIANTS:
        job = {"variant": variant, "seed": 0, "iterations": 2, "num_eval": 64, "digits_weights": weights,
               "key": bench.run_key(variant, 0, 2)}
        results[job["key"]] = run = bench.run_one(job)
        assert run["fid"] > 0 and 1 <= run["classes"] <= 10 and run["iterations"] == 2
        bench.save_grid(run)
    with_block, without = results["SAGAN/attention/seed0/it2"], results["SAGAN/no_attention/seed0/it2"]
    # two steps of Adam moved the blocks' gamma off 0; the baseline has none
    assert with_block["gamma_g"] != 0.0 and with_block["gamma_d"] != 0.0
    assert without["gamma_g"] is None and without["gamma_d"] is None
    assert with_block["fid"] != without["fid"]

    out = tmp_path / "RESULTS.md"
    out.write_text("<!-- begin: other -->\nkept\n<!-- end: other -->\n")
    args = bench.parse_args(["--iterations", "2", "--seeds", "0", "--num-eval", "64", "--out", str(out),
                             "--note", "a tiny run"])
    text = bench.write_report(results, args, out)
    assert "| attention | 0 |" in text and "| no attention | 0 |" in text and "| - | - |" in text
    assert "Verdict: FID gain of attention" in text and "- a tiny run" in text
    assert "sagan_attention/sagan_attention.png" in text and "sagan_attention/sagan_no_attention.png" in text
    assert "kept" in out.read_text() and "<!-- begin: sagan_attention -->" in out.read_text()


def test_diagnose_changes_one_of_the_recipes_differences_from_sngan_per_row(bench, tmp_path, monkeypatch):
    sngan = bench.load_recipe("SNGAN", "mnist5k")["init_args"]
    variants = bench.diagnostics()
    assert variants[bench.SPECTRAL_G] == {"g_spectral_norm": False}
    optimiser = {key: sngan[key] for key in ("lr_g", "lr_d", "betas")}
    assert variants[bench.SNGAN_OPTIMISER] == {"g_image_layer_spectral_norm": True, **optimiser}
    assert optimiser != {key: bench.load_recipe("SAGAN", "mnist5k")["init_args"][key]
                         for key in ("lr_g", "lr_d", "betas")}  # it does change something
    assert (bench.run_key(bench.SNGAN_OPTIMISER, 1, 1500)
            == "SAGAN/attention_g_s_image_layer_with_spectral_norm_sngan_s_optimiser/seed1/it1500")
    assert bench.run_key("no attention", 0, 2) == "SAGAN/no_attention/seed0/it2"  # the cached keys unchanged
    seen = {}

    def fake_job_run(job, model, overrides=(), **kwargs):
        seen.update(model=model, overrides=dict(overrides))
        raise RuntimeError("stop here")

    monkeypatch.setattr(bench.mnist5k_table, "job_run", fake_job_run)
    with pytest.raises(RuntimeError, match="stop here"):
        bench.run_one({"variant": bench.SPECTRAL_G, "seed": 0, "iterations": 2, "num_eval": 8, "key": "k"})
    assert seen == {"model": "SAGAN", "overrides": {"g_spectral_norm": False}}

    def run(variant, seed, fid):
        return {"key": bench.run_key(variant, seed, 1500), "variant": variant, "seed": seed, "iterations": 1500,
                "fid": fid, "classes": 3, "fit_seconds": 1.0, "gamma_g": 0.1, "gamma_d": 0.0}

    results = {r["key"]: r for r in (run("attention", 0, 700.0), run("attention", 1, 500.0),
                                     run("no attention", 0, 710.0), run(bench.SPECTRAL_G, 0, 90.0),
                                     run(bench.SPECTRAL_G, 1, 110.0))}
    monkeypatch.setattr(bench, "OUT_DIR", tmp_path)
    out = tmp_path / "RESULTS.md"
    args = bench.parse_args(["--iterations", "1500", "--seeds", "0,1", "--diagnose", "--out", str(out)])
    text = bench.write_report(results, args, out)
    assert "| attention, G without spectral norm | 1 | 110.0 | 3 |" in text
    assert ("- Diagnosis (`--diagnose`), attention, G without spectral norm (g_spectral_norm False): mean FID "
            "100.0 ± 10.0, classes 3, 3 (seeds 0, 1), against 600.0 for the recipe's 'attention' row on the same "
            "seeds.") in text
    assert "SNGAN's optimiser (" not in text  # no run of it: no sentence
    assert "The claim with G without spectral norm" not in text  # its baseline has no run yet
    for seed, fid in ((0, 120.0), (1, 130.0)):
        results[bench.run_key(bench.NO_ATTENTION_SPECTRAL_G, seed, 1500)] = run(bench.NO_ATTENTION_SPECTRAL_G, seed, fid)
    text = bench.write_report(results, args, out)
    assert "(attention False, g_spectral_norm False): mean FID 125.0 ± 5.0" in text
    assert "against 710.0 for the recipe's 'no attention' row on the same seeds" not in text  # seed 1 has none
    assert ("- The claim with G without spectral norm (`--diagnose`, not the recipe): FID gain of "
            "attention (no attention, G without spectral norm minus attention, G without spectral norm, means) "
            "+25.0, seed spread 10.0: **reached**") in text
    assert "Verdict: FID gain of attention (no attention minus attention, means) +110.0" in text  # the recipe's own


def test_diagnose_puts_spectral_norm_back_on_g_s_image_layer_in_both_variants_with_a_verdict(bench, tmp_path,
                                                                                             monkeypatch):
    variants = bench.diagnostics()
    assert bench.load_recipe("SAGAN", "mnist5k")["init_args"]["g_image_layer_spectral_norm"] is False
    assert variants[bench.IMAGE_LAYER] == {"g_image_layer_spectral_norm": True}  # the recipe before issue 26
    assert variants[bench.NO_ATTENTION_IMAGE_LAYER] == {"attention": False, "g_image_layer_spectral_norm": True}

    def run(variant, seed, fid):
        return {"key": bench.run_key(variant, seed, 1500), "variant": variant, "seed": seed, "iterations": 1500,
                "fid": fid, "classes": 10, "fit_seconds": 1.0, "gamma_g": None, "gamma_d": None}

    results = {r["key"]: r for r in (run("attention", 0, 150.0), run(bench.IMAGE_LAYER, 0, 700.0),
                                     run(bench.IMAGE_LAYER, 1, 500.0))}
    monkeypatch.setattr(bench, "OUT_DIR", tmp_path)
    out = tmp_path / "RESULTS.md"
    args = bench.parse_args(["--iterations", "1500", "--seeds", "0,1", "--diagnose", "--out", str(out)])
    text = bench.write_report(results, args, out)
    assert ("- Diagnosis (`--diagnose`), attention, G's image layer with spectral norm "
            "(g_image_layer_spectral_norm True): mean FID 600.0 ± 100.0") in text
    assert "The claim with G's image layer with spectral norm" not in text  # no baseline run yet
    for seed, fid in ((0, 690.0), (1, 710.0)):
        results[bench.run_key(bench.NO_ATTENTION_IMAGE_LAYER, seed, 1500)] = run(bench.NO_ATTENTION_IMAGE_LAYER, seed, fid)
    text = bench.write_report(results, args, out)
    assert ("- The claim with G's image layer with spectral norm (`--diagnose`, the recipe before issue 26, as the "
            "authors' residual G): FID gain of attention (no attention, G's image layer with spectral norm minus "
            "attention, G's image layer with spectral norm, means) +100.0, seed spread 100.0: **not separated**") in text
