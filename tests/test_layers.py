"""Discriminator layers: minibatch discrimination, minibatch std-dev, spectral norm."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.testing import assert_close

from gan_lightning.nets import (MinibatchDiscrimination, MinibatchStdDev, apply_scaled_weight_norm, apply_spectral_norm,
                                 apply_unit_weight_norm)


# ----------------------------------------------------------------------------- minibatch discrimination
def test_minibatch_discrimination_shape_and_formula():
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(in_features=5, num_kernels=3, kernel_dim=2).double()
    x = torch.randn(4, 5, dtype=torch.float64)
    out = layer(x)
    assert out.shape == (4, 5 + 3)
    assert_close(out[:, :5], x)

    m = (x @ layer.T.detach()).tolist()  # (N, num_kernels * kernel_dim)
    for i in range(4):
        for b in range(3):
            total = 0.0
            for j in range(4):
                if j == i:
                    continue
                l1 = sum(abs(m[i][b * 2 + d] - m[j][b * 2 + d]) for d in range(2))
                total += math.exp(-l1)
            assert out[i, 5 + b].item() == pytest.approx(total, rel=1e-9, abs=1e-12)


def test_minibatch_discrimination_identical_vs_distinct():
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(in_features=4, num_kernels=6, kernel_dim=3)
    identical = torch.randn(1, 4).repeat(5, 1)
    distinct = torch.randn(5, 4) * 3
    feat_identical = layer(identical)[:, 4:]
    feat_distinct = layer(distinct)[:, 4:]
    # identical samples: every other sample is at L1 distance 0 -> N - 1 per kernel
    assert_close(feat_identical, torch.full((5, 6), 4.0))
    assert (feat_distinct < 4.0 - 1e-3).all()
    assert not torch.allclose(feat_identical, feat_distinct)


def test_minibatch_discrimination_rejects_wrong_shape():
    with pytest.raises(ValueError):
        MinibatchDiscrimination(4, 2, 2)(torch.randn(3, 5))


# ----------------------------------------------------------------------------- minibatch std-dev
def _explicit_std_stat(x: torch.Tensor, group: int, num_features: int, eps: float = 1e-8) -> list[list[float]]:
    """stat[n][f] with strided groups: sample n belongs with samples n' where n' % (N/group) == n % (N/group)."""
    n, c, h, w = x.shape
    per_group = n // group
    slice_channels = c // num_features
    stats = []
    for i in range(n):
        members = [k for k in range(n) if k % per_group == i % per_group]
        row = []
        for f in range(num_features):
            total = 0.0
            for ch in range(f * slice_channels, (f + 1) * slice_channels):
                for y in range(h):
                    for z in range(w):
                        values = [x[k, ch, y, z].item() for k in members]
                        mu = sum(values) / len(values)
                        var = sum((v - mu) ** 2 for v in values) / len(values)
                        total += math.sqrt(var + eps)
            row.append(total / (slice_channels * h * w))
        stats.append(row)
    return stats


@pytest.mark.parametrize(
    "batch, group_size, num_features, expected_group",
    [(4, 2, 1, 2), (8, 4, 1, 4), (6, 4, 2, 3), (3, 4, 1, 3), (5, 4, 1, 1)],
)
def test_minibatch_stddev_shape_and_value(batch, group_size, num_features, expected_group):
    torch.manual_seed(batch)
    x = torch.randn(batch, 4, 2, 3, dtype=torch.float64)
    layer = MinibatchStdDev(group_size=group_size, num_features=num_features)
    assert layer.group_size_for(batch) == expected_group
    out = layer(x)
    assert out.shape == (batch, 4 + num_features, 2, 3)
    assert_close(out[:, :4], x)
    stats = _explicit_std_stat(x, expected_group, num_features)
    for i in range(batch):
        for f in range(num_features):
            assert_close(out[i, 4 + f], torch.full((2, 3), stats[i][f], dtype=torch.float64))


def test_minibatch_stddev_known_tensor():
    # Two samples, one group: per-pixel std of {0, 2} and {1, 5} is 1 and 2 -> mean 1.5.
    x = torch.tensor([[[[0.0, 1.0]]], [[[2.0, 5.0]]]], dtype=torch.float64)  # (2, 1, 1, 2)
    out = MinibatchStdDev(group_size=4)(x)
    assert out.shape == (2, 2, 1, 2)
    assert_close(out[:, 1], torch.full((2, 1, 2), 1.5, dtype=torch.float64), atol=1e-6, rtol=0)


def test_minibatch_stddev_rejects_indivisible_channels():
    with pytest.raises(ValueError):
        MinibatchStdDev(num_features=2)(torch.randn(4, 3, 2, 2))


# ----------------------------------------------------------------------------- spectral norm
def _sigma(weight: torch.Tensor, dim: int) -> float:
    matrix = weight.movedim(dim, 0).reshape(weight.size(dim), -1)
    return torch.linalg.matrix_norm(matrix.detach(), ord=2).item()


def test_apply_spectral_norm_unit_sigma():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.LeakyReLU(0.2), nn.ConvTranspose2d(4, 3, 4, 2, 1),
        nn.Flatten(), nn.Linear(3 * 8 * 8, 5), nn.BatchNorm1d(5),
    )
    with torch.no_grad():  # make the raw weights far from unit spectral norm
        for layer in (net[0], net[2], net[4]):
            layer.weight.mul_(10.0)
    assert apply_spectral_norm(net) is net
    for idx in (0, 2, 4):
        assert parametrize.is_parametrized(net[idx], "weight")
    assert not parametrize.is_parametrized(net[5])

    net.train()
    x = torch.randn(4, 2, 4, 4)
    for _ in range(30):
        net(x)
    for idx, dim in ((0, 0), (2, 1), (4, 0)):
        assert _sigma(net[idx].weight, dim) == pytest.approx(1.0, abs=2e-2)


def test_apply_spectral_norm_selected_types_and_idempotent():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2, 1))
    apply_spectral_norm(net, layer_types=(nn.Linear,))
    assert parametrize.is_parametrized(net[2], "weight")
    assert not parametrize.is_parametrized(net[0])
    apply_spectral_norm(net, layer_types=nn.Linear)  # already parametrized: not wrapped twice
    assert len(net[2].parametrizations.weight) == 1
    single = apply_spectral_norm(nn.Linear(3, 3))
    assert parametrize.is_parametrized(single, "weight")


# ----------------------------------------------------------------------------- unit weight norm
def test_apply_unit_weight_norm_keeps_every_units_weight_vector_at_norm_one_while_training():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 3, 3), nn.Flatten(), nn.Linear(3 * 16, 5), nn.ReLU(), nn.Linear(5, 1))
    bias_before = net[2].bias.detach().clone()
    assert apply_unit_weight_norm(net, nn.Linear) is net  # a single type, as apply_spectral_norm takes
    assert not parametrize.is_parametrized(net[0])
    optimizer = torch.optim.Adam(net.parameters(), lr=0.1)
    for _ in range(5):  # the raw weights move; the used ones stay unit rows
        optimizer.zero_grad()
        net(torch.randn(8, 2, 6, 6)).pow(2).mean().backward()
        optimizer.step()
    for layer in (net[2], net[4]):
        assert_close(layer.weight.norm(dim=1), torch.ones(layer.out_features))
        assert not torch.allclose(layer.parametrizations.weight.original.norm(dim=1), torch.ones(layer.out_features))
    assert not torch.equal(net[2].bias, bias_before)  # biases are trained as they are
    apply_unit_weight_norm(net)  # already parametrized: not wrapped twice
    assert len(net[2].parametrizations.weight) == 1
    conv = apply_unit_weight_norm(nn.Conv2d(2, 4, 3), (nn.Conv2d,))  # a unit's vector spans all its input dims
    assert_close(conv.weight.flatten(1).norm(dim=1), torch.ones(4))


# ----------------------------------------------------------------------------- data-dependent init
@pytest.mark.parametrize("weight_normalised", [True, False])
def test_init_from_data_gives_unit_variance_outputs_layer_by_layer(weight_normalised):
    from torch.nn.utils.parametrizations import weight_norm

    from gan_lightning.nets import DCGANDiscriminator, MLPDiscriminator, init_from_data_

    torch.manual_seed(0)
    x = torch.rand(200, 1, 28, 28) * 2 - 1
    for net in (MLPDiscriminator((1, 28, 28), (64, 32, 32), outputs=10, hidden_activation="relu", input_noise=0.6,
                                 hidden_noise=0.5),
                DCGANDiscriminator(1, 28, 8, outputs=10, norm="none", dropout=0.5)):
        if weight_normalised:
            for layer in net.modules():
                if isinstance(layer, (nn.Linear, nn.Conv2d)):
                    weight_norm(layer)
        net.train()
        with torch.no_grad():
            before = net.eval()(x)
        assert before.std(0).mean() < 0.5  # the default initialisation shrinks the signal
        init_from_data_(net.train(), x)
        assert net.training  # the mode is restored
        with torch.no_grad():
            after = net.eval()(x)
        assert_close(after.mean(0), torch.zeros(10), atol=1e-4, rtol=0)
        assert_close(after.std(0), torch.ones(10), atol=1e-4, rtol=0)
        # every hidden layer too: the first linear / conv layer's outputs per unit (channel)
        first = next(m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d)))
        seen = []
        handle = first.register_forward_hook(lambda m, i, o: seen.append(o.clone()))  # before the in-place ReLU
        with torch.no_grad():
            net(x)
        handle.remove()
        dims = [0, *range(2, seen[0].dim())]
        assert_close(seen[0].std(dims), torch.ones(seen[0].size(1)), atol=1e-4, rtol=0)


def test_apply_scaled_weight_norm_starts_each_units_scale_at_the_given_value_and_trains_it():
    torch.manual_seed(0)
    layer = apply_scaled_weight_norm(nn.Linear(6, 3), scale=1.0)
    assert parametrize.is_parametrized(layer, "weight")
    assert_close(layer.weight.norm(dim=1), torch.ones(3))  # every unit's weight vector at norm g = 1
    g = layer.parametrizations.weight.original0
    assert g.requires_grad and g.shape == (3, 1)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    layer(torch.randn(5, 6)).square().sum().backward()
    optimizer.step()
    assert not torch.allclose(layer.weight.norm(dim=1), torch.ones(3))  # the scale is trained, unlike unit norm
    assert_close(layer.weight.norm(dim=1), g.detach().abs().squeeze(1))
    assert_close(apply_scaled_weight_norm(nn.Linear(6, 3), scale=2.0).weight.norm(dim=1), torch.full((3,), 2.0))
