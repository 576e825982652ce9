"""benchmarks/attngan.py's attention measure: the share of a word's map inside its digit's box."""

from __future__ import annotations

import attngan as benchmark
import pytest
import torch

from gan_lightning.data.captions import DIGIT_WORDS, tokenize


def test_box_weights_are_the_cells_overlap_with_the_box():
    weights = benchmark.box_weights(torch.tensor([[0.0, 0.0, 0.5, 0.25], [0.125, 0.0, 0.25, 1.0]]), 4, 4)
    assert weights[0].tolist() == [[1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    assert weights[1, :, 0].tolist() == [0.5] * 4 and weights[1, :, 1:].sum() == 0  # half of each first-column cell
    assert weights.sum((1, 2)).div(16).tolist() == [0.125, 0.125]  # the boxes' areas


def test_box_shares_of_a_focused_map_a_uniform_map_and_a_misplaced_map():
    caption = tokenize("a red three on the left and a blue seven on the right")[None].repeat(3, 1)
    word_digit = torch.full_like(caption, -1)
    word_digit[:, 2], word_digit[:, 9] = 0, 1  # "three" names the left digit, "seven" the right one
    boxes = torch.tensor([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]]).expand(3, 2, 4)
    maps = torch.zeros(3, caption.size(1), 8, 8)
    maps[0, 2, :4, :4], maps[0, 9, 4:, 4:] = 1.0, 2.0  # each word inside its own digit's box
    maps[1] = 0.5  # uniform
    maps[2, 2, 4:, 4:], maps[2, 9, :4, :4] = 1.0, 1.0  # each word inside the other digit's box
    one = benchmark.box_shares(maps[:1], caption[:1], word_digit[:1], boxes[:1], DIGIT_WORDS)
    assert one["words"] == 2 and one["own"] == 1.0 and one["other"] == 0.0 and one["own_area"] == 0.25
    assert one["own_per_area"] == 4.0 and one["denser_in_own"] == 1.0
    assert one["difference"] == 4.0 and one["difference_se"] == 0.0  # both words: 4 x uniform in, nothing out
    uniform = benchmark.box_shares(maps[1:2], caption[1:2], word_digit[1:2], boxes[1:2], DIGIT_WORDS)
    assert uniform["own"] == pytest.approx(0.25) and uniform["own_per_area"] == pytest.approx(1.0)
    assert uniform["denser_in_own"] == 0.0  # equal density is not denser
    wrong = benchmark.box_shares(maps[2:], caption[2:], word_digit[2:], boxes[2:], DIGIT_WORDS)
    assert wrong["own"] == 0.0 and wrong["other"] == 1.0 and wrong["denser_in_own"] == 0.0
    both = benchmark.box_shares(maps, caption, word_digit, boxes, DIGIT_WORDS)
    assert both["words"] == 6 and both["own"] == pytest.approx((1.0 + 0.25 + 0.0) / 3)
    assert both["difference"] == pytest.approx(0.0) and both["difference_se"] > 0  # +4, 0, -4 per word pair
    assert "**not reached**" in benchmark.attention_verdict(both)
    assert "**reached**" in benchmark.attention_verdict({**both, "own_per_area": 3.0, "own_per_area_se": 0.5,
                                                         "difference": 2.0, "difference_se": 0.5})
    colours = benchmark.box_shares(maps, caption, word_digit, boxes, ("red", "blue"))
    assert colours["words"] == 0  # no colour word was marked with its digit here


def test_a_stackgan_run_resumes_only_on_the_current_caption_encoder(tmp_path, monkeypatch):
    """A checkpoint carries its caption encoder: the run on v1's encoder is named, and refused as v2's."""
    from gan_lightning.data.captions import VOCABULARY
    from gan_lightning.nets.text import CaptionEncoder

    monkeypatch.setenv("GAN_LIGHTNING_CACHE", str(tmp_path))
    encoders = {}
    for seed, name in ((1, "caption_encoder_v1.pt"), (2, "caption_encoder_v2.pt")):
        torch.manual_seed(seed)
        encoders[name] = CaptionEncoder(len(VOCABULARY)).state_dict()
        torch.save({"vocabulary": list(VOCABULARY), "text": encoders[name], "image": {}}, tmp_path / name)
    state = {f"text_encoder.{k}": v.clone() for k, v in encoders["caption_encoder_v1.pt"].items()}
    assert benchmark.caption_encoder_file({**state, "generator.w": torch.zeros(1)}) == "caption_encoder_v1.pt"
    assert benchmark.caption_encoder_file({"generator.w": torch.zeros(1)}) is None  # no caption encoder
    other = dict(state, **{"text_encoder.embedding.weight": state["text_encoder.embedding.weight"] + 1})
    assert benchmark.caption_encoder_file(other) is None  # none of the cached files
    checkpoint = tmp_path / "stackgan_one" / "step=100.ckpt"
    checkpoint.parent.mkdir()
    torch.save({"state_dict": state}, checkpoint)
    with pytest.raises(SystemExit, match="holds caption encoder caption_encoder_v1.pt, not caption_encoder_v2.pt"):
        benchmark.check_encoder("stackgan_one", checkpoint)
    benchmark.check_encoder("attngan_one", checkpoint)  # AttnGAN: its DAMSM, not the caption encoder
    torch.save({"state_dict": {f"text_encoder.{k}": v for k, v in encoders["caption_encoder_v2.pt"].items()}},
               checkpoint)
    benchmark.check_encoder("stackgan_one", checkpoint)  # the current one: resumes
