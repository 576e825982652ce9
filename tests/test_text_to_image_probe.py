"""benchmarks/text_to_image_probe.py: the caption swaps its probes rest on, the TAC-GAN verdict it writes from
the runs, and the digit-swap diagnostic model's D loss (no training here; the section comes from the real runs)."""

from __future__ import annotations

import argparse

import pytest
import torch

from conftest import benchmark_script
from gan_lightning.data.captions import tokenize


@pytest.fixture(scope="module")
def bench():
    with benchmark_script("text_to_image_probe") as module:
        yield module


def decode(ids):
    from gan_lightning.data.captions import VOCABULARY

    return " ".join(VOCABULARY[int(i)] for i in ids if int(i) != 0)


def test_the_swaps_change_the_digit_or_colour_word_alone(bench):
    captions = torch.stack([tokenize("a bold red seven leaning right on brick"), tokenize("a thin blue nine on grass")])
    assert [decode(c) for c in bench.digit_swapped(captions)] == ["a bold red eight leaning right on brick",
                                                                  "a thin blue zero on grass"]
    colours = [decode(c) for c in bench.colour_swapped(captions)]
    assert colours[0].replace(colours[0].split()[2], "red") == "a bold red seven leaning right on brick"
    assert colours[0].split()[2] != "red" and colours[1].split()[2] != "blue"
    drawn = bench.digit_swapped(captions.repeat(20, 1), seed=3)
    words = {decode(c).split()[3] for c in drawn[::2]}
    assert "seven" not in words and len(words) > 3  # another digit, drawn per caption
    assert all(decode(c).replace(decode(c).split()[3], "seven") == "a bold red seven leaning right on brick"
               for c in drawn[::2])


def test_tacgan_verdict_needs_the_head_to_read_the_caption_and_d_to_learn_slower(bench):
    args = argparse.Namespace(iterations=1000, classifier_iterations=600)
    results = {"probe/TAC-GAN/it3000": {"head": {"caption_digit": 0.95, "image_digit": 0.10}},
               "race/it600": {"D's image path": [0.15, 0.22], "CanvasNet": [0.4, 0.65]},
               "switch/TAC-GAN, class head on the image/it1000": {"head": {"image_digit": 0.1}, "rows": {"digit": 0.09}}}
    assert "verdict **cause shown**" in bench.tacgan_verdict(results, args)[0]
    results["probe/TAC-GAN/it3000"]["head"] = {"caption_digit": 0.3, "image_digit": 0.6}  # the head reads the image
    assert "**not reached**, no cause shown" in bench.tacgan_verdict(results, args)[0]
    assert bench.tacgan_verdict({}, args) == []


def tiny_recipe(bench, monkeypatch) -> dict:
    """A CPU-sized GAN-INT-CLS recipe for the benchmark's diagnostic models (random caption encoder), seeded."""
    from tiny_ganintcls import build_model

    tiny = build_model()
    monkeypatch.setattr(bench.t2i, "encoder_file", lambda name: "random")
    torch.manual_seed(0)
    return {"init_args": {k: getattr(tiny, k) for k in ("cls_weight", "interp_weight", "variant")}
            | {"latent_dim": 8, "g_width": 8, "d_width": 8, "text_dim": 8}}


def tiny_step():
    """A batch of 4 random 32 px images with captions of four digits, and its step context."""
    from gan_lightning.core import StepContext

    batch = {"image": torch.rand(4, 3, 32, 32) * 2 - 1,
             "caption": torch.stack([tokenize(f"a red {w} on brick") for w in ("one", "two", "three", "four")])}
    return batch, StepContext(batch, real_key="image")


def test_the_digit_swap_model_adds_swapped_pairs_to_the_wrong_term(bench, monkeypatch):
    recipe = tiny_recipe(bench, monkeypatch)
    model = bench.digit_swap_model(recipe, (3, 32, 32))
    batch, ctx = tiny_step()
    model.prepare_step(ctx)
    terms = model.discriminator_terms(ctx)
    assert torch.allclose(terms["d_loss"], terms["d_real"] + 0.5 * terms["d_wrong"] + 0.5 * terms["d_fake"])
    assert not torch.equal(ctx.digit_swapped, ctx.embedding)


def test_the_translated_d_verdict_needs_the_asked_digit_above_the_chance_band(bench, monkeypatch):
    monkeypatch.setattr(bench, "baseline_row", lambda baseline, iterations: None)
    args = argparse.Namespace(iterations=1000, classifier_iterations=3000)
    run = {"rows": {"digit": 0.45, "colour": 0.9, "caption_accuracy": 0.4}, "top_digit_share": 0.2,
           "d": {"digit_word": 0.8, "colour_word": 0.95}, "cpu_seconds": 600}
    name = next(iter(bench.AUGMENTED))
    results = {bench.augmented_key(name): run,
               "race/it3000": {bench.PLAIN_PATH: [0.27], "CanvasNet": [0.7], bench.TRANSLATED_PATH: [0.83]}}
    text = "\n".join(bench.augmented_report(results, args))
    assert "**it lifts the asked digit above chance**" in text and f"{name} 0.450" in text
    assert "reaches 0.830 held-out after 3000 iterations, against 0.270 untranslated" in text
    run["rows"]["digit"] = 0.12
    assert "**it does not lift the asked digit above chance**" in "\n".join(bench.augmented_report(results, args))
    assert bench.augmented_report({}, args) == []
    assert bench.augmented_budget(name) == 3000  # the recipe's max_steps


def test_batch_statistics_puts_only_d_batchnorm_in_train_mode_on_a_copy(bench):
    from tiny_ganintcls import build_model

    model = build_model().eval()
    twin = bench.batch_statistics(model)
    norms = [m for m in twin.discriminator.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert norms and all(m.training for m in norms)
    assert not twin.training and not twin.generator.training  # G and the module stay in eval mode
    assert not any(m.training for m in model.modules())  # the original is untouched
    x = torch.rand(6, *model.data_shape) * 2 - 1
    shifted = torch.cat([x[:3], x[3:] + 0.5])
    caption = torch.stack([tokenize("a red one on brick")] * 6)
    with torch.no_grad():  # each batch's statistics: a sample's logit depends on its batch, not in eval mode
        assert not torch.allclose(twin.judge(x, caption)[:3], twin.judge(shifted, caption)[:3])
        assert torch.allclose(model.judge(x, caption)[:3], model.judge(shifted, caption)[:3])


def test_mixed_probes_agree_in_eval_mode_and_the_batch_cue_needs_apart_above_mixed(bench):
    from tiny_ganintcls import build_model

    torch.manual_seed(0)
    model = build_model().eval()
    words = ("one", "two", "three", "four", "five", "six")
    split = {"image": torch.rand(6, *model.data_shape) * 2 - 1,
             "caption": torch.stack([tokenize(f"a red {w} on brick") for w in words])}
    assert bench.d_reads(model, split) == bench.d_reads(model, split, mixed=True)  # running statistics: no batch effect
    name = bench.PROBED[0][0]
    probe = {"d_batch": {"digit_word": 0.86}, "d_mixed": {"digit_word": 0.49}}
    text = "\n".join(bench.batch_cue_lines([(name, probe)]))
    assert "0.860 apart, 0.490 mixed" in text and "batch's statistics" in text
    assert bench.batch_cue_lines([(name, {**probe, "d_batch": {"digit_word": 0.6}})]) == []
    assert bench.batch_cue_lines([(name, {**probe, "d_mixed": {"digit_word": 0.75}})]) == []  # mixed reads it too


def test_the_mixed_batch_model_judges_every_kind_of_pair_in_one_batch(bench, monkeypatch):
    recipe = tiny_recipe(bench, monkeypatch)
    model = bench.mixed_batch_model(recipe, (3, 32, 32))
    seen = []
    model.discriminator.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].size(0)))
    batch, ctx = tiny_step()
    model.prepare_step(ctx)
    terms = model.discriminator_terms(ctx)
    assert torch.allclose(terms["d_loss"], terms["d_real"] + 0.5 * terms["d_wrong"] + 0.5 * terms["d_fake"])
    g_loss = model.generator_terms(ctx)["g_loss"]
    assert g_loss.requires_grad and seen == [12, 4 + 4 + 2]  # D: real, wrong, fake; G: reals + fakes + midpoints
    model.run_discriminator(batch["image"], ctx.embedding)
    assert seen[-1] == 4  # outside G's terms, D judges what it is given
    swapping = bench.mixed_batch_model(recipe, (3, 32, 32), digit_swap=True)
    swapping.discriminator.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].size(0)))
    swapping.prepare_step(ctx)
    terms = swapping.discriminator_terms(ctx)
    assert seen[-1] == 16 and torch.allclose(terms["d_loss"], terms["d_real"] + 0.5 * terms["d_wrong"] + 0.5 * terms["d_fake"])


def tiny_classifier():
    """A class-headed D (the race's classifier's kind) at the tiny recipe's width, its weights and BatchNorm
    statistics moved off their initial values so that a model that did not load them differs."""
    from gan_lightning.nets.text import MatchingDiscriminator

    torch.manual_seed(1)
    net = MatchingDiscriminator(3, 32, 128, 8, 16, num_classes=10, class_from="image")
    with torch.no_grad():
        for name, tensor in net.state_dict().items():
            if name.endswith("running_var"):
                tensor.mul_(1 + torch.rand_like(tensor))
            elif tensor.is_floating_point():
                tensor.add_(0.1 * torch.randn_like(tensor))
    return net.state_dict()


@pytest.mark.parametrize("frozen", [False, True])
def test_the_digit_encoder_model_loads_the_classifier_image_path_and_freezes_it_when_asked(bench, monkeypatch, frozen):
    recipe = tiny_recipe(bench, monkeypatch)
    state = tiny_classifier()
    model = bench.digit_encoder_model(recipe, (3, 32, 32), state, frozen=frozen)
    features = model.discriminator.features.state_dict()
    loaded = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
    assert features.keys() == loaded.keys() and all(torch.equal(features[k], loaded[k]) for k in loaded)
    trained = {id(p) for p in model.optimizer_groups()["discriminator"]}
    image_path = list(model.discriminator.features.parameters())
    assert all((id(p) in trained) != frozen and p.requires_grad != frozen for p in image_path)
    assert all(id(p) in trained for p in model.discriminator.judge.parameters())  # the text-joining layers train
    model.train()
    assert model.discriminator.judge.training and model.discriminator.features.training != frozen
    before = {k: v.clone() for k, v in model.discriminator.state_dict().items()}
    optimizer = torch.optim.Adam(model.optimizer_groups()["discriminator"], lr=0.01)
    _, ctx = tiny_step()
    model.prepare_step(ctx)
    model.discriminator_terms(ctx)["d_loss"].backward()  # a D step, in train mode
    optimizer.step()
    after = model.discriminator.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert any(k.startswith("judge.") for k in moved)
    assert any(k.startswith("features.") for k in moved) != frozen  # frozen: weights and statistics as loaded


def test_encoder_reads_puts_the_trained_image_path_under_the_classifier_head(bench, monkeypatch):
    from gan_lightning.nets.text import MatchingDiscriminator

    recipe = tiny_recipe(bench, monkeypatch)
    state = tiny_classifier()
    model = bench.digit_encoder_model(recipe, (3, 32, 32), state, frozen=True).eval()
    classifier = MatchingDiscriminator(3, 32, 128, 8, 16, num_classes=10, class_from="image")
    classifier.load_state_dict(state)
    words = ("one", "two", "three", "four", "five", "six")
    torch.manual_seed(0)
    images = torch.rand(6, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        named = classifier.eval()(images, torch.zeros(6, 128))[1].argmax(1)
    assert len(set(named.tolist())) > 1
    split = {"image": images, "label": named,
             "caption": torch.stack([tokenize(f"a red {w} on brick") for w in words])}
    reads = bench.encoder_reads(model, classifier, split)
    assert reads["image_path"]["before"] == reads["image_path"]["after"] == 1.0  # frozen: the classifier's own path
    assert set(reads["d_batch"]) == set(reads["d_mixed"]) == {"digit_word", "colour_word", "wrong_image"}
    with torch.no_grad():
        model.discriminator.features[0].weight.zero_()  # an image path that sees nothing: one digit for all
    after = bench.encoder_reads(model, classifier, split)["image_path"]
    assert after["before"] == 1.0 and after["after"] < 1.0


def test_the_encoder_verdict_needs_the_asked_digit_above_the_chance_band(bench, monkeypatch):
    monkeypatch.setattr(bench, "baseline_row", lambda baseline, iterations: None)
    args = argparse.Namespace(iterations=1000, classifier_iterations=3000)
    probe = {"digit_word": 0.52, "colour_word": 0.97, "wrong_image": 0.8}
    run = {"rows": {"digit": 0.11, "colour": 0.9, "caption_accuracy": 0.5}, "top_digit_share": 0.2, "cpu_seconds": 600,
           "d": probe, "d_batch": probe, "d_mixed": probe,
           "image_path": {"before": 0.845, "after": 0.61, "after_batch": 0.7}}
    results = {bench.augmented_key(bench.ENCODED_FROZEN): run,
               "race/it3000": {bench.TRANSLATED_PATH: [0.5, 0.845]},
               f"probe/{bench.PROBED[0][0]}/it3000": {"d_mixed": {"digit_word": 0.521}}}
    text = "\n".join(bench.encoder_report(results, args))
    assert "**a digit-reading image path does not lift the asked digit above chance** (below 0.2)" in text
    assert "Frozen: asked digit 0.110, D's own caption above the digit-swapped one 0.520 with pairs mixed" in text
    assert "0.845 / 0.610 / 0.700" in text and "the race's row, 0.845 at the end" in text
    assert "judged the same way: 0.521" in text and "do not match the digit" in text and "G is not asked" in text
    run["d_mixed"] = {**probe, "digit_word": 0.8}
    text = "\n".join(bench.encoder_report(results, args))
    assert "in a mixed batch (frozen): it matches each image's digit" in text and "yet G does not follow" in text
    run["rows"]["digit"] = 0.35
    text = "\n".join(bench.encoder_report(results, args))
    assert "**a digit-reading image path lifts the asked digit above chance** (frozen; chance band 0.2" in text
    assert "and G follows." in text and "The caption's colour" not in text  # no recipe's run to set it beside
    base = {"scores": {"rows": {"all": {"colour": 0.849, "digit": 0.094}}}}
    monkeypatch.setattr(bench, "baseline_row", lambda baseline, iterations: base)
    text = "\n".join(bench.encoder_report(results, args))
    assert "The caption's colour, drawn on 0.849 by the recipe's run, on frozen 0.900; its asked digit 0.094." in text
    assert bench.encoder_report({bench.augmented_key(bench.ENCODED_FROZEN): {"rows": {}}}, args) == []  # no probes yet
    monkeypatch.setattr(bench, "baseline_row", lambda baseline, iterations: None)
    fine = bench.augmented_key(bench.ENCODED_FINE_TUNED)
    augmented = "\n".join(bench.augmented_report({fine: {**run, "d": probe}}, args))
    assert "**it does not lift the asked digit above chance**" in augmented  # the encoder runs have their own verdict


def test_another_gan_seed_keeps_seed_0_keys_and_files_and_runs_only_the_arms_asked(bench):
    frozen, other = bench.ENCODED_FROZEN, "GAN-INT-CLS, D inputs translated"
    assert bench.augmented_key(frozen) == f"augmented/{frozen}/it3000"  # seed 0: the first runs' keys
    assert bench.augmented_key(frozen, 1) == f"augmented/{frozen}/it3000/seed1"
    assert bench.run_file(frozen, 3000) == frozen.replace(" ", "_") + "_32px_it3000.pt"
    assert bench.run_file(frozen, 3000, 1) == frozen.replace(" ", "_") + "_32px_it3000_seed1.pt"
    args = argparse.Namespace(seeds=(0, 1), encoder_arms=("frozen",))
    assert bench.run_seeds(frozen, args) == (0, 1)
    assert bench.run_seeds(bench.ENCODED_FINE_TUNED, args) == (0,) and bench.run_seeds(other, args) == (0,)
    assert bench.run_seeds(frozen, argparse.Namespace(seeds=(1,), encoder_arms=("frozen",))) == (0, 1)
    results = {bench.augmented_key(frozen, 2): {"rows": 2}, bench.augmented_key(frozen): {"rows": 0},
               bench.augmented_key(frozen) + "/seedx": {"rows": "x"}}
    assert bench.seeded_runs(results, frozen) == [(0, {"rows": 0}), (2, {"rows": 2})]
    option = argparse.Namespace(seeds=(0, 1), encoder_arms=("option", "tacgan-option"))
    assert bench.run_seeds(bench.OPTION_ARM, option) == (0, 1) == bench.run_seeds(bench.TACGAN_OPTION_ARM, option)
    assert bench.run_seeds(frozen, option) == (0,)


def test_the_option_arms_paragraphs_give_the_mean_and_each_seed_once_an_arm_has_two(bench, monkeypatch):
    monkeypatch.setattr(bench, "baseline_row", lambda baseline, iterations: None)
    args = argparse.Namespace(iterations=1000, classifier_iterations=3000)
    def run(digit, colour):
        return {"rows": {"digit": digit, "colour": colour, "caption_accuracy": 0.5}, "top_digit_share": 0.2,
                "d": {"digit_word": 0.8, "colour_word": 0.7, "wrong_image": 0.6}, "cpu_seconds": 60.0,
                "reader_iterations": 3000, "reader_accuracy": 0.843}

    results = {bench.augmented_key(bench.OPTION_ARM): run(0.655, 0.601),
               bench.augmented_key(bench.TACGAN_OPTION_ARM): run(0.614, 0.7)}
    text = "\n".join(bench.augmented_report(results, args))
    assert "the asked digit 0.655 — **above chance**" in text
    assert "one seed each: **below** it (the seed-to-seed spread of the diagnostic's frozen arm: 0.000)" in text
    results[bench.augmented_key(bench.OPTION_ARM, 1)] = run(0.545, 0.5)
    results[bench.augmented_key(bench.TACGAN_OPTION_ARM, 1)] = run(0.314, 0.6)
    text = "\n".join(bench.augmented_report(results, args))
    assert "the asked digit 0.600 (seeds: 0.655, 0.545)" in text
    # TAC-GAN's mean is 0.136 below, within the largest seed spread (TAC-GAN's 0.300; the option arm's 0.110)
    assert "the asked digit 0.464 (seeds: 0.614, 0.314) against GAN-INT-CLS's 0.600 (seeds: 0.655, 0.545)" in text
    assert "2 and 2 seeds: **level with** it" in text and "spread, the largest of" in text and ": 0.300)" in text


def test_the_encoder_verdict_holds_for_every_seed_and_states_each_seed_asked_digit(bench, monkeypatch):
    monkeypatch.setattr(bench, "baseline_row", lambda baseline, iterations: None)
    args = argparse.Namespace(iterations=1000, classifier_iterations=3000)
    probe = {"digit_word": 0.8, "colour_word": 0.97, "wrong_image": 0.8}

    def run(digit, reads=0.8):
        return {"rows": {"digit": digit, "colour": 0.6, "caption_accuracy": 0.5}, "top_digit_share": 0.2,
                "cpu_seconds": 600, "d": probe, "d_batch": probe, "d_mixed": {**probe, "digit_word": reads},
                "image_path": {"before": 0.845, "after": 0.845, "after_batch": 0.65}}

    frozen = bench.ENCODED_FROZEN
    results = {bench.augmented_key(frozen): run(0.557), bench.augmented_key(frozen, 1): run(0.15)}
    text = "\n".join(bench.encoder_report(results, args))
    assert "lifts the asked digit above chance on some seeds only** (frozen (seeds 0 and 1); chance band 0.2)" in text
    assert "Frozen: the asked digit seed 0 0.557, seed 1 0.150;" in text and "G follows on some seeds only." in text
    assert f"| {frozen}, GAN seed 1 | 0.150 | 0.845 / 0.845 / 0.650 |" in text
    results = {bench.augmented_key(frozen): run(0.15), bench.augmented_key(frozen, 1): run(0.557)}  # the other way
    text = "\n".join(bench.encoder_report(results, args))
    assert "on some seeds only** (frozen (seeds 0 and 1)" in text and "seed 0 0.150, seed 1 0.557" in text
    results[bench.augmented_key(frozen)] = run(0.41)
    text = "\n".join(bench.encoder_report(results, args))
    assert "**a digit-reading image path lifts the asked digit above chance** (frozen (seeds 0 and 1); chance" in text
    assert "seed 0 0.410, seed 1 0.557" in text and "and G follows." in text and "one seed" not in text
    results[bench.augmented_key(frozen, 1)] = run(0.12, reads=0.52)  # seed 1: neither lifted nor reading
    text = "\n".join(bench.encoder_report(results, args))
    assert "in a mixed batch (on some seeds only: frozen (seeds 0 and 1))" in text
    assert "with pairs mixed seed 0 0.800, seed 1 0.520" in text
    results[bench.augmented_key(frozen)] = run(0.1, reads=0.5)
    text = "\n".join(bench.encoder_report(results, args))
    assert "**a digit-reading image path does not lift the asked digit above chance** (below 0.2)" in text
    assert "so G is not asked for it." in text
    augmented = "\n".join(bench.augmented_report(results, args))
    assert f"| {frozen}, GAN seed 1 | 0.120 | 0.600 |" in augmented and "A row naming a GAN seed" in augmented


def test_the_model_option_arms_have_lines_of_their_own_and_tacgan_is_judged_against_the_seed_spread(bench, monkeypatch):
    monkeypatch.setattr(bench, "baseline_row", lambda baseline, iterations: None)
    args = argparse.Namespace(iterations=1000, classifier_iterations=3000)

    def run(digit, colour=0.6, **extra):
        return {"rows": {"digit": digit, "colour": colour, "caption_accuracy": 0.5}, "top_digit_share": 0.2,
                "cpu_seconds": 600, "d": {"digit_word": 0.8, "colour_word": 0.9}, **extra}

    frozen, option, tacgan = bench.ENCODED_FROZEN, bench.OPTION_ARM, bench.TACGAN_OPTION_ARM
    results = {bench.augmented_key(frozen): run(0.557), bench.augmented_key(frozen, 1): run(0.612),
               bench.augmented_key(option): run(0.655, reader_iterations=3000, reader_accuracy=0.843)}
    text = "\n".join(bench.augmented_report(results, args))
    assert "**it does not lift the asked digit above chance**" in text  # the option arms have their own verdict
    assert "held-out digit accuracy 0.843): the asked digit 0.655, against 0.557 for the diagnostic's frozen arm" in text
    assert "**above chance** (chance band 0.2)" in text and "TAC-GAN with the same option" not in text
    results[bench.augmented_key(tacgan)] = run(0.80, colour=0.5)
    text = "\n".join(bench.augmented_report(results, args))
    assert "the asked digit 0.800 against GAN-INT-CLS's 0.655 with the option, one seed each: **above** it" in text
    assert "(the seed-to-seed spread of the diagnostic's frozen arm: 0.055); colour 0.500 against 0.600." in text
    results[bench.augmented_key(tacgan)] = run(0.62)
    assert "**level with** it" in "\n".join(bench.augmented_report(results, args))
    results[bench.augmented_key(tacgan)] = run(0.30)
    assert "**below** it" in "\n".join(bench.augmented_report(results, args))
    assert bench.AUGMENTED[tacgan][2] == {"class_head": "image", "d_image_reader": "digits", "freeze_d_image_reader": True}
