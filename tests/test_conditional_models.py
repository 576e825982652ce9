"""The conditional and encoder-based families (CGAN ... CoGAN): shapes, short fits, checkpoints,
and one targeted check per family of what makes it that family."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from PIL import Image
from torch.utils.data import TensorDataset

from gan_lightning import models
from gan_lightning.callbacks import SampleGridCallback
from gan_lightning.checkpoints import load_model
from gan_lightning.data import MNIST5k
from gan_lightning.models.semisupervisedgan import dataset_labels, stratified_pick

EXE = Path(sys.executable).with_name("gan-lightning")
TINY = {
    "CGAN": dict(latent_dim=8, g_width=8, d_width=8),
    "ACGAN": dict(latent_dim=8, g_width=8, d_width=8),
    "InfoGAN": dict(noise_dim=8, g_width=8, d_width=8, q_hidden=16),
    "SemiSupervisedGAN": dict(latent_dim=8, g_hidden=(16,), d_hidden=(32, 16), num_labeled=20),
    "AAE": dict(g_width=8, e_width=8, code_hidden=(16, 16)),
    "VAEGAN": dict(latent_dim=8, g_width=8, d_width=8, e_width=8),
    "BiGAN": dict(latent_dim=8, g_width=8, d_width=8, e_width=8, joint_hidden=16),
    "CoGAN": dict(latent_dim=8, g_width=8, d_width=8),
}
LABELLED = ("CGAN", "ACGAN", "SemiSupervisedGAN")


def make(name: str, size: int = 28, **overrides):
    kwargs = dict(TINY[name], data_shape=(1, size, size))
    if name in LABELLED:
        kwargs["num_classes"] = 10
    kwargs.update(overrides)
    return getattr(models, name)(**kwargs)


def trainer(root, max_steps: int = 4, callbacks=(), **overrides) -> L.Trainer:
    kwargs = dict(
        max_steps=max_steps, limit_train_batches=4, limit_val_batches=0, logger=False, enable_progress_bar=False,
        enable_model_summary=False, enable_checkpointing=False, default_root_dir=str(root), callbacks=list(callbacks),
        deterministic=True, accelerator="cpu", devices=1,
    )
    kwargs.update(overrides)
    return L.Trainer(**kwargs)


@pytest.fixture(scope="module")
def mnist_sets():
    return MNIST5k(image_size=28, batch_size=16).build_datasets()


def image_data(sets, batch_size: int = 16) -> MNIST5k:
    data = MNIST5k(image_size=28, batch_size=batch_size)
    data.train_set, data.heldout_set = sets  # built once per module: loading MNIST5k takes seconds
    return data


def relabelled(sets, labels: torch.Tensor) -> MNIST5k:
    """The training images of ``sets`` with the given labels (one per training image)."""
    train, heldout = sets  # MNIST5k's training split: a Subset of a TensorDataset
    images = train.dataset.tensors[0][torch.as_tensor(train.indices)]
    data = MNIST5k(image_size=28, batch_size=16)
    data.train_set, data.heldout_set = TensorDataset(images, labels), heldout
    return data


def fixed_inputs(model, num: int = 6):
    """Seeded noise (with codes for InfoGAN) and labels 0..num-1 for comparing samples (None for a model
    that takes no labels: its declared conditions say so)."""
    noise = model.sample_noise(num, rng=torch.Generator().manual_seed(7))
    takes_labels = model.class_condition is not None or type(model).__name__ == "InfoGAN"
    return noise, torch.arange(num) % 10 if takes_labels else None


class RecordOutputs(L.Callback):
    def __init__(self):
        self.outputs = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.outputs.append(outputs)


def network_parts(model) -> dict[str, torch.nn.Module]:
    parts = {"generator": model.generator, "discriminator": model.discriminator}
    if hasattr(model, "encoder"):
        parts["encoder"] = model.encoder
    return parts


# ----------------------------------------------------------------------------- every model
@pytest.mark.parametrize("size", [28, 32])
@pytest.mark.parametrize("name", list(TINY))
def test_network_shapes(name, size):
    torch.manual_seed(0)
    model = make(name, size)
    x = torch.rand(4, 1, size, size) * 2 - 1
    labels = torch.tensor([0, 3, 5, 9])
    assert model.sample(5).shape == (5, 1, size, size)
    if model.class_condition is not None:
        assert model.sample(4, labels=labels).shape == (4, 1, size, size)
    elif name != "InfoGAN":  # InfoGAN's labels set its categorical code
        with pytest.raises(ValueError, match=f"labels: {name} takes no class labels"):
            model.sample(4, labels=labels)
    assert model.discriminate(x, labels).shape == (4,)
    if name in ("AAE", "BiGAN"):
        assert model.encode(x).shape == (4, model.latent_dim)
    if name == "VAEGAN":
        mean, log_var = model.encode(x)
        assert mean.shape == log_var.shape == (4, model.latent_dim)
    if name in ("AAE", "BiGAN", "VAEGAN"):
        assert model.reconstruct(x).shape == x.shape
    if name == "ACGAN":
        assert model.classify(x).shape == (4, 10)
    if name == "InfoGAN":
        source, q = model.discriminator(x)
        assert source.shape == (4,) and q.shape == (4, 10 + 2 * 2)
        assert model.sample_noise(4).shape == (4, 8 + 10 + 2)
    if name == "CoGAN":
        a, b = model.sample_pairs(3)
        assert a.shape == b.shape == (3, 1, size, size)


class Fitted:
    """A model after a 4-iteration fit, its weights before it, its step outputs and a checkpoint."""

    def __init__(self, name: str, sets, root: Path) -> None:
        L.seed_everything(0)
        self.model = make(name)
        self.before = {part: copy.deepcopy(net.state_dict()) for part, net in network_parts(self.model).items()}
        self.record = RecordOutputs()
        self.trainer = trainer(root, callbacks=[self.record])
        self.trainer.fit(self.model, image_data(sets))
        self.checkpoint = root / "model.ckpt"
        self.trainer.save_checkpoint(self.checkpoint)


@pytest.fixture(scope="module")
def fitted(mnist_sets, tmp_path_factory):
    """Fits each model once per module, on first use."""
    cache: dict[str, Fitted] = {}

    def get(name: str) -> Fitted:
        if name not in cache:
            cache[name] = Fitted(name, mnist_sets, tmp_path_factory.mktemp(name))
        return cache[name]

    return get


@pytest.mark.parametrize("name", list(TINY))
def test_short_fit_and_checkpoint_round_trip(name, fitted, mnist_sets):
    run = fitted(name)
    model = run.model
    assert run.trainer.global_step == 4
    assert len(run.record.outputs) == 4
    for outputs in run.record.outputs:
        assert {"d_loss", "g_loss"} <= outputs.keys()
        assert all(torch.isfinite(value).all() for value in outputs.values())
    for part, net in network_parts(model).items():
        after = net.state_dict()
        changed = [key for key, value in run.before[part].items()
                   if value.is_floating_point() and not torch.equal(value, after[key])]
        assert changed, f"{part} did not change"

    loaded = load_model(run.checkpoint)
    assert type(loaded) is type(model)
    noise, labels = fixed_inputs(model)
    torch.testing.assert_close(loaded.sample(noise=noise, labels=labels), model.sample(noise=noise, labels=labels))

    if name == "ACGAN":  # D's auxiliary accuracy on the real batch
        assert all(0.0 <= float(outputs["aux_acc_real"]) <= 1.0 for outputs in run.record.outputs)
    if name == "SemiSupervisedGAN":  # the labelled subset: picked from the training set at the start of fit
        labels = dataset_labels(mnist_sets[0])
        assert torch.equal(model.labeled_index, stratified_pick(labels, 20, 10, seed=0))
        assert torch.equal(model.labeled_targets, labels[model.labeled_index])
        assert torch.equal(loaded.labeled_index, model.labeled_index)
        torch.testing.assert_close(loaded.labeled_images, model.labeled_images)


# ----------------------------------------------------------------------------- CGAN / ACGAN
@pytest.mark.parametrize("name", ["CGAN", "ACGAN"])
def test_class_conditional_samples_follow_the_labels(name):
    torch.manual_seed(0)
    model = make(name)
    noise = torch.randn(6, model.latent_dim)
    zeros, ones = torch.zeros(6, dtype=torch.long), torch.ones(6, dtype=torch.long)
    assert not torch.allclose(model.sample(noise=noise, labels=zeros), model.sample(noise=noise, labels=ones))
    # Without labels, classes are drawn in turn: 0, 1, ..., 9, 0, ...
    torch.testing.assert_close(model.sample(noise=noise), model.sample(noise=noise, labels=torch.arange(6) % 10))
    with pytest.raises(ValueError, match="labels must lie in"):
        model.sample(noise=noise, labels=torch.full((6,), 10))


@pytest.mark.parametrize("conditioning", ["concat", "projection"])
def test_conditional_discriminator_reads_the_label(conditioning):
    torch.manual_seed(0)
    model = make("CGAN", 32, conditioning=conditioning)
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        if model.discriminator.embedding is not None:  # projection starts near 0: make the label matter
            model.discriminator.embedding.weight.normal_()
    scores = [model.discriminate(x, torch.full((4,), k)) for k in (0, 1)]
    assert scores[0].shape == (4,) and not torch.allclose(scores[0], scores[1])


# ----------------------------------------------------------------------------- InfoGAN
def test_infogan_never_reads_dataset_labels(mnist_sets, tmp_path):
    train = mnist_sets[0]
    true_labels = dataset_labels(train)
    garbage = torch.randint(0, 10, true_labels.shape, generator=torch.Generator().manual_seed(1))
    assert not torch.equal(true_labels, garbage)
    states = []
    for labels in (true_labels, garbage):
        L.seed_everything(0)
        model = make("InfoGAN")
        trainer(tmp_path, max_steps=3).fit(model, relabelled(mnist_sets, labels))
        states.append(model.state_dict())
    assert states[0].keys() == states[1].keys()
    for key in states[0]:
        assert torch.equal(states[0][key], states[1][key]), key


def test_infogan_codes_and_traversal_grid():
    torch.manual_seed(0)
    model = make("InfoGAN")
    z = model.sample_noise(200, rng=torch.Generator().manual_seed(0))
    noise, categorical, continuous = model.split_latent(z)
    assert noise.shape == (200, 8) and continuous.shape == (200, 2)
    assert continuous.min() >= -1 and continuous.max() <= 1
    assert set(categorical.tolist()) == set(range(10))
    # The information loss is small when Q reads the codes back exactly.
    one_hot = torch.nn.functional.one_hot(categorical, 10) * 20.0
    perfect = torch.cat([one_hot, continuous, torch.full_like(continuous, -3)], dim=1)
    terms = model.information_loss(perfect, z)
    assert terms["info_acc"] == 1 and terms["info_categorical"] < 1e-6 and terms["info_continuous"] < -2
    # continuous_weight scales only the continuous term; "mse" is the fixed-std form
    guess = torch.randn(200, 10 + 2 * 2, generator=torch.Generator().manual_seed(1))
    full = model.information_loss(guess, z)
    model.continuous_weight = 0.1
    weighted = model.information_loss(guess, z)
    torch.testing.assert_close(weighted["info_loss"], full["info_categorical"] + 0.1 * full["info_continuous"])
    mse = make("InfoGAN", continuous_loss="mse", continuous_weight=0.1)
    terms = mse.information_loss(guess[:, :12], z)
    torch.testing.assert_close(terms["info_continuous"], ((guess[:, 10:12] - continuous) ** 2).mean())
    torch.testing.assert_close(terms["info_loss"], terms["info_categorical"] + 0.1 * terms["info_continuous"])

    grid = model.traversal_grid([1, 4, 7], continuous_index=1, steps=5, rng=torch.Generator().manual_seed(0))
    assert grid.shape == (15, 1, 28, 28)
    assert not torch.allclose(grid[0], grid[5])  # rows: categorical values
    assert not torch.allclose(grid[0], grid[4])  # columns: the continuous code
    coded = model.with_categorical(z[:3], torch.tensor([2, 2, 2]))
    assert model.split_latent(coded)[1].tolist() == [2, 2, 2]
    torch.testing.assert_close(model.sample(noise=z[:3], labels=torch.tensor([2, 2, 2])), model.sample(noise=coded))


def test_sample_traverse_writes_a_grid(fitted, tmp_path):
    from gan_lightning.cli import main

    out = tmp_path / "traverse.png"
    main(["sample", "--ckpt_path", str(fitted("InfoGAN").checkpoint), "--traverse", "1", "--labels", "0,5",
          "--nrow", "6", "--out", str(out)])
    assert Image.open(out).size == (6 * 30 + 2, 2 * 30 + 2)
    with pytest.raises(SystemExit) as error:  # models without latent codes say so
        main(["sample", "--ckpt_path", str(fitted("CGAN").checkpoint), "--traverse", "--out", str(out)])
    assert error.value.code == 2


# ----------------------------------------------------------------------------- semi-supervised
def test_stratified_pick_is_seeded_balanced_and_sized(mnist_sets):
    labels = dataset_labels(mnist_sets[0])
    picked = stratified_pick(labels, 100, 10, seed=0)
    assert picked.numel() == 100 and picked.unique().numel() == 100
    assert torch.bincount(labels[picked], minlength=10).tolist() == [10] * 10
    assert torch.equal(picked, stratified_pick(labels, 100, 10, seed=0))
    assert not torch.equal(picked, stratified_pick(labels, 100, 10, seed=1))
    assert torch.bincount(labels[stratified_pick(labels, 25, 10)], minlength=10).tolist() == [3] * 5 + [2] * 5


def test_semi_supervised_gan_uses_only_its_labelled_subset(mnist_sets, tmp_path):
    labels = dataset_labels(mnist_sets[0])
    subset = make("SemiSupervisedGAN")
    index = subset.select_labeled(mnist_sets[0])
    assert torch.equal(index, stratified_pick(labels, 20, 10, seed=0))
    assert torch.bincount(subset.labeled_targets, minlength=10).tolist() == [2] * 10

    # Batch labels never matter: garbage labels outside the subset give the same weights.
    garbage = torch.randint(0, 10, labels.shape, generator=torch.Generator().manual_seed(1))
    states = []
    for batch_labels in (labels, garbage):
        L.seed_everything(0)
        model = make("SemiSupervisedGAN")
        model.set_labeled(subset.labeled_images, subset.labeled_targets, index)
        trainer(tmp_path, max_steps=3).fit(model, relabelled(mnist_sets, batch_labels))
        states.append(model.state_dict())
    for key in states[0]:
        assert torch.equal(states[0][key], states[1][key]), key


def test_semi_supervised_gan_starts_from_the_data_dependent_initialisation(mnist_sets, tmp_path):
    train = mnist_sets[0]
    images = torch.stack([train[i][0] for i in range(200)])
    L.seed_everything(0)
    untouched = make("SemiSupervisedGAN", data_init=False)
    L.seed_everything(0)
    model = make("SemiSupervisedGAN")
    assert all(torch.equal(a, b) for a, b in zip(untouched.state_dict().values(), model.state_dict().values()))
    trainer(tmp_path, max_steps=1).fit(model, image_data(mnist_sets))  # (max_steps=0 skips on_train_start)
    trainer(tmp_path, max_steps=1).fit(untouched, image_data(mnist_sets))
    model.eval(), untouched.eval()
    with torch.no_grad():
        spread, default_spread = model.classify(images).std(0), untouched.classify(images).std(0)
    assert default_spread.max() < 0.2  # the noise-regularised MLP's default init: next to no signal
    assert spread.min() > 0.5 and spread.max() < 1.5  # about unit spread per class on training digits (after 1 step)
    assert model.has_labeled and untouched.has_labeled

    # the DCGAN-style D of the CIFAR recipe, with its dropout, is there too
    conv = make("SemiSupervisedGAN", architecture="dcgan", g_width=8, d_width=8, d_dropout=0.5, d_input_dropout=0.2)
    assert sum(isinstance(m, torch.nn.Dropout) for m in conv.discriminator.modules()) == 3  # input, 2 conv layers at 28 px
    assert conv.discriminate(images[:3]).shape == (3,) and conv.sample(3).shape == (3, 1, 28, 28)
    with pytest.raises(ValueError, match="architecture"):
        make("SemiSupervisedGAN", architecture="resnet")


def test_semi_supervised_gan_logs_heldout_accuracy(mnist_sets, tmp_path):
    torch.manual_seed(0)
    results = trainer(tmp_path, limit_val_batches=2).validate(make("SemiSupervisedGAN"), image_data(mnist_sets),
                                                               verbose=False)
    assert 0.0 <= results[0]["heldout_acc"] <= 1.0


def test_acgan_logs_auxiliary_accuracy_on_heldout_reals(mnist_sets, tmp_path):
    torch.manual_seed(0)
    model, data = make("ACGAN"), image_data(mnist_sets)
    results = trainer(tmp_path, limit_val_batches=2).validate(model, data, verbose=False)
    images, labels = next(iter(data.val_dataloader()))
    second_images, second_labels = list(data.val_dataloader())[1]
    model.eval()
    with torch.no_grad():
        correct = sum(int((model.classify(x).argmax(dim=1) == y).sum())
                      for x, y in ((images, labels), (second_images, second_labels)))
    assert results[0]["val/aux_acc_real"] == pytest.approx(correct / (len(labels) + len(second_labels)))


# ----------------------------------------------------------------------------- CoGAN
def test_bigan_stochastic_encoder_samples_codes_around_its_mean(mnist_sets, tmp_path):
    torch.manual_seed(0)
    model = make("BiGAN", stochastic_encoder=True, d_dropout=0.2)
    x = torch.stack([mnist_sets[0][i][0] for i in range(8)])
    model.eval()
    mean, log_variance = model.encoder(x)
    assert torch.equal(model.encode(x), mean) and model.encode(x).shape == (8, 8)
    torch.manual_seed(1)
    first = model.encode_sample(x)
    torch.manual_seed(2)
    second = model.encode_sample(x)
    assert not torch.equal(first, second)  # a fresh eps each time ...
    spread = torch.stack([model.encode_sample(x) for _ in range(400)])
    torch.testing.assert_close(spread.mean(0), mean, atol=0.2, rtol=0)  # ... around mu with std sigma
    torch.testing.assert_close(spread.std(0), torch.exp(0.5 * log_variance), atol=0.15, rtol=0.15)
    deterministic = make("BiGAN")
    assert torch.equal(deterministic.encode_sample(x), deterministic.encode(x))
    trainer(tmp_path, max_steps=2).fit(model, image_data(mnist_sets))  # trains with sampled codes
    assert torch.isfinite(model.reconstruct(x)).all()


def test_cogan_pairs_share_their_first_layers():
    torch.manual_seed(0)
    model = make("CoGAN")
    g, d = model.generator, model.discriminator
    shared = {id(p) for p in g.shared.parameters()}
    assert shared and not shared & {id(p) for p in g.private_a.parameters()}
    assert not {id(p) for p in g.private_a.parameters()} & {id(p) for p in g.private_b.parameters()}
    assert not {id(p) for p in d.private_a.parameters()} & {id(p) for p in d.private_b.parameters()}

    calls = []
    g.shared.register_forward_hook(lambda *args: calls.append(1))
    noise = torch.randn(4, model.latent_dim)
    a, b = model.sample_pairs(noise=noise)
    assert len(calls) == 1  # one pass through the shared layers feeds both domains
    torch.testing.assert_close(a, model.sample(noise=noise))  # sample() draws domain A
    assert not torch.allclose(a, b)
    with torch.no_grad():  # a shared weight changes both domains, a private one only its own
        g.shared[0].weight.mul_(1.5)
        a2, b2 = model.sample_pairs(noise=noise)
        assert not torch.allclose(a, a2) and not torch.allclose(b, b2)
        g.private_b[0].weight.mul_(1.5)
        a3, b3 = model.sample_pairs(noise=noise)
        torch.testing.assert_close(a2, a3)
        assert not torch.allclose(b2, b3)


def test_cogan_domains_are_unpaired_halves():
    model = make("CoGAN")
    batch = torch.rand(6, 1, 28, 28)
    real_a, real_b = model.split_domains(batch)
    torch.testing.assert_close(real_a, batch[:3])
    torch.testing.assert_close(real_b, -batch[3:])


# ----------------------------------------------------------------------------- grids and the CLI
def test_conditional_grid_has_one_row_per_class(mnist_sets, tmp_path):
    L.seed_everything(0)
    grid = SampleGridCallback(every_n_steps=2, num_samples=16, nrow=4)
    trainer(tmp_path, max_steps=2, callbacks=[grid]).fit(make("CGAN"), image_data(mnist_sets))
    assert Image.open(tmp_path / "samples" / "iter_000002.png").size == (4 * 30 + 2, 10 * 30 + 2)
    # A model whose G takes no labels keeps the plain grid.
    samples, nrow = grid.draw(make("SemiSupervisedGAN"))
    assert samples.shape[0] == 16 and nrow == 4


def test_cli_samples_a_cgan_checkpoint_with_labels(fitted, tmp_path):
    out = tmp_path / "labels.png"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB")}
    result = subprocess.run(
        [str(EXE), "sample", "--ckpt_path", str(fitted("CGAN").checkpoint), "--num_samples", "6", "--labels", "0,1,2",
         "--nrow", "3", "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert Image.open(out).size == (3 * 30 + 2, 2 * 30 + 2)


def test_infogan_uniform_noise_and_the_authors_code_weights():
    """``noise_distribution="uniform"``: z ~ U[-1, 1] as in openai/InfoGAN's MNIST latent spec, in
    training draws, seeded draws and the fixed grid noise; the codes are untouched. With
    ``continuous_loss="mse"`` and weight 1 the continuous term equals the authors' fixed-std
    Gaussian negative log-likelihood summed over the 2 codes, less its constant."""
    normal = make("InfoGAN")
    uniform = make("InfoGAN", noise_distribution="uniform", continuous_loss="mse")
    for z in (uniform.sample_noise(4000), uniform.sample_noise(4000, rng=torch.Generator().manual_seed(0)),
              uniform.fixed_noise):
        noise, categorical, continuous = uniform.split_latent(z)
        assert noise.min() >= -1 and noise.max() <= 1 and continuous.abs().max() <= 1
    noise = uniform.split_latent(uniform.sample_noise(4000, rng=torch.Generator().manual_seed(0)))[0]
    assert abs(noise.std().item() - 3 ** -0.5) < 0.01  # U[-1, 1]: std 1 / sqrt(3)
    assert normal.split_latent(normal.sample_noise(4000))[0].abs().max() > 2  # the default stays N(0, I)
    torch.testing.assert_close(normal.split_latent(normal.fixed_noise)[1], uniform.split_latent(uniform.fixed_noise)[1])
    with pytest.raises(ValueError, match="noise_distribution"):
        make("InfoGAN", noise_distribution="laplace")

    z = uniform.sample_noise(64, rng=torch.Generator().manual_seed(1))
    q_out = torch.randn(64, 12, generator=torch.Generator().manual_seed(2))
    mean, codes = q_out[:, 10:], uniform.split_latent(z)[2]
    authors = (0.5 * ((codes - mean) ** 2).sum(dim=1)).mean()  # -log N(c; mean, 1) summed over codes, no constant
    torch.testing.assert_close(uniform.information_loss(q_out, z)["info_continuous"], authors)
