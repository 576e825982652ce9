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
    worst = max(ratios, key=ratios.get)
    assert lines[-2] == f"worst case: {worst}"
    assert lines[-1] == f"ratio (gan-lightning time / plain time): {ratios[worst]:.2f}"
