"""ss-InfoGAN (gan_lightning/models/ssinfogan.py): the supervised term of Q on the labelled rows
only, added to InfoGAN's own terms; the labelled count from the fraction; checkpoints keep a
resized subset; the batch labels are never read; the code is the class when sampling."""

from __future__ import annotations

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import ModelCheckpoint

from conftest import tiny_trainer
from gan_lightning.core import StepContext
from gan_lightning.models import InfoGAN, SSInfoGAN
from tiny_semisupervised import build_data, build_ssinfogan, labelled_images


def labelled_model(**overrides):
    model = build_ssinfogan(**overrides)
    data = labelled_images(20)
    model.resize_labeled(20)
    model.set_labeled(data.tensors[0], data.tensors[1])
    return model


def context(model, batch: int = 32) -> StepContext:
    images = labelled_images(batch, seed=3).tensors[0]
    ctx = StepContext((images, torch.zeros(batch, dtype=torch.long)), 0, frozenset({"D", "G"}))
    torch.manual_seed(1)
    model.prepare_step(ctx)
    return ctx


def test_supervised_term_is_q_cross_entropy_on_the_labelled_rows_added_to_infogans_terms():
    model = labelled_model(supervised_weight=3.0)
    ctx = context(model)  # batch 32 >= 20 labelled: every labelled row, in a random order
    torch.manual_seed(2)
    terms = model.discriminator_terms(ctx)
    torch.manual_seed(2)
    plain = InfoGAN.discriminator_terms(model, ctx)  # InfoGAN's terms on the same context
    expected = F.cross_entropy(model.classify(model.labeled_images), model.labeled_targets)
    torch.testing.assert_close(terms["d_supervised"], expected)  # BatchNorm: the same rows, any order
    torch.testing.assert_close(terms["d_loss"], plain["d_loss"] + 3.0 * expected)
    # the unlabelled batch's rows are not in the supervised term: other images there change nothing
    ctx.real = ctx.real.flip(0) * 0.5
    torch.manual_seed(2)
    assert torch.allclose(model.discriminator_terms(ctx)["d_supervised"], terms["d_supervised"])


def test_generator_loss_is_infogans():
    model = labelled_model()
    ctx = context(model)
    torch.manual_seed(4)
    ours = model.generator_terms(ctx)["g_loss"]
    torch.manual_seed(4)
    torch.testing.assert_close(ours, InfoGAN.generator_terms(model, ctx)["g_loss"])


@pytest.mark.parametrize("fraction,count", [(1 / 3, 20), (0.0022, 10), (0.5, 30)])
def test_labelled_count_comes_from_the_fraction_of_the_training_set(fraction, count, tmp_path):
    model = build_ssinfogan(labeled_fraction=fraction)
    tiny_trainer(tmp_path, 1).fit(model, build_data())  # 60 training images
    assert model.num_labeled == count and model.has_labeled
    per_class = torch.bincount(model.labeled_targets, minlength=10)
    assert int(per_class.max() - per_class.min()) <= 1  # stratified
    data = build_data()
    data.setup("fit")
    images, labels = data.train_set.tensors
    assert torch.equal(labels[model.labeled_index], model.labeled_targets)
    assert torch.equal(images[model.labeled_index], model.labeled_images)


def test_a_checkpoint_restores_the_resized_subset(tmp_path):
    model = build_ssinfogan()
    trainer = tiny_trainer(tmp_path, 2, enable_checkpointing=True,
                           callbacks=[ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)])
    trainer.fit(model, build_data())
    loaded = SSInfoGAN.load_from_checkpoint(tmp_path / "ckpt" / "last.ckpt")
    assert loaded.num_labeled == 20 != build_ssinfogan().num_labeled
    assert torch.equal(loaded.labeled_index, model.labeled_index)


def test_batch_labels_are_never_read(tmp_path):
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
        tiny_trainer(tmp_path / str(shuffle), 3).fit(model, data)
        states.append(model.state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


def test_supervision_moves_q_towards_the_labels(tmp_path):
    """A few D steps with the supervised term raise Q's agreement with the labels; without it they do not
    (same seed, same data): the term is what ties code k to class k."""
    accuracy = {}
    for weight in (0.0, 5.0):
        L.seed_everything(0)
        model = build_ssinfogan(labeled_fraction=1.0, supervised_weight=weight)
        tiny_trainer(tmp_path / str(weight), 15, limit_train_batches=8).fit(model, build_data())
        held = labelled_images(40, seed=7)  # scored in train mode: 15 steps leave BatchNorm's running means behind
        accuracy[weight] = float((model.classify(held.tensors[0]).argmax(1) == held.tensors[1]).float().mean())
    assert accuracy[5.0] >= accuracy[0.0] + 0.3, accuracy


def test_sampling_sets_the_code_to_the_class_and_the_grid_has_a_row_per_code():
    model = build_ssinfogan()
    noise = model.sample_noise(3, rng=torch.Generator().manual_seed(0))
    fives = model.sample(noise=noise, labels=torch.full((3,), 5))
    assert not torch.allclose(fives, model.sample(noise=noise, labels=torch.full((3,), 2)))
    grid, nrow = model.preview_grid(nrow=4)
    assert nrow == 4 and grid.size(0) == 4 * model.categorical_dim


@pytest.mark.parametrize("key,value", [("labeled_fraction", 0.0), ("labeled_fraction", 1.5),
                                       ("supervised_weight", -1.0)])
def test_bad_options_name_the_key_and_value(key, value):
    with pytest.raises(ValueError, match=f"model.{key}.*{value}"):
        build_ssinfogan(**{key: value})
