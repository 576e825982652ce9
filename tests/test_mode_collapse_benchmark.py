"""Smoke test of benchmarks/mode_collapse.py: a tiny run through its own functions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import benchmark_script


@pytest.fixture(scope="module")
def bench():
    with benchmark_script("mode_collapse") as module:
        yield module


def test_recipe_is_the_experiment_file_with_shared_sizes(bench):
    spec = bench.RunSpec(model="WGAN", kind="ring8", seed=0, iterations=1, g_hidden=(16,), d_hidden=(8,))
    kwargs = bench.model_kwargs(spec)
    assert kwargs["optimizer"] == "rmsprop" and kwargs["critic_steps"] == 5
    assert kwargs["lr_d"] == pytest.approx(5e-5)  # "5e-05" is a string to YAML 1.1
    assert kwargs["g_hidden"] == [16] and kwargs["d_hidden"] == [8] and kwargs["data_shape"] == (2,)
    recipe = bench.load_recipe("WGANGP", "ring8")
    assert recipe["init_args"]["betas"] == (0.5, 0.9)  # a tuple, as the model's annotation says (gan_toy.py's toy betas)
    assert recipe["data_class"] == "Toy2D" and recipe["data_args"]["kind"] == "ring8"


def test_tiny_run_gives_a_table_with_one_row_per_model(bench, tmp_path):
    common = dict(kind="ring8", seed=0, iterations=20, num_points=500, num_eval=500,
                  g_hidden=(32, 32), d_hidden=(32,))
    results = [bench.run_one(bench.RunSpec(model=model, **common)) for model in ("GAN", "PacGAN")]

    for result in results:
        raw = result["raw"]
        assert set(raw) == {"modes", "high_quality", "reverse_kl"}
        assert 0 <= raw["modes"] <= 8 and 0.0 <= raw["high_quality"] <= 1.0
        assert raw["reverse_kl"] >= 0 or math.isinf(raw["reverse_kl"])
        assert result["samples"].shape == (500, 2)
        assert set(result["ema"]) == set(raw)

    rows = bench.summarise(results, "ring8")
    assert [row["model"] for row in rows] == ["GAN", "PacGAN"]
    table = bench.markdown_table(rows, "ring8").splitlines()
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    assert header == ["Model", "Iterations (G steps)", "Modes (of 8)", "High-quality %", "Reverse KL",
                      "Seeds with all modes", "Per seed: modes / HQ %", "Fit s / run"]
    assert len(table) == 2 + 2
    for line, model in zip(table[2:], ("GAN", "PacGAN")):
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert len(cells) == len(header) and cells[0] == model and cells[1] == "20 (20)"
        assert cells[5] in ("0/1", "1/1")
        assert cells[6].split("/")[0] == str(next(r for r in results if r["spec"].model == model)["raw"]["modes"])

    png = bench.plot_samples(results, "ring8", tmp_path / "ring8.png")
    assert png.stat().st_size > 0

    out = tmp_path / "RESULTS.md"
    out.write_text("# Benchmark results\n\n<!-- begin: other -->\nkept\n<!-- end: other -->\n")
    args = bench.parse_args(["--models", "GAN,PacGAN", "--data", "ring8", "--iterations", "20", "--out", str(out)])
    results[0]["load"] = [1.0]
    bench.write_report(results, args, "python benchmarks/mode_collapse.py", 1.0, (1.0, 1.0, 1.0), out,
                       {"ring8": png})
    text = out.read_text()
    assert "<!-- begin: other -->\nkept\n<!-- end: other -->" in text
    assert "<!-- begin: mode_collapse -->" in text and "| GAN | 20 (20) |" in text
    assert "PUBLISHED" in text  # the published tables go with the default section


def test_batched_seeds_flag_trains_the_same_runs_into_the_same_tables(bench, tmp_path):
    out = tmp_path / "RESULTS.md"
    args = bench.parse_args(["--models", "GAN,WGANGP", "--data", "ring8", "--seeds", "2", "--iterations", "10",
                             "--num-points", "500", "--num-eval", "300", "--g-hidden", "16,16", "--d-hidden", "16",
                             "--batched-seeds", "--out", str(out)])
    specs = bench.make_specs(args)
    assert [len(group) for group in bench.seed_groups(specs)] == [2, 2]
    logged = []
    batched = bench.run_all(specs, 1, log=logged.append, batched_seeds=args.batched_seeds)
    separate = bench.run_all(specs, 1, log=lambda line: None)
    assert len(logged) == len(batched) == len(separate) == 4

    def by_run(results):
        return sorted(results, key=lambda r: (r["spec"].model, r["spec"].seed))

    for got, want in zip(by_run(batched), by_run(separate)):
        assert got["spec"] == want["spec"] and got["g_steps"] == want["g_steps"]
        assert np.allclose(got["samples"], want["samples"], atol=1e-5)
        for which in ("raw", "ema"):
            assert got[which]["modes"] == want[which]["modes"]
            assert got[which]["high_quality"] == pytest.approx(want[which]["high_quality"])
    assert not np.allclose(by_run(batched)[0]["samples"], by_run(batched)[1]["samples"])  # two seeds of GAN

    def without_times(results):
        return [line.rsplit("|", 2)[0] for line in bench.markdown_table(bench.summarise(results, "ring8"),
                                                                         "ring8").splitlines()]

    assert without_times(batched) == without_times(separate)
    batched[0]["load"] = [1.0]
    text = bench.write_report(batched, args, "python benchmarks/mode_collapse.py --batched-seeds", 1.0,
                              (1.0, 1.0, 1.0), out, {})
    assert "| GAN | 10 (10) |" in text and "| WGANGP | 10 (2) |" in text
    assert "`--batched-seeds`: the seeds of each model and data set trained as one batched model" in text


def test_batched_seeds_flag_names_the_models_it_cannot_batch(bench, capsys):
    with pytest.raises(SystemExit):
        bench.parse_args(["--batched-seeds", "--models", "GAN,SNGAN,MADGAN"])
    error = capsys.readouterr().err
    assert "--batched-seeds does not support SNGAN, MADGAN; it supports GAN, LSGAN, WGAN, WGANGP" in error


def test_cache_resumes_an_interrupted_benchmark_without_retraining(bench, tmp_path, monkeypatch):
    out, cache, plots = tmp_path / "RESULTS.md", tmp_path / "runs.pkl", tmp_path / "plots"
    common = ["--data", "ring8", "--seeds", "2", "--iterations", "5", "--num-points", "300", "--num-eval", "200",
              "--g-hidden", "8", "--d-hidden", "8", "--batched-seeds", "--out", str(out), "--plots", str(plots),
              "--cache", str(cache)]
    bench.main(["--models", "GAN"] + common)
    first = bench.load_cache(cache)
    assert sorted((s.model, s.seed) for s in first["results"]) == [("GAN", 0), ("GAN", 1)] and first["wall"] > 0
    trained = []
    real = bench.run_seeds_batched
    monkeypatch.setattr(bench, "run_seeds_batched", lambda specs: trained.append(specs) or real(specs))
    bench.main(["--models", "GAN,PacGAN"] + common)  # "interrupted" after GAN: only PacGAN trains now
    assert [[s.model for s in group] for group in trained] == [["PacGAN", "PacGAN"]]
    text = out.read_text()
    assert "| GAN | 5 (5) |" in text and "| PacGAN | 5 (5) |" in text
    cached_gan = [r for s, r in bench.load_cache(cache)["results"].items() if s.model == "GAN"]
    assert all(np.array_equal(r["samples"], first["results"][r["spec"]]["samples"]) for r in cached_gan)


def test_gap_to_published_rows_is_ours_minus_theirs(bench):
    spec = bench.RunSpec(model="PacGAN", kind="ring8", seed=0, iterations=100)
    metrics = {"modes": 6, "high_quality": 0.5, "reverse_kl": 0.17}
    results = [{"spec": spec, "raw": metrics, "g_steps": 100, "fit_seconds": 1.0},
               {"spec": bench.RunSpec(model="LSGAN", kind="ring8", seed=0, iterations=100), "raw": metrics,
                "g_steps": 100, "fit_seconds": 1.0}]
    text = bench.gap_to_published(results, ["ring8"])
    assert "| PacGAN (PacGAN2) | ring8 | 100 | 6.0 / 7.9 ± 0.1 (-1.9) | 50.0 / 95.6 ± 2.0 (-45.6) | 0.17 / 0.07 ± 0.03 (+0.10) |" in text
    assert "LSGAN" not in text  # no published row to compare with


def test_notes_go_in_the_report_but_not_in_its_command(bench, tmp_path):
    out = tmp_path / "RESULTS.md"
    argv = ["--models", "GAN", "--data", "ring8", "--seeds", "1", "--iterations", "3", "--num-points", "200",
            "--num-eval", "100", "--g-hidden", "8", "--d-hidden", "8", "--no-ema", "--out", str(out),
            "--plots", str(tmp_path), "--section", "s", "--note", "first line", "--note=second line"]
    bench.main(argv)
    text = out.read_text()
    assert "- first line" in text and "- second line" in text
    assert "--note" not in text.split("```sh", 1)[1].split("```", 1)[0]


def test_paired_verdict_reached_beyond_two_standard_errors_worse_below_and_not_reached_between(bench):
    # model 10, 12 (mean 11, s^2 2); baseline 5, 7 (mean 6, s^2 2): SE = sqrt(2/2 + 2/2) = 1.414..., diff 5
    better = bench.paired_verdict([10.0, 12.0], [5.0, 7.0])
    assert better["difference"] == pytest.approx(5.0) and better["standard_error"] == pytest.approx(math.sqrt(2))
    assert (better["model_mean"], better["baseline_mean"], better["verdict"]) == (11.0, 6.0, "reached")
    within = bench.paired_verdict([7.0, 9.0], [5.0, 7.0])  # diff 2 < 2 SE = 2.83
    assert within["difference"] == pytest.approx(2.0) and within["verdict"] == "not reached"
    worse = bench.paired_verdict([5.0, 7.0], [10.0, 12.0])
    assert worse["difference"] == pytest.approx(-5.0) and worse["verdict"] == "worse"
    just_within = bench.paired_verdict([8.0, 10.0], [5.0, 7.0])  # diff 3 > 2.83: reached
    assert just_within["verdict"] == "reached"
    assert bench.paired_verdict([1.0, 1.0], [1.0, 1.0])["verdict"] == "not reached"  # equal, no spread
    # section veegan_unit's ring8 modes: 7, 7, 7 against 8, 7, 8: -2/3 against exactly 2 SE = 2/3, which float
    # rounding put on the "worse" side before the rule's tolerance: a tie at the boundary is not beyond it
    tie = bench.paired_verdict([7.0, 7.0, 7.0], [8.0, 7.0, 8.0])
    assert tie["difference"] == pytest.approx(-2 / 3) and 2 * tie["standard_error"] == pytest.approx(2 / 3)
    assert tie["verdict"] == "not reached"
    assert bench.paired_verdict([7.0, 7.0, 7.0], [8.0, 8.0, 8.0])["verdict"] == "worse"  # no spread, below
    with pytest.raises(ValueError, match="need 2 or more seeds on each side, got 1 and 2"):
        bench.paired_verdict([1.0], [1.0, 2.0])


SEEDS_SECTION = """## s

### Ours: 2D-ring (8 modes, std 0.01)

| Model | Iterations (G steps) | Modes (of 8) | High-quality % | Reverse KL | Seeds with all modes | Per seed: modes / HQ % | Fit s / run |
|---|---:|---:|---:|---:|---:|---:|---:|
| GAN | 10 (10) | x | x | x | 0/3 | 6/10, 6/12, 6/11 | 1 |
| LSGAN | 10 (10) | x | x | x | 0/3 | 6/30, 6/32, 6/31 | 1 |
| WGAN | 10 (2) | x | x | x | 0/3 | 2/10, 3/12, 2/11 | 1 |

EMA generator (decay 0.999), same runs and noise:

| Model | Iterations (G steps) | Modes (of 8) | High-quality % | Reverse KL | Seeds with all modes | Per seed: modes / HQ % | Fit s / run |
|---|---:|---:|---:|---:|---:|---:|---:|
| GAN | 10 (10) | x | x | x | 0/3 | 1/1, 1/1, 1/1 | 1 |

### Ours: 2D-grid (25 modes, std 0.05)

| Model | Iterations (G steps) | Modes (of 25) | High-quality % | Reverse KL | Seeds with all modes | Per seed: modes / HQ % | Fit s / run |
|---|---:|---:|---:|---:|---:|---:|---:|
| GAN | 10 (10) | x | x | x | 0/3 | 20/10, 21/12, 22/11 | 1 |
| LSGAN | 10 (10) | x | x | x | 0/3 | 20/10, 21/12, 22/11 | 1 |
| WGAN | 10 (2) | x | x | x | 0/3 | 20/10, 21/12, 22/11 | 1 |
"""


def test_verdicts_from_a_section_read_its_raw_per_seed_column_and_name_partial_and_worse(bench, tmp_path):
    ring = bench.per_seed_values_of_section(SEEDS_SECTION, "ring8")
    assert ring["LSGAN"] == {"modes": [6.0, 6.0, 6.0], "high_quality": [30.0, 32.0, 31.0]}
    assert ring["GAN"]["high_quality"] == [10.0, 12.0, 11.0]  # the raw table, not the EMA one
    out = tmp_path / "RESULTS.md"
    out.write_text(f"# r\n\n<!-- begin: seeds -->\n{SEEDS_SECTION}<!-- end: seeds -->\n")
    bench.main(["--verdicts-from", "seeds", "--versus", "LSGAN=GAN,WGAN=GAN", "--section", "v", "--title", "V",
                "--out", str(out)])
    text = out.read_text()
    assert SEEDS_SECTION in text  # the source section is kept as it was
    assert "| LSGAN vs GAN | ring8 | high-quality % | 31.0 | 11.0 | +20.0 | 1.6 | reached |" in text
    assert "| LSGAN vs GAN | grid25 | high-quality % | 11.0 | 11.0 | +0.0 | 1.6 | not reached |" in text
    assert "| WGAN vs GAN | ring8 | modes captured | 2.3 | 6.0 | -3.7 | 0.7 | not reached (worse) |" in text
    assert "measured as high-quality %: **reached on ring8 only**." in text
    assert "measured as modes captured: **not reached** (worse on ring8)." in text
    assert "--verdicts-from seeds --versus LSGAN=GAN,WGAN=GAN" in text  # the command it quotes


def test_versus_names_the_pairs_it_knows_and_needs_them_for_verdicts_from(bench, capsys):
    assert [(p.model, p.baseline, p.measure) for p in bench.versus_pairs("UnrolledGAN=GAN, LSGAN=GAN")] == [
        ("UnrolledGAN", "GAN", "modes"), ("LSGAN", "GAN", "high_quality")]
    with pytest.raises(SystemExit):
        bench.parse_args(["--versus", "GAN=LSGAN"])
    assert "--versus: unknown pair 'GAN=LSGAN'; choose from LSGAN=GAN, WGAN=GAN" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.parse_args(["--verdicts-from", "mode_collapse_seeds10"])
    assert "--verdicts-from needs --versus MODEL=BASELINE[,...]" in capsys.readouterr().err


def test_batch_supported_batches_the_seeds_of_the_supported_models_only(bench):
    args = bench.parse_args(["--models", "GAN,EBGAN,WGANGP", "--data", "ring8", "--seeds", "2", "--iterations", "4",
                             "--batch-supported"])
    assert args.batched == ["GAN", "WGANGP"]
    tasks = bench.tasks_of(bench.make_specs(args), args.batched)
    assert [(batched, [(s.model, s.seed) for s in specs]) for batched, specs in tasks] == [
        (True, [("GAN", 0), ("GAN", 1)]), (False, [("EBGAN", 0)]), (False, [("EBGAN", 1)]),
        (True, [("WGANGP", 0), ("WGANGP", 1)])]
    assert all(batched is False for batched, _ in bench.tasks_of(bench.make_specs(args), False))


def _budget_results(bench, budgets):
    return [{"spec": bench.RunSpec(model=model, kind=kind, seed=0, iterations=iterations)}
            for model, kind, iterations in budgets]


def test_budget_sentence_calls_short_only_the_rows_below_their_own_recipe(bench):
    # the recipes: GAN and VEEGAN 10,000, WGANGP 25,000, FisherGAN 20,000 (experiments/<model>/ring8.yaml)
    at_recipes = bench.recipe_budget_sentence(_budget_results(
        bench, [("GAN", "ring8", 10_000), ("VEEGAN", "grid25", 10_000), ("WGANGP", "ring8", 25_000),
                ("FisherGAN", "ring8", 20_000)]))
    assert at_recipes == ("The committed recipes (`max_steps` of experiments/<model>/<data>.yaml) train GAN 10,000, "
                          "VEEGAN 10,000, WGANGP 25,000, FisherGAN 20,000 iterations. Every run here trains its own "
                          "recipe's budget: these are **not** short-budget results.")
    short = bench.recipe_budget_sentence(_budget_results(bench, [("GAN", "ring8", 1500), ("WGANGP", "ring8", 1500)]))
    assert short.endswith("Every run here is below its recipe's budget: these are short-budget results.")
    # 10,000 everywhere: at GAN's recipe, below WGANGP's (25,000), above nothing
    mixed = bench.recipe_budget_sentence(_budget_results(
        bench, [("GAN", "ring8", 10_000), ("GAN", "grid25", 10_000), ("WGANGP", "ring8", 10_000),
                ("EBGAN", "ring8", 12_000)]))
    assert mixed.endswith("Rows below their recipe's budget (short-budget rows): WGANGP (ring8: 10,000 of 25,000); "
                          "at their recipe's budget: GAN (ring8, grid25); above their recipe's budget: "
                          "EBGAN (ring8: 12,000 of 10,000).")
    assert "Budget: no run below its recipe's budget." in bench.budget_statement(
        [dict(result, fit_seconds=1.0) for result in _budget_results(bench, [("GAN", "ring8", 10_000)])])
    assert "**below the committed recipes' budgets** (GAN 10,000 iterations)" in bench.budget_statement(
        [dict(result, fit_seconds=1.0) for result in _budget_results(bench, [("GAN", "ring8", 100)])])


def test_report_at_the_recipes_budgets_does_not_call_itself_short(bench, tmp_path):
    out = tmp_path / "RESULTS.md"
    args = bench.parse_args(["--models", "GAN,WGANGP", "--data", "ring8", "--seeds", "1", "--iterations", "10000",
                             "--iterations-for", "WGANGP=25000", "--no-ema", "--section", "s", "--out", str(out)])
    metrics = {"modes": 8, "high_quality": 0.5, "reverse_kl": 0.1}
    results = [dict(result, raw=metrics, g_steps=1, fit_seconds=1.0, load=[1.0]) for result in _budget_results(
        bench, [("GAN", "ring8", 10_000), ("WGANGP", "ring8", 25_000)])]
    text = bench.write_report(results, args, "python benchmarks/mode_collapse.py", 1.0, (1.0, 1.0, 1.0), out, {})
    assert "**10000 iterations (batches of 100)** per run, except **WGANGP: 25000**." in text
    assert "short-budget results" not in text.replace("**not** short-budget results", "")
    assert "Every run here trains its own recipe's budget: these are **not** short-budget results." in text


def test_set_changes_the_recipe_of_its_model_only_and_is_part_of_the_run_key(bench):
    import pickle

    args = bench.parse_args(["--models", "GAN,VEEGAN", "--data", "ring8", "--seeds", "1", "--g-hidden", "8",
                             "--d-hidden", "8", "--set", "VEEGAN.reconstructor=unit",
                             "--set", "VEEGAN.reconstruction_weight=0.5"])
    specs = {spec.model: spec for spec in bench.make_specs(args)}
    assert specs["VEEGAN"].overrides == (("reconstruction_weight", "0.5"), ("reconstructor", "unit"))
    assert specs["GAN"].overrides == ()
    kwargs = bench.model_kwargs(specs["VEEGAN"])
    assert kwargs["reconstructor"] == "unit" and kwargs["reconstruction_weight"] == 0.5
    model = bench.build_model(specs["VEEGAN"])
    assert model.hparams.reconstructor == "unit" and model.hparams.reconstruction_weight == 0.5
    plain_model = bench.build_model(dataclasses_replace(specs["VEEGAN"], overrides=()))
    assert plain_model.hparams.reconstructor == "gaussian" and plain_model.hparams.reconstruction_weight == 1.0
    # The key: the changed run is not the plain recipe's run; the unchanged GAN run keeps the plain key,
    # also as a run cached before the field existed (no "overrides" in its pickled state).
    plain = dataclasses_replace(specs["VEEGAN"], overrides=())
    assert specs["VEEGAN"] != plain and {specs["VEEGAN"]: 1}.get(plain) is None
    old = dataclasses_replace(specs["GAN"])
    object.__delattr__(old, "overrides")
    assert pickle.loads(pickle.dumps(old)) == specs["GAN"] and hash(old) == hash(specs["GAN"])


def dataclasses_replace(spec, **changes):
    import dataclasses

    return dataclasses.replace(spec, **changes)


def test_set_names_the_key_the_value_and_what_is_accepted(bench, capsys):
    with pytest.raises(SystemExit):
        bench.parse_args(["--models", "VEEGAN", "--data", "ring8", "--set", "VEEGAN.recon=unit"])
    message = capsys.readouterr().err
    assert "'recon'" in message and "'unit'" in message and "accepted: " in message and "reconstructor" in message
    with pytest.raises(SystemExit):
        bench.parse_args(["--models", "VEEGAN", "--data", "ring8", "--set", "GAN.lr_g=0.1"])
    assert "'GAN' is not in --models" in capsys.readouterr().err


def test_cached_plain_run_is_not_taken_for_a_changed_one_and_the_section_says_which_rows_changed(
        bench, tmp_path, monkeypatch):
    out, cache, plots = tmp_path / "RESULTS.md", tmp_path / "runs.pkl", tmp_path / "plots"
    common = ["--models", "GAN", "--data", "ring8", "--seeds", "2", "--iterations", "5", "--num-points", "300",
              "--num-eval", "200", "--g-hidden", "8", "--d-hidden", "8", "--batched-seeds", "--out", str(out),
              "--plots", str(plots), "--cache", str(cache), "--section", "s"]
    bench.main(common)
    assert "Recipe changes" not in out.read_text()
    trained = []
    real = bench.run_seeds_batched
    monkeypatch.setattr(bench, "run_seeds_batched", lambda specs: trained.append(specs) or real(specs))
    bench.main(common + ["--set", "GAN.lr_g=0.05"])
    assert [[s.overrides for s in group] for group in trained] == [[(("lr_g", "0.05"),)] * 2]
    runs = bench.load_cache(cache)["results"]
    assert len(runs) == 4
    for spec, result in runs.items():  # the change trained: same seed, other samples
        if spec.overrides:
            plain = runs[dataclasses_replace(spec, overrides=())]
            assert not np.array_equal(result["samples"], plain["samples"])
    text = out.read_text()
    assert "- Recipe changes (`--set`): every **GAN** row (all seeds and data sets) trains its recipe with " \
           "`lr_g=0.05`." in text and "Plain recipes" not in text
    assert "--set GAN.lr_g=0.05" in text
