"""benchmarks/gpu_smoke.py: one row per config, failures and missing data told apart, exit status."""

from __future__ import annotations


from conftest import benchmark_script, run_without_gpu


def test_without_a_gpu_it_says_so_in_one_line_and_exits_0():
    assert run_without_gpu("gpu_smoke") == ["gpu_smoke: no CUDA GPU on this machine; the GPU smoke test did not run"]


def test_a_row_per_config_and_exit_1_when_a_config_with_its_data_fails(tmp_path, capsys):
    broken = tmp_path / "broken.yaml"
    broken.write_text("model:\n  class_path: gan_lightning.models.DCGAN\n  init_args: {critic_steps: 0}\n"
                      "data:\n  class_path: gan_lightning.data.MNIST5k\n")
    out = tmp_path / "table.md"
    with benchmark_script("gpu_smoke") as script:
        status = script.main(["--device", "cpu", "--iterations", "3", "--every", "2", "--jobs", "2", "--out", str(out),
                              "--configs", f"experiments/dcgan/mnist5k.yaml,experiments/stargan/celeba.yaml,{broken}"])
    assert status == 1
    rows = {line.split(" | ")[0].strip("| "): line for line in out.read_text().splitlines() if line.startswith("| ")}
    assert rows["experiments/dcgan/mnist5k.yaml"].split(" | ")[1] == "ok"
    assert float(rows["experiments/dcgan/mnist5k.yaml"].split(" | ")[2]) > 0
    assert rows["experiments/stargan/celeba.yaml"].split(" | ")[1].startswith("no data: ")
    assert "error: DCGAN: model.critic_steps must be >= 1, got 0" in rows[str(broken)]
    assert "**1 of 3 configs train; 1 fail; 1 lack their data;" in out.read_text()
    assert "| experiments/dcgan/mnist5k.yaml | ok |" in capsys.readouterr().out


def test_gpu_selects_the_paper_sized_overlays_each_on_its_experiment():
    from gan_lightning.cli import PAPER_SIZED, config_files

    with benchmark_script("gpu_smoke") as smoke:
        chosen = smoke.experiment_configs("gpu,dcgan")
    overlays = [path for path in chosen if path.parent.parent == PAPER_SIZED]
    assert overlays == sorted(PAPER_SIZED.glob("*/*.yaml")) and len(overlays) >= 13
    assert all(path.parent.name == "dcgan" for path in chosen if path not in overlays)
    base, overlay = config_files(overlays[0])
    assert base.parts[-2:] == overlays[0].parts[-2:] and overlay == overlays[0].resolve()


def test_an_overlay_without_its_experiment_is_an_error_row(tmp_path, monkeypatch):
    import argparse

    from gan_lightning import cli

    monkeypatch.setattr(cli, "PAPER_SIZED", tmp_path / "gpu")
    monkeypatch.setattr(cli, "EXPERIMENTS", tmp_path)
    orphan = tmp_path / "gpu" / "nomodel" / "data.yaml"
    orphan.parent.mkdir(parents=True)
    orphan.write_text("model:\n  init_args: {g_width: 8}\n")
    with benchmark_script("gpu_smoke") as smoke:
        row = smoke.run_one(orphan, argparse.Namespace(device="cpu", iterations=2, every=1))
    assert row["status"] == "error" and "nomodel/data.yaml does not exist" in row["error"]
