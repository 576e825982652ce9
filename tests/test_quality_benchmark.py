"""benchmarks/quality.py: the wall-clock budget, its cache and the verdict (tiny budgets)."""

from types import SimpleNamespace

import pytest

import quality


def test_one_tiny_run_stops_on_its_budget_and_reports_the_curve(tmp_path):
    out, cache, plots = tmp_path / "RESULTS.md", tmp_path / "results.json", tmp_path / "plots"
    quality.main(["--models", "DCGAN", "--minutes", "0.01", "--eval-every", "0.004", "--num-eval", "40",
                  "--out", str(out), "--cache", str(cache), "--plots", str(plots)])
    result = quality.load_results(cache)["DCGAN/0.01min/1thr/seed0"]
    assert result["iterations"] >= 1
    minutes = [point["minutes"] for point in result["curve"]]
    assert minutes == sorted(minutes) and minutes[-1] >= 0.01  # stopped at the first iteration past the budget
    assert len(minutes) >= 2 and result["fid_ema"] == result["curve"][-1]["fid"] > 0 and result["fid_raw"] > 0
    assert (plots / "dcgan_0.01min.png").is_file() and (plots / "fid_curves.png").is_file()
    text = out.read_text()
    assert "| DCGAN | 0.01 | CPU, 1 thread |" in text and "CPU: lowest digits FID" in text and "**not reached**" in text


class _Trainer(SimpleNamespace):
    should_stop = False


def test_the_budget_counts_training_time_only(monkeypatch):
    clock = iter([0.0, 50.0, 70.0, 70.0, 130.0, 200.0, 200.0, 210.0]).__next__
    monkeypatch.setattr(quality.time, "perf_counter", clock)
    evaluated = []

    def evaluate(module, use_ema):
        evaluated.append(module)
        return 100.0 - len(evaluated)

    budget = quality.WallClockBudget(budget=120.0, eval_every=60.0, evaluate=evaluate)
    budget.on_train_start(None, None)           # t = 0
    trainer = _Trainer(global_step=1)
    budget.step(trainer, "m")                            # 50 s trained: no evaluation
    assert evaluated == [] and not trainer.should_stop
    budget.step(trainer, "m")                            # 70 s: evaluation (60 s of it)
    assert len(evaluated) == 1 and budget.eval_seconds == 60.0
    budget.step(trainer, "m")                            # 200 - 60 = 140 s trained: past 120, stop
    assert trainer.should_stop and len(evaluated) == 2
    assert [round(p["minutes"] * 60) for p in budget.curve] == [70, 140]


def test_the_verdict_needs_the_target_within_thirty_minutes():
    def run(model, minutes, fids):
        curve = [{"minutes": m, "iteration": 10 * i, "fid": f} for i, (m, f) in enumerate(zip(minutes, fids))]
        return {"model": model, "threads": 1, "curve": curve}

    assert "**not reached**" in quality.verdict({"a": run("A", [5, 30], [80.0, 25.0])})
    assert "**reached**" in quality.verdict({"a": run("A", [5, 30], [80.0, 19.0]), "b": run("B", [5], [60.0])})
    assert "**not reached**" in quality.verdict({"a": run("A", [30, 60], [40.0, 15.0])})  # too late
    assert quality.verdict({}) == "No run yet."


def test_gpu_runs_have_their_own_key_target_and_row():
    def run(fids, minutes, accelerator):
        curve = [{"minutes": m, "iteration": 100 * i, "fid": f} for i, (m, f) in enumerate(zip(minutes, fids))]
        return {"model": "DCGAN", "threads": 1, "curve": curve, "accelerator": accelerator, "device_name": "NVIDIA H200"}

    assert quality.run_key("DCGAN", 10, 1, 0, "gpu") == "DCGAN/10min/gpu/seed0"
    assert quality.run_key("DCGAN", 30, 1, 0) == "DCGAN/30min/1thr/seed0"  # the CPU cache keys as before
    text = quality.verdict({"c": run([40.0, 19.0], [10, 30], "cpu"), "g": run([30.0, 9.5], [5, 10], "gpu")})
    cpu, gpu = text.split("\n\n")
    assert cpu.startswith("CPU:") and "**19.0**" in cpu and "**reached**" in cpu
    assert gpu.startswith("GPU:") and "**9.5**" in gpu and "NVIDIA H200" in gpu and "FID < 10 within 10" in gpu
    assert "**not reached**" in quality.verdict({"g": run([12.0, 8.0], [10, 20], "gpu")})  # 8.0 came too late
    assert quality.device_label(run([1.0], [1], "gpu")) == "NVIDIA H200"


def test_a_gpu_budget_without_a_gpu_is_one_line(monkeypatch, capsys):
    monkeypatch.setattr(quality.torch.cuda, "is_available", lambda: False)
    assert quality.resolve_accelerator("auto") == "cpu"
    with pytest.raises(SystemExit):
        quality.parse_args(["--accelerator", "gpu"])
    assert "--accelerator gpu: torch sees no CUDA GPU on this machine" in capsys.readouterr().err


def test_bad_options_are_refused_in_one_line():
    for argv in (["--minutes", "0"], ["--threads", "0"], ["--eval-every", "-1"]):
        with pytest.raises(SystemExit):
            quality.parse_args(argv)
