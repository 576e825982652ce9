"""benchmarks/biggan.py: its tiny path (a 1-iteration tiny BigGAN measured with a random classifier),
the verdict logic and the --report-only rebuild of its RESULTS.md section."""

from __future__ import annotations

import json

import biggan as bench
import lightning as L
import pytest
import torch
from tiny_biggan import build_data, build_model


def fake_result(ema: float) -> dict:
    per_class = [ema] * 10
    return {"iterations": 7, "num_samples": 1000, "critic_steps": 4, "fit_command": "gan-lightning fit X",
            "budget": "8 min", "measure_command": "python benchmarks/biggan.py", "note": "loaded machine",
            "agreement": {"ema": {"overall": ema, "per_class": per_class},
                          "ema_t0.5": {"overall": 0.25, "per_class": [0.25] * 10},
                          "raw": {"overall": 0.125, "per_class": [0.125] * 10}}}


@pytest.mark.parametrize("ema, verdict", [(0.95, "**reached**"), (0.90, "**reached**"), (0.5, "**not reached**")])
def test_verdict_and_section_text(ema, verdict):
    text = bench.report_text(fake_result(ema))
    assert verdict in text and f"Ours {100 * ema:.1f} %" in text
    assert "| ema | none |" in text and "| ema | 0.5 | 25.0 % |" in text and "| raw | none | 12.5 % |" in text
    assert "gan-lightning fit X" in text and "8 min" in text and "7 iterations" in text and "loaded machine" in text


def test_tiny_path_measures_a_checkpoint_and_rebuilds_the_section(tmp_path, monkeypatch):
    import gan_lightning.evaluation as metrics

    monkeypatch.setattr(metrics, "load_digits_classifier", lambda: metrics.DigitsClassifier().eval())
    L.seed_everything(0)
    model = build_model()
    trainer = L.Trainer(max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0, accelerator="cpu", devices=1,
                        default_root_dir=str(tmp_path))
    trainer.fit(model, build_data())
    ckpt = tmp_path / "tiny.ckpt"
    trainer.save_checkpoint(ckpt)
    out = tmp_path / "out"
    result = bench.measure(str(ckpt), out, budget="1 iteration")
    assert result["iterations"] == 1 and result["num_samples"] == 1000 and result["budget"] == "1 iteration"
    assert set(result["agreement"]) == {"ema", "ema_t1.0", "ema_t0.5", "raw", "raw_t1.0", "raw_t0.5"}
    for value in result["agreement"].values():
        assert len(value["per_class"]) == 10
        assert value["overall"] == pytest.approx(sum(value["per_class"]) / 10)
    assert (out / "biggan_by_class.png").is_file() and (out / "biggan_by_class_t0.5.png").is_file()
    assert json.loads((out / "result.json").read_text())["agreement"] == result["agreement"]
    # --report-only rebuilds the section from the cached JSON
    monkeypatch.setattr(bench, "HERE", out)
    monkeypatch.setattr(bench, "RESULTS", tmp_path / "RESULTS.md")
    bench.main(["--report-only"])
    section = (tmp_path / "RESULTS.md").read_text()
    assert "<!-- begin: biggan -->" in section and "not reached" in section
    bench.main(["--report-only", "--note", "A later sentence."])  # kept in the JSON, shown in the section
    assert "A later sentence." in (tmp_path / "RESULTS.md").read_text()
    assert json.loads((out / "result.json").read_text())["note"] == "A later sentence."


def test_learning_curve_measures_every_step_checkpoint_and_the_section_lists_it(tmp_path, monkeypatch):
    import gan_lightning.evaluation as metrics

    L.seed_everything(0)
    classifier = metrics.DigitsClassifier().eval()  # random but fixed: the same judge for every checkpoint
    monkeypatch.setattr(metrics, "load_digits_classifier", lambda: classifier)
    model = build_model()
    trainer = L.Trainer(max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0, accelerator="cpu", devices=1,
                        default_root_dir=str(tmp_path))
    trainer.fit(model, build_data())
    for name in ("epoch=0-step=1.ckpt", "step=3.ckpt", "last.ckpt", "epoch=0-step=2-v1.ckpt"):
        trainer.save_checkpoint(tmp_path / name)
    assert list(bench.kept_checkpoints(tmp_path)) == [1, 3]  # last.ckpt and versioned copies are left out
    curve = bench.learning_curve(tmp_path)
    assert list(curve) == ["1", "3"] and curve["1"] == curve["3"]  # same weights, same seeded samples
    labels = torch.arange(10).repeat_interleave(bench.NUM_PER_CLASS)
    direct = bench.draw_and_judge(model, classifier, labels)[1].float().mean()
    assert curve["1"] == pytest.approx(float(direct))
    text = bench.report_text({**fake_result(0.5), "curve": {"500": 0.125, "4000": 0.955}})
    assert "iteration: agreement): 500: 12.5 %; 4,000: 95.5 %." in text
    assert "Learning curve" not in bench.report_text(fake_result(0.5))
