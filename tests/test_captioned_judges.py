"""The judges of CaptionedDigits (gan_lightning.evaluation.captioned): pixel measurements on real renders of
known colour, box and shape; R-precision's definition; the cached judges' round trip; one-line errors."""

from __future__ import annotations

import pytest
import torch

from gan_lightning.data.captions import (
    BACKGROUNDS,
    COLOURS,
    CaptionedDigitsSet,
    attribute_thresholds,
    binned,
    measure_digits,
    measured_mnist5k,
)
from gan_lightning.evaluation.captioned import (
    FIT_DEFAULTS,
    CanvasNet,
    CaptionJudges,
    Matcher,
    box_iou,
    check_images,
    digits_28px,
    fit_judges,
    ink_alpha,
    ink_boxes,
    ink_colours,
    r_precision_of,
    resized,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def spread(count: int) -> list[int]:
    """``count`` indices spread over MNIST5k (sorted by class): every digit."""
    return list(range(0, 5000, 5000 // count))[:count]


def rendered(size: int = 64, count: int = 48, seed: int = 3) -> dict[str, torch.Tensor]:
    """``count`` real MNIST5k digits (every class) rendered in seeded scenes (every colour and background)."""
    scenes = CaptionedDigitsSet(spread(count), seed=seed, backgrounds=BACKGROUNDS, captions_per_image=8,
                                caption_length=18, image_size=size)
    items = [scenes[i] for i in range(count)]
    return {key: torch.stack([item[key] for item in items]) for key in ("image", "label", "attributes", "box")}


def tiny_judges(size: int = 32) -> CaptionJudges:
    torch.manual_seed(0)
    thresholds = {"thickness": 3.0, "width": [12.0] * 10}
    return CaptionJudges(size, CanvasNet(size, 14), Matcher(size), thresholds, 20.0, {"digits": 0.5})


def test_the_ink_colour_is_the_rendered_palette_colour_on_every_background():
    real = rendered()
    assert set(real["attributes"][:, 4].tolist()) == set(range(len(BACKGROUNDS)))  # black and the three textures
    assert len(set(real["attributes"][:, 3].tolist())) == len(COLOURS)
    assert torch.equal(ink_colours(real["image"]), real["attributes"][:, 3])


def test_the_ink_box_of_a_known_render_is_its_rendered_box():
    real = rendered()
    judges = tiny_judges(64)
    found = judges.boxes(real["image"])
    assert (found - real["box"]).abs().max() <= 1.5 / 64
    assert float(box_iou(real["box"], found, torch.ones(len(found), dtype=torch.bool)).min()) > 0.9
    # on black, the alpha's box is gawwn_boxes' brightest-channel box
    black = real["attributes"][:, 4] == 0
    bright, inked = ink_boxes(real["image"][black])
    assert inked.all() and (bright - found[black]).abs().max() <= 1.0 / 64
    # nothing inked: the whole canvas, and IoU 0 with gawwn_boxes' measure
    blank = -torch.ones(2, 3, 64, 64)
    assert torch.equal(judges.boxes(blank), torch.tensor([[0.0, 0.0, 1.0, 1.0]] * 2))
    boxes, inked = ink_boxes(blank)
    assert not inked.any() and float(box_iou(real["box"][:2], boxes, inked).max()) == 0.0


def test_the_ink_cropped_to_28px_measures_as_the_digit_itself():
    digits, labels, _ = measured_mnist5k()
    real = rendered(count=48)
    alpha = ink_alpha(real["image"])
    assert alpha.min() >= 0 and alpha.max() <= 1
    recovered = digits_28px(alpha, 20.0)
    assert recovered.shape == (48, 28, 28) and recovered.dtype == torch.uint8
    thresholds = attribute_thresholds(measure_digits(digits), labels)
    found = binned(measure_digits(recovered), real["label"].numpy(), thresholds)
    truth = binned(measure_digits(digits[spread(48)]), labels[spread(48)], thresholds)
    assert len(set(labels[spread(48)].tolist())) == 10
    agreement = (found == truth).mean(0)  # thickness, slant, width
    assert agreement[0] >= 0.8 and agreement[1] >= 0.9 and agreement[2] >= 0.8


def test_r_precision_is_one_for_perfect_embeddings_and_one_in_candidates_for_shuffled():
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(1000, 16, generator=generator)
    assert r_precision_of(images, images, candidates=100) == 1.0
    shuffled = images[torch.randperm(1000, generator=generator)]
    assert r_precision_of(images, shuffled, candidates=10) == pytest.approx(0.1, abs=0.03)
    assert r_precision_of(images, shuffled, candidates=100) < 0.04
    assert r_precision_of(images, shuffled, candidates=10, seed=1) != r_precision_of(images, shuffled, candidates=10)
    with pytest.raises(ValueError, match=r"candidates=100 needs .* \(got 50 images"):
        r_precision_of(images[:50], images[:50], candidates=100)


def test_wrong_image_sizes_and_shapes_are_one_line_errors():
    with pytest.raises(ValueError, match="image size 28 is not accepted; the judges take 32 or 64 px") as error:
        check_images(torch.zeros(2, 3, 28, 28))
    assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match=r"shape \(2, 1, 32, 32\) is not accepted"):
        tiny_judges().digits(torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match="image_size: 48 is not accepted; 32 or 64"):
        CaptionJudges.load_or_fit(seed=0, image_size=48)
    with pytest.raises(ValueError, match="unknown fitting argument 'epochs'; accepted: scenes"):
        CaptionJudges.load_or_fit(seed=0, image_size=32, path="/nonexistent/judges.pt", epochs=3)


def test_64px_images_given_to_32px_judges_are_averaged_down_as_the_data_does():
    big, small = rendered(64, count=6), rendered(32, count=6)
    assert torch.allclose(resized(big["image"], 32), small["image"], atol=1e-6)
    judges = tiny_judges(32)
    assert torch.equal(judges.digits(big["image"]), judges.digits(small["image"]))


def test_the_judges_api_and_their_cached_file(tmp_path):
    judges = tiny_judges(32)
    real = rendered(32, count=8)
    digits = judges.digits(real["image"])
    assert digits.shape == (8,) and digits.dtype == torch.long and ((digits >= 0) & (digits < 10)).all()
    attributes = judges.attributes(real["image"])
    assert list(attributes) == ["thickness", "slant", "width", "colour", "background"]
    assert all(v.shape == (8,) and v.dtype == torch.long for v in attributes.values())
    assert torch.equal(attributes["colour"], real["attributes"][:, 3])
    asked = judges.attributes(real["image"], labels=real["label"])
    assert torch.equal(asked["thickness"], attributes["thickness"])
    assert judges.boxes(real["image"]).shape == (8, 4)
    assert judges.check() == {"digits": 0.5}
    captions = torch.randint(2, 20, (8, 18), generator=torch.Generator().manual_seed(0))
    assert 0.0 <= judges.r_precision(real["image"], captions, candidates=4) <= 1.0
    # a saved file with the same fitting arguments is read back, not fitted again
    path = tmp_path / "judges.pt"
    torch.save(judges.payload(dict(FIT_DEFAULTS)), path)
    loaded = CaptionJudges.load_or_fit(seed=0, image_size=32, path=path)
    assert torch.equal(loaded.digits(real["image"]), digits) and loaded.check() == {"digits": 0.5}
    first, second = loaded.embed(real["image"], captions), judges.embed(real["image"], captions)
    assert torch.allclose(first[0], second[0]) and torch.allclose(first[1], second[1])


def test_fitting_is_seeded_and_leaves_the_global_rng_alone():
    state = torch.get_rng_state()
    tiny = {"verbose": False, "scenes": 1, "digit_epochs": 1, "matcher_epochs": 1, "limit": 130}
    first = fit_judges(seed=0, image_size=32, **tiny)
    assert torch.equal(torch.get_rng_state(), state)
    second = fit_judges(seed=0, image_size=32, **tiny)
    for one, two in zip(first.canvas.state_dict().values(), second.canvas.state_dict().values()):
        assert torch.equal(one, two)
    for one, two in zip(first.matcher.state_dict().values(), second.matcher.state_dict().values()):
        assert torch.equal(one, two)
    report = first.check()
    assert report["num_heldout"] == 130 and 0.0 <= report["digits"] <= 1.0 and 0.0 <= report["r_precision"] <= 1.0
    assert report["colour"] == 1.0  # the pixel measurement needs no fitting
