"""The former name of benchmarks/harness.py, kept importable: ``import report`` gets the harness's names."""

from harness import *  # noqa: F401,F403
