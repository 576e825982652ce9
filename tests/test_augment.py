"""DiffAugment and ADA: the tensor ops, the controller of p, its checkpoint, and the D entry point."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from conftest import InterruptAt, tiny_dcgan, tiny_trainer
from gan_lightning.augment import (AdaAugment, DiffAugment, diff_augment, random_brightness, random_contrast,
                                   random_cutout, random_saturation, random_translation)
from gan_lightning.callbacks import AdaptiveAugmentation, DiffAugmentCallback, InstanceNoise


def images(n=16, channels=3, size=28, seed=0):
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def gradient_reaches_input(op, x):
    x = x.clone().requires_grad_(True)
    out = op(x)
    (out * torch.randn_like(out)).sum().backward()
    return x.grad is not None and bool(x.grad.abs().sum() > 0) and bool(torch.isfinite(x.grad).all())


# ---------------------------------------------------------------------------- DiffAugment
def test_color_policy_brightness_saturation_contrast():
    torch.manual_seed(0)
    x = images()
    shift = random_brightness(x) - x  # one offset per image, in (-0.5, 0.5)
    per_image = shift.flatten(1)
    assert torch.allclose(per_image, per_image[:, :1].expand_as(per_image), atol=1e-6)
    assert per_image.abs().max() < 0.5 and per_image[:, 0].std() > 0.1

    out = random_saturation(x)  # distance to the channel mean scaled by one factor in [0, 2]
    mean = x.mean(1, keepdim=True)
    assert torch.allclose(out.mean(1, keepdim=True), mean, atol=1e-5)
    factor = ((out - mean).flatten(1) / (x - mean).flatten(1)).median(dim=1).values
    assert torch.allclose((out - mean), (x - mean) * factor.view(-1, 1, 1, 1), atol=1e-4)
    assert factor.min() >= 0 and factor.max() <= 2

    out = random_contrast(x)  # distance to the image mean scaled by one factor in [0.5, 1.5]
    mean = x.mean((1, 2, 3), keepdim=True)
    assert torch.allclose(out.mean((1, 2, 3), keepdim=True), mean, atol=1e-5)
    factor = (out - mean).flatten(1).norm(dim=1) / (x - mean).flatten(1).norm(dim=1)
    assert factor.min() >= 0.5 and factor.max() <= 1.5

    gray = images(channels=1)
    assert torch.equal(random_saturation(gray), gray)  # 1 channel: saturation changes nothing


@pytest.mark.parametrize("op", [random_brightness, random_saturation, random_contrast, random_translation,
                                random_cutout, DiffAugment()])
def test_every_diffaugment_op_is_differentiable(op):
    torch.manual_seed(0)
    assert gradient_reaches_input(op, images())


@pytest.mark.parametrize("size,max_shift", [(28, 4), (32, 4), (64, 8)])
def test_translation_moves_whole_images_by_at_most_an_eighth(size, max_shift):
    torch.manual_seed(0)
    n = 400
    x = torch.zeros(n, 1, size, size)
    centre = size // 2
    x[:, :, centre, centre] = 1.0
    out = random_translation(x)
    assert torch.equal(out.flatten(1).sum(1), torch.ones(n))  # the dot stays whole, zeros fill in
    where = out.flatten(1).argmax(1)
    dy, dx = where // size - centre, where % size - centre
    assert dy.abs().max() == max_shift and dx.abs().max() == max_shift  # the bound is reached, not passed
    assert len(set(dy.tolist())) == 2 * max_shift + 1
    # a full image shifted right by k loses its last k columns to zeros
    ones = random_translation(torch.ones(n, 1, size, size))
    lost = size * size - ones.flatten(1).sum(1)
    assert lost.max() == size * size - (size - max_shift) ** 2


def test_cutout_zeroes_a_square_of_half_the_size():
    torch.manual_seed(0)
    n, size, side = 500, 28, 14
    out = random_cutout(torch.ones(n, 1, size, size))
    for mask in (out[:, 0] == 0)[:50]:
        rows, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
        height, width = len(rows), len(cols)
        assert int(mask.sum()) == height * width  # a rectangle
        assert side // 2 <= height <= side and side // 2 <= width <= side  # cut by the border at most to half
    area = (out[:, 0] == 0).flatten(1).sum(1)
    assert area.max() == side * side  # a square inside the image is 14 x 14: a quarter of it
    assert (area == side * side).float().mean() > 0.2
    assert set(out.unique().tolist()) == {0.0, 1.0}


def test_diffaugment_repeats_with_the_seed_and_checks_its_policy():
    x = images()
    torch.manual_seed(3)
    a = diff_augment(x)
    torch.manual_seed(3)
    assert torch.equal(a, diff_augment(x))
    assert not torch.equal(a, diff_augment(x))
    with pytest.raises(ValueError, match="unknown DiffAugment policy 'colour'"):
        DiffAugment("colour,cutout")
    points = torch.randn(8, 2)
    assert DiffAugment()(points) is points  # not images: unchanged


# ---------------------------------------------------------------------------- ADA pipeline
def test_ada_with_p_zero_is_the_identity_and_with_p_one_changes_every_sample():
    for channels in (1, 3):
        x = images(64, channels)
        state = torch.get_rng_state()
        assert AdaAugment(p=0.0)(x) is x
        assert torch.equal(torch.get_rng_state(), state)  # nothing drawn
        torch.manual_seed(0)
        out = AdaAugment(p=1.0)(x)
        assert out.shape == x.shape
        assert (out != x).flatten(1).any(1).all()


def test_ada_is_differentiable():
    for channels in (1, 3):
        torch.manual_seed(0)
        assert gradient_reaches_input(AdaAugment(p=0.7), images(channels=channels))


def test_ada_transforms_do_what_they_say():
    torch.manual_seed(0)
    x = images(32, 3)
    flipped = AdaAugment(p=1.0, transforms=["xflip"])(x)  # each image: itself or its mirror
    mirror = torch.tensor([torch.allclose(o, i.flip(-1), atol=1e-5) for o, i in zip(flipped, x)])
    same = torch.tensor([torch.equal(o, i) for o, i in zip(flipped, x)])
    assert (mirror | same).all() and mirror.any() and same.any()
    turned = AdaAugment(p=1.0, transforms=["rotate90"])(x)
    for o, i in zip(turned, x):
        assert any(torch.allclose(o, torch.rot90(i, k, (1, 2)), atol=1e-5) for k in range(4))
    gray = images(32, 1)
    negated = AdaAugment(p=1.0, transforms=["lumaflip"])(gray)  # a luma flip of gray is -x
    assert all(torch.allclose(o, i, atol=1e-6) or torch.allclose(o, -i, atol=1e-6) for o, i in zip(negated, gray))
    brighter = AdaAugment(p=1.0, transforms=["brightness"])(gray)
    assert torch.allclose((brighter - gray).flatten(1).std(1), torch.zeros(32), atol=1e-5)  # one offset per image
    half = AdaAugment(p=0.5, transforms=["contrast"])(images(400, 3))
    touched = (half != images(400, 3)).flatten(1).any(1).float().mean()
    assert 0.4 < touched < 0.6  # each transform hits each sample with probability p
    with pytest.raises(ValueError, match="unknown ADA transform 'cutout'"):
        AdaAugment(transforms=["cutout"])


# ---------------------------------------------------------------------------- the controller
def test_controller_moves_p_by_the_images_seen_toward_the_target():
    ada = AdaptiveAugmentation(target=0.6, interval=4, kimg=1.0)
    ada._sums = torch.tensor([64.0, 64.0, 64.0])  # every real judged real: r_t = 1
    ada.adjust()
    assert ada.rt == 1.0 and ada.p == pytest.approx(64 / 1000)
    ada._sums = torch.tensor([-10.0, 64.0, 64.0])
    ada.adjust()
    assert ada.p == 0.0  # down by 0.064, clamped at 0
    ada.augment.p = 0.99
    ada._sums = torch.tensor([64.0, 64.0, 64.0])
    ada.adjust()
    assert ada.p == 1.0
    assert torch.equal(ada._sums, torch.zeros(3))


def sixteen_images():
    data = TensorDataset(images(16, 1, 28, seed=1))
    return DataLoader(data, batch_size=16, shuffle=False)


def test_p_rises_when_d_overfits_a_tiny_set(tmp_path):
    """A fast D and a frozen G on 16 images: D tells them apart, r_t -> 1, p climbs."""
    L.seed_everything(0)
    model = tiny_dcgan(lr_d=2e-3, lr_g=1e-8)
    ada = AdaptiveAugmentation(interval=4, kimg=0.5)  # 64 images per adjustment: p += 0.128
    tiny_trainer(tmp_path, 60, callbacks=[ada], limit_train_batches=None).fit(model, sixteen_images())
    assert ada.rt > 0.6 and ada.p > 0.5
    assert model.discriminator_augment is None  # taken out when training ends


def test_p_stays_at_zero_or_falls_when_d_judges_reals_fake(tmp_path):
    L.seed_everything(0)
    model = tiny_dcgan()
    model.discriminate = lambda x, labels=None: -1.0 - model.run_discriminator(x).abs()  # every real: "fake"
    falls = AdaptiveAugmentation(interval=4, kimg=0.5, initial_p=0.5)
    tiny_trainer(tmp_path, 8, callbacks=[falls], limit_train_batches=None).fit(model, sixteen_images())
    assert falls.rt == -1.0 and falls.p == pytest.approx(0.5 - 2 * 0.128)
    model = tiny_dcgan()
    model.discriminate = lambda x, labels=None: -1.0 - model.run_discriminator(x).abs()
    stays = AdaptiveAugmentation(interval=4, kimg=0.5)
    tiny_trainer(tmp_path, 8, callbacks=[stays], limit_train_batches=None).fit(model, sixteen_images())
    assert stays.p == 0.0


def test_measuring_d_leaves_training_as_it_was(tmp_path):
    """The extra D forward neither draws from the global RNG nor moves D's BatchNorm statistics."""
    model = tiny_dcgan()
    ada = AdaptiveAugmentation(initial_p=0.5)
    model.set_discriminator_augment(ada.augment)
    model.train()
    buffers = [b.clone() for b in model.buffers()]
    state = torch.get_rng_state()
    sums = ada.measure(tiny_trainer(tmp_path, 1), model, images(8, 1))
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(a, b) for a, b in zip(buffers, model.buffers()))
    assert sums[1] == 8 and sums[2] == 8 and sums[0].abs() <= 8


def fit_with_ada(root, steps, ckpt_path=None, interrupt_at=None):
    L.seed_everything(0)
    model = tiny_dcgan()
    ada = AdaptiveAugmentation(interval=4, kimg=0.2, initial_p=0.3)
    callbacks = [ada, ModelCheckpoint(dirpath=root / "ckpt", save_last=True, every_n_train_steps=interrupt_at or 1000)]
    if interrupt_at:
        callbacks.append(InterruptAt(interrupt_at))
    tiny_trainer(root, steps, callbacks=callbacks, enable_checkpointing=True, limit_train_batches=None).fit(
        model, sixteen_images(), ckpt_path=ckpt_path)  # one batch an epoch: a plain loader resumes exactly
    return model, ada


def test_p_and_its_statistics_resume_exactly(tmp_path):
    """Interrupted between two adjustments (iteration 6 of interval 4), the resumed run ends where the
    uninterrupted one does: same p, r_t, running sums and weights."""
    straight_model, straight = fit_with_ada(tmp_path / "straight", 10)
    fit_with_ada(tmp_path / "resumed", 10, interrupt_at=6)
    saved = torch.load(tmp_path / "resumed" / "ckpt" / "last.ckpt", weights_only=False)
    state = next(v for k, v in saved["callbacks"].items() if k.startswith("AdaptiveAugmentation"))
    assert state["sums"][2] == 2 * 16  # two batches measured since the adjustment after iteration 4
    resumed_model, resumed = fit_with_ada(tmp_path / "resumed", 10, ckpt_path="last")
    assert straight.p != 0.3  # p moved
    assert (resumed.p, resumed.rt) == (straight.p, straight.rt)
    assert torch.equal(resumed._sums, straight._sums)
    a, b = straight_model.state_dict(), resumed_model.state_dict()
    assert [k for k in a if not torch.equal(a[k], b[k])] == []


# ---------------------------------------------------------------------------- the D entry point
@pytest.mark.parametrize("make", [DiffAugmentCallback, lambda: AdaptiveAugmentation(initial_p=0.5),
                                  lambda: InstanceNoise(std=0.5)], ids=["diffaugment", "ada", "instance_noise"])
def test_the_augmentation_reaches_every_d_input_in_training_and_none_in_eval(make, tmp_path):
    L.seed_everything(0)
    model = tiny_dcgan()
    callback = make()
    produced, seen, in_step = [], [], [False]
    augment = callback.augment

    class Recording:
        def __call__(self, x):
            out = augment(x)
            produced.append(out)
            return out

    callback.augment = recording = Recording()

    class Steps(L.Callback):
        def on_train_batch_start(self, *args):
            in_step[0] = True

        def on_train_batch_end(self, *args):
            in_step[0] = False

    model.discriminator.register_forward_pre_hook(lambda module, args: seen.append(args[0]) if in_step[0] else None)
    tiny_trainer(tmp_path, 3, callbacks=[Steps(), callback], limit_train_batches=None).fit(model, sixteen_images())
    assert len(seen) >= 9  # D on reals and fakes in the D phase, on fakes in the G phase, 3 iterations
    ids = {id(t) for t in produced}
    assert all(id(x) in ids for x in seen)
    assert model.discriminator_augment is None

    model.set_discriminator_augment(recording)
    model.eval()
    x = images(4, 1)
    with torch.no_grad():
        assert torch.equal(model.run_discriminator(x), model.discriminator(x))
        model.train()
        torch.manual_seed(0)
        assert not torch.equal(model.run_discriminator(x), model.discriminator(x))


def test_one_augmentation_at_a_time(tmp_path):
    model = tiny_dcgan()
    DiffAugmentCallback().setup(None, model, "fit")
    with pytest.raises(ValueError, match="already has a discriminator augmentation"):
        AdaptiveAugmentation().setup(None, model, "fit")



# ---------------------------------------------------------------------------- instance noise
def test_instance_noise_adds_gaussian_noise_of_the_annealed_sigma():
    noise = InstanceNoise(std=0.2, anneal_steps=100)
    assert [noise.std_at(i) for i in (0, 50, 100, 150)] == pytest.approx([0.2, 0.1, 0.0, 0.0])
    assert InstanceNoise(std=0.2).std_at(10**6) == 0.2  # no annealing
    torch.manual_seed(0)
    x = torch.zeros(64, 3, 32, 32)
    noise.augment.std = 0.1
    noisy = noise.augment(x)
    assert noisy.std().item() == pytest.approx(0.1, rel=0.02) and noisy.mean().abs().item() < 0.005
    noise.augment.std = 0.0
    assert noise.augment(x) is x  # sigma 0: the identity, no draw
    for kwargs, line in [({"std": -0.1}, "InstanceNoise.std must be a finite number >= 0, got -0.1"),
                         ({"std": float("nan")}, "InstanceNoise.std must be a finite number >= 0, got nan"),
                         ({"anneal_steps": 0}, "InstanceNoise.anneal_steps must be >= 1 (or null: no annealing), got 0")]:
        with pytest.raises(ValueError, match=line.replace("(", r"\(").replace(")", r"\)")):
            InstanceNoise(**kwargs)


def test_instance_noise_follows_the_iteration_in_a_fit(tmp_path):
    L.seed_everything(0)
    model = tiny_dcgan()
    noise = InstanceNoise(std=0.3, anneal_steps=4)
    sigmas = []
    model.discriminator.register_forward_pre_hook(
        lambda module, args: sigmas.append((model.trainer.global_step, noise.augment.std)) if model.training else None)
    tiny_trainer(tmp_path, 6, callbacks=[noise], limit_train_batches=None).fit(model, sixteen_images())
    assert sorted(set(sigmas)) == [(i, pytest.approx(0.3 * max(0.0, 1 - i / 4))) for i in range(6)]


def fit_with_noise(root, steps, ckpt_path=None, interrupt_at=None):
    L.seed_everything(0)
    model = tiny_dcgan()
    callbacks = [InstanceNoise(std=0.5, anneal_steps=8),
                 ModelCheckpoint(dirpath=root / "ckpt", save_last=True, every_n_train_steps=interrupt_at or 1000)]
    if interrupt_at:
        callbacks.append(InterruptAt(interrupt_at))
    tiny_trainer(root, steps, callbacks=callbacks, enable_checkpointing=True, limit_train_batches=None).fit(
        model, sixteen_images(), ckpt_path=ckpt_path)
    return model


def test_instance_noise_resumes_bitwise_and_changes_training(tmp_path):
    straight = fit_with_noise(tmp_path / "straight", 10)
    fit_with_noise(tmp_path / "resumed", 10, interrupt_at=5)
    resumed = fit_with_noise(tmp_path / "resumed", 10, ckpt_path="last")
    a, b = straight.state_dict(), resumed.state_dict()
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    L.seed_everything(0)
    without = tiny_dcgan()
    tiny_trainer(tmp_path / "without", 10, limit_train_batches=None).fit(without, sixteen_images())
    c = without.state_dict()
    assert [k for k in a if a[k].is_floating_point() and not torch.equal(a[k], c[k])] != []
