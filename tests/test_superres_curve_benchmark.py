"""benchmarks/superres_curve.py: its arms, its verdict lines and a tiny resumable curve."""

from __future__ import annotations

import argparse
import json

import pytest

from conftest import benchmark_script


@pytest.fixture(scope="module")
def bench():
    with benchmark_script("superres_curve") as module:
        yield module


def test_arms_parse_or_fail_in_one_line(bench):
    assert bench.parse_arm("64x16@1e-4") == {"arm": "64x16@1e-4", "g_width": 64, "num_blocks": 16, "lr": 1e-4}
    for bad in ("64x16", "64-16@1e-4", "0x4@1e-3", "16x4@0"):
        with pytest.raises(argparse.ArgumentTypeError, match="WIDTHxBLOCKS@LR"):
            bench.parse_arm(bad)


def run(points, psnr=27.0, ssim=0.7):
    return {"arm": "16x4@1e-3", "g_parameters": 47530, "bicubic": {"psnr": psnr, "ssim": ssim}, "steps": 4000,
            "points": [{"iteration": i, "psnr": p, "ssim": s} for i, p, s in points]}


def test_verdict_lines_say_reached_or_extrapolate_the_trend(bench):
    climbing = run([(1000, 22.0, 0.5), (2000, 23.0, 0.6), (3000, 24.0, 0.62), (4000, 25.0, 0.65)])
    line = bench.arm_lines(climbing)[0]
    assert "**not reached**" in line and "+1.00 dB per 1,000" in line and "about 2,000 more iterations" in line
    assert "stopped" not in line
    flat = run([(1000, 22.0, 0.5), (2000, 21.0, 0.5)])
    assert "a plateau (under 0.1 dB per 1,000), below bicubic by 6.00 dB at the end." in bench.arm_lines(flat)[0]
    noisy = run([(i * 1000, 25.0 + (0.4 if i % 2 else -0.4) + 0.01 * i, 0.6) for i in range(1, 11)])
    line = bench.arm_lines(noisy)[0]
    assert "PSNR trend from 6,000 iterations on" in line and "a plateau" in line  # the second half, not 4 points
    assert "(**stopped at 2,000 of the 4,000 planned**, resumable from its checkpoint)" in bench.arm_lines(flat)[0]
    above = run([(1000, 26.0, 0.69), (2000, 27.5, 0.71), (3000, 27.6, 0.72)])
    assert "above bicubic on both from 2,000 iterations (**reached**)" in bench.arm_lines(above)[0]


def test_a_tiny_curve_is_cached_resumed_and_reported(bench, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "CACHE", tmp_path / "curves.json")
    monkeypatch.setattr(bench, "RUNS", tmp_path / "runs")
    arm = bench.parse_arm("4x1@1e-3")
    first = bench.run_arm(arm, steps=4, every=2, seed=0)
    assert [p["iteration"] for p in first["points"]] == [2, 4] and first["bicubic"]["psnr"] > 15
    cached = json.loads((tmp_path / "curves.json").read_text())
    cached["4x1@1e-3"]["points"] = cached["4x1@1e-3"]["points"][:1]  # interrupted after iteration 2
    (tmp_path / "curves.json").write_text(json.dumps(cached))
    (tmp_path / "runs" / "4x1_1e_3" / "step=4.ckpt").unlink()
    assert bench.run_arm(arm, steps=4, every=2, seed=0)["points"] == first["points"]
    longer = bench.run_arm(arm, steps=6, every=2, seed=0)  # extends the run from its checkpoint at 4
    assert [p["iteration"] for p in longer["points"]] == [2, 4, 6] and longer["points"][:2] == first["points"]
    assert longer["steps"] == 6
    text = bench.report([arm], json.loads((tmp_path / "curves.json").read_text()), "python x")
    assert "| 4 | " in text and "| bicubic | " in text and "- 4x1@1e-3 (" in text
    assert "trains its SRResNet 250 iterations" in text  # experiments/srgan/photos.yaml's pretrain_steps


def test_the_border_check_is_a_table_when_it_was_run(bench):
    assert bench.border_lines({"arm": "16x4@1e-3"}) == []
    check = {"iteration": 10000, "rows": [{"hr_size": 32, "shave": 4, "psnr": 25.73, "bicubic": 27.77}]}
    lines = bench.border_lines({"arm": "16x4@1e-3", "border": check})
    assert lines[1].startswith("Border check of 16x4@1e-3 at 10,000 iterations")
    assert lines[-1] == "| 32 px | 4 | 25.73 | 27.77 | +2.04 |"


def test_the_fit_check_trains_on_hr_and_on_bicubic_and_reports_both(bench, tmp_path, monkeypatch):
    import torch

    from gan_lightning.data.superres import bicubic_upscale

    monkeypatch.setattr(bench, "CACHE", tmp_path / "curves.json")
    monkeypatch.setattr(bench, "RUNS", tmp_path / "runs")
    arm = bench.parse_arm("4x1@1e-3")
    data = bench.photo_data(0)
    mimic = bench.BicubicTargets(data.train_set, 4)
    item = mimic[3]
    assert len(mimic) == len(data.train_set) and torch.equal(item["lr"], data.train_set[3]["lr"])
    assert torch.equal(item["hr"], bicubic_upscale(item["lr"][None], 4)[0])  # the target is the baseline itself

    out = bench.fit_check(arm, steps=4, every=2, seed=0)
    assert set(out) == {"hr", "bicubic"}
    for target, run in out.items():
        assert run["target"] == target and [p["iteration"] for p in run["points"]] == [2, 4]
        assert {"train_psnr", "train_psnr_to_bicubic", "heldout_psnr"} <= set(run["points"][-1])
    assert out["hr"]["points"] != out["bicubic"]["points"]  # other targets, other training
    assert out["hr"]["bicubic_train"] > out["hr"]["bicubic_heldout"] > 15  # the training photos are smoother
    runs = json.loads((tmp_path / "curves.json").read_text())
    lines = bench.fit_check_lines(runs, "4x1@1e-3")
    assert lines[1].startswith("Fit check of 4x1@1e-3 (`--fit-check`, seed 0)") and "| 4 | " in "\n".join(lines)
    assert "below bicubic on the photos it trains on too" in lines[-2]  # 4 iterations: far below
    assert bench.fit_check_lines({}, "4x1@1e-3") == []
    assert bench.fit_check(arm, steps=4, every=2, seed=0) == out  # complete: nothing trained again
    with pytest.raises(SystemExit):
        bench.main(["--arms", "4x1@1e-3", "--report-only", "--fit-check", "8x1@1e-3", "--out", str(tmp_path / "R.md")])


def test_pooled_psnr_weighs_every_pixel_alike_where_the_mean_of_psnrs_does_not(bench):
    import torch

    from gan_lightning.evaluation.paired import psnr

    target = torch.zeros(2, 1, 4, 4)
    output = target.clone()
    output[0] += 0.02  # a flat crop off by 0.01 in [0, 1]: 40 dB
    output[1] += 0.2  # a crop off by 0.1: 20 dB
    assert abs(bench.pooled_psnr(output, target) - 10 * torch.log10(torch.tensor(1 / 0.00505)).item()) < 1e-4
    assert abs(float(psnr(output, target)) - 30.0) < 1e-3  # the mean of 40 and 20 dB
    assert bench.pooled_psnr(output, target) < float(psnr(output, target))


def test_the_whole_image_check_measures_the_fit_checks_network_and_is_reported(bench, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "CACHE", tmp_path / "curves.json")
    monkeypatch.setattr(bench, "RUNS", tmp_path / "runs")
    arm = bench.parse_arm("4x1@1e-3")
    with pytest.raises(SystemExit, match="--whole-image: no checkpoint"):
        bench.whole_image_check(arm, 2, 0)
    bench.fit_check(arm, steps=2, every=2, seed=0)
    run = bench.whole_image_check(arm, 2, 0)
    whole = run["whole"]
    assert whole["iteration"] == 2 and whole["size"][0] % 4 == 0 and whole["size"][1] % 4 == 0
    assert whole["mean_bicubic"] == pytest.approx(run["bicubic_heldout"], abs=1e-4)  # the curves' own measure
    assert whole["pooled_bicubic"] < whole["mean_bicubic"]  # flat crops lift the mean of per-crop PSNRs
    lines = bench.fit_check_lines(json.loads((tmp_path / "curves.json").read_text()), "4x1@1e-3")
    text = "\n".join(lines)
    assert "Whole-image check (`--whole-image`) of the HR-trained run at 2 iterations" in text
    assert f"| whole photo | {whole['whole_network']:.2f} | {whole['whole_bicubic']:.2f} |" in text
    assert "- The curves' gap to bicubic, " in text and "dB on the whole photo" in text
    with pytest.raises(SystemExit):
        bench.main(["--arms", "4x1@1e-3", "--report-only", "--whole-image", "--out", str(tmp_path / "R.md")])


def test_an_arm_whose_checkpoints_were_lost_is_trained_again_equal_and_measured_whole(bench, tmp_path, monkeypatch):
    import shutil

    monkeypatch.setattr(bench, "CACHE", tmp_path / "curves.json")
    monkeypatch.setattr(bench, "RUNS", tmp_path / "runs")
    arm = bench.parse_arm("4x1@1e-3")
    first = bench.run_arm(arm, steps=2, every=1, seed=0)
    assert bench.arm_checkpoint_key(arm, 2, 1, 0) == "4x1@1e-3"  # kept: measured where it is
    shutil.rmtree(bench.run_folder("4x1@1e-3"))
    assert bench.arm_checkpoint_key(arm, 2, 1, 0) == "4x1@1e-3 rerun"
    runs = json.loads((tmp_path / "curves.json").read_text())
    assert runs["4x1@1e-3 rerun"]["points"] == first["points"]  # one thread, same seed: the same curve
    assert (bench.run_folder("4x1@1e-3 rerun") / "step=2.ckpt").is_file()
    run = bench.whole_image_check(arm, 2, 0, key="4x1@1e-3 rerun", option="--whole-image-arm")
    whole = run["whole"]
    assert whole["mean_network"] == pytest.approx(first["points"][-1]["psnr"], abs=1e-4)  # the curve's last point
    text = "\n".join(bench.rerun_lines(json.loads((tmp_path / "curves.json").read_text()), "4x1@1e-3"))
    assert "Rerun of 4x1@1e-3" in text and "2 points to 2 iterations, every PSNR and SSIM equal" in text
    assert "Whole-image check (`--whole-image-arm`) of 4x1@1e-3 (the rerun) at 2 iterations" in text
    assert f"| whole photo | {whole['whole_network']:.2f} | {whole['whole_bicubic']:.2f} |" in text
    assert whole["tile"] == 8
    assert f"| whole photo, in 8 px LR tiles (the training crops' size) | {whole['tiled_network']:.2f} |" in text
    far, level = ({**whole, "tiled_network": whole["whole_network"] + gap} for gap in (5.0, 0.0))
    carried = "\n".join(bench.whole_lines(far, "x", "y"))
    assert "the network does not carry to inputs larger than its training crops" in carried
    assert "does not carry" not in "\n".join(bench.whole_lines(level, "x", "y"))
    assert bench.rerun_lines({"4x1@1e-3": first}, "4x1@1e-3") == []
    changed = {**runs, "4x1@1e-3": {**first, "points": [{**p, "psnr": p["psnr"] + 0.5} for p in first["points"]]}}
    text = "\n".join(bench.rerun_lines(changed, "4x1@1e-3"))
    assert "the largest difference from the first run's PSNR or SSIM 0.5" in text
    out = tmp_path / "R.md"
    out.write_text("<!-- begin: superres_curve -->\n<!-- end: superres_curve -->\n")
    bench.main(["--arms", "4x1@1e-3", "--steps", "2", "--every", "1", "--report-only", "--whole-image-arm",
                "4x1@1e-3", "--out", str(out)])
    assert "Rerun of 4x1@1e-3" in out.read_text()
    with pytest.raises(SystemExit):
        bench.main(["--arms", "4x1@1e-3", "--report-only", "--whole-image-arm", "8x1@1e-3", "--out", str(out)])


def test_tiled_upscaling_puts_the_tiles_outputs_together(bench):
    import torch

    class Doubler(torch.nn.Module):  # nearest x4 upscaling plus the tile's own mean: shows where tiles join
        def forward(self, lr):
            return torch.nn.functional.interpolate(lr, scale_factor=4) + lr.mean(dim=(1, 2, 3), keepdim=True)

    lr = torch.arange(2 * 3 * 10 * 12, dtype=torch.float32).reshape(2, 3, 10, 12) / 100
    one_piece, tiled = Doubler()(lr), bench.upscale_tiled(Doubler(), lr, 4)
    assert tiled.shape == one_piece.shape == (2, 3, 40, 48)
    corner = lr[..., 8:10, 8:12]  # the last, smaller tile (2 x 4 LR pixels)
    assert torch.allclose(tiled[..., 32:, 32:], Doubler()(corner))
    assert not torch.allclose(tiled, one_piece)  # each tile saw only itself
    assert torch.equal(bench.upscale_tiled(Doubler(), lr, 16), one_piece)  # one tile: the whole image
