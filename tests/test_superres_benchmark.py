"""benchmarks/superres.py: its tiny path runs (seconds) and the report's verdicts follow the numbers."""

from __future__ import annotations

import pytest
import torch

import superres


def numbers(psnr, ssim, hf_ratio, accuracy=None):
    out = {"psnr": psnr, "ssim": ssim, "hf_share": 0.1 * hf_ratio, "hf_ratio": hf_ratio}
    return out if accuracy is None else {**out, "accuracy": accuracy}


def fake_results(srresnet_psnr=27.0, srgan_psnr=26.0, srgan_hf=0.9, srgan_acc=0.8):
    return {
        "command": "python benchmarks/superres.py", "machine": "cpu", "settings": {"budget": "tiny"},
        "photos": {"content_loss": "mse", "fit_seconds": 60.0, "heldout_crops": 64, "numbers": {
            "bicubic": numbers(26.0, 0.70, 0.3), "SRResNet": numbers(srresnet_psnr, 0.75, 0.5),
            "SRGAN": numbers(srgan_psnr, 0.72, srgan_hf), "HR": numbers(None, 1.0, 1.0)}},
        "digits": {"content_loss": "mse", "fit_seconds": 30.0, "heldout": 500, "train": 4500, "numbers": {
            "bicubic": numbers(14.0, 0.5, 0.1, 0.6), "SRResNet": numbers(16.0, 0.6, 0.4, 0.7),
            "SRGAN": numbers(15.5, 0.55, 0.8, srgan_acc), "HR": numbers(float("inf"), 1.0, 1.0, 0.97)}},
    }


def test_verdicts_follow_the_numbers():
    text = "\n".join(superres.verdicts(fake_results()))
    assert "SRResNet above bicubic on both" in text and text.count("**reached**") == 3
    worse = "\n".join(superres.verdicts(fake_results(srresnet_psnr=25.0, srgan_psnr=28.0, srgan_hf=0.8,
                                                      srgan_acc=0.5)))
    assert worse.count("**not reached**") == 1 and "**partly reached**" in worse  # SRGAN: spectrum closer only
    lines = superres.verdicts(fake_results(srresnet_psnr=25.0))
    assert "**not reached**" in lines[0] and "25.00 vs 26.00" in lines[0]


def test_report_states_budget_loss_and_published_numbers(tmp_path):
    out = tmp_path / "RESULTS.md"
    superres.write_report(fake_results(), out)
    text = out.read_text()
    assert "<!-- begin: superres -->" in text and "python benchmarks/superres.py" in text
    assert "MSE content loss" in text and "PUBLISHED" in text and "| SRGAN | 26.00 |" in text
    assert "accuracy" in text and "80.0%" in text


def test_high_frequency_share():
    torch.manual_seed(0)
    smooth = torch.cos(torch.arange(32) * 2 * torch.pi / 16).view(1, 1, 1, 32).expand(2, 3, 32, 32)  # 1/16 cycle per px
    noise = torch.rand(2, 3, 32, 32) * 2 - 1
    low, high = superres.high_frequency_share(smooth, 4), superres.high_frequency_share(noise, 4)
    assert (low < 0.05).all() and (high > 0.6).all()  # white noise: 1 - (1/4)^2 of its power is high
    blurred = torch.nn.functional.avg_pool2d(noise, 3, 1, 1)
    assert (superres.high_frequency_share(blurred, 4) < high).all()


def test_tiny_photo_run_writes_results_grid_and_section(tmp_path, monkeypatch):
    monkeypatch.setattr(superres, "OUT", tmp_path / "superres")
    results = tmp_path / "results.json"
    argv = ["--parts", "photos", "--pretrain-steps", "2", "--gan-steps", "1", "--heldout-crops", "4",
            "--batch-size", "4", "--g-width", "4", "--num-blocks", "1", "--d-width", "4", "--d-hidden", "8",
            "--out", str(tmp_path / "RESULTS.md"), "--results", str(results)]
    superres.main(argv)
    assert (tmp_path / "superres" / "photos.png").is_file()
    text = (tmp_path / "RESULTS.md").read_text()
    assert "SRResNet vs bicubic on 4 held-out photo crops" in text
    superres.main([*argv, "--report-only"])  # rebuilt from the cache alone
    assert (tmp_path / "RESULTS.md").read_text() == text
    with pytest.raises(SystemExit):
        superres.parse_args(["--parts", "faces"])
