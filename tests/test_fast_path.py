"""The fast path for accelerators, on a CPU: mixed precision with a gradient scaler over two
optimizers, channels_last, torch.compile, fused/foreach optimizers, the device-resident data
path, and the GPU benchmark's no-GPU exit. (gan_lightning/core/fast.py says what runs on CUDA.)"""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins.precision import MixedPrecision

from conftest import InterruptAt, benchmark_script, run_without_gpu, tiny_dcgan, tiny_trainer
from gan_lightning.core import fast
from gan_lightning.data import MNIST5k, Toy2D
from gan_lightning.data.resident import DeviceResidentLoader


class StepLog(L.Callback):
    """Every step's loss terms, and the dtype of D's output (autocast at work or not)."""

    def __init__(self):
        self.outputs, self.batches, self.d_dtypes = [], [], set()

    def setup(self, trainer, pl_module, stage):
        pl_module.discriminator.register_forward_hook(lambda m, args, out: self.d_dtypes.add(out.dtype))

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.batches.append(batch)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.outputs.append({k: v.float().item() for k, v in outputs.items()})


def flat(module):
    return torch.cat([p.detach().flatten().clone() for p in module.parameters()])


def fp16_plugin(init_scale: float) -> MixedPrecision:
    """16-mixed with its GradScaler on the CPU (a Trainer given precision='16-mixed' on a CPU picks bf16)."""
    return MixedPrecision("16-mixed", "cpu", torch.amp.GradScaler("cpu", init_scale=init_scale))


# ---------------------------------------------------------------------------- mixed precision
def test_bf16_mixed_trains_a_dcgan_under_autocast_with_finite_losses(tmp_path, mnist5k):
    log = StepLog()
    model = tiny_dcgan()
    before = flat(model)
    trainer = tiny_trainer(tmp_path, 4, callbacks=[log], precision="bf16-mixed")
    trainer.fit(model, mnist5k)
    assert isinstance(trainer.precision_plugin, MixedPrecision) and trainer.precision_plugin.scaler is None
    assert log.d_dtypes == {torch.bfloat16}  # D ran in bf16
    assert len(log.outputs) == 4 and all(math.isfinite(v) for out in log.outputs for v in out.values())
    assert {"d_loss", "g_loss"} <= set(log.outputs[-1])
    assert all(p.dtype == torch.float32 for p in model.parameters())  # the weights stay fp32
    assert not torch.equal(before, flat(model))


def test_16_mixed_on_a_cpu_becomes_bf16_as_lightning_decides():
    with pytest.warns(UserWarning, match="Using `precision='bf16-mixed'` instead"):
        trainer = L.Trainer(accelerator="cpu", precision="16-mixed", logger=False)
    assert trainer.precision_plugin.precision == "bf16-mixed" and trainer.precision_plugin.scaler is None
    # an explicit plugin keeps fp16 and its scaler: what 16-mixed chooses on CUDA
    trainer = L.Trainer(accelerator="cpu", plugins=[fp16_plugin(2.0**16)], logger=False)
    assert trainer.precision_plugin.precision == "16-mixed"
    assert isinstance(trainer.precision_plugin.scaler, torch.amp.GradScaler)


def test_16_mixed_one_scaler_is_updated_after_every_optimizer_step(tmp_path, mnist5k):
    """D steps on 4 batches, G on 2 (critic_steps 2): the shared scaler's update() runs 6 times."""
    log = StepLog()
    plugin = fp16_plugin(2.0**8)
    updates = []
    update = plugin.scaler.update
    plugin.scaler.update = lambda *a, **k: (updates.append(plugin.scaler.get_scale()), update(*a, **k))[1]
    model = tiny_dcgan(critic_steps=2)
    g_before, d_before = flat(model.generator), flat(model.discriminator)
    tiny_trainer(tmp_path, 4, callbacks=[log], plugins=[plugin]).fit(model, mnist5k)
    assert log.d_dtypes == {torch.float16}
    assert len(updates) == 4 + 2
    assert all(math.isfinite(v) for out in log.outputs for v in out.values())
    assert plugin.scaler.get_scale() == 2.0**8  # no overflow at this scale: nothing skipped, no growth yet
    assert not torch.equal(g_before, flat(model.generator)) and not torch.equal(d_before, flat(model.discriminator))


def test_16_mixed_overflow_skips_that_optimizer_step_and_halves_the_scale_each_time(tmp_path, mnist5k):
    """A scale of 2^40 overflows fp16 in both backward passes: both steps are skipped, the scale halves twice."""
    plugin = fp16_plugin(2.0**40)
    model = tiny_dcgan()
    g_before, d_before = flat(model.generator), flat(model.discriminator)
    tiny_trainer(tmp_path, 1, plugins=[plugin]).fit(model, mnist5k)
    assert plugin.scaler.get_scale() == 2.0**38
    assert torch.equal(g_before, flat(model.generator)) and torch.equal(d_before, flat(model.discriminator))


def test_16_mixed_clipping_bounds_the_unscaled_gradient(tmp_path, mnist5k):
    """SGD lr 1, grad_clip_norm 1e-3: D's update is the clipped gradient, of norm 1e-3 after unscaling.
    Lightning's own clip_gradients in manual optimization would clip the scaled gradient (norm 1e-3 / 256)."""
    model = tiny_dcgan(optimizer="sgd", lr_g=1.0, lr_d=1.0, grad_clip_norm=1e-3)
    before = flat(model.discriminator)
    tiny_trainer(tmp_path, 1, plugins=[fp16_plugin(2.0**8)]).fit(model, mnist5k)
    assert (flat(model.discriminator) - before).norm().item() == pytest.approx(1e-3, rel=1e-3)
    # the same without a scaler (bf16): clipping right away is right
    model = tiny_dcgan(optimizer="sgd", lr_g=1.0, lr_d=1.0, grad_clip_norm=1e-3)
    before = flat(model.discriminator)
    tiny_trainer(tmp_path, 1, precision="bf16-mixed").fit(model, mnist5k)
    assert (flat(model.discriminator) - before).norm().item() == pytest.approx(1e-3, rel=1e-3)


# ---------------------------------------------------------------------------- channels_last
def test_channels_last_weights_and_batches_train_like_the_default_layout(tmp_path):
    """3-channel images, so NCHW and NHWC strides differ."""
    runs = {}
    for channels_last in (False, True):
        L.seed_everything(0)
        log = StepLog()
        model = tiny_dcgan(data_shape=(3, 28, 28), channels_last=channels_last)
        outputs, d_inputs = [], []
        model.generator.register_forward_hook(lambda m, args, out: outputs.append(out))
        model.discriminator.register_forward_pre_hook(lambda m, args: d_inputs.append(args[0]))
        tiny_trainer(tmp_path, 3, callbacks=[log]).fit(model, MNIST5k(channels=3, batch_size=16))
        runs[channels_last] = model
        convs = [p for p in model.parameters() if p.dim() == 4]
        assert len(convs) >= 6 and len(d_inputs) == 3 * 3  # D on reals, on fakes, on fakes in G's phase
        images = [batch[0] for batch in log.batches]
        if channels_last:
            assert all(fast.is_channels_last(p) and not p.is_contiguous() for p in convs)
            assert all(fast.is_channels_last(x) and not x.is_contiguous() for x in images + outputs + d_inputs)
        else:
            assert all(p.is_contiguous() and not fast.is_channels_last(p) for p in convs)
            assert all(x.is_contiguous() for x in images + outputs + d_inputs)
        assert all(math.isfinite(v) for out in log.outputs for v in out.values())
    plain, nhwc = runs[False].state_dict(), runs[True].state_dict()
    assert plain.keys() == nhwc.keys()
    assert all(torch.allclose(plain[k].float(), nhwc[k].float(), atol=1e-5) for k in plain)


@pytest.mark.parametrize("name", ["CoGAN", "BEGAN", "WGANGP", "UnrolledGAN", "VAEGAN"])
def test_channels_last_suits_models_that_handle_images_their_own_way(name, tmp_path):
    """Coupled pairs, an autoencoder critic, a gradient penalty, an unrolled functional D, an encoder."""
    from test_core import tiny_model

    L.seed_everything(0)
    model = tiny_model(name, channels_last=True)
    tiny_trainer(tmp_path, 2).fit(model, MNIST5k(batch_size=16))
    convs = [p for p in model.parameters() if p.dim() == 4]
    assert convs and all(fast.is_channels_last(p) for p in convs)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_channels_last_batch_converts_the_images_of_a_batch_in_place():
    x, y = torch.randn(2, 3, 4, 4), torch.arange(2)
    batch = [x, y]
    assert fast.channels_last_batch_(batch) is batch
    assert fast.is_channels_last(batch[0]) and not batch[0].is_contiguous() and batch[1] is y
    assert torch.equal(batch[0], x)
    batch = {"a": x, "points": torch.randn(2, 2), "pair": [x, y]}
    fast.channels_last_batch_(batch)
    assert fast.is_channels_last(batch["a"]) and batch["points"].is_contiguous()
    assert fast.is_channels_last(batch["pair"][0]) and batch["pair"][1] is y


# ---------------------------------------------------------------------------- torch.compile
class CountingBackend:
    """A torch.compile backend that counts the graphs it gets and runs them with AOTAutograd, eagerly
    (inductor's code generation takes a minute on this CPU; GPUs use inductor, the default)."""

    def __init__(self):
        self.graphs = 0

    def __call__(self, graph, example_inputs):
        self.graphs += 1
        return torch._dynamo.lookup_backend("aot_eager")(graph, example_inputs)


def test_compiled_networks_train_and_keep_their_state_dict_keys(tmp_path, mnist5k):
    backend = CountingBackend()
    L.seed_everything(0)
    model = tiny_dcgan(compile=True, compile_options={"backend": backend})
    log = StepLog()
    tiny_trainer(tmp_path, 2, callbacks=[log]).fit(model, mnist5k)
    assert fast.is_compiled(model.generator) and fast.is_compiled(model.discriminator)
    assert backend.graphs >= 2  # G's and D's forward went through dynamo
    assert all(math.isfinite(v) for out in log.outputs for v in out.values())
    L.seed_everything(0)
    eager = tiny_dcgan()
    tiny_trainer(tmp_path, 2).fit(eager, mnist5k)
    assert list(model.state_dict()) == list(eager.state_dict())  # no "_orig_mod." anywhere
    for key, value in model.state_dict().items():
        assert torch.allclose(value.float(), eager.state_dict()[key].float(), atol=1e-5), key
    # a compiled run's weights load into a model that is not compiled, strictly
    fresh = tiny_dcgan()
    fresh.load_state_dict(model.state_dict(), strict=True)
    z = torch.randn(3, 16)
    assert torch.allclose(fresh.sample(noise=z, use_ema=False), model.sample(noise=z, use_ema=False), atol=1e-6)


def test_compile_a_list_of_networks_and_name_a_missing_one():
    model = tiny_dcgan(compile=["generator"], compile_options={"backend": "eager"})
    model.configure_model()
    assert fast.is_compiled(model.generator) and not fast.is_compiled(model.discriminator)
    model.configure_model()  # once only
    with pytest.raises(ValueError, match="model.compile: DCGAN has no network 'critic'; its networks: generator, "
                                         "discriminator"):
        tiny_dcgan(compile=["critic"]).configure_model()


def test_reduce_overhead_marks_every_iteration_fuses_the_optimizers_and_resumes_bitwise(tmp_path, monkeypatch):
    from test_core import _fit, assert_bitwise_equal

    marks = []
    monkeypatch.setattr(torch.compiler, "cudagraph_mark_step_begin", lambda: marks.append(1))

    def build():
        return tiny_dcgan(compile="reduce-overhead", compile_options={"backend": "eager"}, channels_last=True)

    model = build()
    assert model.compile_options == {"backend": "eager", "mode": "reduce-overhead"} and model.cudagraphs
    straight = _fit(build, lambda: MNIST5k(batch_size=16), tmp_path / "straight", 6)
    assert len(marks) == 6  # CUDA graph trees learn where each iteration starts
    assert fast.is_compiled(straight.generator) and fast.is_compiled(straight.discriminator)
    assert all(straight.named_optimizer(name).defaults["fused"] for name in ("generator", "discriminator"))
    _fit(build, lambda: MNIST5k(batch_size=16), tmp_path / "resumed", 6, interrupt_at=3)
    resumed = _fit(build, lambda: MNIST5k(batch_size=16), tmp_path / "resumed", 6, ckpt_path="last")
    assert_bitwise_equal(straight, resumed)


def test_a_compile_mode_and_another_mode_in_the_options_are_refused_in_one_line():
    with pytest.raises(ValueError, match="model.compile is 'reduce-overhead' but model.compile_options has mode "
                                         "'max-autotune'; give one"):
        tiny_dcgan(compile="reduce-overhead", compile_options={"mode": "max-autotune"})
    assert not tiny_dcgan(compile="max-autotune-no-cudagraphs").cudagraphs
    assert tiny_dcgan(compile=True, compile_options={"mode": "max-autotune"}).cudagraphs
    assert fast.networks_to_compile(tiny_dcgan(), "default") == ["generator", "discriminator"]


def test_the_ema_copy_of_a_compiled_generator_runs_its_own_weights():
    model = tiny_dcgan(compile=True, compile_options={"backend": "eager"})
    model.configure_model()
    z = torch.randn(2, 16)
    model.generator(z)
    model.enable_ema()  # after compiling, as a resume with EMA weights in the checkpoint does
    with torch.no_grad():
        for p in model.generator_ema.parameters():
            p.zero_()
    assert model.sample(noise=z).abs().max() < 1e-6 < model.sample(noise=z, use_ema=False).abs().max()


# ---------------------------------------------------------------------------- fused / foreach optimizers
@pytest.mark.parametrize("implementation, flags", [
    ("fused", {"fused": True}), ("foreach", {"foreach": True}), ("single_tensor", {"foreach": False}),
    ("auto", {"fused": None, "foreach": None}),
])
def test_optimizer_implementation_reaches_every_torch_optimizer(implementation, flags):
    optimizers = tiny_dcgan(optimizer_implementation=implementation).configure_optimizers()
    assert len(optimizers) == 2
    for optimizer in optimizers:
        assert {key: optimizer.defaults[key] for key in flags} == flags


def test_a_network_own_implementation_wins_over_the_model_default(tmp_path, mnist5k):
    model = tiny_dcgan(optimizer_implementation="fused", optimizers={"generator": {"implementation": "foreach"}})
    before = flat(model)
    tiny_trainer(tmp_path, 2).fit(model, mnist5k)  # fused Adam runs on a CPU too
    g, d = (model.named_optimizer(name) for name in ("generator", "discriminator"))
    assert g.defaults["foreach"] is True and not g.defaults["fused"]
    assert d.defaults["fused"] is True
    assert not torch.equal(before, flat(model))
    with pytest.raises(ValueError, match="implementation must be one of auto, foreach, fused, single_tensor"):
        tiny_dcgan(optimizer_implementation="apex")


# ---------------------------------------------------------------------------- device-resident data
def batches(loader, epoch):
    loader.sampler.set_epoch(epoch)
    return list(loader)


@pytest.mark.parametrize("make", [lambda **k: MNIST5k(batch_size=16, **k),
                                  lambda **k: Toy2D(num_points=1000, batch_size=64, **k)], ids=["MNIST5k", "Toy2D"])
def test_device_resident_batches_are_the_dataloader_batches(make):
    loader, resident = make().train_dataloader(), make(device_resident=True).train_dataloader()
    assert isinstance(resident, DeviceResidentLoader) and not isinstance(loader, DeviceResidentLoader)
    assert len(resident) == len(loader)
    for epoch in (0, 1):
        expected, got = batches(loader, epoch), batches(resident, epoch)
        assert len(got) == len(expected) == len(loader)
        for a, b in zip(expected, got):
            assert type(a) is type(b) is list and len(a) == len(b) == 2
            assert all(x.dtype == y.dtype and torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(batches(resident, 0)[0][0], batches(resident, 1)[0][0])  # each epoch its own order
    # mid-epoch: the rest of the epoch, from where the checkpoint says
    state = {"epoch": 1, "consumed_batches": 3}
    loader.load_state_dict(state)
    resident.load_state_dict(state)
    expected, got = list(loader), list(resident)
    assert len(got) == len(expected) == len(loader) - 3
    assert all(torch.equal(x, y) for a, b in zip(expected, got) for x, y in zip(a, b))
    assert torch.equal(got[0][0], batches(resident, 1)[3][0])


def fit(root, steps, device_resident, ckpt_path=None, interrupt_at=None):
    L.seed_everything(0)
    model = tiny_dcgan()
    callbacks = [ModelCheckpoint(dirpath=root / "ckpt", save_last=True, every_n_train_steps=interrupt_at or 1000)]
    if interrupt_at:
        callbacks.append(InterruptAt(interrupt_at))
    trainer = tiny_trainer(root, steps, callbacks=callbacks, enable_checkpointing=True)
    trainer.fit(model, MNIST5k(batch_size=16, device_resident=device_resident), ckpt_path=ckpt_path)
    assert isinstance(trainer.train_dataloader, DeviceResidentLoader) == device_resident
    return model


def test_a_device_resident_run_is_bitwise_the_dataloader_run_and_resumes_mid_epoch(tmp_path):
    """12 iterations over epochs of 5 (limit_train_batches): new orders at epochs 1 and 2; resumed at 7."""
    loader_run = fit(tmp_path / "loader", 12, False)
    resident_run = fit(tmp_path / "resident", 12, True)
    a, b = loader_run.state_dict(), resident_run.state_dict()
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    fit(tmp_path / "resumed", 12, True, interrupt_at=7)
    resumed = fit(tmp_path / "resumed", 12, True, ckpt_path="last")
    c = resumed.state_dict()
    assert resumed.global_step == 12 and [k for k in a if not torch.equal(a[k], c[k])] == []
    assert not torch.equal(a["generator.net.0.weight"], tiny_dcgan().state_dict()["generator.net.0.weight"])


def test_device_resident_data_refuses_ddp():
    data = Toy2D(num_points=200, device_resident=True)
    data.trainer = type("FakeTrainer", (), {"world_size": 2})()
    with pytest.raises(ValueError, match="does not shard it over the 2 processes of DDP: set it to false"):
        data.train_dataloader()


# ---------------------------------------------------------------------------- everything at once, and the CLI
def test_all_options_together_from_the_command_line(tmp_path):
    from gan_lightning.cli import build_cli

    run = build_cli(["fit", "--model", "DCGAN", "--data", "MNIST5k", "--model.g_width", "8", "--model.d_width", "8",
                     "--model.latent_dim", "16", "--model.channels_last", "true", "--model.compile", "true",
                     "--model.compile_options", "{backend: aot_eager}", "--model.optimizer_implementation", "fused",
                     "--data.batch_size", "16", "--data.channels", "3", "--data.device_resident", "true",
                     "--trainer.precision", "bf16-mixed", "--trainer.max_steps", "2",
                     "--trainer.limit_val_batches", "0", "--trainer.logger", "false",
                     "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(tmp_path)])
    model, trainer = run.model, run.trainer
    assert trainer.global_step == 2 and isinstance(trainer.train_dataloader, DeviceResidentLoader)
    assert trainer.precision_plugin.precision == "bf16-mixed"
    assert fast.is_compiled(model.generator) and fast.is_compiled(model.discriminator)
    # compiled networks are left to inductor's own layout (hand-made NHWC: pytorch#171622 on CUDA)
    assert not any(fast.is_channels_last(p) for p in model.generator.parameters() if p.dim() == 4)
    assert all(model.named_optimizer(name).defaults["fused"] for name in ("generator", "discriminator"))
    assert all(torch.isfinite(p).all() for p in model.parameters())


# ---------------------------------------------------------------------------- the GPU benchmark
def test_gpu_benchmark_without_a_gpu_says_so_in_one_line_and_exits_0():
    assert run_without_gpu("gpu_throughput") == [
        "gpu_throughput: no CUDA GPU on this machine; the GPU benchmark did not run"]


def test_gpu_benchmark_code_runs_both_paths_on_a_cpu_as_a_smoke_test(capsys, tmp_path, monkeypatch):
    with benchmark_script("gpu_throughput") as script:
        monkeypatch.setattr(script, "replace_section", lambda path, name, text: (tmp_path / name).write_text(text))
        assert script.main(["--device", "cpu", "--image-size", "32", "--width", "8", "--batch-size", "16",
                            "--warmup", "2", "--iterations", "3", "--compile-backend", "eager", "--cases", "dcgan",
                            "--precisions", "32-true", "--compile", "off,on,reduce-overhead",
                            "--section", "gpu_throughput"]) == 0
    lines = [line for line in capsys.readouterr().out.strip().splitlines() if line.startswith(("dcgan", "case"))]
    assert lines[0].split() == ["case", "precision", "compile", "plain", "img/s", "gan-lightning", "img/s", "ratio"]
    rows = {line.split()[2]: line.split() for line in lines[1:]}
    assert set(rows) == {"off", "on", "reduce-overhead"}
    for row in rows.values():
        plain, ours, ratio = float(row[3]), float(row[4]), float(row[5])
        assert plain > 10 and ours > 10 and ratio == pytest.approx(ours / plain, rel=0.02, abs=0.01)
    assert "(vs plain eager;" in " ".join(rows["reduce-overhead"])
    section = (tmp_path / "gpu_throughput").read_text()
    assert "CPU (smoke test, not a measurement)" in section and "| dcgan | 32-true | reduce-overhead |" in section


def test_gpu_benchmark_options_are_checked_in_one_line(capsys):
    with benchmark_script("gpu_throughput") as script:
        with pytest.raises(SystemExit):
            script.parse_args(["--compile", "off,fast"])
    assert "--compile: 'fast' is not one of off, on, reduce-overhead" in capsys.readouterr().err
