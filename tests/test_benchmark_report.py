"""benchmarks/report.py: scripts rewrite their own section of RESULTS.md and keep the others."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "report.py"


@pytest.fixture(scope="module")
def report():
    spec = importlib.util.spec_from_file_location("benchmark_report", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sections_are_replaced_in_place_and_others_kept(report, tmp_path):
    path = tmp_path / "RESULTS.md"
    report.replace_section(path, "a", "## A\n\nfirst")
    report.replace_section(path, "b", "## B\n\nsecond")
    text = report.replace_section(path, "a", "## A\n\nthird")
    assert text.startswith("# Benchmark results")
    assert report.read_section(path, "a") == "## A\n\nthird"
    assert report.read_section(path, "b") == "## B\n\nsecond"
    assert "first" not in text
    assert text.index("## A") < text.index("## B")  # first-written order is kept
    assert report.read_section(path, "missing") is None


def test_a_broken_section_is_reported(report, tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text("# x\n\n<!-- begin: a -->\nno end\n")
    with pytest.raises(ValueError, match="no end marker"):
        report.replace_section(path, "a", "new")
