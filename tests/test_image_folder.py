"""Any folder of images trains (README, "Your own images"): a flat folder or class sub-folders, every
image mode read as the configured channels, tiny images scaled up with a note, and one line (exit
status 2) for a missing folder, a folder without images, images beside class folders, or fewer images
than one batch. The folders are written by the tests."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_lightning.data import ImageFolder
from gan_lightning.data.files import DataFolderError, to_channels
from gan_lightning.errors import UsageError
from test_cli import cli, stderr_lines

# A tiny DCGAN at 16 px: the CLI path users take, a few seconds per run.
FIT = ["fit", "--model", "DCGAN", "--data", "ImageFolder", "--model.init_args.latent_dim", "8",
       "--model.init_args.g_width", "8", "--model.init_args.d_width", "8", "--data.init_args.image_size", "16",
       "--data.init_args.batch_size", "4", "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
       "--trainer.limit_val_batches", "0", "--trainer.max_steps", "2", "--sample_grid.every_n_steps", "1000"]


def every_mode(folder, shade=90):
    """One small image of each mode a user's folder may hold (and a 1x1 one), in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    Image.new("L", (20, 20), shade).save(folder / "grey.png")
    Image.fromarray(rng.integers(0, 256, (18, 24, 3), dtype=np.uint8), "RGB").save(folder / "rgb.jpg")
    Image.new("RGBA", (20, 20), (shade, 0, 0, 128)).save(folder / "rgba.png")
    palette = Image.new("P", (20, 20), 1)
    palette.putpalette([0, 0, 0, shade, shade, shade] + [0] * 762)
    palette.save(folder / "palette.png")
    Image.fromarray(np.full((20, 20), shade * 257, dtype=np.uint16)).save(folder / "deep16.png")  # mode I;16
    Image.new("LA", (20, 20), (shade, 255)).save(folder / "grey_alpha.png")
    Image.new("1", (20, 20), 1).save(folder / "bilevel.bmp")
    Image.new("RGB", (1, 1), (shade, shade, shade)).save(folder / "tiny.png")
    return folder


def test_every_mode_becomes_grey_or_rgb_with_its_range_kept():
    deep = Image.fromarray(np.full((2, 2), 60000, dtype=np.uint16))
    assert deep.mode == "I;16" and Image.fromarray(np.full((2, 2), 60000, dtype=np.uint16)).convert("L").getpixel(
        (0, 0)) == 255  # PIL's own conversion clips: what to_channels must not do
    assert to_channels(deep, 1).getpixel((0, 0)) == round(60000 * 255 / 65535)  # 233
    assert to_channels(deep, 3).getpixel((0, 0)) == (233, 233, 233)
    transparent = Image.new("RGBA", (2, 2), (10, 20, 30, 0))
    assert to_channels(transparent, 3).getpixel((0, 0)) == (255, 255, 255)  # over white, not its hidden colour
    half = Image.new("RGBA", (2, 2), (0, 0, 0, 128))
    assert to_channels(half, 1).getpixel((0, 0)) == 127
    palette = Image.new("P", (2, 2), 1)
    palette.putpalette([0, 0, 0, 200, 10, 10] + [0] * 762)
    assert to_channels(palette, 3).getpixel((0, 0)) == (200, 10, 10)
    assert to_channels(Image.new("L", (2, 2), 77), 3).getpixel((0, 0)) == (77, 77, 77)
    assert to_channels(Image.new("RGB", (2, 2), (255, 0, 0)), 1).getpixel((0, 0)) == 76  # ITU-R 601-2 luma
    floats = Image.fromarray(np.full((2, 2), 0.5, dtype=np.float32))
    assert floats.mode == "F" and to_channels(floats, 1).getpixel((0, 0)) == 128
    wide = Image.fromarray(np.array([[0, 1000], [2000, 4000]], dtype=np.int32))
    assert wide.mode == "I" and to_channels(wide, 1).getpixel((1, 1)) == round(4000 * 255 / 65535)
    with pytest.raises(ValueError, match="channels must be 1 or 3"):
        to_channels(deep, 2)


@pytest.mark.parametrize("channels", [1, 3])
def test_a_flat_folder_of_every_mode_gives_unlabelled_images_of_the_configured_channels(tmp_path, channels, caplog):
    every_mode(tmp_path / "photos", shade=90)
    data = ImageFolder(data_root=str(tmp_path / "photos"), image_size=8, channels=channels, batch_size=8,
                       num_workers=0)
    assert data.num_classes == 0
    with caplog.at_level("INFO", logger="lightning.pytorch.utilities.rank_zero"):
        data.setup()
    notes = [r.getMessage() for r in caplog.records if "scaled up" in r.getMessage()]
    assert notes == ["ImageFolder: 1 of 8 images are smaller than image_size 8 px (the smallest 1x1) and are scaled up"]
    assert data.upscaled_files == 1
    batch = next(iter(data.train_dataloader()))
    assert torch.is_tensor(batch) and batch.shape == (8, channels, 8, 8)  # no labels: a tensor batch
    items = {Path(path).name: data.train_set[i] for i, (path, _) in enumerate(data.train_set.samples)}
    level = 90 / 127.5 - 1
    for name in ("grey.png", "palette.png", "deep16.png", "grey_alpha.png", "tiny.png"):
        assert items[name].shape == (channels, 8, 8)
        assert items[name].sub(level).abs().max() < 0.02, name  # the same grey whatever the file's mode
    assert items["bilevel.bmp"].min() == 1.0  # white
    red_over_white = to_channels(Image.new("RGBA", (1, 1), (90, 0, 0, 128)), channels).getpixel((0, 0))
    expected = torch.tensor(red_over_white if channels == 3 else [red_over_white]).float() / 127.5 - 1
    assert torch.allclose(items["rgba.png"][:, 4, 4], expected, atol=0.01)


def test_class_folders_give_labels_in_name_order_and_images_at_any_depth(tmp_path):
    every_mode(tmp_path / "zebra", shade=200)
    every_mode(tmp_path / "ant" / "nested", shade=40)
    (tmp_path / "empty").mkdir()  # a sub-folder without images is no class
    (tmp_path / ".cache").mkdir()
    Image.new("L", (9, 9)).save(tmp_path / ".cache" / "hidden.png")
    data = ImageFolder(data_root=str(tmp_path), image_size=8, channels=1, batch_size=16, num_workers=0)
    assert data.num_classes == 2
    data.setup()
    assert data.train_set.classes == ["ant", "zebra"]
    x, y = next(iter(data.train_dataloader()))
    assert x.shape == (16, 1, 8, 8) and sorted(y.tolist()) == [0] * 8 + [1] * 8
    grey = [i for i, (path, _) in enumerate(data.train_set.samples) if path.endswith("grey.png")]
    assert [round(data.train_set[i][0].mean().item(), 2) for i in grey] == [round(40 / 127.5 - 1, 2),
                                                                           round(200 / 127.5 - 1, 2)]


def test_images_beside_class_folders_stop_in_one_line(tmp_path):
    every_mode(tmp_path / "cats")
    Image.new("L", (9, 9)).save(tmp_path / "stray.png")
    with pytest.raises(DataFolderError) as error:
        ImageFolder(data_root=str(tmp_path), batch_size=2)
    message = str(error.value)
    assert "\n" not in message
    assert message == (f"ImageFolder: --data.init_args.data_root {tmp_path} holds 1 image beside class folders (cats): "
                       "keep one layout, every image in a class folder (labels), or every image in one folder "
                       "without class folders (no labels)")


def test_a_flat_folder_of_mixed_modes_trains_through_the_cli(tmp_path):
    every_mode(tmp_path / "photos")
    result = cli(*FIT, "--data.init_args.data_root", tmp_path / "photos", "--trainer.default_root_dir", tmp_path / "run")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count("scaled up") == 1
    assert "ImageFolder: 1 of 8 images are smaller than image_size 16 px (the smallest 1x1) and are scaled up" in (
        result.stderr)
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False)
    assert checkpoint["global_step"] == 2
    assert checkpoint["hyper_parameters"]["data_shape"] == (3, 16, 16)


def test_class_folders_train_through_the_cli_with_two_worker_processes(tmp_path):
    every_mode(tmp_path / "photos" / "a")
    every_mode(tmp_path / "photos" / "b", shade=160)
    result = cli(*FIT, "--data.init_args.data_root", tmp_path / "photos", "--data.init_args.num_workers", "2",
                 "--trainer.default_root_dir", tmp_path / "run")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 of 16 images are smaller" in result.stderr
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()


def folder_with_text_files(root):
    root.mkdir()
    (root / "notes.txt").write_text("not an image")
    (root / "sub").mkdir()
    (root / "sub" / "data.csv").write_text("1,2\n")
    return root


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda root: root, "{root}: no such folder; give a folder of images (flat, or one sub-folder per class)"),
        (lambda root: root.mkdir() or root, "{root} is empty; give a folder of images"),
        (folder_with_text_files, "{root} holds no image files (.jpg, .jpeg, .png, .ppm, .bmp, .pgm, .tif, .tiff, "
                                 ".webp, .gif), only 2 other files (e.g. notes.txt); give a folder of images"),
        (lambda root: every_mode(root), "{root} holds 8 images, fewer than one batch (--data.init_args.batch_size 64); "
                                        "give a batch size of at most 8, or more images"),
    ],
    ids=["missing", "empty", "no-images", "fewer-than-one-batch"],
)
def test_a_folder_that_cannot_train_stops_the_cli_in_one_line(tmp_path, make, message):
    root = make(tmp_path / "photos")
    args = [a for a in FIT if a not in ("--data.init_args.batch_size", "4")]  # the default batch size, 64
    result = cli(*args, "--data.init_args.data_root", root, "--trainer.default_root_dir", tmp_path / "run")
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    lines = stderr_lines(result)
    assert len(lines) <= 2, result.stderr  # the error, after Lightning's "Seed set to 0"
    assert lines[-1].startswith("gan-lightning: error: ImageFolder: --data.init_args.data_root ")
    assert message.format(root=root) in lines[-1]
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_fewer_training_images_than_one_batch_after_the_heldout_split_stop_in_one_line(tmp_path):
    every_mode(tmp_path / "photos")
    data = ImageFolder(data_root=str(tmp_path / "photos"), image_size=8, batch_size=7, heldout_fraction=0.25,
                       num_workers=0)
    data.setup()
    with pytest.raises(UsageError) as error:  # exit status 2 on the command line
        data.train_dataloader()
    assert str(error.value) == ("ImageFolder: the training split has 6 samples, fewer than one batch "
                                "(--data.init_args.batch_size 7); give a batch size of at most 6, or more data")


def test_a_conditional_model_on_a_flat_folder_stops_in_one_line(tmp_path, capsys):
    from gan_lightning.cli import main

    every_mode(tmp_path / "photos")
    with pytest.raises(SystemExit) as exit:
        main(["fit", "--model", "CGAN", *FIT[3:], "--data.init_args.data_root", str(tmp_path / "photos"),
              "--data.init_args.num_workers", "0", "--trainer.default_root_dir", str(tmp_path / "run")])
    assert exit.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "gan-lightning: error: CGAN trains on labelled data: batches of (image, label); this data module gives none "
        "(ImageFolder gives labels with one sub-folder per class)")


def test_cached_pieces_are_saved_whole_by_a_rename(tmp_path, monkeypatch):
    """save_atomically (the caches: caption encoder, DAMSM, digits judge, real statistics) writes a partial
    file of its own process and renames it: the target never holds a half-written file."""
    import os

    import torch

    from gan_lightning.data.files import save_atomically

    target = tmp_path / "new" / "piece.pt"
    seen = []
    real_replace = os.replace

    def replace(source, destination):
        seen.append((Path(source).name, target.exists()))
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", replace)
    assert save_atomically({"w": torch.arange(3)}, target) == target
    assert seen == [(f"piece.pt.{os.getpid()}.partial", False)]  # written aside, then renamed into place
    assert torch.equal(torch.load(target)["w"], torch.arange(3)) and list(target.parent.iterdir()) == [target]
