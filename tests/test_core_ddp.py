"""Every ported model, the two-generator translator and the lazy-regularized model train under
2-process DDP (Lightning's DDP strategy on CPU/gloo): the weights move, both ranks agree, and
``global_step`` counts iterations."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from test_core import RESUMABLE

SCRIPT = Path(__file__).with_name("ddp_every_model.py")


def test_every_model_trains_under_two_process_ddp(tmp_path):
    out = tmp_path / "ddp.jsonl"
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, str(SCRIPT), str(out), ",".join(sorted(RESUMABLE))],
                            capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["name"] for line in lines] == sorted(RESUMABLE)
    for line in lines:
        assert line["moved"], line
        assert line["ranks_equal"], line
        assert line["global_step"] == 3, line
