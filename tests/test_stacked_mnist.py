"""Stacked MNIST: the StackedMNIST5k data module and the StackedModes metric."""

from __future__ import annotations

import math

import pytest
import torch

from gan_lightning.data import StackedMNIST5k, mnist5k_tensor
from gan_lightning.evaluation import StackedModes, load_digits_classifier, train_digits_classifier


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """A digits classifier trained for 2 epochs: enough to read most digits, cheap to train."""
    path = tmp_path_factory.mktemp("digits") / "digits_classifier.pt"
    train_digits_classifier(path, epochs=2, seed=0)
    return load_digits_classifier(path)


def test_stacked_images_are_three_mnist5k_digits_with_the_stacked_label():
    data = StackedMNIST5k(num_samples=300, batch_size=16, seed=3)
    data.setup()
    assert data.data_shape == (3, 28, 28) and data.num_classes == 1000
    assert len(data.train_set) == 300 and data.heldout_set is None
    x, y = next(iter(data.train_dataloader()))
    assert x.shape == (16, 3, 28, 28) and y.shape == (16,)
    assert x.min() == -1.0 and x.max() == 1.0

    digits, labels = mnist5k_tensor(28, 1)
    stacked = data.train_set
    for i in (0, 7, 299):
        image, label = stacked[i]
        triple = stacked.triples[i]
        assert torch.equal(image, digits[triple, 0])  # channel c is base digit triple[c]
        d1, d2, d3 = labels[triple].tolist()
        assert int(label) == 100 * d1 + 10 * d2 + d3
    # the three channels are drawn independently: they are rarely the same digit
    assert (stacked.triples[:, 0] != stacked.triples[:, 1]).float().mean() > 0.99


def test_stacked_draw_depends_only_on_the_seed():
    first, again, other = (StackedMNIST5k(num_samples=200, seed=s) for s in (1, 1, 2))
    for data in (first, again, other):
        data.setup()
    assert torch.equal(first.train_set.triples, again.train_set.triples)
    assert not torch.equal(first.train_set.triples, other.train_set.triples)
    batches = [next(iter(d.train_dataloader()))[1] for d in (first, again)]
    assert torch.equal(batches[0], batches[1])


def test_stacked_32px_padding_and_heldout_split():
    data = StackedMNIST5k(image_size=32, num_samples=200, heldout_fraction=0.1, batch_size=8)
    data.setup()
    assert len(data.train_set) == 180 and len(data.heldout_set) == 20
    x, _ = next(iter(data.train_dataloader()))
    assert x.shape == (8, 3, 32, 32) and (x[:, :, :2, :] == -1).all()
    with pytest.raises(ValueError, match="num_samples"):
        StackedMNIST5k(num_samples=0)


def test_stacked_mnist5k_is_a_known_data_module():
    from gan_lightning.data import known_data_modules

    assert known_data_modules()["StackedMNIST5k"] is StackedMNIST5k


def test_stacked_modes_of_real_data_cover_nearly_all_modes(classifier):
    data = StackedMNIST5k(num_samples=4000, seed=0)
    data.setup()
    stacked = data.train_set
    images = stacked.digits[stacked.triples]  # (N, 3, 28, 28)
    metric = StackedModes(classifier)
    for start in range(0, len(images), 1000):
        metric.update(images[start:start + 1000])
    result = metric.compute()
    # 4,000 uniform draws over 1,000 modes cover 1000 * (1 - e^-4) = 982 on average
    truth = StackedModes()
    truth.update(stacked.labels)
    assert truth.compute()["modes"] >= 970
    assert result["modes"] >= 950
    assert result["kl_to_uniform"] < 0.5
    # the classifier reads the three digits right for most samples
    predicted = metric.stacked_labels(images[:1000])
    assert (predicted == stacked.labels[:1000]).float().mean() > 0.8


def test_stacked_modes_of_a_collapsed_generator_is_one_mode(classifier):
    data = StackedMNIST5k(num_samples=10, seed=0)
    data.setup()
    image = data.train_set[0][0]
    metric = StackedModes(classifier)
    metric.update(image.expand(500, -1, -1, -1))
    result = metric.compute()
    assert result["modes"] == 1
    assert result["kl_to_uniform"] == pytest.approx(math.log(1000))


def test_stacked_modes_takes_digits_or_mode_indices():
    metric = StackedModes()
    metric.update(torch.tensor([[1, 2, 3], [1, 2, 3]]))
    metric.update(torch.tensor([999]))
    assert metric.counts[123] == 2 and metric.counts[999] == 1
    assert metric.compute()["modes"] == 2
    with pytest.raises(ValueError, match="mode indices"):
        metric.update(torch.tensor([1000]))
    with pytest.raises(ValueError, match="expects"):
        metric.update(torch.randn(4, 3, 28, 28))  # images need a classifier
    with pytest.raises(RuntimeError, match="no samples"):
        StackedModes().compute()
