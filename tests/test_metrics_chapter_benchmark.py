"""benchmarks/metrics_chapter.py without its training: the reference checks on tiny cases (every metric against
an independent reference), the generators of known or small support, and the report (where Parzen and AIS
order generators oppositely, which generator copies)."""

from __future__ import annotations

import argparse
import math

import pytest
import torch
from conftest import BENCHMARKS, benchmark_script, tiny_dcgan


@pytest.fixture
def chapter(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the script imports report.py from its own folder
    with benchmark_script("metrics_chapter") as module:
        yield module


def test_shrunk_noise_collapses_the_samples_and_keeps_the_latent_model(chapter):
    model = tiny_dcgan()
    collapsed = chapter.ShrunkNoise(model, 0.05)
    rng = torch.Generator().manual_seed(0)
    spread = model.sample(64, rng=rng).std(dim=0).mean()
    shrunk = collapsed.sample(64, rng=torch.Generator().manual_seed(0))
    assert shrunk.shape == (64, 1, 28, 28) and shrunk.std(dim=0).mean() < 0.2 * spread
    z = torch.randn(3, model.latent_dim)
    assert torch.equal(collapsed.generate(z, net=model.generator), model.generate(0.05 * z, net=model.generator))
    assert collapsed.conditions() == () and not collapsed.translates


def test_fixed_latents_has_exactly_k_outputs_and_training_copies_return_training_images(chapter):
    model = tiny_dcgan()
    restricted = chapter.FixedLatents(model, 5, seed=3)
    samples = restricted.sample(60, rng=torch.Generator().manual_seed(0))
    assert samples.shape == (60, 1, 28, 28) and torch.unique(samples.flatten(1), dim=0).shape[0] == 5
    assert torch.equal(restricted.latents, model.sample_noise(5, rng=torch.Generator().manual_seed(3)))
    images = torch.randn(7, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    copies = chapter.TrainingCopies(images).sample(30, rng=torch.Generator().manual_seed(0))
    assert all(any(torch.equal(copy, image) for image in images) for copy in copies)
    assert torch.unique(copies.flatten(1), dim=0).shape[0] == 7  # drawn with replacement: all 7 in 30 draws


def test_reference_checks_on_tiny_cases_agree_with_their_references(chapter):
    """Every metric against its independent reference (numpy, scipy, closed forms) on the tiny cases: each row
    with a tolerance within it, and AIS closer to the exact log-likelihood with more intermediate distributions."""
    threads = torch.get_num_threads()
    rows = chapter.reference_checks("tiny")
    assert torch.get_num_threads() == threads  # restored
    assert {row["metric"] for row in rows} == {"mmd", "wasserstein", "parzen", "mode_score", "ais", "birthday",
                                               "memorization", "fcn"}
    checked = [row for row in rows if row["tolerance"] is not None]
    assert len(checked) >= 20
    for row in checked:
        assert abs(row["value"] - row["reference"]) <= row["tolerance"], row
    ais = [row for row in rows if row["metric"] == "ais"]
    short, long = ais[0]["value"] - ais[0]["reference"], ais[-1]["value"] - ais[-1]["reference"]
    assert short < -1.0 and abs(long) < 0.05  # a lower bound at T = 10, within 0.05 nats at T = 1,000
    text = chapter.reference_report(rows, 1.0, "python benchmarks/metrics_chapter.py")
    assert f"{len(checked)} of {len(checked)} rows with a tolerance agree." in text
    assert "translate by \\|m\\| = 1" in text  # a cell's own | escaped, the table stays a table
    # a metric that disagrees is shown as such
    wrong = dict(rows[0], value=rows[0]["reference"] + 1.0)
    failing = chapter.reference_report([wrong] + rows[1:], 1.0, "python benchmarks/metrics_chapter.py")
    assert "| **NO** |" in failing and f"{len(checked) - 1} of {len(checked)} rows with a tolerance agree: mmd" in failing


def run(key: str, parzen: float, ais: float | None, support: float, fraction: float = 0.05) -> dict:
    values = {"key": key, "what": "w", "birthday_support": support, "birthday_real_support": 40000.0,
              "birthday_batch_size": 20, "birthday_duplicate_rate": 0.5, "birthday_threshold": 0.9,
              "birthday_rates": {"10": 0.1, "20": 0.5}, "mmd": 0.01, "memorization_ratio": 1.0,
              "memorization_fraction": fraction, "digits_parzen_log_likelihood": -200.0, "digits_parzen_std_error": 1.0,
              "digits_parzen_sigma": 0.5, "pixel_parzen_log_likelihood": parzen, "pixel_parzen_std_error": 2.0,
              "pixel_parzen_sigma": 0.4, "num_samples": 2000, "num_real": 500, "ais_sigma": 0.2, "ais_steps": 500,
              "ais_chains": 8, "ais_leapfrog_steps": 5, "seconds": 1.0}
    if ais is not None:
        values.update({"ais_log_likelihood": ais, "ais_std_error": 3.0, "ais_num_real": 32})
    return values


def test_report_tables_and_where_the_two_likelihoods_disagree(chapter):
    runs = {"DCGAN, 1 iterations": run("DCGAN, 1 iterations", -100.0, -900.0, 3000.0),
            "DCGAN, 2 iterations": run("DCGAN, 2 iterations", -150.0, -800.0, math.inf),
            "collapsed": run("collapsed", -300.0, -2000.0, 20.0),
            "training copies": run("training copies", 50.0, None, 4000.0, fraction=0.98)}
    names = list(runs)
    runs["_ais_schedule"] = {str(steps): {"key": "DCGAN, 2 iterations", "ais_steps": steps, "ais_num_real": 32,
                                          "ais_log_likelihood": value, "ais_std_error": 3.0}
                             for steps, value in ((500, -900.0), (100, -950.0))}
    text = chapter.report(runs, names, argparse.Namespace(note="a note", points=50), 600.0)
    assert "| DCGAN, 1 iterations | w | 3,000 | 20 (0.50) | 0.05 (1.00) | -100.0 ± 2.0 (σ 0.4) |" in text
    assert "| DCGAN, 2 iterations | w | inf (no duplicate) |" in text
    assert "| training copies | w | 4,000 | 20 (0.50) | **0.98 (1.00) copies** |" in text
    assert "n/a (no latent density)" in text
    runs["collapsed"]["birthday_duplicate_rate"] = 1.0
    bounded = chapter.report(runs, names, argparse.Namespace(note=None, points=50), 600.0)
    assert "| collapsed | w | at most 20 (rate 1 at the smallest s) |" in bounded
    assert ("Pairs the two order oppositely: DCGAN, 1 iterations vs DCGAN, 2 iterations (Parzen +50 ± 3; "
            "AIS -100 ± 4)." in text)
    assert "How far the collapsed generator falls below DCGAN, 2 iterations: 150 nats by Parzen" in text
    assert "T = 100: -950.0 ± 3.0, T = 500: -900.0 ± 3.0: still rising with T" in text
    assert "the deliberately small generators 20 (separated: every one below every trained DCGAN)" in text
    assert "above the best DCGAN's -100.0 (Theis et al.'s warning" in text
    assert "Flagged as copying: training copies." in text
    assert "Training: 600 s" in text and text.rstrip().endswith("a note")
    same = chapter.report({"A": run("A", -100.0, -800.0, 1.0), "B": run("B", -150.0, -900.0, 2.0)}, ["A", "B"],
                          argparse.Namespace(note=None, points=50), 0.0)
    assert "order every pair of these generators the same way" in same and "Flagged as copying: none." in same


def test_report_only_rebuilds_both_sections_from_the_cache_without_training(chapter, monkeypatch, tmp_path):
    import json

    names = ["DCGAN, 1000 iterations", "DCGAN, 5000 iterations"]
    cache = {name: run(name, -500.0, 200.0, math.inf) for name in names}
    cache["_references"] = {"seconds": 3.0, "rows": [
        {"metric": "mmd", "case": "c", "value": 1.0, "reference": 1.0, "against": "numpy", "tolerance": 1e-9}]}
    cache["_training"] = {"seconds": 210.0, "steps": 5000}
    (tmp_path / "runs.json").write_text(json.dumps(cache))
    monkeypatch.setattr(chapter, "CACHE", tmp_path / "runs.json")

    def never(*args, **kwargs):
        raise AssertionError("--report-only trained or evaluated")

    monkeypatch.setattr(chapter, "train", never)
    monkeypatch.setattr(chapter, "evaluate", never)
    monkeypatch.setattr(chapter, "reference_checks", never)
    out = tmp_path / "RESULTS.md"
    chapter.main(["--report-only", "--out", str(out)])
    text = out.read_text()
    assert "<!-- begin: metrics_chapter_references -->" in text and "1 of 1 rows with a tolerance agree." in text
    assert "| DCGAN, 5000 iterations | w | inf (no duplicate) |" in text and "Training: 210 s" in text
    # both sections quote the command, without --report-only (it only rebuilds the report)
    assert text.count(f"`python benchmarks/metrics_chapter.py --out {out}`") == 2
    assert json.loads((tmp_path / "runs.json").read_text()) == cache  # the cache is left as it was
