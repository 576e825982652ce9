"""Triple-GAN (gan_lightning/models/triplegan.py): D's three kinds of pairs and their weights, C's
loss with R_P switched on after its warm-up, G's loss, the three optimizers, that only the
labelled subset's labels are read, predict(), checkpoints and bad options."""

from __future__ import annotations

import lightning as L
import pytest
import torch
import torch.nn.functional as F

from conftest import tiny_trainer
from gan_lightning.core import StepContext
from tiny_semisupervised import build_data, build_triplegan, labelled_images


def labelled_model(**overrides):
    """A tiny Triple-GAN whose labelled subset is the first 20 tiny images (set by hand)."""
    model = build_triplegan(**overrides)
    data = labelled_images(20)
    model.set_labeled(data.tensors[0], data.tensors[1])
    return model


def context(model, iteration: int = 0, batch: int = 8, due=("D", "G", "C")) -> StepContext:
    torch.manual_seed(1)
    images = labelled_images(batch, seed=3).tensors[0]
    ctx = StepContext((images, torch.zeros(batch, dtype=torch.long)), iteration, frozenset(due))
    model.prepare_step(ctx)
    return ctx


class Recorder:
    """Wraps ``model.run_discriminator``: every (input, labels, output) of D."""

    def __init__(self, model):
        self.calls, self.original = [], model.run_discriminator

        def run(x, *args, **kwargs):
            out = self.original(x, *args, **kwargs)
            self.calls.append((x, args[0] if args else None, out))
            return out

        model.run_discriminator = run


def test_discriminator_sees_labelled_pairs_as_real_and_pseudo_and_generated_pairs_as_fake():
    model = labelled_model(alpha=0.3)
    ctx = context(model)
    recorder = Recorder(model)
    terms = model.discriminator_terms(ctx)
    assert len(recorder.calls) == 3
    (x_l, y_l, real), (x_u, y_u, pseudo), (x_g, y_g, fake) = recorder.calls
    # 1. labelled pairs: members of the stored subset with their own labels
    for image, label in zip(x_l, y_l):
        match = [i for i in range(model.num_labeled) if torch.equal(model.labeled_images[i], image)]
        assert match and int(model.labeled_targets[match[0]]) == int(label)
    # 2. the unlabelled batch with C's predictions (not the batch's labels, all 0 here)
    assert torch.equal(x_u, ctx.real) and torch.equal(y_u, ctx.class_logits.argmax(dim=1))
    assert y_u.unique().numel() > 1 or not torch.equal(y_u, torch.zeros_like(y_u))
    # 3. G's samples with the labels G was given
    assert torch.equal(x_g, ctx.fake) and torch.equal(y_g, ctx.fake_labels)
    expected = F.softplus(-real).mean() + 0.3 * F.softplus(pseudo).mean() + 0.7 * F.softplus(fake).mean()
    torch.testing.assert_close(terms["d_loss"], expected)


def test_d_pseudo_weight_sets_ds_weight_on_cs_fake_pairs_alone():
    model = labelled_model(alpha=0.3, d_pseudo_weight=0.0)
    ctx = context(model)
    recorder = Recorder(model)
    torch.manual_seed(7)
    terms = model.discriminator_terms(ctx)
    (_, _, real), (_, _, pseudo), (_, _, fake) = recorder.calls
    torch.testing.assert_close(terms["d_loss"], F.softplus(-real).mean() + 0.7 * F.softplus(fake).mean())
    assert terms["d_pseudo_loss"] > 0  # still measured, weighted 0
    recorder.calls.clear()
    g_loss = model.generator_terms(context(model))["g_loss"]  # G's loss keeps alpha
    torch.testing.assert_close(g_loss, 0.7 * F.softplus(-recorder.calls[0][2]).mean())
    assert build_triplegan(alpha=0.3).d_pseudo_weight == 0.3  # default: alpha
    with pytest.raises(ValueError, match="model.d_pseudo_weight must be >= 0.*got -1"):
        build_triplegan(d_pseudo_weight=-1)


def test_generator_loss_is_the_non_saturating_loss_of_its_pairs_weighted_one_minus_alpha():
    model = labelled_model(alpha=0.3)
    ctx = context(model)
    recorder = Recorder(model)
    loss = model.generator_terms(ctx)["g_loss"]
    (x_g, y_g, fake), = recorder.calls
    assert x_g is ctx.fake and torch.equal(y_g, ctx.fake_labels)
    torch.testing.assert_close(loss, 0.7 * F.softplus(-fake).mean())
    loss.backward()
    assert all(p.grad is not None for p in model.generator.parameters())


def classifier_sum(terms, weight, alpha=0.5, entropy=0.3, balance=1e-3):
    return (alpha * terms["c_adversarial"] + terms["c_supervised"] + entropy * terms["c_entropy"]
            + balance * terms["c_balance"] + weight * terms["c_pseudo"])


def test_classifier_loss_adds_the_pseudo_discriminative_term_after_its_warm_up():
    model = labelled_model(pseudo_start=5, pseudo_rampup=4, pseudo_weight=0.2)
    before = model.classifier_terms(context(model, iteration=4))
    assert float(before["c_pseudo"]) == 0.0 and float(before["c_pseudo_weight"]) == 0.0
    torch.testing.assert_close(before["c_loss"], classifier_sum(before, 0.0))
    ramp = model.classifier_terms(context(model, iteration=5))  # first iteration of the ramp: 1/4 of 0.2
    assert float(ramp["c_pseudo"].detach()) > 0.0
    torch.testing.assert_close(ramp["c_pseudo_weight"], torch.tensor(0.05))
    torch.testing.assert_close(ramp["c_loss"], classifier_sum(ramp, 0.05))
    after = model.classifier_terms(context(model, iteration=20))
    ctx = context(model, iteration=20)
    torch.testing.assert_close(after["c_pseudo"], F.cross_entropy(model.classifier(ctx.fake.detach()), ctx.fake_labels),
                               rtol=0, atol=0.5)  # C in train mode: dropout differs between the two forwards
    torch.testing.assert_close(after["c_loss"], classifier_sum(after, 0.2))
    assert [model.pseudo_weight_at(i) for i in (4, 5, 6, 8, 100)] == pytest.approx([0, 0.05, 0.1, 0.2, 0.2])
    assert build_triplegan(pseudo_start=3).pseudo_weight_at(3) == 0.1  # no ramp: on at once (the authors' code)


def test_classifier_adversarial_term_reaches_c_through_its_probabilities_not_d():
    model = labelled_model()
    ctx = context(model)
    terms = model.classifier_terms(ctx)
    terms["c_adversarial"].backward()
    assert all(p.grad is None for p in model.discriminator.parameters())  # D's score is a constant for C
    grads = [p.grad for p in model.classifier.parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


def test_three_named_optimizers_with_the_authors_settings(tmp_path):
    model = build_triplegan()
    trainer = tiny_trainer(tmp_path, 3)
    trainer.fit(model, build_data())
    assert list(model._optimizer_index) == ["generator", "discriminator", "classifier"]
    for name in ("generator", "discriminator", "classifier"):
        group = model.named_optimizer(name).param_groups[0]
        assert group["lr"] == 1e-3 and group["betas"] == (0.5, 0.999)
    custom = build_triplegan(optimizers={"classifier": {"lr": 3e-4}})
    tiny_trainer(tmp_path / "custom", 1).fit(custom, build_data())
    assert custom.named_optimizer("classifier").param_groups[0]["lr"] == 3e-4
    assert custom.named_optimizer("generator").param_groups[0]["lr"] == 1e-3


def test_batch_labels_are_never_read_only_the_subsets(tmp_path):
    """Two runs whose training batches carry different labels end with the same weights."""
    states = []
    for shuffle in (False, True):
        L.seed_everything(0)
        model = labelled_model()
        data = build_data()
        data.setup("fit")
        if shuffle:
            images, labels = data.train_set.tensors
            shuffled = labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(9))]
            assert not torch.equal(shuffled, labels)
            data.train_set.tensors = (images, shuffled)
        tiny_trainer(tmp_path / str(shuffle), 4).fit(model, data)
        states.append(model.state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


def test_fit_picks_a_stratified_subset_and_a_checkpoint_keeps_it(tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint

    from gan_lightning.models import TripleGAN

    model = build_triplegan()
    assert not model.has_labeled
    trainer = tiny_trainer(tmp_path, 3, enable_checkpointing=True,
                           callbacks=[ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)])
    trainer.fit(model, build_data())
    assert model.has_labeled and torch.bincount(model.labeled_targets, minlength=10).tolist() == [2] * 10
    loaded = TripleGAN.load_from_checkpoint(tmp_path / "ckpt" / "last.ckpt")
    assert torch.equal(loaded.labeled_index, model.labeled_index)
    x = labelled_images(12, seed=5).tensors[0]
    assert torch.equal(loaded.predict(x), model.predict(x))


def test_predict_is_the_classifiers_eval_mode_argmax_and_restores_the_mode():
    model = build_triplegan()
    x = labelled_images(12, seed=5).tensors[0]
    model.classifier.train()
    predicted = model.predict(x)
    assert model.classifier.training
    model.classifier.eval()
    assert torch.equal(predicted, model.classify(x).argmax(dim=1))
    samples = model.sample(4, labels=torch.tensor([0, 1, 2, 3]))
    assert samples.shape == (4, 1, 16, 16) and samples.abs().max() <= 1


@pytest.mark.parametrize("key,value", [("alpha", 1.5), ("pseudo_weight", -1.0), ("pseudo_start", -2)])
def test_bad_options_name_the_key_and_value(key, value):
    with pytest.raises(ValueError, match=f"model.{key}.*{value}"):
        build_triplegan(**{key: value})


def test_generated_samples_do_not_move_the_classifiers_batchnorm_statistics():
    """C's step with R_P on and with it off leaves the same running statistics: G's samples add nothing."""
    results = []
    for pseudo_start in (0, 10**6):
        model = labelled_model(pseudo_start=pseudo_start)
        ctx = context(model)
        torch.manual_seed(5)
        terms = model.classifier_terms(ctx)
        norm = next(m for m in model.classifier.modules() if isinstance(m, torch.nn.BatchNorm2d))
        results.append((float(terms["c_pseudo_weight"]), norm.running_mean.clone(), int(norm.num_batches_tracked),
                        norm.momentum))
    (weight_on, mean_on, count_on, momentum), (weight_off, mean_off, count_off, _) = results
    assert weight_on > 0 and weight_off == 0
    assert torch.equal(mean_on, mean_off) and count_on == count_off == 2  # the real batch and the labelled one
    assert momentum == 0.1  # restored after the block


def test_pseudo_real_adds_c_labelled_pairs_to_ds_real_ones_and_keeps_them_out_of_the_fake_ones():
    model = labelled_model(alpha=0.3, pseudo_real=3)
    ctx = context(model)
    recorder = Recorder(model)
    terms = model.discriminator_terms(ctx)
    (x_r, y_r, real), (x_u, y_u, pseudo), (x_g, y_g, fake) = recorder.calls
    labelled = x_r.size(0) - 3
    # real: the labelled batch, then the batch's first 3 images with C's labels
    assert torch.equal(x_r[labelled:], ctx.real[:3]) and torch.equal(y_r[labelled:], ctx.pseudo_labels[:3])
    # fake C pairs: the other images only
    assert torch.equal(x_u, ctx.real[3:]) and torch.equal(y_u, ctx.pseudo_labels[3:])
    expected = F.softplus(-real).mean() + 0.3 * F.softplus(pseudo).mean() + 0.7 * F.softplus(fake).mean()
    torch.testing.assert_close(terms["d_loss"], expected)

    recorder.calls.clear()
    c_terms = model.classifier_terms(ctx)  # C's adversarial term over its fake pairs only
    (x_c, y_c, judged), = [call for call in recorder.calls]
    assert torch.equal(x_c, ctx.real[3:])
    probs = F.softmax(ctx.class_logits, dim=1)[3:]
    chosen = probs.gather(1, ctx.pseudo_labels[3:, None]).squeeze(1)
    torch.testing.assert_close(c_terms["c_adversarial"], (chosen * F.softplus(-judged)).mean())

    with pytest.raises(ValueError, match="model.pseudo_real \\(8\\) must be below the batch size \\(8\\)"):
        context(labelled_model(pseudo_real=8))
    with pytest.raises(ValueError, match="model.pseudo_real.*-1"):
        build_triplegan(pseudo_real=-1)


def test_pretrain_steps_train_c_alone_first_then_the_game_with_r_p_counted_after_them(tmp_path):
    model = build_triplegan(pretrain_steps=3, pseudo_start=2)
    d_before = [p.detach().clone() for p in model.discriminator.parameters()]
    g_before = [p.detach().clone() for p in model.generator.parameters()]
    c_before = [p.detach().clone() for p in model.classifier.parameters()]
    tiny_trainer(tmp_path / "pre", 3).fit(model, build_data())  # the three pre-training iterations only
    assert all(torch.equal(a, b) for a, b in zip(d_before, model.discriminator.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(g_before, model.generator.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(c_before, model.classifier.parameters()))
    assert [phase.name for phase in model.phases()] == ["Cpre", "D", "G", "C"]
    assert [model.pseudo_weight_at(i) for i in (3, 4, 5)] == [0.0, 0.0, model.pseudo_weight]  # 2 game iterations

    ctx = context(model, iteration=0, due=("Cpre",))
    terms = model.pretrain_terms(ctx)
    expected = (terms["c_supervised"] + model.entropy_weight * terms["c_entropy"]
                + model.pretrain_balance_weight * terms["c_balance"])
    torch.testing.assert_close(terms["c_loss"], expected)
    assert not hasattr(ctx, "fake")  # no G sample while C pre-trains

    model = build_triplegan(pretrain_steps=2)
    tiny_trainer(tmp_path / "game", 4).fit(model, build_data())  # two pre-training iterations, then two of the game
    assert not all(torch.equal(a, b) for a, b in zip(d_before, model.discriminator.parameters()))
    assert [phase.name for phase in build_triplegan().phases()] == ["D", "G", "C"]  # default: the game from 0


def test_d_labelled_keeps_the_first_k_labelled_pairs_among_ds_real_ones():
    counts = {}
    for d_labelled in (None, 1):
        model = labelled_model(pseudo_real=3, d_labelled=d_labelled)
        ctx = context(model)
        recorder = Recorder(model)
        torch.manual_seed(7)
        model.discriminator_terms(ctx)
        (x_r, y_r, _), *_ = recorder.calls
        counts[d_labelled] = x_r.size(0)
        assert torch.equal(x_r[-3:], ctx.real[:3]) and torch.equal(y_r[-3:], ctx.pseudo_labels[:3])
    assert counts[1] == 1 + 3 and counts[None] > counts[1]  # one labelled pair beside the 3 C-labelled ones
    with pytest.raises(ValueError, match="model.d_labelled must be >= 1.*got 0"):
        build_triplegan(d_labelled=0)


def test_d_unit_norm_holds_every_unit_of_d_at_norm_one_and_survives_a_checkpoint(tmp_path):
    from torch.nn.utils import parametrize

    assert not any(parametrize.is_parametrized(m) for m in build_triplegan().discriminator.modules())
    model = build_triplegan(d_unit_norm=True)
    linears = [m for m in model.discriminator.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 3 and all(parametrize.is_parametrized(m, "weight") for m in linears)  # d_hidden (32, 16) + out
    tiny_trainer(tmp_path, 3).fit(model, build_data())
    for linear in linears:
        torch.testing.assert_close(linear.weight.norm(dim=1), torch.ones(linear.out_features))
    again = build_triplegan(d_unit_norm=True)
    again.load_state_dict(model.state_dict())
    x, labels = torch.randn(4, *model.data_shape), torch.arange(4)
    model.eval(), again.eval()
    torch.testing.assert_close(again.discriminator(x, labels), model.discriminator(x, labels))


def test_g_batch_sets_how_many_samples_g_draws_for_d_g_and_r_p():
    model = labelled_model(g_batch=12, alpha=0.3)
    ctx = context(model, batch=8)
    assert ctx.fake.shape[0] == 12 and ctx.fake_labels.tolist() == [i % 10 for i in range(12)]
    recorder = Recorder(model)
    terms = model.discriminator_terms(ctx)
    (_, _, real), (_, _, pseudo), (x_g, y_g, fake) = recorder.calls
    assert x_g.shape[0] == 12 and pseudo.shape[0] == 8  # C's pairs stay the data batch
    torch.testing.assert_close(terms["d_loss"], F.softplus(-real).mean() + 0.3 * F.softplus(pseudo).mean()
                               + 0.7 * F.softplus(fake).mean())
    assert context(labelled_model(), batch=8).fake.shape[0] == 8  # default: the data's batch size
    with pytest.raises(ValueError, match="model.g_batch must be >= 1.*got 0"):
        build_triplegan(g_batch=0)


def test_anneal_lr_multiplies_every_rate_by_the_factor_every_n_iterations_from_the_start(tmp_path):
    model = build_triplegan(anneal_lr_start=2, anneal_lr_every=2, anneal_lr_factor=0.5)
    assert [model.lr_factor_at(i) for i in range(7)] == [1, 1, 1, 1, 0.5, 0.5, 0.25]
    assert build_triplegan(anneal_lr_start=2, pretrain_steps=3).lr_factor_at(4) == 1.0  # the game's iterations
    assert build_triplegan().lr_factor_at(10**6) == 1.0  # default: constant rates
    L.seed_everything(0)
    tiny_trainer(tmp_path, 6).fit(model, build_data())  # six iterations: the seventh's rates are set
    for name in ("generator", "discriminator", "classifier"):
        assert model.named_optimizer(name).param_groups[0]["lr"] == pytest.approx(1e-3 * 0.25)
    with pytest.raises(ValueError, match="two LR schedules"):
        tiny_trainer(tmp_path / "both", 1).fit(build_triplegan(anneal_lr_start=0, lr_decay_iters=2), build_data())
    for key, value in (("anneal_lr_start", -1), ("anneal_lr_every", 0), ("anneal_lr_factor", 1.5)):
        with pytest.raises(ValueError, match=f"model.{key} must.*got {value}"):
            build_triplegan(**{key: value})


def test_a_run_with_annealing_resumed_mid_way_equals_the_uninterrupted_one(tmp_path):
    from test_core import _fit, assert_bitwise_equal

    def build():
        return build_triplegan(anneal_lr_start=1, anneal_lr_every=2, anneal_lr_factor=0.5)

    straight = _fit(build, build_data, tmp_path / "straight", 8)
    _fit(build, build_data, tmp_path / "resumed", 8, interrupt_at=4)
    resumed = _fit(build, build_data, tmp_path / "resumed", 8, ckpt_path="last")
    assert_bitwise_equal(straight, resumed)
    for name in ("generator", "discriminator", "classifier"):
        assert resumed.named_optimizer(name).param_groups[0]["lr"] == pytest.approx(1e-3 * 0.5 ** 3)
        assert straight.named_optimizer(name).param_groups[0]["lr"] == resumed.named_optimizer(name).param_groups[0]["lr"]


def test_g_output_norm_weight_normalises_gs_last_layer_with_its_scale_from_one(tmp_path):
    from torch.nn.utils import parametrize

    assert not parametrize.is_parametrized(build_triplegan().generator.out)
    model = build_triplegan(g_output_norm=True)
    out = model.generator.out
    assert parametrize.is_parametrized(out, "weight")
    assert [m for m in model.generator.modules() if parametrize.is_parametrized(m)] == [out]  # the last layer only
    torch.testing.assert_close(out.weight.norm(dim=1), torch.ones(out.out_features))
    tiny_trainer(tmp_path, 3).fit(model, build_data())
    scale = out.parametrizations.weight.original0.detach().squeeze(1)
    assert not torch.allclose(scale, torch.ones_like(scale))  # trained
    torch.testing.assert_close(out.weight.norm(dim=1), scale.abs())
