"""Class-conditional FID / KID: per class (G's samples of label c vs the real samples of class c) and overall."""

import math

import pytest
import torch
from torch import nn

from conftest import tiny_dcgan, tiny_trainer
from gan_lightning.core.protocol import Condition
from gan_lightning.callbacks import MetricsCallback
from gan_lightning.data import MNIST5k
from gan_lightning.evaluation import evaluate_generator, per_class_keys, real_by_class
from gan_lightning.models import CGAN


def pooled_features() -> nn.Module:
    """A fixed 16-feature extractor (4 x 4 average pooling): enough to tell digits apart, no training."""
    return nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Flatten())


@pytest.fixture(scope="module")
def data():
    module = MNIST5k(image_size=28, batch_size=16)
    module.setup("fit")
    return module


class ReplayGenerator(nn.Module):
    """A 'generator' that returns real held-out digits of class (label + shift) % 10: shift 0 is a
    perfect class-conditional generator, shift 1 one that draws the wrong class every time."""

    def __init__(self, by_class: dict[int, torch.Tensor], shift: int) -> None:
        super().__init__()
        self.by_class, self.shift = by_class, shift
        self.drawn = {c: 0 for c in by_class}

    @property
    def device(self):
        return torch.device("cpu")

    def conditions(self):
        return (Condition("class", "label", 10),)

    def sample(self, num, labels=None, use_ema=True, rng=None):
        out = []
        for label in labels.tolist():
            cls = (label + self.shift) % 10
            pool = self.by_class[cls]
            out.append(pool[self.drawn[cls] % len(pool)])
            self.drawn[cls] += 1
        return torch.stack(out)


def test_per_class_fid_of_real_data_is_smaller_for_the_same_class(data):
    heldout, _ = real_by_class(data, 10, "heldout")
    kwargs = dict(metrics=["fid"], num_samples=400, extractor=pooled_features(), batch_size=50, progress=False,
                  use_cache=False, real_split="train", num_real=2000, per_class=True)
    same = evaluate_generator(ReplayGenerator(heldout, 0), data, **kwargs)
    shifted = evaluate_generator(ReplayGenerator(heldout, 1), data, **kwargs)

    assert same["num_samples_per_class"] == 40
    for c in range(10):
        assert same[f"num_real_class_{c}"] == 200  # num_real // num_classes of the training split's class c
        assert math.isfinite(same[f"fid_class_{c}"]) and math.isfinite(shifted[f"fid_class_{c}"])
        assert same[f"fid_class_{c}"] < shifted[f"fid_class_{c}"], c
    assert same["fid_class_mean"] == pytest.approx(sum(same[f"fid_class_{c}"] for c in range(10)) / 10)
    assert 3 * same["fid_class_mean"] < shifted["fid_class_mean"]
    # overall, both draw the very same images (each class's first 40), only under other labels:
    # the overall FID cannot see the wrong labels, the per-class one does
    assert shifted["fid"] == pytest.approx(same["fid"], rel=1e-6)


def test_metrics_callback_logs_per_class_fid_and_kid_of_a_trained_cgan(tmp_path, data):
    extractor_path = tmp_path / "pooled.pt"
    torch.save(pooled_features(), extractor_path)
    callback = MetricsCallback(metrics=["fid", "kid"], every_n_steps=4, num_samples=200, feature_extractor=str(extractor_path),
                               batch_size=50, cache_dir=str(tmp_path / "stats"), per_class=True)
    model = CGAN(data_shape=(1, 28, 28), latent_dim=16, num_classes=10, g_width=8, d_width=8)
    trainer = tiny_trainer(tmp_path, max_steps=4, callbacks=[callback])
    trainer.fit(model, data)

    expected = ["metrics/" + key for key in per_class_keys(["fid", "kid"], 10)]
    assert "metrics/fid_class_9" in expected and "metrics/kid_mean_class_mean" in expected
    for key in expected + ["metrics/fid", "metrics/kid_mean"]:
        assert key in trainer.callback_metrics, key
        assert math.isfinite(float(trainer.callback_metrics[key])), key
    results = callback.last_results
    assert results["num_samples_per_class"] == 20
    assert [results[f"num_real_class_{c}"] for c in range(10)] == [int((real_by_class(data, 10)[0][c]).shape[0])
                                                                    for c in range(10)]
    per_class = [results[f"fid_class_{c}"] for c in range(10)]
    assert len(set(per_class)) > 1  # each class is its own comparison
    assert results["fid_class_mean"] == pytest.approx(sum(per_class) / 10)


def test_per_class_needs_a_class_conditional_model(tmp_path, data):
    callback = MetricsCallback(metrics=["fid"], every_n_steps=4, num_samples=40, feature_extractor="none", per_class=True)
    with pytest.raises(ValueError, match="class-conditional"):
        tiny_trainer(tmp_path, max_steps=1, callbacks=[callback]).fit(tiny_dcgan(), data)
    with pytest.raises(ValueError, match="class-conditional"):
        evaluate_generator(tiny_dcgan(), data, ["fid"], num_samples=40, extractor=None, progress=False, per_class=True)


def test_evaluate_command_prints_per_class_keys(tmp_path, data, capsys):
    import json

    from lightning.pytorch.callbacks import ModelCheckpoint

    from gan_lightning.cli import main

    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    model = CGAN(data_shape=(1, 28, 28), latent_dim=16, num_classes=10, g_width=8, d_width=8)
    tiny_trainer(tmp_path, 2, [checkpoint], enable_checkpointing=True).fit(model, data)
    extractor_path = tmp_path / "pooled.pt"
    torch.save(pooled_features(), extractor_path)
    try:
        main(["evaluate", "--ckpt_path", str(tmp_path / "ckpt" / "last.ckpt"), "--metrics", "fid",
              "--feature_extractor", str(extractor_path), "--num_samples", "100", "--data", "MNIST5k",
              "--no_cache", "--quiet", "--per_class"])
    except SystemExit as exit_:
        assert not exit_.code, capsys.readouterr().err[-2000:]
    values = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(values) == {"fid", "num_samples", "fid_class_mean", *(f"fid_class_{c}" for c in range(10))}
    assert all(math.isfinite(v) for v in values.values())
