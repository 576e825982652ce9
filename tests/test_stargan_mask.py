"""StarGAN with two label sets and the mask vector (Choi et al. 2018, section 3.2; the authors'
solver.py ``train_multi``): G's domain label [set A, set B, mask], the unknown set zero, D's
classification loss on the known set only, the sets in turn, and a bitwise resume of such a fit."""

from __future__ import annotations

import pytest
import torch
from test_core import _fit, assert_bitwise_equal
from tiny_stargan import TinyAttributes, build_model

from gan_lightning.core import StepContext
from gan_lightning.translate import model_attributes


def a_batch(n: int = 6):
    data = TinyAttributes(num=n, num_attributes=3)
    data.setup()
    items = [data.train_set[i] for i in range(n)]
    return {"image": torch.stack([i["image"] for i in items]), "attributes": torch.stack([i["attributes"] for i in items])}


def terms(model, batch, iteration: int):
    torch.manual_seed(0)
    ctx = StepContext(batch, iteration=iteration, due=frozenset(("D", "G")))
    model.prepare_step(ctx)
    torch.manual_seed(1)  # the gradient penalty's interpolation
    d_terms = model.discriminator_terms(ctx)
    return ctx, d_terms, model.generator_terms(ctx)


def test_domain_label_is_the_known_set_then_the_mask_and_g_takes_it():
    model = build_model(label_sets=[1, 2])  # 3 attributes: set A = [0], set B = [1, 2]
    assert model.domain_size == 5 and model.generator.net[0].in_channels == 3 + 5
    assert model.conditions()[1].size == 5
    attributes = torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
    assert torch.equal(model.domain_label(attributes, 0), torch.tensor([[1.0, 0, 0, 1, 0], [0, 0, 0, 1, 0]]))
    assert torch.equal(model.domain_label(attributes, 1), torch.tensor([[0.0, 1, 0, 0, 1], [0, 1, 1, 0, 1]]))
    ctx0, _, _ = terms(model, a_batch(), iteration=0)
    ctx1, _, _ = terms(model, a_batch(), iteration=1)
    assert (ctx0.label_set, ctx0.known, ctx1.label_set, ctx1.known) == (0, slice(0, 1), 1, slice(1, 3))
    assert torch.equal(ctx0.c_target[:, 1:3], torch.zeros(6, 2)) and torch.equal(ctx0.c_target[:, 3:], torch.tensor([[1.0, 0]] * 6))
    images = torch.rand(2, 3, 16, 16) * 2 - 1
    with pytest.raises(ValueError, match="label_set"):
        model.translate(images, attributes=[1.0, 0.0, 1.0])
    by_set = model.translate(images, attributes=[1.0, 0.0, 1.0], label_set=1, use_ema=False)
    assert torch.equal(by_set, model.translate(images, attributes=[0.0, 0, 1, 0, 1], use_ema=False))
    grid, columns = model.preview_grid(8, inputs=images)  # each attribute flipped within its own set
    assert columns == 4 and grid.shape == (8, 3, 16, 16) and torch.equal(grid[0], images[0])
    # `gan-lightning translate --attributes` takes the domain label: the attributes, then the mask
    assert model_attributes(model) == 5 and model_attributes(build_model()) == 3
    for bad in ([1, 1], [2, 2], [3]):
        with pytest.raises(ValueError, match="label_sets"):
            build_model(label_sets=bad)


@pytest.mark.parametrize("iteration", [0, 1])
def test_the_mask_zeroes_the_unknown_sets_classification_loss(iteration):
    model = build_model(label_sets=[1, 2])
    batch = a_batch()
    known = slice(0, 1) if iteration == 0 else slice(1, 3)
    unknown = slice(1, 3) if iteration == 0 else slice(0, 1)
    _, d_base, g_base = terms(model, batch, iteration)
    changed = {**batch, "attributes": batch["attributes"].clone()}
    changed["attributes"][:, unknown] = 1 - changed["attributes"][:, unknown]
    _, d_changed, g_changed = terms(model, changed, iteration)
    for key in ("d_loss", "d_cls", "gp"):
        assert torch.equal(d_base[key], d_changed[key]), key  # the unknown labels play no part
    for key in ("g_loss", "g_cls", "g_rec"):
        assert torch.equal(g_base[key], g_changed[key]), key
    flipped = {**batch, "attributes": batch["attributes"].clone()}
    flipped["attributes"][:, known] = 1 - flipped["attributes"][:, known]
    _, d_flipped, _ = terms(model, flipped, iteration)
    assert not torch.equal(d_base["d_cls"], d_flipped["d_cls"])  # the known ones do
    # without label sets every attribute counts
    plain = build_model()
    _, d_plain, _ = terms(plain, batch, iteration)
    _, d_plain_changed, _ = terms(plain, changed, iteration)
    assert not torch.equal(d_plain["d_cls"], d_plain_changed["d_cls"])


def test_a_fit_alternates_the_sets_and_resumes_bitwise(tmp_path):
    seen: dict[str, list[int]] = {}

    def build(run: str):
        def make():
            model = build_model(label_sets=[1, 2])
            sets = seen.setdefault(run, [])
            prepare = model.prepare_step

            def recording(ctx):
                prepare(ctx)
                sets.append(ctx.label_set)

            model.prepare_step = recording
            return model
        return make

    straight = _fit(build("straight"), TinyAttributes, tmp_path / "straight", 6, every=3)
    (checkpoint,) = (tmp_path / "straight" / "ckpt").glob("*step=3.ckpt")
    resumed = _fit(build("resumed"), TinyAttributes, tmp_path / "resumed", 6, ckpt_path=checkpoint)
    assert seen["straight"] == [0, 1, 0, 1, 0, 1] and seen["resumed"] == [1, 0, 1]
    assert resumed.global_step == 6
    assert_bitwise_equal(straight, resumed)
    fresh = build("fresh")()
    assert not torch.equal(fresh.generator.net[0].weight, straight.generator.net[0].weight)


def test_held_out_scores_translate_within_each_set_in_turn():
    model = build_model(label_sets=[1, 2])
    logged = []
    model.log_dict = lambda scores, **kwargs: logged.append(scores)
    for batch_idx in (0, 1):
        model.heldout_step(a_batch(), batch_idx, "val")
    assert [sorted(scores) for scores in logged] == [["val/cls_acc_fake", "val/cls_acc_real", "val/rec_l1"]] * 2
    assert all(0 <= float(v) <= 1 for scores in logged for k, v in scores.items() if "acc" in k)
