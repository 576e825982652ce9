"""No traceback reaches a user from any verb (README, The CLI): bad values for every option of every verb
end with exit status 2 and one line; a bug still shows its traceback.

The options are read from the verbs' own parsers and the signatures of the classes a run builds (the
trainer, the model, the data module, the default callbacks), and bad values are made from each one's
type: a value of another type must stop the command in one line; an out-of-range or empty value must
either be accepted or stop it in one line, never with a traceback. ``main`` runs in this process; an
exception other than SystemExit escaping it fails the test with its traceback: that is a bug. For
``fit`` / ``validate`` / ``test`` the sweep stops where training would start (parse, build, checks);
a few bad values that only show once training runs are run for real, and a few commands run as users
run them, through the console script."""

from __future__ import annotations

import inspect
import types
import typing
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import tiny_dcgan
from core_models import TwoWayTranslator
from gan_lightning import cli as cli_module
from gan_lightning.cli import DEFAULT_CALLBACKS, GANCLI, _import_class, main, models_parser, sample_parser
from gan_lightning.evaluate import build_parser as evaluate_parser
from gan_lightning.models import DCGAN
from gan_lightning.data import MNIST5k
from gan_lightning.translate import parser as translate_parser
from test_cli import cli
from test_cli_translate import save_untrained

TINY = ["--model", "DCGAN", "--data", "MNIST5k", "--model.init_args.latent_dim", "8", "--model.init_args.g_width", "8",
        "--model.init_args.d_width", "8", "--data.init_args.batch_size", "8", "--trainer.logger", "false",
        "--trainer.enable_progress_bar", "false", "--trainer.limit_val_batches", "0"]


def outcome(capsys, argv) -> tuple[int, list[str]]:
    """``gan-lightning ARGV`` in this process: (exit status, non-empty stderr lines). Any other exception
    propagates: a traceback is a bug."""
    capsys.readouterr()
    try:
        main([str(a) for a in argv])
        status = 0
    except SystemExit as exit:
        status = exit.code if isinstance(exit.code, int) else 1
    return status, [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def assert_one_line_error(status, lines, argv):
    errors = [line for line in lines if line.startswith("gan-lightning: error: ")]
    assert status == 2, (argv, lines[-5:])
    assert len(errors) == 1 and lines[-1] == errors[0], (argv, lines[-5:])
    assert not any("Traceback" in line for line in lines), (argv, lines)


def assert_accepted_or_one_line(status, lines, argv):
    if status != 0:
        assert_one_line_error(status, lines, argv)


# ---------------------------------------------------------------------------- values from types
def _parts(annotation) -> list:
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return [p for a in typing.get_args(annotation) for p in _parts(a)]
    return [annotation]


def values_for(annotation) -> tuple[list[str], list[str]]:
    """``(of another type, out of range or empty)`` for an option of type ``annotation``."""
    parts = [p for p in _parts(annotation) if p is not type(None)]
    origins = {typing.get_origin(p) or p for p in parts}
    if any(p is str or p is Path for p in parts) or not parts or annotation is inspect.Parameter.empty:
        return [], [""]
    if origins == {bool}:
        return ["maybe"], []
    if origins <= {int, bool}:
        return ["1.5x"], ["-5"]
    if origins <= {int, float, bool}:
        return ["abc"], ["-1"]
    if origins == {typing.Literal}:
        return ["no_such_value"], []
    return [], ["no_such_value"]


def class_options(prefix: str, cls: type, skip=()) -> list[tuple[str, object]]:
    """``(--prefix.name, annotation)`` for the ``__init__`` arguments of ``cls`` and its bases (``**kwargs``)."""
    found, seen = [], set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        hints = typing.get_type_hints(init) if klass.__module__.startswith("gan_lightning") else {}
        params = inspect.signature(init).parameters
        for name, param in params.items():
            if name in ("self", "args", "kwargs") or name in seen or name in skip:
                continue
            if param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                continue
            seen.add(name)
            found.append((f"{prefix}.{name}", hints.get(name, param.annotation)))
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            break
    return found


def lightning_options() -> list[tuple[str, object]]:
    """Every option of the classes a fit builds: trainer, model (DCGAN), data (MNIST5k), default callbacks."""
    import lightning as L

    trainer = class_options("--trainer", L.Trainer, skip=("callbacks", "logger", "plugins", "profiler", "strategy"))
    trainer = [(k, typing.get_type_hints(L.Trainer.__init__).get(k.split(".")[-1], a)) for k, a in trainer]
    callbacks = [o for key, path in DEFAULT_CALLBACKS.items() for o in class_options(f"--{key}", _import_class(path))]
    return ([("--trainer.strategy", str), ("--trainer.logger", str), ("--trainer.profiler", str)] + trainer
            + class_options("--model.init_args", DCGAN, skip=("data_shape",))
            + class_options("--data.init_args", MNIST5k) + callbacks)


@pytest.fixture
def no_training(monkeypatch):
    """LightningCLI verbs stop where they would run (after parsing, building and every check)."""
    monkeypatch.setattr(GANCLI, "_run_subcommand", lambda self, subcommand: None)


def test_every_option_of_fit_given_a_bad_value_is_accepted_or_refused_in_one_line(tmp_path, capsys, no_training,
                                                                                   monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative folders the values name (a checkpoint dirpath) land here
    swept = 0
    for option, annotation in lightning_options():
        wrong, odd = values_for(annotation)
        for value, must_fail in [(v, True) for v in wrong] + [(v, False) for v in odd]:
            argv = ["fit", *TINY, "--trainer.default_root_dir", tmp_path / "run", option, value]
            status, lines = outcome(capsys, argv)
            (assert_one_line_error if must_fail else assert_accepted_or_one_line)(status, lines, argv)
            swept += 1
    assert swept > 140


@pytest.mark.parametrize("verb", ["validate", "test"])
def test_the_options_of_validate_and_test_of_their_own_are_refused_in_one_line(verb, tmp_path, capsys, no_training):
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint")
    for option, value in [("--ckpt_path", ""), ("--ckpt_path", tmp_path), ("--ckpt_path", tmp_path / "missing.ckpt"),
                          ("--ckpt_path", text), ("--verbose", "maybe"), ("--trainer.limit_val_batches", "-3"),
                          ("--no_such_option", "1")]:
        argv = [verb, *TINY, "--trainer.default_root_dir", tmp_path / "run", option, value]
        assert_one_line_error(*outcome(capsys, argv), argv)


@pytest.mark.parametrize("args, line", [
    (["--trainer.max_steps", "-5"],
     "--trainer.max_steps: -5 is not accepted; give a positive number of iterations (or -1 for no limit)"),
    (["--trainer.accelerator", "gpu"], "--trainer: "),
    (["--trainer.devices", "0"], "--trainer: "),
    (["--trainer.default_root_dir", ""], "--trainer.default_root_dir is empty"),
    (["--model.init_args.g_width", "-8"], "DCGAN: these settings build no network ("),
    (["--model.init_args.latent_dim", "0"], "DCGAN: model.latent_dim must be >= 1, got 0"),
    (["--model.init_args.lr_d", "-1"], "DCGAN: model.lr_d must be >= 0, got -1.0"),
    (["--model.init_args.betas", "[0.5, 1.5]"], "DCGAN: model.betas must be two numbers in [0, 1)"),
    (["--ema.decay", "2"], "EMACallback: "),
    (["--sample_grid.every_n_steps", "0"], "SampleGridCallback: "),
    (["--checkpoint.every_n_train_steps", "-3"], "ModelCheckpoint: "),
    (["--preemption.signals", "[SIGFOO]"], "PreemptionCheckpoint: unknown signal 'SIGFOO'"),
    (["--data.init_args.channels", "2"], "MNIST5k: data.channels must be 1 or 3, got 2"),
    (["--config", ""], "--config is empty"),
    (["--ckpt_path", ""], "--ckpt_path is empty"),
])
def test_values_out_of_range_are_refused_in_one_line_naming_the_key(args, line, tmp_path, capsys, no_training):
    argv = ["fit", *TINY, "--trainer.default_root_dir", tmp_path / "run", *args]
    status, lines = outcome(capsys, argv)
    assert_one_line_error(status, lines, argv)
    assert lines[-1].startswith(f"gan-lightning: error: {line}"), lines[-1]


def test_files_of_the_wrong_kind_are_refused_in_one_line(tmp_path, capsys, no_training):
    binary = tmp_path / "weights.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    broken = tmp_path / "broken.yaml"
    broken.write_text("model: [unclosed\n")
    for argv in (["fit", "--config", binary], ["fit", "--config", listing], ["fit", "--config", broken],
                 ["fit", "--config", tmp_path], ["fit", *TINY, "--ckpt_path", binary],
                 ["fit", *TINY, "--trainer.default_root_dir", binary / "run"]):
        assert_one_line_error(*outcome(capsys, argv), argv)


def test_bad_values_that_show_once_training_runs_are_refused_in_one_line(tmp_path, capsys):
    too_few = ["--data.init_args.train_size", "4", "--data.init_args.batch_size", "8"]
    for args in (too_few, ["--data.init_args.train_size", "4", "--data.init_args.device_resident", "true",
                           "--trainer.max_steps", "1"],
                 ["--model.init_args.optimizers", "{nonet: {lr: 0.1}}"]):
        argv = ["fit", *TINY, "--trainer.default_root_dir", tmp_path / "run", "--trainer.max_steps", "1", *args]
        assert_one_line_error(*outcome(capsys, argv), argv)


# ---------------------------------------------------------------------------- our verbs
@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_input")
    text = root / "notes.txt"
    text.write_text("not an image, not a checkpoint")
    images = root / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        Image.fromarray(rng.integers(0, 256, (10, 10), dtype=np.uint8)).save(images / f"{name}.png")
    return {
        "root": root, "text": text, "images": images,
        "dcgan": save_untrained(tiny_dcgan(), root / "dcgan.ckpt"),
        "translator": save_untrained(TwoWayTranslator(data_shape=(1, 8, 8)), root / "translator.ckpt"),
    }


def path_values(files, kind: str) -> list[str]:
    """Empty, missing, a folder, a text file and a place no file can be written, for a path option."""
    root = files["root"]
    impossible = files["text"] / "below_a_file" / ("out.png" if kind == "out" else "x")
    return ["", str(root / "missing" / "thing"), str(root), str(files["text"]), str(impossible)]


def argparse_values(action, files) -> tuple[list[list[str]], list[list[str]]]:
    """``(of another type, odd)`` argument lists for one option of an argparse parser."""
    name = action.option_strings[-1]
    if action.nargs == 0:  # a flag
        return [[f"{name}=yes"]], []
    if action.choices:
        return [[name, "no_such_value"]], []
    if action.type is int:
        return [[name, "1.5x"]], [[name, v] for v in ("-1", "0", str(2**70))]
    if action.type is float:
        return [[name, "abc"]], [[name, v] for v in ("-1", "0", "nan", "inf")]
    kind = "out" if name == "--out" else "path"
    return [], [[name, v] for v in path_values(files, kind)] + [[name, "no_such_value"]]


VERBS = {
    "sample": (sample_parser, lambda f: ["--ckpt_path", f["dcgan"], "--num_samples", "4", "--out",
                                         f["root"] / "out" / "grid.png"]),
    "evaluate": (evaluate_parser, lambda f: ["--ckpt_path", f["dcgan"], "--metrics", "1nn", "--feature_extractor",
                                             "none", "--num_samples", "8", "--num_real", "8", "--batch_size", "8",
                                             "--data", "MNIST5k", "--no_cache", "--quiet", "--device", "cpu"]),
    "translate": (translate_parser, lambda f: ["--ckpt_path", f["translator"], "--input", f["images"], "--out",
                                               f["root"] / "translated"]),
    "models": (models_parser, lambda f: []),
}


@pytest.mark.parametrize("verb", list(VERBS))
def test_every_option_of_our_verbs_given_a_bad_value_is_accepted_or_refused_in_one_line(verb, files, capsys, tmp_path,
                                                                                        monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative paths the values name (an --out folder) land here
    make_parser, base = VERBS[verb]
    status, lines = outcome(capsys, [verb, *base(files)])
    assert status == 0, lines[-5:]  # the base command works: each case changes one option
    actions = [a for a in make_parser()._actions if a.option_strings and a.option_strings[-1] != "--help"]
    for action in actions:
        wrong, odd = argparse_values(action, files)
        for args, must_fail in [(a, True) for a in wrong] + [(a, False) for a in odd]:
            argv = [verb, *base(files), *args]
            status, lines = outcome(capsys, argv)
            (assert_one_line_error if must_fail else assert_accepted_or_one_line)(status, lines, argv)
    for argv in ([verb, *base(files), "--no_such_option"], [verb, *base(files), "--no_such_option", "1"]):
        assert_one_line_error(*outcome(capsys, argv), argv)


@pytest.mark.parametrize("argv, line", [
    (["sample"], "gan-lightning sample needs --ckpt_path (`gan-lightning sample --help` lists the options)"),
    (["sample", "--ckpt_path", "{dcgan}", "--num_samples", "abc"], "--num_samples: 'abc' is not accepted; give a whole "
                                                                   "number"),
    (["sample", "--ckpt_path", "{dcgan}", "--out", "{root}/grid.txt"], "--out: '{root}/grid.txt' is not accepted; "
                                                                        "give a file name ending in .png"),
    (["sample", "--ckpt_path", "{dcgan}", "--out", "{root}"], "--out: {root} is a folder;"),
    (["sample", "--ckpt_path", "{dcgan}", "--truncation", "-1"], "--truncation: -1.0 is not accepted; give a number >= 0"),
    (["sample", "--ckpt_path", "{dcgan}", "--truncation", "0"], "truncation must be > 0, got 0.0"),  # DCGAN's own check
    (["sample", "--ckpt_path", "{root}"], "--ckpt_path {root} is a folder; give a checkpoint file"),
    (["sample", "--ckpt_path", "{text}"], "checkpoint {text} is corrupt or not a PyTorch checkpoint"),
    (["evaluate", "--ckpt_path", "{dcgan}", "--device", "cuda:7"], "--device: 'cuda:7' is not accepted;"),
    (["evaluate", "--ckpt_path", "{dcgan}", "--num_real", "1"], "--num_real: 1 is not accepted; give 2 or more"),
    (["translate", "--ckpt_path", "{translator}", "--input", "{images}", "--out", "{text}"],
     "--out: {text} is a file; give a folder that can be created and written"),
    (["models", "extra"], "gan-lightning models has no option extra"),
    (["sample", "--ckpt_path", "{dcgan}", "--text", "a red one"],
     "--text: DCGAN takes no text; its conditions: none (unconditional)"),
    (["sample", "--ckpt_path", "{dcgan}", "--texts", "{root}/none.txt"], "--texts: {root}/none.txt not found"),
])
def test_our_verbs_name_the_option_the_value_and_what_is_accepted(argv, line, files, capsys):
    argv = [str(a).format(**files) for a in argv]
    status, lines = outcome(capsys, argv)
    assert_one_line_error(status, lines, argv)
    assert lines[-1].startswith(f"gan-lightning: error: {line.format(**files)}"), lines[-1]


def test_sample_into_a_folder_that_does_not_exist_creates_it(files, capsys):
    out = files["root"] / "new" / "deeper" / "grid.png"
    status, lines = outcome(capsys, ["sample", "--ckpt_path", files["dcgan"], "--num_samples", "4", "--out", out])
    assert status == 0 and out.is_file(), lines


def test_a_command_that_fails_creates_no_output_folder(files, tmp_path, capsys):
    for argv in (["sample", "--ckpt_path", files["text"], "--out", tmp_path / "samples" / "grid.png"],
                 ["translate", "--ckpt_path", files["text"], "--input", files["images"], "--out", tmp_path / "out"]):
        assert_one_line_error(*outcome(capsys, argv), argv)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- bugs keep their traceback
def test_a_bug_in_our_own_code_keeps_its_traceback(files, tmp_path, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise ValueError("a bug, not the user's input")

    with monkeypatch.context() as patch:
        patch.setattr(cli_module, "load_model", broken)
        with pytest.raises(ValueError, match="a bug"):
            main(["sample", "--ckpt_path", str(files["dcgan"]), "--out", str(tmp_path / "grid.png")])
    with monkeypatch.context() as patch:
        patch.setattr(cli_module, "check_resume", broken)  # a ValueError outside any argument check
        with pytest.raises(ValueError, match="a bug"):
            main(["fit", *TINY, "--trainer.default_root_dir", str(tmp_path / "run"), "--trainer.max_steps", "1"])

    def broken_loss(self, real, fake, labels=None):
        raise RuntimeError("a bug in a loss")

    monkeypatch.setattr(DCGAN, "generator_loss", broken_loss)
    with pytest.raises(RuntimeError, match="a bug in a loss"):
        main(["fit", *TINY, "--trainer.default_root_dir", str(tmp_path / "run2"), "--trainer.max_steps", "1"])


def test_the_console_script_prints_one_line_and_no_traceback(tmp_path):
    for args, line in [
        (["fit", "--model", "DCGAN", "--data", "MNIST5k", "--trainer.max_steps", "-5", "--trainer.logger", "false",
          "--trainer.default_root_dir", tmp_path / "run"],
         "gan-lightning: error: --trainer.max_steps: -5 is not accepted; give a positive number of iterations (or -1 "
         "for no limit)"),
        (["sample", "--ckpt_path", "missing.ckpt", "--out", tmp_path / "grid"], "gan-lightning: error: --out: "),
    ]:
        result = cli(*args)
        assert result.returncode == 2, result.stderr[-3000:]
        assert "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines()[-1].startswith(line), result.stderr[-500:]


def test_errors_are_placed_by_resolved_paths_when_the_environment_is_reached_through_a_link(tmp_path):
    """A virtual environment behind a symbolic link names its files by the link; the folders the CLI
    trusts are resolved, so both sides are compared resolved (an error of Lightning stays one line)."""
    import importlib.util

    from gan_lightning.cli import _raised_in

    real = tmp_path / "real"
    real.mkdir()
    (real / "checks.py").write_text("def check():\n    raise ValueError('bad value')\n")
    (tmp_path / "link").symlink_to(real)
    spec = importlib.util.spec_from_file_location("linked_checks", tmp_path / "link" / "checks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(ValueError) as caught:
        module.check()
    assert _raised_in(caught.value, [str(real.resolve())])
    assert not _raised_in(caught.value, [str(tmp_path / "elsewhere")])
