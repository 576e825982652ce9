"""StarGAN: the attribute-conditioned generator, D's two heads, the WGAN-GP penalty per sample, the
n_critic schedule, which attributes each classification loss uses, the attribute-count check,
translate and the preview grid, the recipe and its linear decay."""

from __future__ import annotations

import lightning as L
import pytest
import torch
import torch.nn.functional as F

from conftest import tiny_trainer
from gan_lightning.core import StepContext
from gan_lightning.models import StarGAN
from gan_lightning.models.stargan import attribute_loss
from tiny_stargan import TinyAttributes, build_model


def a_batch(n: int = 6, num_attributes: int = 3, seed: int = 0):
    data = TinyAttributes(num=n, num_attributes=num_attributes)
    data.setup()
    items = [data.train_set[i] for i in range(n)]
    return {"image": torch.stack([i["image"] for i in items]), "attributes": torch.stack([i["attributes"] for i in items])}


def prepared(model, batch, seed: int = 0, due=("D", "G")):
    torch.manual_seed(seed)
    ctx = StepContext(batch, iteration=0, due=frozenset(due))
    model.prepare_step(ctx)
    return ctx


# ---------------------------------------------------------------------------- networks
def test_generator_sees_image_plus_tiled_attributes_and_uses_them():
    model = build_model(num_attributes=4)
    first = model.generator.net[0]
    assert first.in_channels == 3 + 4 and first.kernel_size == (7, 7)
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    out_a = model.generator(x, torch.tensor([[1.0, 0, 0, 1], [0, 1, 0, 0]]))
    out_b = model.generator(x, torch.tensor([[0.0, 1, 1, 0], [0, 1, 0, 0]]))
    assert out_a.shape == x.shape and out_a.abs().max() <= 1
    assert not torch.allclose(out_a[0], out_b[0]) and torch.equal(out_a[1], out_b[1])  # per-sample conditioning


def test_paper_generator_layout():
    model = StarGAN()
    convs = [m for m in model.generator.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    strided = [m for m in convs if m.stride == (2, 2)]
    assert len(strided) == 4  # two down, two up
    assert sum(isinstance(m, torch.nn.ConvTranspose2d) for m in strided) == 2
    assert len(model.generator.net) - 3 * 5 - 2 == 6  # c7s1 + 2 down + 2 up (3 layers each), 6 blocks, conv + tanh
    norms = [m for m in model.generator.modules() if isinstance(m, torch.nn.InstanceNorm2d)]
    assert norms and all(m.affine and not m.track_running_stats for m in norms)


def test_discriminator_heads_shapes_and_no_norm():
    model = build_model(num_attributes=5)  # 16 px, 3 stride-2 layers: a 2x2 map
    source, logits = model.discriminator(torch.zeros(4, 3, 16, 16))
    assert source.shape == (4, 1, 2, 2) and logits.shape == (4, 5)
    paper = StarGAN()  # 128 px, 6 layers: 2x2 source map, class conv with a 2x2 kernel
    source, logits = paper.discriminator(torch.zeros(1, 3, 128, 128))
    assert source.shape == (1, 1, 2, 2) and logits.shape == (1, 5)
    assert paper.discriminator.class_head.kernel_size == (2, 2)
    slopes = {m.negative_slope for m in paper.discriminator.modules() if isinstance(m, torch.nn.LeakyReLU)}
    assert slopes == {0.01}
    assert not [m for m in paper.discriminator.modules() if "Norm" in type(m).__name__]
    with pytest.raises(ValueError, match="d_layers=5 does not divide 16 px.*fit: 1, 2, 3, 4"):
        build_model(d_layers=5)


# ---------------------------------------------------------------------------- losses
def test_gradient_penalty_is_per_sample_over_the_flattened_gradient():
    L.seed_everything(0)
    model = build_model()
    ctx = prepared(model, a_batch())
    torch.manual_seed(7)
    gp = model.discriminator_terms(ctx)["gp"]
    torch.manual_seed(7)  # the penalty's interpolation factors are the first draw of the D terms
    eps = torch.rand(ctx.batch_size, 1, 1, 1)
    x_hat = (eps * ctx.real + (1 - eps) * ctx.fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(model.discriminator(x_hat)[0].sum(), x_hat)
    per_sample = (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
    whole_batch = (grad.norm() - 1).pow(2)
    assert torch.allclose(gp, per_sample, rtol=1e-5)
    assert not torch.allclose(gp, whole_batch, rtol=1e-3)


def test_classification_uses_real_attributes_for_d_and_target_attributes_for_g():
    L.seed_everything(0)
    model = build_model()
    ctx = prepared(model, a_batch())
    assert not torch.equal(ctx.target, ctx.original)  # the draw changed some images' attributes
    # targets are the batch's own vectors, permuted
    assert sorted(map(tuple, ctx.target.tolist())) == sorted(map(tuple, ctx.original.tolist()))
    d = model.discriminator_terms(ctx)
    logits_real = model.discriminator(ctx.real)[1]
    assert torch.allclose(d["d_cls"], attribute_loss(logits_real, ctx.original))
    assert not torch.allclose(d["d_cls"], attribute_loss(logits_real, ctx.target))
    g = model.generator_terms(ctx)
    logits_fake = model.discriminator(ctx.fake)[1]
    assert torch.allclose(g["g_cls"], attribute_loss(logits_fake, ctx.target))
    assert not torch.allclose(g["g_cls"], attribute_loss(logits_fake, ctx.original))
    # reconstruction: back to the original attributes
    rec = (ctx.real - model.generator(ctx.fake, ctx.original)).abs().mean()
    assert torch.allclose(g["g_rec"], rec)
    assert torch.allclose(g["g_loss"], g["g_adv"] + 1.0 * g["g_cls"] + 10.0 * g["g_rec"])
    assert torch.allclose(d["d_loss"], d["d_adv"] + 1.0 * d["d_cls"] + 10.0 * d["gp"])


def test_attribute_loss_sums_over_attributes_and_averages_over_the_batch():
    logits, target = torch.tensor([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]]), torch.tensor([[1.0, 0, 0], [0, 1, 1]])
    p = torch.sigmoid(logits)
    expected = -(target * p.log() + (1 - target) * (1 - p).log()).sum() / 2
    assert torch.allclose(attribute_loss(logits, target), expected)
    assert not torch.allclose(attribute_loss(logits, target), F.binary_cross_entropy_with_logits(logits, target))


def test_attribute_count_mismatch_is_one_line_naming_both_numbers(tmp_path):
    model = build_model(num_attributes=4)
    with pytest.raises(ValueError, match=r"num_attributes=4 but the data's attribute vectors have 3 values"):
        tiny_trainer(tmp_path, 1).fit(model, TinyAttributes(num_attributes=3))


# ---------------------------------------------------------------------------- schedule and recipe
def test_g_steps_once_every_five_iterations_by_default(tmp_path):
    L.seed_everything(0)
    model = build_model(critic_steps=None)
    assert model.critic_steps == 5
    g_ran = []

    class Record(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            g_ran.append("g_loss" in outputs)

    tiny_trainer(tmp_path, 10, callbacks=[Record()]).fit(model, TinyAttributes(num=48))
    assert [i for i, ran in enumerate(g_ran) if ran] == [4, 9]
    steps = {name: int(next(iter(model.named_optimizer(name).state.values()))["step"])
             for name in ("generator", "discriminator")}
    assert steps == {"generator": 2, "discriminator": 10}


def test_recipe_and_linear_decay_of_both_rates(tmp_path):
    model = build_model(critic_steps=None, lr_decay_iters=4)
    assert (model.lr_g, model.lr_d, model.betas) == (1e-4, 1e-4, (0.5, 0.999))
    tiny_trainer(tmp_path, 8).fit(model, TinyAttributes(num=48))
    # 8 iterations, the last 4 decaying: after iteration 8 the factor is (8 - 8) / 4 = 0
    for name in ("generator", "discriminator"):
        assert model.named_optimizer(name).param_groups[0]["lr"] == pytest.approx(0.0)
    assert model.lr_schedulers()[0].base_lrs == [1e-4]


# ---------------------------------------------------------------------------- translate and pictures
def test_translate_with_attributes_deterministic_and_mode_independent():
    model = build_model()
    images = a_batch(4)["image"]
    vector = torch.tensor([1.0, 0.0, 1.0])
    out = model.translate(images, attributes=vector)
    assert out.shape == images.shape and out.abs().max() <= 1
    assert torch.equal(out, model.translate(images, attributes=vector.expand(4, -1)))
    assert torch.equal(out, model.translate(images, direction="AtoB", attributes=[1, 0, 1]))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    in_train = model.translate(images, attributes=vector)
    model.eval()
    assert torch.equal(in_train, model.translate(images, attributes=vector)) and torch.equal(out, in_train)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # no running statistics moved
    assert not torch.allclose(out, model.translate(images, attributes=[0, 1, 0]))
    per_image = model.translate(images, attributes=torch.eye(3)[[0, 1, 2, 0]])
    assert torch.allclose(per_image[1:2], model.translate(images[1:2], attributes=[0, 1, 0]), atol=1e-6)


def test_translate_errors_are_one_line():
    model = build_model()
    images = torch.zeros(2, 3, 16, 16)
    with pytest.raises(ValueError, match="direction must be AtoB, got 'BtoA'"):
        model.translate(images, direction="BtoA", attributes=[1, 0, 0])
    with pytest.raises(ValueError, match="needs attributes=: the target vector of 3 values"):
        model.translate(images)
    with pytest.raises(ValueError, match=r"shape \(3,\) or \(2, 3\), got \(2, 4\)"):
        model.translate(images, attributes=torch.zeros(2, 4))


def test_preview_grid_shows_each_input_then_each_attribute_flipped():
    model = build_model()
    inputs = a_batch(6)["image"]
    grid, nrow = model.preview_grid(num_samples=8, inputs=inputs)
    assert nrow == 4 and grid.shape == (2 * 4, 3, 16, 16)  # 8 // 4 = 2 rows of input + 3 flips
    assert torch.equal(grid[0], inputs[0]) and torch.equal(grid[4], inputs[1])
    read = (model.discriminator(inputs[:2])[1] > 0).float()
    for k in range(3):
        flipped = read.clone()
        flipped[:, k] = 1 - flipped[:, k]
        assert torch.equal(grid[1 + k::4], model.translate(inputs[:2], attributes=flipped))
