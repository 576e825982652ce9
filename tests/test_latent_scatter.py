"""LatentScatterCallback: the AAE's 2-D codes by class, written as PNG and logged."""

import pytest
import torch
from lightning.pytorch.loggers import WandbLogger
from PIL import Image

from conftest import tiny_dcgan, tiny_trainer
from gan_lightning.callbacks import LatentScatterCallback, save_latent_scatter
from gan_lightning.models import AAE


class RecordingWandbLogger(WandbLogger):
    """A WandbLogger that records ``log_image`` calls instead of starting a W&B run."""

    def __init__(self):
        super().__init__(offline=True)
        self.images = []

    @property
    def experiment(self):
        return None  # no W&B run: everything the callback logs goes through log_image below

    def log_hyperparams(self, params, *args, **kwargs):
        pass

    def log_metrics(self, metrics, step=None):
        pass

    def log_image(self, key, images, step=None, **kwargs):
        self.images.append((key, images, step))

    def save(self):
        pass

    def finalize(self, status):
        pass

    @property
    def version(self):
        return "test"

    @property
    def name(self):
        return "test"

    @property
    def save_dir(self):
        return None


def tiny_aae():
    return AAE(data_shape=(1, 28, 28), latent_dim=2, g_width=8, e_width=8, code_hidden=(16, 16))


def test_scatter_png_written_every_n_steps_and_logged(tmp_path, mnist5k):
    logger = RecordingWandbLogger()
    callback = LatentScatterCallback(every_n_steps=2, num_samples=60)
    tiny_trainer(tmp_path, max_steps=4, callbacks=[callback], logger=logger).fit(tiny_aae(), mnist5k)

    files = sorted(p.name for p in (tmp_path / "latents").glob("*.png"))
    assert files == ["iter_000002.png", "iter_000004.png"]
    image = Image.open(tmp_path / "latents" / "iter_000004.png")
    assert image.size == (500, 500)
    pixels = torch.tensor(list(image.convert("L").getdata())).float()
    assert pixels.std() > 5  # points, circles and legend, not a blank picture

    assert [(key, step) for key, _, step in logger.images] == [("latents", 2), ("latents", 4)]
    logged = logger.images[-1][1][0]
    assert logged.shape == (500, 500, 3)


def test_codes_are_the_encoders_of_heldout_digits_with_their_labels(tmp_path, mnist5k):
    model = tiny_aae()
    callback = LatentScatterCallback(every_n_steps=100, num_samples=30)
    trainer = tiny_trainer(tmp_path, max_steps=2, callbacks=[callback])
    trainer.fit(model, mnist5k)
    model.train()
    codes, labels = callback.codes(trainer, model)
    assert model.training and model.encoder.training  # eval mode for the codes only, then restored
    heldout = mnist5k.heldout_set
    images = torch.stack([heldout[i][0] for i in range(30)])
    model.eval()
    with torch.no_grad():
        expected = model.encode(images)
    assert torch.allclose(codes, expected, atol=1e-5)
    assert labels.tolist() == [int(heldout[i][1]) for i in range(30)]
    assert (tmp_path / "latents" / "iter_000002.png").is_file()  # the end-of-fit picture


def test_model_without_encoder_is_refused(tmp_path, mnist5k):
    with pytest.raises(ValueError, match="encoder"):
        tiny_trainer(tmp_path, max_steps=1, callbacks=[LatentScatterCallback()]).fit(tiny_dcgan(), mnist5k)


def test_scatter_needs_two_dimensional_codes(tmp_path):
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        save_latent_scatter(torch.zeros(5, 3), None, tmp_path / "x.png")
    path = save_latent_scatter(torch.randn(40, 2), torch.arange(40) % 4, tmp_path / "ok.png")
    assert Image.open(path).size == (500, 500)
