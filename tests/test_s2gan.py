"""S2GAN and SurfaceDigits: the data's normals are unit vectors of the digit's height field and its image is
n . l times the texture; the Structure G draws unit normals; the Style G's image depends on the normals; the
Style-GAN loads and freezes the Structure G of a checkpoint; the sample grid shows normals beside images."""

from __future__ import annotations

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_trainer
from test_core import _fit, assert_bitwise_equal
from tiny_s2gan import build_data, build_structure, build_style

from gan_lightning.core import StepContext
from gan_lightning.data.surfaces import (
    LIGHT,
    height_field,
    shade,
    surface_normals,
    texture_crops,
)
from gan_lightning.errors import SettingError
from gan_lightning.models.s2gan import normal_error


@pytest.fixture(scope="module")
def surfaces():
    data = build_data()
    return data, *data.surfaces()


def context(model, data):
    ctx = StepContext(data, due=frozenset({"D", "G"}), real_key=model.output().key)
    model.prepare_step(ctx)
    return ctx


def fit_structure(tmp_path, steps=2):
    L.seed_everything(0)
    model = build_structure()
    trainer = tiny_trainer(tmp_path / "structure", steps, limit_val_batches=0)
    trainer.fit(model, build_data())
    ckpt = tmp_path / "structure.ckpt"
    trainer.save_checkpoint(ckpt)
    return model, ckpt


# ---------------------------------------------------------------------------- the data
def test_the_normals_are_unit_vectors_of_the_digits_height_field(surfaces):
    _, images, normals, _ = surfaces
    assert normals.shape == (5000, 3, 32, 32) and images.shape == (5000, 3, 32, 32)
    assert torch.allclose(normals.norm(dim=1), torch.ones(5000, 32, 32), atol=1e-5)
    assert normals[:, 2].min() > 0  # every normal faces the viewer
    # flat background far from the ink, tilted normals on the strokes' slopes
    assert torch.equal(normals[:, :, 0, 0], torch.tensor([0.0, 0.0, 1.0]).expand(5000, 3))
    assert (normals[:, 2] < 0.9).float().mean() > 0.02
    # a ramp h = x has the normal (-1, 0, 1) / sqrt(2); h = 2y: (0, -2, 1) / sqrt(5)
    ramp = torch.arange(8.0).view(1, 1, 1, 8).expand(1, 1, 8, 8)
    assert torch.allclose(surface_normals(ramp)[0, :, 4, 4], torch.tensor([-1.0, 0.0, 1.0]) / 2**0.5)
    slope = 2 * torch.arange(8.0).view(1, 1, 8, 1).expand(1, 1, 8, 8)
    assert torch.allclose(surface_normals(slope)[0, :, 4, 4], torch.tensor([0.0, -2.0, 1.0]) / 5**0.5)
    # the height is highest inside the strokes: zero off the ink
    from gan_lightning.data.digit_domains import mnist_digits

    digits = mnist_digits(32)[0][:20]
    h = height_field(digits, smoothing=0.0)
    assert torch.equal(h == 0, digits <= 0) and h.max() >= 2


def test_the_image_is_the_lambertian_shading_n_dot_l_times_the_texture(surfaces):
    data, images, normals, _ = surfaces
    light = F.normalize(torch.tensor(LIGHT), dim=0)
    shading = (normals * light.view(1, 3, 1, 1)).sum(1, keepdim=True).clamp(min=0)
    assert torch.allclose(shade(normals, LIGHT), shading)
    crops = texture_crops(5000, 32, data.textures, data.texture_scale, data.seed)
    assert torch.allclose((images[:, :1] + 1) / 2, shading * crops, atol=1e-6)
    assert torch.equal(images[:, 0], images[:, 2])  # grey, replicated
    # the same texture crop under a different structure gives a different image: the image follows the structure
    flat = torch.tensor([0.0, 0.0, 1.0]).view(1, 3, 1, 1).expand(2, 3, 32, 32)
    assert not torch.allclose(shade(normals[:2], LIGHT) * crops[:2], shade(flat, LIGHT) * crops[:2])
    assert crops.min() >= 0 and crops.max() <= 1 and crops.std() > 0.05  # a real texture, not a constant


def test_samples_are_dicts_of_image_and_normals_and_bad_settings_are_one_line_errors():
    data = build_data()
    data.setup()
    item = data.train_set[0]
    assert set(item) == {"image", "normals", "label"} and len(data.train_set) == 64
    assert item["normals"].shape == (3, 32, 32) and data.data_shape == (3, 32, 32)
    assert build_data(channels=1).data_shape == (1, 32, 32)
    with pytest.raises(ValueError, match=r"^data.textures: unknown texture 'wood'; textures: brick, grass, gravel"):
        build_data(textures=("wood",))
    with pytest.raises(ValueError, match=r"^data.light must be 3 numbers"):
        build_data(light=(0.0, 0.0, -1.0))


# ---------------------------------------------------------------------------- the model
def test_the_structure_g_draws_unit_normals_and_d_judges_them(surfaces):
    model = build_structure()
    assert model.output().key == "normals" and model.output().shape == (3, 32, 32) and model.stages() == ()
    model.train()
    ctx = context(model, {"image": surfaces[1][:6], "normals": surfaces[2][:6]})
    assert ctx.real is not None and torch.equal(ctx.real, surfaces[2][:6])  # D's real: the normals
    assert ctx.fake.shape == (6, 3, 32, 32)
    assert torch.allclose(ctx.fake.norm(dim=1), torch.ones(6, 32, 32), atol=1e-5)
    samples = model.sample(5)
    assert torch.allclose(samples.norm(dim=1), torch.ones(5, 32, 32), atol=1e-5)
    terms = model.discriminator_terms(ctx)
    assert terms["d_loss"] > 0 and model.generator_terms(ctx)["g_loss"] > 0


def test_the_style_g_image_changes_when_the_normals_change(surfaces):
    model = build_style().eval()
    normals = surfaces[2][:4]
    z = torch.randn(4, 4, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = model.style(normals, z), model.style(normals.flip(0), z)
        again = model.style(normals, z)
    assert torch.equal(a, again)
    scale = a.abs().amax(dim=(1, 2, 3))  # an untrained G in eval mode draws faint images: compare relatively
    assert ((a - b).abs().amax(dim=(1, 2, 3)) / scale).min() > 0.05  # every image follows its own normals
    with torch.no_grad():
        assert ((a - model.style(normals, z + 1)).abs().amax(dim=(1, 2, 3)) / scale).min() > 0.005  # and its noise


def test_style_d_judges_image_normals_pairs_and_g_trains_on_real_normals(surfaces):
    model = build_style().train()
    ctx = context(model, {"image": surfaces[1][:6], "normals": surfaces[2][:6]})
    assert ctx.fake.shape == (6, 3, 32, 32) and model.output().key == "image"
    seen = []
    hook = model.discriminator.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    model.discriminator_terms(ctx)
    hook.remove()
    assert [x.shape[1] for x in seen] == [6, 6]
    assert torch.equal(seen[0][:, 3:], surfaces[2][:6]) and torch.equal(seen[0][:, :3], surfaces[1][:6])
    assert torch.equal(seen[1][:, 3:], surfaces[2][:6])  # the fake image beside its real normals


def test_the_style_gan_loads_and_freezes_the_structure_g_of_a_checkpoint(tmp_path, surfaces):
    structure, ckpt = fit_structure(tmp_path)
    L.seed_everything(0)
    model = build_style(structure_ckpt_path=str(ckpt))
    assert not int(model.structure_ready)
    model.load_structure(str(ckpt))
    saved = structure.generator_ema if structure.generator_ema is not None else structure.generator
    assert all(torch.equal(a, b) for a, b in zip(model.generator.structure.state_dict().values(),
                                                 saved.state_dict().values()))
    before = {k: v.clone() for k, v in model.generator.structure.state_dict().items()}
    model.train()
    assert not model.generator.structure.training
    ctx = context(model, {"image": surfaces[1][:6], "normals": surfaces[2][:6]})
    model.generator_terms(ctx)["g_loss"].backward()
    assert all(p.grad is None for p in model.generator.structure.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.generator.style.parameters())
    model.zero_grad(set_to_none=True)
    tiny_trainer(tmp_path / "style", 3, limit_val_batches=0).fit(model, build_data())
    after = model.generator.structure.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    optimised = {id(p) for group in model.named_optimizer("generator").param_groups for p in group["params"]}
    assert not optimised & {id(p) for p in model.generator.structure.parameters()}
    # sampling chains them: the image's normals are the loaded Structure G's on z_hat
    z = model.sample_noise(3)
    normals, image = model.sample(noise=z, stages=True, use_ema=False)
    with torch.no_grad():
        assert torch.allclose(normals, saved.eval()(z[:, :8]), atol=1e-6)
    assert image.shape == (3, 3, 32, 32)


def test_stage_settings_that_cannot_work_are_one_line_errors(tmp_path):
    with pytest.raises(SettingError, match=r"^model.structure_ckpt_path: the Style-GAN \(model.stage style\) samples"):
        build_style(structure_ckpt_path=None)
    with pytest.raises(SettingError, match=r"^model.structure_ckpt_path: only the Style-GAN"):
        build_structure(structure_ckpt_path="x.ckpt")
    with pytest.raises(SettingError, match=r"^model.stage must be 'structure' or 'style', got 'joint'"):
        build_structure(stage="joint")
    missing = str(tmp_path / "missing.ckpt")
    with pytest.raises(SettingError, match=rf"^model.structure_ckpt_path: no file '{missing}'; give the checkpoint"):
        build_style(structure_ckpt_path=missing).load_structure(missing)
    _, ckpt = fit_structure(tmp_path)
    with pytest.raises(SettingError, match=r"^model.g_width: 8 here, 4 in the checkpoint .* of an S2GAN Structure-GAN fit \(model.stage structure\); set it as"):
        build_style(structure_ckpt_path=str(ckpt), g_width=8).load_structure(str(ckpt))


def test_the_sample_grid_shows_normals_beside_images():
    model = build_style()
    pictures, per_row = model.preview_grid(num_samples=6, nrow=3)
    assert per_row == 6 and pictures.shape == (12, 3, 32, 32)
    normals, image = model.sample(noise=model.fixed_noise[:6], stages=True)
    assert torch.allclose(pictures[0], normals[0]) and torch.allclose(pictures[1], image[0])
    assert torch.equal(image, model.sample(noise=model.fixed_noise[:6]))
    grey = build_style(data_shape=(1, 32, 32))
    assert grey.sample(2).shape == (2, 1, 32, 32) and grey.sample(2, stages=True)[1].shape == (2, 3, 32, 32)


def test_the_structure_gan_resumes_bitwise_mid_epoch(tmp_path):
    """The every-model test runs the Style-GAN (on a random Structure G); the Structure-GAN the same way here."""
    straight = _fit(build_structure, build_data, tmp_path / "straight", 6, every=3)
    (checkpoint,) = (tmp_path / "straight" / "ckpt").glob("*step=3.ckpt")
    resumed = _fit(build_structure, build_data, tmp_path / "resumed", 6, ckpt_path=checkpoint)
    assert resumed.global_step == 6
    assert_bitwise_equal(straight, resumed)


# ---------------------------------------------------------------------------- the FCN constraint
def test_the_normal_error_is_zero_exactly_when_the_normals_agree(surfaces):
    normals = surfaces[2][:4]
    assert normal_error(normals, normals).abs() < 1e-6
    assert torch.isclose(normal_error(-normals, normals), torch.tensor(2.0))
    assert normal_error(normals.flip(0), normals) > 0.01


def test_the_fcn_constraint_learns_normals_from_real_images_and_adds_its_error_on_g_images(tmp_path, surfaces):
    model = build_style(fcn_weight=0.1, fcn_width=4)
    assert [p.name for p in model.phase_list] == ["FCN", "D", "G"]
    assert "fcn" in model.optimizer_groups() and build_style().fcn is None
    model.train()
    ctx = context(model, {"image": surfaces[1][:6], "normals": surfaces[2][:6]})
    fcn = model.fcn_terms(ctx)["fcn_loss"]
    assert torch.allclose(fcn, normal_error(model.fcn(surfaces[1][:6]), surfaces[2][:6]))
    terms = model.generator_terms(ctx)
    assert torch.allclose(terms["g_loss"], terms["g_adversarial"] + 0.1 * terms["g_fcn"])
    # the FCN's error on G's image reaches G through the FCN
    model.zero_grad(set_to_none=True)
    terms["g_fcn"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.generator.style.parameters())
    model.zero_grad(set_to_none=True)
    before = {k: v.clone() for k, v in model.fcn.state_dict().items()}
    tiny_trainer(tmp_path, 3, limit_val_batches=0).fit(model, build_data())
    assert any(not torch.equal(before[k], v) for k, v in model.fcn.state_dict().items() if v.is_floating_point())
    with pytest.raises(SettingError, match=r"^model.fcn_weight: the FCN constraint is the Style-GAN's"):
        build_structure(fcn_weight=0.1)


def test_the_style_gan_with_the_fcn_resumes_bitwise_mid_epoch(tmp_path):
    def build():
        return build_style(fcn_weight=0.1, fcn_width=4)

    straight = _fit(build, build_data, tmp_path / "straight", 6, every=3)
    (checkpoint,) = (tmp_path / "straight" / "ckpt").glob("*step=3.ckpt")
    resumed = _fit(build, build_data, tmp_path / "resumed", 6, ckpt_path=checkpoint)
    assert resumed.global_step == 6
    assert_bitwise_equal(straight, resumed)


@pytest.mark.parametrize("build", [build_structure, lambda: build_style(fcn_weight=0.1, fcn_width=4)],
                         ids=["structure", "style_fcn"])
def test_held_out_scores_of_both_stages(build, tmp_path):
    model = build()
    trainer = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False, limit_val_batches=2,
                        accelerator="cpu", default_root_dir=str(tmp_path))
    (scores,) = trainer.validate(model, build_data())
    expected = {"val/d_real", "val/d_fake"} | ({"val/fcn_real", "val/fcn_fake"} if model.fcn is not None else set())
    assert set(scores) == expected and all(torch.isfinite(torch.tensor(v)) for v in scores.values())


# ---------------------------------------------------------------------------- the authors' margin rule
def test_the_margin_rule_decides_on_ds_errors_as_the_authors():
    """structure-gan/adversarial_ct.lua: D skips when its real or fake error is below 0.3, G when one is above
    0.7; both update when both would skip. The errors: D's binary cross-entropy, targets 1 and 0, unsmoothed."""
    model = build_structure(label_smoothing=0.1)
    rules = {(0.5, 0.5): (True, True), (0.2, 0.5): (False, True), (0.5, 0.25): (False, True),
             (0.75, 0.5): (True, False), (0.5, 0.71): (True, False), (0.2, 0.8): (True, True)}
    for errors, expected in rules.items():
        ctx = StepContext(torch.zeros(2, 3, 32, 32))
        ctx.margin_errors = torch.tensor(errors)
        assert (model.discriminator_updates(ctx), model.generator_updates(ctx)) == expected, errors
    assert model.margin_skips == {"D": 2, "G": 2}
    data = build_data()
    data.setup()
    batch = {key: torch.stack([data.train_set[i][key] for i in range(6)]) for key in ("image", "normals")}
    model.eval()  # no dropout: D's logits are the same twice
    ctx = context(model, batch)
    terms = model.discriminator_terms(ctx)
    real, fake = model.judge(ctx.real, ctx), model.judge(ctx.fake, ctx)
    assert torch.allclose(ctx.margin_errors, torch.stack([
        F.binary_cross_entropy_with_logits(real, torch.ones_like(real)),
        F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))]))
    assert torch.equal(terms["d_error_real"], ctx.margin_errors[0])
    assert "d_error_real" not in build_structure(update_margin=0.0).discriminator_terms(ctx)
    with pytest.raises(SettingError, match=r"^model.update_margin must be in \[0, 0.5\) .* got 0.7$"):
        build_structure(update_margin=0.7)
    with pytest.raises(SettingError, match=r"^model.d_plan must be 'authors' or 'dcgan', got 'big'$"):
        build_structure(d_plan="big")
    with pytest.raises(SettingError, match=r"^model.d_norm must be 'none', or 'batch' with model.d_plan dcgan .* "
                                           r"got 'batch' with model.d_plan authors$"):
        build_structure(d_norm="batch")
    norms = {type(m).__name__ for m in build_structure(d_plan="dcgan", d_norm="batch").discriminator.modules()}
    assert "BatchNorm2d" in norms and "BatchNorm2d" not in {type(m).__name__ for m in model.discriminator.modules()}


@pytest.mark.parametrize("build", [build_structure, build_style])
def test_a_skipped_update_leaves_the_weights_and_the_optimizer_state_exactly_unchanged(build, tmp_path):
    """Errors forced per iteration: both update, D skips, G skips, both would skip (so both update); a skipped
    network's weights and its Adam state (moments and step count) stay bitwise as they were, the other's change."""
    assert build().update_margin == 0.3  # the authors' rule is the default
    schedule = [(0.5, 0.5), (0.1, 0.5), (0.5, 0.9), (0.1, 0.9)]
    expected = [(True, True), (False, True), (True, False), (True, True)]

    class Forced(type(build())):
        def discriminator_terms(self, ctx):
            terms = super().discriminator_terms(ctx)
            ctx.margin_errors = ctx.margin_errors.new_tensor(schedule[ctx.iteration])
            return terms

    def snapshot(trainer, model):
        nets = {"G": model.generator, "D": model.discriminator}
        # parameters (G's BatchNorm statistics move with every forward, as the authors' do)
        weights = {k: {n: t.detach().clone() for n, t in net.named_parameters()} for k, net in nets.items()}
        states = {k: {n: {s: v.clone() for s, v in state.items()} for n, state in
                      trainer.optimizers[i].state_dict()["state"].items()} for k, i in (("G", 0), ("D", 1))}
        return weights, states

    changed: list[tuple[bool, bool]] = []

    class Watch(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            self.before = snapshot(trainer, pl_module)

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            after = snapshot(trainer, pl_module)

            def same(a, b):
                return a.keys() == b.keys() and all(
                    same(a[k], b[k]) if isinstance(a[k], dict) else torch.equal(a[k], b[k]) for k in a)

            changed.append(tuple(not (same(self.before[0][k], after[0][k]) and same(self.before[1][k], after[1][k]))
                                 for k in ("D", "G")))

    L.seed_everything(0)
    model = build()
    model.__class__ = Forced
    tiny_trainer(tmp_path, len(schedule), [Watch()]).fit(model, build_data())
    assert changed == expected
    assert model.margin_skips == {"D": 1, "G": 1}
