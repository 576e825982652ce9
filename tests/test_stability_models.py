"""The stabilised GAN families (LSGAN ... PacGAN): short fits on 2-D toy data and on MNIST5k
images, plus one targeted check per family of what makes it that family."""

from __future__ import annotations

import copy
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml
from torch import nn
from torch.nn.utils import parametrize

from gan_lightning import models
from gan_lightning.data import MNIST5k, Toy2D
from gan_lightning.losses import nonsaturating_g
from gan_lightning.models.madgan import MultiGenerator
from gan_lightning.models.pacgan import pack_samples
from gan_lightning.nets import DCGANDiscriminator, MLPDiscriminator, build_networks

MODEL_NAMES = [
    "LSGAN", "WGAN", "WGANGP", "WGANDiv", "DRAGAN", "SNGAN", "RelativisticGAN",
    "EBGAN", "BEGAN", "UnrolledGAN", "MADGAN", "PacGAN",
]
TOY_SHAPE, IMAGE_SHAPE = (2,), (1, 28, 28)
TINY = dict(latent_dim=8, g_hidden=(16, 16), d_hidden=(16, 16), g_width=8, d_width=8)
EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def make(name: str, data_shape, **overrides):
    kwargs = dict(TINY, data_shape=data_shape)
    kwargs.update(overrides)
    return getattr(models, name)(**kwargs)


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest's: one intra-op thread for tiny networks


@pytest.fixture(scope="module")
def mnist_sets():
    return MNIST5k(image_size=28, batch_size=16).build_datasets()


def toy_data(batch_size: int = 32) -> Toy2D:
    return Toy2D(num_points=400, batch_size=batch_size)


def image_data(sets, batch_size: int = 16) -> MNIST5k:
    data = MNIST5k(image_size=28, batch_size=batch_size)
    data.train_set, data.heldout_set = sets  # built once per module: loading MNIST5k takes seconds
    return data


def random_images(num: int = 64) -> MNIST5k:
    """A data module of random images in [-1, 1], for the checks that do not need digits."""
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(num, *IMAGE_SHAPE, generator=generator) * 2 - 1
    dataset = torch.utils.data.TensorDataset(images, torch.zeros(num, dtype=torch.long))
    data = MNIST5k(image_size=28, batch_size=16)
    data.train_set, data.heldout_set = dataset, dataset
    return data


class Recorder(L.Callback):
    """Keeps every training_step output and, after each iteration, a hook's observation."""

    def __init__(self, observe=None) -> None:
        self.outputs: list[dict] = []
        self.observed: list = []
        self.observe = observe

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.outputs.append({k: v.detach().clone() for k, v in outputs.items()})
        if self.observe is not None:
            self.observed.append(self.observe(trainer, pl_module))


def fit(model, data, max_steps: int, callbacks=(), **overrides) -> L.Trainer:
    kwargs = dict(
        max_steps=max_steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, limit_val_batches=0, accelerator="cpu", devices=1,
        callbacks=list(callbacks), default_root_dir="/tmp/gan_lightning_stability_tests",
    )
    kwargs.update(overrides)
    trainer = L.Trainer(**kwargs)
    trainer.fit(model, data)
    return trainer


def snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def changed(before: dict[str, torch.Tensor], module: nn.Module) -> bool:
    return any(not torch.equal(before[name], p.detach()) for name, p in module.named_parameters())


def assert_short_fit(model, data) -> None:
    # critic_steps > 1 needs that many iterations before G's first step
    steps = max(4, model.critic_steps)
    g_before, d_before = snapshot(model.generator), snapshot(model.discriminator)
    recorder = Recorder()
    trainer = fit(model, data, steps, [recorder])
    assert trainer.global_step == steps
    assert len(recorder.outputs) == steps
    assert any("g_loss" in out for out in recorder.outputs)
    for out in recorder.outputs:
        assert "d_loss" in out
        for name, value in out.items():
            assert torch.isfinite(value).all(), f"{type(model).__name__}: {name} = {value}"
    for name, value in trainer.callback_metrics.items():
        assert torch.isfinite(value).all(), f"{type(model).__name__}: logged {name} = {value}"
    assert changed(g_before, model.generator), f"{type(model).__name__}: G did not change"
    assert changed(d_before, model.discriminator), f"{type(model).__name__}: D did not change"


# ----------------------------------------------------------------------------- every model, both kinds of data
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_short_fit_on_toy2d(name):
    torch.manual_seed(0)
    model = make(name, TOY_SHAPE)
    assert set(model.data_kinds) >= {"image", "toy2d"} and model.paper
    assert isinstance(model.discriminator, nn.Module)
    assert_short_fit(model, toy_data())


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_short_fit_on_images(name, mnist_sets):
    torch.manual_seed(0)
    overrides = {"unroll_steps": 2} if name == "UnrolledGAN" else {}
    model = make(name, IMAGE_SHAPE, **overrides)
    assert_short_fit(model, image_data(mnist_sets))
    samples = model.sample(5)
    assert samples.shape == (5,) + IMAGE_SHAPE


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_heldout_scores_and_sampling_on_toy2d(name):
    """The base validation step (mean ``discriminate`` of real and fake) works for every model."""
    torch.manual_seed(0)
    model = make(name, TOY_SHAPE)
    trainer = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False, limit_val_batches=2,
                        accelerator="cpu", devices=1, default_root_dir="/tmp/gan_lightning_stability_tests")
    (scores,) = trainer.validate(model, toy_data(batch_size=50), verbose=False)
    assert set(scores) == {"val/d_real", "val/d_fake"}
    assert all(torch.isfinite(torch.tensor(v)) for v in scores.values())
    assert model.sample(7).shape == (7, 2)


# ----------------------------------------------------------------------------- networks by data shape
def test_build_networks_picks_mlps_for_vectors_and_dcgan_for_images():
    g, d = build_networks((2,), 4, (8,), (8,), 8, 8)
    assert isinstance(d, MLPDiscriminator) and g(torch.randn(3, 4)).shape == (3, 2)
    g, d = build_networks((1, 32, 32), 4, (8,), (8,), 8, 8, d_norm="none")
    assert isinstance(d, DCGANDiscriminator) and g(torch.randn(3, 4)).shape == (3, 1, 32, 32)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())
    _, d = build_networks((1, 32, 32), 4, (8,), (8,), 8, 8, d_norm="layer")
    assert any(isinstance(m, nn.GroupNorm) for m in d.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())
    with pytest.raises(ValueError):
        build_networks((1, 28, 32), 4)


def test_gradient_penalty_critics_have_no_batchnorm():
    for name in ("WGANGP", "WGANDiv", "DRAGAN", "SNGAN"):
        model = make(name, IMAGE_SHAPE)
        assert not any(isinstance(m, nn.BatchNorm2d) for m in model.discriminator.modules()), name


# ----------------------------------------------------------------------------- WGAN
def test_wgan_weights_stay_clipped():
    torch.manual_seed(0)
    model = make("WGAN", IMAGE_SHAPE, clip_value=0.01, critic_steps=2, lr_d=0.05, lr_g=0.05)
    recorder = Recorder(lambda trainer, module: max(p.abs().max().item() for p in module.discriminator.parameters()))
    fit(model, random_images(), 4, [recorder])
    assert max(recorder.observed) <= 0.01 + 1e-7
    # a large learning rate would leave the box without the clipping
    assert max(p.abs().max().item() for p in model.discriminator.parameters()) == pytest.approx(0.01)


def test_wgan_generator_steps_only_every_fifth_iteration():
    torch.manual_seed(0)
    model = make("WGAN", TOY_SHAPE)
    assert model.critic_steps == 5 and model.optimizer_name == "rmsprop" and model.lr_d == 5e-5
    state = {"g": snapshot(model.generator)}

    def g_moved(trainer, module):
        moved = changed(state["g"], module.generator)
        state["g"] = snapshot(module.generator)
        return trainer.global_step, moved

    recorder = Recorder(g_moved)
    trainer = fit(model, toy_data(), 12, [recorder])
    assert trainer.global_step == 12
    assert [step for step, moved in recorder.observed if moved] == [5, 10]
    assert [i + 1 for i, out in enumerate(recorder.outputs) if "g_loss" in out] == [5, 10]


# ----------------------------------------------------------------------------- WGAN-GP / WGAN-div / DRAGAN terms
@pytest.mark.parametrize("name, term", [("WGANGP", "gp"), ("WGANDiv", "div_penalty"), ("DRAGAN", "dragan_gp")])
def test_penalty_terms_are_logged_and_enter_the_loss(name, term):
    torch.manual_seed(0)
    model = make(name, TOY_SHAPE)
    real, fake = torch.randn(16, 2), torch.randn(16, 2) * 3
    terms = model.discriminator_loss(real, fake)
    assert terms[term] > 0
    if name != "DRAGAN":
        assert "wasserstein" in terms
    weightless = make(name, TOY_SHAPE, **({"k": 0.0} if name == "WGANDiv" else {"gp_weight": 0.0}))
    weightless.load_state_dict(model.state_dict())
    torch.manual_seed(1)
    with_penalty = model.discriminator_loss(real, fake)["d_loss"]
    torch.manual_seed(1)
    without = weightless.discriminator_loss(real, fake)["d_loss"]
    assert with_penalty > without


# ----------------------------------------------------------------------------- SNGAN
def test_sngan_has_spectral_norm_on_every_discriminator_layer():
    for shape in (TOY_SHAPE, IMAGE_SHAPE):
        model = make("SNGAN", shape)
        layers = [m for m in model.discriminator.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
        assert layers and all(parametrize.is_parametrized(m, "weight") for m in layers)
        assert not any(parametrize.is_parametrized(m) for m in model.generator.modules())
        baseline = make("SNGAN", shape, spectral_norm=False)  # the ablation: the same layers, none normalised
        plain = [m for m in baseline.discriminator.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
        assert len(plain) == len(layers) and not any(parametrize.is_parametrized(m) for m in plain)


# ----------------------------------------------------------------------------- RelativisticGAN
@pytest.mark.parametrize("kind", ["rsgan", "rasgan", "ralsgan", "rahinge"])
def test_relativistic_kinds_run(kind):
    torch.manual_seed(0)
    model = make("RelativisticGAN", TOY_SHAPE, kind=kind)
    recorder = Recorder()
    fit(model, toy_data(), 2, [recorder])
    assert all(torch.isfinite(v).all() for out in recorder.outputs for v in out.values())


def test_relativistic_kinds_differ_and_generator_loss_uses_real_scores():
    torch.manual_seed(0)
    base = make("RelativisticGAN", TOY_SHAPE, kind="rasgan")
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    losses = {}
    for kind in ("rsgan", "rasgan", "ralsgan", "rahinge"):
        model = make("RelativisticGAN", TOY_SHAPE, kind=kind)
        model.load_state_dict(base.state_dict())
        losses[kind] = float(model.discriminator_loss(real, fake)["d_loss"].detach())
        g_with_real = float(model.generator_loss(real, fake)["g_loss"].detach())
        assert g_with_real != pytest.approx(float(model.generator_loss(real + 5.0, fake)["g_loss"].detach()))
    assert len({round(v, 6) for v in losses.values()}) == 4
    with pytest.raises(ValueError):
        make("RelativisticGAN", TOY_SHAPE, kind="nope")


# ----------------------------------------------------------------------------- EBGAN
def test_ebgan_energy_is_per_sample_reconstruction_error_and_margin_caps_fakes():
    torch.manual_seed(0)
    model = make("EBGAN", IMAGE_SHAPE, margin=0.5)
    x = torch.rand(6, *IMAGE_SHAPE) * 2 - 1
    energy = model.discriminate(x)
    expected = (model.discriminator(x) - x).pow(2).flatten(1).mean(1)
    torch.testing.assert_close(energy, expected)
    assert energy.shape == (6,)
    # fakes already above the margin contribute nothing to D's loss
    far = torch.full((6,) + IMAGE_SHAPE, 50.0)
    terms = model.discriminator_loss(x, far)
    torch.testing.assert_close(terms["d_loss"], energy.mean())
    g_terms = model.generator_loss(x, x)
    assert 0 <= float(g_terms["pullaway"]) <= 1


# ----------------------------------------------------------------------------- BEGAN
def test_began_k_stays_in_unit_interval_and_is_checkpointed():
    torch.manual_seed(0)
    # a huge gain throws k far outside [0, 1] on the first update unless it is clamped
    model = make("BEGAN", TOY_SHAPE, lambda_k=100.0, k_init=0.5)
    assert "k" in model.training_state  # training state: saved with the checkpoint, restored on resume
    assert model.discriminator.encode(torch.randn(3, 2)).shape == (3, 1)  # a bottleneck on 2-D data
    recorder = Recorder(lambda trainer, module: float(module.k))
    fit(model, toy_data(), 6, [recorder])
    ks = recorder.observed
    assert all(0.0 <= k <= 1.0 for k in ks)
    assert ks[0] in (0.0, 1.0)
    assert float(recorder.outputs[0]["k"]) == 0.5  # the D loss of iteration 1 used k_0
    assert "convergence" in recorder.outputs[0]
    checkpoint: dict = {}
    model.on_save_checkpoint(checkpoint)
    restored = make("BEGAN", TOY_SHAPE, k_init=0.7)  # a k the trained model cannot have (it ends at 0 or 1)
    restored.on_load_checkpoint(checkpoint)
    assert float(restored.k) == float(model.k) != 0.7


def test_began_k_follows_the_paper_update():
    model = make("BEGAN", TOY_SHAPE, gamma=0.5, lambda_k=0.1, k_init=0.2)
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    terms = model.discriminator_loss(real, fake)
    model.after_discriminator_step()
    expected = 0.2 + 0.1 * (0.5 * float(terms["recon_real"]) - float(terms["recon_fake"]))
    assert float(model.k) == pytest.approx(min(max(expected, 0.0), 1.0), abs=1e-6)
    torch.testing.assert_close(terms["d_loss"], terms["recon_real"] - 0.2 * terms["recon_fake"])


# ----------------------------------------------------------------------------- UnrolledGAN
def _generator_grads(model, real, z):
    model.generator.zero_grad(set_to_none=True)
    loss = model.generator_loss(real, model.generator(z))["g_loss"]
    loss.backward()
    return loss.detach(), torch.cat([p.grad.flatten() for p in model.generator.parameters()])


@pytest.mark.parametrize("unroll_optimizer, unroll_lr", [("adam", None), ("sgd", 0.5)])
def test_unrolled_generator_gradient_differs_from_plain_one(unroll_optimizer, unroll_lr):
    torch.manual_seed(0)
    unrolled = make("UnrolledGAN", TOY_SHAPE, unroll_steps=5, unroll_optimizer=unroll_optimizer, unroll_lr=unroll_lr)
    plain = copy.deepcopy(unrolled)
    plain.unroll_steps = 0
    real, z = torch.randn(32, 2), torch.randn(32, TINY["latent_dim"])
    d_before = snapshot(unrolled.discriminator)
    plain_loss, plain_grad = _generator_grads(plain, real, z)
    unrolled_loss, unrolled_grad = _generator_grads(unrolled, real, z)
    torch.testing.assert_close(plain_loss, nonsaturating_g(plain.discriminator(plain.generator(z))).detach())
    assert torch.isfinite(unrolled_grad).all()
    assert (plain_grad - unrolled_grad).norm() > 0.05 * plain_grad.norm()
    assert not changed(d_before, unrolled.discriminator)  # the unrolled copy leaves D alone


def test_unrolled_adam_continues_from_discriminator_state():
    torch.manual_seed(0)
    model = make("UnrolledGAN", TOY_SHAPE, unroll_steps=3)
    recorder = Recorder()
    fit(model, toy_data(), 3, [recorder])  # the adam unrolling reads D's real optimizer state
    assert all("g_loss" in out and torch.isfinite(out["g_loss"]) for out in recorder.outputs)
    moments = model._adam_moments(dict(model.discriminator.named_parameters()), model.trainer.optimizers[1])
    assert moments[2] == 3 and any(m.abs().sum() > 0 for m in moments[0].values())


# ----------------------------------------------------------------------------- MADGAN
def test_madgan_discriminator_has_k_plus_one_outputs_and_every_generator_trains():
    torch.manual_seed(0)
    model = make("MADGAN", TOY_SHAPE, num_generators=3)
    assert isinstance(model.generator, MultiGenerator) and model.generator.num_generators == 3
    assert model.discriminator(torch.randn(5, 2)).shape == (5, 4)
    seen = [0, 0, 0]
    for i, g in enumerate(model.generator.generators):
        g.register_forward_hook(lambda mod, args, out, i=i: seen.__setitem__(i, seen[i] + args[0].size(0)))
    befores = [snapshot(g) for g in model.generator.generators]
    fit(model, toy_data(batch_size=30), 3)
    assert all(n > 0 for n in seen) and len(set(seen)) == 1
    assert all(changed(before, g) for before, g in zip(befores, model.generator.generators))


def test_madgan_sample_n_comes_from_generator_n_mod_k():
    torch.manual_seed(0)
    model = make("MADGAN", IMAGE_SHAPE, num_generators=3).eval()
    z = torch.randn(7, TINY["latent_dim"])
    with torch.no_grad():
        out = model.generator(z)
        for i, g in enumerate(model.generator.generators):
            torch.testing.assert_close(out[i::3], g(z[i::3]))
    assert model.sample(4).shape == (4,) + IMAGE_SHAPE
    model.enable_ema()
    assert isinstance(model.generator_ema, MultiGenerator)


# ----------------------------------------------------------------------------- PacGAN
def test_pacgan_discriminator_input_has_pack_times_channels():
    image = make("PacGAN", IMAGE_SHAPE, pack=3)
    first_conv = next(m for m in image.discriminator.modules() if isinstance(m, nn.Conv2d))
    assert first_conv.in_channels == 3 * IMAGE_SHAPE[0]
    assert image.discriminate(torch.randn(10, *IMAGE_SHAPE)).shape == (3,)  # remainder dropped
    toy = make("PacGAN", TOY_SHAPE, pack=4)
    first_linear = next(m for m in toy.discriminator.modules() if isinstance(m, nn.Linear))
    assert first_linear.in_features == 4 * 2
    mlp_on_images = make("PacGAN", IMAGE_SHAPE, pack=2, base="gan")
    assert isinstance(mlp_on_images.discriminator, MLPDiscriminator)


def test_pack_samples_concatenates_consecutive_samples():
    x = torch.arange(7 * 2 * 3, dtype=torch.float32).reshape(7, 2, 3)
    packed = pack_samples(x, 3)
    assert packed.shape == (2, 6, 3)
    torch.testing.assert_close(packed[1], torch.cat([x[3], x[4], x[5]], dim=0))
    assert pack_samples(x[:1], 2).shape == (1, 4, 3)  # a batch smaller than a pack is tiled


# ----------------------------------------------------------------------------- experiment configs
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_experiment_configs_build_their_model(name):
    for data in ("mnist5k", "ring8", "grid25"):
        path = EXPERIMENTS / name.lower() / f"{data}.yaml"
        config = yaml.safe_load(path.read_text())
        assert config["model"]["class_path"] == name
        assert config["trainer"]["default_root_dir"] == f"runs/{name.lower()}_{data}"
        data_args = config["data"]["init_args"]
        shape = (2,) if data != "mnist5k" else (data_args["channels"], data_args["image_size"], data_args["image_size"])
        if data != "mnist5k":
            assert config["data"]["class_path"] == "Toy2D" and data_args["kind"] == data
        model = getattr(models, name)(data_shape=shape, **config["model"]["init_args"])
        assert model.data_shape == shape
