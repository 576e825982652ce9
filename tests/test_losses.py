"""Every loss and regularizer against an independent computation of its formula."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from gan_lightning import losses as L


def _t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def _log_sigmoid(v: float) -> float:
    return math.log(1.0 / (1.0 + math.exp(-v)))


def _log_one_minus_sigmoid(v: float) -> float:
    return math.log(1.0 - 1.0 / (1.0 + math.exp(-v)))


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


REAL = [0.3, -1.2, 2.0, 0.7]
FAKE = [-0.5, 0.4, -2.2, 1.1]


# ----------------------------------------------------------------------------- BCE family
def test_nonsaturating_d_with_label_smoothing():
    label = 0.9
    expected = _mean(-(label * _log_sigmoid(r) + (1 - label) * _log_one_minus_sigmoid(r)) for r in REAL)
    expected += _mean(-_log_one_minus_sigmoid(f) for f in FAKE)
    assert_close(L.nonsaturating_d(_t(REAL), _t(FAKE), real_label=0.9), _t(expected))


def test_nonsaturating_and_minimax_g():
    assert_close(L.nonsaturating_g(_t(FAKE)), _t(_mean(-_log_sigmoid(f) for f in FAKE)))
    assert_close(L.minimax_g(_t(FAKE)), _t(_mean(_log_one_minus_sigmoid(f) for f in FAKE)))


# ----------------------------------------------------------------------------- LSGAN, WGAN, hinge
def test_lsgan_abc_coding_hand_computed():
    # 0.5 * mean([0, 4]) + 0.5 * mean([1, 1]) with a = -1, b = 1
    assert_close(L.lsgan_d(_t([1.0, 3.0]), _t([0.0, -2.0]), a=-1.0, b=1.0), _t(1.5))
    assert_close(L.lsgan_g(_t([0.0, 2.0]), c=0.0), _t(1.0))
    expected_d = 0.5 * _mean((r - 1) ** 2 for r in REAL) + 0.5 * _mean(f**2 for f in FAKE)
    assert_close(L.lsgan_d(_t(REAL), _t(FAKE)), _t(expected_d))
    assert_close(L.lsgan_g(_t(FAKE)), _t(0.5 * _mean((f - 1) ** 2 for f in FAKE)))


def test_wasserstein_hand_computed():
    assert_close(L.wasserstein_d(_t([1.0, 2.0, 3.0]), _t([-1.0, 0.5])), _t(-2.25))
    assert_close(L.wasserstein_g(_t([-1.0, 0.5])), _t(0.25))


def test_hinge_hand_computed():
    real, fake = _t([0.5, 2.0, -1.0]), _t([-2.0, 0.0, 0.5])
    # relu(1 - real) = [0.5, 0, 2], relu(1 + fake) = [0, 1, 1.5]
    assert_close(L.hinge_d(real, fake), _t(5.0 / 3.0))
    assert_close(L.hinge_g(fake), _t(0.5))


# ----------------------------------------------------------------------------- relativistic
_WIN = {
    "bce": lambda d: -_log_sigmoid(d),
    "ls": lambda d: (d - 1.0) ** 2,
    "hinge": lambda d: max(0.0, 1.0 - d),
}
_LOSE = {
    "bce": lambda d: -_log_one_minus_sigmoid(d),
    "ls": lambda d: (d + 1.0) ** 2,
    "hinge": lambda d: max(0.0, 1.0 + d),
}


@pytest.mark.parametrize("kind", ["bce", "ls", "hinge"])
def test_relativistic_average_has_both_terms(kind):
    mean_real, mean_fake = _mean(REAL), _mean(FAKE)
    real_term_d = _mean(_WIN[kind](r - mean_fake) for r in REAL)
    fake_term_d = _mean(_LOSE[kind](f - mean_real) for f in FAKE)
    real_term_g = _mean(_LOSE[kind](r - mean_fake) for r in REAL)
    fake_term_g = _mean(_WIN[kind](f - mean_real) for f in FAKE)

    loss_d = L.relativistic_d(_t(REAL), _t(FAKE), kind=kind, average=True)
    loss_g = L.relativistic_g(_t(REAL), _t(FAKE), kind=kind, average=True)
    assert_close(loss_d, _t(real_term_d + fake_term_d))
    assert_close(loss_g, _t(real_term_g + fake_term_g))
    # Dropping either term (the known bug) would be caught: each term is clearly nonzero.
    for term in (real_term_d, fake_term_d, real_term_g, fake_term_g):
        assert term > 1e-3


def test_relativistic_average_explicit_rasgan():
    # RaSGAN written out with sigmoid / log, as in the paper.
    real, fake = _t(REAL), _t(FAKE)
    expected_d = -torch.log(torch.sigmoid(real - fake.mean())).mean() - torch.log(
        1 - torch.sigmoid(fake - real.mean())
    ).mean()
    expected_g = -torch.log(torch.sigmoid(fake - real.mean())).mean() - torch.log(
        1 - torch.sigmoid(real - fake.mean())
    ).mean()
    assert_close(L.relativistic_d(real, fake, "bce", True), expected_d)
    assert_close(L.relativistic_g(real, fake, "bce", True), expected_g)


@pytest.mark.parametrize("kind", ["bce", "ls", "hinge"])
def test_relativistic_paired(kind):
    expected_d = _mean(_WIN[kind](r - f) for r, f in zip(REAL, FAKE))
    expected_g = _mean(_WIN[kind](f - r) for r, f in zip(REAL, FAKE))
    assert_close(L.relativistic_d(_t(REAL), _t(FAKE), kind=kind, average=False), _t(expected_d))
    assert_close(L.relativistic_g(_t(REAL), _t(FAKE), kind=kind, average=False), _t(expected_g))


def test_relativistic_rejects_bad_input():
    with pytest.raises(ValueError):
        L.relativistic_d(_t(REAL), _t(FAKE), kind="wasserstein")
    with pytest.raises(ValueError):
        L.relativistic_d(_t(REAL), _t(FAKE[:3]), kind="bce", average=False)


def test_relativistic_g_gradient_reaches_fake_scores():
    fake = _t(FAKE).requires_grad_(True)
    L.relativistic_g(_t(REAL), fake, "bce", True).backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0


# ----------------------------------------------------------------------------- EBGAN
def test_ebgan_losses():
    real_energy, fake_energy = _t([0.2, 0.6]), _t([0.5, 3.0, 1.5])
    # mean(real) = 0.4; relu(2 - fake) = [1.5, 0, 0.5], mean = 2/3
    assert_close(L.ebgan_d(real_energy, fake_energy, margin=2.0), _t(0.4 + 2.0 / 3.0))
    assert_close(L.ebgan_g(fake_energy), _t(5.0 / 3.0))


def test_pullaway_against_explicit_cosines():
    torch.manual_seed(0)
    emb = torch.randn(4, 2, 3, dtype=torch.float64)
    vectors = [e.flatten().tolist() for e in emb]

    def cos(u, v):
        dot = sum(a * b for a, b in zip(u, v))
        return dot / math.sqrt(sum(a * a for a in u) * sum(b * b for b in v))

    n = len(vectors)
    expected = sum(cos(vectors[i], vectors[j]) ** 2 for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    assert_close(L.pullaway(emb), _t(expected))
    # orthogonal embeddings pull apart perfectly, parallel ones not at all
    assert_close(L.pullaway(torch.eye(3, dtype=torch.float64)), _t(0.0))
    assert_close(L.pullaway(_t([[1.0, 2.0], [2.0, 4.0], [-1.0, -2.0]])), _t(1.0))
    with pytest.raises(ValueError):
        L.pullaway(torch.ones(1, 3))


# ----------------------------------------------------------------------------- BEGAN
def test_l1_reconstruction():
    x = _t([[[1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]]])
    recon = _t([[[1.0, 1.0], [1.0, 1.0]], [[1.0, -1.0], [2.0, 0.0]]])
    per_sample = _t([(0 + 1 + 2 + 3) / 4, (1 + 1 + 2 + 0) / 4])
    assert_close(L.l1_reconstruction(x, recon, reduce=False), per_sample)
    assert_close(L.l1_reconstruction(x, recon), per_sample.mean())


def test_began_losses_and_convergence():
    real_loss, fake_loss = _t(0.8), _t(0.5)
    assert_close(L.began_d(real_loss, fake_loss, k=0.3), _t(0.8 - 0.3 * 0.5))
    assert_close(L.began_g(fake_loss), _t(0.5))
    assert float(L.began_convergence(real_loss, fake_loss, gamma=0.5)) == pytest.approx(0.8 + abs(0.4 - 0.5))
    assert float(L.began_convergence(0.8, 0.1, gamma=0.5)) == pytest.approx(0.8 + 0.3)


def test_began_k_update_moves_and_clamps():
    k = L.began_k_update(0.5, _t(0.8), _t(0.2), gamma=0.5, lambda_k=0.1)
    assert k.dtype == torch.float64 and k.dim() == 0  # on the losses' device: no host read
    # the float64 arithmetic of the Python floats it replaced, to the last bit
    assert float(k) == 0.5 + 0.1 * (0.5 * float(_t(0.8)) - float(_t(0.2)))
    assert float(L.began_k_update(0.0, 0.1, 5.0, gamma=0.5, lambda_k=1.0)) == 0.0
    assert float(L.began_k_update(0.99, 5.0, 0.0, gamma=1.0, lambda_k=1.0)) == 1.0


# ----------------------------------------------------------------------------- regularizers
class LinearCritic(nn.Module):
    """D(x) = sum(w * x) per sample: its input gradient is w everywhere."""

    def __init__(self, sample_shape) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(*sample_shape, dtype=torch.float64))

    def forward(self, x):
        return (x * self.w).flatten(1).sum(dim=1)


class QuadraticCritic(nn.Module):
    """D(x) = a * sum(x^2) per sample: its input gradient is 2 a x."""

    def __init__(self, a: float = 0.7) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a, dtype=torch.float64))

    def forward(self, x):
        return self.a * x.pow(2).flatten(1).sum(dim=1)


def test_weight_clip_():
    layer = nn.Linear(3, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.5, -2.0, 0.005], [3.0, -0.001, 0.0]]))
        layer.bias.copy_(torch.tensor([-0.2, 0.009]))
    assert L.weight_clip_(layer, 0.01) is layer
    assert_close(layer.weight.data, torch.tensor([[0.01, -0.01, 0.005], [0.01, -0.001, 0.0]]))
    assert_close(layer.bias.data, torch.tensor([-0.01, 0.009]))
    assert layer.weight.requires_grad


@pytest.mark.parametrize("shape", [(6, 2), (5, 3, 4, 4)])
def test_gradient_penalty_linear_critic_exact(shape):
    torch.manual_seed(1)
    critic = LinearCritic(shape[1:])
    real, fake = torch.randn(shape, dtype=torch.float64), torch.randn(shape, dtype=torch.float64)
    w_norm = math.sqrt(sum(v * v for v in critic.w.detach().flatten().tolist()))
    gp = L.gradient_penalty(critic, real, fake)
    assert_close(gp, _t((w_norm - 1.0) ** 2))
    assert_close(L.gradient_penalty(critic, real, fake, center=0.0), _t(w_norm**2))
    if len(shape) == 4:
        # The per-channel norm bug (norm over dim=1 of the 4-D gradient) gives another value.
        w = critic.w.detach().expand(shape)
        buggy = (w.norm(2, dim=1) - 1.0).pow(2).mean()
        assert not torch.allclose(gp, buggy)


@pytest.mark.parametrize("shape", [(6, 2), (4, 2, 3, 3)])
def test_gradient_penalty_eps_is_per_sample(shape):
    critic = QuadraticCritic(0.5)  # grad = x_hat
    real, fake = torch.randn(shape, dtype=torch.float64), torch.randn(shape, dtype=torch.float64)
    gp = L.gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(7))

    eps = torch.rand(shape[0], generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    expected = []
    for i in range(shape[0]):
        x_hat = (eps[i] * real[i] + (1 - eps[i]) * fake[i]).flatten().tolist()
        expected.append((math.sqrt(sum(v * v for v in x_hat)) - 1.0) ** 2)
    assert_close(gp, _t(_mean(expected)))

    # An interpolation factor drawn per element would give a different value.
    eps_elem = torch.rand(shape, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    x_elem = eps_elem * real + (1 - eps_elem) * fake
    assert not torch.allclose(gp, (x_elem.flatten(1).norm(dim=1) - 1).pow(2).mean())


def test_gradient_penalty_backpropagates_into_critic():
    critic = QuadraticCritic(0.7)
    real, fake = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    L.gradient_penalty(critic, real, fake).backward()
    assert critic.a.grad is not None and critic.a.grad.abs() > 0


def test_gradient_penalty_shape_mismatch():
    with pytest.raises(ValueError):
        L.gradient_penalty(LinearCritic((2,)), torch.randn(3, 2), torch.randn(4, 2))


@pytest.mark.parametrize("shape", [(5, 2), (3, 2, 4, 4)])
def test_dragan_linear_critic_exact(shape):
    torch.manual_seed(2)
    critic = LinearCritic(shape[1:])
    w_norm = critic.w.detach().flatten().norm().item()
    penalty = L.dragan_penalty(critic, torch.randn(shape, dtype=torch.float64))
    assert_close(penalty, _t((w_norm - 1.0) ** 2))


def test_dragan_documented_perturbation():
    shape = (4, 3)
    critic = QuadraticCritic(0.5)  # grad = x_hat
    real = torch.randn(shape, dtype=torch.float64)
    penalty = L.dragan_penalty(critic, real, noise_scale=0.5, generator=torch.Generator().manual_seed(3))

    gen = torch.Generator().manual_seed(3)
    noise = torch.rand(shape, generator=gen, dtype=torch.float64)
    alpha = torch.rand(shape[0], generator=gen, dtype=torch.float64)
    values = real.flatten().tolist()
    mu = _mean(values)
    std = math.sqrt(sum((v - mu) ** 2 for v in values) / (len(values) - 1))
    expected = []
    for i in range(shape[0]):
        x_hat = [real[i, j].item() + alpha[i].item() * 0.5 * std * noise[i, j].item() for j in range(shape[1])]
        expected.append((math.sqrt(sum(v * v for v in x_hat)) - 1.0) ** 2)
    assert_close(penalty, _t(_mean(expected)))


def test_wgan_div_penalty_quadratic_critic():
    critic = QuadraticCritic(0.5)  # grad = x, norm = ||x||
    real = _t([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    fake = _t([[0.5, 0.0], [3.0, 4.0], [0.0, 0.0]])
    k, p = 2.0, 6.0
    real_term = _mean([1.0, 2.0**6, math.sqrt(2.0) ** 6])
    fake_term = _mean([0.5**6, 5.0**6, 0.0])
    expected = k * (real_term + fake_term) / 2
    assert_close(L.wgan_div_penalty(critic, real, fake, k=k, p=p), _t(expected))
    assert_close(L.wgan_div_penalty(critic, real, fake, k=1.0, p=2.0), _t((_mean([1, 4, 2]) + _mean([0.25, 25, 0])) / 2))


@pytest.mark.parametrize("penalty", ["r1", "r2"])
def test_r1_r2_quadratic_critic(penalty):
    a = 0.7
    critic = QuadraticCritic(a)  # grad = 2 a x
    x = torch.randn(3, 2, 2, 2, dtype=torch.float64)
    fn = L.r1_penalty if penalty == "r1" else L.r2_penalty
    value = fn(critic, x)
    sq_norms = [sum(v * v for v in x[i].flatten().tolist()) for i in range(3)]
    assert_close(value, _t(_mean(4 * a * a * s for s in sq_norms)))
    value.backward()  # d/da of mean 4 a^2 ||x||^2 = 8 a mean ||x||^2
    assert_close(critic.a.grad, _t(_mean(8 * a * s for s in sq_norms)))


def test_instance_noise():
    x = torch.randn(3, 1, 2, 2)
    noisy = L.instance_noise(x, 0.1, generator=torch.Generator().manual_seed(5))
    expected = x + 0.1 * torch.randn(3, 1, 2, 2, generator=torch.Generator().manual_seed(5))
    assert_close(noisy, expected)
    assert L.instance_noise(x, 0.0) is x
    assert L.instance_noise(x, 1.0).shape == x.shape


def test_historical_average():
    snapshots = [[_t([1.0, 2.0]), _t([[0.0]])], [_t([3.0, 0.0]), _t([[3.0]])], [_t([2.0, 1.0]), _t([[6.0]])]]
    averages = [torch.zeros(2, dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64)]
    count = 0
    for snapshot in snapshots:
        count = L.update_historical_average_(averages, snapshot, count)
    assert count == 3
    assert_close(averages[0], _t([2.0, 1.0]))
    assert_close(averages[1], _t([[3.0]]))

    params = [_t([0.0, 4.0]).requires_grad_(True), _t([[1.0]]).requires_grad_(True)]
    penalty = L.historical_average_penalty(params, averages)
    # (0-2)^2 + (4-1)^2 + (1-3)^2
    assert_close(penalty, _t(17.0))
    penalty.backward()
    assert_close(params[0].grad, _t([-4.0, 6.0]))


def test_feature_matching_loss():
    real = _t([[1.0, 2.0], [3.0, 4.0]]).requires_grad_(True)
    fake = _t([[0.0, 0.0], [1.0, 2.0], [2.0, 1.0]]).requires_grad_(True)
    # E real = [2, 3], E fake = [1, 1] -> 1 + 4
    loss = L.feature_matching_loss(real, fake)
    assert_close(loss, _t(5.0))
    loss.backward()
    assert real.grad is None
    assert fake.grad is not None
