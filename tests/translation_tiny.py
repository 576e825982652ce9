"""CPU-small builders of the image-to-image models, for the tests that run every model
(``tests/test_core.py``: the D entry point, bitwise mid-epoch resume; ``tests/test_core_ddp.py``).

Each model file's tests put ``TINY = {"ClassName": (build_model, build_data), ...}`` in a module
``tests/tiny_<family>.py``; this module merges them. ``build_model()`` returns a seeded, tiny
model; ``build_data()`` a data module of a few dozen 32 px (or smaller) samples whose batches the
model takes.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Callable

TINY: dict[str, tuple[Callable, Callable]] = {}
for _path in sorted(Path(__file__).parent.glob("tiny_*.py")):
    TINY.update(importlib.import_module(_path.stem).TINY)
