"""Reading the files of folder data sets: the checks run when a data module sets up, the layout of
a folder of images, and the conversion of any image mode to the channels a model takes.

One unreadable image in a folder of thousands would otherwise end training with a long
``PIL.UnidentifiedImageError`` traceback when the loader first reaches it, hours in.
:func:`check_image_files` reads every file's header once, up front (in threads, with a
progress bar on large folders), and either stops with one line naming the bad files and
the option that skips them, or drops them and says how many it dropped. Every folder
data module (``ImageFolder``, the paired and unpaired folders) calls it.

:func:`image_folder_layout` finds what ``ImageFolder`` trains on: the images of a flat folder
(no labels), or of its class sub-folders (one label per sub-folder), and stops with one line
for a missing folder, a folder without images, or both layouts at once. :func:`to_channels`
converts every PIL mode (grey, RGB, RGBA, palette, 16-bit and 32-bit integer, float) to grey or
RGB with the full range kept (PIL's own conversion clips 16-bit values to white).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np

from gan_lightning.errors import UsageError

#: Folders with more files than this get a progress bar while their headers are read.
PROGRESS_BAR_ABOVE = 2000
#: Below this many files one thread reads them all (a pool costs more than it saves).
THREADS_ABOVE = 64
#: How many bad paths the error message lists.
SHOWN = 3
#: The file names (lower case) read as images by the folder data modules (torchvision's list, plus GIF).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp", ".gif")
#: Transparent pixels are shown over this colour (RGB) when an image with alpha becomes grey or RGB.
BACKGROUND = (255, 255, 255)


class UnreadableImagesError(UsageError):
    """Some image files of a data set cannot be read; reported as one line, exit status 2."""


class DataFolderError(UsageError):
    """A data set's folders or files are not as its layout wants (a missing folder or partner file,
    a size mismatch, an unknown attribute name); reported as one line, exit status 2."""


def image_header(path: str | Path) -> tuple[str | None, tuple[int, int] | None]:
    """``(None, (width, height))`` when ``path``'s header reads as an image, else ``(reason, None)``
    (one short phrase).

    Headers only: ``PIL.Image.open`` identifies the format and ``verify`` checks the file's
    structure (for PNG the chunk checksums) without decoding the pixels.
    """
    from PIL import Image

    try:
        with Image.open(path) as image:
            size = image.size
            image.verify()
    except Exception as error:  # UnidentifiedImageError, OSError (truncated), SyntaxError (PIL's bad-chunk error), ...
        reason = str(error).replace(str(path), "").strip(" :'\"") or type(error).__name__
        return reason.splitlines()[0], None
    return None, size


def image_problem(path: str | Path) -> str | None:
    """``None`` when ``path``'s header reads as an image, else the reason (one short phrase)."""
    return image_header(path)[0]


def find_unreadable_images(paths: Sequence[str | Path], progress: bool | None = None,
                           sizes: list | None = None) -> list[tuple[str, str]]:
    """``(path, reason)`` for every file of ``paths`` whose header does not read as an image, in order.

    Reads in a thread pool when there are many files (PIL releases the GIL on file reads);
    ``progress`` shows a tqdm bar (default: when there are more than ``PROGRESS_BAR_ABOVE``
    files, on global rank 0 only). ``sizes``, a list, receives each file's ``(width, height)``
    (``None`` for the unreadable ones), read in the same pass.
    """
    paths = [str(p) for p in paths]
    if progress is None:
        from lightning.pytorch.utilities.rank_zero import rank_zero_only

        progress = len(paths) > PROGRESS_BAR_ABOVE and getattr(rank_zero_only, "rank", 0) == 0
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(paths), desc="checking image files", unit="file", leave=False)
    try:
        if len(paths) > THREADS_ABOVE:
            with ThreadPoolExecutor(max_workers=min(32, (os.cpu_count() or 1) + 4)) as pool:
                headers = []
                for header in pool.map(image_header, paths, chunksize=16):
                    headers.append(header)
                    if bar is not None:
                        bar.update()
        else:
            headers = []
            for path in paths:
                headers.append(image_header(path))
                if bar is not None:
                    bar.update()
    finally:
        if bar is not None:
            bar.close()
    if sizes is not None:
        sizes.extend(size for _, size in headers)
    return [(path, problem) for path, (problem, _) in zip(paths, headers) if problem is not None]


def check_image_files(
    paths: Sequence[str | Path],
    skip_unreadable: bool,
    owner: str,
    option: str = "--data.init_args.skip_unreadable",
    sizes: list | None = None,
) -> list[int]:
    """Indices (into ``paths``) of the files that read as images (``sizes``: see :func:`find_unreadable_images`).

    With ``skip_unreadable`` false, any unreadable file raises :class:`UnreadableImagesError`
    with one line: how many, the first few paths and why, and ``option`` to skip them.
    With it true, the bad files are left out and one line on rank 0 says how many (and
    if no file is left, that raises too).
    ``owner`` names the data module in both lines.
    """
    bad = find_unreadable_images(paths, sizes=sizes)
    if not bad:
        return list(range(len(paths)))
    shown = "; ".join(f"{path} ({reason})" for path, reason in bad[:SHOWN])
    more = f"; and {len(bad) - SHOWN} more" if len(bad) > SHOWN else ""
    if not skip_unreadable:
        raise UnreadableImagesError(
            f"{owner}: {len(bad)} of {len(paths)} image files cannot be read: {shown}{more}. "
            f"Fix or remove them, or train on the rest with `{option} true` (now false)"
        )
    if len(bad) == len(paths):
        raise UnreadableImagesError(
            f"{owner}: none of the {len(paths)} image files can be read, nothing is left to train on "
            f"({option} true): {shown}{more}"
        )
    from lightning.pytorch.utilities.rank_zero import rank_zero_info

    rank_zero_info(
        f"{owner}: skipped {len(bad)} of {len(paths)} image files that cannot be read ({option} true): {shown}{more}"
    )
    bad_paths = {path for path, _ in bad}
    return [i for i, path in enumerate(paths) if str(path) not in bad_paths]


# ---------------------------------------------------------------------------- a folder of images
def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def _images_under(folder: Path) -> list[Path]:
    """The image files of ``folder`` and its sub-folders (hidden ones left out), sorted."""
    found = []
    for current, folders, names in os.walk(folder, followlinks=True):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        found += [Path(current) / name for name in sorted(names) if is_image_file(Path(current) / name)]
    return found


def _other_files(folder: Path, limit: int = 1000) -> list[Path]:
    """Up to ``limit`` files under ``folder`` (hidden ones left out), for the message of a folder without images."""
    found: list[Path] = []
    for current, folders, names in os.walk(folder, followlinks=True):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        found += [Path(current) / name for name in sorted(names) if not name.startswith(".")]
        if len(found) >= limit:
            break
    return found[:limit]


def image_folder_layout(root: str | Path, owner: str = "ImageFolder",
                        key: str = "--data.init_args.data_root") -> tuple[list[str], list[int] | None, list[str]]:
    """``(paths, labels, class_names)`` of a folder of images, in a fixed (sorted) order.

    Two layouts: images directly in ``root`` (a flat folder: ``labels`` is ``None``, no classes),
    or one sub-folder per class, each holding images at any depth (``labels[i]`` indexes
    ``class_names``, the sub-folders with images, sorted by name). Raises :class:`DataFolderError`
    (one line naming ``key``) when ``root`` is missing or not a folder, holds no image file, or
    holds images beside class folders.
    """
    root = Path(root)
    where = f"{owner}: {key} {root}"
    layouts = "a folder of images (flat, or one sub-folder per class)"
    if not root.exists():
        absolute = "" if root.is_absolute() else f" ({root.resolve()})"
        raise DataFolderError(f"{where}: no such folder{absolute}; give {layouts}")
    if not root.is_dir():
        raise DataFolderError(f"{where} is a file, not a folder; give {layouts}")
    loose = sorted(path for path in root.iterdir() if is_image_file(path))
    classes = {}
    for sub in sorted(path for path in root.iterdir() if path.is_dir() and not path.name.startswith(".")):
        files = _images_under(sub)
        if files:
            classes[sub.name] = files
    if loose and classes:
        names = ", ".join(list(classes)[:SHOWN]) + (", ..." if len(classes) > SHOWN else "")
        raise DataFolderError(
            f"{where} holds {len(loose)} image{'s' if len(loose) != 1 else ''} beside class folders ({names}): "
            f"keep one layout, every image in "
            f"a class folder (labels), or every image in one folder without class folders (no labels)"
        )
    if loose:
        return [str(path) for path in loose], None, []
    if classes:
        paths = [str(path) for files in classes.values() for path in files]
        labels = [label for label, files in enumerate(classes.values()) for _ in files]
        return paths, labels, list(classes)
    others = _other_files(root)
    accepted = ", ".join(IMAGE_EXTENSIONS)
    if not others:
        raise DataFolderError(f"{where} is empty; give {layouts} ({accepted})")
    count = f"{len(others)}{'+' if len(others) == 1000 else ''}"
    raise DataFolderError(
        f"{where} holds no image files ({accepted}), only {count} other file{'s' if len(others) != 1 else ''} "
        f"(e.g. {others[0].relative_to(root)}); give {layouts}"
    )


# ---------------------------------------------------------------------------- any mode to grey or RGB
def _as_8bit(image):
    """A grey ``L`` image of a 16-bit, 32-bit integer or float image, its range scaled, not clipped:
    16-bit modes by 255 / 65535; ``I`` by its own range (8- or 16-bit values, else min to max);
    ``F`` from [0, 1] (or [0, 255], else min to max)."""
    from PIL import Image

    values = np.asarray(image, dtype=np.float64)
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if image.mode.startswith("I;16"):
        low, span = 0.0, 65535.0
    elif image.mode == "F" and low >= 0.0 and high <= 1.0:
        low, span = 0.0, 1.0
    elif low >= 0.0 and high <= 255.0:
        low, span = 0.0, 255.0
    elif image.mode == "I" and low >= 0.0 and high <= 65535.0:
        low, span = 0.0, 65535.0
    else:
        span = max(high - low, 1e-12)
    pixels = np.clip(np.rint((values - low) * (255.0 / span)), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, mode="L")


def to_channels(image, channels: int):
    """``image`` (any PIL mode) as ``L`` (``channels`` 1) or ``RGB`` (3).

    High bit depths keep their range (:func:`_as_8bit`); transparent pixels (RGBA, LA, palette
    or grey with a transparent colour) are composited over ``BACKGROUND``; every other mode
    (palette, CMYK, YCbCr, 1-bit, ...) goes through PIL's conversion; RGB to grey uses PIL's
    ITU-R 601-2 luma, as torchvision's ``Grayscale``.
    """
    from PIL import Image

    if channels not in (1, 3):
        raise ValueError(f"data.channels must be 1 or 3, got {channels}")
    target = "L" if channels == 1 else "RGB"
    if image.mode.startswith("I") or image.mode == "F":
        image = _as_8bit(image)
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        background = Image.new("RGBA", image.size, (*BACKGROUND, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    return image if image.mode == target else image.convert(target)


def open_image(path: str | Path, channels: int):
    """The image file ``path`` as a loaded ``L`` / ``RGB`` PIL image (:func:`to_channels`)."""
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        return to_channels(image, channels)


def cache_dir() -> Path:
    """Where the project caches what it computes once (measurements, trained judges, real statistics):
    ``$GAN_LIGHTNING_CACHE``, else ``~/.cache/gan_lightning``."""
    return Path(os.environ.get("GAN_LIGHTNING_CACHE") or Path.home() / ".cache" / "gan_lightning").expanduser()


def save_atomically(payload, path: str | Path) -> Path:
    """``torch.save(payload, path)`` written to a partial file of this process, then renamed: a reader
    never sees half a file, and DDP ranks that train the same cached piece at once do not mix their
    bytes. Creates the folder."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    torch.save(payload, partial)
    os.replace(partial, path)
    return path
