"""benchmarks/loop_overhead.py: one ratio line per case, the worst case's ratio last."""

import re

from conftest import benchmark_script


def test_three_cases_then_the_worst_ratio_last(capsys):
    with benchmark_script("loop_overhead") as loop_overhead:
        loop_overhead.main(["--iterations", "6", "--warmup", "2", "--rounds", "1", "--threads", "1",
                            "--clock", "cpu", "--logger", "csv"])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    ratios = {m[1]: float(m[2]) for line in lines
              if (m := re.fullmatch(r"case (\w+) ratio \(gan-lightning time / plain time\): ([\d.]+)", line))}
    assert set(ratios) == {"small", "dcgan", "toy"}
    # the script ranks unrounded ratios: two cases may print the same rounded value, and either is the worst
    top = max(ratios.values())
    assert lines[-2].startswith("worst case: ")
    assert lines[-2].removeprefix("worst case: ") in {name for name, ratio in ratios.items() if ratio == top}
    assert lines[-1] == f"ratio (gan-lightning time / plain time): {top:.2f}"
