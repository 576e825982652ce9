"""CaptionedDigits: properties measured on real digits, rendered scenes, captions that say what is drawn."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan_lightning.data import CaptionedDigits
from gan_lightning.data.captions import (BACKGROUNDS, COLOURS, DIGIT_WORDS, UNSEEN, VOCABULARY, attribute_bins,
                                         detokenize, measure_digits, tokenize)


@pytest.fixture(scope="module")
def data():
    module = CaptionedDigits(batch_size=8)
    module.setup("fit")
    return module


def bar(width: int, shear: float = 0.0) -> np.ndarray:
    """A 28 px vertical bar ``width`` pixels wide, its top moved ``shear`` pixels per row to the right."""
    image = np.zeros((28, 28), dtype=np.uint8)
    for row in range(4, 24):
        left = int(round(12 + shear * (14 - row)))
        image[row, left:left + width] = 255
    return image


def test_measurements_follow_the_definitions_on_shapes_of_known_geometry():
    shapes = torch.from_numpy(np.stack([bar(2), bar(5), bar(3, shear=0.5), bar(3, shear=-0.5)]))
    measured = measure_digits(shapes)
    thin, bold = measured["thickness"][:2]
    assert thin == pytest.approx(2 * 2 * 20 / 20, rel=0.25) and bold == pytest.approx(2 * 5 * 20 / 20, rel=0.25)
    assert abs(measured["slant"][0]) < 0.05 and abs(measured["slant"][1]) < 0.05  # upright
    assert measured["slant"][2] > 0.3 and measured["slant"][3] < -0.3  # top to the right / left
    assert list(measured["width"][:2]) == [2, 5]
    labels = np.array([1, 1, 1, 1])
    bins = attribute_bins(measured, labels)
    assert bins[0, 0] == 0 and bins[1, 0] == 1  # the thinnest bar is "thin", the boldest "bold" (median cut)
    assert list(bins[:, 1]) == [1, 1, 2, 0]  # upright, upright, leaning right, leaning left


def test_items_are_fixed_scenes_whose_captions_say_what_is_drawn(data):
    item = data.train_set[5]
    assert item["image"].shape == (3, 64, 64) and -1.0 <= item["image"].min() and item["image"].max() <= 1.0
    thickness, slant, width, colour, background = item["attributes"].tolist()
    caption = detokenize(item["caption"])
    assert DIGIT_WORDS[int(item["label"])] in caption and list(COLOURS)[colour] in caption
    assert torch.equal(data.train_set[5]["image"], item["image"])  # the same scene every time
    for text in data.train_set.captions(5):  # every caption names the digit and its colour
        assert DIGIT_WORDS[int(item["label"])] in text and list(COLOURS)[colour] in text
    # the ink is in the box, in the named colour
    x0, y0, x1, y1 = (item["box"] * 64).round().long().tolist()
    inside = item["image"][:, y0:y1, x0:x1].flatten(1)
    colour_rgb = torch.tensor(list(COLOURS.values())[colour]) * 2 - 1
    assert (inside - colour_rgb[:, None]).abs().max(0).values.min() < 0.05
    assert item["keypoints"].shape == (5, 2) and ((item["keypoints"] >= 0) & (item["keypoints"] <= 1)).all()


def test_the_caption_changes_with_the_epoch_the_image_does_not(data):
    n = len(data.train_set)
    captions = {detokenize(data.train_set[epoch * n + 7]["caption"]) for epoch in range(8)}
    images = [data.train_set[epoch * n + 7]["image"] for epoch in range(3)]
    assert len(captions) > 1 and all(torch.equal(images[0], image) for image in images)


def test_unseen_combinations_are_held_out_whole(data):
    train = data.train_set
    for position in range(0, len(train), 37):
        label, colour = int(train.labels[train.indices[position]]), train.scene(position).colour
        assert (label, colour) not in UNSEEN
    unseen = [bool(data.heldout_set[i]["unseen"]) for i in range(len(data.heldout_set))]
    assert 0 < sum(unseen) < len(unseen)
    assert set(data.train_set.indices).isdisjoint(data.heldout_set.indices)


def test_tokenize_round_trips_and_refuses_unknown_words_in_one_line():
    ids = tokenize("A bold red seven, leaning right on brick")
    assert ids.shape == (18,) and detokenize(ids) == "a bold red seven, leaning right on brick"
    assert len(VOCABULARY) == len(set(VOCABULARY))
    with pytest.raises(ValueError, match="the word 'purple' is not in the captions' vocabulary; digits: zero,"):
        tokenize("a purple seven")
    with pytest.raises(ValueError, match="at most 3"):
        tokenize("a red seven on brick", length=3)


def test_bad_options_are_one_line_errors():
    with pytest.raises(ValueError, match="data.image_size: 48 is not accepted"):
        CaptionedDigits(image_size=48)
    with pytest.raises(ValueError, match="data.backgrounds: 'sand' is not one of " + ", ".join(BACKGROUNDS)):
        CaptionedDigits(backgrounds=["black", "sand"])


def test_batches_through_the_training_loader(data):
    batch = next(iter(data.train_dataloader()))
    assert batch["image"].shape == (8, 3, 64, 64) and batch["caption"].shape == (8, 18)
    assert batch["caption"].dtype == torch.long and batch["label"].shape == (8,)


def test_every_caption_the_templates_can_make_fits_the_default_length():
    from gan_lightning.data import captions as c

    phrases = {key: values for key, values in c._SYNONYMS.items()}
    longest = max(len(tokenize(t.format(thickness=th, slant=sl, width=w, background=bg, digit="seven",
                                        colour="magenta")).nonzero())
                  for t in c._TEMPLATES for th in phrases["thin"] + phrases["bold"]
                  for sl in phrases["leaning left"] + phrases["upright"] + phrases["leaning right"]
                  for w in phrases["narrow"] + phrases["wide"]
                  for bg in [p for ps in c._BACKGROUND_PHRASES.values() for p in ps])
    assert longest == c.MAX_WORDS
    with pytest.raises(ValueError, match="data.max_caption_length must be >= 18"):
        CaptionedDigits(max_caption_length=16)


# ---------------------------------------------------------------------------- two-digit scenes
@pytest.fixture(scope="module")
def two():
    module = CaptionedDigits(batch_size=4, digits_per_image=2)
    module.setup("fit")
    return module


def test_two_digit_scenes_draw_both_digits_in_their_boxes_and_colours(two):
    for position in (3, 1234):
        item = two.train_set[position]
        assert item["image"].shape == (3, 64, 64) and item["boxes"].shape == (2, 4)
        left, right = item["boxes"].tolist()
        assert left[2] <= 0.5 <= right[0]  # the left digit in the left half, the right one in the right half
        labels, colours = item["labels"].tolist(), item["all_attributes"][:, 3].tolist()
        assert labels[0] != labels[1] and colours[0] != colours[1]
        assert int(item["label"]) == labels[0] and torch.equal(item["box"], item["boxes"][0])
        for (x0, y0, x1, y1), colour in zip((item["boxes"] * 64).round().long().tolist(), colours):
            inside = item["image"][:, y0:y1, x0:x1].flatten(1)
            rgb = torch.tensor(list(COLOURS.values())[colour]) * 2 - 1
            assert (inside - rgb[:, None]).abs().max(0).values.min() < 0.05  # its ink, in its colour
        words = detokenize(item["caption"]).replace(",", " ,").split()
        owners = item["word_digit"][:len(words)].tolist()
        assert item["word_digit"][len(words):].eq(-1).all()
        for word, owner in zip(words, owners):  # each digit word, colour word and position word names its digit
            if word in DIGIT_WORDS:
                assert DIGIT_WORDS[labels[owner]] == word
            if word in COLOURS:
                assert list(COLOURS)[colours[owner]] == word
            if word in ("left", "right"):
                assert owner == ("left", "right").index(word)
        assert sorted(DIGIT_WORDS.index(w) for w in words if w in DIGIT_WORDS) == sorted(labels)


def test_two_digit_scenes_keep_the_held_out_and_unseen_split(two):
    train, heldout = two.train_set, two.heldout_set
    train_digits = {i for p in range(len(train)) for i in train.digit_indices(p)}
    heldout_digits = {i for p in range(len(heldout)) for i in heldout.digit_indices(p)}
    assert train_digits.isdisjoint(heldout_digits)  # held-out scenes show only held-out digits
    for position in range(0, len(train), 29):
        labels = [int(train.labels[i]) for i in train.digit_indices(position)]
        assert not any(pair in UNSEEN for pair in zip(labels, train.scene(position).colours))
    unseen = [bool(heldout[i]["unseen"]) for i in range(0, len(heldout), 3)]
    assert 0 < sum(unseen) < len(unseen)
    again = CaptionedDigits(batch_size=4, digits_per_image=2)
    again.setup("fit")
    assert torch.equal(again.train_set[17]["image"], train[17]["image"])  # seeded from (seed, index)
    assert again.train_set.digit_indices(17) == train.digit_indices(17)


def test_every_two_digit_caption_fits_the_default_length_and_bad_counts_are_one_line_errors():
    from gan_lightning.data import captions as c

    thick = [w for key in ("thin", "bold") for w in c._SYNONYMS[key]]
    backgrounds = [p for ps in c._BACKGROUND_PHRASES.values() for p in ps]
    longest = max(len(tokenize(t.format(thickness1=a, thickness2=b, digit1="seven", digit2="three", colour1="magenta",
                                        colour2="orange", background=bg)).nonzero())
                  for t in c._TWO_DIGIT_TEMPLATES for a in thick for b in thick for bg in backgrounds)
    assert longest <= c.MAX_WORDS
    with pytest.raises(ValueError, match=r"^data.digits_per_image: 3 is not accepted; give 1 or 2$"):
        CaptionedDigits(digits_per_image=3)


def test_damsm_pre_trains_on_the_scenes_the_fit_draws():
    from gan_lightning.pretrained import caption_batches, default_damsm_path

    captions, images = next(caption_batches(1, 0, 4, 40, digits_per_image=2))
    assert captions.shape == (4, 18) and images.shape == (4, 3, 64, 64)
    assert all("left" in detokenize(c) or "right" in detokenize(c) for c in captions)
    one, _ = next(caption_batches(1, 0, 4, 40))
    assert not any("left" in detokenize(c).replace("leaning left", "").replace("slanted to the left", "")
                   .replace("tilted left", "") for c in one)
    assert default_damsm_path(2) != default_damsm_path(1) and default_damsm_path(1).name == "damsm_v1.pt"
