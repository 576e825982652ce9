"""benchmarks/spade.py: its tiny path runs end to end and the report states the numbers, the budget
and a verdict that follows the numbers."""

from __future__ import annotations

import json

import pytest

import spade as bench


def results(spade_miou: float, pix_miou: float) -> dict:
    row = {"fit_seconds": 12.0, "pixel_acc": 0.9, "iou": [], "parameters_g": 1_000_000}
    return {"steps": 300, "num_train": 3500, "num_judge": 750, "num_eval": 750,
            "real": {"miou": 0.8, "pixel_acc": 0.97},
            "models": {"SPADE": {**row, "miou": spade_miou}, "Pix2Pix": {**row, "miou": pix_miou}}}


def test_verdict_follows_the_numbers(tmp_path):
    assert "claim (SPADE above pix2pix) reached" in bench.verdict(results(0.6, 0.5))
    assert "not reached" in bench.verdict(results(0.4, 0.5))
    partial = results(0.6, 0.5)
    del partial["models"]["Pix2Pix"]
    assert "not measured" in bench.verdict(partial)
    text = bench.write_report(results(0.612, 0.5), "python benchmarks/spade.py", tmp_path / "R.md")
    assert "SPADE 61.2 vs pix2pix 50.0 (real images 80.0), 300 iterations each" in text
    assert "| SPADE | 61.2 | 90.0 | 1.00 M | 12 s (12 s) |" in text and "PUBLISHED" in text
    assert "<!-- begin: spade -->" in (tmp_path / "R.md").read_text()


def test_tiny_run_and_report_only(tmp_path):
    out, raw = tmp_path / "RESULTS.md", tmp_path / "results.json"
    bench.main(["--tiny", "--steps", "1", "--out", str(out), "--results", str(raw)])
    saved = json.loads(raw.read_text())
    assert set(saved["models"]) == {"SPADE", "Pix2Pix"} and saved["steps"] == 1
    assert all(0.0 <= m["miou"] <= 1.0 for m in saved["models"].values())
    first = out.read_text()
    out.unlink()
    bench.main(["--report-only", "--out", str(out), "--results", str(raw)])
    assert out.read_text() == first


def test_bad_arguments():
    with pytest.raises(SystemExit):
        bench.parse_args(["--models", "CycleGAN"])
    with pytest.raises(SystemExit):
        bench.parse_args(["--steps", "0"])
