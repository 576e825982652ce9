"""The rule of where a part lives (docs/ARCHITECTURE.md, "Where a part lives"), checked on the code.

- networks live in gan_lightning/nets/: a model file defines no nn.Module but its model classes;
- no module imports a private name (``_x``) of another module of the project;
- a model file imports from other model modules only the shared pieces (``models.shared``,
  ``models.base``, ``models.registry``) and public model classes it extends.
"""

from __future__ import annotations

import ast
from pathlib import Path

import torch

from gan_lightning.models import GANModule, known_models

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = [*sorted((ROOT / "gan_lightning").rglob("*.py")), *sorted((ROOT / "callbacks").glob("*.py"))]
MODELS = ROOT / "gan_lightning" / "models"
SHARED = {"gan_lightning.models.base", "gan_lightning.models.registry", "gan_lightning.models.shared"}


def imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) of every ``from module import name`` of a file (absolute project imports)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gan_lightning"):
            found += [(node.module, alias.name) for alias in node.names]
    return found


def test_no_module_imports_a_private_name_of_another():
    private = [f"{path.relative_to(ROOT)}: from {module} import {name}" for path in PACKAGE
               for module, name in imports(path) if name.startswith("_") and not name.startswith("__")]
    assert private == []


def test_model_files_import_only_shared_pieces_and_model_classes_from_other_model_files():
    models = known_models()
    wrong = []
    for path in sorted(MODELS.glob("*.py")):
        for module, name in imports(path):
            if module.startswith("gan_lightning.models.") and module not in SHARED and name not in models:
                wrong.append(f"{path.name}: from {module} import {name}")
    assert wrong == []


def test_networks_live_in_nets_not_in_model_files():
    import importlib

    defined = []
    for path in sorted(MODELS.glob("*.py")):
        module = importlib.import_module(f"gan_lightning.models.{path.stem}")
        for value in vars(module).values():
            if (isinstance(value, type) and value.__module__ == module.__name__ and issubclass(value, torch.nn.Module)
                    and not issubclass(value, GANModule)):
                defined.append(f"{path.name}: {value.__name__}")
    assert defined == []
