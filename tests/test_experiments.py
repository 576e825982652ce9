"""Every experiment file parses and builds its model, data module and trainer as it is, and means
what it meant before the shared defaults (gan_lightning/defaults.yaml) took over its trainer block."""

import importlib
import inspect
import json
import re
from pathlib import Path

import pytest
import yaml
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint

from gan_lightning.cli import DEFAULT_CALLBACKS, build_cli, check_lightning_args

EXPERIMENTS = sorted((Path(__file__).resolve().parents[1] / "experiments").glob("*/*.yaml"))
EXPECTED = json.loads(Path(__file__).with_name("experiments_resolved.json").read_text())
# The progress bar is an addition since the expectations were written: every run had
# Lightning's implicit TQDMProgressBar before; ProgressBar takes its place (it redraws on time).
FIRST = [DEFAULT_CALLBACKS[key] for key in ("preemption", "ema", "sample_grid", "divergence_guard", "progress_bar")]
LAST = [DEFAULT_CALLBACKS["checkpoint"]]


def experiment_id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def import_class(class_path: str) -> type:
    module, _, name = class_path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def non_default(cls: type, values: dict) -> dict:
    params = inspect.signature(cls.__init__).parameters
    return {k: v for k, v in values.items() if k not in params or params[k].default != v}


def resolved(*configs: Path) -> dict:
    """The configuration `gan-lightning fit --config CONFIG [--config ...]` runs with (default callbacks merged in)."""
    cli = build_cli([part for config in configs for part in ("--config", str(config))], run=False, instantiate=False)
    return yaml.safe_load(cli.parser.dump(cli.config, skip_none=False))


def test_every_model_has_an_experiment_folder():
    from gan_lightning.models import known_models

    folders = {path.parent.name for path in EXPERIMENTS}
    assert {name.lower() for name in known_models()} <= folders


def test_every_experiment_has_an_expectation():
    assert {experiment_id(path) for path in EXPERIMENTS} == set(EXPECTED) - {"_about"}


@pytest.mark.parametrize("config", EXPERIMENTS, ids=experiment_id)
def test_experiment_resolves_as_before_the_shared_defaults(config):
    expected, got = EXPECTED[experiment_id(config)], resolved(config)
    assert got["seed_everything"] == expected["seed_everything"]
    for section in ("model", "data"):
        assert got[section]["class_path"] == expected[section]["class_path"]
        stated = {key: got[section]["init_args"].get(key) for key in expected[section]["init_args"]}
        assert stated == expected[section]["init_args"], section
    trainer = dict(got["trainer"])
    callbacks, logger = trainer.pop("callbacks"), trainer.pop("logger")
    assert non_default(Trainer, trainer) == expected["trainer"]  # max_steps, root dir, logging, devices
    logger_args = non_default(import_class(logger["class_path"]), logger["init_args"])
    assert logger["class_path"] == expected["logger"]["class_path"]
    assert {k: v for k, v in logger_args.items() if v is not None} == expected["logger"]["init_args"]
    # The same callbacks with the same arguments: preemption, EMA, samples and guard first, then the
    # experiment's own in their order, the checkpoint last (where Lightning runs it anyway).
    own = [cb["class_path"] for cb in expected["callbacks"] if cb["class_path"] not in FIRST + LAST]
    assert [cb["class_path"] for cb in callbacks] == FIRST + own + LAST
    got_args = {cb["class_path"]: cb["init_args"] or {} for cb in callbacks}
    for cb in expected["callbacks"]:
        assert {key: got_args[cb["class_path"]].get(key, "<unset>") for key in cb["init_args"]} == cb["init_args"]
    covered = ("model", "data", "trainer", "seed_everything", "config", "default_callbacks", *DEFAULT_CALLBACKS)
    other = {k: v for k, v in got.items() if k not in covered}
    assert other == expected["other"]
    assert got["default_callbacks"] is False  # merged into trainer.callbacks above: the saved config reruns the same


@pytest.mark.parametrize("config", EXPERIMENTS, ids=experiment_id)
def test_experiment_builds_as_it_is(config, tmp_path):
    args = ["--config", str(config), "--trainer.logger", "false", "--trainer.default_root_dir", str(tmp_path)]
    check_lightning_args(args)
    cli = build_cli(args, run=False)
    assert type(cli.model).__name__.lower() == config.parent.name  # folder named after the class
    assert cli.model.data_shape == tuple(cli.datamodule.data_shape)
    assert cli.trainer.max_steps > 0
    configured = [import_class(cb.class_path) for cb in cli.config.trainer.callbacks]
    ours = [type(cb) for cb in cli.trainer.callbacks if type(cb) in configured]
    assert ours == configured
    assert [type(cb) for cb in cli.trainer.checkpoint_callbacks] == [ModelCheckpoint]
    assert cli.trainer.checkpoint_callback.dirpath == str(tmp_path / "checkpoints")


PAPER_SIZED = sorted((Path(__file__).resolve().parents[1] / "experiments" / "gpu").glob("*/*.yaml"))


def test_an_experiment_and_its_paper_sized_overlay_name_each_other():
    """Each overlay's experiment names it in its comments, and an experiment names only overlays that exist."""
    from gan_lightning.cli import PAPER_SIZED as folder

    named = {path: re.findall(r"experiments/gpu/[\w/]+\.yaml", path.read_text()) for path in EXPERIMENTS}
    repo = EXPERIMENTS[0].parents[2]
    assert {(repo / name).resolve() for names in named.values() for name in names} == set(PAPER_SIZED)
    for overlay in PAPER_SIZED:
        base = overlay.parents[2] / overlay.parent.name / overlay.name
        assert named[base] == [f"experiments/gpu/{overlay.parent.name}/{overlay.name}"]
        assert overlay.parent.parent == folder


@pytest.mark.parametrize("overlay", PAPER_SIZED, ids=experiment_id)
def test_paper_sized_overlay_changes_its_experiment_and_builds(overlay, tmp_path):
    from gan_lightning.cli import config_files

    base, given = config_files(overlay)
    assert base == overlay.parents[2] / overlay.parent.name / overlay.name and given == overlay.resolve()
    changes = yaml.safe_load(overlay.read_text())
    assert set(changes) <= {"model", "data", "trainer"} and "class_path" not in changes.get("model", {})
    plain, sized = resolved(base), resolved(base, overlay)
    for section, values in changes.items():
        for key, value in values.get("init_args", values).items():
            got = sized[section]["init_args"][key] if "init_args" in values else sized[section][key]
            was = plain[section]["init_args"][key] if "init_args" in values else plain[section][key]
            assert got == value and was != value, (section, key)  # set, and not a no-op
    assert sized["model"]["class_path"] == plain["model"]["class_path"]
    cli = build_cli(["--config", str(base), "--config", str(overlay), "--trainer.logger", "false",
                     "--trainer.default_root_dir", str(tmp_path)], run=False)
    model_changes = changes.get("model", {}).get("init_args", {})
    assert {key: cli.model.hparams[key] for key in model_changes} == model_changes


def test_config_files_names_a_missing_experiment(tmp_path, monkeypatch):
    from gan_lightning import cli as cli_module
    from gan_lightning.errors import UsageError

    assert cli_module.config_files(EXPERIMENTS[0]) == [EXPERIMENTS[0].resolve()]
    orphan = cli_module.PAPER_SIZED / "dcgan" / "no_such_experiment.yaml"
    with pytest.raises(UsageError, match="no_such_experiment.yaml.*does not exist"):
        cli_module.config_files(orphan)
