"""benchmarks/gawwn_boxes.py: the section states the budget against the recipes' from the numbers."""

from __future__ import annotations

import gawwn_boxes as benchmark


def test_budget_note_says_below_only_when_below_a_recipe():
    recipes, batches = {"GAWWN": 3000, "GANINTCLS": 3000}, {"GAWWN": 16, "GANINTCLS": 64}
    assert (benchmark.budget_note(3000, recipes, batches)
            == "the recipes' max_steps: GAWWN 3000, GANINTCLS 3000; batch 16 for both, not GANINTCLS's 64")
    assert benchmark.budget_note(3000, recipes, {"GAWWN": 16, "GANINTCLS": 16}).endswith("GANINTCLS 3000")
    below = benchmark.budget_note(800, recipes, batches)
    assert below.startswith("**below the recipes' budget**") and "GAWWN 3000, GANINTCLS 3000" in below
    assert "below" in benchmark.budget_note(3000, {"GAWWN": 3000, "GANINTCLS": 4000}, batches)


def test_verdict_compares_the_gain_with_the_seed_spread():
    rows = {"GAWWN": [{"iou_mean": 0.7}, {"iou_mean": 0.6}], "GANINTCLS": [{"iou_mean": 0.2}, {"iou_mean": 0.3}]}
    assert benchmark.verdict(rows) == ("Verdict: **reached**: GAWWN's drawn digits overlap the asked box more than "
                                       "the text-only model's, by more than the seed spread (mean IoU +0.400, seed "
                                       "spread 0.050).")
    rows["GAWWN"] = [{"iou_mean": 0.31}, {"iou_mean": 0.21}]
    assert "within the seed spread" in benchmark.verdict(rows)
    assert benchmark.verdict({"GAWWN": rows["GAWWN"]}) == "Verdict: both models are needed."
