"""Checks on the files of folder data sets, run when a data module sets up.

One unreadable image in a folder of thousands would otherwise end training with a long
``PIL.UnidentifiedImageError`` traceback when the loader first reaches it, hours in.
:func:`check_image_files` reads every file's header once, up front (in threads, with a
progress bar on large folders), and either stops with one line naming the bad files and
the option that skips them, or drops them and says how many it dropped. Every folder
data module (``ImageFolder`` today; the paired and unpaired folders too) calls it.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

from gan_lightning.errors import UsageError

#: Folders with more files than this get a progress bar while their headers are read.
PROGRESS_BAR_ABOVE = 2000
#: Below this many files one thread reads them all (a pool costs more than it saves).
THREADS_ABOVE = 64
#: How many bad paths the error message lists.
SHOWN = 3


class UnreadableImagesError(UsageError):
    """Some image files of a data set cannot be read; reported as one line, exit status 2."""


class DataFolderError(UsageError):
    """A data set's folders or files are not as its layout wants (a missing folder or partner file,
    a size mismatch, an unknown attribute name); reported as one line, exit status 2."""


def image_problem(path: str | Path) -> str | None:
    """``None`` when ``path``'s header reads as an image, else the reason (one short phrase).

    Headers only: ``PIL.Image.open`` identifies the format and ``verify`` checks the file's
    structure (for PNG the chunk checksums) without decoding the pixels.
    """
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.verify()
    except Exception as error:  # UnidentifiedImageError, OSError (truncated), SyntaxError (PIL's bad-chunk error), ...
        reason = str(error).replace(str(path), "").strip(" :'\"") or type(error).__name__
        return reason.splitlines()[0]
    return None


def find_unreadable_images(paths: Sequence[str | Path], progress: bool | None = None) -> list[tuple[str, str]]:
    """``(path, reason)`` for every file of ``paths`` whose header does not read as an image, in order.

    Reads in a thread pool when there are many files (PIL releases the GIL on file reads);
    ``progress`` shows a tqdm bar (default: when there are more than ``PROGRESS_BAR_ABOVE``
    files, on global rank 0 only).
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
                problems = []
                for problem in pool.map(image_problem, paths, chunksize=16):
                    problems.append(problem)
                    if bar is not None:
                        bar.update()
        else:
            problems = []
            for path in paths:
                problems.append(image_problem(path))
                if bar is not None:
                    bar.update()
    finally:
        if bar is not None:
            bar.close()
    return [(path, problem) for path, problem in zip(paths, problems) if problem is not None]


def check_image_files(
    paths: Sequence[str | Path],
    skip_unreadable: bool,
    owner: str,
    option: str = "--data.init_args.skip_unreadable",
) -> list[int]:
    """Indices (into ``paths``) of the files that read as images.

    With ``skip_unreadable`` false, any unreadable file raises :class:`UnreadableImagesError`
    with one line: how many, the first few paths and why, and ``option`` to skip them.
    With it true, the bad files are left out and one line on rank 0 says how many (and
    if no file is left, that raises too).
    ``owner`` names the data module in both lines.
    """
    bad = find_unreadable_images(paths)
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


def cache_dir() -> Path:
    """Where the project caches what it computes once (measurements, trained judges, real statistics):
    ``$GAN_LIGHTNING_CACHE``, else ``~/.cache/gan_lightning``."""
    import os

    return Path(os.environ.get("GAN_LIGHTNING_CACHE") or Path.home() / ".cache" / "gan_lightning").expanduser()
