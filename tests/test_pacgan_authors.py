"""PacGAN with the authors' synthetic-data settings (issue 26): maxout units, the N(0, 0.02) initialisation,
the simultaneous D / G update, the authors' recipe files and benchmarks/pacgan_authors.py."""

from __future__ import annotations

import copy
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml
from conftest import benchmark_script
from torch import nn

from gan_lightning.data import Toy2D
from gan_lightning.models import PacGAN
from gan_lightning.models.pacgan import pack_samples
from gan_lightning.nets import Maxout, MLPDiscriminator, MLPGenerator, normal_init_

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
TINY = {"data_shape": (2,), "latent_dim": 2, "g_hidden": (16, 16), "d_hidden": (8, 8)}

pytestmark = pytest.mark.usefixtures("one_thread")


# ----------------------------------------------------------------------------- maxout and init
def test_maxout_keeps_the_largest_of_each_group_of_consecutive_pieces():
    x = torch.tensor([[1.0, 5.0, 2.0, 3.0, 0.0, 4.0], [-1.0, -2.0, -3.0, 7.0, 8.0, 9.0]])
    torch.testing.assert_close(Maxout(3)(x), torch.tensor([[5.0, 4.0], [-1.0, 9.0]]))
    stacked = torch.stack([x, -x])  # (seeds, batch, features): the last dimension only
    torch.testing.assert_close(Maxout(3)(stacked)[1], torch.tensor([[-1.0, 0.0], [3.0, -7.0]]))
    with pytest.raises(ValueError, match="6 features are not a multiple of 4 pieces"):
        Maxout(4)(x)
    with pytest.raises(ValueError, match="maxout pieces must be >= 1, got 0"):
        Maxout(0)


def test_mlp_discriminator_with_maxout_units_computes_linear_then_group_maximum():
    torch.manual_seed(0)
    net = MLPDiscriminator((4,), (3, 2), maxout_pieces=5)
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(4, 15), (3, 10), (2, 1)]
    assert not any(isinstance(m, nn.LeakyReLU) for m in net.modules())
    x = torch.randn(6, 4)
    h = (x @ linears[0].weight.T + linears[0].bias).view(6, 3, 5).max(-1).values
    h = (h @ linears[1].weight.T + linears[1].bias).view(6, 2, 5).max(-1).values
    torch.testing.assert_close(net(x), (h @ linears[2].weight.T + linears[2].bias).squeeze(1))
    assert [type(m) for m in MLPDiscriminator((4,), (3,)).features] == [nn.Flatten, nn.Linear, nn.LeakyReLU]


def test_normal_init_draws_linear_weights_with_the_given_std_and_zero_biases():
    torch.manual_seed(0)
    net = normal_init_(MLPGenerator(2, (2,), (1000, 400)), 0.02)
    big = net.net[3].weight  # the 1000 x 400 layer: 400,000 draws
    assert abs(big.std().item() - 0.02) < 2e-4 and abs(big.mean().item()) < 2e-4
    for layer in net.modules():
        if isinstance(layer, nn.Linear):
            assert torch.count_nonzero(layer.bias) == 0
        if isinstance(layer, nn.BatchNorm1d):  # normalisation layers keep theirs
            assert torch.all(layer.weight == 1) and torch.all(layer.bias == 0)
    with pytest.raises(ValueError, match="init std must be > 0, got 0"):
        normal_init_(net, 0.0)


# ----------------------------------------------------------------------------- the model's options
def test_pacgan_authors_options_build_maxout_d_and_normal_init():
    torch.manual_seed(0)
    model = PacGAN(**TINY, pack=2, d_maxout_pieces=5, init_std=0.02)
    first = model.discriminator.features[1]
    assert (first.in_features, first.out_features) == (2 * 2, 8 * 5)
    assert isinstance(model.discriminator.features[2], Maxout) and model.discriminator.features[2].pieces == 5
    weights = torch.cat([m.weight.flatten() for net in (model.generator, model.discriminator)
                         for m in net.modules() if isinstance(m, nn.Linear)])
    assert 0.015 < weights.std().item() < 0.025  # PyTorch's default would give about 0.2-0.5 here
    default = PacGAN(**TINY, pack=2)
    assert isinstance(default.discriminator.features[2], nn.LeakyReLU)
    assert [phase.name for phase in default.phase_list] == ["D", "G"]
    assert [phase.name for phase in PacGAN(**TINY, simultaneous=True).phase_list] == ["G", "D"]


@pytest.mark.parametrize("options, message", [
    ({"d_maxout_pieces": -1}, "model.d_maxout_pieces must be >= 0 (0: LeakyReLU units), got -1"),
    ({"init_std": 0.0}, "model.init_std must be > 0 (or null: the default initialisation), got 0.0"),
    ({"init_std": 0.02, "data_shape": (1, 16, 16)}, "model.init_std applies to the MLP networks"),
    ({"d_maxout_pieces": 5, "data_shape": (1, 16, 16)}, "maxout units are for the MLP discriminator"),
])
def test_pacgan_authors_options_reject_bad_values(options, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        PacGAN(**{**TINY, "g_width": 8, "d_width": 8, **options})


def one_sgd_iteration(simultaneous: bool):
    """(model before, model after, the real batch, the noise) of one SGD iteration with fixed noise."""
    L.seed_everything(0, verbose=False)
    model = PacGAN(**TINY, pack=2, simultaneous=simultaneous, optimizer="sgd", lr_g=0.5, lr_d=0.5, momentum=0.0)
    z = torch.randn(8, 2)
    model.sample_noise = lambda num, rng=None, truncation=None: z[:num]
    before = copy.deepcopy(model)
    seen = {}

    class Keep(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            seen["real"] = batch[0].clone()

    trainer = L.Trainer(max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0, accelerator="cpu", callbacks=[Keep()])
    trainer.fit(model, Toy2D(kind="grid25", num_points=64, batch_size=8))
    return before, model, seen["real"], z


def sgd_step(net: nn.Module, loss: torch.Tensor, lr: float) -> dict[str, torch.Tensor]:
    grads = torch.autograd.grad(loss, list(net.parameters()))
    return {name: (p - lr * g).detach() for (name, p), g in zip(net.named_parameters(), grads)}


def test_simultaneous_update_takes_both_gradients_from_the_weights_before_the_iteration():
    before, after, real, z = one_sgd_iteration(simultaneous=True)
    fake = before.generator(z)  # train mode: the batch statistics the iteration used
    d_loss = before.discriminator_loss(real, fake.detach())["d_loss"]
    expected_d = sgd_step(before.discriminator, d_loss, 0.5)
    g_loss = before.generator_loss(real, fake)["g_loss"]  # against D before its step
    expected_g = sgd_step(before.generator, g_loss, 0.5)
    for name, value in after.discriminator.named_parameters():
        torch.testing.assert_close(value, expected_d[name])
    for name, value in after.generator.named_parameters():
        torch.testing.assert_close(value, expected_g[name])

    _, alternating, _, _ = one_sgd_iteration(simultaneous=False)  # D first: G's gradient meets the stepped D
    for name, value in alternating.discriminator.named_parameters():
        torch.testing.assert_close(value, expected_d[name])  # D's step is the same either way
    gap = max((value - expected_g[name]).abs().max().item() for name, value in alternating.generator.named_parameters())
    assert gap > 1e-4


def test_pack_of_the_authors_concatenates_pack_independent_draws():
    """The authors concatenate ``pack`` fakes of independent noise along the features; here consecutive
    samples of one batch form a pack, so D's input for PacGAN2 is [x_0, x_1], [x_2, x_3], ..."""
    x = torch.arange(8.0).view(4, 2)
    torch.testing.assert_close(pack_samples(x, 2), torch.tensor([[0.0, 1, 2, 3], [4, 5, 6, 7]]))


# ----------------------------------------------------------------------------- recipes
@pytest.mark.parametrize("kind", ["grid25", "ring8"])
def test_authors_recipe_files_state_the_authors_settings(kind):
    config = yaml.safe_load((EXPERIMENTS / "pacgan" / f"{kind}_authors.yaml").read_text())
    args, data = config["model"]["init_args"], config["data"]["init_args"]
    assert (args["d_maxout_pieces"], args["init_std"], args["simultaneous"]) == (5, 0.02, True)
    assert (args["lr_g"], args["lr_d"], args["betas"]) == (0.0001, 0.0001, [0.8, 0.999])
    assert (args["g_hidden"], args["d_hidden"], args["latent_dim"]) == ([400] * 4, [200] * 3, 2)
    assert data["kind"] == kind and data["batch_size"] == 100 * args["pack"]  # the authors' batch: 100 packs
    assert config["trainer"]["max_steps"] == 400_000  # 400 epochs x 1,000 batches
    model = PacGAN(data_shape=(2,), **{**args, "betas": tuple(args["betas"])})
    assert model.simultaneous and isinstance(model.discriminator.features[2], Maxout)


# ----------------------------------------------------------------------------- the benchmark
@pytest.fixture(scope="module")
def bench():
    with benchmark_script("pacgan_authors") as module:
        yield module


def test_benchmark_refuses_a_short_budget_without_a_reason(bench, capsys):
    with pytest.raises(SystemExit):
        bench.parse_args(["--iterations", "1000"])
    assert "below the authors' 400,000: say why in --budget-reason" in capsys.readouterr().err
    assert bench.parse_args([]).iterations == 400_000


def test_benchmark_tiny_run_writes_rows_curve_and_verdict(bench, tmp_path, monkeypatch):
    real_recipe = bench.load_recipe

    def tiny_recipe(model, kind):
        recipe = real_recipe(model, kind)
        recipe["init_args"].update(g_hidden=[16, 16], d_hidden=[8, 8])
        return recipe

    monkeypatch.setattr(bench, "load_recipe", tiny_recipe)
    out = tmp_path / "RESULTS.md"
    out.write_text("# Results\n")
    bench.main(["--seeds", "2", "--iterations", "6", "--eval-every", "3", "--num-points", "400", "--num-eval", "300",
                "--out", str(out), "--budget-reason", "a test.", "--cache", str(tmp_path / "cache.pkl")])
    text = out.read_text()
    assert "**6 iterations per run, 0.0 % of the authors' 400,000** (400 epochs of 1,000 batches). a test." in text
    rows = [line for line in text.splitlines() if line.startswith(("| GAN (pack 1) |", "| PacGAN2 |"))]
    assert len(rows) == 4  # the final table and the curve
    cache = bench.load_pickled_runs(tmp_path / "cache.pkl")
    finals = {(r.pack, r.seed): result["final"] for r, result in cache["results"].items()}
    assert set(finals) == {(1, 0), (1, 1), (2, 0), (2, 1)}
    assert all(set(result["curve"]) == {3, 6} for result in cache["results"].values())
    per_seed = ", ".join(f"{finals[(2, s)]['modes']}/{100 * finals[(2, s)]['high_quality']:.0f}" for s in (0, 1))
    assert f"| {per_seed} |" in rows[1]
    verdict = next(line for line in text.splitlines() if line.startswith("Verdict: PacGAN2 vs GAN on grid25"))
    modes = {p: [finals[(p, s)]["modes"] for s in (0, 1)] for p in (1, 2)}
    assert f"2 seeds, 6 iterations: {sum(modes[2]) / 2:.1f} vs {sum(modes[1]) / 2:.1f}, difference" in verdict
    assert verdict.endswith(("**reached**.", "**not reached**.", "**not reached (worse)**."))
    assert "Published modes (PacGAN Table 1" in text and "GAN 17.3 ± 0.8, PacGAN2 23.8 ± 0.7" in text


# ----------------------------------------------------------------------------- resume and device checks
def authors_tiny():
    return PacGAN(**TINY, pack=2, d_maxout_pieces=3, init_std=0.02, simultaneous=True, lr_g=1e-4, lr_d=1e-4,
                  betas=(0.8, 0.999))


def authors_data():
    return Toy2D(kind="grid25", num_points=80, batch_size=16)  # 5 batches an epoch, as the every-model tests


def test_authors_variant_resumes_bitwise_mid_epoch(tmp_path, monkeypatch):
    import test_core

    monkeypatch.setitem(test_core.RESUMABLE, "PacGANAuthors", (authors_tiny, authors_data))
    test_core.test_every_model_resumes_bitwise_mid_epoch("PacGANAuthors", tmp_path)


def test_authors_variant_makes_tensors_on_the_model_device_and_no_host_reads(tmp_path, monkeypatch):
    import test_core
    import test_device

    monkeypatch.setitem(test_core.RESUMABLE, "PacGANAuthors", (authors_tiny, authors_data))
    test_device.test_tensors_on_the_model_device_and_no_host_reads_between_due_iterations("PacGANAuthors", tmp_path)
