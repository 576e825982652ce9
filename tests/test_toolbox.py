"""The stabilisation toolbox as options of every model: one-sided label smoothing, historical averaging, the
vanishing-gradient diagnostic, top-k training, the replay of past fakes, minibatch discrimination, virtual batch
norm and the mode-seeking term (instance noise is in test_augment.py, beside the other D-input transforms)."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch

from conftest import tiny_trainer
from gan_lightning.losses import nonsaturating_d
from gan_lightning.models import DCGAN, GAN, WGANGP, known_models
from test_core import tiny_data, tiny_model

SMOOTHING = sorted(name for name, cls in known_models().items() if cls.smooths_real_labels)


def test_the_models_that_smooth_labels_are_the_binary_cross_entropy_ones():
    assert SMOOTHING == ["AAE", "ACGAN", "BiGAN", "CGAN", "CoGAN", "DCGAN", "DRAGAN", "GAN", "InfoGAN", "LAPGAN", "MRGAN",
                         "PacGAN", "Pix2Pix", "S2GAN", "SRGAN", "SSInfoGAN", "SemiSupervisedGAN", "StyleGAN", "StyleGAN2",
                         "UNIT", "UnrolledGAN"]


def test_a_fixed_target_moves_d_s_optimum_on_reals_to_it():
    """BCE against 0.9: the real term's gradient vanishes where sigmoid(logit) = 0.9, not at +infinity."""
    model = GAN(data_shape=(2,), label_smoothing=0.9)
    logits = torch.full((4,), math.log(0.9 / 0.1), requires_grad=True)
    fake = torch.full((4,), -50.0)
    nonsaturating_d(logits, fake, model.real_target(logits)).backward()
    assert logits.grad.abs().max() < 1e-6
    plain = torch.full((4,), math.log(0.9 / 0.1), requires_grad=True)
    nonsaturating_d(plain, fake, GAN(data_shape=(2,)).real_target(plain)).backward()
    assert (plain.grad < -0.01).all()  # without smoothing D still pushes the real logits up


def test_bad_label_smoothing_values_and_models_without_real_targets_are_one_line_errors():
    accepted = r"a number in \(0, 1\] \(e.g. 0.9\) or \[low, high\] with 0 < low <= high <= 1"
    for value, shown in [(0.0, "0.0"), (1.5, "1.5"), ([0.9, 0.8], r"\[0.9, 0.8\]"), ([0.5], r"\[0.5\]")]:
        with pytest.raises(ValueError, match=f"model.label_smoothing must be {accepted} .*, got {shown}"):
            GAN(data_shape=(2,), label_smoothing=value)
    with pytest.raises(ValueError, match="model.label_smoothing: WGANGP's D is not trained with binary cross-entropy"):
        WGANGP(data_shape=(2,), label_smoothing=0.9)
    # DCGAN's real_label is the old spelling of a fixed label_smoothing
    assert DCGAN(data_shape=(1, 28, 28), g_width=8, d_width=8, real_label=0.9).label_smoothing == 0.9
    with pytest.raises(ValueError, match="model.real_label is label_smoothing's old spelling; give one of the two"):
        DCGAN(data_shape=(1, 28, 28), g_width=8, d_width=8, real_label=0.9, label_smoothing=0.8)


# ---------------------------------------------------------------------------- historical averaging
def fit_dcgan(root, steps, ckpt_path=None, interrupt_at=None, **options):
    from lightning.pytorch.callbacks import ModelCheckpoint

    from conftest import InterruptAt, tiny_dcgan
    from test_augment import sixteen_images

    L.seed_everything(0)
    model = tiny_dcgan(**options)
    snapshots = []

    class Snapshots(L.Callback):  # D's parameters after each of its updates (one per iteration)
        def on_train_batch_end(self, trainer, pl_module, *args):
            snapshots.append([p.detach().clone() for p in pl_module.discriminator.parameters()])

    callbacks = [Snapshots(), ModelCheckpoint(dirpath=root / "ckpt", save_last=True,
                                              every_n_train_steps=interrupt_at or 1000)]
    if interrupt_at:
        callbacks.append(InterruptAt(interrupt_at))
    tiny_trainer(root, steps, callbacks=callbacks, enable_checkpointing=True, limit_train_batches=None).fit(
        model, sixteen_images(), ckpt_path=ckpt_path)
    return model, snapshots


def test_historical_averaging_keeps_each_network_s_mean_over_its_updates_and_penalises_the_distance(tmp_path):
    model, snapshots = fit_dcgan(tmp_path, 5, historical_averaging=0.5)
    averages = model.training_state.historical_averages
    assert averages.counts == {"discriminator": 5, "generator": 5}
    mean = [torch.stack(step).mean(0) for step in zip(*snapshots)]
    assert all(torch.allclose(a, m, atol=1e-6) for a, m in zip(averages.averages["discriminator"], mean))
    terms = model.latest_terms
    assert terms["d_historical"] > 0 and terms["g_historical"] > 0  # the distances of the last updates
    with pytest.raises(ValueError, match=r"model.historical_averaging must be a finite number >= 0 \(0: off\), got -1"):
        GAN(data_shape=(2,), historical_averaging=-1.0)


def test_historical_averaging_holds_the_weights_near_their_mean_and_resumes_bitwise(tmp_path):
    plain, plain_snapshots = fit_dcgan(tmp_path / "plain", 10)
    held, held_snapshots = fit_dcgan(tmp_path / "held", 10, historical_averaging=50.0)

    def drift(snapshots):  # how far D's last weights are from the mean of its past weights
        return sum((last - torch.stack(past).mean(0)).pow(2).sum() for last, past in
                   zip(snapshots[-1], zip(*snapshots)))

    assert drift(held_snapshots) < 0.5 * drift(plain_snapshots)
    fit_dcgan(tmp_path / "resumed", 10, interrupt_at=4, historical_averaging=50.0)
    resumed, _ = fit_dcgan(tmp_path / "resumed", 10, ckpt_path="last", historical_averaging=50.0)
    a, b = held.state_dict(), resumed.state_dict()
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    assert resumed.training_state.historical_averages.counts == held.training_state.historical_averages.counts


# ---------------------------------------------------------------------------- the vanishing-gradient diagnostic
def fit_diagnosed(root, steps, callback=None, **options):
    from conftest import tiny_dcgan
    from test_augment import sixteen_images

    L.seed_everything(0)
    model = tiny_dcgan(**options)
    tiny_trainer(root, steps, callbacks=[callback] if callback else [], limit_train_batches=None).fit(
        model, sixteen_images())
    return model


def test_the_diagnostic_measures_without_changing_training_and_reads_the_gradient_norms(tmp_path):
    from gan_lightning.callbacks import VanishingGradients
    from gan_lightning.losses import minimax_g

    diagnostic = VanishingGradients(every_n_steps=2, num_samples=8, out=str(tmp_path / "readings.json"))
    watched = fit_diagnosed(tmp_path / "watched", 6, diagnostic)
    plain = fit_diagnosed(tmp_path / "plain", 6)
    a, b = watched.state_dict(), plain.state_dict()
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    assert [row[0] for row in diagnostic.history] == [2, 4, 6]  # every 2 iterations; the end is one of them
    z = watched.sample_noise(8, rng=torch.Generator().manual_seed(0))
    watched.train()  # as during the fit
    grads = torch.autograd.grad(minimax_g(watched.discriminate(watched.generate(z))),
                                list(watched.generator.parameters()), allow_unused=True)
    expected = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads if g is not None]))
    assert diagnostic.history[-1][1] == pytest.approx(float(expected), rel=1e-5)
    import json

    saved = json.loads((tmp_path / "readings.json").read_text())
    assert [r["iteration"] for r in saved["readings"]] == [2, 4, 6] and saved["freeze_g_at"] is None
    ended = VanishingGradients(every_n_steps=4, num_samples=8)
    fit_diagnosed(tmp_path / "ended", 6, ended)
    assert [row[0] for row in ended.history] == [4, 6]  # and one reading at the end of the fit


def test_with_g_frozen_d_trains_alone_and_the_minimax_gradient_vanishes(tmp_path):
    from gan_lightning.callbacks import VanishingGradients

    diagnostic = VanishingGradients(freeze_g_at=2, every_n_steps=10, num_samples=16)
    L.seed_everything(0)
    before = fit_diagnosed(tmp_path / "two", 2, lr_d=2e-3)
    model = fit_diagnosed(tmp_path / "alone", 40, diagnostic, lr_d=2e-3)
    frozen = {k: v for k, v in model.state_dict().items() if k.startswith("generator.") and v.is_floating_point()
              and "running" not in k}
    assert all(torch.equal(v, before.state_dict()[k]) for k, v in frozen.items())  # G's parameters stayed
    iterations, minimax, nonsaturating = zip(*diagnostic.history)
    assert iterations == (2, 12, 22, 32, 40)  # every 10 from the freeze, and the end
    assert minimax[-1] < 0.1 * minimax[0]  # D improves alone: log(1 - D(G(z))) saturates
    assert nonsaturating[-1] > minimax[-1]  # -log D(G(z)) keeps a gradient


def test_the_diagnostic_says_where_it_does_not_apply():
    from gan_lightning.callbacks import VanishingGradients

    for kwargs, line in [({"freeze_g_at": -1}, r"VanishingGradients.freeze_g_at must be >= 0 \(or null: never\), got -1"),
                         ({"every_n_steps": 0}, "VanishingGradients.every_n_steps must be >= 1, got 0")]:
        with pytest.raises(ValueError, match=line):
            VanishingGradients(**kwargs)
    with pytest.raises(ValueError, match="WGANGP's D is not trained that way"):
        VanishingGradients().setup(None, WGANGP(data_shape=(2,)), "fit")


# ---------------------------------------------------------------------------- top-k training
TOP_K = sorted(name for name, cls in known_models().items() if cls.top_k_applies)


def test_top_k_keeps_the_samples_d_scores_highest_and_shrinks_k_by_epoch(monkeypatch):
    assert TOP_K == ["ACGAN", "CGAN", "DCGAN", "DRAGAN", "GAN", "InfoGAN", "MRGAN", "PacGAN", "SSInfoGAN",
                     "StyleGAN", "StyleGAN2", "UnrolledGAN"]
    model = GAN(data_shape=(2,), top_k=0.5, top_k_decay=0.9)
    logits = torch.tensor([0.3, -2.0, 1.5, 0.1, -0.4, 2.2, 0.0, -1.0, 0.7, 0.2])
    monkeypatch.setattr(GAN, "current_epoch", property(lambda self: 0))
    assert model.top_k_samples(logits) is logits  # k = the batch in the first epoch
    for epoch, kept in [(1, 9), (3, 8), (7, 5), (30, 5)]:  # k = ceil(max(0.9^epoch, 0.5) * 10)
        monkeypatch.setattr(GAN, "current_epoch", property(lambda self, e=epoch: e))
        assert model.top_k_samples(logits).tolist() == sorted(logits.tolist(), reverse=True)[:kept]
    patches = torch.randn(10, 1, 3, 3)  # a patch D: a sample's score is its mean
    best = patches.flatten(1).mean(1).topk(5).indices
    assert torch.equal(model.top_k_samples(patches), patches[best])
    model.eval()
    assert model.top_k_samples(logits) is logits  # only in training
    assert GAN(data_shape=(2,)).train().top_k_samples(logits) is logits  # off by default


def test_bad_top_k_values_and_models_it_does_not_apply_to_are_one_line_errors():
    with pytest.raises(ValueError, match=r"model.top_k must be the smallest fraction of G's samples kept, in \(0, 1\], got 0"):
        GAN(data_shape=(2,), top_k=0)
    with pytest.raises(ValueError, match=r"model.top_k_decay must be in \(0, 1\] \(k's decay per epoch\), got 1.5"):
        GAN(data_shape=(2,), top_k_decay=1.5)
    with pytest.raises(ValueError, match="model.top_k: WGANGP does not train G with the non-saturating loss"):
        WGANGP(data_shape=(2,), top_k=0.5)


def test_at_the_freeze_d_starts_from_scratch_with_a_fresh_optimizer(tmp_path):
    from gan_lightning.callbacks import VanishingGradients
    from conftest import tiny_dcgan
    from test_augment import sixteen_images

    seen = {}

    class Watch(L.Callback):  # runs after the diagnostic's hooks
        def on_fit_start(self, trainer, pl_module):
            seen["initial"] = {k: v.clone() for k, v in pl_module.discriminator.state_dict().items()}

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if trainer.global_step == 3:
                seen["at_freeze"] = {k: v.clone() for k, v in pl_module.discriminator.state_dict().items()}
                seen["state"] = len(pl_module.named_optimizer("discriminator").state)

    readings = {}
    for reset in (True, False):
        L.seed_everything(0)
        diagnostic = VanishingGradients(freeze_g_at=3, every_n_steps=10, reset_d=reset)
        tiny_trainer(tmp_path / str(reset), 5, callbacks=[diagnostic, Watch()],
                     limit_train_batches=None).fit(tiny_dcgan(), sixteen_images())
        same = all(torch.equal(seen["initial"][k], v) for k, v in seen["at_freeze"].items())
        assert same == reset and (seen["state"] == 0) == reset
        readings[reset] = diagnostic.history[0]
    assert readings[True][0] == readings[False][0] == 3 and readings[True][1:] != readings[False][1:]  # the new D's


# ---------------------------------------------------------------------------- replay of past fakes
def test_d_sees_past_fakes_through_the_pool_and_the_pool_resumes(tmp_path, monkeypatch):
    from lightning.pytorch.callbacks import ModelCheckpoint

    from conftest import InterruptAt, tiny_dcgan
    from test_augment import sixteen_images

    def fit(root, steps, ckpt_path=None, interrupt_at=None, record=None):
        L.seed_everything(0)
        model = tiny_dcgan(replay_pool=24)
        if record is not None:
            original = model.discriminator_loss
            monkeypatch.setattr(model, "discriminator_loss",
                                lambda real, fake, labels=None: record.append(fake.clone()) or original(real, fake, labels))
        callbacks = [ModelCheckpoint(dirpath=root / "ckpt", save_last=True, every_n_train_steps=interrupt_at or 1000)]
        callbacks += [InterruptAt(interrupt_at)] if interrupt_at else []
        tiny_trainer(root, steps, callbacks=callbacks, enable_checkpointing=True, limit_train_batches=None).fit(
            model, sixteen_images(), ckpt_path=ckpt_path)
        return model

    seen = []
    straight = fit(tmp_path / "straight", 6, record=seen)
    assert len(straight.training_state.fake_pool) == 24
    earlier = torch.cat(seen[:-1])
    replayed = [row for row in seen[-1] if any(torch.equal(row, old) for old in earlier)]
    assert 0 < len(replayed) < 16  # a part of the last batch came back from the pool, a part is new
    fit(tmp_path / "resumed", 6, interrupt_at=3)
    resumed = fit(tmp_path / "resumed", 6, ckpt_path="last")
    a, b = straight.state_dict(), resumed.state_dict()
    assert [k for k in a if not torch.equal(a[k], b[k])] == []


def test_the_pool_is_refused_where_it_does_not_apply(tmp_path):
    from gan_lightning.errors import SettingError
    from test_conditional_models import make as make_conditional

    with pytest.raises(ValueError, match=r"model.replay_pool must be >= 0 \(past fakes kept for D; 0: off\), got -1"):
        GAN(data_shape=(2,), replay_pool=-1)
    with pytest.raises(SettingError, match="model.replay_pool: CGAN has its own phases or class labels"):
        tiny_trainer(tmp_path, 1).fit(make_conditional("CGAN", replay_pool=8), tiny_data("CGAN"))


@pytest.mark.parametrize("name", sorted(set(SMOOTHING) | set(TOP_K)))
def test_every_model_that_declares_them_trains_on_smoothed_targets_and_top_k_samples(name, tmp_path, monkeypatch):
    """One fit per model with both options where it declares them: each D update asks ``real_target``
    for its real samples' targets (one draw from [0.8, 1] per logit), and G's adversarial loss takes all
    its samples in epoch 0 and the top half from epoch 1 on (top_k 0.5, decay 0.01)."""
    options = {**({"label_smoothing": [0.8, 1.0]} if name in SMOOTHING else {}),
               **({"top_k": 0.5, "top_k_decay": 0.01} if name in TOP_K else {})}
    L.seed_everything(0)
    model = tiny_model(name, **options)
    targets, sizes = [], []
    real_target, top_k_samples = model.real_target, model.top_k_samples
    monkeypatch.setattr(model, "real_target", lambda logits: targets.append(real_target(logits)) or targets[-1])
    monkeypatch.setattr(model, "top_k_samples", lambda logits: sizes.append(
        (model.current_epoch, logits.size(0), top_k_samples(logits).size(0))) or top_k_samples(logits))
    tiny_trainer(tmp_path, 8, limit_val_batches=0, limit_train_batches=3).fit(model, tiny_data(name))
    if name in SMOOTHING:
        assert targets, f"{name} never asked for the real target"
        drawn = torch.cat([t.flatten() for t in targets])
        assert drawn.min() >= 0.8 and drawn.max() <= 1.0 and drawn.std() > 0
    if name in TOP_K:
        assert {epoch for epoch, _, _ in sizes} >= {0, 1}, sizes
        assert all(kept == whole for epoch, whole, kept in sizes if epoch == 0)
        assert all(kept == math.ceil(0.5 * whole) for epoch, whole, kept in sizes if epoch >= 1)


# ---------------------------------------------------------------------------- minibatch discrimination
MINIBATCH = sorted(name for name, cls in known_models().items() if cls.minibatch_discrimination_applies)
MODE_SEEKING = sorted(name for name, cls in known_models().items() if cls.mode_seeking_applies)


def test_with_minibatch_features_d_s_score_of_a_sample_reads_the_rest_of_its_batch():
    """The same first sample among other batch-mates: a different score with minibatch discrimination,
    the same score without (D in eval mode: no BatchNorm statistics, no dropout)."""
    from gan_lightning.nets import (
        DCGANDiscriminator,
        MinibatchDiscrimination,
        MLPDiscriminator,
    )

    torch.manual_seed(0)
    for build, shape in [(lambda **o: MLPDiscriminator((2,), (16, 16), **o), (2,)),
                         (lambda **o: DCGANDiscriminator(1, 28, 8, **o), (1, 28, 28))]:
        first, others, more = torch.randn(1, *shape), torch.randn(5, *shape), torch.randn(5, *shape)
        for features, reads_the_batch in [(0, False), (12, True)]:
            torch.manual_seed(1)
            d = build(minibatch_features=features).eval()
            layers = [m for m in d.modules() if isinstance(m, MinibatchDiscrimination)]
            assert len(layers) == (1 if features else 0)
            a, b = d(torch.cat([first, others]))[0], d(torch.cat([first, more]))[0]
            assert (not torch.allclose(a, b, atol=1e-6)) == reads_the_batch, (build, features)
        assert layers[0].num_kernels == 12 and layers[0].kernel_dim == 5  # before the last linear layer:
        head = d.head[-1]
        assert isinstance(head, torch.nn.Linear) and head.in_features == layers[0].in_features + 12


def test_minibatch_discrimination_reaches_the_shared_builders_and_is_refused_elsewhere():
    from test_conditional_models import make as make_conditional

    from gan_lightning.nets import MinibatchDiscrimination

    assert MINIBATCH == ["DCGAN", "DRAGAN", "FisherGAN", "GAN", "GoGAN", "LSGAN", "MADGAN", "PacGAN", "RelativisticGAN",
                         "SNGAN", "UnrolledGAN", "WGAN", "WGANDiv", "WGANGP", "WGANLP"]
    for name in MINIBATCH:
        model = tiny_model(name, minibatch_discrimination=6, minibatch_kernel_dim=3)
        (layer,) = [m for m in model.discriminator.modules() if isinstance(m, MinibatchDiscrimination)]
        assert (layer.num_kernels, layer.kernel_dim) == (6, 3), name
        assert not any(isinstance(m, MinibatchDiscrimination) for m in tiny_model(name).discriminator.modules())
    with pytest.raises(ValueError, match="model.minibatch_discrimination: CGAN's D is not built by the shared MLP / "
                                         r"DCGAN builders; minibatch discrimination applies to the models whose D is \(GAN"):
        make_conditional("CGAN", minibatch_discrimination=100)
    with pytest.raises(ValueError, match="model.minibatch_discrimination: BEGAN's D"):
        tiny_model("BEGAN", minibatch_discrimination=100)
    with pytest.raises(ValueError, match=r"model.minibatch_discrimination must be >= 0 kernels .* got -1 and 5"):
        GAN(data_shape=(2,), minibatch_discrimination=-1)


# ---------------------------------------------------------------------------- virtual batch normalisation
def test_virtual_batch_norm_normalises_an_example_by_the_reference_and_itself_only():
    from gan_lightning.nets import VirtualBatchNorm

    torch.manual_seed(0)
    reference, examples = torch.randn(8, 3) * 2 + 1, torch.randn(4, 3)
    layer = VirtualBatchNorm(3, reference_size=8)
    out = layer(torch.cat([reference, examples]))
    ref_out = out[:8]  # the reference batch: its own statistics, mean 0 and (biased) variance 1
    assert torch.allclose(ref_out.mean(0), torch.zeros(3), atol=1e-5)
    assert torch.allclose(ref_out.var(0, unbiased=False), torch.ones(3), atol=1e-3)
    x = examples[0]  # an example: 1/9 of itself and 8/9 of the reference
    mean = x / 9 + reference.mean(0) * 8 / 9
    mean_sq = x.square() / 9 + reference.square().mean(0) * 8 / 9
    assert torch.allclose(out[8], (x - mean) / torch.sqrt(mean_sq - mean.square() + 1e-5), atol=1e-5)
    other = layer(torch.cat([reference, examples[:1], torch.randn(6, 3) * 10]))
    assert torch.equal(other[8], out[8])  # the other examples of the batch do not count
    images = torch.randn(10, 4, 5, 5)
    conv = VirtualBatchNorm(4, reference_size=6)
    assert torch.allclose(conv(images)[6:8], conv(images[:8])[6:8], atol=1e-6)
    with pytest.raises(ValueError, match="VirtualBatchNorm expects the 8 reference rows first"):
        layer(torch.randn(5, 3))


@pytest.mark.parametrize("name", ["GAN", "DCGAN", "WGANGP"])
def test_a_generator_with_virtual_batch_norm_draws_each_sample_independently_of_its_batch(name):
    from gan_lightning.nets import VirtualBatchNorm

    torch.manual_seed(0)
    model = tiny_model(name, g_norm="virtual").train()
    assert any(isinstance(m, VirtualBatchNorm) for m in model.generator.modules())
    z, others = model.sample_noise(4), model.sample_noise(4)
    alone = model.generate(torch.cat([z[:1], z[1:]]))[0]
    assert torch.allclose(alone, model.generate(torch.cat([z[:1], others]))[0], atol=1e-6)
    assert torch.allclose(alone, model.generate(z[:1])[0], atol=1e-6)  # one sample at a time, in training mode
    batch_norm = tiny_model(name).train()  # BatchNorm: the batch-mates change the sample
    assert not torch.allclose(batch_norm.generate(torch.cat([z[:1], z[1:]]))[0],
                              batch_norm.generate(torch.cat([z[:1], others]))[0], atol=1e-4)
    # the reference batch: a buffer of G (in the checkpoint's state dict, moved with the model), the same
    # for every model built (its own seeded generator) and not drawn from the global RNG
    reference = model.state_dict()["generator.vbn_reference"]
    assert reference.shape == (64, model.latent_dim)
    torch.manual_seed(5)
    assert torch.equal(tiny_model(name, g_norm="virtual").state_dict()["generator.vbn_reference"], reference)
    assert model.double().generator.vbn_reference.dtype == torch.float64
    with pytest.raises(ValueError, match="g_norm must be one of batch, virtual, none, got 'group'"):
        tiny_model(name, g_norm="group")


# ---------------------------------------------------------------------------- the mode-seeking term
def test_the_mode_seeking_term_is_msgan_s_and_one_step_on_it_moves_two_draws_apart():
    from gan_lightning.core import StepContext

    torch.manual_seed(0)
    model = GAN(data_shape=(2,), latent_dim=4, g_hidden=(32, 32), d_hidden=(8,), g_norm="none", mode_seeking=1.0)
    ctx = StepContext(torch.zeros(16, 2))
    ctx.z = model.sample_noise(16)
    ctx.fake = model.generate(ctx.z)
    torch.manual_seed(1)
    term = model.mode_seeking_term(ctx)
    torch.manual_seed(1)
    z2 = model.sample_noise(16)  # the term's second draw: the global RNG's next noise
    distance = (ctx.fake - model.generate(z2)).abs().mean()
    assert float(term.detach()) == pytest.approx(1 / (float(distance / (ctx.z - z2).abs().mean()) + 1e-5), rel=1e-6)
    optimizer = torch.optim.SGD(model.generator.parameters(), lr=0.05)
    term.backward()
    optimizer.step()
    with torch.no_grad():
        after = (model.generate(ctx.z) - model.generate(z2)).abs().mean()
    assert after > 1.05 * distance  # G minimises 1 / ratio: the two draws' samples move apart


def test_mode_seeking_is_refused_where_g_does_not_draw_from_noise_in_the_default_step():
    assert MODE_SEEKING == ["ACGAN", "BEGAN", "CGAN", "DCGAN", "DRAGAN", "EBGAN", "FisherGAN", "GAN", "GoGAN", "LSGAN",
                            "MADGAN", "MAGAN", "PacGAN", "RelativisticGAN", "SNGAN", "UnrolledGAN", "WGAN", "WGANDiv",
                            "WGANGP", "WGANLP"]
    with pytest.raises(ValueError, match="model.mode_seeking: InfoGAN's G does not draw its samples from noise in the "
                                         r"default step; the mode-seeking term applies to the models whose G does \(GAN"):
        tiny_model("InfoGAN", mode_seeking=1.0)
    with pytest.raises(ValueError, match=r"model.mode_seeking must be a finite weight >= 0 \(0: off; the paper's 1\), got -1"):
        GAN(data_shape=(2,), mode_seeking=-1.0)


@pytest.mark.parametrize("name", MODE_SEEKING)
def test_every_model_that_declares_them_trains_with_minibatch_features_and_the_mode_seeking_term(name, tmp_path):
    """One fit per model: G's phase adds the mode-seeking term (logged as g_mode_seeking, > 0) and, where D is
    built by the shared builders, D scores through its minibatch-discrimination layer at every call."""
    from gan_lightning.nets import MinibatchDiscrimination

    options = {"mode_seeking": 1.0, **({"minibatch_discrimination": 4} if name in MINIBATCH else {})}
    if name == "MAGAN":
        options["pretrain_epochs"] = 0  # its G is idle while D pre-trains (2 epochs by default)
    L.seed_everything(0)
    model = tiny_model(name, **options)
    calls = []
    for layer in model.discriminator.modules():
        if isinstance(layer, MinibatchDiscrimination):
            layer.register_forward_hook(lambda module, inputs, output: calls.append(inputs[0].size(0)))
    steps = max(3, model.critic_steps)  # a G phase runs
    tiny_trainer(tmp_path, steps, limit_val_batches=0, limit_train_batches=3).fit(model, tiny_data(name))
    term = model.latest_terms["g_mode_seeking"]
    assert math.isfinite(float(term)) and float(term) > 0
    assert (len(calls) >= 2 * steps) == (name in MINIBATCH)  # D on reals and fakes in every iteration


@pytest.mark.parametrize("name", ["GAN", "DCGAN"])
def test_a_model_with_the_three_options_resumes_bitwise_mid_epoch(name, tmp_path):
    """Minibatch discrimination, virtual batch norm (its reference batch in the checkpoint) and the mode-seeking
    term (its second noise draw from the checkpointed RNG) together: resumed at iteration 3, the run ends
    bitwise where the uninterrupted one ends."""
    from test_core import _fit, assert_bitwise_equal

    def build():
        return tiny_model(name, minibatch_discrimination=4, g_norm="virtual", mode_seeking=1.0)

    straight = _fit(build, lambda: tiny_data(name), tmp_path / "straight", 6, every=3)
    (checkpoint,) = (tmp_path / "straight" / "ckpt").glob("*step=3.ckpt")
    assert "generator.vbn_reference" in torch.load(checkpoint, weights_only=False)["state_dict"]
    resumed = _fit(build, lambda: tiny_data(name), tmp_path / "resumed", 6, ckpt_path=checkpoint)
    assert resumed.global_step == 6
    assert_bitwise_equal(straight, resumed)
    fresh = build().state_dict()
    assert any(not torch.equal(v, straight.state_dict()[k]) for k, v in fresh.items() if v.is_floating_point())
