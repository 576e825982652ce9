"""benchmarks/vanishing_gradients.py end to end on a few digits: readings, verdicts, section, picture."""

from __future__ import annotations

import json

import vanishing_gradients


def test_a_tiny_run_writes_readings_a_verdict_per_cost_and_the_picture(tmp_path, capsys):
    cache, out = tmp_path / "vg" / "results.json", tmp_path / "RESULTS.md"
    argv = ["--epochs", "1", "--alone", "20", "--every", "10", "--train-size", "128", "--workers", "1",
            "--cache", str(cache), "--out", str(out)]
    vanishing_gradients.main(argv)
    (run,) = json.loads(cache.read_text()).values()
    assert run["freeze_g_at"] == 2 and [r["iteration"] for r in run["readings"]] == [2, 12, 22]
    assert all(r["minimax"] > 0 and r["nonsaturating"] > 0 for r in run["readings"])
    section = out.read_text()
    assert "| 1 epoch(s) (2 it.) | minimax |" in section and "| 1 epoch(s) (2 it.) | nonsaturating |" in section
    assert "falls below 1/10: " in section and "keeps at least 1/2: " in section
    assert "](vg/norms.png)" in section and (tmp_path / "vg" / "norms.png").stat().st_size > 1000
    capsys.readouterr()
    vanishing_gradients.main(argv)  # cached: nothing trained, the same section
    assert "1 runs, 1 cached, 0 to train" in capsys.readouterr().out and out.read_text() == section
