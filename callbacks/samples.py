"""Sample grids from fixed noise: a PNG under the run folder and an image to every logger."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from torchvision.utils import make_grid, save_image


def save_scatter(points: torch.Tensor, path: Path, reference: torch.Tensor | None = None, title: str = "") -> None:
    """2-D samples as a scatter plot (true mode centres in red when given)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    pts = points.detach().float().cpu()
    ax.scatter(pts[:, 0], pts[:, 1], s=3, alpha=0.5, color="tab:blue")
    if reference is not None:
        ref = reference.cpu()
        ax.scatter(ref[:, 0], ref[:, 1], s=25, marker="x", color="tab:red")
    ax.set_aspect("equal")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def save_histogram(points: torch.Tensor, path: Path, title: str = "") -> None:
    """1-D samples as a histogram."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3), dpi=100)
    ax.hist(points.detach().float().cpu().flatten().numpy(), bins=40, color="tab:blue", alpha=0.7)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


CAPTION_MARGIN = 200  # pixels left of a grid for its rows' captions


def _wrapped(text: str, font, width: int) -> list[str]:
    """``text`` broken at spaces into lines no wider than ``width`` pixels in ``font``."""
    lines: list[str] = []
    for word in text.split():
        if lines and font.getlength(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def captioned(grid: torch.Tensor, row_captions: Sequence[str], padding: int = 2) -> torch.Tensor:
    """``grid`` (3, H, W in [0, 1], from ``make_grid``) with each row's caption written in a margin on
    its left (white on black, wrapped; lines that do not fit the row's height are cut with "...")."""
    from PIL import Image, ImageDraw, ImageFont

    rows = len(row_captions)
    row_height = (grid.size(1) - padding) // rows
    font = ImageFont.load_default()
    line_height = font.getbbox("Ag")[3] + 2
    margin = Image.new("RGB", (CAPTION_MARGIN, grid.size(1)))
    draw = ImageDraw.Draw(margin)
    fit = max(1, (row_height - padding) // line_height)
    for row, text in enumerate(row_captions):
        lines = _wrapped(text, font, CAPTION_MARGIN - 8)
        if len(lines) > fit:
            lines = lines[:fit - 1] + [" ".join(lines[fit - 1:])[:24] + "..."]
        top = padding + row * row_height + (row_height - padding - len(lines) * line_height) // 2
        for k, line in enumerate(lines):
            draw.text((4, top + k * line_height), line, fill=(255, 255, 255), font=font)
    text = torch.from_numpy(np.asarray(margin, dtype=np.float32) / 255.0).permute(2, 0, 1)
    return torch.cat([text, grid], dim=2)


def write_samples(samples: torch.Tensor, path: Path, nrow: int = 8, reference: torch.Tensor | None = None,
                  row_captions: Sequence[str] | None = None) -> Path:
    """Images in [-1, 1] -> a grid PNG (``row_captions``: one caption per row, written on its left);
    2-D points -> a scatter PNG; 1-D points -> a histogram. Returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if samples.dim() == 2 and samples.size(1) == 2:
        save_scatter(samples, path, reference, title=path.stem)
    elif samples.dim() == 2 and samples.size(1) == 1:
        save_histogram(samples, path, title=path.stem)
    else:
        grid = make_grid(samples.detach().float().cpu(), nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)
        if row_captions:
            rows = -(-samples.size(0) // nrow)
            if len(row_captions) != rows:
                raise ValueError(f"write_samples: {len(row_captions)} row captions for a grid of {rows} rows")
            grid = captioned(grid, row_captions)
        save_image(grid, path)
    return path


def _png_as_array(path: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"))


class PeriodicPictureCallback(L.Callback):
    """Base of the picture callbacks: ``render(trainer, pl_module)`` every ``every_n_steps``
    iterations and once more at the end of fit unless the last iteration just rendered.
    ``render`` sets ``self.last_path`` to the file it wrote (named ``..._NNNNNN.png``)."""

    def __init__(self, every_n_steps: int) -> None:
        if every_n_steps < 1:
            raise ValueError(f"{type(self).__name__}.every_n_steps must be >= 1, got {every_n_steps}")
        self.every_n_steps = every_n_steps
        self.last_path: Path | None = None

    def render(self, trainer, pl_module) -> None:
        raise NotImplementedError

    @staticmethod
    def log_picture(trainer, key: str, path: Path) -> None:
        """The PNG at ``path`` to every W&B / TensorBoard logger of ``trainer``, under ``key``."""
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image(key=key, images=[_png_as_array(path)], step=trainer.global_step)
            elif isinstance(logger, TensorBoardLogger):
                logger.experiment.add_image(key, _png_as_array(path), trainer.global_step, dataformats="HWC")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step % self.every_n_steps == 0:
            self.render(trainer, pl_module)

    def on_train_end(self, trainer, pl_module) -> None:
        if self.last_path is None or not self.last_path.stem.endswith(f"{trainer.global_step:06d}"):
            self.render(trainer, pl_module)


def held_out_items(datamodule, num: int) -> list:
    """The first ``num`` samples of the held-out split (the training split when there is none)."""
    datamodule.setup("fit")
    dataset = datamodule.heldout_set if datamodule.heldout_set is not None else datamodule.train_set
    return [dataset[i] for i in range(min(num, len(dataset)))]


def _entry(item, key: str):
    if isinstance(item, dict):
        if key not in item:
            raise ValueError(f"the held-out samples have no {key!r} (they have {', '.join(map(str, item))})")
        return torch.as_tensor(item[key])
    if isinstance(item, (list, tuple)):
        return torch.as_tensor(item[1] if key == "label" else item[0])
    return item


def held_out_conditions(datamodule, num: int, keys) -> dict[str, torch.Tensor]:
    """The conditions ``keys`` of the first ``num`` held-out samples, stacked per key (on the host)."""
    items = held_out_items(datamodule, num)
    return {key: torch.stack([_entry(item, key) for item in items]) for key in keys}


def held_out_inputs(datamodule, num: int, key: str = "a") -> torch.Tensor:
    """The first ``num`` inputs (``key``: the model's input condition) of the held-out split."""
    return held_out_conditions(datamodule, num, [key])[key]


def grid_inputs(pl_module, datamodule, num: int):
    """What a model's ``preview_grid`` needs from held-out data, by its declarations: the inputs of a
    model that maps inputs, the non-class conditions of a model that has some, else nothing."""
    conditions = pl_module.conditions()
    if pl_module.translates:
        key = next(c.key for c in conditions if c.is_input)
        return held_out_inputs(datamodule, num, key)
    keys = [c.key for c in conditions if c.kind != "class"]
    return held_out_conditions(datamodule, num, keys) if keys else None


class SampleGridCallback(PeriodicPictureCallback):
    """Every ``every_n_steps`` iterations and at the end of fit, draw G's samples for the module's
    fixed noise (EMA generator when there is one), save ``<root>/samples/iter_NNNNNN.png`` and log
    the picture to W&B / TensorBoard. 2-D data becomes a scatter plot. Rank 0 only.

    What a grid shows is the model's ``preview_grid``, by its declared conditions and output:
    class-conditional models get one row per class (row k holds class k for the first ``nrow``
    fixed noise vectors, so each column keeps its noise across the classes); models that map
    inputs show fixed held-out inputs (the first ``num_samples // 2`` of the data module's held-out
    split) beside their outputs; models with other conditions (text, attributes) one row per
    held-out condition (a caption is written left of its row); a video output shows each sample's
    frames as a row, tokens as strips."""

    def __init__(self, every_n_steps: int = 500, num_samples: int = 64, nrow: int = 8, use_ema: bool = True) -> None:
        super().__init__(every_n_steps)
        self.num_samples = num_samples
        self.nrow = nrow
        self.use_ema = use_ema
        self.inputs = None  # fixed held-out inputs or conditions, when the model's grid needs them

    def on_fit_start(self, trainer, pl_module) -> None:
        if trainer.datamodule is not None:
            num = max(1, self.num_samples // 2) if pl_module.translates else self.num_samples
            self.inputs = grid_inputs(pl_module, trainer.datamodule, num)

    def draw(self, pl_module) -> tuple[torch.Tensor, int]:
        """(samples, images per row) of the grid, through the model's declarations."""
        inputs = self.inputs
        if isinstance(inputs, dict):
            inputs = {key: value.to(pl_module.device, non_blocking=True) for key, value in inputs.items()}
        return pl_module.preview_grid(self.num_samples, self.nrow, use_ema=self.use_ema, inputs=inputs)

    def row_captions(self, pl_module, rows: int) -> list[str] | None:
        """The held-out caption of each of the grid's ``rows`` rows, for a text-conditioned model."""
        text = next((c for c in pl_module.conditions() if c.kind == "text"), None)
        if text is None or not isinstance(self.inputs, dict) or text.key not in self.inputs:
            return None
        from gan_lightning.data.captions import detokenize

        return [detokenize(ids) for ids in self.inputs[text.key][:rows]]

    def render(self, trainer, pl_module) -> Path | None:
        if not trainer.is_global_zero:
            return None
        samples, nrow = self.draw(pl_module)
        reference = getattr(trainer.datamodule, "modes", None) if trainer.datamodule is not None else None
        path = Path(trainer.default_root_dir) / "samples" / f"iter_{trainer.global_step:06d}.png"
        captions = self.row_captions(pl_module, -(-samples.size(0) // nrow)) if samples.dim() == 4 else None
        self.last_path = write_samples(samples, path, nrow, reference, row_captions=captions)
        self.log_picture(trainer, "samples", path)
        return path
