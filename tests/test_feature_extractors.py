"""Feature extractors: Inception weight loading (offline), the MNIST5k digits classifier,
saved-module extractors, ``build_extractor``, and FID with digits features."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gan_lightning.evaluation import (
    INCEPTION_WEIGHTS_FILENAME,
    DigitsClassifier,
    FrechetDistance,
    InceptionExtractor,
    MissingWeightsError,
    ModuleExtractor,
    build_extractor,
    extract_features,
    load_digits_classifier,
    to_digit_images,
    to_uint8_images,
    train_digits_classifier,
)
from gan_lightning.evaluation import digits as digits_module  # load_digits_classifier trains through it



pytestmark = pytest.mark.usefixtures("one_thread")


# ---------------------------------------------------------------------------- Inception


def _forbid_download(monkeypatch):
    import torch_fidelity.feature_extractor_inceptionv3 as inception_module

    def no_download(*args, **kwargs):
        raise AssertionError("a download of the Inception weights was attempted")

    monkeypatch.setattr(inception_module, "load_state_dict_from_url", no_download)


@pytest.fixture(scope="module")
def random_inception_home(tmp_path_factory):
    """A TORCH_HOME whose hub cache holds *random* InceptionV3 weights under the real file name.

    Random weights because this machine is offline: the real weights cannot be
    downloaded. The tests below exercise the loading code path, the input
    conversion and the output shapes, not the numbers.
    """
    import torch_fidelity.feature_extractor_inceptionv3 as inception_module

    with pytest.MonkeyPatch.context() as patch:
        # build the architecture without any weights: no download, no strict load
        patch.setattr(inception_module, "load_state_dict_from_url", lambda *args, **kwargs: {})
        patch.setattr(inception_module.FeatureExtractorInceptionV3, "load_state_dict", lambda self, *a, **k: None)
        torch.manual_seed(0)
        network = inception_module.FeatureExtractorInceptionV3("random", ["2048"])
    # running variances that keep activations O(1) through the random layers (default 1 shrinks them to ~1e-8)
    state = {k: torch.full_like(v, 0.15) if k.endswith("running_var") else v for k, v in network.state_dict().items()}
    home = tmp_path_factory.mktemp("torch_home")
    path = home / "hub" / "checkpoints" / INCEPTION_WEIGHTS_FILENAME
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    return home


def test_inception_loads_given_weights_file_and_gives_pool_features_and_logits(
    random_inception_home, tmp_path, monkeypatch
):
    """Loads random weights written by the test (offline machine: the real weights cannot be
    downloaded). This checks the loading path and the shapes, not the numbers."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # empty cache: only weights_path can work
    _forbid_download(monkeypatch)
    weights = random_inception_home / "hub" / "checkpoints" / INCEPTION_WEIGHTS_FILENAME
    extractor = InceptionExtractor(weights_path=str(weights))
    assert extractor.num_features == 2048 and extractor.weights_path == str(weights)

    images = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1  # gray, 28 px
    features, logits = extractor.features_and_logits(images)
    assert features.shape == (2, 2048) and logits.shape == (2, 1008)
    assert torch.isfinite(features).all() and not torch.allclose(features[0], features[1])
    # logits_unbiased: the fc layer without its bias
    fc_weight = extractor.network.fc.weight
    torch.testing.assert_close(logits, features @ fc_weight.T, rtol=1e-4, atol=1e-4)
    # forward is features(); gray images are repeated to RGB (same picture in 3 channels, same features)
    torch.testing.assert_close(extractor(images[:1].expand(-1, 3, -1, -1)), features[:1])
    # stays in eval mode and without gradients inside a module that is put in training mode
    parent = nn.ModuleDict({"extractor": extractor}).train()
    assert not parent["extractor"].training and not parent["extractor"].network.training
    assert not any(p.requires_grad for p in extractor.parameters())
    # the metric path: FID over Inception features runs end to end
    metric = FrechetDistance(extractor)
    metric.update(images, real=True)
    metric.update(images.flip(-1), real=False)
    assert math.isfinite(float(metric.compute()))


def test_inception_loads_from_torch_hub_cache(random_inception_home, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(random_inception_home))
    _forbid_download(monkeypatch)
    extractor = build_extractor("inception")
    assert extractor.weights_path == str(random_inception_home / "hub" / "checkpoints" / INCEPTION_WEIGHTS_FILENAME)
    assert extractor.features(torch.zeros(1, 3, 32, 32)).shape == (1, 2048)


def test_inception_missing_weights_error_names_file_cache_and_flag(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    _forbid_download(monkeypatch)
    with pytest.raises(MissingWeightsError) as caught:
        InceptionExtractor()
    message = str(caught.value)
    assert isinstance(caught.value, FileNotFoundError)
    assert INCEPTION_WEIGHTS_FILENAME in message
    assert str(tmp_path / "hub" / "checkpoints") in message
    assert "--weights" in message
    # a given path that does not exist: named in the message, still no download
    with pytest.raises(MissingWeightsError, match="nowhere.pth"):
        build_extractor("inception", weights=str(tmp_path / "nowhere.pth"))


def test_to_uint8_images_rounds_clamps_and_repeats_gray():
    images = torch.tensor([-1.0, -0.999, 0.0, 1.0, 2.0]).reshape(1, 1, 1, 5)
    converted = to_uint8_images(images)
    assert converted.dtype == torch.uint8 and converted.shape == (1, 3, 1, 5)
    assert converted[0, 0, 0].tolist() == [0, 0, 128, 255, 255]
    with pytest.raises(ValueError, match="1 or 3"):
        to_uint8_images(torch.zeros(1, 2, 4, 4))


# ---------------------------------------------------------------------------- digits classifier
@pytest.fixture(scope="session")
def digits_classifier_file(tmp_path_factory):
    """One short training run for the whole session (3 epochs, a few seconds)."""
    path = tmp_path_factory.mktemp("digits") / "digits_classifier.pt"
    report = train_digits_classifier(path, epochs=3, seed=0)
    return path, report


def test_digits_classifier_trains_to_high_heldout_accuracy(digits_classifier_file):
    path, report = digits_classifier_file
    assert report["path"] == str(path) and path.is_file()
    assert report["num_heldout"] == 500 and report["num_train"] == 4500
    assert report["accuracy"] >= 0.9
    classifier = load_digits_classifier(path)
    assert isinstance(classifier, DigitsClassifier) and not classifier.training
    assert classifier.accuracy == report["accuracy"]
    payload = torch.load(path, weights_only=True)
    assert payload["seed"] == 0 and payload["accuracy"] == report["accuracy"]


def test_digits_classifier_training_is_deterministic(tmp_path):
    # a 90 % held-out split keeps this short: 500 training images
    first = train_digits_classifier(tmp_path / "a.pt", epochs=1, seed=3, heldout_fraction=0.9)
    state = torch.get_rng_state()
    second = train_digits_classifier(tmp_path / "b.pt", epochs=1, seed=3, heldout_fraction=0.9)
    assert torch.equal(state, torch.get_rng_state())  # the global RNG is left alone
    assert first["accuracy"] == second["accuracy"]
    a = torch.load(tmp_path / "a.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "b.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[name], b[name]) for name in a)


def test_digits_features_real_vs_real_fid_far_below_noise(digits_classifier_file):
    from gan_lightning.data.images import mnist5k_tensor

    classifier = load_digits_classifier(digits_classifier_file[0])
    images, labels = mnist5k_tensor(28, 1)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    first, second = images[order[:2500]], images[order[2500:]]
    noise = torch.rand(2500, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1

    def fid(real, fake):
        metric = FrechetDistance(classifier)
        assert metric.num_features == 128
        for chunk in real.split(500):
            metric.update(chunk, real=True)
        for chunk in fake.split(500):
            metric.update(chunk, real=False)
        return float(metric.compute())

    real_vs_real, real_vs_noise = fid(first, second), fid(first, noise)
    assert real_vs_real < real_vs_noise / 5
    # the classifier sees the digits: accuracy on (mostly training) data is high
    predictions = torch.cat([classifier(chunk).argmax(1) for chunk in images.split(1000)])
    assert (predictions == labels).float().mean() > 0.95
    # 32 px padded MNIST5k (as the data module makes it) gives the same features as 28 px
    padded, _ = mnist5k_tensor(32, 3)
    torch.testing.assert_close(classifier.features(padded[:64]), classifier.features(images[:64]))


def test_to_digit_images_sizes_and_channels():
    x = torch.rand(2, 3, 28, 28) * 2 - 1
    torch.testing.assert_close(to_digit_images(x), x.mean(1, keepdim=True))
    padded = torch.nn.functional.pad(x[:, :1], (2, 2, 2, 2), value=-1.0)
    torch.testing.assert_close(to_digit_images(padded), x[:, :1])
    assert to_digit_images(torch.zeros(2, 1, 64, 64)).shape == (2, 1, 28, 28)
    assert DigitsClassifier()(torch.zeros(2, 3, 64, 64)).shape == (2, 10)


def test_load_digits_classifier_trains_into_cache_when_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GAN_LIGHTNING_CACHE", str(tmp_path / "cache"))
    real_train = digits_module.train_digits_classifier
    calls = []

    def quick_train(path, **kwargs):  # one epoch on 500 images keeps the test short
        calls.append(path)
        return real_train(path, epochs=1, heldout_fraction=0.9)

    monkeypatch.setattr(digits_module, "train_digits_classifier", quick_train)
    classifier = load_digits_classifier()
    expected = tmp_path / "cache" / "digits_classifier.pt"
    assert calls == [expected] and expected.is_file()
    assert "training one on MNIST5k" in capsys.readouterr().err
    assert classifier.weights_path == str(expected)
    # second time: loaded from the cache, no training
    assert isinstance(build_extractor("digits"), DigitsClassifier)
    assert len(calls) == 1
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_digits_classifier(tmp_path / "missing.pt")


# ---------------------------------------------------------------------------- saved modules
@pytest.mark.filterwarnings("ignore:.*torch.jit.*is deprecated:FutureWarning")
def test_module_extractor_whole_module_torchscript_and_errors(tmp_path):
    torch.manual_seed(0)
    network = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 5))
    images = torch.rand(4, 3, 8, 8) * 2 - 1
    expected = network(images).detach()

    torch.save(network, tmp_path / "whole.pt")
    whole = build_extractor(str(tmp_path / "whole.pt"))
    assert isinstance(whole, ModuleExtractor)
    torch.testing.assert_close(extract_features(whole, images), expected)

    torch.jit.save(torch.jit.script(network), tmp_path / "scripted.pt")
    torch.testing.assert_close(ModuleExtractor(tmp_path / "scripted.pt")(images), expected)

    # unknown D: FrechetDistance sizes its states from the first batch
    metric = FrechetDistance(whole)
    metric.update(images, real=True)
    metric.update(images.flip(0), real=False)
    assert metric.real_sum.shape == (5,) and float(metric.compute()) == pytest.approx(0.0, abs=1e-6)

    torch.save(nn.Identity(), tmp_path / "identity.pt")
    with pytest.raises(ValueError, match=r"\(N, D\) features"):
        ModuleExtractor(tmp_path / "identity.pt")(images)
    torch.save(network.state_dict(), tmp_path / "state.pt")
    with pytest.raises(TypeError, match="not an nn.Module"):
        ModuleExtractor(tmp_path / "state.pt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ModuleExtractor(tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="inception, digits"):
        build_extractor("not-an-extractor")
