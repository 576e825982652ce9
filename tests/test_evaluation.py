"""Evaluation: the shared code path (``evaluate_generator``), the ``evaluate`` command, the real-statistics
cache, ``MetricsCallback`` during fit, and DDP (2 gloo processes) against one process."""

from __future__ import annotations

import json
import math
import socket
from datetime import timedelta
from pathlib import Path

import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import Logger
from torch import nn

from conftest import SeededProbe, run_evaluate, tiny_dcgan, tiny_trainer
from gan_lightning.callbacks import FIDCallback, MetricsCallback
from gan_lightning.data import MNIST5k, Toy2D
from gan_lightning.evaluation import (
    EvalMetric,
    EvaluationSettings,
    GeneratorMetrics,
    MetricContext,
    evaluate_generator,
    generated_batches,
    known_metrics,
    metric_values,
    parse_metrics,
    rank_seed,
    rank_share,
    real_features,
    register_metric,
)
from gan_lightning.evaluation import registry
from gan_lightning.evaluation import INCEPTION_WEIGHTS_FILENAME
from gan_lightning.models import GAN

IMAGE_KEYS = {"fid", "kid_mean", "kid_std", "is_mean", "is_std", "precision", "recall", "num_samples"}


pytestmark = pytest.mark.usefixtures("one_thread")




def tiny_toy_gan(seed: int = 0) -> GAN:
    torch.manual_seed(seed)
    return GAN(data_shape=(2,), latent_dim=4, g_hidden=(16,), d_hidden=(16,))


# ---------------------------------------------------------------------------- the command
def test_evaluate_command_prints_the_asked_metrics_as_json_on_its_last_line(
    digits_cache, dcgan_checkpoint, tmp_path, capsys
):
    # main() is the console script's entry point; in-process to spare a second interpreter start-up
    code, out, err = run_evaluate(capsys, "--ckpt_path", dcgan_checkpoint, "--metrics", "fid,kid,is,pr",
                              "--feature_extractor", "digits", "--num_samples", "64", "--batch_size", "32",
                              "--cache_dir", tmp_path / "stats")
    assert code == 0, err[-3000:]
    values = json.loads(out.strip().splitlines()[-1])
    assert set(values) == IMAGE_KEYS
    assert values["num_samples"] == 64
    assert values["fid"] > 0 and 0 <= values["precision"] <= 1 and 0 <= values["recall"] <= 1
    assert 1.0 <= values["is_mean"] <= 10.0  # 10 digit classes bound the score
    assert all(math.isfinite(v) for v in values.values())
    assert "generated samples" in err and "cache miss" in err  # progress and summary go to stderr

    code, out, err = run_evaluate(capsys, "--ckpt_path", dcgan_checkpoint, "--metrics", "fid", "--feature_extractor",
                              "digits", "--num_samples", "64", "--cache_dir", tmp_path / "stats", "--quiet")
    assert code == 0 and "cache hit" in err
    assert set(json.loads(out.strip().splitlines()[-1])) == {"fid", "num_samples"}


def test_evaluate_command_modes_on_a_toy2d_checkpoint(digits_cache, tmp_path, capsys):
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    tiny_trainer(tmp_path, 3, [checkpoint], enable_checkpointing=True).fit(tiny_toy_gan(), Toy2D(num_points=500))
    code, out, err = run_evaluate(capsys, "--ckpt_path", tmp_path / "ckpt" / "last.ckpt", "--metrics", "modes",
                              "--num_samples", "400", "--toy_kind", "ring8")
    assert code == 0, err
    values = json.loads(out.strip().splitlines()[-1])
    assert set(values) == {"modes", "high_quality", "reverse_kl"}
    assert isinstance(values["modes"], int) and 0 <= values["modes"] <= 8
    assert 0.0 <= values["high_quality"] <= 1.0 and values["reverse_kl"] >= 0


def test_evaluate_command_without_inception_weights_fails_with_one_clear_line(
    digits_cache, dcgan_checkpoint, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch_home"))
    code, out, err = run_evaluate(capsys, "--ckpt_path", dcgan_checkpoint, "--metrics", "fid", "--num_samples", "16")
    assert code != 0
    assert INCEPTION_WEIGHTS_FILENAME in err and "--weights" in err
    assert "Traceback" not in err and out.strip() == ""
    assert len(err.strip().splitlines()) == 1


def test_evaluate_command_rejects_unknown_metrics(digits_cache, dcgan_checkpoint, capsys):
    code, out, err = run_evaluate(capsys, "--ckpt_path", dcgan_checkpoint, "--metrics", "fid,sharpness")
    assert code == 2 and "Traceback" not in err
    assert f"unknown metric 'sharpness'; known metrics: {BUILTIN_METRICS}" in err


# ---------------------------------------------------------------------------- real-statistics cache
class CountingExtractor(nn.Module):
    """A fixed random projection that counts the samples it sees."""

    num_features = 8

    def __init__(self) -> None:
        super().__init__()
        self.projection = nn.Linear(2, self.num_features)
        nn.init.normal_(self.projection.weight, generator=torch.Generator().manual_seed(0))
        self.seen = 0

    def features(self, points: torch.Tensor) -> torch.Tensor:
        self.seen += points.shape[0]
        return torch.tanh(self.projection(points))


def test_second_evaluation_reads_real_features_from_the_cache(digits_cache):
    model, data, extractor = tiny_toy_gan(), Toy2D(num_points=400, num_heldout=300), CountingExtractor()
    kwargs = dict(metrics="fid,kid,pr", num_samples=120, extractor=extractor, batch_size=50, progress=False)

    first = evaluate_generator(model, data, **kwargs)
    assert first["real_cache"] == "miss" and extractor.seen == 120 + 120  # real + generated
    files = list((digits_cache / "real_stats").glob("Toy2D_heldout_*.pt"))  # GAN_LIGHTNING_CACHE is the root
    assert len(files) == 1

    extractor.seen = 0
    second = evaluate_generator(model, data, **kwargs)
    assert second["real_cache"] == "hit" and extractor.seen == 120  # generated samples only
    numbers = ("fid", "kid_mean", "kid_std", "precision", "recall")
    assert {k: second[k] for k in numbers} == {k: first[k] for k in numbers}

    extractor.seen = 0  # another key (sample count, data set) computes again
    assert evaluate_generator(model, data, **{**kwargs, "num_samples": 100})["real_cache"] == "miss"
    assert evaluate_generator(model, Toy2D(kind="grid25", num_points=400, num_heldout=300), **kwargs)["real_cache"] == "miss"
    assert extractor.seen == 200 + 240
    assert len(list((digits_cache / "real_stats").glob("Toy2D_heldout_*.pt"))) == 3


def test_evaluation_records_what_the_numbers_depend_on(digits_cache):
    model = tiny_toy_gan()
    model.enable_ema()
    model.train()
    results = evaluate_generator(model, Toy2D(num_points=400, num_heldout=300), "fid,modes", num_samples=50,
                                 extractor=None, progress=False, use_cache=False)
    assert results["num_samples"] == 50 and results["num_real"] == 50 and results["real_split"] == "heldout"
    assert results["ema"] is True and results["generator_mode"] == "eval" and results["feature_extractor"] == "none"
    assert model.generator.training and model.generator_ema.training  # modes restored after sampling in eval
    assert parse_metrics("FID, precision_recall,fid") == ["fid", "pr"]
    with pytest.raises(ValueError, match="unknown metric"):
        parse_metrics("fid,nope")


# ---------------------------------------------------------------------------- metrics by name
# the names issue 28 added (mmd ... memorization) come after the first seven in registration order
BUILTIN_METRICS = "fid, kid, is, pr, 1nn, classes, modes, mmd, mode_score, wasserstein, parzen, ais, birthday, memorization"


class GaussianPoints(nn.Module):
    """A 'model' drawing 2-D standard normal points from the evaluation's RNG."""

    device = torch.device("cpu")

    def sample(self, num, labels=None, use_ema=True, rng=None):
        return torch.randn(num, 2, generator=rng)


class MeanNorm(EvalMetric):
    """Mean of |x|^power over the generated points: a metric the evaluation does not ship."""

    name = "mean_norm"
    aliases = ("average_norm",)
    outputs = ("mean_norm",)
    takes = "points"
    options = {"mean_norm_power": 1.0}

    def __init__(self, context: MetricContext) -> None:
        super().__init__(context)
        self.power = context.options["mean_norm_power"]
        self.register_buffer("total", torch.zeros((), dtype=torch.float64))
        self.count = 0

    def update(self, points: torch.Tensor) -> None:
        self.total += points.double().norm(dim=1).pow(self.power).sum()
        self.count += points.shape[0]

    def compute(self, num_generated: int) -> dict[str, float]:
        return {"mean_norm": float(self.total) / self.count}


@pytest.fixture
def mean_norm_registered():
    register_metric(MeanNorm)
    yield MeanNorm
    registry.METRICS.pop("mean_norm")


def test_a_registered_metric_is_computed_by_evaluate_generator(mean_norm_registered):
    points = torch.cat(list(generated_batches(GaussianPoints(), 300, 64, True, seed=7)))
    settings = EvaluationSettings(num_samples=300, batch_size=64, seed=7, progress=False)

    results = evaluate_generator(GaussianPoints(), None, "mean_norm", settings)
    assert results["mean_norm"] == pytest.approx(float(points.double().norm(dim=1).mean()), rel=1e-12)
    assert results["num_samples"] == 300 and results["feature_extractor"] is None  # no extractor for points
    squared = evaluate_generator(GaussianPoints(), None, "average_norm", settings,
                                 metric_options={"mean_norm_power": 2.0})
    assert squared["mean_norm"] == pytest.approx(float(points.double().pow(2).sum(dim=1).mean()), rel=1e-12)
    assert metric_values(squared, "average_norm") == {"mean_norm": squared["mean_norm"]}
    assert list(known_metrics())[-1] == "mean_norm"
    with pytest.raises(ValueError, match="already registered"):
        register_metric(type("AnotherMeanNorm", (MeanNorm,), {"name": "average_norm"}))


def test_unknown_metric_names_give_one_error_listing_the_known_ones(mean_norm_registered):
    expected = f"unknown metric 'sharpness'; known metrics: {BUILTIN_METRICS}, mean_norm"
    for attempt in (
        lambda: parse_metrics("fid,sharpness"),
        lambda: evaluate_generator(GaussianPoints(), None, ["mean_norm", "sharpness"], progress=False),
        lambda: GeneratorMetrics(["sharpness"]),
        lambda: MetricsCallback(metrics="fid,sharpness"),
    ):
        with pytest.raises(ValueError) as error:
            attempt()
        assert str(error.value) == expected
    with pytest.raises(TypeError, match="unknown metric option.*kid_subset_count.*known options: kid_subsets"):
        GeneratorMetrics(["kid"], kid_subset_count=5)


# ---------------------------------------------------------------------------- callback
class RecordingLogger(Logger):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[int, dict]] = []

    @property
    def name(self):
        return "recording"

    @property
    def version(self):
        return 0

    def log_hyperparams(self, params, *args, **kwargs):
        pass

    def log_metrics(self, metrics, step=None):
        self.records.append((step, dict(metrics)))


def test_metrics_callback_logs_fid_during_fit_and_matches_offline_evaluation(digits_cache, tmp_path):
    data = MNIST5k(image_size=28, batch_size=16)
    callback = MetricsCallback(metrics=["fid"], every_n_steps=2, num_samples=64, feature_extractor="digits",
                               batch_size=32, cache_dir=str(tmp_path / "stats"), evaluate_at_start=True)
    logger = RecordingLogger()
    model = tiny_dcgan()
    trainer = tiny_trainer(tmp_path, 3, [callback], logger=logger, log_every_n_steps=50)
    trainer.fit(model, data)

    fid_steps = [(step, m["metrics/fid"]) for step, m in logger.records if "metrics/fid" in m]
    assert [step for step, _ in fid_steps] == [0, 2, 3]  # untrained G, every 2 iterations, end of fit
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [(r["iteration"], r["fid"]) for r in records] == fid_steps  # the plain-file record
    assert records[0]["num_samples"] == 64 and records[0]["feature_extractor"] == "digits"
    assert all(math.isfinite(value) and value > 0 for _, value in fid_steps)
    assert float(trainer.callback_metrics["metrics/fid"]) == pytest.approx(fid_steps[-1][1])
    assert callback.last_results["num_samples"] == 64 and callback.last_results["generator_mode"] == "eval"
    assert not any("extractor" in key or "metric" in key for key in model.state_dict())  # not in checkpoints

    offline = evaluate_generator(model, data, ["fid"], num_samples=64, extractor="digits", batch_size=32,
                                 cache_dir=tmp_path / "stats", progress=False)
    assert offline["real_cache"] == "hit"
    assert offline["fid"] == pytest.approx(fid_steps[-1][1], rel=1e-9)  # one code path
    assert isinstance(FIDCallback(every_n_steps=5), MetricsCallback) and FIDCallback().metrics == ["fid"]


# ---------------------------------------------------------------------------- DDP
IMAGE_METRICS = ["fid", "kid", "is", "pr", "1nn", "classes"]
TOY_METRICS = "fid,kid,pr,1nn,modes"


def fixed_images():
    generator = torch.Generator().manual_seed(0)
    return torch.randn(100, 1, 6, 6, generator=generator), torch.randn(120, 1, 6, 6, generator=generator) * 1.3


def image_suite():
    extractor = SeededProbe(36, 16, 10, seed=1)
    real, _ = fixed_images()
    suite = GeneratorMetrics(IMAGE_METRICS, extractor, classifier=extractor, seed=3, kid_subsets=20)
    suite.set_real(real_features(real, extractor, None)[0])
    return suite


def _ddp_worker(rank: int, world_size: int, port: int, out_dir: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size,
                            timeout=timedelta(seconds=120))
    try:
        # 1. fixed samples, unequal halves (70 / 50) in unequal batch counts
        _, fake = fixed_images()
        suite = image_suite()
        part = fake[:70] if rank == 0 else fake[70:]
        for start in range(0, len(part), 25):
            suite.update(part[start : start + 25])
        image_results = suite.compute()
        # 2. evaluate_generator itself: each rank its share, its own noise, a shared cache folder
        toy_results = evaluate_generator(tiny_toy_gan(), Toy2D(num_points=400, num_heldout=300), TOY_METRICS,
                                         num_samples=101, extractor=None, batch_size=20, seed=5, progress=False,
                                         cache_dir=Path(out_dir) / "stats")
        Path(out_dir, f"rank{rank}.json").write_text(json.dumps({"image": image_results, "toy": toy_results}))
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_gloo_processes_give_the_single_process_numbers(digits_cache, tmp_path):
    torch.multiprocessing.spawn(_ddp_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]

    # one process, the same samples in rank order
    _, fake = fixed_images()
    suite = image_suite()
    for start in range(0, len(fake), 40):
        suite.update(fake[start : start + 40])
    expected_image = suite.compute()

    model, data = tiny_toy_gan(), Toy2D(num_points=400, num_heldout=300)
    toy_suite = GeneratorMetrics(parse_metrics(TOY_METRICS), None, modes=data.modes, mode_std=data.std, seed=5)
    toy_suite.set_real(real_features(data, None, 101, cache=False)[0])
    for rank in range(2):
        for samples in generated_batches(model, rank_share(101, rank, 2), 20, True, rank_seed(5, rank)):
            toy_suite.update(samples)
    expected_toy = toy_suite.compute()

    for result in ranks:
        assert result["image"].keys() == expected_image.keys()
        for key, value in expected_image.items():
            assert result["image"][key] == pytest.approx(value, rel=1e-6, abs=1e-9), key
        assert result["toy"]["num_samples"] == 101 and result["toy"]["world_size"] == 2
        for key, value in expected_toy.items():
            assert result["toy"][key] == pytest.approx(value, rel=1e-6, abs=1e-9), key
    assert expected_image["num_samples"] == 120 and expected_image["classes_covered"] >= 2
    assert ranks[0]["toy"]["modes"] == expected_toy["modes"]
    assert rank_share(101, 0, 2) + rank_share(101, 1, 2) == 101
