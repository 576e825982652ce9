"""SRGAN (Ledig et al. 2017): networks, the SRResNet -> SRGAN phase switch and its resume, the VGG
content loss on random weights, super-resolution data, paired metrics and ``gan-lightning translate``."""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from PIL import Image
from torch import nn

from conftest import InterruptAt, tiny_trainer
from test_perceptual import random_vgg19
from tiny_srgan import build_data, build_model
from gan_lightning.data.superres import SuperResolution, SuperResolutionDigits, bicubic_downscale, bicubic_upscale
from gan_lightning.evaluation.paired import PAIRED_METRICS, evaluate_pairs, psnr, ssim
from gan_lightning.evaluation.extractors import MissingWeightsError
from gan_lightning.models import SRGAN
from gan_lightning.models.srgan import SRGANDiscriminator, SRResNetGenerator


# ---------------------------------------------------------------------------- networks
def test_generator_is_srresnet():
    g = SRResNetGenerator()
    assert len([m for m in g.blocks if type(m).__name__ == "ResidualBlock"]) == 16
    shuffles = [m for m in g.modules() if isinstance(m, nn.PixelShuffle)]
    assert [m.upscale_factor for m in shuffles] == [2, 2]
    assert g.head[0].kernel_size == (9, 9) and g.tail.kernel_size == (9, 9)
    block = g.blocks[0].body
    assert [type(m) for m in block] == [nn.Conv2d, nn.BatchNorm2d, nn.PReLU, nn.Conv2d, nn.BatchNorm2d]
    out = g(torch.rand(2, 3, 6, 7) * 2 - 1)
    assert out.shape == (2, 3, 24, 28) and out.abs().max() <= 1
    with pytest.raises(ValueError, match="power of two"):
        SRResNetGenerator(scale=3)


def test_discriminator_is_the_papers():
    d = SRGANDiscriminator(3, 96)
    convs = [m for m in d.features if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 512, 512]
    assert [c.stride[0] for c in convs] == [1, 2, 1, 2, 1, 2, 1, 2]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d.features) == 7
    assert all(m.negative_slope == 0.2 for m in d.modules() if isinstance(m, nn.LeakyReLU))
    dense = [m for m in d.head if isinstance(m, nn.Linear)]
    assert (dense[0].in_features, dense[0].out_features, dense[1].out_features) == (512 * 6 * 6, 1024, 1)
    assert SRGANDiscriminator(1, 28, 4, 8)(torch.zeros(3, 1, 28, 28)).shape == (3,)


def test_recipe_and_bad_options():
    model = build_model()
    assert SRGAN.recipe == {"lr_g": 1e-4, "lr_d": 1e-4, "betas": (0.9, 0.999)}
    assert model.input_shape == (3, 4, 4)
    with pytest.raises(ValueError, match="content_loss.*'vgg'"):
        build_model(content_loss="vgg")
    with pytest.raises(ValueError, match="multiples of scale"):
        build_model(data_shape=(3, 18, 18))
    with pytest.raises(ValueError, match="pretrain_steps"):
        build_model(pretrain_steps=-1)


# ---------------------------------------------------------------------------- phases
def test_srresnet_phase_then_srgan_phase():
    model = build_model(pretrain_steps=3)
    due = [[p.name for p in model.phase_list if p.due(i)] for i in range(5)]
    assert due == [["Gmse"]] * 3 + [["D", "G"]] * 2
    assert [p.name for p in build_model(pretrain_steps=0).phase_list if p.due(0)] == ["D", "G"]


def test_pretraining_trains_g_alone_on_mse_then_d_joins(tmp_path):
    L.seed_everything(0)
    model = build_model(pretrain_steps=2)
    d_before = {k: v.clone() for k, v in model.discriminator.state_dict().items()}
    g_before = {k: v.clone() for k, v in model.generator.state_dict().items()}
    tiny_trainer(tmp_path / "a", 2).fit(model, build_data())
    assert all(torch.equal(v, model.discriminator.state_dict()[k]) for k, v in d_before.items())
    assert any(not torch.equal(v, model.generator.state_dict()[k]) for k, v in g_before.items())
    assert set(model._latest_terms) == {"mse", "g_loss"}
    tiny_trainer(tmp_path / "b", 3).fit(model, build_data())  # a fresh trainer: 3 more iterations, GAN phase
    assert any(not torch.equal(v, model.discriminator.state_dict()[k]) for k, v in d_before.items())
    assert {"d_loss", "content", "g_adv"} <= set(model._latest_terms)


def test_generator_loss_is_content_plus_weighted_adversarial():
    model = build_model(adversarial_weight=0.25)
    from gan_lightning.core import StepContext

    data = build_data()
    data.setup()
    batch = next(iter(torch.utils.data.DataLoader(data.train_set, batch_size=4)))

    ctx = StepContext(batch, 5, frozenset({"G"}))
    model.prepare_step(ctx)
    terms = model.generator_terms(ctx)
    assert torch.allclose(terms["g_loss"], terms["content"] + 0.25 * terms["g_adv"])
    assert torch.allclose(terms["content"], torch.nn.functional.mse_loss(ctx.sr, ctx.hr))


def test_resume_across_the_phase_switch_is_bitwise(tmp_path):
    def fit(root, steps, ckpt_path=None, interrupt_at=None):


        L.seed_everything(0)
        model = build_model(pretrain_steps=3)
        callbacks = [ModelCheckpoint(dirpath=root / "ckpt", save_last=True, every_n_train_steps=interrupt_at or 1000)]
        if interrupt_at:
            callbacks.append(InterruptAt(interrupt_at))
        tiny_trainer(root, steps, callbacks=callbacks, enable_checkpointing=True).fit(model, build_data(),
                                                                                     ckpt_path=ckpt_path)
        return model

    straight = fit(tmp_path / "straight", 6)
    fit(tmp_path / "resumed", 6, interrupt_at=2)  # stops inside the SRResNet phase
    resumed = fit(tmp_path / "resumed", 6, ckpt_path="last")
    assert resumed.global_step == 6
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_lr_drops_tenfold_after_the_gan_phase_iterations(tmp_path):
    L.seed_everything(0)
    model = build_model(pretrain_steps=1, lr_drop_after=2)
    tiny_trainer(tmp_path, 4).fit(model, build_data())
    assert model.named_optimizer("generator").param_groups[0]["lr"] == pytest.approx(1e-5)
    assert model.named_optimizer("discriminator").param_groups[0]["lr"] == pytest.approx(1e-5)
    L.seed_everything(0)
    model = build_model(pretrain_steps=1, lr_drop_after=3)
    tiny_trainer(tmp_path / "b", 3).fit(model, build_data())
    assert model.named_optimizer("generator").param_groups[0]["lr"] == pytest.approx(1e-4)


# ---------------------------------------------------------------------------- VGG content loss
def test_vgg_content_loss_with_random_weights(tmp_path):
    path = random_vgg19(tmp_path / "vgg19.pth")
    model = build_model(content_loss="vgg54", vgg_weights=str(path), pretrain_steps=0)
    assert model.vgg.layers == ("relu5_4",) and model.vgg.layer_weights[0] == pytest.approx(1 / 12.75 ** 2)
    hr = torch.rand(2, 3, 16, 16) * 2 - 1
    assert model.content(hr, hr.clone()).item() == 0.0
    assert model.content(hr, -hr).item() > 0.0
    # not a part of the model: not in its checkpoints, not in any optimizer
    assert not any("vgg" in key for key in model.state_dict())
    vgg_ids = {id(p) for p in model.vgg.parameters()}
    assert not any(id(p) in vgg_ids for params in model.optimizer_groups().values() for p in params)
    L.seed_everything(0)
    tiny_trainer(tmp_path, 2).fit(model, build_data())
    assert torch.isfinite(model._latest_terms["content"])
    assert all(not p.requires_grad for p in model.vgg.parameters())


def test_vgg_content_loss_without_weights_says_where_they_go(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    model = build_model(content_loss="vgg54")  # builds: a checkpoint loads for translate without VGG
    with pytest.raises(MissingWeightsError) as info:
        tiny_trainer(tmp_path, 1).fit(model, build_data())  # fails when training starts
    assert "vgg19-dcbbb84c.pth" in str(info.value) and "\n" not in str(info.value)
    assert build_model(content_loss="mse").vgg is None  # the offline option


# ---------------------------------------------------------------------------- translate
def test_translate_upscales_in_eval_mode_and_leaves_bn_statistics():
    model = build_model()
    model.train()
    stats = [b.clone() for b in model.generator.buffers()]
    out = model.translate(torch.rand(3, 3, 4, 5) * 2 - 1)
    assert out.shape == (3, 3, 16, 20) and model.generator.training
    assert all(torch.equal(a, b) for a, b in zip(stats, model.generator.buffers()))
    with pytest.raises(ValueError, match="one way"):
        model.translate(torch.zeros(1, 3, 4, 4), direction="BtoA")
    grid, nrow = model.preview_grid(8, 4, inputs=torch.zeros(2, 3, 4, 4))
    assert grid.shape == (4, 3, 16, 16) and nrow == 4


def test_translate_command_upscales_images(tmp_path):
    from gan_lightning.cli import main

    L.seed_everything(0)
    model = build_model()
    trainer = tiny_trainer(tmp_path / "run", 2)
    trainer.fit(model, build_data())
    ckpt = tmp_path / "sr.ckpt"
    trainer.save_checkpoint(ckpt)
    folder = tmp_path / "inputs"
    folder.mkdir()
    for name in ("x", "y"):
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (9, 9, 3), dtype=np.uint8)).save(folder / f"{name}.png")
    main(["translate", "--ckpt_path", str(ckpt), "--input", str(folder), "--out", str(tmp_path / "out")])
    with Image.open(tmp_path / "out" / "x.png") as image:
        assert image.size == (16, 16)  # resized to the 4 px LR input, upscaled x4
    main(["translate", "--ckpt_path", str(ckpt), "--input", str(folder), "--out", str(tmp_path / "big"),
          "--image_size", "6"])
    with Image.open(tmp_path / "big" / "y.png") as image:
        assert image.size == (24, 24)


# ---------------------------------------------------------------------------- data
def test_superresolution_crops_are_keyed_by_seed_epoch_index():
    data = build_data(hr_size=32, crops_per_epoch=16)
    data.setup()
    train = data.train_set
    item = train[3]
    assert item["hr"].shape == (3, 32, 32) and item["lr"].shape == (3, 8, 8)
    assert torch.equal(train[3]["hr"], item["hr"])  # a pure function of the key
    assert not torch.equal(train[16 + 3]["hr"], item["hr"])  # epoch 1, same index: another crop
    assert not torch.equal(train[4]["hr"], item["hr"])
    other = build_data(hr_size=32, crops_per_epoch=16, seed=1)
    other.setup()
    assert not torch.equal(other.train_set[3]["hr"], item["hr"])
    # LR is the bicubic downscale of HR
    hr_pixels = ((item["hr"] + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    expected = torch.from_numpy(bicubic_downscale(hr_pixels, 4).copy()).permute(2, 0, 1).float() / 127.5 - 1
    assert torch.allclose(item["lr"], expected, atol=1e-6)
    assert data.data_shape == (3, 32, 32) and data.data_kind == "superres"


def test_superresolution_holds_out_a_photo():
    data = build_data()
    train_files, heldout_files = data.sources()
    assert [p.stem for p in heldout_files] == ["grace_hopper"]
    assert sorted(p.stem for p in train_files) == ["china", "flower"]
    data.setup()
    a, b = data.heldout_set[0], data.heldout_set[0]
    assert torch.equal(a["hr"], b["hr"]) and len(data.heldout_set) == 8
    with pytest.raises(ValueError, match="'lena'"):
        SuperResolution(heldout=["lena"]).sources()


def test_superresolution_from_a_folder(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("a", "b", "c"):
        Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(tmp_path / f"{name}.png")
    data = SuperResolution(root=str(tmp_path), hr_size=16, crops_per_epoch=4, heldout_crops=2, channels=1)
    train, held = data.sources()
    assert [p.name for p in held] == ["c.png"] and len(train) == 2
    data.setup()
    assert data.train_set[0]["hr"].shape == (1, 16, 16)
    with pytest.raises(Exception, match="smaller than data.hr_size"):
        SuperResolution(root=str(tmp_path), hr_size=48).setup()
    with pytest.raises(ValueError, match="multiple of scale"):
        SuperResolution(hr_size=30)


def test_digits_7_to_28_with_labels():
    data = SuperResolutionDigits(batch_size=4)
    data.setup()
    item = data.train_set[0]
    assert item["lr"].shape == (1, 7, 7) and item["hr"].shape == (1, 28, 28) and 0 <= int(item["label"]) < 10
    assert len(data.heldout_set) == 500 and data.data_kind == "superres"
    # bicubic up from 7 px is close to, not equal to, the digit
    up = bicubic_upscale(item["lr"][None], 4)[0]
    assert 0 < (up - item["hr"]).abs().mean() < 0.5


# ---------------------------------------------------------------------------- paired metrics
def test_psnr_ssim_against_their_formulas():
    torch.manual_seed(0)
    target = torch.rand(3, 3, 16, 16) * 2 - 1
    noisy = (target + 0.1 * torch.randn_like(target)).clamp(-1, 1)
    mse = (((noisy + 1) / 2 - (target + 1) / 2) ** 2).flatten(1).mean(1)
    assert torch.allclose(psnr(noisy, target), (10 * torch.log10(1 / mse)).mean(), atol=1e-4)
    assert ssim(target, target).item() == pytest.approx(1.0, abs=1e-5)
    assert ssim(noisy, target).item() < 0.99
    loader = [{"lr": noisy[:2], "hr": target[:2]}, {"lr": noisy[2:], "hr": target[2:]}]
    results = evaluate_pairs(lambda x: x, loader, "psnr,ssim")
    assert results["num_pairs"] == 3 and results["psnr"] == pytest.approx(float(psnr(noisy, target)), abs=1e-4)
    with pytest.raises(ValueError, match="unknown paired metric 'fid'"):
        evaluate_pairs(lambda x: x, loader, "fid")
    assert set(PAIRED_METRICS) >= {"psnr", "ssim", "lpips"}


def test_lpips_without_backbone_weights_says_where_they_go(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(MissingWeightsError) as info:
        evaluate_pairs(lambda x: x, [{"lr": torch.zeros(1, 3, 8, 8), "hr": torch.zeros(1, 3, 8, 8)}], "lpips")
    assert "alexnet-owt-7be5be79.pth" in str(info.value) and "\n" not in str(info.value)
