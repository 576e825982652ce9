"""GAN-INT-CLS: the matching-aware D, the interpolated captions, the four variants, the frozen caption
encoder, and the project's own caption encoder (DAMSM's sentence loss)."""

from __future__ import annotations

import lightning as L
import pytest
import torch
import torch.nn.functional as F

from conftest import tiny_trainer
from gan_lightning.core import StepContext
from gan_lightning.nets.text import CaptionEncoder
from gan_lightning.pretrained import caption_encoder, digit_reader, matching_loss, train_caption_encoder, train_digit_reader
from tiny_ganintcls import build_data, build_model, build_tacgan


def batch(n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"image": torch.rand(n, 3, 32, 32, generator=g) * 2 - 1, "caption": torch.randint(2, 60, (n, 18), generator=g)}


def context(model, data):
    ctx = StepContext(data, due=frozenset({"D", "G"}), real_key="image")
    model.prepare_step(ctx)
    return ctx


def test_the_matching_aware_loss_is_real_plus_half_wrong_plus_half_fake():
    model = build_model()
    ctx = context(model, batch())
    terms = model.discriminator_terms(ctx)
    assert torch.allclose(terms["d_loss"], terms["d_real"] + 0.5 * terms["d_wrong"] + 0.5 * terms["d_fake"])
    # each term: binary cross-entropy of D on (image, caption) pairs; the wrong pairs are real images
    # with the caption of another image (batch statistics in train mode give the same outputs again)
    real = model.discriminator(ctx.real, ctx.embedding)
    wrong = model.discriminator(ctx.real.roll(1, dims=0), ctx.embedding)
    assert torch.allclose(terms["d_real"], F.softplus(-real).mean(), atol=1e-6)
    assert torch.allclose(terms["d_wrong"], F.softplus(wrong).mean(), atol=1e-6)


@pytest.mark.parametrize("variant, wrong, interpolated", [("gan", False, False), ("gan-cls", True, False),
                                                          ("gan-int", False, True), ("gan-int-cls", True, True)])
def test_the_four_variants(variant, wrong, interpolated, monkeypatch):
    model = build_model(variant=variant)
    ctx = context(model, batch())
    terms = model.discriminator_terms(ctx)
    assert ("d_wrong" in terms) == wrong
    if not wrong:  # GAN / GAN-INT: real + fake
        assert torch.allclose(terms["d_loss"], terms["d_real"] + terms["d_fake"])
    seen = []
    original = model.generator.forward
    monkeypatch.setattr(model.generator, "forward", lambda z, e: seen.append(e) or original(z, e))
    model.generator_terms(ctx)
    assert seen[0].size(0) == (9 if interpolated else 6)
    if interpolated:  # the midpoints of the batch's first and second halves
        assert torch.allclose(seen[0][6:], 0.5 * (ctx.embedding[:3] + ctx.embedding[3:6]))


def test_the_caption_encoder_is_frozen_saved_and_not_optimised(tmp_path):
    L.seed_everything(0)
    model = build_model()
    before = {k: v.clone() for k, v in model.text_encoder.state_dict().items()}
    tiny_trainer(tmp_path, 2, limit_val_batches=0).fit(model, build_data())
    assert all(torch.equal(before[k], v) for k, v in model.text_encoder.state_dict().items())
    groups = {id(p) for opt in ("generator", "discriminator") for group in model.named_optimizer(opt).param_groups
              for p in group["params"]}
    assert not any(id(p) in groups for p in model.text_encoder.parameters())
    assert any(k.startswith("text_encoder.") for k in model.state_dict())  # the checkpoint carries it


def test_bad_options_are_one_line_errors(tmp_path):
    with pytest.raises(ValueError, match="model.variant must be one of gan, gan-cls, gan-int, gan-int-cls; got 'cls'"):
        build_model(variant="cls")
    with pytest.raises(ValueError, match=r"model.cls_weight must be in \[0, 1\), got 1.5"):
        build_model(cls_weight=1.5)
    with pytest.raises(FileNotFoundError, match="caption encoder weights not found: .*missing.pt"):
        model = build_model(text_encoder=str(tmp_path / "missing.pt"))
        tiny_trainer(tmp_path, 1, limit_val_batches=0).fit(model, build_data())


def test_the_caption_encoder_reads_each_caption_both_ways_within_its_length():
    torch.manual_seed(0)
    encoder = CaptionEncoder(20)
    sentence, words = encoder(torch.tensor([[5, 6, 7, 0, 0], [8, 9, 0, 0, 0]]))
    backward, _ = encoder.backward_rnn(encoder.embedding(torch.tensor([[7, 6, 5]])))
    assert torch.allclose(sentence[0, 64:], backward[0, -1], atol=1e-6)  # the reverse pass starts at the last word
    forward, _ = encoder.forward_rnn(encoder.embedding(torch.tensor([[8, 9]])))
    assert torch.allclose(sentence[1, :64], forward[0, -1], atol=1e-6)  # the forward pass ends at the last word
    assert words.shape == (2, 128, 5)


def test_the_sentence_loss_is_damsm_s_and_a_trained_encoder_loads(tmp_path):
    sentences, images = torch.randn(4, 8), torch.randn(4, 8)
    scores = 10.0 * F.normalize(sentences, dim=1) @ F.normalize(images, dim=1).T
    expected = F.cross_entropy(scores, torch.arange(4)) + F.cross_entropy(scores.T, torch.arange(4))
    assert torch.allclose(matching_loss(sentences, images), expected)
    path = tmp_path / "encoder.pt"
    trained = train_caption_encoder(path, epochs=1, train_size=64, batch_size=16)
    loaded = caption_encoder(path)
    ids = torch.randint(2, 60, (3, 16))
    assert torch.equal(loaded(ids)[0], trained(ids)[0]) and not any(p.requires_grad for p in loaded.parameters())


def test_sample_draws_the_captions_given_on_the_command_line(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    from gan_lightning.cli import main

    L.seed_everything(0)
    model = build_model()
    trainer = tiny_trainer(tmp_path, 1, limit_val_batches=0)
    trainer.fit(model, build_data())
    ckpt = tmp_path / "ganintcls.ckpt"
    trainer.save_checkpoint(ckpt)

    def grid(name, *captions):
        texts = [arg for caption in captions for arg in ("--text", caption)]
        main(["sample", "--ckpt_path", str(ckpt), "--num_samples", "4", "--nrow", "2", "--seed", "3",
              "--out", str(tmp_path / f"{name}.png"), *texts])
        return np.asarray(Image.open(tmp_path / f"{name}.png")).astype(int)

    same = grid("same", "a thin blue three on grass", "a thin blue three on grass")
    other = grid("other", "a thin blue three on grass", "a bold red seven on brick")
    half = same.shape[0] // 2  # the first row: the first caption on the same noise; the second row differs
    assert np.array_equal(same[:half], other[:half]) and not np.array_equal(same[half:], other[half:])
    assert (tmp_path / "other.txt").read_text() == ("samples 0-1: a thin blue three on grass\n"
                                                    "samples 2-3: a bold red seven on brick\n")
    assert "wrote 4 samples of 2 captions" in capsys.readouterr().out
    captions = tmp_path / "captions.txt"
    captions.write_text("a thin blue three on grass\n\na bold red seven on brick\n")
    main(["sample", "--ckpt_path", str(ckpt), "--num_samples", "4", "--nrow", "2", "--seed", "3",
          "--out", str(tmp_path / "file.png"), "--texts", str(captions)])
    assert np.array_equal(np.asarray(Image.open(tmp_path / "file.png")).astype(int), other)

    for argv, line in [([], "--text: GANINTCLS draws from a caption: give --text"),
                       (["--text", "a thin purple three"], "--text: the word 'purple' is not in the captions' vocabulary"),
                       (["--text", "a one", "--text", "a two", "--num_samples", "1"],
                        "--num_samples 1 is fewer than the 2 captions")]:
        with pytest.raises(SystemExit) as stop:
            main(["sample", "--ckpt_path", str(ckpt), "--out", str(tmp_path / "bad.png"), *argv])
        assert stop.value.code == 2
        assert capsys.readouterr().err.strip().startswith(f"gan-lightning: error: {line}")


# ---------------------------------------------------------------------------- TAC-GAN
def test_tacgan_adds_the_class_loss_of_real_wrong_and_fake_images_to_the_matching_aware_loss():
    from gan_lightning.losses import sigmoid_class_loss as class_loss
    from tiny_ganintcls import build_tacgan

    model = build_tacgan(aux_weight=0.5)
    data = {**batch(), "label": torch.tensor([0, 1, 2, 3, 4, 5])}
    ctx = context(model, data)
    terms = model.discriminator_terms(ctx)
    assert torch.allclose(terms["d_loss"], terms["d_real"] + terms["d_wrong"] + terms["d_fake"] + 0.5 * terms["d_class"])
    # the class loss: sigmoid cross-entropy against the one-hot class; the wrong image keeps its own class
    _, real_class = model.discriminator(ctx.real, ctx.embedding)
    _, wrong_class = model.discriminator(ctx.real.roll(1, dims=0), ctx.embedding)
    _, fake_class = model.discriminator(ctx.fake, ctx.embedding)
    one_hot = F.one_hot(data["label"], 10).float()
    expected = (F.binary_cross_entropy_with_logits(real_class, one_hot)
                + F.binary_cross_entropy_with_logits(wrong_class, one_hot.roll(1, dims=0))
                + F.binary_cross_entropy_with_logits(fake_class, one_hot))
    assert torch.allclose(terms["d_class"], expected, atol=1e-6)
    assert torch.allclose(class_loss(real_class, data["label"]), F.binary_cross_entropy_with_logits(real_class, one_hot))
    g_terms = model.generator_terms(ctx)
    assert torch.allclose(g_terms["g_loss"], g_terms["g_adversarial"] + 0.5 * g_terms["g_class"])


def test_tacgan_updates_g_twice_per_d_update_and_checks_its_options():
    from tiny_ganintcls import build_tacgan

    assert [(p.name, p.optimizer, p.key) for p in build_tacgan().phase_list] == [
        ("D", "discriminator", "d_loss"), ("G", "generator", "g_loss"), ("G2", "generator", "g_loss")]
    assert [p.name for p in build_tacgan(g_steps=1).phase_list] == ["D", "G"]
    assert build_tacgan().discriminator.classify.out_channels == 10
    for option, value, line in [("num_classes", 1, "model.num_classes must be >= 2, got 1"),
                                ("aux_weight", -1.0, "model.aux_weight must be >= 0, got -1.0"),
                                ("g_steps", 0, "model.g_steps must be >= 1, got 0")]:
        with pytest.raises(ValueError, match=line):
            build_tacgan(**{option: value})


def test_tacgan_class_head_reads_the_joint_map_or_the_image_alone():
    """``class_head`` joint (the authors'): the class logits change with the caption; image (AC-GAN's): they do
    not, and the pair logits are the joint head's either way."""
    from tiny_ganintcls import build_tacgan

    data = {**batch(), "label": torch.tensor([0, 1, 2, 3, 4, 5])}
    for head, follows_caption in (("joint", True), ("image", False)):
        torch.manual_seed(0)
        model = build_tacgan(class_head=head).eval()
        ctx = context(model, data)
        other = model.embed(ctx.caption.roll(1, dims=0))
        pair, classes = model.discriminator(ctx.real, ctx.embedding)
        pair_other, classes_other = model.discriminator(ctx.real, other)
        assert not torch.allclose(pair, pair_other)
        assert torch.allclose(classes, classes_other) != follows_caption, head
    with pytest.raises(ValueError, match="model.class_head: 'text' is not accepted; give joint or image"):
        build_tacgan(class_head="text")


def test_tacgan_recipes_narrower_than_the_authors_update_g_once_per_d_update():
    """The authors' two G updates per D update (train.py, at gf_dim = df_dim = 64) collapsed TAC-GAN at the
    CPU recipe's widths 32 (one texture for every caption, colour accuracy 0.109 flat over 1,000 iterations,
    the module docstring); a recipe with narrower nets must build one G phase per D phase."""
    from pathlib import Path

    import yaml
    from tiny_ganintcls import build_tacgan

    recipes = sorted((Path(__file__).resolve().parents[1] / "experiments" / "tacgan").glob("*.yaml"))
    assert recipes
    for recipe in recipes:
        args = yaml.safe_load(recipe.read_text())["model"]["init_args"]
        if min(args.get("g_width", 64), args.get("d_width", 64)) >= 64:
            continue
        model = build_tacgan(**{key: args[key] for key in ("g_steps", "g_width", "d_width", "text_dim", "latent_dim")})
        assert [(p.name, p.optimizer, p.interval) for p in model.phase_list] == [
            ("D", "discriminator", 1), ("G", "generator", 1)], recipe.name


# ---------------------------------------------------------------------------- D's image path from a digit reader
def test_a_digit_reader_trains_on_the_digits_and_saves_d_s_image_path(tmp_path):
    path = tmp_path / "reader.pt"
    saved = train_digit_reader(path, image_size=32, width=8, iterations=12, train_size=64, batch_size=16)
    assert path.is_file() and (saved["image_size"], saved["width"], saved["iterations"]) == (32, 8, 12)
    assert 0.0 <= saved["heldout_accuracy"] <= 1.0
    loaded = digit_reader(path, 32, 8)
    reference = build_model().discriminator.features.state_dict()
    assert loaded["features"].keys() == reference.keys()
    assert any(not torch.equal(loaded["features"][k], reference[k]) for k in reference if reference[k].is_floating_point())
    with pytest.raises(ValueError, match=r"model.d_image_reader: .*reader.pt holds a reader for 32 px and width 8; "
                                         r"this D takes 32 px and width 16"):
        digit_reader(path, 32, 16)
    with pytest.raises(FileNotFoundError, match="model.d_image_reader: '.*nope.pt' is not a file; give digits"):
        digit_reader(tmp_path / "nope.pt", 32, 8)


@pytest.mark.parametrize("build", [build_model, build_tacgan])
def test_a_frozen_digit_reader_is_loaded_at_fit_start_kept_as_loaded_and_not_optimised(tmp_path, build):
    path = tmp_path / "reader.pt"
    train_digit_reader(path, image_size=32, width=8, iterations=4, train_size=64, batch_size=16)
    reader = torch.load(path, weights_only=True)["features"]
    L.seed_everything(0)
    model = build(d_image_reader=str(path), freeze_d_image_reader=True)
    tiny_trainer(tmp_path, 3, limit_val_batches=0).fit(model, build_data())
    after = model.discriminator.features.state_dict()
    assert all(torch.equal(after[k], reader[k]) for k in reader)  # weights and BatchNorm statistics as loaded
    d_params = {id(p) for group in model.named_optimizer("discriminator").param_groups for p in group["params"]}
    assert not any(id(p) in d_params for p in model.discriminator.features.parameters())
    assert any(id(p) in d_params for p in model.discriminator.judge.parameters())
    model.train()
    assert not model.discriminator.features.training and model.discriminator.judge.training


def test_a_fine_tuned_digit_reader_starts_d_s_image_path_and_trains_with_d(tmp_path):
    path = tmp_path / "reader.pt"
    train_digit_reader(path, image_size=32, width=8, iterations=4, train_size=64, batch_size=16)
    reader = torch.load(path, weights_only=True)["features"]
    L.seed_everything(0)
    model = build_model(d_image_reader=str(path))
    starts = []
    original = model.on_fit_start
    model.on_fit_start = lambda: (original(), starts.append({k: v.clone() for k, v in
                                                             model.discriminator.features.state_dict().items()}))
    tiny_trainer(tmp_path, 3, limit_val_batches=0).fit(model, build_data())
    assert all(torch.equal(starts[0][k], reader[k]) for k in reader)  # loaded when the fit started
    weights = [k for k in reader if k.endswith("weight")]
    assert any(not torch.equal(model.discriminator.features.state_dict()[k], reader[k]) for k in weights)
    assert int(model.d_image_reader_ready) == 1  # a resumed fit keeps its trained weights (from its checkpoint)


def test_freezing_without_a_reader_is_a_one_line_error():
    with pytest.raises(ValueError, match="model.freeze_d_image_reader: true needs model.d_image_reader"):
        build_model(freeze_d_image_reader=True)


@pytest.mark.parametrize("frozen", [True, False])
def test_a_run_with_a_digit_reader_resumes_bitwise_mid_epoch(tmp_path, frozen):
    from test_core import _fit, assert_bitwise_equal

    path = tmp_path / "reader.pt"
    train_digit_reader(path, image_size=32, width=8, iterations=4, train_size=64, batch_size=16)
    build = lambda: build_model(d_image_reader=str(path), freeze_d_image_reader=frozen)  # noqa: E731
    data = lambda: build_data(train_size=40)  # noqa: E731  (5 batches an epoch)
    straight = _fit(build, data, tmp_path / "straight", 6, every=3)
    (checkpoint,) = (tmp_path / "straight" / "ckpt").glob("*step=3.ckpt")
    path.unlink()  # the checkpoint carries D's image path: a resume does not read the reader again
    resumed = _fit(build, data, tmp_path / "resumed", 6, ckpt_path=checkpoint)
    assert resumed.global_step == 6
    assert_bitwise_equal(straight, resumed)


def test_the_projects_digit_reader_is_trained_once_then_loaded_from_the_cache(tmp_path, monkeypatch, capsys):
    import gan_lightning.pretrained as pretrained

    monkeypatch.setattr(pretrained, "DIGIT_READER_ITERATIONS", 3)
    monkeypatch.setattr(pretrained, "default_digit_reader_path",
                        lambda size, width: tmp_path / f"digit_reader_{size}px_w{width}.pt")
    first = digit_reader("digits", 32, 8)
    assert "training D's digit reader once (32 px, width 8" in capsys.readouterr().out
    assert first["iterations"] == 3 and (tmp_path / "digit_reader_32px_w8.pt").is_file()
    again = digit_reader("digits", 32, 8)  # cached: loaded, not trained again
    assert "training" not in capsys.readouterr().out
    assert all(torch.equal(first["features"][k], again["features"][k]) for k in first["features"])
    L.seed_everything(0)
    model = build_model(d_image_reader="digits", freeze_d_image_reader=True)
    tiny_trainer(tmp_path, 1, limit_val_batches=0).fit(model, build_data())
    assert all(torch.equal(model.discriminator.features.state_dict()[k], first["features"][k]) for k in first["features"])


def test_fit_class_head_takes_exactly_its_steps_and_draws_no_batch_past_them():
    from gan_lightning.pretrained import fit_class_head

    torch.manual_seed(0)
    head = torch.nn.Linear(4, 3)
    drawn, seen = [], []

    def loader(tag):
        for i in range(5):
            drawn.append((tag, i))
            yield {"image": torch.randn(2, 4), "label": torch.tensor([i % 3, (i + 1) % 3])}

    before = head.weight.detach().clone()
    steps = fit_class_head(head, head.parameters(), (loader(t) for t in range(10)), 7, 1e-2, (0.5, 0.999),
                           every=3, on_every=seen.append)
    assert steps == 7 and len(drawn) == 7 and drawn[-1] == (1, 1)  # a second pass begun, no 8th batch drawn
    assert seen == [3, 6] and not torch.equal(before, head.weight)
    assert fit_class_head(head, head.parameters(), [loader("short")], 9, 1e-2, (0.5, 0.999)) == 5  # ran out
    assert fit_class_head(head, head.parameters(), [loader("none")], 0, 1e-2, (0.5, 0.999)) == 0
