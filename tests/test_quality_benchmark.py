"""benchmarks/quality.py: the wall-clock budget, its cache and the verdict (tiny budgets)."""

from types import SimpleNamespace

import pytest
import quality


def test_one_tiny_run_stops_on_its_budget_and_reports_the_curve(tmp_path):
    out, cache, plots = tmp_path / "RESULTS.md", tmp_path / "results.json", tmp_path / "plots"
    # CPU time: the same few iterations whatever the load (a wall-clock 0.6 s can pass in one iteration); 1.8 s,
    # as the first iteration alone took 0.65 s of CPU on a loaded machine, past a 0.6 s budget with no earlier point
    quality.main(["--models", "DCGAN", "--minutes", "0.03", "--eval-every", "0.004", "--num-eval", "40",
                  "--clock", "cpu", "--out", str(out), "--cache", str(cache), "--plots", str(plots)])
    result = quality.load_results(cache)["DCGAN/0.03cpumin/1thr/seed0"]
    assert result["iterations"] >= 1
    minutes = [point["minutes"] for point in result["curve"]]
    assert minutes == sorted(minutes) and minutes[-1] >= 0.03  # stopped at the first iteration past the budget
    assert len(minutes) >= 2 and result["fid_ema"] == result["curve"][-1]["fid"] > 0 and result["fid_raw"] > 0
    assert all(point["fid_raw"] > 0 for point in result["curve"]) and result["clock"] == "cpu"
    assert (plots / "dcgan_0.03cpumin.png").is_file() and (plots / "fid_curves.png").is_file()
    assert not list((tmp_path / "progress").glob("*.json"))  # the finished run's progress file is gone
    text = out.read_text()
    assert "| DCGAN | recipe | CPU time | 0.03 | CPU, 1 thread |" in text and "CPU: lowest digits FID" in text
    assert "**not reached**" in text


def test_max_steps_ends_a_run_before_its_budget_with_a_last_point_and_plans_the_lr_decay(tmp_path):
    out, cache, plots = tmp_path / "RESULTS.md", tmp_path / "results.json", tmp_path / "plots"
    quality.main(["--models", "DCGAN", "--minutes", "30", "--eval-every", "30", "--num-eval", "40", "--clock", "cpu",
                  "--set", "max_steps=6", "--set", "lr_decay_iters=4",
                  "--out", str(out), "--cache", str(cache), "--plots", str(plots)])
    result = quality.load_results(cache)["DCGAN/30cpumin/1thr/seed0/max_steps=6,lr_decay_iters=4"]
    assert result["iterations"] == 6 and [point["iteration"] for point in result["curve"]] == [6]
    assert result["curve"][0]["minutes"] < 30 and result["fid_ema"] > 0  # measured where max_steps stopped it
    model, _, _ = quality.build("DCGAN", [("max_steps", "6"), ("lr_decay_iters", "4")])
    assert model.hparams.lr_decay_iters == 4 and "max_steps" not in model.hparams  # the trainer's, not the model's
    assert quality.max_steps_of([("max_steps", "6")]) == 6 and quality.max_steps_of([]) == -1


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


def test_cpu_clock_runs_and_changed_recipes_have_their_own_keys():
    assert quality.run_key("DCGAN", 4, 1, 0, "cpu", "cpu") == "DCGAN/4cpumin/1thr/seed0"
    assert (quality.run_key("DCGAN", 4, 1, 0, "cpu", "cpu", [("g_width", "64"), ("d_width", "64")])
            == "DCGAN/4cpumin/1thr/seed0/g_width=64,d_width=64")
    assert quality.run_key("DCGAN", 4, 1, 0, "cpu", "wall") == "DCGAN/4min/1thr/seed0"  # the old rows' keys


def test_recipe_changes_are_typed_and_routed():
    changes = [quality.parse_change(text) for text in
               ("g_width=64", "lr_d=4e-4", "betas=[0.0,0.999]", "batch_size=32", "ema.decay=0.9999")]
    model, data, ema = quality.split_changes(changes)
    assert model == {"g_width": 64, "lr_d": 4e-4, "betas": (0.0, 0.999)}
    assert data == {"batch_size": 32} and ema == {"decay": 0.9999}
    model, data, ema = quality.build("DCGAN", changes)
    assert model.hparams.g_width == 64 and model.hparams.lr_d == 4e-4 and tuple(model.hparams.betas) == (0.0, 0.999)
    assert data.batch_size == 32 and ema.decay == 0.9999


def test_bad_changes_are_refused_in_one_line(capsys):
    for text, message in (("g_width", "--set: expected KEY=VALUE, got 'g_width'"),
                          ("ema.beta=0.5", "--set: 'ema.beta' is not an EMA option; accepted: ema.decay, ema.warmup"),
                          ("max_steps=1e4", "--set: max_steps must be a positive integer, got '1e4'")):
        with pytest.raises(SystemExit):
            quality.parse_args(["--set", text])
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit):
        quality.parse_args(["--clock", "cpu", "--accelerator", "gpu", "--report-only"])
    assert "--clock cpu: the CPU time of a GPU run" in capsys.readouterr().err


def test_the_cpu_clock_and_the_extra_emas_are_what_the_budget_counts():
    ticks = iter([0.0, 10.0, 15.0, 40.0, 40.0, 70.0]).__next__  # start; EMA update 10 -> 15; step at 40: eval to 70
    updated = []

    class Extra:
        def update(self, module, step):
            updated.append(step)

    budget = quality.TrainingBudget(budget=120.0, eval_every=30.0, evaluate=lambda m, use_ema: 50.0, clock=ticks,
                                    also=lambda m: {"fid_raw": 60.0}, extra_emas=Extra())
    budget.on_train_start(None, None)
    trainer = _Trainer(global_step=3)
    budget.on_train_batch_end(trainer, "m", None, None, 0)
    assert updated == [3] and budget.extra_ema_seconds == 5.0 and budget.eval_seconds == 30.0
    assert budget.curve == [{"minutes": 35.0 / 60, "iteration": 3, "fid": 50.0, "fid_raw": 60.0}]


def test_extra_emas_follow_the_callbacks_warmup(one_thread):
    import torch

    from gan_lightning.callbacks import EMACallback
    from gan_lightning.models import DCGAN

    torch.manual_seed(0)
    model = DCGAN(data_shape=(1, 28, 28), g_width=8, d_width=8)
    model.enable_ema()
    extra = quality.ExtraEMAs([0.9999, 0.5])
    recipe = EMACallback(decay=0.999)
    for step in range(20, 23):  # past the warm-up of decay 0.5 (21 / 30 > 0.5), within 0.999's
        with torch.no_grad():
            for p in model.generator.parameters():
                p.add_(torch.randn_like(p))
        model.update_ema(recipe.current_decay(step))
        extra.update(model, step)
    ema = list(model.generator_ema.parameters())
    same = list(extra.copies[0.9999].parameters())  # 0.999 and 0.9999 both at the warm-up's decay early on
    faster = list(extra.copies[0.5].parameters())
    assert all(torch.equal(a, b) for a, b in zip(ema, same))
    assert not all(torch.equal(a, b) for a, b in zip(ema, faster))
    with extra.swapped(model, 0.5):
        assert model.generator_ema is extra.copies[0.5]
    assert all(torch.equal(a, b) for a, b in zip(model.generator_ema.parameters(), ema))


def _run(key, fids, changes=(), clock="cpu", extras=None):
    curve = [{"minutes": 1.5 * (i + 1), "iteration": 100 * (i + 1), "fid": f, "fid_raw": f + 1.0, **(extras or {})}
             for i, f in enumerate(fids)]
    return {"key": key, "model": "DCGAN", "minutes": 3, "threads": 1, "seed": 0, "clock": clock,
            "changes": [list(c) for c in changes], "iterations": 200, "curve": curve, "fid_ema": fids[-1],
            "fid_raw": fids[-1] + 1.0, "eval_seconds": 2.0, "load_start": 1.0, "load_end": 2.0}


def test_the_pilots_table_compares_each_change_with_the_recipe(tmp_path):
    results = {"r": _run("r", [120.0, 90.0], extras={"fid_ema_0.99": 88.5}),
               "w": _run("w", [110.0, 80.0], [("g_width", "64"), ("d_width", "64")]),
               "b": _run("b", [130.0, 95.5], [("batch_size", "128")]),
               "old": _run("old", [70.0, 57.3], clock="wall") | {"minutes": 20}}
    progress = tmp_path / "progress"
    progress.mkdir()
    quality.save_runs({"u": _run("u", [100.0], [("lr_g", "4e-4")]) | {"minutes": 30}}, progress / "u.json")
    quality.save_runs({"p": _run("p", [100.0], [("batch_size", "32")])}, progress / "p.json")  # a pilot stopped
    quality.save_runs({"fid": 7.01}, tmp_path / "real_reference.json")
    out = tmp_path / "RESULTS.md"
    args = quality.parse_args(["--report-only", "--out", str(out), "--cache", str(tmp_path / "c.json"),
                               "--plots", str(tmp_path)])
    quality.write_report(results, args, out, quality.unfinished_runs(results, tmp_path / "c.json"))
    text = out.read_text()
    assert "| recipe | 200 | 90.0 | - | 91.0 | 0.99: 88.5 | 1.5: 120, 3: 90 |" in text
    assert "| g_width=64, d_width=64 | 200 | 80.0 | -10.0 | 81.0 | - | 1.5: 110, 3: 80 |" in text
    assert "| batch_size=128 | 200 | 95.5 | +5.5 | 96.5 | - |" in text
    assert text.index("g_width=64, d_width=64 | 200") < text.index("batch_size=128 | 200")  # best first
    assert "| DCGAN | recipe | wall | 20 | CPU, 1 thread | 200 | 57.3 | 58.3 | - | 57.3 |" in text
    assert "| DCGAN | lr_g=4e-4 | CPU time | 30 | 1.5 | 100 | 1.5: 100 |" in text  # the unfinished run
    # the stopped pilot against the recipe's point of the same minute (120 at 1.5), listed after the finished ones
    assert "| batch_size=32 (stopped at 1.5 of 3) | 100 | 100.0 | -20.0 | 101.0 | - | 1.5: 100 |" in text
    assert text.index("batch_size=128 | 200") < text.index("batch_size=32 (stopped")
    assert "| DCGAN | batch_size=32 |" not in text
    assert "1,000 real training digits score\n  **7.01**" in text
    assert "**57.3**, DCGAN at 3.0 minutes" in text and "wall clock" in text


def test_diffaugment_is_a_change_that_augments_ds_inputs(tmp_path):
    out, cache, plots = tmp_path / "RESULTS.md", tmp_path / "results.json", tmp_path / "plots"
    common = ["--models", "DCGAN", "--minutes", "30", "--eval-every", "30", "--num-eval", "40", "--clock", "cpu",
              "--set", "max_steps=3", "--out", str(out), "--cache", str(cache), "--plots", str(plots)]
    quality.main(common + ["--variant", "", "--variant", "diffaugment=translation,cutout"])
    runs = quality.load_results(cache)
    plain = runs["DCGAN/30cpumin/1thr/seed0/max_steps=3"]
    augmented = runs["DCGAN/30cpumin/1thr/seed0/max_steps=3,diffaugment=translation,cutout"]
    assert plain["iterations"] == augmented["iterations"] == 3
    assert augmented["fid_raw"] != plain["fid_raw"]  # same seed: D saw other inputs, so G moved otherwise
    assert quality.diffaugment_of([("diffaugment", "cutout")]) == "cutout" and quality.diffaugment_of([]) is None
    model, _, _ = quality.build("DCGAN", [("diffaugment", "cutout")])
    assert "diffaugment" not in model.hparams  # the callback's, not the model's


def test_a_bad_diffaugment_policy_is_one_line(capsys):
    with pytest.raises(SystemExit):
        quality.parse_args(["--set", "diffaugment=translation,flip"])
    assert ("--set: diffaugment='translation,flip' is not a DiffAugment policy; accepted: comma-separated "
            "color, translation, cutout") in capsys.readouterr().err


def test_a_seed_other_than_0_names_its_grid():
    from pathlib import Path

    run = {"model": "CGAN", "minutes": 5, "clock": "cpu", "threads": 1}
    assert quality.grid_path({**run, "seed": 0}, Path(".")).name == "cgan_5cpumin.png"  # the names before
    assert quality.grid_path({**run, "seed": 1}, Path(".")).name == "cgan_5cpumin_seed1.png"


def test_the_prepared_gpu_call_runs_a_quality_command_that_parses_and_says_in_one_line_what_it_lacks(
        tmp_path, monkeypatch):
    import re
    import shlex
    import subprocess

    script = quality.BENCHMARKS / "gpu_quality.sh"
    text = script.read_text()
    line = re.search(r'benchmarks/quality\.py (.*?) >>', text.replace("\\\n", " ")).group(1)
    argv = shlex.split(line.replace('"$MINUTES"', "7"))
    monkeypatch.setattr(quality.torch.cuda, "is_available", lambda: True)
    args = quality.parse_args(argv)
    assert args.accelerator == "gpu" and args.models == ["SNGAN", "CGAN"] and args.minutes == 7 and args.workers == 2
    assert sorted(key for key, _ in args.changes) == ["betas", "lr_d", "lr_g"]
    # without the wheels it carries, it stops at once with one line naming .whl/
    done = subprocess.run(["bash", str(script)], cwd=tmp_path, env={"OUT": str(tmp_path), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout.count("\n") == 1 and ".whl/: no wheels" in done.stdout
    assert (tmp_path / "quality.log").read_text() == done.stdout
