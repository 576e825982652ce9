"""``gan-lightning translate``: an image-to-image model's outputs for an image or a folder of images,
and the held-out inputs of a run that ``gan-lightning sample`` shows beside their translations.

    gan-lightning translate --ckpt_path PATH --input DIR_OR_FILE --out DIR [--direction AtoB|BtoA]
                            [--attributes 1,0,1,...] [--batch_size N] [--image_size N]

Every input is resized to the model's ``data_shape`` (a super-resolution model's low-resolution
``input_shape``; or ``--image_size`` square) with its channels (grey or RGB), translated with ``model.translate(images, direction=..., attributes=...)``
and written as ``DIR/<input stem>.png``; ``DIR/grid.png`` shows each input beside its output.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Sequence

from gan_lightning import options
from gan_lightning.checkpoints import load_model, read_checkpoint
from gan_lightning.errors import UsageError

DIRECTIONS = ("AtoB", "BtoA")
#: Input pairs per row of grid.png.
PAIRS_PER_ROW = 4


def parser() -> argparse.ArgumentParser:
    parser = options.Parser(prog="gan-lightning translate",
                                     description="Translate images with an image-to-image model's checkpoint.")
    parser.add_argument("--ckpt_path", required=True, help="a checkpoint of an image-to-image model")
    parser.add_argument("--input", required=True, help="an image file, or a folder: every image in it")
    parser.add_argument("--out", required=True, help="folder for one PNG per input (same stem) and grid.png")
    parser.add_argument("--direction", default="AtoB", help="AtoB (default) or BtoA, for two-way models")
    parser.add_argument("--attributes", default=None,
                        help="target attributes as comma-separated 0/1 values, one per attribute (StarGAN; "
                             "trained with label_sets: then the mask, one value per set, 1 for the set given)")
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--image_size", type=int, default=None,
                        help="resize inputs to this square size (default: the model's input shape: its data shape, "
                             "or the low-resolution shape of a super-resolution model)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:1, mps, ...")
    return parser


def is_translation_model(model: Any) -> bool:
    """Whether ``model`` declares an input it maps (an image, a label map)."""
    return bool(getattr(model, "translates", False))


def model_attributes(model: Any) -> int | None:
    """How many target attributes the model takes (None: it takes none): its ``domain_size`` where it has
    one (StarGAN: the attributes, plus the mask with label sets), else ``num_attributes``."""
    count = getattr(model, "domain_size", None) or getattr(model, "num_attributes", None)
    if count is None:
        count = getattr(model, "hparams", {}).get("num_attributes")
    return int(count) if count else None


def parse_attributes(text: str, expected: int | None, model_name: str):
    import torch

    if expected is None:
        raise UsageError(f"--attributes: {model_name} takes no target attributes")
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise UsageError(f"--attributes must be comma-separated 0/1 values, got {text!r}") from None
    if any(v not in (0.0, 1.0) for v in values):
        raise UsageError(f"--attributes must be comma-separated 0/1 values, got {text!r}")
    if len(values) != expected:
        raise UsageError(f"--attributes has {len(values)} values; {model_name} takes {expected} attributes")
    return torch.tensor(values)


def input_files(path: Path) -> list[Path]:
    from gan_lightning.data.translation import IMAGE_EXTENSIONS, image_files

    if not path.exists():
        raise UsageError(f"--input {path} not found")
    files = [path] if path.is_file() else image_files(path)
    if not files:
        raise UsageError(f"--input: no image files ({', '.join(IMAGE_EXTENSIONS)}) in {path}")
    return files


def read_images(files: Sequence[Path], channels: int, size: tuple[int, int]):
    """The files as one float tensor in [-1, 1], (N, channels, H, W), resized (bicubic)."""
    import torch
    from PIL import Image

    from gan_lightning.data.files import image_problem, open_image
    from gan_lightning.data.translation import to_tensor

    images = []
    for path in files:
        problem = image_problem(path)
        if problem is not None:
            raise UsageError(f"--input: {path} cannot be read as an image ({problem})")
        image = open_image(path, channels).resize((size[1], size[0]), Image.BICUBIC)
        images.append(to_tensor(image))
    return torch.stack(images)


def translate_images(model, images, direction: str, attributes, batch_size: int):
    """``model.translate`` over ``images`` in batches; ValueError / TypeError of the model become one line."""
    import torch

    outputs = []
    options = {"direction": direction}
    for start in range(0, images.size(0), batch_size):
        batch = images[start : start + batch_size]
        if attributes is not None:
            options["attributes"] = attributes.expand(batch.size(0), -1).to(model.device)
        try:
            outputs.append(model.translate(batch.to(model.device), **options).detach().float().cpu())
        except (ValueError, TypeError) as error:
            raise UsageError(f"{type(model).__name__}.translate: {error}") from error
    return torch.cat(outputs)


def save_png(image, path: Path) -> None:
    """One image in [-1, 1], (C, H, W), as a PNG: grey for one channel, RGB for three (rounded as torchvision's save_image)."""
    from PIL import Image

    pixels = image.add(1.0).mul(127.5).add(0.5).clamp(0, 255).byte()
    array = pixels[0].numpy() if pixels.size(0) == 1 else pixels.permute(1, 2, 0).numpy()
    Image.fromarray(array).save(path)


def write_pairs(inputs, outputs, path: Path) -> Path:
    """Each input beside its output, ``PAIRS_PER_ROW`` pairs a row, as one PNG."""
    import torch

    from gan_lightning.callbacks import write_samples

    if outputs.shape[1:] != inputs.shape[1:]:  # another size or channel count: show inputs at the outputs' shape
        inputs = torch.nn.functional.interpolate(inputs, size=outputs.shape[-2:], mode="bilinear", align_corners=False)
        inputs = inputs.expand(-1, outputs.size(1), -1, -1) if inputs.size(1) == 1 else inputs
    pairs = torch.stack([inputs.to(outputs), outputs], dim=1).flatten(0, 1)
    return write_samples(pairs, path, nrow=2 * min(PAIRS_PER_ROW, inputs.size(0)))


def cmd_translate(argv: Sequence[str]) -> None:
    args = parser().parse_args(argv)
    if args.direction not in DIRECTIONS:
        raise UsageError(f"--direction must be AtoB or BtoA, got {args.direction!r}")
    options.at_least("--batch_size", args.batch_size, 1, "a positive batch size")
    options.at_least("--image_size", args.image_size, 1, "a positive size in pixels", maximum=2**16)
    if not args.input.strip():
        raise UsageError("--input is empty; give an image file or a folder of images")
    files = input_files(Path(args.input))
    out = options.output_folder("--out", args.out, create=False)  # created once there is something to write
    device = options.device("--device", args.device)

    model = load_model(args.ckpt_path, map_location=device)
    name = type(model).__name__
    if not is_translation_model(model):
        raise UsageError(f"{name} is not an image-to-image model (it draws from noise): "
                         f"use `gan-lightning sample --ckpt_path {args.ckpt_path}`")
    attributes = parse_attributes(args.attributes, model_attributes(model), name) if args.attributes else None
    # super-resolution models take their small input shape (``input_shape``), others their data shape
    channels, height, width = getattr(model, "input_shape", model.data_shape)
    size = (args.image_size, args.image_size) if args.image_size else (height, width)
    reader = getattr(model, "read_inputs", None)  # models whose inputs are not photos (SPADE: label maps)
    if reader is None:
        inputs = read_images(files, channels, size)
    else:
        try:
            inputs = reader(files, size)
        except (OSError, ValueError) as error:
            raise UsageError(f"--input: {error}") from error
    outputs = translate_images(model, inputs, args.direction, attributes, args.batch_size)
    options.output_folder("--out", args.out)
    stems = [path.stem for path in files]
    if len(set(stems)) < len(stems):
        raise UsageError(f"--input: two files share a stem ({next(s for s in stems if stems.count(s) > 1)!r}); "
                         "their outputs would overwrite each other")
    for stem, image in zip(stems, outputs):
        save_png(image, out / f"{stem}.png")
    pictures = getattr(model, "input_pictures", None)  # label maps are shown in colour
    grid = write_pairs(pictures(inputs) if pictures is not None else inputs, outputs, out / "grid.png")
    print(f"translated {len(files)} image{'s' if len(files) != 1 else ''} ({args.direction}) into {out}; "
          f"inputs beside outputs in {grid}")


# ---------------------------------------------------------------------------- sample on a translation model
def run_data(ckpt_path: str | Path, data_config: str | None = None):
    """The data module of a checkpoint's run, for its held-out inputs: ``data_config`` (a YAML file with
    a ``data`` section) when given, else the data module arguments saved in the checkpoint
    (``datamodule_hyper_parameters``: the image-to-image data modules save them), else the run's
    ``config.yaml`` beside the checkpoint. One line (UsageError) when none is found."""
    from gan_lightning.evaluate import data_class, data_from_config, run_config

    if data_config:
        return data_from_config(Path(data_config))
    checkpoint = read_checkpoint(ckpt_path)
    saved = dict(checkpoint.get("datamodule_hyper_parameters") or {})
    if saved.get("_class_path"):
        cls = data_class(saved["_class_path"])
        arguments = {k: v for k, v in saved.items() if not k.startswith("_")}
        try:
            return cls(**arguments)
        except (TypeError, ValueError) as error:
            raise UsageError(f"the data arguments saved in {ckpt_path} do not build {cls.__name__}: {error}") from error
    config = run_config(Path(ckpt_path))
    if config is not None:
        return data_from_config(config)
    raise UsageError(f"{ckpt_path} records no data module and has no config.yaml beside it, so there are no "
                     f"held-out inputs to show: pass --data_config FILE, or translate images of your own with "
                     f"`gan-lightning translate --ckpt_path {ckpt_path} --input DIR --out DIR`")


def sample_translations(model, ckpt_path: str | Path, num_samples: int, nrow: int, data_config: str | None = None):
    """(images, images per row) of ``gan-lightning sample`` on a translation model: the first
    ``num_samples // 2`` held-out inputs of its run, each beside its translation (the sample grid's picture)."""
    from gan_lightning.callbacks.samples import grid_inputs

    datamodule = run_data(ckpt_path, data_config)
    try:
        inputs = grid_inputs(model, datamodule, max(1, num_samples // 2))
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot read the held-out inputs of {type(datamodule).__name__} ({error}); "
                         f"translate images of your own with `gan-lightning translate`") from error
    try:
        return model.preview_grid(num_samples, nrow, inputs=inputs.to(model.device))
    except (ValueError, TypeError) as error:
        raise UsageError(f"{type(model).__name__}: {error}") from error
