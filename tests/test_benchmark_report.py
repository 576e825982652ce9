"""benchmarks/harness.py: scripts rewrite their own section of RESULTS.md and keep the others."""

from __future__ import annotations

import pytest

from conftest import BENCHMARKS, benchmark_script


@pytest.fixture(scope="module")
def report():
    with benchmark_script("harness") as module:
        yield module


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


def test_command_line_is_relative_to_the_repository_and_quoted(report):
    script = BENCHMARKS / "mode_collapse.py"
    assert report.command_line(script, []) == "python benchmarks/mode_collapse.py"
    assert (report.command_line(script, ["--title", "two words", "--seeds", "1"])
            == "python benchmarks/mode_collapse.py --title 'two words' --seeds 1")


def test_training_command_drops_what_only_rebuilds_the_report(report):
    script = BENCHMARKS / "small_data.py"
    argv = ["--models", "DCGAN", "--report-only", "--note", "a line", "--note=another", "--seeds", "0"]
    assert report.training_command(script, argv) == "python benchmarks/small_data.py --models DCGAN --seeds 0"
    assert report.training_command(script, ["--notes", "x"]) == "python benchmarks/small_data.py --notes x"


def test_runs_cache_round_trips_without_pictures_and_replaces_atomically(report, tmp_path):
    path = tmp_path / "sub" / "results.json"
    assert report.load_runs(path) == {}
    report.save_runs({"a/seed0": {"fid": 12.5, "grid": [[0.0]]}}, path)
    assert report.load_runs(path) == {"a/seed0": {"fid": 12.5}}
    report.save_runs({"b": {"fid": 1.0}}, path)
    assert report.load_runs(path) == {"b": {"fid": 1.0}} and sorted(p.name for p in path.parent.iterdir()) == ["results.json"]


def test_train_missing_runs_only_what_the_cache_lacks_and_saves_after_each(report, tmp_path, capsys):
    cache = tmp_path / "runs.json"
    trained, seen = [], []

    def run_one(job):
        trained.append(job["key"])
        assert set(trained[:-1]) <= set(report.load_runs(cache))  # the runs before this one are saved already
        return {"key": job["key"], "fid": float(len(trained)), "grid": [[0.5]]}

    results = {"b": {"key": "b", "fid": 9.0}}
    jobs = [{"key": key} for key in ("a", "b", "c")]
    report.train_missing(jobs, run_one, results, cache, on_done=lambda run, seconds: seen.append(run["key"]))
    assert trained == seen == ["a", "c"]  # "b" was cached
    assert "3 runs, 1 cached, 2 to train" in capsys.readouterr().out
    assert report.load_runs(cache) == {"a": {"key": "a", "fid": 1.0}, "b": {"key": "b", "fid": 9.0},
                                       "c": {"key": "c", "fid": 2.0}}
    assert results["c"]["grid"] == [[0.5]]  # kept in memory for the pictures, not in the cache



def test_a_seeded_section_trains_the_missing_runs_then_writes_its_report(report, tmp_path, monkeypatch, capsys):
    import argparse

    monkeypatch.setattr(report, "RESULTS_MD", tmp_path / "RESULTS.md")
    cache = tmp_path / "runs" / "results.json"  # its folder does not exist yet
    trained = []

    def run_one(job):
        trained.append(job["key"])
        return {"key": job["key"], "fid": 10.0 * len(trained)}

    def write(results, args):
        return "## S\n\n" + ", ".join(f"{k} {v['fid']:g}" for k, v in sorted(results.items()))

    jobs = [{"key": "a"}, {"key": "b"}]
    args = argparse.Namespace(report_only=True, workers=1)
    assert report.seeded_section(args, jobs, run_one, cache, "s", write) == "## S\n\n"  # nothing trained
    args.report_only = False
    text = report.seeded_section(args, jobs, run_one, cache, "s", write)
    assert trained == ["a", "b"] and text == "## S\n\na 10, b 20"
    assert report.read_section(tmp_path / "RESULTS.md", "s") == text
    assert "a: FID 10.0" in capsys.readouterr().out
    assert report.seeded_section(args, jobs, run_one, cache, "s", write) == text and trained == ["a", "b"]  # cached


def test_the_committed_results_have_one_closed_section_per_name_none_inside_another():
    """A merge of two branches that each appended a section can interleave them (begin a, begin b,
    end a, end b); a section then holds the start of another."""
    import re

    text = (BENCHMARKS / "RESULTS.md").read_text()
    markers = re.findall(r"<!-- (begin|end): (\S+) -->", text)
    open_name, names = None, []
    for kind, name in markers:
        if kind == "begin":
            assert open_name is None, f"section {name} begins inside section {open_name}"
            open_name = name
            names.append(name)
        else:
            assert open_name == name, f"end of {name} while {open_name} is open"
            open_name = None
    assert open_name is None and len(names) == len(set(names))


def test_benchmarks_writing_their_sections_at_once_lose_none(report, tmp_path):
    # several benchmarks run side by side and each rewrites its own section of one file: every section stays
    import threading

    path = tmp_path / "RESULTS.md"

    def write(writer: int) -> None:
        for n in range(15):
            report.replace_section(path, f"w{writer}-{n}", f"## {writer} {n}\n\n" + "x" * 20000)

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    missing = [f"w{w}-{n}" for w in range(4) for n in range(15) if report.read_section(path, f"w{w}-{n}") is None]
    assert not missing
