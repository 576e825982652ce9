"""Unreadable image files are found when a folder data module sets up, not hours into training."""

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from gan_lightning.data import ImageFolder
from gan_lightning.data import files
from gan_lightning.data.files import UnreadableImagesError, check_image_files, find_unreadable_images

ROOT = Path(__file__).resolve().parents[1]


def image_folder(root: Path, per_class: int = 3) -> tuple[list[Path], list[Path]]:
    """Two class folders of tiny real PNGs, plus a non-image and a truncated PNG: (good, bad)."""
    good = []
    for label, shade in (("cats", 40), ("dogs", 200)):
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            path = root / label / f"{i}.png"
            Image.new("RGB", (12, 10), (shade, shade, shade)).save(path)
            good.append(path)
    broken = root / "cats" / "broken.png"
    broken.write_bytes(b"this is not an image")
    truncated = root / "dogs" / "truncated.png"
    truncated.write_bytes(good[0].read_bytes()[:-20])  # the header reads, the chunks end early
    return good, [broken, truncated]


def test_unreadable_files_stop_setup_with_one_line_naming_them_and_the_option(tmp_path):
    good, bad = image_folder(tmp_path)
    data = ImageFolder(data_root=str(tmp_path), image_size=8, batch_size=2, num_workers=0)
    with pytest.raises(UnreadableImagesError) as error:
        data.setup()
    message = str(error.value)
    assert "\n" not in message
    assert f"2 of {len(good) + 2} image files cannot be read" in message
    assert str(bad[0]) in message and str(bad[1]) in message
    assert "--data.init_args.skip_unreadable true" in message
    assert data.train_set is None


def test_skip_unreadable_trains_on_the_readable_files_only(tmp_path, caplog):
    good, bad = image_folder(tmp_path)
    data = ImageFolder(data_root=str(tmp_path), image_size=8, batch_size=2, num_workers=0, skip_unreadable=True)
    # the rank-zero logger by name: a benchmark test run before may have quietened "lightning" loggers
    with caplog.at_level("INFO", logger="lightning.pytorch.utilities.rank_zero"):
        data.setup()
    assert sorted(path for path, _ in data.train_set.samples) == sorted(map(str, good))
    assert data.train_set.targets == [0, 0, 0, 1, 1, 1]
    assert sorted(data.skipped_files) == sorted(map(str, bad))
    assert sum("skipped 2 of 8 image files" in record.getMessage() for record in caplog.records) == 1
    images = [x for x, _ in data.train_dataloader()]  # a whole epoch reads without error
    assert sum(len(x) for x in images) == 6


def test_a_folder_with_no_readable_file_left_says_so(tmp_path):
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "a.png").write_bytes(b"junk")
    with pytest.raises(UnreadableImagesError, match="none of the 1 image files can be read"):
        ImageFolder(data_root=str(tmp_path), skip_unreadable=True, num_workers=0, batch_size=1).setup()


def test_many_files_are_read_in_threads_with_a_progress_bar_in_order(tmp_path, monkeypatch, capsys):
    good, bad = image_folder(tmp_path, per_class=20)
    paths = sorted(good + bad)
    assert files.PROGRESS_BAR_ABOVE == 2000  # README's number
    monkeypatch.setattr(files, "THREADS_ABOVE", 4)
    monkeypatch.setattr(files, "PROGRESS_BAR_ABOVE", 10)
    found = find_unreadable_images(paths)
    assert [path for path, _ in found] == [str(p) for p in sorted(bad)]
    assert "cannot identify image file" in dict(found)[str(bad[0])]
    assert "checking image files" in capsys.readouterr().err
    assert find_unreadable_images(paths[:9]) == []  # below both thresholds: one thread, no bar
    assert "checking image files" not in capsys.readouterr().err


def test_the_message_lists_the_first_few_paths_and_counts_the_rest(tmp_path):
    paths = []
    for i in range(5):
        paths.append(tmp_path / f"{i}.png")
        paths[-1].write_bytes(b"junk")
    with pytest.raises(UnreadableImagesError) as error:
        check_image_files(paths, skip_unreadable=False, owner="PairedImageFolder", option="--data.init_args.skip")
    message = str(error.value)
    assert message.startswith("PairedImageFolder: 5 of 5 image files cannot be read")
    assert str(paths[2]) in message and str(paths[3]) not in message and "and 2 more" in message
    assert "`--data.init_args.skip true`" in message
    assert check_image_files(paths[:0], skip_unreadable=False, owner="x") == []


def test_fit_on_a_folder_with_a_broken_file_exits_2_with_one_line(tmp_path):
    _, bad = image_folder(tmp_path / "images")
    exe = Path(sys.executable).with_name("gan-lightning")
    result = subprocess.run(
        [str(exe), "fit", "--model", "DCGAN", "--data", "ImageFolder", "--data.init_args.data_root",
         str(tmp_path / "images"), "--data.init_args.image_size", "16", "--data.init_args.num_workers", "0",
         "--data.init_args.batch_size", "2",
         "--trainer.default_root_dir", str(tmp_path / "run"), "--trainer.logger", "false",
         "--trainer.max_steps", "1", "--trainer.enable_progress_bar", "false"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("gan-lightning: error: ImageFolder: 2 of 8 image files cannot be read")
    assert str(bad[0]) in last and "--data.init_args.skip_unreadable true" in last
    assert "Traceback" not in result.stderr
    assert not list((tmp_path / "run").rglob("*.ckpt"))
