"""AttnGAN (word attention, DAMSM) and GAWWN (text placed in a box): the mechanisms, their losses, the CLI."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from tiny_attngan import build_attngan, build_data, build_gawwn

from gan_lightning.core import StepContext
from gan_lightning.nets.attngan import WordAttention


def tiny_trainer(root, steps):
    return L.Trainer(max_steps=steps, default_root_dir=root, logger=False, enable_progress_bar=False,
                     enable_model_summary=False, limit_val_batches=0, accelerator="cpu", devices=1)


def batch(size=6, image_size=32):
    data = build_data(batch_size=size, image_size=image_size)
    data.setup("fit")
    return next(iter(data.train_dataloader()))


# ---------------------------------------------------------------------------- AttnGAN
def test_word_attention_sums_to_one_over_the_words_and_ignores_padding():
    torch.manual_seed(0)
    attend = WordAttention(channels=6, word_dim=5)
    features, words = torch.randn(3, 6, 4, 4), torch.randn(3, 5, 7)
    lengths = torch.tensor([7, 4, 1])
    valid = torch.arange(7)[None] < lengths[:, None]
    context, attention = attend(features, words, valid)
    assert attention.shape == (3, 7, 4, 4) and context.shape == features.shape
    assert torch.allclose(attention.sum(1), torch.ones(3, 4, 4), atol=1e-6)
    assert torch.equal(attention[~valid], torch.zeros_like(attention[~valid]))
    assert (attention[valid] > 0).all()
    assert torch.allclose(attention[2, 0], torch.ones(4, 4))  # a one-word caption: all weight on it
    # what padded positions hold does not change the context
    scrambled = torch.where(valid[:, None, :], words, torch.randn(3, 5, 7) * 100)
    assert torch.allclose(attend(features, scrambled, valid)[0], context, atol=1e-6)


def test_the_generator_returns_each_later_stage_attention_over_the_caption_words():
    model = build_attngan()
    caption = batch()["caption"][:4]
    images, maps, mu, logvar = model.draw(torch.randn(4, 8), caption)
    assert [tuple(i.shape) for i in images] == [(4, 3, 16, 16), (4, 3, 32, 32)]
    assert len(maps) == 1 and maps[0].shape == (4, caption.size(1), 16, 16)
    pads = caption == 0
    assert pads.any() and torch.equal(maps[0][pads], torch.zeros_like(maps[0][pads]))
    assert torch.allclose(maps[0].sum(1), torch.ones(4, 16, 16), atol=1e-5)
    assert mu.shape == logvar.shape == (4, 8)


def test_damsm_loss_is_lower_for_matching_than_for_shuffled_pairs_after_a_few_seeded_steps():
    from gan_lightning.losses.damsm import damsm_loss
    from gan_lightning.pretrained import train_damsm

    torch.manual_seed(0)
    text, image = train_damsm(None, epochs=4, batch_size=16, train_size=96, steps=24)
    data = build_data(image_size=64, batch_size=16, train_size=96)
    data.setup("fit")
    items = next(iter(data.train_dataloader()))
    caption, pictures = items["caption"], items["image"]
    with torch.no_grad():
        regions, pooled = image(pictures)

        def loss(ids):
            sentence, words = text(ids)
            return float(damsm_loss(words, sentence, ids != 0, regions, pooled))

        matching = loss(caption)
        shuffled = [loss(caption.roll(k, dims=0)) for k in (1, 5)]
    assert all(matching < s for s in shuffled), (matching, shuffled)


def test_attngan_losses_are_the_authors_sums():
    from gan_lightning.models.attngan import bce, kl_loss

    model = build_attngan(damsm_weight=2.0)
    ctx = StepContext(batch(), 0, frozenset({"D", "G"}), "image")
    model.prepare_step(ctx)
    terms = model.generator_terms(ctx)
    expected = terms["g_adversarial0"] + terms["g_adversarial1"] + 2.0 * terms["g_damsm"] + terms["g_kl"]
    assert torch.allclose(terms["g_loss"], expected)
    assert torch.allclose(terms["g_kl"], kl_loss(ctx.mu, ctx.logvar)) and terms["g_kl"] >= 0
    d_terms = model.discriminator_terms(ctx)
    assert torch.allclose(d_terms["d_loss"], d_terms["d_loss0"] + d_terms["d_loss1"])
    sentence = ctx.sentence
    real_u, (real_c, wrong_c) = model.discriminator(model.stage_reals(ctx.real)[0], (sentence, sentence.roll(1, 0)), 0)
    fake_u, (fake_c,) = model.discriminator(ctx.fakes[0].detach(), (sentence,), 0)
    stage0 = (bce(real_u, 1) + bce(real_c, 1)) / 2 + (bce(fake_u, 0) + bce(fake_c, 0) + bce(wrong_c, 0)) / 3
    assert torch.allclose(d_terms["d_loss0"], stage0)
    assert kl_loss(torch.zeros(2, 3), torch.zeros(2, 3)) == 0


def test_attngan_checks_its_options_and_a_missing_damsm_file_is_one_line(tmp_path):
    with pytest.raises(ValueError, match="model.num_stages: 3 stages halve 32 px below 16 px"):
        build_attngan(num_stages=3)
    with pytest.raises(ValueError, match="model.damsm_weight must be >= 0"):
        build_attngan(damsm_weight=-1.0)
    model = build_attngan(damsm_ckpt_path=str(tmp_path / "missing.pt"))
    with pytest.raises(FileNotFoundError) as error:
        tiny_trainer(tmp_path, 1).fit(model, build_data())
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"model.damsm_ckpt_path: '{tmp_path / 'missing.pt'}' is not a file")


def test_attngan_loads_its_damsm_file_and_keeps_it_frozen(tmp_path):
    from gan_lightning.pretrained import train_damsm

    path = tmp_path / "damsm.pt"
    text, _ = train_damsm(path, epochs=1, batch_size=8, train_size=16, steps=1)
    model = build_attngan(damsm_ckpt_path=str(path))
    tiny_trainer(tmp_path / "run", 2).fit(model, build_data())
    assert int(model.damsm_ready) == 1
    assert all(torch.equal(v, text.state_dict()[k]) for k, v in model.text_encoder.state_dict().items())
    assert not any(p.requires_grad for p in [*model.text_encoder.parameters(), *model.image_encoder.parameters()])


def test_attngan_takes_the_cached_damsm_of_the_scenes_it_fits_on(tmp_path, monkeypatch):
    from gan_lightning import pretrained

    asked = []

    def encoders(path=None, key="model.damsm_ckpt_path", digits_per_image=1):
        asked.append((path, digits_per_image))
        return pretrained.damsm_networks()

    monkeypatch.setattr(pretrained, "damsm_encoders", encoders)
    for digits in (2, 1):
        model = build_attngan(damsm_ckpt_path=None)
        tiny_trainer(tmp_path / str(digits), 1).fit(model, build_data(digits_per_image=digits))
        assert int(model.damsm_ready) == 1
    assert asked == [(None, 2), (None, 1)]  # two-digit scenes: the DAMSM pre-trained on their captions
    assert pretrained.default_damsm_path(2).name == "damsm_two_digits_v1.pt"


def test_sample_writes_a_picture_per_word_of_each_caption(tmp_path, capsys):
    from gan_lightning.cli import main

    L.seed_everything(0)
    model = build_attngan()
    trainer = tiny_trainer(tmp_path, 1)
    trainer.fit(model, build_data())
    ckpt = tmp_path / "attngan.ckpt"
    trainer.save_checkpoint(ckpt)
    main(["sample", "--ckpt_path", str(ckpt), "--num_samples", "4", "--nrow", "2", "--out", str(tmp_path / "s.png"),
          "--text", "a thin blue three on grass", "--text", "a red one"])
    pictures = sorted(p.name for p in (tmp_path / "s_attention").iterdir())
    assert pictures == ["caption0_00_a.png", "caption0_01_thin.png", "caption0_02_blue.png", "caption0_03_three.png",
                        "caption0_04_on.png", "caption0_05_grass.png", "caption1_00_a.png", "caption1_01_red.png",
                        "caption1_02_one.png"]
    assert "word attention" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["sample", "--ckpt_path", str(ckpt), "--out", str(tmp_path / "b.png"), "--text", "a one", "--box", "0,0,1,1"])
    assert "--box: AttnGAN takes no box" in capsys.readouterr().err


# ---------------------------------------------------------------------------- GAWWN
def test_gawwn_text_features_are_zero_outside_the_box_and_present_inside():
    model = build_gawwn()
    embedding = torch.randn(2, model.text_encoder.dim)
    boxes = torch.tensor([[0.3125, 0.4375, 0.6875, 0.8906], [0.05, 0.1, 0.4, 0.35]])
    maps = model.generator.text_map(embedding, boxes).abs().sum(1)  # (2, 16, 16)
    cells = (torch.arange(16) + 0.5) / 16
    for box, grid in zip(boxes, maps):
        x0, y0, x1, y1 = box.tolist()
        low, high = torch.arange(16) / 16, (torch.arange(16) + 1) / 16
        overlaps = ((high > y0) & (low < y1))[:, None] & ((high > x0) & (low < x1))[None, :]
        centred = ((cells > y0) & (cells < y1))[:, None] & ((cells > x0) & (cells < x1))[None, :]
        assert torch.equal(grid[~overlaps], torch.zeros_like(grid[~overlaps]))
        assert (grid[centred] > 0).all()


def test_gawwn_draws_where_the_box_says_and_its_d_sees_the_box():
    model = build_gawwn().eval()
    data = batch(4)
    z = torch.randn(4, 8)
    left = torch.tensor([[0.0, 0.0, 0.5, 1.0]]).expand(4, 4)
    right = torch.tensor([[0.5, 0.0, 1.0, 1.0]]).expand(4, 4)
    with torch.no_grad():
        a = model.generate(z, conditions={"caption": data["caption"], "box": left})
        b = model.generate(z, conditions={"caption": data["caption"], "box": right})
        assert not torch.allclose(a, b)
        model.train()  # batch statistics: an untrained D's eval-mode features are ~0 below its bias
        assert not torch.allclose(model.judge(data["image"], data["caption"], left),
                                  model.judge(data["image"], data["caption"], right), rtol=1e-3, atol=0.0)


def test_gawwn_loss_is_the_matching_aware_sum():
    model = build_gawwn(cls_weight=0.25)
    ctx = StepContext(batch(), 0, frozenset({"D", "G"}), "image")
    model.prepare_step(ctx)
    terms = model.discriminator_terms(ctx)
    assert torch.allclose(terms["d_loss"], terms["d_real"] + 0.25 * terms["d_wrong"] + 0.75 * terms["d_fake"])
    assert [c.kind for c in model.conditions()] == ["text", "boxes"]


def test_sample_draws_into_the_box_given_on_the_command_line(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    from gan_lightning.cli import main

    L.seed_everything(0)
    model = build_gawwn(g_width=8)
    trainer = tiny_trainer(tmp_path, 20)  # BatchNorm's running statistics away from their start: eval-mode G draws
    trainer.fit(model, build_data())
    ckpt = tmp_path / "gawwn.ckpt"
    trainer.save_checkpoint(ckpt)

    def grid(name, box):
        main(["sample", "--ckpt_path", str(ckpt), "--num_samples", "2", "--seed", "3", "--out", str(tmp_path / name),
              "--text", "a bold red seven on grass", "--box", box])
        return np.asarray(Image.open(tmp_path / name)).astype(int)

    assert not np.array_equal(grid("a.png", "0.1,0.1,0.5,0.9"), grid("b.png", "0.5,0.1,0.9,0.9"))
    assert np.array_equal(grid("a.png", "0.1,0.1,0.5,0.9"), grid("c.png", "0.1,0.1,0.5,0.9"))
    capsys.readouterr()
    for argv, line in [([], "--box: GAWWN draws into a box: give --box x0,y0,x1,y1"),
                       (["--box", "0.1,0.2,0.3"], "--box must be x0,y0,x1,y1: four numbers in [0, 1]"),
                       (["--box", "0.5,0.2,0.3,0.9"], "--box must be x0,y0,x1,y1"),
                       (["--box", "a,b,c,d"], "--box must be x0,y0,x1,y1"),
                       (["--box", "0,0,1,1.5"], "--box must be x0,y0,x1,y1")]:
        with pytest.raises(SystemExit) as stop:
            main(["sample", "--ckpt_path", str(ckpt), "--out", str(tmp_path / "bad.png"), "--text", "a one", *argv])
        assert stop.value.code == 2
        assert capsys.readouterr().err.strip().startswith(f"gan-lightning: error: {line}")


# ---------------------------------------------------------------------------- GAWWN, keypoints
def test_keypoints_become_one_hot_maps_and_only_their_cells_carry_the_text():
    from gan_lightning.nets.gawwn import KeypointMaps, presence

    keypoints = torch.tensor([[[0.0, 0.0], [0.999, 0.5], [0.5, 0.999], [0.26, 0.74], [0.26, 0.74]]])
    maps = KeypointMaps(16)(keypoints)
    assert maps.shape == (1, 5, 16, 16) and torch.equal(maps.sum((2, 3)), torch.ones(1, 5))
    assert [tuple(torch.nonzero(m)[0].tolist()) for m in maps[0]] == [(0, 0), (8, 15), (15, 8), (11, 4), (11, 4)]
    where = presence(maps)[0, 0]
    assert where.sum() == 4 and where.max() == 1  # two keypoints on one cell count once
    model = build_gawwn(location="keypoints")
    g = model.generator
    code = torch.relu(torch.cat([g.noise(torch.randn(1, 8)), g.text(torch.randn(1, model.text_encoder.dim))], 1))
    region = g.region_code.eval()(code)[:, :, None, None].expand(-1, -1, 16, 16) * presence(maps)
    assert torch.equal(region.abs().sum(1)[0] > 0, where > 0)


def test_gawwn_keypoint_variant_trains_and_samples_at_the_keypoints_given(tmp_path, capsys):
    from gan_lightning.cli import main

    L.seed_everything(0)
    model = build_gawwn(location="keypoints", g_width=8)
    assert [c.kind for c in model.conditions()] == ["text", "keypoints"]
    before = {k: v.clone() for k, v in model.generator.state_dict().items()}
    trainer = tiny_trainer(tmp_path, 3)
    trainer.fit(model, build_data())
    assert any(not torch.equal(before[k], v) for k, v in model.generator.state_dict().items())
    ckpt = tmp_path / "keypoints.ckpt"
    trainer.save_checkpoint(ckpt)
    points = "0.5,0.1,0.5,0.9,0.3,0.5,0.7,0.5,0.5,0.5"
    main(["sample", "--ckpt_path", str(ckpt), "--num_samples", "2", "--out", str(tmp_path / "k.png"),
          "--text", "a bold red seven on grass", "--keypoints", points])
    assert (tmp_path / "k.png").is_file()
    capsys.readouterr()
    for argv, line in [([], "--keypoints: GAWWN draws at keypoints: give --keypoints x,y,... (5 points"),
                       (["--keypoints", "0.5,0.5"], "--keypoints must be x,y of 5 keypoints: 10 numbers in [0, 1]"),
                       (["--keypoints", points, "--box", "0,0,1,1"], "--box: GAWWN takes no box")]:
        with pytest.raises(SystemExit):
            main(["sample", "--ckpt_path", str(ckpt), "--out", str(tmp_path / "bad.png"), "--text", "a one", *argv])
        assert capsys.readouterr().err.strip().startswith(f"gan-lightning: error: {line}")
    with pytest.raises(ValueError, match="model.location must be box or keypoints"):
        build_gawwn(location="parts")
