"""Models register themselves where they are defined; everything that lists models reads the registry."""

from __future__ import annotations

import importlib
import sys
import textwrap

import pytest

from gan_lightning.models import GANModule, known_models, register_model, unregister_model

PLUGIN = '''
from gan_lightning.models import DCGAN, register_model


@register_model
class TmpGAN(DCGAN):
    """A model defined in a module of its own, outside the package."""

    paper = "a test's own model"
'''


@pytest.fixture
def tmp_model(tmp_path, monkeypatch):
    (tmp_path / "tmp_gan_plugin.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("tmp_gan_plugin")
    try:
        yield module.TmpGAN
    finally:
        unregister_model("TmpGAN")
        sys.modules.pop("tmp_gan_plugin", None)


def test_a_model_in_its_own_module_is_found_everywhere(tmp_model, tmp_path, capsys):
    from gan_lightning import models
    from gan_lightning.cli import build_cli, check_lightning_args, cmd_models
    from test_core import tiny_model

    assert known_models()["TmpGAN"] is tmp_model and models.TmpGAN is tmp_model
    cmd_models([])
    assert any(line.startswith("TmpGAN ") for line in capsys.readouterr().out.splitlines())
    args = ["--model", "TmpGAN", "--data", "MNIST5k", "--model.g_width", "8", "--model.d_width", "8",
            "--trainer.logger", "false", "--trainer.default_root_dir", str(tmp_path)]
    check_lightning_args(args)  # the CLI's list of known names
    assert type(build_cli(args, run=False).model) is tmp_model
    assert type(tiny_model("TmpGAN")) is tmp_model  # the every-model tests build it as any other


def test_every_model_of_the_package_registered_itself_in_its_own_file():
    import gan_lightning.models as package

    for name, cls in known_models().items():
        assert cls.__module__.startswith("gan_lightning.models.") and getattr(package, name) is cls
    init = importlib.util.find_spec("gan_lightning.models").origin
    assert "from gan_lightning.models." not in open(init).read().replace("models.base", "").replace(
        "models.registry", "")  # no hand-kept list of model files


def test_two_models_of_one_name_and_a_non_model_are_refused():
    class DCGAN(GANModule):  # noqa: F811 - another class named like a known model
        pass

    with pytest.raises(ValueError, match=r"two models are named DCGAN: gan_lightning\.models\.dcgan\.DCGAN and "):
        register_model(DCGAN)
    with pytest.raises(TypeError, match="register_model takes GANModule subclasses"):
        register_model(int)
    assert known_models()["DCGAN"].__module__ == "gan_lightning.models.dcgan"


@pytest.mark.parametrize("name", sorted(known_models()))
def test_every_model_rebuilds_from_its_saved_hyperparameters(name):
    """What a checkpoint records rebuilds the model: every class level's arguments, nothing computed twice."""
    from test_core import tiny_model

    model = tiny_model(name)
    rebuilt = type(model)(**model.hparams)
    assert dict(rebuilt.hparams) == dict(model.hparams)
    assert {k: tuple(v.shape) for k, v in rebuilt.state_dict().items()} == {
        k: tuple(v.shape) for k, v in model.state_dict().items()}
