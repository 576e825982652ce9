"""Pictures of a run: metric curves from ``<run>/metrics.jsonl`` (written by ``MetricsCallback``).

    python -m gan_lightning.plots runs/dcgan_mnist5k/metrics.jsonl --metric fid --out fid.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def plot_metric_curve(records_path: str | Path, metric: str, out: str | Path, title: str | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = [json.loads(line) for line in Path(records_path).read_text().splitlines() if line.strip()]
    points = sorted((r["iteration"], r[metric]) for r in records if metric in r)
    if not points:
        raise ValueError(f"{records_path} has no {metric!r} values")
    first = next(r for r in records if metric in r)
    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=120)
    ax.plot([p[0] for p in points], [p[1] for p in points], marker="o")
    ax.set_xlabel("iteration")
    ax.set_ylabel(metric)
    detail = f"{first.get('feature_extractor', '?')} features, {first.get('num_samples', '?')} samples"
    detail += ", EMA generator" if first.get("ema") else ""
    ax.set_title(title or f"{metric} ({detail})", fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Plot a metric of a run against the iteration.")
    parser.add_argument("records", help="a metrics.jsonl written by MetricsCallback")
    parser.add_argument("--metric", default="fid")
    parser.add_argument("--out", default="metric.png")
    args = parser.parse_args(argv)
    print(f"wrote {plot_metric_curve(args.records, args.metric, args.out)}")


if __name__ == "__main__":
    main()
