"""Every experiment file parses and builds its model, data module and trainer as it is."""

from pathlib import Path

import pytest

from gan_lightning.cli import build_cli, check_lightning_args

EXPERIMENTS = sorted((Path(__file__).resolve().parents[1] / "experiments").glob("*/*.yaml"))


def test_every_model_has_an_experiment_folder():
    from gan_lightning.models import known_models

    folders = {path.parent.name for path in EXPERIMENTS}
    assert {name.lower() for name in known_models()} <= folders


@pytest.mark.parametrize("config", EXPERIMENTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_experiment_builds_as_it_is(config, tmp_path):
    args = ["--config", str(config), "--trainer.logger", "false", "--trainer.default_root_dir", str(tmp_path)]
    check_lightning_args(args)
    cli = build_cli(args, run=False)
    assert type(cli.model).__name__.lower() == config.parent.name  # folder named after the class
    assert cli.model.data_shape == tuple(cli.datamodule.data_shape)
    assert cli.trainer.max_steps > 0
