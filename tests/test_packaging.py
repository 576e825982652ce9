"""The top-level `callbacks/` folder installs as `gan_lightning.callbacks`, never as a bare `callbacks`."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_namespaces_the_callbacks_package(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=300)
    wheel = next(tmp_path.glob("gan_lightning-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "gan_lightning/callbacks/__init__.py" in names
    assert "gan_lightning/callbacks/ema.py" in names
    assert "gan_lightning/defaults.yaml" in names  # the CLI's shared defaults, read by every run
    assert "gan_lightning/claims.yaml" in names  # the models' claims, read by `gan-lightning models`
    top_level = {name.split("/")[0] for name in names}
    assert top_level == {"gan_lightning", next(n for n in top_level if n.endswith(".dist-info"))}


def test_installed_import_paths(tmp_path):
    code = ("import importlib.util, gan_lightning.callbacks as c; "
            "from gan_lightning.callbacks import FIDCallback, SampleGridCallback, EMACallback; "
            "from gan_lightning.models import DCGAN; "
            "print(importlib.util.find_spec('callbacks') is None, c.__name__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["True", "gan_lightning.callbacks"], out.stderr
