"""benchmarks/ is a thin user of the package: what its scripts share lives once, in benchmarks/harness.py.

- No script changes ``sys.path``: Python searches a script's own folder first, and pytest gets
  benchmarks/ from setup.cfg's ``pythonpath``.
- No script reads or writes a results cache itself (``json`` / ``pickle`` on a file): the run
  cache is ``harness.load_runs`` / ``save_runs`` (``load_pickled_runs`` / ``save_pickled_runs``).
- No script imports another script's private name (``_x``): a helper two scripts need moves to the
  harness.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import harness

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(path for path in BENCHMARKS.glob("*.py") if path.name != "harness.py")
LOCAL = {path.stem for path in BENCHMARKS.glob("*.py")}
CACHE_IO = {("json", "load"), ("json", "loads"), ("json", "dump"), ("pickle", "load"), ("pickle", "loads"),
            ("pickle", "dump"), ("pickle", "dumps")}


def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def dotted(node: ast.AST) -> tuple[str, str] | None:
    """``("json", "load")`` for ``json.load``."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.value.id, node.attr
    return None


def test_no_script_changes_sys_path():
    found = [f"{path.name}:{node.lineno}" for path in sorted(BENCHMARKS.glob("*.py")) for node in ast.walk(parsed(path))
             if dotted(node) == ("sys", "path")]
    assert found == []


def test_no_script_reads_or_writes_a_results_cache_itself():
    found = []
    for path in SCRIPTS:
        for node in ast.walk(parsed(path)):
            if isinstance(node, ast.ImportFrom) and node.module in ("json", "pickle"):
                found.append(f"{path.name}:{node.lineno}: from {node.module} import ...")
            if not isinstance(node, ast.Call):
                continue
            if dotted(node.func) in CACHE_IO:
                found.append(f"{path.name}:{node.lineno}: {'.'.join(dotted(node.func))}")
            elif isinstance(node.func, ast.Attribute) and node.func.attr in ("write_text", "write") and any(
                    isinstance(arg, ast.Call) and dotted(arg.func) == ("json", "dumps") for arg in node.args):
                found.append(f"{path.name}:{node.lineno}: {node.func.attr}(json.dumps(...))")
    assert found == []


def test_no_script_uses_another_scripts_private_names():
    found = []
    for path in SCRIPTS:
        tree = parsed(path)
        modules = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                   for alias in node.names if alias.name in LOCAL}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in LOCAL:
                found += [f"{path.name}: from {node.module} import {alias.name}" for alias in node.names
                          if alias.name.startswith("_")]
            elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                  and node.attr.startswith("_") and not node.attr.startswith("__")):
                found.append(f"{path.name}:{node.lineno}: {node.value.id}.{node.attr}")
    assert found == []


def test_report_is_the_harness_under_its_old_name():
    import report

    assert report.replace_section is harness.replace_section and report.load_runs is harness.load_runs
    assert report.train_missing is harness.train_missing


@pytest.mark.parametrize("cache", sorted(BENCHMARKS.glob("*/result*.json")), ids=lambda path: path.parent.name)
def test_the_harness_writes_every_committed_cache_in_its_own_layout(cache, tmp_path):
    """A rerun rewrites a cache only where its runs changed: save_runs reproduces each committed file (the
    two written without a final newline get one; failing_rows keeps one line per run, magan_margin a line per field of
    a run)."""
    text = cache.read_text()
    runs = harness.load_runs(cache)
    out = tmp_path / "results.json"
    if cache.parent.name == "failing_rows":
        harness.save_runs(runs, out, drop=(), sort_keys=False, one_line_below=2)
        assert harness.load_runs(out) == runs
        assert len(out.read_text().splitlines()) == len(runs["runs"]) + len(runs["meta"]) + 6  # one line a run
        return
    if cache.parent.name == "magan_margin":  # each run's trace and samples on one line (one_line_below=2)
        harness.save_runs(runs, out, one_line_below=2)
        assert out.read_text() == text and len(text.splitlines()) <= 12 * len(runs) + 2
        return
    keys = list(runs)
    harness.save_runs(runs, out, drop=(), sort_keys=keys == sorted(keys))
    assert out.read_text() == text if text.endswith("\n") else text + "\n"
    assert json.loads(out.read_text()) == runs


def test_a_cached_curve_counts_only_when_trained_with_the_same_settings(tmp_path):
    cache, folder = tmp_path / "curves.json", tmp_path / "run"
    points = [{"iteration": 2, "x": 1.0}, {"iteration": 4, "x": 2.0}]
    harness.save_run(cache, "a", {"lr": 1e-3, "steps": 4, "fit_seconds": 9.0, "points": points})
    folder.mkdir()
    same = harness.cached_curve(cache, "a", {"lr": 1e-3, "steps": 4}, 4, folder)
    assert same.complete and same.points == points and same.spent == 9.0 and folder.is_dir()
    shorter = harness.cached_curve(cache, "a", {"lr": 1e-3, "steps": 4}, 2, folder)
    assert shorter.complete and shorter.points == points[:1]
    longer = harness.cached_curve(cache, "a", {"lr": 1e-3, "steps": 8}, 8, folder, extendable=("steps",))
    assert not longer.complete and longer.points == points and longer.spent == 9.0  # a longer run extends it
    other = harness.cached_curve(cache, "a", {"lr": 1e-4, "steps": 4}, 4, folder)
    assert (other.points, other.spent, other.complete) == ([], 0.0, False) and not folder.exists()  # not this run's
    assert harness.cached_curve(cache, "b", {"lr": 1e-3}, 4).points == []


def test_a_measure_that_draws_leaves_the_training_as_the_unmeasured_run(tmp_path):
    import lightning as L
    import torch

    class Tiny(L.LightningModule):  # every step draws its input from torch's global random state
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(2, 1)

        def training_step(self, batch, batch_idx):
            return self.layer(torch.randn(4, 2) + batch[0]).pow(2).mean()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    def train(measure, folder):
        torch.manual_seed(0)
        model = Tiny()
        data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(6, 2)), batch_size=1)
        harness.fit_measured(model, data, 6, 2, tmp_path / folder, measure, [], lambda points, seconds: None)
        return model.layer.weight.detach().clone()

    quiet = train(lambda module: {"x": 0.0}, "quiet")
    drawing = train(lambda module: {"x": torch.rand(5).sum().item()}, "drawing")
    assert torch.equal(quiet, drawing)  # the measure's draws are not the training's


def test_measured_apart_restores_the_random_state_and_every_modules_mode():
    import torch

    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5))
    net.train()
    net[1].eval()  # a mixed state: restored as it was, not set to train everywhere

    def measure(module):
        module.eval()
        return {"x": torch.rand(3).sum().item()}

    torch.manual_seed(0)
    expected = torch.rand(2)
    torch.manual_seed(0)
    assert set(harness.measured_apart(net, measure)) == {"x"}
    assert torch.equal(torch.rand(2), expected)  # the measure's draws left the stream where it was
    assert net.training and net[0].training and not net[1].training
