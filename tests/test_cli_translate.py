"""``gan-lightning translate`` and ``gan-lightning sample`` on image-to-image checkpoints (in-process
``main``, on the test-only TwoWayTranslator): outputs per input, the input|output grid, the one-line
errors, and the held-out inputs ``sample`` shows beside their translations."""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image

from conftest import tiny_dcgan, tiny_trainer
from core_models import TwoWayTranslator
from gan_lightning.cli import main
from gan_lightning.data import PairedDigits
from gan_lightning.data.translation import to_tensor


class AttributeTranslator(TwoWayTranslator):
    """TwoWayTranslator that takes 3 target attributes (StarGAN's call): adds their sum to the output."""

    num_attributes = 3

    @torch.no_grad()
    def translate(self, images, direction="AtoB", attributes=None):
        if attributes is None:
            raise ValueError("needs target attributes")
        return super().translate(images, direction) + attributes.sum(dim=1).view(-1, 1, 1, 1).to(self.device)


def save_untrained(model, path):
    """A checkpoint of ``model`` as `fit` writes one (state, hyperparameters, class path), without training."""
    checkpoint = {"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}
    model.on_save_checkpoint(checkpoint)
    torch.save(checkpoint, path)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """TwoWayTranslator fitted for 2 iterations on 8 px inverted digits (the data module's arguments
    go into the checkpoint)."""
    root = tmp_path_factory.mktemp("translator")
    L.seed_everything(0)
    model = TwoWayTranslator(data_shape=(1, 8, 8))
    data = PairedDigits("inverted", image_size=8, batch_size=8)
    trainer = tiny_trainer(root, 2)
    trainer.fit(model, data)
    path = root / "translator.ckpt"
    trainer.save_checkpoint(path)
    return path


@pytest.fixture
def inputs(tmp_path):
    folder = tmp_path / "inputs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("one", "two", "three"):
        Image.fromarray(rng.integers(0, 256, (12, 10), dtype=np.uint8)).save(folder / f"{name}.png")
    (folder / "notes.txt").write_text("not an image")
    return folder


def run(*args, capsys=None):
    main([str(a) for a in args])
    return capsys.readouterr() if capsys else None


def error_of(capsys, *args) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    assert exit_info.value.code == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def expected_output(ckpt, path, direction="AtoB"):
    from gan_lightning.checkpoints import load_model

    model = load_model(ckpt)
    with Image.open(path) as image:
        x = to_tensor(image.convert("L").resize((8, 8), Image.BICUBIC))[None]
    return model.translate(x, direction=direction)[0]


def png(path) -> torch.Tensor:
    return torch.from_numpy(np.array(Image.open(path))).float() / 255.0


def test_translate_a_folder_writes_one_png_per_input_and_the_pair_grid(trained, inputs, tmp_path, capsys):
    out = tmp_path / "out"
    printed = run("translate", "--ckpt_path", trained, "--input", inputs, "--out", out, capsys=capsys).out
    assert "translated 3 images (AtoB)" in printed
    assert sorted(p.name for p in out.iterdir()) == ["grid.png", "one.png", "three.png", "two.png"]
    written = png(out / "two.png")
    assert written.shape == (8, 8)  # the model's data shape, grey
    expected = expected_output(trained, inputs / "two.png").add(1).div(2).clamp(0, 1)[0]
    assert torch.allclose(written, expected, atol=1.5 / 255)
    grid = Image.open(out / "grid.png")
    assert grid.size == (6 * 10 + 2, 10 + 2)  # three pairs in one row, 8 px tiles, 2 px padding
    # the first tile is the first input (sorted: one.png), the second its output
    tile = np.array(grid.convert("L"))[2:10, 2:10] / 255.0
    with Image.open(inputs / "one.png") as image:
        first = to_tensor(image.convert("L").resize((8, 8), Image.BICUBIC))[0].add(1).div(2).numpy()
    assert np.allclose(tile, first, atol=1.5 / 255)


def test_translate_one_file_and_the_other_direction(trained, inputs, tmp_path, capsys):
    out = tmp_path / "back"
    run("translate", "--ckpt_path", trained, "--input", inputs / "three.png", "--out", out, "--direction", "BtoA",
        "--image_size", "12", capsys=capsys)
    assert sorted(p.name for p in out.iterdir()) == ["grid.png", "three.png"]
    assert png(out / "three.png").shape == (12, 12)  # --image_size: another square size
    run("translate", "--ckpt_path", trained, "--input", inputs / "three.png", "--out", tmp_path / "fwd",
        "--image_size", "12", capsys=capsys)
    assert not torch.equal(png(out / "three.png"), png(tmp_path / "fwd" / "three.png"))  # G_BA is not G_AB


def test_translate_errors_are_one_line(trained, inputs, tmp_path, capsys):
    base = ["translate", "--ckpt_path", trained, "--out", tmp_path / "out"]
    assert "--input" in error_of(capsys, *base, "--input", tmp_path / "nowhere") and "not found" in \
        error_of(capsys, *base, "--input", tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    assert "--input: no image files" in error_of(capsys, *base, "--input", tmp_path / "empty")
    assert "--direction must be AtoB or BtoA, got 'AtoC'" in error_of(capsys, *base, "--input", inputs,
                                                                      "--direction", "AtoC")
    assert "TwoWayTranslator takes no target attributes" in error_of(capsys, *base, "--input", inputs,
                                                                     "--attributes", "1,0")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    assert "bad.png cannot be read as an image" in error_of(capsys, *base, "--input", tmp_path / "bad.png")


def test_translate_refuses_a_noise_model(inputs, tmp_path, capsys):
    ckpt = save_untrained(tiny_dcgan(), tmp_path / "dcgan.ckpt")
    line = error_of(capsys, "translate", "--ckpt_path", ckpt, "--input", inputs, "--out", tmp_path / "out")
    assert "DCGAN is not an image-to-image model" in line and "gan-lightning sample" in line


def test_translate_passes_target_attributes_and_checks_their_count(inputs, tmp_path, capsys):
    ckpt = save_untrained(AttributeTranslator(data_shape=(1, 8, 8)), tmp_path / "attr.ckpt")
    base = ["translate", "--ckpt_path", ckpt, "--input", inputs / "one.png"]
    line = error_of(capsys, *base, "--out", tmp_path / "o", "--attributes", "1,0")
    assert "--attributes has 2 values; AttributeTranslator takes 3 attributes" in line
    assert "comma-separated 0/1 values" in error_of(capsys, *base, "--out", tmp_path / "o", "--attributes", "1,2,0")
    assert "AttributeTranslator.translate: needs target attributes" in error_of(capsys, *base, "--out", tmp_path / "o")
    run(*base, "--out", tmp_path / "none", "--attributes", "0,0,0", capsys=capsys)
    run(*base, "--out", tmp_path / "two", "--attributes", "1,0,1", capsys=capsys)
    shifted = png(tmp_path / "two" / "one.png") - png(tmp_path / "none" / "one.png")
    assert shifted.max() > 0.3  # the attributes reached translate (their sum, 2, is added: clipped to white)


def test_sample_on_a_translation_model_shows_held_out_inputs_beside_outputs(trained, tmp_path, capsys):
    out = tmp_path / "grid.png"
    printed = run("sample", "--ckpt_path", trained, "--num_samples", "8", "--nrow", "4", "--out", out,
                  capsys=capsys).out
    assert "wrote 4 held-out inputs beside their translations" in printed
    grid = np.array(Image.open(out).convert("L")) / 255.0
    assert grid.shape == (2 * 10 + 2, 4 * 10 + 2)  # 4 pairs, 2 a row
    data = PairedDigits("inverted", image_size=8, batch_size=8)
    data.setup()
    for k in range(4):  # held-out inputs in order, at the even tiles
        row, column = divmod(2 * k, 4)
        tile = grid[2 + 10 * row : 10 + 10 * row, 2 + 10 * column : 10 + 10 * column]
        assert np.allclose(tile, data.heldout_set[k]["a"][0].add(1).div(2).numpy(), atol=1.5 / 255)


def test_sample_on_a_translation_model_without_its_data_points_to_translate(tmp_path, capsys):
    ckpt = save_untrained(TwoWayTranslator(), tmp_path / "bare.ckpt")
    line = error_of(capsys, "sample", "--ckpt_path", ckpt, "--out", tmp_path / "grid.png")
    assert "no held-out inputs to show" in line and "gan-lightning translate" in line and "--data_config" in line
    config = tmp_path / "data.yaml"
    config.write_text("data: {class_path: PairedDigits, init_args: {target: thick, image_size: 8}}\n")
    printed = run("sample", "--ckpt_path", ckpt, "--out", tmp_path / "grid.png", "--num_samples", "4",
                  "--data_config", config, capsys=capsys).out
    assert "wrote 2 held-out inputs" in printed and (tmp_path / "grid.png").is_file()


class PairedTranslator(TwoWayTranslator):
    data_kinds = ("paired", "unpaired")


def test_data_built_by_the_cli_records_its_class_and_arguments_for_sample():
    from gan_lightning.cli import build_cli

    cli = build_cli(["--model", "test_cli_translate.PairedTranslator", "--data", "PairedDigits",
                     "--data.init_args.target", "thick", "--data.init_args.image_size", "8",
                     "--trainer.logger", "false"], run=False)
    saved = dict(cli.datamodule.hparams)
    from gan_lightning.evaluate import data_class

    assert data_class(saved["_class_path"]) is PairedDigits  # what `sample` rebuilds the data from
    assert saved["target"] == "thick" and saved["image_size"] == 8
    assert cli.model.data_shape == (1, 8, 8)
    assert not cli.datamodule._log_hyperparams  # the model's hyperparameters alone go to the loggers
