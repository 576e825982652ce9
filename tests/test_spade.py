"""SPADE (Park et al. 2019): the normalisation's point (a uniform label map survives SPADE but not
conv + InstanceNorm), the networks' structure, the losses against their formulas, translation and
the CLI, the ``SegmentationPairs`` data and the mIoU judge. The VGG-loss option is tested in
tests/test_spade_vgg.py (it needs gan_lightning.losses.perceptual)."""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from conftest import tiny_trainer
from gan_lightning.core.protocol import Condition
from gan_lightning.cli import main
from gan_lightning.data import SegmentationPairs, colorize, one_hot
from gan_lightning.data.files import DataFolderError
from gan_lightning.evaluation import fit_segmenter, mean_iou, segmentation_scores
from gan_lightning.models import SPADE
from gan_lightning.nets.spade import (
    MultiscalePatchDiscriminator, SPADEGenerator, SPADENorm, SPADEResBlock, upsampling_count,
)
from tiny_spade import build_data, build_model, rectangles


# ---------------------------------------------------------------------------- the paper's argument
def uniform_maps(num_classes: int, size: int = 8) -> torch.Tensor:
    """One uniform one-hot label map per class: (num_classes, num_classes, size, size)."""
    return one_hot(torch.arange(num_classes).view(-1, 1, 1).expand(-1, size, size), num_classes)


@torch.no_grad()
def test_uniform_label_map_is_washed_out_by_conv_instancenorm_but_kept_by_spade():
    torch.manual_seed(0)
    classes, channels = 4, 6
    maps = uniform_maps(classes)
    # conv + InstanceNorm (the pix2pix-style input layer): a uniform map gives a constant per channel,
    # which InstanceNorm subtracts -> zero whatever the label (replicate padding: no border effects)
    conv = nn.Conv2d(classes, channels, 3, padding=1, padding_mode="replicate")
    washed = nn.InstanceNorm2d(channels)(conv(maps))
    assert washed.abs().max() < 1e-4
    assert conv(maps).std(dim=0).mean() > 1e-2  # the conv itself did tell the labels apart
    # SPADE: the label map modulates the normalised activations, so the outputs differ by label
    spade = SPADENorm(channels, classes, hidden=16, norm="instance")
    x = torch.randn(1, channels, 8, 8).expand(classes, -1, -1, -1)  # the same activations for every label
    out = spade(x, maps)
    inner = out[:, :, 2:-2, 2:-2]  # away from the zero-padded border of SPADE's own convs
    differences = [float((inner[i] - inner[j]).abs().mean()) for i in range(classes) for j in range(i)]
    assert min(differences) > 1e-2
    # and the same through a whole SPADE generator: uniform maps give different images per label
    generator = SPADEGenerator(classes, 3, 16, width=2, hidden=8, norm="instance").eval()
    images = generator(uniform_maps(classes, 16))
    assert min(float((images[i] - images[j]).abs().mean()) for i in range(classes) for j in range(i)) > 1e-3


# ---------------------------------------------------------------------------- networks
def test_spade_norm_is_parameter_free_norm_times_one_plus_gamma_plus_beta():
    torch.manual_seed(0)
    norm = SPADENorm(5, 3, hidden=7, norm="batch")
    assert norm.norm.weight is None and norm.shared[0].out_channels == 7
    x, labels = torch.randn(2, 5, 8, 8), one_hot(torch.randint(0, 3, (2, 4, 4)), 3)
    resized = F.interpolate(labels, size=(8, 8), mode="nearest")
    features = norm.shared(resized)
    expected = F.batch_norm(x, None, None, training=True) * (1 + norm.gamma(features)) + norm.beta(features)
    assert torch.allclose(norm(x, labels), expected, atol=1e-5)
    assert SPADENorm(5, 3).shared[0].out_channels == 128  # the authors' hidden width


def test_resblock_learned_shortcut_and_spectral_norm():
    block = SPADEResBlock(8, 4, 3, hidden=4)
    assert block.learned_shortcut and block.conv_s.bias is None and block.conv_0.out_channels == 4
    assert not SPADEResBlock(4, 4, 3, hidden=4).learned_shortcut
    for conv in (block.conv_0, block.conv_1, block.conv_s):
        assert torch.nn.utils.parametrize.is_parametrized(conv, "weight")
    assert block(torch.randn(2, 8, 4, 4), one_hot(torch.randint(0, 3, (2, 8, 8)), 3)).shape == (2, 4, 4, 4)


def test_generator_upsamples_from_the_authors_start_size():
    assert [upsampling_count(s) for s in (8, 16, 32, 64, 256, 512)] == [1, 2, 3, 4, 5, 5]
    with pytest.raises(ValueError, match="image size"):
        upsampling_count(4)
    generator = SPADEGenerator(3, 3, 256, width=1, hidden=2)
    assert generator.start == 8  # 256 / 2^5, as the authors' sw
    small = SPADEGenerator(3, 1, 32, width=2, hidden=4)
    assert small.start == 4 and small(one_hot(torch.randint(0, 3, (2, 32, 32)), 3)).shape == (2, 1, 32, 32)


def test_multiscale_discriminator_layers_and_scales():
    d = MultiscalePatchDiscriminator(5, width=4, n_layers=4, num_d=2)
    outputs = d(torch.randn(2, 5, 64, 64))
    assert len(outputs) == 2 and all(len(scale) == 5 for scale in outputs)  # 4 conv layers + the logits
    assert outputs[0][-1].shape[1] == 1
    assert outputs[1][0].shape[-1] < outputs[0][0].shape[-1]  # the second scale sees the pooled input
    convs = [m for m in d.scales[0].modules() if isinstance(m, nn.Conv2d)]
    assert [c.stride[0] for c in convs] == [2, 2, 2, 1, 1] and all(c.padding[0] == 2 for c in convs)
    norms = [m for m in d.scales[0].modules() if isinstance(m, nn.InstanceNorm2d)]
    assert len(norms) == 3  # not after the first conv, not on the logits


# ---------------------------------------------------------------------------- model
def test_recipe_and_defaults_are_the_authors():
    model = build_model()
    assert SPADE.recipe == {"lr_g": 1e-4, "lr_d": 4e-4, "betas": (0.0, 0.9)}
    assert model.optimizer_settings("discriminator").lr == 4e-4 and model.optimizer_settings("generator").lr == 1e-4
    assert (model.lambda_feat, model.kld_weight, len(model.discriminator.scales)) == (10.0, 0.05, 2)
    assert "segmentation" in SPADE.data_kinds and model.translates
    assert model.conditions() == (Condition("label_map", "label", 3),) and model.output().key == "image"


def test_bad_options_are_one_line_errors():
    with pytest.raises(ValueError, match="label_classes must be >= 2, got 1"):
        build_model(label_classes=1)
    with pytest.raises(ValueError, match="lambda_feat must be >= 0, got -1"):
        build_model(lambda_feat=-1.0)
    with pytest.raises(ValueError, match="square images"):
        build_model(data_shape=(3, 16, 8))
    with pytest.raises(ValueError, match="label ids must be in 0..2, got ids 0..5"):
        build_model().translate(torch.arange(6).repeat_interleave(43)[:256].view(1, 16, 16))
    with pytest.raises(ValueError, match="shape"):
        build_model().translate(torch.zeros(2, 16))


def test_losses_follow_the_authors_formulas():
    L.seed_everything(0)
    model = build_model()
    labels, images = rectangles(4, 16, 3)
    from gan_lightning.core import StepContext

    ctx = StepContext({"label": labels, "image": images}, due=frozenset({"D", "G"}))
    model.prepare_step(ctx)
    terms_d = model.discriminator_terms(ctx)
    terms_g = model.generator_terms(ctx)
    label_map = one_hot(labels, 3)
    fake_out = model.discriminator(torch.cat([label_map, ctx.fake], 1))
    real_out = model.discriminator(torch.cat([label_map, images], 1))
    # hinge, averaged over the scales
    d_expected = sum(F.relu(1 - r[-1]).mean() + F.relu(1 + f[-1]).mean() for f, r in zip(fake_out, real_out)) / 2
    assert torch.allclose(terms_d["d_loss"], d_expected, atol=1e-5)
    g_gan = sum(-f[-1].mean() for f in fake_out) / 2
    feat = sum(F.l1_loss(a, b) for f, r in zip(fake_out, real_out) for a, b in zip(f[:-1], r[:-1])) / 2
    assert torch.allclose(terms_g["g_gan"], g_gan, atol=1e-5) and torch.allclose(terms_g["g_feat"], feat, atol=1e-5)
    assert torch.allclose(terms_g["g_loss"], g_gan + 10 * feat, atol=1e-4)
    assert "g_vgg" not in terms_g and "g_kld" not in terms_g


def test_vae_option_adds_encoder_to_g_optimizer_and_kld():
    L.seed_everything(0)
    model = build_model(use_vae=True, z_dim=8)
    assert model.generator.z_dim == 8 and model.encoder is not None
    g_params = {id(p) for p in model.optimizer_groups()["generator"]}
    assert all(id(p) in g_params for p in model.encoder.parameters())
    labels, images = rectangles(4, 16, 3)
    from gan_lightning.core import StepContext

    ctx = StepContext({"label": labels, "image": images}, due=frozenset({"D", "G"}))
    model.prepare_step(ctx)
    terms = model.generator_terms(ctx)
    mu, logvar = model.encoder(images)
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    assert torch.allclose(terms["g_kld"], kld, atol=1e-4)
    assert torch.allclose(terms["g_loss"], terms["g_gan"] + 10 * terms["g_feat"] + 0.05 * kld, atol=1e-3)
    # z changes the output; a seed makes it reproducible; style images are encoded
    a, b = model.translate(labels, seed=1), model.translate(labels, seed=2)
    assert not torch.allclose(a, b) and torch.equal(a, model.translate(labels, seed=1))
    assert model.translate(labels, style=images, seed=1).shape == images.shape


def test_training_moves_g_and_d_and_translate_accepts_ids_and_one_hot(tmp_path):
    L.seed_everything(0)
    model = build_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    tiny_trainer(tmp_path, 3).fit(model, build_data())
    moved = {k.split(".")[0] for k, v in model.state_dict().items() if v.is_floating_point()
             and not torch.equal(v, before[k])}
    assert {"generator", "discriminator"} <= moved
    labels, _ = rectangles(3, 16, 5)
    out = model.translate(labels)
    assert out.shape == (3, 3, 16, 16) and out.abs().max() <= 1
    assert torch.allclose(out, model.translate(one_hot(labels, 3)))
    assert torch.allclose(out, model.translate(labels[:, None].float()))
    assert model.training  # translate restores the mode
    grid, nrow = model.preview_grid(8, 4, inputs=labels)
    assert grid.shape == (6, 3, 16, 16) and nrow == 4 and torch.allclose(grid[0], colorize(labels[:1], 3)[0])


# ---------------------------------------------------------------------------- data
@pytest.fixture(scope="module")
def digits():
    data = SegmentationPairs(batch_size=8)
    data.setup()
    return data


def test_digit_source_labels_images_and_split(digits):
    assert digits.data_kind == "segmentation" and digits.label_classes == 11 and digits.data_shape == (3, 32, 32)
    assert len(digits.train_set) == 4500 and len(digits.heldout_set) == 500
    item = digits.heldout_set[0]
    assert item["label"].dtype == torch.int64 and item["label"].shape == (32, 32)
    assert item["image"].shape == (3, 32, 32) and -1 <= item["image"].min() and item["image"].max() <= 1
    ids = item["label"].unique().tolist()
    assert ids[0] == 0 and len(ids) == 2  # background and this digit's class
    # the digit's pixels carry its class colour (hue order), the background does not
    mask = item["label"] > 0
    from gan_lightning.data.segmentation import DIGIT_HUES

    colour = (item["image"][:, mask].mean(1) + 1) / 2
    hue = DIGIT_HUES[ids[1] - 1]
    assert torch.allclose(colour / colour.max(), hue / hue.max(), atol=0.15)
    batch = next(iter(digits.train_dataloader()))
    assert batch["label"].shape == (8, 32, 32) and batch["image"].shape == (8, 3, 32, 32)


def test_augmentation_is_drawn_from_seed_epoch_index(digits):
    train = digits.train_set
    n = len(train)
    first = train[3]
    assert torch.equal(first["image"], train[3]["image"])  # a pure function of the key
    epochs = [train[e * n + 3] for e in range(6)]
    assert any(not torch.equal(epochs[0]["image"], e["image"]) for e in epochs[1:])
    for item in epochs:  # label and image move together: the digit's pixels keep the digit's colour
        mask = item["label"] > 0
        assert (item["image"][:, mask].mean() > item["image"][:, ~mask].mean() - 0.5)
    held = digits.heldout_set
    assert torch.equal(held[2]["label"], held[2]["label"])


def test_binary_mode_and_bad_options():
    with pytest.raises(ValueError, match="source must be one of digits, folder; got 'kmeans'"):
        SegmentationPairs(source="kmeans")
    with pytest.raises(ValueError, match="label_classes 5 does not match"):
        SegmentationPairs(label_classes=5)
    with pytest.raises(ValueError, match="needs root and label_classes"):
        SegmentationPairs(source="folder")
    assert SegmentationPairs(label_mode="binary").label_classes == 2
    from gan_lightning.data import known_data_modules

    assert known_data_modules()["SegmentationPairs"].data_kind == "segmentation"


def write_folder(root, split: str, n: int, size: int = 16, classes: int = 3, seed: int = 0):
    labels, images = rectangles(n, size, seed)
    (root / split / "images").mkdir(parents=True)
    (root / split / "labels").mkdir(parents=True)
    for i in range(n):
        Image.fromarray(labels[i].numpy().astype(np.uint8), mode="L").save(root / split / "labels" / f"p{i}.png")
        pixels = images[i].add(1).mul(127.5).round().byte().permute(1, 2, 0).numpy()
        Image.fromarray(pixels).save(root / split / "images" / f"p{i}.png")
    return labels, images


def test_folder_source_reads_pairs_and_names_bad_files(tmp_path):
    labels, images = write_folder(tmp_path, "train", 6)
    write_folder(tmp_path, "val", 2, seed=1)
    data = SegmentationPairs(source="folder", root=str(tmp_path), label_classes=3, image_size=16, batch_size=2)
    data.setup()
    assert len(data.train_set) == 6 and len(data.heldout_set) == 2
    item = data.heldout_set[0]
    assert item["label"].dtype == torch.int64 and item["label"].max() < 3
    item = data.train_set[0]  # epoch 0, index 0: maybe flipped, so compare with both
    assert torch.equal(item["label"], labels[0]) or torch.equal(item["label"], labels[0].flip(-1))
    assert (item["image"] - (images[0] if torch.equal(item["label"], labels[0]) else images[0].flip(-1))).abs().max() < 0.01

    (tmp_path / "train" / "images" / "p5.png").unlink()
    with pytest.raises(DataFolderError, match=r"label map .*p5.png has no image p5"):
        SegmentationPairs(source="folder", root=str(tmp_path), label_classes=3, image_size=16).setup()
    (tmp_path / "train" / "labels" / "p5.png").unlink()
    Image.new("L", (8, 8)).save(tmp_path / "train" / "labels" / "p4.png")
    with pytest.raises(DataFolderError, match="size mismatch between .*p4.png \\(16x16\\) and its label map"):
        SegmentationPairs(source="folder", root=str(tmp_path), label_classes=3, image_size=16).setup()
    Image.new("L", (16, 16), 7).save(tmp_path / "train" / "labels" / "p4.png")
    with pytest.raises(DataFolderError, match="has class id 7, not below label_classes 3"):
        SegmentationPairs(source="folder", root=str(tmp_path), label_classes=3, image_size=16).setup()
    (tmp_path / "train" / "labels" / "p4.png").unlink()
    with pytest.raises(DataFolderError, match="image .*p4.png has no label map p4.png"):
        SegmentationPairs(source="folder", root=str(tmp_path), label_classes=3, image_size=16).setup()


# ---------------------------------------------------------------------------- mIoU judge
def test_mean_iou_matches_its_definition():
    target = torch.tensor([[0, 0, 1, 1], [2, 2, 2, 0]])
    predicted = torch.tensor([[0, 1, 1, 1], [2, 2, 0, 0]])
    scores = mean_iou(predicted, target, 4)
    # class 0: hits 2, target 3, predicted 3 -> 2/4; class 1: 2 / 3; class 2: 2 / 3; class 3 absent
    assert scores["iou"] == pytest.approx([0.5, 2 / 3, 2 / 3, None])
    assert scores["miou"] == pytest.approx((0.5 + 4 / 3) / 3) and scores["pixel_acc"] == pytest.approx(6 / 8)
    assert mean_iou(target, target, 3)["miou"] == 1.0


def test_segmenter_reads_real_images_and_mismatched_images_score_low():
    labels, images = rectangles(160, 16, 0)
    held_labels, held_images = rectangles(40, 16, 1)
    segmenter = fit_segmenter(images, labels, 3, epochs=10, seed=0, batch_size=16, width=8)
    real = segmentation_scores(segmenter, held_images, held_labels)
    shuffled = segmentation_scores(segmenter, held_images.roll(1, 0), held_labels)
    assert real["miou"] > 0.8 and shuffled["miou"] < real["miou"] - 0.3
    again = fit_segmenter(images, labels, 3, epochs=10, seed=0, batch_size=16, width=8)
    assert all(torch.equal(a, b) for a, b in zip(segmenter.state_dict().values(), again.state_dict().values()))


# ---------------------------------------------------------------------------- CLI
def test_translate_and_sample_commands_read_label_maps(tmp_path, capsys):
    write_folder(tmp_path / "data", "train", 8)
    write_folder(tmp_path / "data", "val", 4, seed=1)
    L.seed_everything(0)
    model = build_model()
    data = SegmentationPairs(source="folder", root=str(tmp_path / "data"), label_classes=3, image_size=16,
                             batch_size=4)
    trainer = tiny_trainer(tmp_path / "run", 2)
    trainer.fit(model, data)
    ckpt = tmp_path / "spade.ckpt"
    trainer.save_checkpoint(ckpt)
    out = tmp_path / "out"
    main(["translate", "--ckpt_path", str(ckpt), "--input", str(tmp_path / "data" / "val" / "labels"),
          "--out", str(out)])
    assert sorted(p.name for p in out.iterdir()) == ["grid.png", "p0.png", "p1.png", "p2.png", "p3.png"]
    assert Image.open(out / "p0.png").size == (16, 16) and Image.open(out / "grid.png").mode == "RGB"
    photo = tmp_path / "photo.png"
    Image.new("RGB", (16, 16)).save(photo)
    with pytest.raises(SystemExit):
        main(["translate", "--ckpt_path", str(ckpt), "--input", str(photo), "--out", str(out)])
    assert "takes label maps with one channel of class ids" in capsys.readouterr().err
    main(["sample", "--ckpt_path", str(ckpt), "--num_samples", "4", "--out", str(tmp_path / "grid.png")])
    assert Image.open(tmp_path / "grid.png").mode == "RGB"


def test_vae_variant_resumes_bitwise_mid_epoch(tmp_path):
    """The style encoder's noise comes from the global RNG, which the core checkpoints."""
    from test_core import _fit, assert_bitwise_equal

    build = lambda: build_model(use_vae=True, z_dim=8)  # noqa: E731
    straight = _fit(build, build_data, tmp_path / "straight", 6)
    _fit(build, build_data, tmp_path / "resumed", 6, interrupt_at=3)
    resumed = _fit(build, build_data, tmp_path / "resumed", 6, ckpt_path="last")
    assert resumed.global_step == 6
    assert_bitwise_equal(straight, resumed)
    assert not torch.equal(straight.encoder.mu.weight, build().encoder.mu.weight)
