"""The condition / output protocol: what models declare, and how sampling, grids, the step context,
callbacks and evaluation read it; the three test-only families (text, video, tokens) on it.

(The every-model tests of tests/test_core.py, test_core_ddp.py and test_device.py train, resume
bitwise and run under DDP the same three models: tests/core_models.py.)"""

from __future__ import annotations

import lightning as L
import pytest
import torch
from PIL import Image

from conftest import tiny_trainer
from core_models import (CAPTION_LENGTH, CaptionData, ClipData, SequenceData, SequenceGenerator, TextConditioned,
                         TwoWayTranslator, VideoGenerator)
from gan_lightning.callbacks import AdaptiveAugmentation, DiffAugmentCallback, EMACallback, SampleGridCallback
from gan_lightning.callbacks.samples import CAPTION_MARGIN
from gan_lightning.core import StepContext
from gan_lightning.core.protocol import Condition, Output, grid_pictures, output_for_shape
from gan_lightning.evaluation.generation import balanced_labels, is_class_conditional
from test_core import tiny_model


def test_declarations_check_their_values_in_one_line():
    with pytest.raises(ValueError, match="condition kind 'sound' is not one of class, attributes, text"):
        Condition("sound", "audio")
    with pytest.raises(ValueError, match="a video output has 4 dimensions per sample, got shape"):
        Output("video", (1, 8, 8))
    with pytest.raises(ValueError, match="a tokens output needs vocab_size >= 2, got 0"):
        Output("tokens", (6,))
    assert output_for_shape((3, 32, 32)) == Output("image", (3, 32, 32))
    assert output_for_shape((2,)).kind == "vector"
    with pytest.raises(ValueError, match=r"data_shape \(1, 4, 8, 8\) is neither an image .* must declare its output"):
        output_for_shape((1, 4, 8, 8))


def test_every_model_declares_what_it_takes_and_outputs():
    declared = {name: tiny_model(name) for name in ("DCGAN", "CGAN", "ACGAN", "BigGAN", "TripleGAN", "SSInfoGAN",
                                                   "InfoGAN", "Pix2Pix", "CycleGAN", "StarGAN", "SRGAN", "SPADE")}
    assert {n for n, m in declared.items() if m.class_condition is not None} == {"CGAN", "ACGAN", "BigGAN",
                                                                                  "TripleGAN", "SSInfoGAN"}
    assert {n for n, m in declared.items() if m.translates} == {"Pix2Pix", "CycleGAN", "StarGAN", "SRGAN", "SPADE"}
    assert declared["StarGAN"].conditions()[1].kind == "attributes" and declared["SRGAN"].output().key == "hr"
    assert declared["SPADE"].conditions()[0].kind == "label_map" and declared["InfoGAN"].conditions() == ()
    assert [m.sampling for m in (declared["DCGAN"], declared["CGAN"], declared["Pix2Pix"])] == [
        "noise", "conditional", "translation"]  # the old summary, for old code


def test_the_step_context_takes_real_samples_where_the_output_says():
    a, b = torch.zeros(2, 1), torch.ones(2, 1)
    assert StepContext({"a": a, "b": b}, real_key="b").real is b
    assert StepContext({"image": a, "b": b}).real is a  # no declaration: the image entry
    labels = torch.tensor([1, 2])
    ctx = StepContext((a, labels))
    assert ctx.real is a and ctx.labels is labels and ctx.batch_size == 2


def test_sampling_checks_the_conditions_it_is_given():
    text, dcgan = TextConditioned(), tiny_model("DCGAN")
    captions = torch.randint(0, 12, (3, CAPTION_LENGTH))
    assert text.sample(3, conditions={"caption": captions}).shape == (3, 1, 8, 8)
    with pytest.raises(ValueError, match=r"TextConditioned samples given its text condition: sample\(\.\.\., "
                                         r"conditions=\{'caption': \.\.\.\}\)"):
        text.sample(3)
    with pytest.raises(ValueError, match="conditions: TextConditioned takes no condition 'label'; it takes: caption"):
        text.sample(3, conditions={"caption": captions, "label": captions})
    with pytest.raises(ValueError, match=r"conditions\['caption'\]: one per sample, 4; got 3"):
        text.sample(4, conditions={"caption": captions})
    with pytest.raises(ValueError, match="labels: DCGAN takes no class labels"):
        dcgan.sample(2, labels=torch.tensor([0, 1]))


def test_grids_of_every_output_kind():
    images = torch.rand(2, 3, 8, 8)
    assert grid_pictures(images, Output("image", (3, 8, 8)), 5) == (images, 5)
    video = torch.rand(2, 1, 4, 8, 8)
    frames, nrow = grid_pictures(video, Output("video", (1, 4, 8, 8)), 8)
    assert frames.shape == (8, 1, 8, 8) and nrow == 4 and torch.equal(frames[5], video[1, :, 1])  # a row per clip
    tokens = torch.tensor([[0, 1, 2], [2, 2, 0]])
    strips, nrow = grid_pictures(tokens, Output("tokens", (3,), vocab_size=3), 8)
    assert strips.shape == (2, 3, 4, 12) and nrow == 1
    assert torch.equal(strips[0, :, 0, 0], strips[1, :, 0, 8])  # token 0 has one colour wherever it is
    assert not torch.equal(strips[0, :, 0, 0], strips[0, :, 0, 4])
    voxels = torch.rand(2, 1, 3, 8, 8)
    assert grid_pictures(voxels, Output("voxels", (1, 3, 8, 8)), 2)[0].shape == (2, 1, 8, 8)


@pytest.mark.parametrize("build, data, rows, size", [
    (TextConditioned, CaptionData, 4, (4 * 10 + 2, CAPTION_MARGIN + 8 * 10 + 2)),  # 4 captions (written left) x 8 noises
    (VideoGenerator, ClipData, 16, (16 * 10 + 2, 4 * 10 + 2)),  # 16 clips, 4 frames each
    (SequenceGenerator, SequenceData, 16, (16 * 6 + 2, 24 + 4)),  # 16 strips of 6 tokens
])
def test_the_sample_grid_of_each_new_family(build, data, rows, size, tmp_path):
    L.seed_everything(0)
    grid = SampleGridCallback(every_n_steps=2, num_samples=32 if build is TextConditioned else 16, nrow=8)
    tiny_trainer(tmp_path, 2, callbacks=[grid, EMACallback()], limit_val_batches=0).fit(build(), data())
    picture = Image.open(tmp_path / "samples" / "iter_000002.png")
    assert picture.size[::-1] == size, picture.size


def test_image_augmentations_say_what_they_cannot_augment(tmp_path):
    L.seed_everything(0)
    with pytest.warns(UserWarning, match=r"DiffAugmentCallback augments images; VideoGenerator outputs video of shape "
                                         r"\(1, 4, 8, 8\): its D inputs pass unchanged"):
        tiny_trainer(tmp_path, 2, callbacks=[DiffAugmentCallback()]).fit(VideoGenerator(), ClipData())
    with pytest.raises(ValueError, match=r"AdaptiveAugmentation augments images; SequenceGenerator outputs tokens of "
                                         r"shape \(6,\)"):
        tiny_trainer(tmp_path, 2, callbacks=[AdaptiveAugmentation()]).fit(SequenceGenerator(), SequenceData())


def test_the_ema_and_evaluation_read_the_declarations(tmp_path):
    translator = TwoWayTranslator()
    tiny_trainer(tmp_path, 1, callbacks=[EMACallback()], limit_val_batches=0).fit(
        translator, __import__("core_models").TwoDomainData())
    assert translator.generator_ema is None  # a model that maps inputs keeps no EMA
    cgan, infogan = tiny_model("CGAN"), tiny_model("InfoGAN")
    assert is_class_conditional(cgan) and not is_class_conditional(infogan)
    assert balanced_labels(cgan, 5, 8).tolist() == [8, 9, 0, 1, 2] and balanced_labels(infogan, 5, 0) is None


def test_the_sequence_model_samples_tokens_and_learns_by_reinforce(tmp_path):
    L.seed_everything(0)
    model = SequenceGenerator()
    assert model.sample(4).dtype == torch.long and model.sample(4).shape == (4, 6)
    before = model.training_state.baseline.clone()
    tiny_trainer(tmp_path, 4, limit_val_batches=0).fit(model, SequenceData())
    assert model.training_state.baseline != before  # the REINFORCE baseline moved, and is training state
    assert "baseline" in model.training_state.state_dict()
