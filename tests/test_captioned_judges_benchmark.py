"""benchmarks/captioned_judges.py: its section from cached checks, and a missing cache."""

import captioned_judges
import pytest


def fake_check() -> dict:
    """A check as ``CaptionJudges.check()`` returns it, each number distinct."""
    check = {"image_size": 32, "seed": 0, "num_heldout": 110, "num_unseen": 40, "candidates": 100,
             "r_precision": 0.701, "r_precision_shuffled": 0.012, "r_precision_training_split": 0.655,
             "fit_seconds": 60.0, "fit_cpu_seconds": 30.0,
             "fit_args": {"scenes": 1, "digit_epochs": 2, "matcher_epochs": 3, "batch_size": 64, "lr": 2e-3,
                          "limit": 110}}
    for i, (key, _) in enumerate(captioned_judges.ROWS):
        check.update({key: 0.9 + i / 100, f"{key}_seen": 0.8 + i / 100, f"{key}_unseen": 0.7 + i / 100})
    return check


def test_the_section_reports_every_judge_seen_and_unseen_and_the_r_precision():
    check = fake_check()
    text = captioned_judges.report({"seed0/32px": check}, 0, (32,), "python benchmarks/captioned_judges.py")
    assert "on the 110 real held-out images (40 of them" in text
    assert "| digit (CNN on training-split canvases) | 0.900 | 0.800 | 0.700 |" in text
    assert "| ink colour (nearest palette colour of the most saturated pixels) | 0.910 | 0.810 | 0.710 |" in text
    assert "| real held-out images, their own captions | 0.701 |" in text
    assert "| real training-split images (unseen by the matcher), their own captions | 0.655 |" in text
    assert "32 px: 0.5 CPU-minutes (60 s wall), 1 scenes per training digit, 2 CNN epochs, 3 matcher epochs" in text
    assert "python benchmarks/captioned_judges.py" in text
    with pytest.raises(SystemExit, match="no checks cached"):
        captioned_judges.report({"seed0/32px": check}, 1, (32,), "python benchmarks/captioned_judges.py")
