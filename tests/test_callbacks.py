"""Sample grids, the generator EMA, checkpoint contents and the divergence guard."""

import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from PIL import Image

from conftest import tiny_dcgan, tiny_trainer
from gan_lightning.callbacks import DivergenceError, DivergenceGuard, EMACallback, SampleGridCallback
from gan_lightning.data import Toy2D
from gan_lightning.models import DCGAN, GAN


def test_sample_grid_png_is_written_and_not_constant(tmp_path, mnist5k):
    grid = SampleGridCallback(every_n_steps=2, num_samples=16, nrow=4)
    tiny_trainer(tmp_path, max_steps=4, callbacks=[grid]).fit(tiny_dcgan(), mnist5k)
    files = sorted(p.name for p in (tmp_path / "samples").glob("*.png"))
    assert files == ["iter_000002.png", "iter_000004.png"]
    pixels = torch.tensor(list(Image.open(tmp_path / "samples" / "iter_000004.png").convert("L").getdata()))
    assert pixels.float().std() > 5  # not a blank picture
    assert Image.open(tmp_path / "samples" / "iter_000004.png").size == (4 * 30 + 2, 4 * 30 + 2)


def test_each_row_caption_is_written_left_of_its_row_and_a_wrong_count_is_refused(tmp_path):
    from gan_lightning.callbacks import write_samples
    from gan_lightning.callbacks.samples import CAPTION_MARGIN
    from gan_lightning.cli import row_captions

    samples = torch.zeros(6, 3, 16, 16)
    write_samples(samples, tmp_path / "g.png", nrow=3, row_captions=["a thin blue three on grass", ""])
    picture = torch.tensor(list(Image.open(tmp_path / "g.png").convert("L").getdata())).view(2 * 18 + 2, -1)
    assert picture.shape[1] == CAPTION_MARGIN + 3 * 18 + 2
    margin = picture[:, :CAPTION_MARGIN]
    assert margin[:19].max() > 200 and margin[19:].max() == 0  # ink in the first row's margin only
    with pytest.raises(ValueError, match="write_samples: 1 row captions for a grid of 2 rows"):
        write_samples(samples, tmp_path / "h.png", nrow=3, row_captions=["one"])
    # a row's text: the captions its samples came from (2 samples each here)
    assert row_captions(["a one", "a two"], 2, 4, 2) == ["a one", "a two"]
    assert row_captions(["a one", "a two"], 2, 4, 4) == ["a one / a two"]
    assert row_captions([], 0, 4, 2) is None


def test_toy2d_samples_become_a_scatter_plot(tmp_path):
    grid = SampleGridCallback(every_n_steps=100)
    model = GAN(data_shape=(2,), latent_dim=4, g_hidden=(16,), d_hidden=(16,))
    tiny_trainer(tmp_path, max_steps=2, callbacks=[grid]).fit(model, Toy2D(num_points=500))
    image = Image.open(tmp_path / "samples" / "iter_000002.png")
    assert image.size == (400, 400)


def test_ema_is_a_lagging_average_stored_in_the_checkpoint(tmp_path, mnist5k):
    model = tiny_dcgan()
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    trainer = tiny_trainer(tmp_path, 6, [EMACallback(decay=0.5, warmup=False), checkpoint], enable_checkpointing=True)
    trainer.fit(model, mnist5k)
    g, ema = model.generator.net[0].weight, model.generator_ema.net[0].weight
    assert not torch.equal(g, ema) and not ema.requires_grad
    saved = torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=False)
    state = saved["state_dict"]
    assert torch.equal(state["generator_ema.net.0.weight"], ema)
    assert {"generator.net.0.weight", "discriminator.head.weight", "fixed_noise"} <= state.keys()
    assert len(saved["optimizer_states"]) == 2
    assert saved["global_step"] == 6
    assert saved["gan_lightning"]["class_path"] == "gan_lightning.models.dcgan.DCGAN"
    assert {"torch", "numpy", "python"} <= saved["gan_lightning"]["rng"].keys()
    assert "loops" in saved and saved["hyper_parameters"]["g_width"] == 8


def test_ema_update_follows_the_formula():
    model = tiny_dcgan()
    model.enable_ema()
    old = model.generator_ema.net[0].weight.clone()
    with torch.no_grad():
        model.generator.net[0].weight.add_(1.0)
    model.update_ema(0.9)
    expected = 0.9 * old + 0.1 * model.generator.net[0].weight
    torch.testing.assert_close(model.generator_ema.net[0].weight, expected)
    assert EMACallback(0.999).current_decay(0) == pytest.approx(0.1)  # warm-up
    assert EMACallback(0.999).current_decay(10**6) == 0.999


class ExplodesAt(DCGAN):
    """A DCGAN whose D loss turns NaN at a chosen iteration."""

    def __init__(self, explode_at: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.explode_at = explode_at

    def discriminator_loss(self, real, fake, labels=None):
        terms = super().discriminator_loss(real, fake, labels)
        if self.global_step >= self.explode_at:
            terms["d_loss"] = terms["d_loss"] * float("nan")
        return terms


def test_divergence_stops_with_a_message_and_keeps_the_last_good_checkpoint(tmp_path, mnist5k):
    model = ExplodesAt(explode_at=3, data_shape=(1, 28, 28), latent_dim=16, g_width=8, d_width=8)
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True, every_n_train_steps=2)
    trainer = tiny_trainer(tmp_path, 10, [DivergenceGuard(), checkpoint], enable_checkpointing=True)
    with pytest.raises(DivergenceError, match=r"iteration 4: d_loss = nan.*last good checkpoint") as error:
        trainer.fit(model, mnist5k)
    assert "last.ckpt" in str(error.value)
    saved = torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=False)
    assert saved["global_step"] == 2
    assert all(torch.isfinite(v).all() for v in saved["state_dict"].values() if v.is_floating_point())


def test_ema_keeps_no_copy_for_translation_models_unless_asked(tmp_path):
    import lightning as L
    from conftest import tiny_trainer
    from core_models import TwoDomainData, TwoWayTranslator
    from gan_lightning.callbacks import EMACallback

    L.seed_everything(0)
    model = TwoWayTranslator()
    tiny_trainer(tmp_path / "a", 2, limit_val_batches=0, callbacks=[EMACallback()]).fit(model, TwoDomainData())
    assert not any(name.startswith("generator_ema") for name, _ in model.named_parameters())
    assert model.sampling_generator is model.generator
    model = TwoWayTranslator()
    tiny_trainer(tmp_path / "b", 2, limit_val_batches=0,
                 callbacks=[EMACallback(translation=True)]).fit(model, TwoDomainData())
    assert model.sampling_generator is not model.generator


# ---------------------------------------------------------------------------- the guard, read when due
def test_the_guard_handles_values_that_are_numbers_or_elsewhere_and_names_the_first_bad_iteration():
    guard = DivergenceGuard()
    values = guard.loss_values({"d_loss": float("nan"), "g_loss": torch.tensor(1.0, dtype=torch.float64),
                                "samples": torch.zeros(4), "note": "text"}, torch.device("cpu"))
    assert set(values) == {"d_loss", "g_loss"} and all(v.dtype == torch.float32 for v in values.values())
    guard.watch({"d_loss": torch.tensor(0.5), "g_loss": torch.tensor(1.0)}, 6)
    guard.watch(values, 7)
    guard.watch({"d_loss": torch.tensor(float("inf"))}, 8)  # later values do not replace the first bad ones

    class Trainer:
        checkpoint_callback = None

    with pytest.raises(DivergenceError, match=r"^Training diverged at iteration 7: d_loss = nan\. .*no checkpoint"):
        guard.check(Trainer())


def test_a_divergence_in_an_iteration_where_nothing_is_due_is_caught_at_the_end(tmp_path, mnist5k):
    model = ExplodesAt(explode_at=4, data_shape=(1, 28, 28), latent_dim=16, g_width=8, d_width=8)
    trainer = tiny_trainer(tmp_path, 5, [DivergenceGuard()], log_every_n_steps=100)
    with pytest.raises(DivergenceError, match=r"iteration 5: d_loss = nan"):
        trainer.fit(model, mnist5k)


def test_the_guard_refuses_a_bad_interval():
    with pytest.raises(ValueError, match="check_every_n_steps must be >= 1 or null, got 0"):
        DivergenceGuard(check_every_n_steps=0)


# ---------------------------------------------------------------------------- progress in a log file
def test_progress_in_a_log_file_is_one_plain_line_every_interval_with_the_logged_losses(tmp_path, mnist5k, capsys):
    from gan_lightning.callbacks import ProgressBar

    bar = ProgressBar(plain=True, plain_interval_s=1e-9)  # a line after every iteration
    trainer = tiny_trainer(tmp_path, 6, [bar], enable_progress_bar=True, log_every_n_steps=4)
    trainer.fit(tiny_dcgan(), mnist5k)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("iteration")]
    assert lines[0] == "iteration 0/6 (0 %) | training starts"
    assert lines[-1].startswith("iteration 6/6 (100 %) | d_loss ") and lines[-1].endswith("| training ends")
    middle = lines[1:-1]
    assert [line.split(" | ")[0] for line in middle] == [f"iteration {i}/6 ({100 * i // 6} %)" for i in range(1, 7)]
    assert all(" it/s" in line and "ETA" in line for line in middle[:-1])
    # the losses appear once a logger has written them (iteration 4), not before: no read in between
    assert all("d_loss" not in line for line in middle[:3]) and all("d_loss" in line for line in middle[3:])
    assert "\r" not in capsys.readouterr().out


def test_the_plain_lines_are_chosen_when_output_is_not_a_terminal(monkeypatch, tmp_path, mnist5k):
    from gan_lightning.callbacks import ProgressBar

    monkeypatch.setattr("sys.stdout.isatty", lambda: False)
    bar = ProgressBar()
    tiny_trainer(tmp_path, 1, [bar], enable_progress_bar=True).fit(tiny_dcgan(), mnist5k)
    assert bar._plain_mode and not bar.is_enabled
    with pytest.raises(ValueError, match="plain_interval_s must be > 0, got 0"):
        ProgressBar(plain_interval_s=0)
