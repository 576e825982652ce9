"""benchmarks/magan_margin.py end to end on short runs: the variants' settings, the margin trace, section, picture."""

from __future__ import annotations

import json

import magan_margin
import pytest


def test_the_ebgan_variants_take_magans_settings_and_only_their_margin_differs():
    job = {"kind": "grid25", "seed": 0, "iterations": 1}
    magan = magan_margin.build({**job, "variant": "MAGAN (recipe)"})
    low = magan_margin.build({**job, "variant": "EBGAN, MAGAN's settings, margin 0.002"})
    high = magan_margin.build({**job, "variant": "EBGAN, MAGAN's settings, margin 1.0"})
    assert type(low).__name__ == "EBGAN" and (low.margin, high.margin) == (0.002, 1.0)
    for ebgan in (low, high):
        assert ebgan.pullaway_weight == magan.pullaway_weight == 0.0
        assert ebgan.d_norm == magan.d_norm == "none"
        assert str(ebgan.discriminator) == str(magan.discriminator)
        assert str(ebgan.generator) == str(magan.generator)
    assert magan_margin.build({**job, "variant": "MAGAN, code_dim 1"}).discriminator.encoder[-1].out_features == 1


def test_a_short_run_traces_the_margin_writes_the_section_and_the_picture(tmp_path, capsys):
    cache, out = tmp_path / "mm" / "results.json", tmp_path / "RESULTS.md"
    argv = ["--iterations", "300", "--seeds", "0", "--data", "ring8", "--variants", "magan,ebgan_margin_0.002",
            "--cache", str(cache), "--out", str(out), "--note", "a note"]
    magan_margin.main(argv)
    runs = json.loads(cache.read_text())
    magan = runs["MAGAN (recipe)|ring8|0|300"]
    assert [t["iteration"] for t in magan["trace"]] == [100, 200, 300]
    # D alone for its 2 pre-training epochs of 100 iterations (margin 0), then the measured real energy
    assert magan["trace"][0]["margin"] == 0.0 and 0 < magan["trace"][2]["margin"] < 1
    assert {t["margin"] for t in runs["EBGAN, MAGAN's settings, margin 0.002|ring8|0|300"]["trace"]} == {0.002}
    section = out.read_text()
    assert "python benchmarks/magan_margin.py --iterations 300" in section and "--note" not in section.split("Notes:")[0]
    assert "| MAGAN (recipe) | " in section and "| EBGAN, MAGAN's settings, margin 0.002 | " in section
    assert "- a note" in section and "](mm/ring8.png)" in section and (tmp_path / "mm" / "ring8.png").stat().st_size > 1000
    capsys.readouterr()
    magan_margin.main(argv)  # cached: nothing trained
    assert "2 runs, 2 cached, 0 to train" in capsys.readouterr().out


def test_an_unknown_variant_is_a_one_line_error(capsys):
    with pytest.raises(SystemExit):
        magan_margin.main(["--variants", "magan,nope"])
    assert "--variants: unknown ['nope']; choose from magan, ebgan_margin_1" in capsys.readouterr().err
