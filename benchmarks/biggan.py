"""BigGAN on MNIST5k: class agreement of its samples and a per-class grid, from a trained checkpoint.

The run itself is ``gan-lightning fit --config experiments/biggan/mnist5k.yaml`` (with its budget on
the command line); this script measures its last checkpoint:

- 1,000 samples (100 per class, ``sample(labels=...)``, seeded), the project's digits classifier
  (``gan_lightning.metrics.load_digits_classifier``) agrees with the asked label on what share,
  for the EMA G and the raw G, untruncated and with truncation 1.0 and 0.5 (``sample(truncation=t)``);
- chance is 10 %; CGAN's config reaches 98.8 % after 4,000 iterations (benchmarks/RESULTS.md);
- a grid with one row per class (10 samples each, EMA G, untruncated) and one at truncation 0.5.

Writes benchmarks/biggan/result.json and the PNGs; ``--report-only`` prints the cached JSON.

    python benchmarks/biggan.py --ckpt_path runs/biggan_mnist5k/checkpoints/last.ckpt
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent / "biggan"
NUM_PER_CLASS = 100
EVAL_SEED = 2024


@torch.no_grad()
def measure(ckpt_path: str, out_dir: Path = HERE) -> dict:
    from gan_lightning.callbacks import write_samples
    from gan_lightning.checkpoints import load_model
    from gan_lightning.metrics import load_digits_classifier

    model = load_model(ckpt_path).eval()
    classifier = load_digits_classifier()
    labels = torch.arange(model.num_classes).repeat_interleave(NUM_PER_CLASS)
    checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    result = {"ckpt_path": str(ckpt_path), "iterations": int(checkpoint["global_step"]),
              "ema": model.generator_ema is not None, "num_samples": len(labels), "agreement": {}}
    out_dir.mkdir(parents=True, exist_ok=True)
    for which, use_ema in (("ema", True), ("raw", False)):
        for truncation in (None, 1.0, 0.5):
            rng = torch.Generator().manual_seed(EVAL_SEED)
            samples = torch.cat([model.sample(250, labels=labels[s:s + 250], use_ema=use_ema, rng=rng,
                                              truncation=truncation) for s in range(0, len(labels), 250)])
            predictions = torch.cat([classifier(samples[s:s + 250]).argmax(dim=1) for s in range(0, len(labels), 250)])
            agree = predictions == labels
            key = f"{which}_t{truncation}" if truncation else which
            result["agreement"][key] = {
                "overall": float(agree.float().mean()),
                "per_class": [float(agree[labels == c].float().mean()) for c in range(model.num_classes)],
            }
            if use_ema and truncation in (None, 0.5):
                picks = torch.cat([samples[labels == c][:10] for c in range(model.num_classes)])
                name = "biggan_by_class.png" if truncation is None else "biggan_by_class_t0.5.png"
                write_samples(picks, out_dir / name, nrow=10)
    (out_dir / "result.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt_path", help="BigGAN checkpoint to measure")
    parser.add_argument("--report-only", action="store_true", help="print the cached result")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.report_only:
        result = json.loads((HERE / "result.json").read_text())
    else:
        if not args.ckpt_path:
            parser.error("--ckpt_path is needed unless --report-only")
        result = measure(args.ckpt_path)
    for key, value in result["agreement"].items():
        print(f"{key:10s} {100 * value['overall']:.1f}%  per class " +
              " ".join(f"{100 * v:.0f}" for v in value["per_class"]))
    print(f"after {result['iterations']} iterations; chance 10%")


if __name__ == "__main__":
    main()
