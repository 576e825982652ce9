"""The phase-based core: phases and intervals, the step context, named optimizers, the
discriminator entry point, training state, the sampling protocol, and bitwise resume of
every model (in process; tests/test_core_ddp.py runs them under 2-process DDP)."""

from __future__ import annotations

import inspect
import math

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from conftest import InterruptAt, tiny_trainer
from core_models import (CaptionData, ClipData, LazyRegularized, SequenceData, SequenceGenerator, TextConditioned,
                         TwoDomainData, TwoWayTranslator, VideoGenerator)
from gan_lightning.core import Phase, ReplayPool, StepContext, TrainingState
from gan_lightning.data import MNIST5k
from gan_lightning.models import WGANGP, known_models
from test_conditional_models import TINY as CONDITIONAL_TINY
from test_conditional_models import make as make_conditional
from test_stability_models import TINY as STABILITY_TINY
from translation_tiny import TINY as TRANSLATION_TINY


def tiny_model(name: str, **overrides):
    """Every registered model, CPU-small, on 28 px digits (image-to-image models: on their own tiny data)."""
    if name in TRANSLATION_TINY:
        return TRANSLATION_TINY[name][0](**overrides)
    if name in CONDITIONAL_TINY:
        return make_conditional(name, **overrides)
    if name == "DCGAN":
        return known_models()[name](data_shape=(1, 28, 28), latent_dim=8, g_width=8, d_width=8, **overrides)
    accepted = inspect.signature(known_models()[name].__init__).parameters
    tiny = {key: value for key, value in STABILITY_TINY.items() if key in accepted}
    return known_models()[name](data_shape=(1, 28, 28), **tiny, **overrides)


# ---------------------------------------------------------------------------- phases and context
def test_phase_intervals_keys_and_gain():
    phase = Phase("Dreg", "discriminator", lambda ctx: {}, interval=4, lazy=True)
    assert [i for i in range(12) if phase.due(i)] == [3, 7, 11]
    assert phase.key == "dreg_loss" and phase.gain == 4.0
    assert Phase("G", "generator", lambda ctx: {}).gain == 1.0
    with pytest.raises(ValueError, match="interval must be >= 1"):
        Phase("D", "discriminator", lambda ctx: {}, interval=0)
    with pytest.raises(ValueError, match="lazy phase needs interval >= 2"):
        Phase("D", "discriminator", lambda ctx: {}, lazy=True)


def test_step_context_from_every_batch_kind():
    x, y = torch.zeros(3, 1, 4, 4), torch.arange(3)
    assert StepContext(x).real is x and StepContext(x).labels is None
    ctx = StepContext((x, y))
    assert ctx.real is x and ctx.labels is y and ctx.batch_size == 3
    ctx = StepContext({"a": x, "b": -x}, iteration=5, due=frozenset({"G"}))
    assert ctx.a is x and ctx.runs("G") and not ctx.runs("D") and ctx.iteration == 5
    with pytest.raises(AttributeError, match="no 'fake'.*it has: a, b"):
        ctx.fake


# ---------------------------------------------------------------------------- named optimizers
def test_recipe_defaults_and_old_flags_reach_the_optimizers(tmp_path):
    model = WGANGP(data_shape=(2,), **STABILITY_TINY)
    assert (model.lr_g, model.lr_d, model.betas, model.critic_steps) == (1e-4, 1e-4, (0.0, 0.9), 5)
    model = WGANGP(data_shape=(2,), lr_g=3e-4, lr_d=5e-4, betas=(0.5, 0.99), critic_steps=2, **STABILITY_TINY)
    assert model.optimizer_settings("generator").lr == 3e-4
    assert model.optimizer_settings("discriminator").lr == 5e-4
    assert model.optimizer_settings("discriminator").betas == (0.5, 0.99) and model.critic_steps == 2


def test_per_network_settings_from_a_yaml_table():
    model = WGANGP(data_shape=(2,), optimizers={"discriminator": {"lr": 4e-4, "betas": [0.0, 0.99],
                                                                  "weight_decay": 1e-5}}, **STABILITY_TINY)
    optimizers = model.configure_optimizers()
    g, d = optimizers
    assert g.param_groups[0]["lr"] == 1e-4 and g.param_groups[0]["betas"] == (0.0, 0.9)
    assert d.param_groups[0]["lr"] == 4e-4 and d.param_groups[0]["betas"] == (0.0, 0.99)
    assert d.param_groups[0]["weight_decay"] == 1e-5


def test_bad_optimizer_settings_name_the_key_and_what_is_accepted():
    model = WGANGP(data_shape=(2,), optimizers={"critic": {"lr": 1e-3}}, **STABILITY_TINY)
    with pytest.raises(ValueError, match="unknown network 'critic'; WGANGP has generator, discriminator"):
        model.configure_optimizers()
    with pytest.raises(ValueError, match="unknown setting 'learning_rate'; accepted: optimizer, lr, betas"):
        WGANGP(data_shape=(2,), optimizers={"generator": {"learning_rate": 1e-3}},
               **STABILITY_TINY).configure_optimizers()
    with pytest.raises(ValueError, match="optimizer must be one of adam, adamw, rmsprop, sgd; got 'lion'"):
        WGANGP(data_shape=(2,), optimizer="lion", **STABILITY_TINY)


def test_no_model_file_but_the_core_defines_a_training_loop_or_optimizer_arguments():
    import inspect

    for name, cls in known_models().items():
        assert "training_step" not in cls.__dict__, name
        params = inspect.signature(cls.__init__).parameters
        assert not {"lr_g", "lr_d", "betas", "optimizer", "critic_steps"} & set(params), name


# ---------------------------------------------------------------------------- lazy regularization
def test_lazy_phase_scales_lr_and_betas_once_and_runs_every_fourth_iteration(tmp_path):
    model = LazyRegularized(lr_d=1e-3, betas=(0.5, 0.9))
    log = []

    class Record(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            log.append("r1" in outputs)

    tiny_trainer(tmp_path, 8, callbacks=[Record()]).fit(model, TwoDomainData_as_images())
    d = model.named_optimizer("discriminator")
    assert d.param_groups[0]["lr"] == pytest.approx(1e-3 * 4 / 5)
    assert d.param_groups[0]["betas"] == pytest.approx((0.5 ** 0.8, 0.9 ** 0.8))
    assert model.named_optimizer("generator").param_groups[0]["lr"] == pytest.approx(2e-4)  # unscaled
    assert log == [False, False, False, True, False, False, False, True]
    assert model.training_state.r1_calls == 2
    # D stepped on 8 main and 2 lazy phases
    state = d.state[next(iter(model.discriminator.parameters()))]
    assert int(state["step"]) == 10


def test_lazy_phase_loss_is_multiplied_by_its_interval():
    model = LazyRegularized()
    phase = next(p for p in model.phase_list if p.name == "Dreg")
    assert phase.gain == 4.0 and phase.lazy


class _AsImages(TwoDomainData):
    """The two-domain data as plain image batches (domain a)."""

    def build_datasets(self):
        train, heldout = super().build_datasets()
        return torch.utils.data.TensorDataset(train.a), torch.utils.data.TensorDataset(heldout.a)


def TwoDomainData_as_images():
    return _AsImages(batch_size=8)


# ---------------------------------------------------------------------------- the D entry point
def tiny_data(name: str):
    """The data module the tiny ``name`` trains on."""
    return TRANSLATION_TINY[name][1]() if name in TRANSLATION_TINY else MNIST5k(batch_size=16)


@pytest.mark.parametrize("name", sorted(known_models()) + ["TextConditioned", "VideoGenerator", "SequenceGenerator"])
def test_every_discriminator_call_goes_through_run_discriminator(name, tmp_path):
    """An augmentation installed once sees every input of every D forward of every model."""
    L.seed_everything(0)
    build, data = RESUMABLE[name]
    model = build()
    augmented: list[torch.Tensor] = []

    def augment(x):
        out = x * 1.0
        augmented.append(out)  # kept alive, so ids stay unique
        return out

    model.set_discriminator_augment(augment)
    seen: list[torch.Tensor] = []
    in_step = [False]

    class Steps(L.Callback):  # D calls outside training (data-dependent init, held-out scores) are not augmented
        def on_train_batch_start(self, *args):
            in_step[0] = True

        def on_train_batch_end(self, *args):
            in_step[0] = False

    produced: list[torch.Tensor] = []  # outputs of D's own layers: inputs inside D, not D inputs

    def keep_output(module, args, output):
        produced.extend(t for t in (output if isinstance(output, tuple) else (output,)) if isinstance(t, torch.Tensor))

    def record(module, args):
        x = args[0] if args else None
        top = module is model.discriminator
        if in_step[0] and isinstance(x, torch.Tensor) and (top or x.dim() == 4) and all(x is not t for t in produced):
            seen.append(x)

    for module in model.discriminator.modules():
        module.register_forward_hook(keep_output)
    # D itself and its direct children (a method call such as EBGAN's encode starts in a child)
    for module in [model.discriminator, *model.discriminator.children()]:
        module.register_forward_pre_hook(record)
    tiny_trainer(tmp_path, 2, limit_val_batches=0, callbacks=[Steps()]).fit(model, data())
    assert seen, f"{name}: D never ran"
    ids = {id(t) for t in augmented}
    assert all(id(x) in ids for x in seen), f"{name}: a D call bypassed run_discriminator"


# ---------------------------------------------------------------------------- training state
def test_training_state_round_trip_and_clear_errors():
    state = TrainingState()
    state.declare("k", torch.tensor(0.5))
    state.declare("count", 3)
    pool = state.declare("pool", ReplayPool(2))
    pool.query(torch.ones(3, 1, 2, 2))
    saved = state.state_dict()
    other = TrainingState()
    other.declare("k", torch.tensor(0.0))
    other.declare("count", 0)
    other.declare("pool", ReplayPool(2))
    other.load_state_dict(saved)
    assert float(other.k) == 0.5 and other.count == 3 and len(other.pool) == 2
    with pytest.raises(AttributeError, match="not declared"):
        state.alpha = 1.0
    with pytest.raises(ValueError, match="declared twice"):
        state.declare("k", 1.0)
    with pytest.raises(KeyError, match="lacks training state count"):
        other.load_state_dict({"k": torch.tensor(1.0), "pool": saved["pool"]})


def test_replay_pool_fills_then_swaps_half_of_the_time():
    torch.manual_seed(0)
    pool = ReplayPool(4)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool.query(first), first) and len(pool) == 4
    batch = torch.arange(100.0, 300.0).view(200, 1, 1, 1)
    out = pool.query(batch)
    from_pool = int((out != batch).sum())
    assert 70 < from_pool < 130  # about half are swapped for a stored image of an earlier query
    stored = torch.cat(pool.images).flatten()
    assert set(out[out != batch].tolist()) <= set(range(4)) | set(range(100, 300))
    assert stored.numel() == 4 and not set(stored.tolist()) <= set(range(4))  # the pool took new images
    assert torch.equal(ReplayPool(0).query(first), first)


def test_replay_pool_draws_from_its_own_generator_and_saves_it():
    """Other draws from the global RNG do not shift the pool's; its generator resumes with it."""
    first, batch = torch.arange(4.0).view(4, 1, 1, 1), torch.arange(100.0, 140.0).view(40, 1, 1, 1)
    a, b = ReplayPool(4, seed=3), ReplayPool(4, seed=3)
    a.query(first), b.query(first)
    torch.manual_seed(0)
    out_a = a.query(batch)
    torch.rand(1000)  # someone else draws
    assert torch.equal(out_a, b.query(batch))
    saved = a.state_dict()
    restored = ReplayPool(4, seed=99)
    restored.load_state_dict(saved)
    assert torch.equal(a.query(batch), restored.query(batch))
    assert not torch.equal(ReplayPool(4, seed=3).query(torch.cat([first, batch])),
                           ReplayPool(4, seed=4).query(torch.cat([first, batch])))


# ---------------------------------------------------------------------------- sampling protocol
def test_sampling_protocol_noise_conditional_translation():
    dcgan, cgan = tiny_model("DCGAN"), tiny_model("CGAN")
    assert dcgan.sample(5, rng=torch.Generator().manual_seed(0)).shape == (5, 1, 28, 28)
    assert torch.equal(dcgan.sample(3, rng=torch.Generator().manual_seed(1)),
                       dcgan.sample(3, rng=torch.Generator().manual_seed(1)))
    assert cgan.sample(4, labels=torch.tensor([0, 1, 2, 3])).shape == (4, 1, 28, 28)
    grid, nrow = cgan.preview_grid(nrow=3)
    assert nrow == 3 and grid.size(0) == 3 * cgan.num_classes  # one row per class
    with pytest.raises(TypeError, match="not an image-to-image model"):
        dcgan.translate(torch.zeros(1, 1, 28, 28))
    translator = TwoWayTranslator()
    with pytest.raises(TypeError, match="call translate"):
        translator.sample(2)
    inputs = torch.zeros(3, 1, 8, 8)
    assert translator.translate(inputs).shape == (3, 1, 8, 8)
    grid, nrow = translator.preview_grid(nrow=4, inputs=inputs)
    assert grid.shape == (6, 1, 8, 8) and torch.equal(grid[0], inputs[0])  # input beside its output


# ---------------------------------------------------------------------------- bitwise resume
def _fit(build, data, root, steps, ckpt_path=None, interrupt_at=None, every=None):
    """Seeded fit of ``steps`` iterations; a checkpoint every ``every`` iterations (all kept) or at
    ``interrupt_at``, where the run then stops as a killed job would; ``ckpt_path``: resume from it."""
    L.seed_everything(0)
    model = build()
    callbacks = [ModelCheckpoint(dirpath=root / "ckpt", save_last=True, every_n_train_steps=every or interrupt_at or 1000,
                                 save_top_k=-1 if every else 1)]
    if interrupt_at:
        callbacks.append(InterruptAt(interrupt_at))
    trainer = tiny_trainer(root, steps, callbacks=callbacks, enable_checkpointing=True)
    trainer.fit(model, data(), ckpt_path=ckpt_path)
    return model


def same_state(x, y) -> bool:
    """Exact equality through nested dicts / lists of tensors and plain values."""
    if isinstance(x, torch.Tensor) or isinstance(y, torch.Tensor):
        return isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor) and x.shape == y.shape and torch.equal(x, y)
    if isinstance(x, dict):
        return isinstance(y, dict) and x.keys() == y.keys() and all(same_state(x[k], y[k]) for k in x)
    if isinstance(x, (list, tuple)):
        return type(x) is type(y) and len(x) == len(y) and all(same_state(a, b) for a, b in zip(x, y))
    return x == y


def assert_bitwise_equal(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    assert [k for k in sa if not torch.equal(sa[k], sb[k])] == []
    ta, tb = a.training_state.state_dict(), b.training_state.state_dict()
    assert same_state(ta, tb)
    for name in a._optimizer_index:
        for state_a, state_b in zip(a.named_optimizer(name).state.values(), b.named_optimizer(name).state.values()):
            assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)


#: Test-only models of the families still to come, built on the core's declarations only.
PROTOCOL_MODELS = {
    "TwoWayTranslator": (TwoWayTranslator, lambda: TwoDomainData(batch_size=8)),
    "LazyRegularized": (LazyRegularized, TwoDomainData_as_images),
    "TextConditioned": (TextConditioned, CaptionData),
    "VideoGenerator": (VideoGenerator, ClipData),
    "SequenceGenerator": (SequenceGenerator, SequenceData),
}
RESUMABLE = {
    **{name: (lambda name=name: tiny_model(name), lambda name=name: tiny_data(name)) for name in known_models()},
    **PROTOCOL_MODELS,
}


@pytest.mark.parametrize("name", sorted(RESUMABLE))
def test_every_model_resumes_bitwise_mid_epoch(name, tmp_path):
    """The uninterrupted run's checkpoint of iteration 3 (mid-epoch: 5 batches an epoch) is what a job
    stopped there leaves (test_resume.py and the preemption tests stop real runs); resumed, it ends
    bitwise where the uninterrupted run ends."""
    build, data = RESUMABLE[name]
    straight = _fit(build, data, tmp_path / "straight", 6, every=3)
    (checkpoint,) = (tmp_path / "straight" / "ckpt").glob("*step=3.ckpt")
    resumed = _fit(build, data, tmp_path / "resumed", 6, ckpt_path=checkpoint)
    assert resumed.global_step == 6
    assert_bitwise_equal(straight, resumed)
    # training moved the weights (equality is not from doing nothing)
    fresh = build()
    moved = [k for k, v in fresh.state_dict().items() if v.is_floating_point()
             and not torch.equal(v, straight.state_dict()[k])]
    assert moved, name


def test_translator_pool_contents_resume_with_the_checkpoint(tmp_path):
    model = _fit(TwoWayTranslator, lambda: TwoDomainData(batch_size=8), tmp_path / "run", 3, interrupt_at=3)
    saved = torch.load(tmp_path / "run" / "ckpt" / "last.ckpt", weights_only=False)
    pool = saved["gan_lightning"]["training_state"]["pool_a"]
    assert pool["images"].shape == (4, 1, 8, 8)
    assert torch.equal(pool["images"][0], model.pool_a.images[0].cpu())
    assert math.isfinite(float(pool["images"].sum()))


def test_sample_grid_of_a_translation_model_shows_held_out_inputs_beside_outputs(tmp_path):
    from gan_lightning.callbacks import SampleGridCallback

    callback = SampleGridCallback(every_n_steps=2, num_samples=8, nrow=4)
    model = TwoWayTranslator()
    tiny_trainer(tmp_path, 2, callbacks=[callback]).fit(model, TwoDomainData(batch_size=8))
    assert (tmp_path / "samples" / "iter_000002.png").is_file()
    assert callback.inputs.shape == (4, 1, 8, 8)
    grid, nrow = model.preview_grid(8, 4, inputs=callback.inputs)
    assert nrow == 4 and torch.equal(grid[2], callback.inputs[1])
