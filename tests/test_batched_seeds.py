"""benchmarks/batched.py: N seeds trained as one batched model follow N separate Lightning runs.

The references are trained by ``benchmarks/mode_collapse.py``'s ``train_one`` (``seed_everything``,
``Toy2D(seed)``, the recipe's model, ``fit_exactly`` with the EMA callback), the very runs the
benchmark makes without ``--batched-seeds``.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from conftest import benchmark_script

from batched import SUPPORTED_MODELS, StackedBatches, fit_seeds
from gan_lightning.data import Toy2D

# Measured here: 0.0 (bit for bit) for every model below; float rounding is what may differ elsewhere.
TOLERANCE = 1e-5
# Distinct seeds end far apart (different initial weights, noise and data), far beyond TOLERANCE.
SEEDS_APART = 1e-2


@pytest.fixture(scope="module")
def bench():
    with benchmark_script("mode_collapse") as module:
        yield module


def training_state_tensors(model) -> dict[str, torch.Tensor]:
    """The model's tensor training state (Fisher GAN's ``lagrange``), which its state dict does not hold."""
    state = model.training_state
    return {name: getattr(state, name) for name in state.names() if isinstance(getattr(state, name), torch.Tensor)}


def state_difference(a, b) -> float:
    """Max |a - b| over two models' whole state: G, D, G's EMA, BatchNorm buffers, tensor training state."""
    sa, sb = a.state_dict(), b.state_dict()
    sa.update(training_state_tensors(a))
    sb.update(training_state_tensors(b))
    assert sa.keys() == sb.keys()
    return max((sa[k].double() - sb[k].double()).abs().max().item() for k in sa)


def compare_with_separate_runs(bench, model: str, seeds, **spec_args) -> tuple[list, list]:
    """Asserts the batched seeds equal their separate runs; returns (separate, batched) models."""
    specs = [bench.RunSpec(model=model, kind="ring8", seed=seed, **spec_args) for seed in seeds]
    first = specs[0]
    batched, _ = fit_seeds(
        lambda: bench.build_model(first),
        lambda seed: Toy2D(kind="ring8", num_points=first.num_points, batch_size=first.batch_size, seed=seed),
        seeds, first.iterations, ema_decay=bench.EMA_DECAY)
    separate = [bench.train_one(spec)[0] for spec in specs]

    assert all(any(k.startswith("generator_ema.") for k in m.state_dict()) for m in batched + separate)
    differences = [state_difference(ref, got) for ref, got in zip(separate, batched)]
    worst = max(differences)
    print(f"{model}: max abs difference batched vs separate over {len(seeds)} seeds x "
          f"{first.iterations} iterations: {worst:.3g}")
    assert worst <= TOLERANCE, differences

    # Each batched seed matches its own run and no other: the seeds differ from one another.
    for i, j in itertools.permutations(range(len(seeds)), 2):
        assert state_difference(separate[i], batched[j]) > SEEDS_APART
    # The benchmark scores raw-G samples in eval mode (BatchNorm running statistics).
    for spec, ref, got in zip(specs, separate, batched):
        noise = [torch.Generator().manual_seed(spec.seed) for _ in range(2)]
        ref_samples = ref.sample(500, use_ema=False, rng=noise[0])
        assert torch.allclose(ref_samples, got.sample(500, use_ema=False, rng=noise[1]), atol=TOLERANCE)
    return separate, batched


def assert_lagrange_follows_separate_runs(separate, batched) -> None:
    """Fisher GAN's lambda of every batched seed: its separate run's (relative TOLERANCE: lambda is
    small, rho times the summed constraints), non-zero, and not the other seeds'."""
    lagranges = [(ref.training_state.lagrange.item(), got.training_state.lagrange.item())
                 for ref, got in zip(separate, batched)]
    print("lambda (separate, batched) per seed:", lagranges)
    for ref, got in lagranges:
        assert ref != 0.0 and abs(got - ref) <= TOLERANCE * abs(ref), lagranges
    assert len({ref for ref, _ in lagranges}) == len(lagranges), lagranges


def test_gan_toy_recipe_three_seeds_match_separate_lightning_runs(bench):
    """The GAN toy recipe at the widths of PacGAN's toy networks (G 400 with BatchNorm, D 200; two
    hidden layers each instead of 4 and 3, to keep the test short), 200 iterations; 5,000 points
    make 50 batches an epoch, so every seed goes through four reshuffles of its own data."""
    compare_with_separate_runs(bench, "GAN", [0, 1, 2], iterations=200, num_points=5_000,
                               g_hidden=(400, 400), d_hidden=(200, 200))


@pytest.mark.parametrize("model", [m for m in SUPPORTED_MODELS if m != "GAN"])
def test_each_supported_model_matches_its_separate_runs(bench, model):
    """The other recipes on small networks: LSGAN's and Relativistic's losses, WGAN's RMSprop and
    clipping, WGAN-GP's penalty (with its own random draws) and 5 critic steps, PacGAN's packs,
    WGAN-div's penalty at the real and fake points, Fisher GAN's multiplier lambda (per seed, with
    the recipe's rho 1e-6) and the critic's weight decay."""
    separate, batched = compare_with_separate_runs(bench, model, [3, 4], iterations=200, num_points=2_000,
                                                   g_hidden=(32, 32), d_hidden=(32,))
    if model == "FisherGAN":
        assert_lagrange_follows_separate_runs(separate, batched)


def test_fishergan_multiplier_that_steers_the_critic_matches_its_separate_runs(bench):
    """Fisher GAN with rho 0.5 (the recipe's 1e-6 moves lambda by about 1e-4 in 200 iterations):
    lambda now weighs in the critic's loss, so a seed that read another seed's lambda, or a stale
    one, would train other weights."""
    separate, batched = compare_with_separate_runs(bench, "FisherGAN", [3, 4], iterations=60, num_points=2_000,
                                                   g_hidden=(32, 32), d_hidden=(32,), overrides=(("rho", "0.5"),))
    assert_lagrange_follows_separate_runs(separate, batched)
    assert min(abs(m.training_state.lagrange.item()) for m in separate) > 1e-3


def test_batches_follow_each_seeds_data_loader_across_epochs():
    data = [Toy2D(kind="grid25", num_points=250, batch_size=100, seed=seed) for seed in (5, 6)]
    batches = iter(StackedBatches(data))
    stacked = [next(batches) for _ in range(5)]  # 2 full batches an epoch: epochs 0, 1 and 2
    for index, dm in enumerate(data):
        loader = dm.train_dataloader()
        expected = []
        for epoch in range(3):
            loader.sampler.set_epoch(epoch)  # as Lightning's fit loop does
            expected += [points for points, _ in loader]
        assert len(expected) == 6
        for got, want in zip(stacked, expected):
            assert torch.equal(got[index], want)
    assert not torch.equal(stacked[0][0], stacked[0][1])


def test_unsupported_models_and_options_are_refused_by_name():
    from gan_lightning.models import GAN, SNGAN

    small = dict(data_shape=(2,), latent_dim=2, g_hidden=(8,), d_hidden=(8,))
    data = lambda seed: Toy2D(num_points=200, seed=seed)  # noqa: E731
    with pytest.raises(ValueError, match="do not support SNGAN; supported: GAN, LSGAN, WGAN, WGANGP, PacGAN"):
        fit_seeds(lambda: SNGAN(**small), data, [0, 1], 1)
    with pytest.raises(ValueError, match="GAN: batched seeds support neither grad_clip_norm"):
        fit_seeds(lambda: GAN(grad_clip_norm=1.0, **small), data, [0, 1], 1)
    image = dict(small, data_shape=(1, 4, 4))
    with pytest.raises(ValueError, match="need vector data"):
        fit_seeds(lambda: GAN(**image), data, [0, 1], 1)


def test_fit_seeds_leaves_the_global_rng_alone():
    from gan_lightning.models import GAN

    torch.manual_seed(123)
    before = torch.get_rng_state()
    small = dict(data_shape=(2,), latent_dim=2, g_hidden=(8,), d_hidden=(8,))
    models, _ = fit_seeds(lambda: GAN(**small), lambda seed: Toy2D(num_points=200, seed=seed), [0, 1], 3)
    assert torch.equal(torch.get_rng_state(), before)
    assert len(models) == 2 and models[0].generator.net[0].weight.shape == (8, 2)


def test_speed_benchmark_prints_both_times_and_writes_its_section(tmp_path, capsys):
    out = tmp_path / "RESULTS.md"
    out.write_text("# Benchmark results\n\n<!-- begin: other -->\nkept\n<!-- end: other -->\n")
    with benchmark_script("batched_seeds") as script:
        script.main(["--seeds", "2", "--iterations", "4", "--num-points", "400", "--g-hidden", "16,16",
                     "--d-hidden", "8", "--out", str(out)])
    printed = capsys.readouterr().out.strip().splitlines()
    assert any(line.startswith("separate runs (2 seeds x 4 iterations)") for line in printed)
    assert any(line.startswith("batched (2 seeds x 4 iterations)") for line in printed)
    difference = next(line for line in printed if line.startswith("max abs difference batched vs separate: "))
    assert float(difference.split(": ")[1].split()[0]) <= TOLERANCE
    assert printed[-1].startswith("speed-up (separate time / batched time): ")
    text = out.read_text()
    assert "<!-- begin: other -->\nkept\n<!-- end: other -->" in text
    assert "<!-- begin: batched_seeds -->" in text and "| GAN | ring8 | 2 | 4 |" in text
