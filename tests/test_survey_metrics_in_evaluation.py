"""The survey's metrics (issue 28) where metrics are computed: ``gan-lightning evaluate --metrics`` prints
their keys, ``MetricsCallback`` logs their numbers (not their records), the FCN-score of an image-to-image
checkpoint with the judge fitted on its data, and two gloo processes give the one-process numbers."""

from __future__ import annotations

import json
import math
import socket
from datetime import timedelta

import pytest
import torch
import yaml
from lightning.pytorch.loggers import Logger

from conftest import SeededProbe, run_evaluate, tiny_dcgan, tiny_trainer
from gan_lightning.callbacks import MetricsCallback
from gan_lightning.data import MNIST5k
from gan_lightning.evaluation import (
    GeneratorMetrics,
    evaluate_translations,
    fcn_real_scores,
    fit_segmenter,
    real_features,
)

SAMPLE_METRICS = "mmd,mode_score,wasserstein,parzen,birthday,memorization,ais"
SAMPLE_KEYS = {
    "mmd", "mmd_bandwidth", "mode_score", "wasserstein", "wasserstein_method", "parzen_log_likelihood",
    "parzen_std_error", "parzen_sigma", "birthday_support", "birthday_real_support", "birthday_batch_size",
    "birthday_duplicate_rate", "birthday_threshold", "birthday_rates", "memorization_ratio", "memorization_fraction",
    "memorization_distance", "memorization_heldout_distance", "ais_log_likelihood", "ais_std_error", "ais_num_real",
}


pytestmark = pytest.mark.usefixtures("one_thread")






def test_evaluate_command_prints_the_new_keys(digits_cache, dcgan_checkpoint, tmp_path, capsys):
    code, out, err = run_evaluate(
        capsys, "--ckpt_path", dcgan_checkpoint, "--metrics", SAMPLE_METRICS, "--feature_extractor", "digits",
        "--num_samples", "120", "--num_train", "600", "--cache_dir", tmp_path / "stats", "--quiet",
        "--metric_option", "ais_steps=10", "--metric_option", "ais_num_real=3",
        "--metric_option", "birthday_batch_sizes=[5, 10, 20]")
    assert code == 0, err[-3000:]
    values = json.loads(out.strip().splitlines()[-1])
    assert set(values) == SAMPLE_KEYS | {"num_samples"} and values["num_samples"] == 120
    assert values["wasserstein_method"] == "exact" and set(values["birthday_rates"]) == {"5", "10", "20"}
    assert values["ais_num_real"] == 3
    numbers = [v for k, v in values.items() if k not in ("wasserstein_method", "birthday_rates", "birthday_support")]
    assert all(isinstance(v, (int, float)) and math.isfinite(v) for v in numbers)

    code, out, err = run_evaluate(capsys, "--ckpt_path", dcgan_checkpoint, "--metrics", "mmd", "--feature_extractor",
                                  "digits", "--metric_option", "mmd_bandwidh=2")
    assert code == 2 and "unknown metric option 'mmd_bandwidh'; known options:" in err and out.strip() == ""
    code, out, err = run_evaluate(capsys, "--ckpt_path", dcgan_checkpoint, "--metrics", "mmd", "--feature_extractor",
                                  "digits", "--num_samples", "20", "--metric_option", "mmd_bandwidth=-2",
                                  "--cache_dir", tmp_path / "stats")
    assert code == 2 and "mmd_bandwidth=-2 is not accepted: a positive kernel width" in err
    assert "Traceback" not in err


class RecordingLogger(Logger):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[int, dict]] = []

    name = "recording"
    version = 0

    def log_hyperparams(self, params, *args, **kwargs):
        pass

    def log_metrics(self, metrics, step=None):
        self.records.append((step, dict(metrics)))


def test_metrics_callback_logs_the_new_numbers_and_keeps_the_records(digits_cache, tmp_path):
    callback = MetricsCallback(metrics="mmd,wasserstein,birthday,parzen", every_n_steps=2, num_samples=60,
                               feature_extractor="digits", batch_size=30, cache_dir=str(tmp_path / "stats"))
    logger = RecordingLogger()
    trainer = tiny_trainer(tmp_path, 2, [callback], logger=logger, log_every_n_steps=50)
    trainer.fit(tiny_dcgan(), MNIST5k(image_size=28, batch_size=16))
    logged = [metrics for _, metrics in logger.records if "metrics/mmd" in metrics]
    assert len(logged) == 1
    assert "metrics/wasserstein" in logged[0] and "metrics/parzen_log_likelihood" in logged[0]
    assert "metrics/wasserstein_method" not in logged[0] and "metrics/birthday_rates" not in logged[0]
    assert callback.last_results["wasserstein_method"] == "exact"
    assert isinstance(callback.last_results["birthday_rates"], dict)


# ---------------------------------------------------------------------------- FCN-score of a checkpoint
@pytest.fixture(scope="module")
def spade_checkpoint(tmp_path_factory):
    from tiny_spade import build_data, build_model

    root = tmp_path_factory.mktemp("spade")
    trainer = tiny_trainer(root, 2)
    trainer.fit(build_model(), build_data())
    trainer.save_checkpoint(root / "spade.ckpt")
    config = root / "data.yaml"
    config.write_text(yaml.safe_dump({"data": {"class_path": "tiny_spade.TinySegmentation"}}))
    return root / "spade.ckpt", config


def test_fcn_of_a_label_to_image_checkpoint_with_the_judge_fitted_on_its_data(spade_checkpoint, capsys):
    from gan_lightning.checkpoints import load_model
    from tiny_spade import build_data

    checkpoint, config = spade_checkpoint
    code, out, err = run_evaluate(capsys, "--ckpt_path", checkpoint, "--metrics", "fcn,psnr", "--data_config", config)
    assert code == 0, err[-3000:]
    values = json.loads(out.strip().splitlines()[-1])
    assert set(values) == {"fcn_pixel_acc", "fcn_class_acc", "fcn_miou", "psnr", "num_pairs"}
    assert values["num_pairs"] == 16

    # the same judge (seeded fit on the training pairs) and numbers through the Python API
    data = build_data()
    data.setup("fit")
    train = [data.train_set[i] for i in range(len(data.train_set))]
    judge = fit_segmenter(torch.stack([t["image"] for t in train]), torch.stack([t["label"] for t in train]), 3)
    expected = evaluate_translations(load_model(checkpoint), data, "fcn", judge=judge)
    for key in ("fcn_pixel_acc", "fcn_class_acc", "fcn_miou"):
        assert values[key] == pytest.approx(expected[key], rel=1e-6)
    held = [data.heldout_set[i] for i in range(len(data.heldout_set))]
    ceiling = fcn_real_scores(judge, torch.stack([h["image"] for h in held]), torch.stack([h["label"] for h in held]))
    assert ceiling["fcn_pixel_acc"] > values["fcn_pixel_acc"]  # 2 iterations of SPADE are below the real images
    code, _, err = run_evaluate(capsys, "--ckpt_path", checkpoint, "--metrics", "fcn", "--data", "MNIST5k")
    assert code == 2 and "paired metrics need a data module of input/target pairs" in err


# ---------------------------------------------------------------------------- DDP
DDP_METRICS = "mmd,wasserstein,parzen,birthday,memorization,mode_score"
OPTIONS = dict(birthday_batch_sizes=[4, 8, 16], birthday_trials=50, wasserstein_method="sliced")


def probe_suite():
    generator = torch.Generator().manual_seed(0)
    real, train = torch.randn(60, 1, 3, 3, generator=generator), torch.randn(80, 1, 3, 3, generator=generator)
    extractor = SeededProbe(9, 6, 4, seed=2)
    suite = GeneratorMetrics(DDP_METRICS, extractor, seed=4, **OPTIONS)
    suite.set_real(real_features(real, extractor, None, cache=False)[0])
    suite.set_real_input("logits", extractor.logits(real).detach())
    suite.set_real_input("train_features", extractor.features(train).detach())
    return suite


def fake_images():
    return torch.randn(70, 1, 3, 3, generator=torch.Generator().manual_seed(1)) * 1.2


def _ddp_worker(rank: int, world_size: int, port: int, out_dir: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size,
                            timeout=timedelta(seconds=120))
    try:
        suite = probe_suite()
        fake = fake_images()
        part = fake[:40] if rank == 0 else fake[40:]
        for start in range(0, len(part), 15):
            suite.update(part[start : start + 15])
        with open(f"{out_dir}/rank{rank}.json", "w") as handle:
            json.dump(suite.compute(), handle)
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_give_the_single_process_numbers(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    torch.multiprocessing.spawn(_ddp_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    suite = probe_suite()
    fake = fake_images()
    for start in range(0, len(fake), 35):
        suite.update(fake[start : start + 35])
    expected = suite.compute()
    for rank in range(2):
        result = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert result.keys() == expected.keys()
        for key, value in expected.items():
            assert result[key] == (pytest.approx(value, rel=1e-6, abs=1e-9) if isinstance(value, float) else value), key
    assert expected["num_samples"] == 70
